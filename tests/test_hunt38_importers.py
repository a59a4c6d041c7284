"""An attacker's hunt of the importers (issue 18 thirty-eighth pass), on real CSV files,
real Optuna studies in SQLite and real MLflow runs, through the real CLI and hooks:

- `import … --correct` wrote its correction where `.gitignore` keeps files out (a
  `.gitignore` kept from before init's template gave back `corrections/`, whose `*-key`
  rule takes a run `model-key`'s folder), exit 0; `git add -A` left it out and the hook
  refused the corrected result as an undeclared rewrite. `result --overwrite` refuses
  such a path; the import now refuses the run (exit 1, nothing written);
- `--correct` wrote the correction and the result of an MLflow run renamed and re-tagged
  at the source, not its record: the next import was no no-op ("updated");
- the API's `root=""` and `policy=""` were taken for the defaults, a missing root said
  "no policy file; run `expflow-git init`", `root=5` was a TypeError;
- a run `rm` deleted on record, its record put back, was "updated" with a new result,
  exit 0, which the hook then refused.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliCall, CliResult
from test_import_common import hook_commit, install_hooks, totals, tree_bytes

from expflow_git.importers import import_csv
from expflow_git.pin.store import hash_pin, save_hash

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
HEADER = "run,sub_step,seg_total,pde_mean,train_time_min\n"


def _csv(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "runs.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def _import_csv(cli: CliCall, repo: ExpRepo, path: Path, *extra: str) -> CliResult:
    return cli(
        ["import", "csv", str(path), "--id-column", "run", "--study", "s", *extra], repo.path
    )


# ------------------------------------------------------- a correction git ignores
def test_a_correction_git_ignores_is_refused(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    # init's `.gitignore` as it was before `!/corrections/**/` (its `*-key` rule kept).
    gitignore = exp_repo.path / ".gitignore"
    kept = [ln for ln in gitignore.read_text().splitlines() if ln != "!/corrections/**/"]
    gitignore.write_text("\n".join(kept) + "\n")
    install_hooks(exp_repo)
    path = _csv(tmp_path, "model-key,1,57,15,40\n")
    res = _import_csv(cli, exp_repo, path)
    assert res.code == 0, res
    assert hook_commit(exp_repo, "import").returncode == 0
    path = _csv(tmp_path, "model-key,1,58,15,40\n")
    before = tree_bytes(exp_repo.path)
    res = _import_csv(cli, exp_repo, path, "--correct", "re-scored", "--force")
    assert res.code == 1, res
    assert totals(res.out) == "0 new, 0 updated, 0 unchanged, 1 refused", res.out
    assert ".gitignore keeps this file out of the repository" in res.out
    assert "corrections/s/model-key/" in res.out
    assert tree_bytes(exp_repo.path) == before  # nothing written
    # The work tree stays one the hooks accept.
    exp_repo.git("add", "-A")
    staged = subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=exp_repo.path, check=False)
    assert staged.returncode == 0


# ------------------------------------- a correction leaves the record's other fields
def test_a_corrected_mlflow_run_takes_its_new_name_and_tags_in_one_import(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, isolated_env: Path
) -> None:
    """A run renamed and re-tagged in MLflow, its metric logged again after its result
    was committed: `--correct` wrote the correction and the result, not the record, so
    the next import was no no-op ("updated … [tags, title changed]")."""
    pytest.importorskip("mlflow.tracking", reason="needs the mlflow extra")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    run_id = client.create_run(
        client.create_experiment("ex"), run_name="first", tags={"team": "a"}
    ).info.run_id
    client.log_param(run_id, "sub_step", "1")
    for metric, value in {"seg_total": 50.0, "pde_mean": 15.0, "train_time_min": 40.0}.items():
        client.log_metric(run_id, metric, value, step=0)
    client.set_terminated(run_id, "FINISHED")
    args = ["import", "mlflow", "--tracking-uri", uri, "--experiment", "ex"]
    save_hash(isolated_env, hash_pin(PIN))
    install_hooks(exp_repo)
    assert cli(args, exp_repo.path).code == 0
    assert hook_commit(exp_repo, "import").returncode == 0
    client.set_tag(run_id, "mlflow.runName", "renamed")
    client.set_tag(run_id, "team", "b")
    client.log_metric(run_id, "seg_total", 51.0, step=1)
    approve = {"EXPFLOW_PIN": PIN}
    res = cli([*args, "--correct", "re-scored"], exp_repo.path, approve)
    assert res.code == 0, res
    assert totals(res.out) == "0 new, 0 updated, 1 corrected, 0 unchanged, 0 refused"
    record = json.loads((exp_repo.path / f"experiments/ex/{run_id}.json").read_text())
    assert (record["title"], record["tags"]) == ("renamed", ["team:b"])
    assert hook_commit(exp_repo, "corrected", approve).returncode == 0
    again = cli(args, exp_repo.path)
    assert again.code == 0, again
    assert totals(again.out) == "0 new, 0 updated, 1 unchanged, 0 refused", again.out


# ---------------------------------------------------- the API's root and policy
@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"root": ""}, "root: give a path, not an empty string"),
        ({"policy": ""}, "policy: give a path, not an empty string"),
        ({"root": 5}, "root: give a folder's path, not 5"),
        ({"root": "no-such-folder"}, "no-such-folder': it does not exist"),
    ],
)
def test_the_api_checks_its_root_and_policy_as_repository_does(
    exp_repo: ExpRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: dict, said: str
) -> None:
    """`root=""` imported into the current folder and `policy=""` by the default policy
    (`Repository` and the CLI's `--policy ''` refuse both), a missing root said "no policy
    file; run `expflow-git init`", and `root=5` was a TypeError (spec §4.2: an argument
    of the wrong kind is a ValueError)."""
    path = _csv(tmp_path, "a,1,57,15,40\n")
    monkeypatch.chdir(exp_repo.path)
    kwargs = {"root": str(exp_repo.path), **given}
    before = tree_bytes(exp_repo.path)
    with pytest.raises(ValueError, match=re.escape(said)):
        import_csv(path, id_column="run", study="s", **kwargs)
    assert tree_bytes(exp_repo.path) == before  # nothing written


# -------------------------------------------- a run deleted on record, its record back
def test_a_run_deleted_on_record_with_its_record_put_back_is_refused(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, isolated_env: Path
) -> None:
    """`rm` of a committed run, committed; its record put back (`git checkout HEAD~1 --
    RECORD`): the import wrote it a new result, "updated", exit 0, and the hook refused
    the commit (§2.4: a run deleted on record comes back only as the result it had), as
    `result` and `fail` now refuse it."""
    save_hash(isolated_env, hash_pin(PIN))
    approve = {"EXPFLOW_PIN": PIN}
    install_hooks(exp_repo)
    assert _import_csv(cli, exp_repo, _csv(tmp_path, "a,1,57,15,40\n")).code == 0
    assert hook_commit(exp_repo, "import").returncode == 0
    assert cli(["rm", "a", "--reason", "leaked test data"], exp_repo.path, approve).code == 0
    assert hook_commit(exp_repo, "rm a", approve).returncode == 0
    exp_repo.git("checkout", "HEAD~1", "--", "experiments/s/a.json")
    before = tree_bytes(exp_repo.path)
    res = _import_csv(cli, exp_repo, _csv(tmp_path, "a,1,58,15,40\n"))
    assert res.code == 1, res
    assert totals(res.out) == "0 new, 0 updated, 0 unchanged, 1 refused", res.out
    assert "was deleted on record (corrections/s/a/" in res.out
    assert tree_bytes(exp_repo.path) == before  # nothing written
