"""What one tree holds, gathered blob by blob: the audit's classification of every
path (which blobs are documents of which kind, which are scanned) and what each
blob's record decides for every path that holds it (findings, documents, leaves).

A record comes from the cache (`consume_cached`) or is made as the blob is checked
(`consume`): pipeline.py decides which.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from expflow_git.audit.leaves import digests_of
from expflow_git.audit.record import (
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
from expflow_git.gitstore import TreeEntry
from expflow_git.globs import matches_any
from expflow_git.pinscan.scanner import FileClass, file_class, is_code_path, name_findings
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind

SYMLINK_MODE = "120000"
_TEXT = FileClass.TEXT.value


class Use(NamedTuple):
    """One path of the tree that holds a blob, classified once."""

    path: str
    kind: Kind | None
    scan_class: str | None  # None: not scanned (scan off, or the policy's scan.allow)
    slot: int  # a document's leaf (its rank in path order); -1: not a document


class TreeReader:
    """The documents and findings of one tree, gathered blob by blob from records
    (cached, or made by `content_record` as the blob arrives)."""

    def __init__(self, policy: Policy, problems: list[Finding]) -> None:
        self.policy = policy
        self.findings: list[Finding] = list(problems)
        self.uses: dict[str, list[Use]] = {}
        # The leaves, filled slot by slot as documents arrive (classify sizes them).
        self.leaf_paths: list[str] = []
        self.leaf_digests = bytearray()
        self.width = 52  # digest bytes per leaf: SHA-256, then a SHA-1 (or SHA-256) blob id
        self.in_order = True  # whether git listed the documents in byte order of path
        self.experiments: list[Experiment] = []
        self.results: list[Result] = []
        self.corrections: list[Correction] = []
        self.spellings: dict[str, str] = {}

    def classify(self, entries: list[TreeEntry], scan: bool) -> None:
        """What the tree asks of each blob; `entries` is emptied once classified (the
        listing need not stay in memory)."""
        policy, findings, uses = self.policy, self.findings, self.uses
        slots, last, in_order = 0, "", True
        for entry in entries:
            kind = policy.kind_of(entry.path)
            if kind is not None and (entry.type != "blob" or entry.mode == SYMLINK_MODE):
                what = "a submodule" if entry.type == "commit" else "a symbolic link"
                findings.append(
                    Finding(
                        entry.path, Problem.NOT_A_FILE.value, f"is {what}; documents must be files"
                    )
                )
                continue
            if entry.type != "blob":
                continue
            # A symbolic link's blob is its target string: scanned like a file's content.
            scanned = scan and not (
                policy.scan_allow and matches_any(entry.path, policy.scan_allow)
            )
            if kind is None and not scanned:
                continue
            if scanned:
                findings.extend(name_findings(entry.path))
            cls = None
            if scanned:  # (an enum's `.value` is a descriptor call: not once per path)
                cls = file_class(entry.path).value if is_code_path(entry.path) else _TEXT
            slot = -1
            if kind is not None:
                slot, slots = slots, slots + 1
                # ASCII strs compare as their bytes: then git's order is kept as it is.
                in_order = in_order and entry.path.isascii() and last < entry.path
                last = entry.path
            uses.setdefault(entry.sha, []).append(Use(entry.path, kind, cls, slot))
        if entries:
            self.width = 32 + len(entries[0].sha) // 2
        self.leaf_paths = [""] * slots
        self.leaf_digests = bytearray(slots * self.width)
        self.in_order = in_order
        del entries[:]

    def needs(self, sha: str) -> tuple[Collection[Kind], Collection[str]]:
        """Every question the tree asks of a blob: its document kinds, its scan classes."""
        here = self.uses[sha]
        kinds = [u.kind for u in here if u.kind is not None]
        classes = [u.scan_class for u in here if u.scan_class is not None]
        if len(here) == 1:  # nearly always: one path per blob
            return kinds, classes
        return list(dict.fromkeys(kinds)), set(classes)

    def consume(self, sha: str, record: BlobRecord) -> None:
        """Findings and documents of every path that holds this blob; the record is dropped."""
        findings = self.findings
        digests = b""
        for use in self.uses[sha]:
            path = use.path
            if use.scan_class is not None and (found := rows(record["s"][use.scan_class])):
                findings.extend(row_finding(path, row) for row in found)
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
                problems = stem_findings(doc)
            else:
                numbers(raw["metrics"])
                for split in as_dict(raw.get("splits", {})).values():
                    numbers(split)
                doc = Result.from_json(path, raw)
                if (spellings := spelled(outcome.get("sp"))) is not None:
                    self.spellings[path] = spellings
                problems = [row_finding(path, row) for row in rows(outcome["reg"])]
                problems += stem_findings(doc)
            if problems:
                findings.extend(problems)
            elif isinstance(doc, Experiment):
                self.experiments.append(doc)
            else:
                self.results.append(doc)
        del self.uses[sha]

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
