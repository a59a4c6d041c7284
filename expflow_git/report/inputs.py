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

import os
import tempfile
from binascii import hexlify
from dataclasses import dataclass
from typing import IO

from expflow_git.audit.leaves import Leaves
from expflow_git.errors import clean
from expflow_git.report.canonical import jcs_string
from expflow_git.report.merkle import CHUNK, MerkleTree, leaf_hash_of_canonical
from expflow_git.workers import fork_child, reap, worker_count

# Fewer leaves than this are encoded in the audit's own process: a fork costs more.
PER_CHILD = 8_000
SPOOL_IN_MEMORY = 16 * 1024 * 1024  # more is spooled to a temporary file (payload, leaves)


def leaf_bytes(path: str, digests: bytes | memoryview) -> bytes:
    """An input leaf's canonical bytes (`canonical_json(leaf.as_json())`)."""
    return b'{"gitBlob":"%s","path":%s,"sha256":"%s"}' % (
        hexlify(digests[32:]),
        jcs_string(path if path.isascii() else clean(path)),
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
        self._child: tuple[int, int, IO[bytes]] | None = None  # pid, pipe, its file
        if worker_count(len(inputs), PER_CHILD) > 1:
            self._child = _start(inputs)

    def result(self) -> EncodedLeaves:
        if self._child is None:
            return encode_leaves(self.inputs)
        pid, pipe, spool = self._child
        self._child = None
        try:
            with os.fdopen(pipe, "rb") as answer:
                root = answer.read()
        except BaseException:
            reap(pid, kill=True)
            spool.close()
            raise
        if reap(pid) != 0 or len(root) != 32:  # it failed: done again here
            spool.seek(0)
            spool.truncate()
            return encode_leaves(self.inputs, spool)
        spool.seek(0)
        return EncodedLeaves(root, spool)

    def close(self) -> None:
        if self._child is not None:
            pid, pipe, spool = self._child
            self._child = None
            os.close(pipe)
            reap(pid, kill=True)
            spool.close()


def _start(inputs: Leaves) -> tuple[int, int, IO[bytes]] | None:
    """Fork the child that writes the leaves to a new temporary file and the root to a
    pipe; None when no file, pipe or process is to be had (the work is then done here)."""
    try:
        spool = tempfile.TemporaryFile()
    except OSError:
        return None
    try:
        read_end, write_end = os.pipe()
    except OSError:
        spool.close()
        return None

    def child() -> int:
        # Only its own file and pipe: an inherited pipe (the audit's `git cat-file`
        # stream) held open here would keep git waiting for the parent's end of it.
        keep = sorted((write_end, spool.fileno()))
        os.closerange(3, keep[0])
        os.closerange(keep[0] + 1, keep[1])
        os.closerange(keep[1] + 1, os.sysconf("SC_OPEN_MAX"))
        root = encode_leaves(inputs, spool).root
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(root)
        return 0

    pid = fork_child(child)
    os.close(write_end)
    if pid is None:
        os.close(read_end)
        spool.close()
        return None
    return pid, read_end, spool
