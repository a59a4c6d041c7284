"""Step-wise observations (issue 19 part 2, docs/spec.md §2.2): a result's `series`, checked
by `validate` and by the audit at the same JSON pointers; a headline value that
disagrees with its series' declared aggregate; the caps; the text form; the HTML
learning curves (deterministic, escaped, no script)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers_audit import POLICY, add_run, commit_all, m, new_repo, run_cli

from expflow_git.series import MAX_DOCUMENT_POINTS, MAX_SERIES_POINTS, series_text, sparkline

# The audit's policy, with a loss metric whose headline must be its series' last value.
SERIES_POLICY = POLICY.replace(
    "metrics:\n",
    "metrics:\n"
    "  loss: {group: Loss, higher_is_better: false, min: 0, aggregate: last}\n"
    "  val_acc: {group: Score, higher_is_better: true, min: 0, max: 1, aggregate: max}\n",
)
CURVE = [[0, 2.5], [100, 1.2], [200, 0.7], [300, 0.4]]


def _repo(tmp_path: Path, series: Any, headline: dict[str, float] | None = None) -> Path:
    repo = new_repo(tmp_path / "repo", SERIES_POLICY)
    add_run(repo, "exp-001", m(57.0, **(headline if headline is not None else {"loss": 0.4})))
    path = repo / "results/pdebench-task1/exp-001.json"
    doc = json.loads(path.read_text())
    doc["series"] = series
    path.write_text(json.dumps(doc, separators=(",", ":")))  # compact: under the 1 MiB cap
    commit_all(repo)
    return repo


def _both(repo: Path) -> tuple[str, str]:
    """What `validate` and `audit` say about the repository (each must fail, exit 1)."""
    validate = run_cli(["validate"], repo)
    audit = run_cli(["audit"], repo)
    assert validate.code == 1, validate.both
    assert audit.code == 1, audit.both
    assert "Traceback" not in validate.both + audit.both
    return validate.both, audit.both


def test_a_valid_series_passes_validate_and_audit(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"loss": CURVE, "val_acc": [[0, 0.5], [1, 0.9], [2, 0.8]]},
                 {"loss": 0.4, "val_acc": 0.9})  # fmt: skip
    assert run_cli(["validate"], repo).code == 0
    audit = run_cli(["audit"], repo)
    assert audit.code == 0, audit.both


@pytest.mark.parametrize(
    ("series", "pointer", "rule"),
    [
        ({"loss": [[0, 1.0], [5, 0.9], [5, 0.4]]}, "/series/loss/2/0", "series-step"),
        ({"loss": [[0, 1.0], [7, 0.9], [3, 0.4]]}, "/series/loss/2/0", "series-step"),
        ({"loss": [[0, 1.0], [1.5, 0.9], [3, 0.4]]}, "/series/loss/1/0", "schema"),
        ({"loss": [[0, 1.0], [2.0, 0.9], [3, 0.4]]}, "/series/loss/1/0", "series-step"),
        ({"loss": [[-1, 1.0], [3, 0.4]]}, "/series/loss/0/0", "schema"),
        ({"loss": [[0, 1.0], [1, -0.5], [3, 0.4]]}, "/series/loss/1/1", "metric-out-of-range"),
        ({"loss": CURVE, "los": CURVE}, "/series/los", "unknown-metric"),
        ({"loss": []}, "/series/loss", "schema"),
        ({"loss": [[0, 1.0, 2.0]]}, "/series/loss/0", "schema"),
    ],
)
def test_each_violation_is_a_finding_at_its_pointer(
    tmp_path: Path, series: Any, pointer: str, rule: str
) -> None:
    validate, audit = _both(_repo(tmp_path, series))
    where = f"results/pdebench-task1/exp-001.json#{pointer}"
    for out in (validate, audit):
        assert re.search(rf"{re.escape(where)}: {rule}\b", out), out


def test_a_step_with_a_fraction_is_shown_as_written(tmp_path: Path) -> None:
    """The message said `step 1 is not a non-negative integer` of a step written 1.0, and
    `step 0` of -0.0: the spelling at fault was hidden (a hunt, twenty-fourth pass)."""
    for step, shown in ((1.0, "1.0"), (-0.0, "-0.0")):
        validate, audit = _both(_repo(tmp_path / shown, {"loss": [[0, 1.0], [step, 0.4]]}))
        for out in (validate, audit):
            assert f"series-step: step {shown} is not" in out, out


def test_a_step_with_an_exponent_is_quoted_as_the_document_writes_it(tmp_path: Path) -> None:
    """`1e2` was refused as "step 100.0 is not a non-negative integer below 2^53", which
    100 is: the refusal stands (steps are written as integers), the message says so and
    quotes the document (a hunt, issue 18 twenty-fifth pass)."""
    repo = _repo(tmp_path, {"loss": [[0, 1.0], [7, 0.5], [8, 0.4]]})
    path = repo / "results/pdebench-task1/exp-001.json"
    text = path.read_text()
    assert '"series":{"loss":[[0,1.0],[7,0.5],[8,0.4]]}' in text
    # Spaced and escaped as a hand might write it; a second series first.
    path.write_text(
        text.replace(
            '"series":{"loss":[[0,1.0],[7,0.5],[8,0.4]]}',
            '"series" : {"val_acc": [[0, 0.5], [3.0, 0.6]],\n "l\\u006fss" : [ [ 0 , 1.0 ] ,'
            " [1e2, 0.5],[ 1.5E2 ,0.4 ] ] }",
        ).replace('"loss":0.4', '"loss":0.4,"val_acc":0.6')
    )
    commit_all(repo)
    validate, audit = _both(repo)
    rest = "is not written as an integer: steps are written as integers (digits only)"
    for out in (validate, audit):
        assert f"#/series/loss/1/0: series-step: step 1e2 {rest}" in out, out
        assert f"#/series/loss/2/0: series-step: step 1.5E2 {rest}" in out, out
        assert f"#/series/val_acc/1/0: series-step: step 3.0 {rest}" in out, out
        assert "100.0" not in out and "150.0" not in out


def test_a_headline_that_disagrees_with_its_aggregate_is_a_finding(tmp_path: Path) -> None:
    # loss: aggregate last is 0.4; the headline says 0.39 (the best value, not the last).
    validate, audit = _both(_repo(tmp_path, {"loss": CURVE}, {"loss": 0.39}))
    where = "results/pdebench-task1/exp-001.json#/metrics/loss: aggregate-mismatch"
    for out in (validate, audit):
        assert where in out, out
        assert "last value 0.4" in out


def test_aggregate_max_and_a_missing_headline(tmp_path: Path) -> None:
    series = {"val_acc": [[0, 0.5], [1, 0.9], [2, 0.8]]}
    _, audit = _both(_repo(tmp_path / "a", series, {"val_acc": 0.8}))  # the last, not the max
    assert "#/metrics/val_acc: aggregate-mismatch" in audit
    _, audit = _both(_repo(tmp_path / "b", series, {}))
    assert "#/metrics: aggregate-mismatch: metrics has no val_acc" in audit


def test_equal_numbers_in_other_spellings_agree(tmp_path: Path) -> None:
    # 1 and 1.0 are the same JSON number: no finding.
    repo = _repo(tmp_path, {"val_acc": [[0, 0.5], [1, 1]]}, {"val_acc": 1.0})
    assert run_cli(["audit"], repo).code == 0


def test_the_size_caps(tmp_path: Path) -> None:
    long = [[i, 1.0] for i in range(MAX_SERIES_POINTS + 1)]
    _, audit = _both(_repo(tmp_path / "a", {"loss": long}, {"loss": 1.0}))
    assert "#/series/loss: series-too-long" in audit
    per_doc = MAX_DOCUMENT_POINTS // MAX_SERIES_POINTS + 1
    many = {f"m{i}": [[j, 1] for j in range(MAX_SERIES_POINTS)] for i in range(per_doc)}
    _, audit = _both(_repo(tmp_path / "b", many, {"loss": 0.4}))
    assert "#/series: series-too-long" in audit
    assert "unknown-metric" not in audit  # over the document cap nothing else is read


def test_findings_per_document_are_bounded(tmp_path: Path) -> None:
    backwards = [[1000 - i, 0.5] for i in range(1000)]  # 999 steps that go down
    _, audit = _both(_repo(tmp_path, {"loss": backwards}, {"loss": 0.5}))
    assert audit.count("series-step") == 101
    assert "899 more problem(s) in the series, not listed" in audit


def test_a_result_without_series_is_unchanged(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", SERIES_POLICY)
    add_run(repo, "exp-001", m(57.0, loss=0.4))
    commit_all(repo)
    assert run_cli(["audit"], repo).code == 0


def test_series_text() -> None:
    text = series_text({"loss": CURVE, "acc": [[0, 0.5]], "evil\x1b[2J": [[0, 1.0]]})
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["acc", "▄", "n=1", "steps", "0..0"]
    assert lines[1].split() == ["evil\\x1b[2J", "▄", "n=1", "steps", "0..0", "min", "1", "max",
                                "1", "last", "1"]  # fmt: skip
    assert lines[2].split() == ["loss", "█▄▂▁", "n=4", "steps", "0..300", "min", "0.4", "max",
                                "2.5", "last", "0.4"]  # fmt: skip
    assert len({text.index("n=") for text in lines}) == 1  # names and bars aligned
    assert series_text({}) == ""
    assert len(sparkline([float(i) for i in range(1000)])) == 24
    assert sparkline([1e308, -1e308]) == "█▁"


def _curves_repo(tmp_path: Path) -> Path:
    repo = new_repo(tmp_path / "repo", SERIES_POLICY)
    for i, seg in enumerate((57.0, 58.0, 59.0)):
        curve = [[step, 2.0 / (step + 1) + i] for step in range(0, 1000, 10)]
        add_run(repo, f"exp-00{i}", m(seg, loss=curve[-1][1]))
        path = repo / f"results/pdebench-task1/exp-00{i}.json"
        doc = json.loads(path.read_text())
        doc["series"] = {"loss": curve}
        path.write_text(json.dumps(doc))
    add_run(repo, "exp-009", m(50.0))  # no series: not drawn
    commit_all(repo)
    return repo


def _curves(page: str) -> str:
    match = re.search(r'<section aria-labelledby="h-curves">.*?</section>', page, re.S)
    assert match, "no learning curves section"
    return match.group(0)


def test_the_scorecard_draws_the_top_runs_learning_curves(tmp_path: Path) -> None:
    repo = _curves_repo(tmp_path)
    pages = []
    for name in ("a.html", "b.html"):
        res = run_cli(["audit", "--html", str(tmp_path / name)], repo)
        assert res.code == 0, res.both
        pages.append((tmp_path / name).read_bytes())
    assert pages[0] == pages[1]  # deterministic
    section = _curves(pages[0].decode())
    assert section.count("<polyline") == 3
    # Best first (exp-002 has the highest seg_total), the run without series absent.
    assert re.findall(r"<g class=\"curve\"><title>(exp-\d+)</title>", section) == [
        "exp-002",
        "exp-001",
        "exp-000",
    ]
    assert "<script" not in pages[0].decode().lower()
    # Each line keeps its 100 points (under the thinning limit).
    first = re.search(r'points="([^"]+)"', section)
    assert first and len(first.group(1).split(" ")) == 100


def test_the_curves_are_the_top_five_ranked_runs_that_have_series(tmp_path: Path) -> None:
    """Runs without series do not take the five slots: the first five ranked were read
    and only then those without series dropped, so two of them at the top left three
    curves (a hunt, issue 18 twenty-fifth pass)."""
    repo = new_repo(tmp_path / "repo", SERIES_POLICY)
    for i in range(1, 8):  # r1 best (highest seg_total) ... r7
        curve = [[step, 1.0 / (step + 1) + i] for step in range(0, 50, 10)]
        add_run(repo, f"r{i}", m(70.0 - i, loss=curve[-1][1]))
        if i > 2:  # r1 and r2: no series
            path = repo / f"results/pdebench-task1/r{i}.json"
            doc = json.loads(path.read_text())
            doc["series"] = {"loss": curve}
            path.write_text(json.dumps(doc))
    commit_all(repo)
    res = run_cli(["audit", "--html", str(tmp_path / "c1.html")], repo)
    assert res.code == 0, res.both
    section = _curves((tmp_path / "c1.html").read_text())
    assert "top 5 ranked run(s) with series (r3, r4, r5, r6, r7)" in section
    assert re.findall(r"<g class=\"curve\"><title>(r\d)</title>", section) == [
        "r3", "r4", "r5", "r6", "r7"
    ]  # fmt: skip


def test_top_series_reads_in_batches_and_no_further_than_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expflow_git.audit.curves import top_series
    from expflow_git.audit.pipeline import run_audit
    from expflow_git.gitblobs import BlobReader
    from expflow_git.gitstore import Git

    repo = new_repo(tmp_path / "repo", SERIES_POLICY)
    for i in range(1, 13):
        add_run(repo, f"r{i:02}", m(70.0 - i, loss=0.5))
        if i in (4, 9, 12):
            path = repo / f"results/pdebench-task1/r{i:02}.json"
            doc = json.loads(path.read_text())
            doc["series"] = {"loss": [[0, 1.0], [1, 0.5]]}
            path.write_text(json.dumps(doc))
    commit_all(repo)
    git = Git.discover(repo)
    audit = run_audit(git, "HEAD", use_cache=False)
    assert [r.id for r in top_series(git, audit, limit=2)] == ["r04", "r09"]
    assert [r.id for r in top_series(git, audit, limit=5)] == ["r04", "r09", "r12"]
    assert [r.id for r in top_series(git, audit, limit=5, scan=9)] == ["r04", "r09"]
    assert top_series(git, audit, limit=0) == ()
    requests: list[int] = []
    read_many = BlobReader.read_many

    def spy(self: BlobReader, shas: Any) -> Any:
        shas = list(shas)
        requests.append(len(shas))
        return read_many(self, shas)

    monkeypatch.setattr(BlobReader, "read_many", spy)
    assert [r.id for r in top_series(git, audit, limit=1)] == ["r04"]
    assert requests == [1, 2, 4]  # r01, then r02..r03, then r04..r07: not r08..r12


def test_the_curves_escape_names_and_thin_long_series() -> None:
    from expflow_git.render.curves import MAX_LINE_POINTS, curves_section
    from expflow_git.render.view import View
    from expflow_git.series import RunSeries

    hostile = "<img src=x onerror=alert(1)>"
    view = View(
        commit="0" * 40, tree="0" * 40, policy_path="expflow.yaml", created_at="", verdict="pass",
        signed_by=(), sort_by="loss", descending=False, metric_columns=(), rows=(),
        findings=(), best_any=None, best_feasible=None, walk=None,
        curves=(RunSeries(hostile, {hostile: [[i, float(i % 7)] for i in range(5000)]}),),
    )  # fmt: skip
    section = curves_section(view)
    assert "<img" not in section and "&lt;img src=x onerror=alert(1)&gt;" in section
    points = re.search(r'points="([^"]+)"', section)
    assert points and len(points.group(1).split(" ")) == MAX_LINE_POINTS
    assert curves_section(view) == section


def test_show_spells_a_series_numbers_whole(tmp_path: Path) -> None:
    """Six significant digits: steps 10**15 + 1 and + 2 both read 1e+15, values
    0.1234568 and 0.1234567 both 0.123457, and `last` differed from its headline (a
    hunt, thirtieth pass); `show` prints one run's numbers whole, as the report does."""
    steps = [[10**15 + 1, 0.1234568], [10**15 + 2, 0.1234567]]
    repo = _repo(tmp_path, {"loss": steps}, headline={"loss": 0.1234567})
    show = run_cli(["show", "exp-001"], repo)
    assert show.code == 0, show.both
    assert (
        "steps 1000000000000001..1000000000000002  min 0.1234567  max 0.1234568  "
        "last 0.1234567" in show.out
    ), show.out


def test_the_faster_depth_scan_keeps_escapes_and_strings_apart() -> None:
    # The scan visits only brackets, quotes, backslashes and line feeds: an escape whose
    # second character it does not visit (`\n`) must still end at the next quote.
    from expflow_git.jsonstrict import JsonProblem, parse_json

    inside = '{"s": "a\\n' + "[" * 100 + '", "t": 1}'
    assert parse_json(inside.encode())["t"] == 1
    deep = '{"s": "a\\n", "t":\n' + "[" * 70 + "]" * 70 + "}"
    with pytest.raises(JsonProblem, match="nested deeper than 64 levels") as caught:
        parse_json(deep.encode())
    assert caught.value.line == 2


def test_show_prints_a_runs_series_and_compare_overlays_them_on_one_axis(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"loss": CURVE})
    add_run(repo, "exp-002", m(58.0, loss=0.2))
    path = repo / "results/pdebench-task1/exp-002.json"
    doc = json.loads(path.read_text())
    doc["series"] = {"loss": [[0, 3.0], [10, 0.2]]}
    path.write_text(json.dumps(doc))
    commit_all(repo)

    show = run_cli(["show", "exp-001"], repo)
    assert show.code == 0, show.both
    assert re.search(r"^series\n  loss  \S+ +n=4 steps 0\.\.300  min 0\.4  max 2\.5  last 0\.4$",
                     show.out, re.M), show.out  # fmt: skip
    shown = json.loads(run_cli(["show", "exp-001", "--format", "json"], repo).out)
    assert shown["series"] == {"loss": CURVE}

    compare = run_cli(["compare", "exp-001", "exp-002"], repo)
    assert compare.code == 0, compare.both
    overlay = compare.out.split("\nseries\n", 1)[1]
    assert overlay.splitlines()[0] == "loss  (one axis: 0.2 .. 3)"
    one, two = overlay.splitlines()[1:3]
    assert one.startswith("  exp-001  ") and one.endswith("n=4 last 0.4")
    assert two.startswith("  exp-002  ") and two.endswith("n=2 last 0.2")
    # One axis: exp-001's highest point (2.5) is below exp-002's (3.0), so it never
    # reaches the top bar; exp-002's first point does.
    assert "█" not in one.split()[1] and two.split()[1][0] == "█"
    data = json.loads(run_cli(["compare", "exp-001", "exp-002", "--format", "json"], repo).out)
    assert data["series"]["exp-002"] == {"loss": [[0, 3.0], [10, 0.2]]}
