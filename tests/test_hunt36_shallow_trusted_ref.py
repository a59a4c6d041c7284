"""`--trusted-ref REF` must not contain the verified commit (trust.at_ref), nor vouch for
a chain link with a key REF added at or after its commit (trust.ref_holds). Both ask
`git merge-base --is-ancestor`, whose "no" is not sure in a shallow clone: behind the
cut an ancestor is no ancestor. A ref that merged the commit adding a key, fetched one
commit deep, was taken for one without that commit, and the key the commit added
verified its own report (VERIFIED, exit 0; exit 2 in a full clone; a hunter's find, issue 18
thirty-sixth pass)."""

from __future__ import annotations

from pathlib import Path

from helpers_audit import Cli, commit_all, git
from test_ladder import ladder_repo


def _merged_own_key(xcli: Cli, tmp_path: Path) -> tuple[Path, Path, str]:
    """A repository whose main merged (no fast-forward) a commit C adding the key that
    signs the report about C."""
    r = ladder_repo(tmp_path / "repo", [0, 1])
    key = tmp_path / "own"
    assert xcli(["keygen", "--out", str(key)], tmp_path).code == 0
    git(r, "checkout", "-q", "-b", "side")
    (r / ".expflow" / "keys").mkdir(parents=True)
    (r / ".expflow" / "keys" / "own.pub").write_bytes(key.with_suffix(".pub").read_bytes())
    git(r, "add", ".expflow")
    c = commit_all(r, "C: my own key")
    report = tmp_path / "report.json"
    assert xcli(["audit", "--sign-key", str(key), "--out", str(report)], r).code == 0
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", "--no-ff", "side", "-m", "M: merge side")
    return r, report, c


def _side_report(xcli: Cli, tmp_path: Path) -> tuple[Path, Path, str]:
    """A repository whose main holds the CI key, and a report signed by it about a commit
    C on a branch main lacks: (repository, report, C)."""
    r = ladder_repo(tmp_path / "repo", [0, 1])
    key = tmp_path / "ci"
    assert xcli(["keygen", "--out", str(key)], tmp_path).code == 0
    (r / ".expflow" / "keys").mkdir(parents=True)
    (r / ".expflow" / "keys" / "ci.pub").write_bytes(key.with_suffix(".pub").read_bytes())
    git(r, "add", ".expflow")
    commit_all(r, "the CI key")
    git(r, "checkout", "-q", "-b", "side")
    (r / "note.txt").write_text("x\n")
    c = commit_all(r, "C: a change main lacks")
    report = tmp_path / "report.json"
    assert xcli(["audit", "--sign-key", str(key), "--out", str(report)], r).code == 0
    git(r, "checkout", "-q", "main")
    return r, report, c


def test_a_full_clone_refuses_a_ref_holding_the_commit(xcli: Cli, tmp_path: Path) -> None:
    r, report, _ = _merged_own_key(xcli, tmp_path)
    res = xcli(["verify", str(report), "--trusted-ref", "main"], r)
    assert res.code == 2 and "contains the commit being verified" in res.err, res.both


def test_a_shallow_clone_cut_above_the_commit_is_refused(xcli: Cli, tmp_path: Path) -> None:
    r, report, c = _merged_own_key(xcli, tmp_path)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{r}", str(shallow))
    git(shallow, "fetch", "-q", "--depth", "1", "origin", c)
    res = xcli(["verify", str(report), "--trusted-ref", "origin/main"], shallow)
    assert res.code == 2, res.both
    assert "VERIFIED" not in res.out and "shallow clone" in res.err, res.both
    # With the full history the ref is seen to hold it, as in the full clone.
    git(shallow, "fetch", "-q", "--unshallow", "origin")
    res = xcli(["verify", str(report), "--trusted-ref", "origin/main"], shallow)
    assert res.code == 2 and "contains the commit being verified" in res.err, res.both


def test_a_shallow_clone_whose_ref_is_whole_still_verifies(xcli: Cli, tmp_path: Path) -> None:
    """Only a cut in the ref's own history makes its "no" unsure: a clone whose other
    branch is shallow still reads keys at a ref that lacks the commit."""
    r, report, c = _side_report(xcli, tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--single-branch", "--branch", "main", f"file://{r}", str(clone))
    git(clone, "fetch", "-q", "--depth", "1", "origin", c)
    res = xcli(["verify", str(report), "--trusted-ref", "origin/main"], clone)
    assert res.code == 0 and "VERIFIED" in res.out, res.both


def test_a_commit_descending_from_a_cut_ref_still_verifies(xcli: Cli, tmp_path: Path) -> None:
    """A pull request's commit descends from the ref's tip: the ref surely does not hold
    it, whatever cut its history has (`is_ancestor(tip, commit)`, a "yes", is sure), so a
    clone one commit deep still reads keys at the ref (a review)."""
    r, report, c = _side_report(xcli, tmp_path)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{r}", str(shallow))
    git(shallow, "fetch", "-q", "--depth", "2", "origin", c)
    res = xcli(["verify", str(report), "--trusted-ref", "origin/main"], shallow)
    assert res.code == 0 and "VERIFIED" in res.out, res.both
