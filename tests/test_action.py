"""The GitHub Action's script, run as a real subprocess with a simulated GitHub
environment against real repositories: outputs, summary, annotations, exit code."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from support import NO_SIGNING, scrubbed_env
from support import git as support_git

from expflow_git.demo import build_repo

ROOT = Path(__file__).resolve().parents[1]


# support.git with a fixed identity and date, and no commit signing.
git = functools.partial(
    support_git,
    date="2026-11-21T10:00:00+00:00",
    env=NO_SIGNING,
)


def pr_event(repo: Path, head: str, base: str = "main") -> dict:
    """A pull_request payload as GitHub writes it (the fields the action reads)."""
    base_sha = base if len(base) == 40 else git(repo, "rev-parse", base)
    return {"pull_request": {"head": {"sha": head}, "base": {"sha": base_sha}}}


# The audit step's command as action.yml runs it, with this interpreter for `python3`.
AUDIT_STEP = next(
    step["run"]
    for step in YAML(typ="safe").load((ROOT / "action.yml").read_text())["runs"]["steps"]
    if step.get("id") == "audit"
)


def fault_injected(tmp_path: Path, module: str, attribute: str, raising: str) -> Path:
    """A folder whose `sitecustomize.py` replaces `attribute` (dotted: `Git.discover`) of
    `module` with a function that raises `raising` (Python source), for the action's
    process to start with (`run_action(pythonpath=...)`)."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        f"import {module}\n"
        "def _fault(*args, **kwargs):\n"
        f"    raise {raising}\n"
        f"{module}.{attribute} = _fault\n"
    )
    return inject


def run_action(
    repo: Path,
    tmp: Path,
    *,
    event: str = "push",
    payload: dict | None = None,
    pythonpath: tuple[Path, ...] = (),
    injected: bool = False,
    **inputs: str,
) -> tuple[int, str, dict[str, str], str]:
    event_path = tmp / "event.json"
    event_path.write_text(json.dumps(payload or {}))
    output, summary = tmp / "output.txt", tmp / "summary.md"
    output.write_text("")
    summary.write_text("")
    env = scrubbed_env()
    env.update(
        GITHUB_EVENT_NAME=event,
        GITHUB_EVENT_PATH=str(event_path),
        GITHUB_OUTPUT=str(output),
        GITHUB_STEP_SUMMARY=str(summary),
        RUNNER_TEMP=str(tmp),
        PYTHONPATH=os.pathsep.join(map(str, (*pythonpath, ROOT))),
        NO_COLOR="1",
    )
    env.update({f"EXPFLOW_INPUT_{k.upper()}": v for k, v in inputs.items() if k != "signing_key"})
    if "signing_key" in inputs:
        env["EXPFLOW_SIGNING_KEY"] = inputs["signing_key"]
    proc = subprocess.run(
        # action.yml's step ignores PYTHONPATH (`-E`); a fault injected through it needs
        # the script run as a module.
        [sys.executable, "-m", "expflow_git.action"]
        if injected
        else ["bash", "-c", AUDIT_STEP.replace("python3", shlex.quote(sys.executable), 1)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
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
    assert outputs == {
        "passed": "true",
        "best-feasible": "exp-001",
        "report-path": "expflow-report.json",
    }
    assert (demo_repo / "expflow-report.json").is_file()
    assert "expflow-git audit: PASS" in summary and "| exp-001 |" in summary
    assert "unsigned" in summary.lower()
    assert "::warning title=expflow-git::no signing key" in stdout


def test_signed_report_verifies(demo_repo: Path, tmp_path: Path) -> None:
    from expflow_git.report.signing import keygen

    key = tmp_path / "k"
    keygen(str(key))
    code, stdout, outputs, summary = run_action(
        demo_repo, tmp_path, signing_key=key.read_text(), report_path=str(tmp_path / "r.json")
    )
    assert code == 0 and "no signing key" not in stdout
    assert key.read_text().strip().splitlines()[1] not in stdout + summary
    report = str(tmp_path / "r.json")
    verify = subprocess.run(
        [
            sys.executable,
            "-m",
            "expflow_git",
            "verify",
            report,
            "--public-key",
            f"{key}.pub",
            "--repo",
            str(demo_repo),
        ],
        cwd=demo_repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
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


@pytest.mark.parametrize("planted", ["expflow_git/action.py", "json.py"])
def test_code_the_pull_request_commits_never_runs(
    demo_repo: Path, tmp_path: Path, planted: str
) -> None:
    """The step ran `python3 -m expflow_git.action` in the checkout, and `-m` puts the
    working directory first on sys.path: a committed `expflow_git/` package (or a module
    named as one the tool imports) ran instead of the tool, with the signing key in its
    environment, and wrote `passed=true` (an attacker's hunt, issue 18 seventeenth pass)."""
    bad = demo_repo / "results/pdebench-task1/exp-006.json"
    bad.write_text(bad.read_text().replace('"seg_total": 53.9', '"seg_total": NaN'))
    forged = (
        "import os\n"
        "open(os.environ['GITHUB_OUTPUT'], 'a').write('passed=true\\n')\n"
        "raise SystemExit(0)\n"
    )
    (demo_repo / planted).parent.mkdir(exist_ok=True)
    (demo_repo / planted).write_text(forged)
    if planted.startswith("expflow_git/"):
        (demo_repo / "expflow_git/__init__.py").write_text("")
    git(demo_repo, "add", "-A")
    git(demo_repo, "commit", "-qm", "break one result, and a helper module")
    # A job's `PYTHONPATH: .` put the workspace back on the path (the review): `-E`.
    code, stdout, outputs, _ = run_action(demo_repo, tmp_path, pythonpath=(demo_repo,))
    assert code == 1 and outputs["passed"] == "false", stdout
    assert "::error file=results/pdebench-task1/exp-006.json" in stdout


def test_pull_request_audits_the_head_commit_not_the_merge(demo_repo: Path, tmp_path: Path) -> None:
    # The PR head breaks a rule; GitHub's synthetic merge commit would not contain it.
    git(demo_repo, "checkout", "-qb", "feature")
    bad = demo_repo / "results/pdebench-task1/exp-006.json"
    bad.write_text(bad.read_text().replace('"seg_total": 53.9', '"seg_totl": 53.9'))
    git(demo_repo, "commit", "-qam", "typo in a metric name")
    head = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-q", "main")
    code, stdout, outputs, _ = run_action(
        demo_repo, tmp_path, event="pull_request", payload=pr_event(demo_repo, head)
    )
    assert code == 1 and outputs["passed"] == "false"
    report = json.loads((demo_repo / "expflow-report.json").read_text())
    import base64

    statement = json.loads(base64.b64decode(report["payload"]))
    assert statement["predicate"]["repo"]["commit"] == head


def test_missing_pr_head_says_fetch_depth(demo_repo: Path, tmp_path: Path) -> None:
    code, stdout, outputs, _ = run_action(
        demo_repo, tmp_path, event="pull_request", payload=pr_event(demo_repo, "1" * 40)
    )
    assert code == 2
    assert "fetch-depth: 0" in stdout


def test_since_on_a_shallow_clone_says_fetch_depth(demo_repo: Path, tmp_path: Path) -> None:
    (demo_repo / "notes.txt").write_text("second commit\n")
    git(demo_repo, "add", "notes.txt")
    git(demo_repo, "commit", "-qm", "second")
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{demo_repo}", str(clone)], check=True
    )
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
    assert set(audit["env"]) >= {
        "EXPFLOW_INPUT_POLICY",
        "EXPFLOW_INPUT_REV",
        "EXPFLOW_INPUT_SINCE",
        "EXPFLOW_SIGNING_KEY",
        "EXPFLOW_INPUT_REPORT_PATH",
        "EXPFLOW_INPUT_HTML_PATH",
    }
    assert set(action["outputs"]) == {"passed", "best-feasible", "report-path"}


@pytest.mark.parametrize(
    "event",
    [
        "pull_request",
        "pull_request_target",
        # A review's payload carries the pull request too: the action audited the merge
        # commit by the pull request's own policy, and passed it (an attacker's hunt).
        "pull_request_review",
        "pull_request_review_comment",
    ],
)
def test_pull_request_is_judged_by_the_base_policy(
    demo_repo: Path, tmp_path: Path, event: str
) -> None:
    base, head = loosening_pull_request(demo_repo)
    git(demo_repo, "checkout", "-q", "main")
    # Judged by its own policy (a push of the branch names no base), the commit passes.
    code, _, _, _ = run_action(demo_repo, tmp_path, event="push", payload={}, rev=head)
    assert code == 0
    code, log, outputs, summary = run_action(
        demo_repo,
        tmp_path,
        event=event,
        payload={"pull_request": {"head": {"sha": head}, "base": {"sha": base}}},
    )
    assert code == 1 and outputs["passed"] == "false"
    assert "### Policy change (takes effect after merge)" in summary
    assert "- **looser** /scan/allow: added \\*\\*" in summary
    assert "::warning title=expflow policy change::expflow.yaml: 1 looser" in log
    import base64

    report = json.loads((demo_repo / "expflow-report.json").read_text())
    statement = json.loads(base64.b64decode(report["payload"]))
    assert statement["predicate"]["policy"]["ref"] == base
    assert statement["predicate"]["repo"]["commit"] == head


def test_a_policy_cannot_print_a_workflow_command(demo_repo: Path, tmp_path: Path) -> None:
    """ruamel warns of a reused YAML anchor with the policy's line, which Python printed
    raw on stderr: a pull request's policy whose quoted scalar put `::stop-commands::`
    or a forged `::notice::` first on a line of it ran those commands in the CI log, and
    the audit's FAIL annotation then did nothing (an attacker's hunt). A reused anchor
    is valid YAML; no warning of any library reaches the log unescaped."""
    base = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-qb", "feature")
    with (demo_repo / "expflow.yaml").open("a") as fh:
        fh.write('x1: ["a\n::notice::audit PASS", &x 1]\nx2: ["b\n::stop-commands::pwn", &x 2]\n')
    git(demo_repo, "commit", "-qam", "anchors")
    head = git(demo_repo, "rev-parse", "HEAD")
    code, log, outputs, _ = run_action(
        demo_repo,
        tmp_path,
        event="pull_request",
        payload={"pull_request": {"head": {"sha": head}, "base": {"sha": base}}},
    )
    assert code == 1 and outputs["passed"] == "false", log
    commands = [ln.strip() for ln in log.splitlines() if ln.lstrip().startswith("::")]
    ours = ("::error ", "::warning ", "::notice title=expflow")
    assert commands and all(c.startswith(ours) for c in commands), log
    assert "unknown key 'x1'" in log
    res = subprocess.run(
        [sys.executable, "-m", "expflow_git", "validate", "expflow.yaml"],
        cwd=demo_repo,
        env=scrubbed_env({"PYTHONPATH": str(ROOT)}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2 and "unknown key 'x1'" in res.stderr, res.stderr
    lines = (res.stdout + res.stderr).splitlines()
    assert not [ln for ln in lines if ln.lstrip().startswith("::")], lines


def test_policy_ref_input_overrides_the_default(demo_repo: Path, tmp_path: Path) -> None:
    first = git(demo_repo, "rev-parse", "HEAD")
    with (demo_repo / "expflow.yaml").open("a") as fh:
        fh.write("scan: {allow: ['**']}\n")
    git(demo_repo, "commit", "-qam", "allow everything")
    code, _, _, summary = run_action(demo_repo, tmp_path, policy_ref=first)
    assert code == 0
    assert "- **looser** /scan/allow: added \\*\\*" in summary


# --------------------------------------------------------------------------- issue 13
RESULT = "results/pdebench-task1/exp-001.json"
ZERO = "0" * 40


def rewrite_a_committed_result(repo: Path) -> str:
    """A quiet improvement of a committed result, committed past the hooks; returns it."""
    path = repo / RESULT
    path.write_text(path.read_text().replace('"seg_total": 57.09', '"seg_total": 58.5'))
    git(repo, "commit", "--no-verify", "-qam", "quietly improve exp-001")
    return git(repo, "rev-parse", "HEAD")


def test_pull_request_checks_history_since_its_base_by_default(
    demo_repo: Path, tmp_path: Path
) -> None:
    """Attack 5: with `since` left empty, a rewrite inside the PR failed nothing."""
    git(demo_repo, "checkout", "-qb", "feature")
    head = rewrite_a_committed_result(demo_repo)
    git(demo_repo, "checkout", "-q", "main")
    code, log, outputs, summary = run_action(
        demo_repo, tmp_path, event="pull_request", payload=pr_event(demo_repo, head)
    )
    assert code == 1, log
    assert outputs["passed"] == "false"
    base = git(demo_repo, "rev-parse", "main")
    assert f"history checked since {base[:12]}" in log
    assert f"::error file={RESULT}" in log and "result-rewritten" in log
    assert "result-rewritten" in summary


def test_pull_request_behind_its_base_is_checked_from_where_it_left(
    demo_repo: Path, tmp_path: Path
) -> None:
    """The base branch moved on after the PR branched: its base commit is no ancestor of
    the head, so the history is checked from the merge base (and the audit still runs)."""
    fork = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-qb", "feature")
    (demo_repo / "notes.md").write_text("a note\n")
    git(demo_repo, "add", "notes.md")
    git(demo_repo, "commit", "-qm", "a note")
    head = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-q", "main")
    (demo_repo / "other.md").write_text("meanwhile on main\n")
    git(demo_repo, "add", "other.md")
    git(demo_repo, "commit", "-qm", "main moves on")
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="pull_request", payload=pr_event(demo_repo, head)
    )
    assert code == 0, log
    assert outputs["passed"] == "true"
    assert f"history checked since {fork[:12]}" in log
    # What main gained since is not counted against the pull request: the job says so.
    base = git(demo_repo, "rev-parse", "main")
    warnings = [line for line in log.splitlines() if line.startswith("::warning")]
    assert any(f"behind its base {base[:12]}" in line for line in warnings), log

    # The same layout with a rewrite on the branch fails.
    git(demo_repo, "checkout", "-q", "feature")
    head = rewrite_a_committed_result(demo_repo)
    git(demo_repo, "checkout", "-q", "main")
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="pull_request", payload=pr_event(demo_repo, head)
    )
    assert code == 1 and "result-rewritten" in log, log


def test_a_pull_request_up_to_date_with_its_base_is_not_called_behind(
    demo_repo: Path, tmp_path: Path
) -> None:
    git(demo_repo, "checkout", "-qb", "feature")
    (demo_repo / "notes.md").write_text("a note\n")
    git(demo_repo, "add", "notes.md")
    git(demo_repo, "commit", "-qm", "a note")
    head = git(demo_repo, "rev-parse", "HEAD")
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="pull_request", payload=pr_event(demo_repo, head)
    )
    assert code == 0 and outputs["passed"] == "true", log
    assert "behind its base" not in log


# A push to the default branch as GitHub's event names it (its ref and default branch).
ON_MAIN = {"ref": "refs/heads/main", "repository": {"default_branch": "main"}}


def test_push_checks_history_since_the_commit_it_replaced(demo_repo: Path, tmp_path: Path) -> None:
    before = git(demo_repo, "rev-parse", "HEAD")
    rewrite_a_committed_result(demo_repo)
    (demo_repo / "notes.md").write_text("and a later commit on top\n")
    git(demo_repo, "add", "notes.md")
    git(demo_repo, "commit", "-qm", "notes")
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="push", payload={"before": before, "forced": False, **ON_MAIN}
    )
    assert code == 1, log
    assert outputs["passed"] == "false"
    assert f"history checked since {before[:12]}" in log and "result-rewritten" in log

    # An explicit `since` input is taken as given.
    code, log, _, _ = run_action(
        demo_repo, tmp_path, event="push", payload={"before": before}, since="HEAD~1"
    )
    assert code == 0, log
    assert "expflow-git: history checked since" not in log  # the action's own guess
    head1 = git(demo_repo, "rev-parse", "HEAD~1")
    assert f"audit PASS (every run; history checked since {head1[:12]})" in log


def test_push_of_a_new_branch_checks_its_history(demo_repo: Path, tmp_path: Path) -> None:
    """A new branch had no history check (a review): a rewrite on it, or a key its first
    commit added and the next deleted, passed the push's audit. It is checked since it
    left the default branch (never another branch: one the same push made holds the
    same commits, a second review), else from the empty tree."""
    new = {
        "before": ZERO,
        "created": True,
        "ref": "refs/heads/feature",
        "repository": {"default_branch": "main"},
    }
    code, log, outputs, _ = run_action(demo_repo, tmp_path, event="push", payload=new)
    assert code == 0, log
    assert outputs["passed"] == "true"
    assert "the whole history checked (a new branch: nothing it shares with the" in log
    assert "audit PASS (every run; whole history checked)" in log

    main = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "update-ref", "refs/remotes/origin/main", main)  # as actions/checkout
    git(demo_repo, "checkout", "-qb", "feature")
    head = rewrite_a_committed_result(demo_repo)
    for pushed in ("feature", "sibling"):  # a sibling pushed with it holds its commits
        git(demo_repo, "update-ref", f"refs/remotes/origin/{pushed}", head)
    code, log, outputs, _ = run_action(demo_repo, tmp_path, event="push", payload=new)
    assert code == 1 and outputs["passed"] == "false", log
    assert f"history checked since {main[:12]} (a new branch: where it left main)" in log
    assert "result-rewritten" in log

    git(demo_repo, "reset", "-q", "--hard", main)  # a branch of commits main holds
    code, log, _, _ = run_action(demo_repo, tmp_path, event="push", payload=new)
    assert code == 0, log
    assert f"history checked since {main[:12]} (a new branch: where it left main)" in log

    code, log, _, _ = run_action(demo_repo, tmp_path, event="workflow_dispatch")
    assert code == 0, log
    assert "no history check (a workflow_dispatch event names no earlier commit)" in log


def test_push_of_a_new_branch_reads_its_first_commits_files(tmp_path: Path) -> None:
    """An orphan branch whose first commit adds a PIN hash and whose next deletes it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    build_repo(repo)
    digest = hashlib.sha256(b"4821").hexdigest()
    (repo / "notes.txt").write_text(f"pin_hash: {digest}\n")
    git(repo, "checkout", "-q", "--orphan", "fresh")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first", "--no-verify")
    git(repo, "rm", "-q", "notes.txt")
    git(repo, "commit", "-qm", "hidden", "--no-verify")
    new = {"before": ZERO, "created": True, "ref": "refs/heads/fresh"}
    code, log, outputs, _ = run_action(repo, tmp_path, event="push", payload=new)
    assert code == 1 and outputs["passed"] == "false", log
    assert "notes.txt" in log and "stays in the history" in log and digest not in log


@pytest.mark.parametrize(
    ("event", "payload", "needles"),
    [
        pytest.param(
            "pull_request",
            None,
            ["the base commit 222222222222 is not in this clone", "fetch-depth: 0"],
            id="pr-base",
        ),
        pytest.param(
            "push",
            {"before": "3" * 40, "forced": False, **ON_MAIN},
            ["the commit this push replaced 333333333333 is not in this clone", "fetch-depth: 0"],
            id="push-before",
        ),
        pytest.param(
            "push",
            {"before": "3" * 40, "forced": True, **ON_MAIN},
            [
                "the commit this push replaced 333333333333 is not in this clone",
                "the push was forced",
                "set the `since` input",
            ],
            id="forced-push",
        ),
    ],
)
def test_a_default_since_missing_from_the_clone_fails_clearly(
    demo_repo: Path, tmp_path: Path, event: str, payload: dict | None, needles: list[str]
) -> None:
    """Never a silently skipped history check: the job fails and says why."""
    if payload is None:
        payload = pr_event(demo_repo, git(demo_repo, "rev-parse", "HEAD"), base="2" * 40)
    code, log, outputs, summary = run_action(demo_repo, tmp_path, event=event, payload=payload)
    assert code == 2, log
    assert outputs == {"passed": "false", "best-feasible": "", "report-path": ""}
    errors = [line for line in log.splitlines() if line.startswith("::error title=expflow-git::")]
    assert len(errors) == 1, log
    for needle in needles:
        assert needle in errors[0], (needle, log)
    assert "did not complete" in summary and "PASS" not in summary
    assert not (demo_repo / "expflow-report.json").exists()


def _passing_report(repo: Path, tmp_path: Path) -> tuple[bytes, bytes]:
    """A real passing report and scorecard of this repository, as a PR could commit them."""
    code, log, outputs, _ = run_action(repo, tmp_path / "first", html_path="expflow.html")
    assert code == 0 and outputs["passed"] == "true", log
    return (repo / "expflow-report.json").read_bytes(), (repo / "expflow.html").read_bytes()


@pytest.mark.parametrize("how", ["broken-policy", "unknown-since"])
def test_a_stale_report_is_never_taken_for_this_runs(
    demo_repo: Path, tmp_path: Path, how: str
) -> None:
    """Attack 7: the audit exits 2 and writes nothing; a passing report committed at
    `report-path` used to make the summary PASS, signed, with its best run."""
    (tmp_path / "first").mkdir()
    report, html = _passing_report(demo_repo, tmp_path)
    assert b"PASS" in html or b"pass" in html
    (demo_repo / "expflow-report.json").write_bytes(report)
    (demo_repo / "expflow.html").write_bytes(html)
    inputs = {"html_path": "expflow.html"}
    if how == "broken-policy":
        policy = demo_repo / "expflow.yaml"
        policy.write_text(policy.read_text() + "\nnot: [valid\n")
    else:
        inputs["since"] = "no-such-branch"
    git(demo_repo, "add", "-A")
    git(demo_repo, "commit", "-qm", "a committed report, and the audit cannot run")
    code, log, outputs, summary = run_action(demo_repo, tmp_path, event="push", **inputs)
    assert code == 2, log
    assert outputs == {"passed": "false", "best-feasible": "", "report-path": ""}
    assert "did not complete" in summary
    assert "PASS" not in summary and "exp-001" not in summary and "signed" not in summary
    # Removed before the audit, so neither the artifact nor a later step can pick them up.
    assert not (demo_repo / "expflow-report.json").exists()
    assert not (demo_repo / "expflow.html").exists()


def test_a_committed_symlink_at_report_path_is_removed_not_followed(
    demo_repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not the action's to touch\n")
    (demo_repo / "expflow-report.json").symlink_to(outside)
    git(demo_repo, "add", "-A")
    git(demo_repo, "commit", "-qm", "a symlink where the report goes")
    code, log, outputs, _ = run_action(demo_repo, tmp_path, event="push")
    assert code == 0, log
    assert outputs["passed"] == "true"
    assert outside.read_text() == "not the action's to touch\n"
    assert not (demo_repo / "expflow-report.json").is_symlink()
    assert json.loads((demo_repo / "expflow-report.json").read_text())["payloadType"]


def commit_a_linked_reports_folder(repo: Path, tmp_path: Path) -> Path:
    """`reports -> TMP/elsewhere` committed, the folder holding a precious `r.json`."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "r.json").write_text("precious\n")
    (repo / "reports").symlink_to(outside)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a symlinked folder where the report goes")
    return outside


def test_a_committed_symlinked_folder_on_the_report_path_is_refused(
    demo_repo: Path, tmp_path: Path
) -> None:
    """`reports -> /elsewhere` committed by a pull request: the action must neither delete
    nor write through it (it used to replace /elsewhere/r.json and write card.html there)."""
    outside = commit_a_linked_reports_folder(demo_repo, tmp_path)
    code, log, outputs, summary = run_action(
        demo_repo,
        tmp_path,
        event="push",
        report_path="reports/r.json",
        html_path="reports/card.html",
    )
    assert code == 2, log
    assert "reports is a symbolic link" in log
    assert (outside / "r.json").read_text() == "precious\n"
    assert sorted(p.name for p in outside.iterdir()) == ["r.json"]
    assert outputs["passed"] == "false" and "did not complete" in summary


@pytest.mark.parametrize("report_path", ["reports/../expflow-report.json", ".", "out/"])
def test_a_report_path_that_names_no_file_as_given_is_refused(
    demo_repo: Path, tmp_path: Path, report_path: str
) -> None:
    """`reports/../expflow-report.json` was checked normalised, as `expflow-report.json`,
    while the kernel went through the committed `reports -> /elsewhere`: the action
    deleted and wrote there. `.` was reported as a crash, and `out/` wrote a file `out`
    and then said no report was written (an attacker's hunt, issue 18 twenty-second pass)."""
    outside = tmp_path / "elsewhere" / "inner"
    outside.mkdir(parents=True)
    (outside.parent / "expflow-report.json").write_text("precious\n")
    (demo_repo / "reports").symlink_to(outside)
    git(demo_repo, "add", "-A")
    git(demo_repo, "commit", "-qm", "a symlinked folder")
    code, log, outputs, summary = run_action(demo_repo, tmp_path, report_path=report_path)
    assert code == 2, log
    assert "must name files" in log and "crashed" not in log, log
    assert (outside.parent / "expflow-report.json").read_text() == "precious\n"
    assert not (demo_repo / "out").exists()
    assert outputs["passed"] == "false" and "did not complete" in summary


def test_a_directory_at_report_path_did_not_complete(demo_repo: Path, tmp_path: Path) -> None:
    (demo_repo / "out").mkdir()
    code, log, outputs, summary = run_action(demo_repo, tmp_path, report_path="out")
    assert code == 2, log
    assert "::error title=expflow-git::out: cannot remove what is there" in log
    assert outputs["passed"] == "false" and "did not complete" in summary


def test_a_crash_inside_the_audit_still_reports_did_not_complete(
    demo_repo: Path, tmp_path: Path
) -> None:
    """A bug (any exception out of main()) must not leave the job without a verdict, nor
    print a traceback whose text GitHub would read as workflow commands."""
    (tmp_path / "first").mkdir()
    report, _ = _passing_report(demo_repo, tmp_path)
    (demo_repo / "expflow-report.json").write_bytes(report)
    # Fault injection into this package (not into git): the audit raises what a bug would.
    inject = fault_injected(
        tmp_path,
        "expflow_git.audit.pipeline",
        "run_audit",
        "RuntimeError('boom 100%\\n::error::forged')",
    )
    code, log, outputs, summary = run_action(
        demo_repo, tmp_path, pythonpath=(inject,), injected=True
    )
    assert code == 2, log
    assert outputs == {"passed": "false", "best-feasible": "", "report-path": ""}
    assert "did not complete" in summary and "PASS" not in summary
    # GitHub's own escapes: the annotation shows the message as raised, on one command line.
    assert (
        "::error title=expflow-git::the audit crashed: RuntimeError: boom 100%25%0A::error::forged"
    ) in log
    assert not any(line.startswith("::error::forged") for line in log.splitlines())
    assert not (demo_repo / "expflow-report.json").exists()


def test_merge_group_checks_history_since_its_base(demo_repo: Path, tmp_path: Path) -> None:
    """A merge queue audits the group's commit it checked out, since the queue's base."""
    base = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-qb", "gh-readonly-queue/main/pr-1")
    head = rewrite_a_committed_result(demo_repo)
    payload = {"merge_group": {"base_sha": base, "head_sha": head}}
    code, log, outputs, _ = run_action(demo_repo, tmp_path, event="merge_group", payload=payload)
    assert code == 1, log
    assert f"history checked since {base[:12]}" in log and "result-rewritten" in log
    assert outputs["passed"] == "false"


def loosening_pull_request(repo: Path) -> tuple[str, str]:
    """A pull request that allows every path out of the PIN scan and commits a PIN hash:
    its own policy passes it, its base's fails it. Returns (base, head)."""
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-qb", "feature")
    with (repo / "expflow.yaml").open("a") as fh:
        fh.write("scan: {allow: ['**']}\n")
    (repo / ".env").write_text(
        "EXPFLOW_PIN_HASH=03ac674216f3e15c761ee1a5e255f067953623c8b388b4459e13f978d7c846f4\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "allow everything")
    return base, git(repo, "rev-parse", "HEAD")
