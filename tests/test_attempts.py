"""Every attempt counted (issue 16, item 3's outputs; docs/spec.md §6.2, §6.3, §6.5).

A repository with successful, failed, skipped, pending and running records (written
as JSON, as the schema allows them): the audit's report counts every record per study
and status and lists the runs left off the board with their reason, hash-chained and
recomputed by `verify --repo`; text, Markdown, GitHub annotations, the scorecard and
`rank` (table, md, json) all show them. Before issue 16 none of them did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import CliCall, ExpRepo
from helpers_audit import reseal, statement_of

from expflow_git.report.statement import chain, genesis_hash

STUDY = "pdebench-task1"
OTHER = "pdebench-task2"
# id: (study, status, reason, seg_total or None for no result)
RECORDS: dict[str, tuple[str, str, str | None, float | None]] = {
    "exp-001": (STUDY, "success", None, 57.09),
    "exp-002": (STUDY, "success", None, 55.2),
    "exp-003": (STUDY, "failed", "CUDA out of memory at epoch 3", None),
    "exp-004": (STUDY, "skipped", "superseded by exp-002", None),
    "exp-005": (STUDY, "pending", None, None),
    "exp-006": (OTHER, "running", None, None),
    "exp-007": (OTHER, "success", None, 50.0),
    "exp-008": (OTHER, "failed", "<b>NaN</b> loss\n::error::forged", None),
}


def rechained(statement: dict[str, Any]) -> bytes:
    """The statement with its entries chained again (a forger can do that: only the
    signature and the rules that tie entries together stop a forged report), unsigned."""
    p = statement["predicate"]
    bodies = [
        {k: v for k, v in e.items() if k not in ("seq", "prev", "hash")} for e in p["entries"]
    ]
    genesis = genesis_hash(p["repo"]["commit"], p["policy"]["gitBlob"], p["inputs"]["merkleRoot"])
    p["entries"] = chain(bodies, genesis)
    p["entriesHead"] = {"count": len(p["entries"]), "hash": p["entries"][-1]["hash"]}
    return reseal(statement, None)


@pytest.fixture
def repo(exp_repo: ExpRepo) -> ExpRepo:
    for exp_id, (study, status, reason, seg) in RECORDS.items():
        extra: dict[str, Any] = {"reason": reason} if reason is not None else {}
        exp_repo.add_experiment(exp_id, study=study, status=status, **extra)
        if seg is not None:
            metrics = {"seg_total": seg, "pde_mean": 15.0, "train_time_min": 45.5}
            exp_repo.add_result(exp_id, study, metrics=metrics)
    exp_repo.commit("runs")
    return exp_repo


def test_the_report_counts_every_record_and_lists_the_excluded_runs(
    repo: ExpRepo, cli: CliCall
) -> None:
    res = cli(["audit", "--out", "report.json", "--format", "json"], repo.path)
    assert res.code == 0, res.err
    p = statement_of((repo.path / "report.json").read_bytes())["predicate"]
    attempts = [e for e in p["entries"] if e["type"] == "attempts"]
    assert [a["study"] for a in attempts] == [STUDY, OTHER]
    assert attempts[0]["counts"] == {
        "success": 2,
        "failed": 1,
        "skipped": 1,
        "running": 0,
        "pending": 1,
    }
    assert attempts[0]["excluded"] == [
        {
            "id": "exp-003",
            "path": f"experiments/{STUDY}/exp-003.json",
            "status": "failed",
            "reason": "CUDA out of memory at epoch 3",
        },
        {
            "id": "exp-004",
            "path": f"experiments/{STUDY}/exp-004.json",
            "status": "skipped",
            "reason": "superseded by exp-002",
        },
        {"id": "exp-005", "path": f"experiments/{STUDY}/exp-005.json", "status": "pending",
         "reason": ""},
    ]  # fmt: skip
    assert [e["id"] for e in attempts[1]["excluded"]] == ["exp-006", "exp-008"]
    assert p["result"]["attempts"] == {
        "failed": 2,
        "pending": 1,
        "running": 1,
        "skipped": 1,
        "success": 3,
        "total": 8,
    }
    assert p["result"]["counts"]["runs"] == 3  # the board holds only the successful runs
    # The attempts entries come after the findings and corrections, before the runs.
    kinds = [e["type"] for e in p["entries"]]
    assert kinds[:2] == ["attempts", "attempts"] and kinds[2] == "run"


def test_verify_recomputes_the_attempts_and_refuses_a_dropped_failure(
    repo: ExpRepo, cli: CliCall
) -> None:
    assert cli(["audit", "--out", "report.json"], repo.path).code == 0
    ok = cli(["verify", "report.json", "--allow-unsigned", "--repo", "."], repo.path)
    assert ok.code == 0, ok.out
    statement = statement_of((repo.path / "report.json").read_bytes())
    entries = statement["predicate"]["entries"]
    first = next(e for e in entries if e["type"] == "attempts")
    # A report that hides a failed run: the count says one failed run, the list none.
    first["excluded"] = [x for x in first["excluded"] if x["status"] != "failed"]
    (repo.path / "forged.json").write_bytes(rechained(statement))
    res = cli(["verify", "forged.json", "--allow-unsigned"], repo.path)
    assert res.code == 1
    assert f"attempts of study '{STUDY}': the excluded runs do not match" in res.out
    # Hiding it from the count too is caught by the recompute against the repository.
    first["counts"]["failed"] = 0
    statement["predicate"]["result"]["attempts"]["failed"] -= 1
    statement["predicate"]["result"]["attempts"]["total"] -= 1
    (repo.path / "forged.json").write_bytes(rechained(statement))
    res = cli(["verify", "forged.json", "--allow-unsigned", "--repo", "."], repo.path)
    assert res.code == 1 and "FAIL recompute" in res.out, res.out


def test_text_markdown_and_annotations_count_every_attempt(repo: ExpRepo, cli: CliCall) -> None:
    text = cli(["audit"], repo.path).out
    assert "attempts: 8 record(s): 3 success, 2 failed, 1 skipped, 1 running, 1 pending" in text
    assert f"  {STUDY}: 5 record(s): 2 success, 1 failed, 1 skipped, 1 pending" in text
    assert "excluded from the ranking (5):" in text
    assert f"exp-003  {STUDY}  failed   CUDA out of memory at epoch 3" in text
    assert f"exp-005  {STUDY}  pending  no reason given" in text
    # A reason is the pull request's text: one line, no workflow command, no markup.
    assert f"exp-008  {OTHER}  failed   <b>NaN</b> loss\\x0a::error::forged\n" in text
    assert not any(line.lstrip().startswith("::") for line in text.splitlines())
    md = cli(["audit", "--format", "md"], repo.path).out
    assert "### Every attempt" in md
    assert f"- `exp-003` ({STUDY}) **failed**: CUDA out of memory at epoch 3" in md
    assert "- `exp-005` (pdebench\\-task1) **pending**: _no reason given_" in md or (
        f"- `exp-005` ({STUDY}) **pending**: _no reason given_" in md
    )
    assert "<b>" not in md and "\\<b\\>NaN\\</b\\> loss" in md
    gh = cli(["audit", "--format", "github"], repo.path).out
    assert (
        "::notice title=expflow attempts::8 record(s): 3 success, 2 failed, 1 skipped, "
        "1 running, 1 pending"
    ) in gh


def test_the_scorecard_lists_attempts_and_excluded_runs(repo: ExpRepo, cli: CliCall) -> None:
    assert cli(["audit", "--html", "card.html"], repo.path).code == 0
    page = (repo.path / "card.html").read_text(encoding="utf-8")
    assert "Every attempt (8)" in page
    assert "CUDA out of memory at epoch 3" in page
    assert "&lt;b&gt;NaN&lt;/b&gt; loss\\x0a::error::forged" in page
    assert "<b>NaN" not in page
    # The saved report renders the same page as the audit did.
    assert cli(["audit", "--out", "r.json"], repo.path).code == 0
    again = cli(["report", "r.json", "--html", "again.html"], repo.path)
    assert again.code == 0, again.err
    assert (repo.path / "again.html").read_text(encoding="utf-8") == page


def test_rank_counts_every_attempt_of_its_selection(repo: ExpRepo, cli: CliCall) -> None:
    table = cli(["rank"], repo.path)
    assert table.code == 0, table.err
    assert "attempts: 8 record(s): 3 success, 2 failed, 1 skipped, 1 running, 1 pending" in (
        table.out
    )
    assert f"exp-004  {STUDY}  skipped  superseded by exp-002" in table.out
    one = cli(["rank", "--study", OTHER, "--format", "json"], repo.path)
    doc = json.loads(one.out)
    assert doc["attempts"] == [
        {
            "study": OTHER,
            "counts": {"success": 1, "failed": 1, "skipped": 0, "running": 1, "pending": 0},
            "excluded": [
                {"id": "exp-006", "path": f"experiments/{OTHER}/exp-006.json",
                 "status": "running", "reason": ""},
                {"id": "exp-008", "path": f"experiments/{OTHER}/exp-008.json",
                 "status": "failed", "reason": "<b>NaN</b> loss\n::error::forged"},
            ],
        }
    ]  # fmt: skip
    md = cli(["rank", "--format", "md"], repo.path).out
    assert (
        "### Every attempt" in md
        and "**skipped**: superseded by exp\\-002" in md
        or ("**skipped**: superseded by exp-002" in md)
    )
    csv = cli(["rank", "--format", "csv"], repo.path).out
    assert "attempts" not in csv  # a CSV is one table


def test_a_report_without_records_has_no_attempts(committed_repo: ExpRepo, cli: CliCall) -> None:
    res = cli(["audit", "--out", "r.json"], committed_repo.path)
    assert res.code == 1  # no feasible run
    p = statement_of((committed_repo.path / "r.json").read_bytes())["predicate"]
    assert "attempts" not in p["result"]
    assert all(e["type"] != "attempts" for e in p["entries"])
    assert "attempts:" not in res.out


def test_the_top_runs_params_that_differ_are_in_the_report(repo: ExpRepo, cli: CliCall) -> None:
    repo.add_experiment("exp-002", params={"Args/--sub_step": 5, "lr": 0.01, "model": "fno"})
    repo.commit("lr")
    assert cli(["audit", "--out", "r.json"], repo.path).code == 0
    p = statement_of((repo.path / "r.json").read_bytes())["predicate"]
    (params,) = [e for e in p["entries"] if e["type"] == "params"]
    assert params["runs"] == ["exp-001", "exp-002", "exp-007"]
    assert params["differ"] == {"lr": {"exp-001": 0.001, "exp-002": 0.01, "exp-007": 0.001}}
    assert params["same"] == 2
    ok = cli(["verify", "r.json", "--allow-unsigned", "--repo", "."], repo.path)
    assert ok.code == 0, ok.out


def test_params_equal_as_numbers_do_not_differ() -> None:
    """`lr: 1` and `lr: 1.0` were reported as differing, then both printed as 1 (an
    attacker's hunt): numbers compare by value, as frozen fields do; True is no 1."""
    from expflow_git.audit.params import compare

    top = compare(["a", "b"], [{"lr": 1, "on": True, "k": 2}, {"lr": 1.0, "on": 1, "k": 2.5}])
    assert top.differ == {"on": {"a": True, "b": 1}, "k": {"a": 2, "b": 2.5}}
    assert top.same == 1


def test_reason_is_optional_in_the_record(exp_repo: ExpRepo, cli: CliCall, tmp_path: Path) -> None:
    exp_repo.add_experiment("exp-001", status="failed")
    exp_repo.commit("failed")
    res = cli(["validate"], exp_repo.path)
    assert res.code == 0, res.both


def test_a_saved_report_shows_every_attempt(repo: ExpRepo, cli: CliCall) -> None:
    assert cli(["audit", "--out", "r.json"], repo.path).code == 0
    text = cli(["report", "r.json"], repo.path)
    assert text.code == 0, text.err
    assert "excluded from the ranking (5):" in text.out
    md = cli(["report", "r.json", "--format", "md"], repo.path)
    assert f"- `exp-003` ({STUDY}) **failed**: CUDA out of memory at epoch 3" in md.out
