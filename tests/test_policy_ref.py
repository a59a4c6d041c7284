"""`audit` / `rank --policy-ref REF` (issue 13, attack 6): a pull request cannot change
the rules that judge it. The policy at REF judges; the commit's own policy is diffed
against it and reported (looser / stricter / changed) in every output and the report,
and `verify --repo` holds the report to a policy the repository's history holds."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers_audit import (
    PIN_SHA,
    POLICY,
    Cli,
    add_run,
    assert_one_error_line,
    commit_all,
    git,
    m,
    new_repo,
    reseal,
    run_cli,
    statement_of,
    write,
)

from expflow_git.policy.diff import Effect, PolicyChange, diff_policies
from expflow_git.policy.load import load_policy_bytes

BASE_POLICY = POLICY.replace("gates: []", "gates: ['seg_total:gt:50']")


def _loosen_gate(r: Path) -> PolicyChange:
    write(r, "expflow.yaml", BASE_POLICY.replace("seg_total:gt:50", "seg_total:gt:30"))
    add_run(r, "pr-run", m(40))
    return PolicyChange(Effect.LOOSER, "/gates", "seg_total:gt:50", "seg_total:gt:30")


def _raise_threshold(r: Path) -> PolicyChange:
    # pde_mean: lower is better, so its threshold is a ceiling: raising it lets more in.
    write(r, "expflow.yaml", BASE_POLICY.replace("threshold: 18.09", "threshold: 25"))
    add_run(r, "pr-run", m(60, pde=20.0))
    return PolicyChange(Effect.LOOSER, "/metrics/pde_mean/threshold", "18.09", "25")


def _drop_rule(r: Path) -> PolicyChange:
    rule = "  - {param: sub_step, op: gt, value: 0, required: true}\n"
    write(r, "expflow.yaml", BASE_POLICY.replace(rule, "").replace("rules:\n", "rules: []\n"))
    add_run(r, "pr-run", m(60), sub_step=0)
    return PolicyChange(Effect.LOOSER, "/rules", "sub_step gt 0 (required)", None)


def _widen_scan_allow(r: Path) -> PolicyChange:
    write(r, "expflow.yaml", BASE_POLICY + "scan: {allow: ['**']}\n")
    write(r, ".env", f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
    return PolicyChange(Effect.LOOSER, "/scan/allow", None, "**")


ATTACKS: dict[str, Callable[[Path], PolicyChange]] = {
    "loosened gate": _loosen_gate,
    "raised threshold": _raise_threshold,
    "dropped rule": _drop_rule,
    "scan.allow **": _widen_scan_allow,
}


def pr_repo(path: Path, attack: Callable[[Path], PolicyChange]) -> tuple[Path, str, PolicyChange]:
    """A base commit with a strict policy and one feasible run, then a pull request
    commit that loosens the policy to let its own change through."""
    r = new_repo(path, BASE_POLICY)
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    change = attack(r)
    commit_all(r, "pull request")
    return r, base, change


@pytest.mark.parametrize("name", list(ATTACKS))
def test_a_pull_request_cannot_loosen_the_rules_that_judge_it(
    xcli: Cli, tmp_path: Path, name: str
) -> None:
    r, base, change = pr_repo(tmp_path / "repo", ATTACKS[name])
    # The verdict on what the pull request brings: its run (the leaderboard's verdict
    # passes while any run is feasible), or the whole tree where it brings no run.
    focus = (
        ["--experiment", "pr-run"] if (r / "results/pdebench-task1/pr-run.json").exists() else []
    )
    # What the issue reports: judged by its own policy, the pull request passes.
    assert xcli(["audit", *focus], r).code == 0
    html = tmp_path / "card.html"
    res = xcli(["audit", "--policy-ref", base, "--html", str(html), *focus], r)
    assert res.code == 1, res
    line = f"  LOOSER    {change.where}: {change.describe()}"
    assert line in res.out.splitlines(), res.out
    assert "policy change in this commit (takes effect after merge" in res.out
    assert f"policy expflow.yaml at {base[:12]} (--policy-ref)" in res.out
    md = xcli(["audit", "--policy-ref", base, "--format", "md", *focus], r)
    assert md.code == 1
    assert "### Policy change (takes effect after merge)" in md.out
    assert "- **looser** " in md.out
    page = html.read_text()
    assert "Policy change (takes effect after merge)" in page
    assert '<span class="eff looser">looser</span>' in page
    statement = statement_of(xcli(["audit", "--policy-ref", base, "--format", "json"], r).out)
    assert statement["predicate"]["policy"]["proposed"]["changes"] == [change.as_json()]


def test_a_decoy_spelling_of_a_ruled_parameter_does_not_pass_the_rule(
    xcli: Cli, tmp_path: Path
) -> None:
    """A pull request's record that gives the ruled parameter twice, a good value before
    a bad one (`sub_step: 5`, then `Args/--sub_step: 0`), is infeasible under the base's
    rule; the first spelling alone used to decide (the key order: test_policy.py)."""
    r = new_repo(tmp_path / "repo", BASE_POLICY)
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    add_run(r, "pr-run", m(99), sub_step=0)  # writes `Args/--sub_step: 0`
    path = r / "experiments/pdebench-task1/pr-run.json"
    record = json.loads(path.read_text())
    record["params"] = {"sub_step": 5, **record["params"]}
    path.write_text(json.dumps(record))
    commit_all(r, "pull request")
    res = xcli(["audit", "--policy-ref", base, "--format", "json"], r)
    result = statement_of(res.out)["predicate"]["result"]
    assert result["best_any"] == "pr-run"
    assert result["best_feasible"] == "base-run", result
    focus = xcli(["audit", "--policy-ref", base, "--experiment", "pr-run"], r)
    assert focus.code == 1 and "sub_step" in focus.out, focus


def test_the_report_records_the_policy_that_judged_and_verifies(xcli: Cli, tmp_path: Path) -> None:
    r, base, change = pr_repo(tmp_path / "repo", _loosen_gate)
    key = tmp_path / "key"
    assert xcli(["keygen", "--out", str(key)], tmp_path).code == 0
    out = tmp_path / "report.json"
    res = xcli(["audit", "--policy-ref", base, "--out", str(out), "--sign-key", str(key)], r)
    assert res.code == 0  # its run fails the base's gate; the base's run is still feasible
    policy = statement_of(out.read_bytes())["predicate"]["policy"]
    assert policy["path"] == "expflow.yaml"
    assert policy["ref"] == base
    assert policy["gitBlob"] == git(r, "rev-parse", f"{base}:expflow.yaml")
    assert policy["proposed"] == {
        "gitBlob": git(r, "rev-parse", "HEAD:expflow.yaml"),
        "valid": True,
        "changes": [change.as_json()],
    }
    verified = xcli(["verify", str(out), "--public-key", f"{key}.pub", "--repo", str(r)], tmp_path)
    assert verified.code == 0, verified.out
    assert "ok   recompute: re-running the audit gives byte-identical entries" in verified.out
    assert f"match the commit (policy expflow.yaml, at {base[:12]})" in verified.out
    # A saved report shows the change too (the job summary is made from the saved report).
    shown = xcli(["report", str(out), "--format", "md", "--public-key", f"{key}.pub"], r)
    assert "- **looser** /gates: seg\\_total:gt:50 → seg\\_total:gt:30" in shown.out


def test_without_policy_ref_the_report_is_as_before(xcli: Cli, tmp_path: Path) -> None:
    r, _, _ = pr_repo(tmp_path / "repo", _loosen_gate)
    policy = statement_of(xcli(["audit", "--format", "json"], r).out)["predicate"]["policy"]
    assert set(policy) == {"path", "gitBlob", "sha256", "ranking"}
    assert policy["gitBlob"] == git(r, "rev-parse", "HEAD:expflow.yaml")


def _verify_lines(cli: Cli, report: bytes, tmp_path: Path, repo: Path, *args: str) -> dict:
    path = tmp_path / "forged.json"
    path.write_bytes(report)
    res = cli(["verify", str(path), "--allow-unsigned", "--repo", str(repo), *args], tmp_path)
    assert res.code == 1, res.out
    return {
        ln[5:].split(":", 1)[0]: ln[:4] for ln in res.out.splitlines() if ln[:4] in ("ok  ", "FAIL")
    }


def test_verify_refuses_a_policy_ref_outside_the_history(xcli: Cli, tmp_path: Path) -> None:
    r, base, _ = pr_repo(tmp_path / "repo", _loosen_gate)
    # A commit of the repository, but on no branch the verifier trusts: an own policy.
    git(r, "checkout", "-qb", "side", base)
    write(r, "expflow.yaml", BASE_POLICY.replace("seg_total:gt:50", "seg_total:gt:0"))
    side = commit_all(r, "a permissive policy of one's own")
    git(r, "checkout", "-q", "main")
    res = xcli(["audit", "--policy-ref", side, "--format", "json"], r)
    assert res.code == 0
    lines = _verify_lines(xcli, res.out.encode(), tmp_path, r)
    assert lines["blobs"] == "FAIL"


@pytest.mark.parametrize("how", ["other blob", "no ref", "dropped change", "other proposal"])
def test_verify_catches_a_forged_policy_record(xcli: Cli, tmp_path: Path, how: str) -> None:
    r, base, _ = pr_repo(tmp_path / "repo", _loosen_gate)
    res = xcli(["audit", "--policy-ref", base, "--format", "json"], r)
    statement = statement_of(res.out)
    policy = statement["predicate"]["policy"]
    own_blob = git(r, "rev-parse", "HEAD:expflow.yaml")
    if how == "other blob":  # the pull request's own (looser) policy claimed as the judge
        policy["gitBlob"] = own_blob
    elif how == "no ref":  # "judged by the commit's own policy"
        del policy["ref"], policy["proposed"]
    elif how == "dropped change":  # hide the loosening from the reviewer
        policy["proposed"]["changes"] = []
    else:
        policy["proposed"]["gitBlob"] = policy["gitBlob"]
    lines = _verify_lines(xcli, reseal(statement, None), tmp_path, r)
    assert "FAIL" in (lines.get("blobs"), lines.get("recompute")), lines


def test_a_stricter_change_is_reported_and_not_applied(xcli: Cli, tmp_path: Path) -> None:
    r = new_repo(tmp_path / "repo", BASE_POLICY)
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    write(r, "expflow.yaml", BASE_POLICY.replace("seg_total:gt:50", "seg_total:gt:60"))
    commit_all(r, "tighten")
    res = xcli(["audit", "--policy-ref", base], r)
    assert res.code == 0, res.out  # 55 > 50: the base's gate judges
    assert "  STRICTER  /gates: seg_total:gt:50 → seg_total:gt:60" in res.out.splitlines()
    assert "takes effect after merge, not applied here): 1 stricter" in res.out


def test_a_reworded_policy_is_no_change(xcli: Cli, tmp_path: Path) -> None:
    r = new_repo(tmp_path / "repo", BASE_POLICY)
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    write(
        r,
        "expflow.yaml",
        "# a comment\n" + BASE_POLICY.replace("[seg_total, pde", "[ seg_total,pde"),
    )
    commit_all(r, "reword")
    res = xcli(["audit", "--policy-ref", base], r)
    assert res.code == 0
    assert "reworded only (comments or spelling): no change in meaning" in res.out
    assert xcli(["audit", "--policy-ref", "HEAD"], r).out.count("): unchanged") == 1


@pytest.mark.parametrize("broken", ["missing", "invalid"])
def test_a_pull_request_that_breaks_its_own_policy_fails(
    xcli: Cli, tmp_path: Path, broken: str
) -> None:
    r = new_repo(tmp_path / "repo", BASE_POLICY)
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    if broken == "missing":
        (r / "expflow.yaml").unlink()
    else:
        write(r, "expflow.yaml", BASE_POLICY.replace("seg_total:gt:50", "seg_total:gt:x"))
    commit_all(r, "break the policy")
    assert xcli(["audit"], r).code == 2  # no policy to judge by
    res = xcli(["audit", "--policy-ref", base], r)
    assert res.code == 1, res.out
    assert "expflow.yaml: policy-invalid: " in res.out
    md = xcli(["audit", "--policy-ref", base, "--format", "md"], r).out
    assert ("no policy file" if broken == "missing" else "is invalid (see the findings)") in md


def test_bad_policy_ref_is_a_usage_error(xcli: Cli, tmp_path: Path) -> None:
    r = new_repo(tmp_path / "repo", BASE_POLICY)
    add_run(r, "base-run", m(55))
    commit_all(r, "base")
    for command in ("audit", "rank"):
        res = run_cli([command, "--policy-ref", "no-such-branch"], r)
        assert_one_error_line(res, 2, "--policy-ref no-such-branch: unknown revision")
    (r / "expflow.yaml").rename(r / "policy.yaml")
    commit_all(r, "move the policy")
    res = run_cli(["audit", "--policy", "expflow.yaml", "--policy-ref", "HEAD"], r)
    assert_one_error_line(res, 2, "expflow.yaml: no policy file at --policy-ref HEAD (")
    ok = run_cli(["audit", "--policy", "policy.yaml", "--policy-ref", "HEAD"], r)
    assert ok.code == 0, ok.err
    res = run_cli(["audit", "--policy", "policy.yaml", "--policy-ref", "HEAD~1"], r)
    assert_one_error_line(res, 2, "policy.yaml: no policy file at --policy-ref HEAD~1 (")


def test_rank_judges_by_the_policy_at_ref(xcli: Cli, tmp_path: Path) -> None:
    r, base, _ = pr_repo(tmp_path / "repo", _loosen_gate)
    assert xcli(["rank", "--format", "csv"], r).code == 0
    res = xcli(["rank", "--policy-ref", base, "--format", "json"], r)
    assert res.code == 0  # base-run (55) still passes the base's gate
    ranking = {row["id"]: row["feasible"] for row in json.loads(res.out)["ranking"]}
    assert ranking == {"base-run": True, "pr-run": False}
    assert "expflow-git rank:   LOOSER    /gates: seg_total:gt:50 → seg_total:gt:30" in res.err


def test_hostile_policy_strings_are_escaped_everywhere(xcli: Cli, tmp_path: Path) -> None:
    r = new_repo(tmp_path / "repo", BASE_POLICY)
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    evil = "x</td><script>alert(1)</script>|`*\\n::error::forged"
    write(r, "expflow.yaml", BASE_POLICY + f'scan: {{allow: ["{evil}"]}}\n')
    commit_all(r, "hostile")
    html = tmp_path / "card.html"
    text = xcli(["audit", "--policy-ref", base, "--html", str(html)], r).out
    assert "LOOSER    /scan/allow: added x</td><script>alert(1)</script>|`*\\x0a::error" in text
    assert "\n::error::forged" not in text
    assert "<script>" not in html.read_text()
    md = xcli(["audit", "--policy-ref", base, "--format", "md"], r).out
    assert "\\<script\\>" in md and "<script>" not in md and "\n::error" not in md
    github = xcli(["audit", "--policy-ref", base, "--format", "github"], r).out
    assert "::warning title=expflow policy change::expflow.yaml: 1 looser" in github
    assert "\n::error::forged" not in github


# ----------------------------------------------------------------------------- the diff


def changes(old: str, new: str) -> list[tuple[str, str, str | None, str | None]]:
    a, b = load_policy_bytes(old.encode()), load_policy_bytes(new.encode())
    return [(c.effect.value, c.where, c.before, c.after) for c in diff_policies(a, b)]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "seg_total:gt:50",
            "seg_total:gt:60",
            ("stricter", "/gates", "seg_total:gt:50", "seg_total:gt:60"),
        ),
        (
            "seg_total:gt:50",
            "seg_total:ge:50",
            ("looser", "/gates", "seg_total:gt:50", "seg_total:ge:50"),
        ),
        (
            "seg_total:ge:50",
            "seg_total:gt:50",
            ("stricter", "/gates", "seg_total:ge:50", "seg_total:gt:50"),
        ),
        (
            "pde_mean:lt:20",
            "pde_mean:lt:25",
            ("looser", "/gates", "pde_mean:lt:20", "pde_mean:lt:25"),
        ),
        (
            "pde_mean:le:20",
            "pde_mean:lt:20",
            ("stricter", "/gates", "pde_mean:le:20", "pde_mean:lt:20"),
        ),
        (
            "seg_total:eq:50",
            "seg_total:eq:60",
            ("changed", "/gates", "seg_total:eq:50", "seg_total:eq:60"),
        ),
    ],
)
def test_a_changed_gate_is_classed_by_its_bound(
    old: str, new: str, expected: tuple[str, str, str, str]
) -> None:
    assert changes(
        POLICY.replace("gates: []", f"gates: ['{old}']"),
        POLICY.replace("gates: []", f"gates: ['{new}']"),
    ) == [expected]


def test_added_and_removed_items_and_every_section() -> None:
    old = POLICY + "budget: {max_runs_per_study: 10}\nsigning: {public_keys: [k1]}\n"
    new = (
        POLICY.replace("gates: []", "gates: ['seg_total:gt:1']")
        .replace(
            "required_metrics: [seg_total, pde_mean, train_time_min]",
            "required_metrics: [seg_total, pde_mean]",
        )
        .replace(
            "train_time_min: {group: Time, higher_is_better: false, threshold: 60, min: 0}",
            "train_time_min: {group: Time, higher_is_better: false, threshold: 50, min: 1}",
        )
        .replace("  seg1: {group: Score, higher_is_better: true}\n", "")
        .replace("value: 0, required: true", "value: 0, required: false")
        .replace("tie_break: [pde_mean]", "tie_break: []")
        .replace('results: ["results/**/*.json"]', 'results: ["res/**/*.json"]')
        + WALK_LINE
        + "budget: {max_runs_per_study: 20}\nsigning: {public_keys: [k1, k2]}\n"
        + "protect: {results_immutable: false}\nseed_policy: {base_seed: 7}\n"
    )
    assert changes(old, new) == [
        ("looser", "/paths/results", "results/**/*.json", None),
        ("changed", "/paths/results", None, "res/**/*.json"),
        ("stricter", "/metrics", "seg1", None),
        ("stricter", "/metrics/train_time_min/min", "0", "1"),
        ("stricter", "/metrics/train_time_min/threshold", "60", "50"),
        ("looser", "/required_metrics", "train_time_min", None),
        ("changed", "/ranking/tie_break", '["pde_mean"]', "[]"),
        ("stricter", "/gates", None, "seg_total:gt:1"),
        ("looser", "/rules", "sub_step gt 0 (required)", "sub_step gt 0"),
        ("looser", "/budget/max_runs_per_study", "10", "20"),
        (
            "stricter",
            "/walk_forward",
            None,
            '{"metric": "seg_total", "min_pearson": 0.3, "split": "holdout", "top_n": 10}',
        ),
        ("changed", "/seed_policy/base_seed", "0", "7"),
        ("looser", "/protect/results_immutable", "true", "false"),
        ("looser", "/signing/public_keys", None, "k2"),
    ]
    assert changes(new, new) == []


def test_a_corrections_glob_change_is_a_change_in_meaning() -> None:
    """`paths.corrections` was read as no change in meaning ("reworded only"), though a
    correction out of the globs deletes nothing any more: merged, it let the next pull
    request bring a run deleted on record back (an attacker's hunt, seventeenth pass)."""
    old = POLICY.replace(
        'results: ["results/**/*.json"]',
        'results: ["results/**/*.json"]\n  corrections: ["corrections/**/*.json"]',
    )
    new = old.replace('corrections: ["corrections/**/*.json"]', 'corrections: ["a/**/*.json"]')
    assert changes(old, new) == [
        ("looser", "/paths/corrections", "corrections/**/*.json", None),
        ("changed", "/paths/corrections", None, "a/**/*.json"),
    ]


WALK_LINE = "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: 0.3}\n"


def test_renaming_the_budgeted_split_is_looser() -> None:
    """The holdout budget counts the looks at `split`: renamed (holdout -> heldout) it
    counted none of the study's earlier looks, and the diff said only "changed" (an
    attacker's hunt: six looks against a budget of three, no finding at any stage)."""
    budgeted = WALK_LINE.replace(
        "min_pearson: 0.3}", "min_pearson: 0.3, max_evaluations_per_study: 3}"
    )
    renamed = budgeted.replace("split: holdout", "split: heldout")
    assert changes(POLICY + budgeted, POLICY + renamed) == [
        ("looser", "/walk_forward/split", "holdout", "heldout")
    ]
    # Without a budget too: the gate correlates other scores, any the author chose (the
    # old bar gone: tests/test_hunt38_policy.py).
    assert changes(POLICY + WALK_LINE, POLICY + WALK_LINE.replace("holdout", "heldout")) == [
        ("looser", "/walk_forward/split", "holdout", "heldout")
    ]


def test_a_threshold_follows_the_metric_direction_and_the_metric_itself() -> None:
    # Higher is better: the threshold is a floor, raising it is stricter.
    old = POLICY.replace(
        "seg_total: {group: Score, higher_is_better: true}",
        "seg_total: {group: Score, higher_is_better: true, threshold: 50}",
    )
    assert changes(old, old.replace("threshold: 50}", "threshold: 55}")) == [
        ("stricter", "/metrics/seg_total/threshold", "50", "55")
    ]
    # A new metric with a threshold: a gate every run (even one without it) must pass.
    added = POLICY.replace(
        "metrics:\n", "metrics:\n  new_m: {group: G, higher_is_better: true, threshold: 1}\n", 1
    )
    assert changes(POLICY, added) == [
        ("looser", "/metrics", None, "new_m"),
        ("stricter", "/metrics/new_m/threshold", None, "1"),
    ]
    flipped = POLICY.replace(
        "pde_mean: {group: PDE, higher_is_better: false",
        "pde_mean: {group: PDE, higher_is_better: true",
    )
    # The threshold's bar turned the other way (a ceiling of 18.09 became a floor): the
    # bar a run had to clear is gone, the same number or not (only "changed" was said of
    # the direction; an attacker's hunt, issue 18 twenty-seventh pass).
    assert changes(POLICY, flipped) == [
        ("changed", "/metrics/pde_mean/higher_is_better", "false", "true"),
        ("looser", "/metrics/pde_mean/threshold", "18.09 (ceiling)", "18.09 (floor)"),
    ]
    anything = flipped.replace("threshold: 18.09", "threshold: -1000000000")
    assert changes(POLICY, anything)[1:] == [
        ("looser", "/metrics/pde_mean/threshold", "18.09 (ceiling)", "-1000000000 (floor)"),
    ]


def test_an_aggregate_closer_to_the_best_point_is_looser() -> None:
    """`aggregate: max` → `min` on a lower-is-better metric judges a run by its best
    epoch, not its worst: it was "changed" (a review, issue 18 twenty-seventh pass)."""

    def pde(aggregate: str) -> str:
        return POLICY.replace(
            "pde_mean: {group: PDE, higher_is_better: false",
            f"pde_mean: {{group: PDE, aggregate: {aggregate}, higher_is_better: false",
        )

    where = "/metrics/pde_mean/aggregate"
    assert changes(pde("max"), pde("min")) == [("looser", where, "max", "min")]
    assert changes(pde("max"), pde("last")) == [("looser", where, "max", "last")]
    assert changes(pde("min"), pde("last")) == [("stricter", where, "min", "last")]
    seg = POLICY.replace(
        "seg_total: {group: Score, higher_is_better: true}",
        "seg_total: {group: Score, higher_is_better: true, aggregate: last}",
    )
    assert changes(seg, seg.replace("aggregate: last", "aggregate: max")) == [
        ("looser", "/metrics/seg_total/aggregate", "last", "max")
    ]


def test_a_rule_value_is_compared_by_type_and_bound() -> None:
    def rules(rule: str) -> str:
        return POLICY.replace("{param: sub_step, op: gt, value: 0, required: true}", rule)

    base = rules("{param: Args/--sub_step, op: gt, value: 0}")
    assert changes(base, rules("{param: sub_step, op: gt, value: 0.0}")) == []
    assert changes(base, rules("{param: sub_step, op: gt, value: 2}")) == [
        ("stricter", "/rules", "Args/--sub_step gt 0", "sub_step gt 2")
    ]
    assert changes(
        rules("{param: model, op: eq, value: fno}"), rules("{param: model, op: eq, value: unet}")
    ) == [("changed", "/rules", 'model eq "fno"', 'model eq "unet"')]
    assert changes(base, rules("{param: sub_step, op: gt, value: '0'}")) == [
        ("changed", "/rules", "Args/--sub_step gt 0", 'sub_step gt "0"')
    ]
    # A bound loosened 100,000-fold beside `required` added (which every real run meets)
    # was one "changed" (an attacker's hunt, issue 18 twenty-seventh pass): looser.
    assert changes(
        rules("{param: lr, op: le, value: 0.01}"),
        rules("{param: lr, op: le, value: 1000, required: true}"),
    ) == [("looser", "/rules", "lr le 0.01", "lr le 1000 (required)")]


def test_a_bound_in_a_string_and_corrections_allowed_are_looser() -> None:
    """A rule compares with a bound spelled as a number in a string as with that number:
    `gt "-5"` for `gt 0` loosens the rule, and `protect.corrections: deny -> allow` lets
    a declared correction rewrite a result. Both were only "changed" (an attacker's
    hunt), where the threat model promises that a policy edit shows what got looser."""

    def rules(rule: str) -> str:
        return POLICY.replace("{param: sub_step, op: gt, value: 0, required: true}", rule)

    base = rules("{param: sub_step, op: gt, value: 0}")
    assert changes(base, rules("{param: sub_step, op: gt, value: '-5'}")) == [
        ("looser", "/rules", "sub_step gt 0", 'sub_step gt "-5"')
    ]
    assert changes(base, rules("{param: sub_step, op: lt, value: '1e3'}")) == [
        ("looser", "/rules", "sub_step gt 0", None),
        ("stricter", "/rules", None, 'sub_step lt "1e3"'),
    ]
    ten, nine = (rules(f"{{param: sub_step, op: le, value: {v}}}") for v in ("'10'", "9"))
    assert changes(ten, nine) == [("stricter", "/rules", 'sub_step le "10"', "sub_step le 9")]
    deny = POLICY + "protect: {corrections: deny}\n"
    assert changes(deny, deny.replace("deny", "allow")) == [
        ("looser", "/protect/corrections", "deny", "allow")
    ]
    assert changes(POLICY, deny) == [("stricter", "/protect/corrections", "allow", "deny")]
    assert changes(deny.replace("deny", "allow"), POLICY) == []  # allow is the default


def test_a_base_missing_from_a_shallow_clone_says_fetch_depth(tmp_path: Path) -> None:
    r, base, _ = pr_repo(tmp_path / "repo", _loosen_gate)
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{r}", str(clone))
    res = run_cli(["audit", "--policy-ref", base], clone)
    assert_one_error_line(res, 2, f"--policy-ref {base}: unknown revision", "fetch-depth: 0")


def test_no_number_of_infeasible_runs_hides_a_policy_change_or_the_verdict(
    xcli: Cli, tmp_path: Path
) -> None:
    """GitHub shows the first 10 warnings and 10 errors of a step, in the order printed.
    The policy-change warning came after one per infeasible run: a pull request with ten
    (or a leaderboard that had them) pushed it out of sight, and the verdict came last,
    after every finding (an attacker's hunt). Both come first now."""
    r = new_repo(tmp_path / "repo", BASE_POLICY)
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    _loosen_gate(r)
    for i in range(12):
        add_run(r, f"slow-{i:02d}", m(60, minutes=90))  # over the 60-minute threshold
    write(r, "results/pdebench-task1/broken.json", "{")  # a finding (an error)
    commit_all(r, "pull request")
    res = xcli(["audit", "--policy-ref", base, "--format", "github"], r)
    assert res.code == 1
    commands = [line for line in res.out.splitlines() if line.startswith("::")]
    warnings = [c for c in commands if c.startswith("::warning")]
    errors = [c for c in commands if c.startswith("::error")]
    assert len(warnings) > 10  # twelve infeasible runs, and the policy change
    assert warnings[0].startswith("::warning title=expflow policy change::expflow.yaml: 1 looser")
    assert errors[0].startswith("::error title=expflow-git audit::audit FAIL (every run; ")
    assert any("broken.json" in e for e in errors[1:])


def test_a_broken_policy_on_the_branch_is_found_at_its_line(xcli: Cli, tmp_path: Path) -> None:
    """A pull request's policy that is no YAML was a finding at no line, its text naming
    the path again (`expflow.yaml: policy-invalid: expflow.yaml:31:1: …`); the annotation
    had no `line=` and SARIF put it at line 1 (a hunt, issue 18 twenty-fourth pass)."""
    r = new_repo(tmp_path / "repo", BASE_POLICY)
    add_run(r, "base-run", m(55))
    base = commit_all(r, "base")
    write(r, "expflow.yaml", BASE_POLICY + "bogus: [\n")
    commit_all(r, "break the policy")
    line = BASE_POLICY.count("\n") + 2  # the stream ends on the line after the `[`
    res = xcli(["audit", "--policy-ref", base], r)
    assert res.code == 1, res.out
    assert f"expflow.yaml:{line}:1: policy-invalid: invalid YAML" in res.out, res.out
    github = xcli(["audit", "--policy-ref", base, "--format", "github"], r).out
    assert f"::error file=expflow.yaml,line={line},col=1,title=expflow policy-invalid::" in github
    sarif = json.loads(xcli(["audit", "--policy-ref", base, "--format", "sarif"], r).out)
    results = sarif["runs"][0]["results"]
    spots = [
        res["locations"][0]["physicalLocation"]["region"]["startLine"]
        for res in results
        if res["ruleId"] == "policy-invalid"
    ]
    assert spots == [line], results
