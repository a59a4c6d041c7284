"""`audit --since` refusing a range with a tree out of git's order names the oldest
commit holding one, as the docs say: every depth is read before one is named, and
"oldest" is git's topological order (`git rev-list --topo-order`, listed last), not the
commit dates, which the writer chooses.

A review found the check stopping at the first depth with any fault: with an older
commit whose folder `lab` (on the way to `lab/results`) was out of order and a newer
one whose top folder was, it named the newer. Real repositories, the real CLI."""

from __future__ import annotations

from pathlib import Path

from helpers_audit import (
    POLICY,
    add_run,
    assert_one_error_line,
    commit_all,
    git,
    m,
    new_repo,
    run_cli,
)
from helpers_audit import write as write_file
from test_trees29_unsorted import _entries, _moved_last, _write_tree

LAB = POLICY.replace(
    'results: ["results/**/*.json"]', 'results: ["results/**/*.json", "lab/results/**/*.json"]'
)


def _commit(repo: Path, tree: str, parents: list[str], message: str, date: str) -> str:
    args = [arg for p in parents for arg in ("-p", p)]
    return git(repo, "commit-tree", tree, *args, "-m", message, date=date)


def _lab_out_of_order(repo: Path, twin: str) -> str:
    """`twin`'s tree with its folder `lab` listing `results` after `zzz`."""
    lab = git(repo, "rev-parse", f"{twin}:lab")
    inner = _write_tree(repo, _moved_last(_entries(repo, lab), b"results"))
    top = _entries(repo, f"{twin}^{{tree}}")
    return _write_tree(repo, [(n, mo, inner if n == b"lab" else s) for n, mo, s in top])


def test_an_older_fault_deeper_down_is_named_before_a_newer_one_at_the_top(
    tmp_path: Path,
) -> None:
    repo = new_repo(tmp_path / "repo", LAB)
    add_run(repo, "exp-000", m(50.0))
    write_file(repo, "lab/zzz", "z\n")
    write_file(repo, "lab/results/x.txt", "x\n")
    base = commit_all(repo, "base")
    write_file(repo, "lab/results/y.txt", "y\n")
    twin = commit_all(repo, "twin")
    older = _commit(
        repo, _lab_out_of_order(repo, twin), [base], "A: lab", "2026-11-20T10:00:00+00:00"
    )
    top = _write_tree(repo, _moved_last(_entries(repo, f"{twin}^{{tree}}"), b"experiments"))
    newer = _commit(repo, top, [older], "B: the top folder", "2026-11-21T10:00:00+00:00")
    git(repo, "reset", "-q", "--hard", newer)
    res = run_cli(["audit", "--no-cache", "--since", base], repo)
    assert_one_error_line(
        res,
        2,
        f"commit {older}: the tree of its folder 'lab'",
        "lists 'zzz' before 'results' (git fsck: treeNotSorted)",
    )


def test_the_oldest_is_by_git_s_topological_order_not_by_the_dates(tmp_path: Path) -> None:
    """C and its child X both hold a top folder out of order; X's date is far older than
    C's, and a side branch from C (S, dated newest) merges back: git's date order lists C
    before X, its topological order after. C is named."""
    repo = new_repo(tmp_path / "repo", POLICY)
    add_run(repo, "exp-000", m(50.0))
    base = commit_all(repo, "base")
    write_file(repo, "zzz", "z\n")
    add_run(repo, "exp-001", m(51.0))
    one = commit_all(repo, "as git writes C")
    add_run(repo, "exp-002", m(52.0))
    two = commit_all(repo, "as git writes X")
    bad = {
        sha: _write_tree(repo, _moved_last(_entries(repo, f"{sha}^{{tree}}"), b"results"))
        for sha in (one, two)
    }
    c = _commit(repo, bad[one], [base], "C", "2026-06-01T10:00:00+00:00")
    x = _commit(repo, bad[two], [c], "X", "2020-01-01T10:00:00+00:00")
    s = _commit(repo, f"{one}^{{tree}}", [c], "S", "2026-12-01T10:00:00+00:00")
    merged = _commit(repo, f"{two}^{{tree}}", [x, s], "M", "2026-12-02T10:00:00+00:00")
    git(repo, "reset", "-q", "--hard", merged)
    # (what makes the dates mislead: git's date order lists C before its child X)
    by_date = git(repo, "rev-list", merged, f"^{base}").split()
    assert by_date.index(c) < by_date.index(x), by_date
    res = run_cli(["audit", "--no-cache", "--since", base], repo)
    assert_one_error_line(
        res,
        2,
        f"commit {c}: the tree of its top folder",
        "lists 'zzz' before 'results' (git fsck: treeNotSorted)",
    )
