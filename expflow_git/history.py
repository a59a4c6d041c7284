"""History audit (SPEC §6.2 item 7): in BASE..REV, a committed result that a
later commit changes or deletes is a `result-rewritten` finding, unless a
correction added in that same commit declares it (corrections.py)."""

from __future__ import annotations

import re

from expflow_git.documents import stem
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitstore import BlobReader, Git
from expflow_git.globs import matches_any
from expflow_git.policy import Policy

RULE = "result-rewritten"
_WILDCARD = re.compile(r"[*?\[]")


def literal_prefix(glob: str) -> str:
    """The directory part of a glob before its first wildcard (git pathspecs are literal here)."""
    head = _WILDCARD.split(glob, maxsplit=1)[0]
    return head[: head.rfind("/") + 1] if "/" in head else ""


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


def rewritten_results(git: Git, base: str, rev_sha: str, policy: Policy) -> list[Finding]:
    """One finding per change or deletion of an already-committed result in BASE..REV
    that no correction of its commit declares, and per finding about corrections."""
    from expflow_git.corrections import judge_changes

    globs = policy.result_globs + policy.correction_globs  # corrections: issue 13
    prefixes = sorted({literal_prefix(g) for g in globs})
    paths = [] if "" in prefixes else [p.rstrip("/") for p in prefixes]
    findings: list[Finding] = []
    with BlobReader(git) as reader:  # reads only the corrections a commit adds
        log = list(git.log_changes(base, rev_sha, paths))
        verdicts = [
            judge_changes(changes, policy, reader.read, where=f"in commit {commit[:12]}")
            for commit, changes in log
        ]
    for (commit, changes), verdict in zip(log, verdicts, strict=True):
        findings.extend(verdict.findings)
        for change in changes:
            if change.status not in ("M", "D", "T") or not matches_any(
                change.path, policy.result_globs
            ):
                continue
            if verdict.covers(change.path):
                continue
            verb = "deleted" if change.status == "D" else "changed"
            findings.append(
                Finding(
                    change.path,
                    RULE,
                    f"committed result of experiment {stem(change.path)!r} was {verb} in "
                    f"commit {commit[:12]} (blob {change.old_sha and change.old_sha[:12]} → "
                    f"{change.new_sha[:12] if change.new_sha else 'deleted'})"
                    + (
                        "; no correction added in that commit declares it"
                        if policy.corrections_allowed
                        else ""
                    ),
                )
            )
    return findings
