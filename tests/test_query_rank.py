"""`rank --where`, `rank --columns`, the JSON rows' study/status/params/splits, `--study`
with no match, and the best runs on stdout (issue 16 item 6), through the real CLI on
the seed example."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from helpers_audit import Cli, add_run, commit_all, m, new_repo, run_cli, seed_repo


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_repo(tmp_path_factory.mktemp("seed") / "repo")


@pytest.fixture
def tagged(tmp_path: Path) -> Path:
    """Runs with string parameters (as trackers store them) and key:value tags."""
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "fno-1", m(60), tags=("model:fno",))
    add_run(repo, "fno-2", m(55), tags=("model:fno", "big"))
    add_run(repo, "unet-1", m(58), tags=("model:unet",))
    for run_id, lr in (("fno-1", "0.001"), ("fno-2", "0.01"), ("unet-1", "1e-4")):
        path = repo / f"experiments/pdebench-task1/{run_id}.json"
        doc = json.loads(path.read_text())
        doc["params"]["lr"] = lr
        path.write_text(json.dumps(doc))
    commit_all(repo)
    return repo


def ranked_ids(cli: Cli, repo: Path, *args: str) -> list[str]:
    res = cli(["rank", "--format", "json", *args], repo)
    assert res.code in (0, 1), res
    return [r["id"] for r in json.loads(res.out)["ranking"]]


def test_the_issues_example_expression(xcli: Cli, tagged: Path) -> None:
    expr = "metrics.seg_total > 56 and params.lr <= 1e-3 or tags.model = 'fno'"
    assert ranked_ids(xcli, tagged, "--where", expr) == ["fno-1", "unet-1", "fno-2"]
    assert ranked_ids(xcli, tagged, "--where", "params.lr <= 1e-3") == ["fno-1", "unet-1"]
    assert ranked_ids(xcli, tagged, "--where", "not tags.model = 'fno'") == ["unet-1"]
    assert ranked_ids(xcli, tagged, "--where", "tags.big") == ["fno-2"]
    assert ranked_ids(xcli, tagged, "--where", "params.lr in ('0.01', 1e-4)") == [
        "unet-1",
        "fno-2",
    ]


def test_where_filters_before_ranking(xcli: Cli, seed: Path) -> None:
    """Ranks and best runs are those of the matching runs."""
    res = xcli(["rank", "--format", "json", "--where", "metrics.seg_total < 57"], seed)
    data = json.loads(res.out)
    assert [(r["id"], r["rank"]) for r in data["ranking"]] == [
        ("exp-005", 1),
        ("exp-006", 2),
        ("exp-007", 3),
        ("exp-004", None),
    ]
    assert data["best_any"] == "exp-005" and data["best_feasible"] == "exp-005"


def test_a_where_matching_nothing_says_so(xcli: Cli, seed: Path) -> None:
    res = xcli(["rank", "--where", "metrics.seg_total > 100"], seed)
    assert res.code == 1  # no feasible run
    assert "no ranked run matches --where" in res.err
    assert res.out.splitlines()[-1] == "best_any: -   best_feasible: -"


def test_json_rows_carry_study_status_all_params_and_splits(xcli: Cli, seed: Path) -> None:
    """Every parameter, not only those the policy's rules read (the audit's cache keeps
    only those): a filter or a column on lr must see it."""
    data = json.loads(xcli(["rank", "--format", "json"], seed).out)
    row = next(r for r in data["ranking"] if r["id"] == "exp-001")
    assert row["study"] == "pdebench-task1" and row["status"] == "success"
    assert row["params"] == {"lr": 0.001, "Args/--sub_step": 5}
    assert row["splits"] == {"holdout": {"seg_total": 55.2}}


def test_columns_in_every_table_format(seed: Path) -> None:
    args = ["rank", "--columns", "params.lr,splits.holdout.seg_total,params.nope"]
    res = run_cli(args, seed)
    assert res.code == 0, res.err
    header, _, first, *_ = res.out.splitlines()
    assert header.split()[-5:] == [
        "params.lr",
        "splits.holdout.seg_total",
        "params.nope",
        "failed",
        "checks",
    ]
    assert first.split()[:2] == ["1", "exp-001"] and first.split()[-3:] == ["0.001", "55.2", "-"]
    table = list(csv.reader(io.StringIO(run_cli([*args, "--format", "csv"], seed).out)))
    assert table[0][-4:] == [
        "params.lr",
        "splits.holdout.seg_total",
        "params.nope",
        "failed checks",
    ]
    assert table[1][-4:-1] == ["0.001", "55.2", ""]
    md = run_cli([*args, "--format", "md"], seed).out.splitlines()
    assert md[0].endswith(
        "| params.lr | splits.holdout.seg\\_total | params.nope | failed checks |"
    )


def test_bad_columns_and_where_are_usage_errors(xcli: Cli, seed: Path) -> None:
    res = xcli(["rank", "--columns", "params.lr,,study"], seed)
    assert res.code == 2 and "--columns: column 11: expected a field" in res.err
    res = xcli(["rank", "--where", "splits.holdout.seg_totl > 1"], seed)
    assert res.code == 2
    assert res.err.strip() == (
        "expflow-git: error: --where: column 1: unknown metric 'seg_totl' in "
        "splits.holdout.seg_totl (did you mean 'seg_total'?)"
    )


def test_study_with_no_match_says_so(xcli: Cli, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "a1", m(60), study="alpha")
    add_run(repo, "b1", m(60), study="beta")
    commit_all(repo)
    res = xcli(["rank", "--study", "alhpa"], repo)
    assert res.code == 1
    assert "no run in study 'alhpa' (did you mean 'alpha'?); studies here: alpha, beta" in res.err
    assert xcli(["rank", "--study", "alpha"], repo).code == 0
