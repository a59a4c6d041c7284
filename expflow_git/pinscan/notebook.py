"""The text a Jupyter notebook holds, decoded, for the PIN scan: cell sources and text
outputs, each string element mapped back to where its JSON string sits in the file.

In a `.ipynb` a source line `%env EXPFLOW_PIN=4821` is stored as the JSON string
`"%env EXPFLOW_PIN=4821\\n"` (quotes escaped as `\\"`), which the line-based rules
cannot read; decoded, it reads as it does in a `.py` file. Findings are reported at
the file's own line and column of the character inside the JSON string (escapes
counted as they are written), so an editor opened at `path:line:col` lands on it.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from expflow_git.lazyre import lazy_compile

# Lines of a code cell that IPython hands to a shell or a magic, not to Python.
_SHELL_LINE_RE = lazy_compile(r"^[ \t]*[%!][^\n]*", re.MULTILINE)
# A JSON string in the raw file (valid JSON: every quote outside a string opens one).
_JSON_STRING_RE = lazy_compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
# json.loads makes one character of an escaped surrogate pair.
_SURROGATE_PAIR_RE = lazy_compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


@dataclass(frozen=True)
class Piece:
    """One scanned text: the concatenated `elements` of a cell's source or of one output."""

    elements: tuple[str, ...]
    code: bool  # a code cell's Python (its %/! lines are scanned as shell text)

    @property
    def text(self) -> str:
        return "".join(self.elements)

    def split_shell(self) -> tuple[str, str]:
        """(Python, shell) views of a code cell: the other kind's characters become spaces,
        so offsets (and lines) stay those of `text`."""
        text = self.text
        shell = [" "] * len(text)
        python = list(text)
        for m in _SHELL_LINE_RE.finditer(text):
            shell[m.start() : m.end()] = text[m.start() : m.end()]
            python[m.start() : m.end()] = " " * (m.end() - m.start())
        return "".join(python), "".join(shell)


def pieces(raw: str) -> list[Piece] | None:
    """The notebook's cell sources and text outputs, in file order (nbformat writes a cell's
    keys sorted: outputs before source); None when `raw` is not an nbformat 4 notebook."""
    try:
        nb = json.loads(raw, object_pairs_hook=_every_value)
    except (ValueError, RecursionError):  # not JSON, or nested beyond the parser's depth
        return None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None
    out: list[Piece] = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            continue
        for output in cell.get("outputs") or ():
            if isinstance(output, dict):
                out.extend(Piece(e, False) for e in _output_texts(output))
        source = _strings(cell.get("source"))
        if source:
            kind = cell.get("cell_type")
            out.append(Piece(source, kind == "code" or (isinstance(kind, list) and "code" in kind)))
    return out


def _every_value(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object with every value of a key given twice: json.loads keeps the last, and a
    notebook ending in `"cells": []` hid every cell before it from the scan, while the
    file (and a reader that takes the first) still held them (an attacker's hunt, issue
    18 thirty-eighth pass). The values of a repeated key make one list, in file order
    (lists spliced): its cells, source lines or outputs are each scanned."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            obj[key] = _listed(obj[key]) + _listed(value)
        else:
            obj[key] = value
    return obj


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _output_texts(output: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    for key in sorted(output):  # file order
        value = output[key]
        if key in ("text", "evalue", "traceback"):
            if found := _strings(value):
                yield found
        elif key == "data":
            for data in _listed(value):  # (a list: `data` given twice)
                if not isinstance(data, dict):
                    continue
                for mime in sorted(data):
                    if mime.startswith("text/") and (found := _strings(data[mime])):
                        yield found


def _strings(value: Any) -> tuple[str, ...]:
    """A multiline string as nbformat stores it: one string or a list of strings. Every
    string of a list is taken: a `0` or `null` among them hid the others from the scan
    (a review, issue 18 thirty-eighth pass: `"source": [...], "source": [0]`)."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


class Locator:
    """Maps a decoded element and an offset in it to (line, col) in the raw file.

    `string_of` finds an element's JSON string: the first one of the file that decodes
    to it at or after the previous element's, so repeated lines land in turn.
    `position` walks the string's escapes from where it last stopped (hits come in
    increasing order), so a long string is walked once, however many hits it holds.
    """

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._newlines = [m.start() for m in re.finditer("\n", raw)]
        self._where: dict[str, list[int]] | None = None
        self._cursor = 0
        self._walked: dict[int, tuple[int, int]] = {}  # string start -> (decoded, raw index)

    def string_of(self, element: str) -> int:
        """The index of the opening quote of `element`'s JSON string, or -1."""
        if self._where is None:
            self._where = {}
            for m in _JSON_STRING_RE.finditer(self.raw):
                token = m.group()
                value = token[1:-1] if "\\" not in token else _decode(token)
                if value is not None:
                    self._where.setdefault(value, []).append(m.start())
        starts = self._where.get(element)
        if not starts:
            return -1
        at = bisect.bisect_left(starts, self._cursor)
        if at == len(starts):
            at = 0  # out of order (a writer other than nbformat): the first one will do
        self._cursor = starts[at] + 1
        return starts[at]

    def outside(self, pieces: list[Piece]) -> str:
        """The raw file with the pieces' strings blanked (their quotes kept; no line
        break is inside a JSON string, so lines and columns stay the file's): what is not
        a cell source or a text output, read as a JSON file's text is (docs/spec.md §5).
        A notebook's text was read as code only, a cell's reading: its metadata, a
        non-text output or an attachment holding `"EXPFLOW_PIN = \\"NNNN\\""` passed
        as `nb.ipynb` and was refused as `nb.json` (issue 18, thirty-ninth pass)."""
        cursor, self._cursor = self._cursor, 0
        spans = []
        for piece in pieces:
            for element in piece.elements:
                start = self.string_of(element)
                if start >= 0 and (m := _JSON_STRING_RE.match(self.raw, start)) is not None:
                    spans.append((start + 1, m.end() - 1))
        self._cursor = cursor
        parts, kept = [], 0
        for start, end in sorted(set(spans)):
            parts += [self.raw[kept:start], " " * (end - start)]
            kept = end
        return "".join([*parts, self.raw[kept:]])

    def position(self, start: int, offset: int) -> tuple[int, int]:
        """(line, col) of decoded character `offset` of the string opening at `start`;
        (1, 1) for a string not found (start -1)."""
        if start < 0:
            return 1, 1
        decoded, i = self._walked.get(start, (0, start + 1))
        if decoded > offset:
            decoded, i = 0, start + 1
        raw = self.raw
        while decoded < offset and i < len(raw):
            if raw[i] != "\\":
                i += 1
            elif raw[i + 1 : i + 2] != "u":
                i += 2
            elif _SURROGATE_PAIR_RE.match(raw, i):
                i += 12
            else:
                i += 6
            decoded += 1
        self._walked[start] = (decoded, i)
        line = bisect.bisect_left(self._newlines, i)
        line_start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, i - line_start + 1


def _decode(token: str) -> str | None:
    try:
        value = json.loads(token)
    except ValueError:
        return None
    return value if isinstance(value, str) else None
