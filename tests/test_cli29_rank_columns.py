"""`rank`'s table, Markdown and CSV header came from the rows shown: `rank --format csv`
had `train_time_min`, `rank --where 'id = "zz"' --format csv` (or `--study nope`) did
not, and an optional metric some runs logged was a column only when one of them was
shown (issue 18 twenty-ninth pass, a hunter's find). The metric columns come from the
policy now, as `list`'s do: the sort metric, the tie-breaks, then every gate's metric
(`--gate`'s too), six at most; the header is the same whatever rows match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers_audit import add_run, commit_all, m, new_repo, run_cli

# Every run matches, one does, none does: by --where, by --study, by --tag.
FILTERS = [
    [],
    ["--where", 'id = "a"'],
    ["--where", 'id = "zz"'],
    ["--study", "other"],
    ["--study", "nope"],
    ["--tag", "nope"],
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs that logged the optional `seg1` and runs that did not, in two studies."""
    root = new_repo(tmp_path_factory.mktemp("columns") / "repo")
    add_run(root, "a", m(60, seg1=3))
    add_run(root, "b", m(55))
    add_run(root, "c", m(50, seg1=2), study="other")
    commit_all(root)
    return root


def header(repo: Path, fmt: str, args: list[str]) -> str:
    res = run_cli(["rank", "--format", fmt, *args], repo)
    assert res.code in (0, 1), res  # 1: no feasible run among those matching
    assert "Traceback" not in res.err, res.err
    first = res.out.splitlines()[0]
    # The text table pads its columns to the values shown: their names are the header.
    return ",".join(re.split(r"\s{2,}", first.strip())) if fmt == "table" else first


@pytest.mark.parametrize("fmt", ["csv", "table", "md"])
def test_the_header_is_the_same_whatever_rows_match(repo: Path, fmt: str) -> None:
    headers = {" ".join(args) or "all": header(repo, fmt, args) for args in FILTERS}
    assert len(set(headers.values())) == 1, headers
    if fmt != "md":
        assert headers["all"] == (
            "rank,id,study,feasible,seg_total,pde_mean,train_time_min,failed checks"
        ), headers


def test_a_gates_metric_is_a_column_whatever_rows_match(repo: Path) -> None:
    gate = ["--gate", "seg1:gt:1"]
    headers = {header(repo, "csv", [*gate, *args]) for args in FILTERS}
    assert headers == {
        "rank,id,study,feasible,seg_total,pde_mean,train_time_min,seg1,failed checks"
    }, headers


def test_json_is_unchanged(repo: Path) -> None:
    """JSON has each row's own metrics, as it had: no column to keep."""
    res = run_cli(["rank", "--format", "json", "--where", 'id = "b"'], repo)
    assert res.code == 0 and '"seg1"' not in res.out, res
