"""Three known gaps closed (issue 18, forty-first pass, docs/decisions.md):

- an unreadable record (strict JSON: a repeated key) beside a run's result at BASE froze
  nothing, so a pull request changed that finished run's params and `audit --since BASE`
  passed; it now freezes byte for byte, as beside a result the range committed (§2.1);
- the plain pre-push hook chose its base with replace refs and grafts honoured, so a
  `git replace` (or a graft) of the remote's commit made it audit since a pushed commit,
  and a result rewritten there was pushed;
- `cancel` re-checks the record after the PIN prompt, but compared it as Python does
  (`1 == True`): a param edited from `1` to `true` meanwhile was written back as `1`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import CliCall
from test_governance import GOOD, Sandbox, add_run, make_demo, make_sandbox, res_rel, set_metrics
from test_governance import PIN as DEMO_PIN
from test_hunt40_merge import (
    PIN,
    RECORD,
    _audit,
    _commit,
    _edit,
    _ok,
    _overwrite,
    pending_run,
    repair_repeated_key,
    result_beside_a_repeated_key,
)

import expflow_git.cli.records as cli_records
from expflow_git.pin.store import hash_pin

# ============================================== BASE's unreadable record beside its result


@pytest.fixture
def unreadable_base(tmp_path: Path, isolated_env: Path) -> tuple[Path, str]:
    """BASE: e1's result committed beside a record strict JSON refuses (a repeated key;
    `--no-verify`, past the hook)."""
    repo, _ = pending_run(tmp_path)
    return repo, result_beside_a_repeated_key(repo)


@pytest.mark.parametrize("then", ["nothing", "overwritten", "only repaired"])
def test_bases_unreadable_record_beside_bases_result_froze_byte_for_byte(
    unreadable_base: tuple[Path, str], then: str
) -> None:
    """The pull request repairs the record and gives the finished run other params (and
    overwrites its result through a declared correction, beside those params): the walk's
    old side and `net_records`' BASE side could not be read and froze nothing, the audit
    passed. Repairing it alone, the same values, fails too: the safe way round, as beside
    a result the range committed (tests/test_hunt40_frozen.py)."""
    repo, base = unreadable_base
    repair_repeated_key(repo)
    if then != "only repaired":
        _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _commit(repo, "e1's record")
    if then == "overwritten":
        _overwrite(repo, "0.9")
        _commit(repo, "e1 overwritten")
    code, out = _audit(repo, base)
    assert code == 1 and f"{RECORD}: record-rewritten" in out, out
    assert "could not be read: it froze as it is" in out, out


def test_bases_unreadable_record_left_alone_fails_only_as_before(
    unreadable_base: tuple[Path, str],
) -> None:
    """No new finding where the range leaves the record alone: the audit fails as it did,
    on the record REV still holds (`invalid-json`), as BASE's own audit does."""
    repo, base = unreadable_base
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    _commit(repo, "e2 planned")
    for since in (base, f"{base}~1"):
        code, out = _audit(repo, since)
        assert code == 1 and f'{RECORD}: invalid-json: duplicate key "tags"' in out, out
        assert "record-rewritten" not in out, out


# ============================================== pre-push: the pushed history's own parents


@pytest.fixture
def hooked_remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Sandbox, Path, Path]:
    """The demo repository with the plain hooks installed, and a bare remote `origin`."""
    sandbox = make_sandbox(tmp_path, monkeypatch, hash_pin(DEMO_PIN))
    repo = make_demo(sandbox)
    assert sandbox.cli(["install-hooks"], repo).code == 0
    bare = sandbox.root / "remote.git"
    sandbox.git(sandbox.root, "init", "-q", "--bare", str(bare))
    sandbox.git(repo, "remote", "add", "origin", str(bare))
    return sandbox, repo, bare


@pytest.mark.parametrize("how", ["replace", "graft"])
def test_pre_push_judges_the_pushed_commits_own_parents(
    hooked_remote: tuple[Sandbox, Path, Path], how: str
) -> None:
    """A forced push over the remote's commit X: the hook audits since where the two
    histories meet. A replacement of X (or a graft) whose parent is the pushed commit that
    rewrote a result made `git merge-base` answer that very commit: "history checked
    since" it, PASS, and the rewritten result was pushed."""
    sandbox, repo, bare = hooked_remote
    assert sandbox.run_git(repo, "push", "origin", "main").returncode == 0
    meet = sandbox.git(repo, "rev-parse", "HEAD")
    add_run(repo, "exp-008", metrics=GOOD)
    sandbox.commit(repo, "add exp-008")
    assert sandbox.run_git(repo, "push", "origin", "main").returncode == 0
    there = sandbox.git(repo, "rev-parse", "HEAD")
    sandbox.git(repo, "reset", "-q", "--hard", meet)
    set_metrics(repo, "exp-001", seg_total=57.5)
    rewrite = sandbox.commit(repo, "quietly improve exp-001")  # --no-verify
    (repo / "notes.md").write_text("more\n")
    sandbox.commit(repo, "notes")
    if how == "replace":
        fake = sandbox.git(repo, "commit-tree", f"{rewrite}^{{tree}}", "-p", rewrite, "-m", "x")
        sandbox.git(repo, "replace", there, fake)
    else:
        (repo / ".git" / "info").mkdir(exist_ok=True)
        (repo / ".git" / "info" / "grafts").write_text(f"{there} {rewrite}\n")
    proc = sandbox.run_git(repo, "push", "--force", "origin", "main")
    assert proc.returncode != 0, proc.stderr
    assert f"{res_rel('exp-001')}: result-rewritten" in proc.stderr, proc.stderr
    assert f"history checked since {meet[:12]}" in proc.stderr, proc.stderr
    listing = sandbox.git(bare, "for-each-ref", "--format=%(refname) %(objectname)")
    assert listing.split() == ["refs/heads/main", there]


# ============================================== cancel: the re-check after the prompt


def test_cancel_refuses_a_record_changed_during_the_prompt(
    tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record is edited while the PIN prompt waits (a param `1` made `true`): the
    re-check compared the two reads as Python values, `1 == True`, and `cancel` wrote the
    first read back, the edit lost, exit 0. Now: nothing written, exit 1."""
    repo, _ = pending_run(tmp_path)
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending", "--param", "flag=1")
    record = repo / "experiments/s/e2.json"
    real_guard = cli_records.guard

    def edit_during_the_prompt(*args: Any, **kwargs: Any) -> None:
        text = record.read_text()
        assert '"flag": 1' in text, text
        record.write_text(text.replace('"flag": 1', '"flag": true'))
        real_guard(*args, **kwargs)

    monkeypatch.setattr(cli_records, "guard", edit_during_the_prompt)
    res = cli(["cancel", "e2", "--reason", "no time"], repo, env={"EXPFLOW_PIN": PIN})
    edited = record.read_text()
    assert res.code == 1 and "changed while this command ran; nothing written" in res.err, res
    assert '"flag": true' in edited and '"status": "pending"' in edited, edited
