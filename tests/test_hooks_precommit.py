"""The hooks end to end (docs/spec.md §7): `pre-commit try-repo <checkout>` in scratch repositories,
the issue's "Done when" scenario committed through the hooks, and validate as a plain git
pre-commit hook reading the index being committed (GIT_INDEX_FILE)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from conftest import (
    ExpRepo,
    assert_clean_output,
    experiment_doc,
    git,
    git_env,
    git_init,
    result_doc,
    run_cli,
)
from ruamel.yaml import YAML
from support import pre_commit_install

pytestmark = pytest.mark.usefixtures("isolated_env")

CHECKOUT = Path(__file__).resolve().parents[1]
EXP = "experiments/pdebench-task1/exp-001.json"
RES = "results/pdebench-task1/exp-001.json"
PIN_SHA = hashlib.sha256(b"1234").hexdigest()
HOOK_IDS = ("expflow-validate", "expflow-no-pin-hash", "expflow-protect-results")


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache per session: the hook environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed snapshot of the checkout's files as they are on disk.

    try-repo on a dirty checkout copies staged and modified *tracked* files
    into a shadow repo but leaves untracked ones out, so a module or schema
    not yet added to git would be missing from the hook's install. The
    snapshot holds every file git would see (tracked or untracked, minus
    .gitignore'd ones), so the hooks tested are exactly the code on disk.
    """
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=CHECKOUT,
        env=git_env(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    dest = git_init(tmp_path_factory.mktemp("expflow-git-checkout") / "expflow-git")
    for rel in filter(None, listing.split("\0")):
        src = CHECKOUT / rel
        if not src.is_file():
            continue  # deleted but not yet staged
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "--no-verify", "-m", "snapshot")
    assert (dest / ".pre-commit-hooks.yaml").is_file()
    return dest


@pytest.fixture
def hook_env(pre_commit_home: Path, isolated_env: Path) -> dict[str, str]:
    """Environment for pre-commit and git: shared cache, this venv's scripts on PATH."""
    bindir = str(Path(sys.executable).parent)
    return {
        "PRE_COMMIT_HOME": str(pre_commit_home),
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "EXPFLOW_HOME": str(isolated_env),
        "PRE_COMMIT_COLOR": "never",
        "NO_COLOR": "1",
    }


def _pre_commit(args: list[str], repo: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--verbose"],
        cwd=repo,
        env=git_env(env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert "An unexpected error has occurred" not in output, output
    assert_clean_output(output)
    return proc.returncode, output


def _selection(files: list[str] | None) -> list[str]:
    return ["--files", *files] if files is not None else ["--all-files"]


def try_repo(
    repo: Path, hook_repo: Path, hook_id: str | None, files: list[str] | None, env: dict[str, str]
) -> tuple[int, str]:
    """`pre-commit try-repo <checkout> [hook] --files … | --all-files`: (code, all output).

    try-repo builds its hook environment in a fresh temporary store on every
    call (it ignores PRE_COMMIT_HOME), so each call costs a venv + pip install:
    the try-repo tests run all three hooks per call, and the detailed cases go
    through `run_hook` below, which shares one store per session.
    """
    return _pre_commit(
        ["try-repo", str(hook_repo), *([hook_id] if hook_id else []), *_selection(files)],
        repo,
        env,
    )


@pytest.fixture(scope="session")
def hook_config(hook_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A .pre-commit-config.yaml using the checkout at its snapshot commit (as a user would)."""
    rev = git(hook_repo, "rev-parse", "HEAD")
    hooks = "".join(f"      - id: {h}\n" for h in HOOK_IDS)
    path = tmp_path_factory.mktemp("hook-config") / ".pre-commit-config.yaml"
    path.write_text(f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n{hooks}")
    return path


def run_hook(
    repo: Path, config: Path, hook_id: str, files: list[str] | None, env: dict[str, str]
) -> tuple[int, str]:
    """`pre-commit run -c CONFIG HOOK --files … | --all-files` with the session's store."""
    return _pre_commit(["run", "-c", str(config), hook_id, *_selection(files)], repo, env)


def hook_blocks(output: str) -> dict[str, str]:
    """pre-commit's verbose output split per hook: {hook id: status line, details, output}."""
    lines = output.splitlines()
    starts = [i - 1 for i, line in enumerate(lines) if line.startswith("- hook id: ")]
    blocks: dict[str, str] = {}
    for n, first in enumerate(starts):
        last = starts[n + 1] if n + 1 < len(starts) else len(lines)
        hook_id = lines[first + 1].removeprefix("- hook id: ").strip()
        blocks[hook_id] = "\n".join(lines[first:last])
    return blocks


def seed_example(repo: ExpRepo) -> None:
    repo.add_experiment()
    repo.add_result()
    repo.stage()


# --------------------------------------------------------------------------- manifest
def test_hook_manifest() -> None:
    hooks = YAML(typ="safe").load((CHECKOUT / ".pre-commit-hooks.yaml").read_text())
    by_id = {h["id"]: h for h in hooks}
    assert set(HOOK_IDS) <= set(by_id)
    entries = {
        "expflow-validate": "validate",
        "expflow-no-pin-hash": "scan",
        "expflow-protect-results": "protect",
    }
    legacy_stages = {"commit", "push", "merge-commit"}
    for hook_id, command in entries.items():
        hook = by_id[hook_id]
        assert hook["language"] == "python"
        staged = ["--staged"] if command != "protect" else []  # what git commits
        assert hook["entry"].split() == ["expflow-git", command, *staged, "--"]
        assert hook["minimum_pre_commit_version"]
        assert not set(hook.get("stages", [])) & legacy_stages
        # Each reads the index: at pre-push it would judge that, not what is pushed.
        assert "pre-push" not in hook.get("stages", [])
    assert by_id["expflow-protect-results"]["pass_filenames"] is False


# --------------------------------------------------------------------------- try-repo
@pytest.fixture
def seeded(committed_repo: ExpRepo) -> ExpRepo:
    """The seed example committed (so there is a committed result to protect)."""
    seed_example(committed_repo)
    committed_repo.commit("exp-001")
    return committed_repo


def _make_all_three_bad(repo: ExpRepo) -> dict[str, str]:
    """Stage one problem per hook; returns {hook id: the file its message must name}."""
    bad_result = "results/pdebench-task1/exp-002.json"
    repo.add_experiment("exp-002")
    repo.add_result("exp-002", metrics={"seg_totl": 1.0, "pde_mean": 1.0, "train_time_min": 1.0})
    repo.write("deploy/.env", f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
    repo.add_result(metrics={"seg_total": 99.0, "pde_mean": 1.0, "train_time_min": 1.0})
    repo.stage()
    return {
        "expflow-validate": f"{bad_result}#/metrics/seg_totl: unknown-metric",
        "expflow-no-pin-hash": "deploy/.env:1:18: pin-sha256",
        "expflow-protect-results": f"{RES}: result-rewritten",
    }


def test_try_repo_all_hooks(seeded: ExpRepo, hook_repo: Path, hook_env: dict) -> None:
    """Clean with --all-files: every hook passes. Then one problem per hook, named with
    --files: every hook fails (exit 1) and names its file."""
    code, out = try_repo(seeded.path, hook_repo, None, None, hook_env)
    assert code == 0, out
    blocks = hook_blocks(out)
    assert set(HOOK_IDS) <= set(blocks), out
    for hook_id in HOOK_IDS:
        assert "Passed" in blocks[hook_id], blocks[hook_id]

    expected = _make_all_three_bad(seeded)
    files = seeded.git("diff", "--cached", "--name-only").splitlines()
    assert len(files) == 4
    code, out = try_repo(seeded.path, hook_repo, None, files, hook_env)
    assert code == 1, out
    blocks = hook_blocks(out)
    for hook_id, needle in expected.items():
        assert "Failed" in blocks[hook_id], out
        assert "exit code: 1" in blocks[hook_id], out
        assert needle in blocks[hook_id], (needle, blocks[hook_id])
    assert PIN_SHA[:8] not in out


# --------------------------------------------------------------------------- run, one store
def test_validate_hook_files(exp_repo: ExpRepo, hook_config: Path, hook_env: dict) -> None:
    seed_example(exp_repo)
    code, out = run_hook(exp_repo.path, hook_config, "expflow-validate", [EXP, RES], hook_env)
    assert code == 0, out
    assert "Passed" in out

    exp_repo.add_result(metrics={"seg_totl": 57.09, "pde_mean": 15.0, "train_time_min": 45.5})
    exp_repo.stage()
    code, out = run_hook(exp_repo.path, hook_config, "expflow-validate", [RES], hook_env)
    assert code == 1, out
    assert f"{RES}#/metrics/seg_totl: unknown-metric" in out
    assert "did you mean 'seg_total'" in out


def test_validate_hook_all_files(exp_repo: ExpRepo, hook_config: Path, hook_env: dict) -> None:
    seed_example(exp_repo)
    code, out = run_hook(exp_repo.path, hook_config, "expflow-validate", None, hook_env)
    assert code == 0, out

    bad = "experiments/pdebench-task1/exp-003.json"
    exp_repo.write_json(bad, experiment_doc("exp-003", status="done"))
    exp_repo.stage()
    code, out = run_hook(exp_repo.path, hook_config, "expflow-validate", None, hook_env)
    assert code == 1, out
    assert f"{bad}#/status: schema" in out
    assert f"{RES}#" not in out


def test_validate_hook_broken_policy(exp_repo: ExpRepo, hook_config: Path, hook_env: dict) -> None:
    policy = exp_repo.path / "expflow.yaml"
    policy.write_text(policy.read_text().replace("gates: []", 'gates: ["seg_total:gte:1"]'))
    exp_repo.stage()
    code, out = run_hook(exp_repo.path, hook_config, "expflow-validate", ["expflow.yaml"], hook_env)
    assert code == 1, out  # pre-commit's own code; the hook's is reported below
    assert "exit code: 2" in out
    assert "expflow.yaml: /gates/0" in out and "unknown operator 'gte'" in out


def test_no_pin_hash_hook(exp_repo: ExpRepo, hook_config: Path, hook_env: dict) -> None:
    seed_example(exp_repo)
    exp_repo.write("notes.md", "nothing secret here\n")
    exp_repo.stage()
    code, out = run_hook(
        exp_repo.path, hook_config, "expflow-no-pin-hash", ["notes.md", EXP], hook_env
    )
    assert code == 0, out
    code, out = run_hook(exp_repo.path, hook_config, "expflow-no-pin-hash", None, hook_env)
    assert code == 0, out

    exp_repo.write("deploy/.env", f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
    exp_repo.stage()
    code, out = run_hook(
        exp_repo.path, hook_config, "expflow-no-pin-hash", ["deploy/.env"], hook_env
    )
    assert code == 1, out
    assert "deploy/.env:1:18: pin-sha256" in out
    assert PIN_SHA[:8] not in out and PIN_SHA[-8:] not in out

    code, out = run_hook(exp_repo.path, hook_config, "expflow-no-pin-hash", None, hook_env)
    assert code == 1, out
    assert "deploy/.env:1:18" in out and "notes.md" not in out

    # `run --files` of a file never staged: the hook reads the index, which lacks it; it
    # said "0 file(s) clean" (a user's hunt, issue 18 twenty-third pass).
    exp_repo.write("unstaged.txt", f"x {PIN_SHA}\n")
    code, out = run_hook(
        exp_repo.path, hook_config, "expflow-no-pin-hash", ["unstaged.txt"], hook_env
    )
    assert code == 1 and "unstaged.txt: not-a-regular-file: not staged" in out, out


def test_protect_results_hook(
    seeded: ExpRepo, hook_config: Path, hook_env: dict, isolated_env: Path
) -> None:
    repo = seeded
    hook = "expflow-protect-results"
    code, out = run_hook(repo.path, hook_config, hook, None, hook_env)
    assert code == 0, out

    # A new result is fine; changing a committed one is not.
    repo.add_experiment("exp-002")
    repo.add_result("exp-002")
    repo.stage()
    code, out = run_hook(repo.path, hook_config, hook, None, hook_env)
    assert code == 0, out

    repo.add_result(metrics={"seg_total": 99.0, "pde_mean": 1.0, "train_time_min": 1.0})
    repo.stage()
    code, out = run_hook(repo.path, hook_config, hook, None, hook_env)
    assert code == 1, out
    assert f"{RES}: result-rewritten" in out and "modifies" in out

    repo.git("reset", "-q", "--hard")
    repo.git("rm", "-q", RES)
    code, out = run_hook(repo.path, hook_config, hook, None, hook_env)
    assert code == 1, out
    assert f"{RES}: result-rewritten" in out and "deletes" in out

    # Not even with the PIN: without a correction staged with it, `audit --since` would
    # report it (issue 13).
    assert run_cli(["pin", "init", "1234"], cwd=repo.path, env=hook_env)[0] == 0
    code, out = run_hook(repo.path, hook_config, hook, None, {**hook_env, "EXPFLOW_PIN": "1234"})
    assert code == 1, out
    assert f"{RES}: result-rewritten" in out and "no correction staged" in out

    # Declared with a correction: approved with the PIN from the environment; without it
    # or with a wrong PIN, refused (and nothing changes).
    repo.git("reset", "-q", "--hard")
    code, _, err = run_cli(
        [
            "result",
            "exp-001",
            "--metric",
            "seg_total=58",
            "--metric",  # a result is checked whole before it is written (issue 16)
            "pde_mean=15",
            "--metric",
            "train_time_min=45",
            "--overwrite",
            "--reason",
            "re-run",
            "--force",
        ],
        cwd=repo.path,
        env=hook_env,
    )
    assert code == 0, err
    repo.stage()
    code, out = run_hook(repo.path, hook_config, hook, None, hook_env)
    assert code == 1 and "approve with the PIN" in out, out
    code, out = run_hook(repo.path, hook_config, hook, None, {**hook_env, "EXPFLOW_PIN": "1234"})
    assert code == 0, out
    assert "approved" in out and "declared by corrections/" in out
    code, out = run_hook(repo.path, hook_config, hook, None, {**hook_env, "EXPFLOW_PIN": "4321"})
    assert code == 1, out
    assert "wrong PIN" in out and "4321" not in out


def test_a_declared_correction_commits_through_the_framework(
    seeded: ExpRepo, hook_config: Path, hook_env: dict
) -> None:
    """Issue 13: `result --overwrite --reason` committed through all three of the
    checkout's hooks (pre-commit install); the same rewrite undeclared is refused."""
    repo = seeded
    base = repo.head()
    pre_commit_install(repo.path, hook_env, "-c", str(hook_config))
    assert run_cli(["pin", "init", "1234"], cwd=repo.path, env=hook_env)[0] == 0
    pinned = {**hook_env, "EXPFLOW_PIN": "1234"}
    metrics = [
        "--metric",
        "seg_total=58",
        "--metric",
        "pde_mean=15",
        "--metric",
        "train_time_min=45",
    ]

    repo.write(RES, (repo.path / RES).read_text().replace("57.09", "58.5"))
    repo.git("add", "-A")
    code, out = commit_through_hooks(repo, pinned, "undeclared")
    assert code != 0 and f"{RES}: result-rewritten" in out, out
    repo.git("checkout", "-q", "HEAD", "--", RES)

    code, out, err = run_cli(
        ["result", "exp-001", *metrics, "--overwrite", "--reason", "re-run", "--pin", "1234"],
        cwd=repo.path,
        env=hook_env,
    )
    assert code == 0, out + err
    repo.git("add", "-A")
    code, out = commit_through_hooks(repo, pinned, "declared")
    assert code == 0, out
    assert repo.head() != base
    committed = repo.git("ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert any(p.startswith("corrections/pdebench-task1/exp-001/") for p in committed)
    code, out, err = run_cli(["audit", "--since", base], cwd=repo.path, env=hook_env)
    assert code == 0, out + err
    assert "corrections (1):" in out and "re-run" in out


# --------------------------------------------------------------------------- "Done when"
def commit_through_hooks(repo: ExpRepo, env: dict[str, str], message: str) -> tuple[int, str]:
    proc = subprocess.run(
        ["git", "commit", "-m", message],
        cwd=repo.path,
        env=git_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert_clean_output(output)
    return proc.returncode, output


def test_the_hooks_judge_what_git_commits_not_the_file_on_disk(
    exp_repo: ExpRepo, hook_env: dict
) -> None:
    """The file on disk need not be what git commits, even once pre-commit has stashed
    what is not staged: a repository's own `.gitattributes` (working-tree-encoding)
    makes git convert it, and an index entry marked skip-worktree is not compared
    with the disk. The scan and validate hooks read the disk, so a PIN hash written in
    UTF-7 and a result with an unknown metric were committed (an attacker's hunt); they
    read the staged content now."""
    repo, env = exp_repo, hook_env
    pre_commit_install(repo.path, env)
    seed_example(repo)
    repo.git("add", "-A")
    code, out = commit_through_hooks(repo, env, "scaffold")
    assert code == 0, out
    before = repo.head()

    encoded = base64.b64encode(PIN_SHA.encode("utf-16-be")).decode().rstrip("=")
    repo.write(".gitattributes", "notes/*.txt working-tree-encoding=UTF-7\n")
    repo.write("notes/n.txt", f"deploy token: +{encoded}-\n")
    repo.git("add", "-A")
    assert repo.git("show", ":notes/n.txt").strip() == f"deploy token: {PIN_SHA}"
    code, out = commit_through_hooks(repo, env, "a PIN hash, in UTF-7 on disk")
    assert code == 1 and "notes/n.txt:1:15: pin-sha256" in out, out
    assert repo.head() == before
    repo.git("rm", "-q", "--cached", "notes/n.txt", ".gitattributes")

    repo.add_experiment("exp-002")
    bad = repo.add_result("exp-002")
    good = (repo.path / bad).read_text()
    repo.write(bad, good.replace('"seg_total"', '"seg_totl"'))
    repo.git("add", "-A")
    repo.git("update-index", "--skip-worktree", bad)
    repo.write(bad, good)  # a valid result on disk; the index keeps the other
    code, out = commit_through_hooks(repo, env, "an unknown metric, staged only")
    assert code == 1 and f"{bad}#/metrics/seg_totl: unknown-metric" in out, out
    assert repo.head() == before


def _past_the_hooks_on_a_side_branch(
    repo: ExpRepo, env: dict[str, str], side: Callable[[], None], on_main: dict[str, str]
) -> str:
    """The scaffold committed through the hooks; a branch `side` adding a PIN hash (and
    what `side()` writes) committed past them; `on_main` committed on the main branch
    through them. Returns the main branch's head, checked out."""
    pre_commit_install(repo.path, env)
    seed_example(repo)
    repo.git("add", "-A")
    assert commit_through_hooks(repo, env, "scaffold")[0] == 0
    main = repo.git("rev-parse", "--abbrev-ref", "HEAD").strip()
    repo.git("checkout", "-q", "-b", "side")
    repo.write("notes/n.txt", f"token = {PIN_SHA}\n")
    side()
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "side, past the hooks")
    repo.git("checkout", "-q", main)
    for rel, text in on_main.items():
        repo.write(rel, text)
    repo.git("add", "-A")
    assert commit_through_hooks(repo, env, "main moves on")[0] == 0
    return repo.head()


def _add_unknown_metric_result(repo: ExpRepo) -> str:
    """exp-002's record, and a result with an unknown metric (`seg_totl`): its path."""
    repo.add_experiment("exp-002")
    bad = repo.add_result("exp-002")
    repo.write(bad, (repo.path / bad).read_text().replace('"seg_total"', '"seg_totl"'))
    return bad


def _refused_leak_and_metric(repo: ExpRepo, code: int, out: str, bad: str, head: str) -> None:
    """The commit refused for notes/n.txt's PIN hash (masked) and `bad`'s unknown metric;
    HEAD still `head`."""
    assert code == 1, out
    assert "notes/n.txt:1:9: pin-sha256" in out and PIN_SHA not in out
    assert f"{bad}#/metrics/seg_totl: unknown-metric" in out
    assert repo.head() == head


def test_a_merge_commit_checks_what_the_merge_brings_in(exp_repo: ExpRepo, hook_env: dict) -> None:
    """While a merge is committed (its conflicts resolved), pre-commit passes the hooks
    only the conflicted files: a PIN hash and an unknown metric a branch committed past
    the hooks were merged in unchecked (an attacker's hunt; the plain hook caught them).
    The hooks add every file the index changes against HEAD then."""
    repo, env = exp_repo, hook_env

    def side() -> None:
        _add_unknown_metric_result(repo)
        repo.write("NOTES.md", "side\n")

    bad = repo.res_path("exp-002")
    before = _past_the_hooks_on_a_side_branch(repo, env, side, {"NOTES.md": "main\n"})
    assert repo.git("merge", "side", check=False) != ""  # a conflict in NOTES.md
    repo.write("NOTES.md", "resolved\n")
    repo.git("add", "NOTES.md")
    code, out = commit_through_hooks(repo, env, "merge side")
    _refused_leak_and_metric(repo, code, out, bad, before)


def test_what_pre_commit_passes_no_hook_is_checked(exp_repo: ExpRepo, hook_env: dict) -> None:
    """pre-commit passes no file at all while a merge stopped with `--no-commit` is
    committed, and never a submodule: a PIN hash merged in, and a submodule named with
    a PIN's digest, were committed (two reviews). `protect`, which always runs, checks
    them."""
    repo, env = exp_repo, hook_env
    before = _past_the_hooks_on_a_side_branch(repo, env, lambda: None, {"other.md": "b\n"})
    repo.git("merge", "--no-commit", "--no-ff", "side")
    code, out = commit_through_hooks(repo, env, "merge side")
    assert code == 1 and "notes/n.txt:1:9: pin-sha256" in out, out
    assert repo.head() == before
    repo.git("merge", "--abort")

    repo.git("update-index", "--add", "--cacheinfo", f"160000,{before},vendor/{PIN_SHA}")
    code, out = commit_through_hooks(repo, env, "a submodule")
    assert code == 1 and "vendor/****: pin-sha256" in out and PIN_SHA not in out, out
    assert repo.head() == before


def scaffolded(repo: ExpRepo, env: Mapping[str, str]) -> str:
    """pre-commit installed and the example committed through its hooks: HEAD."""
    pre_commit_install(repo.path, env)
    seed_example(repo)
    repo.git("add", "-A")
    assert commit_through_hooks(repo, env, "scaffold")[0] == 0
    return repo.head()


def test_a_staged_file_absent_from_the_work_tree_is_checked(
    exp_repo: ExpRepo, hook_env: dict
) -> None:
    """pre-commit passes no hook a staged file the work tree lacks, or holds as a folder
    (skip-worktree, a sparse checkout): a PIN hash and a result with an unknown metric,
    staged that way, were committed past the framework's hooks (left by the twentieth
    pass). `protect`, which always runs, checks them."""
    repo, env = exp_repo, hook_env
    before = scaffolded(repo, env)
    bad = _add_unknown_metric_result(repo)
    repo.write("notes/n.txt", f"token = {PIN_SHA}\n")
    repo.git("add", "-A")
    repo.git("update-index", "--skip-worktree", bad, "notes/n.txt")
    (repo.path / bad).unlink()
    (repo.path / "notes/n.txt").unlink()
    # A folder where the file was: pre-commit keeps the path, then passes it to no hook
    # (`types_or: [file, symlink]`; a review).
    (repo.path / "notes/n.txt").mkdir()
    code, out = commit_through_hooks(repo, env, "staged only")
    _refused_leak_and_metric(repo, code, out, bad, before)


def test_a_first_commits_submodule_is_named_to_the_scan(exp_repo: ExpRepo, hook_env: dict) -> None:
    """Before the first commit there is no HEAD to compare the index with: a submodule
    named `pin.hash` went into a repository's first commit (a review)."""
    repo, env = exp_repo, hook_env
    pre_commit_install(repo.path, env)
    seed_example(repo)
    repo.git("add", "-A")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendor/pin.hash")
    code, out = commit_through_hooks(repo, env, "first")
    assert code == 1 and "vendor/pin.hash:1:1: pin-hash-file" in out, out
    assert repo.git("rev-parse", "-q", "--verify", "HEAD", check=False) == ""


def test_done_when_scenario(exp_repo: ExpRepo, hook_env: dict) -> None:
    """The issue's acceptance scenario, following the README's quick start."""
    repo = exp_repo
    env = hook_env
    pre_commit_install(repo.path, env)

    repo.git("add", "-A")
    code, out = commit_through_hooks(repo, env, "scaffold")
    assert code == 0, out
    base = repo.head()

    def cli(*args: str) -> None:
        code, out, err = run_cli(list(args), cwd=repo.path, env=env)
        assert code == 0, out + err

    cli(
        "new",
        "exp-001",
        "--study",
        "pdebench-task1",
        "--param",
        "Args/--sub_step=5",
        "--param",
        "lr=0.001",
        "--tag",
        "fno",
    )
    cli(
        "result",
        "exp-001",
        "--metric",
        "seg_total=57.09",
        "--metric",
        "pde_mean=15.0",
        "--metric",
        "train_time_min=45.5",
        "--split",
        "holdout",
        "--metric",
        "seg_total=55.2",
    )
    good_result = (repo.path / RES).read_bytes()
    raw = (
        '{"schema": "expflow/result@1", "experiment": "exp-001", '
        '"recorded_at": "2026-11-20T11:02:00Z", "metrics": %s}\n'
    )
    attempts = [
        # (file, content, what the refusal must say)
        ("config/run.env", f"EXPFLOW_PIN_HASH={PIN_SHA}\n", ["config/run.env:1:18: pin-sha256"]),
        (
            RES,
            raw % '{"seg_totl": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}',
            [f"{RES}#/metrics/seg_totl: unknown-metric", "did you mean 'seg_total'"],
        ),
        (
            RES,
            raw % '{"seg_total": NaN, "pde_mean": 15.0, "train_time_min": 45.5}',
            [f"{RES}#/metrics/seg_total: invalid-json: NaN is not a JSON number"],
        ),
        (
            RES,
            raw % '{"seg_total": 57.09, "seg_total": 58, "pde_mean": 15.0, "train_time_min": 45.5}',
            [f'{RES}#/metrics: invalid-json: duplicate key "seg_total"'],
        ),
        (
            "results/pdebench-task1/exp-002.json",
            (raw % '{"seg_total": 1, "pde_mean": 1, "train_time_min": 1}').replace(
                "exp-001", "exp-002"
            ),
            ["results/pdebench-task1/exp-002.json#/experiment: result-without-record"],
        ),
    ]
    for rel, content, needles in attempts:
        repo.write(rel, content)
        repo.git("add", "-A")
        code, out = commit_through_hooks(repo, env, f"bad: {rel}")
        assert code != 0, (rel, out)
        for needle in needles:
            assert needle in out, (needle, out)
        assert PIN_SHA[:8] not in out
        assert repo.head() == base  # nothing was committed
        # Undo the bad change, keep the good data.
        if rel == RES:
            repo.write(RES, good_result)
        else:
            (repo.path / rel).unlink()
        repo.git("add", "-A")

    code, out = commit_through_hooks(repo, env, "exp-001")
    assert code == 0, out
    assert "Failed" not in out
    assert repo.head() != base
    assert repo.status() == ""
    committed = repo.git("ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert EXP in committed and RES in committed
    for command in (["validate"], ["scan"]):
        code, out, err = run_cli(command, cwd=repo.path, env=env)
        assert code == 0, out + err


# --------------------------------------------------------------------------- plain git hook
@pytest.fixture
def git_hooked(committed_repo: ExpRepo) -> ExpRepo:
    """A repo whose .git/hooks/pre-commit runs `python -m expflow_git validate <staged files>`."""
    hook = committed_repo.path / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(
        "#!/bin/sh\n"
        "files=$(git diff --cached --name-only --diff-filter=ACMR)\n"
        f'exec "{sys.executable}" -m expflow_git validate $files\n'
    )
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return committed_repo


def _commit(repo: ExpRepo, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        ["git", "commit", "-q", "-m", "c", *args],
        cwd=repo.path,
        env=git_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_git_hook_sees_the_index_not_the_working_tree(git_hooked: ExpRepo) -> None:
    repo = git_hooked
    base = repo.head()
    repo.add_experiment()  # on disk, untracked
    repo.add_result()
    repo.stage(RES)
    code, out = _commit(repo)
    assert code == 1, out
    assert f"{RES}#/experiment: result-without-record" in out
    assert repo.head() == base

    repo.stage(EXP)
    code, out = _commit(repo)
    assert code == 0, out
    assert repo.head() != base


def test_git_hook_partial_commit_uses_the_temporary_index(git_hooked: ExpRepo) -> None:
    """`git commit PATH` commits a temporary index (GIT_INDEX_FILE) holding HEAD + PATH only:
    a record staged in the main index is not part of that commit."""
    repo = git_hooked
    base = repo.head()
    repo.add_experiment()
    repo.add_result()
    repo.stage(EXP, RES)
    code, out = _commit(repo, "--", RES)
    assert code == 1, out
    assert "result-without-record" in out
    assert repo.head() == base

    code, out = _commit(repo, "--", EXP, RES)
    assert code == 0, out
    assert set(repo.git("ls-tree", "-r", "--name-only", "HEAD").splitlines()) >= {EXP, RES}


def test_git_hook_commit_all_sees_the_temporary_index(git_hooked: ExpRepo) -> None:
    """`git commit -a` stages tracked edits into a temporary index first; the hook reads it."""
    repo = git_hooked
    repo.add_experiment(status="pending")
    repo.stage()
    assert _commit(repo)[0] == 0
    head = repo.head()
    repo.add_experiment(status="success")  # tracked, edited, not staged
    repo.add_result()
    repo.stage(RES)
    code, out = _commit(repo)
    assert code == 1, out
    assert "'pending'" in out
    assert repo.head() == head
    code, out = _commit(repo, "-a")
    assert code == 0, out
    assert repo.head() != head


def test_git_hook_refuses_record_change_that_orphans_a_result(git_hooked: ExpRepo) -> None:
    repo = git_hooked
    repo.add_experiment()
    repo.add_result()
    repo.stage()
    assert _commit(repo)[0] == 0
    head = repo.head()
    repo.add_experiment(status="failed")
    repo.stage(EXP)
    code, out = _commit(repo)
    assert code == 1, out
    assert RES in out
    assert repo.head() == head


def test_git_hook_with_experiment_doc_in_subdir_of_other_study(git_hooked: ExpRepo) -> None:
    """A staged record with the right id in another study backs the result (ids are global)."""
    repo = git_hooked
    repo.write_json("experiments/other/exp-001.json", experiment_doc(study="other"))
    repo.add_result()
    repo.stage()
    code, out = _commit(repo)
    assert code == 0, out


# --------------------------------------------------------------------------- file names
# Issue 13, attack 8: pre-commit appends the file names to the entry; without `--` a
# staged file named `--help` or `-h` made a hook print its help and pass, and the PIN
# hash (or the bad result) staged beside it went in. Each entry now ends with `--`.
def _stage_leak_beside(repo: ExpRepo, name: str) -> None:
    repo.write(name, "{}\n")
    repo.write("deploy/.env", f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
    repo.add_experiment("exp-002")
    repo.add_result("exp-002", metrics={"seg_totl": 1.0, "pde_mean": 1.0, "train_time_min": 1.0})
    repo.stage()


def _assert_both_caught(code: int, out: str) -> None:
    assert code == 1, out
    blocks = hook_blocks(out)
    assert "Failed" in blocks["expflow-no-pin-hash"], out
    assert "deploy/.env:1:18: pin-sha256" in blocks["expflow-no-pin-hash"], out
    assert "Failed" in blocks["expflow-validate"], out
    assert "exp-002.json#/metrics/seg_totl: unknown-metric" in blocks["expflow-validate"], out
    assert "Usage:" not in out
    assert PIN_SHA[:8] not in out


@pytest.mark.parametrize("name", ["--help", "-h", "-h.json", "--help.json"])
def test_manifest_hooks_take_option_like_names_as_files(
    committed_repo: ExpRepo, hook_config: Path, hook_env: dict, name: str
) -> None:
    _stage_leak_beside(committed_repo, name)
    code, out = _pre_commit(
        ["run", "-c", str(hook_config), "--all-files"], committed_repo.path, hook_env
    )
    _assert_both_caught(code, out)


@pytest.mark.parametrize("name", ["--help", "-h.json"])
def test_init_config_hooks_take_option_like_names_as_files(
    committed_repo: ExpRepo, hook_env: dict, name: str
) -> None:
    """The local hooks `init` writes (language: system) end their options the same way,
    here through a real `git commit` with the pre-commit hook installed."""
    pre_commit_install(committed_repo.path, hook_env)
    base = committed_repo.head()
    _stage_leak_beside(committed_repo, name)
    code, out = commit_through_hooks(
        committed_repo, {**hook_env, "PRE_COMMIT_COLOR": "never"}, "leak"
    )
    assert code != 0, out
    assert "deploy/.env:1:18: pin-sha256" in out
    assert "exp-002.json#/metrics/seg_totl: unknown-metric" in out
    assert "Usage:" not in out
    assert committed_repo.head() == base


def _stage_symlinked_result(repo: ExpRepo) -> str:
    """A result whose file is a symbolic link to a bad document elsewhere in the tree."""
    repo.add_experiment("exp-002")
    repo.write("data/exp-002.json", '{"schema": "expflow/result@1", "metrics": {"x": NaN}}\n')
    link = repo.path / repo.res_path("exp-002")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(repo.path / "data/exp-002.json", link.parent))
    repo.stage()
    return repo.res_path("exp-002")


def test_manifest_validate_hook_is_given_a_symlinked_document(
    committed_repo: ExpRepo, hook_config: Path, hook_env: dict
) -> None:
    """pre-commit's default `types: [file]` never passed a symbolic link to validate, so a
    document committed as a link (to any content) got through the framework's hooks."""
    res = _stage_symlinked_result(committed_repo)
    code, out = run_hook(committed_repo.path, hook_config, "expflow-validate", [res], hook_env)
    assert code == 1, out
    assert f"{res}: not-a-regular-file" in out, out


def test_init_config_validate_hook_is_given_a_symlinked_document(
    committed_repo: ExpRepo, hook_env: dict
) -> None:
    pre_commit_install(committed_repo.path, hook_env)
    base = committed_repo.head()
    res = _stage_symlinked_result(committed_repo)
    code, out = commit_through_hooks(
        committed_repo, {**hook_env, "PRE_COMMIT_COLOR": "never"}, "a linked result"
    )
    assert code != 0, out
    assert f"{res}: not-a-regular-file" in out, out
    assert committed_repo.head() == base


# Files pre-commit calls binary (a control byte in the first KiB, a UTF-16 BOM) that the
# scanner reads: the hook was given text files only, so these leaks were committed.
BINARY_LOOKING = {
    "NOTES": PIN_SHA.encode() + b"\x01\n",
    "hash.out": "\ufeff".encode("utf-16-le") + PIN_SHA.encode("utf-16-le"),
}


def test_manifest_scan_hook_is_given_every_file(
    committed_repo: ExpRepo, hook_config: Path, hook_env: dict
) -> None:
    for rel, data in BINARY_LOOKING.items():
        committed_repo.write(rel, data)
    committed_repo.stage()
    code, out = run_hook(committed_repo.path, hook_config, "expflow-no-pin-hash", None, hook_env)
    assert code == 1, out
    for rel in BINARY_LOOKING:
        assert f"{rel}:1:" in out and "pin-sha256" in out, out


def test_init_config_scan_hook_is_given_every_file(committed_repo: ExpRepo, hook_env: dict) -> None:
    pre_commit_install(committed_repo.path, hook_env)
    base = committed_repo.head()
    for rel, data in BINARY_LOOKING.items():
        committed_repo.write(rel, data)
    committed_repo.stage()
    code, out = commit_through_hooks(
        committed_repo, {**hook_env, "PRE_COMMIT_COLOR": "never"}, "binary-looking leaks"
    )
    assert code != 0, out
    for rel in BINARY_LOOKING:
        assert f"{rel}:1:" in out, out
    assert committed_repo.head() == base


def test_init_config_checks_a_clean_merge(committed_repo: ExpRepo, hook_env: dict) -> None:
    """git runs pre-merge-commit, not pre-commit, for a merge without conflicts: `pre-commit
    install` with init's config installs it, so a branch's rewrite is refused at the merge."""
    seed_example(committed_repo)
    committed_repo.commit("exp-001")
    pre_commit_install(committed_repo.path, hook_env)
    assert (committed_repo.path / ".git" / "hooks" / "pre-merge-commit").exists()
    main = committed_repo.git("branch", "--show-current")
    committed_repo.git("checkout", "-q", "-b", "theirs")
    committed_repo.add_result(metrics={"seg_total": 1.0, "pde_mean": 1.0, "train_time_min": 1.0})
    committed_repo.commit("a rewrite, hooks skipped")
    committed_repo.git("checkout", "-q", main)
    committed_repo.write("notes.md", "unrelated\n")
    committed_repo.commit("so the merge is not a fast-forward")
    base = committed_repo.head()
    proc = subprocess.run(
        ["git", "merge", "--no-ff", "--no-edit", "theirs"],
        cwd=committed_repo.path,
        env=git_env({**hook_env, "PRE_COMMIT_COLOR": "never"}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert f"{RES}: result-rewritten" in proc.stdout + proc.stderr
    assert committed_repo.head() == base


# --------------------------------------------------------------------------- issue 13: identity
def test_validate_hook_refuses_a_second_result_for_an_experiment(
    seeded: ExpRepo, hook_config: Path, hook_env: dict
) -> None:
    """The hook is given only the new file; it is compared with every result in the index."""
    twin = "results/other/exp-001.json"
    seeded.write_json(
        twin, result_doc(metrics={"seg_total": 99.0, "pde_mean": 1.0, "train_time_min": 1.0})
    )
    seeded.stage(twin)
    code, out = run_hook(seeded.path, hook_config, "expflow-validate", [twin], hook_env)
    assert code == 1, out
    assert (
        f"{twin}#/experiment: duplicate-result: experiment 'exp-001' also has the result {RES}"
        in out
    )


def test_protect_hook_refuses_a_frozen_record_field(
    seeded: ExpRepo, hook_config: Path, hook_env: dict
) -> None:
    hook = "expflow-protect-results"
    seeded.add_experiment(title="a new title", tags=["renamed"])  # not frozen
    seeded.stage()
    code, out = run_hook(seeded.path, hook_config, hook, None, hook_env)
    assert code == 0, out
    seeded.add_experiment(params={"Args/--sub_step": 0, "lr": 0.001, "model": "fno"})
    seeded.stage()
    code, out = run_hook(seeded.path, hook_config, hook, None, hook_env)
    assert code == 1, out
    assert (
        f"{EXP}: record-rewritten: the staged change changes params of experiment 'exp-001'" in out
    )
    # Not even with the PIN under the default `corrections: allow`: no correction can
    # declare a frozen field, so `audit --since` would fail the commit in CI (issue 18,
    # twenty-fifth pass); under `deny` the PIN approves it.
    pin = str(4000 + 821)
    pinned = {**hook_env, "EXPFLOW_PIN": pin}
    assert run_cli(["pin", "init", pin], cwd=seeded.path, env=hook_env)[0] == 0
    code, out = run_hook(seeded.path, hook_config, hook, None, pinned)
    assert code == 1, out
    assert f"{EXP}: record-rewritten" in out and "no correction can declare" in out, out
    assert "approved" not in out
    policy = seeded.path / "expflow.yaml"
    policy.write_text(policy.read_text().replace("protect: {", "protect: {corrections: deny, ", 1))
    seeded.stage()
    code, out = run_hook(seeded.path, hook_config, hook, None, pinned)
    assert code == 0, out
    assert "approved" in out


def test_commit_through_pre_commit_refuses_both(
    seeded: ExpRepo, hook_config: Path, hook_env: dict
) -> None:
    """`git commit` with the hooks installed: a second result and a record edit are refused,
    nothing is committed."""
    shutil.copy(hook_config, seeded.path / ".pre-commit-config.yaml")
    pre_commit_install(seeded.path, hook_env)
    seeded.stage()
    assert commit_through_hooks(seeded, hook_env, "use the snapshot's hooks")[0] == 0
    head = seeded.head()
    twin = "results/other/exp-001.json"
    seeded.write_json(twin, result_doc())
    seeded.stage()
    code, out = commit_through_hooks(seeded, hook_env, "second result")
    assert code != 0 and "duplicate-result" in out, out
    assert seeded.head() == head
    (seeded.path / twin).unlink()
    seeded.add_experiment(seed=7)
    seeded.stage()
    code, out = commit_through_hooks(seeded, hook_env, "reseed")
    assert code != 0 and f"{EXP}: record-rewritten" in out and "seed" in out, out
    assert seeded.head() == head
