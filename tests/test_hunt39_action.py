"""An attacker's hunt of the GitHub Action and what it writes for GitHub (issue 18,
thirty-ninth pass): the annotations, the job summary, the outputs and SARIF, from real
repositories through the real CLI and the action's script (test_action.run_action)."""

# The fixture `demo_repo` is imported from test_action, and test parameters of that
# name receive it (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support import run_cli
from test_action import ROOT, demo_repo, git, run_action  # noqa: F401 (a fixture)

from expflow_git.demo import STUDY

PIN = str(4000 + 821)
PIN_DIGEST = hashlib.sha256(PIN.encode()).hexdigest()


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def _sarif(repo: Path) -> list[dict[str, Any]]:
    res = run_cli(["audit", "--no-cache", "--format", "sarif"], repo)
    assert res.code == 1, res.both
    out: list[dict[str, Any]] = json.loads(res.out)["runs"][0]["results"]
    return out


def _uri(result: dict[str, Any]) -> str:
    uri: str = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    return uri


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def test_a_sarif_fingerprint_does_not_give_back_the_pin_a_masked_path_held(
    demo_repo: Path,
) -> None:
    """A file named with a PIN's SHA-256 is `****` in SARIF's `uri` (errors.masked_path,
    so that code scanning does not keep what the text output masks), but every other
    finding of that file (here invalid JSON), and an infeasible run in a study folder so
    named, took its `partialFingerprints` from the raw path: a SHA-256 of the rule, the
    path, the pointer and the message, all shown but the digest. Hashing the 10,000
    PINs' paths in turn finds the one that gives the fingerprint (milliseconds), as an
    id's digest of a raw name did (docs/decisions.md, twenty-fourth pass)."""
    broken = f"experiments/{STUDY}/{PIN_DIGEST}.json"
    (demo_repo / broken).write_text("{")
    study = PIN_DIGEST
    record = json.loads((demo_repo / f"experiments/{STUDY}/exp-004.json").read_text())
    result = json.loads((demo_repo / f"results/{STUDY}/exp-004.json").read_text())
    record.update(id="slow", study=study)
    result.update(experiment="slow")
    for kind, doc in (("experiments", record), ("results", result)):
        (demo_repo / kind / study).mkdir()
        (demo_repo / kind / study / "slow.json").write_text(json.dumps(doc))
    _commit(demo_repo, "a PIN's digest in two names")

    results = _sarif(demo_repo)
    masked = [r for r in results if "%2A%2A%2A%2A" in _uri(r)]
    assert {r["ruleId"] for r in masked} >= {"invalid-json", "infeasible-run"}, results
    for r in masked:
        assert PIN_DIGEST not in json.dumps(r)
        fingerprint = r["partialFingerprints"]["expflowFinding/v1"]
        raw = _uri(r).replace("%2A%2A%2A%2A", PIN_DIGEST)
        if r["ruleId"] == "infeasible-run":
            told = _fingerprint("infeasible-run", raw, r["properties"]["runId"])
        else:
            pointer = r.get("properties", {}).get("jsonPointer", "")
            told = _fingerprint(r["ruleId"], raw, pointer, r["message"]["text"])
        assert fingerprint != told, f"the fingerprint of {r['ruleId']} gives back the PIN"


# The OASIS SARIF 2.1.0 schema (errata 01), kept in the repository (tests/sarif/SOURCE.txt)
# so that CI on a clean clone checks against it.
SARIF_SCHEMA = Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json"

# RFC 3986: what a URI reference may hold (unreserved, reserved and `%XX` escapes only),
# checked here because jsonschema checks `uri` and `uri-reference` only with a package
# the project does not install.
_URI_CHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})"
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("uri-reference")
def _uri_reference(value: object) -> bool:
    return (
        not isinstance(value, str)
        or re.fullmatch(f"{_URI_CHAR}*(?:#{_URI_CHAR}*)?", value) is not None
    )


@FORMATS.checks("uri")
def _absolute_uri(value: object) -> bool:
    return (
        not isinstance(value, str)
        or re.fullmatch(f"[A-Za-z][A-Za-z0-9+.-]*:{_URI_CHAR}*(?:#{_URI_CHAR}*)?", value)
        is not None
    )


HOSTILE = (
    "a%0A::error file=x::y",
    "cr\r::notice::q",
    "lf\n::warning::z",
    "sp ace#q?x[1]{0}",
    "back\\slash",
    "%SRCROOT%",
    "ctl\x01\x7f\x1b[31m",
    "sep\u2028\u2029\u0085",
    "bidi\u202e\u200b\ufe0f",
    "##[error]x",
    "C:drive",
)


def test_sarif_of_hostile_names_is_valid_against_the_oasis_schema(demo_repo: Path) -> None:
    """`audit --format sarif` of a repository whose files are named with every character
    that breaks a line, a command, a URI or a placeholder (and a byte that is not UTF-8),
    holding broken JSON, a PIN's SHA-256 and an unknown metric named likewise: valid
    SARIF 2.1.0, every `uri` a relative reference with nothing unescaped in it."""
    folder = demo_repo / "experiments" / STUDY
    for name in HOSTILE:
        (folder / f"{name}.json").write_text("{")
    (folder / os.fsdecode(b"bad\xff.json")).write_text("{")
    (demo_repo / f"notes-{PIN_DIGEST}.txt").write_text(f"digest = {PIN_DIGEST}\n")
    result = demo_repo / "results" / STUDY / "exp-001.json"
    doc = json.loads(result.read_text())
    doc["metrics"]["".join(HOSTILE)] = 1.0
    result.write_text(json.dumps(doc))
    _commit(demo_repo, "hostile names")

    res = run_cli(["audit", "--no-cache", "--format", "sarif"], demo_repo)
    assert res.code == 1, res.both
    sarif = json.loads(res.out)
    schema = json.loads(SARIF_SCHEMA.read_text())
    validator = jsonschema.Draft4Validator(schema, format_checker=FORMATS)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(sarif)]
    assert not errors, errors[:5]
    uris = [_uri(r) for r in sarif["runs"][0]["results"]]
    assert len(uris) >= len(HOSTILE) + 2
    assert all(not u.startswith(("/", "./")) and ":" not in u for u in uris), uris
    assert PIN_DIGEST not in res.out


def test_the_actions_own_lines_on_a_latin1_stdout_are_no_crash(
    demo_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI writes what its stdout's encoding cannot hold as an escape (a Latin-1
    locale, a Windows pipe's cp1252: `console.emit`, thirty-seventh pass), but the
    action's own lines were `print`ed: a push to a branch named in Japanese said "the
    audit crashed: UnicodeEncodeError", exit 2, for a push that passes, and an error
    naming a path so named (`report-path: 報告/../r.json`) was a traceback raised while
    the error was annotated, the job left with neither outputs nor a summary. (The
    step runs `python3 -E`, which reads the locale, not PYTHONIOENCODING: the module is
    run without it here, `injected`, to give it a Latin-1 stdout.)"""
    monkeypatch.setenv("PYTHONIOENCODING", "latin-1")
    main = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "update-ref", "refs/remotes/origin/main", main)  # as actions/checkout
    branch = "\u65e5\u672c"
    git(demo_repo, "checkout", "-qb", branch)
    (demo_repo / "notes.md").write_text("a note\n")
    _commit(demo_repo, "a note")
    push = {
        "ref": f"refs/heads/{branch}",
        "before": main,
        "forced": False,
        "repository": {"default_branch": "main"},
    }
    code, log, outputs, summary = run_action(demo_repo, tmp_path, payload=push, injected=True)
    assert code == 0 and outputs["passed"] == "true", log
    assert "crashed" not in log
    assert "(a push to \\u65e5\\u672c: where it left main)" in log, log

    code, log, outputs, summary = run_action(
        demo_repo, tmp_path, payload=push, injected=True, report_path="\u5831/../r.json"
    )
    assert code == 2, log
    assert "::error title=expflow-git::\\u5831/../r.json: report-path and html-path" in log
    assert outputs["passed"] == "false" and "did not complete" in summary
