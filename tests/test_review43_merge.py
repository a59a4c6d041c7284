"""`audit --since` at merges (issue 18, forty-third pass, its review): what the
adoption of a run a correction names (`history.records.adoptions`, 18b03a2) let
through, and what it cost.

- A run adopted at a merge, then deleted on record (`rm`, a correction naming it: the
  forty-first pass adopted no such run). The adoption leaves the lines the merge drops
  to `frozen_at_rev`, which judges only runs REV holds a result of: a line that froze
  the run with other params, the very result bytes beside them, dropped at the merge
  (`-s ours`, an octopus), was judged by nothing once the run was removed. Each history
  failed the audit before 18b03a2 and passed after it.
- K merges each editing a run's record, C corrections naming the run: the adoption
  asked git K × C `<commit>:<path>` names, each a walk of the C-entry folder (1,000 ×
  1,000: 409 s and 1.1 GB, against 3 s before 18b03a2), for merges that give the run
  no result and so adopt nothing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import git, run_cli
from test_hunt40_merge import PIN, RECORD, _commit, _edit, _merge, _ok, pending_run
from test_hunt43_merge import _commit_as_merge, _fails, _moved_on, _passes
from test_review40_merge import _blob

RESULT = "results/s/e1.json"


def _two_lines(repo: Path, base: str) -> None:
    """Main gives the pending e1 lr 0.2 and `success` (no result yet); `other`, from
    there, commits e1's result beside that record; `side`, from BASE, finishes e1
    without lr, with the very same result bytes (one blob: one chain of results). Main
    then finishes another run, e2 (the audit has a run to rank); main checked out."""
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _edit(repo, '"status": "pending"', '"status": "success"')
    marked = _commit(repo, "e1 marked finished with lr 0.2")
    git(repo, "checkout", "-q", "-b", "side", base)
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    _commit(repo, "e1 finished without lr")
    git(repo, "checkout", "-q", "-b", "other", marked)
    (repo / RESULT).parent.mkdir(parents=True, exist_ok=True)
    (repo / RESULT).write_bytes(_blob(repo, f"side:{RESULT}"))
    _commit(repo, "e1's result beside lr 0.2")
    git(repo, "checkout", "-q", "main")
    _ok(repo, "new", "e2", "--study", "s")
    _ok(repo, "result", "e2", "--metric", "accuracy=0.4")
    _commit(repo, "e2 finished")


def _take_side_drop_other(repo: Path, how: str) -> None:
    """Main takes side's e1 (record and result) and drops other's: two merges (side's
    conflict resolved with side's record, then other's by `-s ours`) or one octopus."""
    if how == "octopus":
        git(repo, "checkout", "side", "--", RECORD, RESULT)
        _commit_as_merge(repo, "main", "side", "other")
        return
    git(repo, "merge", "-q", "--no-commit", "--no-ff", "--no-verify", "side", check=False)
    git(repo, "checkout", "side", "--", RECORD, RESULT)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "side merged")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "-s", "ours", "other")


@pytest.mark.parametrize(
    ("how", "keep_record"),
    [("ours", False), ("octopus", False), ("ours", True)],
    ids=["ours-then-rm", "octopus-then-rm", "ours-then-result-deleted-record-kept"],
)
def test_a_line_that_froze_the_run_dropped_then_the_run_removed_fails(
    tmp_path: Path, isolated_env: Path, how: str, keep_record: bool
) -> None:
    """`other` froze e1 with lr 0.2 (its result committed beside that record); main
    adopts side's e1 without lr and drops other's line, then removes e1 with `rm` (a
    declared deletion), or deletes its result alone and keeps the record without lr.
    Without the removal `frozen_at_rev` fails it (other's record is not REV's); with it
    REV holds no result of e1 and nothing judged the merge but the walk, which the
    adoption skipped: before 18b03a2 no run a correction names was adopted (FAIL),
    after it this passed."""
    repo, base = pending_run(tmp_path)
    _two_lines(repo, base)
    _take_side_drop_other(repo, how)
    assert '"lr"' not in (repo / RECORD).read_text()
    _fails(repo, base)  # (`frozen_at_rev`: other's line froze lr 0.2)
    record = (repo / RECORD).read_bytes()
    _ok(repo, "rm", "e1", "--reason", "bad data", env={"EXPFLOW_PIN": PIN})
    if keep_record:
        (repo / RECORD).write_bytes(record)
    _commit(repo, "e1 removed" if not keep_record else "e1's result removed")
    _fails(repo, base)


def test_a_branchs_run_adopted_then_removed_is_reported_the_safe_way_round(
    tmp_path: Path, isolated_env: Path
) -> None:
    """The honest history of the same shape: a branch's result merged into a main that
    moved on (adopted: it passes), then the run removed on record. The adoption needs
    REV to hold a result of the run (what judges the lines it drops), so the merge is
    judged against main's pending record, as before 18b03a2 (`record-rewritten`)."""
    repo, base = pending_run(tmp_path)
    git(repo, "checkout", "-q", "-b", "side")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    _commit(repo, "e1's result")
    git(repo, "checkout", "-q", "main")
    _moved_on(repo)
    _merge(repo, "side")
    _ok(repo, "new", "e3", "--study", "s")
    _ok(repo, "result", "e3", "--metric", "accuracy=0.4")
    _commit(repo, "e3 finished")
    _passes(repo, base)
    _ok(repo, "rm", "e1", "--reason", "bad data", env={"EXPFLOW_PIN": PIN})
    _commit(repo, "e1 removed")
    _fails(repo, base)


def _correction(k: int) -> str:
    """A schema-valid correction naming e1 (no commit's change: `correction-unmatched`,
    but the adoption reads it as one naming the run)."""
    doc = {
        "schema": "expflow/correction@1",
        "experiment": "e1",
        "supersedes": f"{k + 1:040x}",
        "blob": f"{k + 2:040x}",
        "reason": "rerun",
        "author": {"name": "a", "email": "a@example.com"},
        "time": "2026-01-01T00:00:00Z",
    }
    return json.dumps(doc, indent=2) + "\n"


def _names_asked(tmp_path: Path, repo: Path, base: str) -> list[str]:
    """The audit's `cat-file --batch-check` names (`<commit>:<path>`, through a `git`
    first on PATH that logs its input)."""
    real = shutil.which("git")
    assert real
    bindir = tmp_path / "logged-git"
    bindir.mkdir()
    log = tmp_path / "names.log"
    wrapper = bindir / "git"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        '  *"cat-file --batch-check="*)\n'
        f'    input=$(mktemp -p "{tmp_path}")\n'
        '    cat > "$input"\n'
        f'    cat "$input" >> "{log}"\n'
        f'    exec "{real}" "$@" < "$input";;\n'
        "esac\n"
        f'exec "{real}" "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    res = run_cli(["audit", "--since", base, "--policy-ref", base], repo, env)
    assert res.code == 1 and "Traceback" not in res.err, res.both
    assert "record-rewritten" in res.out, res.both
    return log.read_text(errors="surrogateescape").splitlines() if log.exists() else []


@pytest.mark.parametrize("merges", [2, 4])
def test_merges_editing_a_run_a_correction_names_ask_git_no_correction_path(
    tmp_path: Path, isolated_env: Path, merges: int
) -> None:
    """e1 finished on main beside 12 corrections naming it; then `merges` branches each
    give it other params, each merged (the merge's diff: the record alone). No merge
    gives e1 a result, so none adopts it: the adoption asks git nothing about them (it
    asked merges × 12 × 2 names of the corrections' folder: cubic, 1,000 merges and
    1,000 corrections took 409 s and 1.1 GB)."""
    repo, base = pending_run(tmp_path)
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    folder = repo / "corrections" / "s" / "e1"
    folder.mkdir(parents=True)
    for k in range(12):
        (folder / f"2026010{k // 10}T00000{k % 10}Z-x.json").write_text(_correction(k))
    _commit(repo, "e1 finished, corrections naming it")
    for k in range(merges):
        git(repo, "checkout", "-q", "-b", f"b{k}")
        record = json.loads((repo / RECORD).read_text())
        (repo / RECORD).write_text(json.dumps({**record, "params": {"k": k}}, indent=2) + "\n")
        _commit(repo, f"e1's params, {k}")
        git(repo, "checkout", "-q", "main")
        git(repo, "merge", "-q", "--no-ff", "--no-edit", "--no-verify", f"b{k}")
    names = _names_asked(tmp_path, repo, base)
    assert not [n for n in names if ":corrections/" in n], names
