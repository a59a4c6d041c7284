"""Runs as the Python API shows them: `Run` (a record and its result, read from the working
tree) and `ActiveRun`, what `Repository.run(...)` yields to a training script."""

from __future__ import annotations

import difflib
import math
import numbers
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expflow_git.documents import Scalar, Status, same_scalar
from expflow_git.jsonstrict import under_writable_ints
from expflow_git.policy.model import Aggregate, fmt_number

# The result schema's pattern for a split's name (schemas/result.schema.json).
_SPLIT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
# Steps and values a result's canonical JSON holds exactly (series.py, checks.py).
MAX_STEP = 2**53

if TYPE_CHECKING:
    from expflow_git.gitstore import Git
    from expflow_git.policy.model import Policy
    from expflow_git.query.runs import Run as QueryRun
    from expflow_git.query.where import Where


@dataclass(frozen=True)
class Run:
    """One run in the working tree: its record, and its result if it has one."""

    id: str
    study: str
    status: Status
    params: Mapping[str, Scalar]
    tags: tuple[str, ...]
    metrics: Mapping[str, float]  # empty without a result
    splits: Mapping[str, Mapping[str, float]]
    reason: str | None  # why a failed or skipped run has no result
    record_path: str  # relative to the repository root, '/' separated
    result_path: str | None
    seed: int | None = None


def read_runs(
    root: Path, policy: Policy, git: Git | None = None, where: Where | None = None
) -> list[Run]:
    """Every valid record in the working tree (tracked or not: with `git`, what `git add
    -A` would commit), with its result, by id; only those matching `where`.

    The one reader `list`, `show` and `compare` use too (query.runs). Documents that
    fail validation, and symbolic links, are left out: `expflow-git validate` names them."""
    from expflow_git.query.runs import load_runs

    found = load_runs(root, policy, git=git).runs
    chosen = [r for r in found if where is None or where.matches(r)]
    return sorted((_run(r) for r in chosen), key=lambda r: (r.id, r.record_path))


def _run(run: QueryRun) -> Run:
    return Run(
        id=run.id,
        study=run.study,
        status=run.status,
        params=dict(run.params),
        tags=run.tags,
        metrics=dict(run.metrics),
        splits={k: dict(v) for k, v in run.splits.items()},
        reason=run.reason or None,
        record_path=run.record_path,
        result_path=run.result_path,
        seed=run.experiment.seed,
    )


@dataclass
class ActiveRun:
    """A run in progress: `log(**metrics)` and `log_split(name, **metrics)` (or a mapping
    first, `log({"step": 1.0}, step=N)`) collect what the result will hold (a later value
    of a metric replaces an earlier one). What the policy knows of each value is checked
    as it is logged (a registered name, the registry's min and max, a number exactly
    comparable, steps increasing, the series' caps): ValueError naming it, nothing of
    that call kept. Once its `with` block is left the
    run is `finished`: logging then raises RuntimeError (the result is written already)."""

    id: str
    study: str
    policy: Policy = field(repr=False)
    metrics: dict[str, float] = field(default_factory=dict)
    splits: dict[str, dict[str, float]] = field(default_factory=dict)
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    finished: bool = False

    @under_writable_ints
    def log(
        self,
        values: Mapping[str, float] | None = None,
        /,
        *,
        step: int | None = None,
        **metrics: float,
    ) -> None:
        """Record metrics of the run (names from the policy's registry), given by keyword,
        in a mapping (`values`, as MLflow's `log_metrics(metrics, step)`: any name the
        registry takes, `step` and `self` too), or both. With `step` (as MLflow's
        `log_metric(key, value, step)`), each value is also a point of the metric's series
        (docs/spec.md §2.2), and the headline value is the series' aggregate the registry
        declares (its last point when it declares none)."""
        self._open()
        if not metrics and values is None and step is not None and "step" in self.policy.metrics:
            # (the registry's metric `step` given by keyword is the step of no metric: it
            # was dropped without a word; a hunt, issue 18 forty-first pass)
            raise ValueError(
                f"step {short_repr(step)} of no metric: the metric 'step' is logged "
                "in a mapping, run.log({'step': value})"
            )
        checked = self._checked(given_metrics(values, metrics))
        if step is None:
            for name, value in checked.items():
                self._headline_fits(name, value)
            self.metrics.update(checked)
            return
        if (
            isinstance(step, bool)
            or not isinstance(step, numbers.Integral)
            or not (0 <= step < MAX_STEP)
        ):
            named = ", ".join(map(repr, metrics)) or "no metric"
            raise ValueError(
                f"step {short_repr(step)} (of {named}): a step is a non-negative integer below 2^53"
            )
        step = int(step)
        from expflow_git.series import MAX_DOCUMENT_POINTS, MAX_SERIES_POINTS

        for name in checked:
            points = self.series.get(name, [])
            if points and step <= points[-1][0]:
                raise ValueError(
                    f"metric {name!r}: step {step} follows step {points[-1][0]}: the steps "
                    "of a series increase strictly"
                )
            if len(points) >= MAX_SERIES_POINTS:
                raise ValueError(
                    f"metric {name!r}: its series has {len(points):,} points, the cap of a series"
                )
        total = sum(map(len, self.series.values())) + len(checked)
        if total > MAX_DOCUMENT_POINTS:
            raise ValueError(
                f"metric {next(iter(checked))!r}: the series would hold {total:,} points, "
                f"over the cap of {MAX_DOCUMENT_POINTS:,} per result"
            )
        for name, value in checked.items():
            points = self.series.setdefault(name, [])
            points.append((step, value))
            aggregate = self.policy.metrics[name].aggregate or Aggregate.LAST
            # The series' aggregate so far and this point (the headline is it: a step-less
            # value must equal it): the whole series again on every call was quadratic,
            # ~7 s for five series of 10,000 steps (a hunt, issue 18 twenty-seventh pass).
            previous = [self.metrics[name]] if len(points) > 1 else []
            self.metrics[name] = aggregate.of([*previous, value])

    @under_writable_ints
    def log_split(
        self, name: str, values: Mapping[str, float] | None = None, /, **metrics: float
    ) -> None:
        """Record metrics measured on another slice of data (`splits.<name>`), by keyword,
        in a mapping (`values`), or both (a metric named `name` or `self` too)."""
        self._open()
        name = checked_split_name(name)
        metrics = given_metrics(values, metrics)
        if not metrics:  # (a split is written with a metric at least)
            raise ValueError(f"split {name!r}: give it at least one metric")
        checked = self._checked(metrics)  # (before the split is made: none left empty)
        self.splits.setdefault(name, {}).update(checked)

    def _checked(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """`metrics` as `checked_metrics` takes them, each within its registry bounds and
        exactly comparable (below 2^53): a value out of them failed the run only at the
        end of its block, every logged metric lost (a user's hunt, issue 18
        twenty-seventh pass)."""
        checked = checked_metrics(metrics, self.policy)
        for name, value in checked.items():
            spec = self.policy.metrics[name]
            if abs(value) >= MAX_STEP:
                problem = "is a number too large to compare exactly (at least 2^53)"
            elif spec.min is not None and value < spec.min:
                problem = f"is below its min {fmt_number(spec.min)}"
            elif spec.max is not None and value > spec.max:
                problem = f"is above its max {fmt_number(spec.max)}"
            else:
                continue
            raise ValueError(f"metric {name!r}: {fmt_number(value)} {problem}")
        return checked

    def _headline_fits(self, name: str, value: float) -> None:
        """A value logged without a step, of a metric with a series whose registry entry
        declares an aggregate, must be that aggregate (the result is refused otherwise)."""
        points = self.series.get(name)
        aggregate = self.policy.metrics[name].aggregate
        if not points or aggregate is None:
            return
        want = aggregate.of([v for _, v in points])
        if value != want:
            raise ValueError(
                f"metric {name!r}: {fmt_number(value)} is not its series' {aggregate.value} "
                f"value {fmt_number(want)} (registry: aggregate: {aggregate.value}); log it "
                "with a step"
            )

    def _open(self) -> None:
        # A value logged after the block would be silently lost: the result is written.
        if self.finished:
            raise RuntimeError(f"run {self.id!r} has finished: log inside its `with` block")


def given_metrics(values: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics of a `log` or `log_split` call: the mapping given (`values`) and those
    given by keyword, one name given in both refused (ValueError). A positional value
    that is no mapping is refused too (a step is given as `step=`)."""
    if values is None:
        return metrics
    if not isinstance(values, Mapping):
        raise ValueError(
            f"metrics: give a mapping of names to numbers, not {short_repr(values)} (a step "
            "is given as step=N)"
        )
    both = {plain_text(n) for n in values if isinstance(n, str)} & set(metrics)
    if both:
        raise ValueError(f"metric {min(both)!r}: given twice, in the mapping and by keyword")
    return {**values, **metrics}


def checked_split_name(name: Any) -> str:
    """A split's name as the result schema takes it; otherwise ValueError (None, a bool or
    a number is refused, never written as the JSON text of it)."""
    if not isinstance(name, str) or not _SPLIT_RE.match(name):
        raise ValueError(
            f"split name {short_repr(name)}: use letters, digits, '.', '_' and '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


def checked_metrics(metrics: Mapping[str, Any], policy: Policy) -> dict[str, float]:
    """Metrics the registry knows, each a finite number (not a bool); otherwise ValueError
    naming the metric (and, for an unknown one, the closest known name)."""
    if not isinstance(metrics, Mapping):
        raise ValueError(f"metrics: give a mapping of names to numbers, not {short_repr(metrics)}")
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise ValueError(f"metric name {short_repr(name)}: names are strings")
        name = plain_text(name)  # (a `str` Enum's member as its text, as a study's)
        if name not in policy.metrics:
            raise ValueError(f"unknown metric {name!r}{closest(name, policy.metrics)}")
        out[name] = finite_number(value, what=f"metric {name!r}")
    return out


def finite_number(value: Any, *, what: str) -> float:
    """`value` if it is a finite real number (NumPy's scalars too; not a bool: a bool is
    not a measurement), else ValueError naming `what`. An int too large for a double is
    not finite (OverflowError would escape `math.isfinite`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what}: {value!r} is not a number")
    number = value if isinstance(value, int) else float(value)
    try:
        finite = math.isfinite(number)
    except OverflowError:
        finite = False
    if not finite:
        raise ValueError(f"{what}: {short_repr(value)} is not a finite number")
    return number


def short_repr(value: Any) -> str:
    """`repr(value)`, at most 40 characters: an argument of the wrong kind, named in an error."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def checked_texts(**values: object) -> None:
    """Each of `values` text or None; otherwise ValueError naming it (a number given for a
    revision or a study was an AttributeError or TypeError deep inside)."""
    for what, value in values.items():
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{what}: give text, not {short_repr(value)}")


def plain_text(text: str) -> str:
    """`text` as the plain string it holds: a `str` subclass's member, such as a `str`
    Enum's (`class Study(str, Enum)`), is text, and a document holds its value, but its
    `str()` and f-string are `Study.TASK` and it hashes as its name: a study so given
    made the record's path `experiments/Study.TASK/…` and an id so given its file name
    (a hunt, issue 18 fortieth pass)."""
    return text if type(text) is str else str.__str__(text)


def required_texts(**values: object) -> None:
    """Each of `values` text, None too refused; otherwise ValueError naming it. An
    importer's storage, study or experiment given as None passed `checked_texts` (None
    means "not given" there) and ended in a TypeError or a misleading ExpflowError deep
    inside (a hunter's report, issue 18 twenty-eighth pass)."""
    for what, value in values.items():
        if not isinstance(value, str):
            raise ValueError(f"{what}: give text, not {short_repr(value)}")


def checked_flags(**values: object) -> None:
    """Each of `values` True or False; otherwise ValueError naming it. A flag is read as
    a condition: `verify(allow_unsigned="False")` accepted an unsigned report (the
    string is true; a user's hunt)."""
    for what, value in values.items():
        if not isinstance(value, bool):
            raise ValueError(f"{what}: {short_repr(value)} is not True or False")


def checked_int(value: Any, what: str) -> int:
    """An integer of any kind (NumPy's too) as the int it is; anything else (a bool, a
    float even when whole, text) ValueError naming `what`. A seed of `5.0` (a NumPy
    float too) was written as `"seed": 5.0`, which the schema's `integer` takes, and a
    reader's `np.random.seed(5.0)` failed; `seed="5"` and `seed=True` were the schema's
    ExpflowError, not the ValueError of an argument of the wrong kind (a user's hunt,
    issue 18 twenty-seventh pass)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise ValueError(f"{what}: {short_repr(value)} is not an integer")


def checked_tags(tags: Sequence[str]) -> list[str]:
    """Tags as a list of strings; one string is refused, not split into its letters."""
    return string_list(tags, "tags", "tag")


def string_list(values: Any, what: str, item: str) -> list[str]:
    """`values` as a list of strings; otherwise ValueError naming `what` (one string alone
    is refused, never read letter by letter) or the `item` that is not a string."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{what}: give a list of strings, not {short_repr(values)}")
    unordered_refused(values, what, "strings")
    out = list(values)
    for value in out:
        if not isinstance(value, str):
            raise ValueError(f"{item} {short_repr(value)}: {what} are strings")
    return out


def unordered_refused(values: object, what: str, items: str, *, sortable: bool = True) -> None:
    """A mapping or a set given where a list is asked for is a ValueError naming `what`.
    A mapping was read as its keys, whatever its values said (`import_optuna(metrics=
    {"seg_total": "max"})`: the aggregate silently unused), and a set has no order of
    its own (a string's hash differs from one process to the next): a record's tags, an
    Optuna study's metric names in objective order or the checks' order in every output
    changed from run to run (a hunt, issue 18 forty-third pass)."""
    if isinstance(values, Mapping):
        raise ValueError(f"{what}: give a list of {items}, not a mapping {short_repr(values)}")
    if isinstance(values, AbstractSet):
        hint = ": sorted() makes it a list" if sortable else ""
        raise ValueError(
            f"{what}: give a list of {items}, not a set {short_repr(values)} (a set has no "
            f"order{hint})"
        )


def failure_reason(exc: BaseException, limit: int) -> str:
    """`TypeName: message` for a run's record, at most `limit` characters. Never raises:
    a message that cannot be made a string, or holds text that is not UTF-8 (a lone
    surrogate from a file name), must not replace the exception in flight."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__: the type name still says what failed
        message = "<the exception's message could not be read>"
    text = f"{name}: {message}" if message else name
    return masked_reason(text, limit, left_out=f"{name}: {_LEFT_OUT}")


_LEFT_OUT = "(the message is left out: the PIN scan flags it)"
# A URL as `without_uri_secrets` reads one, also JSON-escaped (that module is imported
# only for a message holding one).
_URL_MARKS = ("://", ":\\/\\/")


def masked_reason(text: str, limit: int, *, left_out: str = _LEFT_OUT) -> str:
    """A failed run's reason as a record may hold it, at most `limit` characters: a
    quoted URL's password and secret query values masked (`without_uri_secrets`), what
    the PIN scan flags masked, and the PINs it does not read there (`_without_pin`);
    `left_out` (cut to `limit`) when the scan still flags what is left. What `run()`
    writes of an exception, and what an import writes of a tracker's reason (an Optuna
    trial's `fail_reason` quotes the failed command whole: a user's hunt)."""
    # Masked whole, then cut: a cut first could split a digest or a key's block, and
    # what is left of one the scan neither flags nor masks (a review; the masking is
    # linear in the message).
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if any(mark in text for mark in _URL_MARKS):  # a URI's password, as an import drops it
        from expflow_git.importers.source import without_uri_secrets

        try:
            text = without_uri_secrets(text)
        except Exception:  # (none known: the reason left out, never the exception lost)
            return left_out[:limit]
    text = _without_pin(text)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    # The reason is committed with the record: one the scan still flags as the record
    # holds it (JSON-escaped, or cut short) is left out whole; a pragma exempts nothing
    # the tool writes (pinscan/written.py).
    from expflow_git.documents import dump
    from expflow_git.pinscan.scanner import FileClass, scan_content

    record = dump({"reason": text})
    if any(scan_content(record, cls, pragma=False) for cls in (FileClass.TEXT, FileClass.CODE)):
        return left_out[:limit]
    return text


def _without_pin(text: str) -> str:
    """The text with what the PIN scan flags masked (`pinscan.scanner.masked`), and the
    PINs it does not read there: one after `--pin` or given to `pin init` in an argument
    list, or the PIN in $EXPFLOW_PIN."""
    from expflow_git.pin.guard import ENV_PIN
    from expflow_git.pinscan.scanner import masked

    text = masked(_PIN_TO_INIT.sub(r"\1****", _PIN_AFTER_FLAG.sub(r"\1****", text)))
    pin = os.environ.get(ENV_PIN, "")
    if len(pin) == 4 and pin.isascii() and pin.isdigit():
        text = re.sub(rf"(?<!\d){pin}(?!\d)", "****", text)
    return text


# The argument lists `'--pin', 'NNNN'` and `b'--pin', b'NNNN'` a failed command's error
# prints (subprocess.CalledProcessError), and `pin init [--force] [--pin OLD] [--] NNNN`,
# the new PIN as an argument: the PIN scan does not read a PIN there, and the reason is
# committed with the record. Four digits and no fifth.
_SEP = r"""(?:[^\w\n]|(?<=[\s,])b(?=['"])){1,8}"""
_ALONE = r"(?![0-9])"
_PIN_AFTER_FLAG = re.compile(rf"(--pin{_SEP})[0-9]{{4}}{_ALONE}")
_PIN_TO_INIT = re.compile(
    rf"(\bpin{_SEP}init{_SEP}(?:(?:--force|--pin{_SEP}\*{{4}}|--){_SEP})*)[0-9]{{4}}{_ALONE}"
)


def closest(name: str, known: Mapping[str, Any]) -> str:
    """`; the closest known name is 'x'` (empty when nothing is known)."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.0)
    return f"; the closest known name is {match[0]!r}" if match else ""


def checked_params(params: Mapping[str, Any]) -> dict[str, Scalar]:
    """A record's params: string names, scalar values (string, finite number, bool,
    None), as the record schema allows; otherwise ValueError naming the parameter."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params: give a mapping of names to values, not {short_repr(params)}")
    out: dict[str, Scalar] = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise ValueError(f"parameter {name!r}: names are strings")
        if value is None or isinstance(value, (str, bool)):
            out[name] = value
        elif _numpy_bool(value):  # as NumPy's integers and floats are taken
            out[name] = bool(value)
        elif isinstance(value, numbers.Integral):  # NumPy's integers too, as its floats
            out[name] = _writable_int(int(value), name)
        elif isinstance(value, numbers.Real):
            out[name] = finite_number(float(value), what=f"parameter {name!r}")
        else:
            raise ValueError(f"parameter {name!r}: {value!r} is not a string, number or bool")
    return out


def _numpy_bool(value: object) -> bool:
    """`value` is a NumPy bool (`np.bool_`, not a `bool` subclass), NumPy not imported for
    it: a sweep's `np.True_` was refused where its numbers were taken (a user's hunt,
    issue 18 twenty-seventh pass)."""
    numpy = sys.modules.get("numpy")
    kind = getattr(numpy, "bool_", None)
    return isinstance(kind, type) and isinstance(value, kind)


def _writable_int(value: int, name: str) -> int:
    """`value` if it has at most `jsonstrict.MAX_INT_DIGITS` decimal digits (what the
    strict reader reads back) and the interpreter can write it, else ValueError naming the
    parameter: the raw "Exceeds the limit" error named none, and under a lifted limit
    (PYTHONINTMAXSTRDIGITS=0) a record was written that every reader refuses."""
    from expflow_git.jsonstrict import MAX_INT_DIGITS

    limit = MAX_INT_DIGITS
    # (10**4300 is about 2**14284.4: a shorter integer needs no comparison)
    if value.bit_length() <= 14284 or abs(value) < 10**MAX_INT_DIGITS:
        try:
            str(value)
        except ValueError:  # the interpreter's own limit is lower
            limit = sys.get_int_max_str_digits()
        else:
            return value
    raise ValueError(
        f"parameter {name!r}: an integer of more than {limit} digits cannot be written"
    )


def same_record(
    record: Run,
    *,
    study: str | None,
    params: Mapping[str, Any] | None,
    tags: Sequence[str],
    title: str = "",
    record_title: str = "",
) -> None:
    """`run()` on an existing record: what it is given must be what the record says (its
    `title` too, the record's `record_title`: one that differed was ignored without a
    word, a hunt, issue 18 fortieth pass; none given, `""`, is the record's)."""
    differs = [
        what
        for what, given, has in (
            ("study", study, record.study),
            ("params", None if params is None else dict(params), dict(record.params)),
            # tags as a set: `new` keeps their order, a caller need not (a user's hunt)
            ("tags", frozenset(tags) or None, frozenset(record.tags)),
            ("title", title or None, record_title),
        )
        if given is not None and not _same(given, has)
    ]
    if differs:
        raise ValueError(
            f"{record.record_path}: run {record.id!r} exists with other {', '.join(differs)}"
        )


def _same(given: Any, has: Any) -> bool:
    """Params as a record holds them: `True` is no 1 (a rule never reads it as a number)."""
    if isinstance(given, dict) and isinstance(has, dict):
        return given.keys() == has.keys() and all(same_scalar(given[k], has[k]) for k in given)
    return bool(given == has)


def checked_series(series: Mapping[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """Step-wise values as `log_result` takes them, metric → [(step, value), …]: each step
    an integer, each value a finite number; otherwise ValueError naming the metric (the
    series rules of series.py judge the rest: order, bounds, aggregates)."""
    if not isinstance(series, Mapping):
        raise ValueError(
            f"series: give a mapping of metric names to points, not {short_repr(series)}"
        )
    out: dict[str, list[tuple[int, float]]] = {}
    for name, points in series.items():
        if isinstance(points, (str, bytes)) or not isinstance(points, Iterable):
            raise ValueError(f"series {name!r}: give (step, value) pairs, not {short_repr(points)}")
        checked = []
        for point in points:
            try:  # a tuple, a list, a NumPy row: anything that unpacks into two
                if isinstance(point, (str, bytes)):
                    raise TypeError
                step, value = point
            except (TypeError, ValueError):
                raise ValueError(
                    f"series {name!r}: {short_repr(point)} is not a (step, value) pair"
                ) from None
            if isinstance(step, bool) or not isinstance(step, numbers.Integral):
                raise ValueError(f"series {name!r}: step {short_repr(step)} is not an integer")
            where = f"series {name!r} at step {int(step)}"
            checked.append((int(step), finite_number(value, what=where)))
        out[name] = checked
    return out
