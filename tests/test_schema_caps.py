"""A document's schema findings are capped (docs/spec.md §2.3, issue 18 twenty-sixth
pass): the first 100 in `schema_errors`' order, then one counting the rest, alike in
`validate` (the hooks' command), the audit cold and warm, and its report; the `github`
annotations and SARIF results of an audit are capped too.

A result whose series held 349,460 `[]` points was 349,460 findings: a 149 MB report,
as many `::error` lines, 67 s and 886 MB for `validate`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import ExpRepo, experiment_doc, result_doc, run_cli
from support import in_process_cli
from test_sarif import SARIF_SUBSET

from expflow_git.demo import build_repo
from expflow_git.schemas import FEW_VALUES, MANY_ERRORS, Kind, schema_errors

pytestmark = pytest.mark.usefixtures("isolated_env")

LISTED = 100
# `[]` points, each one schema error: over FEW_VALUES values and MANY_ERRORS errors, so
# python-jsonschema counts them; and `[]` params, few enough for jsonschema-rs alone.
POINTS = MANY_ERRORS + 2_000
PARAMS = 150
RES = "results/pdebench-task1/exp-002.json"
EXP = "experiments/pdebench-task1/exp-003.json"


def hostile_result() -> dict[str, Any]:
    return result_doc("exp-002", series={"seg_total": [[]] * POINTS})


def hostile_record() -> dict[str, Any]:
    return experiment_doc("exp-003", params={f"p{i}": [] for i in range(PARAMS)})


def expected_lines(path: str, kind: Kind, doc: dict[str, Any]) -> list[str]:
    """What `validate` prints of `doc`: its first 100 schema errors (as `schema_errors`
    orders them, uncapped), then the count of the rest."""
    every = list(schema_errors(kind, doc))
    lines = [f"{path}#{pointer}: schema: {message}" for pointer, message in every[:LISTED]]
    more = f"{len(every) - LISTED:,} more schema violation(s) in this document, not listed"
    return [*lines, f"{path}: schema: {more}"]


@pytest.fixture
def hostile(exp_repo: ExpRepo) -> ExpRepo:
    exp_repo.write_json(RES, hostile_result())
    exp_repo.write_json(EXP, hostile_record())
    assert POINTS + 10 > FEW_VALUES
    return exp_repo


def test_validate_lists_a_documents_first_100_schema_violations_and_counts_the_rest(
    hostile: ExpRepo,
) -> None:
    hostile.stage()
    expected = {
        RES: expected_lines(RES, Kind.RESULT, hostile_result()),
        EXP: expected_lines(EXP, Kind.EXPERIMENT, hostile_record()),
    }
    more = f"{POINTS - LISTED:,} more schema violation(s) in this document, not listed"
    assert expected[RES][-1] == f"{RES}: schema: {more}"
    # the pre-commit framework's call, the plain hook's and a look at the whole tree
    for args in (["validate", RES, EXP], ["validate", "--staged", "--", RES, EXP], ["validate"]):
        res = run_cli(args, hostile.path)
        assert res.code == 1, res.both
        lines = res.out.splitlines()
        for path, wanted in expected.items():
            assert [x for x in lines if x.startswith(path)] == wanted, args
        assert "Traceback" not in res.err


def _statement(report: Path) -> dict[str, Any]:
    envelope = json.loads(report.read_bytes())
    statement: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return statement


def test_audit_keeps_the_capped_findings_cold_and_warm_and_annotates_at_most_50(
    hostile: ExpRepo,
) -> None:
    base = hostile.commit("init")
    hostile.write_json(
        RES.replace("exp-002", "exp-004"), hostile_result() | {"experiment": "exp-004"}
    )
    hostile.commit("another")
    args = ["audit", "--since", base, "--policy-ref", base, "--format", "github"]
    cold = run_cli([*args, "--no-cache", "--out", "cold.json"], hostile.path)
    warm = [run_cli([*args, "--out", f"warm{i}.json"], hostile.path) for i in (1, 2)]
    for res in (cold, *warm):
        assert res.code == 1, res.both
    report = (hostile.path / "cold.json").read_bytes()
    for i in (1, 2):
        assert (hostile.path / f"warm{i}.json").read_bytes() == report
    assert warm[0].out == warm[1].out == cold.out

    findings = [
        e for e in _statement(hostile.path / "cold.json")["predicate"]["entries"]
        if e["type"] == "finding"
    ]  # fmt: skip
    by_path: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        by_path.setdefault(f["path"], []).append(f)
    for path, count in ((RES, POINTS), (RES.replace("exp-002", "exp-004"), POINTS), (EXP, PARAMS)):
        schema = [f for f in by_path[path] if f["rule"] == "schema"]
        assert len(schema) == LISTED + 1, path
        more = f"{count - LISTED:,} more schema violation(s) in this document, not listed"
        assert [f["message"] for f in schema if "pointer" not in f] == [more]

    annotations = [line for line in cold.out.splitlines() if line.startswith("::")]
    errors = [line for line in annotations if line.startswith("::error ")]
    assert errors[0].startswith("::error title=expflow-git audit::audit FAIL")
    assert len([e for e in errors if e.startswith("::error file=")]) == 50
    assert errors[-1] == (
        f"::error title=expflow findings::{len(findings) - 50:,} more finding(s) of "
        f"{len(findings):,}, not annotated: the text below lists every finding"
    )
    assert len(errors) == 52
    assert f"findings ({len(findings)}):" in cold.out  # the text form lists them all


def test_sarif_holds_at_most_its_cap_and_counts_what_it_left_out(
    hostile: ExpRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from expflow_git.render import sarif

    hostile.commit("init")
    cli = in_process_cli(monkeypatch, capsys)
    whole = json.loads(cli(["audit", "--format", "sarif"], hostile.path).out)
    run = whole["runs"][0]
    assert len(run["results"]) == 2 * (LISTED + 1)
    assert "resultsLeftOut" not in run["properties"]
    monkeypatch.setattr(sarif, "MAX_RESULTS", 30)
    res = cli(["audit", "--format", "sarif"], hostile.path)
    assert res.code == 1
    doc = json.loads(res.out)
    jsonschema.validate(doc, SARIF_SUBSET)
    capped = doc["runs"][0]
    assert capped["results"] == run["results"][:30]
    assert capped["properties"]["resultsLeftOut"] == 2 * (LISTED + 1) - 30


def test_github_annotates_at_most_50_flagged_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from expflow_git.render import github

    repo = tmp_path / "repo"
    repo.mkdir()
    build_repo(repo)  # seven runs, three infeasible
    cli = in_process_cli(monkeypatch, capsys)

    def warnings() -> list[str]:
        out = cli(["audit", "--format", "github"], repo).out
        return [line for line in out.splitlines() if line.startswith("::warning")]

    every = warnings()
    assert len(every) == 3
    monkeypatch.setattr(github, "MAX_ANNOTATIONS", 2)
    assert warnings() == [
        *every[:2],
        "::warning title=expflow runs::1 more run(s) infeasible or failing an advisory "
        "check, not annotated",
    ]
