"""An attacker's hunt of the importers (issue 18 thirty-ninth pass), on real Optuna
studies in SQLite, real MLflow runs and real CSV files, through the real CLI:

- an Optuna user attribute `--split-attr` names, named like a registry metric
  (`--split-attr holdout=seg1`), was written twice: into the split as the first
  objective's metric, and as that registry metric's headline value, the holdout's
  score ranked and gated as the run's own `seg1`;
- a committed failed trial whose param turned from `1` to `true` at the source (and its
  reason changed) was written over, "[reason changed]", exit 0: Python's `1 == True`
  took the params for unchanged, where §4.2 keeps an ended run's params.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliCall
from test_import_common import hook_commit, install_hooks, optuna_study, totals, tree_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")


# ------------------------------------------------- a split's attribute is the split's only
def test_a_split_attribute_named_like_a_metric_is_no_headline_metric(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """spec §4.2: "an attribute `--split-attr` names is the split's". The trial's user
    attribute `seg1` holds the holdout's seg_total (`--split-attr holdout=seg1`); the
    result also had `metrics.seg1 = 61.0`, a holdout score as the run's own metric."""
    pytest.importorskip("optuna", reason="needs the optuna extra")
    from optuna.distributions import IntDistribution

    db = tmp_path / "o.db"
    attrs = {"pde_mean": 15.0, "train_time_min": 40.0, "seg1": 61.0}
    optuna_study(
        db,
        "sweep",
        "seg_total",
        57.0,
        [
            {
                "params": {"sub_step": 1},
                "distributions": {"sub_step": IntDistribution(1, 8)},
                "user_attrs": attrs,
            }
        ],
    )
    args = ["import", "optuna", "--storage", f"sqlite:///{db}", "--study", "sweep"]
    res = cli([*args, "--split-attr", "holdout=seg1"], exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "1 new, 0 updated, 0 unchanged, 0 refused", res.out
    result = json.loads((exp_repo.path / "results/sweep/sweep-t0000.json").read_text())
    assert result["splits"] == {"holdout": {"seg_total": 61.0}}
    assert result["metrics"] == {"seg_total": 57.0, "pde_mean": 15.0, "train_time_min": 40.0}
    assert "seg1" not in res.err  # (not said either: it is the split's)


# ------------------------------------------- an ended run's params: `true` is not `1`
def test_a_committed_failed_trial_whose_param_turned_from_1_to_true_is_refused(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """spec §4.2: a committed record "HEAD holds as success, failed or skipped keeps its
    params and status". A failed trial committed with the param `1`, its storage then
    giving `true` (a categorical's choices rewritten in the SQLite file) and another
    reason: Python's `1 == True` took the params for unchanged, and the import wrote
    `"flag": true` over the committed record, saying only "[reason changed]", exit 0."""
    pytest.importorskip("optuna", reason="needs the optuna extra")
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState, create_trial

    db = tmp_path / "o.db"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="bt", storage=f"sqlite:///{db}", direction="maximize")
    study.add_trial(
        create_trial(
            params={"flag": 1},
            distributions={"flag": CategoricalDistribution([1, 2])},
            state=TrialState.FAIL,
            system_attrs={"fail_reason": "oom"},
        )
    )
    args = ["import", "optuna", "--storage", f"sqlite:///{db}", "--study", "bt"]
    args += ["--metric", "seg_total"]
    install_hooks(exp_repo)
    assert cli(args, exp_repo.path).code == 0
    assert hook_commit(exp_repo, "import").returncode == 0
    with sqlite3.connect(db) as con:
        con.execute(
            "UPDATE trial_params SET distribution_json = ?",
            (
                json.dumps(
                    {"name": "CategoricalDistribution", "attributes": {"choices": [True, 0]}}
                ),
            ),
        )
        con.execute("UPDATE trial_system_attributes SET value_json = ?", ('"out of memory"',))
    con.close()
    before = tree_bytes(exp_repo.path)
    res = cli(args, exp_repo.path)
    assert res.code == 1, res
    assert totals(res.out) == "0 new, 0 updated, 0 unchanged, 1 refused", res.out
    assert "its params differs" in res.out, res.out
    assert tree_bytes(exp_repo.path) == before  # nothing written


# ------------------------------------------------ a hint built of a record's study
def test_the_study_as_hint_never_prints_a_record_study_that_is_no_id(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """A record of the trial in the work tree (a pull request's branch checked out) whose
    `study` is `x $(touch pwned)`: the refusal's hint read "import it again with
    --study-as x $(touch pwned)", a command line that runs what the record put there if
    pasted (`_gone` quotes its path so that its hint runs as printed), and which
    `--study-as` would refuse anyway (an id only)."""
    pytest.importorskip("optuna", reason="needs the optuna extra")
    from optuna.distributions import IntDistribution

    db = tmp_path / "o.db"
    trial = {
        "params": {"sub_step": 1},
        "distributions": {"sub_step": IntDistribution(1, 8)},
        "user_attrs": {"pde_mean": 15.0, "train_time_min": 40.0},
    }
    optuna_study(db, "sweep", "seg_total", 57.0, [trial])
    planted = exp_repo.path / "experiments/evil/sweep-t0000.json"
    planted.parent.mkdir(parents=True)
    source = {"tracker": "optuna", "uri": f"sqlite:///{db}", "study": "sweep", "run": "0"}
    planted.write_text(
        json.dumps(
            {
                "schema": "expflow/experiment@1",
                "id": "sweep-t0000",
                "study": "x $(touch pwned)",
                "status": "pending",
                "params": {},
                "provenance": {"captured_at": "2026-01-01T00:00:00Z", "source": source},
            }
        )
    )
    args = ["import", "optuna", "--storage", f"sqlite:///{db}", "--study", "sweep"]
    for extra in ([], ["--study-as", "other"]):
        res = cli([*args, *extra], exp_repo.path)
        assert res.code == 1, res
        assert "--study-as x" not in res.out, res.out
        assert "its record's study 'x $(touch pwned)' is no id; fix the record" in res.out


def test_a_committed_runs_params_are_kept_only_when_they_are_the_same_to_the_hook() -> None:
    """A committed CSV run keeps its params when a column moved to the metrics and the
    rest is the same (`_kept_params`): "the same" as the hook tells values apart, where
    `1` is no `true`. Python's `!=` took the row's `true` for the committed `1` and kept
    the old params without a word (a review, issue 18 thirty-ninth pass)."""
    from expflow_git.documents import Status
    from expflow_git.importers.common import _kept_params
    from expflow_git.importers.source import SourceRun

    old = {"params": {"flag": 1, "f1": "0.8"}}
    run = SourceRun(
        run="r-001", exp_id="r-001", status=Status.SUCCESS, params={}, metric_params={"f1": "0.8"}
    )
    assert _kept_params(old, {"params": {"flag": 1}}, run) == old["params"]
    assert _kept_params(old, {"params": {"flag": True}}, run) is None
    moved = SourceRun(
        run="r-001", exp_id="r-001", status=Status.SUCCESS, params={}, metric_params={"f1": True}
    )
    assert _kept_params({"params": {"flag": 1, "f1": 1}}, {"params": {"flag": 1}}, moved) is None
