"""Read an Optuna study through Optuna's own API (the `optuna` extra): one `SourceRun` per
trial (docs/spec.md §4.2).

COMPLETE → success with a result, FAIL → failed (with the reason Optuna kept, where it
kept one), PRUNED → skipped, RUNNING → running, WAITING → pending. The objective values
become registry metrics in objective order (`--metric`, by default the study's
`metric_names`); user attributes named like registry metrics join them (one that is no
number, and an objective's metric's of another value, left out and said in a note), and
`--split-attr SPLIT=ATTR` puts a user attribute into `splits.SPLIT`. With `--series`, a
completed trial's intermediate values (`trial.report(value, step)`) become the series of
the first objective's metric.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from expflow_git.documents import Status
from expflow_git.errors import ExpflowError, printable
from expflow_git.importers.source import (
    SPLIT_NAME,
    Source,
    SourceRun,
    examples,
    first_line,
    join_id,
    metric_value,
    read_only_sqlite,
    redact_uri,
    refuse_missing_store,
    registry_names,
    require_extra,
    scalar_params,
    sqlalchemy_error,
    study_id,
    utc_time,
)
from expflow_git.policy.model import Policy
from expflow_git.run import (
    checked_flags,
    checked_texts,
    required_texts,
    short_repr,
    string_list,
)

_STATES = {
    "COMPLETE": Status.SUCCESS,
    "FAIL": Status.FAILED,
    "PRUNED": Status.SKIPPED,
    "RUNNING": Status.RUNNING,
    "WAITING": Status.PENDING,
}


def parse_split_attrs(items: Sequence[str]) -> dict[str, str]:
    """`--split-attr SPLIT=ATTR` pairs; a split name must fit the result schema (exit 2)."""
    splits: dict[str, str] = {}
    for item in items:
        split, sep, attr = item.partition("=")
        if not sep or not attr or not SPLIT_NAME.match(split):
            raise _split_attr_error(item)
        if split in splits:
            raise ExpflowError(f"--split-attr {split!r} given twice")
        splits[split] = attr
    return splits


def checked_split_attrs(split_attrs: object) -> dict[str, str]:
    """`split_attrs=` as a Python caller gives it: split name → user attribute, checked
    as `--split-attr SPLIT=ATTR` is (`parse_split_attrs`): a split name the result schema
    refuses failed every trial, and a list was a ValueError of `dict()` (a user's hunt)."""
    if split_attrs is None:
        return {}
    if not isinstance(split_attrs, Mapping):
        raise ValueError(
            "split_attrs: give a mapping of split names to user attributes, "
            f"not {short_repr(split_attrs)}"
        )
    splits: dict[str, str] = {}
    for split, attr in split_attrs.items():
        if not isinstance(split, str) or not isinstance(attr, str):
            raise ValueError(
                f"split_attrs {short_repr(split)}: {short_repr(attr)}: names are strings"
            )
        # The split's name checked whole: `{"a=b": "c"}` is no split `a` of attribute `b=c`.
        if not attr or not SPLIT_NAME.match(split):
            raise _split_attr_error(f"{split}={attr}")
        splits[split] = attr
    return splits


def _split_attr_error(item: str) -> ExpflowError:
    return ExpflowError(
        f"--split-attr '{printable(item)}': expected SPLIT=ATTR, SPLIT of letters, "
        "digits, '.', '_' and '-'"
    )


def read_optuna(
    storage: str,
    study: str,
    policy: Policy,
    *,
    study_as: str | None = None,
    metrics: Sequence[str] = (),
    split_attrs: Mapping[str, str] | None = None,
    series: bool = False,
) -> Source:
    """Every trial of `study` in `storage` (an Optuna storage URL), mapped; `series`: with
    each completed trial's intermediate values."""
    required_texts(storage=storage, study=study)
    checked_texts(study_as=study_as)
    checked_flags(series=series)
    if isinstance(metrics, Mapping):
        # Not `--metric NAME=min|max|last` (MLflow's): an objective's value is one number,
        # imported as it is; the mapping's keys were taken, its aggregates unused.
        raise ValueError(
            "metrics: give the registry metrics' names in objective order, not a mapping "
            f"{short_repr(metrics)} (an objective's value has no aggregate to choose)"
        )
    metrics = string_list(metrics, "metrics", "metric")
    splits = checked_split_attrs(split_attrs)
    optuna = require_extra("optuna", "optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # stderr is ours
    uri = redact_uri(storage)
    _refuse_format_fields(storage, uri)
    refuse_missing_store(storage, uri, tracker="Optuna", table="studies")
    with read_only_sqlite():  # the store is read, never changed (spec §4.2)
        trials, directions, names = _load(optuna, storage, study, uri)
    names = list(metrics) or names
    if len(names) != len(directions):
        have = f"{len(names)} metric name(s)" if names else "no metric_names"
        raise ExpflowError(
            f"study '{printable(study)}' has {len(directions)} objective(s) and {have}: give "
            "--metric NAME once per objective, in objective order"
        )
    registry_names(names, policy, option="--metric")
    _check_directions(study, names, directions, policy, given=bool(metrics))
    mapper = _Mapper(study_id(study, study_as), tuple(names), splits, policy, series=series)
    try:
        runs = [mapper.run(t) for t in sorted(trials, key=lambda t: t.number)]
    except ExpflowError:
        raise
    except Exception as exc:  # a trial the store holds damaged (a NULL number, ...)
        raise _damaged_trials(uri, storage, exc) from None
    return Source(
        tracker="optuna",
        uri=uri,
        study=study,
        expflow_study=mapper.study,
        runs=runs,
        notes=mapper.notes(),
    )


def _check_directions(
    study: str, names: Sequence[str], directions: Sequence[Any], policy: Policy, *, given: bool
) -> None:
    """Each objective's direction must be its metric's in the registry (exit 2): a study
    minimizing `accuracy`, which the registry calls higher-is-better, or two objectives'
    `--metric` names given in the wrong order, were imported with exit 0 (a hunter's
    report, issue 18 twenty-seventh pass), each score under a metric it is not. Against
    `higher_is_better`, which gates and thresholds read; `ranking.order` only sorts the
    leaderboard. An objective with no direction (`NOT_SET`) is not compared, nor is a
    study's one objective: its values are its metric's whichever way the sampler went
    (Optuna's default is minimize: a grid sweep of accuracy made with the defaults was
    refused; a review)."""
    if len(names) < 2:
        return
    for number, (name, direction) in enumerate(zip(names, directions, strict=True)):
        way = getattr(direction, "name", "")
        if way not in ("MAXIMIZE", "MINIMIZE"):
            continue
        higher = policy.metrics[name].higher_is_better
        if (way == "MAXIMIZE") == higher:
            continue
        named = "--metric names" if given else "the study's metric_names name"
        raise ExpflowError(
            f"study '{printable(study)}': objective {number} is {way.lower()}d, but "
            f"{named} it '{printable(name)}', which the registry of {policy.path} has "
            f"{'higher' if higher else 'lower'} is better; name each objective's metric "
            "with --metric, in objective order (nothing written)"
        )


def _refuse_format_fields(storage: str, uri: str) -> None:
    """Optuna reads a storage URL as a format string (`url.format(SCHEMA_VERSION=...)`),
    and its error quoted what a `{...}` held: a password `{SCHEMA_VERSION.x}` or
    `{SCHEMA_VERSION:x}` showed `x` (a review, issue 18 thirtieth pass). The URL is
    formatted here first, and refused with a fixed message, no exception text."""
    try:
        storage.format(SCHEMA_VERSION=0)
    except (KeyError, IndexError, AttributeError, ValueError, TypeError):
        raise ExpflowError(
            f"{printable(uri)}: '{{' or '}}' in the URL: Optuna reads it as a format "
            "string; double them ('{{', '}}'); nothing read"
        ) from None


def _load(optuna: Any, storage: str, study: str, uri: str) -> tuple[Any, Any, list[str]]:
    """The study's trials, directions and metric names, or one line (exit 2) that tells
    a missing study from a damaged one."""
    failures = (ValueError, ImportError, RuntimeError, optuna.exceptions.OptunaError)
    try:
        loaded = optuna.load_study(study_name=study, storage=storage)
    except KeyError:  # Optuna's "Record does not exist."
        raise ExpflowError(f"{uri}: no Optuna study named '{printable(study)}'") from None
    except failures as exc:
        raise ExpflowError(
            f"{uri}: cannot read the Optuna study: {first_line(exc, storage)}"
        ) from None
    except sqlalchemy_error() as exc:
        raise ExpflowError(
            f"{uri}: cannot read the Optuna storage: {first_line(exc, storage)}"
        ) from None
    except Exception as exc:  # a damaged store: Optuna's own asserts and lookups fail
        raise ExpflowError(
            f"{uri}: cannot read the Optuna study: {first_line(exc, storage, named=True)}"
        ) from None
    try:
        with warnings.catch_warnings():
            # metric_names is "experimental": a warning per import says nothing useful
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return (
                loaded.get_trials(deepcopy=False),
                loaded.directions,
                list(loaded.metric_names or []),
            )
    except failures as exc:
        raise ExpflowError(
            f"{uri}: cannot read the Optuna study: {first_line(exc, storage)}"
        ) from None
    except Exception as exc:  # a damaged trial: a distribution without its type, ...
        raise _damaged_trials(uri, storage, exc) from None


def _damaged_trials(uri: str, storage: str, exc: Exception) -> ExpflowError:
    return ExpflowError(
        f"{uri}: cannot read the Optuna study's trials: {first_line(exc, storage, named=True)}"
    )


class _Mapper:
    """One trial → one SourceRun."""

    def __init__(
        self,
        study: str,
        names: tuple[str, ...],
        split_attrs: dict[str, str],
        policy: Policy,
        *,
        series: bool,
    ) -> None:
        self.study = study
        self.names = names
        self.split_attrs = split_attrs
        self.policy = policy
        self.series = series
        self.unknown: set[str] = set()  # numeric user attributes the registry lacks
        # `trial N NAME`: a registry-named user attribute that is no number ("0.5" as
        # text, True), not imported (its value never shown: it may hold anything).
        self.no_number: list[str] = []
        # `trial N NAME V (objective W)`: an objective's metric as a user attribute with
        # another number (the objective's value is the metric's).
        self.differ: list[str] = []

    def run(self, trial: Any) -> SourceRun:
        status = _STATES.get(trial.state.name)
        # A WAITING trial enqueued with fixed parameters has them only there.
        fixed = trial.system_attrs.get("fixed_params")
        given = trial.params or (fixed if isinstance(fixed, dict) else {})
        params, problems = scalar_params(given)
        if status is None:
            problems.append(f"state {trial.state.name} has no expflow status")
            status = Status.FAILED
        metrics: dict[str, float] = {}
        splits: dict[str, dict[str, float]] = {}
        series: dict[str, list[tuple[int, float]]] = {}
        if status is Status.SUCCESS:
            metrics = self._metrics(trial, problems)
            splits = self._splits(trial, problems)
            if self.series and trial.intermediate_values:
                # Optuna reports steps as non-negative ints, one value each (a second
                # report at a step is ignored by Optuna): sorted, they are a series.
                steps = sorted(trial.intermediate_values.items())
                series[self.names[0]] = [(int(k), float(v)) for k, v in steps]
        return SourceRun(
            run=str(trial.number),
            exp_id=join_id(self.study, f"t{trial.number:04d}"),
            status=status,
            params=params,
            metrics=metrics,
            splits=splits,
            series=series,
            title=f"trial {trial.number}",
            reason=_reason(trial, status),
            started_at=utc_time(trial.datetime_start),
            finished_at=utc_time(trial.datetime_complete),
            problems=tuple(problems),
        )

    def _metrics(self, trial: Any, problems: list[str]) -> dict[str, float]:
        values = list(trial.values or ())
        if len(values) != len(self.names):
            problems.append(f"{len(values)} objective value(s), {len(self.names)} expected")
            return {}
        metrics = dict(zip(self.names, (float(v) for v in values), strict=True))
        objectives = dict(metrics)
        for key, raw in sorted(trial.user_attrs.items()):
            if key in self.split_attrs.values():
                # A split's (`_splits` reads it), and only the split's: one named like a
                # registry metric (`--split-attr holdout=seg1`) was also written as that
                # headline metric, the holdout's score ranked and gated as the run's own
                # (a hunter's report, issue 18 thirty-ninth pass). Not said either.
                continue
            value = metric_value(raw)
            if value is None:
                # Dropped unsaid before (a hunter's report, issue 18 thirty-third pass).
                # Said, never refused: Optuna cannot change a finished trial's
                # attributes, and a text copy of the score (`"0.900"`) is common.
                if key in self.policy.metrics:
                    self.no_number.append(f"trial {trial.number} {key}")
                continue
            if key in objectives:
                objective = objectives[key]
                if not _same(value, objective):
                    self.differ.append(
                        f"trial {trial.number} {key} {value!r} (objective {objective!r})"
                    )
                continue
            if key in self.policy.metrics:
                metrics[key] = value  # a user attribute that is a registry metric
            else:
                self.unknown.add(key)
        return metrics

    def notes(self) -> tuple[str, ...]:
        notes: tuple[str, ...] = ()
        if self.unknown:  # (five named at most: a trial may hold hundreds; a review)
            names = examples(sorted(self.unknown))
            notes += (
                f"{len(self.unknown)} numeric user attribute(s) not in the registry, not "
                f"imported: {names}",
            )
        if self.no_number:
            notes += (
                f"{len(self.no_number)} user attribute(s) named like a registry metric are "
                "no number, not imported (an objective's metric keeps the objective's "
                f"value): {examples(self.no_number)}",
            )
        if self.differ:
            notes += (
                f"{len(self.differ)} user attribute(s) named like an objective's metric "
                "differ from the objective's value, which is imported: "
                f"{examples(self.differ)}",
            )
        return notes

    def _splits(self, trial: Any, problems: list[str]) -> dict[str, dict[str, float]]:
        splits: dict[str, dict[str, float]] = {}
        for split, attr in self.split_attrs.items():
            if attr not in trial.user_attrs:
                continue  # this trial measured no such split
            raw = trial.user_attrs[attr]
            value = metric_value(raw)
            if value is not None:
                # One number: the first objective's metric on that split (what the
                # walk-forward gate compares).
                splits[split] = {self.names[0]: value}
            elif isinstance(raw, dict) and (numbers := _numbers(raw)) is not None:
                splits[split] = numbers
            else:
                problems.append(
                    f"user attribute {attr!r} is no number nor a mapping of metric names to numbers"
                )
        return splits


def _reason(trial: Any, status: Status) -> str:
    if status is Status.FAILED:
        for attrs in (trial.system_attrs, trial.user_attrs):
            reason = attrs.get("fail_reason")
            if isinstance(reason, str) and reason:
                return reason  # masked and cut where the record is built (common.py)
        return "failed in Optuna (no reason recorded)"
    if status is Status.SKIPPED:
        steps = trial.intermediate_values
        return f"pruned at step {max(steps)}" if steps else "pruned"
    return ""


def _same(value: float, objective: float) -> bool:
    """Whether a user attribute's number is the objective's (NaN is NaN's)."""
    return value == objective or (math.isnan(value) and math.isnan(objective))


def _numbers(raw: Mapping[Any, Any]) -> dict[str, float] | None:
    """A user attribute's mapping of metric names to numbers; None if a value is none."""
    out = {}
    for key, raw_value in raw.items():
        value = metric_value(raw_value)
        if value is None:
            return None
        out[str(key)] = value
    return out
