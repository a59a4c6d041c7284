"""The Ladder (issue 19 part 4; Blum & Hardt, ICML 2015, Algorithm 1): walking the runs
in the order their results were first committed, the ladder's best changes only when a
feasible run beats it by more than η. Real repositories with a chosen history order."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from pathlib import Path

import pytest
from helpers_audit import (
    POLICY,
    Cli,
    add_run,
    assert_one_error_line,
    commit_all,
    git,
    new_repo,
    reseal,
    runs_of,
    statement_of,
)
from hypothesis import example, given
from hypothesis import strategies as st

from expflow_git.audit.ladder import climb, released
from expflow_git.policy.diff import Effect, PolicyChange, diff_policies
from expflow_git.policy.load import load_policy_bytes

LADDER = POLICY.replace("  tie_break: [pde_mean]\n", "  tie_break: [pde_mean]\n  ladder_step: 1\n")


def _m(seg: float, pde: float = 15.0) -> dict[str, float]:
    return {"seg_total": seg, "pde_mean": pde, "train_time_min": 45.0}


# The submissions, each committed on its own: a real step, then a lucky draw (better by
# less than η = 1), an infeasible run with the top score, a second real step.
RUNS = [
    ("base", 55.0, 15.0),  # sets the ladder: [55]_1 = 55
    ("step", 56.4, 15.0),  # 56.4 > 55 + 1: moves it, to [56.4]_1 = 56
    ("lucky", 56.9, 15.0),  # 56.9 ≤ 56 + 1: a lucky draw, the ladder stays
    ("cheat", 70.0, 20.0),  # fails the pde_mean threshold: never on the ladder
]


def ladder_repo(path: Path, order: list[int], policy: str = LADDER) -> Path:
    r = new_repo(path, policy)
    git(r, "add", "expflow.yaml")
    git(r, "commit", "-q", "-m", "policy")
    for i in order:
        run_id, seg, pde = RUNS[i]
        add_run(r, run_id, _m(seg, pde))
        commit_all(r, run_id)
    return r


def _report(cli: Cli, r: Path) -> dict:
    res = cli(["audit", "--format", "json"], r)
    assert res.code == 0, res
    return statement_of(res.out)


def test_a_lucky_draw_does_not_move_the_ladder(xcli: Cli, tmp_path: Path) -> None:
    r = ladder_repo(tmp_path / "repo", [0, 1, 2, 3])
    st = _report(xcli, r)
    result = st["predicate"]["result"]
    assert result["best_feasible"] == "lucky"  # the top of the board ...
    assert result["best_any"] == "cheat"
    assert result["best_ladder"] == "step"  # ... is no real improvement over this
    assert result["ladder"] == {"step": 1, "score": 56}
    rungs = {e["id"]: e["ladder"] for e in runs_of(st)}
    assert rungs == {
        "base": {"order": 0, "moved": True},
        "step": {"order": 1, "moved": True},
        "lucky": {"order": 2, "moved": False},
        "cheat": {"order": 3, "moved": False},
    }
    assert st["predicate"]["policy"]["ranking"]["ladderStep"] == 1


def test_the_order_is_the_history_not_the_scores(xcli: Cli, tmp_path: Path) -> None:
    """The same final tree, committed in another order, climbs another ladder."""
    forward = _report(xcli, ladder_repo(tmp_path / "a", [0, 1, 2, 3]))
    backward = _report(xcli, ladder_repo(tmp_path / "b", [3, 2, 1, 0]))
    assert forward["subject"][1] == backward["subject"][1]  # the same tree
    # lucky first sets the ladder at [56.9]_1 = 57: step (56.4) and base never beat it.
    assert backward["predicate"]["result"]["best_ladder"] == "lucky"
    assert backward["predicate"]["result"]["ladder"]["score"] == 57
    assert {e["id"]: e["ladder"]["order"] for e in runs_of(backward)} == {
        "cheat": 0,
        "lucky": 1,
        "step": 2,
        "base": 3,
    }


def test_runs_of_one_commit_climb_in_leaderboard_order(xcli: Cli, tmp_path: Path) -> None:
    r = new_repo(tmp_path / "repo", LADDER)
    for run_id, seg, pde in RUNS:
        add_run(r, run_id, _m(seg, pde))
    commit_all(r, "all at once")
    st = _report(xcli, r)
    # One submission round: the best of it first (lucky), which no other beats by > η.
    assert st["predicate"]["result"]["best_ladder"] == "lucky"
    orders = {e["id"]: e["ladder"]["order"] for e in runs_of(st)}
    assert orders == {"lucky": 0, "step": 1, "base": 2, "cheat": 3}


@pytest.mark.parametrize("depth", [1, 3])
def test_a_shallow_clone_cutting_the_submissions_is_refused(
    xcli: Cli, tmp_path: Path, depth: int
) -> None:
    """A shallow clone's cut commit shows every result older than it as added there:
    they were submitted at the cut in leaderboard order, and `lucky` took the ladder
    (an attacker's hunt, issue 18 twenty-seventh pass). Exit 2, as the budgets' cut
    history is, with or without --since."""
    r = ladder_repo(tmp_path / "repo", [0, 1, 2, 3])
    assert _report(xcli, r)["predicate"]["result"]["best_ladder"] == "step"
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", str(depth), f"file://{r}", str(clone))
    ranges = [[], ["--since", "HEAD~1"]] if depth > 1 else [[]]
    for since in ranges:
        res = xcli(["audit", "--no-cache", *since], clone)
        cut = "this shallow clone cuts the history at"
        assert_one_error_line(res, 2, "ranking.ladder_step:", cut, "fetch-depth: 0")


def test_a_later_real_improvement_moves_the_ladder(xcli: Cli, tmp_path: Path) -> None:
    r = ladder_repo(tmp_path / "repo", [0, 1, 2, 3])
    add_run(r, "real", _m(57.5))  # 57.5 > 56 + 1
    commit_all(r, "real")
    st = _report(xcli, r)
    assert st["predicate"]["result"]["best_ladder"] == "real"
    # [57.5]_1 = 57: a half rounds toward the worse side (down for a score, as a loss's up)
    assert st["predicate"]["result"]["ladder"]["score"] == 57
    text = xcli(["audit"], r).out
    assert (
        "best_ladder: real — seg_total 57 on the ladder (step 1; moved 3 time(s): "
        "base → step → real)" in text
    )


def test_a_moved_result_keeps_its_first_commit(xcli: Cli, tmp_path: Path) -> None:
    """A run is followed by its experiment id: a result moved to another study folder
    still counts from the commit that first added it."""
    r = ladder_repo(tmp_path / "repo", [2, 0])  # lucky first, then base
    git(r, "mv", "results/pdebench-task1/lucky.json", "results/lucky.json")
    commit_all(r, "move")
    st = _report(xcli, r)
    assert {e["id"]: e["ladder"]["order"] for e in runs_of(st)} == {"lucky": 0, "base": 1}


def test_lower_is_better_climbs_down(xcli: Cli, tmp_path: Path) -> None:
    policy = LADDER.replace("sort_by: seg_total", "sort_by: pde_mean").replace(
        "ladder_step: 1", "ladder_step: 0.5"
    )
    r = new_repo(tmp_path / "repo", policy)
    for run_id, pde in [("a", 17.0), ("b", 16.7), ("c", 16.2)]:
        add_run(r, run_id, _m(55.0, pde))
        commit_all(r, run_id)
    result = _report(xcli, r)["predicate"]["result"]
    # a sets [17]_0.5 = 17; b is 0.3 better (a lucky draw); c beats 17 − 0.5.
    assert (result["best_feasible"], result["best_ladder"]) == ("c", "c")
    assert result["ladder"]["score"] == 16  # [16.2]_0.5 = 16.0


def test_without_a_ladder_step_nothing_changes(xcli: Cli, tmp_path: Path) -> None:
    st = _report(xcli, ladder_repo(tmp_path / "repo", [0, 1, 2, 3], POLICY))
    assert "best_ladder" not in st["predicate"]["result"]
    assert "ladder" not in st["predicate"]["result"]
    assert all("ladder" not in e for e in runs_of(st))
    assert "ladderStep" not in st["predicate"]["policy"]["ranking"]


def test_every_output_shows_the_ladder(xcli: Cli, tmp_path: Path) -> None:
    r = ladder_repo(tmp_path / "repo", [0, 1, 2, 3])
    html = tmp_path / "card.html"
    text = xcli(["audit", "--html", str(html)], r).out
    line = "best_ladder: step — seg_total 56 on the ladder (step 1; moved 2 time(s): base → step)"
    assert line in text
    assert "best\\_ladder: step" in xcli(["audit", "--format", "md"], r).out
    page = html.read_text()
    assert "<h3>best_ladder</h3>" in page and '<span class="pill">best_ladder</span>' in page
    assert "best_ladder step" in xcli(["audit", "--format", "github"], r).out


def test_the_ladder_line_spells_step_and_score_as_the_report_does(
    xcli: Cli, tmp_path: Path
) -> None:
    """Shortest spellings, as the policy and the report have them: with 12 digits a step
    of 5e-324 read `4.94065645841e-324` and a score of 1.5e-323 `1.48219693752e-323`."""
    policy = LADDER.replace("sort_by: seg_total", "sort_by: pde_mean").replace(
        "ladder_step: 1", "ladder_step: 5e-324"
    )
    r = new_repo(tmp_path / "repo", policy)
    add_run(r, "tiny", _m(55.0, 1.5e-323))
    commit_all(r, "tiny")
    ladder = _report(xcli, r)["predicate"]["result"]["ladder"]
    assert ladder == {"step": 5e-324, "score": 1.5e-323}
    line = "best_ladder: tiny — pde_mean 1.5e-323 on the ladder (step 5e-324; moved 1 time(s)"
    assert line in xcli(["audit"], r).out
    md = xcli(["audit", "--format", "md"], r).out
    assert "pde\\_mean 1.5e-323 on the ladder (step 5e-324;" in md


def test_the_report_verifies_and_recomputes(xcli: Cli, tmp_path: Path) -> None:
    r = ladder_repo(tmp_path / "repo", [0, 1, 2, 3])
    out = tmp_path / "report.json"
    assert xcli(["audit", "--out", str(out)], r).code == 0
    res = xcli(["verify", str(out), "--allow-unsigned", "--repo", str(r)], tmp_path)
    assert res.code == 0, res.out
    assert "ok   recompute: re-running the audit gives byte-identical entries" in res.out
    shown = xcli(["report", str(out)], r).out
    assert "best_ladder: step" in shown


def _rechain(st: dict) -> None:
    from expflow_git.report.statement import chain, genesis_hash

    p = st["predicate"]
    bodies = [
        {k: v for k, v in e.items() if k not in ("seq", "prev", "hash")} for e in p["entries"]
    ]
    p["entries"] = chain(
        bodies, genesis_hash(p["repo"]["commit"], p["policy"]["gitBlob"], p["inputs"]["merkleRoot"])
    )
    p["entriesHead"] = {"count": len(p["entries"]), "hash": p["entries"][-1]["hash"]}


def _verify(cli: Cli, st: dict, tmp_path: Path, *args: str) -> str:
    forged = tmp_path / "forged.json"
    forged.write_bytes(reseal(st, None))
    res = cli(["verify", str(forged), "--allow-unsigned", *args], tmp_path)
    assert res.code == 1, res.out
    return res.out


def test_a_forged_ladder_is_caught_from_the_entries(xcli: Cli, tmp_path: Path) -> None:
    r = ladder_repo(tmp_path / "repo", [0, 1, 2, 3])
    st = _report(xcli, r)
    # Claim the lucky draw moved the ladder, and make it best_ladder.
    lucky = next(e for e in st["predicate"]["entries"] if e.get("id") == "lucky")
    lucky["ladder"]["moved"] = True
    st["predicate"]["result"]["best_ladder"] = "lucky"
    _rechain(st)
    out = _verify(xcli, st, tmp_path)
    assert "run 'lucky': ladder 'moved' should be False" in out
    assert "result does not follow from the entries (best_ladder)" in out


def test_a_consistent_forged_order_is_caught_by_recompute(xcli: Cli, tmp_path: Path) -> None:
    """Reorder the submissions (lucky before step) and redo every consequence: only the
    history at the commit can tell."""
    from expflow_git.report.rules import recompute_ladder

    r = ladder_repo(tmp_path / "repo", [0, 1, 2, 3])
    st = _report(xcli, r)
    p = st["predicate"]
    runs = {e["id"]: e for e in p["entries"] if e["type"] == "run"}
    runs["lucky"]["ladder"]["order"], runs["step"]["ladder"]["order"] = 1, 2
    runs["lucky"]["ladder"]["moved"], runs["step"]["ladder"]["moved"] = True, False
    problems, expected = recompute_ladder(p["entries"], p["policy"]["ranking"])
    assert problems == []
    p["result"].update(expected)
    assert p["result"]["best_ladder"] == "lucky"
    _rechain(st)
    forged = tmp_path / "forged.json"
    forged.write_bytes(reseal(st, None))
    alone = xcli(["verify", str(forged), "--allow-unsigned"], tmp_path)
    assert alone.code == 0, alone.out  # consistent in itself
    out = _verify(xcli, st, tmp_path, "--repo", str(r))
    assert "FAIL recompute" in out


@pytest.mark.parametrize("step", ["0", "-1", "'one'", "null"])
def test_a_bad_ladder_step_is_a_configuration_error(xcli: Cli, tmp_path: Path, step: str) -> None:
    r = new_repo(tmp_path / "repo", LADDER.replace("ladder_step: 1", f"ladder_step: {step}"))
    add_run(r, "a", _m(55.0))
    commit_all(r, "a")
    assert_one_error_line(xcli(["audit"], r), 2, "expflow.yaml", "/ranking/ladder_step")


def test_a_changed_ladder_step_is_a_policy_change(tmp_path: Path) -> None:
    before = load_policy_bytes(LADDER.encode())
    after = load_policy_bytes(LADDER.replace("ladder_step: 1", "ladder_step: 2").encode())
    assert diff_policies(before, after) == (
        PolicyChange(Effect.CHANGED, "/ranking/ladder_step", "1", "2"),
    )
    none = load_policy_bytes(POLICY.encode())
    assert diff_policies(none, before) == (
        PolicyChange(Effect.CHANGED, "/ranking/ladder_step", "none", "1"),
    )


def test_climb_is_algorithm_1() -> None:
    """R₀ = ∞ (a loss); R_t = [score]_η only when score < R_{t−1} − η."""
    moved, best, level = climb([0.50, 0.47, 0.44, None, 0.30, 0.29], 0.05, descending=False)
    # 0.50 sets [0.50] = 0.5; 0.47 is not < 0.45; 0.44 is: [0.44]_0.05 = 0.45;
    # 0.30 < 0.40: [0.30] = 0.3; 0.29 is not < 0.25.
    assert moved == [True, False, True, False, True, False]
    assert best == 4
    assert level is not None and math.isclose(level, 0.3)
    assert released(5.0, 1e-320) == 5.0  # η too fine for a float: the score itself
    # Past the largest double (a crafted report's numbers): an infinity, not a traceback.
    assert climb([1.7e308], 1e308, descending=False) == ([True], 0, math.inf)
    assert released(-1.7e308, 1e308, descending=True) == -math.inf
    assert climb([None, None], 1.0, descending=True) == ([False, False], None, None)


def _decimal(x: float) -> Decimal:
    return Decimal(repr(x))


@given(
    scores=st.lists(
        st.one_of(
            st.none(),
            st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
            st.integers(-300, 300).map(lambda k: k / 10),  # on the grid of η = 0.1, 0.05
            st.integers(-300, 300).map(lambda k: k / 20),
        ),
        max_size=40,
    ),
    step=st.one_of(st.floats(min_value=1e-3, max_value=100.0), st.sampled_from([0.1, 0.05])),
    descending=st.booleans(),
)
@example(scores=[1.0, -5.916031861198553e-285], step=1.0, descending=False)
@example(scores=[0.3, 0.2], step=0.1, descending=False)
@example(scores=[0.35], step=0.1, descending=False)
def test_climb_moves_only_past_the_released_score_by_more_than_the_step(
    scores: list[float | None], step: float, descending: bool
) -> None:
    """Against Algorithm 1 on the decimals the numbers are (Python's decimal module, to
    1,000 digits): in doubles one ulp decided a boundary (a loss of 0.2 "beat" 0.3 by more
    than 0.1, and 0.35 was released as 0.30000000000000004; an attacker's hunt)."""
    moved, best, level = climb(scores, step, descending)
    eta = _decimal(step)
    current: Decimal | None = None
    with localcontext() as ctx:
        ctx.prec = 1000
        for score, did in zip(scores, moved, strict=True):
            if score is None:
                assert not did
                continue
            exact = _decimal(score)
            beats = current is None or (
                exact > current + eta if descending else exact < current - eta
            )
            assert did == beats, (score, current)
            if did:
                # The nearest multiple of η, a half toward the worse side (up for a loss).
                half = Decimal(-1 if descending else 1) / 2
                current = (exact / eta + half).to_integral_value(
                    rounding=ROUND_CEILING if descending else ROUND_FLOOR
                ) * eta
                assert released(score, step, descending) == float(current)
    assert level == (None if current is None else float(current))
    assert best == (max(i for i, d in enumerate(moved) if d) if any(moved) else None)
