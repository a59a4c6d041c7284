"""`--files-from` for `validate` and `scan`, and the plain pre-commit hook that uses it
(issue 18, forty-second pass). The hook piped the staged names into `xargs`, which split
a long list into a command per ~128 KiB of names (test_hunt42_hookscale.py); it now pipes
them into one `scan --staged --files-from -` and one `validate --staged --files-from -`.
A name with a line break, a space, a leading `-` or a byte that is not UTF-8 is checked as
it was through xargs; the names read are taken exactly as the same PATHS on the command
line, by the plain reader (cli/plain.py) and by click's; a list with no name checks
nothing (as `xargs -r` ran nothing), where no PATHS means every document."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output, git_env, run_cli
from support import CliResult, in_process_cli, scrubbed_env
from test_hunt41_imports import assert_plain_reads_as_click

pytestmark = pytest.mark.usefixtures("isolated_env")

LEAK = f"EXPFLOW_PIN={4000 + 821}\n"
# Names a shell, xargs or an option parser could take apart or for an option.
ODD = [
    "notes/a\nb.txt",
    "notes/two words.txt",
    "-h",
    "--help",
    "-x.txt",
    "notes/--staged",
    os.fsdecode(b"notes/caf\xe9.txt"),
]


def _cli(args: list[str], cwd: Path, data: bytes = b"") -> CliResult:
    """The real CLI with `data` on its stdin (bytes: a name need not be UTF-8)."""
    proc = subprocess.run(
        [sys.executable, "-m", "expflow_git", *args],
        cwd=cwd,
        env=scrubbed_env(None),
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
    )
    out, err = (os.fsdecode(proc.stdout), os.fsdecode(proc.stderr))
    assert_clean_output(out, err)
    return CliResult(proc.returncode, out, err)


def _nul(names: list[str], last: bool = True) -> bytes:
    data = b"\0".join(os.fsencode(n) for n in names)
    return data + b"\0" if last else data


def _commit(repo: ExpRepo, message: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", "commit", "-q", "-m", message],
        cwd=repo.path,
        env=git_env(),
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=300,
        check=False,
    )
    assert_clean_output(proc.stdout, proc.stderr)
    return proc


@pytest.fixture
def hooked(committed_repo: ExpRepo) -> ExpRepo:
    code, out, err = run_cli(["install-hooks"], committed_repo.path)
    assert code == 0, out + err
    return committed_repo


def test_the_plain_hook_scans_every_odd_name(hooked: ExpRepo) -> None:
    for name in ODD:
        hooked.write(name, LEAK)
    hooked.stage()
    proc = _commit(hooked, "leaks")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"scan: {len(ODD)} leaked PIN" in proc.stderr, proc.stdout + proc.stderr
    for shown in ("notes/a\\x0ab.txt:1:", "notes/two words.txt:1:", "\n-h:1:", "\n--help:1:"):
        assert shown in "\n" + proc.stderr, proc.stderr  # (git: a hook's stdout too)
    assert "notes/caf\\xe9.txt:1:" in proc.stderr
    for name in ODD:
        hooked.write(name, "nothing to see\n")
    hooked.stage()
    proc = _commit(hooked, "clean")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"scan: {len(ODD)} file(s) clean" in proc.stderr
    listed = hooked.git("ls-files", "-z").split("\0")
    assert "-h" in listed and "--help" in listed and "notes/a\nb.txt" in listed


def test_the_plain_hook_validates_every_odd_name(hooked: ExpRepo) -> None:
    folder = "results/pdebench-task1"
    names = [f"{folder}/-h.json", f"{folder}/a b\n.json", f"{folder}/" + os.fsdecode(b"\xff.json")]
    for name in names:
        hooked.write(name, "{")  # no JSON
    hooked.stage()
    proc = _commit(hooked, "broken")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "in 3 file(s)" in proc.stderr, proc.stdout + proc.stderr
    assert f"{folder}/-h.json" in proc.stderr and f"{folder}/a b\\x0a.json" in proc.stderr


def test_the_plain_hook_with_no_name_to_check_runs_neither(hooked: ExpRepo) -> None:
    """A commit that only deletes lists no name (`--diff-filter=ACMRT`): nothing is
    scanned or validated (never every document, as no PATHS would mean)."""
    hooked.git("rm", "-q", "--", hooked.git("ls-files", "experiments").split("\n")[0])
    proc = _commit(hooked, "a deletion")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "scan:" not in proc.stderr and "validate:" not in proc.stderr, proc.stderr


@pytest.fixture
def staged(committed_repo: ExpRepo) -> ExpRepo:
    """Odd names staged, one of them leaking a PIN."""
    for name in ODD:
        committed_repo.write(name, "nothing to see\n")
    committed_repo.write(ODD[0], LEAK)
    committed_repo.stage()
    return committed_repo


@pytest.mark.parametrize("command", ["scan", "validate"])
def test_files_from_reads_names_as_the_command_line_gives_them(
    staged: ExpRepo, command: str
) -> None:
    names = [*ODD, ODD[1]]  # one given twice
    given = _cli([command, "--staged", "--", *names], staged.path)
    assert given.code == (1 if command == "scan" else 0), given
    listing = staged.path.parent / "names.lst"
    listing.write_bytes(_nul(names, last=False))
    for args, data in (
        (["--files-from", "-"], _nul(names)),
        (["--files-from", "-"], _nul(names, last=False)),
        (["--files-from=-"], _nul(names)),
        (["--files-from", str(listing)], b""),
        (["--files-from", "-", "--", *names[:2]], _nul(names[2:])),  # PATHS too
        (["--files-from", str(listing), "--files-from", "-"], b""),  # each read
    ):
        read = _cli([command, "--staged", *args], staged.path, data)
        assert read == given, (args, read, given)


@pytest.mark.parametrize("command", ["scan", "validate"])
@pytest.mark.parametrize("staged_flag", [["--staged"], []])
def test_files_from_listing_no_name_checks_nothing(
    committed_repo: ExpRepo, command: str, staged_flag: list[str]
) -> None:
    committed_repo.write("notes/leak.txt", LEAK)  # what every document would find
    committed_repo.stage()
    everything = _cli([command, *staged_flag], committed_repo.path)
    assert everything.err, everything
    empty = committed_repo.path.parent / "empty.lst"
    empty.write_bytes(b"")
    for args in (["--files-from", "-"], ["--files-from", str(empty)]):
        assert _cli([command, *staged_flag, *args], committed_repo.path) == CliResult(0, "", "")


@pytest.mark.parametrize("command", ["scan", "validate"])
def test_files_from_refuses_an_empty_name_and_a_missing_file(
    committed_repo: ExpRepo, command: str
) -> None:
    for data in (b"\0", b"a.txt\0\0b.txt", b"\0a.txt"):
        res = _cli([command, "--staged", "--files-from", "-"], committed_repo.path, data)
        assert res.code == 2 and res.out == "", res
        assert res.err.count("\n") == 1 and "--files-from -: an empty name" in res.err, res
    res = _cli([command, "--files-from", "no-such.lst"], committed_repo.path)
    assert res.code == 2 and res.out == "", res
    assert res.err == "expflow-git: error: --files-from no-such.lst: No such file or directory\n"
    res = _cli([command, "--files-from", ""], committed_repo.path)
    assert res.code == 2 and "give a path, not an empty string" in res.err, res


def test_click_reads_files_from_as_the_plain_reader(
    staged: ExpRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same command line through click (the plain reader turned off) checks the same."""
    listing = staged.path.parent / "names.lst"
    listing.write_bytes(_nul(ODD))
    args = ["scan", "--staged", "--files-from", str(listing)]
    plain = _cli(args, staged.path)
    monkeypatch.setattr("expflow_git.cli.plain.plain_hook", lambda args: None)
    call = in_process_cli(monkeypatch, capsys)
    clicked = call(args, staged.path)
    assert (clicked.code, clicked.out, clicked.err) == (plain.code, plain.out, plain.err)
    assert plain.code == 1 and "1 leaked PIN" in plain.err
    empty = staged.path.parent / "empty.lst"
    empty.write_bytes(b"")
    assert call(["validate", "--staged", "--files-from", str(empty)], staged.path) == CliResult(
        0, "", ""
    )


PLAIN = [
    ["--files-from", "-"],
    ["--files-from=-"],
    ["--files-from", "a.lst", "--staged", "b.json"],
    ["--files-from", "a.lst", "--files-from=-", "--", "--files-from"],
    ["--files-from=--x"],
]
LINES = [
    *PLAIN,
    # not plain: click reads (or refuses) these
    ["--files-from"],
    ["--files-from", ""],
    ["--files-from="],
    ["--files-from", "--staged"],
    ["--files-from", "-x"],
]


@pytest.mark.parametrize("command", ["validate", "scan"])
@pytest.mark.parametrize("args", LINES, ids=" ".join)
def test_plain_files_from_lines_read_as_click_reads_them(
    command: str, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXPFLOW_POLICY", raising=False)
    plain = assert_plain_reads_as_click(command, args)
    if args in PLAIN:
        assert plain is not None  # the hook's forms skip click


def test_a_name_giving_a_pin_is_masked_as_on_the_command_line(committed_repo: ExpRepo) -> None:
    name = f"notes/pin={4000 + 821}"  # not staged: the finding names it
    given = _cli(["scan", "--staged", "--", name], committed_repo.path)
    read = _cli(["scan", "--staged", "--files-from", "-"], committed_repo.path, _nul([name]))
    assert read == given and given.code == 1
    assert str(4000 + 821) not in given.out + given.err
