"""A Markdown summary fit for $GITHUB_STEP_SUMMARY and pull-request comments."""

from __future__ import annotations

from expflow_git.escape import markdown, markdown_code
from expflow_git.policy.diff import summary
from expflow_git.render.attempts import attempts_markdown
from expflow_git.render.holdout import budget_note
from expflow_git.render.table import leaderboard_cells, md_table, more_rows_note, shown_rows
from expflow_git.render.text import ladder_note, signature_note, walk_note
from expflow_git.render.view import View

# GitHub refuses step summaries over 1 MiB; stay well under it.
MAX_SUMMARY_BYTES = 1000 * 1024


def render_markdown(view: View) -> str:
    """The summary; every string from the report is Markdown-escaped (expflow_git.escape), a
    path or an id as a code span that nothing inside it can close."""
    icon = "✅" if view.verdict == "pass" else "❌"
    lines = [
        f"## {icon} expflow-git audit: {view.verdict.upper()}",
        "",
        f"- verdict covers: {markdown(view.scope)}",
        f"- commit {markdown_code(view.commit[:12])}, policy {markdown_code(view.policy_path)}"
        + (f" from {markdown_code(view.policy_ref[:12])} (--policy-ref)" if view.policy_ref else "")
        + f", {view.inputs} document(s)",
        f"- report: **{markdown(signature_note(view))}**",
        f"- best_any: {markdown_code(view.best_any or '-')} · "
        f"best_feasible: {markdown_code(view.best_feasible or '-')}",
    ]
    if (note := ladder_note(view)) is not None:
        lines.append(f"- {markdown(note)}")
    if (note := walk_note(view)) is not None:
        lines.append(f"- {markdown(note)}")
    if warned := sum(1 for r in view.rows if r.warnings):
        lines.append(
            f"- ⚠️ {warned} run(s) fail an advisory check (warnings: reported, not blocking)"
        )
    if (note := budget_note(view.holdout)) is not None:
        lines.append(f"- {markdown(note)}")
    lines += _policy_change(view)
    lines += ["", "### Leaderboard", ""]
    shown = shown_rows(view.rows, view.focus)
    lines.append(md_table(*leaderboard_cells(shown, view.metric_columns)) if shown else "_no runs_")
    if (more := more_rows_note(view.rows, shown)) is not None:
        lines.append(f"\n_{more}_")
    lines += attempts_markdown(view.attempts)  # every attempt counted (issue 16)
    if view.corrections:  # declared, so never silent (issue 13)
        lines += ["", f"### Corrections ({len(view.corrections)})", ""]
        lines += [f"- {markdown(c.path)}: {markdown(c.describe())}" for c in view.corrections]
    if view.findings:
        lines += ["", f"### Findings ({len(view.findings)})", ""]
        lines += [
            f"- {markdown_code(f.location())} **{markdown(f.rule)}**: {markdown(f.message)}"
            for f in view.findings
        ]
    return truncate("\n".join(lines) + "\n")


def _policy_change(view: View) -> list[str]:
    """The audited commit's own policy against the one that judged (under --policy-ref)."""
    proposal = view.proposal
    if proposal is None:
        return []
    lines = [
        "",
        "### Policy change (takes effect after merge)",
        "",
        f"The policy at `{view.policy_ref[:12] if view.policy_ref else '-'}` judged this "
        f"commit; the commit's own policy is not applied: "
        f"{markdown(summary(proposal, view.policy_blob))}.",
    ]
    if proposal.changes:
        lines.append("")
        lines += [
            f"- **{c.effect.value}** {markdown(c.where)}: {markdown(c.describe())}"
            for c in proposal.changes
        ]
    return lines


def truncate(text: str, limit: int = MAX_SUMMARY_BYTES) -> str:
    """Cut at a line boundary under `limit` bytes, with a note saying so."""
    data = text.encode()
    if len(data) <= limit:
        return text
    cut = data[: limit - 200].decode("utf-8", "ignore")
    cut = cut[: cut.rfind("\n") + 1]
    return cut + "\n_… summary truncated to stay under GitHub's 1 MiB limit; see the report._\n"
