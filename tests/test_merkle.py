"""RFC 9162 Merkle tree hash: reference vectors, hand-built shapes, a recursive oracle."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expflow_git.report.canonical import canonical_json, sha256_hex
from expflow_git.report.merkle import MerkleTree, leaf_hash, merkle_root, node_hash


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _raw_leaf(data: bytes) -> bytes:
    # RFC 9162 leaf hash of raw bytes, to check against the published vectors.
    return _h(b"\x00" + data)


def _reference_root(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 transcribed literally: recursive, split at the largest power of 2 < n."""
    n = len(hashes)
    if n == 0:
        return _h(b"")
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + _reference_root(hashes[:k]) + _reference_root(hashes[k:]))


# RFC 6962 / 9162 test vectors as published by transparency-dev/merkle
# (testonly/constants.go): leaf data, then the root for each tree size 0..8.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_published_vectors(size: int) -> None:
    hashes = [_raw_leaf(d) for d in CT_LEAVES[:size]]
    assert merkle_root(hashes).hex() == CT_ROOTS[size]


def test_empty_tree_is_hash_of_empty_string() -> None:
    assert merkle_root([]) == _h(b"")


def test_leaf_hash_is_prefixed_jcs() -> None:
    leaf = {"sha256": "ab", "path": "runs/a.json", "gitBlob": "cd"}
    expected = _h(b"\x00" + b'{"gitBlob":"cd","path":"runs/a.json","sha256":"ab"}')
    assert leaf_hash(leaf) == expected
    # Key order in the mapping does not matter: JCS sorts keys.
    assert leaf_hash(dict(reversed(list(leaf.items())))) == expected


def test_node_hash_is_prefixed_concatenation() -> None:
    a, b = _h(b"a"), _h(b"b")
    assert node_hash(a, b) == _h(b"\x01" + a + b)
    assert node_hash(a, b) != node_hash(b, a)


def test_shapes_by_hand() -> None:
    d = [leaf_hash({"i": i}) for i in range(5)]
    # 1 leaf: the root is the leaf hash itself, no extra hashing.
    assert merkle_root(d[:1]) == d[0]
    # 2 leaves: one node.
    assert merkle_root(d[:2]) == node_hash(d[0], d[1])
    # 3 leaves: split at 2 -> (d0 d1) d2, not d0 (d1 d2).
    assert merkle_root(d[:3]) == node_hash(node_hash(d[0], d[1]), d[2])
    assert merkle_root(d[:3]) != node_hash(d[0], node_hash(d[1], d[2]))
    # 5 leaves: split at 4 -> ((d0 d1)(d2 d3)) d4.
    left = node_hash(node_hash(d[0], d[1]), node_hash(d[2], d[3]))
    assert merkle_root(d) == node_hash(left, d[4])


def test_leaf_and_node_domains_are_separated() -> None:
    # A 1-leaf tree whose leaf content equals a node's preimage must not
    # collide with the 2-leaf tree: the 0x00/0x01 prefixes ensure that.
    a, b = _h(b"a"), _h(b"b")
    assert merkle_root([a, b]) != _h(b"\x00" + a + b)


def test_order_and_omission_change_the_root() -> None:
    d = [leaf_hash({"i": i}) for i in range(6)]
    root = merkle_root(d)
    assert merkle_root(d[::-1]) != root
    assert merkle_root(d[:-1]) != root
    assert merkle_root(d[:2] + d[3:]) != root
    assert merkle_root(d + [d[-1]]) != root


def test_rejects_wrong_length_hashes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        merkle_root([b"short"])


@settings(max_examples=300)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=70))
def test_matches_recursive_reference(hashes: list[bytes]) -> None:
    assert merkle_root(hashes) == _reference_root(hashes)


def test_tree_built_leaf_by_leaf_has_every_prefix_root() -> None:
    """The root after each added leaf is the tree hash of the leaves so far: every
    leaf count up to 300 (each shape of carries) against the recursive reference."""
    hashes = [_h(i.to_bytes(2, "big")) for i in range(300)]
    tree = MerkleTree()
    assert tree.root() == _h(b"")
    for n, h in enumerate(hashes, start=1):
        tree.add(h)
        assert tree.root() == _reference_root(hashes[:n]), n


@given(
    st.lists(st.dictionaries(st.text(max_size=5), st.integers(-10, 10), max_size=3), max_size=20)
)
def test_leaf_mappings_match_reference(leaves: list[dict[str, int]]) -> None:
    hashes = [leaf_hash(leaf) for leaf in leaves]
    assert hashes == [_h(b"\x00" + canonical_json(leaf)) for leaf in leaves]
    assert merkle_root(hashes) == _reference_root(hashes)


def test_large_tree_matches_reference() -> None:
    # Odd sizes at several levels; timing belongs in benchmarks/, not here.
    hashes = [_h(i.to_bytes(4, "big")) for i in range(200_001)]
    assert merkle_root(hashes) == _reference_root(hashes)


def test_sha256_hex() -> None:
    assert sha256_hex(b"") == CT_ROOTS[0]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 3 * 4096 + 50),
    st.lists(st.integers(0, 3 * 4096 + 50), max_size=4),
)
def test_leaves_added_in_bulk_give_the_reference_root(count: int, cuts: list[int]) -> None:
    """add_many hashes aligned chunks of 4,096 leaves level by level: whatever the bulk
    calls' sizes (aligned or not), the root is the recursive reference's."""
    hashes = [_h(i.to_bytes(2, "big")) for i in range(count)]
    tree = MerkleTree()
    start = 0
    for cut in sorted(min(c, count) for c in cuts) + [count]:
        tree.add_many(hashes[start:cut])
        start = cut
    assert tree.root() == _reference_root(hashes)


def test_bulk_leaves_must_be_hashes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleTree().add_many([_h(b"a"), b"short"])
