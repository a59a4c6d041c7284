"""The Ladder's submission order when a result leaves every result path and comes back
(issue 18, twenty-ninth pass; docs/spec.md §6.2 item 5): a result keeps the commit that
first brought its blob, also when it was withdrawn and restored byte for byte. A fix
that submitted a restored result again where it was restored let one pull request
withdraw a rival's run from main, submit its own, and restore the rival's, which then
came after it and lost `best_ladder` to it (a review's find): once the pull request is
fast-forwarded, no history tells that apart from a withdrawal merged before. A result
moved (in one commit, or copied then deleted) keeps its position too. Real
repositories, the real CLI."""

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


def test_a_withdrawn_run_restored_keeps_its_first_commit(xcli: Cli, tmp_path: Path) -> None:
    """PR A: e1 (0.81), zz (0.94); PR B withdraws zz (`rm --reason`); PR C: c (0.945),
    which sets the ladder; PR D puts zz's record and result back, byte for byte. zz's
    score was public from PR A and its withdrawal is declared in every report: it keeps
    PR A's place, and c (not a step above it) does not move the ladder."""
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
    expected = ("zz", {"zz": 0, "e1": 1, "c": 2})
    assert _all_ways(xcli, r, "--since", "main", "--policy-ref", "main") == expected
    assert _all_ways(xcli, r) == expected
    _merge(r, "D")
    assert _all_ways(xcli, r) == expected
    text = xcli(["audit", "--no-cache"], r).out
    assert "best_ladder: zz — accuracy 0.94 on the ladder" in text
    assert "moved 1 time(s): zz)" in text
    report = tmp_path / "report.json"
    assert xcli(["audit", "--out", str(report)], r).code == 0
    res = xcli(["verify", str(report), "--allow-unsigned", "--repo", str(r)], tmp_path)
    assert res.code == 0, res.out
    assert "ok   recompute" in res.out


def test_a_correction_chain_back_to_the_first_result_keeps_its_commit(
    xcli: Cli, tmp_path: Path
) -> None:
    """zz's result X is replaced by Y, c is submitted, then zz's result is X again: X
    keeps the commit that first brought it, before c."""
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
    assert _all_ways(xcli, r) == ("zz", {"zz": 0, "e1": 1, "c": 2})


def test_a_pull_request_that_merged_main_then_withdrew_and_restored_a_run(
    xcli: Cli, tmp_path: Path
) -> None:
    """The merge of main into the pull request shows main's zz as added again (its diff
    is against the pull request's own commit); the pull request withdraws zz, submits
    c and restores zz: zz keeps main's place, first, and the ladder."""
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
    assert _all_ways(xcli, r, "--policy-ref", "main") == ("zz", {"zz": 0, "e1": 1, "c": 2})


@pytest.mark.parametrize("merge", ["--no-ff", "--ff-only"])
def test_a_pull_request_cannot_put_a_rivals_run_behind_its_own(
    xcli: Cli, tmp_path: Path, merge: str
) -> None:
    """main holds a rival's zz (0.94). A pull request withdraws zz with a correction,
    submits its own c (0.945, not a step above), then restores zz byte for byte: its
    net change to zz is nothing. zz keeps main's place and the ladder, in the pull
    request's own audit and on main after a merge or a fast-forward."""
    r = _repo(tmp_path / "repo")
    add_run(r, "zz", {"accuracy": 0.94}, study=STUDY)
    commit_all(r, "the rival's zz")
    _pr(r, "pr")
    record, result = ((r / _rel(k, "zz")).read_bytes() for k in ("experiments", "results"))
    out = xcli(["rm", "zz", "--reason", "withdrawn", "--force"], r)
    assert out.code == 0, out
    commit_all(r, "rm zz")
    add_run(r, "c", {"accuracy": 0.945}, study=STUDY)
    commit_all(r, "c")
    write(r, _rel("experiments", "zz"), record)
    write(r, _rel("results", "zz"), result)
    commit_all(r, "restore zz")
    expected = ("zz", {"zz": 0, "c": 1})
    assert _all_ways(xcli, r, "--since", "main", "--policy-ref", "main") == expected
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", merge, "--no-edit", "pr")
    assert _all_ways(xcli, r) == expected


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
