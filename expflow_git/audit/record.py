"""A blob's record in the audit's cache (cache.py stores it per blob and policy): what
the blob's bytes decide, so that an unchanged blob is never parsed, checked or scanned
twice. Its on-disk form is JSON with short keys, as every record of a large repository
repeats them:

    {"h": SHA-256 of the bytes,
     "s": {file class: [finding row, ...]},     the PIN scan, per pinscan FileClass value
     "e" | "r" | "k": document outcome}         per kind the blob is read as
                                                (experiment, result, correction)

    document outcome: {"doc": the parsed document, slimmed to what the audit reads,
                       "reg": [finding row, ...] (a result's registry findings),
                       "sp": the result's number spellings (spelling.spell_run)}
                   or {"bad": [finding row, ...]}   (the document's own findings)
    finding row: [rule, message, pointer, line, col]   (the path is the reader's)

The types below name that form; the readers check each part they use, as a record may
have been edited on disk (a part of another type is a cache miss, see pipeline.py).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection
from dataclasses import replace
from sys import intern
from typing import Any, TypedDict

from expflow_git.checks import check_content, registry_findings
from expflow_git.documents import Result
from expflow_git.errors import Finding
from expflow_git.pinscan.scanner import FileClass, scan_content
from expflow_git.policy.model import NUMBER_TYPES, Policy, param_key
from expflow_git.schemas import Kind
from expflow_git.spelling import SPELLING, spell_run

FindingRow = list[Any]  # [rule, message, pointer, line, col]


class DocumentOutcome(TypedDict, total=False):
    """What a blob decides as one kind of document (see the module's docstring)."""

    doc: dict[str, Any]
    reg: list[FindingRow]
    sp: str
    bad: list[FindingRow]


class BlobRecord(TypedDict, total=False):
    """A blob's record (see the module's docstring)."""

    h: str  # SHA-256 of the bytes, hex
    s: dict[str, list[FindingRow]]  # the PIN scan's findings per file class
    e: DocumentOutcome  # read as an experiment record
    r: DocumentOutcome  # read as a result
    k: DocumentOutcome  # read as a correction (kept whole: a few small documents)


def outcome_of(record: BlobRecord, kind: Kind) -> DocumentOutcome:
    """The record's outcome for one document kind (KeyError when it has none)."""
    if kind is Kind.EXPERIMENT:
        return record["e"]
    return record["r"] if kind is Kind.RESULT else record["k"]


def set_outcome(record: BlobRecord, kind: Kind, outcome: DocumentOutcome) -> None:
    """Keep a document kind's outcome in the record."""
    if kind is Kind.EXPERIMENT:
        record["e"] = outcome
    elif kind is Kind.RESULT:
        record["r"] = outcome
    else:
        record["k"] = outcome


def finding_row(f: Finding) -> FindingRow:
    """A finding as a record keeps it (without its path)."""
    return [f.rule, f.message, f.pointer, f.line, f.col]


def row_finding(path: str, row: FindingRow, *, masked: bool = False) -> Finding:
    """A record's finding row at `path`; TypeError for a row of another shape.
    `masked`: the row is a Finding's own, masked when it was made (the folder cache's):
    it is kept as it is (Finding.kept), as masking again may change it."""
    rule, message, pointer, line, col = row
    if not (type(rule) is type(message) is type(pointer) is str) or not (
        _is_position(line) and _is_position(col)
    ):
        raise TypeError("a finding row of another shape")
    if masked:
        return Finding.kept(path, rule, message, pointer, line, col)
    return Finding(path, rule, message, pointer, line, col)


def _is_position(value: Any) -> bool:
    return value is None or type(value) is int


def rows(value: Any) -> list[FindingRow]:
    """A record's list of finding rows; TypeError for anything else."""
    if type(value) is not list:
        raise TypeError("findings must be a list")
    return value


# A bound on a number's magnitude: the strict reader's (no NaN, no infinity; an integer
# of any size under Python's digit limit, as the shard's own json read it), and the one
# an accepted result's numbers are under (checks.registry_findings refuses the rest: JCS,
# the report's canonical JSON, holds no integer past 2**53).
FINITE = math.inf
REPORTED = float(2**53)


def numbers(values: Any, bound: float = FINITE) -> None:
    """TypeError unless `values` is an object of numbers below `bound` in magnitude
    (ranking, gates, charts and the report compute with them). A record edited to hold
    NaN, ±Infinity or an integer of 400 digits (its digest recomputed) crashed `audit
    --html` in the chart's JCS spelling (a user's hunt, issue 18 twenty-third pass)."""
    if type(values) is not dict or not NUMBER_TYPES.issuperset(map(type, values.values())):
        raise TypeError("an object of numbers was expected")
    # In C: `bound > abs(v)` is False for NaN, compares a float with an int exactly
    # (never converts the int: 10**400 is not an OverflowError).
    if not all(map(bound.__gt__, map(abs, values.values()))):
        raise TypeError("a number the strict reader or the registry refuses")


def spelled(value: Any) -> str | None:
    """A record's number spellings (`spell_run`); TypeError unless they are what
    `spell_run` could have written (they are copied into the report as they are)."""
    if value is None or (type(value) is str and SPELLING.fullmatch(value)):
        return value
    raise TypeError("spellings of numbers were expected")


def as_dict(value: Any) -> dict[Any, Any]:
    """`value` if it is an object; TypeError for anything else."""
    if type(value) is not dict:
        raise TypeError("an object was expected")
    return value


# The fields the audit reads of a document (Experiment.from_json and Result.from_json
# read no others; an experiment's title and seed are not audited; its reason is shown).
_READ_FIELDS = {
    Kind.EXPERIMENT: ("id", "study", "status", "params", "tags", "reason"),
    Kind.RESULT: ("experiment", "metrics", "splits"),
}


def ruled_by(policy: Policy, param: str) -> bool:
    """Whether one of the policy's rules reads this record parameter (the others are
    not kept: an audit of 100k runs needs only these)."""
    return param_key(param) in policy.rule_keys


def content_record(
    data: bytes, kinds: Collection[Kind], scan_classes: Collection[str], policy: Policy
) -> BlobRecord:
    """What a blob's bytes decide under one policy: sha256, the PIN scan per file class
    (`t` text, `c` code), and per document kind the parsed document (with a result's
    registry findings, path left out) or the document's findings."""
    scans: dict[str, list[FindingRow]] = {}
    record: BlobRecord = {"h": hashlib.sha256(data).hexdigest(), "s": scans}
    for cls in scan_classes:
        found = scan_content(data, FileClass(cls))  # (a blob of any size)
        scans[cls] = [finding_row(f) for f in found]
    for kind in kinds:
        content = check_content(kind, data)
        if isinstance(content, list):
            set_outcome(record, kind, {"bad": [finding_row(f) for f in content]})
            continue
        if kind is Kind.CORRECTION:  # a few small documents: kept whole
            set_outcome(record, kind, {"doc": content})
            continue
        # Only what the audit reads again: keeps the cache small and quick to load.
        # The keys recur in every document of a repository: one copy of each.
        slim = {k: content[k] for k in _READ_FIELDS[kind] if k in content}
        outcome: DocumentOutcome = {"doc": slim}
        if kind is Kind.EXPERIMENT:
            slim["params"] = {
                intern(k): v for k, v in content["params"].items() if ruled_by(policy, k)
            }
        else:
            slim["metrics"] = {intern(k): v for k, v in slim["metrics"].items()}
            if "splits" in slim:
                slim["splits"] = {
                    intern(name): {intern(k): v for k, v in split.items()}
                    for name, split in slim["splits"].items()
                }
            result = Result.from_json("", slim)
            # The series are checked here and never kept: a run's Result holds none, so
            # an audit's memory does not grow with curve lengths.
            checked = replace(result, series=content["series"]) if "series" in content else result
            reg = registry_findings(checked, policy, data)
            outcome["reg"] = [finding_row(f) for f in reg]
            # The report spells these numbers again on every audit: keep the spelling
            # (only of a valid result: the registry refuses what JCS cannot hold).
            if not outcome["reg"] and (spellings := spell_run(result.metrics, result.splits)):
                outcome["sp"] = spellings
        set_outcome(record, kind, outcome)
    return record
