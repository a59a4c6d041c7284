"""A filesystem encoding that is not UTF-8 (latin-1) and a UTF-8 file name: `validate`
opened every document by its UTF-8 bytes (right for git's paths), but a PATH given on
the command line (argv, decoded by the locale) and the folder walk outside a repository
gave other bytes, so `ëxp.json` was "no such file" and never checked; `--staged -- PATH`
was "not staged" (a review, issue 18 twenty-ninth pass). One convention now: a path is
its bytes decoded as UTF-8 with surrogateescape, the CLI's arguments and the walk's
names converted where they enter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ExpRepo, experiment_doc, result_doc
from support import scrubbed_env

NAME = "experiments/pdebench-task1/\u00ebxp.json"  # ëxp.json (c3 ab): its id is exp-001
LOCALE = "en_US.ISO-8859-1"


@pytest.fixture(scope="module")
def latin1_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose locale (built here with localedef) is latin-1, without UTF-8
    mode; the test is skipped where it cannot be built."""
    localedef = shutil.which("localedef")
    if localedef is None:
        pytest.skip("no localedef")
    where = tmp_path_factory.mktemp("locales")
    built = subprocess.run(
        [localedef, "-i", "en_US", "-f", "ISO-8859-1", str(where / LOCALE)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if not (where / LOCALE).is_dir():
        pytest.skip(f"localedef could not build {LOCALE}: {built.stderr[-200:]!r}")
    env = {
        "LOCPATH": str(where),
        "LC_ALL": LOCALE,
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
    }
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.getfilesystemencoding())"],
        env=scrubbed_env(env),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if probe.stdout.strip() != b"iso8859-1":
        pytest.skip(f"the locale did not take: {probe.stdout!r}")
    return env


def _validate(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, bytes, bytes]:
    # argv as bytes: what a shell in a UTF-8 work tree passes, whatever the locale.
    argv = [a.encode() for a in (sys.executable, "-m", "expflow_git", "validate", *args)]
    proc = subprocess.run(argv, cwd=cwd, env=scrubbed_env(env), capture_output=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def _read_and_checked(code: int, out: bytes, err: bytes) -> None:
    # The document's own finding (its id is not its file name), not "no such file".
    assert code == 1, (out, err)
    assert b"no such file" not in out and b"not staged" not in out, out
    assert b"Traceback" not in err, err
    assert b"#/id: id-mismatch" in out, out
    assert b"1 problem(s) in 1 file(s)" in err, err


@pytest.fixture
def odd_repo(committed_repo: ExpRepo) -> ExpRepo:
    committed_repo.write_json(NAME, experiment_doc("exp-001"))
    committed_repo.stage(NAME)
    return committed_repo


def test_a_path_given_is_read(odd_repo: ExpRepo, latin1_env: dict[str, str]) -> None:
    _read_and_checked(*_validate(odd_repo.path, latin1_env, NAME))


def test_a_folder_given_is_read(odd_repo: ExpRepo, latin1_env: dict[str, str]) -> None:
    _read_and_checked(*_validate(odd_repo.path, latin1_env, "experiments"))


def test_a_staged_path_given_matches_the_index(
    odd_repo: ExpRepo, latin1_env: dict[str, str]
) -> None:
    _read_and_checked(*_validate(odd_repo.path, latin1_env, "--staged", "--", NAME))


def test_git_paths_are_still_read(odd_repo: ExpRepo, latin1_env: dict[str, str]) -> None:
    _read_and_checked(*_validate(odd_repo.path, latin1_env))
    _read_and_checked(*_validate(odd_repo.path, latin1_env, "--staged"))


def test_a_plain_folder_is_walked_and_read(
    odd_repo: ExpRepo, latin1_env: dict[str, str], tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(odd_repo.path / "expflow.yaml", plain / "expflow.yaml")
    shutil.copytree(odd_repo.path / "experiments", plain / "experiments")
    _read_and_checked(*_validate(plain, latin1_env))
    _read_and_checked(*_validate(plain, latin1_env, NAME))


def test_the_same_under_utf8(odd_repo: ExpRepo) -> None:
    code, out, err = _validate(odd_repo.path, {"PYTHONIOENCODING": "utf-8"}, NAME)
    _read_and_checked(code, out, err)
    assert f"{NAME}#/id: id-mismatch".encode() in out, out


def test_a_record_looked_up_on_disk_is_found(
    odd_repo: ExpRepo, latin1_env: dict[str, str], tmp_path: Path
) -> None:
    """A result given alone in a plain folder: its record, under a folder named `ë`, is
    looked up on disk (hooks/lookup.py), which opened it by the locale's bytes and found
    none: `result-without-record` for a run whose record is there."""
    plain = tmp_path / "plain"
    (plain / "experiments" / "\u00eb").mkdir(parents=True)
    (plain / "results" / "\u00eb").mkdir(parents=True)
    shutil.copy(odd_repo.path / "expflow.yaml", plain / "expflow.yaml")
    record = experiment_doc("exp-009")
    (plain / "experiments" / "\u00eb" / "exp-009.json").write_text(json.dumps(record))
    (plain / "results" / "\u00eb" / "exp-009.json").write_text(json.dumps(result_doc("exp-009")))
    code, out, err = _validate(plain, latin1_env, "results/\u00eb/exp-009.json")
    assert b"Traceback" not in err, err
    assert b"result-without-record" not in out, out
    assert code == 0, (out, err)


def test_scan_staged_reads_a_non_ascii_name_given(
    committed_repo: ExpRepo, latin1_env: dict[str, str]
) -> None:
    """`scan --staged -- notes/këy.txt` under latin-1: the name given (the locale's) was
    not the index's (git's, UTF-8), so a staged private key was "not staged", exit 1, and
    never scanned (a review, issue 18 twenty-ninth pass). It is read and its key found."""
    name = "notes/k\u00ebey.txt"
    key = "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH "
    committed_repo.write(name, key + "PRIVATE KEY-----\n")
    committed_repo.stage(name)
    argv = [a.encode() for a in (sys.executable, "-m", "expflow_git", "scan", "--staged", "--")]
    argv.append(name.encode())
    proc = subprocess.run(
        argv,
        cwd=committed_repo.path,
        env=scrubbed_env(latin1_env),
        capture_output=True,
        timeout=120,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr
    assert b"not staged" not in proc.stdout + proc.stderr, (proc.stdout, proc.stderr)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert b"private" in (proc.stdout + proc.stderr).lower(), (proc.stdout, proc.stderr)
