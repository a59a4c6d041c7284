"""Experiment and Result values, built from strictly parsed, schema-valid JSON."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from expflow_git.lazyre import lazy_compile

if TYPE_CHECKING:
    from fractions import Fraction

    from typing_extensions import dataclass_transform  # (typing's from 3.11; types only)
else:

    def dataclass_transform(**_: Any) -> Any:
        return lambda decorator: decorator


EXPERIMENT_SCHEMA = "expflow/experiment@1"
# The schemas' id pattern, for ids that arrive on the command line.
ID_RE = lazy_compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
RESULT_SCHEMA = "expflow/result@1"
# The record schema's maxLength of `reason` (a test holds the two together).
REASON_MAX_LENGTH = 2000

Scalar = str | int | float | bool | None

_Value = TypeVar("_Value")


@dataclass_transform(frozen_default=True)
def run_value(cls: type[_Value]) -> type[_Value]:
    """A frozen dataclass to the type checker (mypy refuses every assignment to a field),
    made without `frozen`'s cost: a frozen dataclass sets each field through
    `object.__setattr__`, ~0.1 µs a field, and an audit makes several of these a run
    (records, results, verdicts, ranks: ~0.25 s of a 100k-run audit; docs/decisions.md).
    Equal and hashed by their fields, as a frozen dataclass is."""
    return dataclass(slots=True, unsafe_hash=True)(cls)


def same_scalar(a: Scalar, b: Scalar) -> bool:
    """Two param values are one value: numbers by value (1 and 1.0), anything else by
    type and value (1 and True are equal in Python, not in a record)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):  # numpy's too
        x, y = as_written(a, b)  # (1e23 is 10**23, as `--where` reads them)
        return bool(x == y)
    return type(a) is type(b) and a == b


def exact(number: float) -> Fraction:
    """The decimal a document's or the policy's number is (docs/spec.md §2.3: its
    double's shortest spelling; `0.1`, not the double nearest it)."""
    from fractions import Fraction  # (~2 ms of imports a hook never needs)

    return Fraction(repr(number)) if type(number) is float else Fraction(number)


def number_key(number: float) -> object:
    """A number as an equality key, the decimal it is written as (docs/spec.md §2.3): 1e23
    and 10**23 are one key, and 1 and 1.0. Only a float past 2**53 can be another number
    than its decimal beside an int (a Fraction hashes as the int it equals); any other
    number is its own key, and a hook imports no `fractions`. 2**53 + 1 is not 2**53, and
    10**400 never overflows (float() would). The rules' bounds (`value_key`) and a
    finished run's frozen fields (`identity`) are keyed so."""
    return exact(number) if type(number) is float and abs(number) >= 2**53 else number


def difference(new: float, old: float) -> float:
    """new − old as the decimals they are written as (docs/spec.md §2.3), rounded once to
    a double: in doubles 1.1 − 1.0 is 0.10000000000000009 and 0.3 − 0.1 is
    0.19999999999999998. Two integers subtract exactly and stay an integer (metrics are
    below 2⁵³ in magnitude, checks.py: the double is finite)."""
    if type(new) is int and type(old) is int:
        return new - old
    return float(exact(new) - exact(old))


def as_written(left: Any, right: Any) -> tuple[Any, Any]:
    """Two numbers (int or float) made comparable as the decimals they are written as.

    Python compares an int with a float's binary value: 10**23 and 1e23 are unequal,
    though both are 100000000000000000000000 as written (§2.3), so a rule's verdict
    hung on the spelling (an attacker's hunt, issue 18 twenty-fourth pass). Only an
    integer past 2**53 can fall between a double and its decimal: any other integer is
    a double itself, on the same side of both. The pair is returned as it is otherwise
    (two of a kind, or a numpy number: its float is no JSON spelling)."""
    kinds = (type(left), type(right))
    if kinds != _MIXED and kinds != _MIXED[::-1]:
        return left, right
    if -_EXACT_INT <= (left if kinds[0] is int else right) <= _EXACT_INT:
        return left, right
    return exact(left), exact(right)


_EXACT_INT = 2**53
_MIXED = (int, float)


class Status(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


STATUS_OF = {s.value: s for s in Status}  # faster than Status(value); KeyError if unknown


# Shared values where a million runs would each hold an equal copy (an audit keeps
# every record's and result's value): read-only views, so no caller can change them for all.
NO_PARAMS: Mapping[str, Scalar] = MappingProxyType({})
_TAGS: dict[tuple[str, ...], tuple[str, ...]] = {}


def shared_tags(tags: Sequence[str]) -> tuple[str, ...]:
    """The record's tags as an interned tuple: most runs of a study repeat the same few."""
    if not tags:
        return ()
    value = tuple(map(sys.intern, tags))
    if len(_TAGS) > 4096:  # a repository of unique tag sets gains nothing: start over
        _TAGS.clear()
    return _TAGS.setdefault(value, value)


@run_value
class Experiment:
    """An experiment record (experiment.schema.json) and where it was read."""

    path: str
    id: str
    study: str
    status: Status
    params: Mapping[str, Scalar]
    tags: tuple[str, ...] = ()
    seed: int | None = None
    title: str = ""
    reason: str = ""  # why a run failed or was skipped (optional in the record)

    @classmethod
    def from_json(cls, path: str, doc: Mapping[str, Any]) -> Experiment:
        """Build from a document that already passed the experiment schema (shared, not copied)."""
        # By position, in the fields' order (a keyword call costs ~0.4 µs more a record).
        return cls(
            path,
            sys.intern(doc["id"]),
            sys.intern(doc["study"]),
            STATUS_OF[doc["status"]],
            # No params left (the audit keeps only those rules read): the shared empty one.
            doc["params"] or NO_PARAMS,
            shared_tags(doc.get("tags", ())),
            doc.get("seed"),
            doc.get("title", ""),
            doc.get("reason", ""),
        )


# The splits of a result that has none: one shared empty mapping, not a dict per result
# (64 bytes each: 64 MB at a million runs); read-only, as NO_PARAMS.
NO_SPLITS: Mapping[str, Mapping[str, float]] = MappingProxyType({})


@run_value
class Result:
    """A run's result (result.schema.json) and where it was read."""

    path: str
    experiment: str
    metrics: Mapping[str, float]
    splits: Mapping[str, Mapping[str, float]]
    # Step-wise values per metric (series.py): `[[step, value], ...]`. The audit keeps
    # them only while a result is checked (its Results hold none: see audit/record.py).
    # None (not an empty dict per result) where there are none.
    series: Mapping[str, Sequence[Sequence[float]]] | None = None

    @classmethod
    def from_json(cls, path: str, doc: Mapping[str, Any]) -> Result:
        """Build from a document that already passed the result schema (shared, not copied)."""
        return cls(
            path,
            sys.intern(doc["experiment"]),
            doc["metrics"],
            doc.get("splits") or NO_SPLITS,  # (an empty one is the shared empty one)
            doc.get("series"),
        )


def stem(path: str) -> str:
    """The file name without directory and `.json` suffix."""
    name = path.rsplit("/", 1)[-1]
    return name[:-5] if name.endswith(".json") else name


def _plain(value: object) -> object:
    """A number of another kind (NumPy's, from a tracker or a sweep) as the plain number
    it is, NaN and infinity then refused as any float is; anything else is a TypeError
    as json makes it."""
    import numbers

    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)  # (NumPy's bool is no number)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dump(doc: Mapping[str, Any]) -> bytes:
    """How the tool writes documents: stable key order, two-space indent, final newline;
    a series' points one `[step, value]` a line. Indented like the rest, a point took
    five lines and ~45 bytes, so a result within the series caps (30,000 points) went
    over the 1 MiB document cap and a finished run was marked failed (a user's hunt)."""
    series = doc.get("series")
    if not isinstance(series, Mapping) or not series:
        text = _json_text(doc)
    else:
        import secrets

        # Each series stands in as a marker no document string can spell (a fresh nonce).
        nonce = secrets.token_hex(16)
        markers = {name: f"series {nonce} {i}" for i, name in enumerate(series)}
        text = _json_text({**doc, "series": markers})
        for name, marker in markers.items():
            lines = [f"      {_json_text(point, compact=True)}" for point in series[name]]
            points = "[\n" + ",\n".join(lines) + "\n    ]" if lines else "[]"
            text = text.replace(json.dumps(marker), points, 1)
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        # A lone surrogate: a command-line argument (or a Python string built from a file
        # name) that was not UTF-8. Refused as input, never a traceback.
        from expflow_git.errors import ExpflowError, printable

        near = " ".join(text[max(0, exc.start - 40) : exc.end + 10].split())
        raise ExpflowError(
            f"not UTF-8 text (a non-UTF-8 argument or file name?): {printable(near)}"
        ) from None


def _json_text(value: Any, *, compact: bool = False) -> str:
    if compact:
        return json.dumps(value, separators=(", ", ": "), allow_nan=False, default=_plain)
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False, default=_plain) + "\n"
