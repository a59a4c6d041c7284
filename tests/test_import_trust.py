"""What an attacker's review of the importers found (after issue 17): a committed result
rewritten because it sat outside `results/` or was gone from the work tree, a record
written before its result's folder turned out to be a file, a number no double holds
and a damaged Optuna store ending in tracebacks, and an error naming the wrong option.
Each test fails on the code before its fix."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo
from support import CliCall
from test_import_csv import GOOD, STUDY, args, write_csv

from expflow_git.importers.source import first_line, metric_value

CHANGED = GOOD.replace("r-001,5,0.001,57.09", "r-001,5,0.001,99.9")


def archive_results(exp_repo: ExpRepo) -> None:
    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    old = 'results: ["results/**/*.json"]'
    assert old in text
    policy.write_text(text.replace(old, 'results: ["results/**/*.json", "archive/**/*.json"]'))


@pytest.mark.parametrize(
    "sheet",
    [
        CHANGED,
        GOOD.replace("r-001,5,0.001,57.09,15.0,45.5,55.2,success", "r-001,5,0.001,,,,,running"),
    ],
)
def test_a_committed_result_outside_results_is_never_rewritten(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, sheet: str
) -> None:
    """The importer knew only the results under `results/` as committed: one moved (and
    committed) where the policy's globs also take results was rewritten, or removed with
    its run turned `running`, and the import said `updated`."""
    archive_results(exp_repo)
    assert cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path).code == 0
    exp_repo.commit("imported")
    (exp_repo.path / "archive" / STUDY).mkdir(parents=True)
    exp_repo.git("mv", f"results/{STUDY}/r-001.json", f"archive/{STUDY}/r-001.json")
    exp_repo.commit("archived")
    kept = (exp_repo.path / f"archive/{STUDY}/r-001.json").read_bytes()
    record = (exp_repo.path / f"experiments/{STUDY}/r-001.json").read_bytes()

    res = cli(args(write_csv(tmp_path, sheet), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert "r-001" in res.out and "committed" in res.out, res.out
    assert (exp_repo.path / f"archive/{STUDY}/r-001.json").read_bytes() == kept
    assert (exp_repo.path / f"experiments/{STUDY}/r-001.json").read_bytes() == record
    assert exp_repo.status() == ""


def test_an_uncommitted_policy_edit_does_not_hide_a_committed_result(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """Committed results were looked for under the work tree's globs only: with the
    archive glob dropped from an uncommitted `expflow.yaml`, an archived r-001 was not
    seen, and a second result for it was written under `results/` (`updated`, exit 0)."""
    archive_results(exp_repo)
    assert cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path).code == 0
    exp_repo.commit("imported")
    (exp_repo.path / "archive" / STUDY).mkdir(parents=True)
    exp_repo.git("mv", f"results/{STUDY}/r-001.json", f"archive/{STUDY}/r-001.json")
    exp_repo.commit("archived")
    policy = exp_repo.path / "expflow.yaml"
    policy.write_text(policy.read_text().replace(', "archive/**/*.json"', ""))

    res = cli(args(write_csv(tmp_path, CHANGED), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert "r-001" in res.out and "committed" in res.out, res.out
    assert not (exp_repo.path / f"results/{STUDY}/r-001.json").exists()


def test_a_folder_where_a_runs_file_goes_is_refused_before_anything_is_written(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """A folder at `experiments/<study>/r-002.json` stopped the import half way (exit 2,
    `Is a directory`): r-001 written, r-004 not, and no summary."""
    (exp_repo.path / f"experiments/{STUDY}/r-002.json").mkdir(parents=True)
    res = cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert f"experiments/{STUDY}/r-002.json: is a folder" in res.out, res.out
    assert "3 new" in res.out and "1 refused" in res.out, res.out
    written = sorted(p.name for p in (exp_repo.path / "results" / STUDY).glob("*.json"))
    assert written == ["r-001.json", "r-004.json"], written


def test_a_committed_result_gone_from_the_work_tree_is_not_written_again(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """With its record and result deleted from the work tree (not from the history), a
    run was imported as `new`: the committed result was rewritten with other numbers."""
    assert cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path).code == 0
    exp_repo.commit("imported")
    for rel in (f"experiments/{STUDY}/r-001.json", f"results/{STUDY}/r-001.json"):
        (exp_repo.path / rel).unlink()

    res = cli(args(write_csv(tmp_path, CHANGED), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert f"its result results/{STUDY}/r-001.json is committed and gone" in res.out, res.out
    assert not (exp_repo.path / f"results/{STUDY}/r-001.json").exists()
    assert not (exp_repo.path / f"experiments/{STUDY}/r-001.json").exists()


def test_a_committed_result_gone_but_its_record_kept_is_named_as_gone(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    assert cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path).code == 0
    exp_repo.commit("imported")
    (exp_repo.path / f"results/{STUDY}/r-001.json").unlink()
    res = cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert f"its result results/{STUDY}/r-001.json is committed and gone" in res.out, res.out
    assert not (exp_repo.path / f"results/{STUDY}/r-001.json").exists()


def test_a_file_where_the_results_folder_goes_is_refused_before_anything_is_written(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """`results/<study>` a file: the record was written, then the result failed (exit 2),
    leaving a `success` record without its result."""
    (exp_repo.path / "results").mkdir(exist_ok=True)
    (exp_repo.path / "results" / STUDY).write_text("stray\n")
    res = cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert f"results/{STUDY}: is not a folder" in res.out, res.out
    # The runs without a result (failed) are written; none with one is.
    written = sorted(p.name for p in (exp_repo.path / "experiments" / STUDY).glob("*.json"))
    assert written == ["r-003.json"], written


def _new_study(tmp_path: Path, name: str = "o.db") -> tuple[Any, Path]:
    """An empty Optuna study 's' maximizing `seg_total`, in SQLite: (study, file)."""
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db = tmp_path / name
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{db}", direction="maximize")
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study.set_metric_names(["seg_total"])
    return study, db


def test_a_number_no_double_holds_is_infinite_for_the_plan_to_refuse() -> None:
    """`float(10**400)` raised OverflowError out of the Optuna mapping: a traceback."""
    assert metric_value(10**400) == float("inf")
    assert metric_value(-(10**400)) == float("-inf")
    assert metric_value(3) == 3.0 and metric_value(True) is None


def test_an_optuna_user_attribute_too_large_for_a_double_refuses_its_trial(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    study, db = _new_study(tmp_path)
    trial = study.ask()
    trial.set_user_attr("pde_mean", 10**400)  # a registry metric, as a user attribute
    study.tell(trial, 57.0)
    res = cli(["import", "optuna", "--storage", f"sqlite:///{db}", "--study", "s"], exp_repo.path)
    assert res.code == 1, res
    assert "Traceback" not in res.err
    assert "pde_mean" in res.out and "refused" in res.out, res.out
    assert not (exp_repo.path / "results" / "s").exists()


def test_a_damaged_optuna_store_is_one_line_not_a_traceback(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    study, db = _new_study(tmp_path)
    study.tell(study.ask(), 57.0)
    with sqlite3.connect(db) as conn:
        conn.execute("update trials set state = 'BOGUS'")
    res = cli(["import", "optuna", "--storage", f"sqlite:///{db}", "--study", "s"], exp_repo.path)
    assert res.code == 2, res
    assert "Traceback" not in res.err and res.err.count("\n") == 1, res.err
    assert "cannot read the Optuna study" in res.err, res.err


def test_a_bad_csv_study_names_the_option_given(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    path = write_csv(tmp_path, GOOD)
    res = cli(
        ["import", "csv", str(path), "--id-column", "run", "--study", "my study"], exp_repo.path
    )
    assert res.code == 2, res
    assert "--study 'my study'" in res.err and "--study-as" not in res.err, res.err


@pytest.mark.parametrize("line", ["status: 99", "end_time: soon"])
def test_a_damaged_mlflow_store_is_one_line_not_a_traceback(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    """A run's `meta.yaml` edited in a file store: an unknown status raised a bare
    `Exception` out of MLflow, a non-numeric end time a TypeError out of the importer."""
    pytest.importorskip("mlflow.tracking")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("e"))
    for name, value in (("seg_total", 57.0), ("pde_mean", 15.0), ("train_time_min", 40.0)):
        client.log_metric(run.info.run_id, name, value)
    client.set_terminated(run.info.run_id, "FINISHED")
    (meta,) = (tmp_path / "mlruns").glob(f"*/{run.info.run_id}/meta.yaml")
    key = line.split(":")[0]
    meta.write_text(
        "".join(
            f"{line}\n" if old.startswith(f"{key}:") else old
            for old in meta.read_text().splitlines(keepends=True)
        )
    )
    res = cli(["import", "mlflow", "--tracking-uri", uri, "--experiment", "e"], exp_repo.path)
    assert "Traceback" not in res.err, res.err
    if key == "status":
        assert res.code == 2 and res.err.count("\n") == 1, res
        assert "cannot read MLflow" in res.err, res.err
    else:  # the time is dropped from the provenance; the run is imported
        assert res.code == 0, res
        assert "1 new" in res.out, res.out


def test_an_import_never_writes_into_the_store_it_reads(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Optuna made its tables in any SQLite database it was pointed at, MLflow its
    schema in an empty file and a file store's folders at a mistyped path (inside the
    repository): each import then failed as "no study", the source already changed."""
    pytest.importorskip("optuna")
    pytest.importorskip("mlflow.tracking")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    notes = tmp_path / "notes.db"
    with sqlite3.connect(notes) as conn:
        conn.execute("create table notes(x)")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    before = {p: p.read_bytes() for p in (notes, empty)}
    cases = [
        (["optuna", "--storage", f"sqlite:///{notes}", "--study", "s"], "no Optuna store"),
        (["mlflow", "--tracking-uri", f"sqlite:///{empty}", "--experiment", "e"], "no MLflow"),
        (["mlflow", "--tracking-uri", "mlrnus", "--experiment", "e"], "no MLflow store folder"),
    ]
    for argv, message in cases:
        res = cli(["import", *argv], exp_repo.path)
        assert res.code == 2 and message in res.err and res.err.count("\n") == 1, res
    assert {p: p.read_bytes() for p in before} == before
    assert not (exp_repo.path / "mlrnus").exists()


def _optuna_study(tmp_path: Path, name: str = "o.db") -> Path:
    """A study with one complete trial that has every registry metric."""
    study, db = _new_study(tmp_path, name)
    trial = study.ask()
    trial.suggest_float("lr", 0.0, 1.0)
    trial.set_user_attr("pde_mean", 15.0)  # the registry's other required metrics
    trial.set_user_attr("train_time_min", 40.0)
    study.tell(trial, 57.0)
    return db


def test_a_damaged_trial_is_not_called_a_missing_study(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """A parameter's distribution without its type raised KeyError('type') inside
    `get_trials`, and every KeyError was reported as "no Optuna study named 's'"."""
    db = _optuna_study(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("update trial_params set distribution_json = '{}'")
    res = cli(["import", "optuna", "--storage", f"sqlite:///{db}", "--study", "s"], exp_repo.path)
    assert res.code == 2 and res.err.count("\n") == 1, res
    assert "no Optuna study named" not in res.err, res.err
    assert "cannot read the Optuna study's trials: KeyError: 'type'" in res.err, res.err
    missing = cli(
        ["import", "optuna", "--storage", f"sqlite:///{db}", "--study", "t"], exp_repo.path
    )
    assert missing.code == 2 and "no Optuna study named 't'" in missing.err, missing


def test_an_unexpected_error_names_its_type_once() -> None:
    """An empty message came out as `KeyError: KeyError`."""
    assert first_line(KeyError(), "u", named=True) == "KeyError"
    assert first_line(KeyError("type"), "u", named=True) == "KeyError: 'type'"
    assert first_line(ValueError("bad\nmore"), "u") == "bad"


def test_a_sqlite_url_is_read_as_sqlalchemy_reads_it(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """The store check took the text after `sqlite:///` as the file: `my%20runs.db` was
    refused as missing though SQLAlchemy opens `my runs.db`, and a `sqlite+pysqlite:///`
    URL was not checked at all, so a mistyped path became a new, empty database."""
    db = _optuna_study(tmp_path, "my runs.db")
    spaced = f"sqlite:///{tmp_path}/my%20runs.db"
    res = cli(["import", "optuna", "--storage", spaced, "--study", "s"], exp_repo.path)
    assert res.code == 0 and "1 new" in res.out, res
    typo = tmp_path / "my-runs.db"
    for url in (f"sqlite+pysqlite:///{typo}", f"SQLITE:///{typo}"):
        res = cli(["import", "optuna", "--storage", url, "--study", "s"], exp_repo.path)
        assert res.code == 2 and "no such database file" in res.err, res
        assert not typo.exists()
    assert db.exists()
