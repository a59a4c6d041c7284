"""The policy (docs/spec.md §3): loading, gates, thresholds, rules, parameter lookup."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support import record_calls

from expflow_git.checks import gate_outcome, rule_outcome
from expflow_git.errors import ExitCode, ExpflowError
from expflow_git.policy.load import MAX_POLICY_TEXT, load_policy_bytes
from expflow_git.policy.model import Gate, Metric, Op, Rule, param_key, parse_gate
from expflow_git.records.scaffold import COMPETITION_POLICY, MINIMAL_POLICY

REGISTRY = load_policy_bytes(COMPETITION_POLICY.encode()).metrics


def policy_error(text: str) -> str:
    with pytest.raises(ExpflowError) as info:
        load_policy_bytes(text.encode(), path="conf/expflow.yaml")
    assert info.value.code == ExitCode.USAGE
    message = info.value.message
    assert message.startswith("conf/expflow.yaml")
    assert "\n" not in message
    return message


def edited(old: str, new: str) -> str:
    assert old in COMPETITION_POLICY
    return COMPETITION_POLICY.replace(old, new, 1)


# --------------------------------------------------------------------------- loading
def test_templates_load() -> None:
    p = load_policy_bytes(COMPETITION_POLICY.encode())
    assert p.required_metrics == ("seg_total", "pde_mean", "train_time_min")
    assert p.ranking.tie_break == ("pde_mean",)
    assert p.sha256 == hashlib.sha256(COMPETITION_POLICY.encode()).hexdigest()
    assert [g.name for g in p.all_gates()] == ["pde_mean:lt:18.09", "train_time_min:lt:60"]
    m = load_policy_bytes(MINIMAL_POLICY.encode())
    assert set(m.metrics) == {"accuracy", "loss"}


def test_full_spec_example_loads() -> None:
    text = """\
version: 1
paths:
  experiments: ["experiments/**/*.json"]
  results: ["results/**/*.json"]
metrics:
  seg_total: {group: Score, higher_is_better: true, description: Total segment score}
  pde_mean:  {group: PDE,   higher_is_better: false, threshold: 18.09}
  train_time_min: {group: Time, higher_is_better: false, threshold: 60, min: 0}
required_metrics: [seg_total, pde_mean, train_time_min]
ranking:
  sort_by: seg_total
  tie_break: [pde_mean]
gates: ["train_time_min:le:60"]
rules:
  - {param: sub_step, op: gt, value: 0, required: true}
budget: {max_runs_per_study: 50}
walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: 0.3}
seed_policy: {base_seed: 0}
protect: {results_immutable: true}
signing: {public_keys: [".expflow/keys/ci.pub"]}
"""
    p = load_policy_bytes(text.encode())
    assert p.gates == (Gate("train_time_min", Op.LE, 60.0),)
    assert p.max_runs_per_study == 50
    assert p.walk_forward is not None and p.walk_forward.split == "holdout"
    assert p.public_keys == (".expflow/keys/ci.pub",)


@pytest.mark.parametrize(("order", "descending"), [(None, True), ("asc", False), ("desc", True)])
def test_ranking_direction(order: str | None, descending: bool) -> None:
    text = COMPETITION_POLICY
    if order:
        text = edited("sort_by: seg_total", f"sort_by: seg_total\n  order: {order}")
    assert load_policy_bytes(text.encode()).ranking.descending is descending
    lower = edited("sort_by: seg_total", "sort_by: pde_mean")
    assert load_policy_bytes(lower.encode()).ranking.descending is False


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (edited("gates: []", "gatez: []"), ("unknown key 'gatez'", "did you mean 'gates'")),
        (
            edited("ranking:\n", "ranking:\n  sort_bye: x\n"),
            ("/ranking", "unknown key 'sort_bye'", "did you mean 'sort_by'"),
        ),
        (
            edited("{param: sub_step,", "{parm: sub_step, param: sub_step,"),
            ("/rules/0", "did you mean 'param'"),
        ),
        (
            edited("protect: {results_immutable: true}", "protect: {results_immutabel: true}"),
            ("did you mean 'results_immutable'",),
        ),
        (edited("version: 1", "version: 2"), ("/version",)),
        (edited("version: 1\n", ""), ('"version" is a required property',)),
        (edited("threshold: 60", "threshold: true"), ("/metrics/train_time_min/threshold",)),
        (edited("threshold: 60", "threshold: .inf"), ("/metrics/train_time_min/threshold",)),
        (edited("threshold: 60", "threshold: 1e999"), ("/metrics/train_time_min/threshold",)),
        (edited("min: 0, unit", "min: 5, max: 1, unit"), ("/metrics/train_time_min", "greater")),
        (
            edited("required_metrics: [seg_total,", "required_metrics: [seg_totl,"),
            ("/required_metrics/0", "did you mean 'seg_total'"),
        ),
        (edited("tie_break: [pde_mean]", "tie_break: [pde_meen]"), ("/ranking/tie_break/0",)),
        (edited("gates: []", "gates: [train_time_min:le:60, 'bad']"), ("/gates/1", "malformed")),
        (edited("gates: []", "gates: [42]"), ("/gates/0",)),
        (
            edited('results: ["results/**/*.json"]', 'results: ["results/[z-a]/*.json"]'),
            ("/paths/results/0", "bad glob"),
        ),
        (
            edited("version: 1\n", "version: 1\nscan: {allow: ['[b-a]']}\n"),
            ("/scan/allow/0", "bad glob"),
        ),
        (edited("gates: []", "gates: []\ngates: []"), ("duplicate key",)),
        (
            edited("protect:", "walk_forward: {metric: nope, split: h}\nprotect:"),
            ("/walk_forward/metric",),
        ),
        (edited("protect:", "1: one\nprotect:"), ("must be a string",)),
        ("version: 1\nmetrics: {}\n", ("/metrics",)),
        ("- version: 1\n", ("mapping",)),
        ("", ("empty",)),
        (
            "version: 1\nmetrics: {a: {group: x, higher_is_better: true}}\n\tbad: tab\n",
            ("invalid YAML",),
        ),
        (edited("protect:", '"\\ud800x": 1\nprotect:'), ("/: a lone surrogate is not text",)),
        (edited("group: Score", 'group: "S\\udc00"'), ("/group: a lone surrogate",)),
    ],
)
def test_broken_policies(text: str, needles: tuple[str, ...]) -> None:
    message = policy_error(text)
    for needle in needles:
        assert needle in message, message


def test_policy_refuses_invalid_utf8_and_oversize() -> None:
    with pytest.raises(ExpflowError, match="invalid UTF-8"):
        load_policy_bytes(COMPETITION_POLICY.encode() + b"# \xff\n")
    with pytest.raises(ExpflowError, match="cap"):
        load_policy_bytes(COMPETITION_POLICY.encode() + b"#" * (1024 * 1024))


@pytest.mark.parametrize(
    "secret",
    [
        f"# leaked {hashlib.sha256(b'0000').hexdigest()}\n",
        f"# leaked {hashlib.sha256(b'9876').hexdigest().upper()}\n",
        "pin_hash: deadbeef\n",
        "pin: 1234\n",
    ],
)
def test_policy_with_pin_material_is_refused_without_echoing_it(secret: str) -> None:
    message = policy_error(COMPETITION_POLICY + secret)
    assert "PIN" in message
    token = secret.split()[-1]
    assert token not in message and token[:8] not in message


def test_alias_bomb_is_refused_fast() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    text = COMPETITION_POLICY + "\n".join(lines) + "\n"
    assert policy_error(text) == (  # refused while counting, long before expanding
        "conf/expflow.yaml: policy expands to more than 100000 values (YAML alias bomb?)"
    )


def test_aliases_inside_a_known_key_are_bounded_too() -> None:
    text = edited("gates: []", "gates: &g [" + ", ".join(['"train_time_min:le:60"'] * 50) + "]")
    text += "x: &x [" + ", ".join(["*g"] * 50) + "]\ny: [" + ", ".join(["*x"] * 50) + "]\n"
    assert policy_error(text) == (
        "conf/expflow.yaml: policy expands to more than 100000 values (YAML alias bomb?)"
    )


@pytest.mark.parametrize("valid", [True, False, "int"])
def test_a_long_string_aliased_thousands_of_times_is_refused_fast(
    tmp_path: Path, valid: bool | str
) -> None:
    """Few nodes, but every copy of one 40,000-character string was checked (each
    encoded again: quadratic), kept, and written to the policy cache: 12,000 copies from a
    198 KB policy took 5.5 s, 979 MB and a 481 MB cache file (an attacker's hunt). The
    expanded text is now budgeted while counting, before anything is copied or cached."""
    long = "a" * 40_000
    if valid:  # a valid policy: one metric's entry aliased as many metrics
        entry = f'{{group: G, higher_is_better: true, description: "{long}"}}'
        if valid == "int":  # an int of 4,000 digits is one node too (the review's)
            entry = f"{{group: G, higher_is_better: true, threshold: {'9' * 4000}}}"
        extra = "\n".join([f"  zz0: &m {entry}"] + [f"  zz{i}: *m" for i in range(1, 12_000)])
        text = COMPETITION_POLICY.replace("metrics:\n", "metrics:\n" + extra + "\n", 1)
    else:
        text = (
            COMPETITION_POLICY + f'blob: &s "{long}"\nlist: [' + ", ".join(["*s"] * 12_000) + "]\n"
        )
    assert len(text) < 300_000
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(ExpflowError) as info:
        load_policy_bytes(text.encode(), path="conf/expflow.yaml", cache_dir=cache)
    assert str(info.value) == (
        f"conf/expflow.yaml: policy expands to more than {MAX_POLICY_TEXT} characters of text "
        "(YAML alias bomb?)"
    )
    assert list(cache.iterdir()) == []  # nothing remembered


def test_small_legitimate_aliases_are_fine() -> None:
    text = edited(
        "required_metrics: [seg_total, pde_mean, train_time_min]",
        "required_metrics: &req [seg_total, pde_mean, train_time_min]",
    )
    text = text.replace("tie_break: [pde_mean]", "tie_break: [pde_mean]")
    assert load_policy_bytes(text.encode()).required_metrics[0] == "seg_total"


# --------------------------------------------------------------------------- gates
@pytest.mark.parametrize(
    ("text", "gate"),
    [
        ("seg_total:gt:50", Gate("seg_total", Op.GT, 50.0)),
        ("seg_total:ge:50.5", Gate("seg_total", Op.GE, 50.5)),
        ("pde_mean:lt:18.09", Gate("pde_mean", Op.LT, 18.09)),
        ("pde_mean:le:-1e3", Gate("pde_mean", Op.LE, -1000.0)),
        ("epochs:eq:10", Gate("epochs", Op.EQ, 10.0)),
        ("epochs:ne:.5", Gate("epochs", Op.NE, 0.5)),
        (" epochs : LT : 3 ", Gate("epochs", Op.LT, 3.0)),
    ],
)
def test_parse_gate_valid(text: str, gate: Gate) -> None:
    assert parse_gate(text, REGISTRY) == gate


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("seg_total:gt", "malformed"),
        ("seg_total:gt:1:2", "malformed"),
        ("seg_total::1", "malformed"),
        ("", "malformed"),
        ("seg_total>50", "malformed"),
        ("seg_total:gte:50", "unknown operator 'gte'"),
        ("seg_total:>:50", "unknown operator"),
        ("seg_totl:gt:50", "did you mean 'seg_total'"),
        ("seg_total:gt:nan", "not a number"),
        ("seg_total:gt:NaN", "not a number"),
        ("seg_total:gt:inf", "not a number"),
        ("seg_total:gt:-Infinity", "not a number"),
        ("seg_total:gt:1e999", "finite"),
        ("seg_total:gt:0x10", "not a number"),
        ("seg_total:gt:1_000", "not a number"),
        ("seg_total:gt:true", "not a number"),
    ],
)
def test_parse_gate_invalid(text: str, needle: str) -> None:
    with pytest.raises(ExpflowError) as info:
        parse_gate(text, REGISTRY)
    assert info.value.code == ExitCode.USAGE
    assert needle in info.value.message


@pytest.mark.parametrize("value", ["\uff15", "\u0665\u0667", "1\u0660"])
def test_parse_gate_refuses_non_ascii_digits(value: str) -> None:
    with pytest.raises(ExpflowError, match="not a number"):
        parse_gate(f"seg_total:gt:{value}", REGISTRY)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_parse_gate_arbitrary_text(text: str) -> None:
    try:
        gate = parse_gate(text, REGISTRY)
    except ExpflowError as exc:
        assert exc.code == ExitCode.USAGE and "\n" not in exc.message
    else:
        assert isinstance(gate, Gate)
        assert gate.metric in REGISTRY and math.isfinite(gate.value)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "seg_total",
                "pde_mean",
                ":",
                "lt",
                "ge",
                "eq",
                "x",
                "1",
                "-2.5e3",
                " ",
                "nan",
                "LE",
                "::",
                "1e999",
                ".",
            ]
        ),
        max_size=8,
    ).map("".join)
)
def test_parse_gate_gate_like_text(text: str) -> None:
    try:
        gate = parse_gate(text, REGISTRY)
    except ExpflowError as exc:
        assert exc.code == ExitCode.USAGE
    else:
        assert math.isfinite(gate.value)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(REGISTRY)),
    st.sampled_from(list(Op)),
    st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**12), 10**12),
)
def test_well_formed_gate_round_trips(metric: str, op: Op, value: float) -> None:
    gate = parse_gate(f"{metric}:{op.value}:{value!r}", REGISTRY)
    assert gate == Gate(metric, op, float(value))
    assert parse_gate(gate.name, REGISTRY) == gate


# --------------------------------------------------------------------------- thresholds
@pytest.mark.parametrize(
    ("higher", "value", "passes"),
    [
        (False, 18.08, True),
        (False, 18.09, False),  # strictly better than the threshold
        (False, 18.10, False),
        (True, 18.10, True),
        (True, 18.09, False),
        (True, 18.08, False),
    ],
)
def test_threshold_direction(higher: bool, value: float, passes: bool) -> None:
    gate = Metric("m", "G", higher_is_better=higher, threshold=18.09).threshold_gate()
    assert gate is not None and gate.source == "threshold"
    outcome = gate_outcome(gate, {"m": value})
    assert outcome.passed is passes
    assert outcome.kind.value == "threshold"


@settings(deadline=None)
@given(
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_threshold_direction_property(higher: bool, value: float, threshold: float) -> None:
    gate = Metric("m", "G", higher_is_better=higher, threshold=threshold).threshold_gate()
    assert gate is not None
    expected = value > threshold if higher else value < threshold
    assert gate_outcome(gate, {"m": value}).passed is expected


def test_no_threshold_no_gate() -> None:
    assert Metric("m", "G", higher_is_better=True).threshold_gate() is None


def test_gate_on_missing_metric_fails_with_missing() -> None:
    outcome = gate_outcome(Gate("seg_total", Op.GT, 0.0), {"pde_mean": 1.0})
    assert (outcome.passed, outcome.detail) == (False, "missing")


# --------------------------------------------------------------------------- operators
@pytest.mark.parametrize(
    ("op", "results"),
    [
        # (1 OP 2, 2 OP 2, 3 OP 2)
        (Op.LT, (True, False, False)),
        (Op.LE, (True, True, False)),
        (Op.GT, (False, False, True)),
        (Op.GE, (False, True, True)),
        (Op.EQ, (False, True, False)),
        (Op.NE, (True, False, True)),
    ],
)
def test_each_op(op: Op, results: tuple[bool, bool, bool]) -> None:
    assert tuple(op.holds(x, 2) for x in (1, 2, 3)) == results
    assert tuple(op.holds(float(x), 2.0) for x in (1, 2, 3)) == results
    gate = Gate("m", op, 2.0)
    assert tuple(gate_outcome(gate, {"m": x}).passed for x in (1.0, 2.0, 3.0)) == results


@pytest.mark.parametrize("op", list(Op))
def test_ops_never_compare_booleans_or_strings_as_numbers(op: Op) -> None:
    for left, right in ((True, 1), (False, 0), ("5", 5), (5, "5")):
        assert op.holds(left, right) is (op is Op.NE)
    assert op.holds("a", "a") is (op in (Op.EQ, Op.LE, Op.GE))


# --------------------------------------------------------------------------- rules
@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Args/--sub_step", "sub_step"),
        ("sub_step", "sub_step"),
        ("SUB_STEP", "sub_step"),
        ("--Sub_Step", "sub_step"),
        ("-sub_step", "sub_step"),
        ("a/b/--sub_step", "sub_step"),
        ("Args/sub-step", "sub-step"),
    ],
)
def test_param_key(name: str, key: str) -> None:
    assert param_key(name) == key


@settings(deadline=None)
@given(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=12
    ),
    st.text(alphabet="abcXYZ/", max_size=10),
    st.integers(0, 3),
)
def test_param_key_matches_any_prefix_dashes_and_case(name: str, prefix: str, dashes: int) -> None:
    assume(not prefix or prefix.endswith("/"))
    decorated = f"{prefix}{'-' * dashes}{name.swapcase()}"
    assert param_key(decorated) == param_key(name) == name.casefold()


@pytest.mark.parametrize(
    ("params", "passed", "detail"),
    [
        ({"Args/--sub_step": 5}, True, ""),
        ({"ARGS/--SUB_STEP": 1}, True, ""),
        ({"sub_step": 0}, False, "0"),
        ({"Args/--sub_step": -3}, False, "-3"),
        # A number spelled in a string is that number (trackers store params as strings,
        # docs/spec.md §3); a string that spells none is not one.
        ({"Args/--sub_step": "5"}, True, ""),
        ({"Args/--sub_step": "0"}, False, "'0'"),
        ({"Args/--sub_step": "1e-3"}, True, ""),
        ({"Args/--sub_step": "five"}, False, "'five'"),
        ({"Args/--sub_step": "nan"}, False, "'nan'"),
        ({"Args/--sub_step": True}, False, "True"),  # nor is a boolean
        ({"sub_steps": 5}, False, "required parameter absent"),
        ({}, False, "required parameter absent"),
    ],
)
def test_required_rule(params: dict, passed: bool, detail: str) -> None:
    rule = Rule("sub_step", Op.GT, 0, required=True)
    outcome = rule_outcome(rule, params)
    assert outcome.passed is passed
    assert detail in outcome.detail


@pytest.mark.parametrize("spelled", ["-1e-400", "-0.00000000000000000000000000001e-300"])
def test_a_string_a_double_does_not_hold_as_written_is_no_number(spelled: str) -> None:
    """A tracker's string param read as a double was 0 and passed `ge:0` though it says
    a negative number (an attacker's hunt, and the review: the documents' own numbers
    are refused for it, docs/spec.md §2.3). It is no number to rules and filters now,
    and a bound or a `--metric` so spelled is refused."""
    rule = Rule("wd", Op.GE, 0, required=True)
    assert not rule_outcome(rule, {"wd": spelled}).passed
    assert rule_outcome(rule, {"wd": "0.5"}).passed
    assert param_key("wd") == "wd"
    with pytest.raises(ExpflowError) as info:
        parse_gate("train_time_min:le:60.0000000000000001", None)
    assert "would be read as 60.0" in str(info.value)


@pytest.mark.parametrize(
    ("bound", "read_as"),
    [("-1e-400", "-0.0"), ("60.0000000000000001", "60.0"), ("0.10000000000000001", "0.1")],
)
def test_a_policy_number_a_double_does_not_hold_as_written_is_refused(
    bound: str, read_as: str
) -> None:
    """A policy's YAML numbers were read by float(): `min: -1e-400` was -0.0, so the
    policy said one bound and judged by another. They follow the documents' rule now
    (docs/spec.md §2.3), naming the policy's line and column; YAML's own spellings of
    a number a double holds (`.5e-1`, `1.0e+0`, `+2.5`) still read."""
    policy = MINIMAL_POLICY.replace("min: 0, max: 1,", f"min: {bound}, max: 1,")
    assert bound in policy
    with pytest.raises(ExpflowError) as info:
        load_policy_bytes(policy.encode(), path="p.yaml")
    line = 1 + policy[: policy.index(bound)].count("\n")
    assert str(info.value).startswith(f"p.yaml:{line}:") and f"would be read as {read_as}" in str(
        info.value
    )
    for spelled, value in ((".5e-1", 0.05), ("1.0e+0", 1.0), ("+2.5e-1", 0.25)):
        text = MINIMAL_POLICY.replace("min: 0, max: 1,", f"min: {spelled}, max: 1,")
        assert load_policy_bytes(text.encode()).metrics["accuracy"].min == value


def test_a_yaml_1_1_base_60_float_is_refused() -> None:
    """`%YAML 1.1` reads `4:35:7.01` as 4*3600 + 35*60 + 7.01 summed in floating point,
    16507.010000000002: a threshold of 16507.01 as meant passed the value itself (an
    attacker's hunt, issue 18 twenty-fourth pass). A base-60 float is refused, naming
    its line; a plain decimal under YAML 1.1 still reads."""
    text = "%YAML 1.1\n---\n" + MINIMAL_POLICY.replace("min: 0, max: 1,", "min: 0, max: 0:1.5,")
    with pytest.raises(ExpflowError) as info:
        load_policy_bytes(text.encode(), path="p.yaml")
    line = 1 + text[: text.index("0:1.5")].count("\n")
    assert str(info.value).startswith(f"p.yaml:{line}:") and "base-60" in str(info.value)
    plain = "%YAML 1.1\n---\n" + MINIMAL_POLICY.replace("min: 0, max: 1,", "min: 0, max: 1.5,")
    assert load_policy_bytes(plain.encode()).metrics["accuracy"].max == 1.5


@pytest.mark.parametrize(
    ("old", "new", "pointer"),
    [
        ("max: 1,", "max: 1, threshold: 1{zeros},", "/metrics/accuracy/threshold"),
        ("accuracy\n", "accuracy\n  ladder_step: 1{zeros}\n", "/ranking/ladder_step"),
        ("accuracy\n", "accuracy\n  ladder_step: 10000000000000000000\n", "/ranking/ladder_step"),
        ("max: 1,", "max: -1{zeros},", "/metrics/accuracy/max"),
        ("max: 1,", "max: 9007199254740993,", "/metrics/accuracy/max"),
        ("max: 1,", "max: 1{many},", ":"),
    ],
)
def test_a_policy_integer_past_2_53_is_refused(old: str, new: str, pointer: str) -> None:
    """A YAML integer of 321 digits passed as a threshold or a ladder step: `validate`
    said OK, and every later audit, rank, list and show died on float() with a traceback
    (an attacker's hunt); 10**19 as a ladder step (or a walk-forward count) died writing
    the report, whose canonical JSON holds no integer past 2**53 (the review). A policy's
    integers are below 2**53 now, exit 2; one past Python's 4,300 digits too (ruamel
    raised ValueError)."""
    text = MINIMAL_POLICY.replace(old, new.format(zeros="0" * 320, many="0" * 5000), 1)
    assert text != MINIMAL_POLICY
    with pytest.raises(ExpflowError) as info:
        load_policy_bytes(text.encode(), path="p.yaml")
    assert info.value.code == ExitCode.USAGE
    assert str(info.value).startswith(f"p.yaml{'' if pointer == ':' else ': '}{pointer}")
    assert "is too large" in str(info.value) or "is not a finite number" in str(info.value)
    edge = MINIMAL_POLICY.replace("max: 1,", "max: 9007199254740991,", 1)
    assert load_policy_bytes(edge.encode()).metrics["accuracy"].max == 2**53 - 1
    # 2**53 itself: canonical JSON holds it no more (a ladder step of 2**53 was a
    # traceback writing the report; a hunt, issue 18 twenty-fourth pass).
    at = MINIMAL_POLICY.replace("max: 1,", "max: 9007199254740992,", 1)
    with pytest.raises(ExpflowError) as info:
        load_policy_bytes(at.encode(), path="p.yaml")
    assert "is too large" in str(info.value) and "9007199254740991" in str(info.value)


def test_optional_rule_absent_passes_present_is_checked() -> None:
    rule = Rule("Model", Op.EQ, "fno", required=False)
    assert rule_outcome(rule, {}).passed
    assert rule_outcome(rule, {"args/--model": "fno"}).passed
    assert not rule_outcome(rule, {"model": "unet"}).passed


@pytest.mark.parametrize(
    "params",
    [
        {"sub_step": 5, "Args/--sub_step": 0},  # the decoy first: it used to be the one read
        {"Args/--sub_step": 0, "SUB_STEP": 5},
        {"SUB_STEP": 5, "--sub_step": "0", "Args/--sub_step": 5},
    ],
)
def test_a_rule_holds_only_if_every_spelling_of_its_parameter_holds(params: dict) -> None:
    """A record that gives the parameter under several names cannot pass a rule with one
    good value in front of a bad one, and the key order never changes the verdict."""
    rule = Rule("sub_step", Op.GT, 0, required=True)
    outcome = rule_outcome(rule, params)
    reordered = rule_outcome(rule, dict(reversed(list(params.items()))))
    assert not outcome.passed and not reordered.passed
    assert outcome.detail == reordered.detail
    assert "not > 0" in outcome.detail and ("= 0 " in outcome.detail or "'0'" in outcome.detail)
    assert rule_outcome(rule, {"sub_step": 5, "Args/--sub_step": "5"}).passed


def test_rules_from_policy_match_seed_params() -> None:
    p = load_policy_bytes(COMPETITION_POLICY.encode())
    (rule,) = p.rules
    assert rule_outcome(rule, {"Args/--sub_step": 5, "lr": 0.001}).passed
    assert not rule_outcome(rule, {"Args/--sub_step": 0}).passed


@pytest.mark.parametrize(
    ("unknown", "hint"),
    [
        ("seg_totl", "seg_total"),  # a character left out
        ("seg_totall", "seg_total"),  # one added
        ("pde_meen", "pde_mean"),  # one changed
        ("pde_maen", "pde_mean"),  # two swapped
        ("SEG_TOTAL", "seg_total"),  # case aside
        ("accuracy", None),
        ("s" * 500, None),
    ],
)
def test_an_unknown_metric_is_hinted_by_a_name_one_edit_away(
    unknown: str, hint: str | None
) -> None:
    policy = load_policy_bytes(COMPETITION_POLICY.encode())
    assert policy.metric_hint(unknown) == (f" (did you mean {hint!r}?)" if hint else "")


def test_hints_for_many_unknown_metrics_do_not_compare_them_with_every_metric(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """difflib over the whole registry for every unknown name cost names × metrics (200
    results of 100 unknown names against 2,000 metrics: 131 s). The hint now looks up
    the name's few one-edit forms in an index of the registry, made once."""
    import difflib

    names = [f"registered_metric_name_{i:04d}" for i in range(500)]
    metrics = "".join(f"  {n}: {{group: G, higher_is_better: true}}\n" for n in names)
    text = COMPETITION_POLICY.replace("metrics:\n", "metrics:\n" + metrics, 1)
    policy = load_policy_bytes(text.encode())
    from expflow_git.checks import registry_findings
    from expflow_git.documents import Result

    monkeypatch.setattr(difflib, "SequenceMatcher", None)  # never asked
    result = Result("r.json", "r", {n.replace("name", "nane"): 1.0 for n in names}, {})
    found = registry_findings(result, policy)
    assert [f.message.partition(" (")[2] for f in found] == [f"did you mean {n!r}?)" for n in names]


def _many(n: int, item: str) -> str:
    return "[" + ", ".join(item.format(i=i) for i in range(n)) + "]"


_RULES = "rules:\n  - {param: sub_step, op: gt, value: 0, required: true}\n"


@pytest.mark.parametrize(
    ("old", "new", "item", "pointer", "cap"),
    [
        ("gates: []", "gates: {}", "'seg_total:gt:{i}'", "/gates", 256),
        (_RULES, "rules: {}\n", "{{param: p{i}, op: gt, value: 0}}", "/rules", 256),
        (
            "required_metrics: [seg_total, pde_mean, train_time_min]",
            "required_metrics: {}",
            "m{i}",
            "/required_metrics",
            256,
        ),
        ("tie_break: [pde_mean]", "tie_break: {}", "pde_mean", "/ranking/tie_break", 16),
        (
            "gates: []",
            "gates: []\nsigning: {{public_keys: {}}}",
            "k{i}",
            "/signing/public_keys",
            256,
        ),
    ],
)
def test_the_policys_lists_are_bounded(
    old: str, new: str, item: str, pointer: str, cap: int
) -> None:
    """Every run's report entry lists every gate, rule and required metric, and ranking
    builds a key of every tie-break metric for every run: an unbounded list made the
    report runs × checks (2,000 gates and 2,000 runs: 372 MB) and the ranking's keys
    runs × tie-breaks (8,000 of each: 1 GB). A policy past a cap is a config error."""

    def with_items(n: int) -> bytes:
        items = "[" + ", ".join(item.format(i=i) for i in range(n)) + "]"
        return edited(old, new.replace("{}", items).replace("{{", "{").replace("}}", "}")).encode()

    with pytest.raises(ExpflowError, match=f"{pointer}: .* more items than the maximum of {cap}"):
        load_policy_bytes(with_items(cap + 1))
    try:
        load_policy_bytes(with_items(cap))
    except ExpflowError as exc:  # at the cap: only other checks may refuse it
        assert "maximum" not in str(exc)


def test_each_rule_looks_up_its_params_instead_of_reading_them_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every rule read every param of every run (rules × params a run: ~1 s a run at the
    policy's and a record's caps). A run's params are keyed once; the verdicts do not
    change (a decoy spelling still fails the rule)."""
    from expflow_git import checks
    from expflow_git.documents import Experiment, Result, Status

    rules = "".join(f"  - {{param: p{i}, op: gt, value: 0}}\n" for i in range(40))
    policy = load_policy_bytes(edited(_RULES, "rules:\n" + rules).encode())
    metrics = {"seg_total": 1.0, "pde_mean": 1.0, "train_time_min": 1.0}
    pairs = []
    for run in range(5):
        params: dict[str, object] = {f"Args/--p{i}": 1 for i in range(40)}
        params[f"p{run}"] = 0  # a second spelling that breaks the rule
        exp = Experiment(f"e{run}.json", f"e{run}", "s", Status.SUCCESS, params)
        pairs.append((exp, Result(f"r{run}.json", f"e{run}", metrics, {})))
    keyed = record_calls(monkeypatch, checks, "param_key")
    verdicts = checks.judge_runs(pairs, policy, policy.gates)
    failed = [[o.name for o in v.outcomes if not o.passed] for v in verdicts]
    assert failed == [[f"p{run}:gt:0"] for run in range(5)]
    assert len(keyed) <= 40 + 5 * 41  # (5 × 40 × 41 = 8,200 before)


@pytest.mark.parametrize("tagged", ["!!float 0x1F", "!!float abc", "!!float 0:1.5", "!!int 1:30"])
def test_a_tagged_scalar_that_is_no_number_is_an_error_at_its_line(tagged: str) -> None:
    """`!!float 0x1F` (or any scalar a float() refuses) was a ValueError traceback in
    `validate` and in `audit --policy-ref`; `!!int 1:30` said "an integer of 4 characters
    is not a finite number" (a review, issue 18 twenty-fourth pass)."""
    text = MINIMAL_POLICY.replace("min: 0, max: 1,", f"min: 0, max: {tagged},")
    with pytest.raises(ExpflowError) as info:
        load_policy_bytes(text.encode(), path="p.yaml")
    line = 1 + text[: text.index(tagged)].count("\n")
    message = str(info.value)
    assert message.startswith(f"p.yaml:{line}:"), message
    assert "not a number" in message or "not an integer" in message or "base-60" in message
    assert "finite" not in message


def test_a_policy_error_counts_lines_as_git_does() -> None:
    """ruamel breaks a line at a lone CR too: a policy error after ten of them was put
    ten lines below the line git and GitHub show (a review)."""
    text = "# note" + "\r" * 10 + "\n" + MINIMAL_POLICY + "x: [\n"
    with pytest.raises(ExpflowError) as info:
        load_policy_bytes(text.encode(), path="p.yaml")
    line = text.count("\n") + 1  # the stream ends on the line after the `[`
    assert str(info.value).startswith(f"p.yaml:{line}:1: invalid YAML"), info.value
    tagged = "# note" + "\r" * 10 + "\n" + MINIMAL_POLICY.replace("max: 1,", "max: !!float x,")
    with pytest.raises(ExpflowError) as info:
        load_policy_bytes(tagged.encode(), path="p.yaml")
    line = 1 + tagged[: tagged.index("!!float")].count("\n")
    assert str(info.value).startswith(f"p.yaml:{line}:"), info.value
