"""The seed scripts' three functions, under their names, for code that has a tracker's
metrics in hand rather than a repository (docs/api.md): `validate_competition_rules`,
`compare_scores` and `gate_scores`. They judge with the checks, ranking and walk-forward
gate the audit uses; gates go through the one gate parser (policy.model.parse_gate)."""

from __future__ import annotations

import functools
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from expflow_git.documents import Status
from expflow_git.errors import ExpflowError
from expflow_git.policy.model import Policy
from expflow_git.run import short_repr, unordered_refused

if TYPE_CHECKING:
    from expflow_git.checks import RunVerdict


@dataclass(frozen=True)
class Check:
    """One check of a run: its kind (threshold, gate, required, rule, registry), its
    name (`metric:op:value`, `required:metric`, `param:op:value`), why it failed, and
    its severity: `error`, or `warning` for an advisory check (`severity: warning`),
    whose failure is reported and never makes the run infeasible."""

    kind: str
    name: str
    passed: bool
    detail: str = ""
    severity: str = "error"


@dataclass(frozen=True)
class RulesVerdict:
    """`validate_competition_rules`: whether the run passes as the audit judges it (every
    check but the advisory ones passed: the run is feasible), and each check."""

    all_pass: bool
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class ScoreRow:
    """One run of `compare_scores`: feasible runs ranked 1..k, the others `rank` None."""

    id: str
    rank: int | None
    feasible: bool
    metrics: Mapping[str, float]
    failed: tuple[str, ...]  # every error gate the run failed, "gate (why)"
    warnings: tuple[str, ...] = ()  # the advisory (severity warning) gates it failed


@dataclass(frozen=True)
class Comparison:
    """`compare_scores`: the rows (feasible first) and the two winners."""

    rows: tuple[ScoreRow, ...]
    best_any: str | None  # top by `sort_by`, ignoring the gates
    best_feasible: str | None  # top among the runs that pass every gate


@dataclass(frozen=True)
class GateVerdict:
    """`gate_scores`: the walk-forward gate on two lists."""

    passed: bool
    pearson: float | None  # None: fewer than three pairs, or no variance
    reasons: tuple[str, ...]  # why it did not pass (empty when it passed)


def validate_competition_rules(
    *,
    task_metrics: Mapping[str, float],
    task_params: Mapping[str, Any],
    policy: Policy | str | os.PathLike[str] | None = None,
) -> RulesVerdict:
    """Judge one run as the audit does: registry (unknown metric, range), thresholds,
    gates, required metrics and rules; `policy` a Policy, a policy file's path, or None
    for the built-in competition registry (`init --template competition`). Parameters
    spelled as numbers in strings (`"5"`) compare as numbers (docs/spec.md §3)."""
    from expflow_git.checks import registry_findings, run_verdict
    from expflow_git.documents import Experiment, Result
    from expflow_git.run import checked_params

    judged = _policy(policy)
    metrics = _numbers(task_metrics, what="metric")
    result = Result("<task_metrics>", "run", metrics, {})
    params = checked_params(task_params)  # string names, scalar values, as a record's
    record = Experiment("<task_params>", "run", "run", Status.SUCCESS, params)
    checks = [
        Check("registry", f"registry:{f.pointer.rsplit('/', 1)[-1]}", False, f.message)
        for f in registry_findings(result, judged)
    ]
    verdict = run_verdict(record, result, judged, judged.all_gates())
    checks += [
        Check(o.kind.value, o.name, o.passed, o.detail, o.severity.value) for o in verdict.outcomes
    ]
    # As the audit's feasibility (Outcome.blocks): a failed warning was a failed run (an
    # attacker's hunt).
    return RulesVerdict(all(c.passed or c.severity != "error" for c in checks), tuple(checks))


def compare_scores(
    runs: Mapping[str, Mapping[str, float]],
    *,
    sort_by: str,
    ascending: bool = False,
    gates: Sequence[str | Mapping[str, Any]] = (),
) -> Comparison:
    """Rank runs (each id → its metrics, as a tracker's flattened metrics) by `sort_by`:
    runs passing every `metric:op:value` gate first, ranked, then the rest with the gates
    they failed (a run without a gate's metric fails it). A gate is `metric:op:value` or
    `{gate: …, severity: warning}`: a failed warning is listed, never changes the ranking.
    A malformed gate: ValueError."""
    from expflow_git.audit.ranking import rank
    from expflow_git.checks import RunVerdict, gate_outcome
    from expflow_git.policy.model import one_gate_each, parse_gate

    if not isinstance(sort_by, str):
        raise ValueError(f"sort_by: give a metric's name, not {short_repr(sort_by)}")
    if not isinstance(ascending, bool):
        raise ValueError(f"ascending: {short_repr(ascending)} is not True or False")
    try:
        # The same condition given twice is one check, an error if either is (§3, as
        # `rank --gate G --warn G`): a warning repeating a gate was listed as both.
        parsed = one_gate_each(parse_gate(g, None) for g in gate_texts(gates))
    except ExpflowError as exc:
        raise ValueError(exc.message) from None
    if not isinstance(runs, Mapping):
        raise ValueError(f"runs: give a mapping of run ids to metrics, not {type(runs).__name__}")
    verdicts = []
    given: dict[str, dict[str, float]] = {}
    for run_id, metrics in runs.items():
        if not isinstance(run_id, str):  # 1 and "1" would be two rows with one id
            raise ValueError(f"run id {run_id!r}: run ids are strings")
        values = given[run_id] = _numbers(metrics, what=f"run {run_id!r}: metric")
        outcomes = tuple(gate_outcome(g, values) for g in parsed)
        verdicts.append(RunVerdict(run_id, "", (), "", values, {}, outcomes))
    if verdicts and not any(sort_by in v.metrics for v in verdicts):
        from expflow_git.run import closest

        known = {name: None for v in verdicts for name in v.metrics}
        raise ValueError(f"sort_by: no run has a metric {sort_by!r}{closest(sort_by, known)}")
    if any(_past_exact(v.metrics.get(sort_by)) for v in verdicts):
        verdicts = [_as_decimals(v, sort_by) for v in verdicts]
    board = rank(verdicts, [(sort_by, not ascending)])
    rows = tuple(
        ScoreRow(
            id=r.verdict.id,
            rank=r.rank,
            feasible=r.verdict.feasible,
            metrics=given[r.verdict.id],
            failed=tuple(f"{o.name} ({o.detail})" for o in r.verdict.outcomes if o.blocks),
            warnings=tuple(
                f"{o.name} ({o.detail})"
                for o in r.verdict.outcomes
                if not o.passed and not o.blocks
            ),
        )
        for r in board.runs
    )
    return Comparison(rows, board.best_any, board.best_feasible)


def _past_exact(value: float | None) -> bool:
    """Whether `value` is an integer past 2**53 (a result's metrics never are, §2.2)."""
    return type(value) is int and abs(value) > 2**53


def _as_decimals(verdict: RunVerdict, metric: str) -> RunVerdict:
    """`verdict` with its `metric` as the decimal it is written as, for `rank` to sort: an
    integer past 2**53 can fall between a float and its decimal, and Python compares the
    two by the float's binary value (10**23 - 1 sorted above 1e23, which the gates take as
    written, §2.3: an attacker's hunt, thirty-seventh pass)."""
    from dataclasses import replace

    from expflow_git.documents import exact

    if metric not in verdict.metrics:
        return verdict
    # (A Fraction where a float stands: `rank` only compares and negates it.)
    decimal = cast(float, exact(verdict.metrics[metric]))
    return replace(verdict, metrics={**verdict.metrics, metric: decimal})


def gate_scores(
    train: Sequence[float], holdout: Sequence[float], min_pearson: float = 0.3
) -> GateVerdict:
    """The walk-forward gate: passes iff the Pearson correlation of the two lists (one
    pair per run) is at least `min_pearson`; fewer than three pairs, or no variance,
    never passes. Lists of different lengths: ValueError."""
    from expflow_git.audit.ranking import below, pearson
    from expflow_git.run import finite_number

    # As the policy's walk_forward.min_pearson: a number in [-1, 1]. NaN would make the
    # gate pass whatever the correlation (`r < nan` is false).
    bound = finite_number(min_pearson, what="min_pearson")
    if not -1 <= bound <= 1:
        raise ValueError(f"min_pearson: {min_pearson!r} is not between -1 and 1")
    for name, values in (("train", train), ("holdout", holdout)):
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(f"{name}: give a list of numbers, not {short_repr(values)}")
        # (A mapping's keys, or a set's own order, would pair one run's train value with
        # another's holdout value.)
        unordered_refused(values, name, "numbers, one per run in order", sortable=False)
    xs = list(_numbers(dict(enumerate(train)), what="train value", exact=True).values())
    ys = list(_numbers(dict(enumerate(holdout)), what="holdout value", exact=True).values())
    if len(xs) != len(ys):
        raise ValueError(f"train has {len(xs)} values and holdout {len(ys)}: one pair per run")
    if len(xs) < 3:
        return GateVerdict(False, None, (f"{len(xs)} pair(s); at least 3 are needed",))
    r, reached = pearson(xs, ys, bound)
    if r is None:
        return GateVerdict(False, None, ("no variance: correlation undefined",))
    if not reached:
        return GateVerdict(False, r, (below(r, bound, "pearson r"),))
    return GateVerdict(True, r, ())


def _numbers(values: Mapping[Any, Any], *, what: str, exact: bool = False) -> dict[str, float]:
    """Finite numbers (not bools), else ValueError naming the culprit; `exact`: below
    2**53 in magnitude, as a result's metrics (docs/spec.md §2.2), so that sums of
    squares cannot overflow."""
    from expflow_git.run import finite_number

    if not isinstance(values, Mapping):
        raise ValueError(f"{what}s: give a mapping of names to numbers, not {short_repr(values)}")
    out: dict[str, float] = {}
    for name, value in values.items():
        number = finite_number(value, what=f"{what} {name!r}")
        if isinstance(value, numbers.Integral) and type(number) is not int:
            # A NumPy integer as the integer it is: its float made 2**53 + 1 pass `eq:2**53`
            # and tie with 2**53 (an attacker's hunt, thirty-seventh pass).
            number = int(value)
        if exact and abs(number) >= 2**53:
            raise ValueError(f"{what} {name!r}: {value!r} is 2**53 or more in magnitude")
        out[str(name)] = number
    return out


def gate_texts(gates: Sequence[str | Mapping[str, Any]]) -> list[str | Mapping[str, Any]]:
    """The gates, each a `metric:op:value` string or a `{gate, severity}` mapping; one
    string alone is refused (it would be read letter by letter)."""
    if isinstance(gates, (str, bytes)) or not isinstance(gates, Iterable):
        raise ValueError(
            f"gates: give a list of 'metric:op:value' strings, not {short_repr(gates)}"
        )
    unordered_refused(gates, "gates", "'metric:op:value' strings or {gate, severity} mappings")
    # Taken once: a generator (`(f"{m}:lt:{v}" for …)`, `map(…)`) was read by the check
    # and was empty when the list was made, so every gate was dropped and each run
    # passed it, silently (a hunt, issue 18 thirty-ninth pass).
    given = list(gates)
    for gate in given:
        if not isinstance(gate, (str, Mapping)):
            raise ValueError(
                f"gate {gate!r} is malformed: expected a 'metric:op:value' string "
                "or a {gate, severity} mapping"
            )
    return given


def _policy(policy: Policy | str | os.PathLike[str] | None) -> Policy:
    from expflow_git.policy.load import load_policy_bytes

    if isinstance(policy, Policy):
        return policy
    if policy is None:
        return _competition_policy()
    from expflow_git.workspace import read_policy_file

    path = Path(policy)
    # As the CLI says it (exit 2), not a FileNotFoundError; a pipe or a device is refused
    # unread, and no more than the cap is read (a path to /dev/zero ate all memory).
    data = read_policy_file(path, str(path))
    return load_policy_bytes(data, path=path.name)


@functools.lru_cache(maxsize=1)
def _competition_policy() -> Policy:
    """The registry `init --template competition` writes (docs/spec.md §3.1), parsed once."""
    from expflow_git.policy.load import load_policy_bytes
    from expflow_git.records.scaffold import COMPETITION_POLICY

    return load_policy_bytes(COMPETITION_POLICY.encode(), path="<competition registry>")
