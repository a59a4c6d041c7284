"""The report's input leaves (docs/spec.md §6.3), encoded and hashed into their Merkle
root: each leaf's canonical bytes, comma-separated, for the payload's `inputs.leaves`,
and the root, which the chain's genesis hash needs before any entry is written.

The leaves depend only on the documents read, not on the verdicts, so the audit starts
this work in a forked child (`LeavesJob`) as soon as the tree is read, and ranks the
runs meanwhile (issue 18: ~0.13 s of a 20k-run audit, ~3.5 µs a document). The child
writes the bytes to a temporary file and sends the root back; a child that fails has its
work redone here, so the report never depends on whether it ran.
"""

from __future__ import annotations

import tempfile
from binascii import hexlify
from dataclasses import dataclass
from typing import IO

from expflow_git.audit.leaves import Leaves
from expflow_git.errors import path_text
from expflow_git.report.canonical import jcs_string
from expflow_git.report.merkle import CHUNK, MerkleTree, leaf_hash_of_canonical
from expflow_git.workers import SpoolJob, worker_count

# Fewer leaves than this are encoded in the audit's own process: a fork costs more.
PER_CHILD = 8_000
SPOOL_IN_MEMORY = 16 * 1024 * 1024  # more is spooled to a temporary file (payload, leaves)


def leaf_bytes(path: str, digests: bytes | memoryview) -> bytes:
    """An input leaf's canonical bytes (`canonical_json(leaf.as_json())`)."""
    return b'{"gitBlob":"%s","path":%s,"sha256":"%s"}' % (
        hexlify(digests[32:]),
        jcs_string(path_text(path)),
        hexlify(digests[:32]),
    )


class Batch:
    """Comma-separated items written to a spool a few thousand at a time (a spooled
    file's `write` is Python code: once per item, it was a fifth of the encoding)."""

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool
        self.items: list[bytes] = []
        self.first = True

    def add(self, item: bytes) -> None:
        self.items.append(item)
        if len(self.items) == 4096:
            self.flush()

    def flush(self) -> None:
        if self.items:
            self.spool.write(b"" if self.first else b",")
            self.spool.write(b",".join(self.items))
            self.first = False
            self.items.clear()


@dataclass
class EncodedLeaves:
    root: bytes  # the Merkle root of the leaves
    spool: IO[bytes]  # their canonical bytes, comma-separated (read from the start)


def encode_leaves(inputs: Leaves, spool: IO[bytes] | None = None) -> EncodedLeaves:
    """The leaves' bytes (into `spool`, else a new spooled file) and their Merkle root."""
    if spool is None:
        spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)
    tree = MerkleTree()
    batch = Batch(spool)
    hashes: list[bytes] = []
    for path, digests in inputs.pairs():
        encoded = leaf_bytes(path, digests)
        batch.add(encoded)
        hashes.append(leaf_hash_of_canonical(encoded))
        if len(hashes) == CHUNK:
            tree.add_many(hashes)
            hashes = []
    tree.add_many(hashes)
    batch.flush()
    spool.flush()
    return EncodedLeaves(tree.root(), spool)


class LeavesJob:
    """`encode_leaves(inputs)` begun in a forked child when there are enough leaves (and
    this process may fork: workers.worker_count); `result()` waits for it, or does the
    work here. A job whose result is never asked for is ended by `close()`."""

    def __init__(self, inputs: Leaves) -> None:
        self.inputs = inputs
        self.job: SpoolJob | None = None
        if worker_count(len(inputs), PER_CHILD) > 1:
            self.job = SpoolJob(lambda spool: encode_leaves(inputs, spool).root)

    def result(self) -> EncodedLeaves:
        job, self.job = self.job, None
        done = job.answer() if job is not None else None
        if done is None or len(done[0]) != 32:  # the child failed: done again here
            if done is not None:
                done[1].close()
            return encode_leaves(self.inputs)
        return EncodedLeaves(*done)

    def close(self) -> None:
        if self.job is not None:
            self.job.close()
            self.job = None
