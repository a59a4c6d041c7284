"""A stdout closed when the program starts (`>&-`), for the commands the last fix left
out: `list`, `show`, `compare`, `pin check/clear/status` and `install-hooks` wrote with
click.echo directly, which drops the text when sys.stdout is None, and exited 0 with
their output lost (issue 18 twenty-ninth pass). They write through the console now: one
error line and exit 2, as `rank` and `audit` do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_clean_output
from helpers_audit import clean_env, init_repo, seed_repo
from support import CliResult

ERROR = "expflow-git: error: stdout: Bad file descriptor"
PIN = str(4000 + 821)  # never a literal PIN in a file


def run(args: list[str], cwd: Path, home: Path, *, closed: bool) -> CliResult:
    """The real CLI, its fd 1 closed (the shell's `>&-`) or captured."""
    redirect = " >&-" if closed else ""
    proc = subprocess.run(
        ["sh", "-c", f'exec "$@"{redirect}', "sh", sys.executable, "-m", "expflow_git", *args],
        cwd=cwd,
        env=clean_env({"EXPFLOW_HOME": str(home)}),
        stdin=subprocess.DEVNULL,
        stdout=None if closed else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout or "", proc.stderr)


def assert_refused(res: CliResult) -> None:
    assert_clean_output(res.err)
    assert res.code == 2, res
    assert ERROR in res.err.splitlines(), res.err


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_repo(tmp_path_factory.mktemp("closed") / "repo")


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["list", "--format", "json"],
        ["list", "--format", "csv"],
        ["list", "--where", 'id = "zz"'],
        ["show", "exp-001"],
        ["show", "exp-001", "--format", "json"],
        ["compare", "exp-001", "exp-002"],
        ["compare", "exp-001", "exp-002", "--format", "csv"],
    ],
    ids=lambda a: " ".join(a),
)
def test_queries_to_a_closed_stdout_are_an_error(
    seeded: Path, tmp_path: Path, args: list[str]
) -> None:
    shown = run(args, seeded, tmp_path, closed=False)
    assert shown.code == 0 and shown.out, shown  # there is output to lose
    assert_refused(run(args, seeded, tmp_path, closed=True))


@pytest.mark.parametrize(
    ("pin_set", "args"),
    [
        (False, ["pin", "status"]),  # PIN: not set
        (False, ["pin", "status", "--format", "json"]),
        (False, ["pin", "clear"]),  # nothing to clear
        (True, ["pin", "status"]),  # PIN: set, scheme: …
        (True, ["pin", "status", "--format", "json"]),
        (True, ["pin", "check", "--pin", PIN]),  # PIN is correct
    ],
    ids=lambda a: (
        " ".join(a).replace(PIN, "PIN") if isinstance(a, list) else ("set" if a else "unset")
    ),
)
def test_pin_lines_to_a_closed_stdout_are_an_error(
    tmp_path: Path, pin_set: bool, args: list[str]
) -> None:
    home = tmp_path / "home"
    if pin_set:
        assert run(["pin", "init", PIN], tmp_path, home, closed=False).code == 0
    assert run(args, tmp_path, home, closed=False).out, args
    assert_refused(run(args, tmp_path, home, closed=True))


def test_install_hooks_to_a_closed_stdout_is_an_error(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    res = run(["install-hooks"], repo, tmp_path / "home", closed=True)
    assert_refused(res)
    # It said nothing of the hooks it wrote: run again, it says what it found.
    again = run(["install-hooks"], repo, tmp_path / "home", closed=False)
    assert again.code == 0 and again.out, again
