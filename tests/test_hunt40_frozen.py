"""`audit --since` judges a run's record at REV against the record beside every result
blob of the run the range committed (each link of its chain of corrections), and a
record beside a committed result that strict JSON refuses froze as it is (issue 18,
fortieth pass; tests/test_review40_merge.py and tests/test_hunt40_merge.py hold the
merge-shaped attacks). Here: the attacks with no merge, and legitimate histories that
must still pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git
from test_hunt40_merge import (
    PIN,
    RECORD,
    _audit,
    _commit,
    _edit,
    _ok,
    _overwrite,
    pending_run,
    repair_repeated_key,
    result_beside_a_repeated_key,
)

RESULT = "results/s/e1.json"


@pytest.fixture
def planned(tmp_path: Path, isolated_env: Path) -> tuple[Path, str]:
    """A `pending` run e1 committed (BASE)."""
    return pending_run(tmp_path)


def test_a_result_beside_an_unreadable_record_then_overwritten_beside_other_params(
    planned: tuple[Path, str],
) -> None:
    """The result is committed beside a record strict JSON refuses (a repeated key);
    the next commit gives the finished run other params, and a third overwrites the
    result through a correction, beside those params. The overwrite's commit alone was
    compared with REV's record (the same), the walk's old side could not be read: the
    audit passed."""
    repo, base = planned
    result_beside_a_repeated_key(repo)
    repair_repeated_key(repo)
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _commit(repo, "e1's params")
    _overwrite(repo, "0.95")
    _commit(repo, "e1 overwritten")
    code, out = _audit(repo, base)
    assert code == 1 and f"{RECORD}: record-rewritten" in out, out
    assert "could not be read" in out, out


def test_an_unreadable_record_beside_a_result_is_frozen_byte_for_byte(
    planned: tuple[Path, str],
) -> None:
    """The safe way: a record that could not be read froze as it is, so repairing it
    (the same values) is `record-rewritten` too, naming why."""
    repo, base = planned
    result_beside_a_repeated_key(repo)
    repair_repeated_key(repo)
    _commit(repo, "e1's record repaired")
    code, out = _audit(repo, base)
    assert code == 1 and f"{RECORD}: record-rewritten" in out, out
    assert "could not be read: it froze as it is" in out, out


def test_a_run_overwritten_twice_and_moved_passes(planned: tuple[Path, str]) -> None:
    """No new false failure: a result overwritten twice through corrections, moved to
    another results folder in between, its record's free fields (title, tags) edited."""
    repo, base = planned
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    _commit(repo, "e1's result")
    _overwrite(repo, "0.6")
    _commit(repo, "e1 overwritten")
    (repo / "results/archive").mkdir(parents=True)
    git(repo, "mv", RESULT, "results/archive/e1.json")
    _edit(repo, '"tags": []', '"tags": ["kept"]')
    _commit(repo, "e1's result archived, retagged")
    _overwrite(repo, "0.7")
    _commit(repo, "e1 overwritten again")
    code, out = _audit(repo, base)
    assert code == 0, out


def test_a_branchs_overwritten_result_merged_into_main_passes(planned: tuple[Path, str]) -> None:
    """No new false failure: the branch commits e1's result and overwrites it; main,
    which planned another run meanwhile, is merged into the branch (GitHub's "Update
    branch"), then the branch into main, and main overwrites it once more."""
    repo, base = planned
    git(repo, "checkout", "-q", "-b", "side")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    _commit(repo, "e1's result")
    _overwrite(repo, "0.6")
    _commit(repo, "e1 overwritten")
    git(repo, "checkout", "-q", "main")
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    _commit(repo, "e2 planned")
    git(repo, "checkout", "-q", "side")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "main")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "side")
    _overwrite(repo, "0.7")
    _commit(repo, "e1 overwritten on main")
    code, out = _audit(repo, base)
    assert code == 0, out


def test_a_run_removed_and_put_back_then_overwritten_passes(planned: tuple[Path, str]) -> None:
    """No new false failure: §2.4's way back for a deleted run (its `rm` undone, then a
    correction continuing from the blob the deletion superseded)."""
    repo, base = planned
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    finished = _commit(repo, "e1's result")
    _ok(repo, "rm", "e1", "--reason", "bad data", env={"EXPFLOW_PIN": PIN})
    _commit(repo, "e1 removed")
    git(repo, "checkout", finished, "--", RECORD, RESULT)
    _commit(repo, "e1 back")
    _overwrite(repo, "0.8")
    _commit(repo, "e1 overwritten")
    code, out = _audit(repo, base)
    assert code == 0, out
