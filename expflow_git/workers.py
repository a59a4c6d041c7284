"""Independent parts of one job on the machine's other cores (forked on Linux).

A child inherits everything the parent has loaded (the policy, the schemas),
computes its part, and sends the pickled answer back through a
pipe. A child that fails for any reason sends nothing and its part is redone
here, so no verdict depends on a worker having run; the answers come back in
the order of the parts.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
from collections.abc import Callable, Collection, Sequence
from typing import IO, TypeVar

P = TypeVar("P")
R = TypeVar("R")

ENV_JOBS = "EXPFLOW_JOBS"


def worker_count(items: int, per_worker: int) -> int:
    """How many processes `items` pieces of work are worth, at least `per_worker` each.

    One where there is no fork (only Linux forks here: elsewhere a child may inherit
    a runtime that is unsafe after fork) and inside pre-commit (it already runs hook
    batches on every core). EXPFLOW_JOBS=N, a positive number, sets the limit
    instead (1: never fork); never more than the cores this process may use.
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    cores = len(os.sched_getaffinity(0))
    wanted = _jobs(os.environ.get(ENV_JOBS, ""))
    if wanted is not None:
        limit = min(wanted, cores)
    else:
        limit = 1 if os.environ.get("PRE_COMMIT") == "1" else cores
    return max(1, min(limit, items // per_worker))


def _jobs(text: str) -> int | None:
    """EXPFLOW_JOBS as a positive number; None (the default applies) for anything else."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) or None


def map_parts(work: Callable[[P], R], parts: Sequence[P]) -> list[R]:
    """`work(part)` for every part; all but the first run in forked children."""
    if not parts:
        return []
    children: list[tuple[int, int] | None] = []
    try:
        for part in parts[1:]:
            children.append(_fork(work, part, [c[1] for c in children if c is not None]))
        answers = [work(parts[0])]
        for i, part in enumerate(parts[1:]):
            child, children[i] = children[i], None  # _collect reaps it, whatever happens
            answers.append(work(part) if child is None else _collect(*child, work, part))
        return answers
    finally:
        for child in children:  # only if this process's own work failed
            if child is not None:
                os.close(child[1])
                reap(child[0], kill=True)


def _fork(work: Callable[[P], R], part: P, siblings: list[int]) -> tuple[int, int] | None:
    """Start a child computing `work(part)`: its pid and the pipe to read the answer
    from, or None when no process or pipe is to be had (the part is then done here).
    `siblings` are the pipes of earlier children, which this one closes."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None

    def child() -> int:
        for fd in (read_end, *siblings):
            os.close(fd)
        return _send(work(part), write_end)

    pid = fork_child(child)
    if pid is None:
        os.close(read_end)
        os.close(write_end)
        return None
    os.close(write_end)
    return pid, read_end


def fork_child(child: Callable[[], int]) -> int | None:
    """Fork a process that runs `child()` and exits with the status it returns (1 if it
    raises): it never returns into the parent's code, cleanup or output. The parent gets
    its pid, or None when no process is to be had.

    Ctrl-C reaches every process of the group: SIGINT and SIGTERM are held until the
    child is inside the guard that ends it, so it can never unwind into the parent's code.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        pid = os.fork()
    except OSError:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return None
    if pid == 0:
        status = 1
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            status = child()
        finally:
            os._exit(status)
    signal.pthread_sigmask(signal.SIG_SETMASK, held)
    return pid


def _send(answer: R, fd: int) -> int:
    """In a child: write the pickled answer; the exit status says whether it all went."""
    import pickle

    payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(payload)
    return 0


def _collect(pid: int, fd: int, work: Callable[[P], R], part: P) -> R:
    """The child's answer, or the part computed here if the child did not give one
    (it failed, was killed, or could not send)."""
    import pickle

    try:
        with os.fdopen(fd, "rb") as pipe:
            payload = pipe.read()
    except BaseException:
        reap(pid, kill=True)
        raise
    if reap(pid) != 0 or not payload:  # (an empty answer: the work itself exited)
        return work(part)
    answer: R = pickle.loads(payload)  # whole: _send returns 0 only once it is written
    return answer


def reap(pid: int, *, kill: bool = False) -> int:
    """Wait for a child (killing it first if asked); its exit code (negative: a signal,
    or no status to be had)."""
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # SIGCHLD ignored by whoever started us: no status to read
        return -1
    return os.waitstatus_to_exitcode(status)


def close_inherited(keep: Collection[int]) -> None:
    """In a forked child: close every descriptor from 3 on but `keep`.

    The open ones are listed from /proc/self/fd, not walked up to the limit of open
    files: where the kernel has no close_range call (before Linux 5.9) or a container's
    seccomp profile refuses it, os.closerange makes one close() per number (measured
    with close_range refused: 20,000 calls for a limit of 20,000). A container's limit
    is often 2^20 (~0.2 s a child) and can be 2^30 (minutes)."""
    try:
        listed = os.listdir("/proc/self/fd")
    except OSError:  # no /proc: every number up to the limit
        bounds = [2, *sorted(fd for fd in keep if fd > 2), os.sysconf("SC_OPEN_MAX")]
        for low, high in itertools.pairwise(bounds):
            os.closerange(low + 1, high)
        return
    for name in listed:
        fd = int(name)
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):  # (the listing's own, closed already)
                os.close(fd)


class SpoolJob:
    """`work(spool)` begun in a forked child that writes to a new temporary file and
    answers a few bytes through a pipe. `answer()` waits for it: the answer and the file
    (at its start), or None when there is none (no process, pipe or file was to be had,
    or the child failed), and the caller then does the work itself. `close()` ends a
    child whose answer is never asked for.

    The child holds only its own file and pipe: an inherited pipe (the audit's `git
    cat-file` stream) held open there would keep git waiting for the parent's end."""

    def __init__(self, work: Callable[[IO[bytes]], bytes]) -> None:
        self.pid: int | None = None
        self._pipe = -1
        self._spool: IO[bytes] | None = None
        import tempfile  # (not on a hook's path)

        try:
            spool = tempfile.TemporaryFile()
        except OSError:
            return
        try:
            read_end, write_end = os.pipe()
        except OSError:
            spool.close()
            return

        def child() -> int:
            close_inherited({write_end, spool.fileno()})
            answer = work(spool)
            spool.flush()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(answer)
            return 0

        try:
            pid = fork_child(child)
        except BaseException:
            os.close(read_end)
            spool.close()
            raise
        finally:
            os.close(write_end)
        if pid is None:
            os.close(read_end)
            spool.close()
            return
        self.pid, self._pipe, self._spool = pid, read_end, spool

    def answer(self) -> tuple[bytes, IO[bytes]] | None:
        pid, spool = self.pid, self._spool
        if pid is None or spool is None:
            return None
        self.pid = self._spool = None
        try:
            pipe = os.fdopen(self._pipe, "rb")
        except BaseException:
            os.close(self._pipe)
            reap(pid, kill=True)
            spool.close()
            raise
        try:
            with pipe:
                answer = pipe.read()
        except BaseException:
            reap(pid, kill=True)
            spool.close()
            raise
        if reap(pid) != 0 or not answer:
            spool.close()
            return None
        spool.seek(0)
        return answer, spool

    def close(self) -> None:
        pid, spool = self.pid, self._spool
        if pid is not None and spool is not None:
            self.pid = self._spool = None
            os.close(self._pipe)
            reap(pid, kill=True)
            spool.close()
