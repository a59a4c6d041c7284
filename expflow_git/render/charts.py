"""The scorecard's dot chart: each run's ranking metric against its thresholds and
gates, on an axis from 0 or one that says where it is cut (walkchart.py draws the
walk-forward scatter with the same scales). Coordinates have fixed precision: the same
view always gives the same bytes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from expflow_git.policy.model import Gate, Op, Severity
from expflow_git.render.markup import esc as _e
from expflow_git.render.markup import num as _n
from expflow_git.render.markup import short as _short
from expflow_git.render.markup import svg_open
from expflow_git.render.numbers import readable, readable_column
from expflow_git.render.table import exact_number
from expflow_git.render.view import Row, View, fmt_number

MAX_CHART_RUNS = 50

# Chart geometry (SVG user units; the SVGs scale to the page width).
# The value column holds a long number and both best-run tags (`best_feasible · best_any`).
_LABEL_W = 230
_PLOT_W = 500
_VALUE_W = 270
_LABEL_CHARS = 24  # a run id in the chart, after its rank (`#12 `), fits _LABEL_W in bold
_ROW_H = 24
_AXIS_H = 44

# --- scales -----------------------------------------------------------------


# Positions are computed on values clipped to this range, so no sum or difference
# overflows; the labels always show the true values.
_LIMIT = 1e300


def _clip(value: float) -> float:
    return min(_LIMIT, max(-_LIMIT, value))


@dataclass(frozen=True)
class _Scale:
    """A linear map from a data domain onto [start, end] in SVG units."""

    lo: float
    hi: float
    start: float
    end: float
    ticks: tuple[float, ...]

    def __call__(self, value: float) -> float:
        frac = (_clip(value) - self.lo) / (self.hi - self.lo)
        return self.start + min(1.0, max(0.0, frac)) * (self.end - self.start)


def _nice_step(raw: float) -> float:
    power: float = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0):
        if raw <= m * power:
            return m * power
    return 10 * power


def scale(
    values: Iterable[float], start: float, end: float, *, ticks: int = 5, zero: bool = False
) -> _Scale:
    """A padded domain with round ticks; safe for no value, one value and equal values.
    With `zero`, the domain reaches 0 and is padded only on the side away from it."""
    vals = [_clip(v) for v in values if math.isfinite(v)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= max(abs(lo), abs(hi)) * 1e-9 or hi - lo < 1e-200:
        # Equal, or equal up to float noise: centre them in a range of ±10 % (from 0:
        # widen on the side away from it).
        pad = max(abs(lo), abs(hi)) * 0.1
        pad = pad if pad >= 1e-200 else 1.0
        if not zero:
            lo, hi = lo - pad, hi + pad
        elif hi > 0 or lo == 0:
            hi += pad
        else:
            lo -= pad
    span = hi - lo
    step = _nice_step(span / ticks)
    lo = 0.0 if zero and lo == 0 else math.floor((lo - span * 0.05) / step) * step
    hi = 0.0 if zero and hi == 0 else math.ceil((hi + span * 0.05) / step) * step
    count = round((hi - lo) / step)
    marks = (lo + i * step for i in range(count + 1))
    return _Scale(lo, hi, start, end, tuple(t for t in marks if abs(t) <= _LIMIT))


# Differences under this share of the values' size cannot be seen on an axis from 0:
# such an axis is cut, and says so.
_CUT_BELOW = 0.05


def value_axis(values: Sequence[float], start: float, end: float) -> tuple[_Scale, str | None]:
    """The dot chart's axis and, where it does not start at 0, where it is cut.

    An axis from 0 keeps the distances between runs true to their differences; only
    when the values differ by less than 5 % of their size (nothing would be seen) is
    it cut near them, and the chart then says so and draws no bars from the cut."""
    finite = [_clip(v) for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    size = max(abs(lo), abs(hi))
    if lo <= 0 <= hi or hi - lo == 0 or hi - lo >= _CUT_BELOW * size:
        return scale(finite, start, end, zero=True), None
    x = scale(finite, start, end)
    return x, tick_label(x.lo if lo > 0 else x.hi)


def tick_label(value: float) -> str:
    """An axis tick as the scorecard shows numbers."""
    # Twelve significant digits hide float noise such as 0.30000000000000004.
    return readable(float(f"{value:.12g}") + 0.0, 12)


def legend(thresholds: bool) -> str:
    ok = (
        '<span><svg width="14" height="14" aria-hidden="true">'
        '<circle cx="7" cy="7" r="5" class="dot ok"/></svg>feasible</span>'
    )
    bad = (
        '<span><svg width="14" height="14" aria-hidden="true">'
        '<path d="M3 3L11 11M3 11L11 3" class="dot bad"/></svg>infeasible</span>'
    )
    line = (
        '<span><svg width="22" height="14" aria-hidden="true">'
        '<line x1="11" y1="0" x2="11" y2="14" class="threshold"/></svg>threshold / gate '
        "(shaded side fails)</span>"
        if thresholds
        else ""
    )
    return f'<div class="legend" aria-hidden="true">{ok}{bad}{line}</div>'


def _chart_rows(view: View) -> tuple[list[Row], list[str]]:
    """The runs to draw (best first, capped) and notes on what was left out."""
    drawn = [r for r in view.rows if r.metrics.get(view.sort_by) is not None]
    sign = -1.0 if view.descending else 1.0
    drawn.sort(key=lambda r: (sign * float(r.metrics[view.sort_by]), r.id))
    shown = drawn[:MAX_CHART_RUNS]
    # The winner under the rules is always on the chart, even below the cut.
    extra = [r for r in drawn[MAX_CHART_RUNS:] if r.id == view.best_feasible]
    notes = []
    if len(drawn) > len(shown):
        notes.append(
            f"showing the top {len(shown):,} of {len(drawn):,} runs by {view.sort_by}"
            + (" and best_feasible" if extra else "")
        )
    if len(drawn) < len(view.rows):
        notes.append(f"{len(view.rows) - len(drawn):,} run(s) without {view.sort_by} not drawn")
    return shown + extra, notes


def _label(gate: Gate) -> str:
    """`metric < value`, the number as the scorecard shows numbers."""
    return f"{gate.metric} {gate.op.symbol} {fmt_number(gate.value)}{_advisory(gate)}"


def _advisory(gate: Gate) -> str:
    """` (warning)` after an advisory gate, which no run fails (docs/spec.md §6.2 item 4)."""
    return " (warning)" if gate.severity is Severity.WARNING else ""


def _failing_zone(t: Gate, x: _Scale, top: float, height: float) -> str:
    """Shade the side of a threshold line where runs fail it (none: an advisory gate's,
    whose runs there are no less feasible; a hunt, thirty-eighth pass)."""
    if t.severity is Severity.WARNING:
        return ""
    at = x(t.value)
    if t.op in (Op.GT, Op.GE):
        left, right = x.start, at
    elif t.op in (Op.LT, Op.LE):
        left, right = at, x.end
    else:
        return ""
    if right - left <= 0:
        return ""
    return (
        f'<rect class="zone" x="{_n(left)}" y="{_n(top)}" width="{_n(right - left)}" '
        f'height="{_n(height)}"/>'
    )


def metric_chart(view: View) -> str:
    """The section charting each run's ranking metric, best first, with its thresholds."""
    rows, notes = _chart_rows(view)
    metric = view.sort_by
    direction = "higher is better" if view.descending else "lower is better"
    head = f'<section aria-labelledby="h-chart"><h2 id="h-chart">{_e(metric)} per run</h2>'
    if not rows:
        text = f"No run has {metric}; nothing to chart." if view.rows else "No runs to chart."
        return head + f'<p class="muted">{_e(text)}</p></section>'
    thresholds = view.thresholds_on(metric)
    top = 18.0 + 16.0 * len(thresholds)
    plot_h = _ROW_H * len(rows)
    width = _LABEL_W + _PLOT_W + _VALUE_W
    height = top + plot_h + _AXIS_H
    x, cut = value_axis(
        [float(r.metrics[metric]) for r in rows] + [t.value for t in thresholds],
        _LABEL_W,
        _LABEL_W + _PLOT_W,
    )
    axis_note = (
        "Axis from 0: distances between dots are true to the differences."
        if cut is None
        else f"Axis cut at {cut}, not from 0: the values differ by less than "
        f"{_CUT_BELOW:.0%} of their size, so the distances between dots exaggerate "
        "the differences."
    )
    shown = readable_column([float(r.metrics[metric]) for r in rows])
    title = f"{metric} per run ({direction})"
    desc = (
        f"Dot chart of {metric} for {len(rows)} run(s), best first; filled dots are feasible "
        "runs, crosses are infeasible runs"
        + (
            "; dashed vertical lines mark " + ", ".join(_label(t) for t in thresholds)
            if thresholds
            else ""
        )
        + ". "
        + axis_note
    )
    out = [svg_open(width, _n(height), "chart", title, desc)]
    for t in thresholds:
        out.append(_failing_zone(t, x, top, plot_h))
    bottom = top + plot_h
    for tick in x.ticks:
        at = _n(x(tick))
        out.append(f'<line class="grid" x1="{at}" y1="{_n(top)}" x2="{at}" y2="{_n(bottom)}"/>')
        out.append(
            f'<text class="tick" x="{at}" y="{_n(bottom + 16)}" text-anchor="middle">'
            f"{_e(tick_label(tick))}</text>"
        )
    out.append(
        f'<line class="axis" x1="{_LABEL_W}" y1="{_n(bottom)}" x2="{_LABEL_W + _PLOT_W}" '
        f'y2="{_n(bottom)}"/>'
    )
    if cut is not None:
        out.append(_axis_break(x.start if x.lo > 0 else x.end, bottom))
    out.append(
        f'<text class="tick" x="{_LABEL_W + _PLOT_W / 2:.1f}" y="{_n(bottom + 36)}" '
        f'text-anchor="middle">{_e(metric)} ({direction})</text>'
    )
    # Bars from a cut axis would exaggerate as much as the axis: only dots then.
    base = None if cut is not None else x(0.0)
    for i, row in enumerate(rows):
        value = float(row.metrics[metric])
        y = top + i * _ROW_H + _ROW_H / 2
        out.append(_chart_row(view, row, x, y, base, shown[value]))
    for i, t in enumerate(thresholds):
        at = _n(x(t.value))
        label_y = 12.0 + 16.0 * i
        out.append(
            f'<line class="threshold" x1="{at}" y1="{_n(label_y + 4)}" x2="{at}" '
            f'y2="{_n(bottom)}"><title>{_e(t.source)} {_e(_label(t))}</title></line>'
        )
        out.append(
            f'<text x="{at}" y="{_n(label_y)}" text-anchor="middle" class="best">'
            f"{_e(t.source)} {_e(t.op.symbol)} {_e(fmt_number(t.value))}{_advisory(t)}</text>"
        )
    out.append("</svg>")
    caption = (
        f"Each run's {metric} ({direction}), best first."
        + "".join(f" {n[:1].upper()}{n[1:]}." for n in notes)
        + ("" if thresholds else f" No threshold or gate on {metric}.")
    )
    return (
        head
        + legend(bool(thresholds))
        + f'<p class="axisnote{" cut" if cut is not None else ""}">{_e(axis_note)}</p>'
        + "<figure>"
        + "".join(out)
        + f"<figcaption>{_e(caption)}</figcaption></figure></section>"
    )


def _axis_break(at: float, y: float) -> str:
    """Two slanted strokes across the axis where it is cut."""
    return (
        f'<path class="break" d="M{_n(at - 7)} {_n(y + 6)}L{_n(at - 1)} {_n(y - 6)}'
        f'M{_n(at + 1)} {_n(y + 6)}L{_n(at + 7)} {_n(y - 6)}"><title>axis cut</title></path>'
    )


def _chart_row(view: View, row: Row, x: _Scale, y: float, base: float | None, shown: str) -> str:
    """One run: its label, a bar from 0 (`base`; none on a cut axis), its mark, its value
    as `shown` (the exact value in the row's title)."""
    value = float(row.metrics[view.sort_by])
    at = x(value)
    ok = row.feasible
    cls = "ok" if ok else "bad"
    rank = f"#{row.rank} " if row.rank is not None else ""
    tags = best_tags(view, row.id)
    status = "feasible" if ok else "infeasible: " + "; ".join(row.failed)
    if row.warnings:
        status += f" ({len(row.warnings)} warning(s))"
    tip = f"{rank}{row.id} — {view.sort_by} {exact_number(value)} — {status}"
    mark = (
        f'<circle class="dot ok" cx="{_n(at)}" cy="{_n(y)}" r="5.5"/>'
        if ok
        else f'<path class="dot bad" d="M{_n(at - 5)} {_n(y - 5)}L{_n(at + 5)} {_n(y + 5)}'
        f'M{_n(at - 5)} {_n(y + 5)}L{_n(at + 5)} {_n(y - 5)}"/>'
    )
    label = f"{rank}{_short(row.id, _LABEL_CHARS)}"
    return (
        f"<g><title>{_e(tip)}</title>"
        f'<text class="id {cls}{" best" if tags else ""}" x="{_LABEL_W - 10}" y="{_n(y + 4)}" '
        f'text-anchor="end">{_e(label)}</text>'
        + (
            f'<line class="stem {cls}" x1="{_n(base)}" y1="{_n(y)}" x2="{_n(at)}" y2="{_n(y)}"/>'
            if base is not None
            else ""
        )
        + f"{mark}"
        f'<text x="{_LABEL_W + _PLOT_W + 10}" y="{_n(y + 4)}">{_e(shown)}'
        + (f'<tspan class="tag" dx="8">{_e(" · ".join(tags))}</tspan>' if tags else "")
        + "</text></g>"
    )


def best_tags(view: View, run_id: str) -> list[str]:
    """Which of the best runs (best_feasible, best_any, best_ladder) `run_id` is."""
    bests = (
        ("best_feasible", view.best_feasible),
        ("best_any", view.best_any),
        ("best_ladder", view.best_ladder),
    )
    return [tag for tag, best in bests if best == run_id]
