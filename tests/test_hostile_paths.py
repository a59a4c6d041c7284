"""Paths a hostile repository controls (issue 13, attacks 8 and 9), through the real CLI:

- file names are never options: after `--`, `validate` and `scan` take `--help` and `-h`
  as files (the hooks rely on it; tests/test_githooks.py and test_hooks_precommit.py drive
  them through git and pre-commit);
- writes and deletes stay inside the work tree: `new`, `result`, `rm`, `cancel` and `init`
  refuse a target reached through a committed symlink (exit 2, one line, nothing changed).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from helpers_audit import assert_one_error_line
from test_governance import PIN, Sandbox, make_demo, make_sandbox

from expflow_git.pin.store import hash_pin

PIN_SHA = hashlib.sha256(PIN.encode()).hexdigest()
METRICS = [
    "--metric",
    "seg_total=58.0",
    "--metric",
    "pde_mean=14.0",
    "--metric",
    "train_time_min=40.0",
]


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_pin(PIN)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pin_hash: str) -> Sandbox:
    return make_sandbox(tmp_path, monkeypatch, pin_hash)


@pytest.fixture
def repo(sandbox: Sandbox) -> Path:
    return make_demo(sandbox)


@pytest.fixture
def outside(sandbox: Sandbox) -> Path:
    """A folder outside the repository, holding a file someone cares about."""
    path = sandbox.root / "outside"
    path.mkdir()
    (path / "e1.json").write_text("precious\n")
    return path


def tree(root: Path) -> dict[str, str]:
    """Every entry under `root` (outside .git), links as links: what a change would show."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in dirs + files:
            path = Path(folder, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                found[rel] = path.read_text(errors="replace")
            else:
                found[rel] = "/"
    return found


# =========================================================================== attack 8
@pytest.mark.parametrize("name", ["--help", "-h"])
def test_scan_takes_option_like_names_after_the_double_dash_as_files(
    sandbox: Sandbox, repo: Path, name: str
) -> None:
    (repo / name).write_text("nothing secret\n")
    (repo / ".env").write_text(f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
    sandbox.git(repo, "add", "-A")
    for staged in ([], ["--staged"]):
        res = sandbox.cli(["scan", *staged, "--", name, ".env"], repo)
        assert res.code == 1, res
        assert res.out.startswith(".env:1:") and "Usage:" not in res.out + res.err
        assert "2 file(s)" not in res.err  # it failed; the clean count is not printed
    (repo / ".env").unlink()
    sandbox.git(repo, "add", "-A")
    res = sandbox.cli(["scan", "--staged", "--", name], repo)
    assert res.code == 0, res
    assert "1 file(s) clean" in res.err


@pytest.mark.parametrize("name", ["-h", "--help", "-h.json"])
def test_validate_takes_option_like_names_after_the_double_dash_as_files(
    sandbox: Sandbox, repo: Path, name: str
) -> None:
    bad = repo / "results/pdebench-task1/exp-001.json"
    bad.write_text(bad.read_text().replace('"seg_total"', '"seg_totl"'))
    (repo / name).write_text("{}\n")
    sandbox.git(repo, "add", "-A")
    res = sandbox.cli(
        ["validate", "--staged", "--", name, "results/pdebench-task1/exp-001.json"], repo
    )
    assert res.code == 1, res
    assert "results/pdebench-task1/exp-001.json#/metrics/seg_totl: unknown-metric" in res.out
    assert "Usage:" not in res.out + res.err


# =========================================================================== attack 9
def _record(sandbox: Sandbox, repo: Path, exp_id: str = "e1", study: str = "s") -> None:
    res = sandbox.cli(["new", exp_id, "--study", study, "--param", "Args/--sub_step=5"], repo)
    assert res.code == 0, res


def _link(repo: Path, rel: str, target: Path) -> None:
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).symlink_to(target, target_is_directory=target.is_dir())


def _refused(
    sandbox: Sandbox, repo: Path, outside: Path, args: list[str], rel: str, link: str
) -> None:
    """The command exits 2 with one line naming the target and the link; nothing changed."""
    before = (tree(repo), tree(outside))
    res = sandbox.cli(args, repo, {"EXPFLOW_PIN": PIN})
    assert_one_error_line(res, 2, f"{rel}: {link} is a symbolic link", "nothing changed")
    assert (tree(repo), tree(outside)) == before


def test_result_never_writes_through_a_symlinked_study_folder(
    sandbox: Sandbox, repo: Path, outside: Path
) -> None:
    """The issue's case: `results/s` is a committed symlink to a folder outside."""
    _record(sandbox, repo)
    _link(repo, "results/s", outside)
    sandbox.commit(repo, "a study folder that is a link")
    (outside / "e1.json").unlink()  # where `result` would write
    _refused(sandbox, repo, outside, ["result", "e1", *METRICS], "results/s/e1.json", "results/s")
    # The record was not marked `success` either: checked before the first write.
    assert '"status": "pending"' in (repo / "experiments/s/e1.json").read_text()


def test_rm_never_deletes_through_a_symlinked_study_folder(
    sandbox: Sandbox, repo: Path, outside: Path
) -> None:
    _record(sandbox, repo)
    _link(repo, "results/s", outside)
    sandbox.commit(repo, "a study folder that is a link")
    _refused(sandbox, repo, outside, ["rm", "e1"], "results/s/e1.json", "results/s")
    assert (outside / "e1.json").read_text() == "precious\n"
    assert (repo / "experiments/s/e1.json").is_file()


def test_a_linked_documents_folder_is_refused_not_walked(
    sandbox: Sandbox, repo: Path, outside: Path
) -> None:
    """`results -> /` made every record command walk the whole file system before
    refusing, and the refusal named a file found deep behind the link (a hunt)."""
    _record(sandbox, repo)
    deep = outside / "a" / "b" / "c" / "s"
    deep.mkdir(parents=True)
    (deep / "e1.json").write_text("deep\n")
    (repo / "results").rename(repo / "results-old")
    _link(repo, "results", outside)
    sandbox.commit(repo, "the results folder is a link")
    before = (tree(repo), tree(outside))
    res = sandbox.cli(["result", "e1", *METRICS], repo)
    assert_one_error_line(res, 2, ": results is a symbolic link", "nothing changed")
    assert "a/b/c" not in res.err
    assert (tree(repo), tree(outside)) == before


@pytest.mark.parametrize("command", [["cancel", "e1"], ["rm", "e1"], ["result", "e1", *METRICS]])
def test_record_commands_refuse_a_symlinked_record_folder(
    sandbox: Sandbox, repo: Path, outside: Path, command: list[str]
) -> None:
    """`experiments/s` links outside: the record found through it is neither rewritten
    (`cancel`, `result` marking it success) nor deleted (`rm`)."""
    _record(sandbox, repo)
    (outside / "e1.json").write_bytes((repo / "experiments/s/e1.json").read_bytes())
    (repo / "experiments/s/e1.json").unlink()
    (repo / "experiments/s").rmdir()
    _link(repo, "experiments/s", outside)
    sandbox.commit(repo, "a record folder that is a link")
    _refused(sandbox, repo, outside, command, "experiments/s/e1.json", "experiments/s")


def test_new_never_writes_through_a_symlinked_record_folder(
    sandbox: Sandbox, repo: Path, outside: Path
) -> None:
    _link(repo, "experiments/s", outside)
    sandbox.commit(repo, "a record folder that is a link")
    _refused(
        sandbox,
        repo,
        outside,
        ["new", "e2", "--study", "s"],
        "experiments/s/e2.json",
        "experiments/s",
    )


def test_a_symlinked_document_is_refused_too(sandbox: Sandbox, repo: Path, outside: Path) -> None:
    """A link to a file: `rm` would delete the link only, but a document is never a link
    (validate refuses one), and `result --overwrite` would replace what it points at."""
    _record(sandbox, repo)
    _link(repo, "results/s/e1.json", outside / "e1.json")
    sandbox.commit(repo, "a result that is a link")
    _refused(sandbox, repo, outside, ["rm", "e1"], "results/s/e1.json", "results/s/e1.json")


def test_a_link_that_stays_inside_is_refused_as_well(
    sandbox: Sandbox, repo: Path, outside: Path
) -> None:
    """git stores the link, not what it points at: a result written through it would be
    committed at another path than the one the tool reports."""
    _record(sandbox, repo)
    _link(repo, "results/s", repo / "results/pdebench-task1")
    sandbox.commit(repo, "a link inside")
    _refused(sandbox, repo, outside, ["result", "e1", *METRICS], "results/s/e1.json", "results/s")


def test_the_commands_still_work_without_links(sandbox: Sandbox, repo: Path) -> None:
    _record(sandbox, repo)
    assert sandbox.cli(["result", "e1", *METRICS], repo).code == 0
    assert (repo / "results/s/e1.json").is_file()
    res = sandbox.cli(["rm", "e1"], repo, {"EXPFLOW_PIN": PIN})
    assert res.code == 0, res
    assert not (repo / "results/s/e1.json").exists()


@pytest.mark.parametrize("link", [".github", "results"])
def test_init_never_writes_through_a_symlinked_folder(
    sandbox: Sandbox, outside: Path, link: str
) -> None:
    """`init` in a clone that commits `.github` (or `results`) as a link outside: refused
    before the first file is written."""
    repo = sandbox.root / "clone"
    repo.mkdir()
    sandbox.git(repo, "init", "-q", "-b", "main")
    _link(repo, link, outside)
    before = (tree(repo), tree(outside))
    res = sandbox.cli(["init"], repo)
    assert_one_error_line(res, 2, f"{link} is a symbolic link", "nothing changed")
    assert (tree(repo), tree(outside)) == before


def test_init_keeps_a_symlinked_policy(sandbox: Sandbox, outside: Path) -> None:
    """A file that exists is kept, never written through; here a shared policy."""
    repo = sandbox.root / "clone"
    repo.mkdir()
    sandbox.git(repo, "init", "-q", "-b", "main")
    (outside / "policy.yaml").write_text("# shared\n")
    _link(repo, "expflow.yaml", outside / "policy.yaml")
    res = sandbox.cli(["init"], repo)
    assert res.code == 0, res
    assert "kept    expflow.yaml" in res.out.replace(str(repo) + "/", "")
    assert (outside / "policy.yaml").read_text() == "# shared\n"


# =========================================================================== committed results
RES_001 = "results/pdebench-task1/exp-001.json"


def _moved_committed_result(sandbox: Sandbox, repo: Path) -> str:
    """exp-001's committed result moved (`git mv`), the move not committed."""
    moved = "results/archive/exp-001.json"
    (repo / "results/archive").mkdir()
    sandbox.git(repo, "mv", RES_001, moved)
    return moved


@pytest.mark.parametrize(
    "command",
    [
        ["result", "exp-001", *METRICS, "--overwrite", "--reason", "x", "--pin", PIN],
        ["rm", "exp-001", "--reason", "x", "--pin", PIN],
    ],
    ids=["result --overwrite", "rm"],
)
def test_a_result_moved_and_not_committed_is_not_corrected_at_its_new_path(
    sandbox: Sandbox, repo: Path, command: list[str]
) -> None:
    """The correction was looked for at the work tree's path, where HEAD has nothing: the
    command wrote (or deleted) with no correction, and protect then told the user to run
    the very command that had just run (a hunt)."""
    moved = _moved_committed_result(sandbox, repo)
    before = tree(repo)
    res = sandbox.cli(command, repo)
    assert_one_error_line(res, 1, f"{moved}: the result of 'exp-001' is committed as")
    assert tree(repo) == before


@pytest.mark.parametrize(
    "command", [["result", "exp-001", *METRICS], ["fail", "exp-001", "--reason", "x"]]
)
def test_a_committed_result_deleted_from_the_work_tree_is_still_its_runs(
    sandbox: Sandbox, repo: Path, command: list[str]
) -> None:
    """Deleted from disk, the committed result was not looked for: `result` wrote a new
    one with no PIN and no correction, and `fail` turned the committed run `failed`."""
    (repo / RES_001).unlink()
    before = tree(repo)
    res = sandbox.cli(command, repo)
    assert res.code == 1, res
    assert RES_001 in res.err and "Traceback" not in res.err
    assert tree(repo) == before


@pytest.mark.parametrize("command", [["result", "e1", *METRICS], ["fail", "e1", "--reason", "x"]])
def test_a_linked_records_folder_is_named_not_missed(
    sandbox: Sandbox, repo: Path, outside: Path, command: list[str]
) -> None:
    """`experiments` itself a link: its direct entries were listed, the records one level
    down were not, and the command said "no experiment record" (exit 1; a review)."""
    _record(sandbox, repo)
    (repo / "experiments").rename(outside / "experiments")
    _link(repo, "experiments", outside / "experiments")
    sandbox.commit(repo, "the records folder is a link")
    before = (tree(repo), tree(outside))
    res = sandbox.cli(command, repo)
    assert_one_error_line(res, 2, "experiments: experiments is a symbolic link")
    assert (tree(repo), tree(outside)) == before


def test_a_result_committed_in_another_folder_and_deleted_from_disk(
    sandbox: Sandbox, repo: Path
) -> None:
    """Committed at results/archive/ (a move the spec allows), then deleted from the disk:
    `result --overwrite` and `rm` said "committed as results/archive/…; commit that move
    first", and `fail` sent the user to them (a review)."""
    archived = "results/archive/exp-001.json"
    (repo / "results/archive").mkdir()
    sandbox.git(repo, "mv", RES_001, archived)
    sandbox.commit(repo, "archive exp-001's result")
    (repo / archived).unlink()
    res = sandbox.cli(["fail", "exp-001", "--reason", "x"], repo)
    assert res.code == 1 and f"{archived}: experiment 'exp-001' has a result" in res.err, res
    res = sandbox.cli(
        ["result", "exp-001", *METRICS, "--overwrite", "--reason", "re-run", "--pin", PIN], repo
    )
    assert res.code == 0, res
    assert (repo / archived).is_file() and not (repo / RES_001).exists()
    assert "a correction" in res.out


# =========================================================================== line breaks
LINE_BREAKS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKS])
def test_a_repository_under_a_folder_named_with_a_line_break(sandbox: Sandbox, brk: str) -> None:
    """A repository path holding a line break (U+2028, "\\n", "\\r", "\\x1c", …) crashed
    every command with a traceback: `Git.discover` split rev-parse's answers with
    `str.splitlines` (a user's hunt, issue 18 twenty-third pass). Each works, the hooks
    too, in a work tree and in a bare repository."""
    (sandbox.root / f"a{brk}b").mkdir()
    repo = make_demo(sandbox, f"a{brk}b/repo")
    res = sandbox.cli(["install-hooks"], repo)
    assert res.code == 0 and "Traceback" not in res.err, res
    (repo / "notes.md").write_text("nothing secret\n")
    sandbox.git(repo, "add", "-A")
    done = sandbox.run_git(repo, "commit", "-q", "-m", "hooked")
    assert done.returncode == 0, done
    bare = sandbox.root / f"a{brk}b" / "bare.git"
    sandbox.git(sandbox.root, "clone", "-q", "--bare", str(repo), str(bare))
    for cwd in (repo, bare):
        res = sandbox.cli(["audit"], cwd)
        assert res.code == 0 and "Traceback" not in res.err, res
    (repo / ".env").write_text(f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
    sandbox.git(repo, "add", "-A")
    refused = sandbox.run_git(repo, "commit", "-q", "-m", "a leak")
    assert refused.returncode == 1 and ".env:1:" in refused.stdout + refused.stderr, refused


def test_a_ref_named_with_a_line_separator_two_refs_answer_to_is_refused(
    sandbox: Sandbox, repo: Path
) -> None:
    """`for-each-ref`'s names were split with `str.splitlines`: a branch and a tag both
    named `a<U+2028>b` read as neither, and `--policy-ref` took the tag git reads first
    (a user's hunt, issue 18 twenty-third pass)."""
    name = "a\u2028b"
    sandbox.git(repo, "branch", name)
    sandbox.git(repo, "tag", name)
    res = sandbox.cli(["audit", "--policy-ref", name], repo)
    assert res.code == 2 and "names 2 refs" in res.err, res
