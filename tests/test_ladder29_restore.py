"""The Ladder's submission order when a result leaves every result path and comes back
(issue 18, twenty-ninth pass; docs/spec.md §6.2 item 5): a run withdrawn by a correction
and restored later, byte for byte, is submitted again where it is restored. It kept the
position of the commit that first added it, before its withdrawal, and took
`best_ladder` from a competitor submitted while it was withdrawn. A result moved (in one
commit, or copied then deleted) still keeps its position. Real repositories, the real
CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_audit import Cli, add_run, commit_all, git, new_repo, runs_of, statement_of, write

POLICY = """\
version: 1
metrics:
  accuracy: {group: Score, higher_is_better: true, min: 0, max: 1}
required_metrics: [accuracy]
ranking: {sort_by: accuracy, ladder_step: 0.01}
"""
STUDY = "s"


def _ladder(cli: Cli, r: Path, *args: str) -> tuple[str | None, dict[str, int]]:
    res = cli(["audit", "--format", "json", *args], r)
    assert res.code == 0, res
    st = statement_of(res.out)
    orders = {e["id"]: e["ladder"]["order"] for e in runs_of(st)}
    return st["predicate"]["result"]["best_ladder"], orders


def _all_ways(cli: Cli, r: Path, *args: str) -> tuple[str | None, dict[str, int]]:
    """The same ladder without the cache, cold and warm."""
    cold = _ladder(cli, r, "--no-cache", *args)
    assert _ladder(cli, r, *args) == cold
    assert _ladder(cli, r, *args) == cold
    return cold


def _pr(r: Path, name: str) -> None:
    git(r, "checkout", "-q", "-b", name, "main")


def _merge(r: Path, name: str) -> None:
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", "--no-ff", "--no-edit", "-m", f"merge {name}", name)


def _repo(path: Path) -> Path:
    r = new_repo(path, POLICY)
    commit_all(r, "policy")
    return r


def _rel(kind: str, run_id: str) -> str:
    return f"{kind}/{STUDY}/{run_id}.json"


def test_a_withdrawn_run_restored_is_submitted_where_it_is_restored(
    xcli: Cli, tmp_path: Path
) -> None:
    """PR A: e1 (0.81), zz (0.94); PR B withdraws zz (`rm --reason`); PR C: c (0.945),
    which sets the ladder; PR D puts zz's record and result back, byte for byte. zz is a
    submission of PR D, after c, and moves nothing: best_ladder stays c."""
    r = _repo(tmp_path / "repo")
    _pr(r, "A")
    add_run(r, "e1", {"accuracy": 0.81}, study=STUDY)
    add_run(r, "zz", {"accuracy": 0.94}, study=STUDY)
    commit_all(r, "e1, zz")
    _merge(r, "A")
    record, result = ((r / _rel(k, "zz")).read_bytes() for k in ("experiments", "results"))
    _pr(r, "B")
    out = xcli(["rm", "zz", "--reason", "withdrawn", "--force"], r)
    assert out.code == 0, out
    assert not (r / _rel("results", "zz")).exists()
    commit_all(r, "rm zz")
    _merge(r, "B")
    _pr(r, "C")
    add_run(r, "c", {"accuracy": 0.945}, study=STUDY)
    commit_all(r, "c")
    _merge(r, "C")
    assert _all_ways(xcli, r) == ("c", {"e1": 0, "c": 1})
    _pr(r, "D")
    write(r, _rel("experiments", "zz"), record)
    write(r, _rel("results", "zz"), result)
    commit_all(r, "restore zz")
    # It was "best_ladder: zz" (moved 1 time(s): zz), zz ordered before c.
    expected = ("c", {"e1": 0, "c": 1, "zz": 2})
    assert _all_ways(xcli, r, "--since", "main", "--policy-ref", "main") == expected
    assert _all_ways(xcli, r) == expected
    _merge(r, "D")
    assert _all_ways(xcli, r) == expected
    text = xcli(["audit", "--no-cache"], r).out
    assert "best_ladder: c — accuracy 0.94 on the ladder" in text
    assert "moved 2 time(s): e1 → c)" in text
    report = tmp_path / "report.json"
    assert xcli(["audit", "--out", str(report)], r).code == 0
    res = xcli(["verify", str(report), "--allow-unsigned", "--repo", str(r)], tmp_path)
    assert res.code == 0, res.out
    assert "ok   recompute" in res.out


def test_a_correction_chain_back_to_the_first_result_is_a_new_submission(
    xcli: Cli, tmp_path: Path
) -> None:
    """zz's result X is replaced by Y, c is submitted, then zz's result is X again: the
    blob X left every result path at the first correction, and comes back after c."""
    r = _repo(tmp_path / "repo")
    add_run(r, "e1", {"accuracy": 0.81}, study=STUDY)
    add_run(r, "zz", {"accuracy": 0.94}, study=STUDY)
    commit_all(r, "e1, zz")
    first = (r / _rel("results", "zz")).read_bytes()
    add_run(r, "zz", {"accuracy": 0.5}, study=STUDY)
    commit_all(r, "zz: Y")
    add_run(r, "c", {"accuracy": 0.945}, study=STUDY)
    commit_all(r, "c")
    write(r, _rel("results", "zz"), first)
    commit_all(r, "zz: X again")
    assert _all_ways(xcli, r) == ("c", {"e1": 0, "c": 1, "zz": 2})


def test_a_pull_request_that_merged_main_then_withdrew_and_restored_a_run(
    xcli: Cli, tmp_path: Path
) -> None:
    """The merge of main into the pull request shows main's zz as added again (its diff
    is against the pull request's own commit): zz is still one result, so the pull
    request's deletion of it leaves it nowhere, and its restoration is a new
    submission after the pull request's c."""
    r = _repo(tmp_path / "repo")
    _pr(r, "pr")
    add_run(r, "e1", {"accuracy": 0.81}, study=STUDY)
    commit_all(r, "e1")
    git(r, "checkout", "-q", "main")
    add_run(r, "zz", {"accuracy": 0.94}, study=STUDY)
    commit_all(r, "zz")
    git(r, "checkout", "-q", "pr")
    git(r, "merge", "-q", "--no-ff", "--no-edit", "main")
    saved = (r / _rel("results", "zz")).read_bytes()
    git(r, "rm", "-q", _rel("results", "zz"))
    commit_all(r, "withdraw zz")
    add_run(r, "c", {"accuracy": 0.945}, study=STUDY)
    commit_all(r, "c")
    write(r, _rel("results", "zz"), saved)
    commit_all(r, "zz again")
    # It kept main's place, first, and the ladder: ("zz", {"zz": 0, "e1": 1, "c": 2}).
    assert _all_ways(xcli, r, "--policy-ref", "main") == ("c", {"e1": 0, "c": 1, "zz": 2})


@pytest.mark.parametrize("one_commit", [True, False])
def test_a_moved_result_still_keeps_its_commit(xcli: Cli, tmp_path: Path, one_commit: bool) -> None:
    """zz moved to another study folder, in one commit or copied and then deleted: some
    result path holds its blob all along, and it keeps its place before c."""
    r = _repo(tmp_path / "repo")
    add_run(r, "zz", {"accuracy": 0.94}, study=STUDY)
    commit_all(r, "zz")
    add_run(r, "c", {"accuracy": 0.945}, study=STUDY)
    commit_all(r, "c")
    old = _rel("results", "zz")
    write(r, "results/t/zz.json", (r / old).read_bytes())
    if not one_commit:
        commit_all(r, "copy zz")
    git(r, "rm", "-q", old)
    commit_all(r, "move zz")
    assert _all_ways(xcli, r) == ("zz", {"zz": 0, "c": 1})
