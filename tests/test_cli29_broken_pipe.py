"""A stdout whose reader closes it early (`| head`). `validate` prints its findings a
line at a time before it picks its exit code, and main() took the broken pipe for
success: `validate | head -1` on failing data exited 0 about half the time, so a CI
step `validate | head -50` under pipefail passed (issue 18 twenty-ninth pass, a
hunter's find). A broken pipe is exit 1 now, never 0, with no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_clean_output
from helpers_audit import POLICY, clean_env, init_repo, write

# Five findings a file, each line ~60 bytes: ~120 KB, more than a pipe holds (64 KiB),
# so the writer is still writing when its reader goes.
FILES = 400


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose `validate` finds many problems (exit 1)."""
    root = init_repo(tmp_path_factory.mktemp("pipe") / "repo")
    write(root, "expflow.yaml", POLICY)
    for i in range(FILES):
        write(root, f"experiments/s/r{i}.json", '{"schema": "expflow/experiment@1"}\n')
    return root


def _command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "expflow_git", *args]


def to_a_closed_pipe(args: list[str], cwd: Path) -> tuple[int, str]:
    """The CLI writing to a pipe whose read end is closed already: its first write
    fails (EPIPE; Python ignores SIGPIPE), whatever the timing."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            _command(args),
            cwd=cwd,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(
    "args",
    [["validate"], ["validate", "--policy", "expflow.yaml"], ["validate", "--", "experiments"]],
    ids=lambda a: " ".join(a),
)
def test_validate_with_findings_to_a_closed_pipe_fails(failing: Path, args: list[str]) -> None:
    assert (
        subprocess.run(_command(args), cwd=failing, env=clean_env(), capture_output=True).returncode
        == 1
    )
    code, err = to_a_closed_pipe(args, failing)
    assert_clean_output(err)
    assert code == 1, err


def test_validate_piped_to_head_fails(failing: Path) -> None:
    """`validate | head -1`: the reader takes the first line and goes."""
    proc = subprocess.Popen(
        _command(["validate"]),
        cwd=failing,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert first.startswith(b"experiments/s/r"), first
    assert_clean_output(err)
    assert code == 1, err


def test_a_click_command_to_a_closed_pipe_is_not_success(failing: Path) -> None:
    """Every other command runs through click, which exits 1 on a broken pipe: the
    same code (here `list`, whose runs fail validation: the table still prints)."""
    code, err = to_a_closed_pipe(["list"], failing)
    assert_clean_output(err)
    assert code == 1, err
