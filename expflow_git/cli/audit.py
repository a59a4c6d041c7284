"""The audit of a commit: `rank`, `audit` (the signed report), `diff`, and `demo`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from expflow_git.cli.console import (
    PROG,
    echo,
    emit,
    err,
    fail,
    for_terminal,
    progress_bar,
    refuse_empty,
    shown_argument,
    stdout,
    warn,
)
from expflow_git.cli.options import (
    Folder,
    Tolerance,
    columns_option,
    format_option,
    policy_option,
    policy_ref_option,
    repo,
    rev_option,
    where_option,
)
from expflow_git.errors import ExitCode, printable, utf8_argument

if TYPE_CHECKING:
    from collections.abc import Sequence

    from expflow_git.audit.pipeline import TreeCheck
    from expflow_git.gitstore import Git
    from expflow_git.report.signing import SigningKey

# The formats a terminal or a CI log shows, masked as `for_terminal` masks them; JSON,
# CSV, Markdown and SARIF are data, printed as the repository has them.
TERMINAL = frozenset({"text", "table", "github"})


@click.command()
@rev_option
@click.option("--sort-by", metavar="METRIC", help="Rank by this metric instead of ranking.sort_by.")
@click.option(
    "--ascending/--descending",
    "ascending",
    default=None,
    help="Sort direction (default: the policy's ranking.order for its sort metric, else "
    "the metric's higher_is_better).",
)
@click.option(
    "--gate", "gates", multiple=True, metavar="M:OP:V", help="An extra gate (repeatable)."
)
@click.option(
    "--warn",
    "warns",
    multiple=True,
    metavar="M:OP:V",
    help="An extra advisory gate: reported, never makes a run infeasible (repeatable).",
)
@click.option("--study", help="Only runs of this study.")
@click.option(
    "--tag", "tags", multiple=True, help="Only runs with this tag (repeatable: all of them)."
)
@click.option("--top", type=click.IntRange(1), help="Show at most N rows.")
@where_option
@columns_option
@format_option("table", "json", "md", "csv")
@policy_option
@policy_ref_option
def rank(
    rev: str,
    sort_by: str | None,
    ascending: bool | None,
    gates: tuple[str, ...],
    warns: tuple[str, ...],
    study: str | None,
    tags: tuple[str, ...],
    top: int | None,
    where_text: str | None,
    columns: str | None,
    fmt: str,
    policy_path: str | None,
    policy_ref: str | None,
) -> None:
    """Compare scores: a gated leaderboard from committed files.

    Feasible runs come first, ranked 1..k; then the infeasible ones, with the checks they failed.
    Exit 1 when no run is feasible.
    """
    from expflow_git import api
    from expflow_git.cli.queries import (
        check_columns,
        note_unknown_study,
        option_errors,
        parse_columns,
        parse_where,
    )
    from expflow_git.policy.model import policy_in_commit
    from expflow_git.render.rank import best_line, render_rank

    where, fields = parse_where(where_text), parse_columns(columns)
    git = repo()
    with option_errors("--where"):
        ranked = api.rank(
            git,
            rev,
            policy_path=policy_in_commit(policy_path, git.root),
            policy_ref=policy_ref,
            sort_by=sort_by,
            ascending=ascending,
            gates=[*gates, *({"gate": w, "severity": "warning"} for w in warns)],
            study=study,
            tags=tags,
            top=top,
            where=where,
            details=fmt == "json" or bool(fields),
            warn=lambda message: warn(message, command="rank"),
        )
    check_columns(ranked.check.policy, fields)
    if ranked.check.findings:
        warn(
            f"{len(ranked.check.findings)} problem(s) in the committed documents; "
            "run `expflow-git audit` for details",
            command="rank",
        )
    _policy_change_note(ranked.check)
    board = render_rank(
        ranked.board, ranked.rows, ranked.ranking, fmt, ranked.runs, fields, ranked.attempts
    )
    emit(for_terminal(board) if fmt == "table" else board)
    if fmt == "table":
        emit(for_terminal(best_line(ranked.board)))
    studies = sorted({e.study for e in ranked.check.experiments})
    if study is not None and study not in studies:
        note_unknown_study(study, studies, "rank")
    elif where is not None and not ranked.board.runs:
        warn("no ranked run matches --where", command="rank")
    # Exit 1 when no run is feasible (docs/spec.md §6.2), as the audit's verdict counts
    # them: a feasible run without the sort metric is unranked, not infeasible.
    if not any(run.verdict.feasible for run in ranked.board.runs):
        raise SystemExit(ExitCode.FAILED)


def _previous(
    path: str | None,
    git: Git,
    rev: str,
    key: SigningKey | None,
    previous_keys: tuple[str, ...],
) -> tuple[dict[str, Any], str] | None:
    """The link to the report `--previous` names, and the commit `rev` is now (only when
    there is one): refused, exit 2, where `verify --chain` would refuse the link (its
    commit no ancestor of the audited one; with a key, a signature that does not verify
    with it or a `--previous-key`). Checked before the audit, not after it."""
    if path is None:
        if previous_keys:
            raise click.UsageError("--previous-key applies only with --previous")
        return None
    from expflow_git.report.keyring import tracked_in
    from expflow_git.report.saved import previous_link, refuse_unless_ancestor
    from expflow_git.report.signing import load_public_key

    for name in tracked_in(git, previous_keys):  # (as verify warns of its keys: a review)
        warn(
            f"--previous-key {printable(name)} is a file of the repository being audited: "
            "a commit can change it, so it proves nothing; keep trusted keys outside it",
            command="audit",
        )
    keys = [load_public_key(p) for p in previous_keys]
    if key is not None:
        keys.insert(0, key.public_key())
    # Only a report that is signed needs its link signed (an unsigned audit with a
    # --previous-key refused an unsigned link that verify accepts: a review).
    link = previous_link(path, keys=keys, signing=key is not None)
    commit = git.resolve_commit(rev).sha
    refuse_unless_ancestor(git, path, link, commit)
    return link, commit


def _policy_change_note(check: TreeCheck) -> None:
    """Under --policy-ref, what the commit's own policy would change, on stderr."""
    from expflow_git.render.text import policy_change_lines

    for text in policy_change_lines(check.proposal, check.policy_blob):
        err(f"{PROG} rank: {text}")


@click.command()
@rev_option
@click.option(
    "--since",
    metavar="BASE",
    help="Also examine every commit in BASE..REV: rewritten results and frozen records, "
    "and PIN hashes in any blob the range added.",
)
@click.option("--experiment", metavar="ID", help="The verdict is this run's alone.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the report (JSON) here.")
@click.option(
    "--sign-key",
    metavar="KEY",
    help="Ed25519 private key file (PEM or OpenSSH), or agent:SHA256:FINGERPRINT for a key "
    "held by ssh-agent; or env EXPFLOW_SIGNING_KEY.",
)
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, exists=True),
    help="Chain this report to a previous one.",
)
@click.option(
    "--previous-key",
    "previous_keys",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="PUB",
    help="Also a key the --previous report may be signed by, such as a CI key rotated out "
    "(repeatable; the signing key always is).",
)
@click.option(
    "--note",
    is_flag=True,
    help="Also store the report as a git note (refs/notes/expflow) on the commit.",
)
@format_option("text", "json", "md", "github", "sarif")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Also write a self-contained HTML scorecard.",
)
@click.option("--no-cache", is_flag=True, help="Do not use the per-blob validation cache.")
@policy_option
@policy_ref_option
def audit(
    rev: str,
    since: str | None,
    experiment: str | None,
    out: str | None,
    sign_key: str | None,
    previous: str | None,
    previous_keys: tuple[str, ...],
    note: bool,
    fmt: str,
    html_path: str | None,
    no_cache: bool,
    policy_path: str | None,
    policy_ref: str | None,
) -> None:
    """The full audit at a commit; writes a deterministic, hash-chained, signed report.

    Exit 0 iff there is no invalid document, no integrity or secret finding, at least
    one feasible run, and the walk-forward gate (if configured) passes.
    """
    from expflow_git import api
    from expflow_git.atomicfile import open_atomic_all
    from expflow_git.policy.model import policy_in_commit
    from expflow_git.render.formats import html_renderer, renderer
    from expflow_git.report.signer import key_file, signing_key

    refuse_empty([("--out", out), ("--html", html_path)])
    refuse_empty([("--previous-key", k) for k in previous_keys])
    if experiment is not None:  # (as `show` names one: not "no experiment 'e\udcff'", exit 1)
        utf8_argument(experiment, "--experiment")
    refuse_empty([("--sign-key", sign_key)], "a key file or agent:SHA256:FINGERPRINT")
    _refuse_overwrites(out, html_path, key_file(sign_key, os.environ), previous, previous_keys)
    # What runs after the audit is imported before it (see heap.memory_releaser).
    render = None if fmt == "json" else renderer(fmt)
    render_html = html_renderer() if html_path else None
    key = signing_key(sign_key, os.environ)
    git = repo()
    chained = _previous(previous, git, rev, key, previous_keys)
    report, shown = api.audit_report(
        git,
        rev,
        policy_path=policy_in_commit(policy_path, git.root),
        policy_ref=policy_ref,
        experiment=experiment,
        since=since,
        use_cache=not no_cache,
        progress=progress_bar("reading", at_least=2000, every=500),
        key=key,
        previous=chained[0] if chained else None,
        render=render,
        render_html=render_html,
        warn=lambda message: warn(message, command="audit"),
    )
    if chained is not None and previous is not None and shown.commit != chained[1]:
        # REV moved during the audit: its ancestry is asked again of what was audited.
        from expflow_git.report.saved import refuse_unless_ancestor

        refuse_unless_ancestor(git, previous, chained[0], shown.commit)
    # Both files are written and on disk before either takes its place, and they take
    # their places together (a Ctrl-C waits): a scorecard that cannot be written leaves no
    # report behind it, and the other way; what either replaced is then as it was. The
    # note is added before they take their places: one git refuses left the report
    # written, exit 2 (a hunter's note, issue 18 thirty-eighth pass).
    with open_atomic_all([p for p in (out, html_path) if p], named_by_user=True) as files:
        if out:
            report.write(files[0])
        if html_path:
            files[-1].write(shown.html)
        if note:
            git.add_note(shown.commit, report.to_bytes())
    if shown.text is None:
        stream = stdout()
        stream.flush()
        report.write(stream.buffer)
        stream.buffer.flush()
    else:
        del report  # its buffer (100+ MB at 100k runs) is not kept while the text is output
        # (the terminal's formats mask a PIN typed in a line quoting it: `policy PATH`)
        emit(for_terminal(shown.text) if fmt in TERMINAL else shown.text, nl=False)
    where = f" written to {out}" if out else ""
    signed_by = shown.signed_by
    err(
        f"{PROG} audit: {'PASS' if shown.passed else 'FAIL'}; report "
        f"{'signed by ' + signed_by[0] if signed_by else 'UNSIGNED'}{where}"
    )
    if not shown.passed:
        raise SystemExit(ExitCode.FAILED)


def _refuse_overwrites(
    out: str | None,
    html_path: str | None,
    sign_key: str | None,
    previous: str | None,
    previous_keys: Sequence[str] = (),
) -> None:
    """Exit 2 before the audit when an output names another output, the signing key, the
    previous report or a `--previous-key` (the scorecard over a key: exit 0, the key gone;
    a `--previous-key` was left out, a hunt, issue 18 thirty-ninth pass). `--out` may
    replace `--previous`: a report rolled forward in place is a choice, and it is whole."""
    from expflow_git.atomicfile import refuse_same_file

    pairs = (
        ("--out", out, "--html", html_path),
        ("--sign-key", sign_key, "--out", out),
        ("--sign-key", sign_key, "--html", html_path),
        ("--previous", previous, "--html", html_path),
        *(("--previous-key", key, "--out", out) for key in previous_keys),
        *(("--previous-key", key, "--html", html_path) for key in previous_keys),
    )
    for a_name, a, b_name, b in pairs:
        if a and b:
            refuse_same_file(a, b, a_name, b_name)


@click.command("diff")
@click.argument("rev_a")
@click.argument("rev_b", default="HEAD")
@click.option("--all", "show_all", is_flag=True, help="Also rows that did not change.")
@click.option(
    "--atol",
    type=Tolerance(),
    default=0.0,
    show_default=True,
    help="Changes within atol + rtol·|old| count as unchanged.",
)
@click.option("--rtol", type=Tolerance(), default=0.0, show_default=True)
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 if any metric regressed.")
@format_option("table", "json", "md")
@policy_option
def diff_cmd(
    rev_a: str,
    rev_b: str,
    show_all: bool,
    atol: float,
    rtol: float,
    fail_on_regression: bool,
    fmt: str,
    policy_path: str | None,
) -> None:
    """Metrics per experiment between two revisions (REV_B defaults to HEAD)."""
    from expflow_git import api
    from expflow_git.audit.diff import Change
    from expflow_git.policy.model import policy_in_commit
    from expflow_git.render.diff import render_diff

    git = repo()
    left_out: list[int] = []
    rows = api.diff(
        git,
        rev_a,
        rev_b,
        policy_path=policy_in_commit(policy_path, git.root),
        atol=atol,
        rtol=rtol,
        warn=lambda message: warn(message, command="diff"),
        left_out=left_out,
    )
    shown = rows if show_all else [r for r in rows if r.change is not Change.UNCHANGED]
    # (its header quotes the revisions, in every format)
    table = render_diff(shown, shown_argument(rev_a), shown_argument(rev_b), fmt)
    emit(for_terminal(table) if fmt in TERMINAL else table)
    if fail_on_regression and any(r.change is Change.REGRESSED for r in rows):
        raise SystemExit(ExitCode.FAILED)
    if fail_on_regression and left_out[1]:
        # A regressed result that also fails its checks (an unknown metric added) was
        # left out, its row `removed`, and the gate passed: what REV_B's documents hold
        # cannot be said not to regress (a review, issue 18 forty-first pass).
        fail(
            f"{shown_argument(rev_b)}: {left_out[1]} problem(s) in its documents: a "
            "result left out may hide a regression (--fail-on-regression)",
            code=ExitCode.FAILED,
        )


@click.command()
@click.option(
    "--dir",
    "directory",
    type=Folder(),
    help="Where to build the example (default: a new temporary directory).",
)
def demo(directory: Path | None) -> None:
    """Build an example repository, commit, audit, sign, verify, print the leaderboard."""
    from expflow_git.demo import run_demo

    raise SystemExit(run_demo(directory, echo=echo))
