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
from helpers_audit import (
    add_run,
    commit_all,
    experiment,
    findings_of,
    m,
    new_repo,
    result,
    run_cli,
    runs_of,
    statement_of,
    write_json,
)
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


@pytest.mark.parametrize("cache", [False, True], ids=["cold", "warm"])
def test_a_document_not_named_by_its_id_is_found_as_before(tmp_path: Path, cache: bool) -> None:
    """The consume step asks `stem_findings` only where the path is not `<folder>/<id>.json`
    (a shortcut of this pass): every other spelling of a name is still judged by it."""
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "ok", m(50.0))  # experiments/<study>/ok.json: the shortcut
    add_run(repo, "run.json", m(40.0))  # run.json.json: its stem is run.json
    write_json(repo, "experiments/s/a.json", experiment("b", study="s"))  # id b in a.json
    write_json(repo, "results/s/b.json", result("a", m(30.0)))  # result of a in b.json
    write_json(repo, "experiments/s/xc.json", experiment("c", study="s"))  # ends in c.json
    write_json(repo, "experiments/top.json", experiment("top", study="s"))  # top level
    write_json(repo, "results/top.json", result("top", m(20.0)))
    commit_all(repo)
    args = ["audit", "--format", "json", "--out", str(tmp_path / "r.json")]
    if not cache:
        args.insert(1, "--no-cache")
    for _ in range(2 if cache else 1):  # warm: the second audit reads the cache
        res = run_cli(args, repo)
    assert res.code == 1, res.err
    statement = statement_of((tmp_path / "r.json").read_bytes())
    named = sorted(
        (f["path"], f["message"]) for f in findings_of(statement) if f["rule"] == "id-mismatch"
    )
    assert named == [
        ("experiments/s/a.json", "id 'b' differs from the file name 'a'"),
        ("experiments/s/xc.json", "id 'c' differs from the file name 'xc'"),
        ("results/s/b.json", "experiment 'a' differs from the file name 'b'"),
    ]
    ranked = {r["id"] for r in runs_of(statement)}
    assert {"ok", "run.json", "top"} <= ranked and not {"a", "b", "c"} & ranked
