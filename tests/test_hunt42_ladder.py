"""An attacker's hunt on the integrity primitives (issue 18, forty-second pass): the
holdout budget, the Ladder, advisory checks and series, each output against the spec."""

from __future__ import annotations

from pathlib import Path

from helpers_audit import POLICY, add_run, commit_all, m, new_repo, run_cli


def test_the_markdown_budget_line_keeps_the_count_in_all_studies(tmp_path: Path) -> None:
    """docs/spec.md §6.5: the holdout budget's counts per study are a line of md "with the
    count in all studies against `max_evaluations` when it is set". The Markdown line (the
    action's job summary) was cut whole at 1,000 characters, so an author who gave each
    look a study of its own (§3: only the total binds them) pushed the one number that
    fails the audit, `in all studies N, at most M OVER`, off the end of it."""
    policy = POLICY + (
        "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
        "               max_evaluations: 3}\n"
    )
    repo = new_repo(tmp_path / "repo", policy)
    for i in range(12):
        study = f"s{i:02d}-" + "x" * 100  # one study per look, each name long
        add_run(
            repo, f"r{i:02d}", m(50.0 + i), study=study, splits={"holdout": {"seg_total": 40.0}}
        )
    commit_all(repo, "twelve looks, twelve studies")
    res = run_cli(["audit", "--format", "md"], repo)
    assert res.code == 1, res
    [line] = [ln for ln in res.out.splitlines() if ln.startswith("- holdout budget:")]
    assert line.startswith("- holdout budget: FAIL"), line
    assert line.endswith("; in all studies 12, at most 3 OVER"), line
    assert "…" in line and len(line) < 1100, line  # the list of studies is what is cut
    # Text and the scorecard never cut it.
    text = run_cli(["audit"], repo)
    assert "; in all studies 12, at most 3 OVER" in text.out, text
