"""One CSV cell over 131,072 characters (the csv module's own field limit) refused the
whole file, `field larger than field limit (131072)` (a hunter's report, issue 18
thirtieth pass): a cell may be as long as the file; a run whose document is over the
documents' 1 MiB cap is refused by itself, the other rows imported."""

from __future__ import annotations

import csv
from pathlib import Path

from conftest import ExpRepo
from support import CliCall, run_cli
from test_import_common import totals


def test_a_long_cell_is_read_and_an_oversized_run_refused_alone(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    limit = csv.field_size_limit()
    path = tmp_path / "runs.csv"
    path.write_text(
        "run,sub_step,note,seg_total,pde_mean,train_time_min\n"
        f"r1,1,{'x' * 200_000},57,15,45\n"
        f"r2,2,{'y' * 1_100_000},58,15,45\n"
        "r3,3,ok,59,15,45\n",
        encoding="utf-8",
    )
    res = cli(["import", "csv", str(path), "--id-column", "run", "--study", "s"], exp_repo.path)
    assert res.code == 1, res
    assert "field limit" not in res.out + res.err
    assert totals(res.out) == "2 new, 0 updated, 0 unchanged, 1 refused", res.out
    assert "refused   r2 (id r2): experiments/s/r2.json: invalid-json: document is" in res.out
    assert len((exp_repo.path / "experiments/s/r1.json").read_text()) > 200_000
    assert run_cli(["validate"], exp_repo.path).code == 0
    assert csv.field_size_limit() == limit  # the process's limit put back
