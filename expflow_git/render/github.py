"""GitHub Actions workflow-command annotations (`::error file=…,line=…,title=…::…`)."""

from __future__ import annotations

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
    level = "notice" if view.verdict == "pass" else "error"
    signature = (
        "signed"
        if view.signed
        else "signature not verified"
        if view.signature_unverified
        else "UNSIGNED"
    )
    summary = (
        f"audit {view.verdict.upper()}: best_feasible {view.best_feasible or '-'}, "
        f"best_any {view.best_any or '-'}; report {signature}"
    )
    lines.append(f"::{level} title=expflow-git audit::{_escape_data(summary)}")
    return "\n".join(lines) + "\n"
