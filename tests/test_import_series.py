"""`import optuna|mlflow --series` (issue 19 §2, docs/spec.md §4.2 and §2.2): a trial's
intermediate values and a metric's MLflow history come in as the result's series, written
by the libraries themselves into SQLite stores under tmp; committed through the real hooks,
audited, shown by `show ID`; a second import is a no-op; a headline that disagrees with
the registry's `aggregate:`, a series over the cap and a NaN point refuse the run (named),
never thinned or dropped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo
from support import CliCall
from test_import_common import audit_passes, hook_commit, install_hooks, totals, tree_bytes

from expflow_git.importers import Action, import_mlflow, import_optuna
from expflow_git.series import MAX_SERIES_POINTS

optuna = pytest.importorskip(
    "optuna", reason="needs the optuna extra: pip install 'expflow-git[optuna]'"
)
pytest.importorskip(
    "mlflow.tracking", reason="needs the mlflow extra: pip install 'expflow-git[mlflow]'"
)
from mlflow.tracking import MlflowClient  # noqa: E402
from optuna.distributions import IntDistribution  # noqa: E402
from optuna.trial import create_trial  # noqa: E402

STUDY = "curves"


def declare_aggregate(repo: ExpRepo, metric: str, how: str) -> None:
    """The registry says which point of `metric`'s series its headline must equal."""
    policy = repo.path / "expflow.yaml"
    text, n = re.subn(rf"(\n  {metric}: \{{)", rf"\1aggregate: {how}, ", policy.read_text())
    assert n == 1
    policy.write_text(text)


def load(repo: ExpRepo, rel: str) -> Any:
    return json.loads((repo.path / rel).read_text())


# ----------------------------------------------------------------------------- Optuna
def optuna_study(db: Path, *, off_by: float = 0.0) -> str:
    """Two trials that report seg_total at steps 0, 10, .., 40 and return the last value
    (trial 1 returns it plus `off_by`); pde_mean and train_time_min as user attributes."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{db}"
    study = optuna.create_study(
        study_name=STUDY,
        storage=url,
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(0),
    )

    def objective(trial: Any) -> float:
        trial.suggest_int("sub_step", 1, 8)
        curve = [50.0 + step / 10 + trial.number for step in range(0, 50, 10)]
        for step, value in zip(range(0, 50, 10), curve, strict=True):
            trial.report(value, step)
        trial.set_user_attr("pde_mean", 15.0)
        trial.set_user_attr("train_time_min", 40.0)
        return curve[-1] + (off_by if trial.number == 1 else 0.0)

    study.optimize(objective, n_trials=2)
    return url


def optuna_args(url: str, *extra: str) -> list[str]:
    return ["import", "optuna", "--storage", url, "--study", STUDY, "--metric", "seg_total", *extra]


def test_optuna_intermediate_values_become_the_series_committed_audited_shown(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    url = optuna_study(tmp_path / "optuna.db")
    declare_aggregate(exp_repo, "seg_total", "last")
    install_hooks(exp_repo)
    res = cli(optuna_args(url, "--series"), exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "2 new, 0 updated, 0 unchanged, 0 refused"
    doc = load(exp_repo, f"results/{STUDY}/{STUDY}-t0001.json")
    assert doc["series"] == {
        "seg_total": [[0, 51.0], [10, 52.0], [20, 53.0], [30, 54.0], [40, 55.0]]
    }
    assert doc["metrics"]["seg_total"] == 55.0
    proc = hook_commit(exp_repo, "import optuna with series")
    assert proc.returncode == 0, proc.stderr
    assert f"{STUDY}-t0001" in audit_passes(exp_repo)
    shown = cli(["show", f"{STUDY}-t0001"], exp_repo.path)
    assert shown.code == 0, shown
    assert re.search(r"seg_total  \S+ +n=5 steps 0\.\.40  min 51  max 55  last 55", shown.out)
    # Again, with --series: nothing to do.
    before = tree_bytes(exp_repo.path)
    again = cli(optuna_args(url, "--series"), exp_repo.path)
    assert again.code == 0, again
    assert totals(again.out) == "0 new, 0 updated, 2 unchanged, 0 refused"
    assert tree_bytes(exp_repo.path) == before and exp_repo.status() == ""
    # Without --series the committed results differ: refused, and the output says why.
    res = cli(optuna_args(url), exp_repo.path)
    assert res.code == 1, res
    assert "was committed with series (import as it was: --series)" in res.out
    assert tree_bytes(exp_repo.path) == before


def test_optuna_without_series_writes_none(exp_repo: ExpRepo, tmp_path: Path, cli: CliCall) -> None:
    url = optuna_study(tmp_path / "optuna.db")
    assert cli(optuna_args(url), exp_repo.path).code == 0
    assert "series" not in load(exp_repo, f"results/{STUDY}/{STUDY}-t0000.json")


def test_a_headline_that_disagrees_with_the_aggregate_is_refused_as_validate_would(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    url = optuna_study(tmp_path / "optuna.db", off_by=0.5)  # trial 1 returns 55.5, last is 55
    declare_aggregate(exp_repo, "seg_total", "last")
    res = cli(optuna_args(url, "--series"), exp_repo.path)
    assert res.code == 1, res
    assert totals(res.out) == "1 new, 0 updated, 0 unchanged, 1 refused"
    refusal = next(ln for ln in res.out.splitlines() if ln.startswith("refused"))
    assert f"{STUDY}-t0001 (trial 1)" in refusal
    assert "seg_total = 55.5 differs from its series' last value 55" in refusal
    assert not (exp_repo.path / f"experiments/{STUDY}/{STUDY}-t0001.json").exists()  # whole
    # Without a declared aggregate the same study imports: the tool never recomputes.
    policy = exp_repo.path / "expflow.yaml"
    policy.write_text(policy.read_text().replace("aggregate: last, ", ""))
    assert cli(optuna_args(url, "--series"), exp_repo.path).code == 0


def test_a_series_over_the_cap_is_refused_not_thinned(exp_repo: ExpRepo, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=STUDY, storage=url, direction="maximize")
    n = MAX_SERIES_POINTS + 1
    study.add_trial(
        create_trial(
            params={"sub_step": 2},
            distributions={"sub_step": IntDistribution(1, 8)},
            value=1.0,
            intermediate_values={step: 1.0 for step in range(n)},
            user_attrs={"pde_mean": 15.0, "train_time_min": 40.0},
        )
    )
    # The Python API says the same as the CLI.
    summary = import_optuna(url, STUDY, root=exp_repo.path, metrics=["seg_total"], series=True)
    assert summary.refused == 1
    (reason,) = summary.plans[0].reasons
    assert f"series seg_total has {n:,} points, over the cap of {MAX_SERIES_POINTS:,}" in reason
    assert not (exp_repo.path / "experiments" / STUDY).exists()


# ----------------------------------------------------------------------------- MLflow
class Store:
    """A SQLite tracking store with one experiment."""

    def __init__(self, path: Path) -> None:
        self.uri = f"sqlite:///{path}"
        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment_id = self.client.create_experiment("curves")

    def finished(self, name: str, logs: dict[str, list[tuple[int, float, int]]]) -> str:
        """A FINISHED run with each metric's (step, value, timestamp ms) logged in order."""
        run_id = str(self.client.create_run(self.experiment_id, run_name=name).info.run_id)
        self.client.log_param(run_id, "sub_step", "4")
        for metric, points in logs.items():
            for step, value, stamp in points:
                self.client.log_metric(run_id, metric, value, timestamp=stamp, step=step)
        self.client.set_terminated(run_id, "FINISHED")
        return run_id


def mlflow_args(store: Store, *extra: str) -> list[str]:
    return ["import", "mlflow", "--tracking-uri", store.uri, "--experiment", "curves", *extra]


T = 1_700_000_000_000
FNO = {
    # step 1 logged twice: the later timestamp (14.0) wins, though logged first
    "pde_mean": [(0, 16.0, T), (1, 14.0, T + 20), (1, 13.0, T + 10), (5, 15.0, T + 30)],
    "seg_total": [(0, 50.0, T), (2, 57.0, T + 1), (4, 56.0, T + 2)],
    "train_time_min": [(0, 45.0, T)],
    "gpu_util": [(0, 0.9, T)],  # not in the registry: no series either
}


def test_mlflow_history_becomes_the_series_committed_audited_shown(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    store = Store(tmp_path / "mlflow.db")
    run_id = store.finished("fno", FNO)
    declare_aggregate(exp_repo, "pde_mean", "min")
    install_hooks(exp_repo)
    res = cli(mlflow_args(store, "--series", "--metric", "pde_mean=min"), exp_repo.path)
    assert res.code == 0, res
    doc = load(exp_repo, f"results/curves/{run_id}.json")
    assert doc["series"] == {
        "pde_mean": [[0, 16.0], [1, 14.0], [5, 15.0]],
        "seg_total": [[0, 50.0], [2, 57.0], [4, 56.0]],
        "train_time_min": [[0, 45.0]],
    }
    # min of the series (13.0 was overwritten at step 1 by a later value); last otherwise
    assert doc["metrics"] == {"pde_mean": 14.0, "seg_total": 56.0, "train_time_min": 45.0}
    assert hook_commit(exp_repo, "import mlflow with series").returncode == 0
    assert run_id in audit_passes(exp_repo)
    shown = cli(["show", run_id], exp_repo.path)
    assert "pde_mean  " in shown.out and "n=3 steps 0..5  min 14  max 16  last 15" in shown.out
    before = tree_bytes(exp_repo.path)
    again = cli(mlflow_args(store, "--series", "--metric", "pde_mean=min"), exp_repo.path)
    assert totals(again.out) == "0 new, 0 updated, 1 unchanged, 0 refused", again
    assert tree_bytes(exp_repo.path) == before and exp_repo.status() == ""
    # The registry's aggregate judges the choice: `last` (15) is not the series' min.
    res = cli(mlflow_args(store, "--series", "--dry-run"), exp_repo.path)
    assert res.code == 1 and "pde_mean = 15 differs from its series' min value 14" in res.out


def test_mlflow_nan_in_a_history_refuses_the_run_naming_the_step(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    store = Store(tmp_path / "mlflow.db")
    logs = dict(FNO, seg_total=[(0, 50.0, T), (3, float("nan"), T + 1), (4, 56.0, T + 2)])
    store.finished("nan", logs)
    good = store.finished("good", FNO)
    summary = import_mlflow(store.uri, "curves", root=exp_repo.path, series=True)
    assert summary.refused == 1 and summary.count(Action.NEW) == 1
    (refused,) = [p for p in summary.plans if p.action is Action.REFUSED]
    assert refused.reasons == ("series seg_total: 1 value(s) not finite (step 3)",)
    assert (exp_repo.path / f"results/curves/{good}.json").exists()
