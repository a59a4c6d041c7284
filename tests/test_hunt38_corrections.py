"""Hunt 38 (corrections): attacks on write-once results, declared corrections, the
protect hook and `audit --since`, and whether the two agree."""

# The fixtures `pin_hash` and `sandbox` are imported from test_corrections, and test
# parameters of those names receive them (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers_audit import Out
from test_corrections import (  # noqa: F401 (fixtures: test parameters of these names)
    PIN,
    Sandbox,
    audit_since,
    pin_hash,
    rules,
    sandbox,
)
from test_governance import exp_rel, make_demo, res_rel

METRICS = ("seg_total=50", "pde_mean=15", "train_time_min=40")


def _protect(sandbox: Sandbox, repo: Path) -> Out:
    """`git add -A`, then the protect hook with the PIN in the environment."""
    sandbox.git(repo, "add", "-A")
    return sandbox.cli(["protect"], repo, {"EXPFLOW_PIN": PIN})


def _rewritten_correction(sandbox: Sandbox) -> tuple[Path, str, str]:
    """The demo with exp-001 overwritten on record, committed: repo, that commit, and
    the correction's path."""
    repo = make_demo(sandbox)
    res = sandbox.cli(
        [
            "result",
            "exp-001",
            "--metric",
            "seg_total=50",
            "--metric",
            "pde_mean=15",
            "--metric",
            "train_time_min=40",
            "--overwrite",
            "--reason",
            "re-ran with the fixed loader",
            "--pin",
            PIN,
        ],
        repo,
    )
    assert res.code == 0, res
    base = sandbox.commit(repo, "exp-001 corrected")
    (correction,) = sandbox.git(repo, "ls-files", "corrections").splitlines()
    return repo, base, correction


def test_the_executable_bit_of_a_committed_correction_is_no_rewrite(sandbox: Sandbox) -> None:
    """`chmod +x` on a committed correction (the same bytes, mode 100644 → 100755) was
    `correction-rewritten`, never PIN-approvable, in the hook and in `audit --since`:
    a commit no correction can mend failed for good. The executable bit alone of a
    result is no rewrite (identity.result_rewrites): nor is it of a correction."""
    repo, base, correction = _rewritten_correction(sandbox)
    os.chmod(repo / correction, 0o755)
    hook = _protect(sandbox, repo)
    assert hook.code == 0, hook
    assert "correction-rewritten" not in hook.out + hook.err
    sandbox.commit(repo, "chmod +x")
    res, statement = audit_since(sandbox, repo, base)
    assert rules(statement) == [], res
    assert res.code == 0, res


def test_the_executable_bit_with_an_edit_of_a_correction_is_still_a_rewrite(
    sandbox: Sandbox,
) -> None:
    """The mode change is no cover for other bytes."""
    repo, base, correction = _rewritten_correction(sandbox)
    path = repo / correction
    path.write_text(path.read_text().replace("fixed loader", "fixed data loader"))
    os.chmod(path, 0o755)
    hook = _protect(sandbox, repo)
    assert hook.code == 1 and "correction-rewritten" in hook.out, hook
    sandbox.commit(repo, "edit and chmod +x")
    res, statement = audit_since(sandbox, repo, base)
    assert ("correction-rewritten", correction) in rules(statement), res
    assert res.code == 1, res


def test_protect_refuses_a_policy_whose_results_glob_takes_a_correction_in(
    sandbox: Sandbox,
) -> None:
    """A staged policy that leaves `paths.corrections` as it was but adds the corrections'
    folder to `paths.results` (or `paths.experiments`) makes HEAD's corrections results
    (a result comes first when several kinds match): once committed they delete and
    correct nothing, and `audit --since` reports each (`correction-rewritten`). The hook
    compared only the two policies' `paths.corrections` and passed it, exit 0."""
    repo = make_demo(sandbox)
    res = sandbox.cli(["rm", "exp-001", "--reason", "test split", "--pin", PIN], repo)
    assert res.code == 0, res
    base = sandbox.commit(repo, "rm exp-001")
    (correction,) = sandbox.git(repo, "ls-files", "corrections").splitlines()
    policy = (repo / "expflow.yaml").read_text()
    widened = policy.replace(
        'results: ["results/**/*.json"]', 'results: ["results/**/*.json", "corrections/**/*.json"]'
    )
    assert widened != policy
    (repo / "expflow.yaml").write_text(widened)
    hook = _protect(sandbox, repo)
    assert hook.code == 1, hook
    assert f"{correction}: correction-rewritten" in hook.out, hook
    sandbox.commit(repo, "results glob over the corrections")
    res, statement = audit_since(sandbox, repo, base)
    assert ("correction-rewritten", correction) in rules(statement), res
    assert res.code == 1, res


@pytest.mark.parametrize("command", ["overwrite", "rm"])
def test_a_declared_change_passes_the_hook_under_results_immutable_false(
    sandbox: Sandbox, command: str
) -> None:
    """Under `protect: {results_immutable: false}` the hook judged no rewrite, so the
    correction `result --overwrite --reason` (or `rm --reason`) wrote beside its change
    matched nothing: `correction-unmatched`, never PIN-approvable ("declares a change …
    that nothing in the index makes"), while `audit --since` matches it to the change
    and passes. Spec §3: under `false` each correction must still declare a change of
    its commit, which this one does."""
    repo = make_demo(sandbox)
    policy = (repo / "expflow.yaml").read_text()
    mutable = policy.replace("results_immutable: true", "results_immutable: false")
    assert mutable != policy
    (repo / "expflow.yaml").write_text(mutable)
    base = sandbox.commit(repo, "results are mutable")
    args = (
        ["result", "exp-001", *(f"--metric={m}" for m in METRICS), "--overwrite"]
        if command == "overwrite"
        else ["rm", "exp-001"]
    )
    res = sandbox.cli([*args, "--reason", "re-ran with the fixed loader", "--pin", PIN], repo)
    assert res.code == 0, res
    hook = _protect(sandbox, repo)
    assert hook.code == 0, hook
    assert "correction-unmatched" not in hook.out + hook.err
    sandbox.commit(repo, command)
    res, statement = audit_since(sandbox, repo, base)
    assert rules(statement) == [], res
    assert res.code == 0, res

    if command == "rm":
        return  # (a second deletion of a run its parent holds none of declares one, §2.4)
    # A correction that declares nothing the commit makes is still refused.
    (correction,) = sandbox.git(repo, "ls-files", "corrections").splitlines()
    (repo / correction.replace(".json", "-copy.json")).write_bytes((repo / correction).read_bytes())
    hook = _protect(sandbox, repo)
    assert hook.code == 1 and "correction-unmatched" in hook.out, hook


def test_a_record_put_back_elsewhere_fails_with_the_deletion_in_the_range(
    sandbox: Sandbox,
) -> None:
    """`rm` of a run (a correction deleting it), then its record put back byte for byte in
    another folder with the result it had: the hook refuses it (§2.4: the record must be
    back at the same path), and so did `audit --since` from a BASE holding the deletion,
    but from a BASE before it (the pull request that made both) it passed, and once that
    was merged every later pull request failed for it, a file it never touched."""
    repo = make_demo(sandbox)
    base = sandbox.git(repo, "rev-parse", "HEAD")
    record = (repo / exp_rel("exp-001")).read_bytes()
    result = (repo / res_rel("exp-001")).read_bytes()
    res = sandbox.cli(["rm", "exp-001", "--reason", "test split", "--pin", PIN], repo)
    assert res.code == 0, res
    sandbox.commit(repo, "rm exp-001")
    moved = "experiments/elsewhere/exp-001.json"
    (repo / moved).parent.mkdir()
    (repo / moved).write_bytes(record)
    (repo / res_rel("exp-001")).write_bytes(result)
    hook = _protect(sandbox, repo)
    assert hook.code == 1 and f"{moved}: record-rewritten" in hook.out, hook
    sandbox.commit(repo, "exp-001 back, its record elsewhere")
    res, statement = audit_since(sandbox, repo, base)
    assert ("record-rewritten", moved) in rules(statement), res
    assert res.code == 1, res

    # Put back where it was, the range passes.
    (repo / exp_rel("exp-001")).write_bytes(record)
    (repo / moved).unlink()
    sandbox.commit(repo, "exp-001's record where it was")
    res, statement = audit_since(sandbox, repo, base)
    assert rules(statement) == [], res
