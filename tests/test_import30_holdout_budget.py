"""`expflow-git import` and the holdout budget (docs/spec.md §4.2, §6.2 item 6): the plan
warned when a study would go over `budget.max_runs_per_study`, never over
`walk_forward.max_evaluations_per_study` or `max_evaluations`; `validate` (the commit's
hook) then refused what the import wrote, exit 0 (a hunter's report, issue 18 thirtieth
pass). Counted as `validate` counts: the tree's results carrying the split."""

from __future__ import annotations

from pathlib import Path

from conftest import ExpRepo
from support import CliCall, run_cli

STUDY = "sheet"
ROWS = (
    "run,sub_step,seg_total,pde_mean,train_time_min,holdout/seg_total\n"
    "r1,1,50,15,40,40\n"
    "r2,2,60,15,40,50\n"
    "r3,3,70,15,40,60\n"
    "r4,4,80,15,40,70\n"
)


def _policy(repo: ExpRepo, walk: str) -> None:
    policy = repo.path / "expflow.yaml"
    policy.write_text(
        policy.read_text()
        + "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: 0.3, "
        + walk
        + "}\n"
    )


def _import(cli: CliCall, repo: ExpRepo, tmp_path: Path, text: str = ROWS) -> tuple[int, str]:
    path = tmp_path / "h.csv"
    path.write_text(text, encoding="utf-8")
    res = cli(["import", "csv", str(path), "--id-column", "run", "--study", STUDY], repo.path)
    return res.code, res.err


def test_a_study_over_its_holdout_budget_is_warned_of(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    _policy(exp_repo, "max_evaluations_per_study: 2")
    code, err = _import(cli, exp_repo, tmp_path)
    assert code == 0, err
    assert (
        "study sheet will have 4 result(s) carrying the holdout split 'holdout', over the "
        "policy's holdout budget of 2 (walk_forward.max_evaluations_per_study)"
    ) in err
    # What validate (the commit's hook) then says: the warning told of it.
    res = run_cli(["validate"], exp_repo.path)
    assert res.code == 1 and "holdout-budget-exceeded" in res.out + res.err, res


def test_all_studies_over_the_total_holdout_budget_are_warned_of(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    _policy(exp_repo, "max_evaluations: 4")
    exp_repo.add_experiment("o-1", study="other", params={"sub_step": 1})
    exp_repo.add_result("o-1", study="other", splits={"holdout": {"seg_total": 1.0}})
    code, err = _import(cli, exp_repo, tmp_path)
    assert code == 0, err
    assert (
        "all studies will have 5 result(s) carrying the holdout split 'holdout', over the "
        "policy's holdout budget of 4 (walk_forward.max_evaluations)"
    ) in err
    res = run_cli(["validate"], exp_repo.path)
    assert res.code == 1 and "holdout-budget-exceeded" in res.out + res.err, res
    assert res.out.count("holdout-budget-exceeded") + res.err.count("holdout-budget-exceeded") == 1


def test_results_without_the_split_and_reimports_are_not_counted(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """A row without a holdout cell is no look; an uncommitted result the import writes
    again is the same look, not a second one."""
    _policy(exp_repo, "max_evaluations_per_study: 2, max_evaluations: 2")
    rows = ROWS.replace(",60\n", ",\n").replace(",70\n", ",\n")
    code, err = _import(cli, exp_repo, tmp_path, rows)
    assert code == 0, err
    assert "holdout budget" not in err
    code, err = _import(cli, exp_repo, tmp_path, rows.replace("r1,1,50", "r1,1,51"))
    assert code == 0, err
    assert "holdout budget" not in err
    assert run_cli(["validate"], exp_repo.path).code == 0
