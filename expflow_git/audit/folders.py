"""The audit's folder cache: what one folder's documents decided, kept whole, so that
a warm audit takes an unchanged study in with one file read instead of one cache
record and one round of checks per document (issue 18).

A folder is kept when it holds no folder (a *leaf* folder: a study's records, or its
results) and at least MIN_DOCUMENTS documents. Its entry is keyed by the folder's path
and git tree id, which fix every name, mode and blob below it; the cache directory (the
blob cache's, cache.py) fixes the policy and the build, and the entry's header
adds the PIN-scan setting. The body is what reading the folder gave the audit: its
documents' leaves (paths and digests, in the listing's order), every finding at one of
its paths, and the accepted documents as the blob cache keeps them, built again by the
same constructors. Checks across folders (a second result for a run, corrections that
name a record) are redone on every audit from the documents.

One file per folder path and scan setting (named by their digest): a commit that adds
runs to a study replaces that study's entry, so the cache holds one entry per folder,
not one per commit. A file is believed as the blob cache's shards are
(localcache.read_trusted: this user's own, not group- or world-writable, reached
through no link; header equal, body matching its SHA-256); a part of another shape
makes the entry a miss, and the folder is read blob by blob. `--no-cache` and
`verify --recompute` never read it.

What a folder's entries gave is noted for that folder as they are classified and their
blobs consumed (tree.Span), never found again by path: see tree.py for why.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from sys import intern
from typing import Any

from expflow_git.audit.record import REPORTED, as_dict, numbers, row_finding
from expflow_git.corrections import Correction
from expflow_git.documents import NO_PARAMS, NO_SPLITS, STATUS_OF, Experiment, Result, shared_tags
from expflow_git.errors import Finding
from expflow_git.localcache import read_trusted, write_own
from expflow_git.spelling import SPELLING

# 24: the forty-third pass's review (as the blob cache's format 32); 23: the forty-third
# pass (as the blob cache's format 31); 22: the forty-second pass (as
# the blob cache's format 30); 21: the forty-first
# pass's review (as the blob cache's format 29); 20: the
# forty-first pass's PIN scan (as the blob cache's format 28); 19: the fortieth
# pass's PIN scan (as the blob cache's format 27); 18: the thirty-ninth
# pass's PIN scan (as the blob cache's format 26); 17: a private key
# in a path is flagged; 16: env name/value pairs no longer read (14's reader
# reverted); 15: argument lists in data files; 14: env name/value pairs, `ENV NAME value`; 13: a
# `--pin` default; 12: literals in references; 11: the scan reads `%NN` escapes; 10: the scan's
# escape view (`\n`, colour codes before a secret); 9: the scan's flow mapping below its key and
# plain `pin=` tag; 8: the scan's YAML, escape and tag spellings; 7: flagged text masked in
# findings, reasons, corrections; 6: a private key's `\/`; 5: submodule names scanned; 4: files over
# 8 MiB; 3: findings up to MAX_LISTED
FORMAT = 24
# Every spelling of a folder at once, one per line (a spelling holds no line break).
SPELLINGS = re.compile(rf"(?:{SPELLING.pattern})(?:\n(?:{SPELLING.pattern}))*+")
# Fewer documents than this are read through the blob cache: one more file to open
# costs about what a few documents' records do.
MIN_DOCUMENTS = 16


@dataclass(frozen=True)
class Folder:
    """What one leaf folder's entries gave the audit."""

    count: int  # its entries in the listing (files, links, submodules: what is skipped)
    paths: list[str]  # its documents, in the listing's order (the report's leaves)
    digests: bytes  # their leaf digests, `width` bytes each (leaves.py)
    findings: list[Finding]  # every finding at one of its paths
    experiments: list[Experiment]  # the records, results and corrections it accepted
    results: list[Result]
    corrections: list[Correction]
    spellings: dict[str, str]  # a result's number spellings, by path (spelling.py)


class FolderCache:
    """Folder entries under one cache directory (`BlobCache.directory`)."""

    def __init__(
        self,
        directory: Path,
        header: Mapping[str, Any],
        *,
        scan: bool,
        below: Path | None,
        distrusted: list[tuple[Path, str]],
    ) -> None:
        self.directory = directory / "folders"
        self.header = {**header, "folderFormat": FORMAT, "scan": scan}
        self.scan = scan
        self.below = below
        self.distrusted = distrusted  # shared with the blob cache: one warning for both

    def _file(self, path: str) -> Path:
        """One file per folder path and scan setting (the audit scans, `rank` and `diff`
        do not: each keeps its own entry instead of replacing the other's)."""
        key = path.encode("utf-8", "surrogateescape") + b"\0" + (b"scan" if self.scan else b"")
        return self.directory / f"{hashlib.sha256(key).hexdigest()[:32]}.json"

    def _header(self, path: str, tree: str) -> bytes:
        header = {**self.header, "path": path, "tree": tree}
        return json.dumps(header, separators=(",", ":")).encode()

    def load(self, path: str, tree: str, width: int) -> Folder | None:
        """The entry of folder `path` at tree id `tree`, or None (absent, not this
        user's, damaged, of another tree or another shape)."""
        data, why = read_trusted(self._file(path), below=self.below)
        if why:
            self.distrusted.append((self._file(path), why))
        if data is None:
            return None
        try:
            header, digest, body = data.split(b"\n", 2)
            if header != self._header(path, tree):
                return None
            if digest.decode("ascii") != hashlib.sha256(body).hexdigest():
                return None
            return _folder(json.loads(body), width)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError, RecursionError):
            return None

    def save(self, path: str, tree: str, folder: Folder) -> None:
        """Keep the folder's entry (replacing the one of an earlier tree); a cache we
        cannot write is not kept."""
        body = json.dumps(_body(folder), separators=(",", ":")).encode()
        digest = hashlib.sha256(body).hexdigest().encode()
        write_own(
            self._file(path),
            self._header(path, tree) + b"\n" + digest + b"\n" + body,
            below=self.below,
        )


def _body(folder: Folder) -> dict[str, Any]:
    """The entry's JSON: columns of lists (one per field), as objects with keys (the
    blob cache's records) are slow to load, and a column checks its type at once."""
    experiments, results = folder.experiments, folder.results
    return {
        "count": folder.count,
        "paths": folder.paths,
        "digests": folder.digests.hex(),
        "findings": [
            [f.path, f.rule, f.message, f.pointer, f.line, f.col] for f in folder.findings
        ],
        "experiments": {
            "path": [e.path for e in experiments],
            "id": [e.id for e in experiments],
            "study": [e.study for e in experiments],
            "status": [e.status.value for e in experiments],
            "params": [dict(e.params) for e in experiments],
            "tags": [list(e.tags) for e in experiments],
            "seed": [e.seed for e in experiments],
            "title": [e.title for e in experiments],
            "reason": [e.reason for e in experiments],
        },
        "results": {
            "path": [r.path for r in results],
            "experiment": [r.experiment for r in results],
            "metrics": [dict(r.metrics) for r in results],
            "splits": [
                {name: dict(split) for name, split in r.splits.items()} if r.splits else None
                for r in results
            ],
        },
        "spellings": folder.spellings,
        "corrections": [
            [
                c.path,
                c.experiment,
                c.supersedes,
                c.blob,
                c.reason,
                c.author_name,
                c.author_email,
                c.time,
            ]
            for c in folder.corrections
        ],
    }


def _folder(body: Any, width: int) -> Folder:
    """An entry's body back into values, with the checks the blob cache's records get
    (pipeline.py, tree.TreeReader.consume): a part of another type raises."""
    count = body["count"]
    if type(count) is not int or count < 0:
        raise TypeError("count must be a number of entries")
    paths = _strings(body["paths"])
    digests = bytes.fromhex(body["digests"])
    if len(digests) != len(paths) * width:
        raise ValueError("digests do not match the paths")
    # As they were made: a finding made again from its masked copy may be masked more.
    findings = [row_finding(_path(row[0]), row[1:], masked=True) for row in _list(body["findings"])]
    e = body["experiments"]
    params = _list(e["params"])
    if not all(type(p) is dict for p in params):
        raise TypeError("params must be objects")
    statuses = [STATUS_OF[status] for status in _list(e["status"])]  # KeyError if unknown
    columns = zip(
        _strings(e["path"]),
        map(intern, _list(e["id"])),
        map(intern, _list(e["study"])),
        statuses,
        params,
        map(shared_tags, _list(e["tags"])),
        _list(e["seed"]),
        _strings(e["title"]),
        _strings(e["reason"]),
        strict=True,
    )
    experiments = [
        Experiment(path, id_, study, status, p or NO_PARAMS, tags, seed, title, reason)
        for path, id_, study, status, p, tags, seed, title, reason in columns
    ]
    r = body["results"]
    metrics, splits = _list(r["metrics"]), _list(r["splits"])
    for values in metrics:  # (accepted results only: what the registry lets through)
        numbers(values, REPORTED)
    for split in splits:
        if split is not None:
            for values in as_dict(split).values():
                numbers(values, REPORTED)
    results = [
        Result(path, experiment, m, split or NO_SPLITS)
        for path, experiment, m, split in zip(
            _strings(r["path"]), map(intern, _list(r["experiment"])), metrics, splits, strict=True
        )
    ]
    spellings = as_dict(body["spellings"])
    if spellings and not SPELLINGS.fullmatch("\n".join(_strings(list(spellings.values())))):
        raise TypeError("spellings of numbers were expected")
    corrections = [_correction(row) for row in _list(body["corrections"])]
    return Folder(count, paths, digests, findings, experiments, results, corrections, spellings)


def _strings(value: Any) -> list[str]:
    if type(value) is not list or not all(type(item) is str for item in value):
        raise TypeError("a list of strings was expected")
    return value


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise TypeError("a list was expected")
    return value


def _path(value: Any) -> str:
    if type(value) is not str:
        raise TypeError("a path must be a string")
    return value


def _correction(row: Any) -> Correction:
    path, experiment, supersedes, blob, reason, name, email, time = row
    texts = (path, experiment, supersedes, reason, name, email, time)
    if not all(type(t) is str for t in texts) or not (blob is None or type(blob) is str):
        raise TypeError("a correction of another shape")
    return Correction(path, experiment, supersedes, blob, reason, name, email, time)
