"""Finished runs' records are frozen (docs/spec.md §6.2 item 7, §9).

- `record-rewritten`: a frozen field of a record changed after its run's result was
  committed (see :mod:`expflow_git.identity`).
"""

from __future__ import annotations

from expflow_git.checks import Problem
from expflow_git.documents import stem
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import TreeEntry
from expflow_git.history.walk import Edit, Walk, documents, is_doc
from expflow_git.identity import (
    FROZEN_FIELDS,
    DocumentGlobs,
    Frozen,
    changed_fields,
    frozen_message,
    frozen_view,
    readable_new,
    record_edits,
)

RECORD_RULE = Problem.RECORD_REWRITTEN.value


def net_record_candidates(walk: Walk, globs: DocumentGlobs) -> dict[str, tuple[str, TreeEntry]]:
    """Runs with a result at BASE whose record's blob differs at REV: BASE's blob and REV's."""
    with_result = documents(walk.base_tree, globs.is_result)
    base = documents(walk.base_tree, globs.is_record)
    rev = documents(walk.rev_tree, globs.is_record)
    return {
        exp_id: (base[exp_id][0].sha, rev[exp_id][0])
        for exp_id in with_result
        if exp_id in base and exp_id in rev and base[exp_id][0].sha != rev[exp_id][0].sha
    }


def net_records(
    net: dict[str, tuple[str, TreeEntry]],
    views: dict[str, Frozen | None],
    reported: set[str],
) -> list[Finding]:
    """Frozen fields that differ between BASE and REV where no commit showed the edit."""
    findings = []
    for exp_id, (old, entry) in sorted(net.items()):
        fields = changed_fields(views.get(old), views.get(entry.sha))
        if fields and exp_id not in reported:
            findings.append(
                Finding(
                    entry.path,
                    RECORD_RULE,
                    f"the audited commit {frozen_message(fields, exp_id)} (blob {old[:12]} → "
                    f"{entry.sha[:12]}), and no commit's change against its first parent "
                    "shows it (a merge of an unrelated history?); a finished run is frozen",
                )
            )
    return findings


def frozen_candidates(
    walk: Walk, globs: DocumentGlobs, with_result: dict[str, int]
) -> tuple[list[Edit], dict[str, str]]:
    """Record edits of experiments that ever had a committed result, with their
    commit's position and whether the run was frozen then (a result committed in an
    earlier commit), and the record blob of each at BASE. The walk is in topological
    order: where history branches, a result committed on another branch may come
    first and freeze a record a little early."""
    # Every edit of such a record: the earlier ones say what it was when it froze.
    edits = [
        (i, edit, with_result[edit.experiment] < i)
        for i, (_, changes) in enumerate(walk.commits)
        for edit in record_edits(changes, globs)
        if edit.experiment in with_result
    ]
    wanted = {edit.experiment for _, edit, _ in edits}
    base_records: dict[str, str] = {}
    for entry in sorted(walk.base_tree, key=lambda e: e.path.encode("utf-8", "surrogateescape")):
        if stem(entry.path) in wanted and is_doc(entry, globs.is_record):
            base_records.setdefault(stem(entry.path), entry.sha)
    return edits, base_records


def rewritten_records(
    walk: Walk,
    edits: list[Edit],
    base_records: dict[str, str],
    views: dict[str, Frozen | None],
) -> list[Finding]:
    """Walk the edits in commit order, each judged against the record its run had
    last (so a deletion and a later re-adding with other params is still caught)."""
    last: dict[str, str] = dict(base_records)  # experiment -> the record blob it is frozen to
    findings = []
    for i, edit, frozen in edits:
        exp_id = edit.experiment
        reference = edit.old_sha or last.get(exp_id)
        new_view = views.get(edit.change.new_sha or "") if readable_new(edit) else None
        if frozen and reference is not None:
            fields = changed_fields(views.get(reference), new_view)
            if fields:
                commit = walk.commits[i][0]
                findings.append(
                    Finding(
                        edit.change.path,
                        RECORD_RULE,
                        f"commit {commit[:12]} {frozen_message(fields, exp_id)} "
                        f"(blob {reference[:12]} → {(edit.change.new_sha or '?')[:12]}); "
                        "a finished run is frozen",
                    )
                )
        if edit.change.new_sha is not None:
            last[exp_id] = edit.change.new_sha
    return findings


_Introduced = tuple[TreeEntry, list[str], list[str]]  # REV's record, commits, record paths


def introduced_results(walk: Walk, globs: DocumentGlobs) -> dict[str, _Introduced]:
    """Runs whose result at REV was committed in the range (BASE's are net_records'):
    REV's record, every commit whose diff adds that result blob (its own commit, and a
    merge taking it from a parent other than the first), and every path the run's
    record had (REV's first), to find the record in those commits' trees."""
    base = documents(walk.base_tree, globs.is_result)
    records = documents(walk.rev_tree, globs.is_record)
    new = {
        exp_id: {e.sha for e in entries} - {e.sha for e in base.get(exp_id, [])}
        for exp_id, entries in documents(walk.rev_tree, globs.is_result).items()
        if exp_id in records
    }
    commits: dict[str, list[str]] = {}
    paths: dict[str, set[str]] = {}
    for entry in walk.base_tree:
        if stem(entry.path) in new and globs.is_record(entry.path):
            paths.setdefault(stem(entry.path), set()).add(entry.path)
    for commit, changes in walk.commits:
        for c in changes:
            exp_id = stem(c.path)
            if exp_id not in new:
                continue
            if globs.is_record(c.path):
                paths.setdefault(exp_id, set()).add(c.path)
            elif c.new_sha in new[exp_id] and globs.is_result(c.path):
                if commit not in commits.setdefault(exp_id, []):
                    commits[exp_id].append(commit)
    out = {}
    for exp_id, found in commits.items():
        at_rev = records[exp_id][0]
        others = sorted(paths.get(exp_id, set()) - {at_rev.path})
        out[exp_id] = (at_rev, found, [at_rev.path, *others])
    return out


def frozen_at_rev(
    reader: BlobReader,
    introduced: dict[str, _Introduced],
    views: dict[str, Frozen | None],
    reported: set[str],
) -> list[Finding]:
    """A run's record at REV against the record beside its result in each commit that
    committed that result (read as `<commit>:<path>`): the run froze there, whichever
    parent a later merge lists first."""
    findings = []
    for exp_id, (entry, commits, paths) in sorted(introduced.items()):
        if exp_id in reported:
            continue
        for commit in commits:
            data, unnamed = _record_at(reader, commit, paths)
            if data is None and not unnamed:
                continue  # no record beside the result then: nothing froze
            fields = (
                changed_fields(frozen_view(data), views.get(entry.sha))
                if data is not None
                else list(FROZEN_FIELDS)
            )
            if fields:
                findings.append(
                    Finding(
                        entry.path,
                        RECORD_RULE,
                        f"the audited commit {frozen_message(fields, exp_id)}: its record "
                        f"(blob {entry.sha[:12]}) differs from the one beside the result in "
                        f"commit {commit[:12]}, which committed it; a finished run is frozen",
                    )
                )
                break
    return findings


def _record_at(reader: BlobReader, commit: str, paths: list[str]) -> tuple[bytes | None, bool]:
    """The first of `paths` that is a file in `commit`'s tree, and whether a path could
    not be named to git (a line break in it: then nothing proves the record unchanged)."""
    unnamed = False
    for path in paths:
        if "\n" in path or path.strip() != path:
            unnamed = True
            continue
        try:
            return reader.read(f"{commit}:{path}"), False
        except ExpflowError:
            continue  # not there, or not a file, in that commit
    return None, unnamed
