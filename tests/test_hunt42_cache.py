"""Hunt 42, the audit's local cache, and what it found under it: the strict reader
refused an integer past the interpreter's digit limit, which the caller's environment
sets (PYTHONINTMAXSTRDIGITS, `-X int_max_str_digits`; 0 lifts it). So a verdict
depended on the environment, and a cache made under one limit replayed its verdict
under another (docs/spec.md §6.1: the cache "never changes a report"). The reader now
has its own limit (jsonstrict.MAX_INT_DIGITS, Python's default), and the CLI sets the
interpreter's to it."""

from __future__ import annotations

import base64
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_audit import STUDY, add_run, commit_all, experiment, m, new_repo, run_cli, write

from expflow_git.cli.main import INT_DIGITS
from expflow_git.jsonstrict import MAX_INT_DIGITS, JsonProblem, exact_int, parse_json
from expflow_git.run import checked_params

UNLIMITED = {"PYTHONINTMAXSTRDIGITS": "0"}
LOWEST = {"PYTHONINTMAXSTRDIGITS": "640"}  # the lowest limit Python allows


def _audit(repo: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, bytes]:
    report = repo.parent / "report.json"
    report.unlink(missing_ok=True)
    res = run_cli(["audit", "--out", str(report), *args], repo, env)
    assert "Traceback" not in res.err, res.err
    return res.code, report.read_bytes()


def _repo_with_int(tmp_path: Path, digits: int) -> Path:
    repo = new_repo(tmp_path / "repo")
    for i in range(3):
        add_run(repo, f"r-{i:02d}", m(50 + i))
    text = json.dumps(experiment("r-00"), indent=2)
    huge = text.replace('"lr": 0.001', '"lr": 0.001, "huge": ' + "7" * digits)
    assert huge != text
    write(repo, f"experiments/{STUDY}/r-00.json", huge + "\n")
    commit_all(repo)
    return repo


def test_an_integer_past_the_limit_is_refused_whatever_the_environment(tmp_path: Path) -> None:
    """A 4,400-digit integer: refused under the default limit, and (before) accepted by
    `audit --no-cache` under PYTHONINTMAXSTRDIGITS=0 while the warm audit replayed the
    cached refusal. Now one verdict and one report in every environment, cached or not."""
    repo = _repo_with_int(tmp_path, 4400)
    default = _audit(repo)
    assert default[0] == 1
    payload = base64.b64decode(json.loads(default[1])["payload"])
    assert b"integer with 4400 digits is too long" in payload
    assert _audit(repo, "--no-cache", env=UNLIMITED) == default
    assert _audit(repo, env=UNLIMITED) == default
    assert _audit(repo, "--no-cache") == default
    res = run_cli(["validate", f"experiments/{STUDY}/r-00.json"], repo, UNLIMITED)
    assert res.code == 1 and "#/params/huge: invalid-json: integer with 4400" in res.out, res


def test_an_integer_under_the_limit_is_read_and_written_under_a_lower_one(
    tmp_path: Path,
) -> None:
    """A 1,000-digit integer is accepted (the default limit is 4,300 digits); under the
    lowest limit Python allows (640) the reader refused it, another verdict for the same
    revision. Now it is read in parts, and the CLI writes it: the same report."""
    repo = _repo_with_int(tmp_path, 1000)
    default = _audit(repo, "--no-cache")
    assert default[0] == 0
    assert _audit(repo, "--no-cache", env=LOWEST) == default
    assert _audit(repo, env=LOWEST) == default
    for args in (["validate", f"experiments/{STUDY}/r-00.json"], ["show", "r-00"]):
        res = run_cli(args, repo, LOWEST)
        assert res.code == 0 and "Traceback" not in res.err, (args, res.err)


@contextlib.contextmanager
def int_digit_limit(limit: int) -> Iterator[None]:
    """The interpreter's integer digit limit set to `limit` (a caller's
    PYTHONINTMAXSTRDIGITS; 640 the lowest, 0 none) for the block, restored after."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(limit)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(before)


@pytest.fixture
def lowest_limit() -> Iterator[None]:
    with int_digit_limit(640):
        yield


@pytest.fixture
def no_limit() -> Iterator[None]:
    with int_digit_limit(0):
        yield


def test_the_reader_reads_an_integer_exactly_under_the_lowest_limit(lowest_limit: None) -> None:
    value = exact_int("-" + "12345" * 800)  # 4,000 digits
    assert value is not None and value < 0
    assert value == -sum(12345 * 10 ** (5 * i) for i in range(800))
    assert exact_int("9" * MAX_INT_DIGITS) == 10**MAX_INT_DIGITS - 1
    assert exact_int("9" * (MAX_INT_DIGITS + 1)) is None
    doc = parse_json(b'{"a": ' + b"3" * 1000 + b"}")
    assert doc["a"] == (10**1000 - 1) // 3


def test_the_reader_refuses_past_its_own_limit_when_the_interpreters_is_lifted(
    no_limit: None,
) -> None:
    """Both decoders: the checked fast one (a literal of 16 or more digits) and the full
    one that names the pointer."""
    with pytest.raises(JsonProblem, match="4301 digits is too long") as caught:
        parse_json(b'{"a": {"b": ' + b"1" * 4301 + b"}}")
    assert caught.value.pointer == "/a/b"
    assert parse_json(b'{"a": ' + b"1" * 4300 + b"}")["a"] == (10**4300 - 1) // 9


def test_the_api_refuses_a_param_the_reader_would_refuse(no_limit: None) -> None:
    """Under a lifted limit the API wrote a record every reader refuses."""
    with pytest.raises(ValueError, match=r"parameter 'n': an integer of more than 4300 digits"):
        checked_params({"n": 10**MAX_INT_DIGITS})
    assert checked_params({"n": 10**MAX_INT_DIGITS - 1})["n"] == 10**MAX_INT_DIGITS - 1


def test_the_cli_sets_the_readers_limit() -> None:
    assert INT_DIGITS == MAX_INT_DIGITS == sys.int_info.default_max_str_digits
