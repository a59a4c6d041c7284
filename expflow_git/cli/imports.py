"""`import optuna|mlflow|csv`: read a tracker, plan, (PIN for corrections), write, summarize.

Options → one reader (expflow_git.importers) → plan → apply → one line per run that
changes and a totals line; exit 1 when a run was refused.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from expflow_git.cli.console import PROG, guard, out, progress_bar, warn
from expflow_git.cli.group import Group
from expflow_git.cli.options import policy_option
from expflow_git.errors import ExitCode, ExpflowError

if TYPE_CHECKING:  # the modules load only when a command runs
    from pathlib import Path

    from expflow_git.importers import ImportSummary, Source
    from expflow_git.records.writer import Layout


def _import_options(command: Callable[..., None]) -> Callable[..., None]:
    """What every importer takes: --dry-run, --correct/--pin/--force, --policy (and its
    errors masked: `_masked_errors`)."""
    command = _masked_errors(command)
    for decorator in reversed(
        [
            click.option(
                "--dry-run", is_flag=True, help="Print what would be written; write nothing."
            ),
            click.option(
                "--correct",
                metavar="REASON",
                help="Take in runs changed after their result was committed as declared "
                "corrections with this reason (PIN-guarded; the policy must allow them).",
            ),
            click.option("--pin", help="PIN for --correct (or env EXPFLOW_PIN, or a prompt)."),
            click.option("--force", is_flag=True, help="Skip the PIN check, and say so."),
            policy_option,
        ]
    ):
        command = decorator(command)
    return command


def _masked_errors(command: Callable[..., None]) -> Callable[..., None]:
    """An error quoting the tracker's data (a run's name, a column, a cell) with what the
    PIN scan flags masked, as every line of the import's output is (`_shown`; a hunter's
    report, issue 18 twenty-fourth pass)."""

    @functools.wraps(command)
    def masked(*args: Any, **kwargs: Any) -> None:
        try:
            # A --correct reason the PIN scan flags, or in which the PIN given or
            # $EXPFLOW_PIN's stands alone: exit 2 before anything is read (a dry run too).
            from expflow_git.cli.pinsettings import pin_settings
            from expflow_git.importers.common import check_correct_reason

            check_correct_reason(kwargs.get("correct"), kwargs.get("pin"), env=pin_settings().env)
            command(*args, **kwargs)
        except ExpflowError as exc:
            shown = _shown(exc.message)
            if shown == exc.message:
                raise
            raise ExpflowError(shown, code=exc.code) from None

    return masked


def _shown(text: str) -> str:
    """A line quoting the tracker's data (names, keys, cells: `pin:NNNN`, a run named
    `x --pin NNNN`) with what the PIN scan flags in it masked (`****`): they were printed
    as the tracker had them (a hunter's report, issue 18 twenty-fourth pass); a PIN's
    SHA-256 also where the scan flags it only in a path (`masked_line`: an id
    `x<digest>`, refused by its path, was printed whole beside it; forty-second pass)."""
    from expflow_git.importers.common import masked_line

    return masked_line(text)


@click.group("import", cls=Group)
def import_group() -> None:
    """Bring runs in from Optuna, MLflow or a CSV file.

    Idempotent and incremental: a second import adds new runs, updates records of runs
    still running or pending, and never rewrites a committed result.
    """


@import_group.command("optuna")
@click.option("--storage", required=True, metavar="URL", help="Optuna storage URL.")
@click.option("--study", required=True, metavar="NAME", help="The Optuna study.")
@click.option("--study-as", metavar="S", help="The records' study (default: the study name).")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME",
    help="Registry metric of each objective, in objective order (default: the study's "
    "metric_names).",
)
@click.option(
    "--split-attr",
    "split_attrs",
    multiple=True,
    metavar="SPLIT=ATTR",
    help="Put user attribute ATTR into splits.SPLIT (a number: the first objective's metric).",
)
@click.option(
    "--series",
    is_flag=True,
    help="Also import each completed trial's intermediate values as the series of the "
    "first objective's metric.",
)
@_import_options
def optuna_cmd(
    storage: str,
    study: str,
    study_as: str | None,
    metrics: tuple[str, ...],
    split_attrs: tuple[str, ...],
    series: bool,
    **options: Any,
) -> None:
    """One record per trial, one result per completed trial."""
    from expflow_git.importers.optuna import parse_split_attrs, read_optuna
    from expflow_git.records.writer import open_layout

    layout = open_layout(options["policy_path"])
    splits = parse_split_attrs(split_attrs)
    source = read_optuna(
        storage,
        study,
        layout.policy,
        study_as=study_as,
        metrics=metrics,
        split_attrs=splits,
        series=series,
    )
    _run(layout, source, **options)


@import_group.command("mlflow")
@click.option("--tracking-uri", required=True, metavar="URI", help="MLflow tracking URI.")
@click.option("--experiment", required=True, metavar="NAME", help="The MLflow experiment.")
@click.option("--study-as", metavar="S", help="The records' study (default: the experiment).")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME=min|max|last",
    help="How a registry metric is taken from its history (default: last).",
)
@click.option(
    "--series",
    is_flag=True,
    help="Also import each registry metric's history as its series (one point per step).",
)
@_import_options
def mlflow_cmd(
    tracking_uri: str,
    experiment: str,
    study_as: str | None,
    metrics: tuple[str, ...],
    series: bool,
    **options: Any,
) -> None:
    """One record per run, one result per finished run."""
    from expflow_git.importers.mlflow import parse_metric_choices, read_mlflow
    from expflow_git.records.writer import open_layout

    layout = open_layout(options["policy_path"])
    chosen = parse_metric_choices(metrics, layout.policy)
    source = read_mlflow(
        tracking_uri, experiment, layout.policy, study_as=study_as, metrics=chosen, series=series
    )
    _run(layout, source, **options)


@import_group.command("csv")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--id-column", required=True, metavar="C", help="The column naming each run.")
@click.option("--study", required=True, metavar="S", help="The records' study.")
@click.option(
    "--param-columns",
    multiple=True,
    metavar="C,…",
    help="Parameter columns (default: every column that is no id, status or metric).",
)
@click.option(
    "--metric-columns",
    multiple=True,
    metavar="C,…",
    help="Metric columns, METRIC or SPLIT/METRIC (default: those named like registry metrics).",
)
@click.option("--status-column", metavar="C", help="Each run's status (default: success).")
@_import_options
def csv_cmd(
    file: str,
    id_column: str,
    study: str,
    param_columns: tuple[str, ...],
    metric_columns: tuple[str, ...],
    status_column: str | None,
    **options: Any,
) -> None:
    """One record per row, one result per successful row."""
    from expflow_git.cli.console import refuse_empty
    from expflow_git.importers.csv import columns_option, read_csv
    from expflow_git.records.writer import open_layout

    # `import csv "$SHEET"` with the variable empty said ": No such file or directory",
    # and `--param-columns "$COLS"` naming no column took every column as a param (the
    # option left out): an empty string names nothing (spec §4; a hunt, forty-first pass).
    refuse_empty([("FILE", file)])
    for name, given in (("--param-columns", param_columns), ("--metric-columns", metric_columns)):
        refuse_empty(
            [(name, "") for value in given if not columns_option([value])], "a column name"
        )
    layout = open_layout(options["policy_path"])
    source = read_csv(
        file,
        layout.policy,
        id_column=id_column,
        study=study,
        param_columns=columns_option(param_columns),
        metric_columns=columns_option(metric_columns),
        status_column=status_column,
    )
    _run(layout, source, **options)


def _run(
    layout: Layout,
    source: Source,
    *,
    dry_run: bool,
    correct: str | None,
    pin: str | None,
    force: bool,
    policy_path: str | None,
) -> None:
    from expflow_git.importers import ImportSummary, apply_import, plan_import

    for note in source.notes:
        warn(_shown(note), command="import")
    planned = plan_import(
        layout,
        source,
        correct=correct,
        environ=os.environ,
        progress=progress_bar(f"{PROG} import", at_least=200, every=50),
    )
    if planned.corrections and not dry_run:
        guard(
            f"import {planned.corrections} correction(s)",
            pin=pin,
            force=force,
            texts={"--correct": correct},
        )
    if not dry_run:
        planned = apply_import(layout, planned)  # (a correction's path as written)
    summary = ImportSummary(planned.source, planned.plans, dry_run, planned.warnings)
    _print(summary, layout.root)
    for warning in summary.warnings:
        warn(_shown(warning), command="import")
    if summary.refused:
        raise SystemExit(ExitCode.FAILED)


def _print(summary: ImportSummary, root: Path) -> None:
    """One line per run that is not unchanged (refusals: one per reason), then totals."""
    from expflow_git.importers import Action

    source = summary.source
    for plan in summary.plans:
        if plan.action is Action.UNCHANGED:
            continue
        head = f"{plan.action.value:<9} {plan.run.exp_id} ({plan.run.label(source.tracker)})"
        if plan.action is Action.REFUSED:
            for reason in plan.reasons:
                out(_shown(f"{head}: {reason}"))
            continue
        head = f"{head[:-1]}, {plan.run.status.value})"
        files = [w.path for w in plan.writes]
        if plan.correction is not None:
            files.insert(0, plan.correction.path)
        files += [f"removed {rel}" for rel in plan.removes]
        why = f" [{'; '.join(plan.reasons)}]" if plan.reasons else ""
        out(_shown(f"{head}: {', '.join(files)}{why}"))
    verb = "dry run, nothing written" if summary.dry_run else "imported"
    out(
        _shown(
            f"{verb}: {source.tracker} {source.study!r} → study {source.expflow_study}: "
            f"{summary.totals()}"
        )
    )
    if not summary.dry_run and any(p.writes for p in summary.plans):
        folders = _written_folders(summary, root)
        out(_shown(f"next: git add {folders} && git commit (the hooks check what the import did)"))


def _written_folders(summary: ImportSummary, root: Path) -> str:
    """The top folders of what the import wrote or removed (records, results, corrections),
    as `git add` takes them: `git add -A` would commit the tracker's own files too (an
    Optuna or MLflow database, the CSV) when they lie in the work tree (a review). Each
    relative to the current folder and quoted for a shell, so that the line runs as
    printed: the root's names, printed from `notebooks/`, were no path there (a hunter's
    report, issue 18 thirty-third pass)."""
    import shlex

    paths = [
        path
        for plan in summary.plans
        for path in (
            *(w.path for w in plan.writes),
            *([plan.correction.path] if plan.correction is not None else []),
            *plan.removes,
        )
    ]
    here, base = os.path.realpath(os.getcwd()), os.path.realpath(root)
    # Outside the work tree (GIT_DIR and GIT_WORK_TREE set), git takes the root's names.
    inside = here == base or here.startswith(base.rstrip(os.sep) + os.sep)
    shown = []
    for top in sorted({p.split("/", 1)[0] for p in paths}):
        rel = os.path.relpath(os.path.join(base, top), here) if inside else top
        # Neither an option (`-x`) nor pathspec magic (`:!x`, which excludes): a path.
        shown.append(shlex.quote(f"./{rel}" if rel.startswith(("-", ":")) else rel))
    return " ".join(shown)
