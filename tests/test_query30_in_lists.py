"""`--where FIELD in (…)` (expflow_git/query/nodes.In, values.OneOf): the literals are read
once when the expression is parsed and a run's value once per test, then looked up, so
runs × literals no longer cost runs × literals number parsings (an attacker's hunt,
issue 18 thirtieth pass: 8,000 runs under 2,000 literals took 36 s). What matches is
what comparing the value with each literal in turn (values.compare, docs/spec.md §4.1)
matched, for every kind of value."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers_audit import Cli, add_run, commit_all, m, new_repo
from hypothesis import given
from hypothesis import strategies as st
from support import record_calls

from expflow_git.query import values
from expflow_git.query.nodes import Field, In
from expflow_git.query.values import OneOf, compare, compare_names
from expflow_git.query.where import parse


@dataclass(frozen=True)
class FakeRun:
    """The fields a filter reads (query.nodes.Fields), without a repository."""

    id: str = "exp-001"
    study: str = "s"
    status_name: str = "success"
    params: Mapping[str, object] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    splits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def one_by_one(found: list[object], literals: tuple[object, ...], names: bool) -> object:
    """What `In` answered before: each value compared with each literal in turn (or the
    exception that raised)."""
    same = compare_names if names else compare
    try:
        return any(same(f, "=", v) for f in found for v in literals)
    except Exception as exc:  # a NaN against 10**400: Fraction('nan')
        return type(exc)


def looked_up(found: list[object], literals: tuple[object, ...], names: bool) -> object:
    one_of = OneOf(literals, names=names)
    try:
        return any(one_of.has(f) for f in found)
    except Exception as exc:
        return type(exc)


# Numbers around the edges compare cares about: 2**53, a double's decimal (1e23 is
# 10**23), -0.0, integers no double holds, and their spellings as strings.
EDGE_NUMBERS: list[int | float] = [
    0,
    -0.0,
    0.0,
    1,
    1.0,
    -1,
    0.1,
    0.30000000000000004,
    1e-3,
    2**53,
    2**53 + 1,
    2**53 - 1,
    float(2**53),
    float(2**53 + 2),
    -(2**53) - 1,
    10**23,
    1e23,
    10**23 + 1,
    99999999999999991611392,
    1e300,
    10**300,
    1.7976931348623157e308,
    10**400,
    5e-324,
]
EDGE_STRINGS = [
    "",
    "1",
    "1.0",
    "1.00",
    "01",
    "-0",
    "-0.0",
    "1e23",
    "1E23",
    "100000000000000000000000",
    "1e+23",
    "9007199254740993",
    "9007199254740992",
    "0.10000000000000001",
    "1e400",
    "-1e-400",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "null",
    "None",
    "fno",
    " 1",
    "1 ",
    "0x10",
    "1_000",
]
numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-5, 5).map(float),
)
strings = st.one_of(
    st.sampled_from(EDGE_STRINGS),
    numbers.map(repr),
    numbers.map(str),
    st.text(max_size=6),
)
# What the parser makes of a literal: a finite number, a string, true, false, null.
literal_values = st.one_of(numbers, strings, st.booleans(), st.none())
# What a run holds: any JSON scalar, and (a loader refuses them, compare takes them) the
# non-finite floats.
run_values = st.one_of(
    literal_values, st.sampled_from([math.nan, math.inf, -math.inf]), st.floats()
)


@given(st.lists(run_values, min_size=1, max_size=4), st.lists(literal_values, max_size=12))
def test_a_lookup_matches_what_each_comparison_matched(
    found: list[object], literals: list[object]
) -> None:
    for names in (False, True):
        got = looked_up(found, tuple(literals), names)
        assert got == one_by_one(found, tuple(literals), names), (found, literals, names)


@given(run_values, st.lists(literal_values, max_size=12))
def test_a_value_in_a_list_drawn_from_its_own_kin(value: object, literals: list[object]) -> None:
    """A list holding the value itself, its spellings and neighbours (random lists seldom
    hold a literal equal to the value)."""
    kin: list[object] = [value, repr(value), str(value)]
    if type(value) is int or type(value) is float:
        kin += [-value, value + 1]
        as_float = float(value) if abs(value) < 10**308 else math.inf
        if math.isfinite(as_float):
            kin.append(as_float)
            if as_float.is_integer():
                kin.append(int(as_float))
    # A literal is a finite number, as the parser makes it.
    literals = literals + [k for k in kin if not isinstance(k, float) or math.isfinite(k)]
    for names in (False, True):
        for lits in (tuple(literals), tuple(reversed(literals))):
            got = looked_up([value], lits, names)
            assert got == one_by_one([value], lits, names), (value, lits, names)


@pytest.mark.parametrize("value", [*EDGE_NUMBERS, *EDGE_STRINGS, True, False, None])
def test_every_edge_value_against_every_edge_literal(value: object) -> None:
    literals = tuple([*EDGE_NUMBERS, *EDGE_STRINGS, True, False, None])
    for names in (False, True):
        for lit in literals:
            got = looked_up([value], (lit,), names)
            assert got == one_by_one([value], (lit,), names), (value, lit, names)
        assert looked_up([value], literals, names) == one_by_one([value], literals, names)


@pytest.mark.parametrize(
    ("path", "run"),
    [
        (("params", "x"), FakeRun(params={"x": "5"})),
        (("params", "x"), FakeRun(params={"x": None})),
        (("params", "x"), FakeRun(params={})),
        (("metrics", "m"), FakeRun(metrics={"m": 1e23})),
        (("study",), FakeRun(study="2024.10")),
        (("id",), FakeRun(id="5")),
        (("tags",), FakeRun(tags=("5", "a", "true"))),
        (("tags", "k"), FakeRun(tags=("k:5.0", "k:x", "k:TRUE"))),
        (("tags", "k"), FakeRun(tags=("other",))),
    ],
)
@pytest.mark.parametrize(
    "literals",
    [
        (5,),
        ("5",),
        ("5.0", "x"),
        (True,),
        (None,),
        ("2024.10", 1e23),
        (10**23, "a"),
        ("true",),
    ],
)
@pytest.mark.parametrize("negated", [False, True])
def test_the_in_node_answers_as_before(
    path: tuple[str, ...], run: FakeRun, literals: tuple[object, ...], negated: bool
) -> None:
    """The node's own reading (a missing value, tags as a list, names as text), around
    the look-up, is unchanged."""
    node = In(Field(path, 1), literals, negated)  # type: ignore[arg-type]
    f = node.field
    if f.root == "tags":
        found: list[object] = (
            list(run.tags)
            if len(path) == 1
            else [t[len(path[1]) + 1 :] for t in run.tags if t.startswith(path[1] + ":")]
        )
        expected = False if not found and len(path) > 1 else None
    else:
        value = {
            "params": lambda: run.params.get(path[-1], KeyError),
            "metrics": lambda: run.metrics.get(path[-1], KeyError),
            "study": lambda: run.study,
            "id": lambda: run.id,
        }[f.root]()
        found = [value]
        expected = False if value is KeyError else None
    if expected is None:
        expected = one_by_one(found, literals, f.names) != negated
    assert node.matches(run) == expected


def test_runs_times_literals_parse_each_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run's value was read as a number once per literal, and each literal once per
    run: 2 × runs × literals parsings (and as many as_written). Now the literals are read
    when the expression is parsed and each value once: runs + literals at most."""
    runs, literals = 60, 300
    where = parse(
        "params.lr in ("
        + ", ".join(f"'{i}'" for i in range(literals))
        + ") or params.lr not in ("
        + ", ".join(str(i) for i in range(literals))
        + ")"
    )
    parsed = record_calls(monkeypatch, values, "rule_numeric")
    written = record_calls(monkeypatch, values, "as_written")
    matched = [where.matches(FakeRun(params={"lr": str(i * 7)})) for i in range(runs)]
    assert matched == [True] * runs
    assert len(parsed) <= 2 * runs  # one per run and list (28,028 before)
    assert written == []  # (one per comparison before)


def test_a_literal_keys_do_not_decide_is_the_only_one_compared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A literal the keys do not decide (a non-finite float: the parser makes none) is
    compared one by one, and only it: it does not put the whole list back on that path."""
    literals = [math.inf, *range(300)]
    finite = (5, 5.0, "5", 301, "x")
    expected = [any(compare(v, "=", lit) for lit in literals) for v in finite]
    one_of = OneOf(literals)
    compared = record_calls(monkeypatch, values, "compare")
    assert [one_of.has(v) for v in finite] == expected == [True, True, True, False, False]
    assert len(compared) <= len(finite)  # the infinite literal alone (1,505 before)
    assert one_of.has(math.inf)


def _list_ids(cli: Cli, repo: Path, expr: str) -> list[str]:
    res = cli(["list", "--format", "json", "--where", expr], repo)
    assert res.code == 0 and "Traceback" not in res.err, res
    return sorted(row["id"] for row in json.loads(res.out)["runs"])


@pytest.fixture
def kinds(tmp_path: Path) -> Path:
    """Committed runs whose `lr` is each kind of value a record may hold."""
    repo = new_repo(tmp_path / "repo")
    lrs: dict[str, object] = {
        "int-1": 1,
        "float-1": 1.0,
        "str-1": "1",
        "str-1.0": "1.0",
        "bool-true": True,
        "str-true": "True",
        "null": None,
        "int-1e23": 10**23,
        "float-1e23": 1e23,
        "str-1e23": "1e23",
        "neg-zero": -0.0,
        "str-neg-zero": "-0",
        "big": 9007199254740993,
        "text": "fno",
        "str-nan": "NaN",
        "str-1e400": "1e400",
    }
    for run_id, lr in lrs.items():
        add_run(repo, run_id, m(50))
        path = repo / f"experiments/pdebench-task1/{run_id}.json"
        doc = json.loads(path.read_text())
        doc["params"]["lr"] = lr
        path.write_text(json.dumps(doc))
    commit_all(repo)
    return repo


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("params.lr in (1)", ["float-1", "int-1", "str-1", "str-1.0"]),
        ("params.lr in ('1.00', 7)", ["float-1", "int-1", "str-1", "str-1.0"]),
        ("params.lr in (true)", ["bool-true", "str-true"]),
        ("params.lr in ('true')", ["bool-true"]),
        ("params.lr in (null, 'fno')", ["null", "text"]),
        ("params.lr in (1e23)", ["float-1e23", "int-1e23", "str-1e23"]),
        ("params.lr in (100000000000000000000001)", []),
        ("params.lr in (0)", ["neg-zero", "str-neg-zero"]),
        ("params.lr in (9007199254740992)", []),
        ("params.lr in ('9007199254740993')", ["big"]),
        ("params.lr in ('NaN', '1e400')", ["str-1e400", "str-nan"]),
        ("params.lr in ('nan', 'Infinity')", []),
    ],
)
def test_list_where_in_on_every_kind_of_value(
    xcli: Cli, kinds: Path, expr: str, expected: list[str]
) -> None:
    assert _list_ids(xcli, kinds, expr) == expected
    every = _list_ids(xcli, kinds, "id != ''")
    assert _list_ids(xcli, kinds, expr.replace(" in ", " not in ")) == sorted(
        set(every) - set(expected)
    )


def test_list_reads_each_value_once_whatever_the_list(
    xcli: Cli, kinds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI: a list of 550 literals costs the parsings of a list of one, plus
    one per literal (not two per literal and run)."""
    parsed = record_calls(monkeypatch, values, "rule_numeric")
    assert _list_ids(xcli, kinds, "params.lr in ('x')") == []
    one = len(parsed)
    parsed.clear()
    literals = 550  # (as many as 4,096 characters hold)
    many = ", ".join(f"'{i + 2}'" for i in range(literals))
    assert _list_ids(xcli, kinds, f"params.lr in ({many})") == []
    assert len(parsed) - one <= 2 * literals  # ~13,000 before (16 runs)
