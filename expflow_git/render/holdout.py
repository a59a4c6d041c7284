"""The holdout budget (audit/budget.py) as the outputs show it: one line of plain text,
built from the report's `holdout-budget` entry (escaping is the caller's, per sink)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expflow_git.escape import html_text


def budget_note(entry: Mapping[str, Any] | None) -> str | None:
    """`holdout budget: …` with each study's count and OVER where it exceeds the limit."""
    if entry is None:
        return None
    limit = entry["max"]
    where = "in the history, every attempt" if entry["counted"] == "history" else "in the tree"
    parts = [
        f"{'(no record)' if s['study'] is None else s['study']} {s['evaluations']}"
        + (" OVER" if s["evaluations"] > limit else "")
        for s in entry["studies"]
    ]
    over = any(s["evaluations"] > limit for s in entry["studies"])
    return (
        f"holdout budget: {'FAIL' if over else 'ok'} — results carrying split "
        f"{entry['split']} per study ({where}), at most {limit}: "
        + (", ".join(parts) if parts else "none")
    )


def holdout_section(entry: Mapping[str, Any] | None) -> str:
    """The scorecard's section: the same line, HTML-escaped ("" without a budget)."""
    note = budget_note(entry)
    if note is None:
        return ""
    return (
        '<section aria-labelledby="h-holdout"><h2 id="h-holdout">Holdout budget</h2>'
        f"<p>{html_text(note)}</p></section>"
    )
