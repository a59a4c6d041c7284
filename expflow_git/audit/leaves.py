"""The audit's input leaves: every document it read, in path order, as the report's
Merkle tree proves them (docs/spec.md §6.3).

A leaf is a path and two digests: the document's SHA-256 and its git blob id. An
audit of a million runs holds two million of them until the report is written, so
`Leaves` keeps the paths (shared with the documents) and one bytearray of digests,
not an object per leaf (~160 bytes each). The tree listing gives each document its
slot in path order before any blob is read, so nothing is sorted afterwards (unless
git's order is not the report's: a path that is not ASCII, see pipeline.leaf_key).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from typing import NamedTuple, overload


class InputLeaf(NamedTuple):
    """One document the audit read: the Merkle leaf that proves it was audited."""

    path: str
    digests: bytes  # its SHA-256 (32 bytes), then its git blob id

    @property
    def git_blob(self) -> str:
        return self.digests[32:].hex()

    @property
    def sha256(self) -> str:
        return self.digests[:32].hex()

    def as_json(self) -> dict[str, str]:
        """The leaf as the report writes it (report/encode.py spells the same bytes)."""
        from expflow_git.errors import path_text

        return {"path": path_text(self.path), "gitBlob": self.git_blob, "sha256": self.sha256}


def digests_of(git_blob: str, sha256: str) -> bytes:
    """A leaf's digests from hex; ValueError unless `sha256` is 64 hex digits (it may
    come from an edited cache record, and must not shift bytes into the blob id)."""
    digest = bytes.fromhex(sha256)
    if len(sha256) != 64 or len(digest) != 32:
        raise ValueError("a SHA-256 is 64 hex digits")
    return digest + bytes.fromhex(git_blob)


class Leaves(Sequence[InputLeaf]):
    """Leaves in path order: `paths[i]` and the `width` bytes of digests at `i * width`
    (width: 32 + the repository's object id length, 20 or 32)."""

    __slots__ = ("digests", "paths", "width")

    def __init__(self, paths: Sequence[str], digests: bytes | bytearray, width: int) -> None:
        if len(digests) != len(paths) * width:
            raise ValueError("leaves: digests do not match the paths")
        self.paths = paths
        self.digests = digests
        self.width = width

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> InputLeaf: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[InputLeaf]: ...

    def __getitem__(self, index: int | slice) -> InputLeaf | Sequence[InputLeaf]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("leaf index out of range")
        start = index * self.width
        return InputLeaf(self.paths[index], bytes(self.digests[start : start + self.width]))

    def __iter__(self) -> Iterator[InputLeaf]:
        view, width = memoryview(self.digests), self.width
        for i, path in enumerate(self.paths):
            yield InputLeaf(path, bytes(view[i * width : (i + 1) * width]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Leaves):
            return self.paths == other.paths and self.digests == other.digests
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable parts: not hashable

    def blobs(self, paths: Collection[str]) -> dict[str, str]:
        """The git blob id of each leaf at one of `paths` (found without a leaf object)."""
        width, digests = self.width, self.digests
        return {
            path: digests[i * width + 32 : (i + 1) * width].hex()
            for i, path in enumerate(self.paths)
            if path in paths
        }

    def pairs(self) -> Iterator[tuple[str, memoryview]]:
        """Each leaf's path and digests, without a leaf object (the report's encoder)."""
        view, width = memoryview(self.digests), self.width
        for i, path in enumerate(self.paths):
            yield path, view[i * width : (i + 1) * width]

    def reordered(self, key: Callable[[str], bytes]) -> Leaves:
        """The leaves sorted by `key` of their paths (for a listing git did not give in
        byte order: never seen, but the report's order must not depend on it)."""
        order = sorted(range(len(self.paths)), key=lambda i: key(self.paths[i]))
        width, digests = self.width, self.digests
        return Leaves(
            [self.paths[i] for i in order],
            b"".join(digests[i * width : (i + 1) * width] for i in order),
            width,
        )
