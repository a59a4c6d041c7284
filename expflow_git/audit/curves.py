"""The series of the top runs of an audit, read again for the scorecard's learning
curves (render/curves.py). The audit keeps no series (audit/record.py), and a report
holds none (each result's digest is among its inputs): a few blobs are read once more,
only when a scorecard is drawn."""

from __future__ import annotations

from expflow_git.audit.pipeline import Audit
from expflow_git.checks import RunVerdict
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Git
from expflow_git.jsonstrict import JsonProblem, parse_json
from expflow_git.series import RunSeries

MAX_CURVE_RUNS = 5


def top_series(git: Git, audit: Audit, limit: int = MAX_CURVE_RUNS) -> tuple[RunSeries, ...]:
    """The series of the first `limit` ranked runs that have any, in leaderboard order."""
    ranked: list[RunVerdict] = []
    for run in audit.board.runs:  # ranked runs come first
        if run.rank is None or len(ranked) == limit:
            break
        ranked.append(run.verdict)
    paths = {v.path for v in ranked}
    blobs = audit.check.inputs.blobs(paths)
    wanted = [blobs[v.path] for v in ranked if v.path in blobs]
    with BlobReader(git) as reader:
        data = dict(reader.read_many(sorted(set(wanted))))
    out = []
    for v in ranked:
        sha = blobs.get(v.path)
        series = _series(data[sha]) if sha is not None else None
        if series:
            out.append(RunSeries(v.id, series))
    return tuple(out)


def _series(data: bytes) -> dict[str, list[list[float]]] | None:
    """A checked result's series (it passed the audit: only the shape is re-read)."""
    try:
        doc = parse_json(data)
    except JsonProblem:
        return None
    series = doc.get("series") if isinstance(doc, dict) else None
    return series if isinstance(series, dict) else None
