"""An attacker's hunt of the importers (issue 18 forty-second pass), on real CSV files and
real Optuna studies in SQLite, through the real CLI and the Python API:

- a run id holding a PIN's SHA-256 after a letter or `_` (`x<digest>`, `run_<digest>`:
  valid ids, kept as they are) was refused, its paths masked (`experiments/s/x****.json`,
  the scan's path rule), but the refusal's own line printed the id whole twice, and the
  totals line a study so named: the PIN in 10,000 guesses, in a CI log;
- `import_csv("")` said `: No such file or directory`, an ExpflowError naming no file,
  where docs/api.md makes a path given as the empty string a ValueError, as the CLI's
  `import csv ''` is `give a path, not an empty string`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliCall
from test_import_common import totals, tree_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
DIGEST = hashlib.sha256(PIN.encode()).hexdigest()
HEADER = "id,sub_step,seg_total,pde_mean,train_time_min\n"


# --------------------------------------------------- a PIN's digest in an id is never shown
@pytest.mark.parametrize(
    "run_id", [f"x{DIGEST}", f"run_{DIGEST}", DIGEST], ids=["x-digest", "run_-digest", "digest"]
)
def test_a_csv_id_holding_a_pins_digest_is_never_printed(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, run_id: str
) -> None:
    """spec §4.2: "Every line the import prints that quotes the tracker (a run's name, a
    metric or column, a cell, the study) has what the scan flags masked, `****`"; the
    scan flags a PIN's SHA-256 in a path as a 64-hex run (§5), and refuses the run's
    record path. The line that said so masked the path, `experiments/s/x****.json`, and
    began `refused   x<digest> (id x<digest>)`."""
    sheet = tmp_path / "runs.csv"
    sheet.write_text(f"{HEADER}{run_id},1,50,10,30\nfine,1,51,10,30\n")
    before = tree_bytes(exp_repo.path)
    for extra in ([], ["--dry-run"]):
        res = cli(
            ["import", "csv", str(sheet), "--id-column", "id", "--study", "s", *extra],
            exp_repo.path,
        )
        assert res.code == 1, res
        assert "pin-sha256" in res.out, res.out
        assert DIGEST not in res.both.lower(), res.both  # (`shows` drops hex runs)
        assert totals(res.out).endswith("1 refused"), res.out
    assert set(tree_bytes(exp_repo.path)) - set(before) == {
        "experiments/s/fine.json",
        "results/s/fine.json",
    }


def test_an_optuna_study_named_with_a_pins_digest_is_never_printed(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """The study's name is the records' study and folder (a valid id, kept): every run
    is refused by its paths, and the totals line and each run's line printed the name."""
    pytest.importorskip("optuna", reason="needs the optuna extra")
    from optuna.distributions import IntDistribution
    from test_import_common import optuna_study

    db = tmp_path / "o.db"
    study = f"x{DIGEST}"
    attrs = {"pde_mean": 15.0, "train_time_min": 40.0}
    trial = {
        "params": {"sub_step": 1},
        "distributions": {"sub_step": IntDistribution(1, 8)},
        "user_attrs": attrs,
    }
    optuna_study(db, study, "seg_total", 57.0, [trial])
    res = cli(["import", "optuna", "--storage", f"sqlite:///{db}", "--study", study], exp_repo.path)
    assert res.code == 1, res
    assert "pin-sha256" in res.out, res.out
    assert DIGEST not in res.both.lower(), res.both  # (`shows` drops hex runs)


# ------------------------------------------------------- the API's empty path is a ValueError
def test_the_python_api_refuses_an_empty_csv_path_as_a_value_error(exp_repo: ExpRepo) -> None:
    """docs/api.md: "a path or key given as the empty string ... as the CLI refuses
    `--policy ''`: never taken for the argument left out; nothing is written" is a
    ValueError; `import csv ''` is `give a path, not an empty string` (exit 2). The API
    raised an ExpflowError, `: No such file or directory`, naming no file."""
    from expflow_git.importers import import_csv

    before = tree_bytes(exp_repo.path)
    with pytest.raises(ValueError, match="path: give a path, not an empty string"):
        import_csv("", id_column="id", study="s", root=exp_repo.path)
    assert tree_bytes(exp_repo.path) == before
