"""`rank`'s leaderboard as JSON, a text table, Markdown or CSV."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from expflow_git.audit.attempts import StudyAttempts
from expflow_git.audit.ranking import Leaderboard
from expflow_git.escape import json_document, line
from expflow_git.policy.model import Gate, Ranking
from expflow_git.query.runs import Run
from expflow_git.query.where import Field
from expflow_git.render.attempts import attempts_lines, attempts_markdown
from expflow_git.render.runs import column_cells
from expflow_git.render.table import csv_table, leaderboard_cells, md_table, text_table
from expflow_git.render.view import MAX_METRIC_COLUMNS, Row

FORMATS = ("table", "json", "md", "csv")


@dataclass(frozen=True)
class RankedBy(Ranking):
    """The ranking `rank` sorted by, with the metric columns its tables show."""

    metric_columns: tuple[str, ...] = ()


def ranked_by(ranking: Ranking, gates: Iterable[Gate], headline: str | None = None) -> RankedBy:
    """`ranking` with the leaderboard's metric columns, from the policy as `list` takes
    them: the sort metric, the policy's own (`headline`, when `--sort-by` chose
    another), the tie-breaks, then each gate's metric (the registry's
    thresholds, the policy's gates, `--gate`'s and `--warn`'s: `Policy.all_gates`), at
    most MAX_METRIC_COLUMNS. Never from the rows shown: the header of `rank --format
    csv` lost `train_time_min` when `--where` or `--study` matched no run, and changed
    with the optional metrics the runs shown had logged (a hunter's find, issue 18
    twenty-ninth pass); it is the same whatever rows match. `--columns` adds any other."""
    names = [ranking.sort_by, headline or ranking.sort_by, *ranking.tie_break]
    names += [g.metric for g in gates]
    return RankedBy(
        ranking.sort_by,
        ranking.descending,
        ranking.tie_break,
        ranking.ladder_step,
        tuple(dict.fromkeys(names))[:MAX_METRIC_COLUMNS],
    )


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
    (plus a newline). The tables' metric columns are `ranking`'s (`ranked_by`; a plain
    Ranking shows its sort metric and tie-breaks), and the extra `columns` (`params.lr`,
    `splits.S.M`); JSON rows also carry each run's study, status, params and splits (from
    `runs`). Under the table (in JSON, as `attempts`) every record counted per study and
    status with the runs not ranked (not in CSV, which is one table)."""
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
    shown = ranking if isinstance(ranking, RankedBy) else ranked_by(ranking, ())
    headers, body = leaderboard_cells(rows, shown.metric_columns, exact=exact)
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
