"""The Python API's record methods do work that does not grow with the work tree (issue
18 thirtieth pass, a user's hunt): one `run()` listed the experiments and results
folders 8 times, and `new`, `log_result`, `start`, `fail` and `run` each read and
schema-checked every document of the work tree (`get`) to return or check one run, so
a sweep of N runs logged into a repository of M runs cost N·M. Counted here, not timed:
the folder walks and the documents read for one call are the same at 10 and at 200
runs. And `get` (which now reads only the documents named by the id) returns what the
whole tree's `runs()` holds for that id, in every case the whole-tree read decides."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo, experiment_doc, result_doc, run_cli
from support import record_calls

from expflow_git import Repository
from expflow_git.query import runs as query_runs

pytestmark = pytest.mark.usefixtures("isolated_env")

STUDY = "pdebench-task1"
SEED = {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}


def _fill(exp_repo: ExpRepo, count: int) -> None:
    """`count` finished runs (record and result) written as files, half of them committed."""
    for i in range(count):
        exp_repo.add_experiment(f"old-{i:04d}")
        exp_repo.add_result(f"old-{i:04d}")
        if i == count // 2:
            exp_repo.commit("half")


Counts = dict[str, int]


def _counted(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, call: Callable[[], object]
) -> Counts:
    """How many walks of the work tree's folders, documents read and documents checked
    `call()` made (a walk of the package's own files, once a process, is not counted)."""
    with monkeypatch.context() as patched:
        walks = record_calls(patched, os, "walk")
        reads = record_calls(patched, query_runs, "read_document")
        checked = record_calls(patched, query_runs, "check_content")
        call()
    ours = [args for args in walks if Path(args[0]).is_relative_to(repo.root)]
    return {"walks": len(ours), "reads": len(reads), "checked": len(checked)}


def _sweep(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> dict[str, Counts]:
    """The counts of each record method, on runs of their own."""

    def run_new() -> None:
        with repo.run("sweep-run", study=STUDY, params={"lr": 0.1}) as active:
            active.log(**SEED)

    def run_pending() -> None:
        with repo.run("sweep-pending") as active:
            active.log(**SEED)

    def run_raising() -> None:
        with pytest.raises(RuntimeError), repo.run("sweep-raising", study=STUDY):
            raise RuntimeError("boom")

    counts = {"run (new)": _counted(repo, monkeypatch, run_new)}
    repo.new("sweep-pending", study=STUDY)
    counts["run (pending)"] = _counted(repo, monkeypatch, run_pending)
    counts["run (raising)"] = _counted(repo, monkeypatch, run_raising)
    counts["new"] = _counted(repo, monkeypatch, lambda: repo.new("sweep-a", study=STUDY))
    counts["start"] = _counted(repo, monkeypatch, lambda: repo.start("sweep-a"))
    counts["log_result"] = _counted(repo, monkeypatch, lambda: repo.log_result("sweep-a", SEED))
    repo.new("sweep-b", study=STUDY)
    counts["fail"] = _counted(repo, monkeypatch, lambda: repo.fail("sweep-b", "diverged"))
    counts["get"] = _counted(repo, monkeypatch, lambda: repo.get("sweep-a"))
    return counts


def test_record_methods_do_not_grow_with_the_work_tree(
    tmp_path: Path,
    exp_repo: ExpRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = ExpRepo(tmp_path / "small")
    shutil.copytree(exp_repo.path, small.path, symlinks=True)
    _fill(small, 10)
    _fill(exp_repo, 200)
    at_10 = _sweep(Repository(small.path), monkeypatch)
    at_200 = _sweep(Repository(exp_repo.path), monkeypatch)
    assert at_200 == at_10
    for method, counts in at_200.items():
        # The run's record and result at most (every document of the work tree was read).
        assert counts["reads"] <= 2 and counts["checked"] <= 2, (method, counts)
        # Each folder (experiments/, results/) walked once for `run`'s checks on entry and
        # once for its result's (or its failure's): a `run()` made 8 walks.
        assert counts["walks"] <= 4, (method, counts)
    assert at_200["get"] == {"walks": 0, "reads": 2, "checked": 2}  # its record and result


def _same_as_the_tree(repo: Repository, ids: list[str]) -> None:
    """`get(id)` is the run `runs()` (every document read and checked) holds, or a
    KeyError where it holds none."""
    everything = {run.id: run for run in repo.runs()}
    for exp_id in ids:
        if exp_id in everything:
            assert repo.get(exp_id) == everything[exp_id], exp_id
        else:
            with pytest.raises(KeyError):
                repo.get(exp_id)


def test_returned_runs_are_what_get_returns(exp_repo: ExpRepo) -> None:
    """What `new`, `start`, `log_result`, `fail` and `skip` return is `get(id)` afterwards,
    and the run `runs()` holds."""
    exp_repo.add_experiment("other-1")
    exp_repo.add_result("other-1")
    repo = Repository(exp_repo.path)
    returned: dict[str, Any] = {}
    returned["plain"] = repo.new("plain", study=STUDY)
    returned["full"] = repo.new(
        "full",
        study=STUDY,
        params={"lr": 0.001, "depth": 4, "name": "fno", "flag": True, "none": None},
        tags=["a", "b"],
        seed=7,
        title="a title",
    )
    returned["given-failed"] = repo.new(
        "given-failed", study=STUDY, status="failed", reason="no GPU"
    )
    repo.new("started", study=STUDY)
    returned["started"] = repo.start("started")
    returned["full"] = repo.log_result("full", SEED, splits={"holdout": {"seg_total": 50.0}})
    returned["plain"] = repo.fail("plain", "diverged")
    repo.new("skipped", study=STUDY)
    pin = str(4000 + 821)
    assert run_cli(["pin", "init", pin], cwd=exp_repo.path).code == 0
    returned["skipped"] = repo.skip("skipped", "not needed", pin=pin)
    with repo.run("trained", study=STUDY, params={"lr": 0.5}, tags=["t"]) as active:
        active.log(**SEED)
    repo.new("pending-trained", study=STUDY)
    with repo.run("pending-trained") as active:
        active.log(**SEED)
    with pytest.raises(ValueError), repo.run("broken", study=STUDY):
        raise ValueError("bad")
    for exp_id, run in returned.items():
        assert run == repo.get(exp_id), exp_id
    assert returned["full"].metrics == SEED and returned["full"].result_path
    assert returned["started"].status.value == "running"
    assert returned["skipped"].status.value == "skipped"
    ids = [*returned, "trained", "pending-trained", "broken", "other-1", "exp-404"]
    _same_as_the_tree(repo, ids)


def _tree_cases(exp_repo: ExpRepo) -> list[str]:
    """A work tree with every case the whole tree's read decides; the ids to look up."""
    exp_repo.add_experiment("ok")
    exp_repo.add_result("ok")
    exp_repo.add_experiment("no-result", status="pending")
    # One id, two records (two studies): neither is a run.
    exp_repo.add_experiment("twice")
    exp_repo.add_experiment("twice", study="other-study")
    # Two results of one run: the run has neither.
    exp_repo.add_experiment("two-results")
    exp_repo.add_result("two-results")
    exp_repo.write_json("results/archive/two-results.json", result_doc("two-results"))
    # A record failing its schema; a result failing its schema (the run has none).
    exp_repo.write_json(exp_repo.exp_path("bad-record"), {"id": "bad-record"})
    exp_repo.add_experiment("bad-result")
    exp_repo.write_json(exp_repo.res_path("bad-result"), {"experiment": "bad-result"})
    # A record whose id is not its file name (stem), either way round.
    exp_repo.write_json(exp_repo.exp_path("named-a"), experiment_doc("named-b"))
    # Not JSON; a record behind a symbolic link; a result with an unregistered metric.
    exp_repo.write(exp_repo.exp_path("not-json"), "{nope")
    exp_repo.add_experiment("linked-target")
    os.symlink("linked-target.json", exp_repo.path / exp_repo.exp_path("linked"))
    exp_repo.add_experiment("unregistered")
    exp_repo.add_result("unregistered", metrics={**SEED, "no_such_metric": 1.0})
    # A record git ignores: not the repository's.
    (exp_repo.path / ".gitignore").write_text("experiments/pdebench-task1/ignored.json\n")
    exp_repo.add_experiment("ignored")
    # Committed and then deleted from the work tree (git still lists it).
    exp_repo.add_experiment("deleted")
    exp_repo.commit("some")
    (exp_repo.path / exp_repo.exp_path("deleted")).unlink()
    return [
        *("ok", "no-result", "twice", "two-results", "bad-record", "bad-result"),
        *("named-a", "named-b", "not-json", "linked", "linked-target", "unregistered"),
        *("ignored", "deleted", "exp-404", "a/b", "ok.json", "OK", ""),
    ]


def test_get_reads_one_run_as_the_whole_tree_does(exp_repo: ExpRepo) -> None:
    ids = _tree_cases(exp_repo)
    repo = Repository(exp_repo.path)
    _same_as_the_tree(repo, ids)
    assert repo.get("two-results").metrics == {}
    assert repo.get("two-results").result_path is None
    assert (
        repo.get("ok").metrics
        == json.loads((exp_repo.path / exp_repo.res_path("ok")).read_text())["metrics"]
    )


def test_get_outside_git_reads_one_run_as_the_whole_tree_does(
    tmp_path: Path, exp_repo: ExpRepo
) -> None:
    ids = _tree_cases(exp_repo)
    plain = tmp_path / "plain"
    shutil.copytree(exp_repo.path, plain, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    repo = Repository(plain)
    assert repo.runs(), "no run read outside git"
    _same_as_the_tree(repo, ids)
