"""`diff`: metrics per experiment between two revisions, direction-aware."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from expflow_git.audit.pipeline import TreeCheck
from expflow_git.documents import Result, difference, exact
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

    @cached_property
    def delta(self) -> float | None:
        """new − old as the decimals they are written as, rounded once to a double
        (documents.difference): what the verdict weighed. In doubles 1.1 − 1.0 was
        0.10000000000000009, shown beside an `--atol 0.1` that called it unchanged."""
        if self.old is None or self.new is None:
            return None
        return difference(self.new, self.old)

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
    if old == new or within(old, new, atol=atol, rtol=rtol):
        return Change.UNCHANGED
    if metric is None:
        return Change.CHANGED
    better = new > old if metric.higher_is_better else new < old
    return Change.IMPROVED if better else Change.REGRESSED


# Far more than the rounding of the doubles below can move |new − old| or the allowance
# from the decimals' values: relative to the numbers' size, and absolute for subnormals.
_REL_SLACK = 2.0**-40
_ABS_SLACK = 2.0**-1000


def within(old: float, new: float, *, atol: float, rtol: float) -> bool:
    """|new − old| ≤ atol + rtol·|old|, every number the decimal it is written as
    (docs/spec.md §2.3). It was `math.isclose`, whose allowance is
    max(rtol·max(|old|, |new|), atol), on doubles: 10 → 11.05 was within `--rtol 0.1`
    (1.105 allowed, not 1.0) and 1.0 → 1.1 beyond `--atol 0.1` (0.10000000000000009
    in doubles; a hunt, issue 18 twenty-fifth pass). Doubles decide where the answer is
    clear by a wide margin; Fractions only near the boundary."""
    if atol == 0 and rtol == 0:
        return old == new
    change = abs(new - old)
    allowed = atol + rtol * abs(old)
    slack = _REL_SLACK * (abs(old) + abs(new) + allowed) + _ABS_SLACK
    if change < allowed - slack:  # (an overflowed allowance: inf - inf, left to the exact test)
        return True
    if change > allowed + slack:
        return False
    return abs(exact(new) - exact(old)) <= exact(atol) + exact(rtol) * abs(exact(old))


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
