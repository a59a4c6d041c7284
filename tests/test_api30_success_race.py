"""A reader of the work tree's runs (`list`, `show`, `compare`, `Repository.runs()` and
`get`: query.runs.load_runs) between a command's two writes (the record marked
`success`, then its result, under the records lock) showed a `success` without its
result (issue 18 thirtieth pass, from a hunt). A success found without a result now
has its result looked for again once the writer is done."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from conftest import ExpRepo, result_doc
from support import record_calls

from expflow_git import Repository, Status
from expflow_git.records import writer

pytestmark = pytest.mark.usefixtures("isolated_env")

STUDY = "pdebench-task1"
SEED = {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}


def _read_mid_write(
    exp_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch, read: Any
) -> tuple[Any, list[tuple[Any, ...]]]:
    """`read()` in a thread while this one, holding the records lock as `result` does,
    has marked run `mid` success and not yet written its result; the result is written
    once the reader has finished or waits for the lock. What `read()` returned, and
    the calls of `records_lock`."""
    exp_repo.add_experiment("mid", status="running")
    exp_repo.add_experiment("done")
    exp_repo.add_result("done")
    locks = record_calls(monkeypatch, writer, "records_lock")
    returned: list[Any] = []
    with writer.records_lock(exp_repo.path):
        locks.clear()
        exp_repo.add_experiment("mid", status="success")
        reader = threading.Thread(target=lambda: returned.append(read()), daemon=True)
        reader.start()
        for _ in range(400):  # until it has read (the old code) or waits (up to 20 s)
            if not reader.is_alive() or locks:
                break
            reader.join(0.05)
        exp_repo.add_result("mid")
    reader.join(30)
    assert not reader.is_alive(), "the reader still waits"
    return returned[0], locks


def test_runs_between_the_record_and_the_result(
    exp_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repository(exp_repo.path)
    runs, locks = _read_mid_write(exp_repo, monkeypatch, repo.runs)
    found = {run.id: run for run in runs}
    assert found["mid"].status is Status.SUCCESS
    assert found["mid"].metrics == result_doc("mid")["metrics"]  # it was {}
    assert found["mid"].result_path == exp_repo.res_path("mid")
    assert found["done"].result_path == exp_repo.res_path("done")
    assert locks, "no wait for the writer"


def test_get_between_the_record_and_the_result(
    exp_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repository(exp_repo.path)
    run, _ = _read_mid_write(exp_repo, monkeypatch, lambda: repo.get("mid"))
    assert (run.status, run.result_path) == (Status.SUCCESS, exp_repo.res_path("mid"))


def test_a_success_without_a_result_is_read_as_it_is(exp_repo: ExpRepo) -> None:
    """A run that succeeded with no score (`new --status success`, an import) stays one,
    and `run()` of it, which reads it under the lock, is refused rather than waiting on
    its own lock."""
    repo = Repository(exp_repo.path)
    repo.new("scoreless", study=STUDY, status="success")
    assert repo.get("scoreless").result_path is None
    assert {r.id: r.result_path for r in repo.runs()} == {"scoreless": None}
    outcome: list[BaseException | None] = []

    def start() -> None:
        try:
            with repo.run("scoreless", study=STUDY) as active:
                active.log(**SEED)
        except BaseException as exc:  # noqa: BLE001 (the refusal is checked below)
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "run() waited on its own lock"
    assert outcome and outcome[0] is not None and "success" in str(outcome[0])
    record = json.loads((exp_repo.path / exp_repo.exp_path("scoreless")).read_text())
    assert record["status"] == "success"
