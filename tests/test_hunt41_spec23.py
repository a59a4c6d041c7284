"""Are docs/spec.md §2 (the experiment repository) and §3 (the policy) true? (issue 18,
forty-first pass: each claim checked against the real CLI.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers_audit import (
    STUDY,
    add_run,
    experiment,
    m,
    new_repo,
    result,
    run_cli,
    write_json,
)
from support import PROJECT

SPEC = (PROJECT / "docs/spec.md").read_text(encoding="utf-8")


def _section(start: str, end: str) -> str:
    return SPEC[SPEC.index(start) : SPEC.index(end)]


@pytest.mark.parametrize(
    "moment",
    [
        "2026-13-01T09:00:00Z",  # month 13
        "2026-11-31T09:00:00Z",  # November has 30 days
        "2026-02-29T09:00:00Z",  # 2026 is no leap year
        "2026-11-20T24:00:00Z",  # hour 24
        "2026-11-20T09:60:00Z",  # minute 60
        "2026-11-20T09:00:61Z",  # second 61
        "2026-11-20T09:00:00+25:00",  # offset hour 25
    ],
)
def test_a_time_that_is_no_rfc3339_date_time_breaks_the_schema(tmp_path: Path, moment: str) -> None:
    """§2.1: `created_at` (RFC 3339); the schema's pattern took any two digits for a
    month, a day or an hour (`2026-13-45T25:61:61Z` validated). A result's
    `recorded_at` is read alike."""
    root = new_repo(tmp_path / "repo")
    add_run(root, "e1", m(50.0))
    doc = experiment("e2")
    doc["created_at"] = moment
    write_json(root, f"experiments/{STUDY}/e2.json", doc)
    res = run_cli(["validate"], root)
    assert res.code == 1, res.out + res.err
    assert f"experiments/{STUDY}/e2.json#/created_at: schema:" in res.out + res.err

    later = result("e1", m(50.0))
    later["recorded_at"] = moment
    write_json(root, f"results/{STUDY}/e1.json", later)
    res = run_cli(["validate"], root)
    assert f"results/{STUDY}/e1.json#/recorded_at: schema:" in res.out + res.err


@pytest.mark.parametrize(
    "moment",
    ["2028-02-29T09:00:00Z", "2000-02-29T23:59:60.5+14:00", "2026-12-31T00:00:00-00:30"],
)
def test_an_rfc3339_date_time_passes(tmp_path: Path, moment: str) -> None:
    root = new_repo(tmp_path / "repo")
    doc = experiment("e1")
    doc["created_at"] = moment
    write_json(root, f"experiments/{STUDY}/e1.json", doc)
    later = result("e1", m(50.0))
    later["recorded_at"] = moment
    write_json(root, f"results/{STUDY}/e1.json", later)
    res = run_cli(["validate"], root)
    assert res.code == 0, res.out + res.err


def test_the_spec_names_the_finding_for_a_result_of_a_run_not_success(tmp_path: Path) -> None:
    """§2.2 said a result whose record is not `success` is `result-without-record`; the
    tool names it `result-for-unsuccessful-run` (at the result, and in `validate` at
    the record too), a name the spec never gave."""
    root = new_repo(tmp_path / "repo")
    add_run(root, "e1", m(50.0), status="failed")
    res = run_cli(["validate"], root)
    assert res.code == 1
    codes = set(re.findall(r": ([a-z-]+): ", res.out + res.err))
    assert codes == {"result-for-unsuccessful-run"}, res.out + res.err
    section = _section("### 2.2 Result", "### 2.3 Strict JSON")
    assert "`result-for-unsuccessful-run`" in section


def test_a_merge_reaching_its_own_mapping_by_nesting_is_refused_at_its_merge_key(
    tmp_path: Path,
) -> None:
    """§3: "a merge may not reach the mapping that holds it. Past either, the policy is
    refused (exit 2), naming the line and column of the `<<`". A merge of a mapping
    that holds the merging one by nesting (not by another merge) was refused only as
    "policy nests more than 64 levels deep", naming no line."""
    policy = (
        "version: 1\n"
        "metrics: &m\n"
        "  seg_total: {group: Score, higher_is_better: true}\n"
        "  other:\n"
        "    deeper: [{<<: *m}]\n"
    )
    root = new_repo(tmp_path / "repo", policy)
    res = run_cli(["validate"], root)
    assert res.code == 2, res.out + res.err
    assert res.err.strip() == (
        "expflow-git: error: expflow.yaml:5:15: invalid YAML: a merge key (<<) merges a "
        "mapping that holds it"
    ), res.err
    assert "Traceback" not in res.err
