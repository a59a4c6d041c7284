"""The job summary's note that the report is unsigned (or its signature not verified)
survives the cut to GitHub's 1 MiB cap (issue 18, twenty-ninth pass): it was added
after the summary was cut, and the action cut the whole again, so a summary within
~70 bytes of the cap lost it. The summary is now cut once, the note within the cap.

The action's script under a simulated runner (test_action), with the cap lowered (by
fault injection into this package) to what the demo's summary nearly fills: the
demo stands in for a summary of nearly 1 MiB.
"""

# The fixture `demo_repo` is imported from test_action, and test parameters of that
# name receive it (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

from test_action import demo_repo, run_action  # noqa: F401 (a fixture)

NOTE = "> ⚠️ This report is **unsigned**: no signing key was available.\n"


def test_the_unsigned_note_survives_a_summary_at_the_cap(demo_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    code, log, _, full = run_action(demo_repo, tmp_path / "full", injected=True)
    assert code == 0, log
    assert full.endswith(NOTE)
    # A cap the summary fits without its note, not with it.
    cap = len(full.encode()) - 10
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        "import expflow_git.render.markdown as m\n"
        "old = m.MAX_SUMMARY_BYTES\n"
        f"m.MAX_SUMMARY_BYTES = {cap}\n"
        f"m.truncate.__defaults__ = tuple({cap} if d == old else d"
        " for d in m.truncate.__defaults__ or ())\n"
    )
    (tmp_path / "cut").mkdir()
    code, log, outputs, summary = run_action(
        demo_repo, tmp_path / "cut", pythonpath=(inject,), injected=True
    )
    assert code == 0 and outputs["passed"] == "true", log
    assert len(summary.encode()) <= cap
    assert "summary truncated" in summary
    assert summary.endswith(NOTE)
