"""An attacker's hunt of the seeds' features (thirty-eighth pass): advisory checks and
step-wise observations (series). Regression tests for what it found."""

from __future__ import annotations

import re
from pathlib import Path

from helpers_audit import POLICY, Cli, add_run, commit_all, m, new_repo

RULE = "  - {param: sub_step, op: gt, value: 0, required: true}\n"


def test_a_rule_repeated_as_a_warning_with_its_number_in_a_string_is_one_error(
    xcli: Cli, tmp_path: Path
) -> None:
    """A rule compares a bound spelled as a number in a string as that number (docs/spec.md
    §3, "Numbers in strings": on either side), so `value: "0"` and `value: 0` are one
    condition, and "the same condition given as both is one check, an error". The two
    were two checks of one name, `sub_step:gt:0`: a run failing it was listed with the
    error and again with a warning (`warning: sub_step:gt:0 (… not > '0')`)."""
    warning = RULE.replace("value: 0", 'value: "0"').replace("}", ", severity: warning}")
    r = new_repo(tmp_path / "repo", POLICY.replace(RULE, RULE + warning))
    add_run(r, "low", m(57.0), sub_step=-1)
    add_run(r, "ok", m(58.0))
    commit_all(r)
    shown = xcli(["show", "low"], r)
    assert shown.code == 0, shown
    checks = [ln.split() for ln in shown.out.splitlines() if "sub_step:gt:0" in ln]
    assert [c[:3] for c in checks] == [["FAIL", "rule", "sub_step:gt:0"]], shown.out
    audit = xcli(["audit"], r)
    assert audit.code == 0, audit
    low = next(ln for ln in audit.out.splitlines() if " low " in ln)
    assert "warning:" not in low and "sub_step:gt:0 (sub_step = -1 not > 0)" in low
    assert "fail an advisory check" not in audit.out


WARN_GATE = "{gate: 'seg_total:gt:56', severity: warning}"


def _zones_and_labels(page: str) -> tuple[list[str], list[str], str]:
    chart = re.search(r'<section aria-labelledby="h-chart">.*?</section>', page, re.S)
    assert chart, "no dot chart"
    text = chart.group(0)
    zones = re.findall(r'<rect class="zone"[^>]*>', text)
    labels = re.findall(r'<text [^>]*class="best">([^<]*)</text>', text)
    desc = re.search(r'<desc id="chart-desc">([^<]*)</desc>', text)
    assert desc
    return zones, labels, desc.group(1)


def test_the_scorecard_chart_draws_an_advisory_gate_as_one_no_run_fails(
    xcli: Cli, tmp_path: Path
) -> None:
    """The dot chart read a gate back from its check's name alone, as an error: an
    advisory gate on the ranking metric was drawn as a threshold whose shaded side
    "fails" (the legend's words), with a feasible run's dot inside it and nothing to say
    it is a warning, where a failed warning "changes no feasibility" (docs/spec.md §6.2
    item 4). It is drawn without the shaded zone and labelled a warning, in `audit
    --html` and in `report --html` alike."""
    policy = POLICY.replace("gates: []", f"gates: [{WARN_GATE}]")
    r = new_repo(tmp_path / "repo", policy)
    add_run(r, "lucky", m(55.0))  # fails only the advisory gate: feasible, ranked
    add_run(r, "solid", m(57.0))
    commit_all(r)
    card, report = tmp_path / "card.html", tmp_path / "report.json"
    res = xcli(["audit", "--html", str(card), "--out", str(report)], r)
    assert res.code == 0, res
    saved = tmp_path / "saved.html"
    res = xcli(["report", str(report), "--html", str(saved)], r)
    assert res.code == 0, res
    for page in (card.read_text(), saved.read_text()):
        zones, labels, desc = _zones_and_labels(page)
        assert zones == [], zones  # no side of a warning "fails"
        assert labels == ["gate &gt; 56 (warning)"], labels
        assert "seg_total &gt; 56 (warning)" in desc, desc
    # A blocking gate keeps its shaded side and its label.
    r2 = new_repo(tmp_path / "repo2", POLICY.replace("gates: []", "gates: ['seg_total:gt:56']"))
    add_run(r2, "lucky", m(55.0))
    add_run(r2, "solid", m(57.0))
    commit_all(r2)
    res = xcli(["audit", "--html", str(card)], r2)
    assert res.code == 0, res
    zones, labels, _ = _zones_and_labels(card.read_text())
    assert len(zones) == 1 and labels == ["gate &gt; 56"], (zones, labels)
