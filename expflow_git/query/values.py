"""How a filter compares a run's value with a literal: numbers as numbers, also when a
tracker stored them as strings (ClearML and MLflow keep every parameter as a string:
`"5"` is 5), booleans also when spelled `"True"`, strings as strings."""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Callable, Iterable
from typing import Any

from expflow_git.documents import as_written, exact
from expflow_git.policy.model import numeric as rule_numeric


class Missing(enum.Enum):
    """A run without the field: a param may be JSON null, so None is a value. (Here, not
    in nodes.py: the tables' renderers need it, and the audit need not import the
    expressions' nodes: ~4 ms of its start-up.)"""

    MISSING = "missing"

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing.MISSING

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def numeric(value: object) -> int | float | None:
    """`value` as a number: a JSON number (never a boolean), or a string that spells a
    finite one as rules read it (policy.model.numeric: `"5"`, `"1e-3"`); None for
    anything else. Filters and rules share that one spelling (docs/spec.md §3). An
    integer stays one (9007199254740993 is not 9007199254740992), and one no double
    holds (10**400) is still ordered; `compare` sets it beside a float as the decimals
    the two are written as (documents.as_written: 10**23 is 1e23)."""
    if type(value) is int or type(value) is float:
        return value
    if isinstance(value, str):
        number = rule_numeric(value)
        if type(number) is int or type(number) is float:
            return number
    return None


def truth(value: object) -> bool | None:
    """`value` as a boolean: a JSON boolean, or the string `true`/`false` in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.casefold() in ("true", "false"):
        return value.casefold() == "true"
    return None


def compare(left: object, op: str, right: object) -> bool:
    """`left OP right` for a run's value `left` and a literal `right` (op one of OPS):
    numerically when both are numbers (or spell one), then as booleans (false before
    true, as a rule's `Op.holds` orders them), as strings, or null with null. Values of
    different kinds are unequal and not ordered: only `!=` holds.

    Two booleans were only ever `=` or `!=`: `params.amp >= true` matched no run whose
    amp is true, while `params.amp = true` did (and `params.n >= null` a null), and a
    rule `{param: amp, op: ge, value: true}` passed the run the filter left out (a hunt,
    issue 18 thirty-ninth pass)."""
    func = OPS[op]
    a, b = numeric(left), numeric(right)
    if a is not None and b is not None:
        return func(*as_written(a, b))
    if isinstance(left, bool) or isinstance(right, bool):
        x, y = truth(left), truth(right)
        if x is not None and y is not None:
            return func(x, y)
    elif isinstance(left, str) and isinstance(right, str):
        return func(left, right)
    elif left is None and right is None:
        return op in ("=", "<=", ">=")
    return op == "!="


def compare_names(left: object, op: str, right: object) -> bool:
    """`left OP right` for a name (a run's id, study or status): as strings only, never as
    the numbers they may spell (study `2024.1` is not `2024.10`); a name and anything
    else are unequal and not ordered."""
    if isinstance(left, str) and isinstance(right, str):
        return OPS[op](left, right)
    return op == "!="


# What a value is equal to, as a key (kind, form): one run's value and one literal are
# equal by `compare` exactly when a key of the one is a key of the other. "bool" is a
# literal boolean, which a run's boolean or its string `"True"` equals; "truth" a literal
# string `'true'`, which only a run's boolean equals (`"True"` is not the string `'true'`).
Key = tuple[str, object]
_EXACT_INT = 2**53


def _number_key(number: int | float) -> int | float:
    """A finite number as `compare` finds numbers equal (documents.as_written): an integer,
    or a float holding one, as that integer (the decimal its shortest spelling is: 1e23 is
    10**23; below 2**53 the double's own value, -0.0 is 0); any other float as itself
    (it equals no integer, and a float only itself)."""
    if isinstance(number, int) or not number.is_integer():
        return number
    if -_EXACT_INT <= number <= _EXACT_INT:
        return int(number)
    return int(exact(number))


def _run_keys(value: object) -> tuple[Key, ...] | None:
    """The keys of a run's value, read once (one `numeric`); None for a value keys do not
    decide (a non-finite float, a type a document does not hold): compared one by one."""
    kind = type(value)
    if value is None:
        return (("null", None),)
    if kind is bool:
        return (("bool", value), ("truth", value))
    if kind is not int and kind is not float and kind is not str:
        return None
    number = numeric(value)
    if number is not None:
        if type(number) is float and not math.isfinite(number):
            return None
        return (("number", _number_key(number)),)
    assert isinstance(value, str)
    held = truth(value)  # `"True"` = true, but `"True"` is not `'true'`
    return (("string", value),) if held is None else (("string", value), ("bool", held))


def _literal_keys(literal: object) -> tuple[Key, ...] | None:
    """The keys of a literal, read once; None as for `_run_keys`."""
    kind = type(literal)
    if literal is None:
        return (("null", None),)
    if kind is bool:
        return (("bool", literal),)
    if kind is not int and kind is not float and kind is not str:
        return None
    keys: tuple[Key, ...] = ()
    number = numeric(literal)
    if number is not None:
        if type(number) is float and not math.isfinite(number):
            return None
        keys = (("number", _number_key(number)),)
    if isinstance(literal, str):
        keys += (("string", literal),)
        held = truth(literal)
        if held is not None:
            keys += (("truth", held),)
    return keys


class OneOf:
    """The literals of an `in (…)` list, read once when the expression is parsed:
    `has(value)` is `any(compare(value, "=", v) for v in literals)` (or `compare_names`
    for a name), by a look-up of the value's keys. Each comparison read the run's value
    and the literal as numbers again: runs × literals parsings (an expression may hold
    ~2,000 literals: 8,000 runs took 36 s)."""

    __slots__ = ("literals", "names", "_keys", "_others")

    def __init__(self, literals: Iterable[object], *, names: bool = False) -> None:
        self.literals = tuple(literals)
        self.names = names
        keys: set[object] = set()
        # The literals keys do not decide (none the parser makes): compared one by one,
        # and only they, so one of them cannot make the whole list slow again.
        others: list[object] = []
        for literal in self.literals:
            if names:  # compare_names: a string equals a string, nothing else anything
                found: tuple[object, ...] | None = (
                    (literal,) if type(literal) is str else None if isinstance(literal, str) else ()
                )
            else:
                found = _literal_keys(literal)
            if found is None:
                others.append(literal)
            else:
                keys.update(found)
        self._keys = frozenset(keys)
        self._others = tuple(others)

    def has(self, value: object) -> bool:
        """Whether the run's `value` equals one of the literals."""
        if self.names:
            if not isinstance(value, str):
                return False
            if type(value) is not str:  # (a subclass: as compare_names reads it)
                return any(compare_names(value, "=", v) for v in self.literals)
            return value in self._keys or any(compare_names(value, "=", v) for v in self._others)
        keys = _run_keys(value)
        if keys is None:
            return any(compare(value, "=", v) for v in self.literals)
        return any(k in self._keys for k in keys) or any(
            compare(value, "=", v) for v in self._others
        )
