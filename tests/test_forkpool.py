"""The audit's workers (forkpool.py): forked once and reused round after round, answers
in order, and a child that fails has its part redone here and is not used again."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from expflow_git.forkpool import ForkPool

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork")


def _square(part: list[int]) -> list[tuple[int, int]]:
    return [(x * x, os.getpid()) for x in part]


def test_children_are_forked_once_and_fed_every_round() -> None:
    with ForkPool(_square, 3) as pool:
        rounds = [pool.map([[i], [i + 1, i + 2], [i + 3]]) for i in range(0, 40, 4)]
    for i, answers in zip(range(0, 40, 4), rounds, strict=True):
        assert [[sq for sq, _ in a] for a in answers] == [
            [i * i],
            [(i + 1) ** 2, (i + 2) ** 2],
            [(i + 3) ** 2],
        ]
    pids = [tuple(a[0][1] for a in answers) for answers in rounds]
    assert len(set(pids)) == 1  # the same three processes every round
    here, *children = pids[0]
    assert here == os.getpid() and len(set(children)) == 2 and here not in children


def test_more_parts_than_children_are_done_here() -> None:
    with ForkPool(_square, 2) as pool:
        answers = pool.map([[1], [2], [3]])
    assert [[sq for sq, _ in a] for a in answers] == [[1], [4], [9]]
    assert answers[2][0][1] == os.getpid()


@pytest.mark.parametrize("how", ["raise", "exit", "kill"])
def test_a_child_that_fails_is_redone_here_and_not_used_again(how: str) -> None:
    parent = os.getpid()

    def work(part: list[int]) -> list[tuple[int, int]]:
        if os.getpid() != parent and part == [2]:
            if how == "raise":
                raise RuntimeError("worker broke")
            if how == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        return _square(part)

    with ForkPool(work, 2) as pool:
        first = pool.map([[1], [2]])
        second = pool.map([[3], [4]])
    assert [[sq for sq, _ in a] for a in first] == [[1], [4]]
    assert first[1][0][1] == parent  # redone here
    assert [[sq for sq, _ in a] for a in second] == [[9], [16]]
    assert second[1][0][1] == parent  # the failed child's slot stays empty


def test_an_error_in_the_work_itself_is_raised_here() -> None:
    def work(part: list[int]) -> list[int]:
        if part == [2]:
            raise ValueError("bad part")
        return part

    with ForkPool(work, 2) as pool, pytest.raises(ValueError, match="bad part"):
        pool.map([[1], [2]])


def test_close_reaps_every_child() -> None:
    pool = ForkPool(_square, 3)
    answers = pool.map([[1], [2], [3]])
    children = {a[0][1] for a in answers[1:]}
    pool.close()
    for pid in children:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_submit_returns_at_once_and_gather_gives_the_answers_in_order() -> None:
    """The audit pipelines its rounds: a round is submitted, this process works on its
    own share and earlier answers meanwhile, and gathers the round later."""
    with ForkPool(_square, 3) as pool:
        pending = pool.submit([[2], [3, 4]])
        here = _square([1])  # what the caller does while the children work
        answers = pool.gather(pending)
        again = pool.gather(pool.submit([[5], [6]]))
    assert here[0][0] == 1
    assert [[sq for sq, _ in a] for a in answers] == [[4], [9, 16]]
    assert [[sq for sq, _ in a] for a in again] == [[25], [36]]
    assert {a[0][1] for a in answers} == {a[0][1] for a in again}  # the same children
    assert os.getpid() not in {a[0][1] for a in answers}


def test_a_discarded_submit_leaves_no_stale_answer() -> None:
    """A caller that stops before gathering (an error while consuming records) must not
    get the abandoned round's answer for its next part: those children are ended."""
    with ForkPool(_square, 2) as pool:
        pending = pool.submit([[7]])
        pool.discard(pending)
        answers = pool.map([[1], [2]])
    assert [[sq for sq, _ in a] for a in answers] == [[1], [4]]
    assert answers[1][0][1] == os.getpid()  # the ended child's slot is done here


def test_close_lets_every_child_run_its_finish(tmp_path: Path) -> None:
    """`finish` (the audit's children close their own git stream with it) runs in every
    child when the pool is closed, not only in those that happened to see the pipe's
    end before being killed (found by review: 1 of 3 ran it)."""

    def finish() -> None:
        time.sleep(0.05)  # as closing a git stream takes a moment
        (tmp_path / f"finished-{os.getpid()}").write_text("x")

    with ForkPool(_double, 4, finish=finish) as pool:
        assert pool.map([1, 2, 3, 4]) == [2, 4, 6, 8]
        children = [c.pid for c in pool._children or () if c is not None]
    assert len(children) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"finished-{pid}" for pid in children
    )


def _double(part: int) -> int:
    return part * 2
