"""What the Python API's rank, audit and verify return: typed, frozen values built from
the views the CLI renders (expflow_git.render.view), so both show the same thing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from expflow_git.errors import Finding


@dataclass(frozen=True)
class RankedRow:
    """One row of a leaderboard: feasible runs ranked 1..k, the others `rank` None."""

    rank: int | None
    id: str
    study: str
    feasible: bool
    metrics: Mapping[str, float]
    failed: tuple[str, ...]  # "check (why)" for every check the run failed


@dataclass(frozen=True)
class RankResult:
    """`Repository.rank`: the leaderboard at a commit, and its two winners."""

    rows: tuple[RankedRow, ...]
    best_any: str | None  # top by the ranking metric, ignoring gates and rules
    best_feasible: str | None  # top among the runs that pass every check
    sort_by: str
    descending: bool
    findings: tuple[Finding, ...]  # problems in the committed documents


@dataclass(frozen=True)
class AuditResult:
    """`Repository.audit`: the verdict and what it rests on; `report` the signed report's
    bytes (the file `audit --out` writes) when asked for, else None."""

    verdict: str  # "pass" or "fail"
    commit: str
    best_any: str | None
    best_feasible: str | None
    rows: tuple[RankedRow, ...]
    findings: tuple[Finding, ...]
    signed_by: tuple[str, ...]  # the signing key's id; empty: unsigned
    report: bytes | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"


@dataclass(frozen=True)
class VerifyResult:
    """`Repository.verify`: one line per check (as `expflow-git verify` prints them)."""

    ok: bool
    lines: tuple[str, ...]
    signers: tuple[str, ...]  # only keys the signature was verified with


def ranked_rows(rows: Sequence[object]) -> tuple[RankedRow, ...]:
    """The API's rows from the renderers' (expflow_git.render.view.Row)."""
    from expflow_git.render.view import Row

    return tuple(
        RankedRow(r.rank, r.id, r.study, r.feasible, dict(r.metrics), tuple(r.failed))
        for r in rows
        if isinstance(r, Row)
    )
