"""Bring existing runs in (docs/spec.md §4.2): Optuna studies, MLflow experiments and
CSV files become records and results, idempotently and incrementally.

Each importer reads its tracker into a `Source` (optuna.py, mlflow.py, csv.py); the
plan (common.py) decides per run what to write and checks it as `validate` would; the
apply writes it. The functions here do all three for Python callers; the CLI
(`expflow-git import …`, cli/imports.py) runs the same steps with a PIN guard before
corrections. The tracker libraries are optional extras, imported only when used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from expflow_git.importers.common import (
    Action,
    ImportSummary,
    RunPlan,
    apply_import,
    check_correct_reason,
    plan_import,
)
from expflow_git.importers.source import Source, SourceRun
from expflow_git.records.writer import Layout

__all__ = [
    "Action",
    "ImportSummary",
    "RunPlan",
    "Source",
    "apply_import",
    "plan_import",
    "SourceRun",
    "import_csv",
    "import_mlflow",
    "import_optuna",
    "import_source",
    "open_repository",
]

Progress = Callable[[int, int], None]


def open_repository(root: str | Path = ".", policy: str | None = None) -> Layout:
    """Where an import writes: the git repository enclosing `root` (or `root` itself) and
    its policy (`policy`, relative to that root; default $EXPFLOW_POLICY, as the CLI and
    `Repository` read it, else expflow.yaml).

    `root` and `policy` are checked as `Repository(path, policy=…)` checks its own
    (spec §4.2: the API's arguments as the options): `root=""` was the current folder
    and `policy=""` the default policy (the CLI's `--policy ''` is a usage error), a
    folder that does not exist was "expflow.yaml: no policy file; run `expflow-git
    init`", and `root=5` a TypeError (a hunter's report, issue 18 thirty-eighth pass)."""
    from expflow_git.policy.model import DEFAULT_POLICY_PATH
    from expflow_git.repository import open_root
    from expflow_git.workspace import Workspace

    git, start, policy = open_root(root, policy, name="root")
    base = git.root if git is not None else start.resolve()
    # The environment's policy too: without it an import wrote its records where the
    # policy the CLI and `Repository` judge by does not look (a user's hunt).
    chosen = Path(policy or os.environ.get("EXPFLOW_POLICY") or DEFAULT_POLICY_PATH)
    ws = Workspace(
        root=base, policy_path=chosen if chosen.is_absolute() else base / chosen, git=git
    )
    return Layout(base, ws.load_policy())


def import_source(
    layout: Layout,
    source: Source,
    *,
    dry_run: bool = False,
    correct: str | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Plan `source` against the repository and, unless `dry_run`, write the plan.
    `correct` (a reason) takes in runs changed after their result was committed as
    declared corrections, where the policy allows them (no PIN is asked here)."""
    from expflow_git.run import checked_flags

    checked_flags(dry_run=dry_run)
    summary = plan_import(layout, source, correct=correct, progress=progress)
    if not dry_run:
        summary = apply_import(layout, summary)
    return ImportSummary(summary.source, summary.plans, dry_run, summary.warnings)


def import_optuna(
    storage: str,
    study: str,
    *,
    root: str | Path = ".",
    policy: str | None = None,
    study_as: str | None = None,
    metrics: Sequence[str] = (),
    split_attrs: Mapping[str, str] | None = None,
    series: bool = False,
    dry_run: bool = False,
    correct: str | None = None,
) -> ImportSummary:
    """Import the trials of an Optuna study (`storage` is Optuna's storage URL); `series`:
    with each completed trial's intermediate values as its first metric's series."""
    from expflow_git.importers.optuna import read_optuna
    from expflow_git.run import checked_flags, required_texts

    checked_flags(series=series, dry_run=dry_run)  # before anything is read
    required_texts(storage=storage, study=study)
    check_correct_reason(correct)
    layout = open_repository(root, policy)
    source = read_optuna(
        storage,
        study,
        layout.policy,
        study_as=study_as,
        metrics=metrics,
        split_attrs=split_attrs,
        series=series,
    )
    return import_source(layout, source, dry_run=dry_run, correct=correct)


def import_mlflow(
    tracking_uri: str,
    experiment: str,
    *,
    root: str | Path = ".",
    policy: str | None = None,
    study_as: str | None = None,
    metrics: Mapping[str, str] | None = None,
    series: bool = False,
    dry_run: bool = False,
    correct: str | None = None,
) -> ImportSummary:
    """Import the runs of an MLflow experiment; `metrics` maps a registry metric to
    `last` (the default), `min` or `max` of its history; `series`: with each registry
    metric's history as its series."""
    from expflow_git.importers.mlflow import read_mlflow
    from expflow_git.run import checked_flags, required_texts

    checked_flags(series=series, dry_run=dry_run)  # before anything is read
    required_texts(tracking_uri=tracking_uri, experiment=experiment)
    check_correct_reason(correct)
    layout = open_repository(root, policy)
    source = read_mlflow(
        tracking_uri, experiment, layout.policy, study_as=study_as, metrics=metrics, series=series
    )
    return import_source(layout, source, dry_run=dry_run, correct=correct)


def import_csv(
    path: str | Path,
    *,
    id_column: str,
    study: str,
    root: str | Path = ".",
    policy: str | None = None,
    param_columns: Sequence[str] = (),
    metric_columns: Sequence[str] = (),
    status_column: str | None = None,
    dry_run: bool = False,
    correct: str | None = None,
) -> ImportSummary:
    """Import the rows of a CSV file, one run per row."""
    from expflow_git.importers.csv import read_csv
    from expflow_git.run import checked_flags

    checked_flags(dry_run=dry_run)  # before anything is read
    check_correct_reason(correct)
    layout = open_repository(root, policy)
    source = read_csv(
        path,
        layout.policy,
        id_column=id_column,
        study=study,
        param_columns=param_columns,
        metric_columns=metric_columns,
        status_column=status_column,
    )
    return import_source(layout, source, dry_run=dry_run, correct=correct)
