"""An attacker's hunt of the GitHub Action's verdict (issue 18, forty-second pass):
spec §8, action.yml, expflow_git/action.py and the workflow `init` writes, from real
repositories through the action's script under a simulated runner
(test_action.run_action)."""

# The fixture `demo_repo` is imported from test_action, and test parameters of that
# name receive it (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

import json
from pathlib import Path

from ruamel.yaml import YAML
from test_action import demo_repo, git, pr_event, run_action  # noqa: F401 (a fixture)

from expflow_git.demo import STUDY


def _add_a_run(repo: Path, run_id: str) -> str:
    """A new run (record and result, copies of exp-001's), committed; returns the commit."""
    for kind in ("experiments", "results"):
        doc = json.loads((repo / kind / STUDY / "exp-001.json").read_text())
        doc["id" if kind == "experiments" else "experiment"] = run_id
        (repo / kind / STUDY / f"{run_id}.json").write_text(json.dumps(doc, indent=2) + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"add {run_id}")
    return git(repo, "rev-parse", "HEAD")


def test_a_pull_request_moved_to_the_default_branch_is_checked_again(
    demo_repo: Path, tmp_path: Path
) -> None:
    """GitHub runs a `pull_request` workflow on `opened`, `synchronize` and `reopened`
    only, unless `types:` says otherwise, and moving a pull request to another base
    branch is an `edited` event (actions/runner#980): the workflow `init` writes
    (`on: [pull_request, push]`) did not run again. A pull request opened against an
    older branch, whose policy let it through, kept its passing check on its head commit
    once its author moved it onto main, whose policy fails it: the required check was
    green, and no run ever judged it by main's rules."""
    old = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "branch", "old", old)  # a branch from before main tightened its budget
    policy = demo_repo / "expflow.yaml"
    policy.write_text(policy.read_text().replace("max_runs_per_study: 50", "max_runs_per_study: 7"))
    git(demo_repo, "commit", "-qam", "main: at most seven runs a study")
    git(demo_repo, "checkout", "-qb", "feature")
    head = _add_a_run(demo_repo, "exp-008")  # up to date with main, an eighth run
    git(demo_repo, "checkout", "-q", "main")

    # Opened against `old`: judged by old's policy (50 runs a study), it passes.
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="pull_request", payload=pr_event(demo_repo, head, "old")
    )
    assert code == 0 and outputs["passed"] == "true", log
    # Moved onto main: the `edited` event's payload names main's commit as the base, and
    # the action judges the same head by main's policy, which fails it.
    moved = pr_event(demo_repo, head, "main")
    moved.update(action="edited", changes={"base": {"ref": {"from": "old"}}})
    code, log, outputs, _ = run_action(demo_repo, tmp_path, event="pull_request", payload=moved)
    assert code == 1 and outputs["passed"] == "false", log

    # So the workflow must run on that event, besides GitHub's three defaults.
    from expflow_git.records.scaffold import WORKFLOW

    flow = YAML(typ="safe").load(WORKFLOW)
    on_pr = flow["on"]["pull_request"] if isinstance(flow["on"], dict) else None
    types = set((on_pr or {}).get("types", ()))
    assert types >= {"opened", "synchronize", "reopened", "edited"}, flow["on"]
