"""An attacker's hunt of the agreement between the pre-commit side and the audit side
(thirty-eighth pass): random histories of records, results and corrections (adds,
edits, deletions, moves, status changes, corrections, policy changes, merges), each
commit judged by the hooks as it is made (`validate --staged`, `scan --staged`,
`protect`) and by `audit --since PARENT --policy-ref PARENT` and `audit` of the commit
(cached and `--no-cache`), and `validate` serial against its parallel path. Each
disagreement the spec does not name is minimised here."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, git_init, run_cli

PIN = str(4000 + 821)


def _ok(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    code, out, err = run_cli(list(args), repo, env=env)
    assert code == 0, (args, out, err)
    return out + err


@pytest.fixture
def immutable_off(tmp_path: Path, isolated_env: Path) -> Path:
    """A repository whose policy says `results_immutable: false`, one run's result
    committed, and a PIN set."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    policy = repo / "expflow.yaml"
    text = policy.read_text()
    assert "results_immutable: true" in text
    policy.write_text(text.replace("results_immutable: true", "results_immutable: false"))
    _ok(repo, "pin", "init", PIN)
    _ok(repo, "new", "e1", "--study", "s")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "e1")
    return repo


def test_protect_takes_the_overwrite_correction_under_results_immutable_false(
    immutable_off: Path,
) -> None:
    """`result --overwrite --reason` under `results_immutable: false` writes a correction
    that declares exactly the change staged with it; the protect hook called it
    `correction-unmatched` ("declares a change … that nothing in the index makes") and
    refused the commit, while `audit --since` of the same commit passes and lists the
    correction. Write-once being off must not make the tool's own correction unmatched."""
    repo = immutable_off
    _overwrite(repo, "0.6")
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo, env={"EXPFLOW_PIN": PIN})
    assert "Traceback" not in err
    assert "correction-unmatched" not in out + err, out + err
    assert code == 0, out + err
    git(repo, "commit", "-q", "--no-verify", "-m", "overwrite e1")
    code, out, err = run_cli(["audit", "--since", "HEAD~", "--policy-ref", "HEAD~"], repo)
    assert code == 0, out + err  # the audit side agrees


def test_protect_still_refuses_an_unmatched_correction_under_results_immutable_false(
    immutable_off: Path,
) -> None:
    """The fix matches corrections against the real staged changes, nothing more: a
    correction that declares a change the index does not make stays refused (as `audit
    --since` reports it)."""
    repo = immutable_off
    _overwrite(repo, "0.6")
    git(repo, "checkout", "--", "results")  # the result back as committed: no change
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo, env={"EXPFLOW_PIN": PIN})
    assert code == 1, out + err
    assert "correction-unmatched" in out + err, out + err
    git(repo, "commit", "-q", "--no-verify", "-m", "a correction alone")
    code, out, err = run_cli(["audit", "--since", "HEAD~", "--policy-ref", "HEAD~"], repo)
    assert code == 1 and "correction-unmatched" in out, out + err


def test_protect_judges_an_edit_of_a_deleted_runs_put_back_record_under_results_immutable_false(
    immutable_off: Path,
) -> None:
    """A run deleted on record (`rm --reason`) whose record is put back exactly, then
    edited in place (its study changed): `audit --since` reports `record-rewritten`
    ("brings experiment 'e1' back after its deletion … with its record changed") whatever
    `results_immutable` says, as the spec holds a run deleted on record to its record,
    and the hook refuses the same record re-added changed. Under `results_immutable:
    false` the hook passed the edit in place (its frozen-record check is off, and the
    deleted-run check only looked at added records): a commit the hook let through that
    CI fails."""
    repo = immutable_off
    record = "experiments/s/e1.json"
    _ok(repo, "rm", "e1", "--reason", "gone", env={"EXPFLOW_PIN": PIN})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "rm e1")
    git(repo, "checkout", "HEAD~", "--", record)  # the `rm` of the record undone, exactly
    code, out, err = run_cli(["protect"], repo)
    assert code == 0, out + err
    git(repo, "commit", "-q", "--no-verify", "-m", "e1's record back")
    path = repo / record
    path.write_text(path.read_text().replace('"study": "s"', '"study": "u"'))
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo)
    assert "Traceback" not in err
    git(repo, "commit", "-q", "--no-verify", "-m", "e1's study changed")
    audit = run_cli(["audit", "--since", "HEAD~", "--policy-ref", "HEAD~"], repo)
    assert audit.code == 1 and f"{record}: record-rewritten" in audit.out, audit.both
    assert code == 1, out + err  # the hook says what the audit says
    assert f"{record}: record-rewritten" in out, out + err


def test_protect_passes_a_deleted_runs_put_back_record_edited_outside_its_frozen_fields(
    immutable_off: Path,
) -> None:
    """The same put-back record with only its title changed: no frozen field changed, the
    hook passes it, and `audit --since` reports no rewrite either."""
    repo = immutable_off
    record = "experiments/s/e1.json"
    _ok(repo, "rm", "e1", "--reason", "gone", env={"EXPFLOW_PIN": PIN})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "rm e1")
    git(repo, "checkout", "HEAD~", "--", record)
    git(repo, "commit", "-q", "--no-verify", "-m", "e1's record back")
    path = repo / record
    path.write_text(path.read_text().replace('"study": "s",', '"study": "s", "title": "t",'))
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo)
    assert code == 0, out + err
    git(repo, "commit", "-q", "--no-verify", "-m", "e1's title")
    audit = run_cli(["audit", "--since", "HEAD~", "--policy-ref", "HEAD~"], repo)
    assert "rewritten" not in audit.out, audit.both


def _deleted_and_put_back(repo: Path) -> None:
    """e1 removed on record (`rm --reason`), then its record and result put back exactly
    (the `rm` undone), each step committed."""
    _ok(repo, "rm", "e1", "--reason", "gone", env={"EXPFLOW_PIN": PIN})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "rm e1")
    git(repo, "checkout", "HEAD~", "--", "experiments/s/e1.json", "results/s/e1.json")
    code, out, err = run_cli(["protect"], repo)
    assert code == 0, out + err
    git(repo, "commit", "-q", "--no-verify", "-m", "e1 back")


def test_protect_judges_an_edit_of_a_deleted_runs_put_back_result_under_results_immutable_false(
    immutable_off: Path,
) -> None:
    """The put-back run's result edited in place without a correction: `audit --since`
    (and the audit of the tree) report `result-rewritten`, the run deleted on record
    holding the result its chain of corrections ends at whatever `results_immutable`
    says; the hook passed it under `false`."""
    repo = immutable_off
    _deleted_and_put_back(repo)
    res = repo / "results/s/e1.json"
    res.write_text(res.read_text().replace('"accuracy": 0.5', '"accuracy": 0.9'))
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo, env={"EXPFLOW_PIN": PIN})
    assert "Traceback" not in err
    git(repo, "commit", "-q", "--no-verify", "-m", "e1's result edited")
    audit = run_cli(["audit", "--since", "HEAD~", "--policy-ref", "HEAD~"], repo)
    assert audit.code == 1 and "results/s/e1.json: result-rewritten" in audit.out, audit.both
    assert code == 1, out + err
    assert "results/s/e1.json: result-rewritten" in out, out + err


def test_protect_passes_a_deleted_runs_put_back_result_overwritten_with_a_correction(
    immutable_off: Path,
) -> None:
    """The same result changed with `result --overwrite` (a correction continuing the
    chain from the put-back blob): the hook and `audit --since` both pass it."""
    repo = immutable_off
    _put_back_and_overwritten_passes(repo)


def test_protect_passes_a_deleted_runs_put_back_result_overwritten_under_write_once(
    immutable_off: Path,
) -> None:
    """Under `results_immutable: true` the put-back run's declared overwrite stays
    approvable (the in-place check above is write-once-off only: under `true` the
    write-once check judges it, with the staged correction)."""
    repo = immutable_off
    policy = repo / "expflow.yaml"
    policy.write_text(
        policy.read_text().replace("results_immutable: false", "results_immutable: true")
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "write-once on")
    _put_back_and_overwritten_passes(repo)


def _put_back_and_overwritten_passes(repo: Path) -> None:
    """The run deleted and put back, then its result changed with `result --overwrite`:
    the hook and `audit --since` both pass it."""
    _deleted_and_put_back(repo)
    _overwrite(repo, "0.7")
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo, env={"EXPFLOW_PIN": PIN})
    assert code == 0, out + err
    git(repo, "commit", "-q", "--no-verify", "-m", "e1 overwritten")
    audit = run_cli(["audit", "--since", "HEAD~", "--policy-ref", "HEAD~"], repo)
    assert audit.code == 0, audit.both


def _overwrite(repo: Path, accuracy: str) -> None:
    """`result e1 --overwrite --reason fix` with the PIN: the tool's own correction."""
    _ok(
        repo,
        "result",
        "e1",
        "--metric",
        f"accuracy={accuracy}",
        "--overwrite",
        "--reason",
        "fix",
        env={"EXPFLOW_PIN": PIN},
    )
