"""Feasible-first ranking, best_any / best_feasible, and the walk-forward gate (SPEC §6.2)."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from expflow_git.checks import RunVerdict
from expflow_git.policy import Metric, Ranking, WalkForward


@dataclass(frozen=True)
class RankedRun:
    verdict: RunVerdict
    rank: int | None  # None: infeasible, or missing the sort metric


@dataclass(frozen=True)
class Leaderboard:
    sort_by: str
    descending: bool
    runs: tuple[RankedRun, ...]
    best_any: str | None
    best_feasible: str | None


def sort_key(
    run: RunVerdict, ranking: Ranking, metrics: Mapping[str, Metric]
) -> tuple[object, ...]:
    """Sort metric (missing last either way), then each tie-break in its own direction, then id."""
    parts: list[object] = []
    for name, descending in [(ranking.sort_by, ranking.descending)] + [
        (t, metrics[t].higher_is_better) for t in ranking.tie_break
    ]:
        value = run.metrics.get(name)
        if value is None:
            parts.append((1, 0.0))
        else:
            parts.append((0, -value if descending else value))
    parts.append(run.id)
    return tuple(parts)


def rank(
    verdicts: Sequence[RunVerdict], ranking: Ranking, metrics: Mapping[str, Metric]
) -> Leaderboard:
    """Feasible runs with the sort metric ranked 1..k, then the rest in the same order, unranked."""
    ordered = sorted(verdicts, key=lambda v: sort_key(v, ranking, metrics))
    rankable = [v for v in ordered if v.feasible and ranking.sort_by in v.metrics]
    rest = [v for v in ordered if not (v.feasible and ranking.sort_by in v.metrics)]
    # Within the unranked: feasible-but-missing first, then the infeasible, each in sort order.
    rest.sort(key=lambda v: not v.feasible)
    runs = [RankedRun(v, i) for i, v in enumerate(rankable, 1)]
    runs += [RankedRun(v, None) for v in rest]
    with_metric = [v for v in ordered if ranking.sort_by in v.metrics]
    return Leaderboard(
        sort_by=ranking.sort_by,
        descending=ranking.descending,
        runs=tuple(runs),
        best_any=with_metric[0].id if with_metric else None,
        best_feasible=rankable[0].id if rankable else None,
    )


class WalkStatus(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT = "insufficient"


@dataclass(frozen=True)
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
    r = pearson([p[1] for p in points], [p[2] for p in points])
    if r is None:
        return outcome(WalkStatus.INSUFFICIENT, None, "no variance: correlation undefined")
    if r >= config.min_pearson:
        return outcome(WalkStatus.PASS, r, "")
    return outcome(WalkStatus.FAIL, r, f"r = {r:.4f} < {config.min_pearson}")


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation, rounded to 12 places so reports are stable across platforms."""
    n = len(xs)
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return round(max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy))), 12)
