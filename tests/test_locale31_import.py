"""A filesystem encoding that is not UTF-8 (LC_ALL=C without Python's UTF-8 mode) and
records below a folder whose name is not ASCII: an import read them back by the root
joined to git's spelling of the path (`importers/common._Context`), which names other
bytes there, so an imported run moved to `experiments/stüdy/` was "no valid JSON
document" and refused on re-import, where a UTF-8 locale found it unchanged (issue 18
thirty-first pass, left by the thirtieth). The disk is now asked by the OS's names
(`Layout.disk`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output, experiment_doc
from support import run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

ASCII = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
FOLDER = "st\u00fcdy"


def _import(repo: ExpRepo, csv: Path, env: dict[str, str] | None = None, code: int = 0) -> str:
    res = run_cli(["import", "csv", str(csv), "--id-column", "run", "--study", "s"], repo.path, env)
    assert_clean_output(res.out, res.err)
    assert res.code == code, res
    return res.out + res.err


@pytest.mark.parametrize("env", [None, ASCII], ids=["utf-8", "ascii"])
def test_a_reimport_finds_its_run_moved_below_a_non_ascii_folder(
    committed_repo: ExpRepo, tmp_path: Path, env: dict[str, str] | None
) -> None:
    csv = tmp_path / "runs.csv"
    csv.write_text("run,seg_total,pde_mean,train_time_min\nr-001,57.09,15.0,45.5\n")
    assert "1 new" in _import(committed_repo, csv)
    moved = committed_repo.path / "experiments" / FOLDER
    moved.mkdir()
    (committed_repo.path / "experiments/s/r-001.json").rename(moved / "r-001.json")
    said = _import(committed_repo, csv, env)
    assert "0 new, 0 updated, 1 unchanged, 0 refused" in said, said


def test_an_id_taken_below_a_non_ascii_folder_is_refused_for_what_it_is(
    committed_repo: ExpRepo, tmp_path: Path
) -> None:
    committed_repo.write_json(f"experiments/{FOLDER}/r-001.json", experiment_doc("r-001"))
    csv = tmp_path / "runs.csv"
    csv.write_text("run,seg_total,pde_mean,train_time_min\nr-001,57.09,15.0,45.5\n")
    said = _import(committed_repo, csv, ASCII, code=1)  # (every row refused)
    assert "id 'r-001' is taken: its record was not imported" in said, said
    assert "no valid JSON" not in said, said
