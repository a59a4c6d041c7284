"""Hunt 37 (corrections): attacks on write-once results and declared corrections."""

# The fixtures `pin_hash` and `sandbox` are imported from test_corrections, and test
# parameters of those names receive them (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

import json

from test_corrections import (  # noqa: F401 (fixtures: test parameters of these names)
    PIN,
    Sandbox,
    audit_since,
    pin_hash,
    rules,
    sandbox,
)
from test_governance import exp_rel, make_demo, res_rel


def test_a_correction_added_and_moved_off_the_globs_in_one_range_fails(
    sandbox: Sandbox,
) -> None:
    """A pull request that `rm`s a run (a correction deleting it) and moves its own
    `paths.corrections` off that correction passed `audit --since BASE --policy-ref
    BASE` (the hook refuses the policy commit): once merged, main's policy reads no
    deletion, and the next pull request brought the run back with a new score, ranked
    first. One of BASE's corrections so dropped was already `correction-rewritten`."""
    repo = make_demo(sandbox)
    base = sandbox.git(repo, "rev-parse", "HEAD")
    record = (repo / exp_rel("exp-001")).read_bytes()
    result = json.loads((repo / res_rel("exp-001")).read_bytes())
    removed = sandbox.cli(["rm", "exp-001", "--reason", "withdrawn", "--pin", PIN], repo)
    assert removed.code == 0, removed
    sandbox.commit(repo, "rm exp-001")
    (correction,) = (p.relative_to(repo).as_posix() for p in (repo / "corrections").rglob("*.json"))
    policy = (repo / "expflow.yaml").read_text()
    moved = policy.replace("paths:\n", 'paths:\n  corrections: ["corrections/kept/**/*.json"]\n', 1)
    assert moved != policy
    (repo / "expflow.yaml").write_text(moved)
    sandbox.commit(repo, "move the corrections' folder")
    res, statement = audit_since(sandbox, repo, base, "--policy-ref", base)
    assert ("correction-rewritten", correction) in rules(statement), res
    assert res.code == 1, res

    # What passing it allowed: the next pull request, judged by the merged policy.
    merged = sandbox.git(repo, "rev-parse", "HEAD")
    (repo / exp_rel("exp-001")).write_bytes(record)
    result["metrics"]["seg_total"] = 99.0
    (repo / res_rel("exp-001")).write_text(json.dumps(result, indent=2) + "\n")
    sandbox.commit(repo, "exp-001 is back, better")
    res, _ = audit_since(sandbox, repo, merged, "--policy-ref", merged)
    assert res.code == 0  # nothing left to tell: the first pull request must fail


def test_a_result_the_pull_requests_own_globs_drop_fails_under_policy_ref(
    sandbox: Sandbox,
) -> None:
    """A pull request whose own `paths.results` stops matching one committed result
    passed `audit --since BASE --policy-ref BASE` (only the judging policy was asked
    whether the result was still one; the hook refuses it, saying `audit --since` would
    report it, as it does without `--policy-ref`): once merged, the next pull request
    added the run another result (infeasible exp-002 made first, 99) and passed."""
    repo = make_demo(sandbox)
    base = sandbox.git(repo, "rev-parse", "HEAD")
    study = res_rel("exp-002").rsplit("/", 1)[0]
    kept = ", ".join(f'"{study}/exp-00{i}.json"' for i in (1, 3, 4, 5, 6, 7))
    policy = (repo / "expflow.yaml").read_text()
    narrowed = policy.replace(
        'results: ["results/**/*.json"]', f'results: [{kept}, "results/kept/*.json"]'
    )
    assert narrowed != policy
    (repo / "expflow.yaml").write_text(narrowed)
    sandbox.commit(repo, "narrow paths.results")
    res, statement = audit_since(sandbox, repo, base, "--policy-ref", base)
    assert ("result-rewritten", res_rel("exp-002")) in rules(statement), res
    assert res.code == 1, res

    # What passing it allowed: the next pull request, judged by the merged policy.
    merged = sandbox.git(repo, "rev-parse", "HEAD")
    better = json.loads((repo / res_rel("exp-002")).read_bytes())
    better["metrics"].update(seg_total=99.0, pde_mean=10.0)
    (repo / "results/kept").mkdir()
    (repo / "results/kept/exp-002.json").write_text(json.dumps(better, indent=2) + "\n")
    sandbox.commit(repo, "exp-002, better")
    res, statement = audit_since(sandbox, repo, merged, "--policy-ref", merged)
    assert res.code == 0  # nothing left to tell: the first pull request must fail
    board = [e["id"] for e in statement["predicate"]["entries"] if e["type"] == "run"]
    assert board[0] == "exp-002"
