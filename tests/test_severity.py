"""Advisory constraints (issue 19 part 1): a gate or rule of `severity: warning` is
checked and shown everywhere a failed check is shown, marked as a warning, and goes
into the report, but never changes feasibility, rank, best_any or best_feasible.
Real repositories, the real CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from helpers_audit import (
    POLICY,
    Cli,
    add_run,
    assert_one_error_line,
    commit_all,
    new_repo,
    reseal,
    runs_of,
    statement_of,
    write,
)

from expflow_git.errors import ExpflowError
from expflow_git.policy.diff import Effect, PolicyChange, diff_policies
from expflow_git.policy.load import load_policy_bytes
from expflow_git.policy.model import Severity, parse_gate

WARN_GATE = "{gate: 'seg_total:gt:56', severity: warning}"
WARN_RULE = "  - {param: lr, op: lt, value: 0.0001, severity: warning}\n"
WALK_FLOAT = "walk_forward: {metric: seg_total, split: holdout, top_n: 10.0, min_pearson: 0.3}\n"
ADVISORY = POLICY.replace("gates: []", f"gates: [{WARN_GATE}]").rstrip("\n") + "\n" + WARN_RULE


def _m(seg: float, pde: float = 15.0) -> dict[str, float]:
    return {"seg_total": seg, "pde_mean": pde, "train_time_min": 45.0}


def advisory_repo(path: Path, policy: str = ADVISORY) -> Path:
    """Three runs: `lucky` is the best and fails only the advisory gate and rule (lr
    0.001 is not below 0.0001); `solid` passes everything; `slow` fails a threshold."""
    r = new_repo(path, policy)
    add_run(r, "lucky", _m(55.0))
    add_run(r, "solid", _m(57.0))
    add_run(r, "slow", _m(60.0, pde=20.0))
    commit_all(r, "runs")
    return r


def _rank(cli: Cli, r: Path, *args: str) -> dict:
    res = cli(["rank", "--format", "json", *args], r)
    assert res.code in (0, 1), res
    return {row["id"]: row for row in json.loads(res.out)["ranking"]} | {
        "_doc": json.loads(res.out)
    }


# ----------------------------------------------------------------------------- semantics


def test_a_failed_warning_never_changes_feasibility_rank_or_the_best_runs(
    xcli: Cli, tmp_path: Path
) -> None:
    r = advisory_repo(tmp_path / "repo")
    rows = _rank(xcli, r)
    doc = rows.pop("_doc")
    assert rows["lucky"]["feasible"] is True and rows["lucky"]["rank"] == 2
    assert rows["lucky"]["failed"] == []
    assert rows["lucky"]["warnings"] == [
        "seg_total:gt:56 (55 not > 56)",
        "lr:lt:0.0001 (lr = 0.001 not < 0.0001)",
    ]
    assert rows["solid"]["rank"] == 1 and rows["solid"]["warnings"] == [
        "lr:lt:0.0001 (lr = 0.001 not < 0.0001)"
    ]
    assert rows["slow"]["feasible"] is False and rows["slow"]["failed"] == [
        "pde_mean:lt:18.09 (20 not < 18.09)"
    ]
    assert (doc["best_feasible"], doc["best_any"]) == ("solid", "slow")
    # The same gate as an error decides: the advisory one did not.
    strict = xcli(["rank", "--format", "json", "--gate", "seg_total:gt:56"], r)
    ranking = {row["id"]: row for row in json.loads(strict.out)["ranking"]}
    assert ranking["lucky"]["feasible"] is False


def test_rank_warn_adds_an_advisory_gate(xcli: Cli, tmp_path: Path) -> None:
    r = advisory_repo(tmp_path / "repo", POLICY)
    rows = _rank(xcli, r, "--warn", "seg_total:gt:58")
    assert rows["solid"]["feasible"] is True and rows["solid"]["rank"] == 1
    assert rows["solid"]["warnings"] == ["seg_total:gt:58 (57 not > 58)"]
    # Every run failing only advisory checks: still feasible, exit 0.
    assert xcli(["rank", "--warn", "seg_total:gt:99"], r).code == 0
    assert xcli(["rank", "--gate", "seg_total:gt:99"], r).code == 1


def test_a_warning_repeated_as_an_error_is_an_error(xcli: Cli, tmp_path: Path) -> None:
    r = advisory_repo(tmp_path / "repo")
    rows = _rank(xcli, r, "--gate", "seg_total:gt:56")
    assert rows["lucky"]["feasible"] is False
    assert rows["lucky"]["failed"] == ["seg_total:gt:56 (55 not > 56)"]


def test_a_rule_repeated_as_an_error_and_a_warning_is_one_error(xcli: Cli, tmp_path: Path) -> None:
    """Gates were merged so; rules became two checks of one name, a FAIL and a warn (an
    attacker's hunt), while the policy diff counted them as one error."""
    twice = ADVISORY + WARN_RULE.replace(", severity: warning", "")
    r = advisory_repo(tmp_path / "repo", twice)
    rows = _rank(xcli, r)
    assert rows["lucky"]["feasible"] is False
    assert [f for f in rows["lucky"]["failed"] if f.startswith("lr:")] == [
        "lr:lt:0.0001 (lr = 0.001 not < 0.0001)"
    ]
    assert not [w for w in rows["lucky"]["warnings"] if w.startswith("lr:")]
    policy = load_policy_bytes(twice.encode())
    assert [(rule.name, rule.severity) for rule in policy.rules if rule.param == "lr"] == [
        ("lr:lt:0.0001", Severity.ERROR)
    ]


def test_a_walk_forward_top_n_written_as_a_float_is_its_integer(xcli: Cli, tmp_path: Path) -> None:
    """The schema takes 10.0 for an integer; every hook passed it and every audit was a
    traceback (a slice of 10.0; an attacker's hunt)."""
    r = advisory_repo(tmp_path / "repo", ADVISORY + WALK_FLOAT)
    res = xcli(["audit"], r)
    assert res.code in (0, 1) and "Traceback" not in res.err, res
    assert "walk-forward:" in res.out


def test_integer_settings_written_as_floats_are_integers_bounded_as_integers(
    xcli: Cli, tmp_path: Path
) -> None:
    """`top_n: 1.0e+20` got past the 2**53 bound and made the report's canonical JSON a
    traceback; `max_runs_per_study: 2.0` was shown as "budget of 2.0" (a review)."""
    huge = ADVISORY + WALK_FLOAT.replace("top_n: 10.0", "top_n: 1.0e+20")
    r = advisory_repo(tmp_path / "repo", huge)
    res = xcli(["audit"], r)
    assert res.code == 2, res
    assert res.err.startswith("expflow-git: error: expflow.yaml: /walk_forward/top_n: ")
    assert "below 2**53" in res.err and res.err.count("\n") == 1
    budget = load_policy_bytes((ADVISORY + "budget: {max_runs_per_study: 2.0}\n").encode())
    assert type(budget.max_runs_per_study) is int and budget.max_runs_per_study == 2


def test_a_policy_nested_too_deep_is_one_line_exit_2(xcli: Cli, tmp_path: Path) -> None:
    """jsonschema-rs gave up at ~260 levels with a traceback, exit 1 (an attacker's hunt)."""
    r = advisory_repo(tmp_path / "repo", POLICY + "scan: {allow: " + "[" * 300 + "]" * 300 + "}\n")
    res = xcli(["validate", "expflow.yaml"], r)
    assert res.code == 2, res
    # (refused at its bracket since the forty-second pass: a flow nest past 64 levels is
    # not left to ruamel, whose scanner took a minute on such a policy)
    assert res.err.startswith("expflow-git: error: expflow.yaml:17:")
    assert "nest more than 64 levels deep" in res.err
    assert res.err.count("\n") == 1


def test_parse_gate_takes_the_mapping_form() -> None:
    """`compare_scores` and the policy hand parse_gate a mapping: the one parser."""
    registry = load_policy_bytes(POLICY.encode()).metrics
    gate = parse_gate({"gate": "seg_total:ge:50", "severity": "warning"}, registry)
    assert (gate.name, gate.severity) == ("seg_total:ge:50", Severity.WARNING)
    assert parse_gate({"gate": "seg_total:ge:50"}, registry).severity is Severity.ERROR
    for bad, needle in [
        ({"gate": "seg_total:ge:50", "severity": "info"}, "not one of error, warning"),
        ({"gate": "seg_total:ge:50", "sevrity": "warning"}, "did you mean 'severity'"),
        ({"severity": "warning"}, "'gate' must be a string"),
        ({"gate": "nope:ge:1", "severity": "warning"}, "unknown metric 'nope'"),
    ]:
        with pytest.raises(ExpflowError, match=needle):
            parse_gate(bad, registry)


@pytest.mark.parametrize(
    ("gates", "needle"),
    [
        ("[{gate: 'seg_total:gt:1', severity: info}]", "/gates/0"),
        ("[{gate: 'seg_total:gt:1', sevrity: warning}]", "did you mean 'severity'"),
        ("[{severity: warning}]", "/gates/0"),
        ("[{gate: 'seg_totl:gt:1', severity: warning}]", "/gates/0: gate 'seg_totl:gt:1'"),
    ],
)
def test_a_bad_advisory_gate_is_a_configuration_error(
    xcli: Cli, tmp_path: Path, gates: str, needle: str
) -> None:
    r = advisory_repo(tmp_path / "repo", POLICY.replace("gates: []", f"gates: {gates}"))
    res = xcli(["rank"], r)
    assert_one_error_line(res, 2, "expflow.yaml", needle)


def test_a_rule_with_a_bad_severity_is_a_configuration_error(xcli: Cli, tmp_path: Path) -> None:
    rule = WARN_RULE.replace("warning", "advisory")
    r = advisory_repo(tmp_path / "repo", POLICY.rstrip("\n") + "\n" + rule)
    assert_one_error_line(xcli(["audit"], r), 2, "expflow.yaml", "/rules/1/severity")


# ----------------------------------------------------------------------------- every output


def test_warnings_are_shown_everywhere_marked_as_warnings(xcli: Cli, tmp_path: Path) -> None:
    r = advisory_repo(tmp_path / "repo")
    html = tmp_path / "card.html"
    text = xcli(["audit", "--html", str(html)], r)
    assert text.code == 0, text
    lucky = next(ln for ln in text.out.splitlines() if " lucky " in ln)
    assert "warning: seg_total:gt:56 (55 not > 56); warning: lr:lt:0.0001" in lucky
    assert "warnings: 3 run(s) fail an advisory check" in text.out
    md = xcli(["audit", "--format", "md"], r).out
    assert "warning: seg\\_total:gt:56 (55 not \\> 56)" in md
    assert "3 run(s) fail an advisory check" in md
    assert '<span class="chk warn">warning: seg_total:gt:56 (55 not &gt; 56)</span>' in (
        html.read_text()
    )
    github = xcli(["audit", "--format", "github"], r).out
    assert "title=expflow advisory check failed by run lucky::warning: seg_total:gt:56" in github
    sarif = json.loads(xcli(["audit", "--format", "sarif"], r).out)
    run = sarif["runs"][0]
    advisory = [x for x in run["results"] if x["ruleId"] == "advisory-check"]
    assert {x["properties"]["runId"] for x in advisory} == {"lucky", "solid", "slow"}
    assert {x["level"] for x in advisory} == {"warning"}
    rule = next(x for x in run["tool"]["driver"]["rules"] if x["id"] == "advisory-check")
    assert rule["defaultConfiguration"]["level"] == "warning"
    rows = list(csv.DictReader(io.StringIO(xcli(["rank", "--format", "csv"], r).out)))
    assert next(x for x in rows if x["id"] == "lucky")["failed checks"].startswith(
        "warning: seg_total:gt:56 (55 not > 56)"
    )


def test_the_report_holds_the_warnings_and_verifies(xcli: Cli, tmp_path: Path) -> None:
    r = advisory_repo(tmp_path / "repo")
    out = tmp_path / "report.json"
    assert xcli(["audit", "--out", str(out)], r).code == 0
    st = statement_of(out.read_bytes())
    lucky = next(e for e in runs_of(st) if e["id"] == "lucky")
    gate = next(c for c in lucky["checks"] if c["name"] == "seg_total:gt:56")
    assert gate == {
        "kind": "gate",
        "name": "seg_total:gt:56",
        "passed": False,
        "detail": "55 not > 56",
        "severity": "warning",
    }
    # An error check says nothing about its severity (reports without warnings keep bytes).
    assert all("severity" not in c for c in lucky["checks"] if c["kind"] == "threshold")
    assert lucky["feasible"] is True and lucky["rank"] == 2
    assert st["predicate"]["result"]["best_feasible"] == "solid"
    res = xcli(["verify", str(out), "--allow-unsigned", "--repo", str(r)], tmp_path)
    assert res.code == 0, res.out
    assert "ok   recompute" in res.out
    shown = xcli(["report", str(out)], r)  # a saved report shows them too
    assert "warning: seg_total:gt:56 (55 not > 56)" in shown.out


def test_a_warning_turned_into_an_error_in_the_report_is_caught(xcli: Cli, tmp_path: Path) -> None:
    """Dropping `severity` from a failed warning makes `feasible: true` a lie: the
    result check fails without the repository, even when the chain is redone."""
    from expflow_git.report.statement import chain, genesis_hash

    r = advisory_repo(tmp_path / "repo")
    st = statement_of(xcli(["audit", "--format", "json"], r).out)
    p = st["predicate"]
    lucky = next(e for e in p["entries"] if e.get("id") == "lucky")
    for check in lucky["checks"]:
        check.pop("severity", None)
    bodies = [
        {k: v for k, v in e.items() if k not in ("seq", "prev", "hash")} for e in p["entries"]
    ]
    p["entries"] = chain(
        bodies, genesis_hash(p["repo"]["commit"], p["policy"]["gitBlob"], p["inputs"]["merkleRoot"])
    )
    p["entriesHead"] = {"count": len(p["entries"]), "hash": p["entries"][-1]["hash"]}
    forged = tmp_path / "forged.json"
    forged.write_bytes(reseal(st, None))
    res = xcli(["verify", str(forged), "--allow-unsigned"], tmp_path)
    assert res.code == 1
    assert "run 'lucky': 'feasible' contradicts its checks" in res.out


# ----------------------------------------------------------------------------- policy diff


def _policies(before: str, after: str) -> tuple[PolicyChange, ...]:
    return diff_policies(load_policy_bytes(before.encode()), load_policy_bytes(after.encode()))


def test_error_to_warning_is_looser_and_back_is_stricter() -> None:
    error = POLICY.replace("gates: []", "gates: ['seg_total:gt:50']")
    warning = POLICY.replace("gates: []", "gates: [{gate: 'seg_total:gt:50', severity: warning}]")
    assert _policies(error, warning) == (
        PolicyChange(
            Effect.LOOSER, "/gates", "seg_total:gt:50 (error)", "seg_total:gt:50 (warning)"
        ),
    )
    assert _policies(warning, error) == (
        PolicyChange(
            Effect.STRICTER, "/gates", "seg_total:gt:50 (warning)", "seg_total:gt:50 (error)"
        ),
    )
    rule = "  - {param: sub_step, op: gt, value: 0, required: true}\n"
    soft = POLICY.replace(rule, rule.replace("}", ", severity: warning}"))
    assert [c.effect for c in _policies(POLICY, soft)] == [Effect.LOOSER]
    assert _policies(POLICY, soft)[0].after == "sub_step gt 0 (required) (warning)"
    # A warning added or removed blocks no run: only changed.
    assert [c.effect for c in _policies(POLICY, ADVISORY)] == [Effect.CHANGED, Effect.CHANGED]


def test_a_pull_request_softening_a_gate_is_reported_looser(xcli: Cli, tmp_path: Path) -> None:
    base_policy = POLICY.replace("gates: []", "gates: ['seg_total:gt:56']")
    r = new_repo(tmp_path / "repo", base_policy)
    add_run(r, "base-run", _m(57.0))
    base = commit_all(r, "base")
    write(
        r,
        "expflow.yaml",
        base_policy.replace("'seg_total:gt:56'", "{gate: 'seg_total:gt:56', severity: warning}"),
    )
    add_run(r, "pr-run", _m(55.0))
    commit_all(r, "pull request")
    res = xcli(["audit", "--policy-ref", base, "--experiment", "pr-run"], r)
    assert res.code == 1, res.out  # judged by the base: the gate still blocks
    line = "  LOOSER    /gates: seg_total:gt:56 (error) → seg_total:gt:56 (warning)"
    assert line in res.out.splitlines(), res.out


def test_validate_competition_rules_passes_a_run_the_audit_calls_feasible(
    xcli: Cli, tmp_path: Path
) -> None:
    """A failed advisory gate or rule (`severity: warning`) made `all_pass` False for a
    run the audit ranks as feasible (an attacker's hunt): the audit's verdict and the
    function's agree now, and each check says its severity."""
    import expflow_git

    policy = (
        "version: 1\nmetrics:\n  seg_total: {group: Score, higher_is_better: true}\n"
        "required_metrics: [seg_total]\nranking: {sort_by: seg_total}\n"
        "gates:\n  - {gate: 'seg_total:gt:70', severity: warning}\n"
        "rules:\n  - {param: Args/--sub_step, op: gt, value: 0, severity: warning}\n"
    )
    repo = new_repo(tmp_path / "repo", policy)
    add_run(repo, "a1", {"seg_total": 60}, sub_step=0)
    commit_all(repo)
    res = xcli(["audit", "--format", "json"], repo)
    assert res.code == 0, res
    assert statement_of(res.out)["predicate"]["result"]["best_feasible"] == "a1"
    judge = repo / "expflow.yaml"
    verdict = expflow_git.validate_competition_rules(
        task_metrics={"seg_total": 60}, task_params={"Args/--sub_step": 0}, policy=judge
    )
    assert verdict.all_pass is True
    assert [(c.name, c.passed, c.severity) for c in verdict.checks] == [
        ("seg_total:gt:70", False, "warning"),
        ("required:seg_total", True, "error"),
        ("Args/--sub_step:gt:0", False, "warning"),
    ]
    judge.write_text(policy.replace(", severity: warning}", "}"))
    failed = expflow_git.validate_competition_rules(
        task_metrics={"seg_total": 60}, task_params={"Args/--sub_step": 0}, policy=judge
    )
    assert failed.all_pass is False and {c.severity for c in failed.checks} == {"error"}
