"""`Repository.run` of one id in two threads at once (issue 18 twenty-ninth pass): both
found no record before either wrote it, and the loser met `new`'s "exists already", an
ExpflowError with code 2 (a usage error), where `run` of a run that is not pending is
refused with code 1. The check and the write are now under the work tree's lock: the
loser sees the winner's record, `running`, and is refused as it would be after it."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from conftest import ExpRepo

from expflow_git import Repository, Status
from expflow_git.errors import ExpflowError
from expflow_git.records.writer import Layout

pytestmark = pytest.mark.usefixtures("isolated_env")

METRICS = {"seg_total": 1.0, "pde_mean": 1.0, "train_time_min": 1.0}


def _runs(repo: Repository, run_id: str, n: int) -> tuple[Counter[object], list[BaseException]]:
    """`n` threads each `run` `run_id`: how many finished, and what each other one raised."""
    done: Counter[object] = Counter()
    raised: list[BaseException] = []

    def go() -> None:
        try:
            with repo.run(run_id, study="s", params={"sub_step": 1}) as run:
                run.log(**METRICS)
            done["ok"] += 1
        except BaseException as exc:  # noqa: BLE001 (each is looked at below)
            raised.append(exc)

    threads = [threading.Thread(target=go) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return done, raised


def test_both_checks_before_either_write_is_refused_with_code_1(
    exp_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving forced: each thread's first look for the record waits (up to a
    few seconds) for the other's. Outside the lock both looked, found none and wrote;
    under it the second waits for the lock, and its look finds the first's record."""
    barrier = threading.Barrier(2, timeout=3)
    looked: set[int] = set()
    real: Callable[[Layout, str], object] = Layout.existing_experiments

    def existing(self: Layout, exp_id: str) -> object:
        me = threading.get_ident()
        if me not in looked:
            looked.add(me)
            try:
                barrier.wait()
            except threading.BrokenBarrierError:  # the other holds the lock: no wait
                pass
        return real(self, exp_id)

    monkeypatch.setattr(Layout, "existing_experiments", existing)
    repo = Repository(exp_repo.path)
    done, raised = _runs(repo, "r1", 2)
    monkeypatch.undo()
    assert done["ok"] == 1, raised
    assert len(raised) == 1 and isinstance(raised[0], ExpflowError), raised
    assert raised[0].code == 1, raised[0]
    assert "only a pending experiment can be started" in str(raised[0])
    assert repo.get("r1").status is Status.SUCCESS


def test_ten_threads_of_one_id(exp_repo: ExpRepo) -> None:
    """As the hunter ran it: one run finishes, every other one is refused with code 1."""
    repo = Repository(exp_repo.path)
    done, raised = _runs(repo, "t1", 10)
    assert done["ok"] == 1, raised
    assert all(isinstance(e, ExpflowError) and e.code == 1 for e in raised), raised
    assert len(raised) == 9
