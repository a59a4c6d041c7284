"""Runs of a source that derive one id (a hunter's report, issue 18 thirty-third pass):
`q,0.1` then `q,0.2` wrote `q` with 0.1, the first row's, and refused only the second.
Which row is the run cannot be told: every row of such an id is refused, nothing of it
written, each line naming all its rows; the file's other ids still import. The real
CLI on a repository from `init --template minimal`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import git, run_cli
from test_import_common import minimal_repo, totals, tree_bytes

from expflow_git.documents import Status

pytestmark = pytest.mark.usefixtures("isolated_env")


def _import(repo: Path, csv: Path) -> list[str]:
    return ["import", "csv", str(csv), "--id-column", "id", "--study", "dup"]


def _documents(repo: Path) -> list[str]:
    return sorted(rel for rel in tree_bytes(repo) if rel.endswith(".json"))


def _refused(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith("refused")]


def test_every_row_of_a_repeated_id_is_refused(tmp_path: Path) -> None:
    repo = minimal_repo(tmp_path)
    csv = tmp_path / "dup.csv"
    csv.write_text("id,accuracy\nq,0.1\nq,0.2\nok,0.5\nw,0.3\nw,0.4\nw,x\n")
    res = run_cli(_import(repo, csv), repo)
    assert res.code == 1, res
    q = "id 'q' is derived from 2 rows (row 2, row 3); none of them is imported"
    w = "id 'w' is derived from 3 rows (row 5, row 6, row 7); none of them is imported"
    assert _refused(res.out) == [
        f"refused   q (id q): row 2: {q}",
        f"refused   q (id q): row 3: {q}",
        f"refused   w (id w): row 5: {w}",
        f"refused   w (id w): row 6: {w}",
        f"refused   w (id w): {csv}: row 7: column 'accuracy': 'x' is not a number",
        f"refused   w (id w): row 7: {w}",
    ], res.out
    assert totals(res.out) == "1 new, 0 updated, 0 unchanged, 5 refused", res.out
    assert _documents(repo) == ["experiments/dup/ok.json", "results/dup/ok.json"]
    # Again: the same, nothing written.
    before = tree_bytes(repo)
    again = run_cli(_import(repo, csv), repo)
    assert (again.code, _refused(again.out)) == (1, _refused(res.out)), again
    assert tree_bytes(repo) == before


def test_a_committed_run_whose_id_is_repeated_later_is_left_as_committed(
    tmp_path: Path,
) -> None:
    """A second row of a committed run's id refuses both rows: the committed run is not
    rewritten (nor said to be changed after commit); removing the row imports as before."""
    repo = minimal_repo(tmp_path)
    csv = tmp_path / "dup.csv"
    csv.write_text("id,accuracy\nq,0.1\n")
    assert run_cli(_import(repo, csv), repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "import")
    before = tree_bytes(repo)
    csv.write_text("id,accuracy\nq,0.1\nq,0.2\n")
    res = run_cli(_import(repo, csv), repo)
    assert res.code == 1, res
    assert len(_refused(res.out)) == 2 and "changed after" not in res.out, res.out
    assert tree_bytes(repo) == before
    csv.write_text("id,accuracy\nq,0.1\n")
    res = run_cli(_import(repo, csv), repo)
    assert (res.code, totals(res.out)) == (0, "0 new, 0 updated, 1 unchanged, 0 refused"), res
    doc = json.loads((repo / "results/dup/q.json").read_text())
    assert doc["metrics"] == {"accuracy": 0.1}


def test_a_trackers_runs_of_one_id_are_named_as_its_runs(tmp_path: Path) -> None:
    """The plan is the trackers' too (their ids, a trial's number or an MLflow run id, do
    not repeat within one import; a source that repeated one would be refused alike)."""
    from expflow_git.importers import Source, SourceRun, import_source, open_repository

    repo = minimal_repo(tmp_path)
    runs = [
        SourceRun(run=r, exp_id="x", status=Status.SUCCESS, params={}, metrics={"accuracy": 0.5})
        for r in ("a1", "b2")
    ]
    source = Source(tracker="mlflow", uri="file:///m", study="e", expflow_study="e", runs=runs)
    summary = import_source(open_repository(repo), source)
    assert [p.reasons for p in summary.plans] == [
        ("id 'x' is derived from 2 runs (run a1, run b2); none of them is imported",)
    ] * 2
    assert _documents(repo) == []
