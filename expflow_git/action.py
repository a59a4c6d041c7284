"""The GitHub Action's script (`python -m expflow_git.action`), run by action.yml.

Inputs arrive only as environment variables (EXPFLOW_INPUT_*), never spliced
into shell. On pull_request events the PR's head commit is audited, not the
synthetic merge commit GitHub checks out.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from expflow_git.errors import ExitCode

PR_EVENTS = ("pull_request", "pull_request_target")


def pr_head_sha(env: Mapping[str, str]) -> str | None:
    """The head commit of the pull request that triggered the run, if any."""
    if env.get("GITHUB_EVENT_NAME") not in PR_EVENTS or not env.get("GITHUB_EVENT_PATH"):
        return None
    try:
        event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text())
        sha = event["pull_request"]["head"]["sha"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return sha if isinstance(sha, str) else None


def _has_commit(sha: str) -> bool:
    import subprocess

    probe = subprocess.run(["git", "cat-file", "-e", f"{sha}^{{commit}}"], capture_output=True)
    return probe.returncode == 0


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _signers(data: bytes, source: str, env: Mapping[str, str]) -> list[str]:
    """Who signed the report, verified with the public half of the key it was signed
    with (EXPFLOW_SIGNING_KEY); empty when that cannot be shown."""
    from expflow_git.errors import ExpflowError
    from expflow_git.report.signer import signing_key
    from expflow_git.report.signing import keyid
    from expflow_git.report.trust import TrustedKey
    from expflow_git.report.verify import Options, verify_report

    try:
        key = signing_key(None, env)
    except ExpflowError:
        return []
    if key is None:
        return []
    public = key.public_key()
    trusted = TrustedKey(public, keyid(public), "EXPFLOW_SIGNING_KEY")
    verdict = verify_report(data, source=source, options=Options(trusted=[trusted]))
    return [k.name() for k in verdict.signers]


def run(env: Mapping[str, str]) -> int:
    """Audit, write the summary and the outputs; return the audit's exit code."""
    from expflow_git.cli import main
    from expflow_git.render.markdown import render_markdown, truncate
    from expflow_git.render.view import view_from_statement
    from expflow_git.report.verify import ReportError, parse_report

    report_path = env.get("EXPFLOW_INPUT_REPORT_PATH") or "expflow-report.json"
    head = pr_head_sha(env)
    rev = env.get("EXPFLOW_INPUT_REV") or head or "HEAD"
    if rev == head and not _has_commit(head):
        print(
            f"::error title=expflow-git::the pull request's head commit {head[:12]} is not "
            "in this clone; check out with `fetch-depth: 0` (actions/checkout)"
        )
        return int(ExitCode.USAGE)
    args = ["audit", "--rev", rev, "--format", "github", "--out", report_path]
    for option, name in (("--policy", "POLICY"), ("--since", "SINCE"), ("--html", "HTML_PATH")):
        if value := env.get(f"EXPFLOW_INPUT_{name}"):
            args += [option, value]
    if not env.get("EXPFLOW_SIGNING_KEY"):
        print(
            "::warning title=expflow-git::no signing key (e.g. a pull request from a fork "
            "gets no secrets): the report is UNSIGNED"
        )
    sys.stdout.flush()
    code = main(args)
    passed = code == ExitCode.OK
    best = ""
    try:
        envelope, statement = parse_report(Path(report_path).read_bytes(), source=report_path)
    except (OSError, ReportError):
        summary = (
            "## ❌ expflow-git audit could not run\n\nSee the job log for the error "
            f"(exit code {code}).\n"
        )
    else:
        signers = _signers(Path(report_path).read_bytes(), report_path, env)
        view = view_from_statement(
            statement, signers, unverified=bool(envelope.signatures) and not signers
        )
        best = view.best_feasible or ""
        summary = render_markdown(view)
        if view.signature_unverified:
            summary += "\n> ⚠️ This report's signature could not be verified.\n"
        elif not view.signed:
            summary += "\n> ⚠️ This report is **unsigned**: no signing key was available.\n"
    _append(env.get("GITHUB_STEP_SUMMARY"), truncate(summary))
    _append(
        env.get("GITHUB_OUTPUT"),
        f"passed={'true' if passed else 'false'}\nbest-feasible={_one_line(best)}\n"
        f"report-path={_one_line(report_path)}\n",
    )
    return code


if __name__ == "__main__":
    raise SystemExit(run(os.environ))
