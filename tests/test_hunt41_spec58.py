"""Are docs/spec.md §5 (PIN protection), §8 (the GitHub Action) and docs/api.md true?
Claims the code contradicted (issue 18 forty-first pass, a hunt sentence by sentence);
each test failed on the code before."""

# The fixture `demo_repo` is imported from test_action, and test parameters of that
# name receive it (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

import pytest
from test_action import demo_repo, loosening_pull_request, run_action  # noqa: F401
from test_hunt38_action import point_head_at


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("pull_request", {"pull_request": {"head": {"sha": "HEAD"}}}),
        ("merge_group", {"merge_group": {"head_sha": "HEAD"}}),
    ],
)
def test_a_pull_request_event_naming_no_base_is_judged_once_the_inputs_give_it(
    demo_repo: Path, tmp_path: Path, event: str, payload: dict
) -> None:
    """§8: "such an event that names no base commit ... fails the job unless the
    `policy-ref` ... input gives it". With `policy-ref` set (and `since` left empty, its
    default) the job failed all the same, exit 2, "the event names no base commit
    (pull_request.base.sha)", no input named: the one the error had asked for was set.
    The error names every input the event's base stands for, and with both given the
    pull request is judged by its base's policy (and fails: it commits a PIN hash)."""
    base, head = loosening_pull_request(demo_repo)
    point_head_at(payload, head)
    code, log, outputs, summary = run_action(demo_repo, tmp_path, event=event, payload=payload)
    assert code == 2, log
    assert "names no base commit" in log, log
    assert "`policy-ref` and `since` inputs" in log, log
    code, log, outputs, summary = run_action(
        demo_repo, tmp_path, event=event, payload=payload, policy_ref=base
    )
    assert code == 2, log
    assert "set the `since` input" in log and "`policy-ref`" not in log, log
    assert outputs["passed"] == "false" and "did not complete" in summary
    code, log, outputs, _ = run_action(
        demo_repo, tmp_path, event=event, payload=payload, policy_ref=base, since=base
    )
    assert code == 1 and outputs["passed"] == "false", log
    assert "pin-hash" in log or "PIN" in log, log
