"""`import … --correct` replacing an uncommitted correction (the value changed again
before the first correction was committed): the `corrected` line, and a Python caller's
`RunPlan.correction.path`, named the new name the plan would have given a correction,
while the one written went over the uncommitted one at its own path (a hunter's report,
issue 18 thirtieth pass). Both name the file written now."""

from __future__ import annotations

from pathlib import Path

from conftest import ExpRepo
from support import CliCall
from test_import_common import totals

from expflow_git.importers import Action, import_csv

STUDY = "sheet"
HEAD = "run,sub_step,seg_total,pde_mean,train_time_min\n"


def _args(path: Path, reason: str | None = None) -> list[str]:
    correct = ["--correct", reason, "--force"] if reason is not None else []
    return ["import", "csv", str(path), "--id-column", "run", "--study", STUDY, *correct]


def _corrections(repo: ExpRepo) -> list[str]:
    return sorted(
        p.relative_to(repo.path).as_posix()
        for p in (repo.path / "corrections").rglob("*.json")
        if p.is_file()
    )


def _first_correction(repo: ExpRepo, tmp_path: Path, cli: CliCall) -> tuple[Path, str]:
    """The sheet imported and committed, its score changed and corrected (not
    committed), the correction given a name of its own; the CSV and that name."""
    path = tmp_path / "runs.csv"
    path.write_text(HEAD + "r-001,5,57,15,45\n", encoding="utf-8")
    assert cli(_args(path), repo.path).code == 0
    repo.commit("import the sheet")
    path.write_text(HEAD + "r-001,5,58,15,45\n", encoding="utf-8")
    res = cli(_args(path, "fixed eval"), repo.path)
    assert res.code == 0 and totals(res.out).startswith("0 new, 0 updated, 1 corrected"), res
    [written] = _corrections(repo)
    # Its own name, as a second correction in another second would have had one.
    kept = written.rsplit("/", 1)[0] + "/first.json"
    (repo.path / written).rename(repo.path / kept)
    path.write_text(HEAD + "r-001,5,59,15,45\n", encoding="utf-8")
    return path, kept


def test_the_corrected_line_names_the_correction_written(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    path, kept = _first_correction(exp_repo, tmp_path, cli)
    res = cli(_args(path, "again"), exp_repo.path)
    assert res.code == 0, res
    assert _corrections(exp_repo) == [kept]  # replaced, not a second one
    assert "again" in (exp_repo.path / kept).read_text()
    [line] = [ln for ln in res.out.splitlines() if ln.startswith("corrected")]
    assert f": {kept}, results/{STUDY}/r-001.json" in line, line


def test_the_python_api_names_the_correction_written(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    path, kept = _first_correction(exp_repo, tmp_path, cli)
    summary = import_csv(path, id_column="run", study=STUDY, root=exp_repo.path, correct="again")
    [plan] = summary.plans
    assert plan.action is Action.CORRECTED and plan.correction is not None
    assert plan.correction.path == kept
    assert _corrections(exp_repo) == [kept]
