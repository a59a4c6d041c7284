"""`diff`'s metric changes between two revisions as JSON, a text table or Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from expflow_git.audit.diff import Change, MetricDiff
from expflow_git.escape import json_document, line, markdown
from expflow_git.render.table import distinct_numbers, md_table, text_table

FORMATS = ("table", "json", "md")


def render_diff(rows: Sequence[MetricDiff], rev_a: str, rev_b: str, fmt: str) -> str:
    """The shown `rows` in format `fmt` (one of FORMATS), as `diff` prints it (plus a newline)."""
    if fmt == "json":
        doc = [
            {
                "experiment": r.experiment,
                "metric": r.metric,
                "old": r.old,
                "new": r.new,
                "delta": r.delta,
                "relative": r.relative,
                "change": r.change.value,
            }
            for r in rows
        ]
        return json_document(doc)
    if not rows:  # (the revisions as typed: `:/<regex>` may hold any text but a newline)
        shown = markdown if fmt == "md" else line
        return f"no metric changed between {shown(rev_a)} and {shown(rev_b)}"
    marks = {Change.IMPROVED: "▲ improved", Change.REGRESSED: "▼ regressed"}
    # An old and a new value that differ never look alike, nor two changes.
    value = distinct_numbers([v for r in rows for v in (r.old, r.new)])
    delta = distinct_numbers([r.delta for r in rows])
    body = [
        [
            r.experiment,
            r.metric,
            value[r.old],
            value[r.new],
            delta[r.delta],
            "-" if r.relative is None else f"{r.relative:+.2%}",
            marks.get(r.change, r.change.value),
        ]
        for r in rows
    ]
    headers = ["experiment", "metric", rev_a, rev_b, "change", "relative", "verdict"]
    return (md_table if fmt == "md" else text_table)(headers, body)
