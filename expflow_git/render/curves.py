"""The scorecard's learning curves: the series (expflow_git/series.py) of the top runs,
one inline SVG per metric, a line per run. No script; coordinates at fixed precision
and a fixed palette, so the same view always gives the same bytes; every name escaped."""

from __future__ import annotations

from collections.abc import Sequence

from expflow_git.render.markup import esc as _e
from expflow_git.render.markup import num as _n
from expflow_git.render.markup import short as _short
from expflow_git.render.markup import svg_open
from expflow_git.render.view import View, fmt_number
from expflow_git.series import Points

MAX_CURVE_CHARTS = 4
MAX_LINE_POINTS = 400  # a line is thinned to this many points (evenly, ends kept)
_PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed")

# Geometry (SVG user units; the SVG scales to the page width).
_W, _H = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 80, 20, 16, 40
_LIMIT = 1e300  # values are clipped to this before any arithmetic: nothing overflows


def curves_section(view: View) -> str:
    """The "Learning curves" section, or "" when no top run has a series."""
    if not view.curves:
        return ""
    names = sorted({name for run in view.curves for name in run.series})
    if view.sort_by in names:  # the ranking metric first
        names.remove(view.sort_by)
        names.insert(0, view.sort_by)
    shown = names[:MAX_CURVE_CHARTS]
    charts = "".join(_chart(i, name, view) for i, name in enumerate(shown))
    runs = ", ".join(run.id for run in view.curves)
    note = (
        f"The series of the top {len(view.curves)} ranked run(s) with series ({runs})"
        + (f"; {len(shown)} of {len(names)} metrics shown" if len(names) > len(shown) else "")
        + ". Each line is the run's [step, value] points as committed in its result."
    )
    return (
        '<section aria-labelledby="h-curves"><h2 id="h-curves">Learning curves</h2>'
        f'<p class="note">{_e(note)}</p>{charts}</section>'
    )


def _thin(points: Points) -> list[tuple[float, float]]:
    """At most MAX_LINE_POINTS points: evenly spaced by index, the first and last kept."""
    n = len(points)
    if n <= MAX_LINE_POINTS:
        picked: Sequence[Sequence[float]] = points
    else:
        picked = [points[i * (n - 1) // (MAX_LINE_POINTS - 1)] for i in range(MAX_LINE_POINTS)]
    return [(_clip(p[0]), _clip(p[1])) for p in picked]


def _clip(value: float) -> float:
    return min(_LIMIT, max(-_LIMIT, float(value)))


def _domain(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if not hi - lo > max(abs(lo), abs(hi)) * 1e-12:  # one value, or equal ones
        pad = max(abs(lo) * 0.1, 1.0)
        return lo - pad, hi + pad
    return lo, hi


def _chart(index: int, metric: str, view: View) -> str:
    lines = [
        (color, run.id, _thin(run.series[metric]))
        for color, run in zip(_PALETTE, view.curves, strict=False)  # one colour per top run
        if metric in run.series and run.series[metric]
    ]
    x_lo, x_hi = _domain([x for _, _, pts in lines for x, _ in pts])
    y_lo, y_hi = _domain([y for _, _, pts in lines for _, y in pts])
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def at(x: float, y: float) -> str:
        px = _LEFT + (x - x_lo) / (x_hi - x_lo) * plot_w
        py = _TOP + (1 - (y - y_lo) / (y_hi - y_lo)) * plot_h
        return f"{_n(px)},{_n(py)}"

    bottom, right = _TOP + plot_h, _LEFT + plot_w
    desc = f"{metric} against step for {len(lines)} run(s): " + ", ".join(
        f"{run_id} ({len(pts)} point(s) drawn)" for _, run_id, pts in lines
    )
    out = [
        svg_open(_W, _H, f"curve-{index}", f"{metric} per step", desc),
        f'<line class="axis" x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}"/>',
        f'<text class="tick" x="{_LEFT - 6}" y="{_TOP + 4}" text-anchor="end">'
        f"{_e(fmt_number(y_hi))}</text>",
        f'<text class="tick" x="{_LEFT - 6}" y="{bottom}" text-anchor="end">'
        f"{_e(fmt_number(y_lo))}</text>",
        f'<text class="tick" x="{_LEFT}" y="{bottom + 16}" text-anchor="start">'
        f"{_e(fmt_number(x_lo))}</text>",
        f'<text class="tick" x="{right}" y="{bottom + 16}" text-anchor="end">'
        f"{_e(fmt_number(x_hi))}</text>",
        f'<text class="tick" x="{_LEFT + plot_w / 2:.1f}" y="{bottom + 34}" '
        f'text-anchor="middle">step · {_e(_short(metric))}</text>',
    ]
    for color, run_id, pts in lines:
        coords = " ".join(at(x, y) for x, y in pts)
        out.append(
            f'<g class="curve"><title>{_e(run_id)}</title><polyline points="{coords}" '
            f'fill="none" stroke="{color}" stroke-width="2"/></g>'
        )
    out.append("</svg>")
    legend = "".join(
        f'<span><svg width="14" height="14" aria-hidden="true"><rect width="14" height="4" '
        f'y="5" fill="{color}"/></svg>{_e(_short(run_id))}</span>'
        for color, run_id, _ in lines
    )
    return "".join(out) + f'<div class="legend">{legend}</div>'
