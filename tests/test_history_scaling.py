"""`audit --since` stays linear where one commit moves many results of one run:
`result_rewrites` compared each deleted result of an id with every result added for it
in the same commit (a commit moving k results: k² comparisons); now a set. The test
counts the comparisons at a small k, on a real repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers_audit import add_run, commit_all, m, new_repo, result, write_json

from expflow_git.audit.pipeline import run_audit
from expflow_git.gitstore import Git


def test_result_rewrites_is_linear_in_the_results_one_commit_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One commit deletes k results of id x and adds k others: each deletion was compared
    with every addition (k² blob comparisons); now one look-up each. Every deletion is
    still rewritten, replaced by the first result added."""
    from expflow_git import identity

    repo = new_repo(tmp_path / "repo")
    add_run(repo, "a", m(0.9))
    base = commit_all(repo, "base")
    k = 40
    for i in range(k):
        write_json(repo, f"results/d{i:02d}/x.json", result("x", m(float(i))))
    commit_all(repo, "k results of x")
    for i in range(k):
        (repo / f"results/d{i:02d}/x.json").unlink()
        write_json(repo, f"results/e{i:02d}/x.json", result("x", m(float(k + i))))
    commit_all(repo, "replaced by k others")

    calls: list[int] = []
    real = identity.result_rewrites

    def result_rewrites(changes: Any, globs: Any) -> list[identity.ResultRewrite]:
        compared = [0]

        class Counted(str):
            __slots__ = ()

            def __eq__(self, other: object) -> bool:
                compared[0] += 1
                return str.__eq__(self, other)

            __hash__ = str.__hash__

        counted = [
            type(c)(c.status, c.path, c.old_sha, Counted(c.new_sha), c.old_mode, c.new_mode)
            if c.new_sha is not None
            else c
            for c in changes
        ]
        out = real(counted, globs)
        calls.append(compared[0])
        return out

    from expflow_git.history import results

    monkeypatch.setattr(results, "result_rewrites", result_rewrites)
    audit = run_audit(Git.discover(repo), since=base, use_cache=False)

    assert max(calls) <= 2 * k, calls  # k × k before
    rewritten = sorted(f.path for f in audit.findings if f.rule == "result-rewritten")
    assert rewritten == [f"results/d{i:02d}/x.json" for i in range(k)]
    first = "results/e00/x.json"
    assert all(f"replaced by {first}" in f.message for f in audit.findings if f.path in rewritten)
