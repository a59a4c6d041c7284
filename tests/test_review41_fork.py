"""Review of the forty-first pass's chain starts (`history.records.chain_starts`): a
line ending with more than one empty commit before each merge."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git
from test_hunt40_merge import _commit, _ok, pending_run
from test_review41_merge import _listings


def _merge_branch(repo: Path, k: int, empties: int) -> None:
    """Branch `b<k>` gives pending run `e<k>` its result; main moves on (`x<k>`), ends
    with `empties` empty commits (CI re-runs, say) and merges it."""
    git(repo, "checkout", "-q", "-b", f"b{k}")
    _ok(repo, "result", f"e{k}", "--metric", "accuracy=0.5")
    _commit(repo, f"e{k}'s result")
    git(repo, "checkout", "-q", "main")
    _ok(repo, "new", f"x{k}", "--study", "s", "--status", "pending")
    _commit(repo, f"x{k} planned")
    for _ in range(empties):
        git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", "re-run CI")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", f"b{k}")


@pytest.mark.parametrize("empties", [2, 3])
def test_merges_into_a_main_ending_with_several_empty_commits_list_no_tree_each(
    tmp_path: Path, isolated_env: Path, empties: int
) -> None:
    """Main's tip before each merge, the last of `empties` empty commits, is the merge's
    first parent outside the walk; its own first parent is another empty commit, not a
    walked one, so `chain_starts` listed its tree (and `_result_paths` again): one `git
    ls-tree` of a tree that grows with the history per merge, the quadratic the pass
    closed for one empty commit. Its tree is the walked commit's below the empty ones:
    one merge or four, the same listings."""
    repo, _ = pending_run(tmp_path)
    for k in (2, 3, 4):
        _ok(repo, "new", f"e{k}", "--study", "s", "--status", "pending")
    base = _commit(repo, "more runs planned")
    _merge_branch(repo, 1, empties)
    (tmp_path / "one").mkdir()
    one = _listings(tmp_path / "one", repo, base)
    for k in (2, 3, 4):
        _merge_branch(repo, k, empties)
    (tmp_path / "four").mkdir()
    assert _listings(tmp_path / "four", repo, base) == one


@pytest.mark.parametrize("order", ["empty-first", "revert-first", "empty-only"])
def test_a_fork_before_base_behind_empty_commits_is_still_listed(
    tmp_path: Path, isolated_env: Path, order: str
) -> None:
    """The guard on the fix above: a line of empty commits leads down to a commit outside
    the walk (the fork before BASE), not to a walked one, so the fork's tree is listed
    (the record beside the result sits at a path BASE dropped); a revert giving a walked
    commit the fork's tree hides nothing (lines are followed by commit ids)."""
    from test_history_merges import assert_fork_before_base_frozen, base_repo, commit

    repo = base_repo(tmp_path)

    def empties() -> None:
        for _ in range(2):
            git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", "re-run CI")

    def revert() -> None:
        (repo / "junk.txt").write_text("junk\n")
        commit(repo, "junk")
        (repo / "junk.txt").unlink()
        commit(repo, "no junk")

    steps = {"empty-first": [empties, revert], "revert-first": [revert, empties]}
    assert_fork_before_base_frozen(repo, steps.get(order, [empties]))
