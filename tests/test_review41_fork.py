"""Review of the forty-first pass's chain starts (`history.records.chain_starts`): a
line ending with more than one empty commit before each merge."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git
from test_review41_merge import _merge_branch, assert_four_merges_list_as_one


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
    assert_four_merges_list_as_one(
        tmp_path, lambda repo, k: _merge_branch(repo, k, on_main=empties)
    )


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
