"""An attacker's hunt of the policy and which policy judges a pull request (thirty-seventh
pass): regression tests for what it found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_audit import (
    POLICY,
    Cli,
    add_run,
    assert_one_error_line,
    commit_all,
    m,
    new_repo,
    run_cli,
    statement_of,
    write,
)

RULE = "  - {param: sub_step, op: gt, value: 0, required: true}\n"


def test_a_text_bound_of_a_rule_raised_is_looser(xcli: Cli, tmp_path: Path) -> None:
    """A rule compares two texts by code point (`Op.holds`), so a pull request that
    raises `data_cutoff lt "2026-01-01"` to `lt "2099-12-31"` lets its own late run in
    once merged: that is a bar loosened (docs/spec.md §6.2 item 9: "A change that
    loosens any bar is looser"), and it was reported only as `changed`."""
    base_policy = POLICY.replace(
        RULE, RULE + "  - {param: data_cutoff, op: lt, value: '2026-01-01'}\n"
    )
    r = new_repo(tmp_path / "repo", base_policy)
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    write(r, "expflow.yaml", base_policy.replace("2026-01-01", "2099-12-31"))
    add_run(r, "pr-run", m(99))
    record = r / "experiments/pdebench-task1/pr-run.json"
    doc = json.loads(record.read_text())
    doc["params"]["data_cutoff"] = "2027-06-30"
    record.write_text(json.dumps(doc))
    commit_all(r, "pull request")
    # Its own policy lets the run through; the base's does not.
    assert xcli(["audit", "--experiment", "pr-run"], r).code == 0
    res = xcli(["audit", "--policy-ref", base, "--experiment", "pr-run"], r)
    assert res.code == 1, res
    assert '  LOOSER    /rules: data_cutoff lt "2026-01-01" → data_cutoff lt "2099-12-31"' in (
        res.out.splitlines()
    ), res.out
    statement = statement_of(xcli(["audit", "--policy-ref", base, "--format", "json"], r).out)
    changes = statement["predicate"]["policy"]["proposed"]["changes"]
    assert [c["effect"] for c in changes] == ["looser"], changes


def test_a_boolean_bound_of_a_rule_loosened_is_looser(tmp_path: Path) -> None:
    """`lt true` (only `false` passes) made `le true` (both pass): looser, as a number's."""
    from expflow_git.policy.diff import Effect, diff_policies
    from expflow_git.policy.load import load_policy_bytes

    def policy(op: str) -> bytes:
        rule = f"  - {{param: peeked, op: {op}, value: true}}\n"
        return POLICY.replace(RULE, RULE + rule).encode()

    old, new = load_policy_bytes(policy("lt")), load_policy_bytes(policy("le"))
    assert [c.effect for c in diff_policies(old, new)] == [Effect.LOOSER]
    assert [c.effect for c in diff_policies(new, old)] == [Effect.STRICTER]


def test_a_hex_integer_past_4300_digits_is_refused_not_a_traceback(tmp_path: Path) -> None:
    """`0x` and 5,000 `f`s is an integer of ~6,000 decimal digits: the constructor's
    4,300-digit refusal looked only at the literal's length when int() failed (a hex
    literal never does), and its "too large" message printed the integer: Python's own
    "Exceeds the limit (4300 digits)" ValueError, a traceback, exit 1 from `validate`,
    `audit`, `rank`. docs/spec.md §4: a broken policy is exit 2."""
    r = new_repo(tmp_path / "repo")
    for spelled in ("0x" + "f" * 5000, "0b" + "1" * 20000, "0o" + "7" * 6000):
        write(r, "expflow.yaml", POLICY.replace("threshold: 18.09", f"threshold: {spelled}"))
        res = run_cli(["validate", "expflow.yaml"], r)
        assert_one_error_line(res, 2, "expflow.yaml:8:", "not a finite number")


def test_a_long_base_60_integer_is_refused_before_it_is_summed(tmp_path: Path) -> None:
    """YAML 1.1 reads `59:59:…` as a base-60 integer, summed by ruamel in time quadratic
    in its parts: a 1 MiB policy of them took a minute before the traceback above. A
    literal past 4,300 characters is refused before it is read, as a decimal one is."""
    value = ":".join(["59"] * 3000)
    r = new_repo(tmp_path / "repo", "%YAML 1.1\n---\n" + POLICY.replace("18.09", value))
    res = run_cli(["validate", "expflow.yaml"], r)
    assert_one_error_line(res, 2, "expflow.yaml:10:", "an integer of 8999 characters")


# Values ruamel's own constructors fail on with Python's errors, not a YAML error.
UNBUILDABLE = {
    "budget: {max_runs: !!int ''}\n": "expflow.yaml:17:20: invalid YAML: '' is not a valid !!int",
    "budget: {max_runs: !!float ''}\n": "expflow.yaml:17:20: invalid YAML: '' is not a valid",
    "protect: {results_immutable: !!bool abc}\n": "expflow.yaml:17:30: invalid YAML: 'abc'",
    "x: !!timestamp 2001-13-45\n": "expflow.yaml:17:4: invalid YAML: '2001-13-45'",
    "x: !!omap [{a: 1}, {a: 2}]\n": "expflow.yaml:17:4: invalid YAML:",
    "x:\n  ? [{a: 1}]\n  : y\n": "expflow.yaml:18:3: invalid YAML: a key holds a mapping",
}


def test_a_value_ruamels_constructors_fail_on_is_refused_at_its_line(tmp_path: Path) -> None:
    """`!!int ''` (IndexError), `!!bool abc` (KeyError), `!!timestamp 2001-13-45`
    (ValueError), `!!omap` with a key twice (AssertionError) and a key holding a mapping
    (TypeError) were Python's errors out of ruamel: a traceback, exit 1, from
    `validate` and every command reading the policy (docs/spec.md §4: exit 2)."""
    r = new_repo(tmp_path / "repo")
    for added, said in UNBUILDABLE.items():
        write(r, "expflow.yaml", POLICY + added)
        assert_one_error_line(run_cli(["validate", "expflow.yaml"], r), 2, said)


@pytest.mark.parametrize(
    ("policy", "said"),
    [
        (POLICY.replace("value: 0,", "value: 0x" + "f" * 4000 + ","), "more than 4300 digits"),
        (POLICY + "protect: {results_immutable: !!bool abc}\n", "'abc' is not a valid !!bool"),
    ],
    ids=["rule-value-past-4300-digits", "unbuildable"],
)
def test_a_pull_requests_unreadable_policy_is_a_finding(
    tmp_path: Path, policy: str, said: str
) -> None:
    """The pull request's own policy is loaded under `--policy-ref` (and its globs by the
    history check). A rule value may be an integer past 2**53 (compared exactly), so
    `value: 0x` and 4,000 `f`s (4,817 digits) loaded, and the diff's display of it
    crashed the audit; `!!bool abc` crashed it too: a traceback, no report. Each is the
    commit's invalid policy: a `policy-invalid` finding, exit 1 with a report."""
    r = new_repo(tmp_path / "repo")
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    write(r, "expflow.yaml", policy)
    commit_all(r, "pull request")
    res = run_cli(["audit", "--policy-ref", base, "--since", base], r)
    assert res.code == 1, res
    assert "Traceback" not in res.err, res.err
    assert "policy-invalid" in res.out and said in res.out, res.out


def test_a_long_name_in_a_broken_policy_is_quoted_cut(tmp_path: Path) -> None:
    """A gate or metric name of 300,000 characters was quoted whole in the error (a gate's
    twice: a 600 KB line), and so in the `policy-invalid` finding of a pull request's
    policy: its report, annotation and SARIF. The schema's messages and the YAML
    reader's already cut what they quote (a policy holds 1 MiB)."""
    r = new_repo(tmp_path / "repo")
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    big = "x" * 300_000
    for broken, said in (
        (POLICY.replace("gates: []", f"gates: ['seg_total:{big}:5']"), "unknown operator"),
        (POLICY.replace("gates: []", f"gates: ['{big}:gt:5']"), "unknown metric"),
        (POLICY.replace("sort_by: seg_total", f"sort_by: {big}"), "/ranking/sort_by"),
        (POLICY + f"? {big}\n: 1\n", "unknown key"),
    ):
        write(r, "expflow.yaml", broken)
        res = run_cli(["validate", "expflow.yaml"], r)
        assert_one_error_line(res, 2, said)
        assert len(res.err) < 500, len(res.err)
    commit_all(r, "pull request")
    audit = run_cli(["audit", "--policy-ref", base, "--format", "json"], r)
    assert audit.code == 1, audit
    assert len(audit.out) < 20_000, len(audit.out)
