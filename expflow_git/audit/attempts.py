"""Every attempt counted (issue 16): the records of a tree per study and status, and the
runs the leaderboard leaves out (pending, running, failed, skipped) with their reason.

A leaderboard of the successful runs alone hides how many tries it took; these counts
and the excluded runs go into the audit, the report and every rendering of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from expflow_git.documents import Experiment, Status
from expflow_git.errors import mask_flagged, path_text

# Every status, in the order people read them: done first, then still open, then given up.
STATUSES = (Status.SUCCESS, Status.FAILED, Status.SKIPPED, Status.RUNNING, Status.PENDING)


@dataclass(frozen=True, slots=True)
class Excluded:
    """A record that is not on the leaderboard because its run did not succeed."""

    id: str
    study: str
    path: str
    status: str
    reason: str  # "" when the record gives none


@dataclass(frozen=True, slots=True)
class StudyAttempts:
    """One study's records: how many per status, and those that are not `success`."""

    study: str
    counts: Mapping[str, int]  # every status of STATUSES, zeros included
    excluded: tuple[Excluded, ...]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def entry(self) -> dict[str, Any]:
        """The report entry (without seq, prev and hash)."""
        return {
            "type": "attempts",
            "study": self.study,
            "counts": dict(self.counts),
            "excluded": [
                {"id": e.id, "path": path_text(e.path), "status": e.status, "reason": e.reason}
                for e in self.excluded
            ],
        }

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> StudyAttempts:
        """From a report entry that passed the report schema."""
        study = str(entry["study"])
        return cls(
            study,
            {s.value: int(entry["counts"].get(s.value, 0)) for s in STATUSES},
            tuple(
                Excluded(e["id"], study, e["path"], e["status"], e["reason"])
                for e in entry["excluded"]
            ),
        )


def count_attempts(
    experiments: Iterable[Experiment], *, study: str | None = None, tags: Sequence[str] = ()
) -> tuple[StudyAttempts, ...]:
    """The valid records per study (sorted by study), optionally only one study's or
    those carrying all `tags` (as `rank` filters its runs)."""
    # Counted by Status, named by value at the end: once per record, an enum's `.value`
    # is a descriptor call (a million of them at 100k runs).
    counts: dict[str, dict[Status, int]] = {}
    excluded: dict[str, list[Excluded]] = {}
    success = Status.SUCCESS
    for exp in experiments:
        if (study is not None and exp.study != study) or any(t not in exp.tags for t in tags):
            continue
        per = counts.get(exp.study)
        if per is None:
            per = counts[exp.study] = dict.fromkeys(STATUSES, 0)
        per[exp.status] += 1
        if exp.status is not success:
            excluded.setdefault(exp.study, []).append(
                # (a reason the scan flags, `--pin NNNN exited 1`, reached every output
                # of the audit; an attacker's hunt)
                Excluded(exp.id, exp.study, exp.path, exp.status.value, mask_flagged(exp.reason))
            )
    return tuple(
        StudyAttempts(
            name,
            {status.value: n for status, n in counts[name].items()},
            tuple(sorted(excluded.get(name, ()), key=lambda e: (e.id, _bytes(e.path)))),
        )
        for name in sorted(counts)
    )


def _bytes(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def totals(attempts: Iterable[StudyAttempts]) -> dict[str, int]:
    """Records per status over every study, and `total`."""
    out = dict.fromkeys((s.value for s in STATUSES), 0)
    for a in attempts:
        for status, n in a.counts.items():
            out[status] = out.get(status, 0) + n
    out["total"] = sum(out.values())
    return out


def totals_of_entry(entry: Mapping[str, Any], into: dict[str, int]) -> None:
    """Add an attempts entry's counts to `into` (the report's `result.attempts`)."""
    for status, n in entry["counts"].items():
        into[status] = into.get(status, 0) + n
        into["total"] = into.get("total", 0) + n


def by_status(attempts: Sequence[StudyAttempts]) -> str:
    """`18 success, 2 failed, 1 pending` over every study (zeros left out)."""
    t = totals(attempts)
    return ", ".join(f"{t[s.value]:,} {s.value}" for s in STATUSES if t[s.value])


def attempts_note(attempts: Sequence[StudyAttempts]) -> str:
    """`21 record(s): 18 success, 2 failed, 1 pending` over every study (zeros left out)."""
    total = sum(a.total for a in attempts)
    return f"{total:,} record(s)" + (f": {by_status(attempts)}" if total else "")


def study_note(a: StudyAttempts) -> str:
    """`study: 21 record(s): 18 success, 2 failed, 1 pending`."""
    parts = [f"{a.counts[s.value]:,} {s.value}" for s in STATUSES if a.counts.get(s.value)]
    return f"{a.study}: {a.total:,} record(s): " + ", ".join(parts)
