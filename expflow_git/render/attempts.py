"""Every attempt counted (issue 16) in text and Markdown: the records per study and
status, and the runs left off the leaderboard with their reason."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from expflow_git.audit.attempts import Excluded, StudyAttempts, attempts_note, study_note
from expflow_git.errors import printable
from expflow_git.escape import markdown, markdown_code

# The excluded runs listed in text and Markdown; the report, `rank --format json` and the
# scorecard (up to its own cap) hold them all.
MAX_EXCLUDED_SHOWN = 200
NO_REASON = "no reason given"
# The characters of a reason shown in Markdown, which escaping can make ~11 times longer
# (U+E0001 is `\\U000e0001`): the job summary has GitHub's 1 MiB cap, and the report holds
# every reason whole.
MAX_REASON_SHOWN = 200


def clipped(text: str, limit: int = MAX_REASON_SHOWN) -> str:
    """`text`, cut to its first `limit` characters and `…` when it is longer."""
    return text if len(text) <= limit else text[:limit] + "…"


def excluded_runs(attempts: Sequence[StudyAttempts]) -> Iterator[Excluded]:
    """The excluded runs of every study, study by study."""
    return itertools.chain.from_iterable(a.excluded for a in attempts)


def excluded_count(attempts: Sequence[StudyAttempts]) -> int:
    return sum(len(a.excluded) for a in attempts)


def attempts_lines(attempts: Sequence[StudyAttempts]) -> list[str]:
    """The counts (one line per study when there are several) and the excluded runs;
    nothing for no record. Not escaped: the caller escapes each line for its sink."""
    if not attempts:
        return []
    lines = [f"attempts: {attempts_note(attempts)}"]
    if len(attempts) > 1:
        lines += [f"  {printable(study_note(a))}" for a in attempts]
    n = excluded_count(attempts)
    if n:
        lines.append(f"excluded from the ranking ({n:,}):")
        shown = list(itertools.islice(excluded_runs(attempts), MAX_EXCLUDED_SHOWN))
        width = max(len(e.id) for e in shown)
        lines += [
            f"  {printable(e.id):<{width}}  {printable(e.study)}  {e.status:<7}  "
            f"{printable(e.reason) or NO_REASON}"
            for e in shown
        ]
        if n > len(shown):
            lines.append(f"  … {n - len(shown):,} more: the report lists every one")
    return lines


def attempts_markdown(attempts: Sequence[StudyAttempts]) -> list[str]:
    """The same in Markdown: a count per study, then the excluded runs as a list, each
    reason clipped (MAX_REASON_SHOWN)."""
    if not attempts:
        return []
    lines = ["", "### Every attempt", "", markdown(attempts_note(attempts))]
    if len(attempts) > 1:
        lines += [""] + [f"- {markdown(study_note(a))}" for a in attempts]
    n = excluded_count(attempts)
    if n:
        lines += ["", f"Excluded from the ranking ({n:,}):", ""]
        shown = itertools.islice(excluded_runs(attempts), MAX_EXCLUDED_SHOWN)
        lines += [
            f"- {markdown_code(e.id)} ({markdown(e.study)}) **{e.status}**: "
            + (markdown(clipped(e.reason)) if e.reason else f"_{NO_REASON}_")
            for e in shown
        ]
        if n > MAX_EXCLUDED_SHOWN:
            lines.append(f"- _… {n - MAX_EXCLUDED_SHOWN:,} more: the report lists every one_")
    return lines
