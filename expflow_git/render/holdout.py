"""The holdout budget (audit/budget.py) as the outputs show it: one line of plain text,
built from the report's `holdout-budget` entry (escaping is the caller's, per sink)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expflow_git.escape import html_text

# The characters of the split's name a line cut to `limit_chars` shows (the report holds
# it whole): the head, the count in all studies and some studies always fit in 1,000.
SPLIT_SHOWN = 200


def budget_note(entry: Mapping[str, Any] | None, limit_chars: int | None = None) -> str | None:
    """`holdout budget: …` with each study's count and OVER where it exceeds the limit,
    then the count in all studies against `maxTotal` when the policy sets one. With
    `limit_chars` (Markdown's cap on a line) only the list of studies is cut (`…`): the
    count in all studies, the one an author cannot get round by giving each look a study
    of its own (docs/spec.md §3), was the part a long list cut off."""
    if entry is None:
        return None
    limit, total = entry.get("max"), entry.get("maxTotal")
    where = "in the history, every attempt" if entry["counted"] == "history" else "in the tree"
    studies = entry["studies"]

    def over(n: int) -> bool:
        return limit is not None and n > limit

    parts = [
        f"{'(no record)' if s['study'] is None else s['study']} {s['evaluations']}"
        + (" OVER" if over(s["evaluations"]) else "")
        for s in studies
    ]
    count = sum(s["evaluations"] for s in studies)
    failed = any(over(s["evaluations"]) for s in studies) or (total is not None and count > total)
    bound = f"per study ({where}), at most {limit}" if limit is not None else f"({where})"
    split = entry["split"]
    if limit_chars is not None and len(split) > SPLIT_SHOWN:
        # (the split is the policy's free text: cut, or it pushed the total off the line)
        split = split[:SPLIT_SHOWN] + "…"
    verdict = "FAIL" if failed else "ok"
    head = f"holdout budget: {verdict} — results carrying split {split} {bound}: "
    listed = ", ".join(parts) if parts else "none"
    tail = ""
    if total is not None:
        tail = f"; in all studies {count}, at most {total}" + (" OVER" if count > total else "")
    if limit_chars is not None and len(head) + len(listed) + len(tail) > limit_chars:
        listed = listed[: max(0, limit_chars - len(head) - len(tail) - 1)] + "…"
    return head + listed + tail


def holdout_section(entry: Mapping[str, Any] | None) -> str:
    """The scorecard's section: the same line, HTML-escaped ("" without a budget)."""
    note = budget_note(entry)
    if note is None:
        return ""
    return (
        '<section aria-labelledby="h-holdout"><h2 id="h-holdout">Holdout budget</h2>'
        f"<p>{html_text(note)}</p></section>"
    )
