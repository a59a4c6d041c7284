"""What every renderer shows, built once from a report's predicate or from a live leaderboard."""

from __future__ import annotations

import operator
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, overload

from expflow_git import __version__
from expflow_git.audit.attempts import StudyAttempts
from expflow_git.audit.params import TopParams
from expflow_git.audit.pipeline import Audit, commit_time_utc
from expflow_git.audit.ranking import Leaderboard, RankedRun
from expflow_git.checks import CheckKind, Outcome
from expflow_git.corrections import Correction
from expflow_git.errors import ExpflowError, Finding, path_from_text
from expflow_git.policy.diff import PolicyProposal
from expflow_git.policy.model import Gate, Severity, parse_gate
from expflow_git.policy.model import fmt_number as model_fmt_number
from expflow_git.series import RunSeries

MAX_METRIC_COLUMNS = 6
WARNING_MARK = "warning:"  # how every output marks a failed advisory check


@dataclass(frozen=True)
class Row:
    rank: int | None
    id: str
    study: str
    path: str
    feasible: bool
    metrics: Mapping[str, float]
    failed: tuple[str, ...]  # "name (detail)" of each failed check that blocks the run
    warnings: tuple[str, ...] = ()  # "name (detail)" of each failed advisory check

    @property
    def checks_note(self) -> str:
        """The failed checks as one cell: the blocking ones, then each warning marked."""
        return "; ".join((*self.failed, *(f"{WARNING_MARK} {w}" for w in self.warnings)))


# A finding as a report shows it is the finding itself.
FindingLine = Finding


@dataclass(frozen=True)
class View:
    """A report as people read it."""

    commit: str
    tree: str
    policy_path: str
    created_at: str
    verdict: str  # "pass" / "fail"
    # Who signed, as verified against keys the verifier trusts (a principal and its
    # fingerprint, or a fingerprint); never a keyid the report merely claims.
    signed_by: tuple[str, ...]
    sort_by: str
    descending: bool
    metric_columns: tuple[str, ...]
    rows: Sequence[Row]
    findings: tuple[FindingLine, ...]
    best_any: str | None
    best_feasible: str | None
    walk: Mapping[str, Any] | None
    focus: str | None = None
    since: str | None = None  # the base the history was checked from (--since)
    inputs: int = 0
    # Every registry threshold and gate the runs were checked against (`source` is the
    # check's kind: threshold or gate).
    thresholds: tuple[Gate, ...] = ()
    tool_version: str = ""
    policy_blob: str = ""
    corrections: tuple[Correction, ...] = ()  # declared corrections in the tree (issue 13)
    policy_ref: str | None = None  # the commit the policy was read at (--policy-ref)
    proposal: PolicyProposal | None = None  # the audited commit's own policy, under --policy-ref
    # Signed, but no signature was checked against a trusted key: who signed is unknown.
    signature_unverified: bool = False
    # The Ladder (ranking.ladder_step): its best run, {"step", "score"}, and the runs that
    # moved it, in submission order. None / () without a ladder.
    best_ladder: str | None = None
    ladder: Mapping[str, Any] | None = None
    ladder_moves: tuple[str, ...] = ()
    holdout: Mapping[str, Any] | None = None  # the holdout-budget entry (audit/budget.py)
    # The top runs' series (audit/curves.py): drawn by `audit --html` only, as a report
    # holds no series (docs/decisions.md, issue 19).
    curves: tuple[RunSeries, ...] = ()
    # Every record per study and status, with the runs left off the board (issue 16).
    attempts: tuple[StudyAttempts, ...] = ()
    top_params: TopParams | None = None  # the params that differ between the top runs

    @property
    def signed(self) -> bool:
        return bool(self.signed_by)

    @property
    def scope(self) -> str:
        """What the verdict covers (report.statement.scope_note)."""
        from expflow_git.report.statement import scope_note

        return scope_note(self.focus, self.since)

    def thresholds_on(self, metric: str) -> tuple[Gate, ...]:
        return tuple(t for t in self.thresholds if t.metric == metric)


def _failed(checks: Sequence[Mapping[str, Any]], *, warning: bool = False) -> tuple[str, ...]:
    """The failed checks of a run entry: the blocking ones, or (`warning`) the advisory ones."""
    return tuple(
        f"{c['name']} ({c['detail']})" if c["detail"] else c["name"]
        for c in checks
        if not c["passed"] and (c.get("severity") == "warning") == warning
    )


def _threshold(kind: str, name: str, warning: bool) -> Gate | None:
    """A threshold or gate check's name (`metric:op:value`) read back by the policy's gate
    parser, with its check's severity (`warning`: an advisory gate, which the chart draws
    as one no run fails); None for a name that is not one (a report is data, not
    configuration)."""
    if kind not in _GATE_KINDS:
        return None
    try:
        gate = parse_gate(name, None, source=kind)
    except ExpflowError:
        return None
    return replace(gate, severity=Severity.WARNING) if warning else gate


_GATE_KINDS = (CheckKind.THRESHOLD.value, CheckKind.GATE.value)


def thresholds_from_entries(entries: Sequence[Mapping[str, Any]]) -> tuple[Gate, ...]:
    """The distinct threshold and gate checks of the run entries, in first-seen order."""
    names = dict.fromkeys(
        (c["kind"], c["name"], c.get("severity") == Severity.WARNING.value)
        for e in entries
        if e["type"] == "run"
        for c in e["checks"]
        if c["kind"] in (CheckKind.THRESHOLD.value, CheckKind.GATE.value)
    )
    return tuple(t for kind, name, w in names if (t := _threshold(kind, name, w)) is not None)


def metric_columns(
    sort_by: str, tie_break: Sequence[str], metrics: Iterable[Iterable[str]]
) -> tuple[str, ...]:
    """The sort metric and tie-breaks first, then other metrics seen (the names in the
    runs' `metrics`), up to a readable width."""
    cols = list(dict.fromkeys([sort_by, *tie_break]))
    seen = sorted(set().union(*metrics) - set(cols))
    return tuple((cols + seen)[:MAX_METRIC_COLUMNS])


def view_from_statement(
    statement: Mapping[str, Any], signed_by: Sequence[str], *, unverified: bool = False
) -> View:
    """The view of a saved (already parsed) report; `signed_by` are verified signers only,
    `unverified` says the report carries signatures nobody checked."""
    p = statement["predicate"]
    entries = p["entries"]
    rows = tuple(
        Row(
            e["rank"],
            e["id"],
            e["study"],
            path_from_text(e["path"]),
            e["feasible"],
            e["metrics"],
            _failed(e["checks"]),
            _failed(e["checks"], warning=True),
        )
        for e in entries
        if e["type"] == "run"
    )
    findings = tuple(
        FindingLine(
            path_from_text(e["path"]),
            e["rule"],
            e["message"],
            e.get("pointer", ""),
            e.get("line"),
            e.get("col"),
        )
        for e in entries
        if e["type"] == "finding"
    )
    walks = [e for e in entries if e["type"] == "walk-forward"]
    budgets = [e for e in entries if e["type"] == "holdout-budget"]
    tops = [TopParams.from_entry(e) for e in entries if e["type"] == "params"]
    ranking = p["policy"]["ranking"]
    result = p["result"]
    moved = sorted(
        (e["ladder"]["order"], e["id"])
        for e in entries
        if e["type"] == "run" and e.get("ladder", {}).get("moved")
    )
    return View(
        commit=p["repo"]["commit"],
        tree=p["repo"]["tree"],
        policy_path=path_from_text(p["policy"]["path"]),
        created_at=p["createdAt"],
        verdict=result["verdict"],
        signed_by=tuple(signed_by),
        signature_unverified=unverified and not signed_by,
        sort_by=ranking["sortBy"],
        descending=ranking["descending"],
        metric_columns=metric_columns(
            ranking["sortBy"], [t["metric"] for t in ranking["tieBreak"]], [r.metrics for r in rows]
        ),
        rows=rows,
        findings=findings,
        best_any=result["best_any"],
        best_feasible=result["best_feasible"],
        walk=walks[0] if walks else None,
        focus=result.get("focus"),
        since=p["repo"].get("since"),
        inputs=p["inputs"]["count"],
        thresholds=thresholds_from_entries(entries),
        tool_version=p["tool"]["version"],
        policy_blob=p["policy"]["gitBlob"],
        corrections=tuple(Correction.from_entry(e) for e in entries if e["type"] == "correction"),
        policy_ref=p["policy"].get("ref"),
        proposal=PolicyProposal.from_json(p["policy"]["proposed"])
        if "proposed" in p["policy"]
        else None,
        best_ladder=result.get("best_ladder"),
        ladder=result.get("ladder"),
        ladder_moves=tuple(run_id for _, run_id in moved),
        holdout=budgets[0] if budgets else None,
        attempts=tuple(StudyAttempts.from_entry(e) for e in entries if e["type"] == "attempts"),
        top_params=tops[0] if tops else None,
    )


def _row(ranked: RankedRun) -> Row:
    v = ranked.verdict
    failed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    if not all(o.passed for o in v.outcomes):
        shown = [(o, f"{o.name} ({o.detail})" if o.detail else o.name) for o in v.outcomes]
        failed = tuple(text for o, text in shown if o.blocks)
        warnings = tuple(text for o, text in shown if not o.passed and not o.blocks)
    return Row(ranked.rank, v.id, v.study, v.path, v.feasible, v.metrics, failed, warnings)


def rows_from_board(board: Leaderboard) -> tuple[Row, ...]:
    return tuple(map(_row, board.runs))


_PASSED = operator.attrgetter("passed")


class BoardRows(Sequence[Row]):
    """A leaderboard's rows, each made when it is read: the view of a 100k-run audit need
    not hold 100k rows while the report is built (the text shows the first 200)."""

    __slots__ = ("_runs", "_warned")

    def __init__(self, runs: Sequence[RankedRun], warned: int | None = None) -> None:
        """`warned`: how many of the runs have warnings, where the caller counted them."""
        self._runs = runs
        self._warned = warned

    def __len__(self) -> int:
        return len(self._runs)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | Sequence[Row]:
        if isinstance(index, slice):
            return tuple(map(_row, self._runs[index]))
        return _row(self._runs[index])

    def __iter__(self) -> Iterator[Row]:
        return map(_row, self._runs)

    def warned(self) -> int:
        """How many rows have warnings, without making the rows."""
        if self._warned is None:
            self._warned = sum(
                1
                for r in self._runs
                if not all(map(_PASSED, r.verdict.outcomes)) and r.verdict.warned
            )
        return self._warned


def warned_rows(rows: Sequence[Row]) -> int:
    """How many rows have warnings (a leaderboard's without making its rows)."""
    if isinstance(rows, BoardRows):
        return rows.warned()
    return sum(1 for r in rows if r.warnings)


# Below the smallest normal double a value holds fewer than six significant digits, and
# six of them would show digits of its binary form (1e-320 as 9.99989e-321).
SUBNORMAL = sys.float_info.min


def fmt_number(value: float | None, digits: int = 6) -> str:
    """A value for people to read: `digits` significant digits, whole numbers below
    10**15 in full; `-` for none (render.table.distinct_numbers adds digits where a
    column needs them)."""
    if value is None:
        return "-"
    if type(value) is float and not value.is_integer():  # most values: one test
        if -SUBNORMAL < value < SUBNORMAL:  # fewer digits than six: theirs, as written
            return repr(value)
        return f"{value:.{digits}g}"
    if abs(value) < 1e15 and (isinstance(value, int) or value.is_integer()):
        return str(int(value))
    if type(value) is int:  # exact up to 20 digits, then abbreviated (10**400: no double)
        return model_fmt_number(value)
    return f"{value:.{digits}g}"


def view_from_audit(audit: Audit, result: Mapping[str, Any], signed_by: Sequence[str]) -> View:
    """The view of a report while it is being made: from the audit itself, so a large
    report need not be parsed back. Shows what `view_from_statement` shows of it."""
    from expflow_git.report.statement import budget_entry, walk_entry

    check = audit.check
    runs = audit.board.runs
    ranking = check.policy.ranking
    kinds = (CheckKind.THRESHOLD, CheckKind.GATE)
    # Most runs share one tuple of passed outcomes (checks.run_verdict): each tuple once,
    # with how many runs hold it. One pass over the runs, in rank order, for all the view
    # asks of them (each pass in rank order misses the cache: the verdicts were made in
    # another order).
    distinct: dict[int, tuple[Outcome, ...]] = {}
    held: dict[int, int] = {}
    metrics: set[str] = set()
    for ranked in runs:
        verdict = ranked.verdict
        outcomes = verdict.outcomes
        key = id(outcomes)
        if key in held:
            held[key] += 1
        else:
            distinct[key], held[key] = outcomes, 1
        metrics.update(verdict.metrics)
    names = dict.fromkeys(
        (o.kind, o.name, o.severity is Severity.WARNING)
        for outcomes in distinct.values()
        for o in outcomes
        if o.kind in kinds
    )
    warned = sum(
        held[key]
        for key, outcomes in distinct.items()
        if any(not o.passed and not o.blocks for o in outcomes)
    )
    return View(
        commit=check.commit.sha,
        tree=check.commit.tree,
        policy_path=check.policy.path,
        created_at=commit_time_utc(check.commit),
        verdict=result["verdict"],
        signed_by=tuple(signed_by),
        sort_by=ranking.sort_by,
        descending=ranking.descending,
        metric_columns=metric_columns(ranking.sort_by, ranking.tie_break, [metrics]),
        rows=BoardRows(runs, warned),
        findings=audit.findings,
        best_any=result["best_any"],
        best_feasible=result["best_feasible"],
        walk=walk_entry(audit),
        focus=result.get("focus"),
        since=audit.since,
        inputs=len(check.inputs),
        thresholds=tuple(
            t for kind, name, w in names if (t := _threshold(kind.value, name, w)) is not None
        ),
        tool_version=__version__,
        policy_blob=check.policy_blob,
        corrections=check.corrections,
        policy_ref=check.policy_ref,
        proposal=check.proposal,
        best_ladder=result.get("best_ladder"),
        ladder=result.get("ladder"),
        ladder_moves=ladder_moves(audit),
        holdout=budget_entry(audit),
        attempts=audit.attempts,
        top_params=audit.top_params,
    )


def ladder_moves(audit: Audit) -> tuple[str, ...]:
    """The runs that moved the audit's ladder, in submission order."""
    if audit.ladder is None:
        return ()
    rungs = audit.ladder.rungs
    return tuple(sorted((i for i in rungs if rungs[i].moved), key=lambda i: rungs[i].order))
