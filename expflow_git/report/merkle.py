"""RFC 9162 Merkle tree hash over the report's input leaves."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from expflow_git.report.canonical import canonical_json

# Domain-separation prefixes from RFC 9162 §2.1.1: a leaf can never be
# mistaken for an interior node, which blocks second-preimage tricks.
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_HASH_LEN = hashlib.sha256().digest_size


def leaf_hash(leaf: Mapping[str, Any]) -> bytes:
    """SHA-256(0x00 || JCS(leaf))."""
    return leaf_hash_of_canonical(canonical_json(leaf))


def leaf_hash_of_canonical(canonical: bytes) -> bytes:
    """SHA-256(0x00 || canonical), for a leaf already in canonical form."""
    return hashlib.sha256(_LEAF_PREFIX + canonical).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 tree hash of already-hashed leaves; SHA-256(b"") for none."""
    tree = MerkleTree()
    for h in leaf_hashes:
        tree.add(h)
    return tree.root()


CHUNK = 4096  # leaves hashed level by level at once (a power of two)


class MerkleTree:
    """The RFC 9162 tree hash, built leaf by leaf in O(log n) memory.

    It keeps the complete subtrees so far (sizes: the binary digits of the leaf
    count, largest first), merging two of one size as a counter carries. The
    recursive definition splits n leaves at the largest power of two below n, so
    the root is those subtrees folded from the right.
    """

    def __init__(self) -> None:
        self._subtrees: list[tuple[int, bytes]] = []  # (leaf count, hash)

    def add(self, leaf_hash: bytes) -> None:
        if len(leaf_hash) != _HASH_LEN:
            raise ValueError(f"leaf hash must be {_HASH_LEN} bytes, got {len(leaf_hash)}")
        self._add(1, leaf_hash)

    def add_many(self, leaf_hashes: list[bytes]) -> None:
        """Add leaves in bulk: each aligned run of CHUNK leaves is hashed level by level
        in one comprehension per level (a complete subtree, so the same node hashes the
        leaf-by-leaf counter would make), the rest one by one."""
        if any(len(h) != _HASH_LEN for h in leaf_hashes):
            raise ValueError(f"leaf hashes must be {_HASH_LEN} bytes")
        # A chunk is a subtree only where the leaves so far are a multiple of CHUNK.
        start = min(len(leaf_hashes), -self._count % CHUNK)
        for leaf in leaf_hashes[:start]:
            self._add(1, leaf)
        while len(leaf_hashes) - start >= CHUNK:
            level = leaf_hashes[start : start + CHUNK]
            while len(level) > 1:
                level = [
                    hashlib.sha256(_NODE_PREFIX + a + b).digest()
                    for a, b in zip(level[0::2], level[1::2], strict=True)
                ]
            self._add(CHUNK, level[0])
            start += CHUNK
        for leaf in leaf_hashes[start:]:
            self._add(1, leaf)

    @property
    def _count(self) -> int:
        return sum(size for size, _ in self._subtrees)

    def _add(self, size: int, digest: bytes) -> None:
        """A complete subtree of `size` leaves (a power of two, at most the smallest so far)."""
        subtrees = self._subtrees
        while subtrees and subtrees[-1][0] == size:
            digest = node_hash(subtrees.pop()[1], digest)
            size *= 2
        subtrees.append((size, digest))

    def root(self) -> bytes:
        if not self._subtrees:
            return hashlib.sha256(b"").digest()
        digest = self._subtrees[-1][1]
        for _, left in reversed(self._subtrees[:-1]):
            digest = node_hash(left, digest)
        return digest
