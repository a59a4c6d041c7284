"""`expflow-git protect` resolves HEAD once: with nothing staged against HEAD it resolved
it a second time (`cat-file --batch-check` and `cat-file commit`, two git processes) to
tell the first commit, whose submodules it scans, from a commit that changes nothing
(issue 18 twenty-ninth pass). What it finds is unchanged, on an unborn HEAD too."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import ExpRepo
from support import git_calls, git_counter, run_cli


def _head_reads(args: list[str]) -> list[str]:
    """The git processes that resolve a revision to a commit (`Git.resolve_commit`)."""
    return [a for a in args if a.endswith("cat-file --batch-check") or " cat-file commit " in a]


def test_nothing_staged_resolves_head_once(committed_repo: ExpRepo, tmp_path: Path) -> None:
    env, log = git_counter(tmp_path)
    res = run_cli(["protect"], committed_repo.path, env=env)
    assert res.code == 0, res
    args = [c.args for c in git_calls(log)]
    assert len(_head_reads(args)) == 2, args  # one --batch-check, one `cat-file commit`
    assert sum(" diff-index " in a for a in args) == 1, args


def test_a_staged_change_resolves_head_once(committed_repo: ExpRepo, tmp_path: Path) -> None:
    committed_repo.write("notes.txt", "a note\n")
    committed_repo.stage("notes.txt")
    env, log = git_counter(tmp_path)
    res = run_cli(["protect"], committed_repo.path, env=env)
    assert res.code == 0, res
    assert len(_head_reads([c.args for c in git_calls(log)])) == 2


def test_the_first_commit_still_scans_its_submodules(exp_repo: ExpRepo) -> None:
    """Unborn HEAD: a submodule whose name the PIN scan flags is still refused (what the
    second resolution was for), and a clean index passes."""
    assert run_cli(["protect"], exp_repo.path).code == 0
    digest = hashlib.sha256(str(4000 + 821).encode()).hexdigest()
    exp_repo.git("update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendor/{digest}")
    res = run_cli(["protect"], exp_repo.path)
    assert res.code == 1, res
    assert "vendor/****: pin-sha256" in res.out and digest not in res.out + res.err, res
