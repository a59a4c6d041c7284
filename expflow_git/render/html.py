"""The HTML scorecard: one self-contained page (inline CSS and SVG; no script, no network).

Everything that comes from the report is escaped. The page is a pure function of
the View: the same report always gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from expflow_git.escape import html_text
from expflow_git.policy import Op
from expflow_git.policydiff import summary
from expflow_git.render.table import leaderboard_cells
from expflow_git.render.text import signature_note
from expflow_git.render.view import Row, Threshold, View, fmt_number

MAX_CHART_RUNS = 50
MAX_TABLE_ROWS = 1000
MAX_FINDINGS = 1000
MAX_LABELLED_POINTS = 25
MAX_LABEL_CHARS = 26

# Chart geometry (SVG user units; the SVGs scale to the page width).
_LABEL_W = 210
_PLOT_W = 560
_VALUE_W = 150
_ROW_H = 24
_AXIS_H = 44
_SCATTER = 380
_SCATTER_LEFT = 64
_SCATTER_BOTTOM = 50

_CSS = """
:root{--bg:#f6f8fa;--card:#fff;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--grid:#e8ecf0;
--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--ok:#0969da;--bad:#cf222e;
--warn:#9a6700;--warn-bg:#fff8c5;--zone:#cf222e}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--ink:#e6edf3;
--muted:#9198a1;--line:#30363d;--grid:#21262d;--pass:#3fb950;--pass-bg:#12261e;--fail:#f85149;
--fail-bg:#25171c;--ok:#4493f8;--bad:#f85149;--warn:#d29922;--warn-bg:#272115;--zone:#f85149}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);line-height:1.45;
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 20px 40px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
font-size:.92em}
h1{font-size:30px;margin:0;letter-spacing:.02em}
h2{font-size:18px;margin:0 0 12px}
section,.card{background:var(--card);border:1px solid var(--line);border-radius:10px}
section{padding:18px 20px;margin-top:18px}
.banner{display:flex;gap:20px;align-items:center;flex-wrap:wrap;padding:18px 22px;
border-radius:10px;border:2px solid;margin:0}
.banner.pass{background:var(--pass-bg);border-color:var(--pass)}
.banner.fail{background:var(--fail-bg);border-color:var(--fail)}
.mark{font-size:30px;font-weight:700;width:54px;height:54px;border-radius:50%;display:flex;
align-items:center;justify-content:center;color:#fff;flex:none}
.pass .mark{background:var(--pass)}.fail .mark{background:var(--fail)}
.pass h1{color:var(--pass)}.fail h1{color:var(--fail)}
.banner p{margin:2px 0 0}
.banner .text{min-width:0}
.sig{display:inline-block;margin-top:8px;padding:4px 12px;border-radius:999px;font-weight:600;
font-size:13px;border:1px solid var(--line);background:var(--card);max-width:100%;
overflow-wrap:anywhere}
.sig.unsigned{color:var(--warn);background:var(--warn-bg);border-color:var(--warn)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:14px;
margin-top:18px}
.card{padding:14px 16px}
.card h3{margin:0;font-size:13px;font-weight:600;color:var(--muted)}
.card .big{font-size:22px;font-weight:700;margin:4px 0 2px;overflow-wrap:anywhere}
.card p{margin:2px 0;color:var(--muted);font-size:13px}
.card.best{border-left:5px solid var(--ok)}.card.any{border-left:5px solid var(--muted)}
.card.any.differs{border-left-color:var(--bad)}
.muted{color:var(--muted)}
.note{color:var(--muted);font-size:13px;margin:8px 0 0}
figure{margin:0}figcaption{color:var(--muted);font-size:13px;margin-top:6px}
svg{display:block;max-width:100%;height:auto}
svg text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--ink)}
svg .tick{fill:var(--muted);font-size:11px}
svg .grid{stroke:var(--grid);stroke-width:1}
svg .axis{stroke:var(--line);stroke-width:1}
svg .stem{stroke:var(--ok);stroke-width:2;opacity:.35}
svg .stem.bad{stroke:var(--bad);stroke-dasharray:3 3}
svg .dot.ok{fill:var(--ok)}
svg .dot.bad{stroke:var(--bad);stroke-width:2.5;fill:none}
svg .id.bad{fill:var(--bad)}
svg .threshold{stroke:var(--ink);stroke-width:1.5;stroke-dasharray:6 4}
svg .zone{fill:var(--zone);opacity:.07}
svg .diag{stroke:var(--muted);stroke-width:1.5;stroke-dasharray:6 4}
svg .pt{fill:var(--ok);fill-opacity:.8;stroke:var(--card);stroke-width:1}
svg .tag{fill:var(--muted);font-size:11px}
svg .best{font-weight:700}
.legend{display:flex;gap:18px;flex-wrap:wrap;font-size:13px;color:var(--muted);margin:0 0 8px}
.legend svg{display:inline-block;vertical-align:middle;margin-right:4px}
.walk{display:grid;grid-template-columns:minmax(0,420px) 1fr;gap:20px;align-items:start}
@media (max-width:760px){.walk{grid-template-columns:1fr}}
.status{display:inline-block;font-weight:700;padding:1px 8px;border-radius:6px;font-size:13px}
.status.pass{color:var(--pass);background:var(--pass-bg)}
.status.fail{color:var(--fail);background:var(--fail-bg)}
.status.insufficient{color:var(--warn);background:var(--warn-bg)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:14px;font-variant-numeric:tabular-nums}
caption{text-align:left;color:var(--muted);font-size:13px;padding-bottom:8px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);
background:var(--bg);white-space:nowrap}
tbody th{font-weight:400}
td.num,th.num{text-align:right}
.nowrap{white-space:nowrap}
th.sort{color:var(--ink)}
tr.infeasible td,tr.infeasible th{background:var(--fail-bg)}
.yes{color:var(--pass);font-weight:600}.no{color:var(--fail);font-weight:700}
.chk{display:inline-block;margin:0 4px 2px 0;padding:0 6px;font-size:12px;
border-radius:4px;background:var(--fail-bg);color:var(--fail);border:1px solid var(--fail)}
.pill{display:inline-block;font-size:11px;font-weight:700;padding:0 6px;border-radius:999px;
margin-left:6px;border:1px solid var(--line);color:var(--muted);vertical-align:1px}
ol.findings{margin:0;padding-left:22px}
ol.findings li{margin:0 0 8px;overflow-wrap:anywhere}
.rule{font-weight:700;color:var(--fail)}
.eff{font-weight:700;text-transform:uppercase;font-size:12px}
.eff.looser{color:var(--fail)}.eff.stricter{color:var(--pass)}.eff.changed{color:var(--warn)}
footer{color:var(--muted);font-size:12px;margin-top:20px;text-align:center}
"""


def _e(value: object) -> str:
    """Escape for text and for quoted attributes alike (expflow_git.escape.html_text: control
    characters and a file name's undecodable bytes shown as `\\x1b`, `\\xff`)."""
    return html_text(str(value))


def _n(value: float) -> str:
    """An SVG coordinate: fixed precision so the bytes never depend on float noise."""
    return f"{value:.1f}"


def _class(names: str) -> str:
    return f' class="{names}"' if names else ""


def _short(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def _scale(values: Iterable[float], start: float, end: float, *, ticks: int = 5) -> _Scale:
    """A padded domain with round ticks; safe for no value, one value and equal values."""
    vals = [_clip(v) for v in values if math.isfinite(v)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if hi - lo <= max(abs(lo), abs(hi)) * 1e-9 or hi - lo < 1e-200:
        # Equal, or equal up to float noise: centre them in a range of ±10 %.
        pad = max(abs(lo), abs(hi)) * 0.1
        pad = pad if pad >= 1e-200 else 1.0
        lo, hi = lo - pad, hi + pad
    span = hi - lo
    step = _nice_step(span / ticks)
    lo = math.floor((lo - span * 0.05) / step) * step
    hi = math.ceil((hi + span * 0.05) / step) * step
    count = round((hi - lo) / step)
    marks = (lo + i * step for i in range(count + 1))
    return _Scale(lo, hi, start, end, tuple(t for t in marks if abs(t) <= _LIMIT))


def _tick_label(value: float) -> str:
    # Twelve significant digits hide float noise such as 0.30000000000000004.
    return fmt_number(float(f"{value:.12g}") + 0.0)


# --- page parts -------------------------------------------------------------


def _fail_reasons(view: View) -> list[str]:
    if view.focus is not None:
        row = next((r for r in view.rows if r.id == view.focus), None)
        if row is None:
            return [f"no run {view.focus} in this commit"]
        return [] if row.feasible else [f"run {view.focus} is infeasible"]
    reasons = []
    if view.findings:
        reasons.append(f"{len(view.findings):,} finding(s)")
    if not any(r.feasible for r in view.rows):
        reasons.append("no feasible run")
    if view.walk is not None and view.walk["status"] != "pass":
        reasons.append(f"walk-forward gate {view.walk['status']}")
    return reasons


def _banner(view: View) -> str:
    passed = view.verdict == "pass"
    word = "PASS" if passed else "FAIL"
    scope = f" for experiment {view.focus}" if view.focus else ""
    if passed:
        detail = f"The audit passed{scope}."
    else:
        reasons = _fail_reasons(view)
        detail = f"The audit failed{scope}" + (": " + "; ".join(reasons) if reasons else "") + "."
    sig_class = "sig signed" if view.signed else "sig unsigned"
    sig_text = "Report " + signature_note(view)
    if view.signature_unverified:
        sig_text += " — no trusted key was given to check who signed"
    elif not view.signed:
        sig_text += " — not signed by any key"
    return (
        f'<header class="banner {"pass" if passed else "fail"}" role="banner">'
        f'<div class="mark" aria-hidden="true">{"✓" if passed else "✗"}</div>'
        f'<div class="text"><h1>{word}</h1><p>{_e(detail)}</p>'
        f'<p class="muted">commit <code>{_e(view.commit[:12])}</code> · policy '
        f"<code>{_e(view.policy_path)}</code> · {view.inputs:,} document(s) · "
        f"{_e(view.created_at)}</p>"
        f'<div class="{sig_class}">{_e(sig_text)}</div></div></header>'
    )


def _meta(view: View) -> str:
    direction = "higher is better" if view.descending else "lower is better"
    items = [
        ("Commit", f"<code>{_e(view.commit)}</code>"),
        ("Tree", f"<code>{_e(view.tree)}</code>"),
        (
            "Policy",
            f"<code>{_e(view.policy_path)}</code>"
            + (
                f' <span class="muted">at <code>{_e(view.policy_ref[:12])}</code> '
                "(--policy-ref)</span>"
                if view.policy_ref
                else ""
            )
            + (
                f' <span class="muted">blob <code>{_e(view.policy_blob[:12])}</code></span>'
                if view.policy_blob
                else ""
            ),
        ),
        ("Ranked by", f"<code>{_e(view.sort_by)}</code>, {direction}"),
        ("Documents", f"{view.inputs:,} audited"),
        ("Created", _e(view.created_at)),
    ]
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    return (
        '<section aria-labelledby="h-about"><h2 id="h-about">Audit</h2>'
        f'<dl class="meta">{body}</dl></section>'
    )


def _value(row: Row | None, metric: str) -> str:
    if row is None:
        return "-"
    return fmt_number(row.metrics.get(metric))


def _cards(view: View) -> str:
    rows = {r.id: r for r in view.rows}
    bf = rows.get(view.best_feasible) if view.best_feasible else None
    ba = rows.get(view.best_any) if view.best_any else None
    metric = _e(view.sort_by)
    best = (
        f'<div class="card best"><h3>best_feasible</h3>'
        f'<div class="big mono">{_e(view.best_feasible or "none")}</div>'
        + (
            f"<p>{metric} = {_e(_value(bf, view.sort_by))} · the top run that passes every "
            "threshold, gate and rule</p>"
            if view.best_feasible
            else "<p>no run passes every threshold, gate and rule</p>"
        )
        + "</div>"
    )
    differs = view.best_any is not None and view.best_any != view.best_feasible
    if view.best_any is None:
        any_note = "<p>no run has the ranking metric</p>"
    elif not differs:
        any_note = (
            f"<p>{metric} = {_e(_value(ba, view.sort_by))} · the same run: "
            "the top score obeys the rules</p>"
        )
    else:
        failed = "; ".join(ba.failed) if ba is not None else ""
        any_note = (
            f"<p>{metric} = {_e(_value(ba, view.sort_by))} · top score ignoring gates and rules"
            + (f" — infeasible: {_e(failed)}" if failed else "")
            + "</p>"
        )
    any_card = (
        f'<div class="card any{" differs" if differs else ""}"><h3>best_any</h3>'
        f'<div class="big mono">{_e(view.best_any or "none")}</div>{any_note}</div>'
    )
    feasible = sum(r.feasible for r in view.rows)
    counts = (
        f'<div class="card"><h3>Runs</h3><div class="big">{len(view.rows):,}</div>'
        f"<p>{feasible:,} feasible · {len(view.rows) - feasible:,} infeasible · "
        f"{len(view.findings):,} finding(s)</p></div>"
    )
    return f'<div class="cards">{best}{any_card}{counts}</div>'


def _legend(thresholds: bool) -> str:
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


def _failing_zone(t: Threshold, x: _Scale, top: float, height: float) -> str:
    """Shade the side of a threshold line where runs fail it."""
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


def _metric_chart(view: View) -> str:
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
    x = _scale(
        [float(r.metrics[metric]) for r in rows] + [t.value for t in thresholds],
        _LABEL_W,
        _LABEL_W + _PLOT_W,
    )
    title = f"{metric} per run ({direction})"
    desc = (
        f"Dot chart of {metric} for {len(rows)} run(s), best first; filled dots are feasible "
        "runs, crosses are infeasible runs"
        + (
            "; dashed vertical lines mark " + ", ".join(t.label() for t in thresholds)
            if thresholds
            else ""
        )
        + "."
    )
    out = [
        f'<svg viewBox="0 0 {width} {_n(height)}" width="{width}" height="{_n(height)}" '
        f'role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{_e(title)}</title><desc id="chart-desc">{_e(desc)}</desc>',
    ]
    for t in thresholds:
        out.append(_failing_zone(t, x, top, plot_h))
    bottom = top + plot_h
    for tick in x.ticks:
        at = _n(x(tick))
        out.append(f'<line class="grid" x1="{at}" y1="{_n(top)}" x2="{at}" y2="{_n(bottom)}"/>')
        out.append(
            f'<text class="tick" x="{at}" y="{_n(bottom + 16)}" text-anchor="middle">'
            f"{_e(_tick_label(tick))}</text>"
        )
    out.append(
        f'<line class="axis" x1="{_LABEL_W}" y1="{_n(bottom)}" x2="{_LABEL_W + _PLOT_W}" '
        f'y2="{_n(bottom)}"/>'
    )
    out.append(
        f'<text class="tick" x="{_LABEL_W + _PLOT_W / 2:.1f}" y="{_n(bottom + 36)}" '
        f'text-anchor="middle">{_e(metric)} ({direction})</text>'
    )
    for i, row in enumerate(rows):
        out.append(_chart_row(view, row, x, top + i * _ROW_H + _ROW_H / 2))
    for i, t in enumerate(thresholds):
        at = _n(x(t.value))
        label_y = 12.0 + 16.0 * i
        out.append(
            f'<line class="threshold" x1="{at}" y1="{_n(label_y + 4)}" x2="{at}" '
            f'y2="{_n(bottom)}"><title>{_e(t.kind.value)} {_e(t.label())}</title></line>'
        )
        out.append(
            f'<text x="{at}" y="{_n(label_y)}" text-anchor="middle" class="best">'
            f"{_e(t.kind.value)} {_e(t.op.symbol)} {_e(fmt_number(t.value))}</text>"
        )
    out.append("</svg>")
    caption = (
        f"Each run's {metric} ({direction}), best first."
        + "".join(f" {n[:1].upper()}{n[1:]}." for n in notes)
        + ("" if thresholds else f" No threshold or gate on {metric}.")
    )
    return (
        head
        + _legend(bool(thresholds))
        + '<figure><div class="scroll">'
        + "".join(out)
        + f"</div><figcaption>{_e(caption)}</figcaption></figure></section>"
    )


def _chart_row(view: View, row: Row, x: _Scale, y: float) -> str:
    value = float(row.metrics[view.sort_by])
    at = x(value)
    ok = row.feasible
    cls = "ok" if ok else "bad"
    rank = f"#{row.rank} " if row.rank is not None else ""
    tags = _tags(view, row.id)
    status = "feasible" if ok else "infeasible: " + "; ".join(row.failed)
    tip = f"{rank}{row.id} — {view.sort_by} {fmt_number(value)} — {status}"
    mark = (
        f'<circle class="dot ok" cx="{_n(at)}" cy="{_n(y)}" r="5.5"/>'
        if ok
        else f'<path class="dot bad" d="M{_n(at - 5)} {_n(y - 5)}L{_n(at + 5)} {_n(y + 5)}'
        f'M{_n(at - 5)} {_n(y + 5)}L{_n(at + 5)} {_n(y - 5)}"/>'
    )
    label = f"{rank}{_short(row.id)}"
    return (
        f"<g><title>{_e(tip)}</title>"
        f'<text class="id {cls}{" best" if tags else ""}" x="{_LABEL_W - 10}" y="{_n(y + 4)}" '
        f'text-anchor="end">{_e(label)}</text>'
        f'<line class="stem {cls}" x1="{_LABEL_W}" y1="{_n(y)}" x2="{_n(at)}" y2="{_n(y)}"/>'
        f"{mark}"
        f'<text x="{_LABEL_W + _PLOT_W + 10}" y="{_n(y + 4)}">{_e(fmt_number(value))}'
        + (f'<tspan class="tag" dx="8">{_e(" · ".join(tags))}</tspan>' if tags else "")
        + "</text></g>"
    )


def _points(walk: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    return [
        (str(p[0]), float(p[1]), float(p[2]))
        for p in walk["points"]
        if math.isfinite(float(p[1])) and math.isfinite(float(p[2]))
    ]


def _walk_section(view: View) -> str:
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
    x = _scale(values, left, left + size)
    y = _scale(values, top + size, top)
    title = f"{split}/{metric} against {metric}"
    desc = f"Scatter plot of {len(points)} run(s) with the line y = x."
    out = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="walk-title walk-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="walk-title">{_e(title)}</title><desc id="walk-desc">{_e(desc)}</desc>',
    ]
    for tick in x.ticks:
        at = _n(x(tick))
        out.append(f'<line class="grid" x1="{at}" y1="{top}" x2="{at}" y2="{top + size}"/>')
        out.append(
            f'<text class="tick" x="{at}" y="{top + size + 16}" text-anchor="middle">'
            f"{_e(_tick_label(tick))}</text>"
        )
    for tick in y.ticks:
        at = _n(y(tick))
        out.append(f'<line class="grid" x1="{left}" y1="{at}" x2="{left + size}" y2="{at}"/>')
        out.append(
            f'<text class="tick" x="{left - 6}" y="{_n(y(tick) + 4)}" text-anchor="end">'
            f"{_e(_tick_label(tick))}</text>"
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


def _tags(view: View, run_id: str) -> list[str]:
    return [
        tag
        for tag, best in (("best_feasible", view.best_feasible), ("best_any", view.best_any))
        if best == run_id
    ]


def _board_row(view: View, row: Row, cells: Sequence[str], metric_idx: range) -> str:
    pills = "".join(f'<span class="pill">{t}</span>' for t in _tags(view, row.id))
    chips = "".join(f'<span class="chk">{_e(f)}</span>' for f in row.failed)
    tds = [
        f'<td class="num">{_e(cells[0])}</td>',
        f'<th scope="row" class="nowrap"><code>{_e(cells[1])}</code>{pills}</th>',
        f'<td class="nowrap">{_e(cells[2])}</td>',
        '<td class="yes">yes</td>' if row.feasible else '<td class="no">NO</td>',
        *(f'<td class="num">{_e(cells[i])}</td>' for i in metric_idx),
        f"<td>{chips}</td>",
    ]
    return f"<tr{_class('' if row.feasible else 'infeasible')}>{''.join(tds)}</tr>"


def _leaderboard(view: View) -> str:
    head = '<section aria-labelledby="h-board"><h2 id="h-board">Leaderboard</h2>'
    if not view.rows:
        return (
            head + '<p class="muted">No runs (no result with a successful experiment record).'
            "</p></section>"
        )
    rows = view.rows[:MAX_TABLE_ROWS]
    headers, body = leaderboard_cells(rows, view.metric_columns)
    metric_idx = range(4, 4 + len(view.metric_columns))
    ths = []
    for i, h in enumerate(headers):
        sort = i in metric_idx and h == view.sort_by
        cls = " ".join(c for c, on in (("num", i == 0 or i in metric_idx), ("sort", sort)) if on)
        arrow = (" ↓" if view.descending else " ↑") if sort else ""
        ths.append(f'<th scope="col"{_class(cls)}>{_e(h)}{arrow}</th>')
    trs = "".join(
        _board_row(view, row, cells, metric_idx) for row, cells in zip(rows, body, strict=True)
    )
    caption = (
        "Feasible runs ranked first, then infeasible runs (unranked) with the checks they failed."
    )
    note = (
        f'<p class="note">Showing the first {len(rows):,} of {len(view.rows):,} runs; '
        "the full list is in the report.</p>"
        if len(view.rows) > len(rows)
        else ""
    )
    return (
        head
        + f'<div class="scroll"><table><caption>{_e(caption)}</caption>'
        + f"<thead><tr>{''.join(ths)}</tr></thead><tbody>{trs}</tbody></table></div>"
        + note
        + "</section>"
    )


def _findings(view: View) -> str:
    n = len(view.findings)
    head = f'<section aria-labelledby="h-findings"><h2 id="h-findings">Findings ({n:,})</h2>'
    if not n:
        return head + '<p class="muted">No findings.</p></section>'
    items = "".join(
        f'<li><code>{_e(f.location())}</code> <span class="rule">{_e(f.rule)}</span>: '
        f"{_e(f.message)}</li>"
        for f in view.findings[:MAX_FINDINGS]
    )
    more = (
        f'<p class="note">Showing the first {MAX_FINDINGS:,} of {n:,} findings.</p>'
        if n > MAX_FINDINGS
        else ""
    )
    return head + f'<ol class="findings">{items}</ol>{more}</section>'


def _corrections(view: View) -> str:
    """Every declared correction (issue 13): a changed result is shown, never silent."""
    n = len(view.corrections)
    if not n:
        return ""
    items = "".join(
        f"<li><code>{_e(c.path)}</code> <strong>{_e(c.experiment)}</strong> "
        f"<code>{_e(c.change())}</code> by {_e(c.author_name)} &lt;{_e(c.author_email)}&gt; "
        f"at {_e(c.time)}: {_e(c.reason)}</li>"
        for c in view.corrections[:MAX_FINDINGS]
    )
    more = (
        f'<p class="note">Showing the first {MAX_FINDINGS:,} of {n:,} corrections.</p>'
        if n > MAX_FINDINGS
        else ""
    )
    return (
        f'<section aria-labelledby="h-corrections"><h2 id="h-corrections">Corrections ({n:,})'
        f'</h2><ol class="findings">{items}</ol>{more}</section>'
    )


def _policy_change(view: View) -> str:
    """The audited commit's own policy against the one that judged (under --policy-ref)."""
    proposal = view.proposal
    if proposal is None:
        return ""
    head = (
        '<section aria-labelledby="h-policy"><h2 id="h-policy">Policy change '
        "(takes effect after merge)</h2>"
        f'<p class="note">The policy at <code>{_e((view.policy_ref or "-")[:12])}</code> '
        "judged this commit; the commit's own policy is not applied: "
        f"{_e(summary(proposal, view.policy_blob))}.</p>"
    )
    if not proposal.changes:
        return head + "</section>"
    rows = "".join(
        f'<tr><td><span class="eff {_e(c.effect.value)}">{_e(c.effect.value)}</span></td>'
        f"<td><code>{_e(c.where)}</code></td><td>{_e(c.before or '')}</td>"
        f"<td>{_e(c.after or '')}</td></tr>"
        for c in proposal.changes[:MAX_FINDINGS]
    )
    more = (
        f'<p class="note">Showing the first {MAX_FINDINGS:,} of {len(proposal.changes):,} '
        "changes; the full list is in the report.</p>"
        if len(proposal.changes) > MAX_FINDINGS
        else ""
    )
    return (
        head
        + '<div class="scroll"><table><thead><tr><th>Effect</th><th>Setting</th>'
        + f"<th>Before</th><th>After</th></tr></thead><tbody>{rows}</tbody></table></div>"
        + more
        + "</section>"
    )


def render_html(view: View) -> str:
    """The scorecard page for a report: verdict, signature, best runs, charts, table, findings."""
    view = replace(view, rows=tuple(view.rows))  # read several times: made once
    word = "PASS" if view.verdict == "pass" else "FAIL"
    title = f"expflow-git scorecard: {word} — commit {view.commit[:12]}"
    version = f" {view.tool_version}" if view.tool_version else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        _banner(view),
        _cards(view),
        _policy_change(view),
        _metric_chart(view),
        _walk_section(view),
        _leaderboard(view),
        _findings(view),
        _corrections(view),
        _meta(view),
        f"<footer>expflow-git{_e(version)} scorecard of commit <code>{_e(view.commit)}</code>. "
        "Check the report itself with <code>expflow-git verify REPORT</code>; this page is "
        "a rendering, not the proof.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"
