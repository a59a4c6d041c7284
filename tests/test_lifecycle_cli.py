"""Every run's lifecycle through the real CLI (issue 16, items 3 and 4): `new --status
failed|skipped --reason`, `start`, `fail`, and `result` writing nothing when the result
would fail the registry or the required metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

STUDY = "pdebench-task1"
EXP = f"experiments/{STUDY}/exp-001.json"
RES = f"results/{STUDY}/exp-001.json"
METRICS = ["--metric", "seg_total=57.09", "--metric", "pde_mean=15.0"]
ALL_METRICS = [*METRICS, "--metric", "train_time_min=45.5"]


def record(repo: ExpRepo) -> dict:
    return json.loads((repo.path / EXP).read_text())


@pytest.fixture
def pending(exp_repo: ExpRepo, cli) -> ExpRepo:
    res = cli(["new", "exp-001", "--study", STUDY, "--param", "sub_step=5"], cwd=exp_repo.path)
    assert res.code == 0, res.both
    return exp_repo


# ------------------------------------------------------------------ item 4: result
def test_result_missing_a_required_metric_writes_nothing(pending: ExpRepo) -> None:
    before = (pending.path / EXP).read_bytes()
    code, out, err = run_cli(["result", "exp-001", *METRICS], cwd=pending.path)
    assert code == 1, out + err
    finding = f"{RES}#/metrics: required-metric: required metric 'train_time_min' is missing"
    assert out.splitlines() == [finding]
    assert "not written" in err
    assert not (pending.path / RES).exists()
    assert (pending.path / EXP).read_bytes() == before  # still pending: not marked success
    assert_clean_output(out, err)


def test_result_with_an_unknown_metric_writes_nothing(pending: ExpRepo) -> None:
    code, out, err = run_cli(
        ["result", "exp-001", *ALL_METRICS, "--metric", "seg_totl=1"], cwd=pending.path
    )
    assert code == 1, out + err
    assert "unknown-metric" in out and "did you mean 'seg_total'" in out
    assert not (pending.path / RES).exists()
    assert record(pending)["status"] == "pending"


def test_a_result_the_command_writes_passes_the_validate_hook(pending: ExpRepo, cli) -> None:
    assert cli(["result", "exp-001", *ALL_METRICS], cwd=pending.path).code == 0
    res = cli(["validate", "--", EXP, RES], cwd=pending.path)
    assert res.code == 0, res.both


# ------------------------------------------------------------------ new --status
@pytest.mark.parametrize("status", ["failed", "skipped"])
def test_new_records_a_failed_or_skipped_run_with_its_reason(
    exp_repo: ExpRepo, cli, status: str
) -> None:
    res = cli(
        ["new", "exp-001", "--study", STUDY, "--status", status, "--reason", "OOM on 1 GPU"],
        cwd=exp_repo.path,
    )
    assert res.code == 0, res.both
    doc = record(exp_repo)
    assert (doc["status"], doc["reason"]) == (status, "OOM on 1 GPU")
    assert cli(["validate", "--", EXP], cwd=exp_repo.path).code == 0
    # A run that did not succeed takes no result.
    res = cli(["result", "exp-001", *ALL_METRICS], cwd=exp_repo.path)
    assert res.code == 1 and not (exp_repo.path / RES).exists()


# ------------------------------------------------------------------ start
def test_start_marks_a_pending_run_running_once(pending: ExpRepo, cli) -> None:
    res = cli(["start", "exp-001"], cwd=pending.path)
    assert res.code == 0, res.both
    assert res.out.strip() == f"started {EXP}"
    assert record(pending)["status"] == "running"
    again = cli(["start", "exp-001"], cwd=pending.path)
    assert again.code == 1 and "only a pending experiment" in again.err
    assert cli(["result", "exp-001", *ALL_METRICS], cwd=pending.path).code == 0
    assert record(pending)["status"] == "success"


def test_start_of_a_missing_run_is_exit_1(exp_repo: ExpRepo, cli) -> None:
    res = cli(["start", "exp-404"], cwd=exp_repo.path)
    assert res.code == 1 and "exp-404" in res.err


# ------------------------------------------------------------------ fail
@pytest.mark.parametrize("first", [[], ["start", "exp-001"]])
def test_fail_marks_a_run_failed_with_its_reason(pending: ExpRepo, cli, first: list[str]) -> None:
    if first:
        assert cli(first, cwd=pending.path).code == 0
    res = cli(["fail", "exp-001", "--reason", "NaN loss at step 300"], cwd=pending.path)
    assert res.code == 0, res.both
    doc = record(pending)
    assert (doc["status"], doc["reason"]) == ("failed", "NaN loss at step 300")
    assert doc["params"] == {"sub_step": 5}  # nothing else changed
    again = cli(["fail", "exp-001", "--reason", "x"], cwd=pending.path)
    assert again.code == 1 and "'failed' already" in again.err


def test_fail_needs_a_reason(pending: ExpRepo) -> None:
    for args in (["fail", "exp-001"], ["fail", "exp-001", "--reason", "  "]):
        code, out, err = run_cli(args, cwd=pending.path)
        assert code == 2 and "--reason" in err, out + err
        assert_clean_output(out, err)
    assert record(pending)["status"] == "pending"


def test_fail_is_refused_once_a_result_is_committed(pending: ExpRepo, cli) -> None:
    assert cli(["result", "exp-001", *ALL_METRICS], cwd=pending.path).code == 0
    pending.commit("exp-001")
    before = (pending.path / EXP).read_bytes()
    res = cli(["fail", "exp-001", "--reason", "changed my mind"], cwd=pending.path)
    assert res.code == 1
    assert RES in res.err and "has a result" in res.err
    assert (pending.path / EXP).read_bytes() == before


def test_a_failed_record_passes_the_hooks(pending: ExpRepo, cli, tmp_path: Path) -> None:
    assert cli(["fail", "exp-001", "--reason", "diverged"], cwd=pending.path).code == 0
    pending.stage()
    res = cli(["validate", "--staged"], cwd=pending.path)
    assert res.code == 0, res.both


def test_new_commands_are_listed_in_help(exp_repo: ExpRepo, cli) -> None:
    res = cli(["--help"], cwd=exp_repo.path)
    assert "start" in res.out and "fail" in res.out
