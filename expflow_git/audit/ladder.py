"""The Ladder (Blum & Hardt, "The Ladder: A Reliable Leaderboard for Machine Learning
Competitions", ICML 2015, Algorithm 1), over the runs in the order their results were
first committed (docs/spec.md §6.2 item 5).

Algorithm 1 with a loss: R₀ = ∞; for each submission f_t, if R_S(f_t) < R_{t−1} − η then
R_t = [R_S(f_t)]_η (the score rounded to the nearest multiple of η), else R_t = R_{t−1}.
Here the submissions are the feasible ranked runs, the score is the ranking metric, and
a higher-is-better metric is its exact mirror image: the loss −score climbs the ladder
(so it must beat R_{t−1} + η, and a half rounds toward the worse side either way). The
ladder's best is the last run that moved it, and R_T is its released score: a top of the
board that beat the ladder by no more than η (a lucky draw on the holdout) does not move it.

The submission order is history, never a date a document or a commit claims: a result
document is submitted at the first commit of the audited commit's first-parent chain that
brought it (a merge brings a side branch's results at once), and under `--policy-ref`
the judged ref's own chain comes first, so a pull request that merged the base branch in
cannot place its results before the base's.

`climb` is the one implementation: the audit runs it on the history it reads, the
verifier on the orders a report's run entries carry (report/rules.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from expflow_git.audit.leaves import Leaves
from expflow_git.audit.ranking import Leaderboard
from expflow_git.documents import exact
from expflow_git.errors import ExpflowError
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


def released(score: float, step: float, descending: bool = False) -> float:
    """[score]_η: the nearest multiple of η, a half rounded toward the worse side (up for
    a loss, down for a higher-is-better score: the mirror image, so a tie never flatters
    a run), computed on the decimals the numbers are, as a double."""
    return _double(_released(exact(score), exact(step), descending))


def _released(score: Fraction, step: Fraction, descending: bool) -> Fraction:
    if descending:
        return -_released(-score, step, False)
    return math.floor(score / step + _HALF) * step


_HALF = Fraction(1, 2)


def climb(
    scores: Sequence[float | None], step: float, descending: bool
) -> tuple[list[bool], int | None, float | None]:
    """Algorithm 1 over `scores` in submission order (None: the run is not eligible).

    Returns whether each submission moved the ladder, the index of the last that did, and
    the released score R_T. Scores, η and R are compared as the decimals they are: in
    doubles, one ulp decided the boundary (a loss of 0.2 beat 0.3 by "more than" 0.1).
    """
    moved = [False] * len(scores)
    best: int | None = None
    eta = exact(step)
    level: Fraction | None = None  # R_{t-1}; None is R₀ = ∞ (a loss) or −∞ (a score)
    bar = 0.0  # R_{t-1} ± η as a double: it decides every score not within a hair of it
    for i, score in enumerate(scores):
        if score is None:
            continue
        if level is not None:
            gap = score - bar if descending else bar - score  # > 0: it beats R by more than η
            if abs(gap) > 1e-12 * max(abs(score), abs(bar), abs(step)) + 1e-300:
                if gap < 0:
                    continue
            elif not _beats(exact(score), level, eta, descending):
                continue
        level = _released(exact(score), eta, descending)
        bar = _double(level + eta if descending else level - eta)
        moved[i] = True
        best = i
    return moved, best, None if level is None else _double(level)


def _double(number: Fraction) -> float:
    """The nearest double; past the largest, an infinity (a report's scores near 1.8e308
    and a step of 1e300 reach it: the verifier then disagrees, never crashes)."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def _beats(score: Fraction, level: Fraction, step: Fraction, descending: bool) -> bool:
    """Algorithm 1's test on the decimals: a score beats R by more than η."""
    return score > level + step if descending else score < level - step


def first_commits(git: Git, rev: str, policy: Policy, trusted: str | None = None) -> dict[str, int]:
    """The submission position of each result document, by its blob: the position, in
    `rev`'s first-parent history (oldest first), of the commit that first brought that
    blob to a path the policy names as a result. With `trusted` (the --policy-ref commit)
    its first-parent history comes first and then `rev`'s commits it does not hold. One
    `git log` per history.

    A shallow clone's cut commit shows every file of its tree as added: each result
    older than the cut would be submitted there, the runs in leaderboard order, and the
    report would not recompute in a full clone. A walk reaching one is exit 2, as the
    budgets' cut history is (audit/budget._refuse_a_cut_history)."""
    walks = [(None, rev)] if trusted is None else [(None, trusted), (trusted, rev)]
    cut = git.shallow_commits()
    first: dict[str, int] = {}
    position = 0
    for base, tip in walks:
        for commit, changes in git.log_changes(base, tip, [], first_parent=True):
            if commit in cut:
                raise ExpflowError(
                    f"ranking.ladder_step: the Ladder submits each run at the commit that "
                    f"first brought its result, and this shallow clone cuts the history at "
                    f"{commit[:12]} — fetch the full history (actions/checkout with "
                    "`fetch-depth: 0`)"
                )
            for change in changes:
                # A modified result is a new submission: its blob, not its id, is followed.
                if change.new_sha is not None and policy.kind_of(change.path) is Kind.RESULT:
                    first.setdefault(change.new_sha, position)
            position += 1
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


def audit_ladder(
    git: Git,
    rev: str,
    policy: Policy,
    board: Leaderboard,
    inputs: Leaves,
    trusted: str | None = None,
) -> Ladder | None:
    """The ladder of an audit when the policy sets `ranking.ladder_step`, else None.
    `inputs`: the audit's input leaves at `rev` (each path's git blob); `trusted`: the
    --policy-ref commit."""
    step = policy.ranking.ladder_step
    if step is None:
        return None
    # Only the ranked results' blobs: a map of every input would be 2M strings at 1M runs.
    paths = {run.verdict.path for run in board.runs}
    blobs = inputs.blobs(paths)
    by_blob = first_commits(git, rev, policy, trusted)
    first = {
        run.verdict.id: by_blob[blob]
        for run in board.runs
        if (blob := blobs.get(run.verdict.path)) is not None and blob in by_blob
    }
    return ladder(board, first, step)
