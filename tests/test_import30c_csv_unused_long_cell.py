"""A cell over the 1 MiB cap in a column the import does not use (left out by
`--param-columns`, or with no name in the header) refused its row as "document is over
the cap" since the thirtieth pass, where the row was imported before (the cell was read
and left out). Such a cell is now left out unread and the run built from the others; a
long cell in a column the run's documents hold still refuses its run by itself (a
review, issue 18 thirtieth pass). And a quote never closed that runs past the cap is
named so, not as "field larger than field limit"."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ExpRepo, assert_clean_output
from support import run_cli
from test_import_common import totals

from expflow_git.jsonstrict import DEFAULT_MAX_BYTES

LONG = "x" * (DEFAULT_MAX_BYTES + 1)
HEAD = "id,seg_total,pde_mean,train_time_min"  # (the test policy's required metrics)
M = "57,15,45"


def _record(repo: ExpRepo, run: str) -> dict[str, object]:
    data = json.loads((repo.path / f"experiments/s/{run}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _import(repo: ExpRepo, path: Path, *more: str) -> tuple[int, str, str]:
    args = ["import", "csv", str(path), "--id-column", "id", "--study", "s", *more]
    res = run_cli(args, repo.path)
    assert_clean_output(res.out, res.err)
    return res.code, res.out, res.err


def test_a_long_cell_in_a_column_left_out_is_left_out(exp_repo: ExpRepo, tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text(f"{HEAD},lr,log\nr1,{M},0.1,{LONG}\nr2,{M},0.2,ok\n", encoding="utf-8")
    code, out, err = _import(exp_repo, path, "--param-columns", "lr")
    assert code == 0, (out, err)
    assert totals(out) == "2 new, 0 updated, 0 unchanged, 0 refused", out
    assert _record(exp_repo, "r1")["params"] == {"lr": "0.1"}
    assert _record(exp_repo, "r2")["params"] == {"lr": "0.2"}
    assert run_cli(["validate"], exp_repo.path).code == 0


def test_a_long_cell_in_a_column_with_no_name_is_left_out(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    path = tmp_path / "g.csv"
    path.write_text(
        f'{HEAD},lr,\nr1,{M},0.1,"{LONG[:10]}\n{LONG}"\nr2,{M},0.2,\n',
        encoding="utf-8",
    )
    code, out, err = _import(exp_repo, path)
    assert code == 0, (out, err)
    assert totals(out) == "2 new, 0 updated, 0 unchanged, 0 refused", out
    assert _record(exp_repo, "r1")["params"] == {"lr": "0.1"}


def test_a_long_cell_in_a_column_a_run_holds_still_refuses_its_run(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    path = tmp_path / "g.csv"
    path.write_text(f"{HEAD},lr,log\nr1,{M},0.1,{LONG}\nr2,{M},0.2,ok\n", encoding="utf-8")
    code, out, _ = _import(exp_repo, path)  # (every named column a parameter: `log` too)
    assert code == 1, out
    assert totals(out) == "1 new, 0 updated, 0 unchanged, 1 refused", out
    assert f"a cell over {DEFAULT_MAX_BYTES} characters in 'log'" in out, out
    assert not (exp_repo.path / "experiments/s/r1.json").exists()


def test_an_unclosed_quote_past_the_cap_is_named_so(exp_repo: ExpRepo, tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text(f'{HEAD},lr\nr1,{M},0.1\nr2,{M},"{LONG}\nr3,{M},2\n', encoding="utf-8")
    code, out, err = _import(exp_repo, path)
    assert code != 0 and len(err.strip().splitlines()) == 1, (out, err)
    assert "row 3 (line" in err and "an unclosed quote" in err, err
    assert "field larger than field limit" not in err, err
    assert not (exp_repo.path / "experiments/s").exists()
