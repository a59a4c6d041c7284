"""`protect`: results are write-once. A staged change or deletion of a result
that HEAD already has is refused unless the PIN approves it (SPEC §5, §2.2)."""

from __future__ import annotations

from dataclasses import dataclass

from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitstore import zsplit
from expflow_git.globs import matches_any
from expflow_git.validate import Workspace

RULE = "result-rewritten"


@dataclass(frozen=True)
class StagedRewrite:
    path: str
    status: str  # git's letter: M modified, D deleted, T type changed

    def finding(self) -> Finding:
        verb = {"D": "deletes", "T": "changes the type of"}.get(self.status, "modifies")
        return Finding(
            self.path,
            RULE,
            f"the staged change {verb} a committed result "
            "(results are write-once; approve with the PIN via EXPFLOW_PIN)",
        )


def staged_rewrites(ws: Workspace) -> list[StagedRewrite]:
    """Committed results (in HEAD) that the index modifies or deletes."""
    if ws.git is None:
        return []
    policy = ws.load_policy()
    if not policy.results_immutable:
        return []
    try:
        ws.git.resolve_commit("HEAD")
    except ExpflowError:  # an unborn HEAD has nothing committed to protect
        return []
    out = ws.git.run("diff-index", "--cached", "--no-renames", "--name-status", "-z", "HEAD", "--")
    records = zsplit(out)
    rewrites = []
    for status, raw_path in zip(records[::2], records[1::2], strict=True):
        letter = status.decode("ascii")[:1]
        path = raw_path.decode("utf-8", "surrogateescape")
        if letter in ("M", "D", "T") and matches_any(path, policy.result_globs):
            rewrites.append(StagedRewrite(path, letter))
    return rewrites
