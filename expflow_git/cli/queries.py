"""Looking at runs: `list`, `show ID` and `compare ID ID…` (docs/spec.md §4), over the
work tree by default or a commit with `--rev`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from expflow_git.cli.console import emit, warn
from expflow_git.cli.options import columns_option, format_option, policy_option, where_option
from expflow_git.documents import Status
from expflow_git.errors import ExpflowError, utf8_argument

if TYPE_CHECKING:
    from expflow_git.gitstore import Git
    from expflow_git.policy.model import Policy
    from expflow_git.query.runs import RunSet
    from expflow_git.query.where import Field, Where

_STATUSES = [s.value for s in Status]

rev_or_work_tree = click.option(
    "--rev",
    metavar="REV",
    help="Read this commit instead of the work tree (tracked and new files).",
)


@contextmanager
def option_errors(option: str) -> Iterator[None]:
    """A malformed `--where` or `--columns` is exit 2, one line naming the option and the
    column of the error."""
    from expflow_git.query.where import WhereError

    try:
        yield
    except WhereError as exc:
        raise ExpflowError(f"{option}: {exc.message}") from None


def parse_where(text: str | None) -> Where | None:
    """`--where EXPR` parsed (exit 2 with the column if it is not an expression)."""
    if text is None:
        return None
    from expflow_git.query.where import parse

    with option_errors("--where"):
        return parse(text)


def parse_columns(text: str | None) -> tuple[Field, ...]:
    """`--columns a.b,c.d` parsed (exit 2 with the column of a bad field)."""
    if not text:
        return ()
    from expflow_git.query.where import fields_of

    with option_errors("--columns"):
        return fields_of(text)


def check_fields(run_set: RunSet, where: Where | None, columns: tuple[Field, ...]) -> None:
    """Metric and status names the policy does not know are errors, with a hint."""
    if where is not None:
        with option_errors("--where"):
            where.check(run_set.policy.metrics, _STATUSES)
    check_columns(run_set.policy, columns)


def check_columns(policy: Policy, columns: tuple[Field, ...]) -> None:
    """`--columns` naming a metric the registry lacks: exit 2 with a hint."""
    from expflow_git.query.where import check_fields as check

    with option_errors("--columns"):
        check(((c, None) for c in columns), policy.metrics, _STATUSES)


def open_runs(rev: str | None, policy_path: str | None) -> tuple[RunSet, Git | None]:
    """The runs of the work tree (or of `rev`), judged by the policy there."""
    from expflow_git.policy.model import policy_in_commit
    from expflow_git.query.runs import load_runs
    from expflow_git.workspace import Workspace

    ws = Workspace.find(policy_path)
    if rev is None:
        return load_runs(ws.root, ws.load_policy(), git=ws.git), ws.git
    if ws.git is None:
        raise ExpflowError(f"--rev {rev}: not a git repository")
    policy = _policy_at(ws.git, rev, policy_in_commit(policy_path, ws.root))
    return load_runs(ws.root, policy, git=ws.git, rev=rev), ws.git


def _policy_at(git: Git, rev: str, path: str) -> Policy:
    from expflow_git.gitblobs import BlobReader
    from expflow_git.policy.load import load_policy_bytes

    commit = git.resolve_commit(rev)
    found = [e for e in git.ls_tree(commit.sha, paths=[path]) if e.path == path]
    if not found or found[0].type != "blob" or found[0].mode == "120000":
        raise ExpflowError(f"{path}: no policy file at {rev} ({commit.sha[:12]})")
    with BlobReader(git) as reader:
        return load_policy_bytes(reader.read(found[0].sha), path=path)


def _note_unread(run_set: RunSet, command: str) -> None:
    if run_set.findings:
        warn(
            f"{len(run_set.findings)} problem(s) in {run_set.source}'s documents "
            "(runs whose files fail are left out); run `expflow-git validate`",
            command=command,
        )


def note_unknown_study(study: str, known: list[str], command: str) -> None:
    """`--study S` that no run has: said on stderr, with the closest study."""
    from expflow_git.policy.model import did_you_mean

    warn(
        f"no run in study {study!r}{did_you_mean(study, known)}; "
        f"studies here: {', '.join(known) or 'none'}",
        command=command,
    )


@click.command("list")
@rev_or_work_tree
@click.option("--study", help="Only runs of this study.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(_STATUSES),
    help="Only runs with this status (repeatable: any of them).",
)
@where_option
@columns_option
@format_option("text", "json", "csv", "md")
@policy_option
def list_cmd(
    rev: str | None,
    study: str | None,
    statuses: tuple[str, ...],
    where_text: str | None,
    columns: str | None,
    fmt: str,
    policy_path: str | None,
) -> None:
    """Every run, whatever its status: id, study, status, the ranking and gates' metrics.

    EXPR is MLflow-like: metrics.seg_total > 50 and params.lr <= 1e-3 or tags.fno.
    """
    from expflow_git.render.runs import render_list
    from expflow_git.render.view import MAX_METRIC_COLUMNS

    where = parse_where(where_text)
    fields = parse_columns(columns)
    run_set, _ = open_runs(rev, policy_path)
    check_fields(run_set, where, fields)
    _note_unread(run_set, "list")
    runs = [
        r
        for r in run_set.runs
        if (study is None or r.study == study)
        and (not statuses or r.status.value in statuses)
        and (where is None or where.matches(r))
    ]
    policy = run_set.policy
    key = [policy.ranking.sort_by, *(g.metric for g in policy.all_gates())]
    # As many as a leaderboard shows: the registry's thresholds are not bounded, and
    # every column is in every row (--columns adds any other).
    shown = list(dict.fromkeys(key))[:MAX_METRIC_COLUMNS]
    emit(render_list(runs, shown, fields, fmt))
    if study is not None and study not in run_set.studies():
        note_unknown_study(study, run_set.studies(), "list")
    elif not runs and run_set.runs:
        warn("no run matches", command="list")


@click.command("show")
@click.argument("run_id", metavar="ID")
@rev_or_work_tree
@format_option("text", "json")
@policy_option
def show(run_id: str, rev: str | None, fmt: str, policy_path: str | None) -> None:
    """One run: record, result, splits, its verdict with every check, its history (the
    commits that touched its files) and the corrections of its result."""
    from expflow_git.query.inspect import (
        corrections_of,
        findings_of,
        history_of,
        left_out_result,
        run_files,
        verdict_of,
    )
    from expflow_git.render.runs import render_show

    # As `new` and the record commands name it (exit 2): `show $'e\xff'` said "no
    # experiment 'e\udcff'", exit 1, a lone surrogate's spelling (issue 18 forty-first pass).
    utf8_argument(run_id, "ID")
    run_set, git = open_runs(rev, policy_path)
    # Said as `list` says it: show and compare left a failing document out silently (a
    # user's hunt, issue 18 twenty-third pass).
    _note_unread(run_set, "show")
    run = run_set.get(run_id)
    corrections = corrections_of(run, run_set)
    history = history_of(git, rev or "HEAD", run_files(run, corrections, run_set.policy))
    emit(
        render_show(
            run,
            verdict_of(run, run_set),
            history,
            corrections,
            findings_of(run, run_set),
            fmt,
            left_out=left_out_result(run, run_set),
        )
    )


@click.command("compare")
@click.argument("run_ids", metavar="ID ID [ID]...", nargs=-1, required=True)
@rev_or_work_tree
@format_option("text", "json", "md", "csv")
@policy_option
def compare(run_ids: tuple[str, ...], rev: str | None, fmt: str, policy_path: str | None) -> None:
    """Params, metrics and splits of runs side by side; each metric with its delta
    against the first run, better or worse by the metric's direction (* marks a field
    that differs)."""
    from expflow_git.query.inspect import compare_lines
    from expflow_git.render.runs import render_compare

    if len(run_ids) < 2:
        raise ExpflowError("compare needs at least two run ids")
    for run_id in run_ids:  # (as `show` refuses one)
        utf8_argument(run_id, "ID")
    run_set, _ = open_runs(rev, policy_path)
    _note_unread(run_set, "compare")
    runs = [run_set.get(i) for i in run_ids]
    emit(render_compare(run_ids, compare_lines(runs, run_set.policy), fmt, runs))
