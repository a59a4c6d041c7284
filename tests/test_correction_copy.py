"""A byte-identical copy of a correction HEAD holds declares nothing (issue 18, left by
the thirty-eighth pass). `audit --since` leads a result only through corrections new
since BASE by blob (history/results.py: a copy of an older correction declares nothing
new), but the protect hook took the copy, added with the rewrite it names, as a new
correction: it approved the commit with the PIN, and the pull request then failed for
good with "no chain of corrections new since BASE leads to" the result."""

# The fixtures `pin_hash` and `sandbox` are imported from test_corrections, and test
# parameters of those names receive them (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

import json
import subprocess

from test_corrections import (  # noqa: F401 (fixtures: test parameters of these names)
    PIN,
    Sandbox,
    audit_since,
    pin_hash,
    rules,
    sandbox,
)
from test_governance import res_rel
from test_hunt38_corrections import _protect, _rewritten_correction


def test_a_copy_of_a_committed_correction_declares_no_rewrite(sandbox: Sandbox) -> None:
    repo, base, first = _rewritten_correction(sandbox)  # first: A → B, committed
    result = repo / res_rel("exp-001")
    b_bytes = result.read_bytes()
    blob = subprocess.run(
        ["git", "cat-file", "blob", f"{base}~1:{res_rel('exp-001')}"],
        cwd=repo,
        capture_output=True,
        check=True,
    )
    a_bytes = blob.stdout  # the result before the first correction
    # B → A, declared by a correction of its own (a new reason): approved.
    back = json.loads((repo / first).read_text())
    back["supersedes"], back["blob"] = back["blob"], back["supersedes"]
    back["reason"] = "the loader fix was wrong: back to the first run"
    (repo / first).with_name("back.json").write_text(json.dumps(back, indent=2) + "\n")
    result.write_bytes(a_bytes)
    hook = _protect(sandbox, repo)
    assert hook.code == 0, hook
    back_at = sandbox.commit(repo, "back to A")
    # A → B again, "declared" by a byte-identical copy of the first correction.
    (repo / first).with_name("again.json").write_bytes((repo / first).read_bytes())
    result.write_bytes(b_bytes)
    hook = _protect(sandbox, repo)
    assert hook.code == 1, hook
    assert "again.json" in hook.out and first in hook.out, hook
    # What the audit of a pull request from "back to A" says of that commit, had it
    # landed: the copy is no correction new since BASE, so nothing leads A to B.
    sandbox.commit(repo, "B again, by a copy")
    res, statement = audit_since(sandbox, repo, back_at)
    assert res.code == 1, res
    assert rules(statement) == [("result-rewritten", res_rel("exp-001"))], res


def test_under_deny_a_copy_is_no_more_refused_than_any_other_correction(
    sandbox: Sandbox,
) -> None:
    """Under `protect: {corrections: deny}` no correction declares anything, in the hook
    and in the audit: a copy added there is a file like any other, and the hook refused it
    ("write a new one") where `audit --since` passed it (a review)."""
    repo, _, first = _rewritten_correction(sandbox)
    policy = repo / "expflow.yaml"
    policy.write_text(policy.read_text().replace("protect: {", "protect: {corrections: deny, ", 1))
    base = sandbox.commit(repo, "corrections: deny")
    (repo / first).with_name("again.json").write_bytes((repo / first).read_bytes())
    hook = _protect(sandbox, repo)
    assert hook.code == 0 and "byte-identical" not in hook.out + hook.err, hook
    sandbox.commit(repo, "a copy")
    res, statement = audit_since(sandbox, repo, base)
    assert res.code == 0 and rules(statement) == [], res
