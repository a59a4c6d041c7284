"""The audit's cold read on every core: the blobs no cache record answers for are
read through the one `git cat-file` stream here, and their records (`content_record`:
strict parse, schema, registry, PIN scan) computed in parts, all but the first in
children forked once per audit (forkpool.py: forking the grown audit every round
cost more system time than the checks), which are sent the blobs and send the
records back.

A round holds at most ROUND_BLOBS blobs and about ROUND_BYTES of content (plus one
READ_STEP of blobs), and two rounds are in flight (the children check one while this
process reads the next, checks its own share and consumes the records before), so
the memory the rounds take is bounded by the repository's largest blobs, not by its
size; on one core (or a small batch) each blob is checked as it arrives. The
records come in no set order (the audit sorts what it keeps), and a child that fails
has its part redone here: the verdicts never depend on how the work was split.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterator, Sequence

from expflow_git.audit.record import BlobRecord, content_record
from expflow_git.forkpool import ForkPool, Pending
from expflow_git.gitblobs import BlobReader
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind
from expflow_git.workers import worker_count

# The audit asks for records in batches of up to BATCH_BLOBS (their records are held
# until consumed); a batch is checked in rounds of ROUND_BLOBS / ROUND_BYTES, two in
# flight at once (one in the children, one here).
BATCH_BLOBS = 20_000
ROUND_BLOBS = 4_000
ROUND_BYTES = 32 * 1024 * 1024
PER_WORKER = 2_000  # blobs: a smaller share does not pay for a forked process
# The audit's own process also reads the stream and consumes every record: with the
# rounds pipelined, a fifth of a child's share balances the two (20k small documents,
# cold: 0.86 s of CPU here to the child's 0.86 s, against 0.91 s and 0.81 s at half).
OWN_SHARE = 0.2
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
        """`(sha, content_record(...))` for every blob of `shas`, in no set order; `needs`
        gives a blob's document kinds and scan classes.

        The rounds are pipelined: the children check round k while this process reads
        round k + 1, checks its own share of it and hands back (consumes) round k's
        records, so neither waits for the other; a round's answers are taken before the
        next round is sent (a child answers one part at a time)."""
        if worker_count(len(shas), PER_WORKER) == 1:
            for sha, data in reader.read_many(shas):
                yield sha, content_record(data, *needs(sha), self.policy)
            return
        waiting: tuple[list[list[str]], Pending[list[Blob]]] | None = None
        try:
            for blobs in _rounds(reader, shas):
                names, parts = self._parts(blobs, needs)
                if waiting is not None:
                    yield from self._gathered(*waiting)
                    waiting = None
                if len(parts) > 1:
                    waiting = (names[1:], self.pool.submit(parts[1:]))
                yield from zip(names[0], self._work(parts[0]), strict=True)
            if waiting is not None:
                yield from self._gathered(*waiting)
                waiting = None
        finally:
            if waiting is not None:  # the caller stopped early: no answer is left behind
                self.pool.discard(waiting[1])

    def _parts(
        self, blobs: list[tuple[str, bytes]], needs: Needs
    ) -> tuple[list[list[str]], list[list[Blob]]]:
        """A round cut into this process's share and the children's, with each part's blob ids."""
        shares = _shares(len(blobs), worker_count(len(blobs), PER_WORKER))
        names = [[sha for sha, _ in blobs[a:b]] for a, b in shares]
        parts = [[(data, *needs(sha)) for sha, data in blobs[a:b]] for a, b in shares]
        return names, parts

    def _gathered(
        self, names: list[list[str]], pending: Pending[list[Blob]]
    ) -> Iterator[tuple[str, BlobRecord]]:
        for shas, records in zip(names, self.pool.gather(pending), strict=True):
            yield from zip(shas, records, strict=True)


def _rounds(reader: BlobReader, shas: Sequence[str]) -> Iterator[list[tuple[str, bytes]]]:
    """The blobs in rounds of about ROUND_BLOBS or ROUND_BYTES, read in small steps, each
    stream drained before anything is forked (a child must not inherit a stream half-read)."""
    chunk: list[tuple[str, bytes]] = []
    held = 0
    for start in range(0, len(shas), READ_STEP):
        for sha, data in reader.read_many(shas[start : start + READ_STEP]):
            chunk.append((sha, data))
            held += len(data)
        if held >= ROUND_BYTES or len(chunk) >= ROUND_BLOBS:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def _shares(blobs: int, workers: int) -> list[tuple[int, int]]:
    """Where each part of a round starts and ends: this process's own (the first) is
    OWN_SHARE of a child's, for it also reads the stream and consumes every record."""
    own = int(blobs * OWN_SHARE / (OWN_SHARE + workers - 1))
    size = -(-(blobs - own) // (workers - 1)) if workers > 1 else 0
    bounds = [0, own, *range(own + size, blobs, size), blobs] if workers > 1 else [0, blobs]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
