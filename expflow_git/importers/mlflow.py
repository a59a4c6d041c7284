"""Read an MLflow experiment through MLflow's own client (the `mlflow` extra): one
`SourceRun` per run, on any tracking URI the client supports (docs/spec.md §4.2).

FINISHED → success with a result, FAILED/KILLED → failed, RUNNING → running,
SCHEDULED → pending. Params stay the strings MLflow stores; user tags (not `mlflow.*`)
become `key:value` tags where the tag pattern allows. Metrics: the registry's only, the
last value by default, the smallest or largest of the history on request
(`--metric NAME=min|max|last`); the others are listed once. With `--series`, each registry
metric's history becomes its series (steps as MLflow's `step`; several values at one
step: the last by timestamp, then the largest, as MLflow picks its latest value), and
the headline is the last, smallest or largest point of that series.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from expflow_git.documents import Status
from expflow_git.errors import ExpflowError, printable
from expflow_git.importers.source import (
    Source,
    SourceRun,
    epoch_ms_time,
    examples,
    first_line,
    is_tag,
    metric_value,
    read_only_sqlite,
    redact_uri,
    refuse_missing_store,
    registry_names,
    require_extra,
    sanitize_id,
    sqlalchemy_error,
    study_id,
)
from expflow_git.policy.model import Policy
from expflow_git.run import checked_flags, checked_texts, required_texts, short_repr

_STATES = {
    "FINISHED": Status.SUCCESS,
    "FAILED": Status.FAILED,
    "KILLED": Status.FAILED,
    "RUNNING": Status.RUNNING,
    "SCHEDULED": Status.PENDING,
}
AGGREGATES = ("last", "min", "max")
_PAGE = 1000


def parse_metric_choices(items: Sequence[str], policy: Policy) -> dict[str, str]:
    """`--metric NAME=min|max|last` (a bare NAME is `last`); names must be registry
    metrics (exit 2)."""
    chosen: dict[str, str] = {}
    for item in items:
        name, sep, how = item.partition("=")
        how = how.strip().lower() if sep else "last"
        if how not in AGGREGATES:
            raise ExpflowError(f"--metric '{printable(item)}': expected NAME=min|max|last")
        if name.strip() in chosen:
            raise ExpflowError(f"--metric '{printable(name.strip())}': named twice; name each once")
        chosen[name.strip()] = how
    registry_names(list(chosen), policy, option="--metric")
    return chosen


def checked_metric_choices(metrics: object, policy: Policy) -> dict[str, str]:
    """`metrics=` as a Python caller gives it: registry metric → `last`, `min` or `max`,
    checked as `--metric NAME=how` is (`parse_metric_choices`). An aggregate the import
    does not know was taken as `max`, a misspelt name ignored, and a list of strings read
    as pairs of letters (a user's hunt)."""
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise ValueError(
            "metrics: give a mapping of registry metrics to 'last', 'min' or 'max', "
            f"not {short_repr(metrics)}"
        )
    for name, how in metrics.items():
        if not isinstance(name, str):
            raise ValueError(f"metric name {short_repr(name)}: names are strings")
        if not isinstance(how, str):
            raise ValueError(f"metric {name!r}: give 'last', 'min' or 'max', not {short_repr(how)}")
    # (A name holding `=` leaves an aggregate that is none: refused, never split there.)
    return parse_metric_choices([f"{name}={how}" for name, how in metrics.items()], policy)


def read_mlflow(
    tracking_uri: str,
    experiment: str,
    policy: Policy,
    *,
    study_as: str | None = None,
    metrics: Mapping[str, str] | None = None,
    series: bool = False,
) -> Source:
    """Every active run of `experiment`, mapped (oldest first); `series`: with each
    registry metric's history."""
    required_texts(tracking_uri=tracking_uri, experiment=experiment)
    checked_texts(study_as=study_as)
    checked_flags(series=series)
    chosen = checked_metric_choices(metrics, policy)
    # Nothing goes to the network: MLflow's telemetry is off before MLflow is imported
    # (it starts then), and it writes no installation id under ~/.config either.
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    tracking = require_extra("mlflow.tracking", "mlflow")
    exceptions = require_extra("mlflow.exceptions", "mlflow")
    uri = redact_uri(tracking_uri)
    refuse_missing_store(tracking_uri, uri, tracker="MLflow", table="experiments")
    failures = (exceptions.MlflowException, ValueError, ImportError, sqlalchemy_error())
    with _few_retries(), _quiet(), read_only_sqlite():
        try:
            client = tracking.MlflowClient(tracking_uri=tracking_uri)
            found = client.get_experiment_by_name(experiment)
            if found is None:
                raise ExpflowError(f"{uri}: no MLflow experiment named '{printable(experiment)}'")
            mapper = _Mapper(client, study_id(experiment, study_as), chosen, policy, series)
            runs = [mapper.run(run) for run in _runs(client, found.experiment_id)]
        except failures as exc:
            raise ExpflowError(
                f"{uri}: cannot read MLflow: {first_line(exc, tracking_uri)}"
            ) from None
        except ExpflowError:
            raise
        except Exception as exc:  # a damaged store (an unknown status, a broken meta.yaml)
            raise ExpflowError(
                f"{uri}: cannot read MLflow: {first_line(exc, tracking_uri, named=True)}"
            ) from None
    return Source(
        tracker="mlflow",
        uri=uri,
        study=experiment,
        expflow_study=mapper.study,
        runs=runs,
        notes=mapper.notes(),
    )


# A tracking server down or refusing was retried 7 times with a doubling back-off:
# ~250 s before the one-line error (a hunt). Two retries, unless the user chose.
_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}


_RETRIES_LOCK = threading.Lock()
_retries_depth = 0  # imports reading meanwhile (threads): the last one puts them back
_retries_before: dict[str, str | None] = {}


@contextlib.contextmanager
def _few_retries() -> Iterator[None]:
    """MLflow's retry variables (`_RETRIES`) while the import reads, each the user's own
    if set, and the environment as it was afterwards: they were set for good, so a Python
    caller's own MLflow logging later gave up after ~3 s, and its subprocesses inherited
    them (a review). Imports in threads overlap: the first to start saves the variables
    and sets them, the last to end puts them back (each putting back what it saw left
    them set for good when A started, B started, A ended, B ended: a review)."""
    global _retries_depth
    with _RETRIES_LOCK:
        if _retries_depth == 0:
            _retries_before.clear()
            _retries_before.update({name: os.environ.get(name) for name in _RETRIES})
            for name, value in _RETRIES.items():
                os.environ.setdefault(name, value)
        _retries_depth += 1
    try:
        yield
    finally:
        with _RETRIES_LOCK:
            _retries_depth -= 1
            if _retries_depth == 0:
                for name, was in _retries_before.items():
                    if was is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = was


def _runs(client: Any, experiment_id: str) -> Iterator[Any]:
    token = None
    while True:
        page = client.search_runs(
            experiment_ids=[experiment_id],
            max_results=_PAGE,
            order_by=["attributes.start_time ASC", "attributes.run_id ASC"],
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


class _Mapper:
    """One MLflow run → one SourceRun; remembers what it could not keep, to say once."""

    def __init__(
        self, client: Any, study: str, chosen: dict[str, str], policy: Policy, series: bool
    ) -> None:
        self.client = client
        self.series = series
        self.study = study
        self.chosen = chosen
        self.policy = policy
        self.unknown: set[str] = set()
        self.dropped_tags: set[str] = set()

    def run(self, run: Any) -> SourceRun:
        info, data = run.info, run.data
        status = _STATES.get(info.status)
        problems = []
        if status is None:
            problems.append(f"status {printable(str(info.status))} has no expflow status")
            status = Status.FAILED
        metrics: dict[str, float] = {}
        series: dict[str, list[tuple[int, float]]] = {}
        if status is Status.SUCCESS:
            metrics, series = self._metrics(info.run_id, data.metrics)
        return SourceRun(
            run=info.run_id,
            exp_id=sanitize_id(info.run_id),
            status=status,
            params=dict(data.params),  # strings, as MLflow stores them
            metrics=metrics,
            series=series,
            title=info.run_name or "",
            name=info.run_name or "",
            tags=self._tags(data.tags),
            reason=_reason(info.status),
            started_at=epoch_ms_time(info.start_time),
            finished_at=epoch_ms_time(info.end_time),
            problems=tuple(problems),
        )

    def _metrics(
        self, run_id: str, last: Mapping[str, Any]
    ) -> tuple[dict[str, float], dict[str, list[tuple[int, float]]]]:
        metrics: dict[str, float] = {}
        series: dict[str, list[tuple[int, float]]] = {}
        for name, raw in sorted(last.items()):
            if name not in self.policy.metrics:
                self.unknown.add(name)
                continue
            how = self.chosen.get(name, "last")
            if self.series:
                points = _steps(self.client.get_metric_history(run_id, name))
                series[name] = points
                # The headline from the series written beside it, so the two agree
                # (an `aggregate:` in the registry is then checked against the choice).
                value: float | None = _aggregate([v for _, v in points], how)
            elif how == "last":
                value = metric_value(raw)
            else:
                history = self.client.get_metric_history(run_id, name)
                value = _aggregate([float(m.value) for m in history], how)
            if value is not None:
                metrics[name] = value
        return metrics, series

    def _tags(self, tags: Mapping[str, str]) -> tuple[str, ...]:
        kept = []
        for key, value in sorted(tags.items()):
            if key.startswith("mlflow."):
                continue  # MLflow's own (source, user, run name): provenance, not tags
            tag = f"{key}:{value}"
            if is_tag(tag):
                kept.append(tag)
            else:
                self.dropped_tags.add(key)
        return tuple(kept)

    def notes(self) -> tuple[str, ...]:
        notes = []
        if self.unknown:  # (five named at most, as Optuna's notes: a run may log hundreds)
            notes.append(
                f"{len(self.unknown)} metric(s) not in the registry, not imported: "
                f"{examples(sorted(self.unknown))}"
            )
        if self.dropped_tags:
            notes.append(
                f"{len(self.dropped_tags)} tag(s) not kept (key:value must be a tag of at most "
                f"64 letters, digits and ._:/+-): {examples(sorted(self.dropped_tags))}"
            )
        return tuple(notes)


def _aggregate(values: Sequence[float], how: str) -> float:
    if how not in AGGREGATES:  # (anything else was taken as `max`)
        raise ExpflowError(f"--metric NAME={printable(how)}: expected NAME=min|max|last")
    if values and how == "last":
        return values[-1]
    if not values or not all(math.isfinite(v) for v in values):
        return math.nan  # refused by the plan, naming the metric
    return min(values) if how == "min" else max(values)


def _steps(history: Sequence[Any]) -> list[tuple[int, float]]:
    """A metric's history as a series: one point per step, by step; of several values
    logged at one step the last by timestamp (then the largest), which is also the
    value MLflow reports as the metric's latest."""
    latest: dict[int, tuple[int, float]] = {}
    for m in history:
        key = (int(m.timestamp), float(m.value))
        step = int(m.step)
        # A NaN may win a tie (it compares false): the plan then refuses it, never drops it.
        if step not in latest or not key <= latest[step]:
            latest[step] = key
    return [(step, latest[step][1]) for step in sorted(latest)]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow logs its store's set-up on stderr, which is the import's: its failures too,
    with their tracebacks, which the import's one line names."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _reason(status: str) -> str:
    """A failed record says why (spec §2.1): MLflow keeps no reason for a FAILED run, so
    the record says so, as Optuna's does (it had none; a user's hunt, issue 18
    twenty-fourth pass)."""
    if status == "KILLED":
        return "killed (MLflow status KILLED)"
    return "failed in MLflow (no reason recorded)" if status == "FAILED" else ""
