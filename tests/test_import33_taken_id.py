"""A run whose id another study has, and whose documents also fail a check (a hunter's
report, issue 18 thirty-third pass): the documents were checked at the path of the id's
result in that other study, and the refusal pointed there (`refused a (id a):
results/c/a.json#/metrics: required-metric ...` for `--study c2`). It now says that the
id is taken by study c, as when the documents pass. The real CLI on a repository from
`init --template minimal`."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_cli
from test_import_common import minimal_repo, tree_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")


def _import(repo: Path, csv: Path, text: str, study: str) -> tuple[int, list[str]]:
    csv.write_text(text)
    res = run_cli(["import", "csv", str(csv), "--id-column", "id", "--study", study], repo)
    return res.code, [ln for ln in res.out.splitlines() if ln.startswith("refused")]


@pytest.mark.parametrize(
    "row",
    [
        "a,,1",  # the required metric missing
        "a,0.5,1",  # passes: the same line
        "a,7,1",  # over the metric's max
    ],
)
def test_an_id_of_another_study_is_said_to_be_taken(tmp_path: Path, row: str) -> None:
    repo = minimal_repo(tmp_path)
    csv = tmp_path / "in.csv"
    assert _import(repo, csv, "id,accuracy\na,0.5\n", "c") == (0, [])
    before = tree_bytes(repo)
    code, refused = _import(repo, csv, f"id,accuracy,x\n{row}\n", "c2")
    assert (code, refused) == (
        1,
        ["refused   a (id a): id 'a' is taken: it is in another study (experiments/c/a.json)"],
    )
    assert tree_bytes(repo) == before


def test_a_result_of_the_id_without_its_record_is_named_as_such(tmp_path: Path) -> None:
    """A result of the id in another study's folder with no record: refused as such, not
    for what the new result would lack at that path."""
    repo = minimal_repo(tmp_path)
    (repo / "results/c").mkdir(parents=True)
    (repo / "results/c/a.json").write_text("{}")
    code, refused = _import(repo, tmp_path / "in.csv", "id,accuracy,x\na,,1\n", "c2")
    assert (code, refused) == (
        1,
        ["refused   a (id a): results/c/a.json: a result exists without its record"],
    )
