"""A Ctrl-C (or SIGTERM, raised as a KeyboardInterrupt) while a `read_many` stream is
being consumed ends the `with BlobReader` block without hanging, and leaves no `git
cat-file` behind (issue 18, twenty-ninth pass).

The interrupt is raised in the code consuming the stream, not inside it, so the
stream's own `finally` (which kills git) does not run while a frame the traceback keeps
(a local holding the iterator, as audit/deleted.py does) holds it open. `close()` then
closed git's stdin, which waits for the buffered writer's lock, held by the writer
thread blocked writing requests to a git blocked writing answers nobody reads: the
process hung for ever, deaf to further Ctrl-C and SIGTERM (`expflow-git audit` on a
5,000-run repository, Ctrl-C in the blob phase). Each case runs in a subprocess with a
timeout, so the old code fails the test instead of hanging the suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import PROJECT, git, git_init, scrubbed_env

BLOBS = 10_016  # 41 bytes a request: far more than a pipe holds both ways

SCRIPT = textwrap.dedent(
    """
    import gc, os, sys
    from expflow_git.gitblobs import BlobReader
    from expflow_git.gitstore import Git

    shas = sys.stdin.read().split()
    git = Git.discover(".")
    pids = []

    def consume(reader):
        blobs = reader.read_many(shas)  # a local: the traceback keeps the stream open
        for _ in blobs:
            pids.append(reader._proc.pid)
            raise KeyboardInterrupt  # a Ctrl-C while the stream is being consumed

    try:
        with BlobReader(git) as reader:
            consume(reader)
    except KeyboardInterrupt:
        try:
            os.kill(pids[0], 0)
        except ProcessLookupError:
            print("interrupted", flush=True)  # and git is gone (reaped)

    # close() with a stream still open, then the same reader reused: the first
    # stream's end (collected later) must not stop the second one's process.
    with BlobReader(git) as reader:
        old = reader.read_many(shas)
        next(old)
        pids.append(reader._proc.pid)
        reader.close()
        fresh = reader.read_many(shas[:3])
        assert next(fresh)[0] == shas[0]
        del old
        gc.collect()
        assert [sha for sha, _ in fresh] == shas[1:3]
        assert reader.read(shas[5]) == b"blob 5\\n"
    try:
        os.kill(pids[1], 0)
    except ProcessLookupError:
        print("reused", flush=True)
    """
)


def _cat_files_in(repo: Path) -> list[int]:
    """The `git cat-file` processes running in `repo` (Linux's /proc; else none)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = (entry / "cwd").resolve()
        except OSError:
            continue
        if b"cat-file" in cmdline and cwd == repo.resolve():
            found.append(int(entry.name))
    return found


def _blob_repo(path: Path) -> tuple[Path, list[str]]:
    """A repository of BLOBS small blobs in one commit (fast-import: seconds, not minutes)."""
    repo = git_init(path)
    stream = ["commit refs/heads/main\ncommitter T <t@example.com> 0 +0000\ndata 2\nx\n"]
    for i in range(BLOBS):
        data = f"blob {i}\n"
        stream.append(f"M 100644 inline f/{i}.txt\ndata {len(data)}\n{data}\n")
    git(repo, "fast-import", "--quiet", input="".join(stream).encode())
    listed = git(repo, "ls-tree", "-r", "--format=%(objectname) %(path)", "HEAD")
    by_path = dict(reversed(line.split(" ", 1)) for line in listed.splitlines())
    return repo, [by_path[f"f/{i}.txt"] for i in range(BLOBS)]


def test_an_interrupt_while_blobs_are_read_ends_and_leaves_no_git(tmp_path: Path) -> None:
    repo, shas = _blob_repo(tmp_path / "repo")
    env = scrubbed_env({"PYTHONPATH": str(PROJECT), "HOME": str(tmp_path)})
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            cwd=repo,
            env=env,
            input="\n".join(shas),
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("BlobReader.close() hung with a read_many stream still open")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["interrupted", "reused"], proc.stdout + proc.stderr
    if sys.platform.startswith("linux"):
        assert _cat_files_in(repo) == []
