"""`list`, `show ID` and `compare ID ID…` through the real CLI in real repositories
(issue 16 item 6, docs/spec.md §4): every run whatever its status, the work tree or a
commit, the verdict with every check, the history in one `git log`, direction-aware
deltas, and every string from the repository escaped for its sink."""

from __future__ import annotations

import csv
import io
import json
import shlex
from pathlib import Path

import pytest
from conftest import PROJECT, ExpRepo, assert_clean_output, run_cli

from expflow_git.escape import csv_cell


@pytest.fixture
def runs(exp_repo: ExpRepo) -> ExpRepo:
    """Three successful runs committed, one failed and one pending run in the work tree
    only, and one skipped run committed without a result."""
    r = exp_repo
    r.add_experiment("exp-001")
    r.add_result("exp-001", splits={"holdout": {"seg_total": 55.2}})
    r.add_experiment("exp-002", params={"Args/--sub_step": 3, "lr": "0.01", "model": "unet"})
    r.add_result(
        "exp-002",
        metrics={"seg_total": 61.4, "pde_mean": 19.7, "train_time_min": 52.0},
        splits={"holdout": {"seg_total": 58.9}},
    )
    r.add_experiment("exp-003", tags=["task1", "model:fno"], params={"sub_step": 0, "lr": 5e-4})
    r.add_result("exp-003", metrics={"seg_total": 59.8, "pde_mean": 16.1, "train_time_min": 38.0})
    r.add_experiment("exp-004", status="skipped", reason="budget spent")
    r.commit("three runs")
    r.add_experiment("exp-005", status="failed", reason="CUDA out of memory")
    r.add_experiment("exp-006", status="pending", study="other-study")
    return r


def cli(repo: ExpRepo, *args: str) -> tuple[int, str, str]:
    res = run_cli(list(args), cwd=repo.path)
    assert_clean_output(res.out, res.err)
    return res


def listed(repo: ExpRepo, *args: str) -> list[dict]:
    code, out, err = cli(repo, "list", "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)["runs"]


def ids(rows: list[dict]) -> list[str]:
    return [r["id"] for r in rows]


# ----------------------------------------------------------------------------- list


def test_list_shows_every_run_of_the_work_tree_whatever_its_status(runs: ExpRepo) -> None:
    code, out, err = cli(runs, "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "id",
        "study",
        "status",
        "seg_total",  # the ranking metric, then the gate (threshold) metrics
        "pde_mean",
        "train_time_min",
        "reason",
    ]
    rows = {ln.split()[0]: ln for ln in lines[2:]}
    assert set(rows) == {"exp-001", "exp-002", "exp-003", "exp-004", "exp-005", "exp-006"}
    assert "failed" in rows["exp-005"] and "CUDA out of memory" in rows["exp-005"]
    assert "skipped" in rows["exp-004"] and "budget spent" in rows["exp-004"]
    assert rows["exp-002"].split()[3:6] == ["61.4", "19.7", "52"]


def test_list_rev_reads_the_commit_not_the_work_tree(runs: ExpRepo) -> None:
    assert ids(listed(runs, "--rev", "HEAD")) == ["exp-001", "exp-002", "exp-003", "exp-004"]
    rows = listed(runs)
    assert ids(rows) == ["exp-006", "exp-001", "exp-002", "exp-003", "exp-004", "exp-005"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["exp-005"]["status"] == "failed"
    assert by_id["exp-005"]["reason"] == "CUDA out of memory"
    assert by_id["exp-001"]["splits"] == {"holdout": {"seg_total": 55.2}}
    assert by_id["exp-001"]["result"] == "results/pdebench-task1/exp-001.json"
    assert by_id["exp-004"]["result"] is None and by_id["exp-004"]["metrics"] == {}


def test_list_filters(runs: ExpRepo) -> None:
    assert ids(listed(runs, "--status", "failed", "--status", "skipped")) == ["exp-004", "exp-005"]
    assert ids(listed(runs, "--study", "other-study")) == ["exp-006"]
    # params spelled as numbers in strings ("0.01") compare as numbers
    assert ids(listed(runs, "--where", "params.sub_step < 4")) == ["exp-002", "exp-003"]
    assert ids(listed(runs, "--where", "params.lr >= 1e-2")) == ["exp-002"]
    assert ids(listed(runs, "--where", "tags.model = 'fno' or params.model = 'unet'")) == [
        "exp-002",
        "exp-003",
    ]
    assert ids(listed(runs, "--where", "metrics.pde_mean < 17 and not tags.model")) == ["exp-001"]
    assert ids(listed(runs, "--where", "status != 'success'")) == ["exp-006", "exp-004", "exp-005"]


def test_list_study_with_no_match_says_so(runs: ExpRepo) -> None:
    code, out, err = cli(runs, "list", "--study", "pdebench-task2")
    assert code == 0
    assert len(out.splitlines()) == 2  # the header alone
    assert "no run in study 'pdebench-task2' (did you mean 'pdebench-task1'?)" in err
    code, _, err = cli(runs, "list", "--where", "metrics.seg_total > 1000")
    assert code == 0 and "no run matches" in err


@pytest.mark.parametrize(
    ("expr", "column", "words"),
    [
        ("metrics.seg_total >", 20, "expected a value"),
        ("metrics.seg_totl > 5", 1, "unknown metric 'seg_totl' in metrics.seg_totl (did you mean"),
        ("status = 'sucess'", 1, "did you mean 'success'"),
        ("params.lr <= 1e-3 and (tags.fno", 32, "expected ')'"),
    ],
)
def test_a_bad_expression_is_exit_2_with_its_column(
    runs: ExpRepo, expr: str, column: int, words: str
) -> None:
    for command in (["list"], ["rank"]):
        code, out, err = cli(runs, *command, "--where", expr)
        assert code == 2, (command, err)
        assert out == ""
        assert err.count("\n") == 1, err
        assert err.startswith(f"expflow-git: error: --where: column {column}: "), err
        assert words in err


def test_list_columns_and_formats(runs: ExpRepo) -> None:
    code, out, err = cli(
        runs, "list", "--columns", "params.lr,splits.holdout.seg_total", "--status", "success"
    )
    assert code == 0, err
    header, _, *body = out.splitlines()
    assert header.split()[-3:] == ["params.lr", "splits.holdout.seg_total", "reason"]
    assert body[0].split()[-2:] == ["0.001", "55.2"]
    assert body[2].split()[-2:] == ["0.0005", "-"]
    code, out, _ = cli(runs, "list", "--format", "csv", "--columns", "params.lr")
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == [
        "id",
        "study",
        "status",
        "seg_total",
        "pde_mean",
        "train_time_min",
        "params.lr",
        "reason",
    ]
    assert len(table) == 7
    code, out, _ = cli(runs, "list", "--format", "md")
    assert out.splitlines()[1].startswith("|---|")
    code, _, err = cli(runs, "list", "--columns", "params.lr,metrics.seg_totl")
    assert code == 2 and "--columns: column 11: unknown metric 'seg_totl'" in err


EVIL_REASON = '=HYPERLINK("http://x")\x1b[2J|*b*|\n::error::forged'


def test_hostile_strings_are_escaped_for_every_sink(exp_repo: ExpRepo) -> None:
    exp_repo.add_experiment(
        "exp-009", status="failed", reason=EVIL_REASON, title="\u202eevil", tags=["a:b"]
    )
    code, out, _ = cli(exp_repo, "list")
    assert code == 0
    assert "\x1b" not in out and "\\x1b[2J" in out
    assert "\n::error" not in out and "\\x0a::error::forged" in out
    code, out, _ = cli(exp_repo, "list", "--format", "csv")
    cell = list(csv.reader(io.StringIO(out)))[1][-1]
    # JSON-quoted, as every CSV of runs writes text holding an escape (no formula: its
    # `"` comes first; thirty-eighth pass), and read back exactly
    assert cell == csv_cell(cell) and json.loads(cell) == EVIL_REASON
    code, out, _ = cli(exp_repo, "list", "--format", "md")
    row = out.splitlines()[2]
    assert "\\|\\*b\\*\\|" in row and row.count(" | ") == 6
    code, out, _ = cli(exp_repo, "list", "--format", "json")
    assert "\\u001b" in out and json.loads(out)["runs"][0]["reason"] == EVIL_REASON
    code, out, _ = cli(exp_repo, "show", "exp-009")
    assert code == 0 and "\x1b" not in out and "\u202e" not in out and "\\u202eevil" in out


# ----------------------------------------------------------------------------- show


def test_show_gives_record_result_verdict_and_every_check(runs: ExpRepo) -> None:
    code, out, err = cli(runs, "show", "exp-002")
    assert code == 0, err
    assert out.startswith("exp-002  (pdebench-task1, success)\n")
    # a string param in quotes, as `compare` shows it (a twenty-fifth pass hunt)
    assert "  Args/--sub_step = 3\n" in out and '  lr = "0.01"\n' in out
    assert "metrics\n  pde_mean = 19.7\n  seg_total = 61.4\n  train_time_min = 52\n" in out
    assert "split holdout\n  seg_total = 58.9\n" in out
    assert "  INFEASIBLE, unranked (fails a check)\n" in out
    assert "  FAIL  threshold pde_mean:lt:18.09 (19.7 not < 18.09)\n" in out
    assert "  pass  threshold train_time_min:lt:60\n" in out
    assert "  pass  required  required:seg_total\n" in out
    assert "  pass  rule      sub_step:gt:0\n" in out
    code, out, _ = cli(runs, "show", "exp-001", "--format", "json")
    doc = json.loads(out)
    verdict = doc["verdict"]
    assert verdict["ranked"] and verdict["feasible"] and verdict["rank"] == 1
    assert verdict["ranked_runs"] == 1 and verdict["best_feasible"] == "exp-001"
    assert verdict["best_any"] == "exp-002"
    assert {c["kind"] for c in verdict["checks"]} == {"threshold", "required", "rule"}
    assert all(c["passed"] for c in verdict["checks"])


def test_show_a_run_that_is_not_ranked(runs: ExpRepo) -> None:
    code, out, _ = cli(runs, "show", "exp-005")
    assert code == 0
    assert "  reason:   CUDA out of memory\n" in out
    assert "  not ranked: status failed: CUDA out of memory\n" in out
    assert "history\n  not committed" in out
    code, out, _ = cli(runs, "show", "exp-004", "--rev", "HEAD")
    assert code == 0 and "not ranked: status skipped: budget spent" in out


@pytest.mark.parametrize("rev", [[], ["--rev", "HEAD"]])
def test_show_and_compare_say_a_result_was_left_out(runs: ExpRepo, rev: list[str]) -> None:
    """A result that fails its checks is left out of the runs: `show` printed `result: -`,
    "not ranked: no result", no problem and no commit of the result, and `compare` gave
    no warning, while `list` counted it (a user's hunt, issue 18 twenty-third pass)."""
    bad = runs.res_path("exp-003")
    runs.add_result("exp-003", metrics={"seg_total": 59.8, "pde_mean": 16.1, "train_time_min": -5})
    runs.commit("a result below its min")
    warning = "warning: 1 problem(s) in "
    code, out, err = cli(runs, "show", "exp-003", *rev)
    assert code == 0, err
    assert err.startswith(f"expflow-git show: {warning}"), err
    assert f"  result:   {bad} (left out: it fails its checks)\n" in out
    assert "  not ranked: its result fails its checks and is left out (see problems)\n" in out
    assert "no result" not in out
    assert f"problems\n  {bad}#/metrics/train_time_min: metric-out-of-range: " in out
    history = out.split("\nhistory\n", 1)[1]
    assert "a result below its min" in history and f"changed {bad}" in history
    code, out, _ = cli(runs, "show", "exp-003", *rev, "--format", "json")
    doc = json.loads(out)
    assert [p.split("#")[0] for p in doc["problems"]] == [bad]
    assert [h["subject"] for h in doc["history"]] == ["a result below its min", "three runs"]
    assert doc["result"] is None and not doc["verdict"]["ranked"]
    code, _, err = cli(runs, "compare", "exp-003", "exp-001", *rev)
    assert code == 0 and err.startswith(f"expflow-git compare: {warning}"), err
    code, out, err = cli(runs, "show", "exp-001", *rev)  # a run whose result is read
    assert code == 0 and warning in err and "problems" not in out


def test_show_a_run_without_a_result_says_no_result(runs: ExpRepo) -> None:
    code, out, err = cli(runs, "show", "exp-004", "--rev", "HEAD")
    assert code == 0 and err == "", err
    runs.add_experiment("exp-007")
    code, out, err = cli(runs, "show", "exp-007")
    assert code == 0 and err == "" and "  result:   -\n" in out and "not ranked: no result\n" in out


def test_show_unknown_id(runs: ExpRepo) -> None:
    code, out, err = cli(runs, "show", "exp-01")
    assert code == 1 and out == ""
    assert err == (
        "expflow-git: error: no experiment 'exp-01' in the work tree (did you mean 'exp-001'?)\n"
    )
    code, _, err = cli(runs, "show", "exp-005", "--rev", "HEAD")
    assert code == 1 and "no experiment 'exp-005' in commit " in err


def test_show_history_and_corrections_in_one_git_log(runs: ExpRepo, tmp_path: Path) -> None:
    """Every commit that touched the run's record, result or corrections, newest first,
    from one `git log` (GIT_TRACE counts the git processes)."""
    runs.commit("failed and pending runs")
    code, _, err = cli(
        runs,
        "result",
        "exp-001",
        "--metric",
        "seg_total=57.4",
        "--metric",
        "pde_mean=15.0",
        "--metric",
        "train_time_min=45.5",
        "--overwrite",
        "--reason",
        "re-ran with the fixed loader",
        "--force",
    )
    assert code == 0, err
    runs.commit("correct exp-001")
    trace = tmp_path / "trace.txt"
    res = run_cli(["show", "exp-001"], cwd=runs.path, env={"GIT_TRACE": str(trace)})
    assert res.code == 0, res.err
    history = res.out.split("\nhistory\n", 1)[1].split("\ncorrections\n")
    commits = history[0].splitlines()
    assert len(commits) == 2
    assert "correct exp-001" in commits[0] and "three runs" in commits[1]
    assert "changed results/pdebench-task1/exp-001.json" in commits[0]
    assert "added corrections/pdebench-task1/exp-001/" in commits[0]
    assert "added experiments/pdebench-task1/exp-001.json" in commits[1]
    assert "re-ran with the fixed loader" in history[1]
    logs = [ln for ln in trace.read_text().splitlines() if "trace: built-in: git" in ln]
    assert sum(1 for ln in logs if " log " in ln) == 1, logs
    doc = json.loads(run_cli(["show", "exp-001", "--format", "json"], cwd=runs.path).out)
    assert [h["subject"] for h in doc["history"]] == ["correct exp-001", "three runs"]
    assert doc["corrections"][0]["reason"] == "re-ran with the fixed loader"
    assert doc["metrics"]["seg_total"] == 57.4


def test_show_history_of_many_corrections_gives_git_a_few_folders(
    runs: ExpRepo, tmp_path: Path
) -> None:
    """Each correction's path was a pathspec of the one `git log`, and git matches every
    pathspec against every file of each folder a commit changed: C corrections in C
    commits cost C³ (2,000: 113 s). Past MAX_PATHSPECS paths git gets their folders and
    the changes are kept by path: the same history, a commit touching only another
    run's file in the same folder left out."""
    from expflow_git.gitstore import MAX_PATHSPECS

    code, _, err = cli(
        runs, "result", "exp-001", "--metric", "seg_total=57.4", "--metric", "pde_mean=15.0",
        "--metric", "train_time_min=45.5", "--overwrite", "--reason", "fixed", "--force",
    )  # fmt: skip
    assert code == 0, err
    runs.commit("correct exp-001")
    folder = runs.path / "corrections/pdebench-task1/exp-001"
    (first,) = folder.iterdir()
    for i in range(MAX_PATHSPECS + 8):
        (folder / f"again-{i:02d}.json").write_bytes(first.read_bytes())
        runs.commit(f"correction {i}")
    other = json.loads(first.read_text()) | {"experiment": "exp-002"}
    (folder / "zz-other.json").write_text(json.dumps(other))
    runs.commit("another run's correction in the same folder")
    trace = tmp_path / "trace.txt"
    env = {"GIT_TRACE": str(trace)}
    res = run_cli(["show", "exp-001", "--format", "json"], cwd=runs.path, env=env)
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    mine = sorted(p.relative_to(runs.path).as_posix() for p in folder.iterdir())
    mine.remove("corrections/pdebench-task1/exp-001/zz-other.json")
    paths = [runs.exp_path("exp-001"), runs.res_path("exp-001"), *mine]
    expected = runs.git("log", "--format=%s", "HEAD", "--", *paths).splitlines()
    assert [h["subject"] for h in doc["history"]] == expected
    assert expected[0] == f"correction {MAX_PATHSPECS + 7}" and len(expected) == MAX_PATHSPECS + 10
    (log,) = [ln for ln in trace.read_text().splitlines() if "trace: built-in: git log " in ln]
    assert len(log.split(" -- ", 1)[1].split()) <= MAX_PATHSPECS  # (43 paths before)


# ----------------------------------------------------------------------------- compare


def test_compare_side_by_side_with_direction_aware_deltas(runs: ExpRepo) -> None:
    code, out, err = cli(runs, "compare", "exp-001", "exp-002", "exp-003")
    assert code == 0, err
    lines = {ln.split()[1] if ln.startswith("*") else ln.split()[0]: ln for ln in out.splitlines()}
    assert lines["metrics.seg_total"].split(None, 2)[2] == (
        "57.09    61.4 (+4.31, better)  59.8 (+2.71, better)"
    )
    # lower is better for pde_mean and train_time_min
    assert "19.7 (+4.7, worse)" in lines["metrics.pde_mean"]
    assert "38 (-7.5, better)" in lines["metrics.train_time_min"]
    assert "58.9 (+3.7, better)" in lines["splits.holdout.seg_total"]
    assert lines["splits.holdout.seg_total"].rstrip().endswith("-")  # exp-003 has no split
    assert lines["params.lr"].startswith("* ")  # the params differ
    code, out, _ = cli(runs, "compare", "exp-001", "exp-002", "--format", "json")
    doc = json.loads(out)
    assert doc["runs"] == ["exp-001", "exp-002"]
    pde = next(f for f in doc["fields"] if f["field"] == "metrics.pde_mean")
    assert pde["values"] == [15.0, 19.7] and pde["outcomes"] == [None, "worse"]
    assert pde["deltas"][0] is None and abs(pde["deltas"][1] - 4.7) < 1e-9
    same = cli(runs, "compare", "exp-001", "exp-001", "--format", "json")[1]
    assert {o for f in json.loads(same)["fields"] for o in f["outcomes"][1:]} <= {"same", None}


def test_compare_reads_params_as_one_value_where_a_record_does(exp_repo: ExpRepo) -> None:
    """`1` and `1.0` were marked as differing (compared by their repr) and printed alike,
    though `--where params.lr = 1` and `run()` take them as one value (a user's hunt).
    A bool is still no number, and a number in a string no number."""
    exp_repo.add_experiment("a", params={"lr": 1, "sub_step": 1, "flag": True, "n": "1"})
    exp_repo.add_experiment("b", params={"lr": 1.0, "sub_step": 1, "flag": 1, "n": 1})
    code, out, err = cli(exp_repo, "compare", "a", "b", "--format", "json")
    assert code == 0, err
    differs = {f["field"]: f["differs"] for f in json.loads(out)["fields"]}
    assert differs == {
        "params.flag": True,
        "params.lr": False,
        "params.n": True,
        "params.sub_step": False,
    }
    code, out, _ = cli(exp_repo, "compare", "a", "b")
    assert not [ln for ln in out.splitlines() if "params.lr" in ln][0].startswith("*"), out


def test_compare_shows_a_string_param_in_quotes(exp_repo: ExpRepo) -> None:
    """`x: 1` and `x: "1"` differ (as a record's params do), but text, Markdown and CSV
    printed both as 1 beside the `*` (a user's hunt, issue 18 twenty-third pass): a string
    is in quotes there as in the scorecard, and numbers get the digits that tell them
    apart; the sinks' escapes still apply."""
    big = 9007199254740993
    exp_repo.add_experiment(
        "p-int", params={"x": 1, "big": big, "lr": 0.1234567, "f": True, "s": "=cmd|b"}
    )
    exp_repo.add_experiment(
        "p-str", params={"x": "1", "big": str(big), "lr": 0.1234568, "f": "true", "s": "=cmd|b"}
    )
    code, out, err = cli(exp_repo, "compare", "p-int", "p-str")
    assert code == 0, err
    rows = {ln.split()[1]: ln.split()[2:] for ln in out.splitlines() if ln.startswith("*")}
    assert rows["params.x"] == ["1", '"1"']
    assert rows["params.big"] == [str(big), f'"{big}"']
    assert rows["params.lr"] == ["0.1234567", "0.1234568"]
    assert rows["params.f"] == ["true", '"true"']
    assert "params.s" not in rows
    assert [ln.split() for ln in out.splitlines() if "params.s" in ln] == [
        ["params.s", '"=cmd|b"', '"=cmd|b"']
    ]
    code, out, _ = cli(exp_repo, "compare", "p-int", "p-str", "--format", "csv")
    cells = {row[0]: row[1:] for row in csv.reader(io.StringIO(out))}
    assert cells["params.x"] == ["1", '"1"'] and cells["params.s"] == ["'=cmd|b"] * 2
    code, out, _ = cli(exp_repo, "compare", "p-int", "p-str", "--format", "md")
    (row,) = [ln for ln in out.splitlines() if ln.startswith("| params.s ")]
    assert row == '| params.s | "=cmd\\|b" | "=cmd\\|b" |'
    code, out, _ = cli(exp_repo, "compare", "p-int", "p-str", "--format", "json")
    x = next(f for f in json.loads(out)["fields"] if f["field"] == "params.x")
    assert x["values"] == [1, "1"] and x["differs"]


def test_a_long_value_does_not_pad_every_row(runs: ExpRepo) -> None:
    """A column is padded to its widest cell only up to MAX_PADDED_WIDTH characters: a
    longer value is shown whole on its own row. Padded into every row, one long param
    made `compare`'s output rows × its length (two records of 1 MB: 1.9 GB)."""
    from expflow_git.render.table import MAX_PADDED_WIDTH

    note = "n" * 50_000
    runs.add_experiment("long-a", params={"note": note, **{f"a{i}": i for i in range(300)}})
    runs.add_result("long-a")
    runs.add_experiment("long-b", params={f"b{i}": i for i in range(300)})
    runs.add_result("long-b")
    code, out, err = cli(runs, "compare", "long-a", "long-b")
    assert code == 0, err
    lines = out.splitlines()
    assert len(out) < len(note) + len(lines) * (MAX_PADDED_WIDTH + 100)  # ~30 MB before
    (long_line,) = [ln for ln in lines if note in ln]
    assert long_line.split()[-2:] == [f'"{note}"', "-"]  # whole, and the row goes on
    # The other rows still line up: the second run's column starts at one place.
    starts = {ln.index(" -") for ln in lines if ln.lstrip("* ").startswith("params.a")}
    assert len(starts) == 1


def test_list_shows_as_many_key_metrics_as_a_leaderboard(runs: ExpRepo) -> None:
    """Every row had a column per gate and registry threshold, which a policy does not
    bound: 1,000 thresholds of long names over 1,000 runs made 118 MB of text from 401 KB.
    `list` shows the ranking metric and the first gates' up to MAX_METRIC_COLUMNS, as the
    leaderboards do; JSON (and --columns) hold the rest."""
    from expflow_git.render.view import MAX_METRIC_COLUMNS

    policy = (runs.path / "expflow.yaml").read_text()
    extra = "".join(
        f"  gate_metric_{i:02d}: {{group: G, higher_is_better: true, threshold: 0}}\n"
        for i in range(10)
    )
    (runs.path / "expflow.yaml").write_text(policy.replace("metrics:\n", "metrics:\n" + extra, 1))
    code, out, err = cli(runs, "list")
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header[:3] == ["id", "study", "status"] and header[-1] == "reason"
    assert len(header) == 3 + MAX_METRIC_COLUMNS + 1, header
    assert "seg_total" in header  # the ranking metric first
    assert sum(h.startswith("gate_metric_") for h in header) < 10


def test_columns_key_a_runs_params_once(
    runs: ExpRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--columns params.X` by a name a rule would find keyed all the run's params again
    for every column (100 runs × 1,000 params × 250 columns: 6.5 s); once a run now."""
    from support import in_process_cli, record_calls

    from expflow_git.query import nodes

    runs.add_experiment("wide", params={f"Args/--p{i}": i for i in range(100)})
    runs.add_result("wide")
    runs.commit("a run of many params")  # (rank reads a commit)
    columns = ",".join(f"params.q{i}" for i in range(40)) + ",params.p7"
    keyed = record_calls(monkeypatch, nodes, "param_key")
    for command in ("list", "rank"):
        keyed.clear()
        res = in_process_cli(monkeypatch, capsys)(
            [command, "--columns", columns, "--format", "csv"], runs.path
        )
        assert res.code in (0, 1), res
        header, *rows = csv.reader(io.StringIO(res.out))
        (row,) = [r for r in rows if "wide" in r]
        assert row[header.index("params.p7")] == "7" and row[header.index("params.q3")] == ""
        assert len(keyed) <= 1000, command  # (4,000 for the wide run alone before)


def test_compare_needs_two_known_runs(runs: ExpRepo) -> None:
    code, _, err = cli(runs, "compare", "exp-001")
    assert code == 2 and err == "expflow-git: error: compare needs at least two run ids\n"
    code, _, err = cli(runs, "compare", "exp-001", "nope")
    assert code == 1 and "no experiment 'nope'" in err
    code, out, _ = cli(runs, "compare", "exp-001", "exp-005", "--format", "md")
    assert code == 0 and out.splitlines()[0] == "| field | exp-001 | exp-005 |"


# ----------------------------------------------------------------------------- the README


def test_readme_looking_at_runs_commands_work_as_printed(tmp_path: Path) -> None:
    """Every command of README's "Looking at runs" block, as printed, on the seed example."""
    from helpers_audit import seed_repo

    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Looking at runs\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(ln, comments=True) for ln in block.splitlines() if ln.strip()]
    assert len(commands) == 5 and all(c[0] == "expflow-git" for c in commands)
    repo = seed_repo(tmp_path / "seed")
    for command in commands:
        res = run_cli(command[1:], cwd=repo)
        assert res.code == 0, (command, res.err)
        assert_clean_output(res.out, res.err)
        assert res.out.strip(), command


@pytest.mark.parametrize(
    "expr",
    [
        "(" * 3000 + "tags.a" + ")" * 3000,  # past the length bound
        "(" * 1000 + "tags.a" + ")" * 1000,  # past the nesting bound
        "not " * 900 + "tags.a",
        "params.x in (" + ",".join(["1"] * 1200) + ")",
        "params.`\x1b[2J` = '\u202e'\x00",
    ],
)
def test_hostile_expressions_are_one_line_exit_2(runs: ExpRepo, expr: str) -> None:
    """An expression from a workflow a pull request edits: bounded, never a traceback,
    and nothing it holds reaches the terminal raw."""
    code, out, err = cli(runs, "list", "--where", expr.replace("\x00", ""))
    if code == 0:  # the last one is a valid expression: it matches no run
        assert "\x1b" not in err
        return
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("expflow-git: error: --where: column ")


@pytest.mark.parametrize("rev", [[], ["--rev", "HEAD"]])
def test_records_sharing_an_id_are_left_out_of_list_with_their_result(
    runs: ExpRepo, rev: list[str]
) -> None:
    """Two records of one id (`duplicate-id` on both from `validate`) are no run, as in
    the audit (checks.pair_runs): `list` showed both, each with the one result of that
    id, and counted one problem (a hunt, issue 18 twenty-seventh pass). Now both are
    left out and counted, and `show` names both records."""
    first = runs.add_experiment("exp-008", study="s")
    second = runs.add_experiment("exp-008", study="t")
    runs.add_result("exp-008", study="s")
    runs.commit("one id, two records")
    code, out, err = cli(runs, "list", "--format", "csv", *rev)
    assert code == 0, err
    assert "exp-008" not in out
    assert [r["id"] for r in csv.DictReader(io.StringIO(out))] == ids(listed(runs, *rev))
    assert "exp-001" in out
    # Both records fail their checks, as `validate` says: two problems, not one.
    assert "warning: 2 problem(s) in " in err, err
    code, out, err = cli(runs, "show", "exp-008", *rev)
    assert code == 1 and out == ""
    assert f"experiment 'exp-008' has several records ({first}, {second})" in err, err
