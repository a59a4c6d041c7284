"""A run's result is the end of its chain of corrections (docs/spec.md §2.4; issue 18,
thirty-second pass). A result overwritten with a correction ("the score was
inflated", A → B), then deleted with one (B → deleted), came back as the ORIGINAL
inflated blob A in a plain commit: the protect hook passed it (any blob the run's
corrections named) and `audit --since` ranked it first (A lies on the chain). After a
deletion only the `rm` undone comes back: the blob the deletion superseded."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import git, git_init, run_cli
from test_deleted_runs import findings
from test_history_merges import commit, ok

REC, RES = "experiments/s/r1.json", "results/s/r1.json"


def two_runs(repo: Path) -> str:
    """`init`, then r1 (result accuracy 0.9) and r2 (0.6) committed: that commit."""
    ok(repo, "init")
    ok(repo, "new", "r1", "--study", "s", "--param", "lr=0.1", "--status", "success")
    ok(repo, "result", "r1", "--metric", "accuracy=0.9")
    ok(repo, "new", "r2", "--study", "s", "--param", "lr=0.2", "--status", "success")
    ok(repo, "result", "r2", "--metric", "accuracy=0.6")
    return commit(repo, "runs")


@pytest.fixture
def corrected_then_deleted(tmp_path: Path, isolated_env: Path) -> tuple[Path, str, str]:
    """BASE (r1 with result A), then A → B declared, then `rm` (B → deleted) declared:
    the repository, BASE, and the commit that holds A."""
    repo = git_init(tmp_path / "repo")
    base = two_runs(repo)
    ok(
        repo,
        "result",
        "r1",
        "--overwrite",
        "--metric",
        "accuracy=0.4",
        "--reason",
        "inflated",
        "--force",
    )
    commit(repo, "declared: the score was inflated")
    ok(repo, "rm", "r1", "--reason", "remove", "--force")
    commit(repo, "rm r1")
    return repo, base, base


def _put_back(repo: Path, rev: str) -> tuple[int, str]:
    """r1's record and result as they were at `rev`, staged; the protect hook's verdict."""
    git(repo, "checkout", rev, "--", REC, RES)
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo)
    assert "Traceback" not in err
    return code, out + err


def test_the_superseded_blob_does_not_come_back(
    corrected_then_deleted: tuple[Path, str, str],
) -> None:
    repo, base, with_a = corrected_then_deleted
    deleted = git(repo, "rev-parse", "HEAD")
    code, said = _put_back(repo, with_a)
    assert code == 1 and f"{RES}: result-rewritten" in said, said
    commit(repo, "the inflated score back, no correction")
    for since in (base, deleted):  # the deletion in the range, and at BASE
        code, found = findings(repo, "--since", since)
        assert code == 1 and ("result-rewritten", RES) in found, (since, found)


def test_the_rm_undone_still_passes(corrected_then_deleted: tuple[Path, str, str]) -> None:
    repo, base, _ = corrected_then_deleted
    deleted = git(repo, "rev-parse", "HEAD")
    code, said = _put_back(repo, "HEAD~1")  # B: the blob the deletion superseded
    assert code == 0, said
    commit(repo, "rm undone")
    for since in (base, deleted):
        code, found = findings(repo, "--since", since)
        assert code == 0 and not [f for f in found if f[0].endswith("-rewritten")], found


def test_a_deletion_of_its_own_does_not_launder_the_superseded_blob(
    corrected_then_deleted: tuple[Path, str, str],
) -> None:
    """A back (undeclared), deleted again with a correction naming A, then A back as that
    `rm` undone: the first commit is the one reported."""
    repo, base, with_a = corrected_then_deleted
    deleted = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", with_a, "--", REC, RES)
    back = commit(repo, "A back")
    ok(repo, "rm", "r1", "--reason", "again", "--force")
    commit(repo, "rm A")
    git(repo, "checkout", back, "--", REC, RES)
    commit(repo, "A back as the rm undone")
    for since in (base, deleted):
        code, found = findings(repo, "--since", since)
        assert code == 1 and ("result-rewritten", RES) in found, (since, found)


def _deletion(repo: Path, sha: str, stamp: str) -> None:
    """A correction written by hand (schema-valid): r1's blob `sha` deleted."""
    doc = {
        "schema": "expflow/correction@1",
        "experiment": "r1",
        "supersedes": sha,
        "blob": None,
        "reason": "remove run",
        "author": {"name": "T", "email": "t@example.com"},
        "time": "2026-12-06T17:37:02Z",
    }
    path = repo / "corrections" / "s" / "r1" / f"{stamp}-{sha[:12]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


@pytest.mark.parametrize("one_commit", [False, True], ids=["two commits", "one commit"])
def test_deleting_a_copy_of_the_superseded_blob_does_not_make_it_the_end(
    tmp_path: Path, isolated_env: Path, one_commit: bool
) -> None:
    """A → B declared; a copy of A at a second result path; both deleted, each with a
    correction (B → deleted, A → deleted); A back. The walk took each commit's
    corrections alone, so A → deleted became the run's end though the chain was at B,
    and the audit ranked A first (a hunt of the chain). Made with --no-verify: the
    hook refuses the last step."""
    repo = git_init(tmp_path / "repo")
    ok(repo, "init")
    ok(repo, "new", "r1", "--study", "s", "--param", "lr=0.1", "--status", "success")
    ok(repo, "result", "r1", "--metric", "accuracy=0.9")
    base = commit(repo, "runs")
    a = git(repo, "rev-parse", f"HEAD:{RES}")
    reason = ["--reason", "inflated", "--force"]
    ok(repo, "result", "r1", "--overwrite", "--metric", "accuracy=0.4", *reason)
    commit(repo, "declared: the score was inflated")
    b = git(repo, "rev-parse", f"HEAD:{RES}")
    copy = repo / ("results/a/r1.json" if one_commit else "results/t/r1.json")
    copy.parent.mkdir(parents=True)
    copy.write_bytes(git_bytes(repo, a))
    commit(repo, "a copy of A")
    (repo / RES).unlink()
    _deletion(repo, b, "20261206T173702Z")
    if not one_commit:
        commit(repo, "rm B")
    copy.unlink()
    _deletion(repo, a, "20261206T173703Z")
    commit(repo, "rm the copy of A")
    (repo / RES).write_bytes(git_bytes(repo, a))
    commit(repo, "A back")
    code, found = findings(repo, "--since", base)
    assert code == 1 and ("result-rewritten", RES) in found, found


def git_bytes(repo: Path, sha: str) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "blob", sha], cwd=repo, capture_output=True, check=True
    ).stdout
