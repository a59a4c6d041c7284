"""A third review of the forty-second pass's last commits (issue 18, docs/decisions.md
"Forty-second pass"): the scan's `NAME=value` prefix before fish's `set -x`, the training
API's `run.log` under a caller's lower integer digit limit, and the typed-PIN masking of a
terminal's table. Each test failed on the code it was written against."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_audit import POLICY, STUDY, new_repo

KEY = "EXPFLOW" + "_PIN"
PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it
BIG = 10**1000  # past the lowest digit limit Python allows (640)


def _found(text: str) -> list[tuple[str, int]]:
    from expflow_git.pinscan.scanner import scan_bytes

    return [(f.rule, f.line) for f in scan_bytes("config.fish", text.encode())]


@pytest.mark.parametrize(
    "value",
    ["'a;b'", '"a|b"', "'a&b'", '"$(pwd)"', '"(x)"', "a(pwd)", "x$(pwd)", "$HOME/(pwd)"]
    + ["(pwd)(pwd)", '"a b"', "'it\\'s'"],
)
@pytest.mark.parametrize("before", ["", "true; ", "and "])
def test_a_set_after_a_quoted_or_substituted_value_is_read(value: str, before: str) -> None:
    """A value the shell reads as one word: quoted (`FOO='a;b'`, `FOO="$(pwd)"`), or with
    a command substitution after its first character (`FOO=a(pwd)`). The value that ended
    at `;&|()` (the second review's fix) passed the `set -x NAME V` after each, which the
    prefix read before it (the first eight); a quoted value with a blank was never read."""
    text = f"{before}FOO={value} set -x {KEY} {PIN}\n"
    assert _found(text) == [("pin-assignment", 1)], text


@pytest.mark.parametrize(
    "text",
    [
        f"FOO=a&b set -x {KEY} {PIN}\n",  # (`&` ends the statement: `b set …` is a command)
        f"FOO='a;b';x set -x {KEY} {PIN}\n",
        f"echo FOO='a;b' set -x {KEY} {PIN}\n",
    ],
)
def test_a_set_that_is_another_commands_argument_is_not_read(text: str) -> None:
    assert _found(text) == [], text


@pytest.fixture
def low_limit() -> Iterator[None]:
    """The interpreter's integer digit limit at its lowest (a caller's
    PYTHONINTMAXSTRDIGITS=640) for the test, restored after."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(before)


@pytest.mark.parametrize(
    ("logged", "said"),
    [
        ({"seg_total": 1.0, "step": BIG}, "a step is a non-negative integer below 2^53"),
        ({"seg_total": BIG}, "is not a finite number"),
    ],
    ids=["step", "value"],
)
def test_run_log_names_the_problem_under_a_lower_limit(
    tmp_path: Path, low_limit: None, logged: dict[str, float], said: str
) -> None:
    """`Repository.log_result` (under `writable_ints`) names a 1,000-digit metric ("metric
    'seg_total': 1000…... is not a finite number"); the training block's `run.log` stopped
    with Python's own "Exceeds the limit (640 digits) for integer string conversion"."""
    import expflow_git

    repo = new_repo(tmp_path / "repo", POLICY)
    api = expflow_git.Repository(str(repo))
    with (
        pytest.raises(ValueError, match=re.escape(said)),
        api.run("r-00", study=STUDY, params={"sub_step": 1}) as run,
    ):
        run.log(**logged)
    assert sys.get_int_max_str_digits() == 640
    assert api.get("r-00").status.value == "failed"


def test_run_log_split_and_log_leave_the_blocks_limit(tmp_path: Path, low_limit: None) -> None:
    import expflow_git

    repo = new_repo(tmp_path / "repo", POLICY)
    api = expflow_git.Repository(str(repo))
    with api.run("r-00", study=STUDY, params={"sub_step": 1}) as run:
        run.log_split("val", seg_total=1.0)
        assert sys.get_int_max_str_digits() == 640
        run.log(seg_total=50.0, pde_mean=10.0, train_time_min=30.0)
        assert sys.get_int_max_str_digits() == 640
    assert api.get("r-00").status.value == "success"


def test_a_terminal_table_reads_the_arguments_once_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """`masked_quoting` asked `TypedPins.pieces` in every line showing a typed PIN's digits,
    and each ask read every argument holding them with `_typed_as_pin` (the scan's
    masking): 10,000 table lines showing the digits of `--policy /r/pin=NNNN/expflow.yaml`
    took 5 s, 500 such arguments and lines 78 s. Counted, not timed."""
    from expflow_git import errors

    calls = [0]
    real = errors._typed_as_pin

    def counted(argument: str, run: str) -> bool:
        calls[0] += 1
        return real(argument, run)

    monkeypatch.setattr(errors, "_typed_as_pin", counted)
    argv = ["expflow-git", "audit", "--policy", f"/r/pin={PIN}/expflow.yaml"]
    argv += [f"exp/pin={PIN}/r{i}.json" for i in range(20)]

    def reads(lines: int) -> int:
        calls[0] = 0
        text = "\n".join(f"/r/pin={PIN}/expflow.yaml r{i} {PIN}" for i in range(lines))
        shown = errors.masked_quoting(text, argv)
        assert PIN not in shown
        return calls[0]

    assert reads(200) == reads(20)
