"""The merge-history walk's memory (issue 18, forty-second pass): `frozen_at_rev` reads
each run's record as `<commit>:<path>`, a walk of that commit's trees per name. Through
the audit's bulk stream (`core.deltaBaseCacheLimit=512m`) each commit's version of the
records' folder tree stayed in git's delta-base cache: 4,000 branches each finishing a
pending run, merged one by one into a moved-on main, held 674 MB in `git cat-file`
(182 MB before the forty-first pass's adoption, which made the walk leave those runs
to `frozen_at_rev`). Those reads now go through a stream of their own with git's
default cache; the verdicts are as before."""

from __future__ import annotations

from pathlib import Path

from conftest import git, run_cli
from support import git_calls, git_counter
from test_hunt40_merge import _audit, _ok, _rewritten, pending_run
from test_review41_merge import _merge_branch


def test_records_read_at_commits_go_through_a_stream_with_gits_own_cache(
    tmp_path: Path, isolated_env: Path
) -> None:
    """Two branches' results merged into a moved-on main pass `audit --since BASE`; the
    audit's and the history's bulk streams raise git's delta-base cache, and the
    records read as `<commit>:<path>` go through one stream that does not."""
    repo, _ = pending_run(tmp_path)
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "e2 planned")
    base = git(repo, "rev-parse", "HEAD")
    for k in (1, 2):
        _merge_branch(repo, k)
    assert _audit(repo, base)[0] == 0
    (tmp_path / "counted").mkdir()
    env, log = git_counter(tmp_path / "counted")
    res = run_cli(["audit", "--since", base, "--policy-ref", base], repo, env)
    assert res.code == 0 and "Traceback" not in res.err, res.both
    streams = [c.args for c in git_calls(log) if c.args.endswith("cat-file --batch")]
    raised = [s for s in streams if "core.deltaBaseCacheLimit=512m" in s]
    assert len(raised) == 2 and len(streams) == 3, streams


def test_a_changed_record_merged_beside_a_branchs_result_still_fails(
    tmp_path: Path, isolated_env: Path
) -> None:
    """The check those reads serve still fails a merge whose main changed the pending
    run's params while its branch committed the result (the record beside the result
    read at the branch's commit, through the new stream)."""
    repo, base = pending_run(tmp_path)
    git(repo, "checkout", "-q", "-b", "side")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "e1's result")
    git(repo, "checkout", "-q", "main")
    record = repo / "experiments/s/e1.json"
    record.write_text(record.read_text().replace('"params": {}', '"params": {"lr": 0.5}'))
    git(repo, "commit", "-q", "--no-verify", "-am", "e1's params changed")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "-X", "theirs", "side")
    assert '"lr": 0.5' in record.read_text() and '"success"' in record.read_text()
    code, text = _audit(repo, base)
    assert code == 1 and _rewritten(text), text
