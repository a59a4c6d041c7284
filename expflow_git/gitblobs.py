"""Blobs in bulk: one long-lived `git cat-file --batch` process per reader, pipelined so
an audit reads 100k blobs without a process per object (gitstore.py holds every other
git read)."""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from types import TracebackType
from typing import IO, final

from expflow_git.errors import ExpflowError
from expflow_git.gitstore import GITLINK, Git, IndexEntry, first_line


@final
class BlobReader:
    """Blobs by id from one long-lived ``git cat-file --batch`` process.

    :meth:`read_many` pipelines: a writer thread feeds every request while
    this thread reads the answers, so neither side waits on the other and the
    pipes never fill up both ways (the deadlock of writing everything first).
    That gives what ``--buffer`` is for (git never idles waiting for the next
    request) without its catch: a buffered process holds its answers until
    stdin closes, so it could not also serve :meth:`read` afterwards.
    Measured on 100k small blobs, plain ``--batch`` pipelined this way is as
    fast as ``--batch --buffer``; the cost left is Python's per-answer work.
    Not thread-safe; use as a context manager so the process is reaped.
    """

    def __init__(self, git: Git, *, bulk: bool = True) -> None:
        """`bulk`: git's delta-base cache raised for reading many blobs (`_start`). A
        reader of `<commit>:<path>` names, a tree walked per name, passes False and keeps
        git's default: each commit's version of a large folder's tree stayed in the
        raised cache (4,000 merges' records read so held 674 MB in git, a review)."""
        self._git = git
        self._bulk = bulk
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._busy = False
        self._pid = os.getpid()
        # The open `read_many` stream's writer thread, and the process that started git.
        self._writer: threading.Thread | None = None
        self._owner = self._pid

    def __enter__(self) -> BlobReader:
        _ENTERED.readers = [*getattr(_ENTERED, "readers", ()), self]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _ENTERED.readers = [r for r in getattr(_ENTERED, "readers", ()) if r is not self]
        self.close()

    def close(self) -> None:
        """Stop the cat-file process (closing its stdin lets it exit cleanly).

        With a `read_many` stream still open (e.g. Ctrl-C in the code consuming it: the
        stream's own `finally` has not run), git is killed first and the writer thread
        joined before any pipe is closed: the writer may be blocked in `write()` holding
        stdin's lock, with git blocked writing answers nobody reads, and closing stdin
        would wait on that lock for ever."""
        proc, self._proc = self._proc, None
        writer, self._writer = self._writer, None
        self._busy = False
        if proc is not None and writer is not None and self._owner == os.getpid():
            proc.kill()  # its pipes' other ends close: a blocked write() fails and returns
            proc.wait()
            if writer.is_alive():
                writer.join(timeout=5)
            if writer.is_alive():  # something else holds git's stdin open: leave it be
                proc.stdin = None
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:  # BrokenPipe flushing to a dead process
                        pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            import tempfile  # here: with shutil, bz2 and lzma ~8 ms a hook that reads no blob skips

            # stderr goes to a file: a pipe nobody drains could fill and stall git.
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as git)
            self._owner = os.getpid()
            # A bulk read walks long delta chains: git's default 96 MiB
            # delta-base cache is too small for 100k+ blobs and doubles the time.
            bulk = ("-c", "core.deltaBaseCacheLimit=512m") if self._bulk else ()
            self._proc = self._git.popen(
                *bulk,
                "cat-file",
                "--batch",
                stdin=subprocess.PIPE,
                stderr=self._stderr,
                bufsize=1 << 16,
            )
        return self._proc

    def _died(self) -> ExpflowError:
        detail = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            detail = first_line(self._stderr.read())
        self.close()
        return ExpflowError(f"git cat-file: {detail or 'exited unexpectedly'}")

    def _answer(self, stdout: IO[bytes], name: str, kind: bytes = b"blob") -> bytes:
        """Read one answer: ``<sha> <type> <size>LF<content>LF`` or ``<name> missing LF``.

        A missing object or one not of type `kind` raises after its whole answer is
        read, so the stream stays usable; anything else stops the process.
        """
        header = stdout.readline()
        if not header.endswith(b"\n"):
            raise self._died()
        if header.endswith(b" missing\n"):  # `<name> missing`: a name may hold spaces
            raise ExpflowError(f"git object {name} is missing from the repository")
        parts = header.split()
        if len(parts) != 3 or not parts[2].isdigit():
            text = header.decode("utf-8", "replace").strip()
            self._abort()
            raise ExpflowError(f"git cat-file: unexpected answer for {name}: {text}")
        size = int(parts[2])
        data = stdout.read(size)
        if len(data) != size or stdout.read(1) != b"\n":
            raise self._died()
        if parts[1] != kind:
            found, wanted = parts[1].decode(), kind.decode()
            raise ExpflowError(f"git object {name} is a {found}, not a {wanted}")
        return data

    def read(self, sha: str) -> bytes:
        """The content of blob ``sha``; a missing object or a non-blob raises ExpflowError."""
        names = _check_names([sha])
        if self._busy:
            raise RuntimeError("BlobReader: a read_many() is still being consumed")
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            # One short line fits in the pipe buffer: no writer thread needed.
            proc.stdin.write(_encode_name(names[0]) + b"\n")
            proc.stdin.flush()
        except OSError:
            raise self._died() from None
        try:
            return self._answer(proc.stdout, sha)
        except ExpflowError:
            raise
        except BaseException:  # e.g. KeyboardInterrupt mid-answer: out of step now
            self._abort()
            raise

    def read_many(
        self, shas: Iterable[str], *, kind: str = "blob"
    ) -> Generator[tuple[str, bytes], None, None]:
        """Yield ``(sha, content)`` for every requested blob (or object of type `kind`: a
        tree's is its entries as git stores them), in request order.

        ``shas`` is consumed and checked at the call.  Abandoning the iterator
        early stops the process (it would still be answering); the next call
        starts a new one.
        """
        names = _check_names(shas)
        if self._busy:
            raise RuntimeError("BlobReader: a read_many() is still being consumed")
        return self._stream(names, kind.encode("ascii"))

    def _stream(
        self, names: list[str], kind: bytes = b"blob"
    ) -> Generator[tuple[str, bytes], None, None]:
        if not names:
            return
        proc = self._start()
        stdin, stdout = proc.stdin, proc.stdout
        assert stdin is not None and stdout is not None
        request = _encode_name("\n".join(names) + "\n")

        def feed() -> None:
            try:
                stdin.write(request)
                stdin.flush()
            except (OSError, ValueError):
                pass  # git died or was stopped; the reading side reports why

        writer = threading.Thread(target=feed, name="cat-file-writer", daemon=True)
        self._busy = True
        self._writer = writer
        done = False
        writer.start()
        try:
            answer = self._answer
            for name in names:
                yield name, answer(stdout, name, kind)
            done = True
        finally:
            if self._writer is writer:  # else close() has already stopped this stream
                if done:
                    writer.join()  # (git read every request: the writer has returned)
                else:
                    # Stopped mid-stream (an error, or the caller broke off): git
                    # still has answers queued, so this process cannot be reused.
                    self._abort()  # (close() kills git, then joins the writer)
                self._busy = False
                self._writer = None

    def _abort(self) -> None:
        # Kill first: the writer may be blocked in write() holding the pipe's
        # lock, and only a dead reader on the other end releases it (close() kills
        # too while a stream is open, and joins its writer).
        if self._proc is not None:
            self._proc.kill()
        self.close()


@final
class BlobsExist:
    """Whether every object of `shas` is in the repository, asked of one `git cat-file
    --batch-check` that runs while the caller works (its request and answers are
    temporary files: no pipe can fill up). For blobs a cache answers for and nothing
    reads: a commit whose blob is gone (a damaged clone, a bad gc) must fail a warm
    audit as it fails a cold one. Only whether each is there is asked (its type would
    walk its delta chain: 4× the time at 100k runs); a cache's answer for an id was
    made by reading it as a blob. Use as a context manager; `check()` waits and raises."""

    def __init__(self, git: Git, shas: Iterable[str]) -> None:
        """`shas` is written to the request a batch at a time: at a million runs a list
        of their two million ids held ~170 MB at the audit's peak."""
        import tempfile

        self._proc: subprocess.Popen[bytes] | None = None
        self._count = 0
        self._files = [tempfile.TemporaryFile() for _ in range(3)]  # noqa: SIM115
        self._request, self._out, self._err = self._files
        names = iter(shas)
        while batch := list(itertools.islice(names, 65536)):
            self._request.write(_encode_name("\n".join(batch)))
            self._request.write(b"\n")
            self._count += len(batch)
        if not self._count:  # (git takes an empty line for a name, and finds no such object)
            return
        self._request.seek(0)
        self._proc = git.popen(
            "cat-file",
            "--batch-check=%(rest)",  # an empty line an object: nothing looked up
            "--buffer",
            stdin=self._request,
            stdout=self._out,
            stderr=self._err,
        )

    def __enter__(self) -> BlobsExist:
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
        for file in self._files:
            file.close()

    def check(self) -> None:
        """Wait for git; ExpflowError, as `BlobReader` words it, for the first object
        that is missing."""
        proc, self._proc = self._proc, None
        if proc is None:  # nothing to ask (or asked already)
            return
        code = proc.wait()
        self._out.seek(0)
        answers = self._out.read()
        if code == 0 and answers == b"\n" * self._count:
            return
        self._request.seek(0)
        for name, line in zip(self._request, answers.split(b"\n"), strict=False):
            if line:  # `<name> missing`, or anything git may say instead of nothing
                sha = name.rstrip(b"\n").decode("utf-8", "surrogateescape")
                raise ExpflowError(f"git object {sha} is missing from the repository")
        self._err.seek(0)
        detail = first_line(self._err.read())
        raise ExpflowError(f"git cat-file: {detail or 'exited unexpectedly'}")


# The readers each thread is inside the `with` block of, innermost last (`shared_reader`).
_ENTERED = threading.local()


@contextlib.contextmanager
def shared_reader(git: Git) -> Iterator[BlobReader]:
    """The reader of `git` (the same object) whose `with` block this thread is in,
    innermost first, borrowed (left open at the end); else a new one for the block.
    Only one this process made and not in the middle of a `read_many`: a forked child
    inherits its parent's reader, whose process answers the parent. A reader is not
    thread-safe, and a thread only sees its own. So a check that every audit with
    `--since` runs reads its few objects through the audit's own stream, with no `git
    cat-file` process of its own (the budgets' trees)."""
    for reader in reversed(getattr(_ENTERED, "readers", ())):
        if reader._git is git and reader._pid == os.getpid() and not reader._busy:
            yield reader
            return
    with BlobReader(git) as reader:
        yield reader


def _check_names(shas: Iterable[str]) -> list[str]:
    # One request per line: a newline inside a name would inject a second one.
    names = list(shas)
    for name in names:
        if not name or "\n" in name or name.strip() != name:
            raise ExpflowError(f"not an object id: {name!r}")
    return names


def _encode_name(text: str) -> bytes:
    # A name may be `<commit>:<path>` (the history audit reads a record as it was at a
    # commit): a path goes back to git's bytes exactly, as in gitstore's _encode_path.
    return text.encode("utf-8", "surrogateescape")


FEW_PATHS = 64  # named to git one by one; more: the whole index is listed and filtered here


def staged_entries(git: Git, paths: Sequence[str], *, links: bool = False) -> dict[str, IndexEntry]:
    """The index entries at ``paths`` (stage 0, not a submodule unless `links`), by path,
    in one ``ls-files`` however many paths (a hook's git processes must not grow with
    the commit); read their blobs through one :class:`BlobReader`."""
    wanted = set(paths)
    if not wanted:
        return {}
    listed = git.ls_index_named((), sorted(wanted)) if len(wanted) <= FEW_PATHS else git.ls_index()
    return {
        e.path: e
        for e in listed
        if e.path in wanted and e.stage == 0 and (links or e.mode != GITLINK)
    }
