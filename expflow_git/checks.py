"""Checks: per document (strict JSON, schema, registry), across documents
(ids, references, budget) and per run (thresholds, gates, required metrics, rules)."""

from __future__ import annotations

import enum
import functools
import itertools
import operator
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import field, replace
from typing import Any, Protocol

from expflow_git.documents import Experiment, Result, Status, run_value, stem
from expflow_git.errors import Finding, mask_flagged
from expflow_git.jsonstrict import JsonProblem, parse_json, pointer_token
from expflow_git.policy.model import (
    NUMBER_TYPES,
    Gate,
    Policy,
    Rule,
    Severity,
    fmt_number,
    numeric,
    param_key,
)
from expflow_git.schemas import Kind, is_valid, listed_schema_errors


class Problem(str, enum.Enum):
    """Stable names of document and integrity findings (used by reports and SARIF)."""

    JSON = "invalid-json"
    SCHEMA = "schema"
    STEM = "id-mismatch"
    UNKNOWN_METRIC = "unknown-metric"
    METRIC_RANGE = "metric-out-of-range"
    REQUIRED_METRIC = "required-metric"
    DUPLICATE_ID = "duplicate-id"
    DANGLING_RESULT = "result-without-record"
    NOT_SUCCESS = "result-for-unsuccessful-run"
    BUDGET = "budget-exceeded"
    NOT_A_FILE = "not-a-regular-file"
    POLICY_INVALID = "policy-invalid"  # the audited commit's own policy, under --policy-ref
    DUPLICATE_RESULT = "duplicate-result"
    RESULT_REWRITTEN = "result-rewritten"
    RECORD_REWRITTEN = "record-rewritten"
    # Declared corrections (corrections.py, issue 13)
    CORRECTION_REWRITTEN = "correction-rewritten"  # a committed correction changed or deleted
    CORRECTION_UNMATCHED = "correction-unmatched"  # added, names no change of its own commit
    CORRECTION_UNKNOWN_EXPERIMENT = "correction-unknown-experiment"
    HOLDOUT_BUDGET = "holdout-budget-exceeded"  # audit/budget.py (issue 19)


Document = Experiment | Result


def check_document(
    kind: Kind, path: str, data: bytes, policy: Policy, *, explain: bool = True
) -> tuple[Document | None, list[Finding]]:
    """Strict JSON → schema → file name → (results) registry. The value only if all pass.

    `explain=False` spares the work of saying how a document breaks its schema
    (one finding says only that it does): for a document read as another's reference.
    """
    content = check_content(kind, data, explain=explain)
    if isinstance(content, list):
        return None, [replace(f, path=path) for f in content]
    return finish_document(kind, path, content, policy, data)


def check_content(
    kind: Kind, data: bytes, *, explain: bool = True
) -> dict[str, Any] | list[Finding]:
    """The path-independent half: strict JSON and the schema (what the cache may keep).

    Returns the parsed document, or its findings with an empty path.
    """
    try:
        raw = parse_json(data)
    except JsonProblem as exc:
        return [Finding("", Problem.JSON.value, exc.message, exc.pointer, exc.line, exc.col)]
    if is_valid(kind, raw):
        return raw
    if not explain:
        return [Finding("", Problem.SCHEMA.value, f"does not match the {kind.value} schema")]
    # The first 100 named, the rest counted (schemas.MAX_SCHEMA_FINDINGS)
    listed = listed_schema_errors(kind, raw)
    return [Finding("", Problem.SCHEMA.value, msg, ptr) for ptr, msg in listed]


def finish_document(
    kind: Kind, path: str, raw: Mapping[str, Any], policy: Policy, source: bytes | None = None
) -> tuple[Document | None, list[Finding]]:
    """The path- and policy-dependent half: the value, file name = id, the registry
    (`source`, the document's bytes, spells what a finding quotes as written)."""
    findings: list[Finding] = []
    doc: Document
    if kind is Kind.EXPERIMENT:
        doc = Experiment.from_json(path, raw)
    else:
        doc = Result.from_json(path, raw)
        findings.extend(registry_findings(doc, policy, source))
    findings.extend(stem_findings(doc))
    return (None if findings else doc), findings


def stem_findings(doc: Document) -> list[Finding]:
    """A record's id (a result's experiment) must be its file name."""
    if isinstance(doc, Experiment):
        field, value = "id", doc.id
    else:
        field, value = "experiment", doc.experiment
    name = stem(doc.path)
    if value == name:
        return []
    return [
        Finding(
            doc.path,
            Problem.STEM.value,
            f"{field} {value!r} differs from the file name {name!r}",
            f"/{field}",
        )
    ]


def registry_findings(result: Result, policy: Policy, source: bytes | None = None) -> list[Finding]:
    """Every metric (also under splits and series) is registered and within its declared
    min/max; series also by series.py's rules (steps, caps, aggregates). `source`, the
    result's bytes where there are any, spells a refused series step as written."""
    findings = []
    groups = [("/metrics", result.metrics)]
    groups += [(f"/splits/{pointer_token(s)}", m) for s, m in sorted(result.splits.items())]
    for base, metrics in groups:
        for name, value in metrics.items():
            spec = policy.metrics.get(name)
            if spec is None:
                problem = (
                    Problem.UNKNOWN_METRIC,
                    f"metric {name!r} is not in the registry of "
                    f"{policy.path}{policy.metric_hint(name)}",
                )
            elif abs(value) >= 2**53:  # beyond exact integers: JCS (the report) cannot hold it
                problem = (Problem.METRIC_RANGE, f"{name} is a number too large to compare exactly")
            elif spec.min is not None and value < spec.min:
                problem = (Problem.METRIC_RANGE, f"{name} = {value} is below its min {spec.min}")
            elif spec.max is not None and value > spec.max:
                problem = (Problem.METRIC_RANGE, f"{name} = {value} is above its max {spec.max}")
            else:
                continue
            rule, message = problem
            findings.append(
                Finding(result.path, rule.value, message, f"{base}/{pointer_token(name)}")
            )
    if result.series:  # a result without series pays nothing for them, not even the import
        from expflow_git.series import series_findings

        findings += series_findings(result.path, result.series, result.metrics, policy, source)
    return findings


def required_metric_findings(result: Result, policy: Policy) -> list[Finding]:
    """The validate hook refuses a result that lacks a required metric."""
    return [
        Finding(
            result.path,
            Problem.REQUIRED_METRIC.value,
            f"required metric {name!r} is missing",
            "/metrics",
        )
        for name in policy.required_metrics
        if name not in result.metrics
    ]


def integrity_findings(
    experiments: Sequence[Experiment], results: Sequence[Result], policy: Policy
) -> list[Finding]:
    """Unique ids, results backed by a successful record, the runs budgets (per study and
    in all studies)."""
    findings = []
    by_id: dict[str, Experiment] = {}
    setdefault = by_id.setdefault
    # (The audit gives both in path order: a sort of a sorted list is one pass.)
    for exp in sorted(experiments, key=_BY_PATH):
        first = setdefault(exp.id, exp)
        if first is not exp:
            findings.append(
                Finding(
                    exp.path,
                    Problem.DUPLICATE_ID.value,
                    f"id {exp.id!r} is already used by {first.path}",
                    "/id",
                )
            )
    get, success = by_id.get, Status.SUCCESS
    for res in sorted(results, key=_BY_PATH):
        record = get(res.experiment)
        if record is None or record.status is not success:  # (nearly never: no call a run)
            findings.extend(reference_findings(res, record))
    findings.extend(duplicate_result_findings(results))
    if policy.max_runs_per_study is not None:
        findings.extend(run_budget_findings(experiments, policy.max_runs_per_study))
    if policy.max_runs is not None:
        findings.extend(run_total_findings(policy.path, len(experiments), policy.max_runs))
    return findings


_BY_PATH = operator.attrgetter("path")


class Studied(Protocol):
    """A valid record as the budgets count it: an Experiment, or what `validate` keeps
    of one."""

    @property
    def path(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def study(self) -> str: ...


def run_budget_findings(
    records: Sequence[Studied], limit: int, studies: Container[str] | None = None
) -> list[Finding]:
    """`budget.max_runs_per_study` over a tree's valid records: a study with more than
    `limit` of them is a finding at its first record by path; only those of `studies`
    unless None (`validate` reports the studies its documents touch). The audit's and
    the validate hook's one rule (docs/spec.md §6.2 item 2, §7)."""
    per_study = Counter(e.study for e in records)
    first_path: dict[str, str] = {}  # each study's first record, in one pass (not one a study)
    for e in records:
        if e.study not in first_path or e.path < first_path[e.study]:
            first_path[e.study] = e.path
    return [
        Finding(
            first_path[study],
            Problem.BUDGET.value,
            f"study {study!r} has {count} runs, over the budget of {limit}",
        )
        for study, count in sorted(per_study.items())
        if count > limit and (studies is None or study in studies)
    ]


RUNS_TOTAL_POINTER = "/budget/max_runs"


def run_total_findings(policy_path: str, count: int, limit: int, erased: int = 0) -> list[Finding]:
    """`budget.max_runs` over a tree's valid records (`count`, every study's: the sum of
    what `run_budget_findings` counts per study), or with `--since` also the `erased`
    attempts the tree no longer shows (audit/budget.py): a finding at the policy when
    over. A study is each record's own word: only this budget binds an author who
    gives every run a study of its own (an attacker's hunt, issue 18)."""
    if count + erased <= limit:
        return []
    said = (
        f"all studies have {count} runs in the tree"
        if not erased
        else f"all studies have had {count + erased} runs in their history ({erased} of "
        "them no longer in the tree as they ran: deleted or rewritten)"
    )
    return [
        Finding(
            policy_path,
            Problem.BUDGET.value,
            f"{said}, over the budget of {limit} in all studies",
            RUNS_TOTAL_POINTER,
        )
    ]


Study = str | None  # a run's study for the holdout budget; None: no record of the run
HOLDOUT_POINTER = "/walk_forward/max_evaluations_per_study"
HOLDOUT_TOTAL_POINTER = "/walk_forward/max_evaluations"


def holdout_counts(records: Iterable[Studied], looks: Iterable[str]) -> dict[Study, int]:
    """The holdout budget over a tree (docs/spec.md §6.2 item 6): per study, the valid
    results carrying the split, `looks` being their experiment ids; a run's study is its
    id's record's (`records` in path order: of two, the last), None without one."""
    studies = {e.id: e.study for e in records}
    return Counter(studies.get(exp_id) for exp_id in looks)


def by_study(counts: Mapping[Study, int]) -> tuple[tuple[Study, int], ...]:
    """Counts per study sorted by study, the runs without a record first."""
    return tuple(sorted(counts.items(), key=lambda kv: (kv[0] is not None, kv[0] or "")))


def holdout_budget_findings(
    policy_path: str,
    split: str,
    limit: int,
    counts: Iterable[tuple[Study, int]],
    *,
    history: bool,
    studies: Container[Study] | None = None,
) -> list[Finding]:
    """One `holdout-budget-exceeded` finding, at the policy, per study over the budget
    (`counts` counted over the history, or in the tree); only those of `studies`
    unless None. The audit's and the validate hook's one rule."""
    return [
        Finding(
            policy_path,
            Problem.HOLDOUT_BUDGET.value,
            f"{study_has(study)} {n} result(s) carrying the holdout split {split!r} "
            f"{_where(study, history)}, over the budget of {limit} per study",
            HOLDOUT_POINTER,
        )
        for study, n in counts
        if n > limit and (studies is None or study in studies)
    ]


def holdout_total_findings(
    policy_path: str,
    split: str,
    limit: int,
    counts: Iterable[tuple[Study, int]],
    *,
    history: bool,
) -> list[Finding]:
    """`walk_forward.max_evaluations`: the results carrying the split in all studies
    (the per-study `counts` summed: each look is counted in one study, its run's), one
    `holdout-budget-exceeded` finding at the policy when over. The audit's and the
    validate hook's one rule."""
    total = sum(n for _, n in counts)
    if total <= limit:
        return []
    where = "in their history" if history else "in the tree"
    return [
        Finding(
            policy_path,
            Problem.HOLDOUT_BUDGET.value,
            f"all studies have {total} result(s) carrying the holdout split {split!r} "
            f"{where}, over the budget of {limit} in all studies",
            HOLDOUT_TOTAL_POINTER,
        )
    ]


def study_name(study: Study) -> str:
    return "runs without a record" if study is None else f"study {study!r}"


def study_has(study: Study) -> str:
    """A study's name and its verb: "study 's' has", "runs without a record have"."""
    return f"{study_name(study)} {'have' if study is None else 'has'}"


def _where(study: Study, history: bool) -> str:
    if not history:
        return "in the tree"
    return "in their history" if study is None else "in its history"


def duplicate_result_findings(results: Sequence[Result]) -> list[Finding]:
    """A result is its experiment's: two results for one id each name the other
    (and neither is ranked, see `pair_runs`). Each names the first few others and a
    count (k results of one id naming all the others made k² bytes of findings)."""
    ids = [res.experiment for res in results]
    if len(set(ids)) == len(ids):  # nearly always: one result an experiment
        return []
    by_id: dict[str, list[str]] = {}
    for res in results:
        by_id.setdefault(res.experiment, []).append(res.path)
    findings = []
    for exp_id, paths in by_id.items():
        if len(paths) < 2:
            continue
        ordered = sorted(paths, key=_path_bytes)
        for path in paths:
            others = _but_one(ordered, path)
            findings.append(duplicate_result(path, exp_id, some_of(others, len(paths) - 1)))
    return findings


def _but_one(paths: Iterable[str], path: str) -> Iterator[str]:
    """`paths` without one `path` (a tree listing one name twice holds two results at it:
    the other was named as "" when every copy of the path was left out)."""
    skipped = False
    for p in paths:
        if p == path and not skipped:
            skipped = True
            continue
        yield p


def duplicate_result(path: str, exp_id: str, others: str) -> Finding:
    """The finding on one of several results for one experiment."""
    return Finding(
        path,
        Problem.DUPLICATE_RESULT.value,
        f"experiment {exp_id!r} also has the result {others}; "
        "one result per experiment, and neither is ranked",
        "/experiment",
    )


NAMED = 3  # the other paths a finding names; past that, how many more there are


def some_of(paths: Iterable[str], count: int) -> str:
    """The first `NAMED` of `paths` (in order; `count` in all), and how many more:
    `a, b, c and 4,997 more`. A finding's message stays short however many there are."""
    named = ", ".join(itertools.islice(paths, NAMED))
    return named if count <= NAMED else f"{named} and {count - NAMED:,} more"


def _path_bytes(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def reference_findings(result: Result, experiment: Experiment | None) -> list[Finding]:
    """A result needs its experiment record, and that record must say `success`."""
    if experiment is None:
        return [
            Finding(
                result.path,
                Problem.DANGLING_RESULT.value,
                f"no experiment record with id {result.experiment!r}",
                "/experiment",
            )
        ]
    if experiment.status is not Status.SUCCESS:
        return [
            Finding(
                result.path,
                Problem.NOT_SUCCESS.value,
                f"experiment {experiment.id!r} has status {experiment.status.value!r}, "
                "not 'success'",
                "/experiment",
            )
        ]
    return []


class CheckKind(str, enum.Enum):
    THRESHOLD = "threshold"
    GATE = "gate"
    REQUIRED = "required"
    RULE = "rule"


@run_value
class Outcome:
    """One per-run check: its name, whether it passed, and why not. A failed warning
    (an advisory check) is reported but never makes the run infeasible."""

    kind: CheckKind
    name: str
    passed: bool
    detail: str = ""
    severity: Severity = Severity.ERROR

    @property
    def blocks(self) -> bool:
        """Whether this outcome makes its run infeasible: a failed error."""
        return not self.passed and self.severity is Severity.ERROR


@run_value
class RunVerdict:
    """A run's per-run checks: its record and result's numbers and every outcome."""

    id: str
    study: str
    tags: tuple[str, ...]
    path: str
    metrics: Mapping[str, float]
    splits: Mapping[str, Mapping[str, float]]
    outcomes: tuple[Outcome, ...]
    feasible: bool = field(init=False)  # every check passed: asked often, computed once

    def __post_init__(self) -> None:
        # Nearly always every check passed: one pass over them; warnings only if not.
        ok = all(map(_PASSED, self.outcomes)) or not any(o.blocks for o in self.outcomes)
        object.__setattr__(self, "feasible", ok)

    @property
    def failed(self) -> list[str]:
        """The failed checks that make the run infeasible (not the warnings)."""
        return [o.name for o in self.outcomes if o.blocks]

    @property
    def warned(self) -> list[str]:
        """The failed advisory checks (severity warning)."""
        return [o.name for o in self.outcomes if not o.passed and not o.blocks]


_PASSED = operator.attrgetter("passed")


@functools.lru_cache(maxsize=1024)
def passed(kind: CheckKind, name: str, severity: Severity = Severity.ERROR) -> Outcome:
    """A passed check is the same value for every run: share one instance of it."""
    return Outcome(kind, name, True, "", severity)


def _gate_kind(gate: Gate) -> CheckKind:
    return CheckKind.THRESHOLD if gate.source == "threshold" else CheckKind.GATE


def gate_outcome(gate: Gate, metrics: Mapping[str, float]) -> Outcome:
    kind = _gate_kind(gate)
    value = metrics.get(gate.metric)
    if value is None:
        return Outcome(kind, gate.name, False, "missing", gate.severity)
    if gate.op.holds(value, gate.value):
        return passed(kind, gate.name, gate.severity)
    return Outcome(
        kind,
        gate.name,
        False,
        f"{fmt_number(value)} not {gate.op.symbol} {fmt_number(gate.value)}",
        gate.severity,
    )


@functools.lru_cache(maxsize=1024)
def _absent(name: str, required: bool, severity: Severity) -> Outcome:
    """A rule whose parameter a record lacks: one shared value per rule."""
    detail = "required parameter absent" if required else "absent"
    return Outcome(CheckKind.RULE, name, not required, detail, severity)


def rule_outcome(rule: Rule, params: Mapping[str, object]) -> Outcome:
    """A record may give the rule's parameter under several names (`sub_step` and
    `Args/--sub_step`): each value must hold, so no decoy spelling and no key order
    decides; a failure names the value of the first such name in code-point order."""
    return _rule_outcome(rule, params_by_key(params).get(param_key(rule.param), ()))


def params_by_key(params: Mapping[str, object]) -> dict[str, list[tuple[str, object]]]:
    """A record's params by `param_key`, made once a run: each rule looks up its own
    (rules × params when every rule read every param: ~1 s a run at the caps)."""
    by_key: dict[str, list[tuple[str, object]]] = {}
    for name, value in params.items():
        by_key.setdefault(param_key(name), []).append((name, value))
    return by_key


def _rule_outcome(rule: Rule, given: Sequence[tuple[str, object]]) -> Outcome:
    """`rule_outcome` over the params the rule names (`params_by_key`)."""
    if not given:
        return _absent(rule.name, rule.required, rule.severity)
    bound = numeric(rule.value)
    failed: tuple[str, object] | None = None
    for name, value in given:
        if not rule.op.holds(numeric(value), bound) and (failed is None or name < failed[0]):
            failed = (name, value)
    if failed is None:
        return passed(CheckKind.RULE, rule.name, rule.severity)
    return Outcome(
        CheckKind.RULE,
        rule.name,
        False,
        # (a param's value `5 --pin NNNN` was quoted whole: an attacker's hunt)
        mask_flagged(
            f"{rule.param} = {quoted_value(failed[1])} not {rule.op.symbol} {rule.value!r}"
        ),
        rule.severity,
    )


QUOTED_MAX = 64  # the characters of a param's value a failed rule's detail quotes


def quoted_value(value: object) -> str:
    """A param's value as a failed rule's detail quotes it (`repr`, what the scan flags
    masked), cut after its first QUOTED_MAX characters with an ellipsis and the length:
    a record may hold a value of up to its 1 MiB, and each of up to 256 rules on it
    quoted it whole in every output (forty-second pass). Masked before it is cut, so no
    cut leaves part of a PIN or a hash unmasked. Cached: the rules on one param fail
    one after another on the same value; but not a float zero: `-0.0 == 0.0` (one type,
    one hash), so the cache quoted one as the other, `x = 0.0` for a record's `-0.0`
    after another run's `0.0` (a review, forty-second pass)."""
    if isinstance(value, float) and not value:
        return _quoted(value)
    return _cached_quote(value)


def _quoted(value: object) -> str:
    text = mask_flagged(repr(value))
    length = len(value) if isinstance(value, str) else len(text)
    if len(text) <= QUOTED_MAX + 2:  # its quotes, or a number's spelling, whole
        return text
    return f"{text[: QUOTED_MAX + 1]}… ({length} characters)"


_cached_quote = functools.lru_cache(maxsize=16, typed=True)(_quoted)


@functools.lru_cache(maxsize=64)
def _required_outcomes(names: tuple[str, ...]) -> tuple[tuple[str, Outcome, Outcome], ...]:
    """Per required metric: the outcome when a run has it, and when it does not."""
    return tuple(
        (
            name,
            passed(CheckKind.REQUIRED, f"required:{name}"),
            Outcome(CheckKind.REQUIRED, f"required:{name}", False, "missing"),
        )
        for name in names
    )


def run_verdict(
    experiment: Experiment, result: Result, policy: Policy, gates: Sequence[Gate]
) -> RunVerdict:
    """Every per-run check of docs/spec.md §6.2 item 4, in a fixed order; `gates` is
    `policy.all_gates(...)`, computed once for all runs."""
    return judge_runs([(experiment, result)], policy, gates)[0]


def judge_runs(
    pairs: Iterable[tuple[Experiment, Result]], policy: Policy, gates: Sequence[Gate]
) -> list[RunVerdict]:
    """`run_verdict` of every run (record, result), with what is the same for every run
    (each gate's comparison and passed outcome, the required metrics') looked up once."""
    # A gate that holds on a number gives its shared passed outcome; anything else (a
    # missing metric, a failed comparison, a bound that is no number) is gate_outcome's.
    checks = [
        (
            g.metric,
            g.op.compare if type(g.value) in NUMBER_TYPES else None,
            g.value,
            passed(_gate_kind(g), g.name, g.severity),
            g,
        )
        for g in gates
    ]
    required = _required_outcomes(policy.required_metrics)
    rules = [(rule, param_key(rule.param)) for rule in policy.rules]
    verdicts = []
    for experiment, result in pairs:
        metrics = result.metrics
        outcomes = []
        for metric, compare, bound, ok, gate in checks:
            value = metrics.get(metric)
            if compare is not None and type(value) in NUMBER_TYPES and compare(value, bound):
                outcomes.append(ok)
            else:
                outcomes.append(gate_outcome(gate, metrics))
        outcomes += [held if name in metrics else lacked for name, held, lacked in required]
        if rules:
            by_key = params_by_key(experiment.params)
            outcomes += [_rule_outcome(rule, by_key.get(key, ())) for rule, key in rules]
        splits = result.splits
        if splits and any(mask_flagged(name) != name for name in splits):
            splits = _unflagged(splits)
        verdicts.append(  # (by position: ~0.5 µs less a run than by keyword)
            RunVerdict(
                experiment.id,
                experiment.study,
                experiment.tags,
                result.path,
                metrics,
                splits,
                _shared(tuple(outcomes)),
            )
        )
    return verdicts


def _unflagged(splits: Mapping[str, Mapping[str, float]]) -> Mapping[str, Mapping[str, float]]:
    """A run's splits without those named by what the PIN scan flags: a split may be
    named by a PIN's SHA-256 (64 characters fit its name), and the signed report and its
    git note carried the digest the file's own finding masks (an attacker's hunt, issue
    18 twenty-third pass). Such a split is left out of the run's verdict, so the report,
    the walk-forward and a recompute all see the same run; the finding fails the audit."""
    return {name: split for name, split in splits.items() if mask_flagged(name) == name}


# The outcomes of runs that passed every check, by their identities: most runs of an
# audit pass, and the same tuple of shared values serves them all (56+ bytes a run).
# A tuple kept here keeps its outcomes alive, so their ids are never reused.
_ALL_PASSED: dict[tuple[int, ...], tuple[Outcome, ...]] = {}


def _shared(outcomes: tuple[Outcome, ...]) -> tuple[Outcome, ...]:
    if not all(map(_PASSED, outcomes)):
        return outcomes
    if len(_ALL_PASSED) > 256:  # bounded (a long-lived process audits many policies)
        _ALL_PASSED.clear()
    return _ALL_PASSED.setdefault(tuple(map(id, outcomes)), outcomes)


def pair_runs(
    experiments: Iterable[Experiment], results: Iterable[Result]
) -> list[tuple[Experiment, Result]]:
    """Runs are results backed by a successful record, in the results' order (`rank`
    orders runs by their keys and ids, whatever order they come in: here they are not
    sorted, and a pass over objects in the order they were made is the faster one: ~60
    ms of a 100k-run audit). An id with two records or two results is no run at all:
    which one counts is not for the path order to decide."""
    by_id: dict[str, Experiment] = {}
    doubled: set[str] = set()
    for exp in experiments:
        if by_id.setdefault(exp.id, exp) is not exp:
            doubled.add(exp.id)
    results = list(results)
    ids = [res.experiment for res in results]
    if len(set(ids)) != len(ids):
        doubled.update(i for i, n in Counter(ids).items() if n > 1)
    runs = []
    get, success = by_id.get, Status.SUCCESS
    for res in results:
        if res.experiment in doubled:
            continue
        record = get(res.experiment)
        if record is not None and record.status is success:
            runs.append((record, res))
    return runs
