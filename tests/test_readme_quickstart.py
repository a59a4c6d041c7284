"""README.md's quick start, exactly as it is printed (issue 16, item 1): its ```sh block
runs in a fresh temporary directory with this checkout's virtualenv first on PATH, which
stands for `pip install .` (a `pip install` line in the block would be dropped for that
reason: the package under test is already installed there, editable). The hooks it
installs must then really refuse a bad commit, and the README's Python API block runs
in the repository the quick start made."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import IDENTITY, NO_SIGNING, PROJECT, scrubbed_env

pytestmark = pytest.mark.usefixtures("isolated_env")

README = PROJECT / "README.md"
VENV_BIN = Path(sys.executable).parent


def fenced_block(heading: str, language: str) -> str:
    """The first ```language block after `heading` in README.md."""
    text = README.read_text("utf-8")
    start = text.index(f"\n{heading}\n")
    found = re.compile(rf"^```{language}\n(.*?)^```$", re.S | re.M).search(text, start)
    assert found is not None, f"no {language} block under {heading!r}"
    return found.group(1)


def quick_start() -> str:
    block = fenced_block("## Quick start in your own repository", "sh")
    # The virtualenv this test runs in is the installed expflow-git.
    return "\n".join(line for line in block.splitlines() if "pip install" not in line)


def environment(tmp_path: Path) -> dict[str, str]:
    return scrubbed_env(
        {
            **IDENTITY,
            **NO_SIGNING,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),  # not the user's cache
        }
    )


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_quick_start_runs_as_printed_and_installs_working_hooks(tmp_path: Path) -> None:
    assert (VENV_BIN / "pre-commit").exists(), "pre-commit is a run-time dependency"
    env = environment(tmp_path)
    proc = run(["bash", "-euo", "pipefail", "-c", quick_start()], tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The commit went through the hooks (not around them) ...
    both = proc.stdout + proc.stderr
    assert re.search(r"expflow-git validate\.+Passed", both), both
    assert re.search(r"expflow-git protect results\.+Passed", both), both
    # ... and rank shows the committed run.
    assert re.search(r"^1 +exp-001 +pdebench-task1 +yes", proc.stdout, re.M), proc.stdout
    assert "best_feasible: exp-001" in proc.stdout  # the best line is on stdout (issue 16)

    repo = tmp_path / "my-experiments"
    failed = (repo / "experiments/pdebench-task1/exp-002.json").read_text()
    assert '"status": "failed"' in failed and "loss diverged at epoch 3" in failed

    # The hooks it installed refuse what they should.
    bad = repo / "results/pdebench-task1/exp-001.json"
    bad.write_text(bad.read_text().replace('"seg_total": 57.09', '"seg_totl": 57.09', 1))
    assert run(["git", "add", "-A"], repo, env).returncode == 0
    proc = run(["git", "commit", "-m", "typo"], repo, env)
    both = proc.stdout + proc.stderr
    assert proc.returncode != 0, both
    assert "unknown-metric" in both and "did you mean 'seg_total'" in both
    assert run(["git", "checkout", "HEAD", "--", "."], repo, env).returncode == 0

    # The README's Python API block, in the repository the quick start made.
    code = fenced_block("## Python API", "python")
    proc = run([sys.executable, "-c", code], repo, env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == ("[('exp-001', 'success'), ('exp-002', 'failed'), ('exp-003', 'success')]")
    assert lines[1:] == ["exp-001", "b"]


def test_pin_and_corrections_blocks_run_as_printed_after_the_quick_start(tmp_path: Path) -> None:
    """The README's "PIN protection" block, then its "Corrections" block, in the quick
    start's repository: each command works as printed, and the `rm` the block says
    "writes a correction" does, which the protect hook then approves. It removed
    `exp-002`, a failed run with no result: nothing was written, nothing approved (a
    review, issue 18 twenty-sixth pass). No terminal here: the PIN `pin init` would
    prompt for is its argument, and what `rm` and `result --overwrite` would ask for comes
    from EXPFLOW_PIN."""
    env = environment(tmp_path)
    proc = run(["bash", "-euo", "pipefail", "-c", quick_start()], tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo = tmp_path / "my-experiments"
    shown_pin, pin = str(1000 + 234), str(4000 + 821)  # the README's, and this test's
    block = fenced_block("## PIN protection", "sh") + fenced_block("## Corrections", "sh")
    assert block.count(f"EXPFLOW_PIN={shown_pin} ") == 2, block
    block = block.replace(f"EXPFLOW_PIN={shown_pin} ", f"EXPFLOW_PIN={pin} ")
    block = block.replace("expflow-git pin init ", f"expflow-git pin init {pin} ")
    for asks in ("expflow-git rm ", "expflow-git result exp-001 "):  # (at a prompt)
        block = block.replace(asks, f"EXPFLOW_PIN={pin} {asks}")
    proc = run(["bash", "-euo", "pipefail", "-c", block], repo, env)
    both = proc.stdout + proc.stderr
    assert proc.returncode == 0, both
    assert "wrote corrections/" in proc.stdout, both
    assert both.count("protect results") >= 2 and "protect results...Failed" not in both
    removal = run(["git", "log", "--format=%H", "--grep=^rm "], repo, env).stdout.split()
    assert len(removal) == 1, removal
    changes = run(["git", "show", "--name-status", "--format=", removal[0]], repo, env).stdout
    assert re.search(r"^A\tcorrections/", changes, re.M), changes
    assert re.search(r"^D\tresults/", changes, re.M), changes


def test_following_the_readme_in_order_commits_no_key_and_no_report(tmp_path: Path) -> None:
    """The quick start, then "Reports and verification" as printed: the block wrote
    `ci-key`, `ci-key.pub`, `report.json` and `scorecard.html` in the work tree, the next
    blocks' `git add -A` committed the public key and the reports, and `verify
    --public-key ci-key.pub` then warned that the key is a file of the repository
    (issue 18, twenty-sixth pass). Nothing of the block may be left for `git add -A`."""
    env = {**environment(tmp_path), "HOME": str(tmp_path / "home")}
    lines = fenced_block("## Reports and verification", "sh").splitlines()
    assert lines[-1].endswith("--allowed-signers ~/.ssh/allowed_signers"), lines
    # The user's allowed_signers names the key the block made (the README assumes one).
    key = re.search(r"^expflow-git keygen --out (\S+)", lines[0])
    assert key is not None, lines[0]
    signers = (
        "mkdir -p ~/.ssh && printf 'ci namespaces=\"expflow-git\" %s\\n' "
        f'"$(cat {key.group(1)}.pub)" > ~/.ssh/allowed_signers'
    )
    script = "\n".join([quick_start(), *lines[:-1], signers, lines[-1]])
    script += "\ngit status --porcelain --untracked-files=all\n"
    proc = run(["bash", "-euo", "pipefail", "-c", script], tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("VERIFIED") == 2, proc.stdout
    assert "is a file of the repository" not in proc.stderr, proc.stderr
    assert "inside the git work tree" not in proc.stderr, proc.stderr
    # `git status` printed nothing: the quick start's commit holds everything, and the
    # key pair and the reports are outside the repository.
    assert ": VERIFIED, signed by ci" in proc.stdout.rstrip().splitlines()[-1], proc.stdout
    repo = tmp_path / "my-experiments"
    status = run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], repo, env)
    assert status.stdout == "", status.stdout
    assert (tmp_path / "ci-key").is_file() and (tmp_path / "report.json").is_file()
