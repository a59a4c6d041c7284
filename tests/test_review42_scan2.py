"""A second review of the forty-second pass's secrets and verdict changes (issue 18,
docs/decisions.md "Forty-second pass"): the API's raised integer digit limit
(`jsonstrict.writable_ints`, `Repository`). Each test failed on the code it was written
against, but for the guard that `run`'s fix leaves the caller's block alone."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_audit import POLICY, STUDY, new_repo
from test_hunt42_cache import int_digit_limit

BIG = 10**999  # 1,000 digits: past the lowest limit Python allows (640), under 4,300


@pytest.fixture
def low_limit() -> Iterator[None]:
    """The interpreter's integer digit limit at its lowest (a caller's
    PYTHONINTMAXSTRDIGITS=640) for the test, restored after."""
    with int_digit_limit(640):
        yield


def _train(repo: Path, id: str) -> None:
    import expflow_git

    with expflow_git.Repository(str(repo)).run(
        id, study=STUDY, params={"x": BIG, "sub_step": 1}
    ) as run:
        run.log(seg_total=50.0, pde_mean=10.0, train_time_min=30.0)


def test_run_takes_the_param_new_takes_under_a_lower_limit(tmp_path: Path, low_limit: None) -> None:
    """`Repository.new` (decorated `_writing_ints`) writes a 1,000-digit param under a
    caller's 640 limit; `Repository.run`, the training API, was left undecorated (a
    context manager), so the same param was refused: "parameter 'x': an integer of more
    than 640 digits cannot be written", and `run` of the record `new` wrote was refused
    too. The limit is raised around `run`'s own work, not the caller's block."""
    import expflow_git

    repo = new_repo(tmp_path / "repo", POLICY)
    api = expflow_git.Repository(str(repo))
    api.new("r-00", study=STUDY, params={"x": BIG, "sub_step": 1})
    _train(repo, "r-00")
    _train(repo, "r-01")
    assert {r.id: r.status.value for r in api.runs()} == {"r-00": "success", "r-01": "success"}
    assert api.get("r-01").params["x"] == BIG
    assert sys.get_int_max_str_digits() == 640  # restored after


def test_run_leaves_the_callers_block_under_the_callers_limit(
    tmp_path: Path, low_limit: None
) -> None:
    """The training block is the caller's code: the limit it runs under is its own."""
    import expflow_git

    repo = new_repo(tmp_path / "repo", POLICY)
    with expflow_git.Repository(str(repo)).run("r-00", study=STUDY, params={"sub_step": 1}) as run:
        assert sys.get_int_max_str_digits() == 640
        run.log(seg_total=50.0, pde_mean=10.0, train_time_min=30.0)
    assert sys.get_int_max_str_digits() == 640


def test_overlapping_calls_in_two_threads_keep_the_raised_limit(low_limit: None) -> None:
    """The limit is the interpreter's, shared by its threads. A call in thread A raised
    it (640 → 4,300); a call in thread B, begun meanwhile, found 4,300 and changed
    nothing; A's call ended and put back 640 while B's call ran on, which then stopped
    with Python's "Exceeds the limit" ValueError. The limit is put back when the last
    overlapping call ends."""
    from expflow_git.jsonstrict import writable_ints

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[object] = []

    def first() -> None:
        with writable_ints():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def second() -> None:
        a_in.wait(10)
        with writable_ints():
            b_in.set()
            a_out.wait(10)
            try:
                seen.append(len(str(BIG)))
            except ValueError as exc:
                seen.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert seen == [1000], seen
    assert sys.get_int_max_str_digits() == 640  # the last call put it back
