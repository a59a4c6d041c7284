"""Several declared steps in one commit (issue 18, thirty-third pass). `audit --since`
and the protect hook wanted exactly one correction per rewrite in each commit, so every
commit that brings several steps at once failed for good: a `--no-ff` merge of a branch
that overwrote a run twice, a merge of a branch that made a run and corrected or
removed it (also GitHub's "Update branch" and a merge queue's merge), an octopus merge,
an amended commit and a squash. A chain of added corrections, each one exact step, now
declares the commit's net change; what no chain declares still fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git, git_init, run_cli
from test_deleted_runs import findings
from test_history_merges import commit, ok

from expflow_git.corrections import Correction, Rewrite, chain_order, match

A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def _fix(repo: Path, run: str, value: str) -> None:
    ok(
        repo,
        "result",
        run,
        "--overwrite",
        "--metric",
        f"accuracy={value}",
        "--reason",
        f"fix {value}",
        "--force",
    )


def _run(repo: Path, run: str, value: str) -> None:
    ok(repo, "new", run, "--study", "s", "--param", "lr=0.1", "--status", "success")
    ok(repo, "result", run, "--metric", f"accuracy={value}")


@pytest.fixture
def base(tmp_path: Path, isolated_env: Path) -> tuple[Path, str]:
    """`init` and run e1 (accuracy 0.5) committed on main: the repository and BASE."""
    repo = git_init(tmp_path / "repo")
    ok(repo, "init")
    _run(repo, "e1", "0.5")
    return repo, commit(repo, "e1")


def _branch_made(repo: Path, branch: str, run: str, then: Callable[[], None]) -> None:
    """On a new `branch` from HEAD: `run` made (accuracy 0.3) and committed, then what
    `then` does committed; main checked out again."""
    git(repo, "checkout", "-q", "-b", branch)
    _run(repo, run, "0.3")
    commit(repo, run)
    then()
    commit(repo, f"then, {run}")
    git(repo, "checkout", "-q", "main")


def _merge(repo: Path, *branches: str) -> str:
    git(repo, "merge", "-q", "--no-ff", "--no-verify", "-m", "merge", *branches)
    return git(repo, "rev-parse", "HEAD")


def _passes(repo: Path, since: str) -> None:
    code, found = findings(repo, "--since", since)
    assert code == 0 and found == [], found


def test_a_new_run_corrected_on_a_branch_merges(base: tuple[Path, str]) -> None:
    repo, since = base
    _branch_made(repo, "f", "e2", lambda: _fix(repo, "e2", "0.4"))
    _merge(repo, "f")
    _passes(repo, since)


def test_a_new_run_removed_on_a_branch_merges(base: tuple[Path, str]) -> None:
    repo, since = base
    _branch_made(repo, "f", "e2", lambda: ok(repo, "rm", "e2", "--reason", "leak", "--force"))
    _merge(repo, "f")
    _passes(repo, since)


def test_two_overwrites_on_a_branch_merge_and_octopus(base: tuple[Path, str]) -> None:
    repo, since = base
    git(repo, "checkout", "-q", "-b", "f")
    _fix(repo, "e1", "0.6")
    commit(repo, "fix 1")
    _fix(repo, "e1", "0.7")
    commit(repo, "fix 2")
    git(repo, "checkout", "-q", "main")
    _branch_made(repo, "g", "e3", lambda: _fix(repo, "e3", "0.25"))
    _merge(repo, "f", "g")  # octopus
    _passes(repo, since)


def test_a_branch_updated_from_main_passes(base: tuple[Path, str]) -> None:
    """GitHub's "Update branch": the pull request's branch merges main, which made a
    run and corrected it since the branch left; the check runs since the fork."""
    repo, fork = base
    git(repo, "checkout", "-q", "-b", "pr")
    _run(repo, "e9", "0.1")
    commit(repo, "pr's run")
    git(repo, "checkout", "-q", "main")
    _run(repo, "e2", "0.3")
    commit(repo, "e2")
    _fix(repo, "e2", "0.35")
    _fix(repo, "e1", "0.55")
    commit(repo, "fixes")
    git(repo, "checkout", "-q", "pr")
    _merge(repo, "main")
    _passes(repo, fork)


def test_an_amended_fix_and_a_squash_pass(base: tuple[Path, str]) -> None:
    repo, since = base
    git(repo, "checkout", "-q", "-b", "f")
    _run(repo, "e2", "0.3")
    commit(repo, "e2")
    _fix(repo, "e2", "0.35")
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect", "--force"], repo)  # HEAD's result: a rewrite
    assert code == 0, out + err
    git(repo, "commit", "-q", "--amend", "--no-verify", "-m", "e2, amended")
    _passes(repo, since)
    _fix(repo, "e1", "0.6")
    commit(repo, "fix e1")
    _fix(repo, "e1", "0.65")
    commit(repo, "fix e1 again")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--squash", "f")
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect", "--force"], repo)  # e1's net change: a rewrite
    assert code == 0, out + err
    commit(repo, "squashed")
    _passes(repo, since)


def test_the_merge_hook_takes_a_branchs_chain(base: tuple[Path, str]) -> None:
    repo, _ = base
    _branch_made(repo, "f", "e2", lambda: _fix(repo, "e2", "0.4"))
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "f")
    code, out, err = run_cli(["protect"], repo)
    assert code == 0 and "correction-unmatched" not in out + err, out + err


def test_a_merge_keeping_the_superseded_side_still_fails(base: tuple[Path, str]) -> None:
    repo, since = base
    git(repo, "branch", "old")  # e1 still at 0.5
    _fix(repo, "e1", "0.4")
    commit(repo, "e1 was inflated")
    git(repo, "checkout", "-q", "old")
    _run(repo, "e2", "0.3")
    commit(repo, "e2")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "old")
    git(repo, "checkout", "old", "--", "results/s/e1.json")  # the inflated score kept
    code, out, err = run_cli(["protect", "--force"], repo)
    assert code == 1 and "result-rewritten" in out + err, out + err
    commit(repo, "merge, keeping the old score")
    code, found = findings(repo, "--since", since)
    assert code == 1 and ("result-rewritten", "results/s/e1.json") in found, found


def test_a_step_no_correction_declares_still_fails(base: tuple[Path, str]) -> None:
    repo, since = base
    git(repo, "checkout", "-q", "-b", "f")
    _fix(repo, "e1", "0.6")
    commit(repo, "fix 1")
    (repo / "results" / "s" / "e1.json").write_text(
        (repo / "results" / "s" / "e1.json").read_text().replace("0.6", "0.9")
    )
    commit(repo, "silent rewrite")
    git(repo, "checkout", "-q", "main")
    _merge(repo, "f")
    code, found = findings(repo, "--since", since)
    assert code == 1 and ("result-rewritten", "results/s/e1.json") in found, found


# ------------------------------------------------------------------- match, the pure rule
def _c(old: str, new: str | None, exp: str = "e") -> Correction:
    name = f"corrections/{old[:1]}{(new or 'x')[:1]}.json"
    return Correction(name, exp, old, new, "r", "a", "e", "t")


def test_match_prefers_the_exact_step_then_follows_a_chain() -> None:
    ab, bc, ac = _c(A, B), _c(B, C), _c(A, C)
    exact = match([Rewrite("e", "p", A, C)], [ab, bc, ac])
    assert [c for _, c in exact.declared] == [ac] and exact.unmatched == (ab, bc)
    chain = match([Rewrite("e", "p", A, C)], [bc, ab])
    assert [c for _, c in chain.declared] == [ab, bc] and not chain.unmatched
    assert not chain.uncovered
    broken = match([Rewrite("e", "p", A, D)], [ab, bc])
    assert broken.uncovered and broken.unmatched == (ab, bc)
    other = match([Rewrite("e", "p", A, C)], [_c(A, B), _c(B, C, exp="f")])
    assert other.uncovered and len(other.unmatched) == 2


def test_match_declares_a_new_runs_chain_only_to_its_blob() -> None:
    ab, bc = _c(A, B), _c(B, C)
    added = match([], [bc, ab], [Rewrite("e", "p", "", C)])
    assert [c for _, c in added.declared] == [ab, bc] and not added.unmatched
    elsewhere = match([], [ab], [Rewrite("e", "p", "", D)])
    assert not elsewhere.declared and elsewhere.unmatched == (ab,)


def test_a_squashed_chain_named_out_of_order_keeps_its_end(base: tuple[Path, str]) -> None:
    """A squash holds a run's whole chain (0.5 → 0.6 → 0.9 → 0.7 → deleted) in one
    commit, its files named so that their paths sort out of the chain's order (as steps
    made in one second sort by blob id). A later change putting back the superseded
    0.9 passed the hook and `audit --since` (the end was read by path: a middle blob);
    the `rm` undone (0.7) was refused by the hook (a review)."""
    repo, _ = base
    _run(repo, "e2", "0.4")  # (a run left once e1 is removed)
    since = commit(repo, "e2")
    res = repo / "results" / "s" / "e1.json"
    rec = (repo / "experiments" / "s" / "e1.json").read_bytes()
    git(repo, "checkout", "-q", "-b", "f")
    kept: dict[str, bytes] = {}
    for value in ("0.6", "0.9", "0.7"):
        _fix(repo, "e1", value)
        commit(repo, f"fix {value}")
        kept[value] = res.read_bytes()
    ok(repo, "rm", "e1", "--reason", "leak", "--force")
    commit(repo, "rm e1")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--squash", "f")
    folder = repo / "corrections" / "s" / "e1"
    names = {"fix 0.6": "a", "fix 0.7": "b", "fix 0.9": "c", "leak": "d"}
    for path in sorted(folder.iterdir()):
        reason = json.loads(path.read_text())["reason"]
        path.rename(folder / f"{names[reason]}.json")
    squash = commit(repo, "squash: e1 fixed and removed")
    _passes(repo, since)
    for value, back in (("0.9", False), ("0.7", True)):
        git(repo, "checkout", "-q", "-B", f"back-{value}", squash)
        (repo / "experiments" / "s" / "e1.json").write_bytes(rec)
        res.write_bytes(kept[value])
        git(repo, "add", "-A")
        code, out, err = run_cli(["protect"], repo)
        assert (code == 0) is back, (value, out + err)
        commit(repo, f"e1 back at {value}")
        code, found = findings(repo, "--since", squash)
        assert (code == 0) is back, (value, found)
        if not back:
            assert ("result-rewritten", "results/s/e1.json") in found, found


def test_chain_order_follows_each_runs_chain() -> None:
    ab, bc, cd, other = _c(A, B), _c(B, C), _c(C, None), _c(A, D, exp="f")
    assert chain_order([cd, bc, other, ab]) == [other, ab, bc, cd]
    loop = [_c(A, B), _c(B, A)]
    assert chain_order(loop) == loop  # no start: as given


def test_a_run_with_two_results_to_declare_gets_no_chain() -> None:
    """Several results of one id are no run: their rewrites are declared by exact steps
    only (a search per result was R × C for one commit)."""
    ab, bc = _c(A, B), _c(B, C)
    two = match([Rewrite("e", "p", A, C), Rewrite("e", "q", A, D)], [ab, bc])
    assert len(two.uncovered) == 2 and two.unmatched == (ab, bc)


def test_a_new_runs_chain_never_loops_back_to_its_blob() -> None:
    """A new run at A with A → B and B → A: taken whole, the walk's end was A and, by
    path, `chain_order`'s was B, so a later `rm` (A → deleted) was no step of it and the
    superseded B came back (a review). The step closing the loop declares nothing."""
    ab, ba = _c(A, B), _c(B, A)
    looped = match([], [ab, ba], [Rewrite("e", "p", "", A)])
    assert [c for _, c in looped.declared] == [ba] and looped.unmatched == (ab,)


def test_the_rm_undone_and_overwritten_in_one_commit_is_judged_alike_from_any_base(
    base: tuple[Path, str],
) -> None:
    """A run deleted on record, put back and overwritten in one commit (its correction
    continuing from the blob the deletion superseded): `audit --since` passed it with the
    deletion before BASE and failed it with the deletion in the range (a review). Both
    pass now; the hook still asks for two commits (the overwrite is PIN-guarded)."""
    repo, since = base
    _run(repo, "e2", "0.3")
    commit(repo, "e2")
    rec = (repo / "experiments" / "s" / "e1.json").read_bytes()
    ok(repo, "rm", "e1", "--reason", "leak", "--force")
    deleted = commit(repo, "rm e1")
    (repo / "experiments" / "s" / "e1.json").write_bytes(rec)
    res = repo / "results" / "s" / "e1.json"
    undone = git(repo, "rev-parse", f"{since}:results/s/e1.json")
    res.write_text(git(repo, "show", f"{since}:results/s/e1.json").replace("0.5", "0.45"))
    correction = {
        "schema": "expflow/correction@1",
        "experiment": "e1",
        "supersedes": undone,
        "blob": git(repo, "hash-object", str(res)),
        "reason": "back, and corrected",
        "author": {"name": "T", "email": "t@example.com"},
        "time": "2026-12-06T19:24:03Z",
    }
    (repo / "corrections" / "s" / "e1" / "back.json").write_text(json.dumps(correction))
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect", "--force"], repo)
    assert code == 1 and "put it back first" in out + err, out + err
    commit(repo, "e1 back, overwritten")
    _passes(repo, deleted)
    _passes(repo, since)


def test_a_deletion_undone_by_a_branchs_overwrite_is_judged_alike_from_any_base(
    base: tuple[Path, str],
) -> None:
    """Main deletes e1 on record while a branch overwrites it (0.5 → 0.9); the merge keeps
    the branch's result: the `rm` undone and overwritten, as two commits may do it. The
    verdict is the same from BASE before the branch and from the branch's tip (a rule
    that judged it by what the walk held flipped between them: a review)."""
    repo, _ = base
    _run(repo, "e2", "0.4")  # (a run left while e1 is away)
    since = commit(repo, "e2")
    git(repo, "checkout", "-q", "-b", "f")
    _fix(repo, "e1", "0.9")
    # (Named apart from main's deletion: both supersede e1's blob, and in one second
    # they would share a name, an add/add conflict.)
    for made in (repo / "corrections" / "s" / "e1").iterdir():
        made.rename(made.with_name(f"branch-{made.name}"))
    tip = commit(repo, "e1 is 0.9")
    git(repo, "checkout", "-q", "main")
    rec = (repo / "experiments/s/e1.json").read_bytes()
    ok(repo, "rm", "e1", "--reason", "leak", "--force")
    commit(repo, "rm e1")
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "f", check=False)  # (a conflict)
    git(repo, "checkout", "f", "--", "results/s/e1.json")
    (repo / "experiments/s/e1.json").write_bytes(rec)
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect", "--force"], repo)
    assert code == 1 and "result-rewritten" in out + err, out + err  # (the hook: two commits)
    commit(repo, "merge f, keeping e1 at 0.9")
    verdicts = {rev: findings(repo, "--since", rev) for rev in (since, tip)}
    assert verdicts[since] == verdicts[tip] == (0, []), verdicts
