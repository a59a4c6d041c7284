"""How a filter compares a run's value with a literal: numbers as numbers, also when a
tracker stored them as strings (ClearML and MLflow keep every parameter as a string:
`"5"` is 5), booleans also when spelled `"True"`, strings as strings."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from expflow_git.documents import as_written
from expflow_git.policy.model import numeric as rule_numeric

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
    numerically when both are numbers (or spell one), then as booleans, as strings, or
    null with null. Values of different kinds are unequal and not ordered: only `!=`
    holds."""
    func = OPS[op]
    a, b = numeric(left), numeric(right)
    if a is not None and b is not None:
        return func(*as_written(a, b))
    if isinstance(left, bool) or isinstance(right, bool):
        x, y = truth(left), truth(right)
        if x is not None and y is not None:
            return op in ("=", "!=") and func(x, y)
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
