"""An attacker's hunt of the GitHub Action (issue 18, thirty-eighth pass): the script
run under a simulated runner (test_action.run_action) against real repositories, and
the CLI run by hand with the same arguments."""

# The fixture `demo_repo` is imported from test_action, and test parameters of that
# name receive it (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from support import run_cli
from test_action import (  # noqa: F401 (a fixture)
    demo_repo,
    fault_injected,
    git,
    loosening_pull_request,
    run_action,
)


def test_a_pipe_at_report_path_is_neither_removed_nor_replaced(
    demo_repo: Path, tmp_path: Path
) -> None:
    """`audit --out` writes into a device or a pipe named directly, as a shell's `>`
    would, never replacing the node (run as root, /dev/null became a plain file). The
    action removed whatever was at `report-path` and `html-path` first: `report-path:
    /dev/null` on a runner running as root deleted the system's /dev/null (and
    `/dev/stdout` its link), and the audit then wrote a plain file in its place. Such a
    path is refused now, exit 2, and left as it was (a pipe stands in for the device)."""
    for name in ("report_path", "html_path"):
        pipe = tmp_path / f"pipe-{name}"
        os.mkfifo(pipe)
        code, log, outputs, summary = run_action(demo_repo, tmp_path, **{name: str(pipe)})
        assert code == 2, log
        assert stat.S_ISFIFO(os.lstat(pipe).st_mode), log
        assert "a named pipe" in log and "must name files" in log, log
        assert outputs["passed"] == "false" and "did not complete" in summary


@pytest.mark.parametrize("given", ["out/.", "out/sub/.."])
def test_a_report_path_whose_last_part_is_a_dot_names_no_file(
    demo_repo: Path, tmp_path: Path, given: str
) -> None:
    """`Path` drops a last `/.`, as it drops a last `/` (twenty-second pass): `audit --out
    out/.` wrote a file `out`, said `written to out/.`, exit 0, and the action, finding
    no file at `out/.`, said the audit did not complete (exit 2) where the audit by hand
    passed; `--out x/..` made a folder `x`, then failed with `Device or resource busy`.
    Each names a folder: refused before anything is written, by hand and in the action."""
    code, log, outputs, summary = run_action(demo_repo, tmp_path, report_path=given)
    assert code == 2, log
    assert "must name files" in log, log
    assert outputs["passed"] == "false" and "did not complete" in summary
    assert not (demo_repo / "out").exists()
    for option in ("--out", "--html"):
        args = ["audit", "--no-cache", option, given]
        if option == "--html":
            args += ["--out", "r.json"]
        result = run_cli(args, demo_repo)
        assert result.code == 2, result.err
        assert "names a folder, not a file" in result.err, result.err
        assert not (demo_repo / "out").exists()
        assert not (demo_repo / "r.json").exists()


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("pull_request", {"pull_request": {"head": {"sha": "HEAD"}}}),
        ("pull_request_target", {"pull_request": {"head": {"sha": "HEAD"}, "base": {}}}),
        ("pull_request", {"pull_request": {"head": {"sha": "HEAD"}, "base": {"sha": "main"}}}),
        ("merge_group", {"merge_group": {"head_sha": "HEAD"}}),
    ],
)
def test_a_pull_request_event_naming_no_base_is_never_judged_by_its_own_policy(
    demo_repo: Path, tmp_path: Path, event: str, payload: dict
) -> None:
    """With `since` set, a pull request's event whose payload named no base commit (no
    `pull_request.base.sha`, or not a commit id) was audited by the pull request's own
    policy: `passed=true` for a PIN hash its base's policy fails, the log saying "a pull
    request is judged by its base's". Its base is what judges it (docs/spec.md §8): with
    none named and no `policy-ref` input, the job fails and says so, as it does when
    `since` is empty."""
    base, head = loosening_pull_request(demo_repo)
    point_head_at(payload, head)
    code, log, outputs, summary = run_action(
        demo_repo, tmp_path, event=event, payload=payload, since=base
    )
    assert code == 2, log
    assert "names no base commit" in log and "policy-ref" in log, log
    assert outputs["passed"] == "false" and "did not complete" in summary
    # With the base given as the input, it is judged by the base's policy and fails.
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event=event, payload=payload, since=base, policy_ref=base
    )
    assert code == 1 and outputs["passed"] == "false", log


def test_a_pull_request_event_naming_no_head_does_not_audit_the_merge_commit(
    demo_repo: Path, tmp_path: Path
) -> None:
    """The action audits the pull request's head commit, not GitHub's merge commit
    (docs/spec.md §8); a payload naming none audited HEAD, the merge commit, silently."""
    base, _ = loosening_pull_request(demo_repo)
    payload = {"pull_request": {"head": {}, "base": {"sha": base}}}
    code, log, outputs, summary = run_action(
        demo_repo, tmp_path, event="pull_request", payload=payload
    )
    assert code == 2, log
    assert "names no head commit (pull_request.head.sha)" in log and "`rev`" in log, log
    assert outputs["passed"] == "false" and "did not complete" in summary


def test_pull_request_target_missing_head_says_how_to_fetch_it(
    demo_repo: Path, tmp_path: Path
) -> None:
    """On pull_request_target actions/checkout checks out the base, and `fetch-depth: 0`
    fetches no head of a fork's pull request (docs/threat-model.md): the error told the
    user to use `fetch-depth: 0`, which does not help. It names the ref to fetch."""
    payload = {
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"sha": "1" * 40},
            "base": {"sha": git(demo_repo, "rev-parse", "HEAD")},
        },
    }
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="pull_request_target", payload=payload
    )
    assert code == 2, log
    assert "refs/pull/7/head" in log, log
    assert outputs["passed"] == "false"


def test_the_actions_own_lines_mask_a_pin_hash_as_the_cli_does(
    demo_repo: Path, tmp_path: Path
) -> None:
    """`audit --rev HASH` by hand says `unknown revision '****'` for a PIN's SHA-256 (no
    secret in any output); the action's own annotation quoted it whole, and so did its
    lines naming a pushed branch (`pin-HASH`), in a log anyone may read."""
    import hashlib

    digest = hashlib.sha256(str(4000 + 821).encode()).hexdigest()
    by_hand = run_cli(["audit", "--no-cache", "--rev", digest], demo_repo)
    assert by_hand.code == 2 and digest not in by_hand.err and "****" in by_hand.err
    code, log, outputs, _ = run_action(demo_repo, tmp_path, rev=digest)
    assert code == 2 and outputs["passed"] == "false", log
    assert digest not in log and "unknown revision '****'" in log, log

    main = git(demo_repo, "rev-parse", "HEAD")
    branch = f"pin-{digest}"
    git(demo_repo, "checkout", "-qb", branch)
    payload = {
        "before": main,
        "ref": f"refs/heads/{branch}",
        "repository": {"default_branch": "main"},
    }
    code, log, _, _ = run_action(demo_repo, tmp_path, event="push", payload=payload)
    assert code == 2, log  # refs/remotes/origin/main is not in this clone
    assert "a push to pin-****" in log and digest not in log, log
    git(demo_repo, "update-ref", "refs/remotes/origin/main", main)  # as actions/checkout
    code, log, _, _ = run_action(demo_repo, tmp_path, event="push", payload=payload)
    assert code == 0, log
    assert "(a push to pin-****: where it left main)" in log and digest not in log, log


def test_a_ctrl_c_outside_the_audit_is_one_line_and_did_not_complete(
    demo_repo: Path, tmp_path: Path
) -> None:
    """A cancelled job (or `timeout-minutes`) sends SIGINT: inside the audit it is one line
    and exit 130, but before it (the history's start, the stale files) or after it (the
    summary) it was a traceback, and the job got neither outputs nor a summary."""
    # Fault injection into this package: a Ctrl-C while the action asks git for the repo.
    inject = fault_injected(tmp_path, "expflow_git.gitstore", "Git.discover", "KeyboardInterrupt")
    code, log, outputs, summary = run_action(
        demo_repo, tmp_path, pythonpath=(inject,), injected=True
    )
    assert code == 130, log
    assert "Traceback" not in log and "interrupted" in log, log
    assert outputs == {"passed": "false", "best-feasible": "", "report-path": ""}
    assert "did not complete" in summary


def point_head_at(payload: dict[str, Any], head: str) -> None:
    """Set the event payload's head commit (`pull_request.head.sha` or a merge group's
    `head_sha`) to `head`."""
    for part in payload.values():
        if isinstance(part.get("head"), dict):
            part["head"]["sha"] = head
        else:
            part["head_sha"] = head
