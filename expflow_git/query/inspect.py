"""What `show` and `compare` say about runs, as values: a run's verdict under the policy
(the audit's own checks and ranking), its history, and runs side by side with deltas."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from expflow_git.audit.ranking import Leaderboard, rank, sort_keys
from expflow_git.checks import Outcome, RunVerdict, judge_runs, pair_runs
from expflow_git.corrections import Correction
from expflow_git.documents import Scalar, Status, difference, same_scalar
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitstore import Git, LogEntry
from expflow_git.policy.model import Gate, Policy
from expflow_git.query.runs import Run, RunSet
from expflow_git.query.values import MISSING, Missing


@dataclass(frozen=True)
class Verdict:
    """A run's standing: every check (empty when it is not ranked at all), and its place
    on the leaderboard of its source (None: infeasible or not ranked)."""

    ranked: bool  # a success with a result: it takes part in the ranking
    why_not: str  # why it is not ranked ("" if it is)
    outcomes: tuple[Outcome, ...]
    feasible: bool
    rank: int | None
    of: int  # how many runs were ranked
    best_any: str | None
    best_feasible: str | None


def board_of(run_set: RunSet, extra: tuple[Gate, ...] = ()) -> Leaderboard:
    """The leaderboard of every run of the set, as `rank` and the audit rank them."""
    policy = run_set.policy
    gates = policy.all_gates(extra)
    pairs = pair_runs(
        [r.experiment for r in run_set.runs], [r.result for r in run_set.runs if r.result]
    )
    return rank(judge_runs(pairs, policy, gates), sort_keys(policy.ranking, policy.metrics))


LEFT_OUT = "its result fails its checks and is left out (see problems)"


def verdict_of(run: Run, run_set: RunSet) -> Verdict:
    """`run` judged by the policy: its checks and its place among the set's runs. A
    result that fails its checks is left out of the set; the run then has none, but
    "no result" said it was never written (a user's hunt, issue 18 twenty-third pass).
    The board's counts and bests are the set's whatever the run: for a run not ranked
    they said `ranked_runs: 0` and no best, where `rank` had both (a hunt, twenty-fourth
    pass)."""
    board = board_of(run_set)
    ranked = sum(1 for r in board.runs if r.rank is not None)
    board_says = (ranked, board.best_any, board.best_feasible)
    if run.status is not Status.SUCCESS:
        why = f"status {run.status.value}" + (f": {run.reason}" if run.reason else "")
        return Verdict(False, why, (), False, None, *board_says)
    if run.result is None:
        why = LEFT_OUT if left_out_result(run, run_set) else "no result"
        return Verdict(False, why, (), False, None, *board_says)
    mine = next((r for r in board.runs if r.verdict.id == run.id), None)
    if mine is None:  # two records or two results for its id: not ranked (a finding says so)
        return Verdict(False, "its id has two records or two results", (), False, None, *board_says)
    v: RunVerdict = mine.verdict
    return Verdict(True, "", v.outcomes, v.feasible, mine.rank, *board_says)


def result_paths(run: Run, policy: Policy) -> list[str]:
    """The run's result files: the one read, and where the layout puts a result of its
    id. A result that fails its checks is left out of the set, so it is no
    `run.result_path`: `show` then gave neither its problems nor its commits (a user's
    hunt, issue 18 twenty-third pass)."""
    from expflow_git.records.writer import placed_result

    placed = placed_result(policy, run.study, run.id)
    return list(dict.fromkeys(p for p in (run.result_path, placed) if p is not None))


def left_out_result(run: Run, run_set: RunSet) -> str | None:
    """The path of the run's result that was left out (it fails its checks); None when
    the run has its result or there is none to leave out."""
    if run.result is not None:
        return None
    paths = set(result_paths(run, run_set.policy))
    return next((f.path for f in run_set.findings if f.path in paths), None)


def run_files(run: Run, corrections: Sequence[Correction], policy: Policy) -> list[str]:
    """Every path of the run: record, result (also one left out) and its corrections."""
    return [run.record_path, *result_paths(run, policy), *(c.path for c in corrections)]


def history_of(git: Git | None, rev: str, paths: Sequence[str]) -> list[LogEntry]:
    """The commits that touched the run's files, newest first (one `git log`); none
    outside a repository or before the first commit."""
    if git is None:
        return []
    try:
        git.resolve_commit(rev)
    except ExpflowError:  # no commit yet: the run simply has no history
        return []
    return git.log_touching(rev, paths)


def corrections_of(run: Run, run_set: RunSet) -> list[Correction]:
    return [c for c in run_set.corrections if c.experiment == run.id]


def findings_of(run: Run, run_set: RunSet) -> list[Finding]:
    """The problems the set found in the run's files (its result's also when that was
    left out for them)."""
    mine = {run.record_path, *result_paths(run, run_set.policy)}
    return [f for f in run_set.findings if f.path in mine]


class Direction(str, enum.Enum):
    """How a metric moved against the first run, by its registry direction."""

    BETTER = "better"
    WORSE = "worse"
    SAME = "same"


@dataclass(frozen=True)
class Line:
    """One field of `compare`: each run's value; for metrics the delta against the
    first run and whether that is better or worse (by the metric's direction)."""

    field: str
    values: tuple[object, ...]  # MISSING where the run has no value (a param may be null)
    deltas: tuple[float | None, ...]  # None for the first run, or where not comparable
    outcomes: tuple[Direction | None, ...]  # better / worse / same, None where not comparable
    differs: bool

    @property
    def present(self) -> tuple[bool, ...]:
        """Whether each run has the field."""
        return tuple(v is not MISSING for v in self.values)


def compare_lines(runs: Sequence[Run], policy: Policy) -> list[Line]:
    """Params, then metrics, then splits' metrics, side by side."""
    lines = []
    for name in _keys(r.params for r in runs):
        values = tuple(r.params.get(name, MISSING) for r in runs)
        lines.append(_plain(f"params.{name}", values))
    for name in _keys(r.metrics for r in runs):
        measured = [r.metrics.get(name, MISSING) for r in runs]
        lines.append(_metric(f"metrics.{name}", measured, name, policy))
    splits = sorted({s for r in runs for s in r.splits})
    for split in splits:
        for name in _keys(r.splits.get(split, {}) for r in runs):
            measured = [r.splits.get(split, {}).get(name, MISSING) for r in runs]
            lines.append(_metric(f"splits.{split}.{name}", measured, name, policy))
    return lines


def _keys(maps: Iterable[Mapping[str, object]]) -> list[str]:
    """Every key of any of the maps, sorted."""
    return sorted({key for m in maps for key in m})


def _plain(field: str, values: tuple[Scalar | Missing, ...]) -> Line:
    """Params differ as a record's do (`same_scalar`): 1 and 1.0 are one value, as
    `--where params.lr = 1` and `run()` read them; by repr they differed (a user's hunt).
    A run without the param differs from one where it is null, as `--where params.x =
    null` tells them apart (a user's hunt, twenty-fifth pass)."""
    none = (None,) * len(values)
    differs = not all(_same(values[0], v) for v in values[1:])
    return Line(field, values, none, none, differs)


def _same(a: Scalar | Missing, b: Scalar | Missing) -> bool:
    if isinstance(a, Missing) or isinstance(b, Missing):
        return a is b
    return same_scalar(a, b)


def _metric(field: str, values: list[float | Missing], name: str, policy: Policy) -> Line:
    metric = policy.metrics.get(name)
    higher = metric.higher_is_better if metric is not None else None
    first = values[0]
    deltas: list[float | None] = [None]
    outcomes: list[Direction | None] = [None]
    for value in values[1:]:
        if first is MISSING or value is MISSING:
            deltas.append(None)
            outcomes.append(None)
            continue
        delta = difference(value, first)  # (as `diff` gives it)
        deltas.append(delta)
        if delta == 0:
            outcomes.append(Direction.SAME)
        elif higher is None:
            outcomes.append(None)
        else:
            outcomes.append(Direction.BETTER if (delta > 0) == higher else Direction.WORSE)
    return Line(field, tuple(values), tuple(deltas), tuple(outcomes), len(set(values)) > 1)
