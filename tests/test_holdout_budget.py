"""The holdout budget (issue 19 part 3, docs/spec.md §6.2 item 6): results carrying the
walk-forward split, per study, counted in the tree or over BASE..REV's history, where
deleting, renaming, correcting or re-adding a result never lowers the count; the
count in the report (verify recomputes it) and in every output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers_audit import (
    POLICY,
    add_run,
    commit_all,
    git,
    m,
    new_repo,
    run_cli,
    statement_of,
    write,
    write_json,
)

STUDY = "pdebench-task1"


def _policy(limit: int) -> str:
    return POLICY + (
        "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
        f"               max_evaluations_per_study: {limit}}}\n"
    )


def _run(repo: Path, exp_id: str, seg: float, *, study: str = STUDY, holdout: bool = True) -> None:
    splits = {"holdout": {"seg_total": seg - 1}} if holdout else None
    add_run(repo, exp_id, m(seg), study=study, splits=splits)


def _budget(args: list[str], repo: Path) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    """The audit's exit code, its holdout-budget entry and its findings."""
    res = run_cli(["audit", "--format", "json", *args], repo)
    assert res.code in (0, 1), res.err
    entries = statement_of(res.out.encode())["predicate"]["entries"]
    [entry] = [e for e in entries if e["type"] == "holdout-budget"]
    return res.code, entry, [e for e in entries if e["type"] == "finding"]


def _counts(entry: dict[str, Any]) -> dict[str | None, int]:
    return {s["study"]: s["evaluations"] for s in entry["studies"]}


def _base(tmp_path: Path, limit: int = 1) -> tuple[Path, str]:
    repo = new_repo(tmp_path / "repo", _policy(limit))
    _run(repo, "exp-000", 50.0, holdout=False)  # a run that never looked at the holdout
    return repo, commit_all(repo, "base")


def test_the_tree_count_per_study_fails_the_audit_over_the_budget(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", _policy(2))
    for i, seg in enumerate((55.0, 56.0, 57.0)):
        _run(repo, f"exp-00{i}", seg)
    _run(repo, "exp-010", 58.0, study="other")
    _run(repo, "exp-011", 59.0, study="other", holdout=False)
    commit_all(repo)
    code, entry, findings = _budget([], repo)
    assert code == 1
    assert entry["counted"] == "tree" and entry["max"] == 2 and entry["split"] == "holdout"
    assert _counts(entry) == {"other": 1, STUDY: 3}
    [finding] = findings
    assert finding["rule"] == "holdout-budget-exceeded"
    assert finding["path"] == "expflow.yaml"
    assert finding["pointer"] == "/walk_forward/max_evaluations_per_study"
    assert f"study '{STUDY}' has 3 result(s)" in finding["message"]
    text = run_cli(["audit"], repo).out
    assert f"holdout budget: FAIL — results carrying split holdout per study (in the tree), " \
           f"at most 2: other 1, {STUDY} 3 OVER" in text  # fmt: skip
    # Within the budget: passes, and the count is still shown.
    write(repo, "expflow.yaml", _policy(3))
    commit_all(repo, "budget 3")
    code, entry, findings = _budget([], repo)
    assert code == 0 and findings == [] and _counts(entry) == {"other": 1, STUDY: 3}


def test_added_deleted_and_added_again_counts_twice_in_history(tmp_path: Path) -> None:
    # (Other bytes: the very same blob added again is the same look, one of the run's,
    # however often it is committed; tests/test_budget33_cherry_pick.py.)
    repo, base = _base(tmp_path, limit=1)
    _run(repo, "exp-001", 57.0)
    commit_all(repo, "add")
    result = repo / f"results/{STUDY}/exp-001.json"
    result.unlink()
    commit_all(repo, "delete")
    _run(repo, "exp-001", 57.5)  # another look: another holdout value
    commit_all(repo, "add again")
    _, entry, findings = _budget(["--since", base], repo)
    assert entry["counted"] == "history"
    assert _counts(entry) == {STUDY: 2}
    assert any(f["rule"] == "holdout-budget-exceeded" for f in findings)
    # The tree alone holds one: without --since the budget of one holds.
    _, entry, findings = _budget([], repo)
    assert _counts(entry) == {STUDY: 1}
    assert not any(f["rule"] == "holdout-budget-exceeded" for f in findings)


def test_a_look_in_splits_the_schema_refuses_counts(tmp_path: Path) -> None:
    """`"splits": [{"holdout": …}]` parses, fails the schema, and was no look; corrected
    away in the next commit, the study's one look was free (an attacker's hunt). The
    same look wrapped in a top-level list was counted: now both are."""
    repo, base = _base(tmp_path, limit=1)
    _run(repo, "exp-001", 57.0)
    add_run(repo, "exp-002", m(58.0))
    rel = f"results/{STUDY}/exp-002.json"
    doc = json.loads((repo / rel).read_text())
    doc["splits"] = [{"holdout": {"seg_total": 57.0}}]
    write_json(repo, rel, doc)
    commit_all(repo, "a look as a list")
    del doc["splits"]
    write_json(repo, rel, doc)
    commit_all(repo, "without it")
    _, entry, findings = _budget(["--since", base], repo)
    assert _counts(entry) == {STUDY: 2}
    assert any(f["rule"] == "holdout-budget-exceeded" for f in findings)


def test_an_empty_split_is_refused_when_written_and_is_no_look(tmp_path: Path) -> None:
    """`result --split holdout` with no metric after it wrote `"holdout": {}`, which
    spent a look of the budget for good (a result is write-once) while showing no
    value (a user's hunt, issue 18 twenty-second pass)."""
    repo, base = _base(tmp_path, limit=1)
    add_run(repo, "exp-001", None)
    metrics = [
        "--metric",
        "seg_total=57",
        "--metric",
        "pde_mean=15",
        "--metric",
        "train_time_min=45",
    ]
    res = run_cli(["result", "exp-001", *metrics, "--split", "holdout"], repo)
    assert res.code == 2 and "'holdout' has no metric" in res.err, res
    assert not (repo / f"results/{STUDY}/exp-001.json").exists()
    from expflow_git import Repository
    from expflow_git.errors import ExpflowError

    with pytest.raises(ExpflowError, match="'holdout' has no metric"):
        Repository(repo).log_result("exp-001", m(57.0), splits={"holdout": {}})
    assert not (repo / f"results/{STUDY}/exp-001.json").exists()
    # Committed by hand, as a pull request can: no look, in the tree or the history.
    add_run(repo, "exp-002", m(58.0), splits={"holdout": {}})
    _run(repo, "exp-003", 59.0)
    commit_all(repo, "an empty split and a look")
    for args in ([], ["--since", base]):
        _, entry, findings = _budget(args, repo)
        assert _counts(entry) == {STUDY: 1}, args
        assert not any(f["rule"] == "holdout-budget-exceeded" for f in findings), args


def test_deleting_a_run_does_not_reset_its_studys_count(tmp_path: Path) -> None:
    repo, base = _base(tmp_path)
    _run(repo, "exp-001", 57.0)
    _run(repo, "exp-002", 58.0)
    commit_all(repo, "two looks")
    for rel in (f"results/{STUDY}/exp-001.json", f"experiments/{STUDY}/exp-001.json"):
        (repo / rel).unlink()
    commit_all(repo, "forget the worse one")
    _, entry, _ = _budget(["--since", base], repo)
    assert _counts(entry) == {STUDY: 2}  # exp-001's record is gone; its study is remembered


def test_a_rename_is_no_new_look_and_a_correction_is_one(tmp_path: Path) -> None:
    repo, base = _base(tmp_path, limit=5)
    _run(repo, "exp-001", 57.0)
    commit_all(repo, "add")
    git(repo, "mv", f"results/{STUDY}", "results/renamed")
    commit_all(repo, "move")
    _, entry, _ = _budget(["--since", base], repo)
    assert _counts(entry) == {STUDY: 1}
    path = repo / "results/renamed/exp-001.json"
    doc = json.loads(path.read_text())
    doc["splits"]["holdout"]["seg_total"] = 55.5
    write_json(repo, "results/renamed/exp-001.json", doc)
    commit_all(repo, "a corrected result")
    _, entry, _ = _budget(["--since", base], repo)
    assert _counts(entry) == {STUDY: 2}


def test_a_merged_branch_is_counted_once(tmp_path: Path) -> None:
    repo, base = _base(tmp_path, limit=5)
    git(repo, "checkout", "-q", "-b", "side")
    _run(repo, "exp-001", 57.0)
    commit_all(repo, "side: one look")
    git(repo, "checkout", "-q", "main")
    _run(repo, "exp-002", 58.0)
    commit_all(repo, "main: one look")
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "side")
    _, entry, _ = _budget(["--since", base], repo)
    assert _counts(entry) == {STUDY: 2}


def test_verify_recomputes_the_count(tmp_path: Path) -> None:
    repo, base = _base(tmp_path, limit=1)
    _run(repo, "exp-001", 57.0)
    _run(repo, "exp-002", 58.0)
    commit_all(repo, "add")
    (repo / f"results/{STUDY}/exp-001.json").unlink()
    commit_all(repo, "delete")
    report = tmp_path / "report.json"
    res = run_cli(["audit", "--since", base, "--out", str(report)], repo)
    assert res.code == 1
    verify = run_cli(["verify", str(report), "--repo", ".", "--allow-unsigned"], repo)
    assert verify.code == 0, verify.both
    assert "VERIFIED" in verify.out
    md = run_cli(["report", str(report), "--format", "md"], repo)
    assert "holdout budget: FAIL" in md.out and f"{STUDY} 2 OVER" in md.out
    html = tmp_path / "card.html"
    run_cli(["report", str(report), "--html", str(html)], repo)
    assert '<h2 id="h-holdout">Holdout budget</h2>' in html.read_text()


def test_a_bad_budget_is_a_configuration_error(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", _policy(-1))
    _run(repo, "exp-001", 57.0)
    commit_all(repo)
    res = run_cli(["audit"], repo)
    assert res.code == 2
    assert "max_evaluations_per_study" in res.err and "Traceback" not in res.err


def test_the_policy_diff_calls_a_raised_budget_looser(tmp_path: Path) -> None:
    repo, base = _base(tmp_path, limit=1)
    write(repo, "expflow.yaml", _policy(9))
    commit_all(repo, "loosen")
    res = run_cli(["audit", "--policy-ref", base], repo)
    assert "LOOSER    /walk_forward/max_evaluations_per_study: 1 → 9" in res.out, res.out


def test_no_budget_no_entry(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", POLICY)
    _run(repo, "exp-001", 57.0)
    commit_all(repo)
    res = run_cli(["audit", "--format", "json"], repo)
    entries = statement_of(res.out.encode())["predicate"]["entries"]
    assert not [e for e in entries if e["type"] == "holdout-budget"]


def test_a_merges_own_new_result_is_a_look(tmp_path: Path) -> None:
    # An "evil merge": the merge commit itself carries a result no parent has.
    repo, base = _base(tmp_path, limit=5)
    git(repo, "checkout", "-q", "-b", "side")
    _run(repo, "exp-001", 57.0)
    commit_all(repo, "side: one look")
    git(repo, "checkout", "-q", "main")
    _run(repo, "exp-002", 58.0)
    commit_all(repo, "main: one look")
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "side")
    _run(repo, "exp-001", 59.5)  # another look, made inside the merge
    commit_all(repo, "merge side")
    _, entry, _ = _budget(["--since", base], repo)
    assert _counts(entry) == {STUDY: 3}


def test_an_invalid_result_still_counts_in_history(tmp_path: Path) -> None:
    # A look that failed validation (an unknown metric) was still a look at the holdout.
    repo, base = _base(tmp_path, limit=5)
    add_run(repo, "exp-001", m(57.0, bogus=1.0), splits={"holdout": {"seg_total": 55.0}})
    commit_all(repo, "a bad result")
    (repo / f"results/{STUDY}/exp-001.json").unlink()
    commit_all(repo, "gone")
    _, entry, _ = _budget(["--since", base], repo)
    assert _counts(entry) == {STUDY: 1}


def test_a_merge_from_before_base_cannot_bring_back_uncounted_looks(tmp_path: Path) -> None:
    """Looks made before BASE and deleted by BASE came back unseen through a merge whose
    first parent is older than BASE (its diff against that parent shows no change):
    the history counted 2 while the audited tree held 4."""
    repo = new_repo(tmp_path / "repo", _policy(2))
    _run(repo, "exp-001", 50.0)
    _run(repo, "exp-002", 51.0)
    old = commit_all(repo, "X: two looks")
    for exp_id in ("exp-001", "exp-002"):
        git(repo, "rm", "-q", f"results/{STUDY}/{exp_id}.json")
        git(repo, "rm", "-q", f"experiments/{STUDY}/{exp_id}.json")
    git(repo, "commit", "-q", "--no-verify", "-m", "base: the old probes removed")
    base = git(repo, "rev-parse", "HEAD")
    _run(repo, "exp-003", 52.0)
    _run(repo, "exp-004", 53.0)
    pr = commit_all(repo, "C1: two looks")
    git(repo, "checkout", "-q", old)
    git(repo, "merge", "-q", "--no-ff", "--no-commit", pr)
    git(repo, "checkout", old, "--", "results", "experiments")  # X's files back, C1's kept
    commit_all(repo, "an evil merge")
    tree_code, tree, _ = _budget([], repo)
    assert tree_code == 1 and _counts(tree) == {STUDY: 4}
    code, entry, findings = _budget(["--since", base], repo)
    assert _counts(entry) == {STUDY: 4}, entry
    assert code == 1 and any(f["rule"] == "holdout-budget-exceeded" for f in findings)


def test_a_look_the_strict_reader_refuses_still_counts(tmp_path: Path) -> None:
    """A result committed with one strict-JSON fault (a digit too many, a BOM, a key
    given twice) counted as no look: its holdout numbers are as readable, so a pull
    request could look as often as it liked, fixing each look's fault in the next
    commit (an attacker's hunt). Such a blob is read leniently and counts; one no JSON
    reader reads counts too."""
    faults = {
        "a digit too many": lambda text: text.replace(": 57.0,", ": 57.00000000000000001,"),
        "a BOM": lambda text: "\ufeff" + text,
        "a key given twice": lambda text: text.replace("{\n", '{\n  "splits": {},\n', 1),
        "no JSON at all": lambda text: text[:-3],
        "a list around it": lambda text: f"[{text}]",  # (the review)
        "over the size cap": lambda text: text + " " * (1 << 20),
    }
    for fault, spoil in faults.items():
        repo, base = _base(tmp_path / fault.replace(" ", "-"), limit=1)
        _run(repo, "exp-001", 57.0)
        result = repo / f"results/{STUDY}/exp-001.json"
        good = result.read_text()
        result.write_text(spoil(good))
        assert result.read_text() != good, fault
        commit_all(repo, f"a look with {fault}")
        result.write_text(good.replace("56.0", "55.5"))  # the next look, valid
        commit_all(repo, "a second look")
        code, entry, findings = _budget(["--since", base], repo)
        assert _counts(entry) == {STUDY: 2}, fault
        assert code == 1 and any(f["rule"] == "holdout-budget-exceeded" for f in findings)


def _the_runs_budget_finding(repo: Path, base: str) -> dict[str, Any]:
    """The tree alone within the runs budget; `audit --since BASE`'s one finding."""
    assert run_cli(["audit", "--no-cache"], repo).code == 0
    res = run_cli(["audit", "--no-cache", "--since", base, "--format", "json"], repo)
    assert res.code == 1, res.err
    entries = statement_of(res.out.encode())["predicate"]["entries"]
    [finding] = [e for e in entries if e["type"] == "finding"]
    assert finding["rule"] == "budget-exceeded"
    return finding


def test_deleted_failed_attempts_still_count_against_the_runs_budget(tmp_path: Path) -> None:
    """`budget.max_runs_per_study` counted the tree's records only: a pull request deleting
    BASE's failed records and adding as many new tries had 5 runs against a budget of 3
    and passed (an attacker's hunt). Under --since, every run BASE or the range had a
    record of counts, as every holdout look does."""
    repo = new_repo(tmp_path / "repo", POLICY + "budget: {max_runs_per_study: 3}\n")
    add_run(repo, "exp-000", m(50.0))
    for exp_id in ("exp-001", "exp-002"):
        add_run(repo, exp_id, status="failed")
    base = commit_all(repo, "base")
    for exp_id in ("exp-001", "exp-002"):
        (repo / f"experiments/{STUDY}/{exp_id}.json").unlink()
    add_run(repo, "exp-003", m(51.0))
    add_run(repo, "exp-004", m(52.0))
    commit_all(repo, "two more tries, the failures gone")
    finding = _the_runs_budget_finding(repo, base)  # the tree alone has 3 runs
    assert finding["path"] == "expflow.yaml"
    assert finding["pointer"] == "/budget/max_runs_per_study"
    assert (
        f"study '{STUDY}' has had 5 runs in its history (2 of them no longer in the tree as "
        "they ran: deleted, moved or rewritten)" in (finding["message"])
    )
    # Over the budget in the tree itself: reported once, by the tree's own check.
    add_run(repo, "exp-005", m(53.0))
    commit_all(repo, "a fourth in the tree")
    res = run_cli(["audit", "--no-cache", "--since", base, "--format", "json"], repo)
    entries = statement_of(res.out.encode())["predicate"]["entries"]
    budget = [e for e in entries if e["type"] == "finding" and e["rule"] == "budget-exceeded"]
    assert [e["message"] for e in budget] == [f"study '{STUDY}' has 4 runs, over the budget of 3"]


def _rewritten_as_a_new_run(repo: Path) -> None:
    add_run(repo, "exp-001", m(51.0), sub_step=2)  # failed, now a success, other params


def _moved_to_another_study(repo: Path) -> None:
    rel = f"experiments/{STUDY}/exp-001.json"
    doc = json.loads((repo / rel).read_text())
    (repo / rel).unlink()
    write_json(repo, "experiments/old/exp-001.json", {**doc, "study": "old"})
    add_run(repo, "exp-003", m(51.0))


@pytest.mark.parametrize("reuse", [_rewritten_as_a_new_run, _moved_to_another_study])
def test_a_failed_attempt_reused_still_counts_against_the_runs_budget(
    tmp_path: Path, reuse: Callable[[Path], None]
) -> None:
    """The runs budget counted ids: a failed record rewritten in place as a new run
    (new params, a result), or moved to another study to make room, bought a third try
    under a budget of two; `protect` and `validate` passed it too (an attacker's hunt,
    issue 18 twenty-second pass). Each attempt counts against the study it had."""
    repo = new_repo(tmp_path / "repo", POLICY + "budget: {max_runs_per_study: 2}\n")
    add_run(repo, "exp-000", m(50.0))
    add_run(repo, "exp-001", status="failed")
    base = commit_all(repo, "base: one success, one failure")
    reuse(repo)
    commit_all(repo, "a third try")
    finding = _the_runs_budget_finding(repo, base)  # the tree alone has 2 runs
    assert f"study '{STUDY}' has had 3 runs in its history (1 of them" in finding["message"]


def test_a_run_that_ran_as_it_is_now_counts_once(tmp_path: Path) -> None:
    """pending, running, then success with its result: one attempt, the tree's. A
    tracker adds params while a run runs (an import updates them): the running record's
    params are not yet the run's (a review: the run counted twice)."""
    repo = new_repo(tmp_path / "repo", POLICY + "budget: {max_runs_per_study: 2}\n")
    add_run(repo, "exp-000", m(50.0))
    add_run(repo, "exp-001", status="running", sub_step=None)
    base = commit_all(repo, "base")
    add_run(repo, "exp-001", m(51.0))  # success, a param more
    commit_all(repo, "it finished")
    res = run_cli(["audit", "--no-cache", "--since", base], repo)
    assert res.code == 0, res.out  # two runs
    add_run(repo, "exp-002", status="pending")
    commit_all(repo, "one more planned")
    add_run(repo, "exp-002", status="pending", sub_step=3)  # still pending: no try
    commit_all(repo, "a typo in the plan")
    res = run_cli(["audit", "--no-cache", "--since", base], repo)
    assert res.code == 1 and "has 3 runs, over the budget of 2" in res.out, res.out
    assert "runs in its history" not in res.out  # only the tree's own count


def test_a_record_only_ever_pending_is_no_attempt(tmp_path: Path) -> None:
    """A pending record renamed for a typo in the range counted as a second run (review):
    only a record that said the run started (or ended) is an attempt."""
    repo = new_repo(tmp_path / "repo", POLICY + "budget: {max_runs_per_study: 2}\n")
    add_run(repo, "exp-000", m(50.0))
    base = commit_all(repo, "base")
    add_run(repo, "exp-0001", status="pending")
    commit_all(repo, "a typo")
    (repo / f"experiments/{STUDY}/exp-0001.json").unlink()
    add_run(repo, "exp-001", m(51.0))
    commit_all(repo, "the run, named right")
    res = run_cli(["audit", "--no-cache", "--since", base], repo)
    assert res.code == 0, res.out


# --- BASE's history counts (issue 18 twenty-third pass) ----------------------------------
# The action audits a pull request from its merge base, whose tree was the only memory of
# what came before: a deletion merged in one pull request lowered the count that judged
# the next (an attacker's hunt).


def test_a_look_deleted_in_a_merged_pull_request_still_counts(tmp_path: Path) -> None:
    repo, _ = _base(tmp_path, limit=2)
    _run(repo, "exp-001", 57.0)
    commit_all(repo, "one look")
    res = run_cli(["rm", "exp-001", "--reason", "bad data", "--force"], repo)
    assert res.code == 0, res.err
    merged = commit_all(repo, "a first pull request: rm exp-001")
    _run(repo, "exp-002", 58.0)
    _run(repo, "exp-003", 59.0)
    commit_all(repo, "the next pull request: two looks")
    code, entry, findings = _budget(["--since", merged], repo)
    assert _counts(entry) == {STUDY: 3}
    assert code == 1 and any(f["rule"] == "holdout-budget-exceeded" for f in findings)


def test_a_link_made_a_file_of_the_same_blob_is_a_look(tmp_path: Path) -> None:
    """A result first committed as a symbolic link (no look), then as a file of the same
    blob: the equal blob ids read as no change, and its deletion left no look."""
    repo, base = _base(tmp_path, limit=5)
    _run(repo, "exp-001", 57.0)
    rel = f"results/{STUDY}/exp-001.json"
    sha = git(repo, "hash-object", "-w", rel)
    git(repo, "add", f"experiments/{STUDY}/exp-001.json")
    git(repo, "update-index", "--add", "--cacheinfo", f"120000,{sha},{rel}")
    git(repo, "commit", "-q", "--no-verify", "-m", "a link")
    git(repo, "update-index", "--cacheinfo", f"100644,{sha},{rel}")
    git(repo, "commit", "-q", "--no-verify", "-m", "a file")
    (repo / rel).unlink()
    commit_all(repo, "gone")
    _, entry, _ = _budget(["--since", base], repo)
    assert _counts(entry) == {STUDY: 1}


def test_a_failed_attempt_deleted_in_a_merged_pull_request_still_counts(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", POLICY + "budget: {max_runs_per_study: 3}\n")
    add_run(repo, "exp-000", m(50.0))
    add_run(repo, "exp-001", status="failed")
    commit_all(repo, "base")
    (repo / f"experiments/{STUDY}/exp-001.json").unlink()
    merged = commit_all(repo, "a first pull request: the failure gone")
    add_run(repo, "exp-002", m(51.0))
    add_run(repo, "exp-003", m(52.0))
    commit_all(repo, "the next pull request: two more tries")
    finding = _the_runs_budget_finding(repo, merged)  # the tree alone has 3 runs
    assert finding["message"].startswith(
        f"study '{STUDY}' has had 4 runs in its history (1 of them no longer in the tree"
    )


def test_files_of_basess_history_count_as_looks_unless_the_globs_leave_them_out(
    tmp_path: Path,
) -> None:
    """BASE's history may be older than the budget: files a team kept under results/
    before it used expflow (a Git LFS pointer, a JSON list, an object carrying the split)
    count as looks of no run, read as the range's are, whatever their form: any rule
    that forgave looks by their age or record was either gamed by a pull request or a
    policy move, or cost a process per look (reviews, issue 18 twenty-eighth pass). A
    team leaves such files out with `paths.results` globs that do not match them."""
    repo = new_repo(tmp_path / "repo", POLICY)
    write(repo, "results/legacy/a.json", "version https://git-lfs.github.com/spec/v1\n")
    write(repo, "results/legacy/b.json", "[1, 2]\n")
    write_json(repo, "results/legacy/c.json", {"splits": {"holdout": {"seg_total": 1}}})
    commit_all(repo, "before expflow")
    for rel in ("a", "b", "c"):
        (repo / f"results/legacy/{rel}.json").unlink()
    write(repo, "expflow.yaml", _policy(1))
    _run(repo, "exp-000", 50.0, holdout=False)
    base = commit_all(repo, "expflow, with a holdout budget")
    _run(repo, "exp-001", 57.0)
    commit_all(repo, "one look")
    code, entry, findings = _budget(["--since", base], repo)
    assert _counts(entry) == {None: 3, STUDY: 1}
    assert code == 1 and [f["rule"] for f in findings] == ["holdout-budget-exceeded"]
    narrowed = _policy(1).replace(
        'results: ["results/**/*.json"]', 'results: ["results/*/exp-*.json"]'
    )
    assert narrowed != _policy(1)
    write(repo, "expflow.yaml", narrowed)
    # (as every policy change: it binds once its base holds it; BASE's globs count too)
    narrowed_base = commit_all(repo, "the results expflow writes, only")
    _run(repo, "exp-002", 58.0, holdout=False)
    commit_all(repo, "the next pull request")
    _, entry, findings = _budget(["--since", narrowed_base], repo)
    assert _counts(entry) == {STUDY: 1} and not findings, findings


def test_a_shallow_clone_cutting_bases_history_is_refused(tmp_path: Path) -> None:
    repo, _ = _base(tmp_path, limit=2)
    _run(repo, "exp-001", 57.0)
    commit_all(repo, "one look")
    (repo / f"results/{STUDY}/exp-001.json").unlink()
    commit_all(repo, "gone")
    _run(repo, "exp-002", 58.0)
    base = commit_all(repo, "another")
    _run(repo, "exp-003", 59.0)
    commit_all(repo, "the pull request")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "3", f"file://{repo}", str(clone))
    res = run_cli(["audit", "--since", base], clone)
    assert res.code == 2, res
    assert "the budgets count its whole history, which this shallow clone cuts at" in res.err
    assert "fetch-depth: 0" in res.err
    assert run_cli(["audit", "--since", base], repo).code == 1  # 3 looks over 2, in full


def test_a_look_a_merged_pull_request_counted_leniently_keeps_counting(tmp_path: Path) -> None:
    """A result committed with a BOM (or a key given twice) counted in its pull request's
    audit, read leniently; once merged, the next pull request's audit read BASE's history
    strictly and dropped it (a second review)."""
    repo, _ = _base(tmp_path, limit=2)
    _run(repo, "exp-001", 57.0)
    rel = repo / f"results/{STUDY}/exp-001.json"
    rel.write_bytes(b"\xef\xbb\xbf" + rel.read_bytes())
    commit_all(repo, "a look, with a BOM")
    _run(repo, "exp-001", 57.0)  # rewritten plain
    merged = commit_all(repo, "the first pull request, merged")
    _run(repo, "exp-002", 58.0)
    commit_all(repo, "the next pull request")
    code, entry, findings = _budget(["--since", merged], repo)
    assert _counts(entry) == {STUDY: 3}
    assert code == 1 and any(f["rule"] == "holdout-budget-exceeded" for f in findings)
