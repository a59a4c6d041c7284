"""One CSV convention for a run's values in every CSV the tool writes (`list`, `rank
--columns`, `compare`; docs/spec.md §4.1): a missing value is an empty cell, null
`null`, booleans `true`/`false`, numbers as the document spells them, a string as it
is unless a reader would take it for something else (then JSON-quoted), and a cell a
spreadsheet would run as a formula prefixed with `'`. Through the real CLI in a real
repository (a reviewer's finding, issue 18 twenty-sixth pass: the string "-" was a
missing param's `-`, the string "null" a null's `null`, "1" the number 1)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli
from hypothesis import given
from hypothesis import strategies as st

MISSING = object()  # what the reader makes of an empty cell

# Each run's params.arch and params.tag (MISSING: the record has none).
VALUES: dict[str, tuple[object, object]] = {
    "e1": ("unet", None),
    "e2": ("-", "null"),
    "e3": (MISSING, MISSING),  # pending, no result
    "e4": ("1", 1),
    "e5": ("", True),
    "e6": ("true", "-1"),
    "e7": ("=1+2", "'=1+2"),
    "e8": ('"q"', "NaN"),
    "e9": (" 1e5", "-x"),
    "e10": ("a\tb", "N/A"),
    "e11": (-1, 0.5),
    "e12": ("False", "inf"),
}

# Each cell as the CSV reader gives it back.
CELLS: dict[str, tuple[str, str]] = {
    "e1": ("unet", "null"),
    "e2": ("-", '"null"'),
    "e3": ("", ""),
    "e4": ('"1"', "1"),
    "e5": ('""', "true"),
    "e6": ('"true"', '"-1"'),
    "e7": ("'=1+2", '"\'=1+2"'),
    "e8": ('"\\"q\\""', '"NaN"'),
    "e9": ('" 1e5"', "'-x"),
    "e10": ('"a\\tb"', '"N/A"'),
    "e11": ("-1", "0.5"),
    "e12": ('"False"', '"inf"'),
}

NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def read_value(cell: str) -> object:
    """A cell read back by the convention docs/spec.md §4.1 documents."""
    if cell == "":
        return MISSING
    if cell.startswith('"') or cell in ("null", "true", "false") or NUMBER.fullmatch(cell):
        return json.loads(cell)
    if cell.startswith("'"):
        return cell[1:]  # the formula guard's prefix
    return cell


@pytest.fixture
def runs(exp_repo: ExpRepo) -> ExpRepo:
    r = exp_repo
    for exp_id, (arch, tag) in VALUES.items():
        params = {"sub_step": 1}
        params |= {} if arch is MISSING else {"arch": arch}
        params |= {} if tag is MISSING else {"tag": tag}
        if exp_id == "e3":
            r.add_experiment(exp_id, study="s", status="pending", params=params)
            continue
        r.add_experiment(exp_id, study="s", params=params)
        r.add_result(exp_id, study="s")
    r.commit("study s")
    return r


def cli(repo: ExpRepo, *args: str) -> str:
    code, out, err = run_cli(list(args), cwd=repo.path)
    assert_clean_output(out, err)
    assert code == 0, err
    return out


def table(out: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(out)))


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            safe = cell == "-" or NUMBER.fullmatch(cell) or "(" in cell  # (a delta)
            assert safe or cell.lstrip()[:1] not in ("=", "+", "-", "@"), cell


def test_list_rank_and_compare_write_one_csv_convention(runs: ExpRepo) -> None:
    """A missing param is an empty cell, a null `null`, and a string a reader would take
    for something else JSON-quoted: every value reads back as itself, and `list`,
    `rank --columns` and `compare` write the same cell for it."""
    columns = "params.arch,params.tag"
    listed = table(cli(runs, "list", "--study", "s", "--columns", columns, "--format", "csv"))
    header, *rows = listed
    arch, tag = header.index("params.arch"), header.index("params.tag")
    got = {row[0]: (row[arch], row[tag]) for row in rows}
    assert got == CELLS, got
    for exp_id, cells in got.items():
        assert tuple(map(read_value, cells)) == VALUES[exp_id], (exp_id, cells)
    # The repro: a string "-", a missing param, a null and the string "null" differ.
    assert len({got["e2"][0], got["e3"][0], got["e1"][1], got["e2"][1]}) == 4
    seg = header.index("seg_total")
    assert {row[0]: row[seg] for row in rows}["e3"] == ""  # no result: no metric
    assert_no_formula(listed)

    ids = list(VALUES)
    compared = table(cli(runs, "compare", *ids, "--format", "csv"))
    assert compared[0] == ["field", *ids]
    lines = {row[0]: row[1:] for row in compared[1:]}
    assert lines["params.arch"] == [got[i][0] for i in ids], lines["params.arch"]
    assert lines["params.tag"] == [got[i][1] for i in ids], lines["params.tag"]
    assert lines["metrics.seg_total"][ids.index("e3")] == ""
    assert_no_formula(compared)

    ranked = table(cli(runs, "rank", "--study", "s", "--columns", columns, "--format", "csv"))
    header, *rows = ranked
    arch, tag = header.index("params.arch"), header.index("params.tag")
    assert {row[1]: (row[arch], row[tag]) for row in rows} == {
        i: c for i, c in CELLS.items() if i != "e3"
    }
    assert_no_formula(ranked)


def test_the_text_table_still_quotes_strings(runs: ExpRepo) -> None:
    """The tables for people keep their convention: `-` where the run has none, a
    string in quotes."""
    out = cli(runs, "list", "--study", "s", "--columns", "params.arch,params.tag")
    cells = {ln.split()[0]: ln.split()[6:8] for ln in out.splitlines()[2:]}
    assert cells["e1"] == ['"unet"', "null"], out
    assert cells["e2"] == ['"-"', '"null"'] and cells["e3"][-2:] == ["-", "-"], out
    assert cells["e4"] == ['"1"', "1"], out


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=("Cs",)))  # (no lone surrogate: not JSON)
    | st.sampled_from(["-", "-1", "+1", "=1", "'=1", " =1", "NaN", "N/A", "None", "1_0", '"'])
)


@given(SCALARS)
def test_every_value_reads_back_as_itself_and_runs_no_formula(value: object) -> None:
    """The convention is one-to-one: any param value a record may hold, written by the
    CSV writer, reads back as itself; no cell starts a formula, whatever the string."""
    from expflow_git.render.table import csv_table, csv_value

    out = csv_table(["id", "v"], [["e1", csv_value(value)]])
    (_, (_, cell)) = table(out)
    back = read_value(cell)
    # (a double as the report spells it, its shortest spelling: 1.0 is `1`, which reads
    # back as the same double)
    if type(value) is float:
        assert isinstance(back, (int, float)) and float(back) == value, (value, cell)
    else:
        assert back == value and type(back) is type(value), (value, cell)
    assert cell == "-" or NUMBER.fullmatch(cell) or cell.lstrip()[:1] not in "=+-@\uff1d", cell
