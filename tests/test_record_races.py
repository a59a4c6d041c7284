"""Record commands in two processes at once (docs/decisions.md, records_lock): what a
command checks (no record with this id, the run still pending, no result yet) still
holds when it writes. Each race is made certain, not timed: the test holds the work
tree's lock, starts the command, waits until /proc/locks shows it blocked on that lock,
makes the other process's write, and lets it go."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ExpRepo, experiment_doc
from support import scrubbed_env

from expflow_git.records.writer import records_lock

pytestmark = [
    pytest.mark.usefixtures("isolated_env"),
    pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks"),
]

METRICS = ["--metric", "seg_total=58", "--metric", "pde_mean=14", "--metric", "train_time_min=40"]


def _blocked(pid: int) -> bool:
    """Whether `pid` waits for a flock (a `->` line of /proc/locks)."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields and str(pid) in fields:
            return True
    return False


@contextmanager
def held_while(repo: ExpRepo, args: list[str]) -> Iterator[subprocess.Popen[str]]:
    """The CLI started while this test holds the lock, once it waits for it."""
    with records_lock(repo.path):
        proc = subprocess.Popen(
            [sys.executable, "-m", "expflow_git", *args],
            cwd=repo.path,
            env=scrubbed_env({"EXPFLOW_PIN": "", "EXPFLOW_FORCE": ""}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not _blocked(proc.pid):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out, err = proc.communicate()
                pytest.fail(f"the command never waited for the lock: {proc.returncode} {out}{err}")
            time.sleep(0.01)
        yield proc


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def test_two_new_of_one_id_in_two_studies(exp_repo: ExpRepo) -> None:
    """Both passed the "no record with this id" check, and the tree held a duplicate id."""
    with held_while(exp_repo, ["new", "x1", "--study", "a"]) as proc:
        exp_repo.write_json("experiments/b/x1.json", experiment_doc("x1", study="b"))
    code, output = finish(proc)
    assert code != 0 and "x1' exists already" in output, output
    assert not (exp_repo.path / "experiments/a/x1.json").exists()


def test_a_run_failed_while_its_result_waits(exp_repo: ExpRepo) -> None:
    """`result` planned a pending run, `fail` marked it failed meanwhile, and the result was
    written beside a failed record (validate then refused both)."""
    exp_repo.add_experiment("x1", status="pending")
    record = exp_repo.path / exp_repo.exp_path("x1")
    with held_while(exp_repo, ["result", "x1", *METRICS]) as proc:
        doc = json.loads(record.read_text())
        record.write_text(json.dumps({**doc, "status": "failed", "reason": "OOM"}))
    code, output = finish(proc)
    assert code == 1 and "the run changed while this command ran" in output, output
    assert not (exp_repo.path / exp_repo.res_path("x1")).exists()
    assert json.loads(record.read_text())["status"] == "failed"


def test_a_run_started_twice(exp_repo: ExpRepo) -> None:
    """Two training scripts entering `run()` on one pending run both started it."""
    exp_repo.add_experiment("x1", status="pending")
    record = exp_repo.path / exp_repo.exp_path("x1")
    with held_while(exp_repo, ["start", "x1"]) as proc:
        doc = json.loads(record.read_text())
        record.write_text(json.dumps({**doc, "status": "running"}))
    code, output = finish(proc)
    assert code == 1 and "only a pending experiment can be started" in output, output


def test_rm_plans_its_correction_again_after_waiting(exp_repo: ExpRepo) -> None:
    """`rm` planned its correction before the PIN prompt and wrote it after: a correction
    of the same committed result written meanwhile (another `result --overwrite`) was
    left beside a second one (a review). Planned again under the lock, it replaces it."""
    exp_repo.add_experiment()
    res = exp_repo.add_result()
    exp_repo.commit("a run")
    with held_while(exp_repo, ["rm", "exp-001", "--reason", "withdrawn", "--force"]) as proc:
        _correct_meanwhile(exp_repo, res, b'{"changed": true}\n', "another command's overwrite")
    code, output = finish(proc)
    assert code == 0, output
    corrections = list((exp_repo.path / "corrections").rglob("*.json"))
    assert len(corrections) == 1, corrections
    assert json.loads(corrections[0].read_text())["reason"] == "withdrawn"


def _correct_meanwhile(exp_repo: ExpRepo, res: str, new_data: bytes, reason: str) -> None:
    """The correction another command writes of exp-001's result while one is held."""
    from expflow_git.corrections import plan_correction, write_correction
    from expflow_git.policy.load import load_policy_bytes

    policy = load_policy_bytes((exp_repo.path / "expflow.yaml").read_bytes())
    meanwhile = plan_correction(
        exp_repo.path,
        policy,
        study="pdebench-task1",
        experiment="exp-001",
        result_rel=res,
        new_data=new_data,
        reason=reason,
        environ={},
    )
    assert meanwhile is not None
    write_correction(exp_repo.path, meanwhile)


def test_two_overwrites_of_one_result_leave_one_correction(exp_repo: ExpRepo) -> None:
    """Two `result --overwrite` of one committed result at once: each planned its
    correction against the committed result before the lock, and the second, finding a
    result there as planned, wrote its own beside the first's; both exited 0 and
    `protect` refused the pair (correction-unmatched). The second is refused now."""
    exp_repo.add_experiment()
    res = exp_repo.add_result()
    exp_repo.commit("a run")
    args = ["result", "exp-001", *METRICS, "--overwrite", "--reason", "rescored", "--force"]
    first = b'{"the first": "overwrite"}\n'
    with held_while(exp_repo, args) as proc:
        _correct_meanwhile(exp_repo, res, first, "the first overwrite")
        (exp_repo.path / res).write_bytes(first)
    code, output = finish(proc)
    assert code == 1 and f"{res}: the result changed while this command ran" in output, output
    assert len(output.strip().splitlines()) <= 2, output  # (the --force warning, the error)
    corrections = list((exp_repo.path / "corrections").rglob("*.json"))
    assert len(corrections) == 1, corrections
    assert (exp_repo.path / res).read_bytes() == first


def test_an_import_stopped_by_a_file_in_a_folders_place_says_nothing_was_written(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """A file put where the results' study folder goes while the import waited: the run's
    record was written, its result could not be, and the record was removed again, but
    the error said "half written (could not put back results/imp/r0.json)": removing the
    result that was never written met the file and raised NotADirectoryError."""
    csv = tmp_path / "runs.csv"
    csv.write_text("run,seg_total,pde_mean,train_time_min\nr0,58,14,40\n")
    args = ["import", "csv", str(csv), "--id-column", "run", "--study", "imp"]
    with held_while(exp_repo, args) as proc:
        exp_repo.write("results/imp", "a file where a folder goes\n")
    code, output = finish(proc)
    assert code == 2 and "run r0 not written, 0 run(s) before it written whole" in output, output
    assert "half written" not in output
    assert not (exp_repo.path / "experiments/imp/r0.json").exists()
