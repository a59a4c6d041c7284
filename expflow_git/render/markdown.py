"""A Markdown summary fit for $GITHUB_STEP_SUMMARY and pull-request comments."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from expflow_git.escape import markdown, markdown_code, terminal_path
from expflow_git.policy.diff import summary
from expflow_git.render.attempts import attempts_markdown, clipped
from expflow_git.render.holdout import budget_note
from expflow_git.render.table import leaderboard_cells, md_table, more_rows_note, shown_rows
from expflow_git.render.text import ladder_note, signature_note, walk_note
from expflow_git.render.view import View

# GitHub refuses step summaries over 1 MiB; stay well under it.
MAX_SUMMARY_BYTES = 1000 * 1024
# The policy change, the findings and the corrections come before the leaderboard and
# the runs, each listed within this many bytes (then a count of the rest): together they
# always fit, whatever else a pull request makes long (issue 13: a correction is never
# silent). The truncation cuts only what follows them.
SECTION_BYTES = MAX_SUMMARY_BYTES // 4
# The characters of a finding's message, and of the holdout budget's line, shown (the
# report holds them whole).
MAX_MESSAGE_SHOWN = 1000


def render_markdown(view: View, footer: str = "") -> str:
    """The summary; every string from the report is Markdown-escaped (expflow_git.escape), a
    path or an id as a code span that nothing inside it can close.

    What decides the verdict and what was declared come first (the policy change, the
    findings, the corrections), each within SECTION_BYTES; then the leaderboard and every
    attempt, which the truncation to GitHub's limit may cut; then `footer` (Markdown, the
    caller's), which it never cuts."""
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
    # Each line before the findings to MAX_MESSAGE_SHOWN characters, as a finding's: the
    # walk-forward's split is the judging policy's free text, named twice in its line, and
    # a policy's split of 300,000 characters pushed every finding past GitHub's cap.
    if (note := ladder_note(view)) is not None:
        lines.append(f"- {markdown(clipped(note, MAX_MESSAGE_SHOWN))}")
    if (note := walk_note(view)) is not None:
        lines.append(f"- {markdown(clipped(note, MAX_MESSAGE_SHOWN))}")
    if warned := sum(1 for r in view.rows if r.warnings):
        lines.append(
            f"- ⚠️ {warned} run(s) fail an advisory check (warnings: reported, not blocking)"
        )
    # (a count per study: the list clipped, the count in all studies kept)
    if (note := budget_note(view.holdout, MAX_MESSAGE_SHOWN)) is not None:
        lines.append(f"- {markdown(note)}")
    lines += _policy_change(view)
    if view.findings:
        lines += ["", f"### Findings ({len(view.findings):,})", ""]
        lines += _listed(
            (
                f"- {markdown_code(f.location())} **{markdown(f.rule)}**: "
                f"{markdown(clipped(f.message, MAX_MESSAGE_SHOWN))}"
                for f in view.findings
            ),
            len(view.findings),
        )
    if view.corrections:  # declared, so never silent (issue 13)
        lines += ["", f"### Corrections ({len(view.corrections):,})", ""]
        lines += _listed(
            (
                f"- {markdown_code(terminal_path(c.path))}: "
                f"{markdown(dataclasses.replace(c, reason=clipped(c.reason)).describe())}"
                for c in view.corrections
            ),
            len(view.corrections),
        )
    lines += ["", "### Leaderboard", ""]
    shown = shown_rows(view.rows, view.focus)
    lines.append(md_table(*leaderboard_cells(shown, view.metric_columns)) if shown else "_no runs_")
    if (more := more_rows_note(view.rows, shown)) is not None:
        lines.append(f"\n_{more}_")
    lines += attempts_markdown(view.attempts)  # every attempt counted (issue 16)
    return truncate("\n".join(lines) + "\n", footer)


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
        lines += _listed(
            (
                f"- **{c.effect.value}** {markdown(c.where)}: {markdown(c.describe())}"
                for c in proposal.changes
            ),
            len(proposal.changes),
        )
    return lines


def _listed(items: Iterable[str], n: int, budget: int = SECTION_BYTES) -> list[str]:
    """The first of `n` list items that fit in `budget` bytes, then a line counting the
    rest. Lazily: an item past the budget is never rendered."""
    lines: list[str] = []
    used = 0
    for line in items:
        used += len(line.encode()) + 1
        if used > budget:
            break
        lines.append(line)
    if len(lines) < n:
        lines.append(f"- _… {n - len(lines):,} more of {n:,}: the report lists every one_")
    return lines


def truncate(text: str, footer: str = "", limit: int | None = None) -> str:
    """`text` then `footer`, under `limit` bytes (MAX_SUMMARY_BYTES): when both do not fit,
    `text` is cut at a line boundary, with a note saying so, and the footer is kept whole."""
    room = (MAX_SUMMARY_BYTES if limit is None else limit) - len(footer.encode())
    data = text.encode()
    if len(data) <= room:
        return text + footer
    cut = data[: room - 200].decode("utf-8", "ignore")
    cut = cut[: cut.rfind("\n") + 1]
    return (
        cut
        + "\n_… summary truncated to stay under GitHub's 1 MiB limit; see the report._\n"
        + footer
    )
