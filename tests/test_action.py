"""The GitHub Action's script, run as a real subprocess with a simulated GitHub
environment against real repositories: outputs, summary, annotations, exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from expflow_git.demo import build_repo

ROOT = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
               GIT_AUTHOR_DATE="2026-11-21T10:00:00+00:00",
               GIT_COMMITTER_DATE="2026-11-21T10:00:00+00:00")
    return subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=repo, env=env,
                          check=True, capture_output=True, text=True).stdout.strip()


def run_action(repo: Path, tmp: Path, *, event: str = "push", payload: dict | None = None,
               **inputs: str) -> tuple[int, str, dict[str, str], str]:
    event_path = tmp / "event.json"
    event_path.write_text(json.dumps(payload or {}))
    output, summary = tmp / "output.txt", tmp / "summary.md"
    output.write_text("")
    summary.write_text("")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "EXPFLOW_", "GITHUB_"))}
    env.update(GITHUB_EVENT_NAME=event, GITHUB_EVENT_PATH=str(event_path),
               GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary),
               RUNNER_TEMP=str(tmp), PYTHONPATH=str(ROOT), NO_COLOR="1")
    env.update({f"EXPFLOW_INPUT_{k.upper()}": v for k, v in inputs.items() if k != "signing_key"})
    if "signing_key" in inputs:
        env["EXPFLOW_SIGNING_KEY"] = inputs["signing_key"]
    proc = subprocess.run([sys.executable, "-m", "expflow_git.action"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    assert "Traceback" not in proc.stderr
    # Annotations go to stdout and errors to stderr; the job log shows both.
    return proc.returncode, proc.stdout + proc.stderr, outputs, summary.read_text()


@pytest.fixture()
def demo_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    build_repo(repo)
    return repo


def test_push_event_passes_with_outputs_and_summary(demo_repo: Path, tmp_path: Path) -> None:
    code, stdout, outputs, summary = run_action(demo_repo, tmp_path)
    assert code == 0
    assert outputs == {"passed": "true", "best-feasible": "exp-001",
                       "report-path": "expflow-report.json"}
    assert (demo_repo / "expflow-report.json").is_file()
    assert "expflow-git audit: PASS" in summary and "| exp-001 |" in summary
    assert "unsigned" in summary.lower()
    assert "::warning title=expflow-git::no signing key" in stdout


def test_signed_report_verifies(demo_repo: Path, tmp_path: Path) -> None:
    from expflow_git.report.signing import keygen

    key = tmp_path / "k"
    keygen(str(key))
    code, stdout, outputs, summary = run_action(demo_repo, tmp_path,
                                                signing_key=key.read_text(),
                                                report_path=str(tmp_path / "r.json"))
    assert code == 0 and "no signing key" not in stdout
    assert key.read_text().strip().splitlines()[1] not in stdout + summary
    report = str(tmp_path / "r.json")
    verify = subprocess.run([sys.executable, "-m", "expflow_git", "verify", report,
                             "--public-key", f"{key}.pub", "--repo", str(demo_repo)],
                            cwd=demo_repo, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "signed by SHA256:" in summary


def test_failing_audit_fails_the_job_with_annotations(demo_repo: Path, tmp_path: Path) -> None:
    bad = demo_repo / "results/pdebench-task1/exp-006.json"
    bad.write_text(bad.read_text().replace('"seg_total": 53.9', '"seg_total": NaN'))
    git(demo_repo, "commit", "-qam", "break one result")
    code, stdout, outputs, summary = run_action(demo_repo, tmp_path)
    assert code == 1
    assert outputs["passed"] == "false"
    assert "::error file=results/pdebench-task1/exp-006.json" in stdout
    assert "NaN is not a JSON number" in summary


def test_pull_request_audits_the_head_commit_not_the_merge(demo_repo: Path,
                                                           tmp_path: Path) -> None:
    # The PR head breaks a rule; GitHub's synthetic merge commit would not contain it.
    git(demo_repo, "checkout", "-qb", "feature")
    bad = demo_repo / "results/pdebench-task1/exp-006.json"
    bad.write_text(bad.read_text().replace('"seg_total": 53.9', '"seg_totl": 53.9'))
    git(demo_repo, "commit", "-qam", "typo in a metric name")
    head = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-q", "main")
    code, stdout, outputs, _ = run_action(
        demo_repo, tmp_path, event="pull_request",
        payload={"pull_request": {"head": {"sha": head}}})
    assert code == 1 and outputs["passed"] == "false"
    report = json.loads((demo_repo / "expflow-report.json").read_text())
    import base64

    statement = json.loads(base64.b64decode(report["payload"]))
    assert statement["predicate"]["repo"]["commit"] == head


def test_missing_pr_head_says_fetch_depth(demo_repo: Path, tmp_path: Path) -> None:
    code, stdout, outputs, _ = run_action(
        demo_repo, tmp_path, event="pull_request",
        payload={"pull_request": {"head": {"sha": "1" * 40}}})
    assert code == 2
    assert "fetch-depth: 0" in stdout


def test_since_on_a_shallow_clone_says_fetch_depth(demo_repo: Path, tmp_path: Path) -> None:
    (demo_repo / "notes.txt").write_text("second commit\n")
    git(demo_repo, "add", "notes.txt")
    git(demo_repo, "commit", "-qm", "second")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{demo_repo}", str(clone)],
                   check=True)
    code, log, outputs, _ = run_action(clone, tmp_path, since="HEAD~1")
    assert code == 2
    assert outputs["passed"] == "false"
    assert "shallow clone" in log and "fetch-depth: 0" in log


def test_action_yml_never_interpolates_inputs_into_run() -> None:
    action = YAML(typ="safe").load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step
    audit = next(s for s in action["runs"]["steps"] if s.get("id") == "audit")
    assert set(audit["env"]) >= {"EXPFLOW_INPUT_POLICY", "EXPFLOW_INPUT_REV",
                                 "EXPFLOW_INPUT_SINCE", "EXPFLOW_SIGNING_KEY",
                                 "EXPFLOW_INPUT_REPORT_PATH", "EXPFLOW_INPUT_HTML_PATH"}
    assert set(action["outputs"]) == {"passed", "best-feasible", "report-path"}


@pytest.mark.parametrize("event", ["pull_request", "pull_request_target"])
def test_pull_request_is_judged_by_the_base_policy(demo_repo: Path, tmp_path: Path,
                                                   event: str) -> None:
    # The pull request allows every path out of the PIN scan, then commits a PIN hash.
    base = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-qb", "feature")
    with (demo_repo / "expflow.yaml").open("a") as fh:
        fh.write("scan: {allow: ['**']}\n")
    (demo_repo / ".env").write_text(
        "EXPFLOW_PIN_HASH=03ac674216f3e15c761ee1a5e255f067953623c8b388b4459e13f978d7c846f4\n")
    git(demo_repo, "add", "-A")
    git(demo_repo, "commit", "-qm", "allow everything")
    head = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-q", "main")
    # Judged by its own policy (no base in the event), the pull request passes.
    code, _, _, _ = run_action(demo_repo, tmp_path, event=event,
                               payload={"pull_request": {"head": {"sha": head}}})
    assert code == 0
    code, log, outputs, summary = run_action(
        demo_repo, tmp_path, event=event,
        payload={"pull_request": {"head": {"sha": head}, "base": {"sha": base}}})
    assert code == 1 and outputs["passed"] == "false"
    assert "### Policy change (takes effect after merge)" in summary
    assert "- **looser** /scan/allow: added \\*\\*" in summary
    assert "::warning title=expflow policy change::expflow.yaml: 1 looser" in log
    import base64

    report = json.loads((demo_repo / "expflow-report.json").read_text())
    statement = json.loads(base64.b64decode(report["payload"]))
    assert statement["predicate"]["policy"]["ref"] == base
    assert statement["predicate"]["repo"]["commit"] == head


def test_policy_ref_input_overrides_the_default(demo_repo: Path, tmp_path: Path) -> None:
    first = git(demo_repo, "rev-parse", "HEAD")
    with (demo_repo / "expflow.yaml").open("a") as fh:
        fh.write("scan: {allow: ['**']}\n")
    git(demo_repo, "commit", "-qam", "allow everything")
    code, _, _, summary = run_action(demo_repo, tmp_path, policy_ref=first)
    assert code == 0
    assert "- **looser** /scan/allow: added \\*\\*" in summary
