"""`rm` of a run HEAD holds two results of (a copy committed past the hooks): with the
copy in `results/zarch/` it refused with "several committed results … rm deletes none of
them", but with the copy in `results/archive/`, which sorts before the study's folder,
`Layout.run_result` took the copy as the committed result and refused the study's own
as a move ("committed as results/archive/exp-003.json; commit that move first"), which
nobody made (a review, issue 18 thirtieth pass). Both layouts give the same refusal,
and nothing is deleted."""

from __future__ import annotations

import shutil

import pytest
from conftest import ExpRepo, assert_clean_output, experiment_doc, result_doc
from support import run_cli


@pytest.mark.parametrize("folder", ["archive", "zarch"])
def test_rm_refuses_several_committed_results_alike(committed_repo: ExpRepo, folder: str) -> None:
    record = committed_repo.write_json(
        committed_repo.exp_path("exp-003"), experiment_doc("exp-003")
    )
    result = committed_repo.write_json(committed_repo.res_path("exp-003"), result_doc("exp-003"))
    copy = committed_repo.path / "results" / folder / "exp-003.json"
    copy.parent.mkdir(parents=True)
    shutil.copy(result, copy)
    committed_repo.commit("a run and a copy of its result")
    res = run_cli(["rm", "exp-003", "--force", "--reason", "bad"], committed_repo.path)
    assert_clean_output(res.out, res.err)
    assert res.code == 1, res
    assert "commit that move first" not in res.err, res
    assert "experiment 'exp-003' has several committed results" in res.err, res
    assert "deletes none of them" in res.err, res
    assert record.exists() and result.exists() and copy.exists()
    assert committed_repo.status() == ""
