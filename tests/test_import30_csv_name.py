"""A CSV file whose name is not UTF-8 (`f\\xff.csv`): the import's error quoted a
record's JSON, `not UTF-8 text (…): "tracker": "csv", "uri": "f\\xff.csv",` (a hunter's
report, issue 18 thirtieth pass). It names the file argument in one line, exit 2,
nothing written: the records name their file, and a document holds UTF-8 only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output
from support import run_cli

from expflow_git.errors import ExpflowError
from expflow_git.importers import import_csv

pytestmark = pytest.mark.skipif(
    sys.platform == "darwin", reason="the file system takes UTF-8 names only"
)


def _csv(tmp_path: Path) -> str:
    name = os.fsdecode(b"f\xff.csv")
    (tmp_path / name).write_text(
        "run,sub_step,seg_total,pde_mean,train_time_min\nr9,1,57,15,45\n", encoding="utf-8"
    )
    return str(tmp_path / name)


def test_a_non_utf8_file_name_is_named_in_one_line(exp_repo: ExpRepo, tmp_path: Path) -> None:
    path = _csv(tmp_path)
    res = run_cli(["import", "csv", path, "--id-column", "run", "--study", "s"], exp_repo.path)
    assert res.code == 2, res
    assert_clean_output(res.out, res.err)
    [line] = res.err.strip().splitlines()
    assert line.endswith(
        "f\\xff.csv: the file's name is not UTF-8, and the records name their CSV file "
        "(provenance.source); rename the file to import it (nothing read)"
    ), line
    assert '"uri"' not in line
    assert not (exp_repo.path / "experiments" / "s").exists()


def test_the_python_api_says_the_same(exp_repo: ExpRepo, tmp_path: Path) -> None:
    with pytest.raises(ExpflowError, match="the file's name is not UTF-8"):
        import_csv(_csv(tmp_path), id_column="run", study="s", root=exp_repo.path)
