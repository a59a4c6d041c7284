"""A declared correction is never silent (issue 13), in the pull request's checks too:
the action's annotations named no correction, so one was seen only in the job summary,
from which a pull request could push it out (test_summary29_corrections). It is now a
notice, right after the verdict's, before the findings and the runs, so nothing a pull
request adds puts it past the first annotations GitHub shows of a step (issue 18,
twenty-ninth pass). The action's script under a simulated runner, on the demo competition with its
hooks (test_corrections).
"""

# The fixtures `sandbox`, `repo` and `pin_hash` are imported from test_corrections, and
# test parameters of those names receive them (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

from test_corrections import (  # noqa: F401 (fixtures)
    REASON,
    hook_commit,
    overwrite,
    pin_hash,
    repo,
    sandbox,
)
from test_governance import PIN, STUDY, Sandbox
from test_summary29_corrections import pr_action

ANNOTATION = "::notice title=expflow corrections::"


def annotations(log: str, prefix: str) -> list[int]:
    """The log's lines that start with `prefix`, by their index."""
    return [i for i, line in enumerate(log.splitlines()) if line.startswith(prefix)]


def test_a_correction_is_an_annotation(sandbox: Sandbox, repo: Path, tmp_path: Path) -> None:
    base = sandbox.git(repo, "rev-parse", "HEAD")
    code, log, _, _ = pr_action(sandbox, repo, base, tmp_path / "before")
    assert code == 0, log
    assert ANNOTATION not in log  # none without a correction
    reason = REASON + " 100%"  # (a reason is one line: the schema refuses CR and LF)
    assert overwrite(sandbox, repo, "--reason", reason, "--pin", PIN).code == 0
    assert hook_commit(sandbox, repo, "correct exp-001").code == 0
    code, log, outputs, _ = pr_action(sandbox, repo, base, tmp_path / "after")
    assert code == 0 and outputs["passed"] == "true", log
    (line,) = [line for line in log.splitlines() if line.startswith(ANNOTATION)]
    # GitHub's escapes, as every annotation's: the reason shows as written.
    assert line == (
        f"{ANNOTATION}1 correction(s) of committed results declared in the tree: "
        f"'exp-001' corrected ({REASON} 100%25); "
        "the job summary and the report list each with its reason"
    )


def test_the_correction_notice_comes_before_the_findings(
    sandbox: Sandbox, repo: Path, tmp_path: Path
) -> None:
    """GitHub shows the first 10 annotations of each level of a step: findings a pull
    request adds cannot push the correction's notice out."""
    base = sandbox.git(repo, "rev-parse", "HEAD")
    assert overwrite(sandbox, repo, "--reason", REASON, "--pin", PIN).code == 0
    assert hook_commit(sandbox, repo, "correct exp-001").code == 0
    for i in range(3, 8):
        bad = repo / "results" / STUDY / f"exp-00{i}.json"
        bad.write_text(bad.read_text().replace('"seg_total": ', '"seg_total": NaN, "x": ', 1))
    sandbox.commit(repo, "break five results")
    code, log, outputs, _ = pr_action(sandbox, repo, base, tmp_path / "runner")
    assert code == 1 and outputs["passed"] == "false", log
    (notice,) = annotations(log, ANNOTATION)
    errors = annotations(log, "::error file=")
    assert len(errors) >= 5 and notice < min(errors)
    assert annotations(log, "::error title=expflow-git audit::") < [notice]
