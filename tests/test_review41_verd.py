"""Review of the forty-first pass (issue 18, docs/decisions.md): the plain pre-push hook
now reads the pushed commits' own parents with replace refs and grafts off, but git's
commit-graph, a local cache of parents the tool's own ancestry checks refuse to believe
(`core.commitGraph=false`, decisions "Git reads ignore grafts and commit-graph parents"),
still answered its `git merge-base`: a forged one gave the remote's history a pushed
commit as an ancestor, and the hook audited "since" the very commit that rewrote a
result: PASS.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from conftest import git, run_cli
from test_governance import GOOD, Sandbox, add_run, res_rel, set_metrics
from test_hunt40_merge import (
    RECORD,
    _audit,
    _commit,
    _edit,
    pending_run,
    repair_repeated_key,
    result_beside_a_repeated_key,
)
from test_hunt41_leftv import hooked_remote  # noqa: F401 (a fixture)


def _forge_parent(graph: Path, child: str, parent: str) -> None:
    """Make the commit-graph file (generation v1: no GDAT chunk) give `child` the first
    parent `parent`, its generation above `parent`'s (git reads it without its checksum)."""
    data = bytearray(graph.read_bytes())
    assert data[:4] == b"CGPH", data[:8]
    chunks = {}
    for i in range(data[6] + 1):
        at = 8 + 12 * i
        chunks[bytes(data[at : at + 4])] = struct.unpack(">Q", data[at + 4 : at + 12])[0]
    assert b"GDAT" not in chunks, chunks
    oidl, cdat = chunks[b"OIDL"], chunks[b"CDAT"]
    oids = [
        bytes(data[oidl + 20 * i : oidl + 20 * i + 20]).hex() for i in range((cdat - oidl) // 20)
    ]
    c, p = oids.index(child), oids.index(parent)
    struct.pack_into(">I", data, cdat + 36 * c + 20, p)
    p_gen = struct.unpack(">I", data[cdat + 36 * p + 28 : cdat + 36 * p + 32])[0] >> 2
    low = struct.unpack(">I", data[cdat + 36 * c + 28 : cdat + 36 * c + 32])[0] & 3
    struct.pack_into(">I", data, cdat + 36 * c + 28, ((p_gen + 5) << 2) | low)
    graph.chmod(0o644)
    graph.write_bytes(bytes(data))


def test_pre_push_believes_no_forged_commit_graph(
    hooked_remote: tuple[Sandbox, Path, Path],  # noqa: F811
) -> None:
    """The remote holds meet → there → there2; the push forces main over it with meet →
    rewrite → notes. A commit-graph giving `there` the parent `rewrite` made the hook's
    `git merge-base` answer `rewrite`: "history checked since" it, PASS (git's own pack,
    believing the graph too, then lacked objects: the remote's unpacker refused it here,
    as it did the graft's)."""
    sandbox, repo, bare = hooked_remote
    assert sandbox.run_git(repo, "push", "origin", "main").returncode == 0
    meet = sandbox.git(repo, "rev-parse", "HEAD")
    add_run(repo, "exp-008", metrics=GOOD)
    there = sandbox.commit(repo, "add exp-008")
    (repo / "more.md").write_text("more\n")
    there2 = sandbox.commit(repo, "more")
    assert sandbox.run_git(repo, "push", "origin", "main").returncode == 0
    sandbox.git(repo, "reset", "-q", "--hard", meet)
    set_metrics(repo, "exp-001", seg_total=57.5)
    rewrite = sandbox.commit(repo, "quietly improve exp-001")  # --no-verify
    (repo / "notes.md").write_text("more\n")
    sandbox.commit(repo, "notes")
    sandbox.git(
        repo, "-c", "commitGraph.generationVersion=1", "commit-graph", "write", "--reachable"
    )
    _forge_parent(repo / ".git/objects/info/commit-graph", there, rewrite)
    assert sandbox.git(repo, "merge-base", "HEAD", there2) == rewrite  # the forged answer
    proc = sandbox.run_git(repo, "push", "--force", "origin", "main")
    assert proc.returncode != 0, proc.stderr
    assert f"{res_rel('exp-001')}: result-rewritten" in proc.stderr, proc.stderr
    assert f"history checked since {meet[:12]}" in proc.stderr, proc.stderr
    listing = sandbox.git(bare, "for-each-ref", "--format=%(refname) %(objectname)")
    assert listing.split() == ["refs/heads/main", there2]


# ============================================== protect: HEAD's unreadable record froze too


@pytest.mark.parametrize("then", ["params", "only repaired"])
def test_protect_refuses_a_change_to_heads_unreadable_frozen_record(
    tmp_path: Path, isolated_env: Path, then: str
) -> None:
    """HEAD holds e1's result beside a record strict JSON refuses (a repeated key, past
    the hook). `audit --since HEAD` now fails any other blob of it (`record-rewritten`,
    spec §2.1: it "froze as it is, byte for byte"), but the protect hook read HEAD's
    record as freezing nothing: a staged change of the finished run's params passed it
    (exit 0), and the commit then failed CI's audit for good."""
    repo, _ = pending_run(tmp_path)
    base = result_beside_a_repeated_key(repo)
    repair_repeated_key(repo)
    if then == "params":
        _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    git(repo, "add", "-A")
    res = run_cli(["protect", "--"], repo)
    assert "Traceback" not in res.err, res.both
    assert res.code == 1 and f"{RECORD}: record-rewritten" in res.both, res.both
    _commit(repo, "e1's record")
    code, out = _audit(repo, base)  # what CI says of the same change
    assert code == 1 and f"{RECORD}: record-rewritten" in out, out


def test_protect_passes_heads_unreadable_record_moved_byte_for_byte(
    tmp_path: Path, isolated_env: Path
) -> None:
    """The same blob in another study's folder is no change (as the audit takes it)."""
    repo, _ = pending_run(tmp_path)
    result_beside_a_repeated_key(repo)
    (repo / "experiments/t").mkdir()
    git(repo, "mv", RECORD, "experiments/t/e1.json")
    res = run_cli(["protect", "--"], repo)
    assert "record-rewritten" not in res.both, res.both
