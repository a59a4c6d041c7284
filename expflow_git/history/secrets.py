"""The history's secret scan (docs/spec.md §6.2 item 7; docs/threat-model.md).

- every blob added in the range is scanned for PINs and PIN hashes, so a secret
  committed and deleted again inside the range is still found (it stays in the history).
"""

from __future__ import annotations

import functools
from dataclasses import replace

from expflow_git.errors import Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import GITLINK
from expflow_git.globs import matches_any
from expflow_git.history.walk import Edit, Walk
from expflow_git.identity import REGULAR_MODES, Frozen, frozen_view, readable_new
from expflow_git.pinscan.scanner import (
    FileClass,
    file_class,
    listed,
    name_findings,
    scan_content,
    shown_path,
)
from expflow_git.policy.model import Policy


def collect_added(walk: Walk, policy: Policy) -> None:
    """Every file blob the range adds, at each path, with the first commit adding it;
    except what REV still holds at that path (the tree's own scan reports it)."""
    at_rev = walk.rev_blobs
    rev_links = {e.path for e in walk.rev_tree if e.mode == GITLINK}  # (the tree's own scan)
    allow = policy.scan_allow
    for commit, changes in walk.commits:
        for c in changes:
            if c.new_mode == GITLINK and c.path not in rev_links:
                if not (allow and matches_any(c.path, allow)):
                    walk.added_links.setdefault(c.path, commit)
                continue
            if c.new_sha is None or c.new_mode not in (*REGULAR_MODES, "120000"):
                continue
            key = (c.path, c.new_sha)
            if key in at_rev or key in walk.added:
                continue
            if allow and matches_any(c.path, allow):
                continue
            walk.added[key] = commit


class Reads:
    """The blobs the history needs, read once each through one stream."""

    def __init__(
        self,
        walk: Walk,
        edits: list[Edit],
        base_records: dict[str, str],
        scan: bool,
    ) -> None:
        self.records: set[str] = set(base_records.values())
        for _, edit, _ in edits:
            if edit.old_sha:
                self.records.add(edit.old_sha)
            if readable_new(edit) and edit.change.new_sha:
                self.records.add(edit.change.new_sha)
        self.classes: dict[str, set[FileClass]] = {}  # blob -> how it is read (per path's kind)
        if scan:
            for path, sha in walk.added:
                self.classes.setdefault(sha, set()).add(file_class(path))

    def read(
        self, reader: BlobReader
    ) -> tuple[dict[str, Frozen | None], dict[tuple[str, FileClass], list[Finding]]]:
        views: dict[str, Frozen | None] = {}
        scanned: dict[tuple[str, FileClass], list[Finding]] = {}
        for sha, data in reader.read_many(sorted(self.records | set(self.classes))):
            if sha in self.records:
                views[sha] = frozen_view(data)
            for cls in sorted(self.classes.get(sha, ())):
                scanned[sha, cls] = scan_content(data, cls)
        return views, scanned


def scan_findings(walk: Walk, scanned: dict[tuple[str, FileClass], list[Finding]]) -> list[Finding]:
    """Each added (path, blob) the scan flags, naming the commit that added it."""
    findings: list[Finding] = []
    for (path, sha), commit in walk.added.items():
        where = f" (added in commit {commit[:12]}, blob {sha[:12]}; it stays in the history)"
        found = scanned.get((sha, file_class(path)), [])
        hits = name_findings(path) + listed(
            found, functools.partial(replace, path=shown_path(path))
        )
        findings.extend(replace(f, message=f.message + where) for f in hits)
    for path, commit in walk.added_links.items():
        where = f" (a submodule added in commit {commit[:12]}; it stays in the history)"
        findings.extend(replace(f, message=f.message + where) for f in name_findings(path))
    return findings
