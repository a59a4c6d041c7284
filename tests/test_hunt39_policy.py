"""An attacker's hunt of the policy and which policy judges a pull request (thirty-ninth
pass): regression tests for what it found."""

from __future__ import annotations

from pathlib import Path

from helpers_audit import POLICY, WALK, add_run, commit_all, m, new_repo, run_cli, write

from expflow_git.policy.diff import Effect, diff_policies
from expflow_git.policy.load import load_policy_bytes


def _effects(old: str, new: str) -> list[tuple[Effect, str]]:
    changes = diff_policies(load_policy_bytes(old.encode()), load_policy_bytes(new.encode()))
    return [(c.effect, c.where) for c in changes]


def test_a_stricter_gate_that_picks_the_walk_forward_runs_is_looser(tmp_path: Path) -> None:
    """docs/spec.md §6.2 item 9: "A change that loosens any bar is looser, whatever else
    it tightens". The walk-forward gate correlates the top `top_n` *feasible* runs: a
    gate that makes the anti-correlated ones infeasible (`seg_total:gt:65`) leaves it
    only runs that correlate, and turns the base's failing audit (r = -0.81) into a pass
    once merged. The diff said only "1 stricter", which a reviewer approves unread."""
    base_policy = POLICY + WALK
    r = new_repo(tmp_path / "repo", base_policy)
    for name, seg, holdout in [("a", 90, 90), ("b", 80, 80), ("c", 70, 70), ("d", 60, 200)]:
        add_run(r, name, m(seg), splits={"holdout": {"seg_total": holdout}})
    add_run(r, "e", m(55), splits={"holdout": {"seg_total": 300}})
    base = commit_all(r, "base")
    assert run_cli(["audit"], r).code == 1  # walk-forward: FAIL
    write(r, "expflow.yaml", base_policy.replace("gates: []", "gates: ['seg_total:gt:65']"))
    commit_all(r, "pull request")
    assert run_cli(["audit"], r).code == 0  # its own policy (after merge): PASS
    res = run_cli(["audit", "--policy-ref", base], r)
    assert res.code == 1, res
    lines = res.out.splitlines()
    assert "  STRICTER  /gates: added seg_total:gt:65" in lines, res.out
    assert any(line.startswith("  LOOSER    /walk_forward:") for line in lines), res.out
    assert "1 looser, 1 stricter" in res.out, res.out


def test_what_picks_the_walk_forward_runs_is_looser_only_with_a_walk_forward() -> None:
    """Every check a run must pass to be feasible picks the runs the walk-forward gate
    correlates: a rule, a threshold or a required metric, as a gate does; a warning, or
    no walk-forward, picks none."""
    walked = POLICY + WALK
    rule = "value: 0, required: true}"
    stricter = {
        "rule": walked.replace(rule, "value: 3, required: true}"),
        "threshold": walked.replace("threshold: 18.09", "threshold: 16"),
        "required": walked.replace("required_metrics: [", "required_metrics: [seg1, "),
    }
    for name, new in stricter.items():
        effects = _effects(walked, new)
        assert (Effect.LOOSER, "/walk_forward") in effects, (name, effects)
        assert _effects(POLICY, new.replace(WALK, "")) == [
            e for e in effects if e != (Effect.LOOSER, "/walk_forward")
        ], name
    warned = walked.replace("gates: []", "gates: [{gate: 'seg_total:gt:65', severity: warning}]")
    assert _effects(walked, warned) == [(Effect.CHANGED, "/gates")]
    # The same checks spelled otherwise pick the same runs.
    respelled = walked.replace(rule, "value: 0.0, required: true}")
    assert _effects(walked, respelled) == []
