"""A stdout closed when the program starts (`>&-`): Python makes `sys.stdout` None.
`audit --format json` printed an AttributeError traceback (exit 1, a PASS among them);
`rank`, `diff`, `audit`'s other formats, `verify`, `report` and `keygen` exited 0 with
their output lost, where `>/dev/full` exits 2 (issue 18 twenty-ninth pass, a hunter's
find). Output that cannot be written is one error line and exit 2 now; a command that
has nothing to print on stdout is unaffected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_clean_output
from helpers_audit import clean_env, run_cli, seed_repo
from support import CliResult

ERROR = "expflow-git: error: stdout: Bad file descriptor"


def closed(args: list[str], cwd: Path) -> CliResult:
    """The real CLI with its fd 1 closed (the shell's `>&-`)."""
    proc = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "expflow_git", *args],
        cwd=cwd,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    return CliResult(proc.returncode, "", proc.stderr)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("closed")
    repo = seed_repo(root / "repo")
    res = run_cli(["keygen", "--out", str(root / "k")], root)
    assert res.code == 0, res
    res = run_cli(["audit", "--sign-key", str(root / "k"), "--out", str(root / "r.json")], repo)
    assert res.code == 0, res  # the seed example passes
    return repo


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "--format", "json"],
        ["audit"],
        ["audit", "--format", "sarif"],
        ["audit", "--format", "md"],
        ["audit", "--format", "github"],
        ["rank"],
        ["rank", "--format", "csv"],
        ["diff", "HEAD", "--format", "json"],
        ["verify", "../r.json", "--public-key", "../k.pub"],
        ["report", "../r.json"],
    ],
    ids=lambda a: " ".join(a),
)
def test_output_to_a_closed_stdout_is_an_error(seeded: Path, args: list[str]) -> None:
    res = closed(args, seeded)
    assert_clean_output(res.err)
    assert res.code == 2, res
    assert ERROR in res.err.splitlines(), res.err


def test_keygen_to_a_closed_stdout_is_an_error(tmp_path: Path) -> None:
    res = closed(["keygen", "--out", str(tmp_path / "k2")], tmp_path)
    assert_clean_output(res.err)
    assert (res.code, res.err.splitlines()) == (2, [ERROR]), res


def test_nothing_to_print_is_no_error(seeded: Path) -> None:
    """`validate` of a clean tree writes nothing to stdout: a closed one is no matter."""
    res = closed(["validate"], seeded)
    assert res.code == 0, res
    assert ERROR not in res.err


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["audit", "--help"], ["pin", "-h"]])
def test_click_s_own_help_to_a_closed_stdout_is_an_error(tmp_path: Path, args: list[str]) -> None:
    """click's help and version skip a stdout that is None: they exited 0 with the text
    lost (a hunter's find, thirty-seventh pass); `console.ClosedStdout` stands in."""
    res = closed(args, tmp_path)
    assert_clean_output(res.err)
    assert (res.code, res.err.splitlines()) == (2, [ERROR]), res


def test_a_caller_s_closed_stdout_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in is the program's own: a host calling `main(argv)` with no stdout (a
    pythonw program) kept a stdout whose writes fail, after the call (a review)."""
    from expflow_git.cli.main import main

    monkeypatch.setattr(sys, "stdout", None)
    main(["--version"])
    assert sys.stdout is None
