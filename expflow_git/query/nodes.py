"""The nodes of a parsed `--where` expression and how each reads a run's fields
(docs/spec.md §4.1): a missing value matches no comparison; tags are a list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Protocol

from expflow_git.policy.model import param_key
from expflow_git.query.values import MISSING, OneOf, compare, compare_names

Literal = str | int | float | bool | None
# Fields that are names: compared as text, and an unquoted number is the name as typed.
NAMES = ("id", "study", "status")


class Fields(Protocol):
    """What a filter reads of a run (query.runs.Run has it; so does a ranked run)."""

    @property
    def id(self) -> str: ...
    @property
    def study(self) -> str: ...
    @property
    def status_name(self) -> str: ...
    @property
    def params(self) -> Mapping[str, object]: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def metrics(self) -> Mapping[str, float]: ...
    @property
    def splits(self) -> Mapping[str, Mapping[str, float]]: ...


@dataclass(frozen=True)
class Field:
    """A field path (`("splits", "holdout", "seg_total")`) and where it starts."""

    path: tuple[str, ...]
    column: int

    @property
    def root(self) -> str:
        return self.path[0]

    def __str__(self) -> str:
        return ".".join(self.path)

    @property
    def names(self) -> bool:
        """Whether it holds names (NAMES, and `tags`, the list of a run's tags): compared
        as text, an unquoted number the name as typed (`tags = 5` is the tag "5", as
        `tags in (5)` is)."""
        return self.root in NAMES or self.path == ("tags",)


class Reading:
    """A run as one expression reads it (its Fields), with its parameters keyed as rules
    find them, made on the first test that asks by such a name. Each test scanned every
    parameter: tests × params a run (250 tests, 1,000 params, 400 runs: 6.9 s)."""

    __slots__ = ("id", "study", "status_name", "params", "tags", "metrics", "splits", "_keyed")

    def __init__(self, run: Fields) -> None:
        self.id, self.study, self.status_name = run.id, run.study, run.status_name
        self.params, self.tags = run.params, run.tags
        self.metrics, self.splits = run.metrics, run.splits
        self._keyed: dict[str, tuple[str, object]] | None = None

    def param(self, name: str) -> object:
        """The parameter a rule would read as `name` (last path segment, dashes, case):
        of several, the first name in code-point order, not in key order."""
        if self._keyed is None:
            keyed: dict[str, tuple[str, object]] = {}
            for k, v in self.params.items():
                key, spelled = param_key(k), str(k)
                held = keyed.get(key)
                if held is None or spelled < held[0]:
                    keyed[key] = (spelled, v)
            self._keyed = keyed
        return self._keyed.get(param_key(name), (None, MISSING))[1]


def lookup(field: Field, run: Fields) -> object:
    """The run's value of `field`; `MISSING` where it has none. A parameter is found by
    its exact name, else as a rule finds it (Reading.param)."""
    root, path = field.root, field.path
    if root == "metrics":
        return run.metrics.get(path[1], MISSING)
    if root == "splits":
        return run.splits.get(path[1], {}).get(path[2], MISSING)
    if root == "params":
        params = run.params
        if path[1] in params:
            return params[path[1]]
        return (run if isinstance(run, Reading) else Reading(run)).param(path[1])
    if root == "study":
        return run.study
    if root == "status":
        return run.status_name
    if root == "id":
        return run.id
    raise AssertionError(root)  # tags are tested by Tagged / TagTest


def _tag_values(name: str, tags: Sequence[str]) -> list[str]:
    """The values of key:value tags `NAME:VALUE` with this name."""
    prefix = name + ":"
    return [t[len(prefix) :] for t in tags if t.startswith(prefix)]


class Node(Protocol):
    def matches(self, run: Fields) -> bool: ...


@dataclass(frozen=True)
class Compare:
    """`field OP value`: false where the run has no such value (as in MLflow)."""

    field: Field
    op: str
    value: Literal

    def matches(self, run: Fields) -> bool:
        if self.field.root == "tags":
            if len(self.field.path) == 1:  # `tags = 'x'`: membership
                return (self.value in run.tags) == (self.op == "=")
            values = _tag_values(self.field.path[1], run.tags)
            if self.op == "!=":
                return bool(values) and all(compare(v, "!=", self.value) for v in values)
            return any(compare(v, self.op, self.value) for v in values)
        found = lookup(self.field, run)
        same = compare_names if self.field.names else compare
        return found is not MISSING and same(found, self.op, self.value)


@dataclass(frozen=True)
class In:
    """`field [not] in (v, …)`: present and equal to one of them (or to none)."""

    field: Field
    values: tuple[Literal, ...]
    negated: bool
    # The literals read once, here (values.OneOf): a run's value is looked up, not
    # compared with each literal in turn.
    one_of: OneOf = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "one_of", OneOf(self.values, names=self.field.names))

    def matches(self, run: Fields) -> bool:
        if self.field.root == "tags":
            found: list[object] = (
                list(run.tags)
                if len(self.field.path) == 1
                else list(_tag_values(self.field.path[1], run.tags))
            )
            if not found and len(self.field.path) > 1:
                return False
        else:
            value = lookup(self.field, run)
            if value is MISSING:
                return False
            found = [value]
        has = self.one_of.has
        return any(has(f) for f in found) != self.negated


@dataclass(frozen=True)
class Tagged:
    """A bare `tags.NAME`: the run has the tag NAME, or a key:value tag `NAME:…`."""

    name: str

    def matches(self, run: Fields) -> bool:
        return self.name in run.tags or bool(_tag_values(self.name, run.tags))


@dataclass(frozen=True)
class Not:
    part: Node

    def matches(self, run: Fields) -> bool:
        return not self.part.matches(run)


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Node, ...]

    def matches(self, run: Fields) -> bool:
        return all(p.matches(run) for p in self.parts)


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Node, ...]

    def matches(self, run: Fields) -> bool:
        return any(p.matches(run) for p in self.parts)


def value_of(field: Field, run: Fields) -> object:
    """A column's value for a run: None where it has none (`lookup` tells a missing
    value from a JSON null)."""
    found = lookup(field, run)
    return None if found is MISSING else found
