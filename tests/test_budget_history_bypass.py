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
    git,
    m,
    new_repo,
    result,
    run_cli,
    statement_of,
    write,
)
from support import git_calls, git_counter


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


def _holdout_at(repo: Path, args: list[str]) -> tuple[int, dict[str | None, int]]:
    res = run_cli(["audit", "--no-cache", "--format", "json", *args], repo)
    assert res.code in (0, 1), res.err
    entries = statement_of(res.out.encode())["predicate"]["entries"]
    [entry] = [e for e in entries if e["type"] == "holdout-budget"]
    return res.code, {s["study"]: s["evaluations"] for s in entry["studies"]}


def test_moving_the_policy_file_forgives_no_look_of_base_history(tmp_path: Path) -> None:
    """A look of no run made before the commit that turned the budget on (as the judging
    policy's path showed it) was none: moving the policy file made the move that commit,
    so a merged pull request's look of no run was forgotten from any later BASE."""
    policy = POLICY + (
        "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
        "               max_evaluations: 3}\n"
    )
    repo = new_repo(tmp_path / "repo", policy)
    for i, seg in enumerate((50.0, 51.0)):
        add_run(repo, f"exp-00{i}", m(seg), splits={"holdout": {"seg_total": seg - 1}})
    base = commit_all(repo, "base: two looks")
    rel = f"results/{STUDY}/ghost.json"
    write(repo, rel, json.dumps(result("ghost", m(60.0), {"holdout": {"seg_total": 59.0}})))
    commit_all(repo, "a look of no run")
    (repo / rel).unlink()
    merged = commit_all(repo, "the look gone: the pull request, merged")
    git(repo, "mv", "expflow.yaml", "expflow-policy.yaml")
    moved = commit_all(repo, "the policy moved")
    add_run(repo, "exp-002", m(52.0), splits={"holdout": {"seg_total": 51.0}})
    commit_all(repo, "the next pull request: one more look")
    judged = ["--policy-ref", moved, "--policy", "expflow-policy.yaml"]
    seen = {since: _holdout_at(repo, ["--since", since, *judged]) for since in (base, merged)}
    assert seen[base] == (1, {None: 1, STUDY: 3}), seen
    assert seen[merged] == seen[base], seen


def _legacy_repo(path: Path, legacy: int, toggles: int) -> Path:
    """The policy with no budget, then `legacy` commits each adding a file under results/
    that carries the split (no record names it), all deleted, then the budget turned on
    `toggles` times (off between), then one run with a holdout look."""
    on = POLICY + (
        "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
        "               max_evaluations_per_study: 5}\n"
    )
    stream = []

    def commit(n: int, op: str, rel: str = "", text: str = "") -> None:
        data = f"M 100644 inline {rel}\ndata {len(text.encode())}\n{text}\n" if rel else op
        stream.append(
            f"commit refs/heads/main\ncommitter T <t@example.com> {1700000000 + n} +0000\n"
            f"data 1\nc\n{data}"
        )

    commit(0, "", "expflow.yaml", POLICY)
    for i in range(legacy):
        doc = json.dumps({"legacy": i, "splits": {"holdout": {"seg_total": i}}})
        commit(1 + i, "", f"results/legacy/L{i}.json", doc)
    commit(legacy + 1, "D results/legacy\n")
    for k in range(toggles):
        commit(legacy + 2 + 2 * k, "", "expflow.yaml", on)
        if k < toggles - 1:
            commit(legacy + 3 + 2 * k, "", "expflow.yaml", POLICY)
    repo = new_repo(path, POLICY)
    git(repo, "fast-import", "--quiet", input="".join(stream).encode())
    git(repo, "reset", "-q", "--hard")
    add_run(repo, "exp-000", m(50.0), splits={"holdout": {"seg_total": 49.0}})
    commit_all(repo, "a run")
    return repo


def test_the_git_processes_of_a_history_audit_do_not_grow_with_old_looks(
    tmp_path: Path,
) -> None:
    """An exemption for looks older than the budget started one `git merge-base
    --is-ancestor` per (commit with a look of no run) x (commit turning the budget on):
    2,000 old commits and a budget toggled five times were 10,001 processes."""
    env, log = git_counter(tmp_path)

    def calls(legacy: int) -> int:
        repo = _legacy_repo(tmp_path / f"repo-{legacy}", legacy, toggles=3)
        log.unlink(missing_ok=True)
        res = run_cli(["audit", "--no-cache", "--since", "HEAD~1"], repo, env=env)
        assert res.code in (0, 1), res
        return len(git_calls(log))

    few, many = calls(2), calls(12)
    assert few == many, (few, many)


def test_a_result_the_lenient_reader_reads_makes_an_attempt(tmp_path: Path) -> None:
    """Only a valid result document made a run with a pending record an attempt: one
    wrapped in a list, with a BOM or a key given twice (each still a holdout look) was
    none, so committing and deleting such a run bought a new try once merged."""
    policy = POLICY + "budget: {max_runs: 2, max_runs_per_study: 2}\n"
    for kind in ("list", "bom", "dupkey"):
        repo = new_repo(tmp_path / kind, policy)
        add_run(repo, "exp-000", m(50.0))
        add_run(repo, "exp-001", m(51.0))
        base = commit_all(repo, "base: two runs")
        add_run(repo, "exp-002", m(60.0), status="pending")
        rel = f"results/{STUDY}/exp-002.json"
        doc = result("exp-002", m(60.0))
        text = json.dumps(doc)
        write(
            repo,
            rel,
            {
                "list": json.dumps([doc]),
                "bom": "\ufeff" + text,
                "dupkey": text[:-1] + ', "experiment": "exp-002"}',
            }[kind],
        )
        commit_all(repo, f"a run finished, its result {kind}")
        (repo / f"experiments/{STUDY}/exp-002.json").unlink()
        (repo / rel).unlink()
        merged = commit_all(repo, "the run gone: the pull request, merged")
        for since in (base, merged):
            found = _budget_findings(repo, since)
            assert [p for p, _ in found] == [
                "/budget/max_runs",
                "/budget/max_runs_per_study",
            ], (kind, since, found)
            assert "all studies have had 3 runs in their history (1 of them" in found[0][1]


def test_runs_with_no_record_count_only_in_all_studies(tmp_path: Path) -> None:
    """Results of runs no record names were charged to `max_runs_per_study` under no
    study ("runs without a record has had 2 runs ..."), where only `budget.max_runs`
    counts them (docs/spec.md §3)."""
    repo = new_repo(tmp_path / "repo", POLICY + "budget: {max_runs: 2, max_runs_per_study: 1}\n")
    add_run(repo, "exp-000", m(50.0))
    base = commit_all(repo, "base: one run")
    for ghost in ("g1", "g2"):
        write(repo, f"results/{STUDY}/{ghost}.json", json.dumps(result(ghost, m(60.0))))
    commit_all(repo, "two results, no record")
    for ghost in ("g1", "g2"):
        (repo / f"results/{STUDY}/{ghost}.json").unlink()
    commit_all(repo, "gone")
    found = _budget_findings(repo, base)
    assert [p for p, _ in found] == ["/budget/max_runs"], found
    assert "all studies have had 3 runs in their history (2 of them" in found[0][1], found


def test_a_result_whatever_it_holds_makes_an_attempt(tmp_path: Path) -> None:
    """A result whose `experiment` was a number, missing or empty, nested in a list twice,
    truncated, or padded past the 1 MiB cap was still a holdout look but no attempt, so a
    finished run escaped `budget.max_runs` once merged (a review, issue 18 twenty-eighth
    pass). Any blob committed at a result path makes its run (by the path's stem) one."""
    policy = POLICY + "budget: {max_runs: 2}\n"
    doc = result("exp-002", m(60.0))
    text = json.dumps(doc)
    forms = {
        "number": json.dumps({**doc, "experiment": 2}),
        "missing": json.dumps({k: v for k, v in doc.items() if k != "experiment"}),
        "empty": json.dumps({**doc, "experiment": ""}),
        "nested": json.dumps([[doc]]),
        "truncated": text[: len(text) // 2],
        "over-cap": text + " " * (1 << 20),
    }
    for kind, content in forms.items():
        repo = new_repo(tmp_path / kind, policy)
        add_run(repo, "exp-000", m(50.0))
        add_run(repo, "exp-001", m(51.0))
        base = commit_all(repo, "base: two runs")
        rel = f"results/{STUDY}/exp-002.json"
        write(repo, rel, content)
        commit_all(repo, f"a run finished, no record, its result {kind}")
        (repo / rel).unlink()
        merged = commit_all(repo, "the run gone: the pull request, merged")
        for since in (base, merged):
            found = _budget_findings(repo, since)
            assert [p for p, _ in found] == ["/budget/max_runs"], (kind, since, found)
            assert "all studies have had 3 runs in their history (1 of them" in found[0][1]


def test_a_result_renamed_and_back_is_one_run_and_one_look(tmp_path: Path) -> None:
    """A result renamed for a typo (`exp-002.json` → `exp-02.json`) and back, one commit
    each, was a second run and a second holdout look under the typo's id, so a genuine
    team went over its budget (a review): a blob a commit deletes at one path and adds at
    another is moved, whatever the ids."""
    policy = (
        POLICY
        + "budget: {max_runs: 3}\n"
        + (
            "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
            "               max_evaluations: 3}\n"
        )
    )
    repo = new_repo(tmp_path / "repo", policy)
    holdout = {"holdout": {"seg_total": 49.0}}
    add_run(repo, "exp-001", m(50.0), splits=holdout)
    base = commit_all(repo, "base: one run")
    add_run(repo, "exp-002", m(60.0), splits=holdout)
    commit_all(repo, "a second run")
    typo = repo / f"results/{STUDY}/exp-02.json"
    (repo / f"results/{STUDY}/exp-002.json").rename(typo)
    commit_all(repo, "renamed, a typo")
    typo.rename(repo / f"results/{STUDY}/exp-002.json")
    commit_all(repo, "the name put right")
    code, counts, rules = _holdout(repo, base)
    assert counts == {STUDY: 2} and rules == [], (counts, rules)
    assert _budget_findings(repo, base) == []


def test_a_result_renamed_once_for_a_typo_is_one_run_and_one_look_from_any_base(
    tmp_path: Path,
) -> None:
    """A result saved by mistake as `exp-02.json` and moved to `exp-002.json` counted a
    run and a look under each name: the move was skipped, but the tree's floor found the
    blob again at its new path, and the first add made `exp-02` a run with no record (a
    review, issue 18 twenty-eighth pass). One blob is one look and one run, from every
    BASE."""
    policy = (
        POLICY
        + "budget: {max_runs: 2}\n"
        + (
            "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
            "               max_evaluations: 2}\n"
        )
    )
    repo = new_repo(tmp_path / "repo", policy)
    holdout = {"holdout": {"seg_total": 49.0}}
    add_run(repo, "exp-001", m(50.0), splits=holdout)
    bases = [commit_all(repo, "base: one run")]
    add_run(repo, "exp-002", m(60.0), splits=holdout)
    typo = repo / f"results/{STUDY}/exp-02.json"
    (repo / f"results/{STUDY}/exp-002.json").rename(typo)
    bases.append(commit_all(repo, "a second run, its result under a typo"))
    typo.rename(repo / f"results/{STUDY}/exp-002.json")
    bases.append(commit_all(repo, "the name put right"))
    write(repo, "notes.txt", "unrelated\n")
    bases.append(commit_all(repo, "something else"))
    for base in bases:
        _, counts, rules = _holdout(repo, base)
        assert counts == {STUDY: 2} and rules == [], (base, counts, rules)
        assert _budget_findings(repo, base) == [], base
