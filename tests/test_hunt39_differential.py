"""An attacker's hunt of the agreement between the pre-commit side and the audit side
(thirty-ninth pass): random small histories made with the tool's writers (`new`,
`result`, `result --overwrite`, `rm`, `fail`, `cancel`, `start`, `import csv`) and by
hand (moves of documents across study folders and in case, edits, deletions, the `rm`
undone, policy changes), with side branches merged either way round, each commit made
through the plain hooks (`install-hooks`: pre-commit and pre-merge-commit) and judged
by `audit --since` commit by commit and over the whole range. Each disagreement the spec
does not name is minimised here."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, git_init, run_cli


def _ok(repo: Path, *args: str) -> str:
    code, out, err = run_cli(list(args), repo)
    assert code == 0, (args, out, err)
    return out + err


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)


@pytest.fixture
def pending_on_main(tmp_path: Path, isolated_env: Path) -> Path:
    """A repository with a `pending` run e1 committed on main, then a branch `side`
    where `result e1` gives it its result (the record marked `success` with it), and
    main moved on meanwhile (another run's record): the everyday shape of a run trained
    on a branch."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    _commit(repo, "init")
    _ok(repo, "new", "e1", "--study", "s", "--status", "pending")
    _commit(repo, "e1 planned")
    git(repo, "checkout", "-q", "-b", "side")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    _commit(repo, "e1's result")
    git(repo, "checkout", "-q", "main")
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    _commit(repo, "e2 planned")
    return repo


@pytest.mark.parametrize("first_parent", ["main", "side"])
def test_a_record_merged_with_other_params_stays_frozen_after_an_overwrite(
    pending_on_main: Path, first_parent: str
) -> None:
    """The hunt's fix for a false `record-rewritten` at the merge of a branch's result
    (a run frozen only from its first parent's history on) opened this, and was taken
    back (a review, issue 18 thirty-ninth pass): main changed the pending run's params
    (lr 0.1 → 0.2, legitimate while it ran nowhere), the branch gave it its result with
    lr 0.1, git merged the two cleanly (status success, lr 0.2), and once the result was
    overwritten through a correction, the commit that added the result at the audited
    commit was the overwrite, whose record already said lr 0.2: `audit --since BASE`
    passed a finished run whose params were changed, either way round the merge (`git
    pull` on the branch too). The walk freezes a run at its result's first commit in
    topological order: the merge is `record-rewritten`."""
    repo = pending_on_main
    base = git(repo, "rev-parse", "HEAD~")  # e1 planned
    _ok(repo, "pin", "init", PIN)
    record = repo / "experiments/s/e1.json"
    record.write_text(record.read_text().replace('"params": {}', '"params": {"lr": 0.2}'))
    assert '"lr": 0.2' in record.read_text()
    _commit(repo, "e1's params on main")
    if first_parent == "side":
        git(repo, "checkout", "-q", "side")
        git(repo, "merge", "-q", "--no-edit", "--no-verify", "main")
    else:
        git(repo, "merge", "-q", "--no-edit", "--no-verify", "side")
    merged = record.read_text()
    assert '"lr": 0.2' in merged and '"status": "success"' in merged
    code, out, err = run_cli(
        ["result", "e1", "--metric", "accuracy=0.95", "--overwrite", "--reason", "rerun"],
        repo,
        env={"EXPFLOW_PIN": PIN},
    )
    assert code == 0, out + err
    _commit(repo, "e1 overwritten")
    audit = run_cli(["audit", "--since", base, "--policy-ref", base], repo)
    assert audit.code == 1, audit.both
    assert "experiments/s/e1.json: record-rewritten" in audit.out, audit.both


def test_a_record_merged_with_other_params_beside_a_branchs_result_is_still_frozen(
    pending_on_main: Path,
) -> None:
    """The fix takes a run as frozen from its result's commit onwards along the
    history: a merge that keeps the branch's result but the main line's new params for
    its record is still `record-rewritten` (the record beside the result said other
    params: `frozen_at_rev`)."""
    repo = pending_on_main
    record = repo / "experiments/s/e1.json"
    record.write_text(record.read_text().replace('"params": {}', '"params": {"lr": 0.3}'))
    assert '"lr": 0.3' in record.read_text()
    _commit(repo, "e1's params on main")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "side")
    audit = run_cli(["audit", "--since", "HEAD~", "--policy-ref", "HEAD~"], repo)
    assert audit.code == 1, audit.both
    assert "experiments/s/e1.json: record-rewritten" in audit.out, audit.both


def test_a_record_edited_after_the_merge_of_its_result_is_frozen(
    pending_on_main: Path,
) -> None:
    """After the merge, the run is frozen on main: a later edit of its status is
    `record-rewritten` in the hook and in `audit --since`, as before."""
    repo = pending_on_main
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "side")
    record = repo / "experiments/s/e1.json"
    record.write_text(record.read_text().replace('"status": "success"', '"status": "failed"'))
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo)
    assert code == 1 and "record-rewritten" in out + err, out + err
    git(repo, "commit", "-q", "--no-verify", "-m", "e1 failed after all")
    audit = run_cli(["audit", "--since", "HEAD~2", "--policy-ref", "HEAD~2"], repo)
    assert audit.code == 1 and "experiments/s/e1.json: record-rewritten" in audit.out


PIN = str(4000 + 821)


def test_a_merge_keeping_a_moved_record_of_a_run_deleted_on_a_branch_is_judged_alike(
    tmp_path: Path, isolated_env: Path
) -> None:
    """A finished run e1 `rm`'d on a branch (its record, result and a correction
    declaring the deletion), while main moved its record to another study folder; the
    merge's rename/delete conflict resolved by keeping the moved record. The protect
    hook (against HEAD, main, where the record was at the moved path) passes the merge;
    `audit --since` of it fails, `record-rewritten` ("brings experiment 'e1' back after
    its deletion … at a path it did not have then"), the deletion's reference being the
    record in the parent of the branch's `rm` commit (§2.4). Once merged, every later
    pull request, an unrelated record alone, fails for that file, and so does the plain
    audit: a history the hooks approve commit by commit that CI then fails for good. The
    hook and the audit must say the same of the merge."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    _ok(repo, "pin", "init", PIN)
    for exp_id in ("e0", "e1"):  # e0: a feasible run, so a verdict is the findings'
        _ok(repo, "new", exp_id, "--study", "s")
        _ok(repo, "result", exp_id, "--metric", "accuracy=0.5")
    _commit(repo, "e0, e1")
    git(repo, "checkout", "-q", "-b", "side")
    code, out, err = run_cli(["rm", "e1", "--reason", "gone"], repo, env={"EXPFLOW_PIN": PIN})
    assert code == 0, out + err
    _commit(repo, "rm e1")
    git(repo, "checkout", "-q", "main")
    (repo / "experiments/t").mkdir()
    git(repo, "mv", "experiments/s/e1.json", "experiments/t/e1.json")
    assert run_cli(["protect"], repo).code == 0  # a move of a record: no rewrite
    git(repo, "commit", "-q", "--no-verify", "-m", "e1's record moved")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "side", check=False)
    assert (repo / "experiments/t/e1.json").exists()  # the rename/delete conflict
    git(repo, "add", "-A")  # resolved by keeping the moved record
    hook = run_cli(["protect"], repo, env={"EXPFLOW_PIN": PIN})
    assert "Traceback" not in hook.err
    git(repo, "commit", "-q", "--no-verify", "--no-edit")
    audit = run_cli(["audit", "--since", "HEAD~", "--policy-ref", "HEAD~"], repo)
    assert (hook.code == 0) == (audit.code == 0), (hook.both, audit.both)
    assert "record-rewritten" not in audit.out, audit.both
    if hook.code == 0:  # the hooks approved it: a later, unrelated pull request passes
        _ok(repo, "new", "e9", "--study", "s", "--status", "pending")
        _commit(repo, "e9 planned")
        later = run_cli(["audit", "--since", "HEAD~", "--policy-ref", "HEAD~"], repo)
        assert later.code == 0, later.both


def test_cancel_refuses_a_run_with_a_result_as_fail_does(
    tmp_path: Path, isolated_env: Path
) -> None:
    """A `running` run whose result its training wrote to disk (not yet committed):
    `fail` refuses it ("a run with a result cannot be marked failed"), but `cancel`
    wrote `skipped`, exit 0, and the validate hook then refused the commit
    (`result-for-unsuccessful-run`): a tool writer producing a commit its own hook
    refuses. `cancel` refuses it too now, exit 1, before the PIN, nothing written."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    _ok(repo, "pin", "init", PIN)
    _ok(repo, "new", "e1", "--study", "s", "--status", "running")
    _commit(repo, "e1 running")
    record = repo / "experiments/s/e1.json"
    before = record.read_bytes()
    result = repo / "results/s/e1.json"
    result.parent.mkdir(parents=True)
    result.write_text(
        '{"schema": "expflow/result@1", "experiment": "e1", '
        '"recorded_at": "2026-11-20T11:02:00Z", "metrics": {"accuracy": 0.5}}\n'
    )
    failed = run_cli(["fail", "e1", "--reason", "oom"], repo)
    assert failed.code == 1 and "has a result" in failed.err, failed.both
    cancelled = run_cli(["cancel", "e1", "--reason", "stop"], repo, env={"EXPFLOW_PIN": PIN})
    assert "Traceback" not in cancelled.err
    assert cancelled.code == 1, cancelled.both
    assert "results/s/e1.json: experiment 'e1' has a result" in cancelled.err, cancelled.both
    assert record.read_bytes() == before  # nothing written
