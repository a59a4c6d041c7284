"""`expflow-git import optuna` (issue 17, docs/spec.md §4.2) on real Optuna studies in a
SQLite file, written by Optuna itself: every trial state, two objectives, user attributes
as metrics and splits; the import committed through the real hooks and audited; a second
import is a no-op; a change after commit is reported, not rewritten."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo
from support import CliCall, run_cli
from test_import_common import (
    audit_passes,
    hook_commit,
    install_hooks,
    set_pin,
    totals,
    tree_bytes,
)

from expflow_git.errors import ExpflowError

optuna = pytest.importorskip(
    "optuna", reason="needs the optuna extra: pip install 'expflow-git[optuna]'"
)
from optuna.distributions import FloatDistribution, IntDistribution  # noqa: E402
from optuna.trial import TrialState, create_trial  # noqa: E402

STUDY = "pde-search"
DIST = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "sub_step": IntDistribution(1, 8)}


def storage_url(db: Path) -> str:
    return f"sqlite:///{db}"


def make_study(db: Path, name: str = STUDY) -> Any:
    """A two-objective study (seg_total up, pde_mean down) with a trial in every state:
    0, 1 and 3 COMPLETE, 2 FAIL (with a reason), 4 PRUNED, 5 RUNNING, 6 WAITING."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name, storage=storage_url(db), directions=["maximize", "minimize"]
    )
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study.set_metric_names(["seg_total", "pde_mean"])
    for n, (seg, pde) in enumerate([(57.0, 15.0), (58.5, 14.2)]):
        study.add_trial(complete(n + 1, seg, pde, holdout=seg - 2))
    study.add_trial(
        create_trial(
            params={"lr": 0.02, "sub_step": 2},
            distributions=DIST,
            state=TrialState.FAIL,
            system_attrs={"fail_reason": "CUDA out of memory"},
        )
    )
    study.add_trial(complete(3, 56.0, 16.0, holdout=55.0))
    study.add_trial(
        create_trial(
            params={"lr": 0.03, "sub_step": 3}, distributions=DIST, state=TrialState.PRUNED
        )
    )
    study.ask(DIST).set_user_attr("train_time_min", 44.0)  # RUNNING
    study.enqueue_trial({"lr": 0.05, "sub_step": 5})  # WAITING
    return study


def complete(sub_step: int, seg: float, pde: float, **attrs: Any) -> Any:
    return create_trial(
        params={"lr": 0.01 * sub_step, "sub_step": sub_step},
        distributions=DIST,
        values=[seg, pde],
        user_attrs={"train_time_min": 40.0 + sub_step, "note": "x", **attrs},
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "optuna.db"
    make_study(path)
    return path


def import_args(db: Path, *extra: str) -> list[str]:
    return ["import", "optuna", "--storage", storage_url(db), "--study", STUDY, *extra]


def load(repo: ExpRepo, rel: str) -> Any:
    return json.loads((repo.path / rel).read_text())


def exp_rel(n: int) -> str:
    return f"experiments/{STUDY}/{STUDY}-t{n:04d}.json"


def res_rel(n: int) -> str:
    return f"results/{STUDY}/{STUDY}-t{n:04d}.json"


def test_every_state_maps_to_a_status_with_provenance(
    exp_repo: ExpRepo, db: Path, cli: CliCall
) -> None:
    res = cli(import_args(db, "--split-attr", "holdout=holdout"), exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "7 new, 0 updated, 0 unchanged, 0 refused"
    statuses = [load(exp_repo, exp_rel(n))["status"] for n in range(7)]
    assert statuses == ["success", "success", "failed", "success", "skipped", "running", "pending"]
    assert load(exp_repo, exp_rel(2))["reason"] == "CUDA out of memory"
    assert load(exp_repo, exp_rel(4))["reason"] == "pruned"
    assert load(exp_repo, exp_rel(6))["params"] == {"lr": 0.05, "sub_step": 5}  # enqueued
    record = load(exp_repo, exp_rel(1))
    assert record["params"] == {"lr": 0.02, "sub_step": 2}
    source = record["provenance"]["source"]
    assert source["tracker"] == "optuna" and source["run"] == "1" and source["study"] == STUDY
    assert source["uri"] == storage_url(db)
    assert source["started_at"].endswith("Z") and source["finished_at"].endswith("Z")
    # Objectives in objective order, a user attribute that is a registry metric, a split.
    result = load(exp_repo, res_rel(1))
    assert result["metrics"] == {"seg_total": 58.5, "pde_mean": 14.2, "train_time_min": 42.0}
    assert result["splits"] == {"holdout": {"seg_total": 56.5}}
    assert result["provenance"]["source"]["run"] == "1"
    for n in (2, 4, 5, 6):
        assert not (exp_repo.path / res_rel(n)).exists()


def test_imported_study_commits_through_the_hooks_audits_and_reimports_as_a_noop(
    exp_repo: ExpRepo, db: Path, cli: CliCall
) -> None:
    install_hooks(exp_repo)
    assert cli(import_args(db), exp_repo.path).code == 0
    proc = hook_commit(exp_repo, "import the study")
    assert proc.returncode == 0, proc.stderr
    out = audit_passes(exp_repo)
    assert f"{STUDY}-t0001" in out
    before = tree_bytes(exp_repo.path)
    again = cli(import_args(db), exp_repo.path)
    assert again.code == 0, again
    assert totals(again.out) == "0 new, 0 updated, 7 unchanged, 0 refused"
    assert tree_bytes(exp_repo.path) == before  # not one byte rewritten
    assert exp_repo.status() == ""


def test_incremental_new_trials_and_finished_running_ones(
    exp_repo: ExpRepo, db: Path, cli: CliCall
) -> None:
    install_hooks(exp_repo)
    assert cli(import_args(db), exp_repo.path).code == 0
    assert hook_commit(exp_repo, "first import").returncode == 0
    study = optuna.load_study(study_name=STUDY, storage=storage_url(db))
    running = next(t for t in study.get_trials() if t.state is TrialState.RUNNING)
    study.tell(running.number, [59.0, 13.0])  # the running trial finishes
    study.add_trial(complete(6, 60.0, 12.5))  # and a new one
    res = cli(import_args(db), exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "1 new, 1 updated, 6 unchanged, 0 refused"
    assert "status running → success" in res.out
    assert load(exp_repo, exp_rel(5))["status"] == "success"
    assert load(exp_repo, res_rel(5))["metrics"]["seg_total"] == 59.0
    assert (exp_repo.path / res_rel(7)).exists()
    assert hook_commit(exp_repo, "second import").returncode == 0, "the hooks refused it"
    audit_passes(exp_repo)


def change_objective(db: Path, trial_number: int, value: float) -> None:
    """Someone edits a finished trial's first objective in the database itself."""
    with sqlite3.connect(db) as con:
        (trial_id,) = con.execute(
            "SELECT trial_id FROM trials WHERE number = ?", (trial_number,)
        ).fetchone()
        con.execute(
            "UPDATE trial_values SET value = ? WHERE trial_id = ? AND objective = 0",
            (value, trial_id),
        )


def test_a_source_changed_after_commit_is_reported_not_rewritten(
    exp_repo: ExpRepo, db: Path, cli: CliCall
) -> None:
    install_hooks(exp_repo)
    assert cli(import_args(db), exp_repo.path).code == 0
    assert hook_commit(exp_repo, "import").returncode == 0
    before = tree_bytes(exp_repo.path)
    change_objective(db, 1, 61.0)
    res = cli(import_args(db), exp_repo.path)
    assert res.code == 1, res
    assert totals(res.out) == "0 new, 0 updated, 6 unchanged, 1 refused"
    refusal = next(ln for ln in res.out.splitlines() if ln.startswith("refused"))
    assert f"{STUDY}-t0001 (trial 1)" in refusal
    assert "changed after its result" in refusal and "--correct REASON" in refusal
    assert tree_bytes(exp_repo.path) == before
    assert exp_repo.status() == ""


def test_a_changed_source_is_taken_in_as_a_declared_correction(
    exp_repo: ExpRepo, db: Path, cli: CliCall, isolated_env: Path
) -> None:
    install_hooks(exp_repo)
    pin_env = set_pin(isolated_env)
    assert cli(import_args(db), exp_repo.path).code == 0
    assert hook_commit(exp_repo, "import").returncode == 0
    change_objective(db, 1, 61.0)
    # Without the PIN (no terminal) the correction is refused before anything is written.
    refused = run_cli(
        [*import_args(db), "--correct", "re-scored with the fixed metric"], exp_repo.path
    )
    assert refused.code == 2, refused
    assert exp_repo.status() == ""
    res = run_cli(
        [*import_args(db), "--correct", "re-scored with the fixed metric"],
        exp_repo.path,
        env=pin_env,
    )
    assert res.code == 0, res
    assert totals(res.out) == "0 new, 0 updated, 1 corrected, 6 unchanged, 0 refused"
    assert load(exp_repo, res_rel(1))["metrics"]["seg_total"] == 61.0
    corrections = list((exp_repo.path / "corrections").rglob("*.json"))
    assert len(corrections) == 1
    doc = json.loads(corrections[0].read_text())
    assert doc["experiment"] == f"{STUDY}-t0001"
    assert doc["reason"] == "re-scored with the fixed metric"
    # The protect hook accepts the declared rewrite (with the PIN), and the audit lists it.
    proc = hook_commit(exp_repo, "correct trial 1", env=pin_env)
    assert proc.returncode == 0, proc.stderr
    assert "re-scored with the fixed metric" in audit_passes(exp_repo)


def test_no_correction_where_the_policy_denies_them(
    exp_repo: ExpRepo, db: Path, cli: CliCall
) -> None:
    policy = exp_repo.path / "expflow.yaml"
    policy.write_text(
        policy.read_text().replace(
            "protect: {results_immutable: true}",
            "protect: {results_immutable: true, corrections: deny}",
        )
    )
    assert cli(import_args(db), exp_repo.path).code == 0
    exp_repo.commit("import")
    before = tree_bytes(exp_repo.path)
    change_objective(db, 0, 50.0)
    res = cli([*import_args(db), "--correct", "why", "--force"], exp_repo.path)
    assert res.code == 1
    assert "allows no corrections" in res.out
    assert tree_bytes(exp_repo.path) == before


def add_to_registry(repo: ExpRepo, line: str) -> None:
    """The policy's registry gains a metric (`line`, indented as the template's are)."""
    policy = repo.path / "expflow.yaml"
    policy.write_text(
        policy.read_text().replace("required_metrics:", f"  {line}\nrequired_metrics:")
    )


def test_a_metric_added_to_the_registry_changes_no_committed_trial(
    exp_repo: ExpRepo, db: Path, cli: CliCall, isolated_env: Path
) -> None:
    """The trials' `holdout` attribute was left out (not in the registry); the registry
    gains it: every committed trial was "changed after its result was committed", exit 1
    on every later import, though only the policy changed (a user's hunt, issue 18
    twenty-fourth pass). Said once, exit 0; `--correct` adds it as declared corrections."""
    assert cli(import_args(db), exp_repo.path).code == 0
    exp_repo.commit("import")
    add_to_registry(exp_repo, "holdout: {group: Score, higher_is_better: true}")
    exp_repo.commit("the registry gains holdout")
    before = tree_bytes(exp_repo.path)
    res = cli(import_args(db), exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "0 new, 0 updated, 7 unchanged, 0 refused"
    ids = ", ".join(f"{STUDY}-t{n:04d}" for n in (0, 1, 3))
    assert (
        f"3 committed result(s) lack metrics the source has (holdout): {ids}; results are "
        "write-once (take them in as declared corrections with --correct REASON)"
    ) in res.err, res.err
    assert tree_bytes(exp_repo.path) == before
    res = run_cli(
        [*import_args(db), "--correct", "holdout joined the registry"],
        exp_repo.path,
        env=set_pin(isolated_env),
    )
    assert res.code == 0, res
    assert totals(res.out) == "0 new, 0 updated, 3 corrected, 4 unchanged, 0 refused"
    assert load(exp_repo, res_rel(1))["metrics"]["holdout"] == 56.5


def test_a_reimport_without_the_split_attr_is_told_to_give_it(
    exp_repo: ExpRepo, db: Path, cli: CliCall
) -> None:
    """Without the first import's --split-attr the results differ only in their splits:
    the output named --correct alone, which would take them in without the splits."""
    assert cli(import_args(db, "--split-attr", "holdout=holdout"), exp_repo.path).code == 0
    exp_repo.commit("import")
    before = tree_bytes(exp_repo.path)
    res = cli(import_args(db), exp_repo.path)
    assert res.code == 1, res
    assert (
        f"trial 1 changed after its result {res_rel(1)} was committed with "
        "splits (import as it was: the same --split-attr); results are write-once"
    ) in res.out, res.out
    assert tree_bytes(exp_repo.path) == before
    again = cli(import_args(db, "--split-attr", "holdout=holdout"), exp_repo.path)
    assert again.code == 0 and "0 refused" in totals(again.out), again


def test_values_the_registry_refuses_are_reported_per_trial(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    db = tmp_path / "bad.db"
    study = make_study(db)
    study.add_trial(complete(4, 57.0, 15.0, train_time_min=-3.0))  # below its min 0
    study.add_trial(complete(5, 57.0, 15.0, train_time_min=float("nan")))
    res = cli(import_args(db), exp_repo.path)
    assert res.code == 1, res
    assert totals(res.out) == "7 new, 0 updated, 0 unchanged, 2 refused"
    lines = res.out.splitlines()
    t7 = [ln for ln in lines if "(trial 7)" in ln]
    t8 = [ln for ln in lines if "(trial 8)" in ln]
    assert len(t7) == 1 and "metric-out-of-range" in t7[0] and "train_time_min" in t7[0]
    assert len(t8) == 1 and "train_time_min = nan is not a finite number" in t8[0]
    for n in (7, 8):  # nothing half-written: neither record nor result
        assert not (exp_repo.path / exp_rel(n)).exists()
        assert not (exp_repo.path / res_rel(n)).exists()
    res = run_cli(["validate"], exp_repo.path)
    assert res.code == 0, res  # what was written passes validate


def test_numeric_user_attributes_outside_the_registry_are_listed_once(
    exp_repo: ExpRepo, db: Path, cli: CliCall
) -> None:
    res = cli(import_args(db), exp_repo.path)  # `holdout` taken into no split
    assert res.code == 0, res
    notes = [ln for ln in res.err.splitlines() if "not in the registry" in ln]
    assert len(notes) == 1 and notes[0].endswith("not imported: holdout"), res.err


def test_dry_run_writes_nothing(exp_repo: ExpRepo, db: Path, cli: CliCall) -> None:
    res = cli(import_args(db, "--dry-run"), exp_repo.path)
    assert res.code == 0, res
    assert res.out.splitlines()[-1].startswith("dry run, nothing written")
    assert exp_rel(0) in res.out and res_rel(0) in res.out
    assert not (exp_repo.path / "experiments" / STUDY).exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metric", "seg_totl", "--metric", "pde_mean"], "did you mean 'seg_total'"),
        (["--metric", "seg_total"], "has 2 objective(s) and 1 metric name(s)"),
        # One objective's value was written under the name, the other's lost (exit 0).
        (["--metric", "seg_total", "--metric", "seg_total"], "'seg_total': named twice"),
        (["--split-attr", "holdout"], "expected SPLIT=ATTR"),
        (["--study-as", "../x"], "--study-as"),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    exp_repo: ExpRepo, db: Path, cli: CliCall, extra: list[str], message: str
) -> None:
    res = cli(import_args(db, *extra), exp_repo.path)
    assert res.code == 2, res
    assert message in res.err and res.err.count("\n") == 1, res.err
    assert not (exp_repo.path / "experiments" / STUDY).exists()


def test_unknown_study_and_missing_file_are_exit_2_and_create_nothing(
    exp_repo: ExpRepo, db: Path, tmp_path: Path, cli: CliCall
) -> None:
    res = cli(["import", "optuna", "--storage", storage_url(db), "--study", "nope"], exp_repo.path)
    assert res.code == 2 and "no Optuna study named 'nope'" in res.err, res
    missing = tmp_path / "typo.db"
    res = cli(
        ["import", "optuna", "--storage", storage_url(missing), "--study", "s"], exp_repo.path
    )
    assert res.code == 2 and "no such database file" in res.err, res
    assert not missing.exists()  # SQLAlchemy would have created an empty database


def test_the_python_api_imports_the_same(exp_repo: ExpRepo, db: Path) -> None:
    from expflow_git.importers import Action, import_optuna

    summary = import_optuna(storage_url(db), STUDY, root=exp_repo.path, dry_run=True)
    assert summary.count(Action.NEW) == 7 and not (exp_repo.path / exp_rel(0)).exists()
    summary = import_optuna(storage_url(db), STUDY, root=exp_repo.path)
    assert summary.count(Action.NEW) == 7 and (exp_repo.path / res_rel(0)).exists()
    again = import_optuna(storage_url(db), STUDY, root=exp_repo.path)
    assert again.count(Action.UNCHANGED) == 7 and again.refused == 0


def test_a_single_objective_study_needs_its_metric_named(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    db = tmp_path / "single.db"
    study = optuna.create_study(study_name="single", storage=storage_url(db), direction="minimize")
    study.add_trial(
        create_trial(
            params={"sub_step": 3},
            distributions={"sub_step": IntDistribution(1, 8)},
            value=14.5,
            user_attrs={"seg_total": 55.0, "train_time_min": 20.0},
        )
    )
    base = ["import", "optuna", "--storage", storage_url(db), "--study", "single"]
    res = cli(base, exp_repo.path)
    assert res.code == 2 and "has 1 objective(s) and no metric_names" in res.err, res
    res = cli([*base, "--metric", "pde_mean"], exp_repo.path)
    assert res.code == 0, res
    doc = load(exp_repo, "results/single/single-t0000.json")
    assert doc["metrics"] == {"pde_mean": 14.5, "seg_total": 55.0, "train_time_min": 20.0}


@pytest.mark.parametrize(
    ("directions", "names", "given", "message", "right"),
    [
        # two objectives' metric_names in the wrong order
        (
            ["maximize", "minimize"],
            ["pde_mean", "seg_total"],
            False,
            "objective 0 is maximized, but the study's metric_names name it 'pde_mean', "
            "which the registry of expflow.yaml has lower is better",
            ["seg_total", "pde_mean"],
        ),
        # two objectives' --metric in the wrong order
        (
            ["maximize", "minimize"],
            ["pde_mean", "seg_total"],
            True,
            "objective 0 is maximized, but --metric names it 'pde_mean', which the "
            "registry of expflow.yaml has lower is better",
            ["seg_total", "pde_mean"],
        ),
    ],
)
def test_an_objectives_direction_must_be_its_metrics(
    exp_repo: ExpRepo,
    tmp_path: Path,
    cli: CliCall,
    directions: list[str],
    names: list[str],
    given: bool,
    message: str,
    right: list[str],
) -> None:
    """A study minimizing a metric the registry calls higher-is-better, or the objectives'
    --metric names swapped, imported with exit 0, no warning: every score stood under a
    metric it is not, and ranked the wrong way (a hunter's report, issue 18
    twenty-seventh pass). Exit 2, one line naming the objective and the metric."""
    db = tmp_path / "dir.db"
    study = optuna.create_study(study_name="d", storage=storage_url(db), directions=directions)
    if not given:
        with pytest.warns(optuna.exceptions.ExperimentalWarning):
            study.set_metric_names(names)
    study.add_trial(
        create_trial(
            params={"sub_step": 3},
            distributions={"sub_step": IntDistribution(1, 8)},
            values=[57.0, 15.0],
            user_attrs={"seg_total": 57.0, "train_time_min": 20.0},
        )
    )
    base = ["import", "optuna", "--storage", storage_url(db), "--study", "d"]
    extra = [a for n in names for a in ("--metric", n)] if given else []
    res = cli([*base, *extra], exp_repo.path)
    assert res.code == 2, res
    assert res.err.count("\n") == 1 and message in res.err, res.err
    assert not (exp_repo.path / "experiments").exists() or not any(
        (exp_repo.path / "experiments").rglob("*.json")
    )
    # Each objective named by the metric it is: imported.
    res = cli([*base, *(a for n in right for a in ("--metric", n))], exp_repo.path)
    assert res.code == 0, res
    metrics = load(exp_repo, "results/d/d-t0000.json")["metrics"]
    assert metrics == {"seg_total": 57.0, "pde_mean": 15.0, "train_time_min": 20.0}


def test_a_trials_fail_reason_is_masked_as_run_masks_an_exceptions_message(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """Optuna keeps a failed objective's message as `fail_reason`, and a failed command's
    message quotes its argument list, the PIN after `--pin` too: the import wrote it as
    it was (cut at 2000), into the record, the audit's outputs and the signed report,
    where `Repository.run()` masks the same text (a user's hunt)."""
    pin = str(4000 + 821)
    db = tmp_path / "crashy.db"
    study = optuna.create_study(
        study_name="crashy", storage=storage_url(db), directions=["maximize", "minimize"]
    )
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study.set_metric_names(["seg_total", "pde_mean"])
    reasons = [
        f"Command '['expflow-git', 'rm', 'old', '--pin', '{pin}']' returned non-zero exit "
        "status 1.",
        f"cleanup failed: expflow-git rm old --pin {pin}",
        "x" * 3000,
    ]
    for n, reason in enumerate(reasons):
        study.add_trial(
            create_trial(
                params={"lr": 0.01, "sub_step": n + 1},
                distributions=DIST,
                state=TrialState.FAIL,
                system_attrs={"fail_reason": reason},
            )
        )
    args = ["import", "optuna", "--storage", storage_url(db), "--study", "crashy"]
    res = cli(args, exp_repo.path)
    assert res.code == 0, res
    written = [load(exp_repo, f"experiments/crashy/crashy-t{n:04d}.json") for n in range(3)]
    assert written[0]["reason"] == reasons[0].replace(pin, "****")
    assert written[1]["reason"] == reasons[1].replace(pin, "****")
    assert written[2]["reason"] == "x" * 1999 + "…"
    assert all(pin.encode() not in data for data in tree_bytes(exp_repo.path).values())
    res = cli(["scan", "experiments"], exp_repo.path)
    assert res.code == 0, res
    again = cli(args, exp_repo.path)  # the masked record is the trial's: unchanged
    assert totals(again.out) == "0 new, 0 updated, 3 unchanged, 0 refused", again


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        # A user's hunt: the split's name failed every trial at the schema, a list of
        # `SPLIT=ATTR` was a ValueError of dict(), a name as one string was read letter
        # by letter.
        ({"split_attrs": {"hold out": "holdout"}}, ExpflowError, "--split-attr 'hold out=holdout'"),
        ({"split_attrs": {"a=b": "holdout"}}, ExpflowError, "--split-attr 'a=b=holdout'"),
        ({"split_attrs": {"holdout": ""}}, ExpflowError, "expected SPLIT=ATTR"),
        ({"split_attrs": ["holdout=holdout"]}, ValueError, "split_attrs: give a mapping"),
        (
            {"split_attrs": {"holdout": 5}},
            ValueError,
            "split_attrs 'holdout': 5: names are strings",
        ),
        ({"metrics": "seg_total"}, ValueError, "metrics: give a list of strings"),
        ({"study_as": 5}, ValueError, "study_as: give text, not 5"),
        ({"series": "no"}, ValueError, "series: 'no' is not True or False"),
    ],
)
def test_the_python_api_checks_its_arguments_as_the_cli_does(
    exp_repo: ExpRepo, db: Path, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    from expflow_git.importers import import_optuna

    with pytest.raises(error, match=re.escape(message)):
        import_optuna(storage_url(db), STUDY, root=exp_repo.path, **kwargs)
    assert not (exp_repo.path / "experiments" / STUDY).exists()


def test_a_trial_is_imported_once_whatever_the_study_it_is_given(
    exp_repo: ExpRepo, db: Path, cli: CliCall
) -> None:
    """An Optuna trial's record id is made of the expflow study, so importing the study
    again under another `--study-as` (or without it) wrote every trial again as new runs,
    each counted and ranked twice (a user's hunt). MLflow's and CSV's ids refused such a
    re-import already; a trial is refused now, naming its record."""
    res = cli(import_args(db, "--study-as", "search"), exp_repo.path)
    assert res.code == 0 and totals(res.out) == "7 new, 0 updated, 0 unchanged, 0 refused", res
    before = tree_bytes(exp_repo.path)
    for extra in (["--study-as", "search-v2"], []):
        res = cli(import_args(db, *extra), exp_repo.path)
        assert res.code == 1, res
        assert totals(res.out) == "0 new, 0 updated, 0 unchanged, 7 refused", res
        assert (
            "trial 1 is imported already, as search-t0001 in study search "
            "(experiments/search/search-t0001.json); import it again with --study-as search"
        ) in res.out, res.out
        assert tree_bytes(exp_repo.path) == before
    again = cli(import_args(db, "--study-as", "search"), exp_repo.path)
    assert totals(again.out) == "0 new, 0 updated, 7 unchanged, 0 refused", again
    # The same database spelled another way is the same trials (a review: a key with the
    # URI took them in again as new runs).
    spelled = "sqlite:///" + str(db.parent) + "/./" + db.name
    assert spelled != storage_url(db)
    args = ["import", "optuna", "--storage", spelled, "--study", STUDY, "--study-as", "v3"]
    res = cli(args, exp_repo.path)
    assert res.code == 1 and totals(res.out) == "0 new, 0 updated, 0 unchanged, 7 refused", res
    assert tree_bytes(exp_repo.path) == before


def test_a_result_written_while_the_import_planned_is_not_overwritten(
    exp_repo: ExpRepo, db: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running trial finishes in Optuna (planned "updated"), and `expflow-git result`
    records the run in the work tree before the import's writes (a PIN prompt may stand
    there): the import wrote the tracker's result over it, checking only HEAD (a review,
    issue 18 twenty-fourth pass). Refused, nothing written, told to import again."""
    import expflow_git.importers as importers

    assert cli(import_args(db), exp_repo.path).code == 0
    exp_repo.commit("first import")
    study = optuna.load_study(study_name=STUDY, storage=storage_url(db))
    running = next(t for t in study.get_trials() if t.state is TrialState.RUNNING)
    study.tell(running.number, [59.0, 13.0])
    exp_id = f"{STUDY}-t{running.number:04d}"
    real = importers.plan_import

    def then_a_result(*a: Any, **kw: Any) -> Any:
        planned = real(*a, **kw)
        metrics = ["seg_total=50", "pde_mean=20", "train_time_min=44"]
        code, out, err = run_cli(
            ["result", exp_id, *(x for m in metrics for x in ("--metric", m))],
            cwd=exp_repo.path,
        )
        assert code == 0, err
        return planned

    monkeypatch.setattr(importers, "plan_import", then_a_result)
    res = cli(import_args(db), exp_repo.path)
    assert res.code == 1, res
    assert f"run {exp_id}: {exp_rel(running.number)} changed while this import ran" in res.err
    assert "nothing written, import again" in res.err
    assert load(exp_repo, res_rel(running.number))["metrics"]["seg_total"] == 50


def test_one_objective_is_imported_whatever_its_direction(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """Optuna's default direction is minimize: a random or grid sweep made with the
    defaults whose objective is a higher-is-better metric was refused (a review of the
    direction check). One objective's values are its metric's whichever way the sampler
    went; only objectives in the wrong order are refused."""
    db = tmp_path / "default.db"
    study = optuna.create_study(study_name="grid", storage=storage_url(db))
    study.add_trial(
        create_trial(
            params={"sub_step": 3},
            distributions={"sub_step": IntDistribution(1, 8)},
            value=57.0,
            user_attrs={"pde_mean": 15.0, "train_time_min": 20.0},
        )
    )
    base = ["import", "optuna", "--storage", storage_url(db), "--study", "grid"]
    res = cli([*base, "--metric", "seg_total"], exp_repo.path)
    assert res.code == 0, res
    assert load(exp_repo, "results/grid/grid-t0000.json")["metrics"]["seg_total"] == 57.0
