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
    """RFC 9162 §2.1.1 tree hash of already-hashed leaves; SHA-256(b"") for none.

    Computed bottom-up: pairing neighbours level by level and promoting a lone
    last node unchanged gives exactly the recursive definition (split at the
    largest power of two below n), without recursion or slicing copies.
    """
    for h in leaf_hashes:
        if len(h) != _HASH_LEN:
            raise ValueError(f"leaf hash must be {_HASH_LEN} bytes, got {len(h)}")
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    level = list(leaf_hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
