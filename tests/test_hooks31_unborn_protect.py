"""A first commit's staged files that pre-commit passes no hook (issue 18, thirty-first
pass; a hunt): with HEAD unborn (a new repository, or `git checkout --orphan`) there is
no diff against HEAD, and `protect` took only the index's submodules, so a PIN hash
staged with skip-worktree or assume-unchanged and deleted from disk went into the first
commit past all three hooks (the audit then failed). Every stage-0 entry of the index
counts as added now, from one index listing."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import ExpRepo, run_cli
from support import git_calls, git_counter, pre_commit_install
from test_hooks_precommit import commit_through_hooks, seed_example

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN_SHA = hashlib.sha256(str(4000 + 821).encode()).hexdigest()  # no PIN written literally
NOTE = "notes/n.txt"


@pytest.fixture
def hook_env(tmp_path: Path, isolated_env: Path) -> dict[str, str]:
    """pre-commit and git: a private pre-commit cache, this venv's scripts on PATH (the
    template's hooks are `language: system`: they run the installed `expflow-git`)."""
    return {
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "EXPFLOW_HOME": str(isolated_env),
        "PRE_COMMIT_COLOR": "never",
        "NO_COLOR": "1",
    }


def _unborn(repo: ExpRepo) -> bool:
    return repo.git("rev-parse", "-q", "--verify", "HEAD", check=False) == ""


def _stage_leak_off_disk(repo: ExpRepo, flag: str) -> None:
    """A note holding a PIN's SHA-256, staged, marked with `flag` and deleted from disk:
    pre-commit passes it to no hook."""
    repo.write(NOTE, f"token = {PIN_SHA}\n")
    repo.git("add", "-A")
    repo.git("update-index", flag, NOTE)
    (repo.path / NOTE).unlink()


def _refused(out: str) -> bool:
    return f"{NOTE}:1:9: pin-sha256" in out and PIN_SHA not in out


def test_a_first_commits_file_marked_skip_worktree_is_scanned(
    exp_repo: ExpRepo, hook_env: dict[str, str]
) -> None:
    repo, env = exp_repo, hook_env
    pre_commit_install(repo.path, env)
    seed_example(repo)
    _stage_leak_off_disk(repo, "--skip-worktree")
    code, out = commit_through_hooks(repo, env, "first")
    assert code == 1 and _refused(out), out
    assert _unborn(repo)


def test_an_orphan_branchs_file_marked_assume_unchanged_is_scanned(
    exp_repo: ExpRepo, hook_env: dict[str, str]
) -> None:
    repo, env = exp_repo, hook_env
    pre_commit_install(repo.path, env)
    seed_example(repo)
    repo.git("add", "-A")
    assert commit_through_hooks(repo, env, "scaffold")[0] == 0
    repo.git("checkout", "-q", "--orphan", "fresh")  # keeps the index and the files
    _stage_leak_off_disk(repo, "--assume-unchanged")
    code, out = commit_through_hooks(repo, env, "orphan")
    assert code == 1 and _refused(out), out
    assert _unborn(repo)


def test_a_clean_first_commit_passes(exp_repo: ExpRepo, hook_env: dict[str, str]) -> None:
    """Files staged and on disk are the other hooks' to judge, and pass."""
    repo, env = exp_repo, hook_env
    pre_commit_install(repo.path, env)
    seed_example(repo)
    repo.write("notes/ok.txt", "nothing to see\n")
    repo.git("add", "-A")
    code, out = commit_through_hooks(repo, env, "first")
    assert code == 0, out
    assert not _unborn(repo)


def _protect_git_calls(repo: ExpRepo, tmp_path: Path, files: int) -> list[str]:
    """`files` notes staged on disk in the unborn `repo` (one with a PIN hash: the scan
    hook's to find, since pre-commit passes it one); `expflow-git protect --` as the hook
    runs it: the git commands it ran."""
    for i in range(files):
        repo.write(f"notes/{i // 500}/n{i}.txt", f"note {i}\n")
    repo.write(NOTE, f"token = {PIN_SHA}\n")
    repo.git("add", "-A")
    counted = tmp_path / f"count-{files}"
    counted.mkdir()
    env, log = git_counter(counted)
    code, out, err = run_cli(["protect", "--"], cwd=repo.path, env=env, timeout=300)
    assert code == 0 and not _refused(out + err), out + err
    return [c.args for c in git_calls(log)]


def test_an_ordinary_first_commits_cost_is_one_index_listing(
    tmp_path: Path, exp_repo: ExpRepo, _template_repo: Path
) -> None:
    """5,000 staged files on disk cost what 5 do: one listing of the whole index, no
    process per file."""
    (tmp_path / "small").mkdir()
    small = ExpRepo(tmp_path / "small" / "repo")
    shutil.copytree(_template_repo, small.path, symlinks=True)
    few = _protect_git_calls(small, tmp_path, 5)
    many = _protect_git_calls(exp_repo, tmp_path, 5000)
    assert _unborn(exp_repo)
    assert many == few  # the same commands, whatever the count of files
    assert sum(a.endswith(" ls-files -s -z --") for a in many) == 1, many  # the whole index
