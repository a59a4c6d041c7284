"""The action's default history start on a push (issue 18, thirty-third pass): a push to
a branch other than the default branch is checked since it left the default branch, not
since `before` (which a failed push left unaudited); a push to the default branch since
`before`. Real repositories, the action's step run under a simulated runner."""

from __future__ import annotations

from pathlib import Path

from test_action import (
    ZERO,
    demo_repo,  # noqa: F401 (a fixture)
    git,
    pr_event,
    rewrite_a_committed_result,
    run_action,
)


def push(repo: Path, before: str, branch: str, default: str = "main") -> dict:
    """A push payload as GitHub writes it (the fields the action reads)."""
    return {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": git(repo, "rev-parse", "HEAD"),
        "forced": False,
        "repository": {"default_branch": default},
    }


def commit_a_note(repo: Path, text: str) -> str:
    (repo / "notes.md").write_text(text)
    git(repo, "add", "notes.md")
    git(repo, "commit", "-qm", "an unrelated note")
    return git(repo, "rev-parse", "HEAD")


def test_a_rewrite_a_failed_push_brought_fails_the_next_push_too(
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The review's repro: push 1 (a rewrite) failed; push 2, one unrelated commit on top,
    was checked since push 1's commit, and passed (a signed PASS with a key set)."""
    main = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "update-ref", "refs/remotes/origin/main", main)  # as actions/checkout
    git(demo_repo, "checkout", "-qb", "x")
    rewritten = rewrite_a_committed_result(demo_repo)
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, main, "x")
    )
    assert code == 1 and outputs["passed"] == "false", log
    assert "result-rewritten" in log

    commit_a_note(demo_repo, "unrelated\n")
    code, log, outputs, summary = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, rewritten, "x")
    )
    assert code == 1 and outputs["passed"] == "false", log
    assert f"history checked since {main[:12]} (a push to x: where it left main)" in log
    assert "result-rewritten" in log and "audit: FAIL" in summary


def test_a_branch_push_is_checked_since_it_left_the_default_branch_as_it_is_now(
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The merge base with the default branch's tip: a branch that merged the default
    branch in is checked from there; one with nothing wrong passes."""
    main = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-qb", "x")
    first = commit_a_note(demo_repo, "one\n")
    git(demo_repo, "checkout", "-q", "main")
    (demo_repo / "other.md").write_text("main moves on\n")
    git(demo_repo, "add", "other.md")
    git(demo_repo, "commit", "-qm", "main moves on")
    tip = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "update-ref", "refs/remotes/origin/main", tip)
    git(demo_repo, "checkout", "-q", "x")
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, main, "x")
    )
    assert code == 0 and outputs["passed"] == "true", log
    assert f"history checked since {main[:12]} (a push to x: where it left main)" in log

    git(demo_repo, "merge", "-q", "--no-edit", "main")
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, first, "x")
    )
    assert code == 0 and outputs["passed"] == "true", log
    assert f"history checked since {tip[:12]} (a push to x: where it left main)" in log


def test_a_branch_push_without_the_default_branch_fetched_says_so(
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Never `before` in its place, never a silently skipped check: exit 2, the hint."""
    before = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-qb", "x")
    commit_a_note(demo_repo, "one\n")
    code, log, outputs, summary = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, before, "x")
    )
    assert code == 2, log
    assert outputs == {"passed": "false", "best-feasible": "", "report-path": ""}
    errors = [line for line in log.splitlines() if line.startswith("::error title=expflow-git::")]
    assert len(errors) == 1, log
    assert "a push to x is checked since it left the default branch main" in errors[0]
    assert "refs/remotes/origin/main is not in this clone" in errors[0]
    assert "fetch-depth: 0" in errors[0] and "did not complete" in summary

    # The `since` input is taken as given.
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, before, "x"), since=before
    )
    assert code == 0 and outputs["passed"] == "true", log


def test_a_branch_push_sharing_nothing_with_the_default_branch_is_checked_whole(
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    git(demo_repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(demo_repo, "checkout", "-q", "--orphan", "x")
    git(demo_repo, "commit", "-qm", "first", "--no-verify")
    before = git(demo_repo, "rev-parse", "HEAD")
    rewrite_a_committed_result(demo_repo)
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, before, "x")
    )
    assert code == 1 and outputs["passed"] == "false", log
    assert "the whole history checked (a push to x: nothing it shares with main)" in log
    assert "result-rewritten" in log


def test_a_push_to_the_default_branch_is_checked_since_before(
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """What the previous push's check judged (the limit is in docs/threat-model.md)."""
    first = git(demo_repo, "rev-parse", "HEAD")
    rewritten = rewrite_a_committed_result(demo_repo)
    git(demo_repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, first, "main")
    )
    assert code == 1 and outputs["passed"] == "false", log
    assert f"history checked since {first[:12]} (the commit this push replaced)" in log

    commit_a_note(demo_repo, "on top\n")
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, rewritten, "main")
    )
    assert code == 0 and outputs["passed"] == "true", log
    assert f"history checked since {rewritten[:12]} (the commit this push replaced)" in log


def test_a_new_branch_is_unchanged(demo_repo: Path, tmp_path: Path) -> None:  # noqa: F811
    main = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "update-ref", "refs/remotes/origin/main", main)
    git(demo_repo, "checkout", "-qb", "x")
    rewrite_a_committed_result(demo_repo)
    code, log, _, _ = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, ZERO, "x")
    )
    assert code == 1, log
    assert f"history checked since {main[:12]} (a new branch: where it left main)" in log


def test_a_forced_push_to_the_default_branch_is_refused_not_judged_from_the_fork(
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A forced push replacing a published result: checked since the merge base of
    `before` and the pushed commit, the result was "new" there and its other bytes
    passed (a review of a fix that took that base). The job fails, saying why."""
    base = git(demo_repo, "rev-parse", "HEAD")
    published = rewrite_a_committed_result(demo_repo)  # a commit the push replaces
    git(demo_repo, "reset", "-q", "--hard", base)
    commit_a_note(demo_repo, "history rewritten\n")
    git(demo_repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    payload = {**push(demo_repo, published, "main"), "forced": True}
    code, log, outputs, _ = run_action(demo_repo, tmp_path, event="push", payload=payload)
    assert code == 2 and outputs.get("passed", "false") == "false", log
    assert f"the push to main was forced: {published[:12]} is not in the pushed" in log


def test_a_push_event_naming_no_default_branch_is_refused(
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Not checked since `before` (a push whose check failed left it unaudited)."""
    main = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "checkout", "-qb", "x")
    rewritten = rewrite_a_committed_result(demo_repo)
    commit_a_note(demo_repo, "on top\n")
    payload = {**push(demo_repo, rewritten, "x"), "repository": {"name": "r"}}
    code, log, outputs, _ = run_action(demo_repo, tmp_path, event="push", payload=payload)
    assert code == 2 and outputs.get("passed", "false") == "false", (main, log)
    assert "names no default branch (repository.default_branch)" in log


def test_a_push_in_a_shallow_clone_is_not_called_forced(
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """`before` fetched one commit deep is no ancestor behind the clone's cut: the job
    named a forced push, and the `since` input it advised failed too (a review)."""
    before = git(demo_repo, "rev-parse", "HEAD")
    commit_a_note(demo_repo, "pushed\n")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{demo_repo}", str(shallow))
    git(shallow, "fetch", "-q", "--depth", "1", "origin", before)
    git(shallow, "update-ref", "refs/remotes/origin/main", "HEAD")
    payload = push(shallow, before, "main")
    code, log, _, _ = run_action(shallow, tmp_path, event="push", payload=payload)
    assert code == 2 and "shallow clone" in log and "fetch-depth: 0" in log, log
    assert "forced" not in log, log


def test_a_branch_push_says_its_own_policy_judged_it(
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A push is judged by the pushed commit's own policy (the pusher controls the
    workflow file too: docs/decisions.md, thirty-seventh pass), and the log says so; the
    same commit's pull request is judged by its base's policy, and fails."""
    main = git(demo_repo, "rev-parse", "HEAD")
    git(demo_repo, "update-ref", "refs/remotes/origin/main", main)
    git(demo_repo, "checkout", "-qb", "x")
    policy = demo_repo / "expflow.yaml"
    loosened = policy.read_text().replace("results_immutable: true", "results_immutable: false")
    policy.write_text(loosened)
    git(demo_repo, "commit", "--no-verify", "-qam", "loosen the rules")
    head = rewrite_a_committed_result(demo_repo)
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="push", payload=push(demo_repo, main, "x")
    )
    assert code == 0 and outputs["passed"] == "true", log
    assert "judged by the audited commit's own policy (a pull request is judged" in log
    git(demo_repo, "checkout", "-q", "main")
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event="pull_request", payload=pr_event(demo_repo, head)
    )
    assert code == 1 and "result-rewritten" in log, log
    assert "judged by the audited commit's own policy" not in log
