"""A systematic hunt for tracebacks, wrong exit codes and unclear errors across every
command (issue 18, fortieth pass): each command run with bad values of its options'
types, files of the right name with wrong contents, odd environment variables, and a
closed or full stdout."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import ExpRepo
from support import run_cli

from expflow_git import ExpflowError, Repository


def test_new_replicate_beyond_canonical_json_is_a_usage_error(committed_repo: ExpRepo) -> None:
    """`new --replicate 99999999999999999999999` (click's IntRange(0) took it) made the
    derived seed's RFC 8785 JSON raise IntegerDomainError: a traceback, exit 1, where a
    bad option value is one line and exit 2. A replicate is 0 to 2**53 - 1 now; the
    largest still derives its seed."""
    r = committed_repo
    for replicate in ("99999999999999999999999", str(2**53)):
        code, out, err = run_cli(
            ["new", "exp-001", "--study", "s", "--param", "sub_step=1", "--replicate", replicate],
            cwd=r.path,
        )
        assert "Traceback" not in err, err
        assert code == 2, (code, err)
        assert len(err.strip().splitlines()) == 1 and "--replicate" in err, err
        assert not (r.path / r.exp_path("exp-001", "s")).exists()
    code, out, err = run_cli(
        ["new", "exp-001", "--study", "s", "--param", "sub_step=1", "--replicate", str(2**53 - 1)],
        cwd=r.path,
    )
    assert code == 0, err
    assert (r.path / r.exp_path("exp-001", "s")).exists()


@pytest.mark.parametrize("replicate", [2**53, 10**5000], ids=["2**53", "10**5000"])
def test_api_new_replicate_beyond_canonical_json_is_the_clis_error(
    committed_repo: ExpRepo, replicate: int
) -> None:
    """`Repository.new(replicate=2**60)` raised rfc8785's IntegerDomainError (the seed's
    canonical JSON), where a negative replicate is the CLI's ExpflowError (code 2);
    nothing is written."""
    r = committed_repo
    with pytest.raises(ExpflowError, match="replicate") as caught:
        Repository(r.path).new("exp-001", study="s", params={"sub_step": 1}, replicate=replicate)
    assert caught.value.code == 2
    assert not (r.path / r.exp_path("exp-001", "s")).exists()


@pytest.mark.parametrize("command", ["optuna", "mlflow"])
def test_import_sqlite_url_naming_a_named_pipe_is_refused_unopened(
    committed_repo: ExpRepo, command: str
) -> None:
    """`import optuna --storage sqlite:///FIFO` (and `import mlflow --tracking-uri` of
    one) hung: the store's probe opened the pipe with SQLite, which waits for a writer
    and retries its open through every signal, so neither Ctrl-C nor a SIGTERM ended it
    (only SIGKILL). A database is read from a regular file: a pipe or a folder is one
    line, exit 2, before anything opens it, as `import csv` refuses a pipe."""
    pytest.importorskip(command)
    r = committed_repo
    fifo = r.path.parent / "store.db"
    os.mkfifo(fifo)
    option = "--storage" if command == "optuna" else "--tracking-uri"
    which = "--study" if command == "optuna" else "--experiment"

    def run(store: os.PathLike[str]) -> tuple[int, str]:
        args = ["import", command, option, f"sqlite:///{store}", which, "x"]
        try:
            code, _, err = run_cli(args, cwd=r.path, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"import {command} of sqlite:///{store} waited on it")
        assert "Traceback" not in err
        return code, err

    code, err = run(fifo)
    assert code == 2, (code, err)
    assert err.strip().splitlines() == [
        f"expflow-git: error: sqlite:///{fifo}: a named pipe, not a regular file"
    ]
    folder = r.path.parent / "folder.db"
    folder.mkdir()
    code, err = run(folder)
    assert code == 2 and "a folder, not a regular file" in err, err
