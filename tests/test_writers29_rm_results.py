"""`rm ID` deletes every result of the run, wherever the policy's globs take results
(issue 18 twenty-ninth pass): it deleted the first one only, so a copy in
results/archive/ stayed a result without its record, and a new run of the same id
inherited it (`new` showed its metrics, `result` refused "a result exists already").
A run HEAD holds several results of is refused whole: one correction declares one
deletion."""

from __future__ import annotations

import shutil

from conftest import ExpRepo
from support import run_cli

METRICS = ["--metric", "seg_total=1", "--metric", "pde_mean=1", "--metric", "train_time_min=1"]


def _run_with_copy(repo: ExpRepo, exp_id: str, copy_to: str) -> None:
    """A run with a result, and a copy of that result at `copy_to` (`results/X/ID.json`)."""
    assert run_cli(["new", exp_id, "--study", "s", "--param", "sub_step=1"], repo.path).code == 0
    assert run_cli(["result", exp_id, *METRICS], repo.path).code == 0
    (repo.path / copy_to).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(repo.path / f"results/s/{exp_id}.json", repo.path / copy_to)


def test_rm_deletes_a_copy_in_the_archive_too(exp_repo: ExpRepo) -> None:
    _run_with_copy(exp_repo, "r1", "results/archive/r1.json")
    res = run_cli(["rm", "r1", "--force"], exp_repo.path)
    assert res.code == 0, res
    assert "removed results/s/r1.json" in res.out and "removed results/archive/r1.json" in res.out
    assert not (exp_repo.path / "results/archive/r1.json").exists()
    assert run_cli(["validate"], exp_repo.path).code == 0
    # A new run of the id starts afresh: no metrics inherited, and its result is written.
    assert run_cli(["new", "r1", "--study", "s", "--param", "sub_step=1"], exp_repo.path).code == 0
    shown = run_cli(["list", "--format", "csv"], exp_repo.path)
    assert shown.code == 0 and "r1,s,pending" in shown.out.replace(" ", ""), shown
    assert run_cli(["result", "r1", *METRICS], exp_repo.path).code == 0


def test_rm_of_a_committed_result_deletes_an_uncommitted_copy(committed_repo: ExpRepo) -> None:
    assert (
        run_cli(["new", "r2", "--study", "s", "--param", "sub_step=1"], committed_repo.path).code
        == 0
    )
    assert run_cli(["result", "r2", *METRICS], committed_repo.path).code == 0
    committed_repo.commit("r2")
    shutil.copytree(committed_repo.path / "results/s", committed_repo.path / "results/archive")
    res = run_cli(["rm", "r2", "--force", "--reason", "a bad run"], committed_repo.path)
    assert res.code == 0, res
    assert "(a correction: commit it with the result)" in res.out, res
    assert not (committed_repo.path / "results/archive/r2.json").exists()
    assert not (committed_repo.path / "results/s/r2.json").exists()


def test_several_committed_results_are_refused_whole(committed_repo: ExpRepo) -> None:
    _run_with_copy(committed_repo, "r3", "results/t/r3.json")
    committed_repo.commit("r3 twice, past the hooks")
    res = run_cli(["rm", "r3", "--force", "--reason", "a bad run"], committed_repo.path)
    assert res.code == 1, res
    assert "several committed results (results/s/r3.json, results/t/r3.json)" in res.err, res
    assert "Traceback" not in res.err
    assert committed_repo.status() == ""  # nothing written, nothing deleted
