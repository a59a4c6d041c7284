"""The scorecard's walk-forward section: the scatter of each top run's metric against
the same metric on the held-out split, with y = x, and the gate's figures."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from expflow_git.render.charts import scale, tick_label
from expflow_git.render.markup import esc as _e
from expflow_git.render.markup import num as _n
from expflow_git.render.markup import short as _short
from expflow_git.render.markup import svg_open
from expflow_git.render.view import View, fmt_number

MAX_LABELLED_POINTS = 25

# Geometry (SVG user units; the SVG scales to the page width).
_SCATTER = 380
_SCATTER_LEFT = 64
_SCATTER_BOTTOM = 50


def _points(walk: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    return [
        (str(p[0]), float(p[1]), float(p[2]))
        for p in walk["points"]
        if math.isfinite(float(p[1])) and math.isfinite(float(p[2]))
    ]


def walk_section(view: View) -> str:
    w = view.walk
    if w is None:
        return ""
    metric, split = str(w["metric"]), str(w["split"])
    r = "n/a" if w["r"] is None else f"{w['r']:.4f}"
    status = str(w["status"])
    caption = (
        f"Pearson r = {r} between {metric} and {split}/{metric} over {w['n']} run(s) "
        f"(top {w['topN']} feasible); the gate needs r ≥ {fmt_number(w['minPearson'])}."
        + (f" {w['reason']}." if w["reason"] else "")
    )
    points = _points(w)
    figure = (
        _scatter(points, metric, split) if points else '<p class="muted">No points to plot.</p>'
    )
    facts = (
        ("Status", f'<span class="status {_e(status)}">{_e(status.upper())}</span>'),
        ("Pearson r", _e(r)),
        ("Gate", f"r ≥ {_e(fmt_number(w['minPearson']))}"),
        ("Runs", f"{_e(w['n'])} of the top {_e(w['topN'])} feasible"),
    )
    text = (
        '<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
        f"<p>Each point is a feasible run: its {_e(metric)} on the main evaluation (x) against "
        f"the same metric on the <code>{_e(split)}</code> split (y); the dashed line is y = x. "
        "A strong correlation means the ranking carries over to unseen data; a weak one means "
        "it may be fitted to the evaluation set.</p>"
    )
    return (
        '<section aria-labelledby="h-walk"><h2 id="h-walk">Walk-forward check</h2>'
        f'<div class="walk"><figure>{figure}<figcaption>{_e(caption)}</figcaption></figure>'
        f"<div>{text}</div></div></section>"
    )


def _scatter(points: Sequence[tuple[str, float, float]], metric: str, split: str) -> str:
    size = _SCATTER
    left, bottom_pad, top = _SCATTER_LEFT, _SCATTER_BOTTOM, 14
    width, height = left + size + 20, top + size + bottom_pad
    values = [v for _, a, b in points for v in (a, b)]
    # One domain for both axes keeps the plot square, so y = x is the diagonal.
    x = scale(values, left, left + size)
    y = scale(values, top + size, top)
    title = f"{split}/{metric} against {metric}"
    desc = f"Scatter plot of {len(points)} run(s) with the line y = x."
    out = [svg_open(width, height, "walk", title, desc)]
    for tick in x.ticks:
        at = _n(x(tick))
        out.append(f'<line class="grid" x1="{at}" y1="{top}" x2="{at}" y2="{top + size}"/>')
        out.append(
            f'<text class="tick" x="{at}" y="{top + size + 16}" text-anchor="middle">'
            f"{_e(tick_label(tick))}</text>"
        )
    for tick in y.ticks:
        at = _n(y(tick))
        out.append(f'<line class="grid" x1="{left}" y1="{at}" x2="{left + size}" y2="{at}"/>')
        out.append(
            f'<text class="tick" x="{left - 6}" y="{_n(y(tick) + 4)}" text-anchor="end">'
            f"{_e(tick_label(tick))}</text>"
        )
    out.append(
        f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" class="axis"/>'
    )
    out.append(
        f'<line class="diag" x1="{_n(x(x.lo))}" y1="{_n(y(y.lo))}" x2="{_n(x(x.hi))}" '
        f'y2="{_n(y(y.hi))}"><title>y = x</title></line>'
    )
    out.append(
        # Below the diagonal near its top end, clear of the line.
        f'<text class="tag" x="{left + size - 8}" y="{top + 48}" text-anchor="end">y = x</text>'
    )
    for run_id, a, b in points:
        out.append(
            f'<circle class="pt" cx="{_n(x(a))}" cy="{_n(y(b))}" r="5.5"><title>'
            f"{_e(f'{run_id}: {metric} {fmt_number(a)}, {split}/{metric} {fmt_number(b)}')}"
            "</title></circle>"
        )
    if len(points) <= MAX_LABELLED_POINTS:
        for run_id, a, b in points:
            # Labels of points near the right edge go on their left, inside the plot.
            right = x(a) > left + size * 0.75
            anchor = ' text-anchor="end"' if right else ""
            out.append(
                f'<text class="tag" x="{_n(x(a) - 8 if right else x(a) + 8)}" '
                f'y="{_n(y(b) + 4)}"{anchor}>{_e(_short(run_id, 16))}</text>'
            )
    out.append(
        f'<text class="tick" x="{left + size / 2:.1f}" y="{top + size + 38}" '
        f'text-anchor="middle">{_e(metric)}</text>'
    )
    out.append(
        f'<text class="tick" transform="rotate(-90)" x="{-(top + size / 2):.1f}" y="14" '
        f'text-anchor="middle">{_e(f"{split} / {metric}")}</text>'
    )
    out.append("</svg>")
    return "".join(out)
