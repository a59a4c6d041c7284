"""A filesystem encoding that is not UTF-8 (LC_ALL=C without Python's UTF-8 mode: ASCII)
and a file whose path in the repository is not ASCII: `scan`, `scan --staged` and
`protect` joined git's path (UTF-8) to the root as a str and asked the disk for it
(`os.path.realpath`, `os.lstat`), which raised UnicodeEncodeError: a traceback, exit 1,
nothing scanned (a review, issue 18 thirtieth pass). Git's paths are converted to the
OS's where they reach the disk (`workspace.os_path`), and a finding names the file in
git's convention, as `validate` does."""

from __future__ import annotations

import pytest
from conftest import ExpRepo, assert_clean_output
from support import CliResult, run_cli

ASCII = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
FOLDER = "notes/st\u00fcdy"  # stüdy
KEY = FOLDER + "/k.txt"
SHOWN = "notes/st\\xfcdy/k.txt"  # as an ASCII stdout shows it
PRIVATE = (
    "-----BEGIN OPENSSH "
    + "PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH "
    + "PRIVATE KEY-----\n"
)


@pytest.fixture
def odd_repo(committed_repo: ExpRepo) -> ExpRepo:
    """A committed file and a staged one below a folder whose name is not ASCII."""
    committed_repo.write(FOLDER + "/plain.txt", "nothing here\n")
    committed_repo.commit("a folder whose name is not ASCII")
    committed_repo.write(KEY, PRIVATE)
    committed_repo.stage(KEY)
    return committed_repo


def _found(res: CliResult) -> None:
    assert_clean_output(res.out, res.err)
    assert res.code == 1, res
    assert f"{SHOWN}:1:1: private-key" in res.out, res


def test_scan_of_every_tracked_file(odd_repo: ExpRepo) -> None:
    _found(run_cli(["scan"], odd_repo.path, env=ASCII))


def test_scan_staged_of_the_index(odd_repo: ExpRepo) -> None:
    _found(run_cli(["scan", "--staged"], odd_repo.path, env=ASCII))


@pytest.mark.parametrize("given", [KEY, FOLDER, "notes"])
@pytest.mark.parametrize("staged", [False, True])
def test_scan_of_a_path_given(odd_repo: ExpRepo, given: str, staged: bool) -> None:
    # (argv: the test's UTF-8 bytes, what a shell in a UTF-8 work tree passes)
    args = ["scan", *(["--staged", "--"] if staged else []), given]
    _found(run_cli(args, odd_repo.path, env=ASCII))


def test_protect_of_a_staged_file(odd_repo: ExpRepo) -> None:
    """A file on disk: pre-commit passes it to the scan hook, protect only looks at it."""
    res = run_cli(["protect"], odd_repo.path, env=ASCII)
    assert_clean_output(res.out, res.err)
    assert res.code == 0, res


def test_protect_scans_a_staged_file_the_disk_lacks(odd_repo: ExpRepo) -> None:
    """No hook is given a staged file the work tree lacks: protect scans it in the index."""
    (odd_repo.path / KEY).unlink()
    _found(run_cli(["protect"], odd_repo.path, env=ASCII))


def test_the_same_under_utf8(odd_repo: ExpRepo) -> None:
    utf8 = {"PYTHONIOENCODING": "utf-8"}
    for args in (["scan"], ["scan", "--staged"], ["scan", FOLDER]):
        res = run_cli(args, odd_repo.path, env=utf8)
        assert res.code == 1, res
        assert f"{KEY}:1:1: private-key" in res.out, res
