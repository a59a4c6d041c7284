"""History audit (docs/spec.md §6.2 item 7, §9): what the commits of BASE..REV did, beyond
what the tree of REV shows.

- `result-rewritten`: a committed result (at BASE, or added in the range) that a later
  commit changes, deletes, or replaces with another file for the same experiment,
  unless a correction added in that same commit declares exactly that change
  (corrections.py; never under `protect: {corrections: deny}`). A
  result is its experiment id's: a byte-for-byte move is not a rewrite; a move out of
  the globs is a deletion. Documents are recognised by the globs of the judging policy
  and of the policies at BASE and REV together, so a range that changes `paths`
  hides nothing; a committed result the policy at REV no longer counts is dropped.
- `correction-rewritten` / `correction-unmatched`: a committed correction changed,
  deleted or moved (by any of those policies' globs); a correction added that declares
  no change of its commit.
- `record-rewritten`: a frozen field of a record changed after its run's result was
  committed (see :mod:`expflow_git.identity`).
- every blob added in the range is scanned for PINs and PIN hashes, so a secret
  committed and deleted again inside the range is still found (it stays in the history).

Commits are diffed against their first parent; BASE's results and frozen records are
also compared with REV's directly, for what a merge takes from a first parent that is
not on the way from BASE (there a net change is declared only by a chain of corrections
at REV, new since BASE, each naming one exact step). Two checks over the whole range
make the verdict independent of a merge's parent order: every result blob the range
commits for an id must lie on one chain of declared corrections (`_write_once`), and a
run's record at REV must keep the frozen fields it had beside its result in each commit
that committed that result (`_frozen_at_rev`, read as `<commit>:<path>`).

One `git log --raw` walk, two tree listings and one `git cat-file --batch`
stream, whatever the number of commits: each blob is read once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from expflow_git.checks import Problem
from expflow_git.corrections import (
    Correction,
    Rewrite,
    check_correction,
    correction_changes,
    is_added_correction,
    judge,
    reachable,
)
from expflow_git.documents import stem
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Change, Git, TreeEntry
from expflow_git.globs import matches_any
from expflow_git.identity import (
    FROZEN_FIELDS,
    REGULAR_MODES,
    DocumentGlobs,
    Frozen,
    RecordEdit,
    ResultRewrite,
    changed_fields,
    frozen_message,
    frozen_view,
    literal_prefix,
    readable_new,
    record_edits,
    result_rewrites,
)
from expflow_git.pinscan.scanner import FileClass, file_class, name_findings, scan_content
from expflow_git.policy.load import load_policy_bytes
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind

RULE = Problem.RESULT_REWRITTEN.value
_Edit = tuple[int, RecordEdit, bool]  # commit position, the edit, frozen then
RECORD_RULE = Problem.RECORD_REWRITTEN.value
# Blobs larger than this are data, not where a PIN hash is typed (as the tree's scan).
MAX_SCAN_BYTES = 8 * 1024 * 1024

__all__ = ["RULE", "RECORD_RULE", "history_findings", "literal_prefix", "resolve_base"]


def resolve_base(git: Git, base: str, rev_sha: str) -> str:
    """BASE as a commit in the history of REV; a shallow clone gets the fetch-depth hint."""
    hint = (
        (
            " — this is a shallow clone: fetch the full history (actions/checkout with "
            "`fetch-depth: 0`)"
        )
        if git.is_shallow()
        else ""
    )
    try:
        base_sha = git.resolve_commit(base).sha
    except ExpflowError as exc:
        raise ExpflowError(f"--since {base}: {exc.message}{hint}") from None
    if not git.is_ancestor(base_sha, rev_sha):
        raise ExpflowError(f"--since {base} is not an ancestor of the audited commit{hint}")
    return base_sha


@dataclass
class _Walk:
    """The range as git's log gives it, and what the audit needs to read from it."""

    commits: list[tuple[str, list[Change]]]
    base_tree: list[TreeEntry]
    rev_tree: list[TreeEntry]
    # Every (path, blob) added in the range with the first commit that added it.
    added: dict[tuple[str, str], str] = field(default_factory=dict)


def history_findings(
    git: Git, base: str, rev_sha: str, policy: Policy, *, scan: bool = True
) -> list[Finding]:
    """Findings about BASE..REV (`base` a resolved ancestor of `rev_sha`), sorted by path.

    `policy` judges (its scan.allow exempts paths from the scan); the policies at BASE
    and REV (same path) only widen what counts as a document.
    """
    walk = _Walk(
        commits=list(git.log_changes(base, rev_sha, [])),
        base_tree=git.ls_tree(base),
        rev_tree=git.ls_tree(rev_sha),
    )
    with BlobReader(git) as reader:
        globs = DocumentGlobs.of(
            policy,
            _policy_at(reader, walk.base_tree, policy),
            _policy_at(reader, walk.rev_tree, policy),
        )
        with_result = _result_ids(walk, globs)
        declared = _Declared.read(walk, policy, reader)
        findings = _rewritten_results(walk, globs, policy, with_result, declared)
        reported = {f.path for f in findings if f.rule == RULE}
        findings += _net_results(walk, globs, policy, declared, reported)
        findings += _write_once(walk, globs, policy, declared, _ids(findings, RULE))
        findings += _net_corrections(walk, globs, {f.path for f in findings})
        edits, base_records = _frozen_candidates(walk, globs, with_result)
        net = _net_record_candidates(walk, globs)
        if scan:
            _collect_added(walk, policy)
        blobs = _Reads(walk, edits, base_records, scan)
        blobs.records.update(sha for pair in net.values() for sha in (pair[0], pair[1].sha))
        introduced = _introduced_results(walk, globs)
        blobs.records.update(entry.sha for entry, _, _ in introduced.values())
        views, scanned = blobs.read(reader)
        records = _rewritten_records(walk, edits, base_records, views)
        records += _net_records(net, views, _ids(records, RECORD_RULE))
        records += _frozen_at_rev(reader, introduced, views, _ids(records, RECORD_RULE))
    findings += records
    findings += _scan_findings(walk, scanned)
    return sorted(findings, key=_key)


def _key(f: Finding) -> tuple[bytes, int, int, str, str, str]:
    return (
        f.path.encode("utf-8", "surrogateescape"),
        f.line or 0,
        f.col or 0,
        f.pointer,
        f.rule,
        f.message,
    )


def _policy_at(reader: BlobReader, tree: list[TreeEntry], judge: Policy) -> Policy | None:
    """The policy a tree holds at the judging policy's path, if it loads and differs
    (it only adds globs to look at)."""
    entry = next((e for e in tree if e.path == judge.path), None)
    if entry is None or entry.type != "blob" or entry.mode not in REGULAR_MODES:
        return None
    data = reader.read(entry.sha)
    if hashlib.sha256(data).hexdigest() == judge.sha256:
        return None  # the judging policy itself
    try:
        return load_policy_bytes(data, path=judge.path)
    except ExpflowError:
        return None


# --------------------------------------------------------------------------- results
@dataclass
class _Declared:
    """The corrections the audit may accept rewrites by, read once: those each commit
    adds (by blob), and those at REV that BASE does not have (for BASE against REV)."""

    blobs: dict[str, bytes]
    new_at_rev: list[Correction]

    @classmethod
    def read(cls, walk: _Walk, policy: Policy, reader: BlobReader) -> _Declared:
        if not policy.corrections_allowed:
            return cls({}, [])  # nothing declares anything: read nothing
        wanted = {
            c.new_sha
            for _, changes in walk.commits
            for c in changes
            if is_added_correction(c, policy) and c.new_sha is not None
        }
        judged = _judged_corrections(policy)
        at_base = {e.sha for e in walk.base_tree if _is_doc(e, judged)}
        # New since BASE by blob: a copy of an older correction declares nothing new.
        at_rev = [e for e in walk.rev_tree if _is_doc(e, judged) and e.sha not in at_base]
        blobs = dict(reader.read_many(sorted(wanted | {e.sha for e in at_rev})))
        new_at_rev = [check_correction(e.path, blobs[e.sha])[0] for e in at_rev]
        return cls(blobs, [c for c in new_at_rev if c is not None])


def _judged_corrections(policy: Policy) -> Callable[[str], bool]:
    """The judging policy's corrections: the only ones that declare (the report lists them)."""
    return lambda path: policy.kind_of(path) is Kind.CORRECTION


def _rewritten_results(
    walk: _Walk,
    globs: DocumentGlobs,
    policy: Policy,
    committed: dict[str, int],
    declared: _Declared,
) -> list[Finding]:
    """Each commit's rewrites of committed results that no correction added in that
    commit declares, and the findings about its corrections (corrections.judge)."""
    findings: list[Finding] = []
    suffix = (
        "; no correction added in that commit declares it" if policy.corrections_allowed else ""
    )
    for commit, changes in walk.commits:
        where = f"in commit {commit[:12]}"
        rewrites = {_as_rewrite(r): r for r in result_rewrites(changes, globs)}
        added, about = correction_changes(
            changes,
            policy,
            # Under `deny` nothing was read: an empty blob parses as no correction.
            lambda sha: declared.blobs.get(sha, b""),
            where=where,
            watched=globs.is_correction,
        )
        verdict = judge(list(rewrites), added, about, policy, where=where)
        findings.extend(verdict.findings)
        for rewrite in verdict.uncovered:
            r = rewrites[rewrite]
            old, new = r.change.old_sha, r.new_sha
            findings.append(
                Finding(
                    r.change.path,
                    RULE,
                    f"committed result of experiment {r.experiment!r} was {r.verb} in "
                    f"commit {commit[:12]} (blob {old and old[:12]} → "
                    f"{new[:12] if new else 'deleted'}){suffix}",
                )
            )
    if globs.policies == (policy,):
        return findings  # one set of globs: nothing can fall out of them
    # Left in place but no longer a result under the policy that judges REV.
    for entry in walk.rev_tree:
        if (
            stem(entry.path) in committed
            and globs.is_result(entry.path)
            and policy.kind_of(entry.path) is not Kind.RESULT
        ):
            findings.append(
                Finding(
                    entry.path,
                    RULE,
                    f"committed result of experiment {stem(entry.path)!r} is no longer "
                    f"matched by paths.results of {policy.path}: it dropped out of the audit",
                )
            )
    return findings


def _as_rewrite(r: ResultRewrite) -> Rewrite:
    """A result rewrite as corrections.py matches it: experiment, old blob → new blob."""
    return Rewrite(r.experiment, r.change.path, r.change.old_sha or "", r.new_sha)


def _documents(tree: list[TreeEntry], test: Callable[[str], bool]) -> dict[str, list[TreeEntry]]:
    """A tree's documents of one kind by experiment id, each id's in path order."""
    by_id: dict[str, list[TreeEntry]] = {}
    for entry in tree:  # ls-tree lists in path order
        if _is_doc(entry, test):
            by_id.setdefault(stem(entry.path), []).append(entry)
    return by_id


def _net_results(
    walk: _Walk,
    globs: DocumentGlobs,
    policy: Policy,
    declared: _Declared,
    reported: set[str],
) -> list[Finding]:
    """BASE's results that REV no longer holds byte for byte, where no commit's diff
    against its first parent showed it: a merge whose first parent is an unrelated
    history (an orphan branch already holding the rewrite) hides it from the walk.

    Accepted only where corrections new at REV lead, one exact step (experiment, old
    blob → new blob) each, from BASE's blob to one REV holds for that id (or to a
    deletion, if REV holds none): the walk accepted each commit's own steps, this
    checks the net change they add up to."""
    at_rev = {
        exp_id: {e.sha for e in entries}
        for exp_id, entries in _documents(walk.rev_tree, globs.is_result).items()
    }
    suffix = (
        "; no chain of corrections new since BASE leads from that blob to the audited one"
        if policy.corrections_allowed
        else ""
    )
    findings = []
    for exp_id, entries in _documents(walk.base_tree, globs.is_result).items():
        for entry in entries:
            if entry.sha in at_rev.get(exp_id, set()) or entry.path in reported:
                continue
            held: set[str | None] = set(at_rev.get(exp_id, ())) or {None}
            if (
                policy.corrections_allowed
                and reachable(declared.new_at_rev, exp_id, entry.sha) & held
            ):
                continue
            findings.append(
                Finding(
                    entry.path,
                    RULE,
                    f"committed result of experiment {exp_id!r} (blob {entry.sha[:12]}) is "
                    "not at the audited commit, and no commit's change against its first "
                    "parent shows it (a merge of an unrelated history?)" + suffix,
                )
            )
    return findings


def _write_once(
    walk: _Walk,
    globs: DocumentGlobs,
    policy: Policy,
    declared: _Declared,
    reported: set[str],
) -> list[Finding]:
    """Write-once over the whole range, whatever the parents' order: every result blob
    any commit of BASE..REV committed for an experiment (a merge's diff against its first
    parent shows what it takes from the others and what it makes itself), with BASE's
    and REV's, and "deleted" when REV holds none. Each commit's diff shows only the
    steps on its own first-parent line: a result committed on one branch and dropped by
    a merge that keeps another's is seen only here.

    One of them is the run's first result (BASE's, else the earliest in the walk);
    every other must be where a chain of corrections new at REV leads from it (as for
    BASE against REV: a run deleted on record and re-added has no chain, and is reported)."""
    base = _documents(walk.base_tree, globs.is_result)
    rev = _documents(walk.rev_tree, globs.is_result)
    # experiment -> blob -> (walk position where first committed, -1 at BASE; a path)
    seen: dict[str, dict[str, tuple[int, str]]] = {}
    for exp_id, entries in base.items():
        for entry in entries:
            seen.setdefault(exp_id, {}).setdefault(entry.sha, (-1, entry.path))
    for i, (_, changes) in enumerate(walk.commits):
        for c in changes:
            if c.new_sha is not None and c.new_mode in REGULAR_MODES and globs.is_result(c.path):
                seen.setdefault(stem(c.path), {}).setdefault(c.new_sha, (i, c.path))
    for exp_id, entries in rev.items():
        for entry in entries:
            seen.setdefault(exp_id, {}).setdefault(entry.sha, (len(walk.commits), entry.path))
    chains = declared.new_at_rev if policy.corrections_allowed else []
    findings = []
    for exp_id, blobs in sorted(seen.items()):
        wanted: set[str | None] = {*blobs, *(() if exp_id in rev else (None,))}
        if len(wanted) < 2 or exp_id in reported:
            continue
        covered: set[str | None] = set()
        for held in base.get(exp_id, []):
            covered |= reachable(chains, exp_id, held.sha)
        if exp_id not in base:  # a run new in the range: its earliest result is its first
            first_sha = min(blobs, key=lambda b: (blobs[b][0], b))
            covered = reachable(chains, exp_id, first_sha)
        first = min(blobs.values())[1]
        for missed in sorted(wanted - covered, key=lambda b: b or ""):
            what = (
                f"blob {missed[:12]} (at {blobs[missed][1]})"
                if missed is not None
                else "its deletion (the audited commit holds none)"
            )
            findings.append(
                Finding(
                    blobs[missed][1] if missed is not None else first,
                    RULE,
                    f"experiment {exp_id!r} has {len(wanted)} different committed results "
                    f"in the range: no chain of corrections new since BASE leads to {what} "
                    "from its first result (a merge kept one branch's result over another's?)",
                )
            )
    return findings


def _ids(findings: list[Finding], rule: str) -> set[str]:
    """The experiments (file stems) that findings of `rule` are about."""
    return {stem(f.path) for f in findings if f.rule == rule}


def _net_corrections(walk: _Walk, globs: DocumentGlobs, reported: set[str]) -> list[Finding]:
    """BASE's corrections that REV does not hold at the same path byte for byte, where no
    commit showed the change: append-only across a merge that hides it from the walk."""
    at_rev = {(e.path, e.sha) for e in walk.rev_tree}
    return [
        Finding(
            e.path,
            Problem.CORRECTION_REWRITTEN.value,
            f"a committed correction (blob {e.sha[:12]}) is not at the audited commit as it "
            "was, and no commit's change against its first parent shows it (a merge of an "
            "unrelated history?); corrections are append-only",
        )
        for e in walk.base_tree
        if _is_doc(e, globs.is_correction)
        and (e.path, e.sha) not in at_rev
        and e.path not in reported
    ]


def _net_record_candidates(walk: _Walk, globs: DocumentGlobs) -> dict[str, tuple[str, TreeEntry]]:
    """Runs with a result at BASE whose record's blob differs at REV: BASE's blob and REV's."""
    with_result = _documents(walk.base_tree, globs.is_result)
    base = _documents(walk.base_tree, globs.is_record)
    rev = _documents(walk.rev_tree, globs.is_record)
    return {
        exp_id: (base[exp_id][0].sha, rev[exp_id][0])
        for exp_id in with_result
        if exp_id in base and exp_id in rev and base[exp_id][0].sha != rev[exp_id][0].sha
    }


def _net_records(
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


def _result_ids(walk: _Walk, globs: DocumentGlobs) -> dict[str, int]:
    """Experiments that had a committed result: at BASE (-1) or first at which
    position of the walk."""
    ids = {stem(e.path): -1 for e in walk.base_tree if _is_doc(e, globs.is_result)}
    for i, (_, changes) in enumerate(walk.commits):
        for c in changes:
            if c.new_mode in REGULAR_MODES and globs.is_result(c.path):
                ids.setdefault(stem(c.path), i)
    return ids


def _is_doc(entry: TreeEntry, test: Callable[[str], bool]) -> bool:
    return entry.type == "blob" and entry.mode in REGULAR_MODES and test(entry.path)


# --------------------------------------------------------------------------- records
def _frozen_candidates(
    walk: _Walk, globs: DocumentGlobs, with_result: dict[str, int]
) -> tuple[list[_Edit], dict[str, str]]:
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
        if stem(entry.path) in wanted and _is_doc(entry, globs.is_record):
            base_records.setdefault(stem(entry.path), entry.sha)
    return edits, base_records


def _rewritten_records(
    walk: _Walk,
    edits: list[_Edit],
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


def _introduced_results(walk: _Walk, globs: DocumentGlobs) -> dict[str, _Introduced]:
    """Runs whose result at REV was committed in the range (BASE's are _net_records'):
    REV's record, every commit whose diff adds that result blob (its own commit, and a
    merge taking it from a parent other than the first), and every path the run's
    record had (REV's first), to find the record in those commits' trees."""
    base = _documents(walk.base_tree, globs.is_result)
    records = _documents(walk.rev_tree, globs.is_record)
    new = {
        exp_id: {e.sha for e in entries} - {e.sha for e in base.get(exp_id, [])}
        for exp_id, entries in _documents(walk.rev_tree, globs.is_result).items()
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


def _frozen_at_rev(
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


# --------------------------------------------------------------------------- the scan
def _collect_added(walk: _Walk, policy: Policy) -> None:
    """Every file blob the range adds, at each path, with the first commit adding it;
    except what REV still holds at that path (the tree's own scan reports it)."""
    at_rev = {(e.path, e.sha) for e in walk.rev_tree}
    allow = policy.scan_allow
    for commit, changes in walk.commits:
        for c in changes:
            if c.new_sha is None or c.new_mode not in (*REGULAR_MODES, "120000"):
                continue
            key = (c.path, c.new_sha)
            if key in at_rev or key in walk.added:
                continue
            if allow and matches_any(c.path, allow):
                continue
            walk.added[key] = commit


class _Reads:
    """The blobs the history needs, read once each through one stream."""

    def __init__(
        self,
        walk: _Walk,
        edits: list[_Edit],
        base_records: dict[str, str],
        scan: bool,
    ) -> None:
        self.records: set[str] = set(base_records.values())
        for _, edit, _ in edits:
            if edit.old_sha:
                self.records.add(edit.old_sha)
            if readable_new(edit) and edit.change.new_sha:
                self.records.add(edit.change.new_sha)
        self.classes: dict[str, set[FileClass]] = {}  # blob -> how it is read (per path's kind)
        if scan:
            for path, sha in walk.added:
                self.classes.setdefault(sha, set()).add(file_class(path))

    def read(
        self, reader: BlobReader
    ) -> tuple[dict[str, Frozen | None], dict[tuple[str, FileClass], list[Finding]]]:
        views: dict[str, Frozen | None] = {}
        scanned: dict[tuple[str, FileClass], list[Finding]] = {}
        for sha, data in reader.read_many(sorted(self.records | set(self.classes))):
            if sha in self.records:
                views[sha] = frozen_view(data)
            for cls in sorted(self.classes.get(sha, ())):
                big = len(data) > MAX_SCAN_BYTES
                scanned[sha, cls] = [] if big else scan_content(data, cls)
        return views, scanned


def _scan_findings(
    walk: _Walk, scanned: dict[tuple[str, FileClass], list[Finding]]
) -> list[Finding]:
    """Each added (path, blob) the scan flags, naming the commit that added it."""
    findings: list[Finding] = []
    for (path, sha), commit in walk.added.items():
        where = f" (added in commit {commit[:12]}, blob {sha[:12]}; it stays in the history)"
        hits = name_findings(path) + [
            replace(f, path=path) for f in scanned.get((sha, file_class(path)), [])
        ]
        findings.extend(replace(f, message=f.message + where) for f in hits)
    return findings
