"""A blob the caches answer for is never read; a warm audit must still fail when it is
gone from the repository, as the cold one does (issue 18, thirty-second pass: a damaged
clone or a bad gc left a warm audit passing, and signing, a report nobody could verify).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_audit import POLICY, STUDY, Cli, add_run, commit_all, git, m, new_repo, write
from test_cache import blob

from expflow_git.audit.folders import MIN_DOCUMENTS

SMALL = "tiny"  # a study under MIN_DOCUMENTS: its blobs are answered one by one
CASES = {
    "result in a folder the folder cache takes whole": f"results/{STUDY}/run-03.json",
    "file only scanned in such a folder": f"results/{STUDY}/README.txt",
    "result answered by the blob cache": f"results/{SMALL}/t-1.json",
    "note only scanned": "notes/plan.txt",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = new_repo(tmp_path_factory.mktemp("missing") / "repo")
    for i in range(MIN_DOCUMENTS + 2):
        add_run(repo, f"run-{i:02d}", m(50 + i))
    for i in range(3):
        add_run(repo, f"t-{i}", m(40 + i), study=SMALL)
    write(repo, f"results/{STUDY}/README.txt", "how the runs were made\n")
    write(repo, "notes/plan.txt", "the plan\n")
    write(repo, f"results/{STUDY}/allowed.txt", "not scanned\n")
    write(repo, "expflow.yaml", POLICY + f'scan: {{allow: ["results/{STUDY}/allowed.txt"]}}\n')
    commit_all(repo)
    return repo


@pytest.mark.parametrize("path", CASES.values(), ids=CASES.keys())
def test_a_warm_audit_fails_on_a_missing_blob_as_a_cold_one_does(
    xcli: Cli, template: Path, tmp_path: Path, path: str
) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "clone", "-q", "--no-local", str(template), str(repo))
    git(repo, "config", "gc.auto", "0")
    git(repo, "repack", "-q", "-a", "-d")  # one pack, rebuilt below without the blob
    report = tmp_path / "report.json"
    for _ in range(2):  # the blob cache, then the folder cache
        assert xcli(["audit", "--out", str(report)], repo).code == 0
    report.unlink()
    _drop_object(repo, blob(repo, path))

    warm = xcli(["audit", "--out", str(report)], repo)
    cold = xcli(["audit", "--no-cache", "--out", str(report)], repo)
    message = f"git object {blob(repo, path)} is missing from the repository"
    assert (warm.code, cold.code) == (2, 2), (warm.err, cold.err)
    assert message in warm.err and message in cold.err
    assert not report.exists()


def _drop_object(repo: Path, sha: str) -> None:
    """Rewrite the repository's one pack without the object `sha`."""
    packs = repo / ".git" / "objects" / "pack"
    (old,) = packs.glob("*.pack")
    listed = git(repo, "show-index", input=old.with_suffix(".idx").read_bytes())
    keep = [line.split()[1] for line in listed.splitlines() if line.split()[1] != sha]
    git(repo, "pack-objects", "-q", str(packs / "pack"), input="\n".join(keep).encode() + b"\n")
    for file in (old, old.with_suffix(".idx")):
        file.unlink()
    assert git(repo, "cat-file", "-t", sha, check=False) == ""


def test_a_blob_neither_audit_reads_may_be_missing(
    xcli: Cli, template: Path, tmp_path: Path
) -> None:
    """A file of `scan.allow` in a folder the folder cache takes whole is read by no
    audit: warm and cold agree that its absence changes nothing."""
    repo = tmp_path / "repo"
    git(tmp_path, "clone", "-q", "--no-local", str(template), str(repo))
    git(repo, "config", "gc.auto", "0")
    git(repo, "repack", "-q", "-a", "-d")
    reports = [tmp_path / f"{name}.json" for name in ("before", "warm", "cold")]
    for _ in range(2):
        assert xcli(["audit", "--out", str(reports[0])], repo).code == 0
    _drop_object(repo, blob(repo, f"results/{STUDY}/allowed.txt"))
    assert xcli(["audit", "--out", str(reports[1])], repo).code == 0
    assert xcli(["audit", "--no-cache", "--out", str(reports[2])], repo).code == 0
    assert reports[0].read_bytes() == reports[1].read_bytes() == reports[2].read_bytes()


def test_a_commit_with_no_blob_to_read_is_checked_as_before(xcli: Cli, tmp_path: Path) -> None:
    """Nothing to ask git about (`rank` and `diff` read only documents; here there are
    none): the check asked git about an empty name and failed every such command with
    "git cat-file: exited unexpectedly" (a review of the check)."""
    repo = new_repo(tmp_path / "repo")
    first = commit_all(repo)
    add_run(repo, "run-00", m(50))
    commit_all(repo)
    ranked = xcli(["rank", "--rev", first], repo)
    assert (ranked.code, ranked.err) == (1, ""), ranked.err  # no feasible run: exit 1
    assert "best_any: -" in ranked.out
    diff = xcli(["diff", first, "HEAD"], repo)
    assert (diff.code, diff.err) == (0, ""), diff.err
    assert "run-00" in diff.out
