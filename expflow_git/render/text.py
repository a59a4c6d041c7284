"""The human-first text form of an audit: verdict, leaderboard, findings."""

from __future__ import annotations

from expflow_git.errors import printable
from expflow_git.render.table import leaderboard_cells, more_rows_note, shown_rows, text_table
from expflow_git.render.view import View


def signature_note(view: View) -> str:
    if view.signed:
        return "signed by " + ", ".join(view.signed_by)
    return "UNSIGNED"


def walk_note(view: View) -> str | None:
    w = view.walk
    if w is None:
        return None
    r = "n/a" if w["r"] is None else f"{w['r']:.4f}"
    text = (
        f"walk-forward: {w['status'].upper()} — Pearson r = {r} between {w['metric']} and "
        f"{w['split']}/{w['metric']} over {w['n']} run(s), needs ≥ {w['minPearson']}"
    )
    return text + (f" ({w['reason']})" if w["reason"] else "")


def render_text(view: View) -> str:
    direction = "higher is better" if view.descending else "lower is better"
    lines = [
        f"expflow-git audit of commit {view.commit[:12]} (tree {view.tree[:12]}), "
        f"policy {view.policy_path}, {view.inputs} document(s)",
        f"verdict: {view.verdict.upper()}"
        + (f" (for experiment {view.focus})" if view.focus else "")
        + f"   report: {signature_note(view)}",
        f"best_any: {view.best_any or '-'}   best_feasible: {view.best_feasible or '-'}   "
        f"(sorted by {view.sort_by}, {direction})",
    ]
    if (note := walk_note(view)) is not None:
        lines.append(note)
    lines.append("")
    if view.rows:
        shown = shown_rows(view.rows, view.focus)
        lines.append(text_table(*leaderboard_cells(shown, view.metric_columns)))
        if (more := more_rows_note(view.rows, shown)) is not None:
            lines.append(f"… {more}")
    else:
        lines.append("no runs (no result with a successful experiment record)")
    if view.corrections:  # declared, so never silent (issue 13)
        lines += ["", f"corrections ({len(view.corrections)}):"]
        lines += [f"  {printable(c.path)}: {printable(c.describe())}" for c in view.corrections]
    if view.findings:
        lines += ["", f"findings ({len(view.findings)}):"]
        lines += [
            f"  {printable(f.location())}: {f.rule}: {printable(f.message)}" for f in view.findings
        ]
    return "\n".join(lines) + "\n"
