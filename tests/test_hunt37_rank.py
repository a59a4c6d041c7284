"""An attacker's hunt of the verdicts (thirty-seventh pass): which run is best overall and
which is best feasible, against a reference of docs/spec.md §3 and §6.2."""

from __future__ import annotations

import pytest

from expflow_git import compare_scores


def test_compare_scores_ranks_big_integers_as_written() -> None:
    """§2.3: numbers compare as the decimals they are written as (`1e23` is
    100000000000000000000000). `compare_scores` gated them so (1e23 passes `ge:1e23`,
    99999999999999999999999 does not), then ranked them by Python's comparison of an int
    with a float's binary value (1e23 is 99999999999999991611392 as a double): best_any
    was `d` (one number with `a` and `c`, which the id decides), and `b`, below them all
    as written, was ranked above `a` and `c`."""
    runs = {
        "a": {"x": 1e23},
        "b": {"x": 10**23 - 1},
        "c": {"x": 1e23},
        "d": {"x": 10**23},
    }
    table = compare_scores(runs, sort_by="x")
    assert table.best_any == "a"
    assert [r.id for r in table.rows] == ["a", "c", "d", "b"]
    gated = compare_scores(runs, sort_by="x", gates=["x:ge:1e23"])
    assert [(r.id, r.rank) for r in gated.rows] == [("a", 1), ("c", 2), ("d", 3), ("b", None)]
    assert gated.best_feasible == "a"
    # The rows keep the numbers as given.
    assert [type(r.metrics["x"]) for r in table.rows] == [float, float, int, int]
    up = compare_scores(runs, sort_by="x", ascending=True)
    assert [r.id for r in up.rows] == ["b", "a", "c", "d"]


def test_compare_scores_takes_numpy_integers_whole() -> None:
    """A NumPy integer was taken as its float: 2**53 + 1 was 2**53, so it passed
    `eq:9007199254740992` and tied with 2**53 (the id decided which won), and 2**60 + 1
    tied with 2**60, the smaller number winning by its id."""
    np = pytest.importorskip("numpy")
    runs = {"a": {"x": 2**53}, "b": {"x": np.int64(2**53 + 1)}}
    table = compare_scores(runs, sort_by="x", gates=["x:eq:9007199254740992"])
    assert [(r.id, r.feasible) for r in table.rows] == [("a", True), ("b", False)]
    assert table.best_any == "b"
    assert table.best_feasible == "a"
    assert table.rows[1].metrics == {"x": 2**53 + 1}
    big = compare_scores({"a": {"x": 2**60}, "b": {"x": np.int64(2**60 + 1)}}, sort_by="x")
    assert big.best_any == "b"
