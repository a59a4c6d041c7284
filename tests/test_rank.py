"""`rank` (compare-scores) on real repositories: docs/spec.md §6.2's `rank` paragraph and issue 3.

Ordering, ranks, feasibility and failed checks; filters; every output format;
threshold semantics; committed files only; one-line exit-2 errors.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
from helpers_audit import (
    POLICY,
    STUDY,
    Cli,
    add_run,
    assert_one_error_line,
    commit_all,
    copy_repo,
    git,
    init_repo,
    m,
    new_repo,
    run_cli,
    seed_repo,
    write,
    write_json,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from expflow_git.audit.ranking import best_any, rank
from expflow_git.checks import CheckKind, Outcome, RunVerdict

DONE_WHEN = [
    "rank",
    "--sort-by",
    "pde_mean",
    "--ascending",
    "--gate",
    "pde_mean:lt:18.09",
    "--gate",
    "train_time_min:lt:60",
]


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed example, read-only for every test in this module."""
    return seed_repo(tmp_path_factory.mktemp("seed") / "repo")


def rank_json(cli: Cli, repo: Path, *args: str) -> dict:
    res = cli(["rank", "--format", "json", *args], repo)
    assert res.code in (0, 1), res
    return json.loads(res.out)


def ids(data: dict) -> list[str]:
    return [r["id"] for r in data["ranking"]]


def names(failed: list[str]) -> list[str]:
    """Failed entries read "name (detail)": the check names alone."""
    return [f.split(" (", 1)[0] for f in failed]


# ----------------------------------------------------------------------------- the seed example


def test_done_when_command_gives_the_right_leaderboard(seed: Path) -> None:
    """Issue 3 "Done when": the real CLI, as a subprocess, on the seed example."""
    res = run_cli([*DONE_WHEN, "--format", "json"], seed)
    assert res.code == 0, res
    data = json.loads(res.out)
    assert set(data) == {"ranking", "best_any", "best_feasible", "attempts"}
    rows = [
        (r["id"], r["rank"], r["feasible"], sorted(set(names(r["failed"]))))
        for r in data["ranking"]
    ]
    assert rows == [
        ("exp-006", 1, True, []),
        ("exp-001", 2, True, []),
        ("exp-007", 3, True, []),
        ("exp-005", 4, True, []),
        # infeasible, sorted the same way (pde_mean ascending), unranked
        ("exp-004", None, False, ["train_time_min:lt:60"]),
        ("exp-003", None, False, ["sub_step:gt:0"]),
        ("exp-002", None, False, ["pde_mean:lt:18.09"]),
    ]
    assert data["best_any"] == "exp-006"
    assert data["best_feasible"] == "exp-006"
    by_id = {r["id"]: r for r in data["ranking"]}
    assert by_id["exp-001"]["metrics"] == {
        "seg_total": 57.09,
        "pde_mean": 15.0,
        "train_time_min": 45.5,
    }
    assert any("19.7" in f for f in by_id["exp-002"]["failed"])


def test_done_when_table(seed: Path) -> None:
    res = run_cli(DONE_WHEN, seed)
    assert res.code == 0, res
    out = res.out.splitlines()
    lines = out[: out.index("")]  # the table; every attempt is counted under it
    assert lines[0].split()[:4] == ["rank", "id", "study", "feasible"]
    body = [line.split()[:4] for line in lines[2:]]
    assert body == [
        ["1", "exp-006", STUDY, "yes"],
        ["2", "exp-001", STUDY, "yes"],
        ["3", "exp-007", STUDY, "yes"],
        ["4", "exp-005", STUDY, "yes"],
        ["-", "exp-004", STUDY, "NO"],
        ["-", "exp-003", STUDY, "NO"],
        ["-", "exp-002", STUDY, "NO"],
    ]
    assert "sub_step:gt:0" in lines[-2]
    assert out[len(lines) + 1].startswith("attempts: 7 record(s): 7 success")
    # issue 16: the best runs are part of the output (stdout), its last line
    assert out[-1] == "best_any: exp-006   best_feasible: exp-006"


def test_a_gate_repeating_a_threshold_is_not_reported_twice(xcli: Cli, seed: Path) -> None:
    data = rank_json(xcli, seed, *DONE_WHEN[1:])
    for row in data["ranking"]:
        assert len(names(row["failed"])) == len(set(names(row["failed"]))), row


def test_default_ranking_is_feasible_first(xcli: Cli, seed: Path) -> None:
    data = rank_json(xcli, seed)
    assert ids(data) == [
        "exp-001",
        "exp-005",
        "exp-006",
        "exp-007",
        "exp-002",
        "exp-003",
        "exp-004",
    ]
    assert [r["rank"] for r in data["ranking"]] == [1, 2, 3, 4, None, None, None]
    # the best score overall is not the best run that obeys every rule
    assert data["best_any"] == "exp-002"
    assert data["best_feasible"] == "exp-001"
    failed = {r["id"]: names(r["failed"]) for r in data["ranking"]}
    assert failed["exp-002"] == ["pde_mean:lt:18.09"]
    assert failed["exp-003"] == ["sub_step:gt:0"]
    assert failed["exp-004"] == ["train_time_min:lt:60"]


def test_descending_reverses_the_sort_metric_only(xcli: Cli, seed: Path) -> None:
    data = rank_json(xcli, seed, "--ascending")
    assert ids(data)[:4] == ["exp-007", "exp-006", "exp-005", "exp-001"]
    assert ids(data)[4:] == ["exp-004", "exp-003", "exp-002"]
    assert data["best_any"] == "exp-007"


def test_sort_by_the_policys_own_metric_keeps_its_order(
    xcli: Cli, seed: Path, tmp_path: Path
) -> None:
    """`--sort-by` naming the policy's own sort metric took the metric's
    higher_is_better and dropped `ranking.order`: the board and best runs reversed
    against plain `rank` and the audit (a differential hunt, thirtieth pass)."""
    repo = copy_repo(seed, tmp_path / "asc")
    policy = (repo / "expflow.yaml").read_text()
    assert "  sort_by: seg_total\n" in policy
    write(
        repo,
        "expflow.yaml",
        policy.replace("  sort_by: seg_total\n", "  sort_by: seg_total\n  order: asc\n"),
    )
    commit_all(repo, "ascending")
    plain = rank_json(xcli, repo)
    assert plain["best_any"] == "exp-007"  # the lowest seg_total
    assert rank_json(xcli, repo, "--sort-by", "seg_total") == plain
    assert ids(rank_json(xcli, repo, "--sort-by", "seg_total", "--descending"))[0] != "exp-007"


def test_a_gate_can_make_every_run_infeasible_exit_1(xcli: Cli, seed: Path) -> None:
    res = xcli(["rank", "--gate", "seg_total:gt:100", "--format", "json"], seed)
    assert res.code == 1
    data = json.loads(res.out)
    assert data["best_feasible"] is None
    assert data["best_any"] == "exp-002"
    assert all(r["rank"] is None and not r["feasible"] for r in data["ranking"])
    assert all("seg_total:gt:100" in names(r["failed"]) for r in data["ranking"])


# ----------------------------------------------------------------------------- ordering rules


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo")


def test_runs_missing_the_sort_metric_are_last_in_both_directions(xcli: Cli, repo: Path) -> None:
    add_run(repo, "a", m(50, seg1=1.0))
    add_run(repo, "b", m(51, seg1=3.0))
    add_run(repo, "c", m(99))  # feasible, no seg1
    add_run(repo, "d", m(98, pde=30.0))  # infeasible, no seg1
    add_run(repo, "e", m(40, pde=30.0, seg1=2.0))  # infeasible, has seg1
    commit_all(repo)
    asc = rank_json(xcli, repo, "--sort-by", "seg1", "--ascending")
    desc = rank_json(xcli, repo, "--sort-by", "seg1", "--descending")
    assert ids(asc) == ["a", "b", "c", "e", "d"]
    assert ids(desc) == ["b", "a", "c", "e", "d"]
    for data in (asc, desc):
        ranks = {r["id"]: r["rank"] for r in data["ranking"]}
        assert ranks["c"] is None  # feasible but unranked: no sort metric
        assert ranks["d"] is None and ranks["e"] is None
        assert sorted(r for r in ranks.values() if r is not None) == [1, 2]
        assert data["best_feasible"] == ids(data)[0]
    assert asc["best_any"] == "a" and desc["best_any"] == "b"


def test_rank_exits_0_when_the_only_feasible_run_is_unranked(xcli: Cli, repo: Path) -> None:
    """The one feasible run lacks the sort metric: the audit passes (a run is feasible,
    docs/spec.md §6.2) and `rank` exited 1 for "nothing ranked", where the spec says it
    exits 1 when no run is feasible (a differential fuzzer's find)."""
    add_run(repo, "c", m(99))  # feasible, no seg1
    add_run(repo, "d", m(98, pde=30.0, seg1=1.0))  # infeasible
    commit_all(repo)
    res = xcli(["rank", "--sort-by", "seg1", "--format", "json"], repo)
    data = json.loads(res.out)
    assert data["best_feasible"] is None
    assert [(r["id"], r["rank"], r["feasible"]) for r in data["ranking"]] == [
        ("c", None, True),
        ("d", None, False),
    ]
    assert res.code == 0, res
    assert xcli(["audit"], repo).code == 0
    assert xcli(["rank", "--sort-by", "seg1", "--gate", "seg_total:gt:100"], repo).code == 1


def test_a_run_missing_a_required_metric_fails_and_sorts_last(xcli: Cli, repo: Path) -> None:
    add_run(repo, "full", m(50, pde=17.0))
    add_run(repo, "nopde", {"seg_total": 90.0, "train_time_min": 10.0})
    commit_all(repo)
    for direction in ("--ascending", "--descending"):
        data = rank_json(xcli, repo, "--sort-by", "pde_mean", direction)
        assert ids(data) == ["full", "nopde"]
        row = data["ranking"][1]
        assert row["rank"] is None and row["feasible"] is False
        assert "required:pde_mean" in names(row["failed"])
        assert any(f.startswith("pde_mean:lt:18.09") and "missing" in f for f in row["failed"])


def test_ties_broken_by_tie_break_then_id(xcli: Cli, repo: Path) -> None:
    add_run(repo, "t-d", m(50, pde=10.0))
    add_run(repo, "t-a", m(50, pde=12.0))
    add_run(repo, "t-b", m(50, pde=10.0))
    add_run(repo, "t-c", m(50, pde=11.0))
    commit_all(repo)
    for args in ((), ("--ascending",), ("--descending",)):
        data = rank_json(xcli, repo, *args)
        # pde_mean (lower is better, its registry direction), then id ascending
        assert ids(data) == ["t-b", "t-d", "t-c", "t-a"], args
        assert [r["rank"] for r in data["ranking"]] == [1, 2, 3, 4]
        assert data["best_any"] == "t-b" and data["best_feasible"] == "t-b"


def test_study_tag_and_top_filters(xcli: Cli, repo: Path) -> None:
    add_run(repo, "a1", m(60), study="alpha", tags=("fno", "big"))
    add_run(repo, "a2", m(55), study="alpha", tags=("fno",))
    add_run(repo, "a3", m(70, minutes=90.0), study="alpha", tags=("unet", "big"))
    add_run(repo, "b1", m(80), study="beta", tags=("fno", "big"))
    commit_all(repo)
    assert ids(rank_json(xcli, repo)) == ["b1", "a1", "a2", "a3"]
    alpha = rank_json(xcli, repo, "--study", "alpha")
    assert ids(alpha) == ["a1", "a2", "a3"]
    assert alpha["best_feasible"] == "a1" and alpha["best_any"] == "a3"
    assert ids(rank_json(xcli, repo, "--tag", "fno")) == ["b1", "a1", "a2"]
    # repeated --tag: runs carrying all of them
    assert ids(rank_json(xcli, repo, "--tag", "fno", "--tag", "big")) == ["b1", "a1"]
    assert ids(rank_json(xcli, repo, "--study", "alpha", "--tag", "big")) == ["a1", "a3"]
    top = rank_json(xcli, repo, "--top", "2")
    assert ids(top) == ["b1", "a1"]
    assert [r["rank"] for r in top["ranking"]] == [1, 2]
    assert ids(rank_json(xcli, repo, "--study", "nobody")) == []
    res = xcli(["rank", "--top", "0"], repo)
    assert res.code == 2


# ----------------------------------------------------------------------------- formats


def test_json_shape(xcli: Cli, seed: Path) -> None:
    data = rank_json(xcli, seed)
    assert list(data) == ["ranking", "best_any", "best_feasible", "attempts"]
    for row in data["ranking"]:
        assert list(row) == [
            "id",
            "rank",
            "feasible",
            "metrics",
            "failed",
            "warnings",
            "study",
            "status",
            "params",
            "splits",
        ]
        assert isinstance(row["failed"], list)
        assert isinstance(row["feasible"], bool)
        assert all(isinstance(v, float) for v in row["metrics"].values())


def test_md_format(xcli: Cli, seed: Path) -> None:
    res = xcli(["rank", "--format", "md"], seed)
    assert res.code == 0
    lines = res.out.strip().split("\n")
    lines = lines[: lines.index("")]  # the table; every attempt is counted under it
    assert lines[0].startswith("| rank | id | study | feasible |")
    assert lines[1].startswith("|---|")
    assert len(lines) == 2 + 7
    assert lines[2].startswith("| 1 | exp-001 |")
    assert lines[6].startswith("| - | exp-002 |")
    # Markdown-sensitive characters are escaped
    assert "pde\\_mean:lt:18.09 (19.7 not \\< 18.09)" in lines[6]


def _csv(xcli: Cli, seed: Path) -> list[dict[str, str]]:
    res = xcli(["rank", "--format", "csv"], seed)
    assert res.code == 0
    return list(csv.DictReader(io.StringIO(res.out)))


def test_csv_format(xcli: Cli, seed: Path) -> None:
    rows = _csv(xcli, seed)
    assert [r["id"] for r in rows] == [
        "exp-001",
        "exp-005",
        "exp-006",
        "exp-007",
        "exp-002",
        "exp-003",
        "exp-004",
    ]
    assert rows[0]["rank"] == "1" and rows[4]["rank"] == ""
    assert rows[0]["seg_total"] == "57.09"
    assert rows[4]["failed checks"] == "pde_mean:lt:18.09 (19.7 not < 18.09)"


def test_csv_empty_cells_stay_empty(xcli: Cli, seed: Path) -> None:
    rows = _csv(xcli, seed)
    assert rows[0]["failed checks"] == ""


# ----------------------------------------------------------------------------- thresholds


THRESHOLD_POLICY = POLICY.replace(
    "seg1: {group: Score, higher_is_better: true}",
    "seg1: {group: Score, higher_is_better: true, threshold: 0.5}",
)


def test_threshold_semantics_are_strict(xcli: Cli, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", THRESHOLD_POLICY)
    add_run(repo, "pde-equal", m(50, pde=18.09, seg1=0.9))
    add_run(repo, "pde-below", m(50, pde=18.0899, seg1=0.9))
    add_run(repo, "time-equal", m(50, minutes=60, seg1=0.9))
    add_run(repo, "time-below", m(50, minutes=59.99, seg1=0.9))
    add_run(repo, "hib-equal", m(50, seg1=0.5))  # higher is better: passes iff > threshold
    add_run(repo, "hib-above", m(50, seg1=0.5001))
    commit_all(repo)
    data = rank_json(xcli, repo)
    feasible = {r["id"]: r["feasible"] for r in data["ranking"]}
    failed = {r["id"]: names(r["failed"]) for r in data["ranking"]}
    assert feasible == {
        "pde-equal": False,
        "pde-below": True,
        "time-equal": False,
        "time-below": True,
        "hib-equal": False,
        "hib-above": True,
    }
    assert failed["pde-equal"] == ["pde_mean:lt:18.09"]
    assert failed["time-equal"] == ["train_time_min:lt:60"]
    assert failed["hib-equal"] == ["seg1:gt:0.5"]


@pytest.mark.parametrize(
    ("gate", "passes"),
    [
        ("seg_total:lt:50", False),
        ("seg_total:le:50", True),
        ("seg_total:gt:50", False),
        ("seg_total:ge:50", True),
        ("seg_total:eq:50", True),
        ("seg_total:ne:50", False),
        ("seg1:ge:0", False),  # the run lacks seg1: fails as `missing`
    ],
)
def test_gate_operators_at_the_boundary(xcli: Cli, repo: Path, gate: str, passes: bool) -> None:
    add_run(repo, "x", m(50))
    commit_all(repo)
    res = xcli(["rank", "--format", "json", "--gate", gate], repo)
    row = json.loads(res.out)["ranking"][0]
    assert row["feasible"] is passes
    assert res.code == (0 if passes else 1)
    if not passes:
        assert names(row["failed"]) == [gate]
    if gate.startswith("seg1"):
        assert row["failed"] == [f"{gate} (missing)"]


# ----------------------------------------------------------------------------- committed only


def test_uncommitted_edits_do_not_change_the_ranking(xcli: Cli, seed: Path, tmp_path: Path) -> None:
    repo = copy_repo(seed, tmp_path / "repo")
    before = xcli(["rank", "--format", "json"], repo).out
    # a staged edit, an unstaged edit, a new untracked run and a deleted record
    write_json(repo, f"results/{STUDY}/exp-007.json", json.loads('{"nonsense": true}'))
    res_path = repo / "results" / STUDY / "exp-002.json"
    doc = json.loads(res_path.read_text())
    doc["metrics"]["pde_mean"] = 1.0
    res_path.write_text(json.dumps(doc))
    git(repo, "add", "-A")
    add_run(repo, "exp-999", m(99.0))
    (repo / "experiments" / STUDY / "exp-001.json").unlink()
    write(repo, "expflow.yaml", "broken: [")
    after = xcli(["rank", "--format", "json"], repo)
    assert after.code == 0
    assert after.out == before
    assert json.loads(after.out)["best_feasible"] == "exp-001"


def test_rev_reads_an_older_commit(xcli: Cli, seed: Path, tmp_path: Path) -> None:
    repo = copy_repo(seed, tmp_path / "repo")
    first = git(repo, "rev-parse", "HEAD")
    add_run(repo, "exp-999", m(99.0))
    commit_all(repo, "a new leader", date="2026-11-21T10:00:00+00:00")
    assert rank_json(xcli, repo)["best_feasible"] == "exp-999"
    assert rank_json(xcli, repo, "--rev", first)["best_feasible"] == "exp-001"
    assert rank_json(xcli, repo, "--rev", "HEAD~1")["best_feasible"] == "exp-001"


# ----------------------------------------------------------------------------- errors


def test_not_a_git_repository(xcli: Cli, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    res = xcli(["rank"], plain, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert_one_error_line(res, 2, "not a git repository")


def test_repository_without_commits(xcli: Cli, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    res = xcli(["rank"], repo)
    assert_one_error_line(res, 2, "no commits")


def test_unknown_revision(xcli: Cli, seed: Path) -> None:
    assert_one_error_line(xcli(["rank", "--rev", "no-such-branch"], seed), 2, "no-such-branch")
    assert_one_error_line(xcli(["rank", "--rev", "0" * 40], seed), 2, "unknown revision")


def test_no_policy_at_that_revision(xcli: Cli, tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo, "README.md", "hello\n")
    first = commit_all(repo, "no policy yet")
    write(repo, "expflow.yaml", POLICY)
    add_run(repo, "a", m(50))
    commit_all(repo, "policy")
    assert xcli(["rank"], repo).code == 0
    assert_one_error_line(xcli(["rank", "--rev", first], repo), 2, "expflow.yaml", "no policy")
    assert_one_error_line(xcli(["rank", "--policy", "other.yaml"], repo), 2, "other.yaml")


def test_broken_policy_is_a_configuration_error(xcli: Cli, repo: Path) -> None:
    write(repo, "expflow.yaml", POLICY + "rnaking: {}\n")
    commit_all(repo)
    assert_one_error_line(xcli(["rank"], repo), 2, "rnaking", "did you mean")


@pytest.mark.parametrize(
    ("gate", "needle"),
    [
        ("pde_mean", "malformed"),
        ("pde_mean:lt", "malformed"),
        ("pde_mean:lt:1:2", "malformed"),
        ("pde_mean::1", "malformed"),
        ("pde_mean:below:1", "unknown operator"),
        ("nosuch:lt:1", "unknown metric"),
        ("pde_mean:lt:abc", "not a number"),
        ("pde_mean:lt:nan", "not a number"),
        ("pde_mean:lt:inf", "not a number"),
        ("pde_mean:lt:1e999", "not a finite number"),
    ],
)
def test_malformed_gate(xcli: Cli, seed: Path, gate: str, needle: str) -> None:
    assert_one_error_line(xcli(["rank", "--gate", gate], seed), 2, needle)


def test_unknown_sort_metric(xcli: Cli, seed: Path) -> None:
    res = xcli(["rank", "--sort-by", "seg_totl"], seed)
    assert_one_error_line(res, 2, "seg_totl", "did you mean 'seg_total'")


def test_errors_through_the_real_cli_have_no_traceback(seed: Path) -> None:
    res = run_cli(["rank", "--gate", "pde_mean:lt"], seed)
    assert res.code == 2
    assert res.out == ""
    assert len(res.err.strip().splitlines()) == 1
    assert "Traceback" not in res.err


@pytest.mark.parametrize("given", [".expflow/policy.yaml", "./.expflow/policy.yaml"])
def test_policy_in_a_dot_directory(xcli: Cli, tmp_path: Path, given: str) -> None:
    """`--policy` strips a leading "./", not every leading dot and slash."""
    repo = init_repo(tmp_path / "repo")
    write(repo, ".expflow/policy.yaml", POLICY)
    add_run(repo, "a", m(50))
    commit_all(repo, "policy in .expflow/")
    res = xcli(["rank", "--policy", given, "--format", "json"], repo)
    assert res.code == 0, res.err
    assert [r["id"] for r in json.loads(res.out)["ranking"]] == ["a"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d", "e"]),
            st.dictionaries(
                st.sampled_from(["seg_total", "pde_mean"]),
                st.sampled_from([1.0, 2.0, 2.5, -1.0]),
            ),
            st.booleans(),
        ),
        max_size=8,
    )
)
def test_leaderboard_best_any_is_best_any_of_the_runs(
    runs: list[tuple[str, dict[str, float], bool]],
) -> None:
    """The leaderboard's best_any (one sort for both orders) equals `best_any`'s."""
    keys = [("seg_total", True), ("pde_mean", False)]
    failed = (Outcome(CheckKind.GATE, "g", False, "x"),)
    verdicts = [
        RunVerdict(i, "s", (), f"results/{i}.json", m, {}, () if ok else failed)
        for i, m, ok in runs
    ]
    board = rank(verdicts, keys)
    assert board.best_any == best_any([(v.id, v.metrics) for v in verdicts], keys)
    ranked = [r for r in board.runs if r.rank is not None]
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dictionaries(
                st.sampled_from(["seg_total", "pde_mean", "f1"]),
                # Ties, ints equal to floats, signed zeros, an int a float cannot hold,
                # ints beyond every float (one rounds up to overflow), and infinities.
                st.sampled_from(
                    [1, 1.0, 2.5, -1.0, 0.0, -0.0, 2**60 + 1, 2**60]
                    + [10**400, -(10**400), 2**1024 - 2**970, math.inf, -math.inf]
                ),
            ),
            st.booleans(),
        ),
        max_size=12,
    ),
    st.lists(
        st.tuples(st.sampled_from(["seg_total", "pde_mean", "f1"]), st.booleans()),
        min_size=1,
        max_size=3,
        unique_by=lambda key: key[0],
    ),
    st.randoms(use_true_random=False),
)
def test_rank_orders_runs_as_order_key_does(
    runs: list[tuple[dict[str, float], bool]], keys: list[tuple[str, bool]], rng: object
) -> None:
    """The leaderboard is in `order_key`'s order (what `verify --recompute` checks a
    report's ranking by), whatever order the runs come in; runs whose keys are all equal
    (an id used twice) stay in the order they came in, as `sorted` keeps them."""
    from expflow_git.audit.ranking import order_key

    failed = (Outcome(CheckKind.GATE, "g", False, "x"),)
    verdicts = [
        RunVerdict(f"r{i % 7:02d}", "s", (), f"results/r{i:02d}.json", m, {}, () if ok else failed)
        for i, (m, ok) in enumerate(runs)
    ]
    rng.shuffle(verdicts)  # type: ignore[attr-defined]
    board = rank(verdicts, keys)
    want = sorted(verdicts, key=lambda v: order_key(v.metrics, v.id, v.feasible, keys))
    assert [r.verdict.path for r in board.runs] == [v.path for v in want]
    ranked = [r.verdict.path for r in board.runs if r.rank is not None]
    assert ranked == [v.path for v in want if v.feasible and keys[0][0] in v.metrics]
