"""Review of the fortieth pass's line-by-line freezing (`history.records.rewritten_records`):
histories a pull request's author can build that `audit --since BASE` passes while a
finished run's frozen fields were rewritten."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import git, git_init
from test_hunt40_merge import (
    PIN,
    RECORD,
    _audit,
    _commit,
    _edit,
    _ok,
    _overwrite,
    repair_repeated_key,
    result_beside_a_repeated_key,
    result_on_side,
)

COPY = "experiments/a/e1.json"  # sorts before RECORD


def _blob(repo: Path, name: str) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "blob", name], cwd=repo, capture_output=True, check=True
    ).stdout


@pytest.fixture
def planned(tmp_path: Path, isolated_env: Path) -> tuple[Path, str]:
    """A `pending` run e1 on main (BASE); branch `side` gives it its result; main out."""
    return result_on_side(tmp_path)


@pytest.mark.parametrize("policy_ref", [True, False])
def test_a_merge_adding_a_copy_of_the_frozen_record_elsewhere_hides_the_kept_one(
    planned: tuple[Path, str], policy_ref: bool
) -> None:
    """Main (which never froze e1) marks e1 `success` with lr 0.2; the branch's result
    is merged in (first parent main), git keeping main's record (no edit against the
    first parent) — and the merge commit adds a byte copy of the branch's record in
    another study's folder. That copy is the merge's only edit of e1: it matches the
    branch's line, and because e1 counts as "edited", the record kept from main is never
    judged against the branch's line that froze it. The copy is then removed and the
    result overwritten through a correction: the finished run's params changed since
    its result was first committed, and the audit passes."""
    repo, base = planned
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _edit(repo, '"status": "pending"', '"status": "success"')
    _commit(repo, "e1's params on main")
    git(repo, "merge", "-q", "--no-commit", "--no-ff", "side")
    assert '"lr": 0.2' in (repo / RECORD).read_text()
    (repo / COPY).parent.mkdir(parents=True)
    (repo / COPY).write_bytes(_blob(repo, f"side:{RECORD}"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--no-edit")
    git(repo, "rm", "-q", COPY)
    _commit(repo, "the copy dropped")
    _overwrite(repo, "0.95")
    _commit(repo, "e1 overwritten")
    assert '"lr": 0.2' in (repo / RECORD).read_text()
    code, out = _audit(repo, base, policy_ref=policy_ref)
    assert code == 1 and f"{RECORD}: record-rewritten" in out, out


@pytest.mark.parametrize("policy_ref", [True, False])
def test_a_branch_forked_where_a_run_later_deleted_was_finished_rewrites_it_unjudged(
    tmp_path: Path, isolated_env: Path, policy_ref: bool
) -> None:
    """e1 finished (F: record + result), then `rm e1` (a deletion correction): BASE
    holds no result of e1. A branch forked at F changes e1's params while its tree
    still holds e1's committed result: a finished run rewritten, in a commit of the
    range. Main undoes the `rm` (the result and record put back, as §2.4 allows), and
    merges the branch keeping its own tree. The spec (§6.2 item 7) says a commit before
    BASE freezes the results it holds; `line_of` freezes only those BASE also holds
    (`at_base & …`), so the fork's line never froze e1 and its rewrite is judged by no
    one. HEAD~1 judged every edit after the first result in the walk's order."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    _ok(repo, "pin", "init", PIN)
    _commit(repo, "init")
    _ok(repo, "new", "e1", "--study", "s")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    fork = _commit(repo, "e1 finished")
    _ok(repo, "rm", "e1", "--reason", "bad data", env={"EXPFLOW_PIN": PIN})
    base = _commit(repo, "e1 removed")
    assert not (repo / "results/s/e1.json").exists()
    # Main undoes the rm: the run's record and result as they were.
    git(repo, "checkout", fork, "--", RECORD, "results/s/e1.json")
    _commit(repo, "e1 back")
    git(repo, "checkout", "-q", "-b", "fork", fork)
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _commit(repo, "e1's params, its result in the tree")
    assert (repo / "results/s/e1.json").exists()
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "-s", "ours", "fork")
    assert '"lr"' not in (repo / RECORD).read_text()
    code, out = _audit(repo, base, policy_ref=policy_ref)
    assert code == 1 and "record-rewritten" in out, out


@pytest.mark.parametrize("policy_ref", [True, False])
def test_a_branch_forked_before_base_gives_its_result_and_the_merge_takes_bases_record(
    tmp_path: Path, isolated_env: Path, policy_ref: bool
) -> None:
    """Before BASE, main changed e1's params while it had no result (legitimate); a
    branch forked before that change commits e1's result alone (its record, lr 0.1,
    untouched). Merged into main, git keeps main's record (lr 0.3: the branch never
    changed it) beside the branch's result; the result is then overwritten through a
    correction. No commit of the range edits e1's record, so `rewritten_records` never
    follows e1 (its `followed` set is the runs with a record edit), `net_records` has
    no result at BASE, and `frozen_at_rev` sees only the overwrite's commit."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    _ok(repo, "pin", "init", PIN)
    _commit(repo, "init")
    _ok(repo, "new", "e1", "--study", "s", "--status", "success", "--param", "lr=0.1")
    fork = _commit(repo, "e1 planned")
    _edit(repo, '"lr": 0.1', '"lr": 0.3')
    base = _commit(repo, "e1's plan changed")
    git(repo, "checkout", "-q", "-b", "late", fork)
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    assert '"lr": 0.1' in (repo / RECORD).read_text()
    _commit(repo, "e1's result")
    assert git(repo, "diff", "--name-only", "HEAD^", "HEAD") == "results/s/e1.json"
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "late")
    assert '"lr": 0.3' in (repo / RECORD).read_text()
    _overwrite(repo, "0.95")
    _commit(repo, "e1 overwritten")
    assert '"lr": 0.3' in (repo / RECORD).read_text()
    code, out = _audit(repo, base, policy_ref=policy_ref)
    assert code == 1 and f"{RECORD}: record-rewritten" in out, out


@pytest.mark.parametrize("policy_ref", [True, False])
def test_an_unrelated_history_whose_root_commit_holds_a_rewritten_finished_run(
    tmp_path: Path, isolated_env: Path, policy_ref: bool
) -> None:
    """BASE holds e1 finished. The range: main removes e1 (`rm`, PIN-guarded, a
    deletion correction), and merges an unrelated history whose root commit holds e1's
    very result blob beside a record with other params (a finished run rewritten, in a
    commit of the range); the merge keeps main's tree. A root commit's line starts from
    no commit (`line_of(None)`: nothing frozen), so its record is judged by no one, and
    the merge finds no record of e1 to judge. HEAD~1 froze e1 (a result at BASE) on
    every line and judged the root commit's record against BASE's."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    _ok(repo, "pin", "init", PIN)
    _commit(repo, "init")
    _ok(repo, "new", "e1", "--study", "s")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    _ok(repo, "new", "e2", "--study", "s")
    _ok(repo, "result", "e2", "--metric", "accuracy=0.6")
    base = _commit(repo, "e1 and e2 finished")
    git(repo, "checkout", "-q", "--orphan", "other")
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _commit(repo, "e1's result beside other params")
    assert git(repo, "rev-parse", "HEAD:results/s/e1.json") == git(
        repo, "rev-parse", f"{base}:results/s/e1.json"
    )
    git(repo, "checkout", "-q", "main")
    _ok(repo, "rm", "e1", "--reason", "bad data", env={"EXPFLOW_PIN": PIN})
    _commit(repo, "e1 removed")
    git(
        repo,
        "merge",
        "-q",
        "--no-edit",
        "--no-verify",
        "-s",
        "ours",
        "--allow-unrelated-histories",
        "other",
    )
    code, out = _audit(repo, base, policy_ref=policy_ref)
    assert code == 1 and "record-rewritten" in out, out


@pytest.mark.parametrize("policy_ref", [True, False])
def test_a_result_committed_beside_a_record_with_a_repeated_key_freezes_nothing(
    planned: tuple[Path, str], policy_ref: bool
) -> None:
    """The branch commits e1's result (`--no-verify`) beside a record that repeats one
    key (`"tags"` twice: any lenient JSON reader reads it, params {} and all); the
    strict reader refuses it, so "an old side that could not be read froze nothing"
    (decisions.md), and the next commit gives the finished run other params. Neither
    the walk nor `frozen_at_rev` (the record beside the result: unreadable) judges it.
    Documented, but a pull request's author chooses it: the run is never frozen."""
    repo, base = planned
    git(repo, "checkout", "-q", "-b", "side2", base)
    result_beside_a_repeated_key(repo)
    repair_repeated_key(repo)
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _commit(repo, "e1's params")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "side2")
    assert '"lr": 0.2' in (repo / RECORD).read_text()
    code, out = _audit(repo, base, policy_ref=policy_ref)
    assert code == 1 and f"{RECORD}: record-rewritten" in out, out
