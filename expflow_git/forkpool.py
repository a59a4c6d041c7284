"""Workers forked once and fed part after part (issue 18, second pass).

`workers.map_parts` forks a child per part: right for one batch, but an audit that
checks its blobs in rounds would fork its whole, growing process once per round
(at a million runs, ~80 forks of a 1.5 GiB process: most of the system time).
A `ForkPool` forks its children when it is first needed, while the process is still
small, and sends each of them its part of every later round through a pipe (the
part's data travels with it; nothing the parent holds later is inherited).

As with map_parts, the first part of each round is computed here, the answers come
back in the order of the parts, and a child that fails (dies, sends garbage) has
its part redone here and is not used again: no answer depends on a child having run.
"""

from __future__ import annotations

import os
import pickle
import struct
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Generic, NamedTuple, TypeVar

from expflow_git.workers import fork_child, reap

P = TypeVar("P")
R = TypeVar("R")

_LENGTH = struct.Struct("<Q")  # every message: its length, then its pickle
# How long `close` lets an idle child run its `finish` (close its own git stream) before
# it is killed: milliseconds are enough; a child stuck in work is not waited for longer.
FINISH_SECONDS = 2.0


class _Child(NamedTuple):
    pid: int
    to_child: int  # the parts go down this pipe
    from_child: int  # the answers come up this one


class Pending(NamedTuple, Generic[P]):
    """Parts sent by `ForkPool.submit`, with the child (slot) each went to (None: to be
    done by the parent)."""

    parts: Sequence[P]
    sent: list[tuple[int, _Child | None]]


class ForkPool(Generic[P, R]):
    """Up to `size - 1` children computing `work(part)`; use as a context manager so
    that they are ended and reaped (a child holds the parent's inherited pipes open)."""

    def __init__(
        self, work: Callable[[P], R], size: int, finish: Callable[[], None] | None = None
    ) -> None:
        self.work = work
        self.size = size
        self.finish = finish  # run in a child when its parent is done with it
        # None: not forked yet; a child that failed leaves None in its slot.
        self._children: list[_Child | None] | None = None

    def __enter__(self) -> ForkPool[P, R]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def map(self, parts: Sequence[P]) -> list[R]:
        """`work(part)` for every part, in order: the first here, the others in children
        (forked on the first call; parts beyond the live children are done here)."""
        if len(parts) < 2:
            return [self.work(part) for part in parts]
        pending = self.submit(parts[1:])
        own = self.work(parts[0])
        return [own, *self.gather(pending)]

    def submit(self, parts: Sequence[P]) -> Pending[P]:
        """Send each part to a child (forked on the first call) and return at once;
        `gather` gives the answers. Parts beyond the live children are left for
        `gather` to do here. Gather (or `discard`) before submitting again: a child
        answers one part at a time."""
        if self._children is None:
            self._children = []
            for _ in range(self.size - 1):
                child = self._fork()
                if child is None:
                    break
                self._children.append(child)
        sent: list[tuple[int, _Child | None]] = []
        for i, part in enumerate(parts):
            child = self._children[i] if i < len(self._children) else None
            if child is not None and not self._send(i, child, part):
                child = None
            sent.append((i, child))
        return Pending(parts, sent)

    def gather(self, pending: Pending[P]) -> list[R]:
        """The answers to a `submit`, in order: a child's, or (for a child that failed or
        was not there) the part computed here."""
        answers = []
        for (i, child), part in zip(pending.sent, pending.parts, strict=True):
            answer = self._receive(i, child) if child is not None else None
            answers.append(self.work(part) if answer is None else answer[0])
        return answers

    def discard(self, pending: Pending[P]) -> None:
        """Give up on a `submit` (the caller stopped): the children still working on its
        parts are ended, so that no stale answer waits in a pipe."""
        for i, child in pending.sent:
            if child is not None and self._children is not None and self._children[i] is child:
                self._drop(i, child)

    def close(self) -> None:
        """End every child: its pipe closed, so its loop ends and `finish` runs (a child
        still busy after FINISH_SECONDS is killed), then reaped."""
        for i, child in enumerate(self._children or ()):
            if child is not None:
                self._drop(i, child, grace=FINISH_SECONDS)
        self._children = []

    def _fork(self) -> _Child | None:
        try:
            down_read, down_write = os.pipe()
        except OSError:
            return None
        try:
            up_read, up_write = os.pipe()
        except OSError:
            os.close(down_read)
            os.close(down_write)
            return None
        siblings = [
            fd for c in filter(None, self._children or ()) for fd in (c.to_child, c.from_child)
        ]

        def child() -> int:
            os.close(down_write)
            os.close(up_read)
            for fd in siblings:
                os.close(fd)
            try:
                _serve(self.work, down_read, up_write)
            finally:
                if self.finish is not None:
                    self.finish()
            return 0

        pid = fork_child(child)
        if pid is None:
            for fd in (down_read, down_write, up_read, up_write):
                os.close(fd)
            return None
        os.close(down_read)
        os.close(up_write)
        return _Child(pid, down_write, up_read)

    def _send(self, slot: int, child: _Child, part: P) -> bool:
        try:
            _write(child.to_child, pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:  # (a dead child: EPIPE; Python ignores SIGPIPE)
            self._drop(slot, child)
            return False
        return True

    def _receive(self, slot: int, child: _Child) -> tuple[R] | None:
        """The child's answer (in a 1-tuple: an answer may be None), or None if it
        gave none; a child that gave none is ended and not used again."""
        try:
            payload = _read(child.from_child)
            if payload is not None and payload[:1] == b"+":
                return (pickle.loads(payload[1:]),)
        except (OSError, pickle.UnpicklingError, EOFError, ValueError):
            pass
        self._drop(slot, child)
        return None

    def _drop(self, slot: int, child: _Child, grace: float = 0.0) -> None:
        """End a child (at once, or given `grace` seconds to end on its own); its slot
        stays empty, so later slots keep their children."""
        if self._children is not None:
            self._children[slot] = None
        os.close(child.to_child)
        os.close(child.from_child)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(child.pid, os.WNOHANG)
            except ChildProcessError:  # no status to be had (SIGCHLD ignored)
                return
            if pid:
                return  # it ended on its own, after its `finish`
            time.sleep(0.001)
        reap(child.pid, kill=True)


def _serve(work: Callable[[P], R], inbox: int, outbox: int) -> None:
    """In a child: answer part after part until the parent closes the pipe."""
    while (payload := _read(inbox)) is not None:
        try:
            answer = b"+" + pickle.dumps(work(pickle.loads(payload)), pickle.HIGHEST_PROTOCOL)
        except Exception:  # the parent redoes the part, and reports what it raises
            answer = b"-"
        _write(outbox, answer)


def _write(fd: int, payload: bytes) -> None:
    view = memoryview(_LENGTH.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def _read(fd: int) -> bytes | None:
    """One message, or None at the end of the pipe."""
    head = _read_exactly(fd, _LENGTH.size)
    if head is None:
        return None
    (length,) = _LENGTH.unpack(head)
    body = _read_exactly(fd, length)
    if body is None:
        raise EOFError("the message was cut short")
    return body


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
