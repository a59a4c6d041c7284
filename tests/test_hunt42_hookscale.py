"""A big commit through the plain git hooks of `install-hooks` (issue 18, forty-second pass):
"Whatever the number of files, a hook run starts the same few git processes (one index
listing, one blob stream)" (README). The plain pre-commit hook handed the staged names to
`xargs`, which starts a new `scan` and a new `validate` for every ~128 KiB of names: a
5,000-run sweep (~225 KiB of names) ran each three times, 10,000 files four times, and
every run listed the whole index and read the records again. A `git` first on PATH logs
every call with the process that started it."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import ExpRepo, run_cli
from support import git_calls, git_counter
from test_validate_processes import _commit

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="names each git call's parent through /proc"
)

HOOKS = ("validate", "scan", "protect")
# Long names, so that few files hold more names than one xargs command line (128 KiB):
# 300 files of ~520 bytes of path each are ~156 KiB of names.
FOLDER = "/".join(c * 120 for c in "abcd")
MANY = 300


def _processes(log: Path) -> dict[str, int]:
    """For each expflow-git command: how many of its processes started git."""
    pids: dict[str, set[int]] = defaultdict(set)
    for call in git_calls(log):
        words = call.parent.split()
        ours = "expflow_git.cli import main" in call.parent or any(
            "expflow" in w for w in words[:3]
        )
        if ours:
            pids[next((w for w in words if w in HOOKS), "?")].add(call.pid)
    return {name: len(found) for name, found in pids.items()}


def test_the_plain_hook_runs_each_command_once_however_many_files(
    committed_repo: ExpRepo, tmp_path: Path
) -> None:
    repo = committed_repo
    env, log = git_counter(tmp_path)
    env = {**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}  # expflow-git
    code, out, err = run_cli(["install-hooks"], repo.path, env=env)
    assert code == 0, out + err

    def processes(first: int, count: int) -> dict[str, int]:
        for n in range(first, first + count):
            repo.write(f"notes/{FOLDER}/note-{n:04d}.txt", "a note\n")
        repo.stage()
        log.unlink(missing_ok=True)
        _commit(repo, env, f"{count} note(s)")
        return _processes(log)

    one = processes(0, 1)
    assert one == {"scan": 1, "validate": 1, "protect": 1}, one
    many = processes(1, MANY)
    assert many == one, many
