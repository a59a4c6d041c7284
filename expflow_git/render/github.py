"""GitHub Actions workflow-command annotations (`::error file=…,line=…,title=…::…`)."""

from __future__ import annotations

from expflow_git.policydiff import summary as policy_summary
from expflow_git.render.view import View


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(view: View) -> str:
    """One annotation per finding and per infeasible run; GitHub shows the first 10 per step."""
    lines = []
    for f in view.findings:
        props = f"file={_escape_property(f.path)}"
        if f.line is not None:
            props += f",line={f.line}" + (f",col={f.col}" if f.col is not None else "")
        props += f",title={_escape_property('expflow ' + f.rule)}"
        where = f" at {f.pointer}" if f.pointer else ""
        lines.append(f"::error {props}::{_escape_data(f.message + where)}")
    for row in view.rows:
        if not row.feasible:
            props = (
                f"file={_escape_property(row.path)},"
                f"title={_escape_property('expflow infeasible run ' + row.id)}"
            )
            lines.append(f"::warning {props}::{_escape_data('; '.join(row.failed))}")
    if view.proposal is not None and view.proposal.changes:
        # A pull request that loosens the rules is what a reviewer must not miss.
        counts = policy_summary(view.proposal, view.policy_blob)
        lines.append(
            f"::warning title=expflow policy change::{_escape_data(view.policy_path)}: "
            f"{_escape_data(counts)} (takes effect after merge; not applied in this audit)"
        )
    level = "notice" if view.verdict == "pass" else "error"
    summary = (
        f"audit {view.verdict.upper()}: best_feasible {view.best_feasible or '-'}, "
        f"best_any {view.best_any or '-'}; report "
        f"{'signed' if view.signed else 'UNSIGNED'}"
    )
    lines.append(f"::{level} title=expflow-git audit::{_escape_data(summary)}")
    return "\n".join(lines) + "\n"
