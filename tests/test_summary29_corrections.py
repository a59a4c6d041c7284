"""The job summary never loses a correction or a finding (issue 13: a declared correction
is never silent; issue 18, twenty-ninth pass). GitHub's 1 MiB cap truncates the summary,
and the corrections and the findings came last, after every excluded run with its whole
reason (2000 characters, which Markdown escaping makes ~11 times longer for a character
such as U+E0001): a pull request that added a correction and ~60 failed records with
such reasons passed, with a summary that showed the raised score, then "summary
truncated", never the correction. They now come before the leaderboard, each within a
share of the budget, and a reason is shown clipped (the report holds it whole).

The action's script under a simulated runner (test_action), on the demo competition with
its hooks (test_corrections).
"""

# The fixtures `sandbox`, `repo` and `pin_hash` are imported from test_corrections, and
# test parameters of those names receive them (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from test_action import pr_event, run_action
from test_corrections import (  # noqa: F401 (fixtures)
    REASON,
    hook_commit,
    overwrite,
    pin_hash,
    repo,
    sandbox,
)
from test_governance import PIN, STUDY, Sandbox

from expflow_git.errors import Finding
from expflow_git.render.markdown import MAX_SUMMARY_BYTES, render_markdown
from expflow_git.render.view import view_from_statement
from expflow_git.report.verify import parse_report

TAG = "\U000e0001"  # escaped as `\\U000e0001` in Markdown: 11 bytes for one character
BLOATED = TAG * 2000  # the longest reason a record may give
FAILED_RUNS = 60


def add_bloated_failures(repo: Path) -> None:
    """FAILED_RUNS failed records, each with the longest reason, escaped the longest, in
    two studies of their own (the demo's allows 50 runs)."""
    for i in range(FAILED_RUNS):
        study = f"s{i % 2}"
        doc = {
            "schema": "expflow/experiment@1",
            "id": f"f{i:03d}",
            "study": study,
            "created_at": "2026-11-20T10:00:00Z",
            "status": "failed",
            "reason": BLOATED,
            "params": {},
        }
        folder = repo / "experiments" / study
        folder.mkdir(exist_ok=True)
        (folder / f"f{i:03d}.json").write_text(json.dumps(doc))


def pr_action(sandbox: Sandbox, repo: Path, base: str, tmp: Path) -> tuple[int, str, dict, str]:
    """The action's script on a pull request from `base` to HEAD: as a module, from this
    tree (action.yml's `python3 -E` imports the package installed, wherever that is)."""
    head = sandbox.git(repo, "rev-parse", "HEAD")
    tmp.mkdir()
    payload = pr_event(repo, head, base)
    return run_action(repo, tmp, event="pull_request", payload=payload, injected=True)


def test_a_correction_reaches_the_summary_past_bloated_failed_records(
    sandbox: Sandbox, repo: Path, tmp_path: Path
) -> None:
    base = sandbox.git(repo, "rev-parse", "HEAD")
    assert overwrite(sandbox, repo, "--reason", REASON, "--pin", PIN).code == 0
    add_bloated_failures(repo)
    assert hook_commit(sandbox, repo, "raise exp-001, and 60 failed runs").code == 0
    code, log, outputs, summary = pr_action(sandbox, repo, base, tmp_path / "runner")
    assert code == 0, log
    assert outputs["passed"] == "true"
    assert len(summary.encode()) <= MAX_SUMMARY_BYTES
    assert "### Corrections (1)" in summary and REASON in summary
    # What decides the verdict, and what was declared, before the long per-run sections.
    assert summary.index("### Corrections (1)") < summary.index("### Leaderboard")
    assert summary.index("### Leaderboard") < summary.index("### Every attempt")
    # Every excluded run is listed, its reason clipped (the report holds it whole).
    excluded = [line for line in summary.splitlines() if line.startswith("- `f0")]
    assert len(excluded) == FAILED_RUNS
    assert all(line.endswith("…") and len(line) < 200 * 11 + 100 for line in excluded)
    assert "truncated" not in summary


def test_a_finding_reaches_the_summary_past_bloated_failed_records(
    sandbox: Sandbox, repo: Path, tmp_path: Path
) -> None:
    base = sandbox.git(repo, "rev-parse", "HEAD")
    add_bloated_failures(repo)
    bad = repo / "results" / STUDY / "exp-006.json"
    bad.write_text(bad.read_text().replace('"seg_total": 53.9', '"seg_total": NaN'))
    sandbox.commit(repo, "break one result, and 60 failed runs")
    code, log, outputs, summary = pr_action(sandbox, repo, base, tmp_path / "runner")
    assert code == 1, log
    assert outputs["passed"] == "false"
    assert len(summary.encode()) <= MAX_SUMMARY_BYTES
    assert "### Findings (" in summary and "NaN is not a JSON number" in summary
    assert summary.index("### Findings (") < summary.index("### Leaderboard")


def test_neither_many_findings_nor_many_corrections_push_the_other_out(
    sandbox: Sandbox, repo: Path, tmp_path: Path
) -> None:
    """However many there are, and however long each, the findings and the corrections
    both show (the first that fit their share, then a count of the rest), under the cap."""
    base = sandbox.git(repo, "rev-parse", "HEAD")
    assert overwrite(sandbox, repo, "--reason", REASON, "--pin", PIN).code == 0
    assert hook_commit(sandbox, repo, "raise exp-001").code == 0
    code, log, _, _ = pr_action(sandbox, repo, base, tmp_path / "runner")
    assert code == 0, log
    _, statement = parse_report(
        (repo / "expflow-report.json").read_bytes(), source="expflow-report.json"
    )
    view = view_from_statement(statement, [])
    (correction,) = view.corrections
    finding = Finding("results/x.json", "schema", BLOATED)
    bloated = dataclasses.replace(correction, reason=BLOATED)
    for findings, corrections in (
        ((finding,) * 1_000, (correction,)),
        ((finding,), (correction,) + (bloated,) * 1_000),
    ):
        md = render_markdown(dataclasses.replace(view, findings=findings, corrections=corrections))
        assert len(md.encode()) <= MAX_SUMMARY_BYTES
        assert f"### Findings ({len(findings):,})" in md and r"\U000e0001" in md
        assert f"### Corrections ({len(corrections):,})" in md and REASON in md
        assert "more of" in md
