"""The policy as values: metrics, gates, rules, the ranking and the `Policy` that holds
them (docs/spec.md §3), with the one parser of `metric:op:value` gates.

load.py builds these from expflow.yaml; everything else only reads them.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import operator
import os
import posixpath
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from expflow_git.documents import as_written, number_key
from expflow_git.errors import ExpflowError
from expflow_git.jsonstrict import float_problem
from expflow_git.lazyre import lazy_compile
from expflow_git.schemas import Kind

DEFAULT_POLICY_PATH = "expflow.yaml"
DEFAULT_EXPERIMENT_GLOBS = ("experiments/**/*.json",)
DEFAULT_RESULT_GLOBS = ("results/**/*.json",)
DEFAULT_CORRECTION_GLOBS = ("corrections/**/*.json",)

_NUMBER_RE = lazy_compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
# A number in a string, for `numeric`: JSON's number grammar exactly (RFC 8259 §6), the
# spelling `new --param K=V` stores as a number; ASCII digits only ("١٢" is not one).
_JSON_NUMBER_RE = lazy_compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_JSON_INTEGER_RE = lazy_compile(r"-?(?:0|[1-9][0-9]*)\Z")


class Op(enum.Enum):
    """Comparison operators of gates and rules."""

    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    EQ = "eq"
    NE = "ne"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def compare(self) -> Callable[[Any, Any], Any]:
        """The operator itself, for two numbers (`holds` takes values of any type)."""
        return _FUNCS[self._value_]

    def holds(self, left: Any, right: Any) -> bool:
        """`left OP right`; False when the two cannot be compared (e.g. str vs number)."""
        if type(left) in NUMBER_TYPES and type(right) in NUMBER_TYPES:  # nearly always
            if type(left) is not type(right):  # (an int beside a float: as written)
                left, right = as_written(left, right)
            return bool(_FUNCS[self._value_](left, right))
        if _is_number(left) != _is_number(right):
            return self is Op.NE
        try:
            return bool(_FUNCS[self._value_](left, right))
        except TypeError:
            return False


_SYMBOLS = {Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">=", Op.EQ: "==", Op.NE: "!="}
_FUNCS: dict[str, Callable[[Any, Any], Any]] = {  # by value: no enum hashing per check
    Op.LT.value: operator.lt,
    Op.LE.value: operator.le,
    Op.GT.value: operator.gt,
    Op.GE.value: operator.ge,
    Op.EQ.value: operator.eq,
    Op.NE.value: operator.ne,
}


class Aggregate(enum.Enum):
    """Which point of a metric's series its headline value must equal (docs/spec.md §2.2)."""

    LAST = "last"
    MIN = "min"
    MAX = "max"

    def of(self, values: Sequence[float]) -> float:
        """The aggregate of a non-empty sequence of values."""
        if self is Aggregate.LAST:
            return values[-1]
        return min(values) if self is Aggregate.MIN else max(values)


NUMBER_TYPES = frozenset({int, float})  # exact types of JSON numbers: a bool is not one


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Severity(str, enum.Enum):
    """What a failed check does: an error makes the run infeasible; a warning is only
    reported (docs/spec.md §3, advisory constraints)."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Metric:
    """One entry of the metrics registry."""

    name: str
    group: str
    higher_is_better: bool
    description: str = ""
    unit: str = ""
    threshold: float | None = None
    min: float | None = None
    max: float | None = None
    # With a series (series.py), the value `metrics` must hold: no silent recomputation.
    aggregate: Aggregate | None = None

    def threshold_gate(self) -> Gate | None:
        """The gate a registry threshold implies: strictly better than the threshold."""
        if self.threshold is None:
            return None
        op = Op.GT if self.higher_is_better else Op.LT
        return Gate(self.name, op, self.threshold, source="threshold")


@dataclass(frozen=True)
class Gate:
    """`metric:op:value`: a run passes iff its metric OP value."""

    metric: str
    op: Op
    value: float
    source: str = "gate"
    severity: Severity = Severity.ERROR

    @functools.cached_property
    def name(self) -> str:
        return f"{self.metric}:{self.op.value}:{fmt_number(self.value)}"


@dataclass(frozen=True)
class Rule:
    """A competition rule on a run's parameters."""

    param: str
    op: Op
    value: str | float | bool
    required: bool = False
    severity: Severity = Severity.ERROR

    @functools.cached_property
    def name(self) -> str:
        return f"{self.param}:{self.op.value}:{self.value}"

    @functools.cached_property
    def key(self) -> Hashable:
        """The condition: rules with one key are one check (`one_check_each`). The bound
        as the rule compares with it (`numeric`): `value: "0"` and `value: 0` are one
        condition, and were two checks of one name, an error and a warning (a hunt,
        thirty-eighth pass)."""
        return (param_key(self.param), self.op, value_key(numeric(self.value)), self.required)


def value_key(value: str | float | bool) -> tuple[str, object]:
    """A rule's value as a key: 1 and 1.0 are one number, 1 and True and "1" are not."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        # The decimal as written: 1e23 and 10**23 are one bound, as the rules compare
        # them (a review, issue 18 twenty-fourth pass).
        return ("number", number_key(value))
    return ("str", value)


_Check = TypeVar("_Check", "Gate", Rule)


def one_check_each(
    checks: Iterable[_Check], key: Callable[[_Check], Hashable]
) -> tuple[_Check, ...]:
    """The same condition given twice (a --gate that repeats a threshold, a rule written
    as an error and as a warning) is one check, where it first appears; an error among
    its repeats makes it an error (docs/spec.md §3)."""
    seen: dict[Hashable, int] = {}
    unique: list[_Check] = []
    for check in checks:
        at = seen.get(key(check))
        if at is None:
            seen[key(check)] = len(unique)
            unique.append(check)
        elif check.severity is Severity.ERROR and unique[at].severity is not Severity.ERROR:
            unique[at] = dataclasses.replace(unique[at], severity=Severity.ERROR)
    return tuple(unique)


def one_gate_each(gates: Iterable[Gate]) -> tuple[Gate, ...]:
    """`one_check_each` of gates: one condition is its metric, operator and bound."""
    return one_check_each(gates, lambda g: (g.metric, g.op, float(g.value)))


@dataclass(frozen=True)
class WalkForward:
    """The walk-forward check (docs/spec.md §6.2 item 6): `metric` against itself on `split`
    over the top `top_n` feasible runs, and the holdout budget."""

    metric: str
    split: str
    top_n: int = 10
    min_pearson: float = 0.3
    # The holdout budget (audit/budget.py): results carrying `split` per study, at most,
    # and in all studies together (a study is the author's word: only the total binds).
    max_evaluations_per_study: int | None = None
    max_evaluations: int | None = None


@dataclass(frozen=True)
class Ranking:
    """How the leaderboard sorts: by `sort_by`, then the tie-breaks."""

    sort_by: str
    descending: bool
    tie_break: tuple[str, ...] = ()
    # The Ladder's step η (audit/ladder.py); None: no ladder.
    ladder_step: float | None = None


# The order the kinds are tried in: a path several kinds match is the first of them.
_KINDS_IN_ORDER = (Kind.RESULT, Kind.EXPERIMENT, Kind.CORRECTION)


@dataclass(frozen=True)
class Policy:
    """The parsed, checked policy. Built once and passed in; never global."""

    path: str
    sha256: str
    metrics: Mapping[str, Metric]
    required_metrics: tuple[str, ...]
    ranking: Ranking
    gates: tuple[Gate, ...]
    rules: tuple[Rule, ...]
    experiment_globs: tuple[str, ...] = DEFAULT_EXPERIMENT_GLOBS
    result_globs: tuple[str, ...] = DEFAULT_RESULT_GLOBS
    max_runs_per_study: int | None = None
    max_runs: int | None = None  # records in all studies together (checks.py)
    walk_forward: WalkForward | None = None
    base_seed: int = 0
    results_immutable: bool = True
    # Corrections (corrections.py): where they live, and whether one may approve a rewrite.
    correction_globs: tuple[str, ...] = DEFAULT_CORRECTION_GLOBS
    corrections_allowed: bool = True
    public_keys: tuple[str, ...] = ()
    scan_allow: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def metric_hint(self, name: str) -> str:
        """` (did you mean 'x'?)` for a metric not in the registry: a registered name one
        edit away, case aside, found in an index made once. (difflib over the whole
        registry for every unknown name cost names × metrics: 200 results of 100
        unknown names against 2,000 metrics took 131 s.)"""
        index = self._hint_index
        found = next((index[key] for key in _one_edit(name.lower()) if key in index), None)
        return f" (did you mean {found!r}?)" if found is not None else ""

    @functools.cached_property
    def _hint_index(self) -> dict[str, str]:
        # Each registered name, and each with one character deleted: two names one
        # edit apart (a character deleted, added, changed, or two swapped) share one.
        index: dict[str, str] = {}
        if len(self.metrics) <= MAX_HINTED_METRICS:  # (names of ≤ 128 characters)
            for metric in sorted(self.metrics):
                for key in _one_edit(metric.lower()):
                    index.setdefault(key, metric)
        return index

    def kind_of(self, path: str) -> Kind | None:
        """Which kind of document a root-relative path holds, by the policy's globs
        (a path several kinds match is a result, else an experiment record)."""
        index = self._classify(path.removeprefix("./"))
        return None if index is None else _KINDS_IN_ORDER[index]

    def takes_any_name(self) -> bool:
        """Whether the record or result globs may take a file whose name does not end in
        `.json` (`experiments/**/*`): its id is then the whole name (documents.stem), and
        whoever finds documents by id lists every path by it, as the audit groups them.
        With only `*.json` globs (the templates') other paths are never documents. A
        hunter's find: `experiments/a/run1` and `experiments/b/run1`, both of id `run1`,
        passed `validate --staged`, and the audit of their commit refused a duplicate id."""
        globs = (*self.experiment_globs, *self.result_globs)
        return not all(glob.endswith(".json") for glob in globs)

    def globs_of(self, kind: Kind) -> tuple[str, ...]:
        """The `paths` globs of records, results or corrections."""
        by_kind = {
            Kind.EXPERIMENT: self.experiment_globs,
            Kind.RESULT: self.result_globs,
            Kind.CORRECTION: self.correction_globs,
        }
        return by_kind.get(kind, ())

    def placed(self, kind: Kind, usual: str, tails: Sequence[str]) -> str:
        """Where a new document of `kind` goes: `<usual>/<tails[0]>` when the policy reads
        a `kind` there; else, for each of its `kind` globs in order, each of `tails` below
        the glob's literal folder, the first the policy reads as a `kind` (never one
        another kind's globs take first); else the usual path, which callers refuse,
        naming the globs."""
        from expflow_git.globs import literal_folder

        candidates = [f"{usual}/{tails[0]}"]
        for folder in dict.fromkeys(literal_folder(g) for g in self.globs_of(kind)):
            if folder is not None:
                candidates += [f"{folder}/{tail}" if folder else tail for tail in tails]
        return next((rel for rel in candidates if self.kind_of(rel) is kind), candidates[0])

    @functools.cached_property
    def _classify(self) -> Callable[[str], int | None]:
        """Every kind's globs at once, results first: one match per path of a tree."""
        from expflow_git.globs import classifier

        return classifier((self.result_globs, self.experiment_globs, self.correction_globs))

    def all_gates(self, extra: tuple[Gate, ...] = ()) -> tuple[Gate, ...]:
        """Registry thresholds, then policy gates, then `extra` (e.g. `rank --gate`)."""
        return one_gate_each(self.threshold_gates + self.gates + extra)

    @functools.cached_property
    def rule_keys(self) -> frozenset[str]:
        """The normalised names (`param_key`) of the parameters the rules read."""
        return frozenset(param_key(rule.param) for rule in self.rules)

    @functools.cached_property
    def threshold_gates(self) -> tuple[Gate, ...]:
        """The gates the registry's thresholds imply, in registry order."""
        return tuple(g for m in self.metrics.values() if (g := m.threshold_gate()))


def fmt_number(value: float) -> str:
    """A number as people write it: 60, not 60.0; 18.09 as is. An integer of more than
    20 digits (a document may hold one no double holds: 10**400) is shown by its first
    digits and its length."""
    if type(value) is int:
        text = str(value)
        return text if len(text) <= 20 else f"{text[:6]}… ({len(text.lstrip('-'))} digits)"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def quoted(value: Any, limit: int = 60) -> str:
    """`repr(value)` for a message, cut to about `limit` characters: a policy holds 1 MiB,
    and a gate or metric name of 300,000 characters was quoted whole (twice, in a
    gate's error: a 600 KB line, finding and annotation; an attacker's hunt,
    thirty-seventh pass)."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit] + "…")
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def parse_number(text: str, *, what: str) -> float:
    """A finite decimal number, as JSON writes it and a double holds as written
    (jsonstrict.float_problem); anything else is a usage error."""
    text = text.strip()
    if not _NUMBER_RE.match(text):
        raise ExpflowError(f"{what}: {quoted(text)} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise ExpflowError(f"{what}: {quoted(text)} is not a finite number")
    problem = float_problem(text, value)
    if problem is not None:  # `--metric x=1e-400`, a gate `le:60.0000000000000001`
        raise ExpflowError(f"{what}: {problem}")
    return value


def numeric(value: Any) -> Any:
    """`value` as rules and filters compare it: a string spelled as a JSON number (`"5"`,
    `"-0.5"`, `"1e-3"`; trackers such as MLflow and ClearML store every parameter as a
    string) whose value a double holds finitely and as written (jsonstrict.float_problem:
    `"-1e-400"` would pass `ge:0` as 0) is that number, an integer exactly; anything
    else, a bool included, is itself (docs/spec.md §3)."""
    if type(value) is not str or not _JSON_NUMBER_RE.match(value):
        return value
    if _JSON_INTEGER_RE.match(value):
        # int(), not float(): "9007199254740993" is not 9007199254740992. A double holds
        # at most 309 integer digits; more would be slow to convert, and is not finite.
        if len(value) > 310:
            return value
        integer = int(value)
        try:
            float(integer)
        except OverflowError:
            return value
        return integer
    number = float(value)
    if not math.isfinite(number) or float_problem(value, number) is not None:
        return value
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def parse_gate(
    spec: str | Mapping[str, Any], metrics: Mapping[str, Metric] | None, *, source: str = "gate"
) -> Gate:
    """Parse `metric:op:value` strictly: unknown metric, unknown op or bad value → exit 2.

    `spec` is the string, or `{gate: "metric:op:value", severity: error|warning}` (the
    default severity is error). The one gate parser: `--gate`/`--warn`, the policy's
    gates, `compare_scores`, and a report's check names read back for display (`metrics`
    None: the metric is not looked up in a registry).
    """
    severity = Severity.ERROR
    if not isinstance(spec, str):
        text, severity = _gate_mapping(spec)
    else:
        text = spec
    parts = text.split(":")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise ExpflowError(
            f"gate {quoted(text)} is malformed: expected metric:op:value "
            "(op one of lt, le, gt, ge, eq, ne)"
        )
    metric, op_text, value_text = (p.strip() for p in parts)
    try:
        op = Op(op_text.lower())
    except ValueError:
        raise ExpflowError(
            f"gate {quoted(text)}: unknown operator {quoted(op_text)}; "
            "use one of lt, le, gt, ge, eq, ne"
        ) from None
    if metrics is not None and metric not in metrics:
        raise ExpflowError(
            f"gate {quoted(text)}: unknown metric {quoted(metric)}{did_you_mean(metric, metrics)}"
        )
    value = parse_number(value_text, what=f"gate {quoted(text)}")
    return Gate(metric, op, value, source=source, severity=severity)


_GATE_KEYS = ("gate", "severity")


def _gate_mapping(spec: Mapping[str, Any]) -> tuple[str, Severity]:
    """The text and severity of a gate's mapping form; anything else is a usage error."""
    if not isinstance(spec, Mapping):
        raise ExpflowError(f"gate {quoted(spec)}: expected a string or a mapping with 'gate'")
    for key in spec:
        if key not in _GATE_KEYS:
            raise ExpflowError(
                f"gate: unknown key {quoted(key)}{did_you_mean(str(key), list(_GATE_KEYS))}"
            )
    text = spec.get("gate")
    if not isinstance(text, str):
        raise ExpflowError("gate: 'gate' must be a string metric:op:value")
    severity = spec.get("severity", Severity.ERROR.value)
    try:
        return text, Severity(severity)
    except ValueError:
        raise ExpflowError(
            f"gate {quoted(text)}: severity {quoted(severity)} is not one of error, warning"
        ) from None


@functools.lru_cache(maxsize=4096)  # a repository's records share a few parameter names
def param_key(name: str) -> str:
    """How rules find a parameter: last path segment, leading dashes dropped, case folded.

    `Args/--sub_step` and `sub_step` both become `sub_step`.
    """
    return name.rsplit("/", 1)[-1].lstrip("-").casefold()


MAX_HINTED_METRICS = 1000  # a registry past this size gives no spelling hint


def _one_edit(word: str) -> Iterator[str]:
    """The word, then the word with one character deleted, in turn."""
    yield word
    if len(word) <= 128:  # no registered name is longer: a longer word needs no more
        for i in range(len(word)):
            yield word[:i] + word[i + 1 :]


def did_you_mean(word: str, choices: Mapping[str, Any] | list[str]) -> str:
    import difflib  # only a broken policy needs it; every hook imports this module

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def policy_in_commit(policy_path: str | None, root: Path | None = None) -> str:
    """The policy's path inside a commit (relative to the repository root), from --policy
    or EXPFLOW_POLICY. A relative path is taken from the repository root, wherever the
    command runs (as the work tree's policy is: `Workspace.find`), and normalised as git
    names a path (`./expflow.yaml`, `.//expflow.yaml` and `results/../expflow.yaml` are
    `expflow.yaml`: only a leading `./` was dropped, and `.//expflow.yaml` was looked up as
    `/expflow.yaml`); an absolute path inside `root` is taken relative to it (`audit
    --policy /abs/repo/expflow.yaml` found no policy at HEAD where `list` read it; a user's
    hunt). A path outside the repository (`../expflow.yaml`, an absolute one elsewhere)
    names no file of a commit: refused (ExpflowError, exit 2), naming the path as given."""
    given = policy_path
    if policy_path and root is not None and os.path.isabs(policy_path):
        policy_path = _below_root(policy_path, root) or policy_path
    path = (policy_path or DEFAULT_POLICY_PATH).replace(os.sep, "/")
    if path.startswith("/"):
        raise _refused(given, "outside the repository, where no commit holds it")
    path = posixpath.normpath(path)
    if path == ".." or path.startswith("../"):
        raise _refused(given, "outside the repository (a relative path is taken from its root)")
    if path == ".":
        raise _refused(given, "the repository's root folder, not a file")
    return path


def _below_root(absolute: str, root: Path) -> str | None:
    """`absolute` relative to the repository's root, or None outside it: its shortest
    leading folders that are the root (the same folder, however the path reaches it),
    then the rest as written. No link below the root is followed: the work tree is a
    pull request's checkout, and `resolve()` let its `expflow.yaml -> examples/lax.yaml`
    choose the base's policy file that judged it (an attacker's hunt)."""
    from expflow_git.atomicfile import below_root

    parts = below_root(absolute, root)
    return None if parts is None else _inside(root, parts)


def _inside(root: Path, parts: list[str]) -> str | None:
    """`parts` below the root as git names them (`a/../b` is `b`), or None where a `..`
    leaves the root or backs out of a link (the OS would open another file than the
    commit's: `sub -> ../elsewhere` and `sub/../expflow.yaml`; a review)."""
    kept: list[str] = []
    for part in parts:
        if part != "..":
            kept.append(part)
        elif not kept or os.path.islink(os.path.join(root, *kept)):
            return None
        else:
            kept.pop()
    return "/".join(kept) or "."


def _refused(given: str | None, why: str) -> ExpflowError:
    """The one-line refusal (exit 2) of a policy path no commit holds, named as given."""
    return ExpflowError(f"policy {given}: {why}")
