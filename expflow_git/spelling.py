"""Canonical (RFC 8785 / JCS) spellings of numbers: how a report writes a metric value.

A result's numbers are spelled once when its blob is first checked and the
spellings are kept in the audit's cache (a warm audit copies them instead of
spelling 1.5M floats again); the report encoder (report.canonical) uses the
same functions, so the two cannot drift.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring

import rfc8785

_LONG_INT_REPR = re.compile(r"[\[( ]-?\d{16,}[,\])]")  # a 16+ digit integer in a repr


def jcs_number(value: float) -> bytes:
    """One number in canonical form; what the C encoder spells differently goes to the reference."""
    if type(value) is int and -(2**53) < value < 2**53:
        return str(value).encode()
    if type(value) is float:
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value)).encode()
        text = float.__repr__(value)
        if "e" not in text and "n" not in text and not text.endswith(".0"):
            return text.encode()
    return rfc8785.dumps(value)


def spellings(numbers: Sequence[float]) -> Sequence[str]:
    """Each number's JCS spelling. One `repr` of their list is JCS's spelling unless a
    token has an exponent, ends in `.0` or has 16+ digits; then each goes through
    `jcs_number`."""
    # repr() of a tuple or list of ints and floats is their JSON spelling joined by
    # ", "; anything else (a bool, None, a string, inf, nan) has an "e", "n" or a quote.
    text = repr(numbers)
    if (
        "e" in text
        or "n" in text
        or "'" in text
        or ".0," in text
        or text[-3:-1] == ".0"
        or _LONG_INT_REPR.search(text)
    ):
        return [jcs_number(x).decode() for x in numbers]
    return text[1:-1].split(", ")


Shape = tuple[str, Callable[[Mapping[str, float]], Sequence[float]]]


@functools.lru_cache(maxsize=1024)
def shape(keys: tuple[str, ...]) -> Shape | None:
    """For one key order: a %-template of the canonical object (keys sorted, a `%s` per
    value) and a getter of the values in that order; None for keys outside ASCII (JCS
    orders those by UTF-16 units: the reference sorts them)."""
    if not all(k.isascii() for k in keys):
        return None
    ordered = sorted(keys)
    template = (
        "{" + ",".join(encode_basestring(k).replace("%", "%%") + ":%s" for k in ordered) + "}"
    )

    getter: Callable[[Mapping[str, float]], Sequence[float]]
    if len(ordered) > 1:
        getter = operator.itemgetter(*ordered)  # a tuple of the values, in C
    else:
        getter = lambda values: [values[k] for k in ordered]  # noqa: E731
    return template, getter


def spell_numbers(values: Mapping[str, float]) -> str | None:
    """The canonical spellings of an object of numbers' values in its canonical key order,
    joined by ","; None when a key is outside ASCII."""
    found = shape(tuple(values))
    if found is None:
        return None
    return ",".join(spellings(found[1](values))) if values else ""


def spell_run(
    metrics: Mapping[str, float], splits: Mapping[str, Mapping[str, float]]
) -> str | None:
    """`spell_numbers` of a result's metrics, then of each split's in name order, joined
    by ";"; None when a name is outside ASCII."""
    out = []
    for values in (metrics, *(splits[name] for name in sorted(splits))):
        spelled = spell_numbers(values)
        if spelled is None:
            return None
        out.append(spelled)
    return ";".join(out) if all(name.isascii() for name in splits) else None


# What `spell_run` writes: JCS numbers (no leading zero, no trailing zero in a fraction,
# a signed exponent) joined by "," per object, objects joined by ";" (an empty object
# spells as nothing). A spelling taken from a cache record is copied into a report as
# it is: one that does not match is not used.
_NUMBER = r"-?(?:0|[1-9][0-9]*+)(?:\.[0-9]*[1-9])?+(?:e[-+][0-9]++)?+"
SPELLING = re.compile(rf"(?:{_NUMBER}(?:,{_NUMBER})*+)?+(?:;(?:{_NUMBER}(?:,{_NUMBER})*+)?+)*+")
