"""Interruptions: SIGTERM taken as Ctrl-C is, and the writes that go whole or not at all.

A SIGTERM (a CI job cancelled, `timeout`, a supervisor stopping a run) killed the process
where it stood: no temporary file removed, no record put back, no import's run rolled
back. The CLI raises `Terminated`, a KeyboardInterrupt, for it instead, so every cleanup
written for Ctrl-C runs for it too. A pair of writes that must not be parted (a record
marked `success` and its result, an import's run, `rm`'s two deletes) runs with both
signals held (`deferred`): one that comes meanwhile takes effect once the pair is written.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

INTERRUPTS = frozenset({signal.SIGINT, signal.SIGTERM})


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt (the CLI exits 143)."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def terminate_as_interrupt() -> None:
    """From now on a SIGTERM raises `Terminated` in the main thread (the CLI's `main`,
    before any command runs). A SIGTERM ignored (or handled) by whoever started the
    process is left so."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """SIGINT and SIGTERM held while the block runs: one that comes meanwhile is raised
    as the block ends, after its writes, never between them. Only blocks that write a
    few files: a Ctrl-C waits for them.

    Held twice over: blocked in this thread's signal mask (where the system has one), so
    that a SIGTERM with no handler waits too, and, in the main thread, Python's handlers
    swapped for one that notes the signal: the handler runs in the main thread whichever
    thread the system gave the signal to, and a program with other threads (the Python
    API's in a training script) would have had it raised inside the block."""
    caught: list[int] = []  # (as the system numbers them)

    def later(signum: int, frame: object) -> None:
        caught.append(signum)

    # The mask as it was, asked for without a change: a signal already pending raises
    # here, before anything is held (a raise from the blocking call itself would leave
    # the signals held with no record of the mask to put back).
    masks = hasattr(signal, "pthread_sigmask")
    held = signal.pthread_sigmask(signal.SIG_BLOCK, ()) if masks else None
    saved: dict[signal.Signals, Callable[[int, FrameType | None], Any]] = {}
    try:
        if masks:
            signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
        try:
            for sig in INTERRUPTS:
                handler = signal.getsignal(sig)
                if callable(handler):
                    saved[sig] = handler
                    signal.signal(sig, later)
        except ValueError:  # not the main thread (refused at the first): none runs here
            saved.clear()
        yield
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # (one pending reaches `later`)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if caught:
            saved[signal.Signals(caught[0])](caught[0], None)  # KeyboardInterrupt, Terminated
