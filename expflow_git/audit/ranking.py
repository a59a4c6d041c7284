"""Feasible-first ranking, best_any / best_feasible, the walk-forward gate (docs/spec.md §6.2)."""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from expflow_git.checks import RunVerdict
from expflow_git.documents import exact, run_value
from expflow_git.policy.model import Metric, Ranking, WalkForward


@run_value
class RankedRun:
    verdict: RunVerdict
    rank: int | None  # None: infeasible, or missing the sort metric


@dataclass(frozen=True, slots=True)
class Leaderboard:
    sort_by: str
    descending: bool
    runs: tuple[RankedRun, ...]
    best_any: str | None
    best_feasible: str | None


SortKeys = Sequence[tuple[str, bool]]  # (metric, descending): the sort metric, then tie-breaks


def sort_keys(ranking: Ranking, metrics: Mapping[str, Metric]) -> list[tuple[str, bool]]:
    """The sort metric in the ranking's direction, then each tie-break in its registry direction."""
    return [(ranking.sort_by, ranking.descending)] + [
        (name, metrics[name].higher_is_better) for name in ranking.tie_break
    ]


def order_key(
    metrics: Mapping[str, float], run_id: str, feasible: bool, keys: SortKeys
) -> tuple[object, ...]:
    """Where a run stands: ranked feasible runs, then feasible runs missing the sort metric,
    then infeasible runs; within each, metric by metric (missing last either way), then id.

    One flat tuple (group, then a missing flag and a value per metric, then the id):
    100k of them are compared while sorting.
    """
    parts: list[object] = [group_of(feasible, keys[0][0] in metrics)]
    for name, descending in keys:
        value = metrics.get(name)
        parts += _MISSING if value is None else (0, -value if descending else value)
    parts.append(run_id)
    return tuple(parts)


_MISSING = (1, 0.0)


def rank(verdicts: Sequence[RunVerdict], keys: SortKeys) -> Leaderboard:
    """Feasible runs with the sort metric ranked 1..k, then the rest in the same order, unranked."""
    # The verdicts sorted by their keys, not (key, verdict) pairs: the keys are let go
    # once sorted (at a million runs the pairs were ~60 MB of the audit's peak).
    ordered = sorted(verdicts, key=lambda v: order_key(v.metrics, v.id, v.feasible, keys))
    sort_metric, descending = keys[0]

    def group(v: RunVerdict) -> int:
        return group_of(v.feasible, sort_metric in v.metrics)

    # In order, the ranked runs (group 0) first; then group 1 (feasible, no sort metric)
    # and group 2 (infeasible), each with the runs that have the sort metric first.
    ranked = bisect.bisect_left(ordered, 1, key=group)
    infeasible = bisect.bisect_left(ordered, 2, lo=ranked, key=group)
    runs = [RankedRun(v, n) for n, v in enumerate(ordered[:ranked], 1)]
    runs += [RankedRun(v, None) for v in ordered[ranked:]]
    # best_any: the same order without the feasibility group (what `best_any` computes):
    # the first ranked run, or the first infeasible one if it has the metric and sorts
    # before it (keys compared from their missing flag of the sort metric on).
    firsts = ordered[:1] if ranked else []
    if infeasible < len(ordered) and ordered[infeasible].metrics.get(sort_metric) is not None:
        firsts.append(ordered[infeasible])
    tops = [order_key(v.metrics, v.id, v.feasible, keys)[1:] for v in firsts]
    top = min(tops, default=None)
    return Leaderboard(
        sort_by=sort_metric,
        descending=descending,
        runs=tuple(runs),
        best_any=None if top is None else str(top[-1]),
        best_feasible=runs[0].verdict.id if ranked else None,
    )


def group_of(feasible: bool, has_sort_metric: bool) -> int:
    """A run's group in `order_key`: 0 ranked, 1 feasible without the sort metric, 2
    infeasible."""
    return 0 if feasible and has_sort_metric else (1 if feasible else 2)


def best_any(runs: Sequence[tuple[str, Mapping[str, float]]], keys: SortKeys) -> str | None:
    """The top run by the sort metric, ignoring gates and rules (None if no run has it)."""
    having = [(order_key(m, i, True, keys), i) for i, m in runs if keys[0][0] in m]
    return min(having)[1] if having else None


class WalkStatus(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT = "insufficient"


@dataclass(frozen=True, slots=True)
class WalkForwardOutcome:
    status: WalkStatus
    metric: str
    split: str
    min_pearson: float
    n: int
    r: float | None
    points: tuple[tuple[str, float, float], ...]  # (id, metric, split metric)
    reason: str = ""


def walk_forward(board: Leaderboard, config: WalkForward) -> WalkForwardOutcome:
    """Pearson r between the metric and the same metric on the split, over the top-N feasible runs.

    Fewer than 3 points, or no variance, is "insufficient": never a pass.
    """
    top = [r.verdict for r in board.runs if r.rank is not None][: config.top_n]
    points = tuple(
        (v.id, v.metrics[config.metric], v.splits[config.split][config.metric])
        for v in top
        if config.metric in v.metrics and config.metric in v.splits.get(config.split, {})
    )

    def outcome(status: WalkStatus, r: float | None, reason: str) -> WalkForwardOutcome:
        return WalkForwardOutcome(
            status, config.metric, config.split, config.min_pearson, len(points), r, points, reason
        )

    if len(points) < 3:
        return outcome(
            WalkStatus.INSUFFICIENT,
            None,
            f"{len(points)} run(s) with {config.metric} on split "
            f"{config.split!r}; at least 3 are needed",
        )
    bound = config.min_pearson
    r, reached = pearson([p[1] for p in points], [p[2] for p in points], bound)
    if r is None:
        return outcome(WalkStatus.INSUFFICIENT, None, "no variance: correlation undefined")
    if reached:
        return outcome(WalkStatus.PASS, r, "")
    return outcome(WalkStatus.FAIL, r, below(r, bound))


def below(r: float, bound: float, name: str = "r") -> str:
    """That r is below `bound`: r to four places, unless those round it up to the bound
    (or above)."""
    shown = f"{r:.4f}"
    if float(shown) < bound:
        return f"{name} = {shown} < {bound}"
    return f"{name} is below {bound} before rounding"


def pearson(xs: Sequence[float], ys: Sequence[float], bound: float) -> tuple[float | None, bool]:
    """The Pearson correlation, rounded to 12 places so reports are stable across
    platforms (None when either side has no variance), and whether its exact value is
    at least `bound` (False with no variance), from one pass of exact sums.

    The sums are exact (fractions of the values as written): in floating point the mean
    of three 0.1s is 0.10000000000000002, so equal scores had a tiny spread of their own
    and correlated at exactly 1.0 (a walk-forward PASS the spec calls INSUFFICIENT). The
    bound is compared before any rounding: r rounded to 12 places reached a bound its
    exact value is below (0.29999999999992 passed `min_pearson: 0.3`, an attacker's hunt).
    """
    sums = _sums(xs, ys)
    if sums is None:
        return None, False
    sxy, sxx, syy = sums
    # (The sign from the fraction's: as a float, sxy of values near 1e200 overflowed, and
    # a report's walk-forward is recomputed by verify from numbers the report gives. No
    # correlation is 0.0, never -0.0: reports say "r = 0.0000".)
    r = math.sqrt(sxy * sxy / (sxx * syy))
    r = -r if sxy < 0 else r
    # The bound as written (its shortest spelling): Fraction(0.3) is the double nearest
    # 0.3, 0.29999999999999998889…, which an r just below 0.3 reaches (a review). The
    # root is positive: compare the squares, signs apart.
    m = exact(bound)
    if sxy >= 0:
        reached = m <= 0 or sxy * sxy >= m * m * sxx * syy
    else:
        reached = m < 0 and sxy * sxy <= m * m * sxx * syy
    return round(max(-1.0, min(1.0, r)), 12), reached


def _sums(xs: Sequence[float], ys: Sequence[float]) -> tuple[Fraction, Fraction, Fraction] | None:
    """The exact co-deviation and the two squared deviations; None with no variance."""
    n = len(xs)
    # The decimals the documents hold (§2.3), not the doubles nearest them: 0.05, 0.07
    # and 0.09000000000000001 lie on a line as doubles and not as written, so r was
    # exactly 1 where it is below it (an attacker's hunt, issue 18 twenty-third pass).
    fx = [exact(x) for x in xs]
    fy = [exact(y) for y in ys]
    mx, my = sum(fx) / n, sum(fy) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(fx, fy, strict=True))
    sxx = sum((x - mx) ** 2 for x in fx)
    syy = sum((y - my) ** 2 for y in fy)
    if sxx == 0 or syy == 0:
        return None
    return Fraction(sxy), Fraction(sxx), Fraction(syy)
