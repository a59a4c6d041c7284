"""The audit's cold read on every core: the blobs no cache record answers for are
read through the one `git cat-file` stream here, and their records (`content_record`:
strict parse, schema, registry, PIN scan) computed in parts, all but the first in
forked children (workers.py), which inherit the blobs and send the records back.

A round holds at most ROUND_BLOBS blobs and about ROUND_BYTES of content (plus one
READ_STEP of blobs), so the memory a round takes is bounded by the repository's
largest blobs, not by its size; on one core (or a small round)
each blob is checked as it arrives, as before. The records come back in request
order, and a child that fails has its part redone here: the verdicts never depend on
how the work was split.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence

from expflow_git.audit.record import BlobRecord, content_record
from expflow_git.gitblobs import BlobReader
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind
from expflow_git.workers import map_parts, worker_count

ROUND_BLOBS = 20_000  # blobs checked per round (their records are held until consumed)
ROUND_BYTES = 64 * 1024 * 1024  # content held per round
PER_WORKER = 2_000  # blobs: a smaller share does not pay for a forked process
READ_STEP = 256  # blobs read per stream: a round may pass ROUND_BYTES by one step's

Needs = Callable[[str], tuple[Collection[Kind], Collection[str]]]


def content_records(
    reader: BlobReader, shas: Sequence[str], needs: Needs, policy: Policy
) -> Iterator[tuple[str, BlobRecord]]:
    """`(sha, content_record(...))` for every blob of `shas`, in that order; `needs`
    gives a blob's document kinds and scan classes."""
    if worker_count(len(shas), PER_WORKER) == 1:
        for sha, data in reader.read_many(shas):
            yield sha, content_record(data, *needs(sha), policy)
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
            yield from _checked(chunk, needs, policy)
            chunk, held = [], 0
    yield from _checked(chunk, needs, policy)


def _checked(
    blobs: list[tuple[str, bytes]], needs: Needs, policy: Policy
) -> Iterator[tuple[str, BlobRecord]]:
    if not blobs:
        return
    workers = worker_count(len(blobs), PER_WORKER)
    size = -(-len(blobs) // workers)
    parts = [range(i, min(i + size, len(blobs))) for i in range(0, len(blobs), size)]

    def work(part: range) -> list[BlobRecord]:
        return [content_record(blobs[i][1], *needs(blobs[i][0]), policy) for i in part]

    for part, records in zip(parts, map_parts(work, parts), strict=True):
        for i, record in zip(part, records, strict=True):
            yield blobs[i][0], record
