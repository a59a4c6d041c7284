"""The series of the top runs of an audit, read again for the scorecard's learning
curves (render/curves.py). The audit keeps no series (audit/record.py), and a report
holds none (each result's digest is among its inputs): a few blobs are read once more,
only when a scorecard is drawn."""

from __future__ import annotations

from itertools import islice, takewhile

from expflow_git.audit.pipeline import Audit
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Git
from expflow_git.jsonstrict import JsonProblem, parse_json
from expflow_git.series import RunSeries

MAX_CURVE_RUNS = 5
# How many ranked runs, best first, are looked at for series: a board whose runs have
# none would otherwise have every result blob read again (100k at 100k runs).
MAX_CURVE_SCAN = 1000


def top_series(
    git: Git, audit: Audit, limit: int = MAX_CURVE_RUNS, scan: int = MAX_CURVE_SCAN
) -> tuple[RunSeries, ...]:
    """The series of the first `limit` ranked runs that have any, in leaderboard order,
    among the first `scan` ranked runs. Their blobs are read in batches (`limit` runs,
    then twice as many each time) until `limit` runs with series are found: runs
    without series took the slots of the first `limit` ranked ones (a hunt, issue 18
    twenty-fifth pass)."""
    ranked = takewhile(lambda run: run.rank is not None, audit.board.runs)  # ranked first
    verdicts = islice((run.verdict for run in ranked), scan)
    out: list[RunSeries] = []
    size = max(limit, 1)
    with BlobReader(git) as reader:
        while len(out) < limit and (batch := list(islice(verdicts, size))):
            blobs = audit.check.inputs.blobs({v.path for v in batch})
            data = dict(reader.read_many(sorted({blobs[v.path] for v in batch if v.path in blobs})))
            for v in batch:
                sha = blobs.get(v.path)
                series = _series(data[sha]) if sha is not None else None
                if series:
                    out.append(RunSeries(v.id, series))
                    if len(out) == limit:
                        break
            size *= 2
    return tuple(out)


def _series(data: bytes) -> dict[str, list[list[float]]] | None:
    """A checked result's series (it passed the audit: only the shape is re-read)."""
    try:
        doc = parse_json(data)
    except JsonProblem:
        return None
    series = doc.get("series") if isinstance(doc, dict) else None
    return series if isinstance(series, dict) else None
