"""RFC 8785 (JCS) canonical JSON and the SHA-256 helper every report hash goes through.

The `rfc8785` package is the reference, but it is pure Python and dominated the
audit's time. The C `json` encoder, with sorted keys, no whitespace and
`ensure_ascii=False`, already writes JCS for strings (the same escapes), ints,
booleans and null. It differs only in (a) how some floats are spelled (`15.0`
where JCS writes `15`, `1e-05` where JCS writes `0.00001`), (b) integers beyond
2**53, which JCS refuses, and (c) the order of keys outside the Basic
Multilingual Plane (UTF-16 order versus code points). Those shapes are cheap to
detect in the output; when one (or a look-alike inside a string) appears we
use the reference instead. A property test checks the two agree.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

import rfc8785

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)
# Number tokens (after `:` `,` `[`, before `,` `]` `}`) that JCS spells differently.
_NOT_JCS = re.compile(
    r"[:,\[]-?\d+(?:\.\d+)?e[+-]?\d+(?=[,\]}])"  # exponent form
    r"|[:,\[]-?\d+\.0(?=[,\]}])"  # integral float
    r"|[:,\[]-?\d{16,}(?=[,\]}])"  # an integer JCS may refuse
)
_DIGITS_16 = re.compile(r"[:,\[]-?\d{16}")  # a 16+ digit integer token
_LONG_INT_REPR = re.compile(r"[\[( ]-?\d{16,}[,\])]")  # the same, in a sequence's repr
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def canonical_json(obj: Any) -> bytes:
    """Return the RFC 8785 canonical bytes of a JSON value (dict/list/str/int/float/bool/None).

    Raises a ValueError for values JCS cannot represent (NaN, infinities,
    integers beyond 2**53): the callers build these values themselves, so that
    is a programming error, not user input.
    """
    if isinstance(obj, (dict, list)):
        text = _ENCODER.encode(obj)
        if not _maybe_not_jcs(text) and (text.isascii() or not _ASTRAL.search(text)):
            return text.encode("utf-8")
    return rfc8785.dumps(obj)


def _maybe_not_jcs(text: str) -> bool:
    """Substring searches (fast, in C) for every shape `_NOT_JCS` finds; only text that
    has one of them pays for the regex."""
    suspect = (
        "e-" in text
        or "e+" in text
        or ".0," in text
        or ".0]" in text
        or ".0}" in text
        or _DIGITS_16.search(text) is not None
    )
    return suspect and _NOT_JCS.search(text) is not None


def json_number(value: float) -> float | int:
    """An integral float as an int, so the fast path above need not fall back for it."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def jcs_string(text: str) -> bytes:
    """One JSON string in canonical form (the C encoder's escapes are JCS's).

    `text` must be valid Unicode (no lone surrogates): callers clean it first.
    """
    return encode_basestring(text).encode("utf-8")


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


def jcs_numbers(values: Mapping[str, float], spelled: str | None = None) -> bytes:
    """An object of numbers (metrics) in canonical form, without building the generic tree.

    Per key order seen (documents of one repository share theirs), a template of
    the sorted keys and a getter of the values in that order are built once.
    `spelled` is what `spell_numbers` gave for the same values (kept in the audit's
    cache): used when it has one token per key, else the values are spelled again.
    """
    shape = _shape(tuple(values))
    if shape is None:  # keys outside ASCII: JCS orders by UTF-16 units, the reference sorts
        return canonical_json(dict(values))
    if not values:
        return b"{}"
    template, ordered = shape
    if spelled is not None and len(tokens := spelled.split(",")) == len(values):
        return (template % tuple(tokens)).encode("utf-8")
    return (template % tuple(_spellings(ordered(values)))).encode("utf-8")


def spell_numbers(values: Mapping[str, float]) -> str | None:
    """The canonical spellings of an object of numbers' values in its canonical key order,
    joined by ","; None when a key is outside ASCII (the reference orders those)."""
    shape = _shape(tuple(values))
    if shape is None:
        return None
    return ",".join(_spellings(shape[1](values))) if values else ""


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


# Every character `spell_run` writes: no quote, brace or colon, so a spelling taken
# from a cache record cannot add structure to a report.
SPELLING = re.compile(r"[-+.0-9e,;]*")


def _spellings(numbers: Sequence[float]) -> Sequence[str]:
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
def _shape(keys: tuple[str, ...]) -> Shape | None:
    """The template and value getter for one key order (None: keys outside ASCII)."""
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


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()
