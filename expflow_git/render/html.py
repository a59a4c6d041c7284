"""The HTML scorecard: one self-contained page (inline CSS and SVG; no script, no network).

Everything that comes from the report is escaped. The page is a pure function of
the View: the same report always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from expflow_git.audit.attempts import by_status
from expflow_git.escape import terminal_path
from expflow_git.policy.diff import summary
from expflow_git.render.charts import best_tags, metric_chart
from expflow_git.render.curves import curves_section
from expflow_git.render.holdout import holdout_section
from expflow_git.render.markup import css_class as _class
from expflow_git.render.markup import esc as _e
from expflow_git.render.markup import name
from expflow_git.render.numbers import exact_title, readable_column
from expflow_git.render.sections import attempts_section, params_section
from expflow_git.render.text import ladder_note, signature_note
from expflow_git.render.view import WARNING_MARK, Row, View, fmt_number
from expflow_git.render.walkchart import walk_section

MAX_TABLE_ROWS = 1000
MAX_FINDINGS = 1000

# The page's style sheet (inline in the page: no network); the style element's text
# starts on a line of its own.
_CSS = "\n" + (Path(__file__).parent / "scorecard.css").read_text(encoding="utf-8")


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
        f"{_e(view.created_at)} · verdict covers: {_e(view.scope)}</p>"
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
    warned = sum(1 for r in view.rows if r.warnings)
    records = sum(a.total for a in view.attempts)
    # Every attempt counted (issue 16): the board's runs out of every record.
    of = (
        f"<p>on the board, of {records:,} record(s): {_e(by_status(view.attempts))}</p>"
        if view.attempts
        else ""
    )
    counts = (
        f'<div class="card"><h3>Runs</h3><div class="big">{len(view.rows):,}</div>{of}'
        f"<p>{feasible:,} feasible · {len(view.rows) - feasible:,} infeasible · "
        f"{len(view.findings):,} finding(s)"
        + (f" · {warned:,} with warnings" if warned else "")
        + "</p></div>"
    )
    return f'<div class="cards">{best}{any_card}{_ladder_card(view)}{counts}</div>'


def _ladder_card(view: View) -> str:
    """The Ladder's best run (ranking.ladder_step): only with a ladder."""
    note = ladder_note(view)
    if note is None:
        return ""
    return (
        '<div class="card"><h3>best_ladder</h3>'
        f'<div class="big mono">{_e(view.best_ladder or "none")}</div><p>{_e(note)}</p></div>'
    )


def _metric_cell(value: float | None, shown: str) -> str:
    title = exact_title(value, shown)
    attr = f' title="{_e(title)}"' if title else ""
    return f'<td class="num"{attr}>{_e(shown)}</td>'


def _board_row(view: View, row: Row, columns: Sequence[Mapping[float | None, str]]) -> str:
    """A run's row, and under an infeasible run's a row with the checks it failed: the
    table stays as wide as its metrics, however long the reasons (nothing clipped)."""
    pills = "".join(f'<span class="pill">{t}</span>' for t in best_tags(view, row.id))
    values = [row.metrics.get(m) for m in view.metric_columns]
    tds = [
        f'<td class="num">{row.rank if row.rank is not None else "-"}</td>',
        f'<th scope="row" class="id"><code>{_e(row.id)}</code>{pills}</th>',
        f'<td class="study">{_e(row.study)}</td>',
        '<td class="yes">yes</td>' if row.feasible else '<td class="no">NO</td>',
        *(_metric_cell(v, col[v]) for v, col in zip(values, columns, strict=True)),
    ]
    line = f"<tr{_class('' if row.feasible else 'infeasible')}>{''.join(tds)}</tr>"
    if not row.failed and not row.warnings:
        return line
    chips = "".join(f'<span class="chk">{_e(f)}</span>' for f in row.failed)
    chips += "".join(
        f'<span class="chk warn">{_e(WARNING_MARK + " " + w)}</span>' for w in row.warnings
    )
    span = 4 + len(view.metric_columns)
    label = "failed:" if row.failed else "advisory:"
    return (
        line + f'<tr class="why"><td colspan="{span}"><span class="muted">{label}</span> '
        f"{chips}</td></tr>"
    )


def _leaderboard(view: View) -> str:
    head = '<section aria-labelledby="h-board"><h2 id="h-board">Leaderboard</h2>'
    if not view.rows:
        return (
            head + '<p class="muted">No runs (no result with a successful experiment record).'
            "</p></section>"
        )
    rows = view.rows[:MAX_TABLE_ROWS]
    columns = [readable_column([r.metrics.get(m) for r in rows]) for m in view.metric_columns]
    ths = ['<th scope="col" class="num flag">rank</th>', '<th scope="col">id</th>']
    ths += ['<th scope="col">study</th>', '<th scope="col" class="flag">feasible</th>']
    for m in view.metric_columns:
        sort = m == view.sort_by
        arrow = (" ↓" if view.descending else " ↑") if sort else ""
        ths.append(f'<th scope="col"{_class("num sort" if sort else "num")}>{name(m)}{arrow}</th>')
    trs = "".join(_board_row(view, row, columns) for row in rows)
    caption = (
        "Feasible runs ranked first, then infeasible runs (unranked), each with the checks "
        "it failed on the line below. Large numbers are rounded: the exact value is in "
        "each cell's tooltip."
    )
    notes = []
    if len(view.rows) > len(rows):
        notes.append(
            f"Showing the first {len(rows):,} of {len(view.rows):,} runs; "
            "the full list is in the report."
        )
    hidden = _hidden_metrics(view)
    if hidden:
        notes.append(
            f"Showing {len(view.metric_columns)} of {len(view.metric_columns) + hidden} "
            "metrics (the ranking metric, its tie-breaks, then by name); every value is in "
            "the report."
        )
    return (
        head
        + f'<table class="fit board"><caption>{_e(caption)}</caption>'
        + f"<thead><tr>{''.join(ths)}</tr></thead><tbody>{trs}</tbody></table>"
        + "".join(f'<p class="note">{_e(n)}</p>' for n in notes)
        + "</section>"
    )


def _hidden_metrics(view: View) -> int:
    """How many metrics the runs have that the table has no column for."""
    seen: set[str] = set()
    for r in view.rows:
        seen.update(r.metrics)
    return len(seen - set(view.metric_columns))


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
        f"<li><code>{_e(terminal_path(c.path))}</code> <strong>{_e(c.experiment)}</strong> "
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
        + '<table class="fit"><thead><tr><th>Effect</th><th>Setting</th>'
        + f"<th>Before</th><th>After</th></tr></thead><tbody>{rows}</tbody></table>"
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
        metric_chart(view),
        walk_section(view),
        holdout_section(view.holdout),
        curves_section(view),
        _leaderboard(view),
        params_section(view),
        attempts_section(view),
        _findings(view),
        _corrections(view),
        _meta(view),
        f"<footer>expflow-git{_e(version)} scorecard of commit <code>{_e(view.commit)}</code>. "
        "Check the report itself with <code>expflow-git verify REPORT</code>; this page is "
        "a rendering, not the proof.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"
