"""The HTML scorecard (docs/spec.md §6.5): contents, escaping, self-contained, determinism, charts.

Real reports come from real repositories (the demo, and a variant with a gate on the
ranking metric and a broken document); edge cases (0, 1 and 10,000 runs, negative,
equal, huge and missing values) use hand-built Views. One test renders the page in
headless Chromium and checks the screenshot is not blank.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import NO_SIGNING, CliResult, git, run_cli

from expflow_git.demo import build_repo
from expflow_git.policy.model import Gate, Op
from expflow_git.render.charts import MAX_CHART_RUNS
from expflow_git.render.html import MAX_TABLE_ROWS, render_html
from expflow_git.render.view import FindingLine, Row, View, view_from_statement

EVIL = '<script>alert("x")</script>\'&'
SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'


# --- helpers ----------------------------------------------------------------


def make_view(rows: Sequence[Row] = (), **overrides: Any) -> View:
    fields: dict[str, Any] = dict(
        commit="c" * 40,
        tree="d" * 40,
        policy_path="expflow.yaml",
        created_at="2026-11-20T10:00:00Z",
        verdict="pass",
        signed_by=(),
        sort_by="score",
        descending=True,
        metric_columns=("score",),
        rows=tuple(rows),
        findings=(),
        best_any=None,
        best_feasible=None,
        walk=None,
        inputs=len(rows) * 2,
        tool_version="0.1.0",
    )
    fields.update(overrides)
    return View(**fields)


def run(n: int, value: float | None, *, feasible: bool = True, rank: int | None = None) -> Row:
    return Row(
        rank,
        f"run-{n:05d}",
        "study",
        f"results/study/run-{n:05d}.json",
        feasible,
        {} if value is None else {"score": value},
        () if feasible else ("score:gt:0 (too low)",),
    )


def walk(points: Sequence[tuple[str, float, float]], **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "metric": "score",
        "split": "holdout",
        "topN": 10,
        "minPearson": 0.3,
        "status": "pass",
        "r": 0.5,
        "n": len(points),
        "points": [list(p) for p in points],
        "reason": "",
    }
    entry.update(overrides)
    return entry


def chart_svg(page: str) -> str:
    """The ranking-metric chart's <svg> element."""
    match = re.search(r'<svg[^>]*aria-labelledby="chart-title.*?</svg>', page, re.S)
    assert match, "no ranking-metric chart"
    return match.group(0)


def scatter_svg(page: str) -> str:
    match = re.search(r'<svg[^>]*aria-labelledby="walk-title.*?</svg>', page, re.S)
    assert match, "no walk-forward scatter"
    return match.group(0)


def floats(attr: str, svg: str) -> list[float]:
    return [float(v) for v in re.findall(rf' {attr}="([^"]*)"', svg)]


def view_box(svg: str) -> tuple[float, float]:
    match = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    assert match
    return float(match.group(1)), float(match.group(2))


VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "footer", "section",
    "div", "h1", "h2", "h3", "p", "span", "code", "dl", "dt", "dd", "figure", "figcaption",
    "table", "caption", "thead", "tbody", "tr", "th", "td", "ol", "li", "wbr",
    "svg", "desc", "g", "rect", "line", "circle", "path", "text", "tspan",
}  # fmt: skip


class _Structure(HTMLParser):
    """Collects tags and attributes and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def structure(page: str) -> _Structure:
    parser = _Structure()
    parser.feed(page)
    parser.close()
    return parser


def assert_self_contained(page: str) -> None:
    assert "<script" not in page.lower()
    without_ns = page.replace(SVG_NS, "")
    assert "http://" not in without_ns and "https://" not in without_ns
    for needle in ("url(", "@import", "<link", " src=", " href=", "javascript:"):
        assert needle not in page.lower(), needle


def _env(home: Path) -> dict[str, str]:
    return {
        "EXPFLOW_HOME": str(home),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        **NO_SIGNING,
    }


def cli(args: Sequence[str], cwd: Path) -> CliResult:
    return run_cli(list(args), cwd, _env(cwd.parent / "home"))


def statement_of(report: Path) -> tuple[dict[str, Any], list[str]]:
    envelope = json.loads(report.read_bytes())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    return statement, [s["keyid"] for s in envelope["signatures"]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `demo` command's output: a signed report of seven runs with walk-forward."""
    base = tmp_path_factory.mktemp("demo")
    (base / "home").mkdir()
    proc = cli(["demo", "--dir", str(base)], cwd=base / "home")
    assert proc.code == 0, proc.both
    return base


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo repository with a gate on the ranking metric and a broken document."""
    base = tmp_path_factory.mktemp("gated")
    (base / "home").mkdir()
    repo = base / "repo"
    repo.mkdir()
    build_repo(repo)
    policy = repo / "expflow.yaml"
    policy.write_text(policy.read_text().replace("gates: []", 'gates: ["seg_total:gt:53"]'))
    bad = {"schema": "expflow/result@1", "experiment": EVIL, "metrics": {}}
    (repo / "results" / "pdebench-task1" / "bad.json").write_text(json.dumps(bad))
    env = _env(repo.parent / "home")
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "gate on seg_total; a broken result", env=env)
    proc = cli(
        ["audit", "--html", str(base / "card.html"), "--out", str(base / "report.json")], repo
    )
    assert proc.code == 1, proc.both  # the broken document fails it
    return base


# --- real reports -------------------------------------------------------------


def test_demo_scorecard_shows_verdict_signature_best_runs_and_walk_forward(demo: Path) -> None:
    statement, keyids = statement_of(demo / "report.json")
    page = render_html(view_from_statement(statement, keyids))
    assert re.search(r'<header class="banner pass"[^>]*>.*<h1>PASS</h1>', page, re.S)
    assert f"Report signed by {keyids[0]}" in page
    assert "UNSIGNED" not in page
    commit = statement["predicate"]["repo"]["commit"]
    assert commit in page and "expflow.yaml" in page
    cards = re.search(r'<div class="cards">.*?(?=<section)', page, re.S)
    assert cards
    assert ">exp-001<" in cards.group(0)  # best_feasible
    assert ">exp-002<" in cards.group(0) and "pde_mean:lt:18.09" in cards.group(0)  # best_any
    # Leaderboard: seven rows, the three infeasible ones marked and their failed checks shown
    # on a line of their own under each.
    board = page[page.index('id="h-board"') :].split("</section>")[0]
    assert board.count("<tr") == 1 + 7 + 3
    assert board.count('<tr class="infeasible">') == board.count('<tr class="why">') == 3
    (slow,) = [e for e in statement["predicate"]["entries"] if e.get("id") == "exp-004"]
    (failed,) = [f"{c['name']} ({c['detail']})" for c in slow["checks"] if not c["passed"]]
    assert failed.startswith("train_time_min:lt:60 (72")
    assert f'<span class="chk">{failed.replace("<", "&lt;")}</span>' in page
    # Chart: one mark per run, crosses for the three infeasible runs.
    chart = chart_svg(page)
    assert chart.count("<g><title>") == 7
    assert chart.count('class="dot bad"') == 3
    # Walk-forward scatter: four points, the y = x line, r in the caption.
    scatter = scatter_svg(page)
    assert scatter.count('class="pt"') == 4
    assert 'class="diag"' in scatter
    assert "Pearson r = 0.9843" in page
    assert_self_contained(page)


def test_report_html_is_the_renderers_bytes_and_the_same_every_time(demo: Path) -> None:
    repo = demo / "repo"
    out1, out2 = demo / "one.html", demo / "two.html"
    for out in (out1, out2):
        proc = cli(
            ["report", str(demo / "report.json"), "--html", str(out),
             "--public-key", str(demo / "demo-key.pub")],
            repo,
        )  # fmt: skip
        assert proc.code == 0, proc.err
    statement, keyids = statement_of(demo / "report.json")
    expected = render_html(view_from_statement(statement, keyids)).encode()
    assert out1.read_bytes() == expected
    assert out2.read_bytes() == expected


def test_audit_html_draws_the_gate_and_escapes_document_text(gated: Path) -> None:
    page = (gated / "card.html").read_text()
    assert re.search(r"<h1>FAIL</h1><p>The audit failed: 2 finding\(s\)", page)
    assert "UNSIGNED" in page
    chart = chart_svg(page)
    lines = re.findall(r'<line class="threshold" x1="([\d.]+)"', chart)
    assert len(lines) == 1
    assert "gate &gt; 53" in chart
    # exp-007 (52.4) fails the gate: a cross, left of the line; exp-006 (53.9) passes, right of it.
    marks = dict(
        re.findall(r"<title>(?:#\d+ )?(exp-\d+) — .*?</title>.*?(?:cx|d)=\"M?([\d.]+)", chart)
    )
    assert float(marks["exp-007"]) + 5 < float(lines[0]) < float(marks["exp-006"])
    assert re.search(r"<title>exp-007 — seg_total 52.4 — infeasible: seg_total:gt:53", chart)
    # The broken document's text reaches the page only escaped.
    assert "<script>" not in page
    assert "&quot;&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;&#x27;&amp;&quot;" in page
    assert_self_contained(page)


def test_view_from_statement_collects_thresholds_and_gates(demo: Path, gated: Path) -> None:
    statement, keyids = statement_of(demo / "report.json")
    view = view_from_statement(statement, keyids)
    assert view.thresholds == (
        Gate("pde_mean", Op.LT, 18.09, source="threshold"),
        Gate("train_time_min", Op.LT, 60.0, source="threshold"),
    )
    assert view.thresholds_on("seg_total") == ()
    assert view.tool_version == statement["predicate"]["tool"]["version"]
    assert view.policy_blob == statement["predicate"]["policy"]["gitBlob"]
    assert len(view.rows) == 7 and view.best_any == "exp-002"  # existing fields unchanged
    gated_view = view_from_statement(*statement_of(gated / "report.json"))
    assert gated_view.thresholds_on("seg_total") == (Gate("seg_total", Op.GT, 53.0, source="gate"),)


# --- contents and safety ------------------------------------------------------


def test_every_field_is_escaped() -> None:
    rows = [
        Row(1, EVIL, EVIL, EVIL, True, {EVIL: 1.0}, ()),
        Row(None, EVIL + "2", EVIL, EVIL, False, {EVIL: 2.0}, (EVIL,)),
    ]
    view = make_view(
        rows,
        commit=EVIL,
        tree=EVIL,
        policy_path=EVIL,
        created_at=EVIL,
        signed_by=(EVIL,),
        sort_by=EVIL,
        metric_columns=(EVIL,),
        findings=(FindingLine(EVIL, EVIL, EVIL, EVIL, 3, 4),),
        best_any=EVIL + "2",
        best_feasible=EVIL,
        walk=walk([(EVIL, 1.0, 2.0)], metric=EVIL, split=EVIL, reason=EVIL),
        thresholds=(Gate(EVIL, Op.GT, 1.5, source="gate"),),
        tool_version=EVIL,
        policy_blob=EVIL,
    )
    page = render_html(view)
    assert "<script" not in page and '"x"' not in page and "'&" not in page
    parsed = structure(page)
    assert parsed.tags <= ALLOWED_TAGS, parsed.tags - ALLOWED_TAGS
    assert not any(a.startswith("on") for a in parsed.attrs)
    assert not parsed.errors and not parsed.stack


@pytest.mark.parametrize(
    "view",
    [
        make_view(),
        make_view([run(1, 3.0, rank=1)], best_any="run-00001", best_feasible="run-00001"),
        make_view(
            [run(i, float(i), feasible=i % 2 == 0) for i in range(30)],
            findings=(FindingLine("a.json", "schema", "bad", "/x", 2, 5),),
            walk=walk([(f"run-{i:05d}", i, i * 0.9) for i in range(30)]),
            thresholds=(Gate("score", Op.LT, 12.0, source="threshold"),),
            verdict="fail",
        ),
    ],
    ids=["no runs", "one run", "thirty runs"],
)
def test_page_is_well_formed_self_contained_and_deterministic(view: View) -> None:
    page = render_html(view)
    parsed = structure(page)
    assert not parsed.errors and not parsed.stack
    assert parsed.tags <= ALLOWED_TAGS
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert re.search(r"<title>expflow-git scorecard: (PASS|FAIL) — commit c{12}</title>", page)
    assert_self_contained(page)
    assert render_html(view) == page
    # The same data through a fresh View (as another process would build it): same bytes.
    assert render_html(View(**{f: getattr(view, f) for f in view.__dataclass_fields__})) == page


def test_no_runs_says_so_and_draws_no_chart() -> None:
    page = render_html(make_view(verdict="fail"))
    assert "No runs to chart." in page
    assert "No runs (no result with a successful experiment record)." in page
    assert 'aria-labelledby="chart-title' not in page
    assert "The audit failed: no feasible run." in page
    assert "No findings." in page


def test_one_run_is_one_mark_tagged_best() -> None:
    view = make_view([run(1, 3.0, rank=1)], best_any="run-00001", best_feasible="run-00001")
    chart = chart_svg(render_html(view))
    assert chart.count("<g><title>") == 1
    assert chart.count('class="dot ok"') == 1
    assert "best_feasible · best_any" in chart


def test_ten_thousand_runs_are_capped_in_the_chart_and_the_table() -> None:
    rows = [run(i, float(i % 997), feasible=i % 5 != 0) for i in range(10_000)]
    # The winner under the rules sits far below the top by score: it is drawn all the same.
    view = make_view(rows, best_feasible="run-00001", best_any="run-00996")
    page = render_html(view)
    chart = chart_svg(page)
    assert chart.count("<g><title>") == MAX_CHART_RUNS + 1
    assert "<title>run-00001 — score 1 — feasible</title>" in chart
    assert f"Showing the top {MAX_CHART_RUNS} of 10,000 runs by score and best_feasible." in page
    board = page[page.index('id="h-board"') :].split("</section>")[0]
    assert board.count("<tr") - board.count('<tr class="why">') == 1 + MAX_TABLE_ROWS
    assert f"Showing the first {MAX_TABLE_ROWS:,} of 10,000 runs" in page
    assert len(page) < 2_000_000


def test_missing_metric_is_left_out_of_the_chart_and_shown_as_a_dash() -> None:
    view = make_view([run(1, None), run(2, 5.0, rank=1)])
    page = render_html(view)
    chart = chart_svg(page)
    assert chart.count("<g><title>") == 1 and "run-00001" not in chart
    assert "1 run(s) without score not drawn" in page
    assert re.search(r"run-00001</code></th>.*?<td class=\"num\">-</td>", page, re.S)
    only_missing = render_html(make_view([run(1, None)]))
    assert "No run has score; nothing to chart." in only_missing


@pytest.mark.parametrize(
    "values",
    [[-3.5, -1.0, -12.25], [7.0, 7.0, 7.0], [0.0, 0.0], [1e308, -1e308], [5e-324, 0.0], [42.0]],
    ids=["negative", "equal", "zeros", "huge", "tiny", "single"],
)
def test_awkward_values_stay_inside_the_chart(values: list[float]) -> None:
    view = make_view([run(i, v) for i, v in enumerate(values)])
    check_chart_geometry(render_html(view), len(values))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=12),
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
)
def test_any_finite_values_give_a_sane_chart(values: list[float], gate: float | None) -> None:
    thresholds = () if gate is None else (Gate("score", Op.GE, gate, source="gate"),)
    view = make_view([run(i, v) for i, v in enumerate(values)], thresholds=thresholds)
    check_chart_geometry(render_html(view), len(values))


def check_chart_geometry(page: str, marks: int) -> None:
    chart = chart_svg(page)
    assert not re.search(r'="[^"]*(nan|inf)[^"]*"', chart)
    assert not re.search(r">-?(nan|inf)<", chart)
    width, height = view_box(chart)
    xs = floats("cx", chart) + floats("x1", chart) + floats("x2", chart)
    ys = floats("cy", chart) + floats("y1", chart) + floats("y2", chart)
    assert xs and all(0 <= x <= width for x in xs)
    assert ys and all(0 <= y <= height for y in ys)
    assert chart.count("<g><title>") == marks


def test_threshold_line_sits_between_passing_and_failing_runs() -> None:
    rows = [run(1, 10.0, rank=1), run(2, 8.0, rank=2), run(3, 2.0, feasible=False)]
    gate = Gate("score", Op.GT, 5.0, source="gate")
    other = Gate("time", Op.LT, 60.0, source="threshold")
    chart = chart_svg(render_html(make_view(rows, thresholds=(gate, other))))
    line = floats("x1", re.search(r'<line class="threshold"[^>]*>', chart).group(0))  # type: ignore[union-attr]
    dots = floats("cx", chart)  # the two feasible runs, best first
    cross = float(re.search(r'class="dot bad" d="M([\d.]+)', chart).group(1)) + 5  # type: ignore[union-attr]
    assert cross < line[0] < min(dots)
    assert chart.count('class="threshold"') == 1  # the threshold on another metric is not drawn
    zone = re.search(r'<rect class="zone" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', chart)
    assert zone and float(zone.group(1)) + float(zone.group(2)) == pytest.approx(line[0], abs=0.1)
    no_gate = render_html(make_view(rows, thresholds=(other,)))
    assert 'class="threshold"' not in chart_svg(no_gate)
    assert "No threshold or gate on score." in no_gate


def test_infeasible_runs_are_crosses_named_in_words() -> None:
    rows = [run(1, 3.0, rank=1), run(2, 9.0, feasible=False), run(3, 1.0, feasible=False)]
    page = render_html(make_view(rows, best_any="run-00002", best_feasible="run-00001"))
    chart = chart_svg(page)
    assert chart.count('class="dot bad"') == 2 and chart.count('class="dot ok"') == 1
    assert chart.count("— infeasible: score:gt:0 (too low)</title>") == 2
    assert '<td class="no">NO</td>' in page and '<td class="yes">yes</td>' in page
    legend = re.search(r'<div class="legend".*?</div>', page, re.S)
    assert legend and "feasible" in legend.group(0) and "infeasible" in legend.group(0)


def test_walk_forward_scatter_has_points_the_diagonal_and_r() -> None:
    points = [("a", 1.0, 1.5), ("b", 2.0, 1.0), ("c", 3.0, 3.5)]
    page = render_html(make_view([run(1, 1.0)], walk=walk(points, r=0.5)))
    scatter = scatter_svg(page)
    assert scatter.count('class="pt"') == 3
    x1, y1, x2, y2 = (
        float(v)
        for v in re.search(  # type: ignore[union-attr]
            r'class="diag" x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"', scatter
        ).groups()
    )
    # One domain for both axes: y = x runs corner to corner of the square plot.
    assert x2 - x1 == pytest.approx(y1 - y2) and x2 > x1
    assert "Pearson r = 0.5000 between score and holdout/score over 3 run(s)" in page
    assert '<span class="status pass">PASS</span>' in page
    short = render_html(
        make_view(walk=walk(points[:2], r=None, status="insufficient", reason="2 run(s)"))
    )
    assert "Pearson r = n/a" in short and '<span class="status insufficient">' in short
    assert "Walk-forward" not in render_html(make_view([run(1, 1.0)]))


def test_verdict_and_signature_are_in_words_not_colour_alone() -> None:
    failing = make_view(
        [run(1, 1.0, feasible=False)],
        verdict="fail",
        findings=(FindingLine("a.json", "schema", "bad"), FindingLine("b.json", "schema", "x")),
        walk=walk([], status="fail", r=0.1),
    )
    page = render_html(failing)
    assert "<h1>FAIL</h1>" in page
    assert "The audit failed: 2 finding(s); no feasible run; walk-forward gate fail." in page
    assert "Report UNSIGNED — not signed by any key" in page
    assert "<h1>PASS</h1>" in render_html(make_view(signed_by=("SHA256:abc",)))
    focused = render_html(
        make_view([run(7, 1.0, feasible=False)], verdict="fail", focus="run-00007")
    )
    assert "The audit failed for experiment run-00007: run run-00007 is infeasible." in focused


def test_findings_are_listed_with_location_and_rule() -> None:
    findings = tuple(
        FindingLine(f"r/{i}.json", "schema", f"msg {i}", "/id", i + 1, 2) for i in range(3)
    )
    page = render_html(make_view(findings=findings, verdict="fail"))
    assert "Findings (3)" in page
    assert page.count("<li>") == 3
    assert '<li><code>r/0.json:1:2#/id</code> <span class="rule">schema</span>: msg 0</li>' in page


# --- headless Chromium --------------------------------------------------------


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, unfiltered pixel rows) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return width, height, bpp, bytes(out)


def colours(width: int, height: int, bpp: int, pixels: bytes) -> Iterator[tuple[int, int, int]]:
    for i in range(0, width * height * bpp, bpp):
        yield pixels[i], pixels[i + 1], pixels[i + 2]


@pytest.mark.chromium
def test_chromium_renders_a_non_blank_scorecard(demo: Path, tmp_path: Path) -> None:
    statement, keyids = statement_of(demo / "report.json")
    page = tmp_path / "scorecard.html"
    page.write_text(render_html(view_from_statement(statement, keyids)), encoding="utf-8")
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert shot.is_file(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    width, height, bpp, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 1600)
    seen = set(colours(width, height, bpp, pixels))
    assert len(seen) > 20, f"the screenshot is nearly blank: {len(seen)} colour(s)"
    # The PASS banner's green background made it to the screen.
    assert (0xDA, 0xFB, 0xE1) in seen
