"""How `compare`, `list`, `rank` and `show` spell a run's values (docs/spec.md §4.1):
CSV as the report spells them, text and Markdown with the digits that tell a line's or
a column's values apart, a null param apart from a missing one. Through the real CLI
in real repositories (a user's hunt, issue 18 twenty-fifth pass)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli

E = 123456789012345678901234567890  # no double holds it


def cli(repo: ExpRepo, *args: str) -> str:
    code, out, err = run_cli(list(args), cwd=repo.path)
    assert_clean_output(out, err)
    assert code == 0, err
    return out


def metrics(seg_total: float, pde_mean: float) -> dict[str, float]:
    return {"seg_total": seg_total, "pde_mean": pde_mean, "train_time_min": 1}


@pytest.fixture
def close(exp_repo: ExpRepo) -> ExpRepo:
    """Study `c`: c1 and c2 a 1e-7 apart in a param and the ranking metric, c2 with a
    null param `x`, c3 with an integer param no double holds."""
    r = exp_repo
    r.add_experiment("c1", study="c", params={"sub_step": 1, "f": 0.1234567})
    r.add_result("c1", study="c", metrics=metrics(0.1234567, 0.1))
    r.add_experiment("c2", study="c", params={"sub_step": 1, "x": None, "f": 0.1234568})
    r.add_result("c2", study="c", metrics=metrics(0.1234568, 0.1))
    r.add_experiment("c3", study="c", params={"sub_step": 1, "e": E, "f": 0.1234567})
    r.add_result("c3", study="c", metrics=metrics(1e2, 0.3))
    r.commit("study c")
    return r


def csv_rows(out: str) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in csv.reader(io.StringIO(out))}


def test_compare_spells_csv_exactly_and_text_with_the_digits_that_differ(close: ExpRepo) -> None:
    """`compare --format csv` gave every metric six significant digits (0.1234567 and
    0.1234568 both 0.123457, beside `better`) and an integer param as `123456… (30
    digits)`, where `list --format csv` gives each value as the report spells it; text
    and Markdown rounded a metric line alike though its values differ."""
    cells = csv_rows(cli(close, "compare", "c1", "c2", "c3", "--format", "csv"))
    assert cells["params.e"] == ["", "", str(E)]  # (no value: an empty cell)
    assert cells["params.f"] == ["0.1234567", "0.1234568", "0.1234567"]
    seg = cells["metrics.seg_total"]
    assert seg[0] == "0.1234567" and seg[1].startswith("0.1234568 (+1"), seg
    assert seg[2] == "100 (+99.8765433, better)", seg
    text = cli(close, "compare", "c1", "c2", "c3")
    (line,) = [ln for ln in text.splitlines() if "metrics.seg_total" in ln]
    assert line.split()[2:5] == ["0.1234567", "0.1234568", "(+1e-07,"], line
    md = cli(close, "compare", "c1", "c2", "--format", "md")
    (line,) = [ln for ln in md.splitlines() if "seg\\_total" in ln]
    assert line.startswith("| metrics.seg\\_total | 0.1234567 | 0.1234568 (+1e-07, better) |")


def test_list_and_columns_spell_a_column_with_the_digits_that_differ(close: ExpRepo) -> None:
    """`list`'s metric cells and the `--columns` cells of `list` and `rank` were six
    significant digits, while `rank`'s own metric columns got the digits that tell a
    column apart: one row showed seg_total as 0.1234568 and 0.123457, and `list` showed
    c1 and c2 alike in the order `rank` tells them apart."""
    out = cli(close, "rank", "--study", "c", "--columns", "params.f,metrics.seg_total")
    rows = {ln.split()[1]: ln.split() for ln in out.splitlines()[2:5]}
    assert rows["c2"][4] == rows["c2"][8] == "0.1234568", out
    assert rows["c1"][7:9] == ["0.1234567", "0.1234567"], out
    assert rows["c3"][7:9] == ["0.1234567", "100"], out
    out = cli(close, "list", "--study", "c", "--format", "md")
    seg = [ln.split(" | ")[3] for ln in out.splitlines()[2:]]
    assert seg == ["0.1234567", "0.1234568", "100"], out
    out = cli(close, "list", "--study", "c", "--columns", "params.f")
    assert [ln.split()[6] for ln in out.splitlines()[2:]] == ["0.1234567", "0.1234568", "0.1234567"]
    cells = csv_rows(cli(close, "list", "--study", "c", "--columns", "params.e", "--format", "csv"))
    assert cells["c3"][2] == "100" and cells["c3"][5] == str(E), cells


def test_a_null_param_is_told_from_a_missing_one(close: ExpRepo) -> None:
    """`compare` read a param that is null and one a run does not have alike (`-` and
    `-`, `"differs": false`), as did `show` and `--columns`, where `--where params.x =
    null` matches only the null; `show` printed a null as `-` and the string "null" as
    `null`."""
    close.add_experiment("c4", study="c", params={"sub_step": 1, "x": "null"})
    doc = json.loads(cli(close, "compare", "c1", "c2", "c4", "--format", "json"))
    x = next(f for f in doc["fields"] if f["field"] == "params.x")
    assert x["values"] == [None, None, "null"] and x["present"] == [False, True, True]
    assert x["differs"] is True
    seg = next(f for f in doc["fields"] if f["field"] == "metrics.seg_total")
    assert seg["present"] == [True, True, False] and seg["values"][2] is None
    assert seg["deltas"][2] is None
    same = json.loads(cli(close, "compare", "c2", "c2", "--format", "json"))
    x = next(f for f in same["fields"] if f["field"] == "params.x")
    assert x["present"] == [True, True] and not x["differs"]
    (line,) = [
        ln for ln in cli(close, "compare", "c1", "c2", "c4").splitlines() if "params.x" in ln
    ]
    assert line.split() == ["*", "params.x", "-", "null", '"null"'], line
    out = cli(close, "list", "--where", "params.x = null", "--format", "json")
    assert [r["id"] for r in json.loads(out)["runs"]] == ["c2"]
    out = cli(close, "list", "--study", "c", "--columns", "params.x")
    assert [ln.split()[6] for ln in out.splitlines()[2:]] == ["-", "null", "-", '"null"'], out
    cells = csv_rows(cli(close, "list", "--study", "c", "--columns", "params.x", "--format", "csv"))
    # (CSV: no value an empty cell, a string that reads as null JSON-quoted)
    assert [cells[i][5] for i in ("c1", "c2", "c4")] == ["", "null", '"null"'], cells
    out = cli(close, "rank", "--study", "c", "--columns", "params.x")
    assert {ln.split()[1]: ln.split()[7] for ln in out.splitlines()[2:5]} == {
        "c1": "-",
        "c2": "null",
        "c3": "-",
    }, out
    assert "\n  x = null\n" in cli(close, "show", "c2")
    assert '\n  x = "null"\n' in cli(close, "show", "c4")


def test_compare_deltas_are_those_of_the_decimals_as_diff_gives_them(close: ExpRepo) -> None:
    """`compare`'s deltas were float subtractions: 0.3 -> 0.1 gave -0.19999999999999998
    where `diff` gives -0.2 for the same change (docs/spec.md §2.3)."""
    close.add_result("c2", study="c", metrics=metrics(0.1234568, 0.3))
    close.commit("c2 at 0.3")
    close.add_result("c2", study="c", metrics=metrics(0.1234568, 0.1))
    close.commit("c2 at 0.1")
    out = cli(close, "diff", "HEAD~1", "HEAD", "--format", "json")
    (row,) = [r for r in json.loads(out) if r["metric"] == "pde_mean"]
    assert row["delta"] == -0.2
    doc = json.loads(cli(close, "compare", "c3", "c2", "c1", "--format", "json"))
    fields = {f["field"]: f for f in doc["fields"]}
    assert fields["metrics.pde_mean"]["deltas"] == [None, -0.2, -0.2]
    assert fields["metrics.seg_total"]["deltas"] == [None, -99.8765432, -99.8765433]
    kept = fields["metrics.train_time_min"]["deltas"]
    assert kept == [None, 0, 0] and type(kept[1]) is int  # integers stay integers
    cells = csv_rows(cli(close, "compare", "c1", "c2", "--format", "csv"))
    assert cells["metrics.seg_total"][1] == "0.1234568 (+1e-7, better)"


def test_a_param_name_holding_a_backtick_can_be_written(close: ExpRepo) -> None:
    """A backtick-quoted name ended at the next backtick, with no escape: a param named
    a`b could be neither filtered nor shown as a column. A doubled backtick inside a
    quoted name is one backtick, as `''` is one quote in a string."""
    close.add_experiment("c5", study="c", params={"sub_step": 1, "a`b": 7, "`": "tick"})
    out = cli(close, "list", "--where", "params.`a``b` = 7", "--format", "json")
    assert [r["id"] for r in json.loads(out)["runs"]] == ["c5"]
    out = cli(close, "list", "--where", "params.```` = 'tick'", "--columns", "params.`a``b`")
    header, _, row = out.splitlines()
    assert header.split()[-2:] == ["params.a`b", "reason"] and row.split()[-1] == "7", out
    code, _, err = run_cli(["list", "--where", "params.`a``b = 7"], cwd=close.path)
    assert code == 2 and "column 8: unterminated `quoted name`" in err, err


def test_diff_and_compare_take_one_difference_of_decimals() -> None:
    """`diff` and `compare` subtract the decimals as written (0.3 − 0.1 is -0.2, not
    -0.19999999999999998), and two integers stay an integer: `diff --format json` gave
    an integer metric's change as 2.0 once its delta was taken as decimals (the final
    read, issue 18 twenty-fifth pass), where it had given 2."""
    from expflow_git.documents import difference

    assert difference(0.1, 0.3) == -0.2 and difference(1.1, 1.0) == 0.1
    assert difference(52, 50) == 2 and type(difference(52, 50)) is int
    assert type(difference(52, 50.0)) is float


def test_show_spells_one_runs_numbers_whole(close: ExpRepo) -> None:
    """`show` printed one run's params and metrics to six digits: c1's 0.1234567 read
    0.123457, as c2's 0.1234568 did, on the one page meant to show everything about a
    run. It prints them as the report spells them; a long integer stays abbreviated."""
    out = cli(close, "show", "c1")
    assert "\n  f = 0.1234567\n" in out and "\n  seg_total = 0.1234567\n" in out, out
    assert "0.123457\n" not in out
    assert "\n  e = 123456… (30 digits)\n" in cli(close, "show", "c3")
