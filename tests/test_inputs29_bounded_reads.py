"""The policy and a CSV to import are read as the hooks read documents: opened without
blocking (a FIFO), refused unread unless a regular file (a pipe, a device, a folder), the
work tree's own policy never through a symbolic link (the audit reads none there), and no
more than the cap and a byte read. Each was read whole, the cap checked after: a
committed `expflow.yaml -> /dev/zero` made `validate`, `list`, `show`, `new` and `scan`
eat all memory (killed at 24 GB), `--policy FIFO` blocked forever, and `import csv
/dev/zero` raised MemoryError (a user's hunt, issue 18 twenty-ninth pass).

Every run is bounded so that the old code fails fast instead of hanging or exhausting
the machine: a timeout on the process (a FIFO), and an address-space limit set in the
child before it runs (/dev/zero: a MemoryError, not the OOM killer)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output
from support import CliResult, scrubbed_env

from expflow_git.errors import ExpflowError
from expflow_git.policy.load import MAX_POLICY_BYTES
from expflow_git.workspace import Workspace

POLICY = "expflow.yaml"
LIMIT = 2 << 30  # bytes of address space: the CLI runs in a few hundred MiB


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def bounded(args: list[str], cwd: Path, *, code: str | None = None) -> CliResult:
    """The real CLI (or `python -c code`), under LIMIT bytes of memory and 30 seconds."""
    command = ["-c", code] if code is not None else ["-m", "expflow_git"]
    proc = subprocess.run(
        [sys.executable, *command, *args],
        cwd=cwd,
        env=scrubbed_env(),
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        preexec_fn=_limited,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _policy_is(exp_repo: ExpRepo, kind: str) -> None:
    policy = exp_repo.path / POLICY
    policy.unlink()
    if kind == "zero":
        policy.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(policy)
    else:
        policy.mkdir()


COMMANDS = [["validate"], ["list"], ["show", "exp-001"], ["new", "x1", "--study", "s"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("kind", ["zero", "fifo", "folder"])
def test_a_policy_that_is_no_regular_file_is_refused_unread(
    exp_repo: ExpRepo, command: list[str], kind: str
) -> None:
    exp_repo.add_experiment()
    exp_repo.commit("a run")
    _policy_is(exp_repo, kind)
    res = bounded(command, exp_repo.path)
    assert_clean_output(res.out, res.err)
    what = {
        "zero": "a symbolic link, not a regular file (the audit reads no policy in its place)",
        "fifo": "a named pipe, not a regular file",
        "folder": "a folder, not a regular file",
    }[kind]
    assert (res.code, res.err.splitlines()) == (
        2,
        [f"expflow-git: error: {POLICY}: cannot read policy: {what}"],
    ), res
    assert not (exp_repo.path / "experiments" / "s").exists()


def test_scan_warns_of_a_policy_linked_to_a_device_and_scans_on(exp_repo: ExpRepo) -> None:
    exp_repo.write("notes.txt", "nothing secret\n")
    _policy_is(exp_repo, "zero")
    res = bounded(["scan", "--", "notes.txt"], exp_repo.path)
    assert_clean_output(res.out, res.err)
    assert res.code == 0, res
    assert res.err.splitlines()[0] == (
        f"warning: policy not used for the scan allow-list: {POLICY}: cannot read policy: "
        "a symbolic link, not a regular file (the audit reads no policy in its place)"
    )


@pytest.mark.parametrize("named", ["fifo", "/dev/zero"])
def test_a_policy_option_naming_a_pipe_or_a_device_is_refused(
    exp_repo: ExpRepo, tmp_path: Path, named: str
) -> None:
    """`--policy` (or EXPFLOW_POLICY) outside the work tree is the user's own choice: a
    link there is followed (below), but a pipe or a device is still no policy."""
    if named == "fifo":
        os.mkfifo(tmp_path / "p.yaml")
        named = str(tmp_path / "p.yaml")
    res = bounded(["list", "--policy", named], exp_repo.path)
    assert_clean_output(res.out, res.err)
    what = "a named pipe" if named.endswith("p.yaml") else "a device"
    assert (res.code, res.err.splitlines()) == (
        2,
        [f"expflow-git: error: {named}: cannot read policy: {what}, not a regular file"],
    ), res


def test_a_policy_outside_the_work_tree_is_read_through_a_link(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    shared = tmp_path / "shared.yaml"
    shared.write_bytes((exp_repo.path / POLICY).read_bytes())
    (tmp_path / "link.yaml").symlink_to(shared)
    res = bounded(["list", "--policy", str(tmp_path / "link.yaml")], exp_repo.path)
    assert res.code == 0, res


def test_a_policy_over_the_cap_is_named_with_its_size(exp_repo: ExpRepo) -> None:
    size = 3 * MAX_POLICY_BYTES
    with open(exp_repo.path / POLICY, "r+b") as fh:
        fh.truncate(size)  # sparse: its size is all that is read of it
    res = bounded(["list"], exp_repo.path)
    assert (res.code, res.err.splitlines()) == (
        2,
        [
            f"expflow-git: error: {POLICY}: policy is {size} bytes, "
            f"over the {MAX_POLICY_BYTES}-byte cap"
        ],
    ), res


@pytest.mark.parametrize("named", ["fifo", "/dev/zero"])
def test_the_seeds_functions_refuse_a_pipe_or_a_device(tmp_path: Path, named: str) -> None:
    if named == "fifo":
        os.mkfifo(tmp_path / "p.yaml")
        named = str(tmp_path / "p.yaml")
    code = (
        "import sys, expflow_git\n"
        "from expflow_git.errors import ExpflowError\n"
        "try:\n"
        "    expflow_git.validate_competition_rules("
        "task_metrics={}, task_params={}, policy=sys.argv[1])\n"
        "except ExpflowError as exc:\n"
        "    print(exc.code, exc.message)\n"
    )
    res = bounded([named], tmp_path, code=code)
    what = "a named pipe" if named.endswith("p.yaml") else "a device"
    assert (res.code, res.out) == (
        0,
        f"2 {named}: cannot read policy: {what}, not a regular file\n",
    ), res


@pytest.mark.parametrize("named", ["fifo", "/dev/zero"])
def test_import_csv_refuses_a_pipe_or_a_device(
    committed_repo: ExpRepo, tmp_path: Path, named: str
) -> None:
    """(A folder is refused by the command line's own check.)"""
    what = "a named pipe" if named == "fifo" else "a device"
    if named == "fifo":
        os.mkfifo(tmp_path / "runs.csv")
        named = str(tmp_path / "runs.csv")
    args = ["import", "csv", named, "--id-column", "run", "--study", "sheet"]
    res = bounded(args, committed_repo.path)
    assert_clean_output(res.out, res.err)
    assert (res.code, res.err.splitlines()) == (
        2,
        [
            f"expflow-git: error: {named}: {what}, not a regular file "
            "(save the CSV to a file to import it)"
        ],
    ), res
    assert committed_repo.status() == ""  # nothing written


def test_import_csv_refuses_a_file_over_its_cap(
    exp_repo: ExpRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap (64 MiB) is checked before the text is decoded or parsed; read through a
    link to a regular file, as any path the user names."""
    from expflow_git.importers import csv as csv_import

    sheet = tmp_path / "runs.csv"
    sheet.write_text("run,seg_total\nr-1,1.0\n" + "r-2,2.0\n" * 10)
    (tmp_path / "link.csv").symlink_to(sheet)
    monkeypatch.setattr(csv_import, "MAX_CSV_BYTES", 32)
    ws = Workspace(root=exp_repo.path, policy_path=exp_repo.path / POLICY, git=None)
    with pytest.raises(ExpflowError) as caught:
        csv_import.read_csv(tmp_path / "link.csv", ws.load_policy(), id_column="run", study="s")
    size = sheet.stat().st_size
    assert caught.value.message == (
        f"{tmp_path / 'link.csv'}: {size} bytes, over the 32-byte cap of a CSV import"
    )
    monkeypatch.setattr(csv_import, "MAX_CSV_BYTES", size)
    source = csv_import.read_csv(
        tmp_path / "link.csv", ws.load_policy(), id_column="run", study="s"
    )
    assert len(source.runs) == 11
