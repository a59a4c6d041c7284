"""The audit's input leaves (audit/leaves.py): one slot per document, in git's byte
order of paths, the same cold and warm, whatever the paths look like."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers_audit import (
    STUDY,
    add_run,
    clean_env,
    commit_all,
    experiment,
    git,
    m,
    new_repo,
    result,
    run_cli,
    write,
)

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


# Crafted trees (review of issue 18's third pass): a tree object written --literally,
# its entries out of order and a name twice, and names that are not UTF-8. The
# --no-cache report (the ground truth), the cold one that fills the cache and the warm
# one must be the same bytes, and `verify --repo` must recompute them.


def _git_bytes(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=repo, input=data, capture_output=True, check=True, env=clean_env()
    ).stdout


def _object(repo: Path, data: bytes, kind: str = "blob") -> str:
    args = ["hash-object", "-t", kind, "--literally", "-w", "--stdin"]
    return _git_bytes(repo, *args, data=data).decode().strip()


def _tree_object(repo: Path, entries: list[tuple[str, bytes, str]]) -> str:
    raw = b"".join(
        mode.encode() + b" " + name + b"\0" + bytes.fromhex(sha) for mode, name, sha in entries
    )
    return _object(repo, raw, "tree")


def _crafted(tmp_path: Path, twice: bool) -> tuple[Path, str]:
    repo = new_repo(tmp_path / "repo")
    for i in range(3):
        add_run(repo, f"run-{i}", m(40 + i))
    commit_all(repo)

    def record(i: str) -> str:
        return _object(repo, json.dumps(experiment(i)).encode())

    def outcome(i: str) -> str:
        return _object(repo, json.dumps(result(i, m(50))).encode())

    records = [
        ("100644", b"z.json", record("z")),
        ("100644", b"a.json", record("a")),
        ("100644", b"\xff\xfe.json", record("x")),
        *([("100644", b"a.json", record("a2"))] if twice else []),
        ("100644", b"\xc3\xa9.json", record("e")),
    ]
    results = [("100644", b"z.json", outcome("z")), ("100644", b"a.json", outcome("a"))]
    study_e = _tree_object(repo, [("40000", STUDY.encode(), _tree_object(repo, records))])
    study_r = _tree_object(repo, [("40000", STUDY.encode(), _tree_object(repo, results))])
    policy = _git_bytes(repo, "rev-parse", "HEAD:expflow.yaml").decode().strip()
    root = _tree_object(
        repo,
        [
            ("40000", b"results", study_r),
            ("100644", b"expflow.yaml", policy),
            ("40000", b"experiments", study_e),
        ],
    )
    head = _git_bytes(repo, "rev-parse", "HEAD").decode().strip()
    commit = _git_bytes(repo, "commit-tree", root, "-p", head, "-m", "crafted").decode().strip()
    _git_bytes(repo, "update-ref", "HEAD", commit)
    return repo, commit


def _three_reports(repo: Path, rev: str, jobs: str) -> list[bytes]:
    out = []
    for args in (["--no-cache"], [], []):  # ground truth, cold filling the cache, warm
        path = repo.parent / "r.json"
        res = run_cli(
            ["audit", "--rev", rev, "--out", str(path), *args], repo, {"EXPFLOW_JOBS": jobs}
        )
        assert "Traceback" not in res.err, res
        out.append(path.read_bytes())
        ver = run_cli(["verify", str(path), "--allow-unsigned", "--repo", "."], repo)
        assert "FAIL repo" not in ver.out and "FAIL entries" not in ver.out, ver.out
    return out


@pytest.mark.parametrize("twice", [False, True])
def test_a_crafted_tree_gives_one_report_cold_warm_and_without_cache(
    tmp_path: Path, twice: bool
) -> None:
    repo, commit = _crafted(tmp_path, twice)
    for jobs in ("1", "2"):
        ground, cold, warm = _three_reports(repo, commit, jobs)
        assert ground == cold == warm


def test_verify_accepts_the_report_of_a_path_that_is_not_utf8(tmp_path: Path) -> None:
    """A record at a path that is not UTF-8 (any pull request can add one): the report
    writes the path as `clean` spells it (`\\udcff` as text) and verify checks the
    order of those texts' bytes, so the leaves are sorted by them too. Before, `verify
    --repo` rejected the audit's own report: "input leaves are not sorted" (review)."""
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "run-0", m(40))
    add_run(repo, "run-1", m(41))
    folder = os.fsencode(repo / "experiments" / STUDY)
    with open(folder + b"/\xff.json", "wb") as fh:
        fh.write(json.dumps(experiment("x")).encode())
    commit_all(repo)
    path = repo.parent / "r.json"
    res = run_cli(["audit", "--no-cache", "--out", str(path)], repo)
    assert "Traceback" not in res.err, res
    ver = run_cli(["verify", str(path), "--allow-unsigned", "--repo", "."], repo)
    assert ver.code == 0, ver.out + ver.err
    assert "FAIL inputs" not in ver.out
    assert ver.out.rstrip().endswith("VERIFIED")


@pytest.mark.parametrize("path", ["results/s/a.json", "results/s/\udcff.json", 'r/\u00e9"q.json'])
def test_the_encoder_spells_a_leaf_as_its_json_form(path: str) -> None:
    from expflow_git.report.canonical import canonical_json
    from expflow_git.report.inputs import leaf_bytes

    digests = bytes(range(32)) + bytes(range(100, 120))
    leaf = InputLeaf(path, digests)
    assert leaf_bytes(path, memoryview(digests)) == canonical_json(leaf.as_json())
