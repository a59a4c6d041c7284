"""`new` (and `Repository.new`) say when a record takes the policy's run budget over
(`budget.max_runs_per_study`, `budget.max_runs`; docs/spec.md §3). The record is
written all the same, as `import` writes its runs and warns; `new` used to say nothing,
and the commit's own hook then refused what it had written (left by the thirty-eighth
pass, issue 18)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from support import git, git_init, run_cli

import expflow_git


def _repo(tmp_path: Path, budget: str) -> Path:
    repo = git_init(tmp_path / "repo")
    assert run_cli(["init"], repo).code == 0
    policy = repo / "expflow.yaml"
    policy.write_text(policy.read_text() + f"budget: {budget}\n")
    return repo


def test_new_warns_when_a_study_goes_over_its_budget(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "{max_runs_per_study: 1}")
    first = run_cli(["new", "a1", "--study", "s"], repo)
    assert first.code == 0 and "budget" not in first.err, first.both
    other = run_cli(["new", "b1", "--study", "t"], repo)  # another study: its own count
    assert other.code == 0 and "budget" not in other.err, other.both
    second = run_cli(["new", "a2", "--study", "s"], repo)
    assert second.code == 0, second.both
    assert (repo / "experiments/s/a2.json").is_file()
    assert second.err.splitlines() == [
        "expflow-git new: warning: experiments/s/a2.json: study s will have 2 runs, over "
        "the policy's budget of 1; the hook and the audit will refuse it"
    ]
    # What it warns of is what the commit's hook says.
    git(repo, "add", "-A")
    hook = run_cli(["validate", "--staged"], repo)
    assert hook.code == 1 and "budget-exceeded" in hook.out, hook.both


def test_new_warns_when_all_studies_go_over_the_total(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "{max_runs: 2}")
    for exp_id, study in (("a1", "s"), ("b1", "t")):
        assert run_cli(["new", exp_id, "--study", study], repo).err == ""
    third = run_cli(["new", "c1", "--study", "u"], repo)
    assert third.code == 0, third.both
    assert "all studies will have 3 runs, over the policy's budget of 2" in third.err


@pytest.mark.filterwarnings("error")
def test_the_api_warns_alike_at_the_callers_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "{max_runs_per_study: 1}")
    api = expflow_git.Repository(repo)
    api.new("a1", study="s")  # under the budget: no warning (an error here)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api.new("a2", study="s")
    assert [str(w.message) for w in caught] == [
        "experiments/s/a2.json: study s will have 2 runs, over the policy's budget of 1; "
        "the hook and the audit will refuse it"
    ]
    assert caught[0].filename == __file__
