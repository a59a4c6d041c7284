"""A run's identity, shared by the `protect` hook and the history audit (`--since`).

A result is the result of its experiment id (its file stem, which a valid result's
`experiment` must equal), not of its path: moving it keeps it, a second file for the
same id is a second result. A finished run is frozen: once its result is committed,
the fields of its record that decide what the run *was* may not change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from expflow_git.documents import number_key, stem
from expflow_git.gitstore import REGULAR_MODES as REGULAR_MODES  # (re-exported)
from expflow_git.gitstore import Change, TreeEntry
from expflow_git.jsonstrict import JsonProblem, parse_json
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind

# What the run was: which experiment, in which study, with which parameters and seed,
# and that it finished. Title, tags, created_at, provenance and any other field stay
# editable: they describe a run or select it (`rank --tag`), no gate or rule reads them.
FROZEN_FIELDS = ("id", "study", "params", "seed", "status")


_ABSENT = ("absent",)
_WILDCARD = re.compile(r"[*?\[]")
Frozen = tuple[Any, ...]  # one normalised value per FROZEN_FIELDS entry


def literal_prefix(glob: str) -> str:
    """The directory part of a glob before its first wildcard (git pathspecs are literal here)."""
    glob = glob.removeprefix("./").lstrip("/")
    head = _WILDCARD.split(glob, maxsplit=1)[0]
    return head[: head.rfind("/") + 1] if "/" in head else ""


def _norm(value: Any) -> Any:
    """A JSON value as an equality key: key order and 5 vs 5.0 do not matter,
    a boolean is never a number, a string never a number. A number is the decimal it
    is written as (docs/spec.md §2.3), as the rules compare it: `1e23` is
    `100000000000000000000000`, not `99999999999999991611392`, the int its double
    equals (Python compares an int with a float's binary value: a frozen param
    rewritten from the one to the other, which flips a rule `ge: 1e23`, was no change;
    an attacker's hunt, issue 18 thirty-eighth pass). Only a float past 2**53 can be
    another decimal than an int it equals."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("num", number_key(value))
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list):
        return ("arr", tuple(_norm(v) for v in value))
    if isinstance(value, dict):
        return ("obj", tuple(sorted((k, _norm(v)) for k, v in value.items())))
    return ("other", repr(value))


def normalised(value: Any) -> Any:
    """A JSON value as an equality key (see `_norm`): a run's params, for the budget."""
    return _norm(value)


def frozen_view(data: bytes | None) -> Frozen | None:
    """The frozen fields of a record's bytes, or None if they are not a JSON object."""
    if data is None:
        return None
    try:
        doc = parse_json(data)
    except JsonProblem:
        return None
    return tuple(_norm(doc[k]) if k in doc else _ABSENT for k in FROZEN_FIELDS)


def changed_fields(old: Frozen | None, new: Frozen | None) -> list[str]:
    """The frozen fields that differ; every one when `new` cannot be read. A record
    that could not be read before froze nothing."""
    if old is None:
        return []
    if new is None:
        return list(FROZEN_FIELDS)
    return [name for name, a, b in zip(FROZEN_FIELDS, old, new, strict=True) if a != b]


@dataclass(frozen=True)
class DocumentGlobs:
    """Documents by the globs of several policies at once (a path is a result or a
    record if any of them says so), so a change to `paths` cannot hide a document."""

    policies: tuple[Policy, ...]

    def is_result(self, path: str) -> bool:
        return any(p.kind_of(path) is Kind.RESULT for p in self.policies)

    def is_record(self, path: str) -> bool:
        return any(p.kind_of(path) is Kind.EXPERIMENT for p in self.policies)

    def is_correction(self, path: str) -> bool:
        """A correction (corrections.py) by any of the policies' own globs, whatever
        another policy calls its path: a pull request's `paths` taking BASE's
        corrections in as records or results does not unmake them."""
        return any(p.kind_of(path) is Kind.CORRECTION for p in self.policies)

    def results_held(self, listing: Iterable[TreeEntry], ids: set[str]) -> set[str]:
        """Which of `ids` a tree listing (`git ls-tree`) holds a result of: a file these
        globs call one (a link or submodule at a result's path is none)."""
        return {
            stem(e.path)
            for e in listing
            if stem(e.path) in ids
            and e.type == "blob"
            and e.mode in REGULAR_MODES
            and self.is_result(e.path)
        }

    def prefixes(self, *, corrections_only: bool = False) -> list[str]:
        """Literal directories that hold every document, or every correction (for a `git
        ls-tree` or `git log` path filter); empty when a glob starts with a wildcard."""
        heads = {
            literal_prefix(g)
            for p in self.policies
            for g in (
                p.correction_globs
                if corrections_only
                else (*p.result_globs, *p.experiment_globs, *p.correction_globs)
            )
        }
        return [] if "" in heads else sorted(h.rstrip("/") for h in heads)

    @classmethod
    def of(cls, *policies: Policy | None) -> DocumentGlobs:
        """The distinct policies given (None: a side without a usable policy)."""
        seen: dict[str, Policy] = {}
        for policy in policies:
            if policy is not None:
                seen.setdefault(policy.sha256, policy)
        return cls(tuple(seen.values()))


@dataclass(frozen=True)
class ResultRewrite:
    """A committed result that a change set rewrites: `change` is the old path's
    change; `replacement` a different blob added for the same id elsewhere."""

    experiment: str
    change: Change
    replacement: Change | None = None

    @property
    def verb(self) -> str:
        if self.change.status != "D":
            return "changed"
        return "deleted" if self.replacement is None else f"replaced by {self.replacement.path}"

    @property
    def new_sha(self) -> str | None:
        if self.change.status != "D":
            return self.change.new_sha
        return None if self.replacement is None else self.replacement.new_sha


def result_rewrites(
    changes: Sequence[Change], globs: DocumentGlobs, targets: DocumentGlobs | None = None
) -> list[ResultRewrite]:
    """The results one change set (a commit, or the index against HEAD) rewrites.

    A modified or retyped result is rewritten (its executable bit alone changed is not:
    the same bytes). A deleted one is rewritten unless the same blob is added for the
    same experiment at another result path (a move): one `targets` read as a result (by
    default `globs`; the hook's, the staged policy's alone: a result moved where only
    HEAD's glob reads it drops out of the commit's audit).
    """
    targets = targets or globs
    # Per id, the first result added (a deleted one's replacement) and the set of blobs
    # added: a commit moving k results of one id is then k look-ups, not k² comparisons.
    first_added: dict[str, Change] = {}
    added_blobs: dict[str, set[str | None]] = {}
    for change in changes:
        if change.status == "A" and _is_result_file(change, targets):
            first_added.setdefault(stem(change.path), change)
            added_blobs.setdefault(stem(change.path), set()).add(change.new_sha)
    out = []
    for change in changes:
        if change.status not in ("M", "D", "T") or not globs.is_result(change.path):
            continue
        exp_id = stem(change.path)
        if change.status != "D":
            # The executable bit alone (`chmod +x`): the same bytes, no rewrite.
            same = change.old_sha == change.new_sha and change.old_mode in REGULAR_MODES
            if not (same and change.new_mode in REGULAR_MODES):
                out.append(ResultRewrite(exp_id, change))
            continue
        if change.old_sha in added_blobs.get(exp_id, ()):
            continue  # moved, byte for byte
        out.append(ResultRewrite(exp_id, change, first_added.get(exp_id)))
    return out


def _is_result_file(change: Change, globs: DocumentGlobs) -> bool:
    return change.new_mode in REGULAR_MODES and globs.is_result(change.path)


@dataclass(frozen=True)
class RecordEdit:
    """A record's new side for an id whose run may be frozen: the blob it replaces
    (`old_sha`, None if this change set removed no record of that id) and its own."""

    experiment: str
    change: Change
    old_sha: str | None


def record_edits(changes: Iterable[Change], globs: DocumentGlobs) -> list[RecordEdit]:
    """Records a change set writes (added, modified, retyped), each paired with the
    record of the same id it removes or modifies, if any (a move with an edit)."""
    changes = list(changes)
    removed: dict[str, str] = {}
    for change in changes:
        if change.status in ("D", "M", "T") and globs.is_record(change.path):
            if (old := _file_blob(change)) is not None:
                removed.setdefault(stem(change.path), old)
    out = []
    for change in changes:
        if change.status in ("A", "M", "T") and globs.is_record(change.path):
            exp_id = stem(change.path)
            old = _file_blob(change) if change.status != "A" else removed.get(exp_id)
            out.append(RecordEdit(exp_id, change, old))
    return out


def _file_blob(change: Change) -> str | None:
    """The old side's blob if it was a file (a symlink or submodule froze nothing)."""
    return change.old_sha if change.old_mode in REGULAR_MODES else None


def readable_new(edit: RecordEdit) -> bool:
    """Whether the new side is a file whose bytes are worth reading (else: unreadable)."""
    return edit.change.new_mode in REGULAR_MODES and edit.change.new_sha is not None


def frozen_message(fields: Sequence[str], exp_id: str) -> str:
    """How a record-rewritten finding names what changed."""
    what = ", ".join(fields)
    return f"changes {what} of experiment {exp_id!r}, whose result is committed"
