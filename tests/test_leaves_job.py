"""The report's input leaves encoded in a forked child (report/inputs.py, issue 18): the
same bytes and Merkle root as in the audit's own process, whether the child ran,
failed or was never started, and a child that holds nothing of its parent's."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import IO

import pytest
from helpers_audit import Cli, add_run, commit_all, m, new_repo

from expflow_git.audit.leaves import Leaves
from expflow_git.report import inputs
from expflow_git.report.canonical import canonical_json
from expflow_git.report.inputs import EncodedLeaves, LeavesJob, encode_leaves
from expflow_git.report.merkle import leaf_hash, merkle_root

linux_fork = pytest.mark.skipif(
    not hasattr(os, "fork") or not hasattr(os, "sched_getaffinity"), reason="forks on Linux"
)


def _leaves(n: int) -> Leaves:
    paths = [f"results/s/run-{i:05d}.json" for i in range(n)] + ["results/é/ü.json"]
    digests = b"".join(
        hashlib.sha256(p.encode()).digest() + hashlib.sha1(p.encode()).digest() for p in paths
    )
    return Leaves(paths, digests, 52)


def _read(encoded: EncodedLeaves) -> tuple[bytes, bytes]:
    with encoded.spool as spool:
        spool.seek(0)
        return encoded.root, spool.read()


def _expected(leaves: Leaves) -> tuple[bytes, bytes]:
    """The leaves' array and root as the spec defines them, from each leaf's JSON form."""
    items = [canonical_json(leaf.as_json()) for leaf in leaves]
    root = merkle_root([leaf_hash(leaf.as_json()) for leaf in leaves])
    return root, b",".join(items)


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child for any number of leaves, wherever this machine lets the audit fork."""
    monkeypatch.setattr(inputs, "PER_CHILD", 1)
    monkeypatch.delenv("EXPFLOW_JOBS", raising=False)
    monkeypatch.delenv("PRE_COMMIT", raising=False)
    if len(os.sched_getaffinity(0)) < 2:
        monkeypatch.setattr(inputs, "worker_count", lambda items, per: 2)


@linux_fork
@pytest.mark.usefixtures("forking")
def test_a_child_encodes_the_leaves_as_the_spec_defines_them() -> None:
    leaves = _leaves(5000)  # more than one flush and one Merkle chunk
    job = LeavesJob(leaves)
    assert job.job is not None and job.job.pid is not None  # it did fork
    assert _read(job.result()) == _expected(leaves) == _read(encode_leaves(leaves))


@linux_fork
@pytest.mark.usefixtures("forking")
def test_a_child_that_fails_has_its_work_redone_here(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getpid()
    real = inputs.encode_leaves

    def failing(leaves: Leaves, spool: IO[bytes] | None = None) -> EncodedLeaves:
        if os.getpid() != parent:  # in the child: half the bytes, then a crash
            assert spool is not None
            spool.write(b'{"gitBlob":"00"')
            spool.flush()
            os._exit(3)
        return real(leaves, spool)

    monkeypatch.setattr(inputs, "encode_leaves", failing)
    leaves = _leaves(300)
    job = LeavesJob(leaves)
    assert job.job is not None and job.job.pid is not None
    assert _read(job.result()) == _expected(leaves)


@linux_fork
@pytest.mark.usefixtures("forking")
def test_the_child_holds_none_of_its_parents_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """An inherited pipe (the audit's `git cat-file` stream) held open by the child
    would keep git waiting on the parent's end: the child closes all it does not use."""
    parent = os.getpid()
    real = inputs.encode_leaves

    def slow(leaves: Leaves, spool: IO[bytes] | None = None) -> EncodedLeaves:
        if os.getpid() != parent:
            time.sleep(30)  # ended by close() below
        return real(leaves, spool)

    monkeypatch.setattr(inputs, "encode_leaves", slow)
    read_end, write_end = os.pipe()
    try:
        job = LeavesJob(_leaves(10))
        assert job.job is not None and job.job.pid is not None
        pid = job.job.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the child has closed what it closes
            fds = {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}
            if len(fds) <= 5:
                break
            time.sleep(0.01)
        held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds}
        pipe = os.readlink(f"/proc/self/fd/{write_end}")
        assert pipe not in held, held
        assert fds - {0, 1, 2} and len(fds - {0, 1, 2}) == 2, held  # its pipe and its file
        job.close()
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped
    finally:
        os.close(read_end)
        os.close(write_end)


def test_without_a_fork_the_work_is_done_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPFLOW_JOBS", "1")
    leaves = _leaves(50)
    job = LeavesJob(leaves)
    assert job.job is None
    assert _read(job.result()) == _expected(leaves)


def _study(tmp_path: Path, runs: int) -> Path:
    repo = new_repo(tmp_path / "repo")
    for i in range(runs):
        add_run(repo, f"run-{i}", m(50 + i))
    commit_all(repo)
    return repo


@linux_fork
@pytest.mark.usefixtures("forking")
def test_an_audit_whose_leaves_a_child_encoded_is_byte_identical(
    xcli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _study(tmp_path, 6)
    forked = xcli(["audit", "--no-cache", "--out", str(tmp_path / "a.json")], repo)
    monkeypatch.setenv("EXPFLOW_JOBS", "1")
    alone = xcli(["audit", "--no-cache", "--out", str(tmp_path / "b.json")], repo)
    assert forked.code == alone.code == 0, forked
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


@linux_fork
@pytest.mark.usefixtures("forking")
def test_an_audit_that_fails_after_forking_leaves_no_child(
    xcli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _study(tmp_path, 1)
    started: list[tuple[LeavesJob, int]] = []
    real = LeavesJob.__init__

    def spy(self: LeavesJob, leaves: Leaves) -> None:
        real(self, leaves)
        assert self.job is not None and self.job.pid is not None
        started.append((self, self.job.pid))

    monkeypatch.setattr(LeavesJob, "__init__", spy)
    res = xcli(["audit", "--experiment", "nope", "--out", str(tmp_path / "r.json")], repo)
    assert res.code == 1 and "no experiment 'nope'" in res.err, res
    assert started
    for job, pid in started:
        assert job.job is None  # closed
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # and reaped
