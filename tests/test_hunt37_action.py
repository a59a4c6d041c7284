"""An attacker's hunt of the GitHub Action (issue 18, thirty-seventh pass): the script
run under a simulated runner (test_action.run_action) against real repositories."""

# The fixture `demo_repo` is imported from test_action, and test parameters of that
# name receive it (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

from test_action import (  # noqa: F401 (a fixture)
    commit_a_linked_reports_folder,
    demo_repo,
    run_action,
)


def test_an_absolute_report_path_through_a_linked_workspace_is_still_confined(
    demo_repo: Path, tmp_path: Path
) -> None:
    """A self-hosted runner's work folder is often a symbolic link (`_work -> /mnt/…`):
    the step's working directory is then the real folder, while the workflow spells
    `report-path` through the link (`${{ github.workspace }}/reports/r.json`). The check
    for a committed `reports -> /elsewhere` compared that spelling with the real folder,
    found it outside the workspace, and skipped: the action deleted /elsewhere/r.json and
    wrote its report (and the scorecard) there."""
    outside = commit_a_linked_reports_folder(demo_repo, tmp_path)
    linked = tmp_path / "work-link"
    linked.symlink_to(demo_repo)
    for inputs in (
        {"report_path": f"{linked}/reports/r.json"},
        {"html_path": f"{linked}/reports/card.html"},
    ):
        code, log, outputs, summary = run_action(linked, tmp_path, **inputs)
        assert code == 2, log
        assert "reports is a symbolic link" in log
        assert (outside / "r.json").read_text() == "precious\n"
        assert sorted(p.name for p in outside.iterdir()) == ["r.json"]
        assert outputs["passed"] == "false" and "did not complete" in summary


def test_a_signing_key_that_is_not_utf8_is_one_line_not_a_crash(
    demo_repo: Path, tmp_path: Path
) -> None:
    """A PEM signing key holding a byte that is not UTF-8 (`$'…\\xff'`) was a traceback
    from `str.encode` in the CLI (exit 1), and `the audit crashed: UnicodeEncodeError` in
    the action: it is a key that cannot be parsed, one line and exit 2, never quoted."""
    from support import run_cli

    key = "-----BEGIN PRIVATE KEY-----\udcffsecretbytes\n-----END PRIVATE KEY-----\n"
    code, log, outputs, summary = run_action(demo_repo, tmp_path, signing_key=key)
    assert code == 2, log
    assert "crashed" not in log and "secretbytes" not in log
    assert "$EXPFLOW_SIGNING_KEY: cannot parse private key" in log
    assert outputs["passed"] == "false" and "did not complete" in summary
    result = run_cli(
        ["audit", "--no-cache", "--out", str(tmp_path / "r.json")],
        demo_repo,
        env={"EXPFLOW_SIGNING_KEY": key},
    )
    assert result.code == 2, result.err
    assert "Traceback" not in result.err and "secretbytes" not in result.err
    assert "cannot parse private key" in result.err


def test_a_blank_signing_key_warns_as_an_empty_one(demo_repo: Path, tmp_path: Path) -> None:
    """A secret that holds only a line break (or blanks) signs nothing: the tool strips
    it. The job's warning that the report is UNSIGNED was given only for an empty value."""
    code, log, outputs, summary = run_action(demo_repo, tmp_path, signing_key=" \n")
    assert code == 0, log
    assert "::warning title=expflow-git::no signing key" in log
    assert "unsigned" in summary.lower()
