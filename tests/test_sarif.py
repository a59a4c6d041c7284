"""`audit --format sarif` (docs/spec.md §8, issue 5): SARIF 2.1.0 for code scanning.

The structure is checked by hand and against a hand-written subset of the SARIF
schema (no network); fingerprints must not move when unrelated runs or findings
are added, in a real repository as much as in a hand-built View.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support import NO_SIGNING, git, run_cli

from expflow_git import TOOL_NAME, __version__
from expflow_git.demo import STUDY, build_repo
from expflow_git.render.sarif import FINGERPRINT_KEY, SCHEMA_URI, render_sarif
from expflow_git.render.view import FindingLine, Row, View

# The parts of the SARIF 2.1.0 schema this output relies on (GitHub's ingestion rules
# included: a ruleId on every result, a region with startLine >= 1).
SARIF_SUBSET: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["$schema", "version", "runs"],
    "properties": {
        "$schema": {"const": SCHEMA_URI},
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "version", "rules"],
                                "properties": {
                                    "name": {"const": TOOL_NAME},
                                    "version": {"type": "string", "minLength": 1},
                                    "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
                                },
                            }
                        },
                    },
                    "results": {"type": "array", "items": {"$ref": "#/$defs/result"}},
                },
            },
        },
    },
    "$defs": {
        "message": {
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string", "minLength": 1}},
        },
        "rule": {
            "type": "object",
            "required": ["id", "shortDescription"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "shortDescription": {"$ref": "#/$defs/message"},
                "defaultConfiguration": {
                    "type": "object",
                    "properties": {"level": {"enum": ["none", "note", "warning", "error"]}},
                },
            },
        },
        "result": {
            "type": "object",
            "required": ["ruleId", "ruleIndex", "level", "message", "locations"],
            "properties": {
                "ruleId": {"type": "string", "minLength": 1},
                "ruleIndex": {"type": "integer", "minimum": 0},
                "level": {"enum": ["none", "note", "warning", "error"]},
                "message": {"$ref": "#/$defs/message"},
                "locations": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["physicalLocation"],
                        "properties": {
                            "physicalLocation": {
                                "type": "object",
                                "required": ["artifactLocation", "region"],
                                "properties": {
                                    "artifactLocation": {
                                        "type": "object",
                                        "required": ["uri", "uriBaseId"],
                                        "properties": {
                                            "uri": {
                                                "type": "string",
                                                "minLength": 1,
                                                "pattern": "^[^/ #?]",
                                            },
                                            "uriBaseId": {"const": "%SRCROOT%"},
                                        },
                                    },
                                    "region": {
                                        "type": "object",
                                        "required": ["startLine"],
                                        "properties": {
                                            "startLine": {"type": "integer", "minimum": 1},
                                            "startColumn": {"type": "integer", "minimum": 1},
                                        },
                                    },
                                },
                            }
                        },
                    },
                },
                "partialFingerprints": {
                    "type": "object",
                    "required": [FINGERPRINT_KEY],
                    "additionalProperties": {"type": "string"},
                    "properties": {FINGERPRINT_KEY: {"pattern": "^[0-9a-f]{64}$"}},
                },
            },
        },
    },
}


# --- helpers ----------------------------------------------------------------


def make_view(
    rows: Sequence[Row] = (), findings: Sequence[FindingLine] = (), **overrides: Any
) -> View:
    fields: dict[str, Any] = dict(
        commit="c" * 40,
        tree="d" * 40,
        policy_path="expflow.yaml",
        created_at="2026-11-20T10:00:00Z",
        verdict="fail" if findings else "pass",
        signed_by=(),
        sort_by="score",
        descending=True,
        metric_columns=("score",),
        rows=tuple(rows),
        findings=tuple(findings),
        best_any=None,
        best_feasible=None,
        walk=None,
        tool_version="9.9.9",
    )
    fields.update(overrides)
    return View(**fields)


def run(run_id: str, *, feasible: bool = True) -> Row:
    failed = () if feasible else (f"score:gt:5 ({run_id} too low)",)
    return Row(
        1 if feasible else None, run_id, "s", f"results/s/{run_id}.json", feasible, {}, failed
    )


def sarif(view: View) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render_sarif(view))
    jsonschema.validate(doc, SARIF_SUBSET)
    return doc


def results(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = doc["runs"][0]["results"]
    return out


def fingerprints(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(file, message text) → fingerprint."""
    return {
        (uri(r), r["message"]["text"]): r["partialFingerprints"][FINGERPRINT_KEY]
        for r in results(doc)
    }


def region(result: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = result["locations"][0]["physicalLocation"]["region"]
    return out


def uri(result: dict[str, Any]) -> str:
    out: str = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    return out


def _env(home: Path) -> dict[str, str]:
    """Added to the scrubbed environment (tests/support.py): a private home, an identity."""
    return {
        "EXPFLOW_HOME": str(home),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        **NO_SIGNING,
    }


def audit_sarif(repo: Path, expected_code: int) -> dict[str, Any]:
    res = run_cli(["audit", "--format", "sarif"], repo, _env(repo.parent / "home"))
    assert res.code == expected_code, res.both
    doc: dict[str, Any] = json.loads(res.out)
    jsonschema.validate(doc, SARIF_SUBSET)
    return doc


def commit_all(repo: Path, message: str) -> None:
    for args in (["add", "-A"], ["commit", "-q", "-m", message]):
        git(repo, *args, env=_env(repo.parent / "home"))


def add_run(repo: Path, exp_id: str, seg_total: float, minutes: float) -> None:
    record = {
        "schema": "expflow/experiment@1", "id": exp_id, "study": STUDY, "title": exp_id,
        "created_at": "2026-11-21T09:00:00Z", "tags": [], "status": "success", "seed": 1,
        "params": {"Args/--sub_step": 4, "lr": 0.001},
    }  # fmt: skip
    result = {
        "schema": "expflow/result@1", "experiment": exp_id,
        "recorded_at": "2026-11-21T10:00:00Z",
        "metrics": {"seg_total": seg_total, "pde_mean": 15.0, "train_time_min": minutes},
        "splits": {"holdout": {"seg_total": seg_total - 2}},
    }  # fmt: skip
    for kind, doc in (("experiments", record), ("results", result)):
        (repo / kind / STUDY / f"{exp_id}.json").write_text(json.dumps(doc, indent=2) + "\n")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The demo repository (seven runs, three infeasible), committed."""
    (tmp_path / "home").mkdir()
    path = tmp_path / "repo"
    path.mkdir()
    build_repo(path)
    return path


# --- real audits --------------------------------------------------------------


def test_audit_sarif_of_the_demo_has_one_warning_per_infeasible_run(repo: Path) -> None:
    doc = audit_sarif(repo, 0)
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["name"] == "expflow-git" and driver["version"] == __version__
    assert [r["id"] for r in driver["rules"]] == ["infeasible-run"]
    assert driver["rules"][0]["shortDescription"]["text"]
    found = results(doc)
    assert [(r["ruleId"], r["level"], uri(r)) for r in found] == [
        ("infeasible-run", "warning", f"results/{STUDY}/exp-00{n}.json") for n in (2, 3, 4)
    ]
    assert all(region(r) == {"startLine": 1} for r in found)
    assert found[0]["message"]["text"].startswith(
        "run exp-002 is infeasible: pde_mean:lt:18.09 (19.7"
    )
    assert doc["runs"][0]["properties"]["verdict"] == "pass"


def test_fingerprints_survive_an_unrelated_run_and_finding(repo: Path) -> None:
    # A broken document with a line and column, so there are findings and runs to track.
    (repo / "results" / STUDY / "broken.json").write_text('{"a": 1,\n  "b": }\n')
    commit_all(repo, "a broken result")
    before = audit_sarif(repo, 1)
    add_run(repo, "exp-008", 50.0, 95.0)  # infeasible: over the 60-minute threshold
    (repo / "results" / STUDY / "also-broken.json").write_text("[1, 2,]\n")
    commit_all(repo, "another run, another broken file")
    after = audit_sarif(repo, 1)
    old, new = fingerprints(before), fingerprints(after)
    assert old.items() <= new.items()
    added = {key: fp for key, fp in new.items() if key not in old}
    assert len(added) == 2 and not set(added.values()) & set(old.values())
    assert {file for file, _ in added} == {
        f"results/{STUDY}/exp-008.json",
        f"results/{STUDY}/also-broken.json",
    }
    assert len(set(new.values())) == len(new)
    broken = [r for r in results(after) if uri(r) == f"results/{STUDY}/broken.json"]
    assert broken and broken[0]["ruleId"] == "invalid-json" and broken[0]["level"] == "error"
    assert region(broken[0]) == {"startLine": 2, "startColumn": 8}


def test_sarif_is_deterministic_across_processes(repo: Path) -> None:
    first = audit_sarif(repo, 0)
    assert audit_sarif(repo, 0) == first
    view = make_view([run("a", feasible=False)], [FindingLine("x.json", "schema", "m")])
    assert render_sarif(view) == render_sarif(view)
    assert (
        render_sarif(view)
        == json.dumps(json.loads(render_sarif(view)), indent=2, sort_keys=True, ensure_ascii=False)
        + "\n"
    )


# --- levels, locations, rules ------------------------------------------------------


def test_levels_and_locations() -> None:
    view = make_view(
        [run("ok"), run("low", feasible=False)],
        [
            FindingLine("results/s/a.json", "invalid-json", "duplicate key", "/a", 3, 7),
            FindingLine("results/s/b.json", "schema", "missing field", "/metrics"),
            FindingLine("./results/s/odd name#1.json", "id-mismatch", "stem", "", 0, 0),
        ],
    )
    found = results(sarif(view))
    assert [(r["ruleId"], r["level"]) for r in found] == [
        ("invalid-json", "error"),
        ("schema", "error"),
        ("id-mismatch", "error"),
        ("infeasible-run", "warning"),
    ]
    assert region(found[0]) == {"startLine": 3, "startColumn": 7}
    assert region(found[1]) == {"startLine": 1}
    assert region(found[2]) == {"startLine": 1}  # line 0 is not a line
    assert uri(found[0]) == "results/s/a.json"
    assert uri(found[2]) == "results/s/odd%20name%231.json"
    assert found[1]["message"]["text"] == "missing field (at /metrics)"
    assert found[1]["properties"] == {"jsonPointer": "/metrics"}
    assert uri(found[3]) == "results/s/low.json"
    assert found[3]["properties"]["failedChecks"] == ["score:gt:5 (low too low)"]
    assert all(r["message"]["text"] != "run ok is infeasible" for r in found)


def test_rules_are_those_used_with_matching_indexes() -> None:
    view = make_view(
        [run("ok"), run("low", feasible=False)],
        [
            FindingLine("a.json", "schema", "m1"),
            FindingLine("b.json", "pin-sha256", "a PIN hash"),
            FindingLine("c.json", "schema", "m2"),
            FindingLine("d.json", "some-future-rule", "m3"),
        ],
    )
    doc = sarif(view)
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert ids == sorted({"schema", "pin-sha256", "some-future-rule", "infeasible-run"})
    for result in results(doc):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["pin-sha256"]["properties"]["tags"] == ["security"]
    assert by_id["infeasible-run"]["defaultConfiguration"] == {"level": "warning"}
    assert by_id["schema"]["defaultConfiguration"] == {"level": "error"}
    assert by_id["some-future-rule"]["shortDescription"]["text"]
    assert doc["runs"][0]["tool"]["driver"]["version"] == "9.9.9"
    assert results(sarif(make_view())) == []
    assert sarif(make_view())["runs"][0]["tool"]["driver"]["rules"] == []


def test_fingerprints_depend_on_the_problem_not_its_position() -> None:
    a = FindingLine("a.json", "schema", "missing field", "/x")
    b = FindingLine("b.json", "schema", "missing field", "/x")
    base = fingerprints(sarif(make_view([run("r1", feasible=False), run("r2")], [a, b])))
    grown = fingerprints(
        sarif(
            make_view(
                [run("r0", feasible=False), run("r1", feasible=False), run("r2")],
                [FindingLine("0.json", "schema", "new"), a, b],
            )
        )
    )
    assert base.items() <= grown.items()
    # Same rule and message in another file, or another message: another fingerprint.
    assert len(set(base.values())) == 3
    moved = FindingLine("a.json", "schema", "missing field", "/y")
    assert fingerprints(sarif(make_view([], [moved])))[("a.json", "missing field (at /y)")] not in (
        base.values()
    )
    # Two identical findings stay two alerts.
    twice = results(sarif(make_view([], [a, a])))
    assert len({r["partialFingerprints"][FINGERPRINT_KEY] for r in twice}) == 2
    # A run keeps its fingerprint when the reason it fails changes.
    reason = Row(None, "r1", "s", "results/s/r1.json", False, {}, ("other:lt:1 (2 not < 1)",))
    assert (
        fingerprints(sarif(make_view([reason])))[
            ("results/s/r1.json", "run r1 is infeasible: other:lt:1 (2 not < 1)")
        ]
        == base[("results/s/r1.json", "run r1 is infeasible: score:gt:5 (r1 too low)")]
    )


def test_failed_walk_forward_and_no_feasible_run_point_at_the_policy() -> None:
    walk = {
        "metric": "score", "split": "holdout", "topN": 10, "minPearson": 0.3,
        "status": "fail", "r": 0.1, "n": 5, "points": [], "reason": "",
    }  # fmt: skip
    found = results(sarif(make_view([run("low", feasible=False)], walk=walk, verdict="fail")))
    by_rule = {r["ruleId"]: r for r in found}
    assert set(by_rule) == {"infeasible-run", "walk-forward", "no-feasible-run"}
    for rule in ("walk-forward", "no-feasible-run"):
        assert by_rule[rule]["level"] == "error"
        assert uri(by_rule[rule]) == "expflow.yaml"
    assert "Pearson r = 0.1000" in by_rule["walk-forward"]["message"]["text"]
    passing = dict(walk, status="pass", r=0.9)
    quiet = results(sarif(make_view([run("ok")], walk=passing)))
    assert quiet == []


def test_results_are_capped_keeping_the_failed_gates_and_counting_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GitHub takes at most 25,000 results of a run: past the cap the failed gates stay,
    the findings, infeasible runs and advisory checks fill the rest in that order, and
    the run's properties count those left out."""
    from expflow_git.render import sarif as module

    walk = {
        "metric": "score", "split": "holdout", "topN": 10, "minPearson": 0.3,
        "status": "fail", "r": 0.1, "n": 5, "points": [], "reason": "",
    }  # fmt: skip
    findings = [FindingLine(f"results/s/r{i:02}.json", "schema", "m") for i in range(12)]
    rows = [run(f"low{i}", feasible=False) for i in range(3)]
    view = make_view(rows, findings, walk=walk, verdict="fail")
    whole = sarif(view)["runs"][0]
    assert len(whole["results"]) == 12 + 3 + 2  # and two gates: walk-forward, no feasible run
    assert "resultsLeftOut" not in whole["properties"]
    for cap, kept in ((10, 8), (14, 12), (16, 14)):
        monkeypatch.setattr(module, "MAX_RESULTS", cap)
        capped = sarif(view)["runs"][0]
        assert len(capped["results"]) == cap
        listed = [{k: v for k, v in r.items() if k != "ruleIndex"} for r in capped["results"]]
        every = [{k: v for k, v in r.items() if k != "ruleIndex"} for r in whole["results"]]
        assert listed == every[:kept] + every[-2:]
        assert capped["properties"]["resultsLeftOut"] == 12 + 3 - kept


def test_text_is_carried_verbatim_not_marked_up() -> None:
    evil = '<script>alert("x")</script> ::error::%0A'
    found = results(sarif(make_view([], [FindingLine("a.json", "schema", evil)])))
    assert found[0]["message"]["text"] == evil


def test_invisible_and_line_splitting_characters_show_as_escapes() -> None:
    r"""A code-scanning alert shows the message's text: a bidi override reordered what
    followed it, an ESC or a line feed reached the viewer raw (a hunter's note, issue 18
    thirty-sixth pass). Each is shown as its escape, as in every other output; SARIF's
    own escaping then doubles that backslash, so a viewer shows `\u202e` as written."""
    evil = "ok\u202e nosj.live\x1b[31m\nnext"
    found = results(sarif(make_view([], [FindingLine("a.json", "schema", evil)])))
    text = found[0]["message"]["text"]
    assert text == "ok\\\\u202e nosj.live\\\\x1b\\[31m\\\\x0anext"
    assert not any(ch in text for ch in "\u202e\x1b\n")


def test_repository_text_is_no_embedded_link_or_placeholder() -> None:
    """SARIF's plain-text messages have a syntax of their own: `[text](target)` is an
    embedded link and `{0}` a placeholder (SARIF 2.1.0 §3.11.5, §3.11.6). A param value
    or a finding's text that spells them is escaped in every message (an attacker's
    hunt, issue 18), so a viewer shows it as written."""
    bait = "[Re-run approved, click here](https://evil.example/login) {0} C:\\x"
    shown = "\\[Re-run approved, click here\\](https://evil.example/login) {{0}} C:\\\\x"
    row = Row(None, "r", "s", "results/s/r.json", False, {}, (f"p:gt:0 (p = {bait})",), (bait,))
    found = results(sarif(make_view([row], [FindingLine("a.json", "schema", bait)])))
    texts = {r["ruleId"]: r["message"]["text"] for r in found}
    assert texts["schema"] == shown
    assert texts["infeasible-run"] == f"run r is infeasible: p:gt:0 (p = {shown})"
    assert texts["advisory-check"] == f"run r fails advisory check(s): {shown}"
