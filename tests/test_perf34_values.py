"""Issue 18, thirty-fourth pass: the per-run values are frozen to mypy, not at run time
(`documents.run_value`), and runs are paired in the results' order, not sorted by id.
Neither may change a verdict: the values keep a frozen dataclass's equality and hash,
mypy still refuses an assignment to any of their fields, and the leaderboard is the
same whatever order the records and results come in."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expflow_git.audit.ranking import rank
from expflow_git.checks import (
    CheckKind,
    Outcome,
    RunVerdict,
    judge_runs,
    pair_runs,
)
from expflow_git.documents import Experiment, Result, Status
from expflow_git.policy.load import load_policy_bytes

POLICY = b"""\
version: 1
metrics:
  acc: {group: Score, higher_is_better: true}
  loss: {group: Loss, higher_is_better: false}
ranking: {sort_by: acc, tie_break: [loss]}
gates: ["loss:le:0.5"]
"""


def test_the_values_are_equal_and_hashed_by_their_fields() -> None:
    """As a frozen dataclass's are (a shared passed outcome is found by value in caches)."""
    a = Outcome(CheckKind.GATE, "g", False, "0.7 not <= 0.5")
    b = Outcome(CheckKind.GATE, "g", False, "0.7 not <= 0.5")
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != Outcome(CheckKind.GATE, "g", False, "0.8 not <= 0.5")
    exp = Experiment("experiments/r.json", "r", "s", Status.SUCCESS, {}, ("t",))
    assert exp == Experiment("experiments/r.json", "r", "s", Status.SUCCESS, {}, ("t",))
    assert {a, b} == {a}
    verdict = RunVerdict("r", "s", (), "results/r.json", {"acc": 1.0}, {}, (a,))
    assert verdict.feasible is False and verdict.failed == ["g"]


def test_mypy_refuses_an_assignment_to_every_run_value(tmp_path: Path) -> None:
    """What `frozen=True` did at run time, the type check does: CI runs mypy --strict."""
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "assign.py"
    snippet.write_text(
        textwrap.dedent(
            """\
            from expflow_git.audit.ranking import RankedRun
            from expflow_git.checks import Outcome, RunVerdict
            from expflow_git.documents import Experiment, Result


            def change(
                e: Experiment, r: Result, o: Outcome, v: RunVerdict, k: RankedRun
            ) -> None:
                e.id = "other"
                r.metrics = {}
                o.passed = True
                v.feasible = True
                k.rank = 1
            """
        )
    )
    out, _, status = api.run(
        [
            "--strict",
            "--follow-imports=silent",
            "--no-incremental",
            "--cache-dir=" + str(tmp_path / "cache"),
            str(snippet),
        ]
    )
    refused = [line for line in out.splitlines() if "read-only" in line]
    assert status == 1, out
    assert [line.split(":")[1] for line in refused] == ["9", "10", "11", "12", "13"], out


def _documents(
    runs: list[tuple[str, str, float, float]],
) -> tuple[list[Experiment], list[Result]]:
    experiments = [
        Experiment(f"experiments/{i}.json", i, "s", Status(status), {}) for i, status, _, _ in runs
    ]
    results = [
        Result(f"results/{i}.json", i, {"acc": acc, "loss": loss}, {}) for i, _, acc, loss in runs
    ]
    return experiments, results


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d", "e", "f"]),  # ids repeat: doubled runs
            st.sampled_from(["success", "success", "failed"]),
            st.sampled_from([0.1, 0.5, 0.9]),
            st.sampled_from([0.2, 0.5, 0.8]),
        ),
        max_size=10,
    ),
    st.randoms(use_true_random=False),
)
def test_the_board_is_the_same_whatever_order_the_documents_come_in(
    runs: list[tuple[str, str, float, float]], rng: random.Random
) -> None:
    """The runs are paired in the results' order now: the leaderboard, its ranks and its
    bests are those of the documents in id order, and no doubled id is a run."""
    policy = load_policy_bytes(POLICY)
    gates = policy.all_gates(())
    experiments, results = _documents(runs)
    by_id = sorted(results, key=lambda r: (r.experiment, r.path))
    shuffled = list(results)
    rng.shuffle(shuffled)
    boards = [
        rank(judge_runs(pair_runs(experiments, order), policy, gates), [("acc", True)])
        for order in (by_id, shuffled)
    ]
    first, second = ([(r.verdict.id, r.rank) for r in b.runs] for b in boards)
    assert first == second
    assert boards[0].best_any == boards[1].best_any
    assert boards[0].best_feasible == boards[1].best_feasible
    ids = [i for i, *_ in runs]
    once = {i for i in ids if ids.count(i) == 1}
    succeeded = {i for i, status, *_ in runs if status == "success" and i in once}
    assert {run_id for run_id, _ in first} == succeeded
