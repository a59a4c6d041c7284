"""What a proposed policy changes against the trusted one, each change classed as
looser, stricter or (neither) changed.

Under `audit --policy-ref REF` the policy at REF judges and the audited commit's own
policy only takes effect after merge; this diff is how the reviewer sees what that
merge would do to the rules. It compares the parsed policies, not their text: a
comment or a re-spelling changes nothing, a raised threshold is one change.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from expflow_git.documents import exact
from expflow_git.policy.model import (
    Aggregate,
    Gate,
    Metric,
    Op,
    Policy,
    Rule,
    Severity,
    WalkForward,
    fmt_number,
    numeric,
    param_key,
    value_key,
)

MAX_SHOWN_CHARS = 120  # a setting is shown cut to this (a policy may hold 1 MiB strings)


class Effect(str, enum.Enum):
    """How a change moves the bar a run (or the repository) has to clear."""

    LOOSER = "looser"
    STRICTER = "stricter"
    CHANGED = "changed"  # neither: a different rule (ranking order, an eq value, a seed)


@dataclass(frozen=True)
class PolicyChange:
    """One change: where in the policy (a JSON pointer), the setting before and after
    (None: it was not there / is not there any more), and its effect."""

    effect: Effect
    where: str
    before: str | None = None
    after: str | None = None

    def describe(self) -> str:
        """`added X`, `removed X` or `X → Y`."""
        if self.before is None:
            return f"added {self.after}"
        if self.after is None:
            return f"removed {self.before}"
        return f"{self.before} → {self.after}"

    def as_json(self) -> dict[str, str]:
        """The report's form of the change (absent sides are left out)."""
        out = {"effect": self.effect.value, "where": self.where}
        if self.before is not None:
            out["before"] = self.before
        if self.after is not None:
            out["after"] = self.after
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyChange:
        """Back from `as_json` (of a report whose schema was checked)."""
        return cls(Effect(data["effect"]), data["where"], data.get("before"), data.get("after"))


@dataclass(frozen=True)
class PolicyProposal:
    """The audited commit's own policy under a trusted one: its blob (None: there is no
    policy file), whether it is a valid policy, and what it would change."""

    git_blob: str | None
    valid: bool
    changes: tuple[PolicyChange, ...] = ()

    def count(self, effect: Effect) -> int:
        return sum(1 for c in self.changes if c.effect is effect)

    def as_json(self) -> dict[str, Any]:
        return {
            "gitBlob": self.git_blob,
            "valid": self.valid,
            "changes": [c.as_json() for c in self.changes],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyProposal:
        return cls(
            data["gitBlob"],
            data["valid"],
            tuple(PolicyChange.from_json(c) for c in data["changes"]),
        )


def summary(proposal: PolicyProposal, judged_blob: str) -> str:
    """One line on what the proposal does: `2 looser, 1 stricter, …` or why there are none."""
    if proposal.git_blob is None:
        return "the commit has no policy file: after merge there would be none"
    if not proposal.valid:
        return "the commit's policy is invalid (see the findings)"
    if not proposal.changes:
        if proposal.git_blob == judged_blob:
            return "unchanged"
        return "reworded only (comments or spelling): no change in meaning"
    counts = [(proposal.count(e), e.value) for e in Effect]
    return ", ".join(f"{n} {name}" for n, name in counts if n)


# --------------------------------------------------------------------------- the diff


def diff_policies(old: Policy, new: Policy) -> tuple[PolicyChange, ...]:
    """Every change `new` makes to `old`, in the policy file's section order."""
    changes: list[PolicyChange] = []
    add = changes.append
    for kind, old_globs, new_globs in (
        ("experiments", old.experiment_globs, new.experiment_globs),
        ("results", old.result_globs, new.result_globs),
        ("corrections", old.correction_globs, new.correction_globs),
    ):
        # The globs are a union: one fewer can only leave files unchecked (a correction
        # out of them deletes or corrects nothing any more: a run deleted on record is
        # back). One more checks more files, but is a new place for a document too (a
        # second record of a run, a correction no policy read before): not stricter.
        _set_diff(add, f"/paths/{kind}", old_globs, new_globs, Effect.LOOSER, Effect.CHANGED)
    _metrics(add, old.metrics, new.metrics, _bars(old, new))
    _set_diff(
        add,
        "/required_metrics",
        old.required_metrics,
        new.required_metrics,
        removed=Effect.LOOSER,
        added=Effect.STRICTER,
    )
    _ranking(add, old, new)
    _gates(add, old.gates, new.gates)
    _rules(add, old.rules, new.rules)
    _bound(
        add,
        "/budget/max_runs_per_study",
        old.max_runs_per_study,
        new.max_runs_per_study,
        upper=True,
    )
    _bound(add, "/budget/max_runs", old.max_runs, new.max_runs, upper=True)
    _walk_forward(add, old, new)
    _walk_sample(add, old, new)
    _changed(add, "/seed_policy/base_seed", old.base_seed, new.base_seed)
    if old.results_immutable != new.results_immutable:
        add(
            PolicyChange(
                Effect.LOOSER if old.results_immutable else Effect.STRICTER,
                "/protect/results_immutable",
                _show(old.results_immutable),
                _show(new.results_immutable),
            )
        )
    if old.corrections_allowed != new.corrections_allowed:
        # Allowed, a declared correction (PIN-approved) may rewrite a committed result.
        add(
            PolicyChange(
                Effect.LOOSER if new.corrections_allowed else Effect.STRICTER,
                "/protect/corrections",
                _show(_CORRECTIONS[old.corrections_allowed]),
                _show(_CORRECTIONS[new.corrections_allowed]),
            )
        )
    # More trusted keys, more hands that can sign; fewer files scanned, fewer secrets found.
    _set_diff(
        add,
        "/signing/public_keys",
        old.public_keys,
        new.public_keys,
        removed=Effect.STRICTER,
        added=Effect.LOOSER,
    )
    _set_diff(
        add,
        "/scan/allow",
        old.scan_allow,
        new.scan_allow,
        removed=Effect.STRICTER,
        added=Effect.LOOSER,
    )
    _unmodelled(add, old.raw, new.raw)
    return tuple(changes)


Add = Callable[[PolicyChange], None]
T = TypeVar("T")
_CORRECTIONS = {True: "allow", False: "deny"}


def _show(value: Any) -> str:
    """A setting as the policy writes it, cut to a readable length."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = fmt_number(value)
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def _set_diff(
    add: Add,
    where: str,
    old: Iterable[T],
    new: Iterable[T],
    removed: Effect,
    added: Effect,
    show: Callable[[T], str] = _show,
) -> None:
    old_items, new_items = dict.fromkeys(old), dict.fromkeys(new)
    for item in old_items:
        if item not in new_items:
            add(PolicyChange(removed, where, show(item), None))
    for item in new_items:
        if item not in old_items:
            add(PolicyChange(added, where, None, show(item)))


def _bound(add: Add, where: str, old: float | None, new: float | None, *, upper: bool) -> None:
    """A limit that holds where it is set: a lower bound (a minimum) or an upper one."""
    if old == new:
        return
    if old is None or new is None:
        effect = Effect.STRICTER if old is None else Effect.LOOSER
    else:
        effect = Effect.STRICTER if (new < old if upper else new > old) else Effect.LOOSER
    add(PolicyChange(effect, where, _opt(old), _opt(new)))


def _opt(value: Any) -> str | None:
    return None if value is None else _show(value)


def _opt_show(value: Any) -> str:
    return "none" if value is None else _show(value)


def _bars(*policies: Policy) -> dict[str, frozenset[Op]]:
    """Per metric, the operators of the bars a run's value of it must clear (the error
    gates and thresholds of either policy). The walk-forward gate correlates its metric's
    value with the split's: another point of the series is another bar, as another metric
    is (`_walk_forward`), eased either way as an `eq` bar is (`max` → `last` was
    `stricter`, and the same runs' last epochs passed the gate their best failed: an
    attacker's hunt, issue 18 thirty-ninth pass)."""
    ops: dict[str, set[Op]] = {}
    for policy in policies:
        for gate in policy.all_gates():
            if gate.severity is Severity.ERROR:
                ops.setdefault(gate.metric, set()).add(gate.op)
        if policy.walk_forward is not None:
            ops.setdefault(policy.walk_forward.metric, set()).add(Op.EQ)
    return {name: frozenset(found) for name, found in ops.items()}


def _metrics(
    add: Add,
    old: Mapping[str, Metric],
    new: Mapping[str, Metric],
    bars: Mapping[str, frozenset[Op]],
) -> None:
    # A metric out of the registry fails every result that reports it.
    _set_diff(add, "/metrics", old, new, removed=Effect.STRICTER, added=Effect.LOOSER)
    for name in [*old, *(n for n in new if n not in old)]:
        before, after = old.get(name), new.get(name)
        where = f"/metrics/{_token(name)}"
        if before is not None and after is not None:
            if before.higher_is_better != after.higher_is_better:
                add(
                    PolicyChange(
                        Effect.CHANGED,
                        f"{where}/higher_is_better",
                        _show(before.higher_is_better),
                        _show(after.higher_is_better),
                    )
                )
            for attr in ("group", "description", "unit"):
                if getattr(before, attr) != getattr(after, attr):
                    add(
                        PolicyChange(
                            Effect.CHANGED,
                            f"{where}/{attr}",
                            _show(getattr(before, attr)),
                            _show(getattr(after, attr)),
                        )
                    )
            _aggregate(
                add,
                f"{where}/aggregate",
                before.aggregate,
                after.aggregate,
                higher=after.higher_is_better,
                bars=bars.get(name, frozenset()),
            )
            _bound(add, f"{where}/min", before.min, after.min, upper=False)
            _bound(add, f"{where}/max", before.max, after.max, upper=True)
        # A threshold is a gate every run must pass (a run without the metric fails it),
        # so it counts even where the metric itself is added or removed.
        old_t = before.threshold if before is not None else None
        new_t = after.threshold if after is not None else None
        flipped = (
            before is not None
            and after is not None
            and before.higher_is_better != after.higher_is_better
        )
        if old_t == new_t and not flipped:
            continue
        if flipped and old_t is not None:
            # The threshold's bar turns the other way, its number kept or not: the bar a
            # run had to clear is gone (`pde_mean` under 18.09 became over it, or over
            # -1e9: every run). Looser, whatever the new bar (it was "changed", or not
            # shown when the number stayed; an attacker's hunt, issue 18 twenty-seventh
            # pass).
            was = _bar(old_t, before)
            add(PolicyChange(Effect.LOOSER, f"{where}/threshold", was, _bar(new_t, after)))
            continue
        if old_t is not None and new_t is not None and before is not None and after is not None:
            upper = not after.higher_is_better  # lower is better: the threshold is a ceiling
            _bound(add, f"{where}/threshold", old_t, new_t, upper=upper)
        else:
            _bound(add, f"{where}/threshold", old_t, new_t, upper=True)


def _bar(threshold: float | None, metric: Metric | None) -> str:
    """A threshold as the bar it is: a floor (higher is better) or a ceiling."""
    if threshold is None or metric is None:
        return "(none)"
    return f"{_show(threshold)} ({'floor' if metric.higher_is_better else 'ceiling'})"


def _token(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _ranking(add: Add, old: Policy, new: Policy) -> None:
    # Which run is best is not a bar a run clears: a different ranking is a change.
    a, b = old.ranking, new.ranking
    _changed(add, "/ranking/sort_by", a.sort_by, b.sort_by, show=str)
    _changed(add, "/ranking/order", a.descending, b.descending, show=_order)
    _changed(add, "/ranking/tie_break", a.tie_break, b.tie_break, show=lambda t: _show(list(t)))
    # The Ladder only says which run is best, never whether one passes: a change.
    _changed(add, "/ranking/ladder_step", a.ladder_step, b.ladder_step, show=_opt_show)


def _changed(add: Add, where: str, old: T, new: T, *, show: Callable[[T], str] = _show) -> None:
    """A setting that is neither looser nor stricter when it moves: only `changed`."""
    if old != new:
        add(PolicyChange(Effect.CHANGED, where, show(old), show(new)))


def _order(descending: bool) -> str:
    return "desc" if descending else "asc"


# A comparison that bounds a value from below or above; eq / ne stand alone.
_LOWER = {Op.GT: True, Op.GE: False}  # op → whether the bound is strict
_UPPER = {Op.LT: True, Op.LE: False}


def _family(op: Op) -> str:
    return "lower" if op in _LOWER else "upper" if op in _UPPER else op.value


def _tighter(old_op: Op, old_value: Any, new_op: Op, new_value: Any) -> Effect:
    """Whether `value new_op new_value` holds for fewer values than the old condition;
    both ops bound from the same side. A bound spelled as a number in a string is that
    number, as the rule compares with it: `gt "-5"` for `gt 0` was only "changed" (an
    attacker's hunt). Two text bounds (or two booleans) are ordered as the rule compares
    a parameter of their kind with them (`Op.holds`: by code point; a number fails
    either): `lt "2026-01-01"` raised to `lt "2099-12-31"` lets more runs in, and was
    only "changed" (an attacker's hunt, thirty-seventh pass). Values of two kinds:
    CHANGED."""
    old_value, new_value = numeric(old_value), numeric(new_value)
    numbers = all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in (old_value, new_value)
    )
    alike = type(old_value) is type(new_value) and type(old_value) in (str, bool)
    family = _family(old_op)
    if not (numbers or alike) or family not in ("lower", "upper"):
        return Effect.CHANGED
    if numbers:
        # As the rules compare them (documents.as_written): 1e23 and 10**23 are one bound.
        old_value, new_value = exact(old_value), exact(new_value)
    strict = _LOWER if family == "lower" else _UPPER
    if old_value == new_value:
        if strict[old_op] == strict[new_op]:  # one bound spelled two ways (0 and "0")
            return Effect.CHANGED
        return Effect.STRICTER if strict[new_op] else Effect.LOOSER
    # A floor raised, or a ceiling lowered, lets fewer values through.
    return Effect.STRICTER if (new_value > old_value) == (family == "lower") else Effect.LOOSER


def _paired(
    add: Add,
    where: str,
    old: Sequence[T],
    new: Sequence[T],
    *,
    key: Callable[[T], Hashable],
    group: Callable[[T], Hashable],
    effect: Callable[[T, T], Effect],
    show: Callable[[T], str],
    said: frozenset[Hashable] = frozenset(),
) -> None:
    """Items of a list that all must hold: the same item on both sides is no change;
    one left on each side of a group (same metric or parameter, same side of the
    bound) is that item changed; any other one removed is looser, added stricter,
    unless its key is in `said` (its change was told already)."""
    new_keys, old_keys = {key(i) for i in new}, {key(i) for i in old}
    # Grouped in one pass: a hostile policy may list tens of thousands of items.
    groups: dict[Hashable, tuple[list[T], list[T]]] = {}
    for side, items, other in ((0, old, new_keys), (1, new, old_keys)):
        seen: set[Hashable] = set()
        for item in items:
            k = key(item)
            if k not in other and k not in seen:
                seen.add(k)
                groups.setdefault(group(item), ([], []))[side].append(item)
    for a, b in groups.values():
        if len(a) == 1 and len(b) == 1:
            add(PolicyChange(effect(a[0], b[0]), where, show(a[0]), show(b[0])))
            continue
        for item in a:
            if key(item) not in said:
                add(PolicyChange(Effect.LOOSER, where, show(item), None))
        for item in b:
            if key(item) not in said:
                add(PolicyChange(Effect.STRICTER, where, None, show(item)))


S = TypeVar("S", Gate, Rule)


def _by_severity(
    add: Add,
    where: str,
    old: Sequence[S],
    new: Sequence[S],
    *,
    key: Callable[[S], Hashable],
    show: Callable[[S], str],
) -> tuple[list[S], list[S], frozenset[Hashable]]:
    """Severity first: the same check turned from error to warning is looser (it no longer
    blocks a run), the other way stricter. A warning added, removed or changed blocks no
    run: only `changed`. Returns the error checks of each side, the flipped ones included
    (an error turned warning beside a new error is that bar moved: error gt 50 → warning
    gt 50 plus error gt 49 is looser, not a stricter addition), and the flipped keys."""

    def severities(items: Sequence[S]) -> dict[Hashable, Severity]:
        out: dict[Hashable, Severity] = {}
        for item in items:  # an error among repeats of one check makes it an error
            if out.get(key(item)) is not Severity.ERROR:
                out[key(item)] = item.severity
        return out

    def marked(item: S, severity: Severity) -> str:
        return _show(f"{show(item)} ({severity.value})")

    before, after = severities(old), severities(new)
    flipped = {k for k in before.keys() & after.keys() if before[k] is not after[k]}
    shown: set[Hashable] = set()
    for item in new:
        k = key(item)
        if k in flipped and k not in shown:
            shown.add(k)
            loosened = after[k] is Severity.WARNING
            add(
                PolicyChange(
                    Effect.LOOSER if loosened else Effect.STRICTER,
                    where,
                    marked(item, before[k]),
                    marked(item, after[k]),
                )
            )
    warn_old: list[S] = [
        i for i in old if before[key(i)] is Severity.WARNING and key(i) not in flipped
    ]
    warn_new: list[S] = [
        i for i in new if after[key(i)] is Severity.WARNING and key(i) not in flipped
    ]
    names: dict[Hashable, str] = {}
    for warning in warn_old + warn_new:
        names.setdefault(key(warning), marked(warning, Severity.WARNING))
    _set_diff(
        add,
        where,
        [key(i) for i in warn_old],
        [key(i) for i in warn_new],
        removed=Effect.CHANGED,
        added=Effect.CHANGED,
        show=names.__getitem__,
    )
    errors_old = [i for i in old if before[key(i)] is Severity.ERROR]
    errors_new = [i for i in new if after[key(i)] is Severity.ERROR]
    return errors_old, errors_new, frozenset(flipped)


def _gate_key(g: Gate) -> Hashable:
    return (g.metric, g.op, float(g.value))


def _gates(add: Add, old: Sequence[Gate], new: Sequence[Gate]) -> None:
    old, new, said = _by_severity(add, "/gates", old, new, key=_gate_key, show=lambda g: g.name)
    _paired(
        add,
        "/gates",
        old,
        new,
        key=_gate_key,
        group=lambda g: (g.metric, _family(g.op)),
        effect=lambda a, b: _tighter(a.op, a.value, b.op, b.value),
        show=lambda g: _show(g.name),
        said=said,
    )


def _rule_effect(a: Rule, b: Rule) -> Effect:
    effects = set()
    if (a.op, value_key(a.value)) != (b.op, value_key(b.value)):
        effects.add(_tighter(a.op, a.value, b.op, b.value))
    if a.required != b.required:
        # A required parameter fails a run that lacks it; otherwise such a run passes.
        effects.add(Effect.STRICTER if b.required else Effect.LOOSER)
    if Effect.LOOSER in effects:
        # A bound loosened beside `required` added is looser: every real run reports the
        # parameter, so the flag costs nothing (it showed as "changed"; a hunt).
        return Effect.LOOSER
    return effects.pop() if len(effects) == 1 else Effect.CHANGED


def _show_rule(rule: Rule) -> str:
    value = json.dumps(rule.value) if isinstance(rule.value, str) else _show(rule.value)
    return _show(f"{rule.param} {rule.op.value} {value}" + (" (required)" if rule.required else ""))


def _rule_key(r: Rule) -> Hashable:
    """A rule as written: one bound spelled two ways (`0`, `"0"`) stays "changed"."""
    return (param_key(r.param), r.op, value_key(r.value), r.required)


def _rules(add: Add, old: Sequence[Rule], new: Sequence[Rule]) -> None:
    old, new, said = _by_severity(add, "/rules", old, new, key=_rule_key, show=_show_rule)
    _paired(
        add,
        "/rules",
        old,
        new,
        key=_rule_key,
        group=lambda r: (param_key(r.param), _family(r.op)),
        effect=_rule_effect,
        show=_show_rule,
        said=said,
    )


def _walk_forward(add: Add, old: Policy, new: Policy) -> None:
    a, b = old.walk_forward, new.walk_forward
    if a == b:
        return
    # The walk-forward gate can fail an audit whose runs all pass.
    if a is None and b is not None:
        add(PolicyChange(Effect.STRICTER, "/walk_forward", None, _shown_walk(b)))
        return
    if b is None and a is not None:
        add(PolicyChange(Effect.LOOSER, "/walk_forward", _shown_walk(a), None))
        return
    assert a is not None and b is not None
    for attr in ("metric", "split", "top_n"):
        if getattr(a, attr) != getattr(b, attr):
            # Another metric or split is another bar: the correlation the runs had to
            # reach is gone, and the new one may be any the author likes (a split holding
            # copies of the metric: r = 1). Looser, as a threshold whose direction flips
            # is (it was "changed", and a failing walk-forward passed once merged: an
            # attacker's hunt, thirty-eighth pass). The holdout budget counts looks at
            # `split` too: renaming it drops every earlier look from the count.
            replaced = attr in ("metric", "split")
            add(
                PolicyChange(
                    Effect.LOOSER if replaced else Effect.CHANGED,
                    f"/walk_forward/{attr}",
                    _show(getattr(a, attr)),
                    _show(getattr(b, attr)),
                )
            )
    _bound(add, "/walk_forward/min_pearson", a.min_pearson, b.min_pearson, upper=False)
    _bound(
        add,
        "/walk_forward/max_evaluations_per_study",
        a.max_evaluations_per_study,
        b.max_evaluations_per_study,
        upper=True,
    )
    _bound(add, "/walk_forward/max_evaluations", a.max_evaluations, b.max_evaluations, upper=True)


def _feasibility(policy: Policy) -> tuple[frozenset[Hashable], ...]:
    """What decides which valid runs are feasible: the error gates (thresholds too), the
    error rules, each as the one condition it checks, and the required metrics."""
    return (
        frozenset(_gate_key(g) for g in policy.all_gates() if g.severity is Severity.ERROR),
        frozenset(r.key for r in policy.rules if r.severity is Severity.ERROR),
        frozenset(policy.required_metrics),
    )


def _walk_sample(add: Add, old: Policy, new: Policy) -> None:
    """The walk-forward gate correlates the top `top_n` feasible runs: a change to which
    runs are feasible, stricter as it is for each run, picks the runs the gate sees. A
    gate that makes the anti-correlated runs infeasible turned a failing walk-forward
    into a pass once merged, and the diff said only "stricter" (an attacker's hunt,
    thirty-ninth pass). The bar the runs had to clear together is gone: looser, as a
    renamed split is."""
    a, b = old.walk_forward, new.walk_forward
    if a is None or b is None or _feasibility(old) == _feasibility(new):
        return
    add(
        PolicyChange(
            Effect.LOOSER,
            "/walk_forward",
            f"over the top {a.top_n} runs feasible by the old checks",
            f"over the top {b.top_n} runs feasible by the new checks",
        )
    )


def _shown_walk(walk: WalkForward) -> str:
    """The section as written: an unset budget is left out."""
    return _show({k: v for k, v in asdict(walk).items() if v is not None})


# The points of a series an aggregate takes, from the lowest value up: min ≤ last ≤ max.
_HEIGHT = {Aggregate.MIN: 0, Aggregate.LAST: 1, Aggregate.MAX: 2}
# The bars a higher headline lets more runs through (a floor; an `eq` or `ne` bar either
# way), and those a lower one does (a ceiling).
_EASED_UP = frozenset({Op.GT, Op.GE, Op.EQ, Op.NE})
_EASED_DOWN = frozenset({Op.LT, Op.LE, Op.EQ, Op.NE})


def _aggregate(
    add: Add,
    where: str,
    old: Aggregate | None,
    new: Aggregate | None,
    *,
    higher: bool,
    bars: frozenset[Op] = frozenset(),
) -> None:
    """An aggregate is a check on every result with a series: dropping one loosens, and
    so does one whose headline is a better point of the series (lower is better: `max`,
    then `last`, then `min`, the best epoch, which gates and thresholds then judge: it
    was "changed"; a review, issue 18 twenty-seventh pass), or a point past a bar the
    metric's `bars` (the operators of its error gates and thresholds) set on the other
    side: a floor `ge 1` on a lower-is-better loss, `min` → `last`, lets in a run whose
    best epoch was under it (it was "stricter"; an attacker's hunt, thirty-eighth pass)."""
    if old == new:
        return
    effect = Effect.CHANGED
    if old is None or new is None:
        effect = Effect.STRICTER if old is None else Effect.LOOSER
    else:
        best = Aggregate.MAX if higher else Aggregate.MIN
        lenient = {best: 2, Aggregate.LAST: 1}  # (the worst point: 0)
        step = lenient.get(new, 0) - lenient.get(old, 0)
        eased = _EASED_UP if _HEIGHT[new] > _HEIGHT[old] else _EASED_DOWN
        effect = Effect.LOOSER if step > 0 or bars & eased else Effect.STRICTER
    add(PolicyChange(effect, where, _opt(old and old.value), _opt(new and new.value)))


# Every key the diff above reads; anything else in the policy is compared as written.
_MODELLED: Mapping[str, frozenset[str] | None] = {
    "version": None,
    "paths": None,
    "metrics": None,
    "required_metrics": None,
    "ranking": None,
    "gates": None,
    "rules": None,
    "budget": None,
    "walk_forward": None,
    "seed_policy": None,
    "protect": frozenset({"results_immutable", "corrections"}),
    "signing": None,
    "scan": None,
}


def _unmodelled(add: Add, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A setting this diff has no rule for is still reported (as changed), never dropped."""
    for key in dict.fromkeys([*old, *new]):
        known = _MODELLED.get(key, frozenset())
        if key in _MODELLED and known is None:
            continue
        a, b = old.get(key), new.get(key)
        if (
            key in _MODELLED
            and isinstance(a, (dict, type(None)))
            and isinstance(b, (dict, type(None)))
        ):
            assert known is not None
            a_rest = {k: v for k, v in (a or {}).items() if k not in known}
            b_rest = {k: v for k, v in (b or {}).items() if k not in known}
            for sub in dict.fromkeys([*a_rest, *b_rest]):
                if a_rest.get(sub) != b_rest.get(sub):
                    add(
                        PolicyChange(
                            Effect.CHANGED,
                            f"/{_token(key)}/{_token(sub)}",
                            _opt(a_rest.get(sub)),
                            _opt(b_rest.get(sub)),
                        )
                    )
        elif a != b:
            add(PolicyChange(Effect.CHANGED, f"/{_token(key)}", _opt(a), _opt(b)))
