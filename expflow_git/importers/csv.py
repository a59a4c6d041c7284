"""Read runs from a CSV file (a spreadsheet's export): one row per run, strict parsing
(docs/spec.md §4.2).

The id column names the run; metric columns are registry metrics (`METRIC`, or
`SPLIT/METRIC` for a split), by default every column named like one; parameter
columns are kept as the strings the file holds, by default every other column. An
optional status column says pending, running, success, failed or skipped (default:
success). A cell that is no number in a metric column refuses its row, naming the
row (its line in the file) and the column.
"""

from __future__ import annotations

import csv
import math
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from expflow_git.documents import STATUS_OF, Status
from expflow_git.errors import ExpflowError, printable
from expflow_git.importers.source import (
    SPLIT_NAME,
    Source,
    SourceRun,
    sanitize_id,
    study_id,
)
from expflow_git.jsonstrict import DEFAULT_MAX_BYTES, float_problem
from expflow_git.policy.model import Policy, did_you_mean
from expflow_git.run import checked_texts, short_repr, string_list

# Each digit has one place to go: with the point optional between `[0-9]+` and `[0-9]*`,
# a long run of digits that did not end the cell was split every way (20,000: 6.7 s).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")

# The id cell is the record's title (at most 1000 characters) and its
# provenance.source.run (1024): a longer one was refused by the schema with lines that
# named no row (a user's hunt, issue 18 twenty-fourth pass), so it is refused by its row.
_ID_CELL_MAX = 1000

# The largest CSV file read: 64 MiB, some 30,000 runs of 200 columns (a wide tracker
# export). Its runs take up to ~45 times that in memory (1.6 million rows of 5 short
# columns: 2.9 GB, a minute to read). The file was read whole whatever it was: `import
# csv /dev/zero` ate all memory, a FIFO blocked forever (a user's hunt, issue 18
# twenty-ninth pass). A pipe or a device is refused, unread.
MAX_CSV_BYTES = 64 * 1024 * 1024

# The csv module's field limit is the process's: set, read and put back under this lock
# (two imports in two threads each put back the other's raised limit, which stayed).
_FIELD_LIMIT_LOCK = threading.Lock()
# A cell longer than a document may be (in characters: each is a byte at least) makes
# its run's record too large whatever else it holds: its row is refused unread (it was
# read whole, its record's JSON built, then refused: a 60 MiB cell took ~775 MB).
_CELL_MAX = DEFAULT_MAX_BYTES

# A line as `open(newline="")` reads it: to its `\r\n`, `\r` or `\n`.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")
# One record of the csv module's default dialect (strict): a field quoted (`""` a quote)
# or not (a quote within is a quote), then `,` and the next, then the line's end.
_FIELD = re.compile(r'"[^"]*(?:""[^"]*)*"|[^,"\r\n][^,\r\n]*|')
_FIELD_END = re.compile(r",|\r\n|\r|\n|\Z")

# A failed or skipped record says why (spec §2.1); a CSV row gives no reason, and the
# record said nothing (a user's hunt, issue 18 twenty-fourth pass; Optuna's says so too).
_NO_REASON = {
    Status.FAILED: "failed in the CSV file (no reason recorded)",
    Status.SKIPPED: "skipped in the CSV file (no reason recorded)",
}


def columns_option(values: Sequence[str]) -> tuple[str, ...]:
    """`--metric-columns a,b --metric-columns c`: comma-separated and repeatable."""
    return tuple(c.strip() for value in values for c in value.split(",") if c.strip())


def read_csv(
    path: str | Path,
    policy: Policy,
    *,
    id_column: str,
    study: str,
    param_columns: Sequence[str] = (),
    metric_columns: Sequence[str] = (),
    status_column: str | None = None,
) -> Source:
    """Every row of the CSV file at `path`, mapped."""
    param_columns, metric_columns = _checked_arguments(
        path, id_column, study, param_columns, metric_columns, status_column
    )
    from expflow_git.workspace import NotRegular, TooLarge, read_regular

    shown = printable(str(path))
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        # The records name their file (provenance.source.uri and .study), and a JSON
        # document holds UTF-8 only: the error quoted a record's JSON instead, `"uri":
        # "f\xff.csv",` (a hunter's report, issue 18 thirtieth pass).
        raise ExpflowError(
            f"{shown}: the file's name is not UTF-8, and the records name their CSV file "
            "(provenance.source); rename the file to import it (nothing read)"
        ) from None
    try:
        # (The bytes dropped once decoded: a file's size in memory, not twice.)
        text = read_regular(path, MAX_CSV_BYTES, follow_links=True).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExpflowError(f"{shown}: not UTF-8 (byte {exc.start})") from None
    except NotRegular as exc:
        raise ExpflowError(
            f"{shown}: {exc.kind}, not a regular file (save the CSV to a file to import it)"
        ) from None
    except TooLarge as exc:
        raise ExpflowError(
            f"{shown}: {exc.size} bytes, over the {MAX_CSV_BYTES}-byte cap of a CSV import"
        ) from None
    except OSError as exc:
        raise ExpflowError(f"{shown}: {exc.strerror}") from None
    rows = _rows(text, shown)
    if not rows:
        raise ExpflowError(f"{shown}: empty (a header row is needed)")
    if isinstance(rows[0], _Unread):
        raise ExpflowError(
            f"{shown}: row 1 (line {rows[0].line}): a header cell of {rows[0].longest(text)} "
            f"characters, over the {_CELL_MAX}-character cap of a cell"
        )
    header = [h.strip() for h in rows[0]]
    layout = _Columns(shown, header, policy, id_column, status_column)
    metrics = layout.metric_columns(metric_columns)
    params = layout.param_columns(param_columns, metrics)
    expflow_study = study_id(study, study, option="--study")
    runs = []
    # csv counts lines; a quoted cell may span several, so number by the reader's rows
    for number, row in enumerate(rows[1:], 2):
        if isinstance(row, _Unread):
            unread = layout.unread(number, row, text, params, metrics)
            if unread is not None:
                runs.append(unread)
        elif any(cell.strip() for cell in row):  # (blank lines are no runs)
            runs.append(layout.run(number, row, params, metrics))
    return Source(
        tracker="csv",
        uri=str(path),
        study=Path(path).name,
        expflow_study=expflow_study,
        runs=runs,
    )


@dataclass(frozen=True)
class _Unread:
    """A row with a cell over `_CELL_MAX`, not read: where it is in the text (from
    `start` to `end`) and its first line in the file."""

    start: int
    end: int
    line: int

    def cells(self, text: str) -> list[tuple[int, int]]:
        """Each cell's span in `text`, as written (quotes and all)."""
        spans: list[tuple[int, int]] = []
        pos = self.start
        while True:
            field = _FIELD.match(text, pos)
            end = _FIELD_END.match(text, field.end()) if field else None
            if field is None or end is None:  # (never: `_rows` matched the row so)
                return spans
            spans.append(field.span())
            if end.group() != "," or end.end() >= self.end:
                return spans
            pos = end.end()

    def longest(self, text: str) -> int:
        return max((_cell_length(text, a, b) for a, b in self.cells(text)), default=0)


def _cell_length(text: str, start: int, end: int) -> int:
    """The characters of a cell written at `text[start:end]` (quoted: without its quotes,
    a `""` one), not copied."""
    if end > start and text[start] == '"':
        return end - start - 2 - text.count('""', start + 1, end - 1)
    return end - start


_BLANK_CELL = re.compile(r"\s*")


def _inside(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of a cell written at `text[start:end]` without its quotes."""
    if end > start and text[start] == '"':
        return start + 1, end - 1
    return start, end


def _cell(text: str, start: int, end: int) -> str:
    """The cell written at `text[start:end]`, as the csv module reads it."""
    if end > start and text[start] == '"':
        return text[start + 1 : end - 1].replace('""', '"')
    return text[start:end]


class _Lines:
    """The text's lines, as a file opened with `newline=""` gives them, from `pos`; and
    how many were given (`line`)."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        found = _LINE.match(self.text, self.pos)
        if found is None or found.end() == self.pos:
            raise StopIteration
        self.pos, self.line = found.end(), self.line + 1
        return found.group()

    def skip_record(self, start: int, first_line: int) -> bool:
        """Past the record that starts at `start` (`_FIELD`s), from its first line on;
        False if it is no record (an unclosed quote: not CSV)."""
        pos = start
        while True:
            field = _FIELD.match(self.text, pos)
            end = _FIELD_END.match(self.text, field.end()) if field else None
            if field is None or end is None:
                return False
            if end.group() != ",":
                break
            pos = end.end()
        stop, count = end.end(), self.text.count
        breaks = count("\n", start, stop) + count("\r", start, stop) - count("\r\n", start, stop)
        # (The last line without its end, at the end of the file, is a line too.)
        self.line = first_line - 1 + breaks + (0 if end.group() else 1)
        self.pos = stop
        return True


def _rows(text: str, shown: str) -> list[list[str] | _Unread]:
    """The file's rows; a row with a cell longer than `_CELL_MAX` is `_Unread`: the csv
    module stops at the cap and the record is passed over, so neither it nor its JSON is
    built (its run refused by itself). Under the field limit's lock: the limit is the
    process's, put back as it was."""
    lines = _Lines(text)
    reader = csv.reader(lines, strict=True)
    rows: list[list[str] | _Unread] = []
    with _FIELD_LIMIT_LOCK:
        # A cell may be longer than the csv module's own cap (131,072 characters): one
        # such refused the whole file (a hunter's report, issue 18 thirtieth pass).
        limit = csv.field_size_limit(_CELL_MAX)
        try:
            while True:
                start, first_line = lines.pos, lines.line + 1
                try:
                    rows.append(next(reader))
                except StopIteration:
                    break
                except csv.Error as exc:
                    over = str(exc).startswith("field larger than field limit")
                    if not over or not lines.skip_record(start, first_line):
                        # Named by its row and line: in a file of thousands, a message
                        # that named neither left the row to be found by eye (a user's
                        # hunt, issue 18 twenty-fourth pass).
                        why = printable(str(exc))
                        if over and _unclosed_quote(text, start):
                            why = (
                                "an unclosed quote: its cell runs on past the "
                                f"{_CELL_MAX}-character cap of a cell"
                            )
                        raise ExpflowError(
                            f"{shown}: row {len(rows) + 1} (line {lines.line}): not CSV: {why}"
                        ) from None
                    rows.append(_Unread(start, lines.pos, first_line))
        finally:
            csv.field_size_limit(limit)
    return rows


_QUOTED = re.compile(r'"[^"]*(?:""[^"]*)*"')


def _unclosed_quote(text: str, start: int) -> bool:
    """Whether the record that starts at `start` has a quote opened and never closed
    (its cell runs on to the file's end: the csv module says "field larger than field
    limit" once it passes the cap)."""
    pos = start
    while True:
        if text.startswith('"', pos) and not _QUOTED.match(text, pos):
            return True
        field = _FIELD.match(text, pos)
        end = _FIELD_END.match(text, field.end()) if field else None
        if field is None or end is None or end.group() != ",":
            return False
        pos = end.end()


def _checked_arguments(
    path: object,
    id_column: object,
    study: object,
    param_columns: object,
    metric_columns: object,
    status_column: object,
) -> tuple[list[str], list[str]]:
    """The arguments as a Python caller gives them, checked as `read_optuna` checks its
    own (spec §4.2: a wrong kind is a ValueError): `param_columns="lr"` was read letter by
    letter ("no such column 'l'"), a number or None for a name a TypeError deep inside
    (a user's hunt, issue 18 twenty-fourth pass). The columns, as lists."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path: give a file's path, not {short_repr(path)}")
    if path == "":
        # As the CLI's `import csv ''` and the API's `policy=""` (docs/api.md): it said
        # `: No such file or directory`, naming no file (an attacker's hunt, issue 18
        # forty-second pass).
        raise ValueError("path: give a path, not an empty string")
    for what, value in (("id_column", id_column), ("study", study)):
        if not isinstance(value, str):
            raise ValueError(f"{what}: give text, not {short_repr(value)}")
    checked_texts(status_column=status_column)
    return (
        string_list(param_columns, "param_columns", "column"),
        string_list(metric_columns, "metric_columns", "column"),
    )


class _Columns:
    """The header, and how each row maps through it."""

    def __init__(
        self,
        shown: str,
        header: list[str],
        policy: Policy,
        id_column: str,
        status_column: str | None,
    ) -> None:
        self.shown = shown
        self.header = header
        self.policy = policy
        # Each column's position, found once (a header of C columns searched per column
        # was C² work: 40k columns took 22 s).
        self.positions: dict[str, int] = {}
        doubles = sorted({h for i, h in enumerate(header) if self.positions.setdefault(h, i) != i})
        # Unnamed columns (a spreadsheet's trailing commas) are never read unless an option
        # names one, so two of them are no clash; two refused the file (a user's hunt,
        # issue 18 twenty-third pass). Named by an option, '' is then refused as ambiguous.
        self.unnamed_twice = "" in doubles
        if named := [h for h in doubles if h]:
            raise ExpflowError(f"{shown}: column '{printable(named[0])}' appears twice")
        self.id_index = self.index(id_column, "--id-column")
        self.status_index = None
        if status_column is not None:
            self.status_index = self.index(status_column, "--status-column")

    def index(self, column: str, option: str) -> int:
        if not column and self.unnamed_twice:
            raise ExpflowError(f"{self.shown}: {option} '': several columns have no name")
        position = self.positions.get(column)
        if position is None:
            hint = did_you_mean(column, self.header)
            raise ExpflowError(
                f"{self.shown}: {option} '{printable(column)}': no such column{hint}"
            )
        return position

    def metric_columns(self, given: Sequence[str]) -> dict[int, tuple[str | None, str]]:
        """Column index → (split or None, metric)."""
        chosen: dict[int, tuple[str | None, str]] = {}
        names = given or [h for h in self.header if self._metric_of(h) in self.policy.metrics]
        for column in names:
            index = self.index(column, "--metric-columns")
            metric = self._metric_of(column)
            if metric not in self.policy.metrics:
                hint = did_you_mean(metric, self.policy.metrics)
                raise ExpflowError(
                    f"{self.shown}: --metric-columns '{printable(column)}': {metric!r} is not "
                    f"in the registry of {self.policy.path}{hint}"
                )
            split = column.rsplit("/", 1)[0] if "/" in column else None
            if split is not None and not SPLIT_NAME.match(split):
                # Checked here, as Optuna's --split-attr is: else every row was refused
                # by a schema line naming no column (a user's hunt, issue 18 24th pass).
                raise ExpflowError(
                    f"{self.shown}: column '{printable(column)}': split '{printable(split)}' "
                    "is no split name (letters, digits, '.', '_' and '-', at most 64, "
                    "starting with a letter or digit)"
                    + ("" if given else "; name the metric columns with --metric-columns")
                )
            chosen[index] = (split, metric)
        return chosen

    @staticmethod
    def _metric_of(column: str) -> str:
        return column.rsplit("/", 1)[-1]

    def param_columns(
        self, given: Sequence[str], metrics: dict[int, tuple[str | None, str]]
    ) -> list[int]:
        if given:
            return [self.index(c, "--param-columns") for c in given]
        taken = {self.id_index, self.status_index, *metrics}
        return [i for i in range(len(self.header)) if i not in taken and self.header[i]]

    def unread(
        self,
        number: int,
        row: _Unread,
        text: str,
        params: list[int],
        metrics: dict[int, tuple[str | None, str]],
    ) -> SourceRun | None:
        """A row with a cell over `_CELL_MAX`. When such a cell is in a column the run's
        documents hold (the id, the status, a metric, a parameter column), the run is
        refused by itself, named by its id cell (if that is short enough), the long
        cells' columns and their lengths. Else those cells are left out, unread, and the
        run is built from the others (None: a blank row), as when the csv module read
        them: a long cell in a column `--param-columns` leaves out, or one with no name,
        refused a run it imported before (a review)."""
        cells = row.cells(text)
        used = {self.id_index, self.status_index, *metrics, *params}
        over = {i for i, (a, b) in enumerate(cells) if _cell_length(text, a, b) > _CELL_MAX}
        if not over & used:
            read = ["" if i in over else _cell(text, a, b) for i, (a, b) in enumerate(cells)]
            blank = not any(cell.strip() for cell in read) and not any(
                _BLANK_CELL.fullmatch(text, *_inside(text, *cells[i])) is None for i in over
            )
            return None if blank else self.run(number, read, params, metrics)
        where = f"{self.shown}: row {number}"
        raw_id = ""
        if self.id_index < len(cells):
            a, b = cells[self.id_index]
            if _cell_length(text, a, b) <= _ID_CELL_MAX:
                raw_id = _cell(text, a, b).strip()
        long = [
            f"'{printable(self.header[i]) if i < len(self.header) else f'#{i + 1}'}' "
            f"({_cell_length(text, a, b)} characters)"
            for i, (a, b) in enumerate(cells)
            if _cell_length(text, a, b) > _CELL_MAX
        ]
        return SourceRun(
            run=raw_id,
            exp_id=sanitize_id(raw_id) if raw_id else f"row-{number}",
            status=Status.SUCCESS,
            params={},
            title=raw_id,
            where=f"row {number}",
            oversized=f"{where}: a cell over {_CELL_MAX} characters in {', '.join(long)}, not read",
        )

    def run(
        self,
        number: int,
        row: list[str],
        params: list[int],
        metrics: dict[int, tuple[str | None, str]],
    ) -> SourceRun:
        raw_id = row[self.id_index].strip() if self.id_index < len(row) else ""
        where = f"{self.shown}: row {number}: "
        problems = []
        if len(row) != len(self.header):
            problems.append(f"{where}{len(row)} cells, the header has {len(self.header)}")
        if not raw_id:
            problems.append(f"{where}column '{printable(self.header[self.id_index])}' is empty")
        elif len(raw_id) > _ID_CELL_MAX:
            problems.append(
                f"{where}column '{printable(self.header[self.id_index])}': the id is "
                f"{len(raw_id)} characters, at most {_ID_CELL_MAX} fit a record"
            )
        status = Status.SUCCESS
        if self.status_index is not None and self.status_index < len(row):
            cell = row[self.status_index].strip().lower()
            if cell not in STATUS_OF:
                problems.append(
                    f"{where}column '{printable(self.header[self.status_index])}': "
                    f"'{printable(cell)}' is no status ({', '.join(STATUS_OF)})"
                )
            else:
                status = STATUS_OF[cell]
        values: dict[str, float] = {}
        splits: dict[str, dict[str, float]] = {}
        for index, (split, metric) in metrics.items():
            cell = row[index].strip() if index < len(row) else ""
            if not cell:
                continue  # not measured
            if not _NUMBER.match(cell):
                problems.append(
                    f"{where}column '{printable(self.header[index])}': "
                    f"'{printable(cell)}' is not a number"
                )
                continue
            value = float(cell)
            if not math.isfinite(value):  # `1e400`: a number no double holds
                problems.append(
                    f"{where}column '{printable(self.header[index])}': "
                    f"'{printable(cell)}' is too large for a number"
                )
                continue
            rounded = float_problem(cell, value)  # as a document's number would be
            if rounded is not None:
                problems.append(f"{where}column '{printable(self.header[index])}': {rounded}")
                continue
            target = values if split is None else splits.setdefault(split, {})
            target[metric] = value
        return SourceRun(
            run=raw_id,
            exp_id=sanitize_id(raw_id) if raw_id else f"row-{number}",
            status=status,
            params={self.header[i]: row[i] for i in params if i < len(row)},
            metrics=values if status is Status.SUCCESS else {},
            splits=splits if status is Status.SUCCESS else {},
            title=raw_id,
            where=f"row {number}",
            reason=_NO_REASON.get(status, ""),
            problems=tuple(problems),
            metric_params={self.header[i]: row[i] for i in metrics if i < len(row)},
        )
