"""A finished run's record stays frozen after its result is deleted on record (issue 18,
thirty-second pass). `rm` with a reason, committed with the record kept, then the
record's params changed: the protect hook passed it (it counted a run as finished only
while HEAD held its result) and `audit --since`, which judges every run the history
committed a result for, then failed it for good (`record-rewritten`). The hook also
treats a run whose result a correction in HEAD deletes as finished."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, git_init, run_cli
from test_deleted_runs import findings
from test_history_merges import commit, ok
from test_protect32_chain_end import two_runs

REC = "experiments/s/r1.json"


def _finished_then_deleted(repo: Path) -> str:
    """r1 finished (lr 0.1), then its result deleted on record, its record kept: BASE."""
    base = two_runs(repo)
    ok(repo, "rm", "r1", "--reason", "bad run", "--force")
    git(repo, "checkout", "HEAD", "--", REC)  # the record kept
    commit(repo, "r1's result deleted on record")
    return base


def _edit(repo: Path, **fields: object) -> tuple[int, str]:
    doc = json.loads((repo / REC).read_text())
    doc.update(fields)
    (repo / REC).write_text(json.dumps(doc, indent=2) + "\n")
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo)
    assert "Traceback" not in err
    return code, out + err


def test_the_record_of_a_run_deleted_on_record_stays_frozen(
    tmp_path: Path, isolated_env: Path
) -> None:
    repo = git_init(tmp_path / "repo")
    base = _finished_then_deleted(repo)
    code, said = _edit(repo, params={"lr": 0.5})
    assert code == 1 and f"{REC}: record-rewritten" in said, said
    commit(repo, "params changed past the hook")
    code, found = findings(repo, "--since", base)
    assert code == 1 and ("record-rewritten", REC) in found, found  # the two agree


def test_a_field_that_is_not_frozen_may_still_change(tmp_path: Path, isolated_env: Path) -> None:
    repo = git_init(tmp_path / "repo")
    base = _finished_then_deleted(repo)
    code, said = _edit(repo, title="a better title")
    assert code == 0, said
    commit(repo, "title")
    code, found = findings(repo, "--since", base)
    assert ("record-rewritten", REC) not in found, found
