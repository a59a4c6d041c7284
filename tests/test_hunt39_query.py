"""An attacker's hunt of the researcher's read commands and the Python API (thirty-ninth
pass): `list`, `show`, `compare`, `rank`, `--where`, `--columns` and `Repository`."""

from __future__ import annotations

import json

from conftest import SEED_PARAMS, ExpRepo, experiment_doc, run_cli


def _record_with_raw_param(repo: ExpRepo, exp_id: str, raw: str) -> None:
    """A record whose param `x` is the JSON number spelled `raw` (json.dumps would respell
    a float: 1e23 is written 1e+23, an int stays whole)."""
    doc = experiment_doc(exp_id, params={**SEED_PARAMS, "x": "RAW"})
    repo.write(repo.exp_path(exp_id), json.dumps(doc, indent=2).replace('"RAW"', raw) + "\n")
    repo.add_result(exp_id)


def test_a_column_never_shows_two_different_params_alike(exp_repo: ExpRepo) -> None:
    """docs/spec.md §4: `compare` shows numbers "with the digits that tell a line's values
    apart", and §4.1: each `--columns` column's numbers "have the digits that tell the
    values of the rows shown apart". The integer 99999999999999991611392 and the float
    1e23 (the decimal 10**23, §2.3) are two values: `compare` marks the line `*`, and
    `--where params.x = 1e23` matches one run and not the other. But Python finds the
    int equal to the double 1e23, so the column's set of values kept one of them: both
    runs showed `999999… (23 digits)` (or both `1e+23`, by row order), beside the `*`."""
    _record_with_raw_param(exp_repo, "exp-int", "99999999999999991611392")
    _record_with_raw_param(exp_repo, "exp-float", "1e23")

    code, out, err = run_cli(
        ["list", "--where", "params.x = 1e23", "--format", "json"], cwd=exp_repo.path
    )
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)["runs"]] == ["exp-float"]  # two values

    for order in (["exp-int", "exp-float"], ["exp-float", "exp-int"]):
        for fmt in ("text", "md"):
            code, out, err = run_cli(["compare", *order, "--format", fmt], cwd=exp_repo.path)
            assert code == 0, err
            row = next(ln for ln in out.splitlines() if "params.x" in ln)
            cells = [c.strip() for c in row.replace("*", "").split("|" if fmt == "md" else "  ")]
            cells = [c for c in cells if c and c != "params.x"]
            assert len(cells) == 2 and cells[0] != cells[1], (order, fmt, row)

    for fmt in ("text", "md"):
        code, out, err = run_cli(
            ["list", "--columns", "params.x", "--format", fmt], cwd=exp_repo.path
        )
        assert code == 0, err
        shown = {
            run_id: next(ln for ln in out.splitlines() if run_id + " " in ln)
            for run_id in ("exp-int", "exp-float")
        }
        int_cell = "999999… (23 digits)"
        assert int_cell in shown["exp-int"], out
        assert int_cell not in shown["exp-float"] and "1e+23" in shown["exp-float"], out


def test_booleans_order_as_rules_order_them(exp_repo: ExpRepo) -> None:
    """docs/spec.md §4.1: params compare "as booleans" when both sides are booleans, and
    a run with the value matches `=`. `params.amp >= true` matched no run whose amp is
    true (nor `<= false` one whose amp is false), though `params.amp = true` matched it,
    `params.n >= null` matches a null, and the policy's rule `{param: amp, op: ge,
    value: true}` (Op.holds: false before true) passes that very run. In `list --where`,
    `rank --where` and `Repository.runs(where=…)` alike."""
    from expflow_git import Repository

    for exp_id, amp in (("amp-on", True), ("amp-off", False), ("amp-text", "True")):
        exp_repo.add_experiment(exp_id, params={**SEED_PARAMS, "amp": amp})
        exp_repo.add_result(exp_id)
    exp_repo.commit("runs")

    expected = {
        "params.amp = true": ["amp-on", "amp-text"],
        "params.amp >= true": ["amp-on", "amp-text"],
        "params.amp <= true": ["amp-off", "amp-on", "amp-text"],
        "params.amp > false": ["amp-on", "amp-text"],
        "params.amp <= false": ["amp-off"],
        "params.amp < false": [],
    }
    repo = Repository(exp_repo.path)
    for where, ids in expected.items():
        code, out, err = run_cli(["list", "--where", where, "--format", "json"], cwd=exp_repo.path)
        assert code == 0, err
        assert sorted(r["id"] for r in json.loads(out)["runs"]) == ids, where
        assert sorted(r.id for r in repo.runs(where=where)) == ids, where
        code, out, err = run_cli(["rank", "--where", where, "--format", "json"], cwd=exp_repo.path)
        assert sorted(r["id"] for r in json.loads(out)["ranking"]) == ids, (where, err)


def test_gates_given_as_a_generator_are_checked(committed_repo: ExpRepo) -> None:
    """docs/api.md: `gates` is a list (one string alone is refused), and a run that fails
    a gate is infeasible. A generator or a `map` (`gates=(f"{m}:lt:{v}" for m, v in
    limits.items())`) passed the check, which read it to the end, and the list made
    after was empty: every gate was dropped and every run passed it. `Repository.rank`
    ranked a run failing `pde_mean:lt:14.5` feasible (`best_feasible` the wrong run),
    and `compare_scores` named a best feasible run that fails the gate."""
    from expflow_git import Repository, compare_scores

    committed_repo.add_experiment("exp-low")
    committed_repo.add_result(
        "exp-low", metrics={"seg_total": 50.0, "pde_mean": 14.0, "train_time_min": 45.5}
    )
    committed_repo.add_experiment("exp-high")  # the better score, but pde_mean 15
    committed_repo.add_result("exp-high")
    committed_repo.commit("runs")
    repo = Repository(committed_repo.path)

    as_list = repo.rank(gates=["pde_mean:lt:14.5"])
    assert as_list.best_feasible == "exp-low"
    for gates in ((g for g in ["pde_mean:lt:14.5"]), map(str.strip, ["pde_mean:lt:14.5 "])):
        board = repo.rank(gates=gates)
        assert board.best_feasible == "exp-low"
        assert [(r.id, r.feasible) for r in board.rows] == [
            (r.id, r.feasible) for r in as_list.rows
        ]

    runs = {"a": {"s": 1.0, "p": 20.0}, "b": {"s": 2.0, "p": 30.0}}
    assert compare_scores(runs, sort_by="s", gates=["p:lt:18"]).best_feasible is None
    table = compare_scores(runs, sort_by="s", gates=iter(["p:lt:18"]))
    assert table.best_feasible is None
    assert all(row.failed for row in table.rows)
