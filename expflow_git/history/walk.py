"""The walk of BASE..REV that the history audit's checks share: git's log of the range,
the trees of BASE and REV, and helpers over them."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from expflow_git.documents import stem
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import EMPTY_TREES, Change, Git, TreeEntry
from expflow_git.identity import REGULAR_MODES, DocumentGlobs, RecordEdit
from expflow_git.policy.load import load_policy_bytes
from expflow_git.policy.model import Policy

Edit = tuple[int, RecordEdit, bool]  # commit position, the edit, frozen then


def resolve_base(git: Git, base: str, rev_sha: str) -> str:
    """BASE as a commit in the history of REV, or git's empty tree (EMPTY_TREES: before
    the first commit, so the whole history, the first commit's own files too); a shallow
    clone gets the fetch-depth hint."""
    hint = (
        (
            " — this is a shallow clone: fetch the full history (actions/checkout with "
            "`fetch-depth: 0`)"
        )
        if git.is_shallow()
        else ""
    )
    whole = base.lower() == EMPTY_TREES.get(len(rev_sha))
    if whole:
        base_sha = base.lower()  # git reads it as a tree with nothing in it
    else:
        try:
            base_sha = git.resolve_trusted(base).sha
        except ExpflowError as exc:
            raise ExpflowError(f"--since {base}: {exc.message}{hint}") from None
        if not git.is_ancestor(base_sha, rev_sha):
            raise ExpflowError(f"--since {base} is not an ancestor of the audited commit{hint}")
    if hint:
        # BASE is there, but a branch merged in the range may still be cut: its commits
        # below the cut would never be read, and the history check would pass unseen.
        cut = git.shallow_commits() & set(git.rev_list(rev_sha, base_sha))
        if cut:
            raise ExpflowError(
                f"--since {base}: the history since it is cut at {min(cut)[:12]} by the "
                f"clone's depth{hint}"
            )
    return base_sha


@dataclass
class Walk:
    """The range as git's log gives it, and what the audit needs to read from it."""

    commits: list[tuple[str, list[Change]]]
    base_tree: list[TreeEntry]
    rev_tree: list[TreeEntry]
    # Every (path, blob) added in the range with the first commit that added it.
    added: dict[tuple[str, str], str] = field(default_factory=dict)
    # Every submodule path added in the range (its name alone is scanned), likewise.
    added_links: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def rev_blobs(self) -> frozenset[tuple[str, str]]:
        """Every (path, blob) of REV's tree: what the audited commit holds as it is."""
        return frozenset((e.path, e.sha) for e in self.rev_tree)


def key(f: Finding) -> tuple[bytes, int, int, str, str, str]:
    return (
        f.path.encode("utf-8", "surrogateescape"),
        f.line or 0,
        f.col or 0,
        f.pointer,
        f.rule,
        f.message,
    )


def policy_at(reader: BlobReader, tree: list[TreeEntry], judge: Policy) -> Policy | None:
    """The policy a tree holds at the judging policy's path, if it loads and differs
    (it only adds globs to look at)."""
    entry = next((e for e in tree if e.path == judge.path), None)
    if entry is None or entry.type != "blob" or entry.mode not in REGULAR_MODES:
        return None
    data = reader.read(entry.sha)
    if hashlib.sha256(data).hexdigest() == judge.sha256:
        return None  # the judging policy itself
    try:
        return load_policy_bytes(data, path=judge.path)
    except ExpflowError:
        return None


def documents(tree: list[TreeEntry], test: Callable[[str], bool]) -> dict[str, list[TreeEntry]]:
    """A tree's documents of one kind by experiment id, each id's in path order."""
    by_id: dict[str, list[TreeEntry]] = {}
    for entry in tree:  # ls-tree lists in path order
        if is_doc(entry, test):
            by_id.setdefault(stem(entry.path), []).append(entry)
    return by_id


def ids(findings: list[Finding], rule: str) -> set[str]:
    """The experiments (file stems) that findings of `rule` are about."""
    return {stem(f.path) for f in findings if f.rule == rule}


def result_ids(walk: Walk, globs: DocumentGlobs) -> dict[str, int]:
    """Experiments that had a committed result: at BASE (-1) or first at which
    position of the walk."""
    ids = {stem(e.path): -1 for e in walk.base_tree if is_doc(e, globs.is_result)}
    for i, (_, changes) in enumerate(walk.commits):
        for c in changes:
            if c.new_mode in REGULAR_MODES and globs.is_result(c.path):
                ids.setdefault(stem(c.path), i)
    return ids


def is_doc(entry: TreeEntry, test: Callable[[str], bool]) -> bool:
    return entry.type == "blob" and entry.mode in REGULAR_MODES and test(entry.path)
