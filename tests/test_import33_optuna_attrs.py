"""Optuna user attributes named like registry metrics (a hunter's report, issue 18
thirty-third pass): one that is no number (`"0.5"` as text, True) was dropped with no
word, the result written without the metric; one named like an objective's metric with
another number was ignored unsaid. Both are now said in one warning line each per
import (at most five named, then how many more), never refused: Optuna cannot change a
finished trial's attributes, and a text copy of the score (`"0.900"`) is common. The
value of one that is no number is never shown (a PIN after a tab). A `--split-attr`
attribute is a split's, not said. Real Optuna studies in SQLite, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo
from support import CliResult, run_cli
from test_import_common import (
    hook_commit,
    install_hooks,
    minimal_repo,
    optuna_study,
    totals,
    tree_bytes,
)

optuna = pytest.importorskip(
    "optuna", reason="needs the optuna extra: pip install 'expflow-git[optuna]'"
)

pytestmark = pytest.mark.usefixtures("isolated_env")

NO_NUMBER = (
    "user attribute(s) named like a registry metric are no number, not imported "
    "(an objective's metric keeps the objective's value): "
)
DIFFER = (
    "user attribute(s) named like an objective's metric differ from the objective's "
    "value, which is imported: "
)


def _study(db: Path, attrs: list[dict[str, Any]]) -> Any:
    """Study `ua` maximising `accuracy`, one trial of objective 0.9 per user attributes."""
    return optuna_study(db, "ua", "accuracy", 0.9, [{"user_attrs": a} for a in attrs])


def _import(repo: Path, *extra: str) -> CliResult:
    args = ["import", "optuna", "--storage", "sqlite:///../ua.db", "--study", "ua", *extra]
    return run_cli(args, repo)


def _result(repo: Path, n: int) -> Any:
    return json.loads((repo / f"results/ua/ua-t{n:04d}.json").read_text())


def _warnings(res: CliResult) -> list[str]:
    return [ln for ln in res.err.splitlines() if ": warning: " in ln]


def test_the_repro_each_case_is_said_and_nothing_refused(tmp_path: Path) -> None:
    repo = minimal_repo(tmp_path)
    _study(tmp_path / "ua.db", [{"accuracy": 0.1}, {"loss": True}, {"loss": "0.5"}])
    res = _import(repo)
    assert res.code == 0, res
    assert totals(res.out) == "3 new, 0 updated, 0 unchanged, 0 refused", res.out
    for n in range(3):  # the objective's value is the metric's; no `loss`
        assert _result(repo, n)["metrics"] == {"accuracy": 0.9}
    said = _warnings(res)
    assert f"2 {NO_NUMBER}trial 1 loss, trial 2 loss" in res.err, said
    assert f"1 {DIFFER}trial 0 accuracy 0.1 (objective 0.9)" in res.err, said
    assert len(said) == 2, said  # one line each, for the whole import
    # Importing again writes nothing and says the same.
    before = tree_bytes(repo)
    again = _import(repo)
    assert again.code == 0, again
    assert totals(again.out) == "0 new, 0 updated, 3 unchanged, 0 refused", again.out
    assert _warnings(again) == said
    assert tree_bytes(repo) == before


def test_the_python_api_says_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from expflow_git.importers import Action, import_optuna

    repo = minimal_repo(tmp_path)
    _study(tmp_path / "ua.db", [{"accuracy": 0.1}, {"loss": True}, {"loss": "0.5"}])
    monkeypatch.chdir(repo)
    summary = import_optuna("sqlite:///../ua.db", "ua", dry_run=True)
    assert [p.action for p in summary.plans] == [Action.NEW] * 3
    assert f"2 {NO_NUMBER}trial 1 loss, trial 2 loss" in summary.source.notes
    assert f"1 {DIFFER}trial 0 accuracy 0.1 (objective 0.9)" in summary.source.notes


def test_at_most_five_are_named(tmp_path: Path) -> None:
    repo = minimal_repo(tmp_path)
    _study(tmp_path / "ua.db", [{"loss": "x", "accuracy": 0.5}] * 7)
    res = _import(repo)
    assert res.code == 0, res
    five = ", ".join(f"trial {n} loss" for n in range(5))
    assert f"7 {NO_NUMBER}{five}, and 2 more" in res.err, res.err
    five = ", ".join(f"trial {n} accuracy 0.5 (objective 0.9)" for n in range(5))
    assert f"7 {DIFFER}{five}, and 2 more" in res.err, res.err


def test_a_text_copy_of_the_score_is_imported_and_committed(tmp_path: Path) -> None:
    """`trial.set_user_attr("accuracy", f"{acc:.3f}")`: the trial is imported (exit 0),
    committed through the hooks, and a re-import after the commit is unchanged."""
    repo = minimal_repo(tmp_path)
    _study(tmp_path / "ua.db", [{"accuracy": "0.900"}, {"accuracy": "0.900"}])
    res = _import(repo)
    assert res.code == 0, res
    assert totals(res.out) == "2 new, 0 updated, 0 unchanged, 0 refused", res.out
    assert _result(repo, 0)["metrics"] == {"accuracy": 0.9}
    assert f"2 {NO_NUMBER}trial 0 accuracy, trial 1 accuracy" in res.err, res.err
    exp = ExpRepo(repo)
    install_hooks(exp)
    proc = hook_commit(exp, "import the study")
    assert proc.returncode == 0, proc.stderr
    again = _import(repo)
    assert again.code == 0, again
    assert totals(again.out) == "0 new, 0 updated, 2 unchanged, 0 refused", again.out
    assert _warnings(again) == _warnings(res)
    assert exp.status() == ""


def test_a_running_trial_with_a_text_copy_updates_to_success(tmp_path: Path) -> None:
    repo = minimal_repo(tmp_path)
    study = _study(tmp_path / "ua.db", [])
    trial = study.ask()
    trial.set_user_attr("accuracy", "0.900")
    first = _import(repo)
    assert first.code == 0, first
    assert totals(first.out) == "1 new, 0 updated, 0 unchanged, 0 refused", first.out
    exp = ExpRepo(repo)
    install_hooks(exp)
    assert hook_commit(exp, "a running trial").returncode == 0
    study.tell(trial, 0.9)
    res = _import(repo)
    assert res.code == 0, res
    assert totals(res.out) == "0 new, 1 updated, 0 unchanged, 0 refused", res.out
    assert "status running → success" in res.out, res.out
    record = json.loads((repo / "experiments/ua/ua-t0000.json").read_text())
    assert record["status"] == "success"
    assert _result(repo, 0)["metrics"] == {"accuracy": 0.9}
    assert f"1 {NO_NUMBER}trial 0 accuracy" in res.err, res.err
    assert hook_commit(exp, "it finished").returncode == 0, "the hooks refused it"


def test_a_pin_after_a_tab_in_a_value_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expflow_git.importers import import_optuna

    pin = str(4000 + 821)
    repo = minimal_repo(tmp_path)
    _study(tmp_path / "ua.db", [{"loss": f"pin:\t{pin}"}, {"accuracy": f"pin:\t{pin}"}])
    for extra in ((), ("--dry-run",)):
        res = _import(repo, *extra)
        assert res.code == 0, res
        assert pin not in res.both, res
        assert f"2 {NO_NUMBER}trial 0 loss, trial 1 accuracy" in res.err, res.err
    monkeypatch.chdir(repo)
    summary = import_optuna("sqlite:///../ua.db", "ua", dry_run=True)
    assert not any(pin in note for note in summary.source.notes)
    assert f"2 {NO_NUMBER}trial 0 loss, trial 1 accuracy" in summary.source.notes


def test_a_split_attribute_is_not_said(tmp_path: Path) -> None:
    """An attribute `--split-attr` puts into a split is no metric: no warning of it."""
    repo = minimal_repo(tmp_path)
    _study(tmp_path / "ua.db", [{"accuracy": 0.5}, {"loss": {"accuracy": 0.8}}])
    res = _import(repo, "--split-attr", "holdout=accuracy", "--split-attr", "valid=loss")
    assert res.code == 0, res
    assert _result(repo, 0)["metrics"] == {"accuracy": 0.9}
    assert _result(repo, 0)["splits"] == {"holdout": {"accuracy": 0.5}}
    assert _result(repo, 1)["splits"] == {"valid": {"accuracy": 0.8}}
    assert "differ" not in res.err and "no number" not in res.err, res.err
    # Without the option, the same study is said.
    other = minimal_repo(tmp_path / "o")
    (tmp_path / "o" / "ua.db").write_bytes((tmp_path / "ua.db").read_bytes())
    said = _import(other)
    assert said.code == 0, said
    assert f"1 {DIFFER}trial 0 accuracy 0.5 (objective 0.9)" in said.err, said.err
    assert f"1 {NO_NUMBER}trial 1 loss" in said.err, said.err


def test_hundreds_of_unknown_attributes_make_a_bounded_note(tmp_path: Path) -> None:
    """The note of numeric attributes the registry lacks named every one (a trial with
    500 made a line of 3,000 characters: a review); five, then how many more."""
    repo = minimal_repo(tmp_path)
    _study(tmp_path / "ua.db", [{f"m{i:03d}": float(i) for i in range(500)}])
    res = _import(repo, "--dry-run")
    [note] = [ln for ln in _warnings(res) if "not in the registry" in ln]
    assert "500 numeric user attribute(s)" in note and note.endswith("and 495 more"), note
