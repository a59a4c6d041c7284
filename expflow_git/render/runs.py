"""`list`, `show` and `compare` as text, JSON, Markdown or CSV. Every string from the
repository goes through the sink's escape (render.table's tables, escape.json_document)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeGuard

from expflow_git.escape import json_document, line, terminal_path
from expflow_git.gitstore import LogEntry
from expflow_git.query.inspect import Line, Verdict
from expflow_git.query.nodes import Fields, Reading, lookup
from expflow_git.query.runs import Run
from expflow_git.query.values import MISSING
from expflow_git.query.where import Field
from expflow_git.render.table import (
    csv_table,
    csv_value,
    distinct_numbers,
    exact_number,
    md_table,
    text_table,
)
from expflow_git.render.view import fmt_number
from expflow_git.series import overlay_text, series_text

LIST_FORMATS = ("text", "json", "csv", "md")


def show_value(value: object, *, exact: bool = False) -> str:
    """A value for people: `-` where the run has none (MISSING), numbers to six
    significant digits (`exact`: as the report spells them), booleans and null as JSON
    writes them (a param may be null: it showed `-`, as a run without it)."""
    if value is MISSING:
        return "-"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return exact_number(value) if exact else fmt_number(value)
    return str(value)


def _table(headers: list[str], body: list[list[str]], fmt: str) -> str:
    render = {"text": text_table, "md": md_table, "csv": csv_table}[fmt]
    return render(headers, body).rstrip("\n")


def run_json(run: Run) -> dict[str, Any]:
    """A run as `list --format json` and `show --format json` write it."""
    return {
        "id": run.id,
        "study": run.study,
        "status": run.status.value,
        "reason": run.reason,
        "title": run.title,
        "created_at": run.created_at,
        "tags": list(run.tags),
        "params": dict(run.params),
        "metrics": dict(run.metrics),
        "splits": {k: dict(v) for k, v in run.splits.items()},
        "record": run.record_path,
        "result": run.result_path,
    }


def render_list(
    runs: Sequence[Run], metrics: Sequence[str], columns: Sequence[Field], fmt: str
) -> str:
    """The runs, one row each: id, study, status, the key `metrics`, the extra `columns`
    and the reason a run failed or was skipped."""
    if fmt == "json":
        return json_document({"runs": [run_json(r) for r in runs]})
    exact = fmt == "csv"
    headers = ["id", "study", "status", *metrics, *(str(c) for c in columns), "reason"]
    # Each column spelled over its rows, as `rank`'s: 0.1234567 and 0.1234568 were both
    # 0.123457 in `list`, in the order `rank` tells them apart (a user's hunt); in CSV
    # each value as csv_value writes it.
    shown = [
        [csv_value(r.metrics.get(m, MISSING)) for r in runs]
        if exact
        else column_texts([r.metrics.get(m, MISSING) for r in runs])
        for m in metrics
    ]
    extra = column_cells(runs, columns, exact=exact)
    # In CSV a reason is text as every CSV of runs writes it (csv_value: `N/A`, `null` or
    # ` 1e5` JSON-quoted, not read as no value or a number; one holding a character shown
    # as an escape too, so `café` + U+FE0F and the text `café\ufe0f` are two cells; a
    # hunter's find, issue 18 thirty-eighth pass). No reason stays an empty cell.
    reasons = [csv_value(r.reason) if exact and r.reason else r.reason for r in runs]
    body = [
        [r.id, r.study, r.status.value, *(cells[i] for cells in shown), *extra[i], reasons[i]]
        for i, r in enumerate(runs)
    ]
    return _table(headers, body, fmt)


def column_texts(values: Sequence[object]) -> list[str]:
    """A column's values as a table for people shows them: numbers with the digits that
    tell the column's values apart, `-` where the run has none (CSV: csv_value)."""
    number = number_spelling(values, exact=False)
    return [number(v) if _is_number(v) else show_value(v) for v in values]


def column_cells(
    runs: Sequence[Fields | None], columns: Sequence[Field], *, exact: bool
) -> list[list[str]]:
    """The `--columns` cells of each run, a row a run (no value for every column of
    None). In a table for people each column spelled over the rows (`column_texts`), a
    param as `compare` shows it (`param_texts`: a string in quotes, null as `null`, `-`
    where the run has none). In CSV (`exact`) a value as every CSV of runs writes it
    (`csv_value`: empty where the run has none), and `id`, `study` and `status`, which
    are names, as their own columns write them. A run is read through one Reading (its
    params keyed once for every column, not once a column)."""
    if not columns:
        return [[] for _ in runs]
    readings = [None if r is None else Reading(r) for r in runs]
    shown = []
    for c in columns:
        values = [MISSING if r is None else lookup(c, r) for r in readings]
        if exact:
            name = c.root in ("id", "study", "status")
            shown.append([str(v) if name and v is not MISSING else csv_value(v) for v in values])
        elif c.root == "params":
            shown.append(param_texts(values))
        else:
            shown.append(column_texts(values))
    return [[cells[i] for cells in shown] for i in range(len(runs))]


def _when(time: int) -> str:
    return dt.datetime.fromtimestamp(time, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


_VERBS = {"A": "added", "D": "deleted", "M": "changed", "T": "changed type of"}


def render_show(
    run: Run,
    verdict: Verdict,
    history: Sequence[LogEntry],
    corrections: Sequence[Any],
    problems: Sequence[Any],
    fmt: str,
    *,
    left_out: str | None = None,
) -> str:
    """Everything about one run: record, result, splits, verdict with every check,
    history and corrections. `left_out`: the path of its result, left out because it
    fails its checks (the text names it; JSON has it in `problems`)."""
    if fmt == "json":
        doc = {
            **run_json(run),
            "verdict": {
                "ranked": verdict.ranked,
                "why_not": verdict.why_not,
                "feasible": verdict.feasible,
                "rank": verdict.rank,
                "ranked_runs": verdict.of,
                "best_any": verdict.best_any,
                "best_feasible": verdict.best_feasible,
                "checks": [
                    {
                        "kind": o.kind.value,
                        "name": o.name,
                        "passed": o.passed,
                        "detail": o.detail,
                        "severity": o.severity.value,
                    }
                    for o in verdict.outcomes
                ],
            },
            "series": _series(run),
            "problems": [str(p) for p in problems],
            "history": [
                {
                    "commit": e.sha,
                    "time": e.time,
                    "author": e.author,
                    "subject": e.subject,
                    "changes": [{"status": c.status, "path": c.path} for c in e.changes],
                }
                for e in history
            ],
            "corrections": [c.entry() for c in corrections],
        }
        return json_document(doc)
    out = [
        f"{run.id}  ({run.study}, {run.status.value})",
        *([f"  title:    {run.title}"] if run.title else []),
        *([f"  reason:   {run.reason}"] if run.reason else []),
        f"  created:  {run.created_at or '-'}",
        f"  tags:     {', '.join(run.tags) or '-'}",
        # Paths as every line spells one (`terminal_path`, as the history below): a name
        # holding the byte 0xff and one holding the text `\xff` were one spelling here.
        f"  record:   {terminal_path(run.record_path)}",
        f"  result:   {_result_path(run.result_path, left_out)}",
        "params",
        *(f"  {k} = {_param_text(v)}" for k, v in sorted(run.params.items())),
        *(["metrics"] if run.metrics else []),
        *(f"  {k} = {_one_value(v)}" for k, v in sorted(run.metrics.items())),
    ]
    for split, values in sorted(run.splits.items()):
        out.append(f"split {split}")
        out += [f"  {k} = {_one_value(v)}" for k, v in sorted(values.items())]
    if series := _series(run):
        out.append("series")
        out += [f"  {text}" for text in series_text(series).splitlines()]
    out.append("verdict")
    if not verdict.ranked:
        out.append(f"  not ranked: {verdict.why_not}")
    else:
        standing = (
            f"rank {verdict.rank} of {verdict.of}"
            if verdict.rank is not None
            else "unranked (fails a check)"
            if not verdict.feasible
            else "unranked"
        )
        out.append(f"  {'feasible' if verdict.feasible else 'INFEASIBLE'}, {standing}")
        for o in verdict.outcomes:
            mark = "pass" if o.passed else "FAIL" if o.blocks else "warn"
            out.append(
                f"  {mark}  {o.kind.value:<9} {o.name}{f' ({o.detail})' if o.detail else ''}"
            )
    if problems:
        out.append("problems")
        out += [f"  {p}" for p in problems]
    out.append("history")
    if not history:
        out.append("  not committed")
    for e in history:
        what = "; ".join(
            f"{_VERBS.get(c.status, c.status)} {terminal_path(c.path)}" for c in e.changes
        )
        out.append(f"  {e.sha[:12]}  {_when(e.time)}  {e.author}  {e.subject}  [{what}]")
    if corrections:
        out.append("corrections")
        out += [f"  {c.describe()}" for c in corrections]
    return "\n".join(map(line, out))


def _is_number(value: object) -> TypeGuard[float]:
    """A JSON number (a bool is none)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number_spelling(values: Iterable[object], *, exact: bool) -> Callable[[float], str]:
    """How the numbers among `values` (one line or column) are spelled: as the report
    spells them (`exact`: CSV, where a spreadsheet gets every value), else with as many
    digits as tell them apart (render.table.distinct_numbers)."""
    if exact:
        return exact_number
    return distinct_numbers(v for v in values if _is_number(v)).__getitem__


def param_texts(values: Iterable[object]) -> list[str]:
    """A param's values across runs as `compare` prints them in text and Markdown: a
    string in quotes, as the scorecard shows params, so "1" and 1, "true" and true look
    different; numbers with as many digits as tell them apart. Bare, `x: 1` and `x: "1"`
    (or 0.1234567 and 0.1234568) printed alike beside the `*` that says they differ (a
    user's hunt, issue 18 twenty-third pass). CSV writes csv_value's cells."""
    values = list(values)
    number = number_spelling(values, exact=False)
    return [
        json.dumps(v, ensure_ascii=False)
        if isinstance(v, str)
        else number(v)
        if _is_number(v)
        else show_value(v)
        for v in values
    ]


def _param_text(value: object) -> str:
    """A param as `show` prints it: a string in quotes, as `compare` shows it, so the
    string "null" and a null (or "1" and 1) look different."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else _one_value(value)


def _one_value(value: object) -> str:
    """A number as `show` prints it: one run's, whole, as the report spells it (a table
    rounds a column to six digits; one run's page has room for 0.123456789); an integer
    too long to read is abbreviated as in a table."""
    if type(value) is float:
        return exact_number(value)
    return show_value(value)


def _result_path(path: str | None, left_out: str | None) -> str:
    """The result's path as `show` prints it: the one read, else the one left out for
    failing its checks, else `-`."""
    if path is not None:
        return terminal_path(path)
    return "-" if left_out is None else f"{terminal_path(left_out)} (left out: it fails its checks)"


def _series(run: Run) -> dict[str, list[list[float]]]:
    """The run's series (metric → [[step, value], …]); {} without."""
    if run.result is None or not run.result.series:
        return {}
    return {m: [list(p) for p in points] for m, points in run.result.series.items()}


def render_compare(
    ids: Sequence[str], lines: Sequence[Line], fmt: str, runs: Sequence[Run] = ()
) -> str:
    """Fields down, runs across; each metric of a later run with its delta against the
    first and whether that is better or worse; in text, the runs' series overlaid, one
    shared axis per metric."""
    if fmt == "json":
        doc = {
            "runs": list(ids),
            "fields": [
                {
                    "field": ln.field,
                    # null also where a run has no value (as before); `present` tells
                    # that from a param that is null
                    "values": [None if v is MISSING else v for v in ln.values],
                    "present": list(ln.present),
                    "deltas": list(ln.deltas),
                    "outcomes": [o.value if o is not None else None for o in ln.outcomes],
                    "differs": ln.differs,
                }
                for ln in lines
            ],
            "series": {run.id: _series(run) for run in runs if _series(run)},
        }
        return json_document(doc)
    # CSV writes each value as every CSV of runs does (csv_value: as `list` and `rank`,
    # every number as the report spells it); text and Markdown with the digits that tell
    # a line's values apart: 0.1234567 and 0.1234568 were both 0.123457 beside a `*` (a
    # user's hunt), and a param as `param_texts` shows it.
    exact = fmt == "csv"
    headers = ["field", *ids]
    body = []
    for ln in lines:
        cells = [("* " if ln.differs else "  ") + ln.field if fmt == "text" else ln.field]
        if exact:
            shown = [csv_value(v) for v in ln.values]
        elif ln.field.startswith("params."):
            shown = param_texts(ln.values)
        else:
            number = number_spelling(ln.values, exact=exact)
            shown = [number(v) if _is_number(v) else show_value(v) for v in ln.values]
        change = number_spelling(ln.deltas, exact=exact)
        for text, delta, outcome in zip(shown, ln.deltas, ln.outcomes, strict=True):
            cell = text
            if delta is not None:
                sign = "+" if delta >= 0 else ""
                cell += f" ({sign}{change(delta)}{', ' + outcome.value if outcome else ''})"
            cells.append(cell)
        body.append(cells)
    table = _table(headers, body, fmt)
    overlay = overlay_text([(run.id, _series(run)) for run in runs]) if fmt == "text" else ""
    return table + (f"\n\nseries\n{overlay.rstrip()}" if overlay else "")
