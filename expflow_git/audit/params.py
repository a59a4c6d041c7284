"""The params that differ between the top runs of a leaderboard (issue 16): what a
reader of a scorecard wants to know first is what made the difference.

The audit keeps only the params its rules read (audit/record.py), so the few top
runs' records are read again, whole, from their blobs.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from expflow_git.audit.leaves import Leaves
from expflow_git.audit.ranking import Leaderboard
from expflow_git.documents import Experiment, Scalar, same_scalar
from expflow_git.gitblobs import BlobReader
from expflow_git.jsonstrict import parse_json
from expflow_git.pinscan.scanner import flagged

TOP_RUNS = 5  # the leaderboard's first rows compared (best_any joins them when below)

# JCS (the report's canonical JSON) holds integers below 2**53 (2**53 itself is refused).
_JCS_INT = 2**53


def _value(value: Scalar) -> Scalar:
    """A param value as the report can hold it: an integer of 2**53 or more as its digits
    (2**53 itself was a traceback writing the report: a hunt, issue 18 twenty-fourth
    pass)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _JCS_INT:
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < _JCS_INT:
        return int(value)  # as the report spells metrics (canonical.json_number)
    return value


@dataclass(frozen=True, slots=True)
class TopParams:
    """The top runs (leaderboard order) and, per param that is not the same in all of
    them, each run's value (a run without the param is left out of its mapping)."""

    runs: tuple[str, ...]
    differ: Mapping[str, Mapping[str, Scalar]]  # param → run id → value
    same: int  # params every top run has with one value

    def entry(self) -> dict[str, Any]:
        """The report entry (without seq, prev and hash)."""
        return {
            "type": "params",
            "runs": list(self.runs),
            "differ": {name: dict(values) for name, values in self.differ.items()},
            "same": self.same,
        }

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> TopParams:
        """From a report entry that passed the report schema."""
        return cls(tuple(entry["runs"]), entry["differ"], int(entry["same"]))


def top_params(
    reader: BlobReader,
    board: Leaderboard,
    experiments: Iterable[Experiment],
    inputs: Leaves,
) -> TopParams | None:
    """The params that differ between the board's first TOP_RUNS runs (and best_any),
    read from their records' blobs (found among the audit's `inputs`) through the
    audit's `reader`; None with fewer than two runs (nothing to compare)."""
    ids = [r.verdict.id for r in board.runs[:TOP_RUNS]]
    if board.best_any is not None and board.best_any not in ids:
        ids.append(board.best_any)
    if len(ids) < 2:
        return None
    wanted = set(ids)
    # Ranked runs have one record each (pair_runs leaves doubled ids out).
    paths = {e.id: e.path for e in experiments if e.id in wanted}
    wanted_paths = set(paths.values())
    blobs = inputs.blobs(wanted_paths)
    shas = {run_id: blobs[path] for run_id, path in paths.items()}
    # These blobs passed the audit's strict parse and schema: they parse again. What the
    # scan flags in any of these records is masked where the report shows params.
    docs, spans = {}, set()
    for sha, data in reader.read_many(sorted(set(shas.values()))):
        docs[sha] = parse_json(data)
        spans |= flagged(data.decode("utf-8", "replace"))
    return compare(ids, [docs[shas[i]]["params"] for i in ids], spans)


def compare(
    ids: Sequence[str], params: Sequence[Mapping[str, Scalar]], spans: Collection[str] = ()
) -> TopParams:
    """Which params differ between the runs `ids` (each with its `params`). A name or a
    value holding one of `spans` (what the scan flags in the runs' records, any run's:
    a value one record flags is masked in every row) is `****`: the scorecard and the
    report printed a PIN (under `pin`, flagged by what stands around it, or spelled with
    escapes) and a PIN's digest as a name that the same page's finding showed masked (an
    attacker's hunt, two reviews)."""
    names = sorted(set().union(*params))
    differ: dict[str, dict[str, Scalar]] = {}
    same = 0
    for name in names:
        values = [(i, p[name]) for i, p in zip(ids, params, strict=True) if name in p]
        first = values[0][1]
        if len(values) == len(ids) and all(same_scalar(v, first) for _, v in values):
            same += 1
        else:
            shown = "****" if _holds(name, spans) else name
            differ.setdefault(
                shown, {i: "****" if _holds(v, spans) else _value(v) for i, v in values}
            )
    return TopParams(tuple(ids), differ, same)


def _holds(value: Scalar, spans: Collection[str]) -> bool:
    """Whether a name or value holds a flagged span, as its record spells it (or bare)."""
    if not spans:
        return False
    texts = (json.dumps(value, ensure_ascii=False), str(value))
    return any(span in text for span in spans for text in texts)
