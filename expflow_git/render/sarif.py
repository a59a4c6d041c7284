"""SARIF 2.1.0 for code scanning (`audit --format sarif`): findings, infeasible runs, gates.

Each result carries a `partialFingerprints` value computed from what identifies the
problem itself (rule, file, pointer, message — or the run id), never from its line or
its position in the report, so adding or removing an unrelated run or finding leaves
it unchanged and code scanning keeps tracking the same alert. Findings identical in all
four (two PINs after `--pin` in one script) are numbered in the file's order, as
GitHub's own line hashes number identical lines: one added above them shifts theirs.
Their lines are never hashed: they hold the secret. Nor is a path as the repository
has it, but as `uri` shows it (`errors.masked_path`): a PIN's SHA-256 masked in a file's
name was given back by its fingerprint, the one PIN of 10,000 whose path hashes to it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from expflow_git import TOOL_NAME, __version__
from expflow_git.checks import Problem
from expflow_git.errors import masked_path
from expflow_git.escape import json_text, sarif_text
from expflow_git.pinscan.hits import Leak
from expflow_git.render.view import FindingLine, Row, View
from expflow_git.series import SeriesProblem

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
FINGERPRINT_KEY = "expflowFinding/v1"
SRCROOT = "%SRCROOT%"

INFEASIBLE_RUN = "infeasible-run"
ADVISORY_CHECK = "advisory-check"  # a failed check of severity warning (never blocks)
WALK_FORWARD = "walk-forward"
NO_FEASIBLE_RUN = "no-feasible-run"

_PIN_RULES = frozenset(r.value for r in Leak)
_DESCRIPTIONS: Mapping[str, str] = {
    Problem.JSON.value: "The document is not strict JSON.",
    Problem.SCHEMA.value: "The document does not match its schema.",
    Problem.STEM.value: "The file name differs from the document's id.",
    Problem.UNKNOWN_METRIC.value: "A result reports a metric that is not in the registry.",
    Problem.METRIC_RANGE.value: "A metric lies outside its registered range.",
    Problem.REQUIRED_METRIC.value: "A result lacks a metric the policy requires.",
    Problem.DUPLICATE_ID.value: "Two experiment records share one id.",
    Problem.DANGLING_RESULT.value: "A result has no experiment record.",
    Problem.NOT_SUCCESS.value: "A result belongs to an experiment that did not succeed.",
    Problem.BUDGET.value: "A study has more runs than the policy's budget allows.",
    Problem.NOT_A_FILE.value: "A document path is not a regular file.",
    Problem.POLICY_INVALID.value: "The commit's own policy, which takes effect after merge, "
    "is missing or invalid.",
    Problem.DUPLICATE_RESULT.value: "Two results for one experiment; neither is ranked.",
    Problem.RECORD_REWRITTEN.value: "A frozen field of a finished run's record was changed.",
    Leak.PIN_HASH_FILE.value: "A PIN hash file is committed.",
    Leak.PIN_ASSIGNMENT.value: "A PIN or PIN hash is assigned a literal value.",
    Leak.PIN_SHA256.value: "A SHA-256 of a four-digit PIN is committed.",
    Leak.PIN_HASH_FORMAT.value: "A PIN hash in expflow-git's own format is committed.",
    Leak.PIN_VALUE.value: "A four-digit PIN is committed under a pin key or after --pin.",
    Leak.PRIVATE_KEY.value: "A private key (PEM or OpenSSH block) is committed.",
    Problem.RESULT_REWRITTEN.value: "A committed result was later changed, replaced or "
    "deleted without a correction.",
    Problem.CORRECTION_REWRITTEN.value: "A committed correction was changed or deleted.",
    Problem.CORRECTION_UNMATCHED.value: "A correction declares a change its commit does not make.",
    Problem.CORRECTION_UNKNOWN_EXPERIMENT.value: "A correction names an unknown experiment.",
    SeriesProblem.STEP.value: "A series' steps are not strictly increasing integers from 0.",
    SeriesProblem.TOO_LONG.value: "A series (or a result's series together) is over its cap.",
    SeriesProblem.AGGREGATE.value: "A headline metric differs from its series' aggregate.",
    Problem.HOLDOUT_BUDGET.value: "A study looked at the holdout split over its budget.",
    INFEASIBLE_RUN: "A run fails a threshold, gate, required metric or rule.",
    ADVISORY_CHECK: "A run fails an advisory gate or rule (severity warning): reported only.",
    WALK_FORWARD: "The walk-forward correlation gate does not pass.",
    NO_FEASIBLE_RUN: "No run passes every threshold, gate, required metric and rule.",
}


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _location(path: str, line: int | None = None, col: int | None = None) -> dict[str, Any]:
    region: dict[str, int] = {"startLine": line if line is not None and line >= 1 else 1}
    if line is not None and line >= 1 and col is not None and col >= 1:
        region["startColumn"] = col
    # (a secret the scan flags in a folder's name is masked, as every other output masks it)
    shown = masked_path(path).removeprefix("./")
    uri = quote(shown.encode("utf-8", "surrogateescape"), safe="/")
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": uri, "uriBaseId": SRCROOT},
            "region": region,
        }
    }


def _rule(rule_id: str) -> dict[str, Any]:
    text = _DESCRIPTIONS.get(rule_id, f"expflow-git finding {rule_id}.")
    level = "warning" if rule_id in (INFEASIBLE_RUN, ADVISORY_CHECK) else "error"
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": text},
        "defaultConfiguration": {"level": level},
    }
    if rule_id in _PIN_RULES:
        rule["properties"] = {"tags": ["security"], "security-severity": "8.0"}
    return rule


def _message(text: str) -> dict[str, str]:
    """A result's message: repository text in it is shown as written (escape.sarif_text)."""
    return {"text": sarif_text(text)}


def _finding_result(f: FindingLine, seen: dict[str, int]) -> dict[str, Any]:
    key = _fingerprint(f.rule, masked_path(f.path), f.pointer, f.message)
    # Two identical findings must stay two alerts: number the repeats.
    seen[key] = seen.get(key, 0) + 1
    if seen[key] > 1:
        key = _fingerprint(key, str(seen[key]))
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "level": "error",
        "message": _message(f.message + (f" (at {f.pointer})" if f.pointer else "")),
        "locations": [_location(f.path, f.line, f.col)],
        "partialFingerprints": {FINGERPRINT_KEY: key},
    }
    if f.pointer:
        result["properties"] = {"jsonPointer": f.pointer}
    return result


def _run_result(row: Row) -> dict[str, Any]:
    failed = "; ".join(row.failed) or "fails a check"
    return {
        "ruleId": INFEASIBLE_RUN,
        "level": "warning",
        "message": _message(f"run {row.id} is infeasible: {failed}"),
        "locations": [_location(row.path)],
        # The run, not the reasons: the alert follows the run while its reasons change.
        "partialFingerprints": {
            FINGERPRINT_KEY: _fingerprint(INFEASIBLE_RUN, masked_path(row.path), row.id)
        },
        "properties": {"runId": row.id, "failedChecks": list(row.failed)},
    }


def _advisory_result(row: Row) -> dict[str, Any]:
    return {
        "ruleId": ADVISORY_CHECK,
        "level": "warning",
        "message": _message(f"run {row.id} fails advisory check(s): {'; '.join(row.warnings)}"),
        "locations": [_location(row.path)],
        "partialFingerprints": {
            FINGERPRINT_KEY: _fingerprint(ADVISORY_CHECK, masked_path(row.path), row.id)
        },
        "properties": {"runId": row.id, "warnings": list(row.warnings)},
    }


def _gate_results(view: View) -> list[dict[str, Any]]:
    """Why an audit fails when no single document is to blame: located at the policy file."""
    out = []
    w = view.walk
    if w is not None and w["status"] != "pass":
        r = "n/a" if w["r"] is None else f"{w['r']:.4f}"
        text = (
            f"walk-forward {w['status']}: Pearson r = {r} between {w['metric']} and "
            f"{w['split']}/{w['metric']} over {w['n']} run(s), needs >= {w['minPearson']}"
            + (f" ({w['reason']})" if w["reason"] else "")
        )
        out.append(
            {
                "ruleId": WALK_FORWARD,
                "level": "error",
                "message": _message(text),
                "locations": [_location(view.policy_path)],
                "partialFingerprints": {
                    FINGERPRINT_KEY: _fingerprint(
                        WALK_FORWARD, view.policy_path, str(w["metric"]), str(w["split"])
                    )
                },
            }
        )
    if view.focus is None and view.rows and not any(r.feasible for r in view.rows):
        out.append(
            {
                "ruleId": NO_FEASIBLE_RUN,
                "level": "error",
                "message": _message(f"none of the {len(view.rows)} run(s) is feasible"),
                "locations": [_location(view.policy_path)],
                "partialFingerprints": {
                    FINGERPRINT_KEY: _fingerprint(NO_FEASIBLE_RUN, view.policy_path)
                },
            }
        )
    return out


# GitHub's code scanning takes at most 25,000 results of a run (and refuses the upload
# past it): the failed gates are kept, then findings, infeasible runs and advisory
# checks in that order up to the cap; the run's properties count those left out.
MAX_RESULTS = 25_000


def render_sarif(view: View) -> str:
    """SARIF 2.1.0: a result per finding (error), infeasible run (warning), run failing an
    advisory check (warning) and failed gate, at most MAX_RESULTS in all."""
    seen: dict[str, int] = {}
    gates = _gate_results(view)
    room = MAX_RESULTS - len(gates)
    results = [_finding_result(f, seen) for f in view.findings[:room]]
    infeasible = [r for r in view.rows if not r.feasible]
    advisory = [r for r in view.rows if r.warnings]
    results += [_run_result(r) for r in infeasible[: room - len(results)]]
    results += [_advisory_result(r) for r in advisory[: room - len(results)]]
    left_out = len(view.findings) + len(infeasible) + len(advisory) - len(results)
    results += gates
    rule_ids = sorted({r["ruleId"] for r in results})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    sarif = {
        "$schema": SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": view.tool_version or __version__,
                        "rules": [_rule(rule_id) for rule_id in rule_ids],
                    }
                },
                "originalUriBaseIds": {
                    SRCROOT: {"description": {"text": "The root of the audited repository."}}
                },
                "results": results,
                "properties": {
                    "commit": view.commit,
                    "tree": view.tree,
                    "policy": view.policy_path,
                    "verdict": view.verdict,
                    "verdictCovers": sarif_text(view.scope),
                    "signedBy": list(view.signed_by),
                    **({"resultsLeftOut": left_out} if left_out else {}),
                },
            }
        ],
    }
    # The same JSON value, with nothing in it a terminal or a CI log would act on.
    text = json.dumps(sarif, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return json_text(text) + "\n"
