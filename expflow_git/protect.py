"""`protect`: results are write-once. A staged change or deletion of a result
that HEAD already has is refused unless a correction staged with it declares it
and the PIN approves it (SPEC §5, §2.2; corrections.py, issue 13)."""

from __future__ import annotations

from dataclasses import dataclass

from expflow_git.checks import Rules
from expflow_git.corrections import Correction, judge_changes
from expflow_git.documents import stem
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitstore import zsplit
from expflow_git.globs import matches_any
from expflow_git.validate import Workspace

RULE = "result-rewritten"


@dataclass(frozen=True)
class StagedRewrite:
    path: str
    status: str  # git's letter: M modified, D deleted, T type changed

    def finding(self, *, corrections: bool = False) -> Finding:
        """The refusal; `corrections`: when only a correction staged with it can approve it."""
        verb = {"D": "deletes", "T": "changes the type of"}.get(self.status, "modifies")
        how = (
            "no correction staged with it declares it; write one with `expflow-git result ID "
            "--overwrite --reason TEXT` or `expflow-git rm ID --reason TEXT`"
            if corrections
            else "approve with the PIN via EXPFLOW_PIN"
        )
        return Finding(
            self.path,
            RULE,
            f"the staged change {verb} a committed result (results are write-once; {how})",
        )


def _staged_changes(ws: Workspace) -> list[tuple[str, str]]:
    """(status letter, path) of what the index changes against HEAD; none before a commit."""
    assert ws.git is not None
    try:
        ws.git.resolve_commit("HEAD")
    except ExpflowError:  # an unborn HEAD has nothing committed to protect
        return []
    out = ws.git.run("diff-index", "--cached", "--no-renames", "--name-status", "-z", "HEAD", "--")
    records = zsplit(out)
    return [
        (status.decode("ascii")[:1], raw.decode("utf-8", "surrogateescape"))
        for status, raw in zip(records[::2], records[1::2], strict=True)
    ]


def staged_rewrites(ws: Workspace) -> list[StagedRewrite]:
    """Committed results (in HEAD) that the index modifies or deletes."""
    if ws.git is None:
        return []
    policy = ws.load_policy()
    if not policy.results_immutable:
        return []
    return [
        StagedRewrite(path, letter)
        for letter, path in _staged_changes(ws)
        if letter in ("M", "D", "T") and matches_any(path, policy.result_globs)
    ]


def orphaned_results(ws: Workspace) -> list[Finding]:
    """Results left in the index while the index deletes their experiment record.

    (`expflow-git rm` deletes both; a record deleted alone strands its result.)
    """
    if ws.git is None:
        return []
    policy = ws.load_policy()
    deleted = {
        stem(path)
        for letter, path in _staged_changes(ws)
        if letter == "D" and matches_any(path, policy.experiment_globs)
    }
    if not deleted:
        return []
    return [
        Finding(
            e.path,
            Rules.DANGLING_RESULT.value,
            f"its experiment record {stem(e.path)!r} is being deleted; "
            "delete the run with `expflow-git rm`",
        )
        for e in ws.git.ls_index()
        if stem(e.path) in deleted and matches_any(e.path, policy.result_globs)
    ]


# ----------------------------------------------------------------- corrections (issue 13)
@dataclass(frozen=True)
class Judged:
    """The staged rewrites split by the corrections staged with them."""

    refused: tuple[Finding, ...]  # never PIN-approvable
    approvable: tuple[StagedRewrite, ...]  # the PIN approves these
    declared: tuple[Correction, ...]  # the corrections that declare them


def judge_rewrites(ws: Workspace, rewrites: list[StagedRewrite]) -> Judged:
    """Under `protect: {corrections: allow}` (the default) a rewrite is approvable only
    when a correction added in the index declares it; under `deny`, every one is (as
    before corrections). A changed committed correction is refused either way, and under
    `allow` so is an added one that declares no staged change."""
    if ws.git is None:
        return Judged((), tuple(rewrites), ())
    git = ws.git
    policy = ws.load_policy()
    verdict = judge_changes(
        git.index_changes(),
        policy,
        lambda sha: git.run("cat-file", "blob", sha),
        where="in the index",
    )
    if not policy.corrections_allowed:
        return Judged(verdict.findings, tuple(rewrites), ())
    approvable = tuple(r for r in rewrites if verdict.covers(r.path))
    refused = [r.finding(corrections=True) for r in rewrites if not verdict.covers(r.path)]
    declared = tuple(c for _, c in verdict.declared)
    return Judged(tuple(refused) + verdict.findings, approvable, declared)
