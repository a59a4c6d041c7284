"""The holdout budget over the history counts each (run, result blob) once (docs/spec.md
§6.2 item 6; issue 18 thirty-third pass): a look cherry-picked onto main, then its
branch merged, was two looks (only a merge skipped what was counted already), and as
BASE's history counts, every later pull request stayed over the budget. The same bytes
for the same run show nothing new of the split; the same bytes under another run's
name, or other bytes, are still a look each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers_audit import POLICY, add_run, commit_all, git, m, new_repo, run_cli, statement_of

STUDY = "pdebench-task1"
LATER = "2026-11-21T10:00:00+00:00"  # a cherry-pick's own committer date
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _policy(limit: int) -> str:
    return POLICY + (
        "budget: {max_runs_per_study: 3, max_runs: 3}\n"
        "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
        f"               max_evaluations_per_study: {limit}, max_evaluations: {limit}}}\n"
    )


def _look(repo: Path, exp_id: str, seg: float) -> None:
    add_run(repo, exp_id, m(seg), splits={"holdout": {"seg_total": seg - 1}})


def _result(exp_id: str) -> str:
    return f"results/{STUDY}/{exp_id}.json"


def _audit(repo: Path, *args: str) -> tuple[int, dict[str, int | None], list[dict[str, Any]]]:
    """`audit --no-cache`'s exit code, its holdout counts by study and its findings."""
    res = run_cli(["audit", "--no-cache", "--format", "json", *args], repo)
    assert res.code in (0, 1), res.err
    entries = statement_of(res.out.encode())["predicate"]["entries"]
    [entry] = [e for e in entries if e["type"] == "holdout-budget"]
    counts = {s["study"]: s["evaluations"] for s in entry["studies"]}
    return res.code, counts, [e for e in entries if e["type"] == "finding"]


def _over(findings: list[dict[str, Any]]) -> list[str]:
    """The budgets' findings (the audit may fail for others: a walk-forward gate with
    too few runs, a deletion without a correction)."""
    return [f["rule"] for f in findings if f["rule"].endswith("budget-exceeded")]


def _picked_and_merged(tmp_path: Path, limit: int = 2) -> tuple[Path, str]:
    """main: one look (exp-001); branch `rel`: a second (exp-002), cherry-picked onto
    main with a committer date of its own, then `rel` merged with --no-ff."""
    repo = new_repo(tmp_path / "repo", _policy(limit))
    _look(repo, "exp-001", 55.0)
    root = commit_all(repo, "e1: a look")
    git(repo, "checkout", "-q", "-b", "rel")
    _look(repo, "exp-002", 56.0)
    commit_all(repo, "e2: a second look")
    git(repo, "checkout", "-q", "main")
    git(repo, "cherry-pick", "rel", env={"GIT_CONFIG_NOSYSTEM": "1", "GIT_COMMITTER_DATE": LATER})
    git(repo, "merge", "-q", "--no-ff", "-m", "merge rel", "rel")
    return repo, root


def test_a_cherry_picked_look_merged_back_is_one_look(tmp_path: Path) -> None:
    repo, root = _picked_and_merged(tmp_path)
    merged = git(repo, "rev-parse", "HEAD")
    for since in (root, EMPTY_TREE):
        _, counts, findings = _audit(repo, "--since", since)
        assert counts == {STUDY: 2}, since
        assert _over(findings) == [], findings
    text = run_cli(["audit", "--no-cache", "--since", root], repo).out
    assert "holdout budget: ok" in text and f"at most 2: {STUDY} 2" in text, text
    assert "OVER" not in text
    # The next pull request, audited from the merge (whose history is BASE's), is not
    # charged the picked look again.
    add_run(repo, "exp-003", m(57.0))  # a run that never looked at the holdout
    commit_all(repo, "e3: no look")
    _, counts, findings = _audit(repo, "--since", merged)
    assert (counts, _over(findings)) == ({STUDY: 2}, [])
    assert run_cli(["validate"], repo).code == 0


def test_the_same_bytes_deleted_and_added_again_are_one_look(tmp_path: Path) -> None:
    """Decided (docs/decisions.md): a deletion reverted, byte for byte, shows nothing
    new of the split; the history still never counts below the tree."""
    repo = new_repo(tmp_path / "repo", _policy(1))
    add_run(repo, "exp-000", m(50.0))
    base = commit_all(repo, "base")
    _look(repo, "exp-001", 55.0)
    commit_all(repo, "a look")
    path = repo / _result("exp-001")
    data = path.read_bytes()
    path.unlink()
    commit_all(repo, "delete")
    git(repo, "revert", "--no-edit", "HEAD")  # the very same blob back
    assert path.read_bytes() == data
    _, counts, findings = _audit(repo, "--since", base)
    assert (counts, _over(findings)) == ({STUDY: 1}, [])


def test_the_dedup_hides_no_other_look(tmp_path: Path) -> None:
    """What the once-per-pair rule must not forgive: a picked look's bytes under
    another run's name, a pick whose result was changed, a re-add with other bytes."""
    # The same blob as exp-002's, under exp-003's name, in the picked commit's branch.
    repo, root = _picked_and_merged(tmp_path / "copy")
    add_run(repo, "exp-003", None)
    (repo / _result("exp-003")).write_bytes((repo / _result("exp-002")).read_bytes())
    commit_all(repo, "the same bytes as exp-002's, for exp-003")
    code, counts, findings = _audit(repo, "--since", root)
    assert counts == {STUDY: 3}
    assert code == 1 and "holdout-budget-exceeded" in _over(findings)

    # A pick whose result was changed (another holdout value) before the merge.
    repo = new_repo(tmp_path / "changed" / "repo", _policy(2))
    _look(repo, "exp-001", 55.0)
    root = commit_all(repo, "e1: a look")
    git(repo, "checkout", "-q", "-b", "rel")
    _look(repo, "exp-002", 56.0)
    commit_all(repo, "e2: a look")
    git(repo, "checkout", "-q", "main")
    git(repo, "cherry-pick", "--no-commit", "rel")
    doc = json.loads((repo / _result("exp-002")).read_text())
    doc["splits"]["holdout"]["seg_total"] = 54.5
    (repo / _result("exp-002")).write_text(json.dumps(doc, indent=2) + "\n")
    commit_all(repo, "e2, picked and looked at again", date=LATER)
    git(repo, "merge", "-q", "--no-ff", "-m", "merge rel", "-s", "ours", "rel")
    code, counts, findings = _audit(repo, "--since", root)
    assert counts == {STUDY: 3}
    assert code == 1 and "holdout-budget-exceeded" in _over(findings)

    # Deleted, then added again with other bytes: two looks.
    repo = new_repo(tmp_path / "readd" / "repo", _policy(1))
    add_run(repo, "exp-000", m(50.0))
    base = commit_all(repo, "base")
    _look(repo, "exp-001", 55.0)
    commit_all(repo, "a look")
    (repo / _result("exp-001")).unlink()
    commit_all(repo, "delete")
    _look(repo, "exp-001", 55.5)
    commit_all(repo, "a look again, other bytes")
    code, counts, findings = _audit(repo, "--since", base)
    assert counts == {STUDY: 2}
    assert code == 1 and "holdout-budget-exceeded" in _over(findings)


def test_a_moved_look_deleted_and_restored_is_one_look_from_any_base(tmp_path: Path) -> None:
    """A result saved under a typo, moved to its run's name, deleted by mistake and the
    deletion reverted: one look from every BASE (a review of a change, reverted, that
    counted the restore again)."""
    repo = new_repo(tmp_path / "repo", _policy(1))
    _look(repo, "exp-001", 55.0)
    (repo / _result("exp-001")).rename(repo / _result("exp-01"))
    first = commit_all(repo, "one holdout look, under a typo")
    git(repo, "mv", _result("exp-01"), _result("exp-001"))
    moved = commit_all(repo, "the name fixed")
    git(repo, "rm", "-q", _result("exp-001"))
    gone = commit_all(repo, "oops")
    git(repo, "revert", "--no-edit", "HEAD")
    for since in (first, moved, gone, EMPTY_TREE):
        _, counts, findings = _audit(repo, "--since", since)
        assert counts == {STUDY: 1} and _over(findings) == [], (since, counts)
