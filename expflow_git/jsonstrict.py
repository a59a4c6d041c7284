"""Strict JSON reader (docs/spec.md §2.3): every document the tool reads goes through here.

A document is read first by orjson (`_fast_decode`), which refuses what the strict
reader refuses (NaN/Infinity, numbers that overflow to infinity, lone surrogates,
invalid UTF-8) but differs from it in two ways, both sent on to the full decoder:
an integer beyond 64 bits becomes a float, and a duplicate key keeps its last value.
Anything it refuses is read again by the full decoder: the C `json` scanner with hooks
that turn every problem (duplicate keys, NaN/Infinity, numbers that overflow to
infinity or pass the int digit limit) into a sentinel value; the tree is then walked
to find the first sentinel's JSON pointer, which the message names.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 64

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class JsonProblem(Exception):
    """Why a document is not strict JSON: where (pointer, line, col) and what."""

    message: str
    pointer: str = ""
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        return self.message


class _Bad:
    """A value the strict reader refuses, left in place so we can find its pointer."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _DupDict(dict[str, Any]):
    """An object that had a duplicate key; `reason` names it."""

    reason = ""


# Digits to "0", every other byte as it is: 19 zeros in a row are 19 digits in a row.
_DIGITS = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_INTEGER = b"0" * 19  # orjson reads an integer of 20 digits or more as a float
_COLON_ESCAPE = b"\\u003"  # (with an "a" or "A": a colon written as an escape)
_orjson: Any = None  # imported at the first document (~4 ms a command that reads none spares)


def parse_json(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> dict[str, Any]:
    """Parse one JSON document strictly; the top level must be an object.

    Raises JsonProblem with a one-line message (and pointer/line/col where known).
    """
    if len(data) > max_bytes:
        raise JsonProblem(over_cap(len(data), max_bytes))
    if data.startswith(_BOM):
        raise JsonProblem(
            "starts with a UTF-8 byte-order mark (BOM); save it as plain UTF-8", line=1, col=1
        )
    # Only a document with more brackets than the cap can be nested deeper than
    # it: the cheap count spares the exact scan for nearly every document.
    if data.count(b"[") + data.count(b"{") > max_depth:
        _check_depth(_text(data), max_depth)
    value = _fast_decode(data)
    if value is _MISS:
        value = _full_decode(_text(data), max_depth)
    # A `\\uD800`-style escape can decode to a lone surrogate, which is not Unicode
    # text; only documents holding such an escape pay for the walk.
    if b"\\" in data and (b"\\ud" in data or b"\\uD" in data):  # one byte: a fast scan first
        _check_surrogates(value)
    if not isinstance(value, dict):
        raise JsonProblem(f"top level must be an object, not {type_name(value)}")
    return value


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise JsonProblem(f"invalid UTF-8 at byte {exc.start}", line=line) from None


_MISS = object()


def _fast_decode(data: bytes) -> Any:
    """The document as orjson reads it, or _MISS when the full decoder must read it.

    Two cases orjson reads otherwise go to the full decoder: 19 digits in a row (an
    integer past 64 bits would be a float), and a duplicate key (orjson keeps the last
    value). A colon is either a member's (one each) or in a string, and orjson writes
    both back as they were read, so the value written again holds fewer colons than
    the bytes exactly when a key was given twice. A colon written as an escape is in a
    string read but not in the bytes, and would hide one duplicate: a document holding
    `\\u003` is read by the full decoder.
    """
    global _orjson
    if _LONG_INTEGER in data.translate(_DIGITS) or _COLON_ESCAPE in data:
        return _MISS
    if _orjson is None:
        _orjson = importlib.import_module("orjson")
    try:
        value = _orjson.loads(data)
        members = _orjson.dumps(value).count(b":")
    except (ValueError, TypeError):  # (orjson's JSONDecodeError; JSONEncodeError: too deep)
        return _MISS
    return value if members == data.count(b":") else _MISS


def _full_decode(text: str, max_depth: int) -> Any:
    flagged: list[bool] = []

    def on_constant(name: str) -> Any:
        flagged.append(True)
        return _Bad(f"{name} is not a JSON number")

    def on_float(literal: str) -> Any:
        value = float(literal)
        if math.isinf(value):
            flagged.append(True)
            return _Bad(f"number {_clip(literal)} overflows to infinity")
        return value

    def on_int(literal: str) -> Any:
        try:
            return int(literal)
        except ValueError:  # over Python's int digit limit
            flagged.append(True)
            return _Bad(f"integer with {len(literal)} digits is too long")

    def on_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        flagged.append(True)
        bad = _DupDict(pairs)
        bad.reason = f"duplicate key {json.dumps(dup)}"
        return bad

    decoder = json.JSONDecoder(
        object_pairs_hook=on_pairs,
        parse_constant=on_constant,
        parse_float=on_float,
        parse_int=on_int,
    )
    try:
        value = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"invalid JSON: {exc.msg}", line=exc.lineno, col=exc.colno) from None
    except RecursionError:  # belt and braces: the depth scan should have caught it
        raise JsonProblem(f"nested deeper than {max_depth} levels") from None
    if flagged:
        pointer, reason = _find_bad(value)
        raise JsonProblem(reason, pointer=pointer)
    return value


def over_cap(size: int, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Why a document of `size` bytes is refused unread."""
    return f"document is {size} bytes, over the {max_bytes}-byte cap"


def type_name(value: object) -> str:
    """The JSON name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def pointer_token(key: str | int) -> str:
    """Escape one JSON-pointer reference token (RFC 6901)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _clip(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# The only characters the depth scan acts on: it visits these, not every character
# (a result's series is mostly digits and commas: ~3x faster there, same answers).
_DEPTH_CHARS = re.compile(r'[\[\]{}"\\\n]')


def _check_depth(text: str, max_depth: int) -> None:
    """Exact nesting depth, skipping brackets inside strings; linear, no recursion."""
    depth = 0
    in_string = False
    escaped_at = -1  # the position a backslash in a string escapes
    line = 1
    for match in _DEPTH_CHARS.finditer(text):
        at = match.start()
        ch = text[at]
        if in_string:
            if at == escaped_at:
                continue
            if ch == "\\":
                escaped_at = at + 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise JsonProblem(f"nested deeper than {max_depth} levels", line=line)
        elif ch in "]}":
            depth -= 1
        elif ch == "\n":
            line += 1


def _check_surrogates(value: Any) -> None:
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        pointer, node = stack.pop()
        if isinstance(node, str):
            _no_surrogate(node, pointer, "string")
        elif isinstance(node, dict):
            for key, child in node.items():
                _no_surrogate(key, pointer, "key")
                stack.append((f"{pointer}/{pointer_token(key)}", child))
        elif isinstance(node, list):
            stack.extend((f"{pointer}/{i}", child) for i, child in enumerate(node))


def _no_surrogate(text: str, pointer: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # The pointer of a bad key would itself hold the surrogate: name its parent.
        raise JsonProblem(
            f"{what} holds an unpaired surrogate escape (\\uD800-\\uDFFF); it is not valid Unicode",
            pointer=pointer,
        ) from None


def _find_bad(value: Any) -> tuple[str, str]:
    """The pointer and reason of the first refused value, in document order."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        pointer, node = stack.pop()
        if isinstance(node, _Bad):
            return pointer, node.reason
        if isinstance(node, _DupDict):
            return pointer, node.reason
        if isinstance(node, dict):
            items = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            continue
        for key, child in reversed(items):
            stack.append((f"{pointer}/{pointer_token(key)}", child))
    return "", "invalid value"
