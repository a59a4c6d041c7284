"""The Ladder (Blum & Hardt, "The Ladder: A Reliable Leaderboard for Machine Learning
Competitions", ICML 2015, Algorithm 1), over the runs in the order their results were
first committed (docs/spec.md §6.2 item 5).

Algorithm 1 with a loss: R₀ = ∞; for each submission f_t, if R_S(f_t) < R_{t−1} − η then
R_t = [R_S(f_t)]_η (the score rounded to the nearest multiple of η), else R_t = R_{t−1}.
Here the submissions are the feasible ranked runs, the score is the ranking metric, and
a higher-is-better metric is the mirror image (beat R_{t−1} + η). The ladder's best is
the last run that moved it, and R_T is its released score: a top of the board that beat
the ladder by no more than η (a lucky draw on the holdout) does not move it.

`climb` is the one implementation: the audit runs it on the history it reads, the
verifier on the orders a report's run entries carry (report/rules.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from expflow_git.audit.ranking import Leaderboard
from expflow_git.documents import stem
from expflow_git.gitstore import Git
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind


@dataclass(frozen=True, slots=True)
class Rung:
    """A run on the ladder: its place in the submission order (0 first) and whether it
    moved the ladder."""

    order: int
    moved: bool


@dataclass(frozen=True)
class Ladder:
    """The ladder's outcome: its step η, its best run and released score (None: no
    feasible ranked run), and every run's rung, by run id."""

    step: float
    best: str | None
    score: float | None
    rungs: Mapping[str, Rung]


def released(score: float, step: float) -> float:
    """[score]_η: the nearest multiple of η (halves round up). Where η is too fine for a
    float to tell (the quotient past 2⁵³), the score itself."""
    quotient = score / step
    if not math.isfinite(quotient) or abs(quotient) >= 2**53:
        return score
    return math.floor(quotient + 0.5) * step


def climb(
    scores: Sequence[float | None], step: float, descending: bool
) -> tuple[list[bool], int | None, float | None]:
    """Algorithm 1 over `scores` in submission order (None: the run is not eligible).

    Returns whether each submission moved the ladder, the index of the last that did, and
    the released score R_T.
    """
    moved = [False] * len(scores)
    best: int | None = None
    level: float | None = None  # R_{t-1}; None is R₀ = ∞ (a loss) or −∞ (a score)
    for i, score in enumerate(scores):
        if score is None:
            continue
        if level is None or (score > level + step if descending else score < level - step):
            level = released(score, step)
            moved[i] = True
            best = i
    return moved, best, level


def first_commits(git: Git, rev: str, policy: Policy) -> dict[str, int]:
    """The position, in `rev`'s history (oldest first, git's --topo-order), of the commit
    that first added a result of each experiment id at a path the policy names as a
    result: one `git log` for the whole history."""
    first: dict[str, int] = {}
    for position, (_, changes) in enumerate(git.log_changes(None, rev, [])):
        for change in changes:
            if change.status == "A" and policy.kind_of(change.path) is Kind.RESULT:
                first.setdefault(stem(change.path), position)
    return first


def ladder(board: Leaderboard, first: Mapping[str, int], step: float) -> Ladder:
    """The ladder over `board`'s runs, submitted in the order of `first` (the commit that
    first added each run's result); runs of one commit in leaderboard order, a run whose
    result the walk did not find after every other (as if committed last)."""
    runs = board.runs
    never = math.inf
    order = sorted(range(len(runs)), key=lambda i: (first.get(runs[i].verdict.id, never), i))
    sort_by = board.sort_by
    scores = [runs[i].verdict.metrics[sort_by] if runs[i].rank is not None else None for i in order]
    moved, best, level = climb(scores, step, board.descending)
    rungs = {runs[i].verdict.id: Rung(n, moved[n]) for n, i in enumerate(order)}
    return Ladder(
        step=step,
        best=None if best is None else runs[order[best]].verdict.id,
        score=level,
        rungs=rungs,
    )


def audit_ladder(git: Git, rev: str, policy: Policy, board: Leaderboard) -> Ladder | None:
    """The ladder of an audit when the policy sets `ranking.ladder_step`, else None."""
    step = policy.ranking.ladder_step
    if step is None:
        return None
    return ladder(board, first_commits(git, rev, policy), step)
