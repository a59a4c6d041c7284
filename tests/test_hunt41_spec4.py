"""Is docs/spec.md §4 (the CLI) true? Claims the code contradicted (issue 18 forty-first
pass, a hunt of §4 sentence by sentence); each test failed on the code before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliCall
from test_import_common import totals, tree_bytes

import expflow_git

HEADER = "run,state,sub_step,seg_total,pde_mean,train_time_min\n"
METRICS = {"seg_total": 61.0, "pde_mean": 15.0, "train_time_min": 40.0}


def csv_args(path: Path) -> list[str]:
    return [
        *("import", "csv", str(path), "--id-column", "run", "--study", "sheet"),
        *("--status-column", "state"),
    ]


def trained_here(repo: ExpRepo, sheet: Path, header: str, cli: CliCall) -> list[str]:
    """Run w1 imported `pending` from `sheet` (columns `header`), then trained here with
    `Repository.run` (its result's source is this run's, not the import's); both
    committed. Returns the import's command line."""
    blanks = "," * (header.count(",") - 2)
    sheet.write_text(f"{header}w1,pending,5{blanks}\n", encoding="utf-8")
    args = csv_args(sheet)
    assert cli(args, repo.path).code == 0
    repo.commit("import")
    with expflow_git.Repository(repo.path).run("w1") as run:
        run.log(**METRICS)
    repo.commit("trained here")
    return args


@pytest.mark.parametrize("correct", [False, True], ids=["plain", "correct"])
def test_a_committed_result_written_here_is_never_written_over(
    committed_repo: ExpRepo, tmp_path: Path, cli: CliCall, correct: bool
) -> None:
    """§4.2: "Nor does it remove or write over a result it did not write (one whose
    `provenance.source` is not this run's: `run()` or `result` wrote it): when the source
    has ... a success with another result, the run is refused and named, nothing of it
    written (exit 1)". Once that result was committed, the import called it a change of
    the source ("take it in as a declared correction with --correct REASON"), and with
    `--correct` wrote the tracker's numbers over the result trained here, exit 0."""
    repo = committed_repo
    sheet = tmp_path / "runs.csv"
    args = trained_here(repo, sheet, HEADER, cli)
    before = tree_bytes(repo.path)
    sheet.write_text(f"{HEADER}w1,success,5,99.0,15.0,40\n", encoding="utf-8")
    extra = ["--correct", "the tracker's numbers", "--force"] if correct else []
    again = cli([*args, *extra], repo.path)
    assert again.code == 1, again
    assert totals(again.out) == "0 new, 0 updated, 0 unchanged, 1 refused"
    assert "results/sheet/w1.json: the result there is not this import's" in again.out
    assert "--correct REASON" not in again.out  # no advice that would write over it
    assert tree_bytes(repo.path) == before


def test_list_shows_the_sort_and_gate_metrics_not_the_tie_breaks(
    committed_repo: ExpRepo, cli: CliCall
) -> None:
    """§4's row for `list` said "the ranking and gate metrics", where `rank`'s says "the
    sort metric, ..., the tie-breaks and the gates' metrics": `list` never showed a
    tie-break (README: "the ranking metric and the gates' metrics"). The row now says so,
    and this keeps it true."""
    repo = committed_repo
    policy = repo.path / "expflow.yaml"
    text = policy.read_text(encoding="utf-8")
    assert "tie_break: [pde_mean]" in text
    policy.write_text(text.replace("tie_break: [pde_mean]", "tie_break: [val_mse]"))
    repo.add_experiment("exp-001")
    repo.add_result("exp-001")
    repo.commit("a run")
    listed = cli(["list"], repo.path)
    assert listed.code == 0, listed
    header = listed.out.splitlines()[0].split()
    # the sort metric, then the registry's thresholds (gates), never the tie-break
    assert header[3:6] == ["seg_total", "pde_mean", "train_time_min"], header
    assert "val_mse" not in header
    ranked = cli(["rank"], repo.path)
    assert "val_mse" in ranked.out.splitlines()[0].split()
    spec = (Path(__file__).resolve().parents[1] / "docs" / "spec.md").read_text("utf-8")
    row = next(ln for ln in spec.splitlines() if ln.startswith("| `list [--rev R]"))
    assert "the ranking metric and the gates' metrics" in row
    assert "not the tie-breaks `rank` adds" in row


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["", "--id-column", "run", "--study", "sheet"], "'FILE': give a path"),
        (
            ["runs.csv", "--id-column", "run", "--study", "sheet", "--param-columns", ""],
            "'--param-columns': give a column name",
        ),
        (
            ["runs.csv", "--id-column", "run", "--study", "sheet", "--param-columns", " , "],
            "'--param-columns': give a column name",
        ),
        (
            ["runs.csv", "--id-column", "run", "--study", "sheet", "--metric-columns", ""],
            "'--metric-columns': give a column name",
        ),
    ],
    ids=["file", "params", "params-commas", "metrics"],
)
def test_import_csv_takes_no_empty_string_for_the_option_left_out(
    committed_repo: ExpRepo, cli: CliCall, args: list[str], needle: str
) -> None:
    """§4: "so is an empty string given for a file, a key or a revision (`audit --out
    ''`: `give a path, not an empty string`), never taken for the option left out".
    `import csv ''` said ": No such file or directory"; `--param-columns ''` (a script's
    `"$COLS"` empty) was taken for the option left out, every other column a param of
    the records written (frozen once committed), exit 0."""
    repo = committed_repo
    (repo.path / "runs.csv").write_text(f"{HEADER}w1,success,5,60.0,15.0,40\n", "utf-8")
    before = tree_bytes(repo.path)
    got = cli(["import", "csv", *args], repo.path)
    assert got.code == 2, got
    assert needle in got.err and "not an empty string" in got.err, got
    assert len(got.err.strip().splitlines()) == 1, got
    assert tree_bytes(repo.path) == before


@pytest.mark.parametrize(
    "args",
    [
        ["start", "e\udcff"],
        ["result", "e\udcff", "--metric", "seg_total=1"],
        ["fail", "e\udcff", "--reason", "oom"],
        ["cancel", "e\udcff", "--force"],
        ["rm", "e\udcff", "--force"],
    ],
    ids=["start", "result", "fail", "cancel", "rm"],
)
def test_an_id_that_is_not_utf8_is_named_as_new_names_it(
    committed_repo: ExpRepo, cli: CliCall, args: list[str]
) -> None:
    """§4: "An argument that is not UTF-8 is refused (exit 2, one line naming its option:
    `--tag 't\\xff' is not UTF-8 text`)". `new $'e\\xff'` said `ID 'e\\xff' is not UTF-8
    text`; the other record commands said `invalid id 'e\\udcff'`, naming no option and
    spelling the byte as the lone surrogate Python read it as."""
    got = cli(args, committed_repo.path)
    assert got.code == 2, got
    assert got.err.strip() == "expflow-git: error: ID 'e\\xff' is not UTF-8 text", got


def test_diff_says_a_result_left_out_for_failing_its_checks(
    committed_repo: ExpRepo, cli: CliCall
) -> None:
    """A result that fails its checks is no result to `diff`: a pull request that lowered
    a run's score and gave the result a metric the registry does not know (committed past
    the hooks) was shown as every metric `removed`, no word on stderr, and
    `--fail-on-regression` exited 0, where `rank` counts such problems on stderr."""
    repo = committed_repo
    repo.add_experiment("exp-001")
    repo.add_result("exp-001")
    repo.commit("a run")
    path = repo.path / repo.res_path("exp-001")
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["metrics"]["seg_total"] = 1.0
    doc["metrics"]["not_in_registry"] = 1.0
    repo.write_json(repo.res_path("exp-001"), doc)
    repo.commit("lower, and invalid")
    got = cli(["diff", "HEAD~1"], repo.path)
    assert got.code == 0 and "removed" in got.out, got  # (the diff itself is as it was)
    sha = repo.git("rev-parse", "HEAD").strip()[:12]
    assert f"1 problem(s) in the documents at {sha}" in got.err, got
    assert "left out" in got.err and f"expflow-git audit --rev {sha}" in got.err, got
    assert len(got.err.strip().splitlines()) == 1, got
    clean = cli(["diff", "HEAD~1", "HEAD~1"], repo.path)
    assert clean.code == 0 and clean.err == "", clean
    # As a gate, REV_B's documents failing their checks fail it (a review: the warning
    # alone left `--fail-on-regression` at exit 0); REV_A's do not (nothing of REV_B's
    # is hidden: the run is `added`).
    gate = cli(["diff", "HEAD~1", "--fail-on-regression"], repo.path)
    assert gate.code == 1, gate
    assert "HEAD: 1 problem(s) in its documents" in gate.err, gate
    assert "may hide a regression" in gate.err, gate
    back = cli(["diff", "HEAD", "HEAD~1", "--fail-on-regression"], repo.path)
    assert back.code == 0 and "added" in back.out, back


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blanks"])
def test_cancel_refuses_an_empty_reason_as_a_blank_one(
    committed_repo: ExpRepo, cli: CliCall, reason: str
) -> None:
    """§4: `cancel`'s "`--reason` of blanks only is refused, exit 2, as `new` and `fail`
    refuse one". `--reason '  '` was; `--reason ''` (a script's `"$WHY"` empty) was taken
    for no `--reason`, the run cancelled without one, exit 0, where `fail --reason ''`
    and `new --status skipped --reason ''` refuse it."""
    repo = committed_repo
    rel = repo.add_experiment("exp-001", status="pending")
    repo.commit("a pending run")
    before = (repo.path / rel).read_bytes()
    got = cli(["cancel", "exp-001", "--reason", reason, "--force"], repo.path)
    assert got.code == 2, got
    assert "--reason is blank" in got.err and len(got.err.strip().splitlines()) == 1, got
    assert (repo.path / rel).read_bytes() == before
    for args in (["fail", "exp-001", "--reason", reason], ["new", "x1", "--study", "s"]):
        if args[0] == "new":
            args += ["--status", "skipped", "--reason", reason]
        assert cli(args, repo.path).code == 2, args
