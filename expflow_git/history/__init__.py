"""History audit (docs/spec.md §6.2 item 7; docs/threat-model.md): what the commits of
BASE..REV did, beyond what the tree of REV shows.

- results.py: `result-rewritten`, `correction-rewritten` / `correction-unmatched`
  (results are write-once).
- records.py: `record-rewritten` (finished runs' records are frozen).
- secrets.py: every blob added in the range is scanned for PINs and PIN hashes.
- walk.py: the one walk of the range they share; `history_findings` here runs them.

Commits are diffed against their first parent; BASE's results and frozen records are
also compared with REV's directly, for what a merge takes from a first parent that is
not on the way from BASE (there a net change is declared only by a chain of corrections
at REV, new since BASE, each naming one exact step). Two checks over the whole range
make the verdict independent of a merge's parent order: every result blob the range
commits for an id must lie on one chain of declared corrections (`write_once`), and a
run's record at REV must keep the frozen fields it had beside each result blob of the run
in each commit that committed one (`frozen_at_rev`: each commit's record paths followed
through the first-parent diffs, a path no commit changed read as `<commit>:<path>`; a
record there that cannot be read froze as its blob). A merge whose first parent holds no
result of a run, taking the run whole from another parent (`adoptions`), is not judged
against the first parent's record: it gives the run its result as a linear commit does.

One `git log --raw` walk, two tree listings, one `git cat-file --batch-check` of the
walk's trees and one `git cat-file --batch` stream, whatever the number of commits:
each blob is read once; `frozen_at_rev`'s `<commit>:<path>` reads go through a second
stream with git's default delta-base cache (in the bulk one's each commit's folder
tree stayed: 4,000 merges held 674 MB in git).
"""

from __future__ import annotations

import functools

from expflow_git.errors import Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Git
from expflow_git.history.records import (
    RECORD_RULE,
    Introduced,
    adoptions,
    frozen_at_rev,
    frozen_candidates,
    introduced_results,
    net_record_candidates,
    net_records,
    rewritten_records,
    with_fork_records,
)
from expflow_git.history.results import (
    RULE,
    Declared,
    net_corrections,
    net_results,
    rewritten_results,
    write_once,
)
from expflow_git.history.secrets import Reads, collect_added, scan_findings
from expflow_git.history.walk import Walk, ids, key, policy_at, resolve_base, result_ids
from expflow_git.identity import DocumentGlobs, literal_prefix
from expflow_git.policy.model import Policy

__all__ = ["RULE", "RECORD_RULE", "history_findings", "literal_prefix", "resolve_base"]


def _parent_results(git: Git, globs: DocumentGlobs, commit: str, ids: set[str]) -> set[str]:
    """Which of `ids` have a result in `commit`'s first parent (none for a root commit)."""
    if not git.run("rev-list", "--parents", "-n", "1", commit).split()[1:]:
        return set()
    return globs.results_held(git.ls_tree(f"{commit}^1", globs.prefixes()), ids)


def history_findings(
    git: Git, base: str, rev_sha: str, policy: Policy, *, scan: bool = True
) -> list[Finding]:
    """Findings about BASE..REV (`base` a resolved ancestor of `rev_sha`), sorted by path.

    `policy` judges (its scan.allow exempts paths from the scan); the policies at BASE
    and REV (same path) only widen what counts as a document. Unless both the judging
    policy and BASE's have `protect.results_immutable` (the default), no
    `result-rewritten` or `record-rewritten` is reported but for a run deleted on record
    brought back, which the hook refuses whatever the setting.
    """
    walk = Walk(
        commits=list(git.log_changes(base, rev_sha, [])),
        base_tree=git.ls_tree(base),
        rev_tree=git.ls_tree(rev_sha),
    )
    with BlobReader(git) as reader:
        rev_policy = policy_at(reader, walk.rev_tree, policy)
        base_policy = policy_at(reader, walk.base_tree, policy)
        globs = DocumentGlobs.of(policy, base_policy, rev_policy)
        # Write-once holds if the judging policy and BASE's say so: `results_immutable:
        # false` from the start turns the rewrite checks off, as it does in the hook; a
        # range that turns it on judges none of the rewrites made before, which the hook
        # let through (either side's `true` failed them for good: a review); a pull
        # request that turns it off is judged by its base's policy (`--policy-ref`, as
        # the action runs), and BASE's (issue 18, thirty-second pass).
        immutable = policy.results_immutable and (
            base_policy is None or base_policy.results_immutable
        )
        with_result = result_ids(walk, globs)
        declared = Declared.read(walk, policy, reader)
        findings = rewritten_results(
            walk,
            globs,
            policy,
            with_result,
            declared,
            immutable=immutable,
            parent_results=functools.partial(_parent_results, git, globs),
            at_rev=rev_policy,
        )
        reported = {f.path for f in findings if f.rule == RULE}
        if immutable:
            findings += net_results(walk, globs, policy, declared, reported)
            findings += write_once(walk, globs, policy, declared, ids(findings, RULE))
        findings += net_corrections(
            walk, globs, policy, rev_policy or policy, reader, {f.path for f in findings}
        )
        edits, base_records = frozen_candidates(walk, globs, with_result) if immutable else ([], {})
        net = net_record_candidates(walk, globs, policy) if immutable else {}
        if scan:
            collect_added(walk, policy)
        blobs = Reads(walk, edits, base_records, scan)
        blobs.records.update(sha for pair in net.values() for sha in (pair[0], pair[1].sha))
        introduced = with_fork_records(
            git,
            base,
            introduced_results(walk, globs, policy) if immutable else Introduced({}, []),
            globs,
        )
        blobs.records.update(entry.sha for entry, _, _ in introduced.runs.values())
        views, scanned = blobs.read(reader)
        adopted = adoptions(git, reader, walk, globs, base, introduced.links)
        records = rewritten_records(walk, edits, base_records, views, adopted)
        records += net_records(net, views, ids(records, RECORD_RULE))
        # `<commit>:<path>` reads, each a walk of that commit's trees: not through the
        # bulk reader, whose raised delta-base cache kept every commit's folder tree.
        with BlobReader(git, bulk=False) as at_commits:
            records += frozen_at_rev(at_commits, introduced, views, ids(records, RECORD_RULE))
    findings += records
    findings += scan_findings(walk, scanned)
    return sorted(findings, key=key)
