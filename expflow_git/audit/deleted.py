"""Runs deleted on record that come back under their id (docs/spec.md §2.4, §6.2 item 7).

`rm` of a run with a committed result writes a correction with `blob: null`, and no
chain of corrections leads on from a deletion. The protect hook refuses a run brought
back; `audit --since` saw it only when the deletion was in the range. A later pull
request, whose BASE already holds the deletion, brought the run back with a new result
and new params, and its audit passed (an attacker's hunt). So the audited tree itself
is checked, with or without `--since`:

- a valid result of such a run must be a blob the run's corrections name (one it had,
  put back), else `result-rewritten`;
- its record must hold the frozen fields it had just before the commit that added the
  deleting correction, else `record-rewritten` (read from history: where the history
  is not there, a shallow clone, nothing is compared).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from expflow_git.checks import Problem
from expflow_git.documents import Experiment, stem
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Git
from expflow_git.identity import (
    REGULAR_MODES,
    DocumentGlobs,
    changed_fields,
    frozen_view,
)
from expflow_git.policy.model import Policy

if TYPE_CHECKING:
    from expflow_git.audit.pipeline import TreeCheck

RULE = Problem.RESULT_REWRITTEN.value
RECORD_RULE = Problem.RECORD_REWRITTEN.value


def deleted_runs_back(git: Git, check: TreeCheck, reported: set[str]) -> list[Finding]:
    """Findings for the runs of the audited tree a correction there deletes; `reported`:
    paths the history walk (`--since`) already reported."""
    deleted: dict[str, str] = {}  # experiment -> the first correction (by path) deleting it
    had: dict[str, set[str | None]] = {}  # experiment -> every blob its corrections name
    for c in sorted(check.corrections, key=lambda c: c.path):
        had.setdefault(c.experiment, set()).update((c.supersedes, c.blob))
        if c.blob is None:
            deleted.setdefault(c.experiment, c.path)
    if not deleted:
        return []
    candidates = [r for r in check.results if r.experiment in deleted]
    blobs = check.inputs.blobs({r.path for r in candidates})
    # A run is gone if a deletion's blob is none of its results here: one that still
    # holds it was never deleted (a correction that matches nothing, `correction-
    # unmatched` in the history), and its other results are not judged by it.
    present: dict[str, set[str]] = {}
    for r in candidates:
        present.setdefault(r.experiment, set()).add(blobs.get(r.path, ""))
    gone = {
        c.experiment
        for c in check.corrections
        if c.blob is None and c.supersedes not in present.get(c.experiment, ())
    }
    results = [r for r in candidates if r.experiment in gone and r.path not in reported]
    findings = [
        Finding(
            r.path,
            RULE,
            f"a result of experiment {r.experiment!r}, whose result a committed correction "
            f"deletes ({deleted[r.experiment]}): a run deleted on record does not come back "
            "under its id with a result it never had",
        )
        for r in results
        if blobs.get(r.path) not in had[r.experiment]
    ]
    back = [e for e in check.experiments if e.id in deleted and e.path not in reported]
    if back:
        findings += _records_changed(git, check.commit.sha, check.policy, deleted, back)
    return findings


def _records_changed(
    git: Git, rev: str, policy: Policy, deleted: dict[str, str], back: list[Experiment]
) -> list[Finding]:
    """Records of deleted runs against the record each had before the commit that added
    its deleting correction: one `git log` of the correction folders, one listing of the
    record folders per such commit's parent, and one read of the blobs."""
    globs = DocumentGlobs.of(policy)
    wanted = {deleted[e.id] for e in back}
    added_in: dict[str, str] = {}  # correction path -> the last commit that added it
    for commit, changes in git.log_changes(None, rev, globs.prefixes(corrections_only=True)):
        for change in changes:
            if change.status == "A" and change.path in wanted:
                added_in[change.path] = commit
    before: dict[str, str] = {}  # experiment -> its record blob before the deletion
    for commit in sorted({added_in[p] for p in wanted if p in added_in}):
        try:
            entries = git.ls_tree(f"{commit}^", globs.prefixes())
        except ExpflowError:  # a root commit, or a parent a shallow clone lacks
            continue
        ids = {e.id for e in back if added_in.get(deleted[e.id]) == commit}
        found: dict[str, list[str]] = {}
        for entry in entries:
            if entry.mode in REGULAR_MODES and globs.is_record(entry.path):
                if (exp_id := stem(entry.path)) in ids:
                    found.setdefault(exp_id, []).append(entry.sha)
        before.update((exp_id, shas[0]) for exp_id, shas in found.items() if len(shas) == 1)
    if not before:
        return []
    now = {e.id: e for e in back if e.id in before}
    rev_entries = {e.path: e.sha for e in git.ls_tree(rev, sorted({x.path for x in now.values()}))}
    with BlobReader(git) as reader:
        views = {
            sha: frozen_view(data)
            for sha, data in reader.read_many(sorted({*before.values(), *rev_entries.values()}))
        }
    out = []
    for exp_id, record in sorted(now.items()):
        sha = rev_entries.get(record.path)
        fields = changed_fields(views.get(before[exp_id]), views.get(sha or ""))
        if sha is not None and fields:
            out.append(
                Finding(
                    record.path,
                    RECORD_RULE,
                    f"experiment {exp_id!r} came back after its deletion ({deleted[exp_id]}) "
                    f"with its record changed: {', '.join(fields)} differ from the record it "
                    "had then; a finished run is frozen",
                )
            )
    return out
