"""A sweep re-run into the same database path after `rm a.db` made its study again,
each trial with another start: the import was refused whole as "another storage's
optuna study 's' (sqlite:////…/a.db)", naming the very URI it was reading (a review,
issue 18 thirtieth pass). It now says the study at that storage was re-created, and,
for records not yet committed, that they can be removed before importing again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliCall
from test_import_common import totals, tree_bytes

pytest.importorskip("optuna", reason="needs the optuna extra: pip install 'expflow-git[optuna]'")
from test_import_optuna import STUDY, exp_rel, make_study, storage_url  # noqa: E402


def args(db: Path) -> list[str]:
    return ["import", "optuna", "--storage", storage_url(db), "--study", STUDY]


def remade(db: Path) -> None:
    """`rm a.db` and the sweep run again: the same study, trials started anew."""
    db.unlink()
    make_study(db)


def test_a_recreated_study_with_uncommitted_records_says_remove_them(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    db = tmp_path / "a.db"
    make_study(db)
    assert cli(args(db), exp_repo.path).code == 0
    remade(db)
    before = tree_bytes(exp_repo.path)
    res = cli(args(db), exp_repo.path)
    assert res.code == 1, res
    assert totals(res.out) == "0 new, 0 updated, 0 unchanged, 7 refused", res.out
    assert "another storage" not in res.out, res.out
    assert (
        f"id '{STUDY}-t0001' is taken: its record {exp_rel(1)} was imported from optuna "
        f"study '{STUDY}' at this storage ({storage_url(db)}), which was re-created since: "
        "its trial 1 started at"
    ) in res.out, res.out
    assert (
        f"the record is not committed: remove it (expflow-git rm {STUDY}-t0001, or delete "
        "its files) before importing again"
    ) in res.out, res.out
    assert (
        f"(trial 6): optuna study '{STUDY}' at {storage_url(db)} was re-created since it "
        f"was imported into study {STUDY} (see trial 0)"
    ) in res.out, res.out
    assert tree_bytes(exp_repo.path) == before
    # Done as said: the study's records and results removed, the import goes through.
    for folder in ("experiments", "results"):
        shutil.rmtree(exp_repo.path / folder / STUDY)
    res = cli(args(db), exp_repo.path)
    assert res.code == 0 and totals(res.out) == "7 new, 0 updated, 0 unchanged, 0 refused", res


def test_a_recreated_study_with_committed_records_is_named_so(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    db = tmp_path / "a.db"
    make_study(db)
    assert cli(args(db), exp_repo.path).code == 0
    exp_repo.commit("a")
    remade(db)
    res = cli(args(db), exp_repo.path)
    assert res.code == 1, res
    assert "another storage" not in res.out, res.out
    assert "which was re-created since: its trial 1 started at" in res.out, res.out
    assert "rename the study in the tracker, or import it with --study-as NAME" in res.out
    assert "not committed" not in res.out and "expflow-git rm" not in res.out, res.out
    assert exp_repo.status() == ""
