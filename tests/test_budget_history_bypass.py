"""The budgets over history (docs/spec.md §3, §6.2 item 6) count the same from any BASE:
what a merged pull request counted is counted by every later audit (an attacker's
hunt, issue 18 twenty-eighth pass)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers_audit import (
    POLICY,
    STUDY,
    add_run,
    commit_all,
    m,
    new_repo,
    result,
    run_cli,
    statement_of,
    write,
)


def _audit(repo: Path, since: str) -> tuple[int, list[dict[str, Any]]]:
    res = run_cli(["audit", "--no-cache", "--format", "json", "--since", since], repo)
    assert res.code in (0, 1), res.err
    return res.code, statement_of(res.out.encode())["predicate"]["entries"]


def _holdout(repo: Path, since: str) -> tuple[int, dict[str | None, int], list[str]]:
    """The audit's exit code, the holdout counts per study and its budget findings (a
    deletion without a correction is also `result-rewritten`, in the range that holds it)."""
    code, entries = _audit(repo, since)
    [entry] = [e for e in entries if e["type"] == "holdout-budget"]
    counts = {s["study"]: s["evaluations"] for s in entry["studies"]}
    rules = [e["rule"] for e in entries if e["type"] == "finding" and "budget" in e["rule"]]
    return code, counts, rules


def test_a_look_of_no_run_a_merged_pull_request_counted_keeps_counting(tmp_path: Path) -> None:
    """A pull request committed a result carrying the holdout split for a run with no
    record, then deleted it: its own audit counted a look of no run; once merged, every
    later audit dropped it (BASE's history kept a look of no run only when some record
    named it), so each pull request bought one more look."""
    policy = POLICY + (
        "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
        "               max_evaluations: 4}\n"
    )
    repo = new_repo(tmp_path / "repo", policy)
    for i, seg in enumerate((50.0, 51.0)):
        add_run(repo, f"exp-00{i}", m(seg), splits={"holdout": {"seg_total": seg - 1}})
    base = commit_all(repo, "base: two looks")
    merged = []
    for ghost, wrap in (("ghost-1", False), ("ghost-2", True)):
        doc: Any = result(ghost, m(60.0), {"holdout": {"seg_total": 59.0}})
        rel = f"results/{STUDY}/{ghost}.json"
        # (the second as a JSON list: no result document, a look all the same)
        write(repo, rel, json.dumps([doc] if wrap else doc) + "\n")
        commit_all(repo, f"a look at the holdout, {ghost} without a record")
        (repo / rel).unlink()
        merged.append(commit_all(repo, f"{ghost} gone: the pull request, merged"))
    add_run(repo, "exp-002", m(52.0), splits={"holdout": {"seg_total": 51.0}})
    commit_all(repo, "the next pull request: one more look")
    seen = {since: _holdout(repo, since) for since in (base, *merged)}
    assert seen[base] == (1, {None: 2, STUDY: 3}, ["holdout-budget-exceeded"]), seen[base]
    assert all(got == seen[base] for got in seen.values()), seen


def _budget_findings(repo: Path, since: str) -> list[tuple[str, str]]:
    _, entries = _audit(repo, since)
    return sorted(
        (e["pointer"], e["message"])
        for e in entries
        if e["type"] == "finding" and e["rule"] == "budget-exceeded"
    )


def test_a_finished_run_whose_record_never_ended_is_an_attempt(tmp_path: Path) -> None:
    """A run whose result was committed finished, whatever its record said: deleting it
    with a record only ever pending (or invalid, or none) bought a new try, as deleting
    the same run recorded `success` did not."""
    policy = POLICY + "budget: {max_runs: 3, max_runs_per_study: 3}\n"
    for record in ("pending", "invalid", "none"):
        repo = new_repo(tmp_path / record, policy)
        add_run(repo, "exp-000", m(50.0))
        add_run(repo, "exp-001", m(51.0))
        base = commit_all(repo, "base: two runs")
        add_run(repo, "exp-002", m(60.0), status="pending")
        rec = repo / f"experiments/{STUDY}/exp-002.json"
        if record == "invalid":
            rec.write_text(rec.read_text().replace('"status"', '"state"'))
        elif record == "none":
            rec.unlink()
        commit_all(repo, "a run finished, its record never said so")
        rec.unlink(missing_ok=True)
        (repo / f"results/{STUDY}/exp-002.json").unlink()
        commit_all(repo, "the run gone")
        add_run(repo, "exp-003", m(52.0))
        commit_all(repo, "a new try")
        found = _budget_findings(repo, base)
        pointers = [p for p, _ in found]
        if record != "pending":  # no valid record, no study: only the total binds it
            assert pointers == ["/budget/max_runs"], (record, found)
        else:
            assert pointers == ["/budget/max_runs", "/budget/max_runs_per_study"], (record, found)
        assert "all studies have had 4 runs in their history (1 of them" in found[0][1]
