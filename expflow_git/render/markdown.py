"""A Markdown summary fit for $GITHUB_STEP_SUMMARY and pull-request comments."""

from __future__ import annotations

from expflow_git.render.table import (
    leaderboard_cells,
    md_escape,
    md_table,
    more_rows_note,
    shown_rows,
)
from expflow_git.render.text import signature_note, walk_note
from expflow_git.render.view import View

# GitHub refuses step summaries over 1 MiB; stay well under it.
MAX_SUMMARY_BYTES = 1000 * 1024


def render_markdown(view: View) -> str:
    icon = "✅" if view.verdict == "pass" else "❌"
    lines = [
        f"## {icon} expflow-git audit: {view.verdict.upper()}",
        "",
        f"- commit `{view.commit[:12]}`, policy `{md_escape(view.policy_path)}`, "
        f"{view.inputs} document(s)",
        f"- report: **{signature_note(view)}**",
        f"- best_any: `{view.best_any or '-'}` · best_feasible: `{view.best_feasible or '-'}`",
    ]
    if (note := walk_note(view)) is not None:
        lines.append(f"- {md_escape(note)}")
    lines += ["", "### Leaderboard", ""]
    shown = shown_rows(view.rows, view.focus)
    lines.append(md_table(*leaderboard_cells(shown, view.metric_columns)) if shown else "_no runs_")
    if (more := more_rows_note(view.rows, shown)) is not None:
        lines.append(f"\n_{more}_")
    if view.corrections:  # declared, so never silent (issue 13)
        lines += ["", f"### Corrections ({len(view.corrections)})", ""]
        lines += [f"- {_quiet(c.path)}: {_quiet(c.describe())}" for c in view.corrections]
    if view.findings:
        lines += ["", f"### Findings ({len(view.findings)})", ""]
        lines += [
            f"- `{md_escape(f.location())}` **{md_escape(f.rule)}**: {md_escape(f.message)}"
            for f in view.findings
        ]
    return truncate("\n".join(lines) + "\n")


def _quiet(text: str) -> str:
    """Escaped, and no `@name` that would notify someone from a pull request's text."""
    return md_escape(text).replace("@", "\\@")


def truncate(text: str, limit: int = MAX_SUMMARY_BYTES) -> str:
    """Cut at a line boundary under `limit` bytes, with a note saying so."""
    data = text.encode()
    if len(data) <= limit:
        return text
    cut = data[: limit - 200].decode("utf-8", "ignore")
    cut = cut[: cut.rfind("\n") + 1]
    return cut + "\n_… summary truncated to stay under GitHub's 1 MiB limit; see the report._\n"
