"""`rank`'s leaderboard as JSON, a text table, Markdown or CSV."""

from __future__ import annotations

import json
from collections.abc import Sequence

from expflow_git.audit.attempts import StudyAttempts
from expflow_git.audit.ranking import Leaderboard
from expflow_git.escape import json_text, line
from expflow_git.policy.model import Ranking
from expflow_git.render.attempts import attempts_lines, attempts_markdown
from expflow_git.render.table import csv_table, leaderboard_cells, md_table, text_table
from expflow_git.render.view import Row, metric_columns

FORMATS = ("table", "json", "md", "csv")


def render_rank(
    board: Leaderboard,
    rows: Sequence[Row],
    ranking: Ranking,
    fmt: str,
    attempts: Sequence[StudyAttempts] = (),
) -> str:
    """The shown `rows` of `board` in format `fmt` (one of FORMATS), as `rank` prints it
    (plus a newline); under the table (in JSON, as `attempts`) every record counted per
    study and status with the runs not ranked (not in CSV, which is one table)."""
    if fmt == "json":
        doc = {
            "ranking": [
                {
                    "id": r.id,
                    "rank": r.rank,
                    "feasible": r.feasible,
                    "metrics": dict(r.metrics),
                    "failed": list(r.failed),
                }
                for r in rows
            ],
            "best_any": board.best_any,
            "best_feasible": board.best_feasible,
            "attempts": [{k: v for k, v in a.entry().items() if k != "type"} for a in attempts],
        }
        return json_text(json.dumps(doc, indent=2))
    cells = leaderboard_cells(
        rows,
        metric_columns(ranking.sort_by, ranking.tie_break, [r.metrics for r in rows]),
        exact=fmt == "csv",  # a spreadsheet gets every value as the report spells it
    )
    render = {"table": text_table, "md": md_table, "csv": csv_table}[fmt]
    text = render(*cells).rstrip("\n")
    if fmt == "table" and attempts:
        text += "\n\n" + "\n".join(map(line, attempts_lines(attempts)))
    elif fmt == "md" and attempts:
        text += "\n" + "\n".join(attempts_markdown(attempts))
    return text


def best_line(board: Leaderboard) -> str:
    """The best runs, in one line (under the text table)."""
    return f"best_any: {board.best_any or '-'}   best_feasible: {board.best_feasible or '-'}"
