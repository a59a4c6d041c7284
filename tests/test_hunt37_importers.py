"""An attacker's hunt of the importers (issue 18 thirty-seventh pass), on real Optuna
studies in SQLite and real CSV files, through the real CLI:

- an Optuna trial whose categorical param holds a lone surrogate (a file name
  `os.listdir` decoded with surrogateescape, `caf\\udce9.csv`, which Optuna stores as the
  JSON `"caf\\udce9.csv"`) stopped the whole import, exit 2, with `not UTF-8 text (a
  non-UTF-8 argument or file name?)` and a piece of the record's JSON, naming no trial:
  the run is refused by itself now (exit 1), naming the param, and the others import;
- `--correct` with a reason that is not UTF-8 (`$'a\\xff'`) was a traceback, exit 1: it
  is a usage error naming the option now (exit 2, nothing written), as `result --reason`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo, assert_clean_output
from support import run_cli
from test_import_common import optuna_study, totals, tree_bytes

from expflow_git.errors import ExpflowError
from expflow_git.importers import import_csv, import_optuna

optuna = pytest.importorskip(
    "optuna", reason="needs the optuna extra: pip install 'expflow-git[optuna]'"
)
from optuna.distributions import CategoricalDistribution, IntDistribution  # noqa: E402

pytestmark = pytest.mark.usefixtures("isolated_env")

MEASURED = {"pde_mean": 15.0, "train_time_min": 40.0}
STEP = {"sub_step": IntDistribution(1, 8)}


def _study(db: Path, trials: list[dict[str, Any]]) -> None:
    """Study `h` maximising `seg_total`, one trial (objective 57) per entry of `trials`."""
    optuna_study(db, "h", "seg_total", 57.0, trials)


def _import_optuna(repo: Path, db: Path, *extra: str) -> Any:
    args = ["import", "optuna", "--storage", f"sqlite:///{db}", "--study", "h", *extra]
    return run_cli(args, repo)


# ------------------------------------------------------------- a lone surrogate in a param
SURROGATE = "caf\udce9.csv"  # os.fsdecode(b"caf\xe9.csv") under a UTF-8 locale


@pytest.fixture
def surrogate_db(tmp_path: Path) -> Path:
    db = tmp_path / "h.db"
    data = CategoricalDistribution([SURROGATE, "b.csv"])
    _study(
        db,
        [
            {
                "params": {"sub_step": 1, "data": SURROGATE},
                "distributions": {**STEP, "data": data},
                "user_attrs": MEASURED,
            },
            {
                "params": {"sub_step": 2, "data": "b.csv"},
                "distributions": {**STEP, "data": data},
                "user_attrs": MEASURED,
            },
        ],
    )
    return db


def test_a_param_that_is_not_utf8_refuses_its_trial_only(
    exp_repo: ExpRepo, surrogate_db: Path
) -> None:
    res = _import_optuna(exp_repo.path, surrogate_db)
    assert_clean_output(res.out, res.err)
    assert res.code == 1, res
    assert "non-UTF-8 argument" not in res.both, res
    assert totals(res.out) == "1 new, 0 updated, 0 unchanged, 1 refused"
    [refusal] = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
    assert refusal.startswith("refused   h-t0000 (trial 0): "), refusal
    assert "param 'data'" in refusal and "not UTF-8" in refusal, refusal
    assert "\udce9" not in refusal and "caf\\udce9.csv" in refusal, refusal
    assert not (exp_repo.path / "experiments/h/h-t0000.json").exists()
    record = json.loads((exp_repo.path / "experiments/h/h-t0001.json").read_text())
    assert record["params"] == {"sub_step": 2, "data": "b.csv"}


def test_the_python_api_refuses_that_trial_alike(exp_repo: ExpRepo, surrogate_db: Path) -> None:
    summary = import_optuna(f"sqlite:///{surrogate_db}", "h", root=exp_repo.path, dry_run=True)
    assert [p.action.value for p in summary.plans] == ["refused", "new"]
    assert any("not UTF-8" in r for r in summary.plans[0].reasons)


# ------------------------------------------------------------- --correct not UTF-8
@pytest.mark.skipif(sys.platform == "darwin", reason="arguments are UTF-8 there")
def test_a_correct_reason_that_is_not_utf8_is_a_usage_error(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    sheet = tmp_path / "runs.csv"
    sheet.write_text("run,sub_step,seg_total,pde_mean,train_time_min\nr1,1,57,15,45\n")
    before = tree_bytes(exp_repo.path)
    reason = os.fsdecode(b"rescored \xff")
    args = ["import", "csv", str(sheet), "--id-column", "run", "--study", "s"]
    res = run_cli([*args, "--correct", reason, "--force"], exp_repo.path)
    assert_clean_output(res.out, res.err)
    assert res.code == 2, res
    [line] = res.err.strip().splitlines()
    assert "--correct" in line and "not UTF-8" in line, line
    assert tree_bytes(exp_repo.path) == before
    with pytest.raises(ExpflowError, match="not UTF-8"):
        import_csv(sheet, id_column="run", study="s", root=exp_repo.path, correct=reason)
    assert tree_bytes(exp_repo.path) == before


# ------------------------------------------------------------- the `git checkout` hint
def test_the_hint_for_a_committed_result_gone_runs_as_printed(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """A committed result gone from the work tree is named with the command that brings
    it back; its path, as HEAD holds it (a folder of the author's naming: `old runs`,
    `$(…)`), was printed unquoted, so the line did not run as printed (two pathspecs), or
    ran what the folder's name said (`next: git add …` is quoted for that reason)."""
    sheet = tmp_path / "runs.csv"
    sheet.write_text("run,sub_step,seg_total,pde_mean,train_time_min\nr1,1,57,15,45\n")
    args = ["import", "csv", str(sheet), "--id-column", "run", "--study", "s"]
    assert run_cli(args, exp_repo.path).code == 0
    folder = exp_repo.path / "results/s/old $(touch pwned) runs"
    folder.mkdir()
    (exp_repo.path / "results/s/r1.json").rename(folder / "r1.json")
    exp_repo.commit("imported and archived")
    kept = exp_repo.git("show", "HEAD:results/s/old $(touch pwned) runs/r1.json")
    (folder / "r1.json").unlink()

    res = run_cli(args, exp_repo.path)
    assert_clean_output(res.out, res.err)
    assert res.code == 1, res
    [refusal] = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
    hint = refusal.split("(`", 1)[1].split("` brings it back)", 1)[0]
    assert hint.startswith("git checkout HEAD -- "), refusal
    proc = subprocess.run(
        ["sh", "-c", hint], cwd=exp_repo.path, capture_output=True, text=True, check=False
    )
    assert not (exp_repo.path / "pwned").exists(), "the hint ran the folder's name"
    assert proc.returncode == 0, proc.stderr
    assert (folder / "r1.json").read_text().rstrip("\n") == kept.rstrip("\n")
