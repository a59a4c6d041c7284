"""docs/api.md is what a user types: every ```python and ```sh block runs, in order, in
a repository made by `git init` and the real `expflow-git init --template competition`,
with one namespace for the Python blocks (as a notebook would run them)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import PROJECT, git_init, run_cli, scrubbed_env

pytestmark = pytest.mark.usefixtures("isolated_env")

API_MD = PROJECT / "docs" / "api.md"
_BLOCK = re.compile(r"^```(python|sh)\n(.*?)^```$", re.S | re.M)


def blocks() -> list[tuple[str, str]]:
    """The runnable blocks of docs/api.md: (language, code)."""
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(API_MD.read_text("utf-8"))]


def test_api_md_has_examples_of_every_part() -> None:
    text = "".join(code for _, code in blocks())
    for name in (
        "Repository(",
        "repo.run(",
        "run.log(",
        "run.log_split(",
        "repo.new(",
        "repo.start(",
        "repo.fail(",
        "repo.log_result(",
        "repo.runs(",
        "repo.rank(",
        "repo.audit(",
        "repo.verify(",
        "repo.html(",
        "validate_competition_rules(",
        "compare_scores(",
        "gate_scores(",
    ):
        assert name in text, name


def test_every_example_in_api_md_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_init(tmp_path / "repo")
    code, _, err = run_cli(["init", "--template", "competition"], cwd=repo)
    assert code == 0, err
    monkeypatch.chdir(repo)
    for name, value in scrubbed_env().items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    namespace: dict[str, object] = {"__name__": "__api_md__"}
    shown = io.StringIO()
    for number, (language, code) in enumerate(blocks(), 1):
        if language == "sh":
            proc = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", code],
                cwd=repo,
                env=scrubbed_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            assert proc.returncode == 0, f"block {number}: {proc.stderr}"
            continue
        with contextlib.redirect_stdout(shown):
            exec(compile(code, f"docs/api.md block {number}", "exec"), namespace)

    # What the comments in the examples say they print.
    out = shown.getvalue()
    assert "failed | RuntimeError: CUDA out of memory" in out
    assert "unknown metric 'seg_totl'; the closest known name is 'seg_total'" in out
    assert "['exp-002', 'exp-003', 'exp-007']" in out
    assert "exp-001 exp-001" in out and "run-b run-a" in out
    assert "pass exp-001 0" in out
    verdict, gate = namespace["verdict"], namespace["gate"]
    assert verdict.all_pass is True and len(verdict.checks) == 6  # type: ignore[attr-defined]
    assert gate.passed is True and round(gate.pearson, 3) == 0.994  # type: ignore[attr-defined]
    assert namespace["checked"].ok is True  # type: ignore[attr-defined]
    assert "<html" in (repo / "scorecard.html").read_text("utf-8").lower()
    assert not (repo / "results/pdebench-task1/exp-003.json").exists()
