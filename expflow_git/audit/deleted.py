"""Runs deleted on record that come back under their id (docs/spec.md §2.4, §6.2 item 7).

`rm` of a run with a committed result writes a correction with `blob: null`, and no
chain of corrections leads on from a deletion. The protect hook refuses a run brought
back; `audit --since` saw it only when the deletion was in the range, so a later pull
request, whose BASE already held the deletion, brought the run back with a new result
and new params and passed (an attacker's hunt). The audited tree is checked against
the deletions BASE holds (with `--since`; without it, the tree's own, which a tree
alone cannot tell apart from ones its last author wrote):

- a valid result of such a run must be the end of its chain of corrections (BASE's,
  then the tree's, in the order they were committed; `corrections.chain_ends`): the new
  blob of the last, or after a deletion the blob it superseded (the `rm` undone), else
  `result-rewritten`;
- its record must be, at the same path, the record it had just before the oldest
  commit that added one of those deletions, else `record-rewritten` (a root commit's
  parent is nothing to compare with; a shallow clone's cut is exit 2).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from expflow_git.checks import Problem
from expflow_git.corrections import (
    Correction,
    chain_ends,
    chain_order,
    check_correction,
    live_blob,
)
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Git
from expflow_git.identity import REGULAR_MODES, DocumentGlobs, changed_fields, frozen_view
from expflow_git.policy.model import Policy

if TYPE_CHECKING:
    from expflow_git.audit.pipeline import TreeCheck

RULE = Problem.RESULT_REWRITTEN.value
RECORD_RULE = Problem.RECORD_REWRITTEN.value


def deleted_runs_back(
    git: Git, check: TreeCheck, since: str | None, reported: set[str]
) -> list[Finding]:
    """Findings for the audited tree's runs that a correction of BASE (`since`) or, without
    it, of the tree deletes; `reported`: paths the history walk already reported."""
    rev = check.commit.sha
    with BlobReader(git) as reader:
        if since is None:
            anchors, globs = list(check.corrections), DocumentGlobs.of(check.policy)
        else:
            # BASE's corrections are the ones BASE's own or the judging policy calls so: a
            # pull request's `paths.corrections` makes no file of BASE a deletion's
            # anchor (a blob the run never had, named by a note merged long before).
            globs = DocumentGlobs.of(check.policy, _policy_at(git, reader, since, check))
            anchors = corrections_at(git, reader, since, globs)
        deleting = deletions(anchors)
        # The range's own deletions judge the records too (not the results: the walk
        # follows those commit by commit): a record put back byte for byte at another
        # path passed from a BASE before the `rm`, which the hook refuses, and failed every
        # later range, once BASE held the deletion (issue 18, thirty-eighth pass).
        at_base = {c.path for c in anchors}
        in_range = (
            {}
            if since is None
            else {
                exp_id: cs
                for exp_id, cs in deletions(
                    c for c in check.corrections if c.path not in at_base
                ).items()
                if exp_id not in deleting
            }
        )
        if not (deleting or in_range):
            return []
        findings = _results_back(git, check, globs, anchors, deleting, reported) if deleting else []
        for upto, runs in ((since or rev, deleting), (rev, in_range)):
            back = {
                e.id: e.path for e in check.experiments if e.id in runs and e.path not in reported
            }
            if back:
                blobs = check.inputs.blobs(set(back.values()))
                now = {exp_id: (path, blobs.get(path)) for exp_id, path in back.items()}
                findings += records_changed(
                    git, reader, upto, globs, runs, now, where="the audited commit"
                )
    return findings


def deletions(corrections: Iterable[Correction]) -> dict[str, list[Correction]]:
    """The corrections that delete a run's result (`rm`), by experiment, in path order
    (the audit's and the protect hook's)."""
    deleting: dict[str, list[Correction]] = {}
    for c in sorted(corrections, key=lambda c: c.path):
        if c.blob is None:
            deleting.setdefault(c.experiment, []).append(c)
    return deleting


def _policy_at(git: Git, reader: BlobReader, commit: str, check: TreeCheck) -> Policy | None:
    from expflow_git.history.walk import policy_at

    entries = git.ls_tree(commit, [check.policy.path])
    if any(e.path == check.policy.path and e.sha == check.policy_blob for e in entries):
        return None  # the judging policy itself: nothing to read
    return policy_at(reader, entries, check.policy)


def corrections_at(
    git: Git, reader: BlobReader, commit: str, globs: DocumentGlobs
) -> list[Correction]:
    """The valid corrections of `commit`'s tree (by any of `globs`' policies): files only,
    as everywhere (a symbolic link's target string is no correction)."""
    entries = [
        e
        for e in git.ls_tree(commit, globs.prefixes(corrections_only=True))
        if e.type == "blob" and e.mode in REGULAR_MODES and globs.is_correction(e.path)
    ]
    blobs = reader.read_many(e.sha for e in entries)
    found = (check_correction(e.path, data)[0] for e, (_, data) in zip(entries, blobs, strict=True))
    return [c for c in found if c is not None]


def _results_back(
    git: Git,
    check: TreeCheck,
    globs: DocumentGlobs,
    anchors: list[Correction],
    deleting: Mapping[str, list[Correction]],
    reported: set[str],
) -> list[Finding]:
    candidates = [r for r in check.results if r.experiment in deleting]
    blobs = check.inputs.blobs({r.path for r in candidates})
    # A run still holding the blob a deletion names was never deleted (that correction
    # matches nothing: `correction-unmatched` in the history); it is not judged by it.
    present: dict[str, set[str]] = {}
    for r in candidates:
        present.setdefault(r.experiment, set()).add(blobs.get(r.path, ""))
    # Only runs with a result here are judged: the walk is per run, not per deletion.
    gone = {
        exp_id
        for exp_id in present
        if any(c.supersedes not in present[exp_id] for c in deleting[exp_id])
    }
    if not gone:
        return []
    # Under `corrections: deny` no correction declares anything, so one the audited tree
    # adds leads nowhere: a run deleted at BASE came back with a new, better result
    # beside its own correction and passed (an attacker's hunt, issue 18 twenty-second
    # pass). Under `allow` such a correction matches no change of its commit, and the
    # history says so.
    added = check.corrections if check.policy.corrections_allowed else ()
    known = [c for c in (*anchors, *added) if c.experiment in gone]
    ends = chain_ends(
        in_commit_order(git, check.commit.sha, globs, known, first={c.path for c in anchors})
    )
    return [
        Finding(
            r.path,
            RULE,
            f"a result of experiment {r.experiment!r}, whose result a committed correction "
            f"deletes ({deleting[r.experiment][0].path}): a run deleted on record comes back "
            "only as the end of its chain of corrections (the blob its last deletion "
            "superseded, the `rm` undone), not as a blob a later correction superseded",
        )
        for r in candidates
        if r.experiment in gone
        and r.path not in reported
        and blobs.get(r.path) != live_blob(ends[r.experiment])
    ]


def in_commit_order(
    git: Git,
    upto: str,
    globs: DocumentGlobs,
    corrections: Iterable[Correction],
    *,
    first: Iterable[str] = (),
) -> list[Correction]:
    """`corrections` (each path once) in the order `upto`'s history committed them: the
    oldest commit adding each path, in one `git log --topo-order --reverse` of the
    correction folders; those at paths in `first` (BASE's) before any other, then by
    path. What `corrections.chain_ends` follows."""
    unique = {c.path: c for c in corrections}
    if not unique:
        return []
    at: dict[str, int] = {}
    for i, (_, changes) in enumerate(
        git.log_changes(None, upto, globs.prefixes(corrections_only=True))
    ):
        for change in changes:
            if change.new_sha is not None and change.path in unique:
                at.setdefault(change.path, i)
    earlier = set(first)

    def commit_of(c: Correction) -> tuple[bool, int]:
        return c.path not in earlier, at.get(c.path, -1)

    ordered = sorted(
        unique.values(), key=lambda c: (*commit_of(c), c.path.encode("utf-8", "surrogateescape"))
    )
    # One commit's (a squash's) in the order of their chains, not of their paths.
    return [c for _, group in itertools.groupby(ordered, commit_of) for c in chain_order(group)]


def records_changed(
    git: Git,
    reader: BlobReader,
    upto: str,
    globs: DocumentGlobs,
    deleting: Mapping[str, list[Correction]],
    now: Mapping[str, tuple[str, str | None]],
    *,
    where: str,
) -> list[Finding]:
    """Records of runs deleted on record (`now`: id -> (path, blob; None where it is no
    file)) against the record each had, at the same path, in the parent of a commit of
    `upto`'s history that added one of its deletions: the oldest such commit's, or a
    later one's (a merge whose first parent lacked the deletion, as the hook judged it
    against HEAD: a branch's `rm` merged into a line that had moved the record, the
    conflict resolved by keeping it there, passed the hook and failed every later audit).
    A finding names the oldest commit's record. One `git log` of the correction folders,
    one `git cat-file --batch-check` and one read of the blobs. Where a shallow clone
    cut the oldest commit's parent away, exit 2: nothing to compare with is no pass
    (the threat model)."""
    adds = {c.path: exp_id for exp_id, cs in deleting.items() if exp_id in now for c in cs}
    # experiment -> the commits adding one of its deletions, oldest first
    adding: dict[str, dict[str, None]] = {}
    for commit, changes in git.log_changes(None, upto, globs.prefixes(corrections_only=True)):
        for change in changes:
            if change.status == "A" and change.path in adds:
                adding.setdefault(adds[change.path], {})[commit] = None
    runs = sorted(
        (exp_id, now[exp_id][0], commit) for exp_id, commits in adding.items() for commit in commits
    )
    oldest = {exp_id: next(iter(commits)) for exp_id, commits in adding.items()}
    # Each commit's parent (a root commit has none: then nothing is compared; a shallow
    # clone's cut commit lacks it: exit 2, as `git log` shows every file of a cut commit's
    # tree as added there, so a deletion older than the cut seems to be added at it), and
    # the record at the same path there; `<commit>^:<path>` is one line of cat-file's
    # input, so a path it cannot name (a line break, blanks at an end) is not there; a
    # byte that is not UTF-8 goes back as the byte (the path was read as surrogates).
    names = []
    for _, path, commit in runs:
        names.append(f"{commit}^")
        names.append(f"{commit}^:{path}" if "\n" not in path and path.strip() == path else "")
    answers = git.run(
        "cat-file",
        "--batch-check=%(objectname) %(objecttype)",
        input="".join(f"{n}\n" for n in names if n).encode("utf-8", "surrogateescape"),
    ).split(b"\n")  # a missing name is echoed: a "\r" in its path is no line break
    found = iter(answers)
    before: dict[tuple[str, str], str | None] = {}
    orphans: list[tuple[str, str]] = []  # (experiment, commit): no parent to compare with
    for i, (exp_id, _, commit) in enumerate(runs):
        parent = next(found).decode("utf-8", "replace").partition(" ")[2]
        line = next(found).decode("utf-8", "replace") if names[2 * i + 1] else ""
        sha, _, kind = line.partition(" ")
        if parent == "commit":
            before[exp_id, commit] = sha if kind == "blob" else None
        elif commit == oldest[exp_id]:
            orphans.append((exp_id, commit))
    _refuse_a_cut_parent(git, orphans, deleting)
    compared = sorted(
        {(exp_id, path) for exp_id, path, commit in runs if (exp_id, oldest[exp_id]) in before}
    )
    if not compared:
        return []
    wanted = {s for s in before.values() if s} | {b for _, b in now.values() if b}
    views = {sha: frozen_view(data) for sha, data in reader.read_many(sorted(wanted))}
    findings = []
    for exp_id, path in compared:
        new = now[exp_id][1]
        olds = [before[exp_id, c] for c in adding[exp_id] if (exp_id, c) in before]
        if any(
            old is not None and not changed_fields(views.get(old), views.get(new or ""))
            for old in olds
        ):
            continue  # the record it had before one of those commits, where it had it
        old = before[exp_id, oldest[exp_id]]
        deletion = deleting[exp_id][0].path
        if old is None:
            detail = "at a path it did not have then; put it back where and as it was"
        else:  # (fields differ: a record the same as it had was taken above)
            fields = changed_fields(views.get(old), views.get(new or ""))
            detail = f"with its record changed: {', '.join(fields)} differ from the one it had"
        findings.append(
            Finding(
                path,
                RECORD_RULE,
                f"{where} brings experiment {exp_id!r} back after its deletion ({deletion}) "
                f"{detail}; a finished run is frozen",
            )
        )
    return findings


def _refuse_a_cut_parent(
    git: Git, orphans: list[tuple[str, str]], deleting: Mapping[str, list[Correction]]
) -> None:
    """Exit 2 where a commit that seems to add a deletion is a shallow clone's cut commit
    (its parent, the record the run had, is not there); a root commit has no parent to
    lack. The wording is the budgets' (audit/budget._refuse_a_cut_history)."""
    if not orphans:
        return
    cut = git.shallow_commits()
    for exp_id, commit in orphans:
        if commit in cut:
            raise ExpflowError(
                f"experiment {exp_id!r} is back after its deletion "
                f"({deleting[exp_id][0].path}): its record is compared with the one it had "
                f"before the deletion, which this shallow clone cuts at {commit[:12]} — fetch "
                "the full history (actions/checkout with `fetch-depth: 0`)"
            )
