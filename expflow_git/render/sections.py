"""The scorecard's sections about the runs behind the leaderboard (issue 16): every
attempt counted per study, the runs left off the board with their reason, and the
params that differ between the top runs. Escaped, deterministic, no script."""

from __future__ import annotations

import json
from collections import Counter

from expflow_git.audit.attempts import STATUSES, attempts_note
from expflow_git.audit.params import TOP_RUNS
from expflow_git.documents import Scalar
from expflow_git.render.attempts import NO_REASON, excluded_count, excluded_runs
from expflow_git.render.markup import css_class as _class
from expflow_git.render.markup import esc as _e
from expflow_git.render.markup import name as _name
from expflow_git.render.markup import short as _short
from expflow_git.render.view import View

MAX_EXCLUDED_ROWS = 1000
MAX_VALUE_CHARS = 120  # a param value shown in a cell; the whole value is in its title


def attempts_section(view: View) -> str:
    """Every record per study and status, how many of them are on the leaderboard, and
    the runs left out with their reason."""
    if not view.attempts:
        return ""
    total = sum(a.total for a in view.attempts)
    on_board = Counter(r.study for r in view.rows)
    head_cells = ["Study", "Records", *(s.value for s in STATUSES), "On the board"]
    ths = "".join(
        f'<th scope="col"{_class("" if i == 0 else "num")}>{_e(h)}</th>'
        for i, h in enumerate(head_cells)
    )
    body = "".join(
        f'<tr><th scope="row" class="study">{_e(a.study)}</th><td class="num">{a.total:,}</td>'
        + "".join(
            f'<td class="num{" zero" if not a.counts[s.value] else ""}">{a.counts[s.value]:,}</td>'
            for s in STATUSES
        )
        + f'<td class="num">{on_board.get(a.study, 0):,}</td></tr>'
        for a in view.attempts
    )
    caption = (
        "Every record of the commit, by study and status: the leaderboard ranks only "
        "successful runs with a valid result."
    )
    return (
        '<section aria-labelledby="h-attempts">'
        f'<h2 id="h-attempts">Every attempt ({total:,})</h2>'
        f'<p class="note">{_e(attempts_note(view.attempts))}.</p>'
        f'<table class="fit"><caption>{_e(caption)}</caption><thead><tr>{ths}</tr></thead>'
        f"<tbody>{body}</tbody></table>" + _excluded(view) + "</section>"
    )


def _excluded(view: View) -> str:
    n = excluded_count(view.attempts)
    if not n:
        return '<p class="note">Every run succeeded: none is left off the board.</p>'
    rows: list[str] = []
    for e in excluded_runs(view.attempts):
        if len(rows) == MAX_EXCLUDED_ROWS:
            break
        reason = _e(e.reason) if e.reason else f'<span class="muted">{NO_REASON}</span>'
        rows.append(
            f'<tr><th scope="row" class="id"><code>{_e(e.id)}</code></th>'
            f'<td class="study">{_e(e.study)}</td>'
            f'<td><span class="st {_e(e.status)}">{_e(e.status)}</span></td>'
            f"<td>{reason}</td></tr>"
        )
    more = (
        f'<p class="note">Showing the first {len(rows):,} of {n:,} excluded runs; '
        "the report lists every one.</p>"
        if n > len(rows)
        else ""
    )
    return (
        f'<h3 id="h-excluded">Excluded from the ranking ({n:,})</h3>'
        '<table class="fit"><thead><tr><th scope="col">Run</th><th scope="col">Study</th>'
        '<th scope="col">Status</th><th scope="col">Reason</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


def _param_cell(value: Scalar | None, present: bool) -> str:
    if not present:
        return '<td class="muted">(not set)</td>'
    # A value as its record spells it: a string in quotes, so "5" and 5 look different.
    text = json.dumps(value, ensure_ascii=False)
    shown = _short(text, MAX_VALUE_CHARS)
    title = f' title="{_e(text)}"' if shown != text else ""
    return f"<td{title}><code>{_e(shown)}</code></td>"


def params_section(view: View) -> str:
    """The params that differ between the top runs, one row per param."""
    top = view.top_params
    if top is None:
        return ""
    head = (
        '<section aria-labelledby="h-params"><h2 id="h-params">'
        "What differs between the top runs</h2>"
    )
    same = f"{top.same:,} param(s) are the same in all of them."
    with_any = view.best_any in top.runs[TOP_RUNS:]
    first = len(top.runs) - (1 if with_any else 0)
    intro = (
        f'<p class="note">The first {first} runs of the leaderboard'
        + (" and best_any" if with_any else "")
        + f"; {_e(same)}</p>"
    )
    if not top.differ:
        return head + intro + '<p class="muted">No param differs between them.</p></section>'
    ths = "".join(f'<th scope="col"><code>{_e(r)}</code></th>' for r in top.runs)
    rows = "".join(
        f'<tr><th scope="row" class="id"><code>{_name(name)}</code></th>'
        + "".join(_param_cell(values.get(r), r in values) for r in top.runs)
        + "</tr>"
        for name, values in top.differ.items()
    )
    return (
        head
        + intro
        + '<table class="fit params"><thead><tr><th scope="col">Param</th>'
        + f"{ths}</tr></thead><tbody>{rows}</tbody></table></section>"
    )
