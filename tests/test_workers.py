"""Forked workers: answers in order, a failed child's part redone here, and a
parallel `validate` that prints exactly what a serial one does."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import pytest
from conftest import CliCall, ExpRepo, experiment_doc, result_doc

from expflow_git import gitstore, workers
from expflow_git.hooks import validate as validate_module

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork")


def _square_in_child(part: list[int]) -> list[tuple[int, int]]:
    return [(x * x, os.getpid()) for x in part]


def test_parts_come_back_in_order_and_run_in_other_processes() -> None:
    parts = [[1, 2], [3], [4, 5, 6], []]
    answers = workers.map_parts(_square_in_child, parts)
    assert [[sq for sq, _ in a] for a in answers] == [[1, 4], [9], [16, 25, 36], []]
    pids = [{pid for _, pid in a} for a in answers[:3]]
    assert pids[0] == {os.getpid()}  # the first part is this process's own
    assert all(p and p != pids[0] for p in pids[1:]) and pids[1] != pids[2]


@pytest.mark.parametrize("how", ["raise", "exit", "kill", "garbage"])
def test_a_child_that_fails_has_its_part_redone_here(how: str) -> None:
    parent = os.getpid()

    def work(part: list[int]) -> list[int]:
        if os.getpid() != parent and part == [2]:
            if how == "raise":
                raise RuntimeError("worker broke")
            if how == "exit":
                os._exit(0)  # exits "cleanly" without an answer
            if how == "kill":
                os.kill(os.getpid(), 9)
            return "not a list, but never checked"  # type: ignore[return-value]
        return [x * 10 for x in part]

    answers = workers.map_parts(work, [[1], [2], [3]])
    if how == "garbage":  # a well-formed answer is believed: the work defines what it sends
        assert answers == [[10], "not a list, but never checked", [30]]
    else:
        assert answers == [[10], [20], [30]]


def _held_by_child() -> tuple[bytes, set[str]] | None:
    """A SpoolJob's answer, and what its child had open (beyond 0-2) as it worked."""

    def work(spool: Any) -> bytes:
        held = []
        for fd in os.listdir("/proc/self/fd"):
            if int(fd) > 2:
                with contextlib.suppress(FileNotFoundError):  # (the listing's own)
                    held.append(os.readlink(f"/proc/self/fd/{fd}"))
        spool.write("\n".join(held).encode())
        return b"done"

    job = workers.SpoolJob(work)
    assert job.pid is not None
    answered = job.answer()
    if answered is None:
        return None
    answer, spool = answered
    with spool:
        return answer, set(spool.read().decode().splitlines())


def test_a_spool_job_child_keeps_only_its_pipe_and_file_without_close_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The child closes what it inherited by listing /proc/self/fd, not by walking every
    number to the open-files limit: where close_range is missing (an old kernel, a
    seccomp profile), os.closerange closes each number in turn, minutes a child under a
    container's limit of 2^30. Here os.closerange fails outright: the child must not need it."""

    def unusable(low: int, high: int) -> None:
        raise OSError("no close_range here")

    monkeypatch.setattr(os, "closerange", unusable)
    read_end, write_end = os.pipe()  # an inherited pipe, as the audit's git stream is
    try:
        outcome = _held_by_child()
        assert outcome is not None  # the child answered (the old child died in closerange)
        answer, held = outcome
        assert answer == b"done"
        assert os.readlink(f"/proc/self/fd/{write_end}") not in held
        assert len(held) == 2 and sum(h.startswith("pipe:") for h in held) == 1, held
    finally:
        os.close(read_end)
        os.close(write_end)


def test_without_proc_every_number_but_the_kept_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there is no /proc listing, close_inherited closes up to the limit around the
    descriptors it keeps (each range once, none of the kept ones)."""
    ranges: list[tuple[int, int]] = []

    def no_proc(path: str) -> list[str]:
        raise OSError("no /proc")

    monkeypatch.setattr(os, "listdir", no_proc)
    monkeypatch.setattr(os, "closerange", lambda low, high: ranges.append((low, high)))
    monkeypatch.setattr(os, "sysconf", lambda name: 1024)
    workers.close_inherited({9, 5, 1})
    assert ranges == [(3, 5), (6, 9), (10, 1024)]


def test_the_parents_failure_stops_the_children() -> None:
    parent = os.getpid()

    def work(part: int) -> int:
        if os.getpid() == parent:
            raise ValueError("parent's part failed")
        import time

        time.sleep(30)  # would hold the test up if the child were waited for, not killed
        return part

    with pytest.raises(ValueError, match="parent's part failed"):
        workers.map_parts(work, [1, 2])
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left behind


def test_a_part_is_done_here_when_no_process_can_be_forked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(workers.os, "fork", no_fork)
    answers = workers.map_parts(_square_in_child, [[1], [2], [3]])
    assert [[sq for sq, _ in a] for a in answers] == [[1], [4], [9]]
    assert {pid for a in answers for _, pid in a} == {os.getpid()}


def test_answers_are_right_when_sigchld_is_ignored() -> None:
    """A caller that ignores SIGCHLD leaves no exit status to read: parts are redone."""
    import signal

    before = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        answers = workers.map_parts(_square_in_child, [[1], [2], [3]])
    finally:
        signal.signal(signal.SIGCHLD, before)
    assert [[sq for sq, _ in a] for a in answers] == [[1], [4], [9]]


CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


@pytest.mark.parametrize(
    ("env", "items", "expected"),
    [
        ({}, 999, 1),  # below one worker's share
        ({}, 10**6, CORES),
        ({"EXPFLOW_JOBS": "1"}, 10**6, 1),
        ({"EXPFLOW_JOBS": "2"}, 10**6, min(2, CORES)),
        ({"EXPFLOW_JOBS": "64"}, 10**6, CORES),  # never more than the cores
        ({"EXPFLOW_JOBS": "2"}, 1500, 1),  # a limit, not a demand
        ({"EXPFLOW_JOBS": "zero"}, 10**6, CORES),  # not a number: ignored
        ({"EXPFLOW_JOBS": "0"}, 10**6, CORES),
        ({"EXPFLOW_JOBS": "-1"}, 10**6, CORES),
        ({"EXPFLOW_JOBS": "²"}, 10**6, CORES),  # a digit to str.isdigit, not a number
        ({"EXPFLOW_JOBS": " 1 "}, 10**6, 1),
        ({"PRE_COMMIT": "1"}, 10**6, 1),  # pre-commit runs batches on every core already
        ({"PRE_COMMIT": "1", "EXPFLOW_JOBS": "2"}, 10**6, min(2, CORES)),
    ],
)
def test_worker_count(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], items: int, expected: int
) -> None:
    monkeypatch.delenv("EXPFLOW_JOBS", raising=False)
    monkeypatch.delenv("PRE_COMMIT", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert workers.worker_count(items, 1000) == expected


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_no_fork_off_linux_whatever_is_asked(
    monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    monkeypatch.setenv("EXPFLOW_JOBS", "4")
    monkeypatch.setattr(workers.sys, "platform", platform)
    assert workers.worker_count(10**6, 1) == 1


def _mixed_repo(repo: ExpRepo) -> None:
    """Forty runs, and among them every kind of finding validate makes."""
    for n in range(40):
        exp_id = f"exp-{n:03d}"
        study = f"study-{n % 3}"
        repo.write_json(repo.exp_path(exp_id, study), experiment_doc(exp_id, study=study))
        repo.write_json(repo.res_path(exp_id, study), result_doc(exp_id))
    repo.write_json(repo.exp_path("exp-003", "study-0"), experiment_doc("exp-003", status="done"))
    repo.write(repo.res_path("exp-004", "study-1"), '{"schema": "expflow/result@1", "schema": 1}')
    repo.write_json(repo.res_path("exp-005", "study-2"), result_doc("exp-005", metrics={"x": 1}))
    repo.write_json(repo.exp_path("exp-006", "study-1"), experiment_doc("exp-007", study="study-1"))
    repo.write_json(repo.exp_path("exp-008", "study-0"), experiment_doc("exp-008", status="failed"))
    repo.write_json(repo.exp_path("exp-009", "study-1"), experiment_doc("exp-009"))  # a 2nd exp-009
    repo.write_json(repo.res_path("exp-099", "study-0"), result_doc("exp-099"))  # no record
    repo.write_json(repo.res_path("exp-011", "study-2"), result_doc("exp-011", metrics={}))
    repo.git("add", "-A")


@pytest.mark.parametrize("bulk_blobs", [gitstore.BULK_BLOBS, 5])
def test_parallel_validate_prints_what_a_serial_one_does(
    exp_repo: ExpRepo, cli: CliCall, monkeypatch: pytest.MonkeyPatch, bulk_blobs: int
) -> None:
    """Also past `gitstore.BULK_BLOBS` (OpenSSL's hash, in the forked workers too)."""
    monkeypatch.setattr(gitstore, "BULK_BLOBS", bulk_blobs)
    _mixed_repo(exp_repo)
    files = sorted(str(p.relative_to(exp_repo.path)) for p in exp_repo.path.glob("*/*/*.json"))
    serial = cli(["validate", *files], cwd=exp_repo.path, env={"EXPFLOW_JOBS": "1"})
    assert serial.code == 1
    rules = {line.split(": ")[1] for line in serial.out.splitlines()}
    assert rules >= {
        "schema",
        "invalid-json",
        "unknown-metric",
        "id-mismatch",
        "result-for-unsuccessful-run",
        "duplicate-id",
        "result-without-record",
        "required-metric",
    }, serial.out

    forks = []
    real_fork = workers._fork

    def counting_fork(*args: object) -> tuple[int, int]:
        forks.append(args)
        return real_fork(*args)  # type: ignore[arg-type]

    parts_here = []  # parts checked in this process: a child's part redone here shows
    real_check_part = validate_module._check_part

    def spying_check_part(*args: Any) -> Any:
        parts_here.append(os.getpid())
        return real_check_part(*args)

    monkeypatch.setattr(workers, "_fork", counting_fork)
    monkeypatch.setattr(validate_module, "_check_part", spying_check_part)
    monkeypatch.setattr(validate_module, "PER_WORKER", 10)
    monkeypatch.setattr(workers.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    # Results alone read their records from the index (one stream, before the fork);
    # --staged reads every document from it.
    for given in (
        files,
        list(reversed(files)),
        ["experiments", "results"],
        ["results"],
        ["--staged", *files],
    ):
        expected = cli(["validate", *given], cwd=exp_repo.path, env={"EXPFLOW_JOBS": "1"})
        forks.clear()
        parts_here.clear()
        parallel = cli(["validate", *given], cwd=exp_repo.path, env={"EXPFLOW_JOBS": "3"})
        assert len(forks) == 2  # three processes: two forked
        assert parts_here == [os.getpid()]  # the children's answers were used
        assert (parallel.code, parallel.out, parallel.err) == (
            expected.code,
            expected.out,
            expected.err,
        )
