"""The audit's input leaves (audit/leaves.py): one slot per document, in git's byte
order of paths, the same cold and warm, whatever the paths look like."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from helpers_audit import add_run, commit_all, git, m, new_repo, write

from expflow_git.audit.leaves import InputLeaf, Leaves
from expflow_git.audit.pipeline import check_tree
from expflow_git.gitstore import Git

# Names whose str order, byte order and git's tree order could disagree if the
# listing were sorted by the wrong rule: "-" and "." sort before "/", "0" after it.
ASCII_STUDIES = ("a", "a-b", "a.b", "a0", "A", "z")
NON_ASCII_STUDIES = ("é", "e", "\u4e2d", "\U0001f600")


def _documents(repo: Path) -> list[tuple[str, str, bytes]]:
    """(path, blob id, content) of every .json document, as git lists them."""
    out = git(repo, "ls-tree", "-r", "-z", "--full-tree", "HEAD")
    docs = []
    for rec in out.split("\0"):
        if not rec:
            continue
        meta, path = rec.split("\t", 1)
        if path.startswith(("experiments/", "results/")):
            sha = meta.split()[2]
            docs.append((path, sha, git_bytes(repo, sha)))
    return docs


def git_bytes(repo: Path, sha: str) -> bytes:
    import subprocess

    return subprocess.run(
        ["git", "cat-file", "blob", sha], cwd=repo, check=True, capture_output=True
    ).stdout


def _repo(tmp_path: Path, studies: tuple[str, ...]) -> Path:
    repo = new_repo(tmp_path / "repo")
    for i, study in enumerate(studies):
        add_run(repo, f"r{i}", m(0.5 + i / 100), study=study)
    commit_all(repo)
    return repo


@pytest.mark.parametrize("studies", [ASCII_STUDIES, ASCII_STUDIES + NON_ASCII_STUDIES])
@pytest.mark.parametrize("use_cache", [False, True])
def test_leaves_are_every_document_in_byte_order_with_its_digests(
    tmp_path: Path, studies: tuple[str, ...], use_cache: bool
) -> None:
    repo = _repo(tmp_path, studies)
    git_ = Git.discover(repo)
    if use_cache:
        check_tree(git_, "HEAD")  # fills the cache: the second read is warm
    check = check_tree(git_, "HEAD", use_cache=use_cache)
    docs = _documents(repo)
    expected = sorted(docs, key=lambda d: d[0].encode())
    assert [leaf.path for leaf in check.inputs] == [p for p, _, _ in expected]
    assert len(check.inputs) == 2 * len(studies)
    for leaf, (_, sha, data) in zip(check.inputs, expected, strict=True):
        assert leaf.git_blob == sha
        assert leaf.sha256 == hashlib.sha256(data).hexdigest()
    assert list(check.inputs.pairs())[-1][0] == expected[-1][0]


def test_one_blob_at_two_paths_is_two_leaves(tmp_path: Path) -> None:
    repo = _repo(tmp_path, ("s",))
    # The same bytes at a second path (a copied result): one blob, two documents.
    data = (repo / "results/s/r0.json").read_bytes()
    write(repo, "results/t/r0.json", data)
    commit_all(repo, "copy")
    check = check_tree(Git.discover(repo), "HEAD", use_cache=False)
    twins = [leaf for leaf in check.inputs if leaf.path.endswith("/r0.json")]
    assert [leaf.path for leaf in twins] == [
        "experiments/s/r0.json",
        "results/s/r0.json",
        "results/t/r0.json",
    ]
    assert twins[1].digests == twins[2].digests
    # and it is no run of its own: two results for one id (pair_runs leaves both out)
    duplicates = [f.path for f in check.findings if f.rule == "duplicate-result"]
    assert duplicates == ["results/s/r0.json", "results/t/r0.json"]


def test_an_invalid_document_still_has_its_leaf(tmp_path: Path) -> None:
    repo = _repo(tmp_path, ("s",))
    write(repo, "results/s/bad.json", json.dumps({"experiment": "bad"}))
    commit_all(repo, "bad")
    check = check_tree(Git.discover(repo), "HEAD", use_cache=False)
    assert "results/s/bad.json" in [leaf.path for leaf in check.inputs]
    assert any(f.path == "results/s/bad.json" for f in check.findings)


def test_leaves_sequence_and_reorder() -> None:
    # SHA-256 object ids (a repository with objectFormat sha256): 64-byte digests.
    width = 64
    paths = ["b", "a", "c"]
    digests = b"".join(bytes([i]) * width for i in range(3))
    leaves = Leaves(paths, digests, width)
    assert len(leaves) == 3
    assert leaves[1] == InputLeaf("a", bytes([1]) * width)
    assert leaves[-1].path == "c"
    assert [leaf.path for leaf in leaves[0:2]] == ["b", "a"]
    with pytest.raises(IndexError):
        leaves[3]
    ordered = leaves.reordered(lambda p: p.encode())
    assert [leaf.path for leaf in ordered] == ["a", "b", "c"]
    assert ordered[0].digests == bytes([1]) * width
    assert ordered == Leaves(["a", "b", "c"], bytes([1]) * 64 + bytes(64) + bytes([2]) * 64, 64)
    with pytest.raises(ValueError, match="digests"):
        Leaves(paths, digests[:-1], width)


def test_blobs_of_some_paths() -> None:
    leaves = Leaves(
        ["a", "b", "c"], bytes(32) + b"\x01" * 20 + bytes(32) + b"\x02" * 20 + bytes(52), 52
    )
    assert leaves.blobs({"c", "a", "zz"}) == {"a": "01" * 20, "c": "00" * 20}
    assert leaves.blobs(()) == {}
