"""The Python API's import plan says why a run is refused (`RunPlan.reasons`), and the
import's notes and warnings, as one line each, with what a tracker or a record put in
them escaped as the CLI prints them: a tracker name or run name holding ESC[31m, a
carriage return or U+202E reached a Python caller raw (issue 18 twenty-ninth pass),
while `expflow-git import` printed `\\x1b[31m`, `\\x0d`, `\\u202e`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import ExpRepo
from support import run_cli

from expflow_git.escape import terminal

if TYPE_CHECKING:
    from expflow_git.importers import ImportSummary

HOSTILE = "\x1b[31m\r\u202e"
SHOWN = "\\x1b[31m\\x0d\\u202e"
STUDY = "sheet"


def _csv(tmp_path: Path, seg_total: str) -> Path:
    path = tmp_path / "runs.csv"
    path.write_text(
        f'run,sub_step,seg_total,pde_mean,train_time_min\n"r{HOSTILE}1",5,{seg_total},15.0,45.5\n',
        encoding="utf-8",
    )
    return path


def _all_lines(summary: ImportSummary) -> list[str]:
    """Every line the summary says: the plans' reasons, its warnings, the source's notes."""
    lines = [r for p in summary.plans for r in p.reasons]
    return lines + list(summary.warnings) + list(summary.source.notes)


def _assert_one_line_escaped(lines: list[str]) -> None:
    assert lines
    for text in lines:
        assert text == terminal(text), text  # nothing left for a terminal to act on
        assert not any(ch in text for ch in "\x1b\r\u202e"), text


def test_a_csv_run_name_in_a_reason_is_escaped(exp_repo: ExpRepo, tmp_path: Path) -> None:
    """The CSV id cell `r<ESC>[31m<CR><U+202E>1`: its run changed after its result was
    committed, and the refusal names the run by that cell."""
    from expflow_git.importers import Action, import_csv

    first = import_csv(_csv(tmp_path, "57.09"), id_column="run", study=STUDY, root=exp_repo.path)
    assert first.count(Action.NEW) == 1, first
    exp_repo.commit("imported")
    again = import_csv(
        _csv(tmp_path, "58.5"), id_column="run", study=STUDY, root=exp_repo.path, dry_run=True
    )
    (plan,) = again.plans
    assert plan.action is Action.REFUSED, plan
    assert plan.run.run == f"r{HOSTILE}1"  # the source's data stays as the source has it
    _assert_one_line_escaped(_all_lines(again))
    assert any(f"id r{SHOWN}1 changed after its result" in r for r in plan.reasons), plan
    # The CLI prints the same words.
    res = run_cli(
        ["import", "csv", str(_csv(tmp_path, "58.5")), "--id-column", "run", "--study", STUDY],
        exp_repo.path,
    )
    assert res.code == 1, res
    assert f"id r{SHOWN}1 changed after its result" in res.out, res
    assert not any(ch in res.out for ch in "\x1b\r\u202e"), res


def test_a_record_s_tracker_name_in_a_reason_is_escaped(exp_repo: ExpRepo, tmp_path: Path) -> None:
    """A record at the run's id whose provenance names the tracker `csv<ESC>[31m<CR>
    <U+202E>` (and such a run): the refusal quotes the record's tracker name."""
    from expflow_git.importers import Action, import_csv

    exp_repo.write_json(
        f"experiments/{STUDY}/r-1.json",
        {
            "schema": "expflow/experiment@1",
            "id": "r-1",
            "study": STUDY,
            "created_at": "2026-11-20T10:00:00Z",
            "status": "success",
            "params": {},
            "provenance": {
                "source": {
                    "tracker": f"csv{HOSTILE}",
                    "uri": "x",
                    "study": "x",
                    "run": f"r{HOSTILE}",
                }
            },
        },
    )
    path = tmp_path / "runs.csv"
    path.write_text("run,seg_total,pde_mean,train_time_min\nr-1,57.0,15.0,45.0\n", "utf-8")
    summary = import_csv(path, id_column="run", study=STUDY, root=exp_repo.path, dry_run=True)
    (plan,) = summary.plans
    assert plan.action is Action.REFUSED, plan
    _assert_one_line_escaped(_all_lines(summary))
    assert any(f"imported from csv{SHOWN} " in r for r in plan.reasons), plan.reasons


def test_an_optuna_study_s_record_names_are_escaped(exp_repo: ExpRepo, tmp_path: Path) -> None:
    """An Optuna study named `pde<ESC>[31m<CR><U+202E>` whose trial is imported already
    under another study, by a record whose study and file name hold the same: the
    refusal names that record."""
    optuna = pytest.importorskip("optuna", reason="needs the optuna extra")
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from expflow_git.importers import Action, import_optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = f"pde{HOSTILE}"
    db = tmp_path / "optuna.db"
    study = optuna.create_study(
        study_name=name, storage=f"sqlite:///{db}", directions=["maximize", "minimize", "minimize"]
    )
    study.add_trial(
        create_trial(
            params={"lr": 0.01},
            distributions={"lr": FloatDistribution(1e-4, 1e-1)},
            values=[57.0, 15.0, 45.0],
            state=TrialState.COMPLETE,
        )
    )
    other = "elsewhere"
    exp_repo.write(
        f"experiments/{other}/old{HOSTILE}.json",
        json.dumps(
            {
                "schema": "expflow/experiment@1",
                "id": f"old{HOSTILE}",
                "study": f"other{HOSTILE}",
                "created_at": "2026-11-20T10:00:00Z",
                "status": "success",
                "params": {},
                "provenance": {
                    "source": {"tracker": "optuna", "uri": "x", "study": name, "run": "0"}
                },
            }
        ),
    )
    summary = import_optuna(
        f"sqlite:///{db}",
        name,
        root=exp_repo.path,
        metrics=["seg_total", "pde_mean", "train_time_min"],
        study_as="pde",
        dry_run=True,
    )
    (plan,) = summary.plans
    assert plan.action is Action.REFUSED, plan
    assert summary.source.study == name  # the source's data stays as the source has it
    _assert_one_line_escaped(_all_lines(summary))
    assert any(f"as old{SHOWN} in study other{SHOWN}" in r for r in plan.reasons), plan
