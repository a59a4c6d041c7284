"""Review of the forty-first pass's adoption at merges (`history.records.adoptions`):
what it costs on histories a pull request's author can build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git, run_cli
from support import git_calls, git_counter
from test_hunt40_merge import _commit, _ok, pending_run


def _merge_branch(repo: Path, k: int, on_branch: int = 0, on_main: int = 0) -> None:
    """Branch `b<k>` gives pending run `e<k>` its result; main moves on (`x<k>`) and
    merges it; the branch ends with `on_branch` empty commits, main with `on_main` (CI
    re-runs, say)."""
    git(repo, "checkout", "-q", "-b", f"b{k}")
    _ok(repo, "result", f"e{k}", "--metric", "accuracy=0.5")
    _commit(repo, f"e{k}'s result")
    for _ in range(on_branch):
        git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", "re-run CI")
    git(repo, "checkout", "-q", "main")
    _ok(repo, "new", f"x{k}", "--study", "s", "--status", "pending")
    _commit(repo, f"x{k} planned")
    for _ in range(on_main):
        git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", "re-run CI")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", f"b{k}")


def _listings(tmp_path: Path, repo: Path, base: str) -> int:
    """`audit --since BASE --policy-ref BASE` passes: the `git ls-tree` it ran."""
    env, log = git_counter(tmp_path)
    res = run_cli(["audit", "--since", base, "--policy-ref", base], repo, env)
    assert res.code == 0 and "Traceback" not in res.err, res.both
    return sum(1 for c in git_calls(log) if " ls-tree " in f" {c.args} ")


@pytest.mark.parametrize("empty", ["branch", "main"])
def test_merges_of_lines_ending_with_an_empty_commit_list_no_tree_each(
    tmp_path: Path, isolated_env: Path, empty: str
) -> None:
    """Each branch tip (or main's tip), an empty commit, is a merge parent the walk
    never lists (no change against its first parent), so `_result_paths` (and, for
    main's, `with_fork_records` too) listed its whole tree: one `git ls-tree` per merge,
    each of a tree that grows with the history (measured, a scratch script, 300 and
    1,200 merges: the branch's 6.3 s and 24.4 s, main's 6.7 s and 53.5 s (28.9 s
    before the adoption), against 2.5 s and 4.0 s without the empty commits). Such a
    tree is its parent's, a walked commit's, whose paths the diffs already name: one
    merge or four, the same listings."""
    empties = {"on_branch": 1} if empty == "branch" else {"on_main": 1}
    assert_four_merges_list_as_one(tmp_path, lambda repo, k: _merge_branch(repo, k, **empties))


def assert_four_merges_list_as_one(tmp_path: Path, merge: Callable[[Path, int], None]) -> None:
    """Pending runs e1..e4 at BASE; `merge(repo, k)` merges e<k>'s result: the audit runs
    as many `git ls-tree` after one merge as after four."""
    repo, _ = pending_run(tmp_path)
    for k in (2, 3, 4):
        _ok(repo, "new", f"e{k}", "--study", "s", "--status", "pending")
    base = _commit(repo, "more runs planned")
    merge(repo, 1)
    (tmp_path / "one").mkdir()
    one = _listings(tmp_path / "one", repo, base)
    for k in (2, 3, 4):
        merge(repo, k)
    (tmp_path / "four").mkdir()
    assert _listings(tmp_path / "four", repo, base) == one
