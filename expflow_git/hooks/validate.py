"""`validate`: check the given files (what pre-commit passes) against the policy.

The files themselves are read from the working tree — inside a pre-commit
hook that is the staged content — or with --staged from the index. Documents
they *refer to* (a result's experiment record, other records with the same id)
are looked up in the git index when there is a repository, so a result cannot
lean on a record that is not going to be committed with it. Without paths,
every document of the working tree is checked, tracked or not, and looked up
there (hooks/lookup.py).
"""

from __future__ import annotations

import functools
import operator
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from expflow_git.checks import (
    Problem,
    check_document,
    duplicate_result,
    reference_findings,
    required_metric_findings,
    some_of,
)
from expflow_git.documents import Experiment, Result, Status, stem
from expflow_git.errors import Finding
from expflow_git.heap import no_cyclic_gc
from expflow_git.hooks.lookup import Lookup, Source, holds
from expflow_git.jsonstrict import DEFAULT_MAX_BYTES, over_cap
from expflow_git.localcache import READ_NOFOLLOW
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind
from expflow_git.workers import map_parts, worker_count
from expflow_git.workspace import Workspace, walk_files

if TYPE_CHECKING:
    from expflow_git.corrections import Correction


@dataclass
class Validation:
    """What one validate run found."""

    checked: int = 0
    findings: list[Finding] = field(default_factory=list)


@no_cyclic_gc()  # see heap.py: millions of acyclic objects
def validate(
    ws: Workspace, paths: Sequence[str], *, warn: Callable[[str], None] | None = None
) -> Validation:
    """Check `paths`; without paths every document (of the working tree, or with --staged
    of the index); every document of the index too if the policy is among `paths`.
    `warn` hears of a cache file not trusted (localcache.py)."""
    policy = ws.load_policy(warn)
    lookup, docs = _scope(ws, policy, paths, _expand(ws, policy, paths))
    try:
        _prefetch(lookup, docs)
        given = frozenset(rel for _, rel, _ in docs)
        work = functools.partial(_check_part, ws, policy, lookup, given)
        workers = worker_count(len(docs), PER_WORKER)
        if workers == 1:
            answers = [work(docs)]
        else:
            lookup.close()  # no git pipes inherited by the workers (they share what it read)
            # A record and its result share a file stem (= id): they land in the same part.
            parts: list[list[_Doc]] = [[] for _ in range(workers)]
            for doc in docs:
                parts[hash(stem(doc[1])) % workers].append(doc)
            answers = map_parts(work, parts)
    finally:
        lookup.close()
    keyed = sorted((item for _, part in answers for item in part), key=operator.itemgetter(0))
    return Validation(sum(n for n, _ in answers), [finding for _, finding in keyed])


PER_WORKER = 1000  # documents: a smaller share does not pay for a forked process

_Doc = tuple[int, str, Kind]  # (position in the given order, path, kind)
_Keyed = tuple[tuple[int, int], Finding]  # (phase, position), finding


def _scope(
    ws: Workspace, policy: Policy, paths: Sequence[str], rels: list[tuple[str, Kind | None]]
) -> tuple[Lookup, list[_Doc]]:
    """Where the documents not given are looked up, and the documents to check.

    Without paths, every document of the working tree, tracked or not (what `git add -A`
    would commit); with --staged, of the index. A changed policy can invalidate any
    committed document: given the policy, every document of the index is re-checked.
    """
    policy_rel = ws.rel(ws.policy_path)
    every = not paths or any(rel == policy_rel for rel, _ in rels)
    given = [(rel, kind) for rel, kind in rels if kind]
    if ws.git is None:
        lookup = Lookup(Source.FOLDER, ws.root, policy, lambda: walk_files(ws.root, strict=False))
    elif not paths and not ws.staged:
        lookup = Lookup(Source.WORK_TREE, ws.root, policy, ws.git.work_tree_paths)
    else:
        whole = every or any(kind is Kind.CORRECTION for _, kind in given)
        lookup = Lookup.index(ws.git, policy, [rel for rel, _ in given], whole=whole)
    if every:
        seen = {rel for rel, _ in given}
        given += [(p, k) for p in lookup.all_paths() if p not in seen and (k := policy.kind_of(p))]
        given = sorted(set(given))
    return lookup, [(i, rel, kind) for i, (rel, kind) in enumerate(given)]


def _prefetch(lookup: Lookup, docs: list[_Doc]) -> None:
    """From the index, read up front the blobs the checks will ask for besides the
    documents checked: the records of the results, and the corrections (a correction
    may need the others). A staged document is read by the process that checks it
    (Lookup.read: from disk when it is the blob, so the parts read theirs at once)."""
    if lookup.source is not Source.INDEX:
        return
    given = {rel for _, rel, _ in docs}
    wanted: list[str] = []
    for exp_id in dict.fromkeys(stem(rel) for _, rel, kind in docs if kind is Kind.RESULT):
        wanted += [p for p in lookup.named(Kind.EXPERIMENT, exp_id) if p not in given]
    if any(kind is Kind.CORRECTION for _, _, kind in docs):
        policy = lookup.policy
        wanted += [p for p in lookup.all_paths() if policy.kind_of(p) is Kind.CORRECTION]
    lookup.prefetch(wanted)


def _check_part(
    ws: Workspace, policy: Policy, lookup: Lookup, given: frozenset[str], docs: list[_Doc]
) -> tuple[int, list[_Keyed]]:
    """Check documents: how many were read, and the findings. Each finding is keyed
    (phase, position) so the parts of a parallel run merge into the serial order: every
    document's own findings in the given order, then results that share an experiment,
    then each result's reference to its record."""
    keyed: list[_Keyed] = []
    experiments: dict[str, Experiment] = {}
    results: list[tuple[int, Result]] = []
    corrections = _Corrections(lookup)
    checked = 0
    for i, rel, kind in docs:
        data = _read_for_check(ws, rel, lookup)
        if data is None:  # deleted from the working tree: not there to check
            continue
        checked += 1
        if isinstance(data, Finding):
            keyed.append(((0, i), data))
            continue
        if kind is Kind.CORRECTION:
            found = _correction_findings(rel, data, lookup, corrections)
            keyed.extend(((0, i), finding) for finding in found)
            continue
        doc, findings = check_document(kind, rel, data, policy)
        if isinstance(doc, Experiment):
            experiments[doc.id] = doc
            findings += _duplicate_findings(doc, lookup)
            if doc.status is not Status.SUCCESS:
                findings += _orphan_findings(doc, lookup)
        elif isinstance(doc, Result):
            results.append((i, doc))
            findings += required_metric_findings(doc, policy)
        if findings:  # nearly never: no generator made per document
            keyed.extend(((0, i), finding) for finding in findings)
    for i, res in results:
        keyed.extend(((1, i), finding) for finding in _duplicate_result_findings(res, lookup))
    records = _Records(lookup, given)
    for i, res in results:
        exp = experiments.get(res.experiment) or records.of(res)
        keyed.extend(((2, i), finding) for finding in reference_findings(res, exp))
    return checked, keyed


def _expand(ws: Workspace, policy: Policy, paths: Sequence[str]) -> list[tuple[str, Kind | None]]:
    """The paths relative to the root, each with the kind of document the policy names it
    (classified once: a sweep gives thousands); a directory stands for every file below it
    (with --staged: every index entry below it, on disk or not).

    A `.json` path the policy names as a document is taken for a file without a
    look at the disk (a directory there is then refused as not a regular file).
    """
    out: list[tuple[str, Kind | None]] = []
    kind_of = policy.kind_of
    # With --staged, a path that is no document and no file on disk (a folder, or
    # nothing) stands for the index's entries below it, as for `scan --staged`: a staged
    # result deleted from the disk, in a folder given, was not checked (a review).
    named = [
        (p, rel, kind_of(rel) if rel.endswith(".json") else None)
        for p in paths
        for rel in [ws.rel(p)]
    ]
    below: dict[str, list[str]] = {}
    if ws.staged:  # (a document the policy names is taken for a file: no look at the disk)
        odd = [rel for p, rel, kind in named if kind is None and not os.path.isfile(p)]
        below = ws.index_below(odd)
    for p, rel, kind in named:
        if kind is None and rel in below and below[rel] != [rel]:
            out.extend((sub, kind_of(sub)) for sub in below[rel])
        # A link to a folder (`data -> /mnt/datasets`) is a name, not a folder to walk.
        elif kind is None and not ws.staged and os.path.isdir(p) and not os.path.islink(p):
            subs = (ws.rel(os.path.join(p, sub)) for sub in walk_files(Path(p)))
            out.extend((sub, kind_of(sub)) for sub in subs)
        else:
            out.append((rel, kind if kind is not None else kind_of(rel)))
    return out


def _read_for_check(ws: Workspace, rel: str, lookup: Lookup) -> bytes | Finding | None:
    """The document's bytes, or a finding why it cannot be checked; None if it is gone
    from the working tree (`validate` without paths checks what is there)."""
    if ws.staged:
        if rel in lookup.links:  # as on disk: git would commit the link, not a document
            return _symlink_finding(rel)
        staged = lookup.read(rel)
        return Finding(rel, Problem.NOT_A_FILE.value, "not staged") if staged is None else staged
    full = os.path.join(ws.root, rel)
    if not _NOFOLLOW and os.path.islink(full):
        return _symlink_finding(rel)
    try:
        # One open that refuses a symbolic link instead of lstat + open; a FIFO does not
        # block it (O_NONBLOCK), and is refused below.
        fd = os.open(full, READ_NOFOLLOW)
    except FileNotFoundError:
        if lookup.source is Source.WORK_TREE:
            return None  # tracked, but deleted from the working tree
        # Listed in the index but gone from disk (deleted, not yet staged): check the index.
        if rel in lookup.links:
            return _symlink_finding(rel)
        staged = lookup.read(rel) if lookup.source is Source.INDEX else None
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


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # (where there is none, links are asked about)


def _symlink_finding(rel: str) -> Finding:
    return Finding(rel, Problem.NOT_A_FILE.value, "is a symbolic link; documents must be files")


def _correction_findings(
    rel: str, data: bytes, lookup: Lookup, every: _Corrections
) -> list[Finding]:
    """A correction: strict JSON, its schema, and the experiment it names (corrections.py)."""
    from expflow_git.corrections import check_correction, tree_findings

    correction, findings = check_correction(rel, data)
    if correction is None:
        return findings
    if lookup.named(Kind.EXPERIMENT, correction.experiment):
        return []
    # No record: fine only if another correction deletes the run (rare: read them).
    others = [c for c in every.naming(correction.experiment) if c.path != rel]
    return [f for f in tree_findings([correction, *others], []) if f.path == rel]


class _Corrections:
    """The lookup's corrections by the experiment they name, read and checked on first
    need: once for every correction that needs them (k corrections of experiments with
    no record read k² documents when each read them all)."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._by_experiment: dict[str, list[Correction]] | None = None

    def naming(self, exp_id: str) -> list[Correction]:
        if self._by_experiment is None:
            from expflow_git.corrections import check_correction

            lookup = self._lookup
            by_experiment: dict[str, list[Correction]] = {}
            for path in lookup.all_paths():
                if lookup.policy.kind_of(path) is Kind.CORRECTION:
                    data = lookup.read(path)
                    found = check_correction(path, data)[0] if data is not None else None
                    if found is not None:
                        by_experiment.setdefault(found.experiment, []).append(found)
            self._by_experiment = by_experiment
        return self._by_experiment.get(exp_id, [])


def _duplicate_findings(exp: Experiment, lookup: Lookup) -> list[Finding]:
    """Other records with this id: one finding naming the first few (k records of one
    id gave k(k-1) findings, one for each other)."""
    others = _others(lookup, Kind.EXPERIMENT, exp.id, exp.path)
    if not others:
        return []
    message = f"id {exp.id!r} is also used by {others}"
    return [Finding(exp.path, Problem.DUPLICATE_ID.value, message, "/id")]


def _duplicate_result_findings(res: Result, lookup: Lookup) -> list[Finding]:
    """Another result for the same experiment (a result is its experiment's, not its
    path's: a second file would be a second score)."""
    others = _others(lookup, Kind.RESULT, res.experiment, res.path)
    return [duplicate_result(res.path, res.experiment, others)] if others else []


def _others(lookup: Lookup, kind: Kind, exp_id: str, path: str) -> str:
    """The listed documents of `kind` for `exp_id` but `path`: the first few and how
    many more (`checks.some_of`), or "" when there is none."""
    named = lookup.named(kind, exp_id, asking=path)
    count = len(named) - holds(named, path)
    return some_of((p for p in named if p != path), count) if count else ""


def _orphan_findings(exp: Experiment, lookup: Lookup) -> list[Finding]:
    """A record with a result must stay `success` (the result's backing)."""
    named = lookup.named(Kind.RESULT, exp.id)
    if exp.status is Status.SUCCESS or not named:
        return []
    results = (
        f"result {named[0]} exists"
        if len(named) == 1
        else f"results {some_of(named, len(named))} exist"
    )
    return [
        Finding(
            exp.path,
            Problem.NOT_SUCCESS.value,
            f"status {exp.status.value!r}, but {results}; a run with a result must stay 'success'",
            "/status",
        )
    ]


class _Records:
    """The records of the results checked without them, found and judged once: a result's
    conventional place first (results/S/ID.json -> experiments/S/ID.json), else its id's
    first valid record (k results of one id asked for the same k records: k²). A record
    among the checked files was judged as checked (a valid one is the part's own): it is
    not read again."""

    def __init__(self, lookup: Lookup, given: frozenset[str]) -> None:
        self._lookup = lookup
        self._given = given
        self._judged: dict[str, Experiment | None] = {}
        self._first: dict[str, Experiment | None] = {}

    def of(self, res: Result) -> Experiment | None:
        found = self._lookup.named(Kind.EXPERIMENT, res.experiment)
        first, _, rest = res.path.partition("/")
        guess = f"experiments/{rest}" if first == "results" else ""
        if guess and holds(found, guess) and (doc := self._judge(guess)):
            return doc
        if res.experiment not in self._first:
            judged = (self._judge(path) for path in found)
            self._first[res.experiment] = next(filter(None, judged), None)
        return self._first[res.experiment]

    def _judge(self, path: str) -> Experiment | None:
        if path in self._given:
            return None
        if path not in self._judged:
            data = self._lookup.read(path)
            doc = None
            if data is not None:
                found, _ = check_document(
                    Kind.EXPERIMENT, path, data, self._lookup.policy, explain=False
                )
                doc = found if isinstance(found, Experiment) else None
            self._judged[path] = doc
        return self._judged[path]
