"""What an attacker's review of the importers found (after issue 17): a committed result
rewritten because it sat outside `results/` or was gone from the work tree, a record
written before its result's folder turned out to be a file, a number no double holds
and a damaged Optuna store ending in tracebacks, and an error naming the wrong option.
Each test fails on the code before its fix."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo
from support import CliCall, run_cli
from test_import_csv import GOOD, STUDY, args, write_csv

from expflow_git.importers.source import first_line, metric_value, redact_uri

CHANGED = GOOD.replace("r-001,5,0.001,57.09", "r-001,5,0.001,99.9")


def import_and_archive(exp_repo: ExpRepo, tmp_path: Path, cli: CliCall) -> None:
    """`archive/**/*.json` added to the result globs; GOOD imported and committed, then
    r-001's result moved to `archive/` and committed."""
    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    old = 'results: ["results/**/*.json"]'
    assert old in text
    policy.write_text(text.replace(old, 'results: ["results/**/*.json", "archive/**/*.json"]'))
    assert cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path).code == 0
    exp_repo.commit("imported")
    (exp_repo.path / "archive" / STUDY).mkdir(parents=True)
    exp_repo.git("mv", f"results/{STUDY}/r-001.json", f"archive/{STUDY}/r-001.json")
    exp_repo.commit("archived")


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
    import_and_archive(exp_repo, tmp_path, cli)
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
    import_and_archive(exp_repo, tmp_path, cli)
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


def test_a_librarys_error_never_shows_a_secret_of_the_uri() -> None:
    """urllib3 quotes the URL it could not reach in its own form (`url: /?token=…`), so a
    secret query value reached the error line although the provenance redacts it, and a
    `;token=` parameter was redacted nowhere (an attacker's hunt)."""
    uri = "http://u:pa%24s@127.0.0.1:9/;auth=P4TH?token=TOP%2FSECRET&api_key=K3Y&x=1"
    message = (
        f"API request to {uri}/api/2.0 failed: Max retries exceeded with url: "
        "/;auth=P4TH?token=TOP/SECRET/api/2.0&api_key=K3Y&x=1 (pa$s TOP%2FSECRET)"
    )
    shown = first_line(RuntimeError(message), uri)
    for secret in ("P4TH", "TOP", "SECRET", "K3Y", "pa$s", "pa%24s"):
        assert secret not in shown, shown
    assert "x=1" in shown and "127.0.0.1:9" in shown, shown
    assert redact_uri(uri) == (
        "http://u@127.0.0.1:9/;auth=REDACTED?token=REDACTED&api_key=REDACTED&x=1"
    )


@pytest.mark.parametrize(
    ("query", "quoted"),
    [
        # urllib3's spelling of the URL it could not reach, after the given one (a review):
        ("token=abc;defTOPSECRET", "token=abc;defTOPSECRET"),  # `;` inside the value
        ("token=a!b%2fcTOPSECRET", "token=a!b%2FcTOPSECRET"),  # escapes upper-cased
        ("token=ab%2bc+TOPSECRET", "token=ab%2Bc+TOPSECRET"),
        ("%74oken=TOPSECRET", "token=TOPSECRET"),  # a name percent-encoded, decoded
        ("x=1;token=TOPSECRET", "x=1;token=TOPSECRET"),  # `;` as a separator
    ],
)
def test_a_secret_is_masked_in_the_librarys_own_spelling(query: str, quoted: str) -> None:
    uri = f"http://127.0.0.1:9/?{query}"
    message = f"Max retries exceeded with url: /?{quoted}/api/2.0/x&experiment_name=e"
    shown = first_line(RuntimeError(message), uri)
    assert "TOPSECRET" not in shown and "experiment_name=e" in shown, shown
    assert "TOPSECRET" not in redact_uri(uri)


def test_a_short_secret_value_is_masked_only_after_its_name() -> None:
    """`?sortkey=1` ("key" in its name) had every "1" of the message masked: the host
    read `***27.0.0.***` (a review)."""
    uri = "http://127.0.0.1:1/?sortkey=1"
    message = f"API request to {uri}/api failed: url: /?sortkey=1/api (host='127.0.0.1', port=1)"
    shown = first_line(RuntimeError(message), uri)
    assert "host='127.0.0.1', port=1" in shown and "sortkey=1" not in shown, shown
    # A password has no name before it: masked at any length, in every spelling (a
    # review of this fix: `abc`, and `p%41s` quoted decoded as `pAs`, were shown).
    for uri, message in (
        ("http://u:abc@127.0.0.1:1/", "url http://u:abc@127.0.0.1:1 refused (password abc)"),
        ("postgresql://u:p%41s@db/x", "connection to 'postgresql://u:pAs@db/x' failed"),
    ):
        shown = first_line(RuntimeError(message), uri)
        assert "abc" not in shown and "pAs" not in shown, shown


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
    one = f"sqlite:///file:{db.parent}/my%20runs.db?uri=1"  # SQLAlchemy's uri=1 is uri=true
    res = cli(["import", "optuna", "--storage", one, "--study", "s"], exp_repo.path)
    assert res.code == 0 and "1 unchanged" in res.out, res
    # A tab in the name: SQLite keeps it where `urlsplit` dropped it (and checked `tb.db`)
    tabbed = db.rename(tmp_path / "t\tb.db")
    res = cli(
        ["import", "optuna", "--storage", f"sqlite:///file:{tmp_path}/t%09b.db?uri=true"]
        + ["--study", "s"],
        exp_repo.path,
    )
    assert res.code == 0 and "1 unchanged" in res.out, res
    db = tabbed.rename(db)
    typo = tmp_path / "my-runs.db"
    for url in (
        f"sqlite+pysqlite:///{typo}",
        f"sqlite:///file:{typo}?mode=rwc&uri=true",
        # not an in-memory database: `mode=memory` is in the file name, `?` escaped
        f"sqlite:///file:{typo}%3Fxmode=memory?uri=true",
        # no `file:`: SQLite opens the name as it is (`my runs.db#x`), not as a URI
        f"sqlite:///{db}%23x?uri=true",
    ):
        res = cli(["import", "optuna", "--storage", url, "--study", "s"], exp_repo.path)
        assert res.code == 2 and "no such database file" in res.err, (url, res)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["my runs.db", "repo"], url
    memory = cli(
        ["import", "optuna", "--storage", "sqlite:///file::memory:?uri=true", "--study", "s"],
        exp_repo.path,
    )
    # An empty in-memory database, read as one (not as a missing file `:memory:`)
    assert memory.code == 2 and "readonly database" in memory.err, memory


def _tables(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {row[0] for row in conn.execute("select name from sqlite_master")}


def test_a_database_is_read_and_never_changed_by_the_trackers_library(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """Only the tracker's one table was looked for: Optuna made its other tables in any
    database with a `studies` table, or one missing from its own store; MLflow made ~70
    in any database with an `experiments` table, and printed its traceback."""
    pytest.importorskip("mlflow.tracking")
    lab = tmp_path / "lab.db"
    with contextlib.closing(sqlite3.connect(lab)) as conn:
        conn.execute("create table studies(id integer primary key, title text)")
        conn.execute("create table experiments(id integer primary key, title text)")
        conn.commit()
    older = _optuna_study(tmp_path)
    with contextlib.closing(sqlite3.connect(older)) as conn:
        conn.execute("drop table trial_heartbeats")
        conn.commit()
    before = {p: p.read_bytes() for p in (lab, older)}
    status = exp_repo.status()
    for argv in (
        ["optuna", "--storage", f"sqlite:///{lab}", "--study", "s"],
        ["optuna", "--storage", f"sqlite:///{older}", "--study", "s"],
        ["mlflow", "--tracking-uri", f"sqlite:///{lab}", "--experiment", "e"],
    ):
        res = cli(["import", *argv], exp_repo.path)
        assert res.code == 2 and res.err.count("\n") == 1, (argv, res)
        assert "Traceback" not in res.err and "readonly database" in res.err, (argv, res)
    assert {p: p.read_bytes() for p in before} == before
    assert _tables(lab) == {"studies", "experiments"}
    assert "trial_heartbeats" not in _tables(older)
    assert exp_repo.status() == status


def test_a_wal_database_is_left_without_files_beside_it(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """The store check opened the database read-only, and a read-only connection cannot
    remove the -wal and -shm files it makes beside a WAL database."""
    (tmp_path / "store").mkdir()
    db = _optuna_study(tmp_path / "store")
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("pragma journal_mode=wal").fetchone() == ("wal",)
    assert sorted(p.name for p in db.parent.iterdir()) == ["o.db"]
    res = cli(["import", "optuna", "--storage", f"sqlite:///{db}", "--study", "s"], exp_repo.path)
    assert res.code == 0 and "1 new" in res.out, res
    assert sorted(p.name for p in db.parent.iterdir()) == ["o.db"]


def test_a_folder_without_an_mlflow_experiment_is_not_opened_as_a_store(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow made `.trash` in any folder it was given (`--tracking-uri .`: in the work
    tree), and an empty URI made MLflow open its default store, `mlflow.db` here."""
    pytest.importorskip("mlflow.tracking")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    empty = tmp_path / "empty"
    empty.mkdir()
    for uri, message in (
        (".", "no MLflow experiment in this folder"),
        (str(empty), "no MLflow experiment in this folder"),
        ("", "an empty URL names no MLflow store"),
    ):
        res = cli(["import", "mlflow", "--tracking-uri", uri, "--experiment", "e"], exp_repo.path)
        assert res.code == 2 and message in res.err and res.err.count("\n") == 1, (uri, res)
    assert not (exp_repo.path / ".trash").exists() and not list(empty.iterdir())
    assert not (exp_repo.path / "mlflow.db").exists() and not (exp_repo.path / "mlruns").exists()
    res = cli(["import", "optuna", "--storage", "", "--study", "s"], exp_repo.path)
    assert res.code == 2 and "an empty URL names no Optuna store" in res.err, res


def test_an_mlflow_import_sends_no_telemetry(
    exp_repo: ExpRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow 3 starts its telemetry when imported, outside CI and tests: the import wrote
    `~/.config/mlflow/telemetry.json` and would have sent usage records."""
    pytest.importorskip("mlflow.tracking")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri)
    client.create_run(client.create_experiment("e"))
    config = tmp_path / "config"
    for name in ("PYTEST_CURRENT_TEST", "CI", "GITHUB_ACTIONS", "MLFLOW_DISABLE_TELEMETRY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    env = {"XDG_CONFIG_HOME": str(config), "HOME": str(tmp_path)}
    res = run_cli(
        ["import", "mlflow", "--tracking-uri", uri, "--experiment", "e"], exp_repo.path, env
    )
    assert res.code == 0, res
    assert not (config / "mlflow").exists(), sorted(config.rglob("*"))


def test_the_store_check_never_writes_a_wal_databases_pending_pages(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """The check opened the database read-write; as the last connection to close, it
    wrote a WAL database's pending pages into the file and removed the -wal, even when
    the URL asked for `immutable=1` or `mode=ro`."""
    (tmp_path / "live").mkdir()
    db = _optuna_study(tmp_path / "live")
    copy = tmp_path / "copy"
    copy.mkdir()
    with contextlib.closing(sqlite3.connect(db)) as live:
        live.execute("pragma journal_mode=wal")
        live.execute("pragma wal_autocheckpoint=0")
        live.execute("create table notes(x)")  # a page only the -wal holds
        live.commit()
        for name in ("o.db", "o.db-wal"):  # as a crash leaves them: the writer still open
            (copy / name).write_bytes((db.parent / name).read_bytes())
    before = (copy / "o.db").read_bytes()
    for options in ("immutable=1", "mode=ro"):
        url = f"sqlite:///file:{copy}/o.db?{options}&uri=true"
        res = cli(
            ["import", "optuna", "--storage", url, "--study", "s", "--dry-run"], exp_repo.path
        )
        assert res.code == 0 and "1 new" in res.out, (url, res)
        assert (copy / "o.db").read_bytes() == before, url
        assert (copy / "o.db-wal").exists(), url


def test_read_only_touches_this_threads_connections_and_every_checkout(tmp_path: Path) -> None:
    """The listener was class-wide and on `connect` only: another thread's writes to its
    own database failed during an import, and a connection pooled before it was not
    made query-only."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    from expflow_git.importers.source import read_only_sqlite

    def write(engine: Any) -> str:
        try:
            with engine.begin() as conn:
                conn.execute(sqlalchemy.text("insert into t values (1)"))
            return "written"
        except sqlalchemy.exc.OperationalError as exc:
            return "readonly" if "readonly" in str(exc) else str(exc)

    ours, theirs = (sqlalchemy.create_engine(f"sqlite:///{tmp_path}/{n}.db") for n in "ab")
    for engine in (ours, theirs):  # each with a pooled connection, made beforehand
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("create table t(x)"))
    outcome: list[str] = []
    with read_only_sqlite():
        inside = write(ours)
        # Another thread, on its own engine and on the one this thread just used (MLflow
        # shares one engine per URL): the pooled connection is writable again.
        for engine in (theirs, ours):
            other = threading.Thread(target=lambda e=engine: outcome.append(write(e)))
            other.start()
            other.join()
    assert (inside, outcome) == ("readonly", ["written", "written"])
    assert write(ours) == "written"


def test_read_only_leaves_an_in_memory_database_open() -> None:
    """The engines were disposed at the end: a Python caller's in-memory store (MLflow's
    `sqlite:///:memory:`) was closed, and every table in it lost."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    from expflow_git.importers.source import read_only_sqlite

    memory = sqlalchemy.create_engine("sqlite://")
    with memory.begin() as conn:
        conn.execute(sqlalchemy.text("create table t(x)"))
        conn.execute(sqlalchemy.text("insert into t values (1)"))
    with read_only_sqlite(), memory.connect() as conn:
        assert conn.execute(sqlalchemy.text("select count(*) from t")).scalar() == 1
    with memory.connect() as conn:
        assert conn.execute(sqlalchemy.text("select count(*) from t")).scalar() == 1


@pytest.mark.parametrize("given", ["../outside.yaml", "ABSOLUTE"])
def test_a_policy_outside_the_repository_still_imports(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, given: str
) -> None:
    """HEAD's policy was looked up at `--policy`'s path: one outside the repository made
    `git ls-tree` fail, and every import with it exit 2."""
    exp_repo.commit("init")
    outside = tmp_path / "outside.yaml"
    outside.write_bytes((exp_repo.path / "expflow.yaml").read_bytes())
    policy = str(outside) if given == "ABSOLUTE" else given
    sheet = write_csv(tmp_path, GOOD)
    res = cli([*args(sheet, "--status-column", "state"), "--policy", policy], exp_repo.path)
    assert res.code == 0 and "4 new" in res.out, res


def test_an_update_names_every_field_it_changes(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """A failed run taken in as a success with other params was shown as `status failed →
    success` alone: the params change was not named. (Not committed: a committed failed
    run is frozen, test_import_csv.py.)"""
    assert cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path).code == 0
    retried = GOOD.replace("r-003,4,0.02,,,,,failed", "r-003,6,0.02,55.0,15.5,41,53.0,success")
    res = cli(args(write_csv(tmp_path, retried), "--status-column", "state"), exp_repo.path)
    assert res.code == 0, res
    # (the failed row's reason, that the file recorded none, goes with its failure)
    assert "status failed → success; params, reason changed" in res.out, res.out
