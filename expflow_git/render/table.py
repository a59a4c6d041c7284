"""Leaderboard tables: plain text, Markdown and CSV from the same rows."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence

from expflow_git.render.view import Row, fmt_number

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
    rows: Sequence[Row], columns: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    headers = ["rank", "id", "study", "feasible", *columns, "failed checks"]
    body = [
        [
            str(r.rank) if r.rank is not None else "-",
            r.id,
            r.study,
            "yes" if r.feasible else "NO",
            *map(fmt_number, map(r.metrics.get, columns)),
            "; ".join(r.failed),
        ]
        for r in rows
    ]
    return headers, body


def text_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for i, column in enumerate(zip(*body, strict=True)):
        widths[i] = max(widths[i], *map(len, column))
    line = "  ".join(f"{{:<{w}}}" for w in widths).format  # one call pads a whole row
    lines = [line(*headers).rstrip(), "  ".join("-" * w for w in widths)]
    lines += [line(*row).rstrip() for row in body]
    return "\n".join(lines)


def md_escape(text: str) -> str:
    """Make text safe inside a Markdown table cell (no HTML, no pipes, no line breaks)."""
    for ch in "\\`*_[]<>|#":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())


def md_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(md_escape(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def csv_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([[_no_formula(c) for c in row] for row in body])
    return out.getvalue()


def _no_formula(cell: str) -> str:
    """A cell starting with = + - @ is a formula in spreadsheets: neutralise it (not numbers)."""
    if cell[:1] and cell[:1] in "=+-@" and cell != "-" and not _num(cell):
        return "'" + cell
    return cell


def _num(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
