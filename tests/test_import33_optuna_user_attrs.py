"""Optuna user attributes named like registry metrics (a hunter's report, issue 18
thirty-third pass): one that is no number (`"0.5"` as text, True) was dropped with no
word, the result written without the metric; one named like an objective's metric with
another value was ignored unsaid. The first refuses its trial, naming the attribute; the
second is said in one warning (the objective's value is imported). Real Optuna studies
in SQLite, the real CLI, a repository from `init --template minimal`."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from support import git_init, run_cli
from test_import_common import totals, tree_bytes

optuna = pytest.importorskip(
    "optuna", reason="needs the optuna extra: pip install 'expflow-git[optuna]'"
)
from optuna.trial import create_trial  # noqa: E402

pytestmark = pytest.mark.usefixtures("isolated_env")


def _repo(tmp_path: Path) -> Path:
    repo = git_init(tmp_path / "r")
    res = run_cli(["init", "--template", "minimal"], repo)
    assert res.code == 0, res
    return repo


def _study(db: Path, attrs: list[dict[str, Any]], name: str = "ua") -> None:
    """A study maximising `accuracy` (its metric_names), one COMPLETE trial of objective
    0.9 per entry of `attrs`, with those user attributes."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=f"sqlite:///{db}", direction="maximize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["accuracy"])
    for user_attrs in attrs:
        study.add_trial(create_trial(values=[0.9], user_attrs=user_attrs))


def _args(*extra: str) -> list[str]:
    return ["import", "optuna", "--storage", "sqlite:///../ua.db", "--study", "ua", *extra]


def _result(repo: Path, n: int) -> Any:
    return json.loads((repo / f"results/ua/ua-t{n:04d}.json").read_text())


def test_a_registry_attribute_that_is_no_number_refuses_its_trial(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _study(tmp_path / "ua.db", [{"accuracy": 0.1}, {"loss": True}, {"loss": "0.5"}, {"loss": 2}])
    res = run_cli(_args(), repo)
    assert res.code == 1, res
    refused = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
    assert refused == [
        "refused   ua-t0001 (trial 1): user attribute 'loss' is True, not a number, and "
        "'loss' is a registry metric (a number there is the result's)",
        "refused   ua-t0002 (trial 2): user attribute 'loss' is '0.5', not a number, and "
        "'loss' is a registry metric (a number there is the result's)",
    ], res.out
    assert totals(res.out) == "2 new, 0 updated, 0 unchanged, 2 refused", res.out
    for n in (1, 2):  # nothing of a refused trial written
        assert not (repo / f"experiments/ua/ua-t{n:04d}.json").exists()
        assert not (repo / f"results/ua/ua-t{n:04d}.json").exists()
    assert _result(repo, 3)["metrics"] == {"accuracy": 0.9, "loss": 2.0}
    # The objective's value is the metric's, and the attribute that differs is said.
    assert _result(repo, 0)["metrics"] == {"accuracy": 0.9}
    assert (
        "1 user attribute(s) named like an objective's metric differ from the objective's "
        "value, which is imported: trial 0: accuracy 0.1, objective 0.9"
    ) in res.err, res.err
    # Importing again changes nothing and says the same.
    before = tree_bytes(repo)
    again = run_cli(_args(), repo)
    assert again.code == 1, again
    assert [ln for ln in again.out.splitlines() if ln.startswith("refused")] == refused
    assert totals(again.out) == "0 new, 0 updated, 2 unchanged, 2 refused", again.out
    assert "trial 0: accuracy 0.1, objective 0.9" in again.err, again.err
    assert tree_bytes(repo) == before


def test_the_python_api_says_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hunter's repro: `import_optuna(..., dry_run=True)` gave no warning, no refusal
    and results without loss."""
    from expflow_git.importers import Action, import_optuna

    repo = _repo(tmp_path)
    _study(tmp_path / "ua.db", [{"accuracy": 0.1}, {"loss": True}, {"loss": "0.5"}])
    monkeypatch.chdir(repo)
    summary = import_optuna("sqlite:///../ua.db", "ua", dry_run=True)
    assert [p.action for p in summary.plans] == [Action.NEW, Action.REFUSED, Action.REFUSED]
    assert "user attribute 'loss' is True, not a number" in summary.plans[1].reasons[0]
    assert "user attribute 'loss' is '0.5', not a number" in summary.plans[2].reasons[0]
    assert any("trial 0: accuracy 0.1, objective 0.9" in n for n in summary.source.notes)


def test_the_attribute_is_shown_escaped(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _study(tmp_path / "ua.db", [{"loss": "\x1b[2J\u202e0.5"}])
    res = run_cli(_args(), repo)
    assert res.code == 1, res
    assert "\x1b" not in res.out and "\u202e" not in res.out, repr(res.out)
    assert "refused   ua-t0000 (trial 0): user attribute 'loss' is '\\x1b[2J\\u202e0.5'" in res.out


def test_a_split_attribute_named_like_a_metric_is_the_splits(tmp_path: Path) -> None:
    """A mapping that `--split-attr` puts into a split is no metric's value: not refused."""
    repo = _repo(tmp_path)
    _study(tmp_path / "ua.db", [{"loss": {"accuracy": 0.8}}, {"accuracy": 0.9}])
    res = run_cli(_args("--split-attr", "holdout=loss"), repo)
    assert res.code == 0, res
    assert _result(repo, 0)["splits"] == {"holdout": {"accuracy": 0.8}}
    assert "differ" not in res.err, res.err  # the same value as the objective's
