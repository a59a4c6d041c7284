"""What one tree holds, gathered blob by blob: the audit's classification of every
path (which blobs are documents of which kind, which are scanned) and what each
blob's record decides for every path that holds it (findings, documents, leaves).

A record comes from the cache (`consume_cached`) or is made as the blob is checked
(`consume`): pipeline.py decides which.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from expflow_git.audit.folders import MIN_DOCUMENTS, Folder
from expflow_git.audit.leaves import digests_of
from expflow_git.audit.record import (
    FINITE,
    REPORTED,
    BlobRecord,
    as_dict,
    numbers,
    outcome_of,
    row_finding,
    rows,
    spelled,
)
from expflow_git.checks import Problem, stem_findings
from expflow_git.corrections import Correction, correction_from_record
from expflow_git.documents import Experiment, Result
from expflow_git.errors import Finding
from expflow_git.gitstore import tree_entry
from expflow_git.globs import matches_any
from expflow_git.pinscan.scanner import (
    FileClass,
    file_class,
    is_code_path,
    listed,
    name_findings,
    shown_path,
)
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind

SYMLINK_MODE = "120000"
_TEXT = FileClass.TEXT.value
# A NamedTuple's generated __new__ is a Python call (~0.35 µs); made straight from its
# fields' tuple, a Use of every path of a 40k-document tree costs ~9 ms less.
_new_use = tuple.__new__


def _named(path: str, run_id: str) -> bool:
    """What `stem_findings` finds nothing for, in the common case: the file is
    `<folder>/<id>.json` (an id holds no `/`: an edited cache record's may). Otherwise
    `stem_findings` decides (~0.3 µs a document less on the cold audit's critical path)."""
    return path.endswith(f"/{run_id}.json") and "/" not in run_id


class Use(NamedTuple):
    """One path of the tree that holds a blob, classified once."""

    path: str
    kind: Kind | None
    scan_class: str | None  # None: not scanned (scan off, or the policy's scan.allow)
    slot: int  # a document's leaf (its rank in path order); -1: not a document


class Span:
    """A folder's entries as the listing gives them, noted for the folder cache, and
    what reading them gave (each document and finding is added to the folder whose
    entries listed it, never by its path: a malformed tree may list a path that looks
    like one of a folder's anywhere, and a finding's path may be masked).

    The entries are hashed back into the tree object they would make, and the folder is
    kept only if that is its tree id and no name in it is one git never writes (a `/` in
    it, empty, `.` or `..`)."""

    __slots__ = (
        "body",
        "corrections",
        "count",
        "end_finding",
        "end_slot",
        "experiments",
        "findings",
        "first_finding",
        "first_slot",
        "path",
        "prefix",
        "results",
        "spellings",
        "tree",
    )

    def __init__(self, path: str, tree: str, first_slot: int, first_finding: int) -> None:
        self.path, self.prefix, self.tree = path, path + "/", tree
        self.first_slot, self.first_finding = first_slot, first_finding
        self.end_slot = self.end_finding = self.count = 0
        self.body = bytearray()
        self.findings: list[Finding] = []  # the blobs' (the listing's: first..end_finding)
        self.experiments: list[Experiment] = []
        self.results: list[Result] = []
        self.corrections: list[Correction] = []
        self.spellings: dict[str, str] = {}

    def add(self, path: str, mode: str, sha: str) -> None:
        """One entry of the folder's listing: its path, mode and object id."""
        name = path[len(self.prefix) :]
        if "/" in name or name in ("", ".", ".."):
            self.tree = ""  # never kept
        raw = name.encode("utf-8", "surrogateescape")
        self.body += b"%s %s\0%s" % (mode.encode(), raw, bytes.fromhex(sha))
        self.count += 1

    def is_whole(self) -> bool:
        """Whether the entries noted are exactly those of the folder's tree object."""
        algorithm = hashlib.sha1 if len(self.tree) == 40 else hashlib.sha256
        header = b"tree %d\0" % len(self.body)
        whole = bool(self.tree) and algorithm(header + self.body).hexdigest() == self.tree
        self.body = bytearray()  # (no longer needed)
        return whole


def read_cold(lines: Sequence[str], policy: Policy, scan: bool, id_end: int) -> Iterator[str]:
    """The ids of the blobs a cold audit reads among `lines` (`git ls-tree -r` lines whose
    object ids end at `id_end`), as `TreeReader.classify` chooses them: with every blob
    scanned, all but a link at a document's path (a finding, never read)."""
    if scan and not policy.scan_allow:
        # (git writes every blob's line "<6-digit mode> blob <id>\t<path>")
        return (
            line[12:id_end]
            for line in lines
            if line[6:12] == " blob "
            and (line[:6] != SYMLINK_MODE or policy.kind_of(line[id_end + 1 :]) is None)
        )
    return _read_cold_chosen(lines, policy, scan)


def _read_cold_chosen(lines: Sequence[str], policy: Policy, scan: bool) -> Iterator[str]:
    for entry in map(tree_entry, lines):
        if entry.type != "blob":
            continue
        kind = policy.kind_of(entry.path)
        if kind is not None and entry.mode == SYMLINK_MODE:
            continue
        scanned = scan and not (policy.scan_allow and matches_any(entry.path, policy.scan_allow))
        if kind is not None or scanned:
            yield entry.sha


class TreeReader:
    """The documents and findings of one tree, gathered blob by blob from records
    (cached, or made by `content_record` as the blob arrives)."""

    def __init__(self, policy: Policy, problems: list[Finding]) -> None:
        self.policy = policy
        self.findings: list[Finding] = list(problems)
        self.uses: dict[str, tuple[Use] | list[Use]] = {}
        # The leaves, filled slot by slot as documents arrive (classify sizes them).
        self.leaf_paths: list[str] = []
        self.leaf_digests = bytearray()
        self.width = 52  # digest bytes per leaf: SHA-256, then a SHA-1 (or SHA-256) blob id
        self.in_order = True  # whether git listed the documents in byte order of path
        self.experiments: list[Experiment] = []
        self.results: list[Result] = []
        self.corrections: list[Correction] = []
        self.spellings: dict[str, str] = {}
        # Leaf folders read blob by blob that the folder cache may keep (folders.py), by
        # path, and the folders noted once or more (one noted twice is kept never).
        self.spans: dict[str, Span] = {}
        self.seen: set[str] = set()
        # The noted folder whose entries listed each use not yet consumed, by the use's
        # identity (a use lives until its blob is consumed): never found again by path.
        # Not a field of Use: a fifth one costs ~95 bytes a document in the cold audit
        # (its tuples leave the allocator's pools unreusable: 19 MB at 100k runs).
        self.listed_in: dict[int, Span] = {}

    def classify(
        self,
        records: list[str],
        scan: bool,
        cached: Mapping[str, tuple[str, Folder]] | None = None,
        *,
        note: bool = False,
        taken_blobs: list[str] | None = None,
    ) -> None:
        """What the tree asks of each blob of the listing (`git ls-tree -r` lines, parsed
        here: `records` is emptied once classified, the listing need not stay in
        memory). With folders in the listing (`tree_records(trees=True)`): a folder of
        `cached` (path -> its tree id and Folder) at that tree id is taken whole, its
        lines skipped unparsed; with `note`, each folder that holds no folder is noted
        in `spans` as it is classified, for the folder cache (folders()). The ids of
        the blobs a cold audit reads in the folders taken whole go to `taken_blobs`.
        """
        policy, findings, uses = self.policy, self.findings, self.uses
        cached = cached or {}
        slots, last, in_order = 0, "", True
        taken: list[tuple[int, Folder]] = []
        span: Span | None = None  # the folder being noted
        at, end = 0, len(records)
        if records:  # digest bytes per leaf: SHA-256, then the object id (SHA-1 or SHA-256)
            self.width = 32 + len(tree_entry(records[0]).sha) // 2
        id_end = 12 + (self.width - 32) * 2  # where a blob line's object id ends
        while at < end:
            record = records[at]
            records[at] = ""  # let the line go (a million runs: ~200 MB of lines)
            at += 1
            # Nearly every line is a blob's, "<6-digit mode> blob <id>\t<path>": its
            # fields are sliced at those widths (what tree_entry's split gives such a
            # line); any other line is split.
            if record[6:12] == " blob " and record[id_end : id_end + 1] == "\t":
                path, mode, objtype, sha = (
                    record[id_end + 1 :],
                    record[:6],
                    "blob",
                    record[12:id_end],
                )
            else:
                entry = tree_entry(record)
                path, mode, objtype, sha = entry.path, entry.mode, entry.type, entry.sha
            if span is not None:
                if path.startswith(span.prefix) and objtype != "tree":
                    span.add(path, mode, sha)
                else:  # its end (or a folder inside it: it is no leaf folder)
                    if objtype != "tree" or not path.startswith(span.prefix):
                        self._close(span, slots)
                    else:
                        self.seen.add(span.path)  # (listed again, it is kept never)
                    span = None
            if objtype == "tree":
                hit = cached.get(path)
                if hit is not None and hit[0] == sha:
                    folder = hit[1]
                    if taken_blobs is not None:  # (its blobs are never read)
                        lines = records[at : at + folder.count]
                        taken_blobs.extend(read_cold(lines, policy, scan, id_end))
                    at += folder.count  # its lines: exactly its tree's entries (Span)
                    # Its documents are in this tree's lists: no noted folder may share its path.
                    self.spans.pop(path, None)
                    self.seen.add(path)
                    taken.append((slots, folder))
                    slots += len(folder.paths)
                    for folder_path in folder.paths:
                        in_order = in_order and folder_path.isascii() and last < folder_path
                        last = folder_path
                elif note:
                    span = Span(path, sha, slots, len(findings))
                continue
            kind = policy.kind_of(path)
            if kind is not None and (objtype != "blob" or mode == SYMLINK_MODE):
                what = "a submodule" if objtype == "commit" else "a symbolic link"
                findings.append(
                    Finding(path, Problem.NOT_A_FILE.value, f"is {what}; documents must be files")
                )
                continue
            if objtype != "blob":
                # A submodule's name stays in the history as a file's does (a PIN's digest
                # in it was committed unseen: an attacker's hunt); it has no content here.
                if objtype == "commit" and scan:
                    if not (policy.scan_allow and matches_any(path, policy.scan_allow)):
                        findings.extend(name_findings(path))
                continue
            # A symbolic link's blob is its target string: scanned like a file's content.
            scanned = scan and not (policy.scan_allow and matches_any(path, policy.scan_allow))
            if kind is None and not scanned:
                continue
            if scanned:
                findings.extend(name_findings(path))
            cls = None
            if scanned:  # (an enum's `.value` is a descriptor call: not once per path)
                cls = file_class(path).value if is_code_path(path) else _TEXT
            slot = -1
            if kind is not None:
                slot, slots = slots, slots + 1
                # ASCII strs compare as their bytes: then git's order is kept as it is.
                in_order = in_order and path.isascii() and last < path
                last = path
            use = _new_use(Use, (path, kind, cls, slot))  # (Use(...) without its __new__)
            # Nearly always one path a blob: a 1-tuple (one allocation); a list from the
            # second on, appended to (never a tuple copied per path: k paths of one blob,
            # empty files say, would cost k² in the size of the tree).
            here = uses.get(sha)
            if here is None:
                uses[sha] = (use,)
            elif isinstance(here, list):
                here.append(use)
            else:
                uses[sha] = [*here, use]
            if span is not None:
                self.listed_in[id(use)] = span
        if span is not None:
            self._close(span, slots)
        self.leaf_paths = [""] * slots
        self.leaf_digests = bytearray(slots * self.width)
        self.in_order = in_order
        del records[:]
        width = self.width
        for start, folder in taken:
            self.leaf_paths[start : start + len(folder.paths)] = folder.paths
            self.leaf_digests[start * width : (start + len(folder.paths)) * width] = folder.digests
            findings.extend(folder.findings)
            self.experiments.extend(folder.experiments)
            self.results.extend(folder.results)
            self.corrections.extend(folder.corrections)
            self.spellings.update(folder.spellings)

    def _close(self, span: Span, slots: int) -> None:
        """The end of a noted folder's entries: kept in `spans` if it is worth an entry
        and they are exactly its tree's (see Span); a folder listed twice is kept never."""
        if span.path in self.spans or span.path in self.seen:
            self.spans.pop(span.path, None)
        elif slots - span.first_slot >= MIN_DOCUMENTS and span.is_whole():
            span.end_slot, span.end_finding = slots, len(self.findings)
            self.spans[span.path] = span
        self.seen.add(span.path)

    def folders(self) -> dict[str, tuple[str, Folder]]:
        """What each folder of `spans` gave, once every blob is consumed: by path, its
        tree id and its Folder (for the folder cache)."""
        width, out = self.width, {}
        for path, span in self.spans.items():
            start, end = span.first_slot, span.end_slot
            listed = self.findings[span.first_finding : span.end_finding]
            out[path] = (
                span.tree,
                Folder(
                    span.count,
                    self.leaf_paths[start:end],
                    bytes(self.leaf_digests[start * width : end * width]),
                    listed + span.findings,
                    span.experiments,
                    span.results,
                    span.corrections,
                    span.spellings,
                ),
            )
        return out

    def needs(self, sha: str) -> tuple[Collection[Kind], Collection[str]]:
        """Every question the tree asks of a blob: its document kinds, its scan classes."""
        here = self.uses[sha]
        kinds = [u.kind for u in here if u.kind is not None]
        classes = [u.scan_class for u in here if u.scan_class is not None]
        if len(here) == 1:  # nearly always: one path per blob
            return kinds, classes
        return list(dict.fromkeys(kinds)), set(classes)

    def reads_document(self, sha: str) -> bool:
        """Whether a path reads this blob (not yet consumed) as a document."""
        return any(use.kind is not None for use in self.uses[sha])

    def consume(self, sha: str, record: BlobRecord, *, made: bool = False) -> None:
        """Findings and documents of every path that holds this blob; the record is dropped.
        `made`: the record was just made by `content_record`, not read from a cache, so
        the numbers and spellings it holds are not checked again (~3 µs a result of the
        parent's critical path in a cold audit)."""
        findings = self.findings
        digests = b""
        uses = self.uses[sha]
        # Where each use's findings and documents begin (they are added in use order),
        # for the folders that listed them (only with the folder cache).
        listed_in = self.listed_in
        noted = bool(listed_in) and any(id(use) in listed_in for use in uses)
        marks: list[tuple[int, int, int, int]] = []
        for use in uses:
            if noted:
                marks.append(self._ends())
            path = use.path
            if use.scan_class is not None and (found := rows(record["s"][use.scan_class])):
                findings.extend(listed(found, functools.partial(row_finding, shown_path(path))))
            if use.kind is None:
                continue
            if not digests:
                digests = digests_of(sha, record["h"])
                if len(digests) != self.width:
                    raise ValueError("a blob id of another length")
            start = use.slot * self.width
            self.leaf_paths[use.slot] = path
            self.leaf_digests[start : start + self.width] = digests
            outcome = outcome_of(record, use.kind)
            if "doc" not in outcome:
                findings.extend(row_finding(path, row) for row in rows(outcome["bad"]))
                continue
            if use.kind is Kind.CORRECTION:
                self.corrections.append(correction_from_record(path, outcome["doc"]))
                continue
            # finish_document's checks, with the registry's answer taken from the record.
            # What later checks compute with must have its type (an edited record: a miss).
            raw = outcome["doc"]
            doc: Experiment | Result
            if use.kind is Kind.EXPERIMENT:
                if type(raw["params"]) is not dict:
                    raise TypeError("params must be an object")
                doc = Experiment.from_json(path, raw)
                problems = [] if _named(path, doc.id) else stem_findings(doc)
            else:
                # What the registry accepted is reported and charted: its numbers are
                # under 2**53 (a forged record's are a miss); the rest only finite.
                registry = rows(outcome["reg"])
                if not made:
                    bound = FINITE if registry else REPORTED
                    numbers(raw["metrics"], bound)
                    for split in as_dict(raw.get("splits", {})).values():
                        numbers(split, bound)
                doc = Result.from_json(path, raw)
                spellings = outcome.get("sp") if made else spelled(outcome.get("sp"))
                problems = [row_finding(path, row) for row in registry]
                if not _named(path, doc.experiment):
                    problems += stem_findings(doc)
            if problems:
                findings.extend(problems)
            elif isinstance(doc, Experiment):
                self.experiments.append(doc)
            else:
                self.results.append(doc)
                # Only an accepted result's: the report finds them by the run's path, and
                # a refused document at the same path must not lend it its numbers.
                if spellings is not None:
                    self.spellings[path] = spellings
        if noted:
            marks.append(self._ends())
            for use, begin, finish in zip(uses, marks, marks[1:], strict=False):
                if (folder := listed_in.pop(id(use), None)) is not None:
                    self._note(folder, use.path, begin, finish)
        del self.uses[sha]

    def _ends(self) -> tuple[int, int, int, int]:
        return len(self.findings), len(self.experiments), len(self.results), len(self.corrections)

    def _note(
        self,
        folder: Span,
        path: str,
        start: tuple[int, int, int, int],
        end: tuple[int, int, int, int],
    ) -> None:
        """Add what one use of a blob gave (between `start` and `end`) to its folder."""
        folder.findings += self.findings[start[0] : end[0]]
        folder.experiments += self.experiments[start[1] : end[1]]
        folder.results += self.results[start[2] : end[2]]
        folder.corrections += self.corrections[start[3] : end[3]]
        if end[2] > start[2] and path in self.spellings:  # (an accepted result's)
            folder.spellings[path] = self.spellings[path]

    def consume_cached(self, sha: str, record: Any) -> bool:
        """Consume a cached record; one that lacks the shape `content_record` writes
        (an edited shard whose digest was recomputed) changes nothing and is a miss.

        Its shard passed the header and digest checks (cache.py), so its parts have the
        shapes `content_record` wrote, unless it was edited after its digest was
        recomputed: `consume` reads every part a use of the blob needs, and raises on
        one that is missing, or of another type where later checks compute with it
        (finding rows, params, metrics, splits). Other edits are believed (decisions.md).
        """
        if record is None:
            return False
        # (Leaves it wrote are written again when the blob is checked.)
        marks = (
            len(self.findings),
            len(self.experiments),
            len(self.results),
            len(self.corrections),
        )
        try:
            self.consume(sha, record)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError):
            del self.findings[marks[0] :], self.experiments[marks[1] :]
            del self.results[marks[2] :], self.corrections[marks[3] :]
            for use in self.uses.get(sha, ()):
                self.spellings.pop(use.path, None)
            return False
        return True
