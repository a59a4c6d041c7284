"""`rank`'s leaderboard as JSON, a text table, Markdown or CSV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from expflow_git.audit.attempts import StudyAttempts
from expflow_git.audit.ranking import Leaderboard
from expflow_git.escape import json_document, line
from expflow_git.policy.model import Ranking
from expflow_git.query.runs import Run
from expflow_git.query.where import Field
from expflow_git.render.attempts import attempts_lines, attempts_markdown
from expflow_git.render.runs import column_cells
from expflow_git.render.table import csv_table, leaderboard_cells, md_table, text_table
from expflow_git.render.view import Row, metric_columns

FORMATS = ("table", "json", "md", "csv")


def render_rank(
    board: Leaderboard,
    rows: Sequence[Row],
    ranking: Ranking,
    fmt: str,
    runs: Mapping[str, Run] | None = None,
    columns: Sequence[Field] = (),
    attempts: Sequence[StudyAttempts] = (),
) -> str:
    """The shown `rows` of `board` in format `fmt` (one of FORMATS), as `rank` prints it
    (plus a newline); JSON rows also carry each run's study, status, params and splits
    (from `runs`), and the tables the extra `columns` (`params.lr`, `splits.S.M`). Under
    the table (in JSON, as `attempts`) every record counted per study and status with
    the runs not ranked (not in CSV, which is one table)."""
    runs = runs or {}
    if fmt == "json":
        doc = {
            "ranking": [{**_row_json(r), **_run_json(runs.get(r.id))} for r in rows],
            "best_any": board.best_any,
            "best_feasible": board.best_feasible,
            "attempts": [{k: v for k, v in a.entry().items() if k != "type"} for a in attempts],
        }
        return json_document(doc)
    exact = fmt == "csv"  # a spreadsheet gets every value as the report spells it
    headers, body = leaderboard_cells(
        rows,
        metric_columns(ranking.sort_by, ranking.tie_break, [r.metrics for r in rows]),
        exact=exact,
    )
    if columns:  # before "failed checks", which stays last
        headers[-1:-1] = [str(c) for c in columns]
        extra = column_cells([runs.get(row.id) for row in rows], columns, exact=exact)
        for cells, more in zip(body, extra, strict=True):
            cells[-1:-1] = more
    render = {"table": text_table, "md": md_table, "csv": csv_table}[fmt]
    text = render(headers, body).rstrip("\n")
    if fmt == "table" and attempts:
        text += "\n\n" + "\n".join(map(line, attempts_lines(attempts)))
    elif fmt == "md" and attempts:
        text += "\n" + "\n".join(attempts_markdown(attempts))
    return text


def _row_json(r: Row) -> dict[str, Any]:
    return {
        "id": r.id,
        "rank": r.rank,
        "feasible": r.feasible,
        "metrics": dict(r.metrics),
        "failed": list(r.failed),
        "warnings": list(r.warnings),
    }


def _run_json(run: Run | None) -> dict[str, Any]:
    """What a ranked row adds from its run: study, status, params and splits."""
    if run is None:
        return {}
    return {
        "study": run.study,
        "status": run.status.value,
        "params": dict(run.params),
        "splits": {k: dict(v) for k, v in run.splits.items()},
    }


def best_line(board: Leaderboard) -> str:
    """The best runs, in one line (under the text table)."""
    return f"best_any: {board.best_any or '-'}   best_feasible: {board.best_feasible or '-'}"
