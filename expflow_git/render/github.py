"""GitHub Actions workflow-command annotations (`::error file=…,line=…,title=…::…`)."""

from __future__ import annotations

from expflow_git.audit.attempts import attempts_note
from expflow_git.errors import masked_path
from expflow_git.escape import github_data, github_path, github_property
from expflow_git.policy.diff import summary as policy_summary
from expflow_git.render.attempts import clipped
from expflow_git.render.view import View

# GitHub shows 10 error and 10 warning annotations of a step, 50 of a job: past this
# many findings (and as many runs), one more annotation counts the rest. A result that
# broke its schema at every point made 349,460 `::error` lines.
MAX_ANNOTATIONS = 50
# The corrected runs the corrections' annotation names, with their reasons.
MAX_CORRECTIONS_NAMED = 5


def render_github(view: View) -> str:
    """The verdict, then what a reviewer must not miss, then one annotation per finding and
    per infeasible run. GitHub shows only the first 10 errors and 10 warnings of a step,
    in the order printed: the verdict and a policy change come first, so that no number
    of findings or infeasible runs (a pull request's to make) can push them out of sight.
    The corrections in the tree are one notice, second among the notices: a declared
    correction is never silent (issue 13), the job summary aside.
    The first MAX_ANNOTATIONS findings and as many such runs are annotated, and one more
    annotation counts the rest of each (the text form that follows lists every finding).

    Every string from the repository or the report is escaped (expflow_git.escape): it can
    neither end the annotation's line nor add a property."""
    level = "notice" if view.verdict == "pass" else "error"
    signature = (
        "signed"
        if view.signed
        else "signature not verified"
        if view.signature_unverified
        else "UNSIGNED"
    )
    summary = (
        f"audit {view.verdict.upper()} ({view.scope}): best_feasible "
        f"{view.best_feasible or '-'}, best_any {view.best_any or '-'}"
        + (f", best_ladder {view.best_ladder or '-'}" if view.ladder is not None else "")
        + f"; report {signature}"
    )
    lines = [f"::{level} title=expflow-git audit::{github_data(summary)}"]
    if view.proposal is not None and view.proposal.changes:
        # A pull request that loosens the rules is what a reviewer must not miss.
        counts = policy_summary(view.proposal, view.policy_blob)
        lines.append(
            f"::warning title=expflow policy change::{github_data(view.policy_path)}: "
            f"{github_data(counts)} (takes effect after merge; not applied in this audit)"
        )
    if view.corrections:  # declared, so never silent (issue 13): not only in the summary
        lines.append(f"::notice title=expflow corrections::{github_data(_corrections_note(view))}")
    if view.attempts:  # every attempt counted (issue 16): the board is not all there is
        lines.append(
            f"::notice title=expflow attempts::{github_data(attempts_note(view.attempts))}"
        )
    for f in view.findings[:MAX_ANNOTATIONS]:
        props = f"file={github_path(masked_path(f.path))}"
        if f.line is not None:
            props += f",line={f.line}" + (f",col={f.col}" if f.col is not None else "")
        props += f",title={github_property('expflow ' + f.rule)}"
        where = f" at {f.pointer}" if f.pointer else ""
        lines.append(f"::error {props}::{github_data(f.message + where)}")
    if len(view.findings) > MAX_ANNOTATIONS:
        more = len(view.findings) - MAX_ANNOTATIONS
        lines.append(
            f"::error title=expflow findings::{more:,} more finding(s) of "
            f"{len(view.findings):,}, not annotated: the text below lists every finding"
        )
    flagged = [row for row in view.rows if not row.feasible or row.warnings]
    for row in flagged[:MAX_ANNOTATIONS]:
        what = "infeasible run " if not row.feasible else "advisory check failed by run "
        props = (
            f"file={github_path(masked_path(row.path))},"
            f"title={github_property('expflow ' + what + row.id)}"
        )
        lines.append(f"::warning {props}::{github_data(row.checks_note)}")
    if len(flagged) > MAX_ANNOTATIONS:
        more = len(flagged) - MAX_ANNOTATIONS
        lines.append(
            f"::warning title=expflow runs::{more:,} more run(s) infeasible or failing an "
            "advisory check, not annotated"
        )
    return "\n".join(lines) + "\n"


def _corrections_note(view: View) -> str:
    """`N correction(s) …` naming the first corrected runs, each with its reason clipped as
    the summary clips it (unescaped)."""
    n = len(view.corrections)
    named = "; ".join(
        f"{c.experiment!r} {'deleted' if c.blob is None else 'corrected'} ({clipped(c.reason)})"
        for c in view.corrections[:MAX_CORRECTIONS_NAMED]
    )
    more = f" and {n - MAX_CORRECTIONS_NAMED:,} more" if n > MAX_CORRECTIONS_NAMED else ""
    return (
        f"{n:,} correction(s) of committed results declared in the tree: {named}{more}; "
        "the job summary and the report list each with its reason"
    )
