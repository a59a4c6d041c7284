"""The human-first text form of an audit: verdict, leaderboard, findings."""

from __future__ import annotations

from expflow_git.errors import printable
from expflow_git.escape import line, terminal_path
from expflow_git.policy.diff import PolicyProposal, summary
from expflow_git.render.attempts import attempts_lines
from expflow_git.render.holdout import budget_note
from expflow_git.render.table import (
    exact_number,
    leaderboard_cells,
    more_rows_note,
    shown_rows,
    text_table,
)
from expflow_git.render.view import View, warned_rows


def signature_note(view: View) -> str:
    """Who signed, only as verified; a signature nobody checked names no one."""
    if view.signed:
        return "signed by " + ", ".join(printable(s) for s in view.signed_by)
    if view.signature_unverified:
        return "signature not verified"
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


MAX_SHOWN_MOVES = 5


def ladder_note(view: View) -> str | None:
    """The Ladder's outcome in one line (None without a ladder): its best run, its released
    score and the runs that moved it (the last few), so a lucky draw is told apart. The
    step and score are spelled as the policy and the report spell them (shortest): with
    12 digits a step of 5e-324 read `4.94065645841e-324`."""
    if view.ladder is None:
        return None
    moves = view.ladder_moves
    shown = " → ".join(moves[-MAX_SHOWN_MOVES:])
    if len(moves) > MAX_SHOWN_MOVES:
        shown = "… → " + shown
    score = exact_number(view.ladder["score"])  # (`-` for none)
    return (
        f"best_ladder: {view.best_ladder or '-'} — {view.sort_by} {score} on the ladder "
        f"(step {exact_number(view.ladder['step'])}; moved {len(moves)} time(s)"
        + (f": {shown})" if moves else ")")
    )


def policy_note(view: View) -> str:
    """Which policy judged: its path, and the commit it was read at under --policy-ref."""
    where = f" at {view.policy_ref[:12]} (--policy-ref)" if view.policy_ref else ""
    return f"policy {printable(view.policy_path)}{where}"


POLICY_CHANGE_TITLE = "policy change in this commit (takes effect after merge, not applied here)"


def policy_change_lines(proposal: PolicyProposal | None, judged_blob: str) -> list[str]:
    """The audited commit's own policy against the one that judged (under --policy-ref)."""
    if proposal is None:
        return []
    lines = [f"{POLICY_CHANGE_TITLE}: {summary(proposal, judged_blob)}"]
    lines += [
        f"  {c.effect.value.upper():<9} {printable(c.where)}: {printable(c.describe())}"
        for c in proposal.changes
    ]
    return lines


def render_text(view: View) -> str:
    direction = "higher is better" if view.descending else "lower is better"
    lines = [
        f"expflow-git audit of commit {view.commit[:12]} (tree {view.tree[:12]}), "
        f"{policy_note(view)}, {view.inputs} document(s)",
        f"verdict: {view.verdict.upper()} ({line(view.scope)})   report: {signature_note(view)}",
        f"best_any: {view.best_any or '-'}   best_feasible: {view.best_feasible or '-'}   "
        f"(sorted by {view.sort_by}, {direction})",
    ]
    if (note := ladder_note(view)) is not None:
        lines.append(note)
    if (note := walk_note(view)) is not None:
        lines.append(note)
    if warned := warned_rows(view.rows):
        lines.append(f"warnings: {warned} run(s) fail an advisory check (not counted against them)")
    if (note := budget_note(view.holdout)) is not None:
        lines.append(note)
    lines += policy_change_lines(view.proposal, view.policy_blob)
    lines.append("")
    if view.rows:
        shown = shown_rows(view.rows, view.focus)
        # The table's rows are escaped already and hold no line break of their own.
        lines += text_table(*leaderboard_cells(shown, view.metric_columns)).split("\n")
        if (more := more_rows_note(view.rows, shown)) is not None:
            lines.append(f"… {more}")
    else:
        lines.append("no runs (no result with a successful experiment record)")
    if view.attempts:  # every attempt counted, not only the ranked ones (issue 16)
        lines += ["", *attempts_lines(view.attempts)]
    if view.corrections:  # declared, so never silent (issue 13)
        lines += ["", f"corrections ({len(view.corrections)}):"]
        lines += [f"  {terminal_path(c.path)}: {printable(c.describe())}" for c in view.corrections]
    if view.findings:
        lines += ["", f"findings ({len(view.findings)}):"]
        lines += [f"  {f.location()}: {f.rule}: {f.message}" for f in view.findings]
    # Each line is escaped whole, after it is built: whatever the report or the
    # repository put in it stays on it and cannot read as a workflow command.
    return "\n".join(map(line, lines)) + "\n"
