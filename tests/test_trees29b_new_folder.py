"""A folder that becomes a document folder later: `audit --since` reads the trees on the
way to it over BASE's whole history, and refuses one out of git's order (exit 2).

Each audit checked its range only on the way to the folders its own policies named. A
commit whose folder `lab` listed `results` after `zzz` passed its own audit while `lab/`
was no document folder; once the team added `lab/results/**` to the result globs, an
audit from before that commit refused it, but one from after it read BASE's history
with `git log -- lab/results`, which stops at `lab/zzz`, and missed the look: the
holdout count differed by BASE (spec §6.2 item 6: the same from any BASE). A review's
finding. Real repositories, the real CLI as a subprocess."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers_audit import (
    POLICY,
    STUDY,
    add_run,
    assert_one_error_line,
    commit_all,
    git,
    m,
    new_repo,
    result,
    run_cli,
    statement_of,
    write,
    write_json,
)
from test_trees29_unsorted import _entries, _moved_last, _write_tree

BUDGET = POLICY + (
    "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
    "               max_evaluations: 2}\n"
)
WIDER = BUDGET.replace(
    'results: ["results/**/*.json"]', 'results: ["results/**/*.json", "lab/results/**/*.json"]'
)


def _history(tmp_path: Path, *, in_order: bool) -> tuple[Path, str, str, str, str]:
    """BASE with two runs and looks; X, a look for run exp-002 under `lab/results` (no
    document folder then), its folder `lab` listing `results` after `zzz` unless
    `in_order`; Y deleting that result; Z widening the result globs to `lab/results`.
    Returns the repository, BASE, X, Y and Z."""
    repo = new_repo(tmp_path / "repo", BUDGET)
    for i, seg in enumerate((50.0, 51.0)):
        add_run(repo, f"exp-00{i}", m(seg), splits={"holdout": {"seg_total": seg - 1}})
    base = commit_all(repo, "base: two runs, two looks")
    add_run(repo, "exp-002", None)
    look = result("exp-002", m(60.0), {"holdout": {"seg_total": 59.0}})
    write_json(repo, f"lab/results/{STUDY}/exp-002.json", look)
    write(repo, "lab/zzz", "z\n")
    twin = commit_all(repo, "X as git writes it")
    lab = _entries(repo, git(repo, "rev-parse", f"{twin}:lab"))
    inner = _write_tree(repo, lab if in_order else _moved_last(lab, b"results"))
    top = [(n, mo, inner if n == b"lab" else s) for n, mo, s in _entries(repo, f"{twin}^{{tree}}")]
    x = git(repo, "commit-tree", _write_tree(repo, top), "-p", base, "-m", "X: a look in lab/")
    git(repo, "reset", "-q", "--hard", x)
    (repo / f"lab/results/{STUDY}/exp-002.json").unlink()
    y = commit_all(repo, "Y: the look deleted")
    # (X's own audit: `lab/` is no document folder, so its tree is not on the way)
    assert run_cli(["audit", "--no-cache", "--since", base], repo).code in (0, 1)
    write(repo, "expflow.yaml", WIDER)
    z = commit_all(repo, "Z: lab/results holds results too")
    return repo, base, x, y, z


def _budget(repo: Path, since: str) -> tuple[int, list[dict[str, Any]]]:
    res = run_cli(["audit", "--no-cache", "--format", "json", "--since", since], repo)
    assert res.code in (0, 1), res
    entries = statement_of(res.out.encode())["predicate"]["entries"]
    [budget] = [e for e in entries if e["type"] == "holdout-budget"]
    return res.code, budget["studies"]


def test_a_new_document_folder_out_of_order_in_bases_history_is_refused_from_any_base(
    tmp_path: Path,
) -> None:
    repo, base, x, y, _ = _history(tmp_path, in_order=False)
    # (what the review found: git's path-limited log of Y's history misses X's look)
    shown = git(repo, "log", "--raw", "--format=%H", y, "--", "lab/results")
    assert f"lab/results/{STUDY}/exp-002.json" not in shown, shown
    for since in (base, y):
        res = run_cli(["audit", "--no-cache", "--since", since], repo)
        assert_one_error_line(
            res,
            2,
            f"--since {since[:12]}: commit {x}",
            "the tree of its folder 'lab'",
            "lists 'zzz' before 'results' (git fsck: treeNotSorted)",
        )
    res = run_cli(["audit", "--no-cache", "--since", y], repo)
    assert "BASE's history, read for the new document folder 'lab/results'" in res.err, res


def test_the_same_history_in_order_counts_the_look_from_any_base(tmp_path: Path) -> None:
    """No false alarm: with `lab` in git's order the history passes the new check, and
    X's look counts from BASE and from Y alike (three looks, over the budget of two)."""
    repo, base, _, y, _ = _history(tmp_path, in_order=True)
    seen = {since: _budget(repo, since) for since in (base, y)}
    assert seen[base] == seen[y] == (1, [{"study": STUDY, "evaluations": 3}]), seen
