"""The error contract under bad input, found by an attacker's hunt (issue 18, thirty-seventh
pass). docs/spec.md §4: "a stdout that cannot take a command's output (a full disk;
closed, `>&-` …) is one line and exit 2" and "never a traceback"."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers_audit import clean_env, seed_repo
from support import CliResult, run_cli


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_repo(tmp_path_factory.mktemp("hunt37") / "repo")


def redirected(args: list[str], cwd: Path, redirect: str) -> CliResult:
    """The real CLI under the shell's `redirect` (`>/dev/full`, `2>&-`)."""
    return run_cli(args, cwd, clean_env(), prefix=["sh", "-c", f'exec "$@" {redirect}', "sh"])


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["show", "exp-001"],
        ["compare", "exp-001", "exp-002"],
        ["rank"],
        ["audit", "--no-cache", "--format", "json"],
        ["audit", "--no-cache"],
        ["install-hooks"],
    ],
    ids=lambda args: "-".join(args[:2]),
)
def test_a_stdout_on_a_full_disk_is_one_line_and_exit_2(seed: Path, args: list[str]) -> None:
    """`list >/dev/full` printed the error, then Python's own "Exception ignored in:
    <_io.TextIOWrapper name='<stdout>'> … OSError: [Errno 28] No space left on device"
    as it flushed stdout again at exit, and exited 120: three lines, and neither 1 nor 2.
    The line names stdout, as a closed one's does (`stdout: Bad file descriptor`)."""
    res = redirected(args, seed, ">/dev/full")
    lines = [line for line in res.err.splitlines() if not line.startswith("expflow-git audit: ")]
    assert (res.code, lines) == (2, ["expflow-git: error: stdout: No space left on device"]), res


def test_demo_into_a_used_folder_says_so_on_stderr(tmp_path: Path) -> None:
    """`demo --dir D` where D/repo exists printed its refusal on stdout (the transcript's
    stream) with exit 2 and nothing on stderr; §4: "Results go to stdout, diagnostics to
    stderr", one line."""
    (tmp_path / "repo").mkdir()
    res = run_cli(["demo", "--dir", str(tmp_path)], tmp_path, clean_env())
    assert (res.code, res.out, res.err.splitlines()) == (
        2,
        "",
        [f"expflow-git: error: {tmp_path / 'repo'} exists already; choose another --dir"],
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "repo"]


def test_init_says_a_kept_policy_link_is_read_by_no_command(tmp_path: Path) -> None:
    """`init` keeps a symbolic link at expflow.yaml (never written through: tests/
    test_hostile_paths.py), but every command refuses to read the policy through one
    (`cannot read policy: a symbolic link`), so init's "kept expflow.yaml", exit 0 and
    nothing more, left a repository no command runs in: it says so now."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=clean_env())
    shared = tmp_path / "shared.yaml"
    shared.write_text("version: 1\n")
    (repo / "expflow.yaml").symlink_to(shared)
    init = run_cli(["init"], repo, clean_env())
    assert init.code == 0, init
    assert (repo / "expflow.yaml").is_symlink() and shared.read_text() == "version: 1\n"
    refused = run_cli(["validate"], repo, clean_env())
    assert refused.code == 2 and "a symbolic link" in refused.err
    assert [line for line in init.err.splitlines() if "expflow.yaml" in line] == [
        "expflow-git init: warning: expflow.yaml: a symbolic link, kept; no command reads "
        "the policy through one (`cannot read policy`): put the file itself in its place"
    ], init


def run_stderr(args: list[str], cwd: Path, stderr: str) -> int:
    """The real CLI's exit code, its stdout dropped and its stderr on a full disk
    (`full`: `2>/dev/full`) or closed when it starts (`closed`: the shell's `2>&-`)."""
    return redirected(
        args, cwd, ">/dev/null " + ("2>/dev/full" if stderr == "full" else "2>&-")
    ).code


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("stderr", ["full", "closed"])
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["validate"], 0),
        (["audit", "--no-cache"], 0),
        (["audit", "--no-cache", "--rev", "no-such-rev"], 2),
        (["rank", "--top", "0"], 2),
        (["show", "no-such-run"], 1),
    ],
    ids=lambda v: "-".join(v[:3]) if isinstance(v, list) else str(v),
)
def test_a_stderr_that_takes_nothing_leaves_the_exit_code_as_it_is(
    seed: Path, args: list[str], code: int, stderr: str
) -> None:
    """The exit code says what a diagnostic that cannot be written would have said
    (§4's codes, "everywhere"). Under `2>/dev/full` the failed write of a status line
    reached main, whose own error line failed again: a passing `validate` and `audit`
    exited 1, as did a usage error. Under `2>&-` the audit's progress bar asked a None
    stderr whether it is a terminal: an AttributeError, exit 1, a passing audit too."""
    assert run_stderr(args, seed, stderr) == code


def test_a_closed_stderr_still_writes_the_report(seed: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert run_stderr(["audit", "--no-cache", "--out", str(out)], seed, "closed") == 0
    assert out.is_file()


@pytest.mark.parametrize(
    ("make", "given", "said"),
    [
        (lambda p: os.mkfifo(p / "f"), "f", "f: is a named pipe, not a folder"),
        (lambda p: (p / "f").write_text("x"), "f/sub", "f/sub: {tmp}/f is a file, not a folder"),
    ],
    ids=["fifo", "file-above"],
)
def test_init_into_no_folder_names_what_is_in_the_way(
    tmp_path: Path, make: Any, given: str, said: str
) -> None:
    """`init FIFO` said `FIFO: File exists`, and `init FILE/sub` `FILE/sub: Not a
    directory`: mkdir's words, naming nothing in the way (as `pin init` and
    `install-hooks` did before the thirty-second pass)."""
    make(tmp_path)
    res = run_cli(["init", given], tmp_path, clean_env())
    expected = said.replace("{tmp}", str(tmp_path.resolve()))
    assert (res.code, res.err.splitlines()) == (
        2,
        [f"expflow-git: error: {expected} (nothing written)"],
    )
