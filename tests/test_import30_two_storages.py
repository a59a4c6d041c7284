"""Two Optuna databases each holding a study of one name (docs/decisions.md, "An import
knows a tracker's run by"): the second import wrote its trials over the first's
uncommitted records (`updated … params changed`, exit 0), or, once the first was
committed, refused the shared trial numbers as "changed after its result was committed"
and wrote its other trials into the first's study (a hunter's report, issue 18
thirtieth pass). A trial is told apart by when it started, which a moved database
keeps: the second study is refused, naming the first's record and its URI; the same
database moved is still unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliCall, run_cli
from test_import_common import totals, tree_bytes

pytest.importorskip("optuna", reason="needs the optuna extra: pip install 'expflow-git[optuna]'")
from test_import_optuna import STUDY, complete, exp_rel, make_study, storage_url  # noqa: E402


def other_study(db: Path, trials: int = 9) -> None:
    """Another database's study of the same name: more trials, other params."""
    import optuna

    study = optuna.create_study(
        study_name=STUDY, storage=storage_url(db), directions=["maximize", "minimize"]
    )
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study.set_metric_names(["seg_total", "pde_mean"])
    for n in range(trials):
        study.add_trial(complete(8 - n % 8, 50.0 + n, 15.0))


def args(db: Path) -> list[str]:
    return ["import", "optuna", "--storage", storage_url(db), "--study", STUDY]


@pytest.fixture
def dbs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    make_study(tmp_path / "a" / "optuna.db")
    other_study(tmp_path / "b" / "optuna.db")
    return tmp_path / "a" / "optuna.db", tmp_path / "b" / "optuna.db"


def refused_as_another_storage(out: str, a: Path) -> None:
    assert totals(out) == "0 new, 0 updated, 0 unchanged, 9 refused", out
    assert (
        f"id '{STUDY}-t0001' is taken: its record {exp_rel(1)} was imported from another "
        f"storage's optuna study '{STUDY}' ({storage_url(a)}), whose trial 1 started at"
    ) in out, out
    assert "rename the study in the tracker, or import it with --study-as NAME" in out
    assert (
        f"(trial 8): {storage_url(a).replace('/a/', '/b/')} holds another optuna study named "
        f"'{STUDY}' than the one imported into study {STUDY} (see trial 0)"
    ) in out, out
    assert "changed after its result was committed" not in out


def test_another_databases_study_does_not_update_uncommitted_runs(
    exp_repo: ExpRepo, dbs: tuple[Path, Path], cli: CliCall
) -> None:
    a, b = dbs
    assert cli(args(a), exp_repo.path).code == 0
    before = tree_bytes(exp_repo.path)
    res = cli(args(b), exp_repo.path)
    assert res.code == 1, res
    refused_as_another_storage(res.out, a)
    assert tree_bytes(exp_repo.path) == before
    record = json.loads((exp_repo.path / exp_rel(1)).read_text())
    assert record["provenance"]["source"]["uri"] == storage_url(a)


def test_another_databases_study_is_refused_whole_once_committed(
    exp_repo: ExpRepo, dbs: tuple[Path, Path], cli: CliCall
) -> None:
    a, b = dbs
    assert cli(args(a), exp_repo.path).code == 0
    exp_repo.commit("a")
    res = cli(args(b), exp_repo.path)
    assert res.code == 1, res
    refused_as_another_storage(res.out, a)
    assert exp_repo.status() == ""  # trials 7 and 8 were written into the study


def test_the_same_database_moved_is_unchanged_and_another_study_as_imports(
    exp_repo: ExpRepo, dbs: tuple[Path, Path], tmp_path: Path, cli: CliCall
) -> None:
    a, b = dbs
    assert cli(args(a), exp_repo.path).code == 0
    exp_repo.commit("a")
    moved = tmp_path / "moved.db"
    shutil.move(a, moved)
    res = cli(args(moved), exp_repo.path)
    assert res.code == 0 and totals(res.out) == "0 new, 0 updated, 7 unchanged, 0 refused", res
    # The other database's study under a study of its own is its own trials (all were
    # refused as "imported already"), but for trial 6: the first study's trial 6 is
    # WAITING, never started, so whose it is cannot be told (left, decisions.md).
    res = cli([*args(b), "--study-as", "b-search"], exp_repo.path)
    assert totals(res.out) == "8 new, 0 updated, 0 unchanged, 1 refused", res.out
    assert "(trial 6): trial 6 is imported already, as pde-search-t0006" in res.out


def test_the_same_database_read_in_another_time_zone_is_unchanged(
    exp_repo: ExpRepo, dbs: tuple[Path, Path]
) -> None:
    """Optuna keeps naive local times: read under another TZ, a trial's start is another
    UTC time, whole quarter hours apart. It is the same study."""
    a, _ = dbs
    res = run_cli(args(a), exp_repo.path, env={"TZ": "UTC"})
    assert res.code == 0, res
    for tz in ("Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati"):
        res = run_cli(args(a), exp_repo.path, env={"TZ": tz})
        assert res.code == 0, res
        assert totals(res.out) == "0 new, 0 updated, 7 unchanged, 0 refused", res
