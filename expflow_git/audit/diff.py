"""`diff`: metrics per experiment between two revisions, direction-aware."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

from expflow_git.audit.pipeline import TreeCheck
from expflow_git.documents import Result
from expflow_git.policy.model import Metric


class Change(str, enum.Enum):
    IMPROVED = "improved"
    REGRESSED = "regressed"
    CHANGED = "changed"  # a metric with no known direction
    UNCHANGED = "unchanged"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class MetricDiff:
    experiment: str
    metric: str
    old: float | None
    new: float | None
    change: Change

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def relative(self) -> float | None:
        """The change as a share of |old|; None where there is none to give: no old or
        new value, an old 0, or an old value so small the ratio overflows (5e-324 to
        9e15 was `Infinity` in `diff --format json`, which no JSON reader takes, and
        `+inf%` in the table: a user's hunt, issue 18 twenty-third pass)."""
        if self.delta is None or self.old in (None, 0):
            return None
        assert self.old is not None
        ratio = self.delta / abs(self.old)
        return ratio if math.isfinite(ratio) else None


def classify(old: float, new: float, metric: Metric | None, *, atol: float, rtol: float) -> Change:
    """Within atol + rtol·|old| is unchanged; otherwise the metric's direction decides."""
    if math.isclose(old, new, rel_tol=rtol, abs_tol=atol) or old == new:
        return Change.UNCHANGED
    if metric is None:
        return Change.CHANGED
    better = new > old if metric.higher_is_better else new < old
    return Change.IMPROVED if better else Change.REGRESSED


def _results_by_run(
    check: TreeCheck, warn: Callable[[str], None] | None
) -> dict[str, list[Result]]:
    """Each run's results; `warn` hears of a run with several (which would be its score
    is what the audit refuses to say: none of them is ranked)."""
    by_run: dict[str, list[Result]] = {}
    for res in check.results:
        by_run.setdefault(res.experiment, []).append(res)
    for exp_id, results in sorted(by_run.items()):
        if len(results) > 1 and warn is not None:
            paths = ", ".join(sorted(r.path for r in results))
            warn(
                f"{exp_id!r} has {len(results)} results at {check.commit.sha[:12]} ({paths}): "
                "not compared"
            )
    return by_run


def diff_checks(
    old: TreeCheck,
    new: TreeCheck,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    warn: Callable[[str], None] | None = None,
) -> list[MetricDiff]:
    """One row per (experiment, metric) present on either side, in id then metric order;
    a run with several results on either side is left out (`warn` hears of it): it is
    neither removed nor added, and no one of its results is its score.

    The newer revision's registry decides each metric's direction.
    """
    sides = _results_by_run(old, warn), _results_by_run(new, warn)
    several = {exp_id for side in sides for exp_id, rs in side.items() if len(rs) > 1}
    before, after = (
        {exp_id: rs[0].metrics for exp_id, rs in side.items() if exp_id not in several}
        for side in sides
    )
    registry = {**old.policy.metrics, **new.policy.metrics}
    rows = []
    for exp_id in sorted(set(before) | set(after)):
        a, b = before.get(exp_id), after.get(exp_id)
        for name in sorted(set(a or {}) | set(b or {})):
            va = None if a is None else a.get(name)
            vb = None if b is None else b.get(name)
            if va is None:
                change = Change.ADDED
            elif vb is None:
                change = Change.REMOVED
            else:
                change = classify(va, vb, registry.get(name), atol=atol, rtol=rtol)
            rows.append(MetricDiff(exp_id, name, va, vb, change))
    return rows
