"""The audit's cold read on every core: the blobs no cache record answers for are
read through the one `git cat-file` stream here, and their records (`content_record`:
strict parse, schema, registry, PIN scan) computed in parts, all but the first in
children forked once per audit (forkpool.py: forking the grown audit every round
cost more system time than the checks), which are sent the blobs and send the
records back.

A round holds at most ROUND_BLOBS blobs and about ROUND_BYTES of content (plus one
READ_STEP of blobs), so the memory a round takes is bounded by the repository's
largest blobs, not by its size; on one core (or a small round)
each blob is checked as it arrives, as before. The records come back in request
order, and a child that fails has its part redone here: the verdicts never depend on
how the work was split.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterator, Sequence

from expflow_git.audit.record import BlobRecord, content_record
from expflow_git.forkpool import ForkPool
from expflow_git.gitblobs import BlobReader
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind
from expflow_git.workers import worker_count

ROUND_BLOBS = 20_000  # blobs checked per round (their records are held until consumed)
ROUND_BYTES = 64 * 1024 * 1024  # content held per round
PER_WORKER = 2_000  # blobs: a smaller share does not pay for a forked process
# The audit's own process also reads the stream and consumes every record: checking
# half of each round beside one child, it used 2.6 s of CPU to the child's 0.9 s (20k
# small documents, cold); with a quarter share, 2.2 s to 1.3 s.
OWN_SHARE = 0.5
READ_STEP = 256  # blobs read per stream: a round may pass ROUND_BYTES by one step's

Needs = Callable[[str], tuple[Collection[Kind], Collection[str]]]
Blob = tuple[bytes, Collection[Kind], Collection[str]]  # content, kinds, scan classes


class Checker:
    """The cold read's workers for one audit: forked (forkpool.py) on the first round
    worth them, while the audit holds little, and fed every later round; use as a
    context manager, and end it before the blob stream (a child inherits its pipes)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.pool: ForkPool[list[Blob], list[BlobRecord]] = ForkPool(
            self._work, worker_count(1 << 62, PER_WORKER)
        )

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.close()

    def _work(self, part: list[Blob]) -> list[BlobRecord]:
        return [content_record(data, kinds, classes, self.policy) for data, kinds, classes in part]

    def records(
        self, reader: BlobReader, shas: Sequence[str], needs: Needs
    ) -> Iterator[tuple[str, BlobRecord]]:
        """`(sha, content_record(...))` for every blob of `shas`, in that order; `needs`
        gives a blob's document kinds and scan classes."""
        if worker_count(len(shas), PER_WORKER) == 1:
            for sha, data in reader.read_many(shas):
                yield sha, content_record(data, *needs(sha), self.policy)
            return
        # Read in small steps, each stream drained before anything is forked (a child
        # must not inherit a stream half-read), until a round's worth is held.
        chunk: list[tuple[str, bytes]] = []
        held = 0
        for start in range(0, len(shas), READ_STEP):
            for sha, data in reader.read_many(shas[start : start + READ_STEP]):
                chunk.append((sha, data))
                held += len(data)
            if held >= ROUND_BYTES or len(chunk) >= ROUND_BLOBS:
                yield from self._checked(chunk, needs)
                chunk, held = [], 0
        yield from self._checked(chunk, needs)

    def _checked(
        self, blobs: list[tuple[str, bytes]], needs: Needs
    ) -> Iterator[tuple[str, BlobRecord]]:
        if not blobs:
            return
        workers = worker_count(len(blobs), PER_WORKER)
        parts = [
            [(data, *needs(sha)) for sha, data in blobs[a:b]]
            for a, b in _shares(len(blobs), workers)
        ]
        shas = (sha for sha, _ in blobs)
        for records in self.pool.map(parts):
            for record in records:
                yield next(shas), record


def _shares(blobs: int, workers: int) -> list[tuple[int, int]]:
    """Where each part of a round starts and ends: this process's own (the first) is
    OWN_SHARE of a child's, for it also reads the stream and consumes every record."""
    own = int(blobs * OWN_SHARE / (OWN_SHARE + workers - 1))
    size = -(-(blobs - own) // (workers - 1)) if workers > 1 else 0
    bounds = [0, own, *range(own + size, blobs, size), blobs] if workers > 1 else [0, blobs]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
