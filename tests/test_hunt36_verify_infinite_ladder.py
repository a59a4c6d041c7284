"""A forged report whose run scores and ladder step make the released score an
infinity (1.7e308 over a step of 1e308): `verify --allow-unsigned` and `report` said
so with a traceback (ValueError in canonical_json), where the report fails, exit 1
(a hunter's find, issue 18 thirty-sixth pass)."""

from __future__ import annotations

from pathlib import Path

from helpers_audit import Cli, reseal
from test_ladder import _rechain, _report, ladder_repo


def _forged(xcli: Cli, tmp_path: Path) -> Path:
    r = ladder_repo(tmp_path / "repo", [0, 1, 2, 3])
    st = _report(xcli, r)
    p = st["predicate"]
    p["policy"]["ranking"]["ladderStep"] = 1e308
    p["policy"]["ranking"]["descending"] = False
    runs = [e for e in p["entries"] if e["type"] == "run"]
    for e in runs:
        e["metrics"]["seg_total"] = 1.7e308
    p["result"]["ladder"] = {"step": 1e308, "score": 1}
    _rechain(st)
    forged = tmp_path / "forged.json"
    forged.write_bytes(reseal(st, None))
    return forged


def test_an_infinite_released_score_fails_the_result_line(xcli: Cli, tmp_path: Path) -> None:
    forged = _forged(xcli, tmp_path)
    res = xcli(["verify", str(forged), "--allow-unsigned"], tmp_path)
    assert res.code == 1, res
    assert "FAIL result" in res.out and "ladder" in res.out, res.out
    assert "Traceback" not in res.err


def test_report_refuses_it_without_a_traceback(xcli: Cli, tmp_path: Path) -> None:
    forged = _forged(xcli, tmp_path)
    res = xcli(["report", str(forged)], tmp_path)
    assert res.code == 1, res
    assert "Traceback" not in res.err


def test_attempt_totals_past_json_integers_fail_the_result_line(xcli: Cli, tmp_path: Path) -> None:
    """Two studies' attempts of 2**53 - 1 each: their total, what the entries imply,
    is past the integers canonical JSON holds (rfc8785's IntegerDomainError)."""
    r = ladder_repo(tmp_path / "repo", [0, 1])
    st = _report(xcli, r)
    p = st["predicate"]
    counts = {"success": 2**53 - 1, "failed": 0, "skipped": 0, "running": 0, "pending": 0}
    p["entries"] += [
        {"type": "attempts", "study": study, "counts": counts, "excluded": []}
        for study in ("a", "b")
    ]
    p["result"]["attempts"] = {"success": 1, "total": 1}
    _rechain(st)
    forged = tmp_path / "forged.json"
    forged.write_bytes(reseal(st, None))
    res = xcli(["verify", str(forged), "--allow-unsigned"], tmp_path)
    assert res.code == 1, res
    assert "FAIL result" in res.out and "attempts" in res.out, res.out
