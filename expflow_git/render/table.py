"""Leaderboard tables: plain text, Markdown and CSV from the same rows."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from expflow_git.documents import number_key
from expflow_git.escape import csv_cell, json_text, line, markdown
from expflow_git.query.values import MISSING
from expflow_git.render.view import Row, fmt_number
from expflow_git.spelling import jcs_number

# The text and Markdown leaderboards show this many rows (people read the top of a
# board); the report, `rank` and the JSON/CSV formats hold every run.
MAX_SHOWN_ROWS = 200


def shown_rows(rows: Sequence[Row], focus: str | None = None) -> Sequence[Row]:
    """The first MAX_SHOWN_ROWS rows, and the focused run's row when it is below the cut."""
    if len(rows) <= MAX_SHOWN_ROWS:
        return rows
    top = list(rows[:MAX_SHOWN_ROWS])
    below = itertools.islice(rows, MAX_SHOWN_ROWS, None)
    focused = next((r for r in below if r.id == focus), None) if focus is not None else None
    return top if focused is None else [*top, focused]


def more_rows_note(rows: Sequence[Row], shown: Sequence[Row]) -> str | None:
    """What a capped leaderboard leaves out, or None when it shows every row."""
    left_out = len(rows) - len(shown)
    if left_out <= 0:
        return None
    return (
        f"{left_out:,} more run(s) not shown: the report holds every run, "
        "`expflow-git rank` lists them all"
    )


def leaderboard_cells(
    rows: Sequence[Row], columns: Sequence[str], *, exact: bool = False
) -> tuple[list[str], list[list[str]]]:
    """The leaderboard's header and rows as text. Metric values are shown to six
    significant digits, or more where six would show two different values of a column
    alike; `exact` spells each value as the report does (CSV: nothing is lost)."""
    headers = ["rank", "id", "study", "feasible", *columns, "failed checks"]
    if exact:  # CSV: no value is an empty cell (csv_value)
        spell: list[Callable[[float | None], str]] = [csv_metric] * len(columns)
    else:
        spell = [distinct_numbers([r.metrics.get(c) for r in rows]).__getitem__ for c in columns]
    body = [
        [
            str(r.rank) if r.rank is not None else "" if exact else "-",
            r.id,
            r.study,
            "yes" if r.feasible else "NO",
            *(show(r.metrics.get(c)) for show, c in zip(spell, columns, strict=True)),
            r.checks_note,
        ]
        for r in rows
    ]
    return headers, body


def distinct_numbers(values: Iterable[float | None]) -> Mapping[float | None, str]:
    """How each value is shown: `fmt_number`'s six significant digits, with more digits
    where fewer would show two different values alike, and past 15 the shortest
    spelling that reads back as the value: runs that differ never look tied.

    Values are told apart as the decimals they are written as (`number_key`, as
    `compare`'s `*` and `--where` tell them apart): Python finds the integer
    99999999999999991611392 equal to the float 1e23 (whose decimal is 10**23), so a set
    of the values kept one of the two, and both runs showed its spelling beside the `*`
    that says they differ (a hunt, issue 18 thirty-ninth pass)."""
    values = list(values)
    # (Nearly always none: without such a float, equal in Python is one decimal.)
    big = any(type(v) is float and abs(v) >= _EXACT_INT for v in values)
    keyed: dict[object, float | None] = {}
    for v in values:
        keyed.setdefault(number_key(v) if big and v is not None else v, v)
    spelled: dict[Any, str] = {}
    for digits in range(6, 16):
        spelled = {k: fmt_number(v, digits) for k, v in keyed.items()}
        if len(set(spelled.values())) == len(keyed):
            break
    else:
        spelled = {k: exact_number(v) for k, v in keyed.items()}
    return _Spelled(keyed, spelled) if big else spelled


_EXACT_INT = 2**53  # (documents.number_key: a float from here may not be its decimal)


class _Spelled(Mapping[float | None, str]):
    """`distinct_numbers`' spellings, looked up by a value's `number_key` (listed: the
    first value of each)."""

    __slots__ = ("_values", "_shown")

    def __init__(self, values: dict[object, float | None], shown: dict[object, str]) -> None:
        self._values, self._shown = values, shown

    def __getitem__(self, value: float | None) -> str:
        return self._shown[number_key(value) if value is not None else None]

    def __iter__(self) -> Iterator[float | None]:
        return iter(self._values.values())

    def __len__(self) -> int:
        return len(self._shown)


def exact_number(value: float | None) -> str:
    """A value spelled exactly, as the report spells it (RFC 8785: the shortest spelling
    that reads back as the same float; integers as integers); `-` for none."""
    if type(value) is int:  # a param may be any integer; JCS holds only doubles
        return str(value)
    return "-" if value is None else jcs_number(value).decode()


def csv_metric(value: float | None) -> str:
    """A leaderboard's metric in CSV (None: the run has none): `csv_value`'s cell."""
    return csv_value(MISSING if value is None else value)


# Strings a CSV reader takes for no value or an error, not text: pandas' default
# `na_values` and the error values a spreadsheet reads, compared case-folded.
_NOT_TEXT = frozenset(
    {
        "null",
        "true",
        "false",
        "none",
        "nan",
        "-nan",
        "na",
        "n/a",
        "<na>",
        "#na",
        "#n/a",
        "#n/a n/a",
        "1.#ind",
        "-1.#ind",
        "1.#qnan",
        "-1.#qnan",
        "#null!",
        "#div/0!",
        "#value!",
        "#ref!",
        "#name?",
        "#num!",
    }
)


def csv_value(value: object) -> str:
    """A run's value (a param, a metric, a split's metric) as a CSV cell, one convention
    for every CSV of runs (docs/spec.md §4.1): empty where the run has none (MISSING),
    null `null`, a boolean `true`/`false`, a number as the report spells it, a string as
    it is unless a reader would take it for something else, then JSON-quoted (`_text`).
    A cell a spreadsheet would run as a formula gets its `'` later (escape.csv_cell)."""
    if value is MISSING:
        return ""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return exact_number(value)
    text = str(value)
    return json_text(json.dumps(text, ensure_ascii=False)) if _not_as_is(text) else text


def _not_as_is(text: str) -> bool:
    """Whether a string would read as something else written as it is: empty or blank
    (no value), `null`, `true`, `false` or another spelling pandas or a spreadsheet reads
    as no value, a boolean or an error (any case, `_NOT_TEXT`), anything Python's float
    reads (`1`, ` 1e5`, `1_000`, `inf`, `NaN`), a quote first (`"` starts a JSON string,
    `'` is the formula guard's prefix), or a character the output would show as an
    escape (a control, format or default-ignorable character, `##[`, a `::` first:
    escape.line)."""
    folded = text.strip().casefold()
    if not folded or folded in _NOT_TEXT or text[0] in "\"'" or line(text) != text:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


# A column is padded to its widest cell of at most this many characters. A longer cell
# is shown whole and shifts the rest of its own row: padded into every row, one long
# value made the output rows × its length (two records of 1 MB: 1.9 GB from `compare`).
MAX_PADDED_WIDTH = 120


def text_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A plain-text table; every cell and line escaped for a terminal or a CI log. Each
    column is as wide as its widest cell up to MAX_PADDED_WIDTH characters."""
    head = [line(h) for h in headers]
    cells = [[line(c) for c in row] for row in body]
    widths = [_padded(len(h)) for h in head]
    for i, column in enumerate(zip(*cells, strict=True)):
        widths[i] = max(widths[i], *map(_padded, map(len, column)))
    fmt = "  ".join(f"{{:<{w}}}" for w in widths).format  # one call pads a whole row
    lines = [fmt(*head).rstrip(), "  ".join("-" * w for w in widths)]
    lines += [fmt(*row).rstrip() for row in cells]
    return "\n".join(map(line, lines))


def _padded(width: int) -> int:
    """How wide a cell of `width` characters makes its column (0: it does not)."""
    return width if width <= MAX_PADDED_WIDTH else 0


def md_escape(text: str) -> str:
    """Make text safe inside a Markdown table cell (expflow_git.escape.markdown)."""
    return markdown(text)


def md_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(markdown(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(markdown(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def csv_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """CSV (RFC 4180 quoting); cells neutralised against formulas (expflow_git.escape.csv_cell)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(h) for h in headers])
    writer.writerows([[csv_cell(c) for c in row] for row in body])
    # A cell holds no line break (csv_cell), so each row is one line of output.
    return "\n".join(map(line, out.getvalue().split("\n")))
