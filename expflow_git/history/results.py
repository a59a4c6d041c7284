"""Results are write-once (docs/spec.md §2.2, §6.2 item 7; docs/threat-model.md).

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
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from expflow_git.checks import Problem
from expflow_git.corrections import (
    Correction,
    Rewrite,
    additions,
    chain_ends,
    check_correction,
    correction_changes,
    is_added_correction,
    judge,
    leading_to,
    live_blob,
    reachable,
)
from expflow_git.documents import stem
from expflow_git.errors import Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Change, TreeEntry
from expflow_git.history.walk import Walk, documents, is_doc
from expflow_git.identity import REGULAR_MODES, DocumentGlobs, ResultRewrite, result_rewrites
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind

RULE = Problem.RESULT_REWRITTEN.value


@dataclass
class Declared:
    """The corrections the audit may accept rewrites by, read once: those each commit
    adds (by blob), and those at REV that BASE does not have (for BASE against REV)."""

    blobs: dict[str, bytes]
    # By the experiment they name: each run's chains are followed over its own
    # corrections, not over every correction of the range (E × C).
    new_at_rev: dict[str, list[Correction]]

    @classmethod
    def read(cls, walk: Walk, policy: Policy, reader: BlobReader) -> Declared:
        if not policy.corrections_allowed:
            return cls({}, {})  # nothing declares anything: read nothing
        wanted = {
            c.new_sha
            for _, changes in walk.commits
            for c in changes
            if is_added_correction(c, policy) and c.new_sha is not None
        }
        judged = _judged_corrections(policy)
        at_base = {e.sha for e in walk.base_tree if is_doc(e, judged)}
        # New since BASE by blob: a copy of an older correction declares nothing new.
        at_rev = [e for e in walk.rev_tree if is_doc(e, judged) and e.sha not in at_base]
        blobs = dict(reader.read_many(sorted(wanted | {e.sha for e in at_rev})))
        new_at_rev: dict[str, list[Correction]] = {}
        for e in at_rev:
            correction = check_correction(e.path, blobs[e.sha])[0]
            if correction is not None:
                new_at_rev.setdefault(correction.experiment, []).append(correction)
        return cls(blobs, new_at_rev)


def _judged_corrections(policy: Policy) -> Callable[[str], bool]:
    """The judging policy's corrections: the only ones that declare (the report lists them)."""
    return lambda path: policy.kind_of(path) is Kind.CORRECTION


def rewritten_results(
    walk: Walk,
    globs: DocumentGlobs,
    policy: Policy,
    committed: dict[str, int],
    declared: Declared,
    *,
    immutable: bool = True,
    parent_results: Callable[[str, set[str]], set[str]] = lambda commit, ids: ids,
    at_rev: Policy | None = None,
) -> list[Finding]:
    """Each commit's rewrites of committed results that no correction added in that
    commit declares (none unless `immutable`: `protect.results_immutable`), and the
    findings about its corrections (corrections.judge). A run deleted on record brought
    back is reported whatever `immutable` (the protect hook refuses it so).
    `parent_results(commit, ids)`: which of `ids` the commit's first parent holds a
    result of (asked only of a commit adding a correction that deletes a run it does
    not touch: `corrections.additions`). `at_rev`: the audited commit's own policy,
    which must still read every committed result left in place."""
    findings: list[Finding] = []
    suffix = (
        "; no correction added in that commit declares it" if policy.corrections_allowed else ""
    )
    # Each run's last declared correction so far along the walk (`chain_ends`): a result
    # a commit adds for a run whose end is a deletion must be the blob it superseded.
    ends: dict[str, Correction] = {}
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
        verdict = judge(
            list(rewrites),
            added,
            about,
            policy,
            where=where,
            additions=additions(
                changes,
                globs.is_result,
                added,
                functools.partial(parent_results, commit),
            ),
        )
        findings.extend(verdict.findings)
        # One chain along the whole walk: a correction that does not follow it moves no
        # end (a deletion of a second copy of a superseded blob made that blob the end,
        # and it came back ranked; a hunt of the chain). The commit's own steps count
        # for what it adds: the `rm` undone and overwritten in one commit passed with
        # the deletion before BASE and failed with it in the range (a review).
        ends = chain_ends((c for _, c in verdict.declared), start=ends)
        findings += _back_after_deletion(commit, changes, globs, ends, rewrites)
        for rewrite in verdict.uncovered if immutable else ():
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
    if not immutable:
        return findings  # rewrites are not refused: nor is a result off its chain
    findings += _ends_at_rev(walk, globs, ends, {stem(f.path) for f in findings if f.rule == RULE})
    if globs.policies == (policy,):
        return findings  # one set of globs: nothing can fall out of them
    # Left in place but no longer a result under the policy that judges REV, or under
    # REV's own: once merged, that one judges, the result is out of every audit, and the
    # next pull request adds the run another (a hunt, issue 18 thirty-seventh pass: under
    # `--policy-ref BASE` only the judging policy was asked; the hook refuses it).
    for entry in walk.rev_tree:
        if stem(entry.path) not in committed or not globs.is_result(entry.path):
            continue
        for by in (policy, at_rev):
            if by is not None and by.kind_of(entry.path) is not Kind.RESULT:
                where = "" if by is policy else " at the audited commit"
                findings.append(
                    Finding(
                        entry.path,
                        RULE,
                        f"committed result of experiment {stem(entry.path)!r} is no longer "
                        f"matched by paths.results of {by.path}{where}: it dropped out "
                        "of the audit",
                    )
                )
                break
    return findings


def _back_after_deletion(
    commit: str,
    changes: list[Change],
    globs: DocumentGlobs,
    ends: dict[str, Correction],
    rewrites: dict[Rewrite, ResultRewrite],
) -> list[Finding]:
    """Results `commit` adds for runs whose last declared correction is a deletion, other
    than the blob that deletion superseded (the `rm` undone): a blob an earlier
    correction superseded, put back after the `rm`, passed as one on the run's chain
    (issue 18, thirty-second pass; docs/spec.md §2.4)."""
    rewritten = {r.experiment for r in rewrites}
    out = []
    for c in changes:
        exp_id = stem(c.path)
        end = ends.get(exp_id)
        if (
            end is None
            or end.blob is not None
            or exp_id in rewritten
            or c.status != "A"
            or c.new_sha is None
            or c.new_mode not in REGULAR_MODES
            or not globs.is_result(c.path)
            or c.new_sha == live_blob(end)
        ):
            continue
        out.append(
            Finding(
                c.path,
                RULE,
                f"commit {commit[:12]} adds a result of experiment {exp_id!r} (blob "
                f"{c.new_sha[:12]}) after a correction deleted it ({end.path}): a run "
                f"deleted on record comes back only as the blob {end.supersedes[:12]} it "
                "had when deleted (the `rm` undone), not as one a correction superseded",
            )
        )
    return out


def _ends_at_rev(
    walk: Walk, globs: DocumentGlobs, ends: dict[str, Correction], reported: set[str]
) -> list[Finding]:
    """REV's results of runs the walk's declared corrections changed, against the end of
    each run's chain: the walk sees each commit against its first parent only, so a merge
    that keeps a side's blob the main line corrected away shows no change."""
    out = []
    for exp_id, entries in sorted(documents(walk.rev_tree, globs.is_result).items()):
        end = ends.get(exp_id)
        if end is None or exp_id in reported:
            continue
        for entry in entries:
            if entry.sha != live_blob(end):
                out.append(
                    Finding(
                        entry.path,
                        RULE,
                        f"committed result of experiment {exp_id!r} (blob {entry.sha[:12]}) "
                        f"at the audited commit is not the end of its chain of corrections "
                        f"({end.path}: {end.change()})",
                    )
                )
    return out


def _as_rewrite(r: ResultRewrite) -> Rewrite:
    """A result rewrite as corrections.py matches it: experiment, old blob → new blob."""
    return Rewrite(r.experiment, r.change.path, r.change.old_sha or "", r.new_sha)


def net_results(
    walk: Walk,
    globs: DocumentGlobs,
    policy: Policy,
    declared: Declared,
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
        for exp_id, entries in documents(walk.rev_tree, globs.is_result).items()
    }
    suffix = (
        "; no chain of corrections new since BASE leads from that blob to the audited one"
        if policy.corrections_allowed
        else ""
    )
    findings = []
    # By experiment, as write_once skips: a result moved, then deleted, was reported at
    # the path it was moved to, and again here at BASE's path as "no commit's change
    # shows it (a merge of an unrelated history?)" (a hunt, issue 18 twenty-fourth pass).
    reported_ids = {stem(path) for path in reported}
    for exp_id, entries in documents(walk.base_tree, globs.is_result).items():
        if exp_id in reported_ids:
            continue
        leading: set[str | None] | None = None  # the blobs a chain leads from to REV's
        for entry in entries:
            if entry.sha in at_rev.get(exp_id, set()):
                continue
            if policy.corrections_allowed:
                if leading is None:
                    held: set[str | None] = {*at_rev.get(exp_id, ())} or {None}
                    leading = leading_to(declared.new_at_rev.get(exp_id, ()), exp_id, held)
                if entry.sha in leading:
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


def write_once(
    walk: Walk,
    globs: DocumentGlobs,
    policy: Policy,
    declared: Declared,
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
    base = documents(walk.base_tree, globs.is_result)
    rev = documents(walk.rev_tree, globs.is_result)
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
    chains = declared.new_at_rev if policy.corrections_allowed else {}
    findings = []
    for exp_id, blobs in sorted(seen.items()):
        wanted: set[str | None] = {*blobs, *(() if exp_id in rev else (None,))}
        if len(wanted) < 2 or exp_id in reported:
            continue
        if exp_id in base:  # from every result BASE holds, in one walk
            covered = reachable(chains.get(exp_id, ()), exp_id, *(e.sha for e in base[exp_id]))
        else:  # a run new in the range: its earliest result is its first
            first_sha = min(blobs, key=lambda b: (blobs[b][0], b))
            covered = reachable(chains.get(exp_id, ()), exp_id, first_sha)
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


def net_corrections(
    walk: Walk,
    globs: DocumentGlobs,
    policy: Policy,
    at_rev: Policy,
    reader: BlobReader,
    reported: set[str],
) -> list[Finding]:
    """BASE's corrections against REV's, net of the walk, in one pass over each tree:

    - one REV does not hold at the same path byte for byte, where no commit showed the
      change: append-only across a merge that hides it from the walk;
    - a valid one of BASE's, or one the range adds under the judging policy's globs,
      that REV's own policy (`at_rev`) does not call a correction: once merged, it would
      delete or correct nothing (the run comes back);
    - a valid one REV's policy calls a correction and the judging one (`policy`) does
      not: never judged as one when it was added, and once merged BASE's own policy
      would make it an anchor of a deleted run. A correction takes effect only under a
      policy that judged it added."""
    missing: list[TreeEntry] = []
    dropped: list[TreeEntry] = []
    for e in walk.base_tree:
        if e.path in reported or not is_doc(e, globs.is_correction):
            continue
        if (e.path, e.sha) not in walk.rev_blobs:
            missing.append(e)
        elif at_rev.kind_of(e.path) is not Kind.CORRECTION:
            dropped.append(e)
    findings = [
        Finding(
            e.path,
            Problem.CORRECTION_REWRITTEN.value,
            f"a committed correction (blob {e.sha[:12]}) is not at the audited commit as it "
            "was, and no commit's change against its first parent shows it (a merge of an "
            "unrelated history?); corrections are append-only",
        )
        for e in missing
    ]
    unjudged: list[TreeEntry] = []
    if at_rev is not policy:
        skip = reported | {e.path for e in missing}
        at_base = {e.path for e in walk.base_tree}
        for e in walk.rev_tree:
            if e.path in skip or e.type != "blob" or e.mode not in REGULAR_MODES:
                continue
            if at_rev.kind_of(e.path) is Kind.CORRECTION:
                if policy.kind_of(e.path) is not Kind.CORRECTION:
                    unjudged.append(e)
            elif e.path not in at_base and policy.kind_of(e.path) is Kind.CORRECTION:
                # One the range adds, judged (and listed) as a correction here, that REV's
                # own policy does not read: once merged it would delete or correct nothing,
                # as one of BASE's would (a hunt, issue 18 thirty-seventh pass: an `rm` and
                # `paths.corrections` moved off it in one pull request, then the run
                # brought back by the next).
                dropped.append(e)
    entries = [*dropped, *unjudged]
    if not entries:
        return findings
    valid = {
        e.path
        for e, (_, data) in zip(entries, reader.read_many(e.sha for e in entries), strict=True)
        if check_correction(e.path, data)[0] is not None
    }
    findings += (
        Finding(
            e.path,
            Problem.CORRECTION_REWRITTEN.value,
            f"a committed correction (blob {e.sha[:12]}) is no longer read as one by "
            f"{at_rev.path} at the audited commit (paths.corrections): once merged, it would "
            "delete or correct nothing; corrections are append-only",
        )
        for e in dropped
        if e.path in valid
    )
    findings += (
        Finding(
            e.path,
            Problem.CORRECTION_UNMATCHED.value,
            f"a correction (blob {e.sha[:12]}) that {at_rev.path} at the audited commit reads "
            "and the judging policy does not: a correction counts only under a policy that "
            "judged it when it was added (land the paths.corrections change first)",
        )
        for e in unjudged
        if e.path in valid
    )
    return findings
