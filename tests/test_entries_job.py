"""The run entries' parts encoded in a forked child (report/encode.py `_BoardParts`,
issue 18): the later half of the board is encoded by a child while the audit's own
process encodes the earlier half and chains them all. The report is byte for byte the
one the audit's own process writes alone, whether the child ran, failed, answered
wrongly or wrote a damaged file, and no child outlives an encoding that fails."""

from __future__ import annotations

import os
import pickle
from array import array
from pathlib import Path
from typing import IO

import pytest
from helpers_audit import POLICY, add_run, commit_all, m, new_repo

from expflow_git.audit.pipeline import Audit, run_audit
from expflow_git.gitstore import Git
from expflow_git.report import encode
from expflow_git.report.encode import _BATCH_HEAD, _BoardParts, build_report, encode_report
from expflow_git.report.rules import Tally

linux_fork = pytest.mark.skipif(
    not hasattr(os, "fork") or not hasattr(os, "sched_getaffinity"), reason="forks on Linux"
)
# Every test may fork (the last one says it will not).
pytestmark = [linux_fork, pytest.mark.usefixtures("forking")]
LADDER = POLICY.replace("  tie_break: [pde_mean]\n", "  tie_break: [pde_mean]\n  ladder_step: 1\n")


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child for any number of runs, its parts written two runs at a time."""
    monkeypatch.setattr(encode, "RUNS_PER_CHILD", 1)
    monkeypatch.setattr(encode, "_PARTS_BATCH", 2)
    monkeypatch.delenv("EXPFLOW_JOBS", raising=False)
    monkeypatch.delenv("PRE_COMMIT", raising=False)
    if len(os.sched_getaffinity(0)) < 2:
        monkeypatch.setattr(encode, "worker_count", lambda items, per: 2)


def _audit(tmp_path: Path, policy: str = POLICY) -> Audit:
    """Runs of every kind an entry encodes: ranked and tied, over a threshold (a failed
    check), without the sort metric (unranked), with splits, in two studies."""
    repo = new_repo(tmp_path / "repo", policy)
    for i in range(9):
        add_run(repo, f"run-{i}", m(50 + i % 4, pde=12 + i))  # pde over 18.09: infeasible
    add_run(repo, "no-seg", {"pde_mean": 10.0, "train_time_min": 5.0})
    add_run(repo, "split", m(57.5), splits={"holdout": {"seg_total": 51.25}})
    add_run(repo, "other", m(49), study="study-b")
    commit_all(repo)
    return run_audit(Git.discover(repo), use_cache=False)


def _alone(audit: Audit, monkeypatch: pytest.MonkeyPatch) -> bytes:
    with monkeypatch.context() as inner:
        inner.setenv("EXPFLOW_JOBS", "1")
        return build_report(audit).to_bytes()


@pytest.mark.parametrize("policy", [POLICY, LADDER], ids=["plain", "ladder"])
def test_a_child_encodes_the_later_runs_as_this_process_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    audit = _audit(tmp_path, policy)
    assert (audit.ladder is not None) == (policy == LADDER)
    board = _BoardParts(audit)
    assert board.job is not None and board.job.pid is not None  # it did fork
    assert 0 < board.half < len(audit.board.runs)
    forked = [(ranked.verdict.id, parts) for ranked, parts in board]
    known: encode.Known = {}
    assert forked == [(r.verdict.id, board.parts(r, known)) for r in audit.board.runs]
    assert build_report(audit).to_bytes() == _alone(audit, monkeypatch)


def test_a_child_that_fails_has_its_half_encoded_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = _audit(tmp_path)
    expected = _alone(audit, monkeypatch)
    parent = os.getpid()
    real = encode.run_parts

    def failing(*args: object, **kwargs: object) -> encode.RunParts:
        if os.getpid() != parent:
            os._exit(3)  # in the child, mid-way
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(encode, "run_parts", failing)
    assert build_report(audit).to_bytes() == expected


def _write_wrongly(
    monkeypatch: pytest.MonkeyPatch, content: bytes, answer: bytes | None = None
) -> None:
    """The child writes `content` and answers `answer` (its run count when None)."""

    def write(self: _BoardParts, spool: IO[bytes]) -> bytes:
        spool.write(content)
        return answer if answer is not None else b"%d" % (len(self.runs) - self.half)

    monkeypatch.setattr(_BoardParts, "_write_later_half", write)


def _batch(count: int, lengths: list[int], data: bytes) -> bytes:
    """A batch as the child writes it, with the counts and lengths given."""
    return _BATCH_HEAD.pack(count, len(data)) + array("Q", lengths).tobytes() + data


@pytest.mark.parametrize(
    ("content", "answer"),
    [
        (b"not a batch", None),  # a damaged file
        (b"", None),  # an empty one
        (b"", b"1"),  # an answer that does not count the later half
        (_batch(10**6, [0, 0, 0], b""), None),  # more runs than are left
        (_batch(1, [1, 1, 1], b"12345"), None),  # lengths that are not the bytes'
        (_batch(1, [1, 1, 1], b""), None),  # lengths, and no bytes at all
        (_batch(1, [10, 10, 10], b"x" * 30)[:-5], None),  # cut short
        (_BATCH_HEAD.pack(1, 2**63) + array("Q", [2**62, 2**62, 0]).tobytes(), None),  # vast
    ],
    ids=[
        "damaged",
        "empty",
        "miscounted",
        "too-many-runs",
        "bad-lengths",
        "no-bytes",
        "truncated",
        "vast",
    ],
)
def test_what_the_child_wrote_is_read_only_when_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, answer: bytes | None
) -> None:
    audit = _audit(tmp_path)
    expected = _alone(audit, monkeypatch)
    _write_wrongly(monkeypatch, content, answer)
    assert build_report(audit).to_bytes() == expected


class _Touch:
    """Unpickled, it would create `path` (what a pickle can make its reader do)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.path,))


def test_a_file_that_holds_a_pickle_is_never_unpickled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is this user's, so another of this user's processes could write into
    it (through /proc/PID/fd): it is read as plain bytes, never as a pickle."""
    audit = _audit(tmp_path)
    expected = _alone(audit, monkeypatch)
    marker = tmp_path / "unpickled"
    _write_wrongly(monkeypatch, pickle.dumps(_Touch(marker)))
    assert build_report(audit).to_bytes() == expected
    assert not marker.exists()


def test_an_encoding_that_fails_leaves_no_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = _audit(tmp_path)
    started: list[int] = []
    real_init = _BoardParts.__init__

    def spy(self: _BoardParts, audit: Audit) -> None:
        real_init(self, audit)
        assert self.job is not None and self.job.pid is not None
        started.append(self.job.pid)

    def broken(self: Tally, entry: object) -> None:
        raise RuntimeError("tally broke")

    monkeypatch.setattr(_BoardParts, "__init__", spy)
    monkeypatch.setattr(Tally, "add", broken)
    with pytest.raises(RuntimeError, match="tally broke"):
        encode_report(audit)
    assert started
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0], os.WNOHANG)  # ended and reaped


def test_without_a_fork_every_run_is_encoded_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPFLOW_JOBS", "1")
    monkeypatch.setattr(encode, "RUNS_PER_CHILD", 1)
    audit = _audit(tmp_path)
    board = _BoardParts(audit)
    assert board.job is None and board.half == len(audit.board.runs)
    assert [r.verdict.id for r, _ in board] == [r.verdict.id for r in audit.board.runs]
