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

import hashlib
import json
import re
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

import rfc8785

from expflow_git.spelling import shape, spellings

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


def as_doubles(value: Any) -> Any:
    """`value` with every integer of 2**53 or more that a double holds exactly, below
    1e21, as that double: RFC 8785's numbers are doubles, and it spells such a whole one
    as digits (a param of 1e16), which a JSON reader takes for an integer. The rest as
    it is (a larger integer stays one: out of JCS's range)."""
    if isinstance(value, dict):
        return {k: as_doubles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_doubles(v) for v in value]
    if type(value) is int and 2**53 <= abs(value) < 10**21 and int(float(value)) == value:
        return float(value)
    return value


def holds_digits_16(payload: bytes) -> bool:
    """Whether canonical JSON `payload` may hold a number token of 16 or more digits
    (the only ones `as_doubles` changes); digits in a string may say yes."""
    return _DIGITS_16_BYTES.search(payload) is not None


_DIGITS_16_BYTES = re.compile(rb"[:,\[]-?\d{16}")


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


def jcs_numbers(values: Mapping[str, float], spelled: str | None = None) -> bytes:
    """An object of numbers (metrics) in canonical form, without building the generic tree.

    Per key order seen (documents of one repository share theirs), a template of
    the sorted keys and a getter of the values in that order are built once.
    `spelled` is what `spelling.spell_numbers` gave for the same values (kept in the
    audit's cache): used when it has one token per key, else the values are spelled again.
    """
    found = shape(tuple(values))
    if found is None:  # keys outside ASCII: JCS orders by UTF-16 units, the reference sorts
        return canonical_json(dict(values))
    if not values:
        return b"{}"
    template, ordered = found
    # (An empty spelling is an empty object's: `values` has some.)
    if spelled and len(tokens := spelled.split(",")) == len(values):
        return (template % tuple(tokens)).encode("utf-8")
    return (template % tuple(spellings(ordered(values)))).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()
