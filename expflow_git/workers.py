"""Independent parts of one job on the machine's other cores (forked on Linux).

A child inherits everything the parent has loaded (the policy, the schemas, an
index listing), computes its part, and sends the pickled answer back through a
pipe. A child that fails for any reason sends nothing and its part is redone
here, so no verdict depends on a worker having run; the answers come back in
the order of the parts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

P = TypeVar("P")
R = TypeVar("R")

ENV_JOBS = "EXPFLOW_JOBS"


def worker_count(items: int, per_worker: int) -> int:
    """How many processes `items` pieces of work are worth, at least `per_worker` each.

    One where there is no fork (only Linux forks here: elsewhere a child may
    inherit a runtime that is unsafe after fork), inside pre-commit (it already
    runs hook batches on every core), or as EXPFLOW_JOBS says (1: never fork).
    """
    wanted = os.environ.get(ENV_JOBS, "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        limit = int(wanted)
    elif os.environ.get("PRE_COMMIT") == "1" or not sys.platform.startswith("linux"):
        limit = 1
    else:
        limit = len(os.sched_getaffinity(0))
    return max(1, min(limit, items // per_worker))


def map_parts(work: Callable[[P], R], parts: Sequence[P]) -> list[R]:
    """`work(part)` for every part; all but the first run in forked children."""
    children = [(_fork(work, part), part) for part in parts[1:]]
    try:
        answers = [work(parts[0])] if parts else []
    except BaseException:
        for (pid, fd), _ in children:
            os.close(fd)
            _reap(pid, kill=True)
        raise
    for (pid, fd), part in children:
        answers.append(_collect(pid, fd, work, part))
    return answers


def _fork(work: Callable[[P], R], part: P) -> tuple[int, int]:
    """Start a child computing `work(part)`; its pid and the pipe to read the answer from."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never runs the parent's cleanup or output
        status = 1
        try:
            os.close(read_end)
            import pickle

            payload = pickle.dumps(work(part), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            status = 0
        except BaseException:  # the parent redoes the part and reports what it finds
            pass
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, fd: int, work: Callable[[P], R], part: P) -> R:
    """The child's answer, or the part computed here if the child did not give one."""
    import pickle

    with os.fdopen(fd, "rb") as pipe:
        payload = pipe.read()
    if _reap(pid) == 0:
        try:
            answer: R = pickle.loads(payload)
            return answer
        except Exception:  # a truncated answer: redo the part
            pass
    return work(part)


def _reap(pid: int, *, kill: bool = False) -> int:
    """Wait for a child (killing it first if asked); its exit code (negative: a signal)."""
    if kill:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
