"""`protect`: results are write-once and a finished run is frozen (docs/spec.md §5, §2.2;
docs/threat-model.md).

A staged change that modifies or deletes a result HEAD already has (`result-rewritten`),
or changes a frozen field of the record of a run whose result HEAD has
(`record-rewritten`), is refused unless the PIN approves it. Under `protect:
{corrections: allow}` (the default) only a result's rewrite that a correction staged
with it declares is approvable: an undeclared one is refused even with the PIN, since
`audit --since` would report it, and so are the rewrites no correction can declare, a
finished run's frozen fields changed and a committed result the staged policy's globs
drop (issue 18, twenty-fifth pass: the PIN approved them, and CI then failed a commit
only a history rewrite could mend). Under `deny` the PIN approves every one. A result is
its experiment id's: moving it byte for byte is not a rewrite, replacing it is. When
the staged policy differs from HEAD's, the globs of both decide what is a document, and
a committed result the new `paths.results` no longer matches counts as deleted.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from expflow_git.checks import Problem
from expflow_git.corrections import (
    Correction,
    Rewrite,
    additions,
    chain_ends,
    chain_order,
    correction_changes,
    judge,
    live_blob,
)
from expflow_git.documents import stem
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import GITLINK, Change, Git, TreeEntry
from expflow_git.globs import matches_any
from expflow_git.identity import (
    FROZEN_FIELDS,
    REGULAR_MODES,
    DocumentGlobs,
    changed_fields,
    frozen_message,
    frozen_view,
    readable_new,
    record_edits,
    result_rewrites,
)
from expflow_git.policy.load import load_policy_bytes
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind
from expflow_git.workspace import Workspace, os_path, repo_path

RULE = Problem.RESULT_REWRITTEN.value
_APPROVE = "approve with the PIN via EXPFLOW_PIN"
_DECLARE = (
    "no correction staged with it declares it; write one with `expflow-git result ID "
    "--overwrite --reason TEXT` or `expflow-git rm ID --reason TEXT`"
)
# Under `corrections: allow`, why the PIN cannot approve what no correction can declare
# (`audit --since` reports it whatever the PIN said), and what to do instead.
_FROZEN_UNDECLARABLE = (
    "no correction can declare a change to a finished run's frozen fields, so `audit "
    "--since` would report it even with the PIN; record a new run under a new id instead "
    "with `expflow-git new`"
)
_DROPPED_UNDECLARABLE = (
    "no correction can declare a result the policy's globs drop, so `audit --since` would "
    "report it even with the PIN; keep paths.results matching the committed results"
)


@dataclass(frozen=True)
class StagedRewrite:
    """One refused staged change: the path, git's letter (M, D, T, A), the rule, what
    it does and why that is refused (`detail`, `why`), the blobs before and after (None:
    no such side), the experiment whose result it rewrites, if a correction may declare
    it (None: a record's edit, or a result the policy's globs drop), and, where none may,
    why the PIN cannot approve it under `corrections: allow` and what to do instead
    (`undeclarable`)."""

    path: str
    status: str
    rule: str = RULE
    detail: str = ""
    old_sha: str | None = None
    new_sha: str | None = None
    why: str = "results are write-once"
    experiment: str | None = None
    undeclarable: str = _FROZEN_UNDECLARABLE

    def finding(self, *, undeclared: bool = False) -> Finding:
        """The refusal; `undeclared`: refused under `corrections: allow` whatever the PIN
        (a rewrite no staged correction declares, or one no correction can declare)."""
        verb = {"D": "deletes", "T": "changes the type of"}.get(self.status, "modifies")
        what = self.detail or f"the staged change {verb} a committed result"
        if not undeclared:
            how = _APPROVE
        else:
            how = _DECLARE if self.rewrite() is not None else self.undeclarable
            if how is _DECLARE and self.status == "D":
                # rm reads the run from the work tree: after a `git rm` or a `git revert
                # --no-commit` its advice failed with "no experiment record" (a review).
                how += (
                    " after putting the run's files back (this one and its record: `git "
                    "restore --staged --worktree -- PATHS`)"
                )
        return Finding(
            self.path, self.rule, f"{what} ({self.why}; {how})" if self.why else f"{what} ({how})"
        )

    def rewrite(self) -> Rewrite | None:
        """As corrections.py matches it, if a correction may declare it."""
        if self.experiment is None or self.old_sha is None:
            return None
        return Rewrite(self.experiment, self.path, self.old_sha, self.new_sha)


class StagedChanges(list[Change]):
    """`staged_changes`' list of changes, which also says whether HEAD had no commit
    (`unborn`): `unpassed_findings` checks what the first commit stages that pre-commit
    passes no hook, and asking git again for a commit that changes nothing cost two git
    processes per hook run."""

    def __init__(self, changes: Iterable[Change] = (), *, unborn: bool = False) -> None:
        super().__init__(changes)
        self.unborn = unborn


def staged_changes(ws: Workspace) -> StagedChanges:
    """What the index changes against HEAD; nothing before the first commit (or outside
    git). Read once per hook run (HEAD resolved once) and passed to the checks below."""
    if ws.git is None:
        return StagedChanges()
    try:
        ws.git.resolve_commit("HEAD")
    except ExpflowError:  # an unborn HEAD has nothing committed to protect
        return StagedChanges(unborn=True)
    return StagedChanges(ws.git.staged_changes("HEAD"))


def _head_policy(ws: Workspace, changes: list[Change]) -> tuple[Policy | None, bool]:
    """HEAD's policy when the index changes it (else the staged one is HEAD's), and
    whether the policy file is changed at all. A HEAD policy that does not load
    protects nothing more."""
    rel = ws.rel(ws.policy_path)
    # A link or submodule in HEAD's policy place is no policy (as the audit reads it).
    old = next((c.old_sha for c in changes if c.path == rel and c.old_mode in REGULAR_MODES), None)
    touched = any(c.path == rel for c in changes)
    if old is None or ws.git is None:
        return None, touched
    try:
        with BlobReader(ws.git) as reader:
            return load_policy_bytes(reader.read(old), path=rel), touched
    except ExpflowError:
        return None, touched


def staged_rewrites(ws: Workspace, changes: list[Change]) -> list[StagedRewrite]:
    """Committed results the index rewrites and frozen records it changes (`changes`:
    :func:`staged_changes`), by path."""
    if ws.git is None:
        return []
    if not changes:
        return []
    policy = ws.load_policy()
    head_policy, policy_changed = _head_policy(ws, changes)
    if not _immutable(policy, head_policy):
        return []
    globs = DocumentGlobs.of(policy, head_policy)
    out = [
        StagedRewrite(
            r.change.path,
            r.change.status,
            detail=""
            if r.replacement is None
            else f"the staged change replaces a committed result with {r.replacement.path}",
            old_sha=r.change.old_sha,
            new_sha=r.new_sha,
            why="results are write-once"
            if r.replacement is None
            else "a result is its experiment's, wherever it lies",
            experiment=r.experiment,
        )
        for r in result_rewrites(changes, globs, DocumentGlobs.of(policy))
    ]
    out += _frozen_records(ws, changes, globs)
    if policy_changed and head_policy is not None:
        listed, moved = _reclassified(ws, changes, head_policy, policy)
        out += _dropped_by_globs(moved)
        out += _records_taken_in(ws, listed, moved, head_policy)
    return sorted(out, key=lambda r: (r.path.encode("utf-8", "surrogateescape"), r.rule))


def _immutable(policy: Policy, head_policy: Policy | None) -> bool:
    """Whether results are write-once for this commit: if either side says so, the commit
    that turns it off is still judged."""
    return policy.results_immutable or (head_policy is not None and head_policy.results_immutable)


def _frozen_records(
    ws: Workspace, changes: list[Change], globs: DocumentGlobs
) -> list[StagedRewrite]:
    """Staged edits of a frozen field of a record whose run has a result in HEAD, or whose
    result a correction in HEAD deletes (the run finished; `audit --since` judges every
    run the history ever committed a result for: the record kept after `rm` of its
    result, then changed, passed the hook and failed CI for good; issue 18,
    thirty-second pass), compared with HEAD's record. A record added beside HEAD's,
    which the change leaves in place (a `paths.experiments` moved in the same commit:
    HEAD's record drops out of the staged globs), is compared with HEAD's (an attacker's
    hunt: its params and seed changed unseen)."""
    assert ws.git is not None
    edits = record_edits(changes, globs)
    if not edits:
        return []
    # Files only: a link in a record's place froze nothing (its text is no record).
    listed = [e for e in ws.git.ls_tree("HEAD", globs.prefixes()) if e.mode in REGULAR_MODES]
    committed = {stem(e.path) for e in listed if globs.is_result(e.path)}
    if pending := {e.experiment for e in edits} - committed:
        committed |= _deleted_on_record(ws, globs, pending)
    at_head: dict[str, str] = {}
    for entry in listed:  # (in path order: the first record of an id)
        if globs.is_record(entry.path):
            at_head.setdefault(stem(entry.path), entry.sha)
    edits = [
        e if e.old_sha is not None else replace(e, old_sha=at_head.get(e.experiment))
        for e in edits
        if e.experiment in committed
    ]
    edits = [e for e in edits if e.old_sha is not None]
    wanted = {e.old_sha for e in edits if e.old_sha} | {
        e.change.new_sha for e in edits if readable_new(e) and e.change.new_sha
    }
    with BlobReader(ws.git) as reader:
        views = {sha: frozen_view(data) for sha, data in reader.read_many(sorted(wanted))}
    out = []
    for edit in edits:
        assert edit.old_sha is not None
        new = views.get(edit.change.new_sha or "") if readable_new(edit) else None
        if views[edit.old_sha] is None:
            # HEAD's record strict JSON cannot read froze as it is, byte for byte (spec
            # §2.1), as `audit --since` holds it (issue 18, forty-first pass's review).
            same = edit.change.new_sha == edit.old_sha and readable_new(edit)
            fields = [] if same else list(FROZEN_FIELDS)
        else:
            fields = changed_fields(views[edit.old_sha], new)
        if fields:
            out.append(
                StagedRewrite(
                    edit.change.path,
                    edit.change.status,
                    Problem.RECORD_REWRITTEN.value,
                    f"the staged change {frozen_message(fields, edit.experiment)}",
                    edit.old_sha,
                    edit.change.new_sha,
                    why="a finished run is frozen",
                )
            )
    return out


def _deleted_on_record(ws: Workspace, globs: DocumentGlobs, ids: set[str]) -> set[str]:
    """Those of `ids` whose result a correction in HEAD deletes (`rm`: `blob: null`):
    finished runs, though HEAD holds no result of theirs. HEAD's corrections are read
    only when a staged record edit's run has no result in HEAD."""
    assert ws.git is not None
    from expflow_git.audit.deleted import corrections_at

    with BlobReader(ws.git) as reader:
        found = corrections_at(ws.git, reader, "HEAD", globs)
    return {c.experiment for c in found if c.blob is None and c.experiment in ids}


# HEAD's entries the index leaves as they are whose kind the staged policy changes:
# (entry, HEAD's kind, the staged kind). What a policy edit drops out of the documents,
# or takes in, without a file of the change set showing it.
_Reclassified = list[tuple[TreeEntry, Kind | None, Kind | None]]


def _reclassified(
    ws: Workspace, changes: list[Change], head_policy: Policy | None, policy: Policy
) -> tuple[list[TreeEntry], _Reclassified]:
    """HEAD's listing under both policies' folders (one `ls-tree`) and its entries the
    staged policy reads as another kind; nothing when the index leaves the policy as it
    is. Each check of a policy edit below takes what it judges from these."""
    if ws.git is None or head_policy is None or head_policy is policy:
        return [], []
    touched = {c.path for c in changes}
    listed = ws.git.ls_tree("HEAD", DocumentGlobs.of(policy, head_policy).prefixes())
    moved = []
    for e in listed:
        if e.path not in touched:
            before, after = head_policy.kind_of(e.path), policy.kind_of(e.path)
            if before is not after:
                moved.append((e, before, after))
    return listed, moved


def _dropped_by_globs(moved: _Reclassified) -> list[StagedRewrite]:
    """Results in HEAD, left as they are, that the staged policy no longer counts as results."""
    return [
        StagedRewrite(
            e.path,
            "D",
            detail="the staged policy's paths.results no longer matches this committed "
            "result: it would drop out of the audit",
            old_sha=e.sha,
            why="",
            undeclarable=_DROPPED_UNDECLARABLE,
        )
        for e, before, _ in moved
        if before is Kind.RESULT
    ]


def _records_taken_in(
    ws: Workspace, listed: list[TreeEntry], moved: _Reclassified, head_policy: Policy
) -> list[StagedRewrite]:
    """HEAD's files, left as they are, that the staged policy reads as a finished run's
    record where HEAD's did not: a copy with other params, committed earlier as a plain
    file, then taken in by a widened `paths.experiments`, is a record added beside HEAD's
    (a review), compared with HEAD's record of that id as `_frozen_records` compares one
    the change adds."""
    assert ws.git is not None
    files = [e for e in listed if e.type == "blob" and e.mode in REGULAR_MODES]
    committed = {stem(e.path) for e in files if head_policy.kind_of(e.path) is Kind.RESULT}
    old: dict[str, str] = {}
    for e in files:  # (in path order: the first record of an id)
        if head_policy.kind_of(e.path) is Kind.EXPERIMENT:
            old.setdefault(stem(e.path), e.sha)
    taken = [
        e
        for e in _files(moved, (Kind.EXPERIMENT,))
        if stem(e.path) in committed and old.get(stem(e.path), e.sha) != e.sha
    ]
    if not taken:
        return []
    wanted = sorted({e.sha for e in taken} | {old[stem(e.path)] for e in taken})
    with BlobReader(ws.git) as reader:
        views = {sha: frozen_view(data) for sha, data in reader.read_many(wanted)}
    out = []
    for e in taken:
        before = old[stem(e.path)]
        fields = changed_fields(views[before], views[e.sha])
        if fields:
            out.append(
                StagedRewrite(
                    e.path,
                    "A",
                    Problem.RECORD_REWRITTEN.value,
                    f"the staged policy takes in this file as a record that "
                    f"{frozen_message(fields, stem(e.path))}",
                    before,
                    e.sha,
                    why="a finished run is frozen",
                )
            )
    return out


def _files(moved: _Reclassified, kinds: tuple[Kind, ...]) -> list[TreeEntry]:
    """The files of `moved` the staged policy takes in as one of `kinds`."""
    return [
        e
        for e, _, after in moved
        if e.type == "blob" and e.mode in REGULAR_MODES and after in kinds
    ]


def _taken_in(moved: _Reclassified) -> list[Change]:
    """HEAD's files, left as they are, that the staged policy reads as results or records
    and HEAD's did not: as the index adding them (status A)."""
    return [
        Change("A", e.path, None, e.sha, None, e.mode)
        for e in _files(moved, (Kind.RESULT, Kind.EXPERIMENT))
    ]


_NOT_READ = "the staged policy's paths.corrections no longer reads this committed correction"
# A result, then a record, comes first where a policy's globs give a path several kinds.
_TAKEN_AS: dict[Kind | None, str] = {
    Kind.RESULT: "the staged policy's paths.results take in this committed correction as a result",
    Kind.EXPERIMENT: (
        "the staged policy's paths.experiments take in this committed correction as a record"
    ),
}


def _corrections_dropped(moved: _Reclassified) -> list[Finding]:
    """HEAD's corrections, left as they are, that the staged policy no longer reads as
    corrections: append-only, they would declare nothing once committed, and a run one
    deletes could come back (an attacker's hunt: the glob moved, then the file deleted
    unseen, as neither policy called it a correction any more). The same
    `paths.corrections` with `paths.results` or `paths.experiments` widened over them
    drops them too (a result, then a record, comes first: issue 18, thirty-eighth pass:
    only the two `paths.corrections` were compared)."""
    return [
        Finding(
            e.path,
            Problem.CORRECTION_REWRITTEN.value,
            f"{_TAKEN_AS.get(after, _NOT_READ)} (corrections are append-only: it would "
            "declare nothing once committed)",
        )
        for e, before, after in moved
        if e.type == "blob" and before is Kind.CORRECTION
    ]


def staged_entries_refused(ws: Workspace, changes: list[Change]) -> list[Finding]:
    """What the index stages that the audit of the commit would refuse and no hook given
    files sees: a submodule at a document path (pre-commit passes none, the plain hook
    skips them), and HEAD's policy file deleted from the index or replaced by what is no
    file (validate is given none; the file left on disk would have judged this commit)."""
    rel = ws.rel(ws.policy_path)
    if any(c.path == rel and c.new_mode not in REGULAR_MODES for c in changes):
        raise ExpflowError(
            f"{rel}: the staged change leaves no policy file in the index (deleted, or a "
            "link or submodule in its place); a commit without it cannot be audited "
            "(restore it with `git restore --staged`)"
        )
    linked = [c for c in changes if c.new_mode == GITLINK and c.status in "AMT"]
    if not linked:
        return []
    policy = ws.load_policy()
    return [
        Finding(c.path, Problem.NOT_A_FILE.value, "is a submodule; documents must be files")
        for c in linked
        if policy.kind_of(c.path) is not None
    ]


def unpassed_findings(
    ws: Workspace, changes: list[Change], *, warn: Callable[[str], None]
) -> list[Finding]:
    """The scan and validation of what pre-commit passes no hook, on the index: a staged
    submodule's name (pre-commit passes files and links only), a staged file the work
    tree lacks or holds as no file (skip-worktree, a sparse checkout), and, while a
    merge is committed, every file the index changes against HEAD (pre-commit passes
    the conflicted files alone then, or none, when a conflict was resolved by a deletion
    or the merge stopped with `--no-commit`). A PIN's digest as a submodule's name, and
    a PIN hash and an unknown metric a branch committed past the hooks, or staged
    without a file on disk, were committed (attacker's hunts, reviews). `protect` runs
    this: it always runs, and once (the hooks given files run once per part of the
    list)."""
    from expflow_git.hooks.scan import scan_paths
    from expflow_git.hooks.validate import validate

    git = ws.git
    if git is None:
        return []
    if not changes:  # the first commit (nothing to compare with): all it stages
        # (`staged_changes` knows whether HEAD is unborn; a list made elsewhere does not)
        unborn = changes.unborn if isinstance(changes, StagedChanges) else _unborn(git)
        changes = _unborn_entries(git) if unborn else []
    merging = (git.git_dir / "MERGE_HEAD").is_file()
    kept = [
        c
        for c in changes
        if c.new_sha is not None
        and (merging or c.new_mode == GITLINK or not _passable(ws.root / os_path(c.path)))
    ]
    if not kept:
        return []
    ws = replace(ws, staged=True)  # the index's content, as the hooks given files read it
    here = os.getcwd()
    # scan takes the OS's paths, as the command line gives them, validate the documents'
    # (`workspace.repo_path`): git's path joined as it is raised UnicodeEncodeError
    # under a locale whose filesystem encoding is not UTF-8 (issue 18 thirtieth pass).
    paths = [os.path.relpath(ws.root / os_path(c.path), here) for c in kept]
    findings, _ = scan_paths(ws, paths, warn=warn)
    files = [repo_path(p) for p, c in zip(paths, kept, strict=True) if c.new_mode != GITLINK]
    if files:
        findings += validate(ws, files, warn=warn).findings
    return findings


def _passable(path: Path) -> bool:
    """Whether pre-commit passes the hooks a staged file at `path`: only what is on disk
    as a file or a link (`types_or: [file, symlink]`). A staged file whose path is a
    folder on disk was passed to no hook (a review)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # absent, or a file where a folder of its path should be
        return False
    return stat.S_ISREG(mode) or stat.S_ISLNK(mode)


def _unborn(git: Git) -> bool:
    """Whether HEAD has no commit yet."""
    try:
        git.resolve_commit("HEAD")
    except ExpflowError:
        return True
    return False


def _unborn_entries(git: Git) -> list[Change]:
    """Before the first commit (a new repository's, or an orphan branch's), every entry
    of the index as added, from one listing: `unpassed_findings` keeps those pre-commit
    passes no hook (a submodule, a file absent from disk or with a folder in its place).
    Only submodules were taken, so a PIN hash staged with skip-worktree or
    assume-unchanged and deleted from disk went into a first commit unscanned (issue 18,
    thirty-first pass; a hunt)."""
    return [Change("A", e.path, None, e.sha, None, e.mode) for e in git.ls_index() if e.stage == 0]


def orphaned_results(ws: Workspace, changes: list[Change]) -> list[Finding]:
    """Results left in the index while the index deletes their experiment record
    (`changes`: :func:`staged_changes`).

    (`expflow-git rm` deletes both; a record deleted alone strands its result.)
    """
    if ws.git is None:
        return []
    policy = ws.load_policy()
    # (Records as the audit reads them: a result inside the record globs is none.)
    deleted = {
        stem(c.path)
        for c in changes
        if c.status == "D" and policy.kind_of(c.path) is Kind.EXPERIMENT
    }
    if not deleted:
        return []
    index = ws.git.ls_index()
    # A record of the id left in the index still backs its results: one moved (deleted
    # here, added there), or the others of several records of one id (judged as
    # duplicates, not as results without a record). A record as the audit reads one: a
    # regular file the policy calls a record, not a result its globs also take in, nor a
    # link (a review found the result itself kept).
    deleted -= {
        stem(e.path)
        for e in index
        if e.stage == 0 and e.mode in REGULAR_MODES and policy.kind_of(e.path) is Kind.EXPERIMENT
    }
    return [
        Finding(
            e.path,
            Problem.DANGLING_RESULT.value,
            f"its experiment record {stem(e.path)!r} is being deleted; "
            "delete the run with `expflow-git rm`",
        )
        for e in index
        if stem(e.path) in deleted and matches_any(e.path, policy.result_globs)
    ]


# ----------------------------------------------------------------- corrections (issue 13)
@dataclass(frozen=True)
class Judged:
    """The staged rewrites split by the corrections staged with them."""

    refused: tuple[Finding, ...]  # never PIN-approvable
    approvable: tuple[StagedRewrite, ...]  # the PIN approves these
    declared: tuple[Correction, ...]  # the corrections that declare them


def judge_rewrites(ws: Workspace, changes: list[Change], rewrites: list[StagedRewrite]) -> Judged:
    """Under `protect: {corrections: allow}` (the default) a result's rewrite is
    approvable only when a correction added in the index declares exactly it, and a
    frozen record's change or a result the staged globs drop never is: no correction can
    declare them, so `audit --since` reports them whatever the PIN (issue 18, twenty-fifth
    pass: the PIN approved them); under `deny`, every one is (as before corrections). A
    changed, deleted or moved committed correction (by the staged or HEAD policy's
    globs) is refused either way, and under `allow` so is an added one that declares no
    staged change."""
    if ws.git is None:
        return Judged((), tuple(rewrites), ())
    if not changes:
        return Judged((), tuple(rewrites), ())
    policy = ws.load_policy()
    head_policy, _ = _head_policy(ws, changes)
    with BlobReader(ws.git) as reader:
        added, about = correction_changes(
            changes,
            policy,
            reader.read,
            where="in the index",
            watched=DocumentGlobs.of(policy, head_policy).is_correction,
        )
    if policy.corrections_allowed:  # (under `deny` no correction declares anything)
        added, copies = _new_by_blob(ws, changes, added, DocumentGlobs.of(policy, head_policy))
        about = [*about, *copies]
    declarable = {r: rw for r in rewrites if (rw := r.rewrite()) is not None}
    immutable = _immutable(policy, head_policy)
    # With write-once off no rewrite is refused or asked the PIN for, but a correction
    # staged with one still declares it (as `audit --since` matches it): the correction
    # `result --overwrite --reason` or `rm --reason` wrote was `correction-unmatched`,
    # never approvable, and the audit passed it (issue 18, thirty-eighth pass: two hunts).
    unjudged = (
        []
        if immutable
        else [
            Rewrite(r.experiment, r.change.path, r.change.old_sha or "", r.new_sha)
            for r in result_rewrites(
                changes, DocumentGlobs.of(policy, head_policy), DocumentGlobs.of(policy)
            )
        ]
    )
    verdict = judge(
        [*declarable.values(), *unjudged],
        added,
        about,
        policy,
        where="in the index",
        additions=additions(
            changes,
            lambda path: policy.kind_of(path) is Kind.RESULT,
            added,
            lambda ids: _head_results(ws, DocumentGlobs.of(policy, head_policy), ids),
        ),
    )
    # Whatever the staged policy says of corrections (reviews: `deny` staged with the
    # change let HEAD's corrections drop out, and a deleted run come back, unseen):
    # corrections are append-only, and a run deleted on record stays deleted. A document
    # the staged policy takes in is added as surely as a file the index adds (a deleted
    # run's result and record parked where no glob read them, then taken in by widened
    # globs, brought the run back).
    _, moved = _reclassified(ws, changes, head_policy, policy)
    taken = _taken_in(moved)
    always = _corrections_dropped(moved)
    always += _readded(
        ws,
        [*changes, *taken],
        DocumentGlobs.of(policy, head_policy),
        # Under `deny` no correction is a step of the chain, as in the audit (the
        # tool's own `result --overwrite --reason` passed here and failed `audit --since`:
        # issue 18, thirty-ninth pass).
        edited=None if immutable else added if policy.corrections_allowed else [],
        declarable=policy.corrections_allowed,
    )
    if not policy.corrections_allowed:
        return Judged((*always, *verdict.findings), tuple(rewrites), ())
    uncovered = set(verdict.uncovered)
    refused = [
        r.finding(undeclared=True)
        for r in rewrites
        if r not in declarable or declarable[r] in uncovered
    ]
    refused += always
    approvable = tuple(r for r in rewrites if r in declarable and declarable[r] not in uncovered)
    declared = tuple(c for _, c in verdict.declared)
    return Judged((*refused, *verdict.findings), approvable, declared)


def _new_by_blob(
    ws: Workspace, changes: list[Change], added: list[Correction], globs: DocumentGlobs
) -> tuple[list[Correction], list[Finding]]:
    """The added corrections that are no byte-identical copy of one HEAD holds, and a
    `correction-unmatched` finding for each copy: a copy declares nothing, as `audit
    --since` reads it (history/results.py: corrections new since BASE by blob). The hook
    took a copy, added with the rewrite it names, as a new correction and approved the
    commit; the pull request then failed for good (left by the thirty-eighth pass)."""
    if not added or ws.git is None or _unborn(ws.git):
        return added, []
    held = {
        e.sha: e.path
        for e in ws.git.ls_tree("HEAD", globs.prefixes(corrections_only=True))
        if e.mode in REGULAR_MODES and globs.is_correction(e.path)
    }
    blob_at = {c.path: c.new_sha for c in changes}
    kept: list[Correction] = []
    copies: list[Finding] = []
    for correction in added:
        original = held.get(blob_at.get(correction.path) or "")
        if original is None:
            kept.append(correction)
            continue
        copies.append(
            Finding(
                correction.path,
                Problem.CORRECTION_UNMATCHED.value,
                f"a byte-identical copy of the committed correction {original}: it declares "
                "nothing (a correction declares its change once; write a new one)",
            )
        )
    return kept, copies


def _head_results(ws: Workspace, globs: DocumentGlobs, ids: set[str]) -> set[str]:
    """Which of `ids` have a result in HEAD (none before the first commit)."""
    assert ws.git is not None
    try:
        return globs.results_held(ws.git.ls_tree("HEAD", globs.prefixes()), ids)
    except ExpflowError:
        return set()


def _readded(
    ws: Workspace,
    changes: list[Change],
    globs: DocumentGlobs,
    *,
    edited: Sequence[Correction] | None = None,
    declarable: bool = True,
) -> list[Finding]:
    """Results the index adds for an experiment whose result a correction in HEAD deletes
    (`rm`): no chain of corrections leads on from a deletion, so `audit --since` reports
    the new one as a rewrite; refused here too. Only the end of the run's chain of
    corrections comes back (`corrections.chain_ends`, in the order HEAD's history
    committed them): the blob its last deletion superseded, the `rm` undone. A blob a
    later correction superseded is refused (issue 18, thirty-second pass: any blob the
    run's corrections named passed, the inflated score a correction had replaced too). A
    record added for such a run must be the one it had (`_changed_on_the_way_back`).
    `edited` (write-once off, where neither the write-once nor the frozen-record check
    judges an edit: the corrections the index adds) also judges what the index changes in
    place: a record of such a run must still be the one it had, and a result the end of
    the run's chain, the corrections staged with it taken as its next steps (a put-back
    run's record or result edited passed here under `results_immutable: false` and
    failed `audit --since`, which holds a run deleted on record to its chain whatever the
    setting; issue 18, a hunt; none under `deny`, where none declares anything:
    `declarable` False). HEAD's corrections are read only when the index adds (or,
    `edited`, changes) a result or a record."""
    # Every added result, also one the index seems to move: a file HEAD's policy never
    # called a result, moved in under a widened glob, is no committed result moving (a
    # review: a deleted run came back so); a put-back result that moves keeps its blob,
    # the end of the run's chain.
    added = [c for c in changes if c.status == "A" and c.new_sha and globs.is_result(c.path)]
    in_place = ("A", "M", "T") if edited is not None else ("A",)
    records = {stem(c.path) for c in changes if c.status in in_place and globs.is_record(c.path)}
    changed = [
        c
        for c in changes
        if c.status in in_place[1:]
        and c.new_sha
        and c.new_mode in REGULAR_MODES
        and globs.is_result(c.path)
    ]
    if not (added or records or changed) or ws.git is None:
        return []
    from expflow_git.audit.deleted import (
        corrections_at,
        deletions,
        in_commit_order,
        records_changed,
    )

    with BlobReader(ws.git) as reader:
        committed = corrections_at(ws.git, reader, "HEAD", globs)
        deleting = deletions(committed)  # experiment -> corrections deleting it
        returning = [c for c in added if stem(c.path) in deleting]
        changed = [c for c in changed if stem(c.path) in deleting]
        ends = (
            chain_ends(
                in_commit_order(
                    ws.git, "HEAD", globs, (c for c in committed if c.experiment in deleting)
                )
            )
            if returning or changed
            else {}
        )
        steps = [c for c in edited or () if c.experiment in deleting]
        after = chain_ends(chain_order(steps), start=ends) if changed else {}
        refused = [
            Finding(
                c.path,
                RULE,
                f"the staged change adds a result of experiment {stem(c.path)!r}, whose "
                f"result a committed correction deletes ({deleting[stem(c.path)][0].path}): "
                "a run deleted on record does not come back under its id but as the result "
                "it had when deleted, the `rm` undone, never as one a correction superseded "
                "nor overwritten in the same commit (put it back first, then `result "
                "--overwrite` it, PIN-guarded); give a new run a new id",
            )
            for c in returning
            if c.new_sha != live_blob(ends[stem(c.path)])
        ]
        refused += [
            Finding(
                c.path,
                RULE,
                f"the staged change modifies a result of experiment {stem(c.path)!r}, whose "
                f"result a committed correction deletes ({deleting[stem(c.path)][0].path}): "
                "a run deleted on record, put back, holds the result its chain of "
                "corrections ends at, whatever `results_immutable` says; "
                + (
                    "declare the change with `result --overwrite` (PIN-guarded)"
                    if declarable
                    else "under `protect: {corrections: deny}` no correction declares one"
                ),
            )
            for c in changed
            if c.new_sha != live_blob(after[stem(c.path)])
        ]
        back = {stem(c.path) for c in added if stem(c.path) in deleting} | (
            records & deleting.keys()
        )
        if back:
            now = _records_now(ws, changes, globs, back)
            refused += records_changed(
                ws.git, reader, "HEAD", globs, deleting, now, where="the staged change"
            )
    return refused


def _records_now(
    ws: Workspace, changes: list[Change], globs: DocumentGlobs, ids: set[str]
) -> dict[str, tuple[str, str | None]]:
    """The records of `ids` as the commit will hold them (staged, else HEAD's): path and
    blob (None where it is no file: a symlink or a submodule is no record as it was)."""
    assert ws.git is not None
    now: dict[str, tuple[str, str | None]] = {}
    for c in changes:
        if c.status in ("A", "M", "T") and globs.is_record(c.path) and stem(c.path) in ids:
            now[stem(c.path)] = (c.path, c.new_sha if c.new_mode in REGULAR_MODES else None)
    touched = {c.path for c in changes}
    for e in ws.git.ls_tree("HEAD", globs.prefixes()):
        if e.path not in touched and globs.is_record(e.path) and stem(e.path) in ids:
            now.setdefault(stem(e.path), (e.path, e.sha if e.mode in REGULAR_MODES else None))
    return now
