"""The holdout budget's finding for results of no record reads as English: "runs without
a record have N result(s) ... in their history", not "runs without a record has ... in
its history" (a closing note's wording item, issue 18 twenty-ninth pass)."""

from __future__ import annotations

import pytest
from conftest import ExpRepo, run_cli

from expflow_git.checks import holdout_budget_findings

pytestmark = pytest.mark.usefixtures("isolated_env")

HOLDOUT = (
    "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
    "               max_evaluations_per_study: 1}\n"
)


@pytest.mark.parametrize(
    ("study", "history", "said"),
    [
        (
            None,
            True,
            "runs without a record have 2 result(s) carrying the holdout split "
            "'holdout' in their history, over the budget of 1 per study",
        ),
        (
            None,
            False,
            "runs without a record have 2 result(s) carrying the holdout split "
            "'holdout' in the tree, over the budget of 1 per study",
        ),
        (
            "s1",
            True,
            "study 's1' has 2 result(s) carrying the holdout split 'holdout' in "
            "its history, over the budget of 1 per study",
        ),
    ],
)
def test_the_finding_agrees_with_its_subject(study: str | None, history: bool, said: str) -> None:
    (finding,) = holdout_budget_findings(
        "expflow.yaml", "holdout", 1, [(study, 2)], history=history
    )
    assert finding.message == said


def test_the_audit_says_it_of_results_without_a_record(exp_repo: ExpRepo) -> None:
    with (exp_repo.path / "expflow.yaml").open("a") as f:
        f.write(HOLDOUT)
    for exp_id in ("ghost-1", "ghost-2"):
        exp_repo.add_result(exp_id, study="s1", splits={"holdout": {"seg_total": 50.0}})
    exp_repo.commit("two results of no record, each a look")
    res = run_cli(["audit", "--no-cache"], exp_repo.path)
    assert res.code == 1, res
    assert "runs without a record have 2 result(s) carrying the holdout split" in res.out, res
