"""The `--where` grammar (expflow_git/query/where.py, docs/spec.md §4): what it means on
runs, that every malformed expression is one error with a column, and that no input,
however hostile or deep, gets a traceback or unbounded work."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import record_calls

from expflow_git.query.values import compare, numeric
from expflow_git.query.where import MAX_DEPTH, MAX_LENGTH, WhereError, fields_of, parse


@dataclass(frozen=True)
class FakeRun:
    """The fields a filter reads (query.where.Fields), without a repository."""

    id: str = "exp-001"
    study: str = "s"
    status_name: str = "success"
    params: Mapping[str, object] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    splits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


SEED = FakeRun(
    params={"Args/--sub_step": "5", "lr": 0.001, "model": "fno", "amp": True, "note": None},
    tags=("task1", "fno", "model:fno"),
    metrics={"seg_total": 57.09, "pde_mean": 15.0},
    splits={"holdout": {"seg_total": 55.2}},
)


def matches(expr: str, run: FakeRun = SEED) -> bool:
    return parse(expr).matches(run)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # the example
        ("metrics.seg_total > 50 and params.lr <= 1e-3 or tags.model = 'fno'", True),
        ("metrics.seg_total > 60 and params.lr <= 1e-3 or tags.model = 'fno'", True),
        ("metrics.seg_total > 60 and params.lr <= 1e-3 or tags.model = 'unet'", False),
        # and binds tighter than or; not tighter than and; parentheses group
        ("metrics.seg_total > 60 and (params.lr <= 1e-3 or tags.model = 'fno')", False),
        ("not metrics.seg_total > 60 and metrics.pde_mean = 15", True),
        ("not (metrics.seg_total > 50 and metrics.pde_mean = 15)", False),
        ("NOT metrics.seg_total < 50 AND metrics.pde_mean == 15", True),
        # every operator
        ("metrics.pde_mean = 15", True),
        ("metrics.pde_mean != 15", False),
        ("metrics.pde_mean <> 15", False),
        ("metrics.pde_mean < 15", False),
        ("metrics.pde_mean <= 15", True),
        ("metrics.pde_mean > 14.99", True),
        ("metrics.pde_mean >= 15.0", True),
        ("splits.holdout.seg_total < 56", True),
        # a parameter spelled as a number in a string compares as a number
        ("params.`Args/--sub_step` = 5", True),
        ("params.`Args/--sub_step` > 4.5", True),
        ("params.`Args/--sub_step` = '5.0'", True),
        # ...and is found as a rule finds it (last segment, dashes, case)
        ("params.sub_step >= 5", True),
        ("params.SUB_STEP in (1, 5)", True),
        ("params.model = 'fno'", True),
        ("params.model in ('unet', 'fno')", True),
        ("params.model not in ('unet', 'fno')", False),
        ("params.model < 'g'", True),  # strings compare as strings
        ("params.model = 5", False),
        ("params.model != 5", True),  # different kinds: unequal
        ("params.amp = true", True),
        ("params.amp = 'True'", True),
        ("params.note = null", True),
        # a missing value matches no comparison (as in MLflow), even !=
        ("params.missing != 'x'", False),
        ("params.missing not in ('x')", False),
        ("metrics.seg1 < 100", False),
        ("not metrics.seg1 < 100", True),
        ("splits.test.seg_total > 0", False),
        # tags: a bare tags.NAME is "has the tag"; tags.KEY = 'V' a key:value tag
        ("tags.fno", True),
        ("tags.model", True),
        ("tags.unet", False),
        ("not tags.unet", True),
        ("tags.model = 'fno'", True),
        ("tags.model != 'fno'", False),
        ("tags.model != 'unet'", True),
        ("tags.model in ('a', 'fno')", True),
        ("tags.task1 = 'x'", False),
        ("tags = 'fno'", True),
        ("tags != 'fno'", False),
        ("tags in ('x', 'task1')", True),
        ("tags not in ('x', 'y')", True),
        # attributes
        ("study = 's' and status = 'success' and id = 'exp-001'", True),
        ("status in ('failed', 'skipped')", False),
        ('id = "exp-001"', True),
        ("id = 'it''s' or id = 'it\\'s'", False),
    ],
)
def test_meaning(expr: str, expected: bool) -> None:
    assert matches(expr) is expected


def test_status_and_reasonless_runs() -> None:
    failed = FakeRun(status_name="failed")
    assert matches("status = 'failed'", failed)
    assert not matches("metrics.seg_total > 0", failed)  # no result: no metric


@pytest.mark.parametrize(
    ("equal", "listed"),
    [
        ("tags = 5", "tags in (5)"),
        ("tags != 5", "tags not in (5)"),
        ("tags = '5.0'", "tags in ('5.0')"),
        ("tags = 5.0", "tags in (5.0)"),
        ("tags = true", "tags in (true)"),
        ("tags != 'True'", "tags not in ('True')"),
    ],
)
def test_a_tag_is_in_the_list_exactly_whichever_operator_asks(equal: str, listed: str) -> None:
    """`tags = V` tested exact membership while `tags in (V)` compared each tag like a
    param: with tags ["5", "true"], `tags in ('5.0')` and `tags in (true)` matched and
    the same `=` did not, `tags != 5` matched where `tags not in (5)` did not (an
    attacker's hunt). The list holds names: both read a tag as it is written, and an
    unquoted number as typed."""
    run = FakeRun(tags=("5", "true", "k:5"))
    assert matches(equal, run) is matches(listed, run)
    expected = {"tags = 5": True, "tags != 5": False}.get(equal, equal.startswith("tags !="))
    assert matches(equal, run) is expected, equal


def test_names_compare_as_text_never_as_the_numbers_they_spell() -> None:
    """Every string that spelled a number compared as that number, ids and studies too:
    study `2024.1` was `2024.10` (`rank --where "study = '2024.1'"` ranked the other
    study's runs), and `id != '1.10'` hid run `1.1` (an attacker's hunt). A name is text;
    an unquoted number is the name as typed. Params keep the tracker rule (`"5"` = 5)."""
    dated = FakeRun(id="1.1", study="2024.1")
    for expr, expected in [
        ("study = '2024.1'", True),
        ("study = '2024.10'", False),
        ("study = 2024.10", False),
        ("study = 2024.1", True),
        ("id = '1.10'", False),
        ("id != '1.10'", True),
        ("id in ('1.10', 1.100)", False),
        ("id in (1.1)", True),
        ("id < '1.10'", True),  # as text: '1.1' sorts before '1.10'
        ("study = 2024.1 and id = 1.1", True),
    ]:
        assert matches(expr, dated) is expected, expr
    assert matches("params.n = 5", FakeRun(params={"n": "5.0"}))


def test_numeric_helper() -> None:
    assert numeric("5") == 5.0 and numeric("1e-3") == 0.001 and numeric(3) == 3.0
    assert numeric(" 5") is None  # the one spelling rules use too (docs/spec.md §3)
    assert numeric(True) is None and numeric("nan") is None and numeric("inf") is None
    assert numeric("0x10") is None and numeric("1e999") is None and numeric(None) is None
    assert compare("10", ">", "9")  # numerically, not "10" < "9" as strings
    assert compare("abc", "<", "abd")


@pytest.mark.parametrize(
    ("expr", "column", "words"),
    [
        ("metrics.seg_total >", 20, "expected a value"),
        ("metrics.seg_total > and", 21, "found 'and'"),
        ("metrics.seg_total 5", 19, "expected an operator"),
        ("(metrics.seg_total > 5", 23, "expected ')'"),
        ("metrics.seg_total > 5)", 22, "expected 'and', 'or' or the end"),
        ("metric.seg_total > 5", 1, "did you mean 'metrics'"),
        ("metrics > 5", 1, "write metrics.NAME"),
        ("splits.seg_total > 5", 1, "write splits.SPLIT.METRIC"),
        ("metrics.seg_total > 'abc'", 21, "is a number"),
        ("params.x = 'open", 12, "unterminated string"),
        ("params.`x = 1", 8, "unterminated"),
        ("params.`x`` = 1", 8, "unterminated"),  # a doubled backtick is one backtick
        ("params.`` = 1", 8, "empty `quoted name`"),
        ("params.x ~ 1", 10, "unexpected character"),
        ("params.x in 1", 13, "'(' after 'in'"),
        ("params.x in (1, 2", 18, "',' or ')'"),
        ("params.x not 1", 14, "'in' after 'not'"),
        ("tags < 'x'", 6, "tags compare only"),
        ("", 1, "empty"),
        ("params.x = 1 and", 17, "a field"),
        ("params.x = 1e999", 12, "not a finite number"),
        ("params.x > 1e-4000", 12, "a double holds as written"),  # was read as 0
    ],
)
def test_errors_name_the_column(expr: str, column: int, words: str) -> None:
    with pytest.raises(WhereError) as caught:
        parse(expr)
    assert caught.value.column == column, caught.value.message
    assert caught.value.message.startswith(f"column {column}: ")
    assert words in caught.value.message


def test_unknown_metric_and_status_are_errors_with_hints() -> None:
    metrics = {"seg_total": 1, "pde_mean": 1}
    statuses = ["pending", "running", "success", "failed", "skipped"]
    with pytest.raises(WhereError, match="column 1: unknown metric 'seg_totl'.*'seg_total'"):
        parse("metrics.seg_totl > 5").check(metrics, statuses)
    with pytest.raises(WhereError, match="column 26: unknown metric 'pde'"):
        parse("metrics.seg_total > 5 or splits.holdout.pde > 1").check(metrics, statuses)
    with pytest.raises(WhereError, match="status 'sucess'.*'success'"):
        parse("status in ('failed', 'sucess')").check(metrics, statuses)
    parse("metrics.seg_total > 5 and status = 'failed'").check(metrics, statuses)


def test_bounds_are_errors_not_crashes() -> None:
    """A workflow file a pull request edits can hold any expression: deep nesting, long
    text and huge lists are refused with a column, never a RecursionError."""
    deep = "(" * 10_000 + "tags.a" + ")" * 10_000
    with pytest.raises(WhereError, match="longer than"):
        parse(deep)
    nested = "(" * (MAX_DEPTH + 1) + "tags.a" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(WhereError, match="nested deeper") as caught:
        parse(nested)
    assert caught.value.column == MAX_DEPTH + 1  # the parenthesis one level too deep
    with pytest.raises(WhereError, match="nested deeper"):
        parse("not " * (MAX_DEPTH + 1) + "tags.a")
    assert parse("(" * 20 + "tags.a" + ")" * 20).matches(FakeRun(tags=("a",)))
    many = "params.x in (" + ",".join(["1"] * 1001) + ")"
    with pytest.raises(WhereError, match="more than 1000 values"):
        parse(many)
    with pytest.raises(WhereError, match="longer than"):
        parse("tags.a or " * (MAX_LENGTH // 10 + 1) + "tags.b")


def test_a_doubled_backtick_in_a_quoted_name_is_one_backtick() -> None:
    """A quoted name ended at the next backtick, with no escape: a param holding one
    could not be written (a user's hunt, issue 18 twenty-fifth pass)."""
    run = FakeRun(params={"a`b": 1, "`": 2, "c``": 3})
    assert matches("params.`a``b` = 1", run) and matches("params.```` = 2", run)
    assert matches("params.`c````` = 3", run) and not matches("params.`a``b` = 2", run)
    assert [str(c) for c in fields_of("params.`a``b`,params.````")] == ["params.a`b", "params.`"]


def test_columns_are_fields() -> None:
    cols = fields_of("params.lr,splits.holdout.seg_total, metrics.`pde_mean`,study")
    assert [str(c) for c in cols] == [
        "params.lr",
        "splits.holdout.seg_total",
        "metrics.pde_mean",
        "study",
    ]
    with pytest.raises(WhereError, match="column 11: tags are not a column"):
        fields_of("params.lr,tags.fno")
    with pytest.raises(WhereError, match="column 10"):
        fields_of("params.lr;study")


# The grammar's own alphabet, so that examples come near valid expressions.
_PIECES = st.sampled_from(
    [
        "metrics.seg_total",
        "params.lr",
        "params.`a/b`",
        "tags.fno",
        "tags",
        "splits.h.seg_total",
        "status",
        "id",
        " and ",
        " or ",
        "not ",
        " in ",
        "(",
        ")",
        ",",
        "=",
        "!=",
        "<",
        ">=",
        "5",
        "-1e-3",
        "'x'",
        '"y"',
        "true",
        "null",
        "`",
        "'",
        ".",
        " ",
    ]
)


@settings(max_examples=400)
@given(st.one_of(st.lists(_PIECES, max_size=25).map("".join), st.text(max_size=60)))
def test_any_input_parses_or_fails_with_a_column(text: str) -> None:
    try:
        where = parse(text)
    except WhereError as exc:
        assert 1 <= exc.column <= len(text) + 1, (text, exc.message)
        assert exc.message.startswith(f"column {exc.column}: ")
        assert "\n" not in exc.message.replace(repr("\n")[1:-1], "")
        return
    where.matches(SEED)  # a parsed expression evaluates on any run without raising
    where.matches(FakeRun())


def test_params_are_keyed_once_a_run_however_many_tests_ask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A test by a name a rule would find (`params.z`, not an exact key) scanned every
    parameter of the run: tests × params a run (250 tests, 1,000 params, 400 runs: 6.9 s).
    The run's parameters are keyed once per expression and run."""
    from expflow_git.query import nodes

    keyed = record_calls(monkeypatch, nodes, "param_key")
    params = {f"Args/--p{i}": i for i in range(200)} | {"Z": 2, "--z": 3}
    run = FakeRun(params=params)
    tests = 50
    where = parse(" or ".join(["params.zz = 1"] * (tests - 1) + ["params.z = 3"]))
    assert where.matches(run)  # by key, `--z` before `Z` in code-point order
    assert not parse("params.z = 2").matches(run)
    assert len(keyed) <= 2 * (len(params) + tests)  # (50 × 202 before)
