"""The audit's cold read on every core: the blobs no cache record answers for are
checked (`content_record`: strict parse, schema, registry, PIN scan) in parts, all
but the first in children forked once per audit (forkpool.py: forking the grown
audit every round cost more system time than the checks). A child is sent blob ids
and reads the blobs through its own `git cat-file` stream; this process reads its
own share through the audit's stream. The records come back through the pool.

What the tree asks of each blob (`needs`: its document kinds and scan classes) is
read by a child from its own copy of the tree's classification, taken when it was
forked (on the first round, once every path is classified): a blob id is all a part
carries down (building and pickling each blob's questions here was ~4% of this
process's work).

The batch is cut into rounds of ROUND_BLOBS, and two are in flight: the children
check round k + 1 while this process consumes round k's records (taken from the
children whole before round k + 1 is sent) and checks its own share of round k + 1.
Every blob is checked as it is read, so the memory a round takes is its records', not
its content's; on one core (or a small batch) each blob is
checked as it arrives. The records come in no set order (the audit sorts what it
keeps), and a child that fails has its part redone here: the verdicts never depend
on how the work was split.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Collection, Iterator, Sequence

from expflow_git.audit.record import BlobRecord, content_record
from expflow_git.forkpool import ForkPool, Pending
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Git
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind
from expflow_git.workers import worker_count

# The audit asks for records in batches of up to BATCH_BLOBS (their records are held
# until consumed); a batch is checked in rounds of ROUND_BLOBS, two in flight at once.
BATCH_BLOBS = 20_000
ROUND_BLOBS = 4_000
PER_WORKER = 2_000  # blobs: a smaller share does not pay for a forked process
# This process also consumes every record (~7 µs each against ~30 µs to read and check
# a small document), the children's while they check the next round: its own share is
# OWN_SHARE of a child's (20k small runs on two cores, 10 paired runs each: 0.7 took the
# blob phase 0.94 of the time it took with the answers consumed before the next round
# was sent; 0.8 took 0.96, 0.65 and 0.75 ~1.02 of 0.7's, 0.55 1.05 of the old order's).
OWN_SHARE = 0.7

Needs = Callable[[str], tuple[Collection[Kind], Collection[str]]]


class Checker:
    """The cold read's workers for one audit: forked (forkpool.py) on the first round
    worth them, while the audit holds little, and fed every later round; use as a
    context manager, and end it before the blob stream (a child inherits its pipes)."""

    def __init__(self, policy: Policy, git: Git, needs: Needs) -> None:
        """`needs`: a blob's document kinds and scan classes, for every blob that will be
        asked for, from the first round on (a child keeps the answers it was forked with)."""
        # The pool holds what a part is, not this object: no reference cycle keeps the
        # tree (through `needs`) alive after the audit, for a full collection to find.
        parts = _Parts(policy, git, needs)
        self.pool: ForkPool[list[str], list[BlobRecord]] = ForkPool(
            parts.work, worker_count(1 << 62, PER_WORKER), finish=parts.close
        )
        self._parts = parts

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.pool.close()
        finally:
            self._parts.close()

    def records(self, reader: BlobReader, shas: Sequence[str]) -> Iterator[tuple[str, BlobRecord]]:
        """`(sha, content_record(...))` for every blob of `shas` (this process's share
        read through `reader`), in no set order.

        The rounds are pipelined: the children check round k + 1 while this process
        hands back (consumes) round k's records and checks its own share of round k + 1;
        a round's answers are taken whole before the next round is sent (a child answers
        one part at a time)."""
        if worker_count(len(shas), PER_WORKER) == 1:
            yield from self._parts.checked(reader, shas)
            return
        waiting: tuple[list[list[str]], Pending[list[str]]] | None = None
        try:
            for start in range(0, len(shas), ROUND_BLOBS):
                round_ = shas[start : start + ROUND_BLOBS]
                shares = _shares(len(round_), worker_count(len(round_), PER_WORKER))
                names = [list(round_[a:b]) for a, b in shares]
                # The children's answers to the last round are taken whole before this
                # round is sent (a child answers one part at a time), and handed back
                # after: the children check while this process consumes them.
                answered: list[tuple[str, BlobRecord]] = []
                if waiting is not None:
                    answered = list(self._gathered(*waiting))
                    waiting = None
                if len(names) > 1:  # (the audit's stream is idle: nothing half-read forks)
                    waiting = (names[1:], self.pool.submit(names[1:]))
                yield from answered
                del answered
                yield from self._parts.checked(reader, names[0])
            if waiting is not None:
                yield from self._gathered(*waiting)
                waiting = None
        finally:
            if waiting is not None:  # the caller stopped early: no answer is left behind
                self.pool.discard(waiting[1])

    def _gathered(
        self, names: list[list[str]], pending: Pending[list[str]]
    ) -> Iterator[tuple[str, BlobRecord]]:
        for shas, records in zip(names, self.pool.gather(pending), strict=True):
            yield from zip(shas, records, strict=True)


class _Parts:
    """Reading and checking a part's blobs, in whichever process the part is done."""

    def __init__(self, policy: Policy, git: Git, needs: Needs) -> None:
        self.policy = policy
        self.git = git
        self.needs = needs
        # This process's own stream for the parts it reads itself (a failed child's):
        # never the audit's, and never one inherited through a fork.
        self._reader: tuple[int, BlobReader] | None = None

    def work(self, part: list[str]) -> list[BlobRecord]:
        """Read and check a part's blobs, through this process's own stream."""
        if self._reader is None or self._reader[0] != os.getpid():
            self._reader = (os.getpid(), BlobReader(self.git))
        return [record for _, record in self.checked(self._reader[1], part)]

    def checked(self, reader: BlobReader, shas: Sequence[str]) -> Iterator[tuple[str, BlobRecord]]:
        """`(sha, content_record(...))` for every blob of `shas`, read through `reader`."""
        needs, policy = self.needs, self.policy
        for sha, data in reader.read_many(shas):
            yield sha, content_record(data, *needs(sha), policy)

    def close(self) -> None:
        if self._reader is not None and self._reader[0] == os.getpid():
            self._reader[1].close()
        self._reader = None


def _shares(blobs: int, workers: int) -> list[tuple[int, int]]:
    """Where each part of a round starts and ends: this process's own (the first) is
    OWN_SHARE of a child's, for it also consumes every record."""
    own = int(blobs * OWN_SHARE / (OWN_SHARE + workers - 1))
    size = -(-(blobs - own) // (workers - 1)) if workers > 1 else 0
    bounds = [0, own, *range(own + size, blobs, size), blobs] if workers > 1 else [0, blobs]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
