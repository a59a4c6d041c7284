"""The README's "Import existing runs" commands work as printed (issue 17): on an Optuna
study, an MLflow store and a CSV file made here, each `expflow-git import` line of the
README's block runs, and the commit line passes the real hooks."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import PROJECT, run_cli, run_git
from test_import_common import audit_passes, install_hooks, set_pin

optuna = pytest.importorskip("optuna", reason="needs the optuna extra")
pytest.importorskip("mlflow.tracking", reason="needs the mlflow extra")
pytest.importorskip("sqlalchemy", reason="needs the mlflow extra's SQLAlchemy")
from mlflow.tracking import MlflowClient  # noqa: E402


def readme_block() -> list[str]:
    """The commands of the section's shell block, continuation lines joined."""
    text = (PROJECT / "README.md").read_text()
    section = text.split("## Import existing runs", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    joined = block.group(1).replace("\\\n", " ")
    return [ln.split("  #", 1)[0].strip() for ln in joined.splitlines() if ln.strip()]


def make_sources(root: Path) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="pde-search",
        storage=f"sqlite:///{root / 'optuna.db'}",
        directions=["maximize", "minimize"],
    )
    for n in range(3):
        trial = study.ask()
        trial.suggest_int("sub_step", 1, 8)
        trial.set_user_attr("train_time_min", 40.0 + n)
        trial.set_user_attr("holdout_score", 55.0 + n)
        study.tell(trial, [57.0 + n, 15.0 - n])
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("pde-runs"), run_name="fno")
    for key, value in {"seg_total": 56.0, "pde_mean": 14.5, "train_time_min": 30.0}.items():
        client.log_metric(run.info.run_id, key, value)
    client.log_param(run.info.run_id, "sub_step", "4")
    client.set_terminated(run.info.run_id, "FINISHED")
    (root / "runs.csv").write_text(
        "run,sub_step,seg_total,pde_mean,train_time_min,state\nr-1,5,57.1,15,45,success\n"
        "r-2,3,,,,failed\n"
    )


def test_the_readme_import_commands_work_as_printed(exp_repo: ExpRepo, isolated_env: Path) -> None:
    commands = readme_block()
    imports = [c for c in commands if c.startswith("expflow-git import ")]
    assert [c.split()[2] for c in imports] == ["optuna", "mlflow", "csv"]
    assert commands[0].startswith("pip install '.[optuna,mlflow]'")
    add, commit = commands[-1].split(" && ")
    assert add == "git add experiments results", add
    assert commit == 'git commit -m "import existing runs"', commit
    exp_repo.commit("the project")  # its policy committed, as a user's is
    make_sources(exp_repo.path)  # in the work tree, as the README's commands name them
    install_hooks(exp_repo)
    # MLflow and CSV params are strings ("5"): the template's `sub_step > 0` rule reads
    # them as numbers (docs/spec.md §3), so the policy is the template's, unchanged.
    for command in imports:
        res = run_cli(shlex.split(command)[1:], exp_repo.path)
        assert res.code == 0, (command, res)
    # The commit line as printed: the trackers' files were committed by `git add -A`.
    assert run_git(exp_repo.path, *shlex.split(add)[1:]).returncode == 0
    proc = run_git(exp_repo.path, *shlex.split(commit)[1:])
    assert proc.returncode == 0, proc.stderr
    tracked = run_git(exp_repo.path, "ls-files").stdout.split()
    assert not [p for p in tracked if p.endswith((".db", ".csv"))], tracked
    assert "pde-search-t0002" in audit_passes(exp_repo)
    # A row changed at the source comes in as a declared correction: the import names
    # the folders to add, corrections too (it said `git add -A`, which would commit the
    # trackers' files), and its line as printed passes the hooks (a review).
    env = set_pin(isolated_env)
    csv_line = shlex.split(imports[-1])[1:]
    runs_csv = exp_repo.path / "runs.csv"
    runs_csv.write_text(runs_csv.read_text().replace("r-1,5,57.1", "r-1,5,57.3"))
    res = run_cli([*csv_line, "--correct", "fixed the sheet"], exp_repo.path, env=env)
    assert res.code == 0, res
    hint = res.out.splitlines()[-1]
    assert hint.startswith("next: git add corrections results && git commit "), hint
    add_line = shlex.split(hint[len("next: ") :].split(" && ")[0])
    assert run_git(exp_repo.path, *add_line[1:]).returncode == 0
    proc = run_git(exp_repo.path, "commit", "-m", "corrected", env=env)
    assert proc.returncode == 0, proc.stderr
    assert not [p for p in run_git(exp_repo.path, "ls-files").stdout.split() if ".db" in p]
