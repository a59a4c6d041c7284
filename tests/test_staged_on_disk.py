"""`--staged` reads a staged file from disk when it is the staged blob (hooks/lookup.py,
`same_on_disk`): its git id is computed and compared with the index entry's, so what
git's filters or an unstaged edit make differ is read from git, and a file that is the
blob spares `cat-file` a loose object (~65 µs each: 2,000 staged results, 130 ms)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import git, git_init, record_calls

from expflow_git.gitstore import Git, blob_id
from expflow_git.hooks import lookup
from expflow_git.hooks.lookup import same_on_disk


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_blob_id_is_gits_own(tmp_path: Path, object_format: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", f"--object-format={object_format}")
    for data in (b"", b"{}\n", "ünïcode\r\n".encode(), bytes(range(256)) * 40):
        (repo / "f").write_bytes(data)
        sha = git(repo, "hash-object", "f")
        assert blob_id(data, len(sha)) == sha
        assert blob_id(data, len(sha), bulk=True) == sha  # OpenSSL's hash (issue 18)


@pytest.mark.parametrize("bulk", [False, True])
def test_the_file_is_read_only_when_it_is_the_staged_blob(tmp_path: Path, bulk: bool) -> None:
    """`bulk` (one of thousands: OpenSSL's hash) answers as CPython's own does."""
    repo = git_init(tmp_path / "repo")
    (repo / "a.json").write_bytes(b'{"a": 1}\n')
    git(repo, "add", "a.json")
    sha = git(repo, "rev-parse", ":a.json")
    assert same_on_disk(repo, "a.json", sha, bulk=bulk) == b'{"a": 1}\n'
    (repo / "a.json").write_bytes(b'{"a": 2}\n')  # an unstaged edit
    assert same_on_disk(repo, "a.json", sha, bulk=bulk) is None
    (repo / "a.json").write_bytes(b'{"a": 1}\n{')  # longer than the blob
    assert same_on_disk(repo, "a.json", sha, bulk=bulk) is None
    os.remove(repo / "a.json")
    assert same_on_disk(repo, "a.json", sha, bulk=bulk) is None  # gone
    (repo / "target.json").write_bytes(b'{"a": 1}\n')
    os.symlink("target.json", repo / "a.json")  # a link is never followed
    assert same_on_disk(repo, "a.json", sha, bulk=bulk) is None
    os.remove(repo / "a.json")
    os.mkfifo(repo / "a.json")  # nor does a FIFO block
    assert same_on_disk(repo, "a.json", sha, bulk=bulk) is None


def test_prefetch_asks_git_only_for_what_the_disk_does_not_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three staged files: one as on disk, one edited after staging, one deleted from
    disk. Git is asked for the last two only, and each path gets its staged bytes."""
    from expflow_git.policy.load import load_policy_bytes
    from expflow_git.records.scaffold import COMPETITION_POLICY

    repo = git_init(tmp_path / "repo")
    staged = {f"results/s/r{i}.json": b'{"i": %d}\n' % i for i in range(3)}
    for rel, data in staged.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    git(repo, "add", ".")
    (repo / "results/s/r1.json").write_bytes(b'{"i": "edited"}\n')
    os.remove(repo / "results/s/r2.json")
    policy = load_policy_bytes(COMPETITION_POLICY.encode())
    found = lookup.Lookup.index(Git.discover(repo), policy, list(staged), whole=False)
    asked = record_calls(monkeypatch, lookup, "read_blobs")
    found.prefetch(staged)
    assert [sorted(call[1]) for call in asked] == [
        sorted(
            git(repo, "rev-parse", f":{rel}") for rel in ("results/s/r1.json", "results/s/r2.json")
        )
    ]
    assert {rel: found.read(rel) for rel in staged} == staged
