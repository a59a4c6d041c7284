"""The audit's cold read spread over the cores (issue 18, audit/parallel.py): the same
report, byte for byte, whatever the number of processes, with and without the cache,
invalid documents, registry findings and PIN hashes included. Real git, the real CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers_audit import (
    PIN_SHA,
    STUDY,
    Cli,
    add_run,
    commit_all,
    copy_repo,
    m,
    new_repo,
    run_cli,
    write,
)
from support import git_calls, git_counter

from expflow_git.audit import parallel, pipeline
from expflow_git.audit.parallel import PER_WORKER
from expflow_git.forkpool import ForkPool
from expflow_git.gitblobs import BlobReader

RUNS = PER_WORKER + 100  # 2 documents a run: worth two processes


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


pytestmark = pytest.mark.skipif(cores() < 2, reason="needs two cores to fork a worker")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = new_repo(tmp_path_factory.mktemp("parallel") / "repo")
    for i in range(RUNS):
        add_run(repo, f"run-{i:04d}", m(40 + i % 97, pde=10 + i % 13, minutes=30 + i % 40))
    add_run(repo, "odd", m(51, accuracy=0.5))  # unknown metric: a registry finding
    write(repo, f"experiments/{STUDY}/broken.json", '{"schema": "expflow/experiment@1",\n')
    write(repo, f"results/{STUDY}/nan.json", '{"experiment": "x", "metrics": {"a": NaN}}\n')
    write(repo, "notes/leak.txt", f"pin hash: {PIN_SHA}\n")
    commit_all(repo)
    return repo


def report(repo: Path, *args: str, jobs: str | None = None) -> bytes:
    out = repo.parent / "report.json"
    env = {"EXPFLOW_JOBS": jobs} if jobs is not None else None
    res = run_cli(["audit", "--out", str(out), *args], repo, env)
    assert res.code == 1, res  # the planted findings
    assert "Traceback" not in res.err
    assert "pin-sha256" in res.out and "broken.json" in res.out
    return out.read_bytes()


def test_parallel_cold_read_gives_the_one_process_report(template: Path, tmp_path: Path) -> None:
    repo = copy_repo(template, tmp_path / "repo")
    one = report(repo, "--no-cache", jobs="1")
    assert report(repo, "--no-cache") == one
    assert report(repo, "--no-cache", jobs="2") == one
    # With the cache: the first run checks in parallel and fills it, the second reads it.
    assert report(repo) == one
    assert (repo / ".git" / "expflow" / "cache").is_dir()
    assert report(repo) == one


def test_the_workers_are_forked_once_for_every_round(
    template: Path, tmp_path: Path, xcli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forking the grown audit once per round was most of its system time at a million
    runs (forkpool.py): the children are forked once and fed round after round."""
    repo = copy_repo(template, tmp_path / "repo")
    one = report(repo, "--no-cache", jobs="1")
    # Rounds of 1,000 blobs: the ~4,200 documents take five rounds, each worth two,
    # pipelined in one batch (cold) and in batches of 1,000 (filling the cache).
    monkeypatch.setattr(parallel, "ROUND_BLOBS", 1_000)
    monkeypatch.setattr(pipeline, "BATCH_BLOBS", 1_000)
    monkeypatch.setattr(parallel, "PER_WORKER", 50)  # (the cache's batches: 250 and more)
    forks: list[int] = []
    real_fork = os.fork

    def counted_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted_fork)
    for args in (["--no-cache"], []):
        forks.clear()
        out = tmp_path / "pooled.json"
        res = xcli(["audit", *args, "--out", str(out)], repo, {"EXPFLOW_JOBS": "2"})
        assert res.code == 1, res
        assert len(forks) == 1  # one child (two processes), not one per round or batch
        assert out.read_bytes() == one


def test_pipelined_rounds_give_the_one_process_report(
    template: Path, tmp_path: Path, xcli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rounds of 500 blobs in one batch: the children check round k while this process
    consumes round k - 1; records arrive out of request order, the report does not care."""
    repo = copy_repo(template, tmp_path / "repo")
    one = report(repo, "--no-cache", jobs="1")
    monkeypatch.setattr(parallel, "ROUND_BLOBS", 500)
    monkeypatch.setattr(parallel, "PER_WORKER", 100)
    for args in (["--no-cache"], []):  # and the cache those rounds fill, read back
        out = tmp_path / "pipelined.json"
        res = xcli(["audit", *args, "--out", str(out)], repo, {"EXPFLOW_JOBS": "2"})
        assert res.code == 1, res
        assert out.read_bytes() == one


def _cat_files_reading(repo: Path) -> list[int]:
    """Live `git cat-file` processes whose working directory is `repo` (Linux /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"cat-file" in cmdline and Path(cwd).resolve() == repo.resolve():
            found.append(int(proc.name))
    return found


def test_children_read_through_their_own_streams_and_leave_none_behind(
    template: Path, tmp_path: Path
) -> None:
    """A child reads its part's blobs through its own `git cat-file` (never the audit's
    stream, which it inherited): one stream per process, each reaped when it ends."""
    repo = copy_repo(template, tmp_path / "repo")
    one = report(repo, "--no-cache", jobs="1")
    env, log = git_counter(tmp_path)
    out = tmp_path / "own-streams.json"
    res = run_cli(["audit", "--no-cache", "--out", str(out)], repo, {**env, "EXPFLOW_JOBS": "2"})
    assert res.code == 1, res
    assert out.read_bytes() == one
    streams = [c for c in git_calls(log) if c.args.endswith("cat-file --batch")]
    assert len(streams) == 2, streams  # the audit's and its child's
    assert len({c.pid for c in streams}) == 2  # started by two processes
    assert _cat_files_reading(repo) == []


def test_the_cold_read_is_one_batch_and_a_part_carries_only_blob_ids(
    template: Path, tmp_path: Path, xcli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a cache nothing waits on a round's records, so the cold read is one batch
    and the children's rounds never run dry between batches (with the cache, batches
    are still cut for its shards). A child answers a blob's questions (document kinds,
    scan classes) from the classification it was forked with: a part is blob ids alone,
    and a blob at a result's path and a code path gets both answers."""
    repo = copy_repo(template, tmp_path / "repo")
    twin = (repo / "results" / STUDY / "run-0007.json").read_bytes()
    write(repo, "scripts/run_0007.py", twin)  # the same blob: a result and code
    commit_all(repo)
    one = report(repo, "--no-cache", jobs="1")
    monkeypatch.setattr(parallel, "ROUND_BLOBS", 1_000)
    monkeypatch.setattr(pipeline, "BATCH_BLOBS", 1_000)
    monkeypatch.setattr(parallel, "PER_WORKER", 200)
    batches: list[int] = []
    sent: list[object] = []
    real_records = parallel.Checker.records
    real_submit = ForkPool.submit

    def records(self: parallel.Checker, reader: BlobReader, shas: Sequence[str]) -> Iterator[Any]:
        if shas:
            batches.append(len(shas))
        return real_records(self, reader, shas)

    def submit(self: ForkPool[Any, Any], parts: Sequence[Any]) -> Any:
        sent.extend(item for part in parts for item in part)
        return real_submit(self, parts)

    monkeypatch.setattr(parallel.Checker, "records", records)
    monkeypatch.setattr(ForkPool, "submit", submit)
    for args, cut in ((["--no-cache"], False), ([], True)):
        batches.clear()
        out = tmp_path / "batches.json"
        res = xcli(["audit", *args, "--out", str(out)], repo, {"EXPFLOW_JOBS": "2"})
        assert res.code == 1, res
        assert out.read_bytes() == one
        assert (len(batches) > 1) == cut, batches
        assert sum(batches) == 4_206  # every blob (the twin's once)
    assert sent and all(type(item) is str and len(item) == 40 for item in sent)
