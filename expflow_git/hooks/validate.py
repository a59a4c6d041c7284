"""`validate`: check the given files (what pre-commit passes) against the policy.

The files themselves are read from the working tree — inside a pre-commit
hook that is the staged content. Documents they *refer to* (a result's
experiment record, other records with the same id) are looked up in the git
index when there is a repository, so a result cannot lean on a record that is
not going to be committed with it.
"""

from __future__ import annotations

import functools
import operator
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from expflow_git.checks import (
    Problem,
    check_document,
    duplicate_result,
    reference_findings,
    required_metric_findings,
)
from expflow_git.documents import Experiment, Result, Status, stem
from expflow_git.errors import Finding
from expflow_git.heap import no_cyclic_gc
from expflow_git.jsonstrict import DEFAULT_MAX_BYTES, over_cap
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind
from expflow_git.workers import map_parts, worker_count
from expflow_git.workspace import Workspace, walk_files

if TYPE_CHECKING:
    pass


@dataclass
class Validation:
    """What one validate run found."""

    checked: int = 0
    findings: list[Finding] = field(default_factory=list)


class _Lookup:
    """Tracked records and results by file stem (= id), listed once on first use."""

    def __init__(self, ws: Workspace, policy: Policy) -> None:
        self.ws = ws
        self.policy = policy
        self._by_stem: dict[str, list[str]] | None = None

    def paths(self, kind: Kind, exp_id: str) -> list[str]:
        by_stem = self.listing()
        return [p for p in by_stem.get(exp_id, []) if self.policy.kind_of(p) is kind]

    def result_paths(self, exp_ids: set[str]) -> dict[str, list[str]]:
        """Tracked results per experiment id, for these ids (valid results' ids, so
        plain file names). A few ids are asked of git by name rather than by listing
        the index: the one-file hook stays as fast in a repository of any size."""
        git = self.ws.git
        if self._by_stem is None and git is not None and len(exp_ids) <= FEW_IDS:
            found: dict[str, list[str]] = {}
            for path in git.index_paths_named(sorted(f"{i}.json" for i in exp_ids)):
                if self.policy.kind_of(path) is Kind.RESULT:
                    found.setdefault(stem(path), []).append(path)
            return found
        return {i: self.paths(Kind.RESULT, i) for i in exp_ids}

    def listing(self) -> dict[str, list[str]]:
        """Tracked JSON paths by stem, listed on the first call."""
        if self._by_stem is None:
            # Only string work over the whole index; the globs judge the few candidates.
            self._by_stem = {}
            for path in self.ws.tracked_paths():
                if path.endswith(".json"):
                    self._by_stem.setdefault(stem(path), []).append(path)
        return self._by_stem


@no_cyclic_gc()  # see heap.py: millions of acyclic objects
def validate(ws: Workspace, paths: Sequence[str]) -> Validation:
    """Check `paths` (all records and results if empty or if the policy is among them)."""
    policy = ws.load_policy()
    lookup = _Lookup(ws, policy)
    rels = _expand(ws, policy, paths)
    policy_rel = ws.rel(ws.policy_path)
    if not paths or policy_rel in rels:
        # A changed policy can invalidate any committed document: re-check them all.
        every = [p for p in ws.tracked_paths() if policy.kind_of(p)]
        rels = sorted(set(rels) | set(every))
    docs = [(i, rel, kind) for i, rel in enumerate(rels) if (kind := policy.kind_of(rel))]
    workers = worker_count(len(docs), PER_WORKER)
    if workers == 1:
        keyed = _check_part(ws, policy, lookup, docs)
    else:
        # A record and its result share a file stem (= id): they land in the same part.
        # Each worker lists the tree for itself when it first needs to: side by side,
        # that costs less than one listing before the fork.
        parts: list[list[_Doc]] = [[] for _ in range(workers)]
        for doc in docs:
            parts[hash(stem(doc[1])) % workers].append(doc)
        work = functools.partial(_check_part, ws, policy, lookup)
        keyed = [item for answer in map_parts(work, parts) for item in answer]
        keyed.sort(key=operator.itemgetter(0))
    return Validation(checked=len(docs), findings=[finding for _, finding in keyed])


FEW_IDS = 32  # results a check asks git for by name (more: one listing of the index)
PER_WORKER = 1000  # documents: a smaller share does not pay for a forked process

_Doc = tuple[int, str, Kind]  # (position in the given order, path, kind)
_Keyed = tuple[tuple[int, int], Finding]  # (phase, position), finding


def _check_part(ws: Workspace, policy: Policy, lookup: _Lookup, docs: list[_Doc]) -> list[_Keyed]:
    """Check documents. Each finding is keyed (phase, position) so the parts of a
    parallel run merge into the serial order: every document's own findings in
    the given order, then results that share an experiment, then each result's
    reference to its record."""
    keyed: list[_Keyed] = []
    experiments: dict[str, Experiment] = {}
    results: list[tuple[int, Result]] = []
    for i, rel, kind in docs:
        data = _read_for_check(ws, rel)
        if isinstance(data, Finding):
            keyed.append(((0, i), data))
            continue
        if kind is Kind.CORRECTION:
            keyed.extend(((0, i), finding) for finding in _correction_findings(rel, data, lookup))
            continue
        doc, findings = check_document(kind, rel, data, policy)
        if isinstance(doc, Experiment):
            experiments[doc.id] = doc
            findings += _duplicate_findings(doc, lookup) + _orphan_findings(doc, lookup)
        elif isinstance(doc, Result):
            results.append((i, doc))
            findings += required_metric_findings(doc, policy)
        keyed.extend(((0, i), finding) for finding in findings)
    if results:
        others = lookup.result_paths({res.experiment for _, res in results})
        for i, res in results:
            keyed.extend(((1, i), f) for f in _duplicate_result_findings(res, others))
    for i, res in results:
        exp = experiments.get(res.experiment) or _find_experiment(res, lookup, policy)
        keyed.extend(((2, i), finding) for finding in reference_findings(res, exp))
    return keyed


def _expand(ws: Workspace, policy: Policy, paths: Sequence[str]) -> list[str]:
    """The paths relative to the root; a directory stands for every file below it.

    A `.json` path the policy names as a document is taken for a file without a
    look at the disk (a directory there is then refused as not a regular file).
    """
    out: list[str] = []
    for p in paths:
        rel = ws.rel(p)
        if not (rel.endswith(".json") and policy.kind_of(rel)) and os.path.isdir(p):
            out.extend(ws.rel(os.path.join(p, sub)) for sub in walk_files(Path(p)))
        else:
            out.append(rel)
    return out


def _read_for_check(ws: Workspace, rel: str) -> bytes | Finding:
    if ws.staged:
        staged = ws.read_tracked(rel)
        return Finding(rel, Problem.NOT_A_FILE.value, "not staged") if staged is None else staged
    full = os.path.join(ws.root, rel)
    if not _NOFOLLOW and os.path.islink(full):
        return _symlink_finding(rel)
    try:
        # One open that refuses a symbolic link instead of lstat + open; a FIFO does not
        # block it (O_NONBLOCK), and is refused below.
        fd = os.open(full, _OPEN_FLAGS)
    except FileNotFoundError:
        # Listed in the index but gone from disk (deleted, not yet staged): check the index.
        staged = ws.read_tracked(rel)
        if staged is None:
            return Finding(rel, Problem.NOT_A_FILE.value, "no such file")
        return staged
    except OSError as exc:
        if os.path.islink(full):  # ELOOP on Linux; other errors elsewhere
            return _symlink_finding(rel)
        return Finding(rel, Problem.NOT_A_FILE.value, f"cannot read: {exc.strerror}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Finding(rel, Problem.NOT_A_FILE.value, "is not a regular file")
        if info.st_size > DEFAULT_MAX_BYTES:  # what parse_json would say, without reading it
            return Finding(rel, Problem.JSON.value, over_cap(info.st_size))
        return _read_all(fd, info.st_size)
    except OSError as exc:
        return Finding(rel, Problem.NOT_A_FILE.value, f"cannot read: {exc.strerror}")
    finally:
        os.close(fd)


def _read_all(fd: int, size: int) -> bytes:
    """The whole file: one read when it is still `size` bytes (no file object, and
    no second read to meet the end)."""
    data = os.read(fd, size + 1)
    if len(data) == size:
        return data
    chunks = [data]
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _symlink_finding(rel: str) -> Finding:
    return Finding(rel, Problem.NOT_A_FILE.value, "is a symbolic link; documents must be files")


def _correction_findings(rel: str, data: bytes, lookup: _Lookup) -> list[Finding]:
    """A correction: strict JSON, its schema, and the experiment it names (corrections.py)."""
    from expflow_git.corrections import check_correction, tree_findings

    correction, findings = check_correction(rel, data)
    if correction is None:
        return findings
    if lookup.paths(Kind.EXPERIMENT, correction.experiment):
        return []
    # No record: fine only if a tracked correction deletes the run (rare: read them).
    others = []
    for path in lookup.ws.tracked_paths():
        if path != rel and lookup.policy.kind_of(path) is Kind.CORRECTION:
            other = lookup.ws.read_tracked(path)
            found = check_correction(path, other)[0] if other is not None else None
            if found is not None and found.experiment == correction.experiment:
                others.append(found)
    return [f for f in tree_findings([correction, *others], []) if f.path == rel]


def _duplicate_findings(exp: Experiment, lookup: _Lookup) -> list[Finding]:
    others = [p for p in lookup.paths(Kind.EXPERIMENT, exp.id) if p != exp.path]
    return [
        Finding(
            exp.path, Problem.DUPLICATE_ID.value, f"id {exp.id!r} is also used by {other}", "/id"
        )
        for other in sorted(others)
    ]


def _duplicate_result_findings(res: Result, tracked: dict[str, list[str]]) -> list[Finding]:
    """Another tracked result for the same experiment (a result is its experiment's,
    not its path's: a second file would be a second score)."""
    others = sorted(p for p in tracked.get(res.experiment, []) if p != res.path)
    if not others:
        return []
    return [duplicate_result(res.path, res.experiment, ", ".join(others))]


def _orphan_findings(exp: Experiment, lookup: _Lookup) -> list[Finding]:
    """A record with a committed result must stay `success` (the result's backing)."""
    if exp.status is Status.SUCCESS:
        return []
    return [
        Finding(
            exp.path,
            Problem.NOT_SUCCESS.value,
            f"status {exp.status.value!r}, but result {res} exists; a run with a result "
            "must stay 'success'",
            "/status",
        )
        for res in lookup.paths(Kind.RESULT, exp.id)
    ]


def _find_experiment(res: Result, lookup: _Lookup, policy: Policy) -> Experiment | None:
    """The result's record: at the conventional place (results/S/ID.json ->
    experiments/S/ID.json) without listing the index, else wherever the index has it."""
    first, _, rest = res.path.partition("/")
    guess = f"experiments/{rest}" if first == "results" else ""
    if guess and policy.kind_of(guess) is Kind.EXPERIMENT:
        found = _read_experiment(guess, lookup, policy)
        if found is not None and found.id == res.experiment:
            return found
    for path in lookup.paths(Kind.EXPERIMENT, res.experiment):
        found = _read_experiment(path, lookup, policy)
        if found is not None:
            return found
    return None


def _read_experiment(path: str, lookup: _Lookup, policy: Policy) -> Experiment | None:
    data = lookup.ws.read_tracked(path)
    if data is None:
        return None
    doc, _ = check_document(Kind.EXPERIMENT, path, data, policy, explain=False)
    return doc if isinstance(doc, Experiment) else None
