"""`expflow-git import mlflow` (issue 17, docs/spec.md §4.2) on real MLflow runs that MLflow's
own client writes to a local SQLite tracking store under tmp (no server, no network):
statuses, string params, tags, last/min/max metrics, unknown metrics listed once; the
import committed through the real hooks and audited; a second import is a no-op; a run
changed after commit is reported, not rewritten."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo
from support import CliCall
from test_import_common import audit_passes, hook_commit, install_hooks, totals, tree_bytes

from expflow_git.errors import ExpflowError

pytest.importorskip(
    "mlflow.tracking", reason="needs the mlflow extra: pip install 'expflow-git[mlflow]'"
)
pytest.importorskip("sqlalchemy", reason="needs the mlflow extra's SQLAlchemy (SQLite store)")
from mlflow.tracking import MlflowClient  # noqa: E402

EXPERIMENT = "pde runs"
STUDY = "pde-mlflow"


class Store:
    """A SQLite tracking store and the runs written to it, by name."""

    def __init__(self, path: Path) -> None:
        self.uri = f"sqlite:///{path}"
        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment_id = self.client.create_experiment(EXPERIMENT)
        self.ids: dict[str, str] = {}

    def run(self, name: str, *, params: dict[str, str], tags: dict[str, str] | None = None) -> str:
        run = self.client.create_run(self.experiment_id, run_name=name, tags=tags or {})
        for key, value in params.items():
            self.client.log_param(run.info.run_id, key, value)
        self.ids[name] = run.info.run_id
        return str(run.info.run_id)

    def log(self, name: str, metric: str, *values: float) -> None:
        for step, value in enumerate(values):
            self.client.log_metric(self.ids[name], metric, value, step=step)

    def end(self, name: str, status: str) -> None:
        self.client.set_terminated(self.ids[name], status)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """fno-a FINISHED (seg_total 50, 57, 56; pde_mean 16, 15), fno-b FINISHED, crashed
    FAILED, stopped KILLED, live RUNNING, queued SCHEDULED."""
    store = Store(tmp_path / "mlflow.db")
    store.run(
        "fno-a",
        params={"sub_step": "5", "lr": "0.001"},
        tags={"team": "pde", "note": "two words"},
    )
    store.log("fno-a", "seg_total", 50.0, 57.0, 56.0)
    store.log("fno-a", "pde_mean", 16.0, 15.0)
    store.log("fno-a", "train_time_min", 45.0)
    store.log("fno-a", "gpu_util", 0.9)  # not in the registry
    store.end("fno-a", "FINISHED")
    store.run("fno-b", params={"sub_step": "3", "lr": "0.01"})
    store.log("fno-b", "seg_total", 54.0)
    store.log("fno-b", "pde_mean", 14.0)
    store.log("fno-b", "train_time_min", 30.0)
    store.log("fno-b", "gpu_util", 0.8)
    store.end("fno-b", "FINISHED")
    store.run("crashed", params={"sub_step": "2"})
    store.end("crashed", "FAILED")
    store.run("stopped", params={"sub_step": "2"})
    store.end("stopped", "KILLED")
    store.run("live", params={"sub_step": "4"})
    store.run("queued", params={"sub_step": "4"})
    store.client.update_run(store.ids["queued"], status="SCHEDULED")
    return store


def import_args(store: Store, *extra: str) -> list[str]:
    return [
        "import",
        "mlflow",
        "--tracking-uri",
        store.uri,
        "--experiment",
        EXPERIMENT,
        "--study-as",
        STUDY,
        *extra,
    ]


def record(repo: ExpRepo, store: Store, name: str) -> Any:
    return json.loads((repo.path / f"experiments/{STUDY}/{store.ids[name]}.json").read_text())


def result_path(repo: ExpRepo, store: Store, name: str) -> Path:
    return repo.path / f"results/{STUDY}/{store.ids[name]}.json"


def result(repo: ExpRepo, store: Store, name: str) -> Any:
    return json.loads(result_path(repo, store, name).read_text())


def test_runs_map_to_records_and_results(exp_repo: ExpRepo, store: Store, cli: CliCall) -> None:
    res = cli(import_args(store), exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "6 new, 0 updated, 0 unchanged, 0 refused"
    statuses = {n: record(exp_repo, store, n)["status"] for n in store.ids}
    assert statuses == {
        "fno-a": "success",
        "fno-b": "success",
        "crashed": "failed",
        "stopped": "failed",
        "live": "running",
        "queued": "pending",
    }
    rec = record(exp_repo, store, "fno-a")
    assert rec["params"] == {"sub_step": "5", "lr": "0.001"}  # strings, as MLflow keeps them
    assert rec["tags"] == ["team:pde"]  # "two words" is no tag; said once on stderr
    assert rec["title"] == "fno-a"
    source = rec["provenance"]["source"]
    assert source == {**source, "tracker": "mlflow", "run": store.ids["fno-a"], "name": "fno-a"}
    assert source["study"] == EXPERIMENT and source["uri"] == store.uri
    assert record(exp_repo, store, "stopped")["reason"].startswith("killed")
    # spec §2.1: a failed record says why; MLflow kept none (a user's hunt, issue 18
    # twenty-fourth pass: the record had no reason at all).
    assert record(exp_repo, store, "crashed")["reason"] == "failed in MLflow (no reason recorded)"
    # The last value of each registry metric; unknown ones listed once, not per run.
    assert result(exp_repo, store, "fno-a")["metrics"] == {
        "seg_total": 56.0,
        "pde_mean": 15.0,
        "train_time_min": 45.0,
    }
    warnings = [ln for ln in res.err.splitlines() if "not in the registry" in ln]
    assert len(warnings) == 1 and "gpu_util" in warnings[0], res.err
    assert any("tag(s) not kept" in ln and "note" in ln for ln in res.err.splitlines())
    for name in ("crashed", "stopped", "live", "queued"):
        assert not result_path(exp_repo, store, name).exists()


def test_min_and_max_of_the_history_on_request(
    exp_repo: ExpRepo, store: Store, cli: CliCall
) -> None:
    args = import_args(store, "--metric", "seg_total=max", "--metric", "pde_mean=min")
    assert cli(args, exp_repo.path).code == 0
    metrics = result(exp_repo, store, "fno-a")["metrics"]
    assert metrics["seg_total"] == 57.0 and metrics["pde_mean"] == 15.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metric", "seg_total=median"], "expected NAME=min|max|last"),
        (["--metric", "gpu_util=max"], "not in the registry"),
        (["--metric", "seg_total=min", "--metric", "seg_total=max"], "'seg_total': named twice"),
    ],
)
def test_bad_metric_choices_are_exit_2(
    exp_repo: ExpRepo, store: Store, cli: CliCall, extra: list[str], message: str
) -> None:
    res = cli(import_args(store, *extra), exp_repo.path)
    assert res.code == 2 and message in res.err, res


def test_committed_through_the_hooks_audited_and_reimported_as_a_noop(
    exp_repo: ExpRepo, store: Store, cli: CliCall
) -> None:
    install_hooks(exp_repo)
    # MLflow params are strings ("5"): the template's `sub_step > 0` rule reads them as
    # numbers (docs/spec.md §3), so the policy is the template's, unchanged.
    assert cli(import_args(store), exp_repo.path).code == 0
    proc = hook_commit(exp_repo, "import mlflow")
    assert proc.returncode == 0, proc.stderr
    assert store.ids["fno-a"] in audit_passes(exp_repo)
    before = tree_bytes(exp_repo.path)
    again = cli(import_args(store), exp_repo.path)
    assert again.code == 0, again
    assert totals(again.out) == "0 new, 0 updated, 6 unchanged, 0 refused"
    assert tree_bytes(exp_repo.path) == before and exp_repo.status() == ""
    # The live run finishes: its record is updated, its result added.
    store.log("live", "seg_total", 58.0)
    store.log("live", "pde_mean", 13.0)
    store.log("live", "train_time_min", 50.0)
    store.end("live", "FINISHED")
    res = cli(import_args(store), exp_repo.path)
    assert totals(res.out) == "0 new, 1 updated, 5 unchanged, 0 refused", res
    assert hook_commit(exp_repo, "live finished").returncode == 0
    audit_passes(exp_repo)


def test_a_run_changed_after_commit_is_reported_not_rewritten(
    exp_repo: ExpRepo, store: Store, cli: CliCall
) -> None:
    assert cli(import_args(store), exp_repo.path).code == 0
    exp_repo.commit("import")
    before = tree_bytes(exp_repo.path)
    store.log("fno-b", "seg_total", 54.0, 60.0)  # logged to the finished run: last is 60
    res = cli(import_args(store), exp_repo.path)
    assert res.code == 1, res
    refusal = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
    assert len(refusal) == 1 and store.ids["fno-b"] in refusal[0]
    assert "changed after its result" in refusal[0]
    assert tree_bytes(exp_repo.path) == before


def test_a_committed_failed_run_finished_later_is_refused_not_rewritten(
    exp_repo: ExpRepo, store: Store, cli: CliCall
) -> None:
    """A run committed FAILED, then given a score and set FINISHED, was imported as
    `updated … [status failed → success; reason changed]`, exit 0, with its result (a
    hunter's report, issue 18 twenty-seventh pass). A committed failed record is frozen."""
    assert cli(import_args(store), exp_repo.path).code == 0
    exp_repo.commit("import")
    before = tree_bytes(exp_repo.path)
    store.log("crashed", "seg_total", 99.0)
    store.log("crashed", "pde_mean", 1.0)
    store.log("crashed", "train_time_min", 1.0)
    store.end("crashed", "FINISHED")
    res = cli(import_args(store), exp_repo.path)
    assert res.code == 1, res
    refusal = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
    assert len(refusal) == 1 and store.ids["crashed"] in refusal[0], res.out
    assert "was committed as failed: its status differs" in refusal[0], res.out
    assert tree_bytes(exp_repo.path) == before


def test_a_renamed_experiment_is_the_same_runs(
    exp_repo: ExpRepo, store: Store, cli: CliCall
) -> None:
    """An MLflow run is its run id (spec §4.2): after `rename_experiment` every committed
    run was refused, `--study-as` or not (`id '…' is taken: its record was imported from
    mlflow 'pde runs'`; a hunter's report, issue 18 twenty-seventh pass)."""
    assert cli(import_args(store), exp_repo.path).code == 0
    exp_repo.commit("import")
    before = tree_bytes(exp_repo.path)
    store.client.rename_experiment(store.experiment_id, "pde runs v2")
    renamed = [a if a != EXPERIMENT else "pde runs v2" for a in import_args(store)]
    res = cli(renamed, exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "0 new, 0 updated, 6 unchanged, 0 refused", res.out
    assert tree_bytes(exp_repo.path) == before
    # Without --study-as the study is the new name's: the refusal says which to give.
    res = cli(renamed[: renamed.index("--study-as")], exp_repo.path)
    assert res.code == 1, res
    refusals = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
    assert len(refusals) == 6, res.out
    assert all(ln.endswith(f"import it again with --study-as {STUDY}") for ln in refusals)
    assert tree_bytes(exp_repo.path) == before
    # A new run in the renamed experiment is imported beside them.
    store.run("fno-c", params={"sub_step": "6"})
    res = cli(renamed, exp_repo.path)
    assert totals(res.out) == "1 new, 0 updated, 6 unchanged, 0 refused", res.out


def test_unknown_experiment_is_exit_2(exp_repo: ExpRepo, store: Store, cli: CliCall) -> None:
    args = ["import", "mlflow", "--tracking-uri", store.uri, "--experiment", "nope"]
    res = cli(args, exp_repo.path)
    assert res.code == 2 and "no MLflow experiment named 'nope'" in res.err, res


def test_the_python_api_imports_the_same(exp_repo: ExpRepo, store: Store) -> None:
    from expflow_git.importers import Action, import_mlflow

    summary = import_mlflow(
        store.uri, EXPERIMENT, root=exp_repo.path, study_as=STUDY, metrics={"seg_total": "max"}
    )
    assert summary.count(Action.NEW) == 6
    assert result(exp_repo, store, "fno-a")["metrics"]["seg_total"] == 57.0


def test_the_python_api_reads_an_aggregate_as_the_cli_does(exp_repo: ExpRepo, store: Store) -> None:
    """`metrics=` from Python: `"MIN"` is `min` as `--metric pde_mean=MIN` is (it was the
    largest value: any aggregate but `last` and `min` was taken as `max`)."""
    from expflow_git.importers import import_mlflow

    import_mlflow(
        store.uri, EXPERIMENT, root=exp_repo.path, study_as=STUDY, metrics={"pde_mean": " MIN"}
    )
    assert result(exp_repo, store, "fno-a")["metrics"]["pde_mean"] == 15.0
    from expflow_git.importers.mlflow import _aggregate

    with pytest.raises(ExpflowError, match="expected NAME=min|max|last"):
        _aggregate([16.0, 15.0], "mean")  # never `max` by default


@pytest.mark.parametrize(
    ("metrics", "error", "message"),
    [
        # A user's hunt: each of these imported the largest value, or ignored the name.
        (
            {"pde_mean": "mean"},
            ExpflowError,
            "--metric 'pde_mean=mean': expected NAME=min|max|last",
        ),
        ({"pde_mean": "minimum"}, ExpflowError, "expected NAME=min|max|last"),
        (
            {"pde_mean": None},
            ValueError,
            "metric 'pde_mean': give 'last', 'min' or 'max', not None",
        ),
        (
            {"pde_meen": "min"},
            ExpflowError,
            "not in the registry of expflow.yaml (did you mean 'pde_mean'?)",
        ),
        ({"pde_mean": "min", " pde_mean": "max"}, ExpflowError, "'pde_mean': named twice"),
        ({5: "min"}, ValueError, "metric name 5: names are strings"),
        # A list was read as pairs: ["ab"] as {"a": "b"}, ["pde_mean"] a dict() error.
        (["ab"], ValueError, "metrics: give a mapping of registry metrics"),
        (["pde_mean"], ValueError, "metrics: give a mapping of registry metrics"),
    ],
)
def test_the_python_api_checks_its_metric_choices_as_the_cli_does(
    exp_repo: ExpRepo, store: Store, metrics: object, error: type[Exception], message: str
) -> None:
    from expflow_git.importers import import_mlflow

    with pytest.raises(error, match=re.escape(message)):
        import_mlflow(store.uri, EXPERIMENT, root=exp_repo.path, study_as=STUDY, metrics=metrics)  # type: ignore[arg-type]
    assert not (exp_repo.path / "experiments" / STUDY).exists()
    with pytest.raises(ValueError, match="study_as: give text, not 5"):
        import_mlflow(store.uri, EXPERIMENT, root=exp_repo.path, study_as=5)  # type: ignore[arg-type]


def test_a_password_never_reaches_an_error_message(exp_repo: ExpRepo, cli: CliCall) -> None:
    # MLflow quotes an unsupported URI in its error; the import shows it without the password.
    args = [
        "import",
        "mlflow",
        "--tracking-uri",
        "foo://bob:s3cret@localhost/x",
        "--experiment",
        "e",
    ]
    res = cli(args, exp_repo.path)
    assert res.code == 2, res
    assert "s3cret" not in res.both and "foo://bob@localhost/x" in res.err
    assert res.err.count("\n") == 1


def test_notes_name_five_metrics_and_tags_and_count_the_rest(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """A run logging dozens of metrics the registry lacks (or of tags no tag can hold)
    got one note line naming every one of them, as Optuna's got before a review capped
    its at five (a note left in the thirty-seventh pass, issue 18)."""
    store = Store(tmp_path / "many.db")
    bad_tags = {f"bad tag {i:02}": "x" for i in range(8)}
    store.run("wide", params={"sub_step": "1"}, tags=bad_tags)
    for name in ("seg_total", "pde_mean", "train_time_min"):
        store.log("wide", name, 1.0)
    for i in range(12):
        store.log("wide", f"extra_{i:02}", 0.5)
    store.end("wide", "FINISHED")
    res = cli(import_args(store), exp_repo.path)
    assert res.code == 0, res
    unknown = [ln for ln in res.err.splitlines() if "not in the registry" in ln]
    tags = [ln for ln in res.err.splitlines() if "tag(s) not kept" in ln]
    assert len(unknown) == 1 and len(tags) == 1, res.err
    assert "12 metric(s)" in unknown[0] and unknown[0].endswith(
        "extra_00, extra_01, extra_02, extra_03, extra_04, and 7 more"
    ), unknown[0]
    assert "extra_05" not in unknown[0]
    assert "8 tag(s)" in tags[0] and tags[0].endswith(", and 3 more"), tags[0]
    assert "bad tag 05" not in tags[0]
