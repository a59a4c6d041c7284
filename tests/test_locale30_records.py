"""A filesystem encoding that is not UTF-8 (LC_ALL=C without Python's UTF-8 mode: ASCII)
and a committed run whose files lie below a folder whose name is not ASCII: the record
commands listed the work tree by the locale's decoding (`Layout.index`, os.walk's str
names) and compared those names with git's (UTF-8), so `result` and `rm` refused a run
nobody moved: "results/st\\xc3\\xbcdy/exp-201.json: the result of 'exp-201' is committed
as results/st\\xfcdy/exp-201.json; commit that move first" (a review, issue 18
thirtieth pass). A layout's paths are git's convention now (`workspace.repo_path`), and
the disk is asked by the OS's names (`workspace.os_path`)."""

from __future__ import annotations

import pytest
from conftest import ExpRepo, assert_clean_output, experiment_doc, result_doc
from support import run_cli

ASCII = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
FOLDER = "st\u00fcdy"  # stüdy (the record's study is pdebench-task1: moved there)
RECORD = f"experiments/{FOLDER}/exp-201.json"
RESULT = f"results/{FOLDER}/exp-201.json"
SHOWN = "st\\xfcdy"  # as an ASCII stream shows it
METRICS = ["--metric", "seg_total=1", "--metric", "pde_mean=2", "--metric", "train_time_min=3"]


@pytest.fixture
def odd_repo(committed_repo: ExpRepo) -> ExpRepo:
    committed_repo.write_json(RECORD, experiment_doc("exp-201"))
    committed_repo.write_json(RESULT, result_doc("exp-201"))
    committed_repo.commit("a run below a folder whose name is not ASCII")
    return committed_repo


def test_result_of_a_committed_run_is_refused_as_write_once(odd_repo: ExpRepo) -> None:
    res = run_cli(["result", "exp-201", *METRICS], odd_repo.path, env=ASCII)
    assert_clean_output(res.out, res.err)
    assert res.code == 1, res
    assert "commit that move first" not in res.err, res
    assert f"results/{SHOWN}/exp-201.json: a result exists already" in res.err, res


def test_rm_of_a_committed_run(odd_repo: ExpRepo) -> None:
    res = run_cli(["rm", "exp-201", "--force", "--reason", "bad"], odd_repo.path, env=ASCII)
    assert_clean_output(res.out, res.err)
    assert res.code == 0, res
    assert "commit that move first" not in res.err, res
    assert f"removed results/{SHOWN}/exp-201.json" in res.out + res.err, res
    assert f"removed experiments/{SHOWN}/exp-201.json" in res.out + res.err, res
    assert not (odd_repo.path / RESULT).exists()
    assert not (odd_repo.path / RECORD).exists()


def test_a_pending_run_there_is_marked_and_scored(committed_repo: ExpRepo) -> None:
    committed_repo.write_json(RECORD, experiment_doc("exp-201", status="pending"))
    res = run_cli(["result", "exp-201", *METRICS], committed_repo.path, env=ASCII)
    assert_clean_output(res.out, res.err)
    assert res.code == 0, res
    assert f"marked experiments/{SHOWN}/exp-201.json success" in res.out + res.err, res
    assert b'"status": "success"' in (committed_repo.path / RECORD).read_bytes()
    res = run_cli(["new", "exp-201", "--study", "pdebench-task1"], committed_repo.path, env=ASCII)
    assert res.code != 0, res
    assert f"experiments/{SHOWN}/exp-201.json: experiment 'exp-201' exists" in res.err, res


def test_the_same_under_utf8(odd_repo: ExpRepo) -> None:
    utf8 = {"PYTHONIOENCODING": "utf-8"}
    res = run_cli(["result", "exp-201", *METRICS], odd_repo.path, env=utf8)
    assert res.code == 1, res
    assert f"{RESULT}: a result exists already" in res.err, res
    res = run_cli(["rm", "exp-201", "--force", "--reason", "bad"], odd_repo.path, env=utf8)
    assert res.code == 0, res
    assert f"removed {RESULT}" in res.out + res.err, res


def test_result_overwrite_of_a_committed_run_writes_its_correction(odd_repo: ExpRepo) -> None:
    """`corrections.blob_id` gave git `--path=results/stüdy/…` as a str: under an ASCII
    filesystem encoding a UnicodeEncodeError traceback (the review's fixer's find)."""
    args = ["result", "exp-201", *METRICS[:2], "--metric", "pde_mean=5", *METRICS[4:]]
    res = run_cli([*args, "--overwrite", "--reason", "bad", "--force"], odd_repo.path, env=ASCII)
    assert_clean_output(res.out, res.err)
    assert res.code == 0, res
    assert b'"pde_mean": 5' in (odd_repo.path / RESULT).read_bytes()
    corrections = list((odd_repo.path / "corrections").rglob("*.json"))
    assert len(corrections) == 1, corrections
