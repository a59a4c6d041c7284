"""An attacker's hunt of the policy and which policy judges a pull request (thirty-eighth
pass): regression tests for what it found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_audit import (
    POLICY,
    WALK,
    add_run,
    assert_one_error_line,
    commit_all,
    init_repo,
    m,
    new_repo,
    run_cli,
    write,
)

from expflow_git.policy.diff import Effect, diff_policies
from expflow_git.policy.load import load_policy_bytes


@pytest.mark.parametrize(
    ("entry", "spot"),
    [
        (
            "  seg4: {<<: {group: Score, higher_is_better: true, threshold: 5, threshold: 500}}\n",
            "8:67",
        ),
        (
            "  seg4:\n    <<:\n      - group: Score\n        higher_is_better: true\n"
            "        threshold: 5\n        threshold: 500\n",
            "13:9",
        ),
        (
            "  seg4: {<<: &b {group: Score, higher_is_better: true, threshold: 5, "
            "'threshold': 500}}\n",
            "8:70",
        ),
    ],
    ids=["inline", "block-list", "anchored"],
)
def test_a_key_given_twice_in_a_merged_mapping_is_refused(
    tmp_path: Path, entry: str, spot: str
) -> None:
    """docs/spec.md §3: "A key given twice in one mapping is refused, beside a merge key
    too". A mapping that is only ever merged (`<<: {threshold: 5, threshold: 500}`) is
    never built by ruamel as a mapping of its own (its pairs are copied), so its
    repeated key went unchecked and the last silently won: a reviewer reading the first
    `threshold: 5` saw another bar than the one that judged."""
    text = POLICY.replace(
        "  seg1: {group: Score, higher_is_better: true}\n",
        "  seg1: {group: Score, higher_is_better: true}\n" + entry,
    )
    repo = new_repo(tmp_path / "repo", text)
    res = run_cli(["validate", "--", "expflow.yaml"], repo)
    assert_one_error_line(
        res, 2, f"expflow.yaml:{spot}: invalid YAML: found duplicate key 'threshold'"
    )
    honest = text.replace("threshold: 5, ", "").replace("        threshold: 5\n", "")
    write(repo, "expflow.yaml", honest)
    assert run_cli(["validate", "--", "expflow.yaml"], repo).code == 0


def test_the_policy_is_not_read_through_a_linked_folder(tmp_path: Path) -> None:
    """docs/spec.md §3: "The work tree's own policy is never read through a symbolic link
    (the audit reads no policy in its place)". Only the file itself was opened without
    following a link: a pull request that replaces the policy's folder (`conf/`, the
    repository's `EXPFLOW_POLICY=conf/expflow.yaml`) by `conf -> lax`, a folder holding
    a lax policy, had `validate`, `list` and the record commands judge by the lax one,
    where the audit of the same commit finds no policy at `conf/expflow.yaml`."""
    r = init_repo(tmp_path / "repo")
    write(r, "conf/expflow.yaml", POLICY)
    add_run(r, "run", m(55, pde=30))  # fails the pde_mean threshold, 18.09
    commit_all(r, "base")
    write(r, "lax/expflow.yaml", POLICY.replace("threshold: 18.09", "threshold: 1e9"))
    (r / "conf/expflow.yaml").unlink()
    (r / "conf").rmdir()
    (r / "conf").symlink_to("lax")
    commit_all(r, "pull request")
    env = {"EXPFLOW_POLICY": "conf/expflow.yaml"}
    for args in (["audit"], ["rank"]):  # (from the commit)
        assert_one_error_line(run_cli(args, r, env), 2, "conf/expflow.yaml: no policy file")
    said = "conf/expflow.yaml: cannot read policy: its folder conf is a symbolic link"
    for args in (["validate", "--", "experiments"], ["list"], ["show", "run"]):
        assert_one_error_line(run_cli(args, r, env), 2, said)


def test_an_aggregate_moved_past_a_floor_is_looser(tmp_path: Path) -> None:
    """docs/spec.md §6.2 item 9: "A change that loosens any bar is looser, whatever else
    it tightens". `pde_mean` is lower-is-better (threshold 18.09, a ceiling) with a floor
    `pde_mean:ge:1` (a loss that low is a leak). `aggregate: min` → `last` makes the
    headline a higher point of the series: the ceiling is harder, but the floor lets in
    a run whose best epoch was under it. The diff classed the aggregate by the metric's
    direction alone and said `stricter`; merged, the pull request's run is feasible."""
    base_policy = POLICY.replace(
        "pde_mean: {group: PDE, higher_is_better: false",
        "pde_mean: {group: PDE, aggregate: min, higher_is_better: false",
    ).replace("gates: []", "gates: ['pde_mean:ge:1']")
    r = new_repo(tmp_path / "repo", base_policy)
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    write(r, "expflow.yaml", base_policy.replace("aggregate: min", "aggregate: last"))
    add_run(r, "pr-run", m(99, pde=10.0))
    doc = json.loads((r / "results/pdebench-task1/pr-run.json").read_text())
    doc["series"] = {"pde_mean": [[0, 0.5], [1, 10.0]]}  # its best epoch: under the floor
    write(r, "results/pdebench-task1/pr-run.json", json.dumps(doc))
    commit_all(r, "pull request")
    # Its own policy (after merge) lets the run through; under the base's its headline
    # would have been 0.5, under the floor.
    assert run_cli(["audit", "--experiment", "pr-run"], r).code == 0
    res = run_cli(["audit", "--policy-ref", base], r)
    assert "  LOOSER    /metrics/pde_mean/aggregate: min → last" in res.out.splitlines(), res
    # Without a bar on the other side, a worse point of the series is still stricter.
    no_floor = base_policy.replace("gates: ['pde_mean:ge:1']", "gates: []")
    changes = diff_policies(
        load_policy_bytes(no_floor.encode()),
        load_policy_bytes(no_floor.replace("aggregate: min", "aggregate: last").encode()),
    )
    assert [c.effect for c in changes] == [Effect.STRICTER], changes


def test_another_walk_forward_split_or_metric_is_looser(tmp_path: Path) -> None:
    """docs/spec.md §6.2 item 9: "A change that loosens any bar is looser, whatever else
    it tightens (… a metric's direction flipped under its threshold, the old bar gone)".
    The walk-forward gate fails an audit whose runs all pass; a pull request that points
    it at a split of its own (`mine`, holding copies of the metric: r = 1) turns the
    base's failing gate (holdout anti-correlated, r = -1) into a pass once merged, and
    the diff said only `changed` (looser only with a holdout budget set)."""
    base_policy = POLICY + WALK
    r = new_repo(tmp_path / "repo", base_policy)
    for i, (seg, holdout) in enumerate([(50, 90), (60, 70), (70, 50), (80, 30)]):
        splits = {"holdout": {"seg_total": holdout}, "mine": {"seg_total": seg}}
        add_run(r, f"run{i}", m(seg), splits=splits)
    base = commit_all(r, "base")
    assert run_cli(["audit"], r).code == 1  # walk-forward: FAIL, r = -1
    write(r, "expflow.yaml", base_policy.replace("split: holdout", "split: mine"))
    commit_all(r, "pull request")
    assert run_cli(["audit"], r).code == 0  # its own policy: walk-forward PASS
    res = run_cli(["audit", "--policy-ref", base], r)
    assert res.code == 1, res
    assert "  LOOSER    /walk_forward/split: holdout → mine" in res.out.splitlines(), res.out
    metric = POLICY + WALK.replace("metric: seg_total", "metric: seg1")
    changes = diff_policies(
        load_policy_bytes(base_policy.encode()), load_policy_bytes(metric.encode())
    )
    assert [(c.effect, c.where) for c in changes] == [(Effect.LOOSER, "/walk_forward/metric")]


def test_a_policy_path_backing_out_of_a_link_names_the_roots_file(tmp_path: Path) -> None:
    """`--policy sub/../expflow.yaml` is the repository's `expflow.yaml` (so it is named,
    and the audit reads that file of the commit: policy_in_commit), but the OS opened
    the file beside the target of `sub`, a link a pull request can commit: `validate`
    judged by a policy outside the work tree, under the name `expflow.yaml`."""
    r = new_repo(tmp_path / "repo")
    add_run(r, "run", m(55, extra=1.0))  # `extra`: no metric of the repository's registry
    (tmp_path / "elsewhere/inner").mkdir(parents=True)
    lax = POLICY.replace("metrics:\n", "metrics:\n  extra: {group: G, higher_is_better: true}\n")
    (tmp_path / "elsewhere/expflow.yaml").write_text(lax)
    (r / "sub").symlink_to("../elsewhere/inner")
    commit_all(r, "pull request")
    res = run_cli(["validate", "--policy", "sub/../expflow.yaml", "--", "results"], r)
    assert res.code == 1, res
    assert "unknown-metric" in res.out + res.err, res
