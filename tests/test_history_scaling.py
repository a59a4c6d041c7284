"""`audit --since` stays linear where one run has many commits, paths or moves:

- `frozen_at_rev` finds the record beside a run's result in each commit that committed
  it. It asked git for `<commit>:<path>` for every path the record ever had: k result
  commits × P paths look-ups (k = P = 1,000: 72 s). It now follows each commit's record
  paths through the first-parent diffs, and the answers are those of the look-ups, on
  merges, empty commits and a branch forked before BASE too.
- `result_rewrites` compared each deleted result of an id with every result added for
  it in the same commit (a commit moving k results: k² comparisons); now a set.

The tests count the work (blob reads, comparisons) at a small k, on real repositories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers_audit import add_run, commit_all, experiment, git, m, new_repo, result, write_json
from hypothesis import given, settings
from hypothesis import strategies as st
from support import record_calls
from test_frozen_differential import _record_at  # the look-ups the walk replaced

from expflow_git.audit.pipeline import run_audit
from expflow_git.documents import stem
from expflow_git.errors import Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Git

RECORD = "record-rewritten"


def _spy_frozen(monkeypatch: pytest.MonkeyPatch, *, compare: bool = False) -> dict[str, Any]:
    """Wrap `frozen_at_rev` as the audit calls it: count its blob reads and keep what it
    finds with no run reported (an edit a commit shows hides the run from it); with
    `compare`, also the record beside each result both by the new walk and by look-ups."""
    import expflow_git.history as history
    from expflow_git.history import records

    seen: dict[str, Any] = {"reads": 0, "findings": []}
    real_read = BlobReader.read

    def read(self: BlobReader, sha: str) -> bytes:
        seen["reads"] += 1
        return real_read(self, sha)

    def frozen_at_rev(
        reader: BlobReader, introduced: Any, views: Any, reported: set[str]
    ) -> list[Finding]:
        monkeypatch.setattr(BlobReader, "read", read)
        try:
            found = records.frozen_at_rev(reader, introduced, views, set())
        finally:
            monkeypatch.setattr(BlobReader, "read", real_read)
        seen["findings"] = found
        if compare:
            seen["answers"] = {
                (exp_id, commit): _record_at(reader, commit, paths)
                for exp_id, (_, commits, paths) in introduced.runs.items()
                for commit in commits
            }
            seen["beside"] = records._records_beside(
                reader, introduced.runs, introduced.changes, introduced.links
            )
        return [f for f in found if stem(f.path) not in reported]

    monkeypatch.setattr(history, "frozen_at_rev", frozen_at_rev)
    return seen


def _same_answers(seen: dict[str, Any]) -> None:
    """The walk's record beside each result is what `<commit>:<path>` look-ups give."""
    from expflow_git.gitstore import blob_id
    from expflow_git.identity import frozen_view

    assert seen["answers"], "no result commit was judged"
    for key, (data, unnamed) in seen["answers"].items():
        found, view, new_unnamed, blob = seen["beside"][key]
        assert (found, new_unnamed) == (data is not None, unnamed if data is None else False), key
        if data is not None:
            assert view == frozen_view(data), key
            assert blob == ("" if view is not None else blob_id(data, len(key[1]))), key


def test_frozen_at_rev_reads_once_per_commit_not_per_path_the_record_had(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """k paths the record of x had (added, then deleted), k commits each committing x's
    result, the record added last: each result commit up to the one with a record was
    asked about every path (467 reads at k = 30); now a handful. The verdict is unchanged: the
    commit that had a record beside the result with other params is named."""
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "a", m(0.9))
    base = commit_all(repo, "base")
    k = 30
    for j in range(k):
        write_json(repo, f"experiments/p{j:02d}/x.json", experiment("x", study="s"))
    commit_all(repo, "records")
    for j in range(k):
        (repo / f"experiments/p{j:02d}/x.json").unlink()
    commit_all(repo, "no records")
    middle = ""
    for i in range(k):
        write_json(repo, f"results/r{i:02d}/x.json", result("x", m(0.5)))
        if i == k // 2:  # a record beside this one, with other params
            doc = experiment("x", study="s") | {"params": {"lr": 0.5}}
            write_json(repo, "experiments/p00/x.json", doc)
        elif i == k // 2 + 1:
            (repo / "experiments/p00/x.json").unlink()
        sha = commit_all(repo, f"result {i}")
        middle = sha if i == k // 2 else middle
    write_json(repo, "experiments/s/x.json", experiment("x", study="s"))
    commit_all(repo, "the record")

    seen = _spy_frozen(monkeypatch)
    audit = run_audit(Git.discover(repo), since=base, use_cache=False)

    at_rev = git(repo, "rev-parse", "HEAD:experiments/s/x.json")
    assert [(f.path, f.rule, f.message) for f in seen["findings"]] == [
        (
            "experiments/s/x.json",
            RECORD,
            "the audited commit changes params of experiment 'x', whose result is "
            f"committed: its record (blob {at_rev[:12]})"
            f" differs from the one beside the result in commit {middle[:12]}, which "
            "committed it; a finished run is frozen",
        )
    ]
    # The audit reports the edits themselves (their commits show them), so not this.
    rewritten = sorted(f.path for f in audit.findings if f.rule == RECORD)
    assert rewritten == ["experiments/p00/x.json", "experiments/s/x.json"]
    assert seen["reads"] <= 4, seen["reads"]  # 467 before


def test_frozen_at_rev_follows_merges_empty_commits_and_a_fork_before_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a commit's record paths are not the previous commit's: a branch forked
    before BASE still holds a record path BASE had moved away (its result froze that
    record), an empty commit stands between a result commit and its parent, and merges
    bring results in. Each answer is the `<commit>:<path>` look-up's."""
    repo = new_repo(tmp_path / "repo")
    write_json(repo, "experiments/old/y.json", experiment("y", study="s"))
    fork = commit_all(repo, "y's record")
    (repo / "experiments/old/y.json").unlink()
    doc = experiment("y", study="s") | {"params": {"lr": 0.3}}
    write_json(repo, "experiments/new/y.json", doc)
    base = commit_all(repo, "moved, new params")

    git(repo, "checkout", "-q", "-b", "side", fork)
    write_json(repo, "results/f/y.json", result("y", m(0.5)))
    side = commit_all(repo, "a result beside the old record")
    write_json(repo, "experiments/old/y.json", experiment("y", study="s", tags=("x",)))
    commit_all(repo, "the old record retagged")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-commit", "side", check=False)
    git(repo, "rm", "-q", "--cached", "--ignore-unmatch", "experiments/old/y.json")
    (repo / "experiments/old/y.json").unlink(missing_ok=True)
    commit_all(repo, "merge side")
    git(repo, "commit", "-q", "--allow-empty", "-m", "empty")
    write_json(repo, "results/c/y.json", result("y", m(0.5)))
    commit_all(repo, "a result beside the new record")
    git(repo, "checkout", "-q", "-b", "other", base)
    write_json(repo, "results/o/y.json", result("y", m(0.5)))
    commit_all(repo, "a result on another branch")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "other")

    seen = _spy_frozen(monkeypatch, compare=True)
    run_audit(Git.discover(repo), since=base, use_cache=False)

    _same_answers(seen)
    assert len(seen["answers"]) >= 4
    assert [(f.path, f.rule) for f in seen["findings"]] == [("experiments/new/y.json", RECORD)]
    assert side[:12] in seen["findings"][0].message


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


def test_corrections_are_walked_once_per_experiment_not_once_per_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BASE holds k results of one experiment x; the range adds k corrections of x. The
    write-once check walked x's corrections from each of BASE's results, and the net
    check to REV's from each result REV no longer holds: k walks, each reading all k
    corrections (4,000: 9 s; an attacker's hunt). One walk from all of them now, with
    the same findings (REV holds BASE's results here, so the net check walks nothing;
    its one walk backwards is `leading_to`'s, tested below)."""
    import hashlib

    from expflow_git import corrections
    from expflow_git.history import results

    repo = new_repo(tmp_path / "repo")
    add_run(repo, "a", m(0.9))
    write_json(repo, "experiments/s/x.json", experiment("x", study="s"))
    k = 30
    for i in range(k):
        write_json(repo, f"results/d{i:02d}/x.json", result("x", m(float(i))))
    base = commit_all(repo, "k results of x")
    shas = [git(repo, "rev-parse", f"HEAD:results/d{i:02d}/x.json") for i in range(k)]
    for i in range(k):  # k corrections of x; the first two lead d00 and d01 to a deletion
        old = shas[i] if i < 2 else hashlib.sha1(b"o%d" % i).hexdigest()
        doc = {
            "schema": "expflow/correction@1",
            "experiment": "x",
            "supersedes": old,
            "blob": None if i < 2 else hashlib.sha1(b"n%d" % i).hexdigest(),
            "reason": "a correction",
            "author": {"name": "a", "email": "a@example.com"},
            "time": "2026-11-20T10:00:00Z",
        }
        write_json(repo, f"corrections/s/x/{i:03d}.json", doc)
    commit_all(repo, "k corrections of x")
    walks = record_calls(monkeypatch, results, "reachable")
    back = record_calls(monkeypatch, results, "leading_to")
    audit = run_audit(Git.discover(repo), since=base, use_cache=False)

    assert len(walks) == 1 and len(back) == 0, (len(walks), len(back))  # k walks before
    assert set(walks[0][2:]) == set(shas)  # from every result BASE holds
    unmatched = sorted(f.path for f in audit.findings if f.rule == "correction-unmatched")
    assert unmatched == [f"corrections/s/x/{i:03d}.json" for i in range(k)]
    assert not [f for f in audit.findings if f.rule == "result-rewritten"]
    assert corrections.reachable(
        [c for c in audit.check.corrections if c.experiment == "x"], "x", shas[0]
    ) == {shas[0], None}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcde"), st.sampled_from("abcde") | st.none()), max_size=12
    ),
    st.sets(st.sampled_from("abcde") | st.none(), min_size=1),
)
def test_leading_to_is_reachable_backwards(
    steps: list[tuple[str, str | None]], targets: set[str | None]
) -> None:
    """A blob is among those leading to the targets exactly when a forward walk from it
    reaches one of them (the net check's one walk for many single ones)."""
    from expflow_git.corrections import Correction, leading_to, reachable

    chain = [
        Correction(f"c{i}", "x", old, new, "r", "a", "a@b", "t")
        for i, (old, new) in enumerate(steps)
    ]
    chain.append(Correction("other", "y", "a", "e", "r", "a", "a@b", "t"))  # another run's
    leading = leading_to(chain, "x", targets)
    for blob in "abcde":
        assert (blob in leading) == bool(reachable(chain, "x", blob) & targets), blob
    assert reachable(chain, "x", "a", "b") == reachable(chain, "x", "a") | reachable(
        chain, "x", "b"
    )
