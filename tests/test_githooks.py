"""`install-hooks` and the plain git hooks it installs (docs/spec.md §7, issue 4): hooks/pre-commit
(scan, validate and protect on the *staged* content) and hooks/pre-push (the audit, with the
history since what the remote has), driven by real `git commit` and `git push` to a bare
remote, with a private HOME and EXPFLOW_HOME (PIN 1234)."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_audit import assert_one_error_line
from test_governance import (
    GOOD,
    PIN,
    WRONG_PIN,
    Sandbox,
    add_run,
    load,
    make_demo,
    make_sandbox,
    res_rel,
    save,
    set_metrics,
)

from expflow_git.demo import build_repo
from expflow_git.hooks.install import SHIPPED, shipped_digest
from expflow_git.pin.store import hash_pin

PROJECT = Path(__file__).resolve().parents[1]
HOOKS = ("pre-commit", "pre-merge-commit", "pre-push")
PIN_SHA = hashlib.sha256(PIN.encode()).hexdigest()


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
def hooked(sandbox: Sandbox, repo: Path) -> Path:
    res = sandbox.cli(["install-hooks"], repo)
    assert res.code == 0, res
    return repo


def expected_hook(name: str) -> str:
    """The shipped script, calling this very interpreter's expflow_git."""
    text = (PROJECT / "expflow_git" / "hooks" / "scripts" / name).read_text()
    default = "EXPFLOW_PYTHON=${EXPFLOW_PYTHON:-}"
    assert default in text
    python = shlex.quote(sys.executable)
    return text.replace(default, "EXPFLOW_PYTHON=${EXPFLOW_PYTHON:-" + python + "}")


def commit(
    sandbox: Sandbox, repo: Path, message: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`git commit` with the hooks."""
    return sandbox.run_git(repo, "commit", "-q", "-m", message, extra=env)


def head(sandbox: Sandbox, repo: Path) -> str:
    return sandbox.git(repo, "rev-parse", "HEAD")


# =========================================================================== install-hooks
def test_install_hooks_installs_both_executable(sandbox: Sandbox, repo: Path) -> None:
    res = sandbox.cli(["install-hooks"], repo)
    assert res.code == 0, res
    hooks_dir = (repo / ".git" / "hooks").resolve()
    reported = [line.split(": ", 1) for line in res.out.splitlines()]
    assert [(Path(p).resolve(), what) for p, what in reported] == [
        (hooks_dir / name, "installed") for name in HOOKS
    ]
    for name in HOOKS:
        hook = hooks_dir / name
        assert hook.read_text() == expected_hook(name)
        assert hook.read_text().startswith("#!/bin/sh\n")
        assert os.access(hook, os.X_OK)
        assert stat.S_IMODE(hook.stat().st_mode) & 0o111 == 0o111
    assert not list(hooks_dir.glob(".*.tmp"))


@pytest.mark.parametrize("where", ["shared", ".githooks"])
def test_install_hooks_refuses_a_hooks_path_outside_the_git_directory(
    sandbox: Sandbox, repo: Path, tmp_path: Path, where: str
) -> None:
    """core.hooksPath set to a folder other repositories use: the hooks were written
    there and every other repository's commit then failed ("no policy file staged"); a
    tracked `.githooks` got hooks naming this machine's interpreter (an attacker's hunt).
    Refused, as pre-commit refuses it; a hooksPath inside .git is this repository's."""
    shared = tmp_path / "shared" if where == "shared" else repo / ".githooks"
    shared.mkdir()
    sandbox.git(repo, "config", "core.hooksPath", str(shared))
    res = sandbox.cli(["install-hooks"], repo)
    assert res.code == 2 and res.out == "", res
    (line,) = res.err.splitlines()
    assert "core.hooksPath names a folder outside this repository's git directory" in line
    assert list(shared.iterdir()) == []
    # A hooks folder that is a link out of .git, without core.hooksPath: refused, and the
    # message does not tell to unset what is not set (review).
    sandbox.git(repo, "config", "--unset", "core.hooksPath")
    hooks = repo / ".git" / "hooks"
    shutil.rmtree(hooks)
    hooks.symlink_to(shared)
    res = sandbox.cli(["install-hooks"], repo)
    assert res.code == 2 and res.out == "", res
    assert "the hooks folder is a link out of this repository's git directory" in res.err
    assert "core.hooksPath" not in res.err and list(shared.iterdir()) == []
    hooks.unlink()
    hooks.mkdir()
    # Set to "" (git then reads no hooks folder of its own): still configured, and the
    # advice names where it is set, local or global (review).
    sandbox.git(repo, "config", "core.hooksPath", "")
    res = sandbox.cli(["install-hooks"], repo)
    assert res.code == 2 and "git config --show-origin core.hooksPath" in res.err, res
    assert "link" not in res.err
    # git runs hooks from core.hooksPath: inside .git, that is where they go.
    inside = repo / ".git" / "my-hooks"
    sandbox.git(repo, "config", "core.hooksPath", ".git/my-hooks")
    res = sandbox.cli(["install-hooks"], repo / "experiments")  # from a subdirectory, too
    assert res.code == 0, res
    for name in HOOKS:
        assert (inside / name).read_text() == expected_hook(name)
        assert not (repo / ".git" / "hooks" / name).exists()
    add_run(repo, "exp-008", metrics={**GOOD, "seg_totl": 1.0})
    sandbox.git(repo, "add", "-A")
    assert commit(sandbox, repo, "bad").returncode != 0  # the installed hook runs


def test_install_hooks_is_idempotent(sandbox: Sandbox, hooked: Path) -> None:
    hooks_dir = hooked / ".git" / "hooks"
    before = {n: ((hooks_dir / n).read_bytes(), (hooks_dir / n).stat().st_mtime_ns) for n in HOOKS}
    res = sandbox.cli(["install-hooks"], hooked)
    assert res.code == 0, res
    assert [line.split(": ", 1)[1] for line in res.out.splitlines()] == [
        "kept (already installed)"
    ] * len(HOOKS)
    after = {n: ((hooks_dir / n).read_bytes(), (hooks_dir / n).stat().st_mtime_ns) for n in HOOKS}
    assert after == before


def test_install_hooks_keeps_a_different_hook(sandbox: Sandbox, repo: Path) -> None:
    mine = repo / ".git" / "hooks" / "pre-commit"
    mine.write_text("#!/bin/sh\necho my own hook\n")
    mine.chmod(0o750)
    res = sandbox.cli(["install-hooks"], repo)
    lines = dict(line.split(": ", 1) for line in res.out.splitlines())
    assert lines == {
        str(mine): "kept: a different hook exists; merge it by hand",
        str(repo / ".git" / "hooks" / "pre-merge-commit"): "installed",
        str(repo / ".git" / "hooks" / "pre-push"): "installed",
    }
    assert mine.read_text() == "#!/bin/sh\necho my own hook\n"
    assert stat.S_IMODE(mine.stat().st_mode) == 0o750
    assert (repo / ".git" / "hooks" / "pre-push").read_text() == expected_hook("pre-push")


def old_hook(name: str) -> str:
    """A hook as an earlier install-hooks wrote it: these ran `python -m expflow_git` in
    the work tree, so a branch's own committed `expflow_git/` was the code that ran."""
    text = (Path(__file__).parent / "old_hooks" / name).read_text()
    assert "-m expflow_git" in text
    assert shipped_digest(text) in SHIPPED[name]
    default = "EXPFLOW_PYTHON=${EXPFLOW_PYTHON:-}"
    return text.replace(
        default, "EXPFLOW_PYTHON=${EXPFLOW_PYTHON:-" + shlex.quote(sys.executable) + "}"
    )


def test_install_hooks_replaces_an_earlier_expflow_hook(sandbox: Sandbox, repo: Path) -> None:
    """An unedited hook of an earlier version is replaced (it used to be kept as "a
    different hook", so an upgrade left the hook that imports the branch's code)."""
    hooks_dir = repo / ".git" / "hooks"
    for name in ("pre-commit", "pre-push"):
        (hooks_dir / name).write_text(old_hook(name))
        (hooks_dir / name).chmod(0o755)
    res = sandbox.cli(["install-hooks"], repo)
    assert res.code == 0, res
    lines = dict(line.split(": ", 1) for line in res.out.splitlines())
    assert lines == {
        str(hooks_dir / "pre-commit"): "updated (an earlier expflow-git hook)",
        str(hooks_dir / "pre-merge-commit"): "installed",
        str(hooks_dir / "pre-push"): "updated (an earlier expflow-git hook)",
    }
    for name in HOOKS:
        assert (hooks_dir / name).read_text() == expected_hook(name)
        assert os.access(hooks_dir / name, os.X_OK)
    # The replaced hook is the one that runs: a branch's own package is not imported.
    (repo / "expflow_git").mkdir()
    (repo / "expflow_git" / "__init__.py").write_text("raise SystemExit(0)\n")
    add_run(repo, "exp-008", metrics={**GOOD, "seg_totl": 1.0})
    sandbox.git(repo, "add", "-A")
    assert commit(sandbox, repo, "bad").returncode != 0


def test_install_hooks_keeps_an_edited_expflow_hook(sandbox: Sandbox, repo: Path) -> None:
    """A hook that opens as ours but was edited (merged by hand) is the user's: kept."""
    mine = repo / ".git" / "hooks" / "pre-commit"
    edited = old_hook("pre-commit") + "echo and my own line\n"
    mine.write_text(edited)
    res = sandbox.cli(["install-hooks"], repo)
    assert res.code == 0, res
    assert f"{mine}: kept: a different hook exists; merge it by hand" in res.out.splitlines()
    assert mine.read_text() == edited


@pytest.mark.parametrize("name", HOOKS)
def test_every_shipped_hook_is_known(name: str) -> None:
    """The table of shipped digests holds the scripts as they are now (a change to a script
    must add its digest) and, in a checkout, every version its history shipped."""
    assert shipped_digest(expected_hook(name)) in SHIPPED[name]
    if not (PROJECT / ".git").exists():
        return

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(PROJECT), *args], capture_output=True, text=True, check=True
        ).stdout

    # Each commit that changed the script, and its path then (hooks/ before the move).
    log = git(
        "log", "--follow", "--format=%H", "--name-only", "--", f"expflow_git/hooks/scripts/{name}"
    )
    versions = [line for line in log.splitlines() if line]
    for commit_id, path in zip(versions[::2], versions[1::2], strict=True):
        assert shipped_digest(git("show", f"{commit_id}:{path}")) in SHIPPED[name], commit_id


def test_install_hooks_outside_a_repository(sandbox: Sandbox) -> None:
    empty = sandbox.root / "not-a-repo"
    empty.mkdir()
    res = sandbox.cli(["install-hooks"], empty, {"GIT_CEILING_DIRECTORIES": str(sandbox.root)})
    assert_one_error_line(res, 2, "not a git repository")
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("policy", [[], ["--policy", "/nonexistent/policy.yaml"]])
def test_protect_outside_a_repository(sandbox: Sandbox, policy: list[str]) -> None:
    """It judged no index and passed, exit 0, with or without a policy; the README and
    spec §4 say exit 2 for "not a repository" (a user's hunt, issue 18 twenty-third pass)."""
    empty = sandbox.root / "not-a-repo"
    empty.mkdir()
    env = {"GIT_CEILING_DIRECTORIES": str(sandbox.root)}
    res = sandbox.cli(["protect", *policy], empty, env)
    assert_one_error_line(res, 2, "not a git repository", "protect judges the staged changes")
    assert list(empty.iterdir()) == []


# =========================================================================== pre-commit
def test_pre_commit_accepts_a_clean_commit(sandbox: Sandbox, hooked: Path) -> None:
    base = head(sandbox, hooked)
    add_run(hooked, "exp-008", metrics=GOOD)
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "add exp-008")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.git(hooked, "rev-parse", "HEAD~1") == base
    assert sandbox.git(hooked, "status", "--porcelain") == ""


def _write_bad(sandbox: Sandbox, repo: Path, kind: str) -> tuple[str, str]:
    """A change the hook must refuse: (path, what the refusal names)."""
    if kind == "unknown-metric":
        add_run(repo, "exp-008", metrics={**GOOD, "seg_totl": 54.0})
        return res_rel("exp-008"), f"{res_rel('exp-008')}#/metrics/seg_totl: unknown-metric"
    if kind == "pin-sha256":
        (repo / "config").mkdir(exist_ok=True)
        (repo / "config" / "run.env").write_text(f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
        return "config/run.env", "config/run.env:1:"
    (repo / "config").mkdir(exist_ok=True)
    (repo / "config" / "deploy.yaml").write_text(f"secret: {hash_pin(PIN)}\n")
    return "config/deploy.yaml", "config/deploy.yaml:1:"


BAD = ["unknown-metric", "pin-sha256", "pin-hash-format"]


@pytest.mark.parametrize("kind", BAD)
def test_pre_commit_refuses_bad_content(sandbox: Sandbox, hooked: Path, kind: str) -> None:
    base = head(sandbox, hooked)
    _, needle = _write_bad(sandbox, hooked, kind)
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, kind)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert needle in output
    assert PIN_SHA not in output and "expflow$scrypt$" not in output  # findings are masked
    assert head(sandbox, hooked) == base


@pytest.mark.parametrize("planted", ["expflow_git/__main__.py", "json.py"])
def test_the_hooks_never_run_code_from_the_work_tree(
    sandbox: Sandbox, hooked: Path, planted: str
) -> None:
    """The hooks ran `"$EXPFLOW_PYTHON" -m expflow_git` at the work tree's root, and `-m`
    puts it first on sys.path: a branch's own `expflow_git/` (or a `json.py`) ran instead
    of the tool and passed every commit (an attacker's hunt, issue 18 seventeenth pass)."""
    base = head(sandbox, hooked)
    _, needle = _write_bad(sandbox, hooked, "unknown-metric")
    (hooked / planted).parent.mkdir(exist_ok=True)
    (hooked / planted).write_text("raise SystemExit(0)\n")
    if planted.startswith("expflow_git/"):
        (hooked / "expflow_git/__init__.py").write_text("")
    sandbox.git(hooked, "add", "-A")
    # A PYTHONPATH naming the work tree put it back on the path (the review): `-E`.
    proc = commit(sandbox, hooked, "a bad metric, and a helper module", {"PYTHONPATH": "."})
    assert proc.returncode != 0 and needle in proc.stdout + proc.stderr, proc
    assert head(sandbox, hooked) == base


@pytest.mark.parametrize("kind", ["unknown-metric", "pin-sha256"])
def test_pre_commit_judges_the_staged_content_not_the_working_tree(
    sandbox: Sandbox, hooked: Path, kind: str
) -> None:
    base = head(sandbox, hooked)
    # Clean in the index, dirty on disk: commits, and what is committed is the clean copy.
    if kind == "unknown-metric":
        add_run(hooked, "exp-008", metrics=GOOD)
        rel = res_rel("exp-008")
    else:
        rel = "config/run.env"
        (hooked / "config").mkdir()
        (hooked / rel).write_text("EXPFLOW_PIN_HASH=\n")
    clean = (hooked / rel).read_bytes()
    sandbox.git(hooked, "add", "-A")
    _write_bad(sandbox, hooked, kind)
    proc = commit(sandbox, hooked, "clean staged")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.git(hooked, "show", f"HEAD:{rel}") + "\n" == clean.decode()
    assert sandbox.git(hooked, "status", "--porcelain") == f"M {rel}"

    # Dirty in the index, clean on disk: refused.
    sandbox.git(hooked, "reset", "-q", "--hard", base)
    sandbox.git(hooked, "clean", "-qfd")
    _write_bad(sandbox, hooked, kind)
    sandbox.git(hooked, "add", "-A")
    (hooked / rel).write_bytes(clean)
    proc = commit(sandbox, hooked, "dirty staged")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert rel in proc.stdout + proc.stderr
    assert head(sandbox, hooked) == base


@pytest.mark.parametrize(
    ("env", "passes"),
    [
        pytest.param({}, False, id="no-pin"),
        pytest.param({"EXPFLOW_PIN": WRONG_PIN}, False, id="wrong-pin"),
        pytest.param({"EXPFLOW_PIN": PIN}, True, id="right-pin"),
    ],
)
def test_pre_commit_guards_committed_results(
    sandbox: Sandbox, hooked: Path, env: dict[str, str], passes: bool
) -> None:
    base = head(sandbox, hooked)
    # Declared with a correction (issue 13): the PIN approves it.
    declare = [
        "result",
        "exp-001",
        "--metric",
        "seg_total=57.5",
        "--metric",
        "pde_mean=15",
        "--metric",
        "train_time_min=45.5",
        "--overwrite",
        "--reason",
        "re-run",
        "--force",
    ]
    assert sandbox.cli(declare, hooked).code == 0
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "tweak exp-001", env)
    output = proc.stdout + proc.stderr
    assert (proc.returncode == 0) is passes, output
    assert res_rel("exp-001") in output
    assert (head(sandbox, hooked) != base) is passes


def test_pre_commit_refuses_an_undeclared_rewrite_even_with_the_pin(
    sandbox: Sandbox, hooked: Path
) -> None:
    base = head(sandbox, hooked)
    set_metrics(hooked, "exp-001", seg_total=57.5)  # still a valid result
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "tweak exp-001", {"EXPFLOW_PIN": PIN})
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"{res_rel('exp-001')}: result-rewritten" in output
    assert "no correction staged" in output
    assert head(sandbox, hooked) == base


@pytest.mark.parametrize("how", ["add", "commit PATH"])
def test_pre_commit_judges_by_the_staged_policy_not_an_unstaged_edit(
    sandbox: Sandbox, hooked: Path, how: str
) -> None:
    """protect read expflow.yaml from the working tree: an unstaged edit turning
    write-once off let a rewritten result through the plain hooks (which, unlike the
    pre-commit framework, stash nothing); the staged policy, as validate and scan use."""
    base = head(sandbox, hooked)
    set_metrics(hooked, "exp-001", seg_total=57.5)
    policy = hooked / "expflow.yaml"
    text = policy.read_text()
    assert "protect: {results_immutable: true}" in text
    policy.write_text(text.replace("results_immutable: true", "results_immutable: false"))
    if how == "add":
        sandbox.git(hooked, "add", res_rel("exp-001"))
        proc = commit(sandbox, hooked, "tweak exp-001", {})
    else:
        proc = sandbox.run_git(hooked, "commit", "-q", "-m", "tweak", res_rel("exp-001"))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"{res_rel('exp-001')}: result-rewritten" in output
    assert head(sandbox, hooked) == base


@pytest.mark.parametrize("ignored", [False, True])
def test_pre_commit_refuses_a_submodule_at_a_document_path(
    sandbox: Sandbox, hooked: Path, ignored: bool
) -> None:
    """validate is never given a submodule (the plain hook skips them, pre-commit passes
    none) and protect looked only at rewrites: a submodule at a result's path was
    committed, and the audit then refused it. `ignore = all` in .gitmodules (the branch's
    own file) hid it from git's diffs as well."""
    base = head(sandbox, hooked)
    path = res_rel("exp-009")
    sandbox.git(hooked, "update-index", "--add", "--cacheinfo", f"160000,{base},{path}")
    if ignored:
        (hooked / ".gitmodules").write_text(
            f'[submodule "x"]\n\tpath = {path}\n\turl = ./x\n\tignore = all\n'
        )
        sandbox.git(hooked, "add", ".gitmodules")
    proc = commit(sandbox, hooked, "a submodule where a result goes")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"{path}: not-a-regular-file: is a submodule" in output
    assert head(sandbox, hooked) == base


@pytest.mark.parametrize("how", ["untracked", "a submodule"])
def test_pre_commit_refuses_untracking_the_policy(sandbox: Sandbox, hooked: Path, how: str) -> None:
    """`git rm --cached expflow.yaml`, the file kept on disk: validate had no file, protect
    read the policy from disk, and the commit had no policy (its audit exits 2)."""
    base = head(sandbox, hooked)
    sandbox.git(hooked, "rm", "-q", "--cached", "expflow.yaml")
    if how == "a submodule":
        sandbox.git(hooked, "update-index", "--add", "--cacheinfo", f"160000,{base},expflow.yaml")
    protect = sandbox.cli(["protect", "--"], hooked)
    assert protect.code == 2, protect
    assert_one_error_line(protect, 2, "expflow.yaml: the staged change leaves no policy file")
    proc = commit(sandbox, hooked, "untrack the policy")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Traceback" not in output
    assert head(sandbox, hooked) == base


def test_hooks_work_from_an_interpreter_path_with_a_space(sandbox: Sandbox, repo: Path) -> None:
    venv = Path(sys.prefix)
    spaced = sandbox.root / "my envs" / "venv"
    (spaced / "bin").mkdir(parents=True)
    (spaced / "pyvenv.cfg").write_bytes((venv / "pyvenv.cfg").read_bytes())
    (spaced / "lib").symlink_to(venv / "lib")
    (spaced / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    python = str(spaced / "bin" / "python")
    probe = subprocess.run(
        [python, "-c", "import expflow_git, sys; print(sys.prefix)"],
        env=sandbox.environ(),
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0 or probe.stdout.strip() != str(spaced):
        pytest.skip(f"cannot make a venv under a path with a space here: {probe.stderr}")
    proc = subprocess.run(
        [python, "-m", "expflow_git", "install-hooks"],
        cwd=repo,
        env=sandbox.environ(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    add_run(repo, "exp-008", metrics=GOOD)
    sandbox.git(repo, "add", "-A")
    committed = commit(sandbox, repo, "clean")
    assert committed.returncode == 0, committed.stderr


def test_pre_commit_refuses_a_submodule_named_with_a_pin_hash(
    sandbox: Sandbox, hooked: Path
) -> None:
    """The scan read staged files only: a submodule whose name is a PIN's digest was
    committed past the hook (a review), and stays in the history."""
    base = head(sandbox, hooked)
    sandbox.git(hooked, "update-index", "--add", "--cacheinfo", f"160000,{base},vendor/{PIN_SHA}")
    proc = commit(sandbox, hooked, "a submodule")
    assert proc.returncode != 0
    assert "vendor/****: pin-sha256" in proc.stderr and PIN_SHA not in proc.stderr
    assert head(sandbox, hooked) == base


def test_pre_commit_reads_a_staged_file_a_folder_replaced_on_disk(
    sandbox: Sandbox, hooked: Path
) -> None:
    """The scan walked the folder on disk in place of the staged file it was given: a
    PIN hash staged, its file then replaced by a folder, was committed (a review)."""
    base = head(sandbox, hooked)
    (hooked / "notes.txt").write_text(f"pin_hash: {PIN_SHA}\n")
    sandbox.git(hooked, "add", "notes.txt")
    (hooked / "notes.txt").unlink()
    (hooked / "notes.txt").mkdir()
    (hooked / "notes.txt/inner").write_text("hi\n")
    proc = commit(sandbox, hooked, "a folder on disk")
    assert proc.returncode != 0
    assert "notes.txt:1:11: pin-sha256" in proc.stderr and PIN_SHA not in proc.stderr
    assert head(sandbox, hooked) == base


# =========================================================================== policy moves
# A commit that edits `paths` and the documents together (an attacker's hunt of the
# hooks; `audit --since` with the base's policy caught each, the hook did not).
EXPS = 'experiments: ["experiments/**/*.json"]'
RESULTS = 'results: ["results/**/*.json"]'


def _deny_corrections(repo: Path) -> None:
    _edit_policy(
        repo,
        "protect: {results_immutable: true}",
        "protect: {results_immutable: true, corrections: deny}",
    )


def _edit_policy(repo: Path, old: str, new: str) -> None:
    policy = repo / "expflow.yaml"
    text = policy.read_text()
    assert old in text
    policy.write_text(text.replace(old, new, 1))


def test_a_record_copied_under_new_paths_keeps_its_frozen_fields(
    sandbox: Sandbox, hooked: Path
) -> None:
    """`paths.experiments` moved to `exp2/`, HEAD's records left in place, the copy of
    a finished run's record with other params: nothing paired the copy with HEAD's."""
    base = head(sandbox, hooked)
    _edit_policy(hooked, EXPS, 'experiments: ["exp2/**/*.json"]')
    shutil.copytree(hooked / "experiments", hooked / "exp2")
    record = hooked / "exp2/pdebench-task1/exp-001.json"
    record.write_text(record.read_text().replace('"lr": 0.001', '"lr": 0.5'))
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "new record folder")
    assert proc.returncode != 0
    assert "exp2/pdebench-task1/exp-001.json: record-rewritten" in proc.stderr, proc.stderr
    record.write_text(record.read_text().replace('"lr": 0.5', '"lr": 0.001'))
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "the same records, in a new folder")
    assert proc.returncode == 0, proc.stderr
    assert head(sandbox, hooked) != base


def test_a_result_moved_where_only_heads_paths_read_it_is_dropped(
    sandbox: Sandbox, hooked: Path
) -> None:
    """`paths.results` narrowed and a result moved byte for byte out of the new glob (into
    one HEAD's glob still read): taken for a move, it dropped out of the commit's audit."""
    base = head(sandbox, hooked)
    _edit_policy(hooked, RESULTS, 'results: ["results/pdebench-task1/*.json"]')
    (hooked / "results/archive").mkdir()
    sandbox.git(hooked, "mv", res_rel("exp-001"), "results/archive/exp-001.json")
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "archive")
    assert proc.returncode != 0
    assert f"{res_rel('exp-001')}: result-rewritten" in proc.stderr, proc.stderr
    assert head(sandbox, hooked) == base


@pytest.mark.parametrize("deny", [False, True])
def test_a_committed_correction_is_not_dropped_by_a_glob_change(
    sandbox: Sandbox, hooked: Path, deny: bool
) -> None:
    """`paths.corrections` moved away from a committed correction: neither policy then
    called it one, and the next commit deleted it unseen. With `protect.corrections:
    deny` staged too, the check came after `deny` returned (a review)."""
    res = sandbox.cli(["rm", "exp-002", "--reason", "a bad run", "--pin", PIN], hooked)
    assert res.code == 0, res
    sandbox.git(hooked, "add", "-A")
    assert commit(sandbox, hooked, "rm exp-002", {"EXPFLOW_PIN": PIN}).returncode == 0
    base = head(sandbox, hooked)
    _edit_policy(hooked, RESULTS, RESULTS + '\n  corrections: ["fixes/**/*.json"]')
    if deny:
        _deny_corrections(hooked)
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "corrections elsewhere")
    assert proc.returncode != 0
    assert ": correction-rewritten: the staged policy's paths.corrections" in proc.stderr
    assert head(sandbox, hooked) == base


def test_a_record_planted_as_a_plain_file_keeps_its_frozen_fields(
    sandbox: Sandbox, hooked: Path
) -> None:
    """A copy of the records with other params committed where no glob read them, then
    `paths.experiments` widened onto it: no change set added a record (a review)."""
    shutil.copytree(hooked / "experiments", hooked / "aaa")
    record = hooked / "aaa/pdebench-task1/exp-001.json"
    record.write_text(record.read_text().replace('"lr": 0.001', '"lr": 0.5'))
    sandbox.git(hooked, "add", "-A")
    assert commit(sandbox, hooked, "some files").returncode == 0
    base = head(sandbox, hooked)
    _edit_policy(hooked, EXPS, 'experiments: ["aaa/**/*.json"]')
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "records elsewhere")
    assert proc.returncode != 0
    assert "aaa/pdebench-task1/exp-001.json: record-rewritten" in proc.stderr, proc.stderr
    assert head(sandbox, hooked) == base


def test_a_run_deleted_on_record_is_not_moved_back_in_under_a_widened_glob(
    sandbox: Sandbox, hooked: Path
) -> None:
    """A better result parked where no glob read it, then moved in under a widened glob
    with the record put back: the deletion of the parked file counted as a committed
    result moving, and the run came back (a review)."""
    record = (hooked / "experiments/pdebench-task1/exp-002.json").read_text()
    result = json.loads((hooked / res_rel("exp-002")).read_text())
    res = sandbox.cli(["rm", "exp-002", "--reason", "a bad run", "--pin", PIN], hooked)
    assert res.code == 0, res
    sandbox.git(hooked, "add", "-A")
    assert commit(sandbox, hooked, "rm exp-002", {"EXPFLOW_PIN": PIN}).returncode == 0
    result["metrics"]["seg_total"] = 99.5
    (hooked / "parked").mkdir()
    (hooked / "parked/exp-002.json").write_text(json.dumps(result, indent=2) + "\n")
    sandbox.git(hooked, "add", "-A")
    assert commit(sandbox, hooked, "parked").returncode == 0
    base = head(sandbox, hooked)
    _edit_policy(hooked, RESULTS, 'results: ["results/**/*.json", "parked/*.json"]')
    sandbox.git(hooked, "mv", "parked/exp-002.json", res_rel("exp-002"))
    (hooked / "experiments/pdebench-task1/exp-002.json").write_text(record)
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "moved back in")
    assert proc.returncode != 0
    assert f"{res_rel('exp-002')}: result-rewritten" in proc.stderr, proc.stderr
    assert "does not come back under its id" in proc.stderr
    assert head(sandbox, hooked) == base


@pytest.mark.parametrize("deny", [False, True])
def test_a_run_deleted_on_record_is_not_taken_back_in_by_widened_globs(
    sandbox: Sandbox, hooked: Path, deny: bool
) -> None:
    """A deleted run's record and a better result parked where no glob read them, then
    taken in by widened globs: no file was added, and the run came back (a review). With
    `protect.corrections: deny` staged too, the check did not run at all (another)."""
    record = (hooked / "experiments/pdebench-task1/exp-002.json").read_text()
    result = (hooked / res_rel("exp-002")).read_text()
    res = sandbox.cli(["rm", "exp-002", "--reason", "a bad run", "--pin", PIN], hooked)
    assert res.code == 0, res
    sandbox.git(hooked, "add", "-A")
    assert commit(sandbox, hooked, "rm exp-002", {"EXPFLOW_PIN": PIN}).returncode == 0
    (hooked / "parked/exp").mkdir(parents=True)
    (hooked / "parked/res").mkdir(parents=True)
    (hooked / "parked/exp/exp-002.json").write_text(record)
    better = json.loads(result)
    better["metrics"]["seg_total"] = 99.99
    (hooked / "parked/res/exp-002.json").write_text(json.dumps(better, indent=2) + "\n")
    sandbox.git(hooked, "add", "-A")
    assert commit(sandbox, hooked, "some files").returncode == 0
    base = head(sandbox, hooked)
    _edit_policy(hooked, EXPS, 'experiments: ["experiments/**/*.json", "parked/exp/*.json"]')
    _edit_policy(hooked, RESULTS, 'results: ["results/**/*.json", "parked/res/*.json"]')
    if deny:
        _deny_corrections(hooked)
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "wider globs")
    assert proc.returncode != 0
    assert "parked/res/exp-002.json: result-rewritten" in proc.stderr, proc.stderr
    assert "does not come back under its id" in proc.stderr
    assert "parked/exp/exp-002.json: record-rewritten" in proc.stderr
    assert head(sandbox, hooked) == base


# =========================================================================== pre-push
@pytest.fixture
def remote(sandbox: Sandbox, hooked: Path) -> Path:
    bare = sandbox.root / "remote.git"
    sandbox.git(sandbox.root, "init", "-q", "--bare", str(bare))
    sandbox.git(hooked, "remote", "add", "origin", str(bare))
    return bare


def push(sandbox: Sandbox, repo: Path, *refs: str) -> subprocess.CompletedProcess[str]:
    return sandbox.run_git(repo, "push", "origin", *refs)


def remote_refs(sandbox: Sandbox, bare: Path) -> dict[str, str]:
    listing = sandbox.git(bare, "for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split() for line in listing.splitlines())


def test_pre_push_passes_a_clean_history_and_refuses_a_rewritten_result(
    sandbox: Sandbox, hooked: Path, remote: Path
) -> None:
    proc = push(sandbox, hooked, "main")
    assert proc.returncode == 0, proc.stderr
    assert remote_refs(sandbox, remote) == {"refs/heads/main": head(sandbox, hooked)}

    add_run(hooked, "exp-008", metrics=GOOD)
    sandbox.commit(hooked, "add exp-008")
    proc = push(sandbox, hooked, "main")
    assert proc.returncode == 0, proc.stderr
    pushed = head(sandbox, hooked)
    assert remote_refs(sandbox, remote) == {"refs/heads/main": pushed}

    set_metrics(hooked, "exp-001", seg_total=57.5)
    rewrite = sandbox.commit(hooked, "quietly improve exp-001")  # --no-verify: past pre-commit
    proc = push(sandbox, hooked, "main")
    assert proc.returncode != 0, proc.stderr
    assert f"{res_rel('exp-001')}: result-rewritten" in proc.stderr
    assert rewrite[:12] in proc.stderr
    assert remote_refs(sandbox, remote) == {"refs/heads/main": pushed}


def test_pre_push_refuses_an_invalid_document(sandbox: Sandbox, hooked: Path, remote: Path) -> None:
    assert push(sandbox, hooked, "main").returncode == 0
    sandbox.git(hooked, "switch", "-q", "-c", "bad")
    add_run(hooked, "exp-008", metrics={**GOOD, "seg_totl": 54.0})
    sandbox.commit(hooked, "unknown metric")
    proc = push(sandbox, hooked, "bad")
    assert proc.returncode != 0, proc.stderr
    assert "unknown-metric" in proc.stderr and res_rel("exp-008") in proc.stderr
    assert "refs/heads/bad" not in remote_refs(sandbox, remote)


def test_pre_push_lets_a_branch_deletion_through(
    sandbox: Sandbox, hooked: Path, remote: Path
) -> None:
    sandbox.git(hooked, "branch", "feature")
    assert push(sandbox, hooked, "main", "feature").returncode == 0
    assert "refs/heads/feature" in remote_refs(sandbox, remote)
    proc = push(sandbox, hooked, "--delete", "feature")
    assert proc.returncode == 0, proc.stderr
    assert "refs/heads/feature" not in remote_refs(sandbox, remote)


@pytest.mark.parametrize("how", ["origin", "by URL", "held by another remote"])
def test_pre_push_refuses_a_result_rewritten_on_a_new_branch(
    sandbox: Sandbox, hooked: Path, remote: Path, how: str
) -> None:
    """Also pushed by URL: no remote-tracking ref answered to the URL, so the hook found no
    base and audited without history ("PASS (history not checked)"); and a branch some
    other remote's refs already hold has no boundary against them either."""
    assert push(sandbox, hooked, "main").returncode == 0
    sandbox.git(hooked, "switch", "-q", "-c", "sneaky")
    doc = load(hooked, res_rel("exp-001"))
    doc["metrics"]["seg_total"] = 57.5
    save(hooked, res_rel("exp-001"), doc)
    sandbox.commit(hooked, "quietly improve exp-001")
    if how == "held by another remote":
        fork = sandbox.root / "fork.git"
        sandbox.git(sandbox.root, "init", "-q", "--bare", str(fork))
        sandbox.git(hooked, "remote", "add", "fork", str(fork))
        assert sandbox.run_git(hooked, "push", "--no-verify", "fork", "sneaky").returncode == 0
        sandbox.git(hooked, "fetch", "-q", "fork")
    if how == "origin":
        proc = push(sandbox, hooked, "sneaky")
    else:
        proc = sandbox.run_git(hooked, "push", str(remote), "sneaky")
    assert proc.returncode != 0, proc.stderr
    assert f"{res_rel('exp-001')}: result-rewritten" in proc.stderr
    assert "refs/heads/sneaky" not in remote_refs(sandbox, remote)


def test_pre_push_reads_a_new_branchs_first_commit(
    sandbox: Sandbox, hooked: Path, remote: Path
) -> None:
    """With no remote base, the hook audited since the branch's first commit: that
    commit's own files were never read, and a PIN hash it added (the next commit
    deleting it) was pushed. It audits from git's empty tree now: the whole history."""
    assert push(sandbox, hooked, "main").returncode == 0
    sandbox.git(hooked, "checkout", "-q", "--orphan", "fresh")  # keeps the files
    (hooked / ".env").write_text(f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
    sandbox.git(hooked, "add", "-A")
    sandbox.commit(hooked, "a first commit that leaks")  # --no-verify: past pre-commit
    (hooked / ".env").unlink()
    sandbox.git(hooked, "add", "-A")
    sandbox.commit(hooked, "and hides it")
    proc = sandbox.run_git(hooked, "push", str(remote), "fresh")
    assert proc.returncode != 0, proc.stderr
    assert ".env:1:" in proc.stderr and "stays in the history" in proc.stderr
    assert "whole history checked" in proc.stderr and PIN_SHA not in proc.stderr
    assert "refs/heads/fresh" not in remote_refs(sandbox, remote)


def test_pre_push_of_commits_the_remote_holds_walks_no_history(
    sandbox: Sandbox, hooked: Path, remote: Path
) -> None:
    """A branch whose every commit the remote's refs already hold has nothing new: the
    hook audited its whole history from the empty tree (a review), which a squashed
    history whose first commit carries a correction fails (`correction-unmatched`: the
    change it declares is in no commit). Now it audits the tree alone, as the push of
    those commits did."""
    res = sandbox.cli(["rm", "exp-002", "--reason", "a bad run", "--pin", PIN], hooked)
    assert res.code == 0, res
    sandbox.git(hooked, "checkout", "-q", "--orphan", "squashed")
    sandbox.commit(hooked, "the history, squashed")
    assert sandbox.run_git(hooked, "push", "--no-verify", "origin", "squashed").returncode == 0
    sandbox.git(hooked, "fetch", "-q", "origin")
    proc = sandbox.run_git(hooked, "push", "origin", "squashed:copy")
    assert proc.returncode == 0, proc.stderr
    head = sandbox.git(hooked, "rev-parse", "HEAD")
    assert f"history checked since {head[:12]}" in proc.stderr
    assert remote_refs(sandbox, remote)["refs/heads/copy"] == head


def test_pre_push_audits_a_forced_push_since_where_the_histories_meet(
    sandbox: Sandbox, hooked: Path, remote: Path
) -> None:
    """A forced push (an amended commit) was refused whatever it held: the hook audited
    `--since` the remote's commit, no ancestor of the pushed one (a user's hunt, issue 18
    twenty-third pass). It audits since the two histories' merge base now; a result
    rewritten on top is still refused. A remote commit this clone lacks: audited as a new
    branch, with a note to fetch."""
    assert push(sandbox, hooked, "main").returncode == 0
    add_run(hooked, "exp-008", metrics=GOOD)
    sandbox.commit(hooked, "add exp-008")
    assert push(sandbox, hooked, "main").returncode == 0
    meet = sandbox.git(hooked, "rev-parse", "HEAD~1")
    sandbox.git(hooked, "commit", "-q", "--amend", "--no-verify", "-m", "reworded")
    proc = push(sandbox, hooked, "--force", "main")
    assert proc.returncode == 0, proc.stderr
    assert f"history checked since {meet[:12]}" in proc.stderr, proc.stderr
    assert remote_refs(sandbox, remote) == {"refs/heads/main": head(sandbox, hooked)}
    set_metrics(hooked, "exp-001", seg_total=57.5)
    sandbox.git(hooked, "commit", "-q", "-a", "--amend", "--no-verify", "-m", "and improved")
    proc = push(sandbox, hooked, "--force", "main")
    assert proc.returncode != 0 and f"{res_rel('exp-001')}: result-rewritten" in proc.stderr
    sandbox.git(hooked, "reset", "-q", "--hard", "origin/main")
    other = sandbox.root / "other"
    sandbox.git(sandbox.root, "clone", "-q", "-b", "main", str(remote), str(other))
    (other / "notes.md").write_text("elsewhere\n")
    sandbox.commit(other, "pushed from elsewhere")
    assert sandbox.run_git(other, "push", "-q", "--no-verify", "origin", "main").returncode == 0
    unseen = sandbox.git(other, "rev-parse", "HEAD")
    sandbox.git(hooked, "commit", "-q", "--amend", "--no-verify", "-m", "reworded again")
    proc = push(sandbox, hooked, "--force", "main")
    assert proc.returncode == 0, proc.stderr
    assert f"refs/heads/main is at {unseen} there, a commit not fetched here" in proc.stderr
    assert "git fetch" in proc.stderr and "is not an ancestor" not in proc.stderr


def test_pre_push_lets_a_branch_deletion_through_in_a_sha256_repository(
    sandbox: Sandbox,
) -> None:
    """git gives a deleted ref as 64 zeros there: the hook knew only 40 and audited
    `--rev 000…0`, refusing every deletion (a review)."""
    repo = sandbox.root / "sha256"
    sandbox.git(sandbox.root, "init", "-q", "--object-format=sha256", "-b", "main", str(repo))
    build_repo(repo)
    bare = sandbox.root / "remote256.git"
    sandbox.git(sandbox.root, "init", "-q", "--bare", "--object-format=sha256", str(bare))
    assert sandbox.cli(["install-hooks"], repo).code == 0
    sandbox.git(repo, "remote", "add", "origin", str(bare))
    proc = sandbox.run_git(repo, "push", "origin", "main", "main:feature")
    assert proc.returncode == 0, proc.stderr
    proc = sandbox.run_git(repo, "push", "origin", "--delete", "feature")
    assert proc.returncode == 0, proc.stderr
    assert "refs/heads/feature" not in remote_refs(sandbox, bare)


# =========================================================================== file names
# Issue 13, attack 8: the hook passed staged names to the CLI without `--`, so a staged
# file named `--help` (or `-h`, or `-h.json`: click reads `-h.json` as `-h` and more)
# printed the help and exited 0, and the PIN hash staged beside it was committed.
@pytest.mark.parametrize("name", ["--help", "-h", "--version"])
def test_pre_commit_checks_a_file_named_like_an_option(
    sandbox: Sandbox, hooked: Path, name: str
) -> None:
    base = head(sandbox, hooked)
    (hooked / name).write_text("an innocent note\n")
    (hooked / ".env").write_text(f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "leak")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert ".env:1:" in output and "Usage:" not in output
    assert PIN_SHA not in output
    assert head(sandbox, hooked) == base


@pytest.mark.parametrize("name", ["-h.json", "--help.json"])
def test_pre_commit_validates_beside_a_json_file_named_like_an_option(
    sandbox: Sandbox, hooked: Path, name: str
) -> None:
    base = head(sandbox, hooked)
    (hooked / name).write_text("{}\n")  # outside the policy's globs: not a document
    add_run(hooked, "exp-008", metrics={**GOOD, "seg_totl": 54.0})
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "unknown metric")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"{res_rel('exp-008')}#/metrics/seg_totl: unknown-metric" in output
    assert "Usage:" not in output
    assert head(sandbox, hooked) == base

    # Without the bad result, the oddly named file commits: it is a file like any other.
    (hooked / res_rel("exp-008")).unlink()
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "an odd name")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.git(hooked, "show", f"HEAD:./{name}") == "{}"


def test_pre_commit_checks_a_symlink_turned_into_a_file(sandbox: Sandbox, hooked: Path) -> None:
    """A type change (status T: a committed symbolic link replaced by a file) is staged
    content like any other; the hook used to list only added, copied, modified and
    renamed files, and the PIN hash went in."""
    (hooked / ".env").symlink_to("README.none")
    sandbox.git(hooked, "add", "-A")
    assert commit(sandbox, hooked, "a link").returncode == 0
    base = head(sandbox, hooked)
    (hooked / ".env").unlink()
    (hooked / ".env").write_text(f"pin_hash={PIN_SHA}\n")
    sandbox.git(hooked, "add", "-A")
    proc = commit(sandbox, hooked, "the link becomes a file")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert ".env:1:" in output and PIN_SHA not in output
    assert head(sandbox, hooked) == base
