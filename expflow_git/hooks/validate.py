"""`validate`: check the given files (what pre-commit passes) against the policy.

The files themselves are read from the working tree — inside a pre-commit
hook that is the staged content — or with --staged from the index. Documents
they *refer to* (a result's experiment record, other records with the same id)
are looked up in the git index when there is a repository, so a result cannot
lean on a record that is not going to be committed with it. Without paths,
every document of the working tree is checked, tracked or not, and looked up
there (hooks/lookup.py).

The budgets (`budget.max_runs_per_study`, the holdout budget
`walk_forward.max_evaluations_per_study`, and their totals in all studies
`budget.max_runs`, `walk_forward.max_evaluations`) are counted over every document
where the others are looked up, the given ones as checked, by the audit's own rules
(checks.run_budget_findings, checks.holdout_budget_findings, checks.run_total_findings,
checks.holdout_total_findings), for the studies the given documents touch (every study
when the policy is among them; a total when they touch any). What a budget needs of a
document it only counts (`_Fact`) is remembered per index blob in this machine's state
dir (`_FactCache`): a commit of one run in a repository of thousands reads the given
documents, not every other one again (issue 18).
"""

from __future__ import annotations

import functools
import json
import operator
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from expflow_git.checks import (
    Document,
    Problem,
    Study,
    by_study,
    check_document,
    duplicate_result,
    holdout_budget_findings,
    holdout_counts,
    holdout_total_findings,
    reference_findings,
    required_metric_findings,
    run_budget_findings,
    run_total_findings,
    some_of,
)
from expflow_git.documents import Experiment, Result, Status, stem
from expflow_git.errors import Finding
from expflow_git.heap import no_cyclic_gc
from expflow_git.hooks.lookup import Lookup, Source, holds
from expflow_git.jsonstrict import DEFAULT_MAX_BYTES, over_cap
from expflow_git.lazyre import lazy_compile
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind
from expflow_git.workers import map_parts, worker_count
from expflow_git.workspace import (
    SYMLINK,
    NotRegular,
    ThroughLink,
    Workspace,
    os_path,
    repo_path,
    through_link,
    walk_files,
    walk_paths,
)

if TYPE_CHECKING:
    from expflow_git.corrections import Correction
    from expflow_git.gitstore import Git


@dataclass
class Validation:
    """What one validate run found."""

    checked: int = 0
    findings: list[Finding] = field(default_factory=list)


@no_cyclic_gc()  # see heap.py: millions of acyclic objects
def validate(
    ws: Workspace, paths: Sequence[str], *, warn: Callable[[str], None] | None = None
) -> Validation:
    """Check `paths` (each in the documents' convention, `workspace.repo_path`: as git's
    paths are decoded); without paths every document (of the working tree, or with --staged
    of the index); every document of the index too if the policy is among `paths`.
    `warn` hears of a cache file not trusted (localcache.py)."""
    policy = ws.load_policy(warn)
    rels, missing = _expand(ws, policy, paths)
    lookup, docs, every = _scope(ws, policy, paths, rels)
    facts: _FactCache | None = None
    known: tuple[list[_Record], list[_Look]] = ([], [])
    try:
        budgets = _Budgets.plan(policy, lookup, docs, every)
        if budgets.counted and ws.git is not None and lookup.source is Source.INDEX:
            facts = _FactCache.open(ws.git, policy, lookup, warn)
            extra, known = facts.answer(budgets.extra, budgets.split)
            budgets = replace(budgets, extra=extra)  # only those it has no facts of are read
        from expflow_git.gitstore import BULK_BLOBS

        # The blobs hashed (Lookup.bulk): the documents, a record for each result, and
        # the documents only counted.
        results = sum(kind is Kind.RESULT for _, _, kind in docs)
        lookup.bulk = len(docs) + results + len(budgets.extra) > BULK_BLOBS
        _prefetch(lookup, docs, budgets.extra)
        given = frozenset(rel for _, rel, _ in docs)
        work = functools.partial(_check_part, ws, policy, lookup, given, budgets)
        workers = worker_count(len(docs) + len(budgets.extra), PER_WORKER)
        if workers == 1:
            answers = [work((docs, budgets.extra))]
        else:
            lookup.close()  # no git pipes inherited by the workers (they share what it read)
            # A record and its result share a file stem (= id): they land in the same part.
            parts: list[_Part] = [([], []) for _ in range(workers)]
            for doc in docs:
                parts[hash(stem(doc[1])) % workers][0].append(doc)
            for path, kind in budgets.extra:
                parts[hash(stem(path)) % workers][1].append((path, kind))
            answers = map_parts(work, parts)
    finally:
        lookup.close()
    keyed = sorted((item for answer in answers for item in answer[1]), key=operator.itemgetter(0))
    findings = missing + [finding for _, finding in keyed]
    if budgets.counted:
        records = known[0] + [record for answer in answers for record in answer[2]]
        looks = known[1] + [look for answer in answers for look in answer[3]]
        findings += budgets.findings(policy, records, looks)
    if facts is not None:
        facts.save(fact for answer in answers for fact in answer[4])
    return Validation(sum(answer[0] for answer in answers), findings)


PER_WORKER = 1000  # documents: a smaller share does not pay for a forked process

_Doc = tuple[int, str, Kind]  # (position in the given order, path, kind)
_Part = tuple[list[_Doc], list[tuple[str, Kind]]]  # documents checked, and only counted
_Keyed = tuple[tuple[int, int], Finding]  # (phase, position), finding


class _Record(NamedTuple):
    """A valid record as the budgets count it (checks.Studied), and whether it was given."""

    path: str
    id: str
    study: str
    given: bool


_Look = tuple[str, bool]  # a valid result carrying the holdout split: (its id, given)
# What the budgets count of a document (_FactCache): a record's (id, study) when it is
# valid; a result's experiment id when it is valid and carries the policy's holdout
# split; None when it counts for nothing (invalid, or a result without the split).
_Fact = tuple[str, str] | str | None
_Learnt = tuple[str, Kind, _Fact]  # of a document read from its index blob: (path, kind, fact)
# A part's answer: documents read, findings, the budgets' valid records and looks, and
# the facts learnt of index blobs.
_Answer = tuple[int, list[_Keyed], list[_Record], list[_Look], list[_Learnt]]


@dataclass(frozen=True)
class _Budgets:
    """The budgets a run counts: a limit is set only when the given documents touch it
    (a record for the runs budgets; a result, or a record of a run with one, for the
    holdout budgets; every document checked: the policy given, or no paths) and the
    documents of its kind are more than it (by their names: nothing is read otherwise).
    `runs` and `looks` are per study, `runs_total` and `looks_total` in all studies.
    `extra`: the documents the counts need that are not checked (they are read, judged
    as the audit judges them, and counted)."""

    runs: int | None = None
    looks: int | None = None
    split: str = ""
    every: bool = False
    extra: list[tuple[str, Kind]] = field(default_factory=list)
    runs_total: int | None = None
    looks_total: int | None = None

    @property
    def counted(self) -> bool:
        limits = (self.runs, self.looks, self.runs_total, self.looks_total)
        return any(limit is not None for limit in limits)

    @classmethod
    def plan(cls, policy: Policy, lookup: Lookup, docs: list[_Doc], every: bool) -> _Budgets:
        walk = policy.walk_forward
        looks = [walk.max_evaluations_per_study, walk.max_evaluations] if walk else [None, None]
        runs = [policy.max_runs_per_study, policy.max_runs]
        given = {rel: kind for _, rel, kind in docs}
        kinds = set(given.values())
        if not (every or Kind.EXPERIMENT in kinds):
            runs = [None, None]
        if not (every or kinds & {Kind.EXPERIMENT, Kind.RESULT}):
            looks = [None, None]
        if all(limit is None for limit in runs + looks):
            return _NO_BUDGETS  # (nearly always: the listing is not classified)
        records = dict.fromkeys(lookup.documents(Kind.EXPERIMENT))
        records.update((p, None) for p, k in given.items() if k is Kind.EXPERIMENT)
        results = dict.fromkeys(lookup.documents(Kind.RESULT))
        results.update((p, None) for p, k in given.items() if k is Kind.RESULT)
        ids = {stem(p) for p in results}  # the runs with a result
        runs = [None if limit is None or len(records) <= limit else limit for limit in runs]
        # A record moves no look unless its run has a result (a sweep's launch: none).
        moves = (
            every
            or Kind.RESULT in kinds
            or any(k is Kind.EXPERIMENT and stem(p) in ids for p, k in given.items())
        )
        looks = [
            None if limit is None or len(results) <= limit or not moves else limit
            for limit in looks
        ]
        counts_runs = any(limit is not None for limit in runs)
        counts_looks = any(limit is not None for limit in looks)
        extra: dict[str, Kind] = {}
        if counts_runs:
            extra.update((p, Kind.EXPERIMENT) for p in records if p not in given)
        if counts_looks:
            extra.update((p, Kind.RESULT) for p in results if p not in given)
            extra.update((p, Kind.EXPERIMENT) for p in records if p not in given and stem(p) in ids)
        split = walk.split if walk is not None and counts_looks else ""
        return cls(runs[0], looks[0], split, every, list(extra.items()), runs[1], looks[1])

    def findings(self, policy: Policy, records: list[_Record], looks: list[_Look]) -> list[Finding]:
        """The audit's budget findings of the studies the given documents touch (all of
        them when every document was checked). A record counts in its study; a look in
        its run's record's study (of two records of an id, the last by path, as the
        audit reads them), None when it has no valid record."""
        records.sort(key=lambda r: r.path.encode("utf-8", "surrogateescape"))  # git's order
        findings = []
        touched = None if self.every else {r.study for r in records if r.given}
        if self.runs is not None:
            findings += run_budget_findings(records, self.runs, touched)
        if self.runs_total is not None and (touched is None or touched):
            findings += run_total_findings(policy.path, len(records), self.runs_total)
        if self.looks is not None or self.looks_total is not None:
            counts = by_study(holdout_counts(records, (exp_id for exp_id, _ in looks)))
            studies: set[Study] | None = None
            if not self.every:
                study_of = {r.id: r.study for r in records}
                ids = {r.id for r in records if r.given}
                studies = {study_of.get(i) for i, given in looks if given or i in ids}
            if self.looks is not None:
                findings += holdout_budget_findings(
                    policy.path, self.split, self.looks, counts, history=False, studies=studies
                )
            if self.looks_total is not None and (studies is None or studies):
                findings += holdout_total_findings(
                    policy.path, self.split, self.looks_total, counts, history=False
                )
        return findings


_NO_BUDGETS = _Budgets()


def _scope(
    ws: Workspace, policy: Policy, paths: Sequence[str], rels: list[tuple[str, Kind | None]]
) -> tuple[Lookup, list[_Doc], bool]:
    """Where the documents not given are looked up, the documents to check, and whether
    they are every document there.

    Without paths, every document of the working tree, tracked or not (what `git add -A`
    would commit); with --staged, of the index. A changed policy can invalidate any
    committed document: given the policy, every document of the index is re-checked.
    A budget the given documents touch counts the whole index: it is listed whole.
    """
    policy_rel = repo_path(ws.rel(ws.policy_path))
    every = not paths or any(rel == policy_rel for rel, _ in rels)
    given = [(rel, kind) for rel, kind in rels if kind]
    if ws.git is None:
        lookup = Lookup(Source.FOLDER, ws.root, policy, lambda: walk_paths(ws.root, strict=False))
    elif not paths and not ws.staged:
        lookup = Lookup.work_tree(ws.git, policy)
    else:
        budgeted = _budgeted_kinds(policy)
        whole = every or any(kind is Kind.CORRECTION or kind in budgeted for _, kind in given)
        lookup = Lookup.index(ws.git, policy, [rel for rel, _ in given], whole=whole)
    if every:
        seen = {rel for rel, _ in given}
        given += [(p, k) for p in lookup.all_paths() if p not in seen and (k := policy.kind_of(p))]
        given = sorted(set(given))
    return lookup, [(i, rel, kind) for i, (rel, kind) in enumerate(given)], every


def _budgeted_kinds(policy: Policy) -> frozenset[Kind]:
    """The kinds of document a budget the policy sets counts (_Budgets)."""
    kinds: set[Kind] = set()
    if policy.max_runs_per_study is not None or policy.max_runs is not None:
        kinds.add(Kind.EXPERIMENT)
    walk = policy.walk_forward
    if walk is not None and (
        walk.max_evaluations_per_study is not None or walk.max_evaluations is not None
    ):
        kinds |= {Kind.EXPERIMENT, Kind.RESULT}
    return frozenset(kinds)


def _prefetch(lookup: Lookup, docs: list[_Doc], extra: list[tuple[str, Kind]]) -> None:
    """From the index, read up front the blobs the checks will ask for besides the
    documents checked: the records of the results, the corrections (a correction
    may need the others) and the documents only the budgets count (`extra`). A staged
    document is read by the process that checks it (Lookup.read: from disk when it is
    the blob, so the parts read theirs at once)."""
    if lookup.source is not Source.INDEX:
        return
    given = {rel for _, rel, _ in docs}
    wanted: list[str] = [path for path, _ in extra]
    for exp_id in dict.fromkeys(stem(rel) for _, rel, kind in docs if kind is Kind.RESULT):
        wanted += [p for p in lookup.named(Kind.EXPERIMENT, exp_id) if p not in given]
    if any(kind is Kind.CORRECTION for _, _, kind in docs):
        policy = lookup.policy
        wanted += [p for p in lookup.all_paths() if policy.kind_of(p) is Kind.CORRECTION]
    lookup.prefetch(wanted)


def _check_part(
    ws: Workspace,
    policy: Policy,
    lookup: Lookup,
    given: frozenset[str],
    budgets: _Budgets,
    part: _Part,
) -> _Answer:
    """Check documents: how many were read, and the findings; with budgets to count, the
    valid records and looks of the documents checked and of those only counted. Each
    finding is keyed (phase, position) so the parts of a parallel run merge into the
    serial order: every document's own findings in the given order, then results that
    share an experiment, then each result's reference to its record."""
    docs, extra = part
    keyed: list[_Keyed] = []
    experiments: dict[str, Experiment] = {}
    results: list[tuple[int, Result]] = []
    checked_records: list[Experiment] = []  # (of an id given twice, both: the budget)
    judged: list[tuple[str, Kind, Document | None]] = []  # (the budgets' facts: _FactCache)
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
        if budgets.counted:
            judged.append((rel, kind, doc))
        if isinstance(doc, Experiment):
            experiments[doc.id] = doc
            checked_records.append(doc)
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
    if not budgets.counted:
        return checked, keyed, [], [], []
    counted: list[_Record] = []
    looks: list[_Look] = []
    split = budgets.split
    for exp in checked_records:
        counted.append(_Record(exp.path, exp.id, exp.study, True))
    for _, res in results:
        if split and res.splits.get(split):
            looks.append((res.experiment, True))
    learnt: list[_Learnt] = []
    fact_split = policy.walk_forward.split if policy.walk_forward is not None else ""
    if ws.staged:  # the given documents were read from their index blobs: remembered
        learnt += [(rel, kind, _fact_of(doc, fact_split)) for rel, kind, doc in judged]
    for path, kind in extra:  # read as the audit reads a document: a valid one counts
        data = lookup.read(path)
        doc = None
        if data is not None:
            doc = check_document(kind, path, data, policy, explain=False)[0]
        fact = _fact_of(doc, fact_split)
        _count(path, kind, fact, split, False, counted, looks)
        if data is not None:
            learnt.append((path, kind, fact))
    return checked, keyed, counted, looks, learnt


def _fact_of(doc: Document | None, split: str) -> _Fact:
    """What the budgets count of a document as check_document judged it (None: invalid)."""
    if isinstance(doc, Experiment):
        return (doc.id, doc.study)
    if isinstance(doc, Result) and split and doc.splits.get(split):
        return doc.experiment
    return None


def _count(
    path: str,
    kind: Kind,
    fact: _Fact,
    split: str,
    given: bool,
    counted: list[_Record],
    looks: list[_Look],
) -> None:
    """Count a document's fact: a valid record in its study; a look (when the holdout
    `split` is counted) at its run."""
    if kind is Kind.EXPERIMENT and isinstance(fact, tuple):
        counted.append(_Record(path, fact[0], fact[1], given))
    elif kind is Kind.RESULT and isinstance(fact, str) and split:
        looks.append((fact, given))


class _FactCache:
    """The budgets' facts (`_Fact`) of index blobs, remembered in this machine's state dir
    (`.git/expflow/budget-facts-VERSION-CODE-POLICY.json`: tool version, code digest and
    policy digest; the path and blob id of each document inside, as a fact depends on both:
    a record's id must be its file name). A document counted whose index blob has a fact
    is not read; the others are read as before, and what they teach is written back once
    (only when something was learnt: parallel hooks race, and the last writer wins). The
    cache is local and trusted as the policy cache is (localcache.read_own: a file another
    user may have written is ignored with a warning); an entry of another blob, or
    malformed, is a miss, and so is the whole file where its facts do not match the digest
    it holds of them (`_facts_digest`)."""

    def __init__(self, file: Path, git_dir: Path, policy: Policy, lookup: Lookup) -> None:
        self._file = file
        self._git_dir = git_dir
        self._policy = policy.sha256
        self._lookup = lookup
        self._entries: dict[str, object] = {}

    @classmethod
    def open(
        cls, git: Git, policy: Policy, lookup: Lookup, warn: Callable[[str], None] | None
    ) -> _FactCache:
        from expflow_git import __version__
        from expflow_git.localcache import read_own, state_dir
        from expflow_git.resources import build_id, code_digest

        name = f"budget-facts-{__version__}-{code_digest()}-{policy.sha256}.json"
        cache = cls(state_dir(git.git_dir) / name, git.git_dir, policy, lookup)
        data = read_own(cache._file, warn, below=git.git_dir)
        try:
            loaded = json.loads(data) if data is not None else None
        except (ValueError, RecursionError):  # (damaged, or nested past the limit: read
            # again, and rewritten; a RecursionError was a traceback on every call: a review)
            loaded = None
        if (
            isinstance(loaded, dict)
            and loaded.get("policy") == policy.sha256
            and loaded.get("tool") == build_id()
            and data is not None
            and loaded.get("body") == _facts_digest(data)
        ):
            entries = loaded.get("facts")
            cache._entries = entries if isinstance(entries, dict) else {}
        return cache

    def answer(
        self, extra: list[tuple[str, Kind]], split: str
    ) -> tuple[list[tuple[str, Kind]], tuple[list[_Record], list[_Look]]]:
        """The documents of `extra` it has no fact of, and the counts of those it has."""
        misses: list[tuple[str, Kind]] = []
        counted: list[_Record] = []
        looks: list[_Look] = []
        for path, kind in extra:  # (tens of thousands: one lookup each, no copies)
            known, fact = self._fact(path, kind)
            if known:
                _count(path, kind, fact, split, False, counted, looks)
            else:
                misses.append((path, kind))
        return misses, (counted, looks)

    def _fact(self, path: str, kind: Kind) -> tuple[bool, _Fact]:
        """(True, the fact) when the entry of `path` is one of its index blob and kind."""
        entry = self._entries.get(path)
        if type(entry) is not list or not 2 <= len(entry) <= 4:
            return False, None
        if entry[0] != self._lookup.blob_id(path) or entry[1] != _CODE[kind]:
            return False, None  # (a path the index holds no blob of: None, never an id)
        if len(entry) == 2:
            return True, None
        if kind is Kind.EXPERIMENT and len(entry) == 4:
            exp_id, study = entry[2], entry[3]
            if type(exp_id) is str and type(study) is str:
                return True, (exp_id, study)
        elif kind is Kind.RESULT and len(entry) == 3 and type(exp_id := entry[2]) is str:
            return True, exp_id
        return False, None

    def save(self, learnt: Iterable[_Learnt]) -> None:
        """Write the facts back with what was learnt, if anything was (an entry of a path
        the index no longer holds as that blob is dropped)."""
        import time

        from expflow_git.localcache import remove_stale_temps, remove_unused_files, write_own

        blob_id = self._lookup.blob_id
        new: dict[str, object] = {}
        for path, kind, fact in learnt:
            sha = blob_id(path)
            if sha is not None and kind in _CODE:
                tail = list(fact) if isinstance(fact, tuple) else [] if fact is None else [fact]
                entry = [sha, _CODE[kind], *tail]
                if self._entries.get(path) != entry:  # (a hook run again learns nothing)
                    new[path] = entry
        if not new:
            return
        entries: dict[str, object] = {
            path: entry
            for path, entry in self._entries.items()
            if isinstance(entry, list) and entry[:1] == [blob_id(path)]
        }
        entries.update(new)
        from expflow_git.resources import build_id

        body = json.dumps(entries, separators=(",", ":")).encode()
        head = {"policy": self._policy, "tool": build_id(), "body": _sha256(body)}
        # The facts last, as their digest covers them: `_facts_digest` reads them back.
        data = json.dumps(head, separators=(",", ":")).encode()[:-1] + _FACTS_KEY + body + b"}"
        write_own(self._file, data, below=self._git_dir)
        remove_unused_files(self._file.parent, _FACT_FILE, self._file.name, below=self._git_dir)
        # A write killed half-way leaves its temp file (as large as the facts): gone after
        # an hour, as the audit cache's are (a review).
        remove_stale_temps(self._file.parent, now=time.time())


_CODE = {Kind.EXPERIMENT: "e", Kind.RESULT: "r"}
_FACT_FILE = lazy_compile(r"budget-facts-.+\.json")
_FACTS_KEY = b',"facts":'


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _facts_digest(data: bytes) -> str | None:
    """The SHA-256 of a facts file's `facts` as they stand in its bytes (written last,
    after their digest: `_FactCache.save`); None where they do not stand so. A bit flipped
    on disk in a study's name moved a run out of its study, which every hook then counted
    for its budget (a hunt, issue 18 fortieth pass; the policy cache's entry carries its
    body's digest for that reason): a file whose digest does not match is a miss, every
    document read again and the file rewritten. Hashed as read, not written again: the
    facts of 100,000 runs are 10 MB."""
    at = data.find(_FACTS_KEY)
    if at < 0 or not data.endswith(b"}"):
        return None
    return _sha256(data[at + len(_FACTS_KEY) : -1])


def _expand(
    ws: Workspace, policy: Policy, paths: Sequence[str]
) -> tuple[list[tuple[str, Kind | None]], list[Finding]]:
    """The paths relative to the root, each with the kind of document the policy names it
    (classified once: a sweep gives thousands); a directory stands for every file below it
    (with --staged: every index entry below it, on disk or not). And, without --staged,
    a `not-a-regular-file: no such file` finding for each path given that is no document
    and is not there: `validate expflow.yam` (a typo) said "0 document(s) OK", exit 0,
    having checked nothing, as `scan` did before the twenty-eighth pass (issue 18
    forty-first pass).

    A `.json` path the policy names as a document is taken for a file without a
    look at the disk (a directory there is then refused as not a regular file).
    """
    out: list[tuple[str, Kind | None]] = []
    missing: list[Finding] = []
    kind_of = policy.kind_of
    # With --staged, a path that is no document and no file on disk (a folder, or
    # nothing) stands for the index's entries below it, as for `scan --staged`: a staged
    # result deleted from the disk, in a folder given, was not checked (a review).
    # `paths` are in the documents' convention (workspace.repo_path: the CLI converts
    # its arguments); the disk is asked by the same bytes (`os_path`).
    named = [
        (p, rel, kind_of(rel) if rel.endswith(".json") else None)
        for p in map(os_path, paths)
        for rel in [repo_path(ws.rel(p))]
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
            subs = (repo_path(ws.rel(os.path.join(p, sub))) for sub in walk_files(Path(p)))
            out.extend((sub, kind_of(sub)) for sub in subs)
        elif kind is None and not ws.staged and not os.path.lexists(p):
            missing.append(Finding(rel, Problem.NOT_A_FILE.value, "no such file"))
        else:
            out.append((rel, kind if kind is not None else kind_of(rel)))
    # A file named twice (`f ./f`, or inside a folder also given) is one document.
    return (list(dict.fromkeys(out)) if len(out) > 1 else out), list(dict.fromkeys(missing))


def _read_for_check(ws: Workspace, rel: str, lookup: Lookup) -> bytes | Finding | None:
    """The document's bytes, or a finding why it cannot be checked; None if it is gone
    from the working tree (`validate` without paths checks what is there)."""
    if ws.staged or rel in lookup.skipped:  # (a sparse checkout's file: as the index has it)
        if rel in lookup.links:  # as on disk: git would commit the link, not a document
            return _symlink_finding(rel)
        staged = lookup.read(rel)
        return Finding(rel, Problem.NOT_A_FILE.value, "not staged") if staged is None else staged
    try:
        # One open that refuses a symbolic link (no lstat before it), nothing read through
        # a folder of the path that is one (`Lookup.linked_folder`: git commits the link,
        # never the files it points at; a hunt, thirty-eighth pass: a study's folder
        # replaced by a link to another was read through it, "OK"); a FIFO does not block
        # it, and is refused. By the bytes git gave (a path is UTF-8 with surrogateescape,
        # as gitstore decodes it), not by the filesystem encoding's: under LC_ALL=C without
        # UTF-8 mode that is ASCII, and `ëxp.json` was a UnicodeEncodeError traceback.
        fd, info = lookup.open_file(rel)
    except ThroughLink as exc:
        return Finding(rel, Problem.NOT_A_FILE.value, through_link(exc.folder))
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
    except NotRegular as exc:
        if exc.kind == SYMLINK:
            return _symlink_finding(rel)
        return Finding(rel, Problem.NOT_A_FILE.value, "is not a regular file")
    except OSError as exc:
        return Finding(rel, Problem.NOT_A_FILE.value, f"cannot read: {exc.strerror}")
    try:
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
