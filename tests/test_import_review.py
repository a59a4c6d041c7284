"""Re-imports of runs advanced here (issue 18 twenty-eighth pass, docs/spec.md §4.2): a
WAITING Optuna trial or a pending CSV row trained with `Repository.run` (the documented
flow) is not moved back to pending, nor its result removed, by the next import of the
same source; a result the import did not write is never written over."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo
from support import CliCall
from test_import_common import totals, tree_bytes

import expflow_git

optuna = pytest.importorskip("optuna")

STUDY = "s3"
METRICS = {"seg_total": 61.0, "pde_mean": 15.0, "train_time_min": 40.0}


def load(repo: ExpRepo, rel: str) -> Any:
    return json.loads((repo.path / rel).read_text())


def waiting_study(tmp_path: Path) -> str:
    """An Optuna study (SQLite) with one enqueued WAITING trial; its storage URL."""
    url = f"sqlite:///{tmp_path / 'o3.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=STUDY, storage=url, direction="maximize")
    study.enqueue_trial({"sub_step": 5})
    return url


def optuna_args(url: str) -> list[str]:
    return ["import", "optuna", "--storage", url, "--study", STUDY, "--metric", "seg_total"]


def train(repo: ExpRepo, exp_id: str, study: str | None = None) -> None:
    with expflow_git.Repository(repo.path).run(exp_id, study=study) as run:
        run.log(**METRICS)


@pytest.mark.parametrize("commit_run", [False, True], ids=["uncommitted", "committed"])
def test_a_waiting_trial_trained_here_is_left_as_it_ended(
    committed_repo: ExpRepo, tmp_path: Path, cli: CliCall, commit_run: bool
) -> None:
    repo = committed_repo
    url = waiting_study(tmp_path)
    first = cli(optuna_args(url), repo.path)
    assert first.code == 0, first
    assert load(repo, f"experiments/{STUDY}/s3-t0000.json")["status"] == "pending"
    repo.commit("import")
    train(repo, "s3-t0000")
    if commit_run:
        repo.commit("trained")  # once committed, every later import refused the run
    before = tree_bytes(repo.path)
    again = cli(optuna_args(url), repo.path)
    assert again.code == 0, again
    assert totals(again.out) == "0 new, 0 updated, 1 unchanged, 0 refused"
    assert "s3-t0000" in again.err and "ended here" in again.err
    assert tree_bytes(repo.path) == before  # the result is still there, not one byte changed
    assert load(repo, f"experiments/{STUDY}/s3-t0000.json")["status"] == "success"
    assert load(repo, f"results/{STUDY}/s3-t0000.json")["metrics"] == METRICS


def csv_args(path: Path) -> list[str]:
    return ["import", "csv", str(path), "--id-column", "run", "--study", "sheet"]


def test_a_pending_csv_row_trained_here_is_left_as_it_ended(
    committed_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    repo = committed_repo
    sheet = tmp_path / "runs.csv"
    sheet.write_text("run,state,sub_step\nw1,pending,5\n", encoding="utf-8")
    args = [*csv_args(sheet), "--status-column", "state"]
    assert cli(args, repo.path).code == 0
    repo.commit("import")
    train(repo, "w1")
    before = tree_bytes(repo.path)
    again = cli(args, repo.path)
    assert again.code == 0, again
    assert totals(again.out) == "0 new, 0 updated, 1 unchanged, 0 refused"
    assert "removed" not in again.out
    assert tree_bytes(repo.path) == before
    # The Python API says why on the plan.
    summary = expflow_git.importers.import_csv(
        sheet, id_column="run", study="sheet", status_column="state", root=repo.path
    )
    (plan,) = summary.plans
    assert plan.action is expflow_git.importers.Action.UNCHANGED
    assert plan.reasons and "ended here" in plan.reasons[0]
    assert any("ended here" in w for w in summary.warnings)
    assert tree_bytes(repo.path) == before


@pytest.mark.parametrize(
    ("row", "why"),
    [("w1,failed,5,,,", "failed"), ("w1,success,5,99.0,15.0,40", "success with another result")],
)
def test_a_result_written_here_is_never_removed_or_written_over(
    committed_repo: ExpRepo, tmp_path: Path, cli: CliCall, row: str, why: str
) -> None:
    """The source says the run ended otherwise: the two disagree, and the import takes
    neither side (exit 1, nothing of the run written)."""
    repo = committed_repo
    sheet = tmp_path / "runs.csv"
    header = "run,state,sub_step,seg_total,pde_mean,train_time_min\n"
    sheet.write_text(f"{header}w1,pending,5,,,\n", encoding="utf-8")
    args = [*csv_args(sheet), "--status-column", "state"]
    assert cli(args, repo.path).code == 0
    repo.commit("import")
    train(repo, "w1")
    before = tree_bytes(repo.path)
    sheet.write_text(f"{header}{row}\n", encoding="utf-8")
    again = cli(args, repo.path)
    assert again.code == 1, again
    assert totals(again.out) == "0 new, 0 updated, 0 unchanged, 1 refused"
    assert "results/sheet/w1.json: the result there is not this import's" in again.out
    assert f"the source has the run {why}" in again.out
    assert tree_bytes(repo.path) == before


def test_a_result_the_import_wrote_is_still_updated(
    committed_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """An uncommitted import's result follows its source (the check is of provenance)."""
    repo = committed_repo
    sheet = tmp_path / "runs.csv"
    header = "run,state,sub_step,seg_total,pde_mean,train_time_min\n"
    sheet.write_text(f"{header}w1,success,5,60.0,15.0,40\n", encoding="utf-8")
    args = [*csv_args(sheet), "--status-column", "state"]
    assert cli(args, repo.path).code == 0
    sheet.write_text(f"{header}w1,failed,5,,,\n", encoding="utf-8")
    again = cli(args, repo.path)
    assert again.code == 0, again
    assert "removed results/sheet/w1.json" in again.out
    assert not (repo.path / "results/sheet/w1.json").exists()


def test_a_pending_row_that_failed_here_stays_failed(
    committed_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    repo = committed_repo
    sheet = tmp_path / "runs.csv"
    sheet.write_text("run,state,sub_step\nw1,pending,5\n", encoding="utf-8")
    args = [*csv_args(sheet), "--status-column", "state"]
    assert cli(args, repo.path).code == 0
    repo.commit("import")
    with pytest.raises(RuntimeError), expflow_git.Repository(repo.path).run("w1"):
        raise RuntimeError("CUDA out of memory")
    repo.commit("failed here")
    again = cli(args, repo.path)
    assert again.code == 0, again  # was refused (exit 1) at every later import
    assert totals(again.out) == "0 new, 0 updated, 1 unchanged, 0 refused"
    assert load(repo, "experiments/sheet/w1.json")["status"] == "failed"
    assert repo.status() == ""


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: expflow_git.importers.import_optuna("sqlite:///o1.db", None), "study:"),
        (lambda: expflow_git.importers.import_optuna(None, "s1"), "storage:"),
        (lambda: expflow_git.importers.import_optuna(b"x", "s1"), "storage:"),
        (lambda: expflow_git.importers.import_mlflow("sqlite:///ml.db", None), "experiment:"),
        (lambda: expflow_git.importers.import_mlflow(None, "e"), "tracking_uri:"),
        (
            lambda: expflow_git.importers.import_csv(
                "x.csv", id_column="run", study="s", correct=5
            ),
            "correct:",
        ),
    ],
    ids=[
        "optuna-study",
        "optuna-storage",
        "optuna-bytes",
        "mlflow-exp",
        "mlflow-uri",
        "csv-correct",
    ],
)
def test_an_importer_argument_that_is_not_text_is_a_value_error(
    committed_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch, call: Any, needle: str
) -> None:
    """docs/spec.md §4.2: a wrong kind is a ValueError naming it, before anything is read
    (a TypeError in sanitize_id or redact_uri, MLflow's AttributeError as an
    ExpflowError, and `correct=5` accepted)."""
    monkeypatch.chdir(committed_repo.path)
    (committed_repo.path / "x.csv").write_text("run,sub_step\na,1\n", encoding="utf-8")
    before = tree_bytes(committed_repo.path)
    with pytest.raises(ValueError, match=needle):
        call()
    assert tree_bytes(committed_repo.path) == before
    assert not list(committed_repo.path.glob("*.db"))


@pytest.mark.parametrize("reason", ["", "   ", "\u3000\t"], ids=["empty", "blank", "wide-space"])
def test_an_empty_correct_reason_is_refused_up_front(
    committed_repo: ExpRepo, tmp_path: Path, cli: CliCall, reason: str
) -> None:
    """`--correct ''` was told to "give --correct TEXT" though it was given, `--correct
    '  '` shown the schema's pattern, and both passed an import that planned no
    correction (the new rows written, exit 0)."""
    repo = committed_repo
    sheet = tmp_path / "runs.csv"
    sheet.write_text("run,sub_step\nw1,5\n", encoding="utf-8")
    before = tree_bytes(repo.path)
    res = cli([*csv_args(sheet), "--correct", reason], repo.path)
    assert res.code == 2, res
    assert res.err.strip().splitlines() == [
        "expflow-git: error: --correct: the reason is empty (one line saying why the result "
        "changes)"
    ]
    assert tree_bytes(repo.path) == before
    with pytest.raises(expflow_git.ExpflowError, match="--correct: the reason is empty"):
        expflow_git.importers.import_csv(
            sheet, id_column="run", study="sheet", root=repo.path, correct=reason
        )
    assert tree_bytes(repo.path) == before


@pytest.mark.parametrize("reason", ["two\nlines", "x\x1b[31my", "a\u2028b"])
def test_a_correct_reason_not_one_line_is_refused_up_front_in_words(
    committed_repo: ExpRepo, tmp_path: Path, cli: CliCall, reason: str
) -> None:
    """A reason with a line break or a control character was shown the schema's pattern
    (`"a\\nb" does not match "^[^\\u0000-…]*$"`; a review, issue 18 twenty-eighth
    pass): it is said in words, exit 2, before anything is read or written."""
    repo = committed_repo
    sheet = tmp_path / "runs.csv"
    sheet.write_text("run,sub_step\nw1,5\n", encoding="utf-8")
    before = tree_bytes(repo.path)
    res = cli([*csv_args(sheet), "--correct", reason], repo.path)
    assert res.code == 2, res
    assert res.err.strip().splitlines() == [
        "expflow-git: error: --correct: the reason must be one line of text, without line "
        "breaks or control characters"
    ]
    assert tree_bytes(repo.path) == before


def test_a_blank_overwrite_reason_says_it_is_empty(committed_repo: ExpRepo, cli: CliCall) -> None:
    repo = committed_repo
    train(repo, "w1", study="sheet")
    repo.commit("trained")
    res = cli(
        ["result", "w1", "--metric", "seg_total=62", "--metric", "pde_mean=15"]
        + ["--metric", "train_time_min=40", "--overwrite", "--reason", "   ", "--force"],
        repo.path,
    )
    assert res.code == 2, res
    assert "--reason: the reason is empty" in res.err
    assert repo.status() == ""
