"""Hostile repositories and reports through every command and format (issue 14, items 7-9).

A pull request's author controls file names, policy strings (a rule's param and value,
walk_forward.split), record values and, via a handed-over report, ids, metric names
and keyids. None of it may become a GitHub workflow command, reach a terminal as a raw
control character, break Markdown or HTML, run as a spreadsheet formula, or crash a
renderer (a file name that is not UTF-8). Each command's output is read the way the
GitHub runner reads a log (its command parser, emulated in `runner_commands`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from conftest import git, git_init, run_cli, scrubbed_env
from helpers_audit import reseal, statement_of
from hypothesis import given
from hypothesis import strategies as st

# Every trick at once: a line break that starts a workflow command, a CR, the runner's
# old `##[` form anywhere in a line, a terminal escape (7-bit and 8-bit CSI), a Unicode
# line separator, a bidi override, HTML, Markdown (code, emphasis, link, cell) and `%`.
HOSTILE = (
    "x\n::error title=forged::INJECTED\r::warning title=forged::CR ##[error]forged V1 "
    "\x1b[2J\x9b31m\u2028::notice title=forged::LS\u202e <img src=x onerror=alert(1)> "
    "|`*[l](http://e) %0A"
)
CORRECTION_REASON = (
    "x ::error title=forged::R ##[error]v1 <img src=x onerror=alert(1)> |`*[l](http://e) @octocat"
)
# A file name may hold anything but NUL and `/`; this one is not UTF-8 either.
HOSTILE_NAME = b"evil\n::error title=forged::FILE \xff\x1b[31m ##[error]v1 \xe2\x80\xa8 .json"
ROOT_NAME = b"::error title=forged::ROOT.yaml"

# What a runner must never see raw: controls, format characters, separators, surrogates.
_HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
OWN_TITLES = ("expflow ", "expflow-git")


def hidden_chars(text: str) -> list[str]:
    """Characters of `text` other than LF that a terminal or a log must not get raw."""
    return [repr(c) for c in text if c != "\n" and unicodedata.category(c) in _HIDDEN]


def _unescape_property(value: str) -> str:
    for token, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        value = value.replace(token, raw)
    return value


def runner_commands(log: str) -> list[tuple[str, dict[str, str]]]:
    """The workflow commands GitHub's runner finds in `log` (actions/runner
    ActionCommand: `::name props::data` after leading blanks, and the old `##[name]`
    anywhere in a line), as (name, properties). Lines are split wherever any reader
    might split them (Python's splitlines is a superset of .NET's ReadLine)."""
    found = []
    for raw in log.splitlines():
        text = raw.lstrip()
        if text.startswith("::") and (end := text.find("::", 2)) >= 0:
            name, _, props = text[2:end].partition(" ")
            pairs = (p.split("=", 1) for p in props.split(",") if "=" in p)
            found.append((name, {k: _unescape_property(v) for k, v in pairs}))
        if (at := raw.find("##[")) >= 0 and raw.find("]", at) >= 0:
            found.append(("##[", {"line": raw}))
    return found


def assert_runner_safe(text: str, *, own_annotations: bool = False) -> None:
    """No raw hidden character; no workflow command but the tool's own annotations."""
    assert hidden_chars(text) == [], hidden_chars(text)
    assert not re.search(r"##[A-Za-z]*\[", text), text
    for name, props in runner_commands(text):
        assert own_annotations, f"a workflow command in plain output: {name} {props}"
        assert name in ("error", "warning", "notice"), (name, props)
        assert set(props) <= {"file", "line", "col", "title"}, props
        assert props["title"].startswith(OWN_TITLES), props


def run_bytes(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """The real CLI as a subprocess; its output must be valid UTF-8 (decoded strictly)."""
    proc = subprocess.run(
        [sys.executable, "-m", "expflow_git", *args],
        cwd=cwd,
        env=scrubbed_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    assert "Traceback" not in err, err
    return proc.returncode, out, err


def _yaml(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _experiment(exp_id: str, params: dict[str, object]) -> dict[str, object]:
    return {
        "schema": "expflow/experiment@1",
        "id": exp_id,
        "study": "s1",
        "created_at": "2026-11-20T10:00:00Z",
        "status": "success",
        "params": params,
    }


def _result(exp_id: str, seg_total: float) -> dict[str, object]:
    return {
        "schema": "expflow/result@1",
        "experiment": exp_id,
        "recorded_at": "2026-11-20T11:00:00Z",
        "metrics": {"seg_total": seg_total, "pde_mean": 1.0, "train_time_min": 2},
    }


def _write(root: Path, rel: str | bytes, doc: object) -> None:
    """Write `doc` (JSON, or bytes as they are) at `rel`, which may be a name in bytes."""
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    target = os.fsencode(root) + b"/" + (rel if isinstance(rel, bytes) else rel.encode())
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as fh:
        fh.write(data)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed repository whose policy, records and file names are all hostile."""
    repo = git_init(tmp_path_factory.mktemp("hostile") / "repo")
    code, _, err = run_cli(["init", "--template", "competition"], cwd=repo)
    assert code == 0, err
    policy = (repo / "expflow.yaml").read_text()
    rules = policy[policy.index("rules:") : policy.index("protect:")]
    policy = policy.replace(
        rules,
        f"rules:\n  - {{param: {_yaml(HOSTILE)}, op: gt, value: 0, required: true}}\n"
        f"  - {{param: model, op: ne, value: {_yaml(HOSTILE)}}}\n"
        f"walk_forward: {{metric: seg_total, split: {_yaml(HOSTILE)}, top_n: 3}}\n",
    )
    (repo / "expflow.yaml").write_text(policy)
    # a1 is feasible; a2 and a3 fail both rules (the failed checks quote the policy).
    _write(repo, "experiments/s1/a1.json", _experiment("a1", {HOSTILE: 5, "model": "fno"}))
    _write(repo, "experiments/s1/a2.json", _experiment("a2", {"model": HOSTILE}))
    _write(repo, "experiments/s1/a3.json", _experiment("a3", {"model": HOSTILE}))
    for exp_id, seg in (("a1", 50.0), ("a2", 0.30000000000000004), ("a3", 0.3)):
        _write(repo, f"results/s1/{exp_id}.json", _result(exp_id, seg))
    _write(repo, b"experiments/s1/" + HOSTILE_NAME, b'{"not": "a record"}')
    _write(repo, b"results/s1/" + HOSTILE_NAME, json.dumps(_result("a1", 1.0)).encode())
    _write(repo, ROOT_NAME, b"pin: 4821\n")
    # A correction (listed in every format) under a hostile name, with what a one-line
    # reason may hold: a mid-line command, `##[`, HTML, Markdown, a mention.
    _write(
        repo,
        b"corrections/s1/a1/" + HOSTILE_NAME,
        {
            "schema": "expflow/correction@1",
            "experiment": "a1",
            "supersedes": "a" * 40,
            "blob": "b" * 40,
            "reason": CORRECTION_REASON,
            "author": {"name": "<b>x</b> ##[error]", "email": "a@example.org"},
            "time": "2026-11-20T12:00:00Z",
        },
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "hostile")
    return repo


# ----------------------------------------------------------------------------- item 7 and 9


AUDIT_FORMATS = ["text", "md", "github", "sarif"]


@pytest.mark.parametrize("fmt", AUDIT_FORMATS)
def test_audit_output_runs_no_command_and_names_the_files_safely(
    hostile: Path, tmp_path: Path, fmt: str
) -> None:
    html = tmp_path / "s.html"
    code, out, err = run_bytes(["audit", "--format", fmt, "--html", str(html)], hostile)
    assert code == 1, err  # the hostile documents fail the audit: data, not a crash
    assert_runner_safe(out, own_annotations=fmt == "github")
    assert_runner_safe(err)
    page = html.read_bytes().decode("utf-8")
    assert hidden_chars(page.replace("\n", "")) == []
    assert "<img" not in page and "##[" not in page
    if fmt == "sarif":
        sarif = json.loads(out)  # still the same JSON: the escapes are JSON's own
        texts = [r["message"]["text"] for r in sarif["runs"][0]["results"]]
        assert any("::error title=forged::INJECTED" in t for t in texts)
        uris = {
            loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]
            for loc in r["locations"]
        }
        assert any("%FF" in u for u in uris)  # the file's own bytes, percent-encoded
    else:
        # The non-UTF-8 byte is shown as an escape, not dropped or replaced.
        assert "FILE \\xff\\x1b[31m" in out.replace("\\\\", "\\"), out
    if fmt in ("text", "md"):  # the correction is listed, its strings escaped
        assert "orrections (1)" in out and "onerror" in out, out
        assert fmt == "text" or "`@`octocat" in out, out
    if fmt == "md":  # no mention from Markdown: not in a finding, a cell or a correction
        assert "@octocat" not in out.replace("`@`", ""), out
    assert "Corrections (1)" in page and "onerror=alert(1)&gt;" in page


def test_markdown_mentions_no_one_from_a_finding(tmp_path: Path) -> None:
    """A name a pull request chose, quoted in a finding's message (a metric key the
    schema refuses), was written as a live `@name` in Markdown output (a job summary, a
    comment a workflow posts): only reasons and corrections escaped `@`."""
    repo = git_init(tmp_path / "repo")
    for args in (
        ["init", "--template", "minimal"],
        ["new", "e1", "--study", "s"],
        ["result", "e1", "--metric", "accuracy=0.5"],
    ):
        code, _, err = run_cli(args, cwd=repo)
        assert code == 0, err
    result = repo / "results/s/e1.json"
    doc = json.loads(result.read_text())
    doc["metrics"]["@octocat"] = 1.0
    result.write_text(json.dumps(doc))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "x")
    code, out, _ = run_cli(["audit", "--format", "md"], cwd=repo)
    assert code == 1 and "`@`octocat" in out, out
    assert "@octocat" not in out.replace("`@`", ""), out


def test_github_format_annotates_exactly_the_findings_and_infeasible_runs(hostile: Path) -> None:
    code, out, _ = run_bytes(["audit", "--format", "github"], hostile)
    commands = runner_commands(out)
    files = [p["file"] for _, p in commands if "file" in p]
    assert any(f.startswith("experiments/s1/evil\n::error title=forged::FILE") for f in files)
    infeasible = [p for name, p in commands if name == "warning"]
    assert {p["title"] for p in infeasible} == {
        "expflow infeasible run a2",
        "expflow infeasible run a3",
    }
    assert sum(1 for _, p in commands if p.get("title") == "expflow-git audit") == 1


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "json"])
def test_rank_output_runs_no_command(hostile: Path, fmt: str) -> None:
    code, out, err = run_bytes(["rank", "--format", fmt], hostile)
    assert code == 0, err
    assert_runner_safe(out)
    assert_runner_safe(err)
    if fmt == "md":
        assert "@octocat" not in out.replace("`@`", ""), out
    if fmt == "json":
        failed = {r["id"]: r["failed"] for r in json.loads(out)["ranking"]}
        assert any(HOSTILE in f for f in failed["a2"])  # JSON keeps the value exactly


@pytest.mark.parametrize("command", [["validate"], ["scan"]])
def test_hook_findings_run_no_command(hostile: Path, command: list[str]) -> None:
    code, out, err = run_bytes(command, hostile)
    assert code == 1
    assert_runner_safe(out)
    assert_runner_safe(err)
    shown = "\\x3a:error title=forged::ROOT" if command == ["scan"] else "FILE \\xff\\x1b[31m"
    assert shown in out, out


def test_protect_findings_run_no_command(hostile: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(hostile, repo, symlinks=True)
    name = os.fsdecode(b"results/s1/" + HOSTILE_NAME)
    git(repo, "rm", "-q", "--cached", "--", name)
    code, out, err = run_bytes(["protect"], repo)
    assert code == 1
    assert "result-rewritten" in out
    assert_runner_safe(out)
    assert_runner_safe(err)


def test_diff_output_runs_no_command(hostile: Path) -> None:
    repo = hostile
    for fmt in ("table", "md", "json"):
        code, out, err = run_bytes(["diff", "HEAD", "HEAD", "--all", "--format", fmt], repo)
        assert code == 0, err
        assert_runner_safe(out)
        assert_runner_safe(err)


def _forged_report(hostile: Path, tmp_path: Path) -> Path:
    """A report of the hostile repository, re-chained with a hostile run id, metric name
    and finding rule, carrying a signature entry with a hostile keyid: consistent
    enough that `report` (without a key) renders it."""
    from expflow_git.report.statement import chain, genesis_hash

    saved = tmp_path / "saved.json"
    code, _, err = run_bytes(["audit", "--out", str(saved)], hostile)
    assert code == 1, err
    statement = statement_of(saved.read_bytes())
    p = statement["predicate"]
    for entry in p["entries"]:
        if entry["type"] == "run" and entry["id"] == "a2":
            entry["id"] = "a2" + HOSTILE
            entry["metrics"]["m" + HOSTILE] = 1.5
        if entry["type"] == "finding":
            entry["rule"] = "rule" + HOSTILE
    for item in p["result"]["ranking"]:
        item["id"] = "a2" + HOSTILE if item["id"] == "a2" else item["id"]
    bodies = [
        {k: v for k, v in e.items() if k not in ("seq", "prev", "hash")} for e in p["entries"]
    ]
    p["entries"] = chain(
        bodies, genesis_hash(p["repo"]["commit"], p["policy"]["gitBlob"], p["inputs"]["merkleRoot"])
    )
    p["entriesHead"] = {"count": len(p["entries"]), "hash": p["entries"][-1]["hash"]}
    envelope = json.loads(reseal(statement, None))
    envelope["signatures"] = [{"keyid": "SHA256:" + HOSTILE, "sig": "AAAA"}]
    from expflow_git.report.canonical import canonical_json

    forged = tmp_path / "forged.json"
    forged.write_bytes(canonical_json(envelope) + b"\n")
    return forged


def test_report_of_a_forged_report_runs_no_command(hostile: Path, tmp_path: Path) -> None:
    forged = _forged_report(hostile, tmp_path)
    # A keyid outside printable ASCII is refused before anything is rendered, safely.
    code, out, err = run_bytes(["report", str(forged)], hostile)
    assert code == 1 and "keyid must be at most 256 printable ASCII characters" in err
    assert_runner_safe(out)
    assert_runner_safe(err)
    envelope = json.loads(forged.read_bytes())
    envelope["signatures"] = [{"keyid": "SHA256:forged::error::x", "sig": "AAAA"}]
    from expflow_git.report.canonical import canonical_json

    forged.write_bytes(canonical_json(envelope) + b"\n")
    for fmt in ("text", "md"):
        html = tmp_path / f"{fmt}.html"
        code, out, err = run_bytes(
            ["report", str(forged), "--format", fmt, "--html", str(html)], hostile
        )
        assert code == 0, err
        shown = out.replace("\\\\", "\\")  # Markdown doubles a backslash
        assert "a2x\\x0a::error title=forged" in shown  # the forged id is shown, escaped
        assert_runner_safe(out)
        assert_runner_safe(err)
        page = html.read_text(encoding="utf-8")
        assert "<img" not in page and hidden_chars(page.replace("\n", "")) == []


def test_verify_lines_run_no_command(hostile: Path, tmp_path: Path) -> None:
    forged = _forged_report(hostile, tmp_path)
    code, out, err = run_bytes(["verify", str(forged), "--allow-unsigned"], hostile)
    assert_runner_safe(out)
    assert_runner_safe(err)
    key = tmp_path / "k"
    assert run_bytes(["keygen", "--out", str(key)], tmp_path)[0] == 0
    code, out, err = run_bytes(
        ["verify", str(forged), "--public-key", f"{key}.pub", "--repo", str(hostile)], hostile
    )
    assert code == 1
    assert_runner_safe(out)
    assert_runner_safe(err)


def test_action_log_summary_and_outputs_under_a_simulated_runner(
    hostile: Path, tmp_path: Path
) -> None:
    from test_action import run_action

    repo = tmp_path / "repo"
    shutil.copytree(hostile, repo, symlinks=True)
    work = tmp_path / "runner"
    work.mkdir()
    code, log, _, summary = run_action(repo, work, html_path=str(tmp_path / "s.html"))
    assert code == 1
    assert_runner_safe(log, own_annotations=True)
    assert hidden_chars(summary) == [], hidden_chars(summary)
    # The summary's Markdown shows the hostile strings as text: no HTML, link or code
    # span of the repository's making.
    assert re.search(r"(?<!\\)<img|(?<!\\)\]\(http", summary) is None
    assert "\\<img src=x onerror=alert(1)\\>" in summary
    outputs = (work / "output.txt").read_text(encoding="utf-8").split("\n")
    assert [o.split("=", 1)[0] for o in outputs if o] == ["passed", "best-feasible", "report-path"]


def test_action_outputs_stay_one_line_each(hostile: Path, tmp_path: Path) -> None:
    """A path with a line break and a heredoc marker cannot add an output."""
    from test_action import run_action

    repo = tmp_path / "repo"
    shutil.copytree(hostile, repo, symlinks=True)
    work = tmp_path / "runner"
    work.mkdir()
    odd = "r\nforged=1\n<<EOF\u2028x.json"
    run_action(repo, work, report_path=odd)
    lines = (work / "output.txt").read_text(encoding="utf-8").split("\n")
    assert [o.split("=", 1)[0] for o in lines if o] == ["passed", "best-feasible", "report-path"]
    assert lines[2] == "report-path=r\\x0aforged=1\\x0a<<EOF\\u2028x.json"
    assert (repo / odd).is_file()


# ----------------------------------------------------------------------------- item 8: CSV


@pytest.fixture(scope="module")
def formulas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One commit per formula-looking rule param: {param: commit}."""
    repo = git_init(tmp_path_factory.mktemp("formulas") / "repo")
    code, _, err = run_cli(["init", "--template", "competition"], cwd=repo)
    assert code == 0, err
    _write(repo, "experiments/s1/a1.json", _experiment("a1", {"model": "fno"}))
    _write(repo, "results/s1/a1.json", _result("a1", 50.0))
    base = (repo / "expflow.yaml").read_text()
    rules = base[base.index("rules:") : base.index("protect:")]
    commits = {"repo": str(repo)}
    for param in FORMULA_PARAMS:
        rule = f"rules:\n  - {{param: {_yaml(param)}, op: gt, value: 0, required: true}}\n"
        (repo / "expflow.yaml").write_text(base.replace(rules, rule))
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", repr(param))
        commits[param] = git(repo, "rev-parse", "HEAD")
    return commits


FORMULA_PARAMS = [
    '\t=HYPERLINK("http://e")',
    "\r=1+1",
    " =1+1",
    "  @SUM(1)",
    "+1+1",
    "-1+1",
    "=1+1",
    "\uff1d1+1",
]


@pytest.mark.parametrize("param", FORMULA_PARAMS)
def test_csv_neutralises_formulas_behind_tab_cr_and_blanks(
    formulas: dict[str, str], param: str
) -> None:
    code, out, err = run_bytes(
        ["rank", "--rev", formulas[param], "--format", "csv"], Path(formulas["repo"])
    )
    assert code == 1, err  # the only run fails the rule
    assert hidden_chars(out) == []
    rows = list(csv.reader(io.StringIO(out)))
    failed = rows[1][-1]
    assert failed.startswith("'"), failed
    for row in rows[1:]:
        for cell in row:
            number = cell == "-" or re.fullmatch(r"-?[0-9.e+-]+", cell)
            assert number or cell.lstrip()[:1] not in ("=", "+", "-", "@", "\uff1d"), cell


@pytest.fixture(scope="module")
def close_values(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs whose values differ only past six significant digits."""
    repo = git_init(tmp_path_factory.mktemp("close") / "repo")
    code, _, err = run_cli(["init", "--template", "competition"], cwd=repo)
    assert code == 0, err
    values = {
        "a1": 0.30000000000000004,
        "a2": 0.3,
        "a3": 9007199254740991,
        "a4": 9007199254740990,
        "a5": 1e-7,
        "a6": 2.0,
    }
    for exp_id, seg in values.items():
        _write(repo, f"experiments/s1/{exp_id}.json", _experiment(exp_id, {"sub_step": 1}))
        _write(repo, f"results/s1/{exp_id}.json", _result(exp_id, seg))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "close values")
    return repo


def test_csv_keeps_every_value_exactly(close_values: Path) -> None:
    code, out, err = run_bytes(["rank", "--format", "csv"], close_values)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    got = {r["id"]: r["seg_total"] for r in rows}
    assert got == {
        "a1": "0.30000000000000004",
        "a2": "0.3",
        "a3": "9007199254740991",
        "a4": "9007199254740990",
        "a5": "1e-7",
        "a6": "2",
    }
    assert {r["id"]: r["train_time_min"] for r in rows}["a1"] == "2"


def test_json_keeps_every_value_exactly(close_values: Path) -> None:
    code, out, _ = run_bytes(["rank", "--format", "json"], close_values)
    got = {r["id"]: r["metrics"]["seg_total"] for r in json.loads(out)["ranking"]}
    assert got["a1"] == 0.30000000000000004 and got["a2"] == 0.3
    assert got["a3"] == 9007199254740991 and got["a4"] == 9007199254740990


@pytest.mark.parametrize("fmt", ["table", "md"])
def test_tables_never_show_different_values_alike(close_values: Path, fmt: str) -> None:
    code, out, _ = run_bytes(["rank", "--format", fmt], close_values)
    cells = {}
    table = out.splitlines()
    rows = table[2 : table.index("")] if "" in table else table[2:]
    if fmt == "table" and "" not in table:  # the last line names the best runs
        assert rows.pop().startswith("best_any: ")
    for row in rows:  # every attempt is counted under the table
        parts = [c.strip() for c in (row.strip("|").split("|") if fmt == "md" else row.split())]
        cells[parts[1]] = parts[4]
    assert cells["a1"] != cells["a2"], cells
    assert cells["a3"] != cells["a4"], cells
    assert cells["a6"] == "2"


def test_tables_round_when_rounding_hides_nothing(close_values: Path) -> None:
    """Six significant digits stay the display where they tell every value apart."""
    from expflow_git.render.table import distinct_numbers

    assert distinct_numbers([1 / 3, 2 / 3, None]) == {
        1 / 3: "0.333333",
        2 / 3: "0.666667",
        None: "-",
    }
    shown = distinct_numbers([1 / 3, 1 / 3 + 1e-9])
    assert shown[1 / 3] != shown[1 / 3 + 1e-9]


# ----------------------------------------------------------------------------- item 9


def test_json_outputs_never_carry_a_lone_surrogate(tmp_path: Path) -> None:
    """`list`, `show`, `rank` and `diff --format json` wrote a folder's byte 0xff as the
    escape `\\udcff` (json.dumps' ASCII mode, before json_text saw it): a lone surrogate
    that jq turns into U+FFFD and that Python reads back as text it cannot encode (an
    attacker's hunt). It is the text `\\xff`, as in every other output."""
    repo = git_init(tmp_path / "repo")
    for args in (["init", "--template", "minimal"], ["new", "e1", "--study", "s"]):
        assert run_cli(args, cwd=repo)[0] == 0
    bad = repo.joinpath(os.fsdecode(b"experiments/bad\xffs"))
    (repo / "experiments/s").rename(bad)
    assert run_cli(["result", "e1", "--metric", "accuracy=0.5"], cwd=repo)[0] == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "a folder named with a byte")
    for args in (["list"], ["show", "e1"], ["rank"], ["diff", "HEAD", "HEAD", "--all"]):
        code, out, err = run_bytes([*args, "--format", "json"], repo)
        assert code == 0, err
        assert "\\udcff" not in out
        text = json.dumps(json.loads(out), ensure_ascii=False)
        text.encode("utf-8")  # no lone surrogate anywhere in the value
        if args[0] in ("list", "show"):
            assert "experiments/bad\\\\xffs/e1.json" in text, text


def test_a_file_name_that_is_not_utf8_renders_in_every_format(
    hostile: Path, tmp_path: Path
) -> None:
    """Was: UnicodeEncodeError from `audit --format md` and `--html`."""
    for fmt in ("md", "text"):
        html = tmp_path / f"{fmt}.html"
        code, out, err = run_bytes(["audit", "--format", fmt, "--html", str(html)], hostile)
        assert code == 1 and "UnicodeEncodeError" not in err, err
        assert "\\xff" in out
        assert "\\xff" in html.read_text(encoding="utf-8")
    report = tmp_path / "r.json"
    assert run_bytes(["audit", "--out", str(report)], hostile)[0] == 1
    code, out, err = run_bytes(
        ["verify", str(report), "--allow-unsigned", "--repo", str(hostile)], hostile
    )
    assert code == 0, out + err  # the report stays valid and recomputes


# ----------------------------------------------------------------------------- the sinks

_any_text = st.lists(
    st.characters(exclude_categories=())
    | st.sampled_from(
        [
            "\n",
            "\r",
            "::",
            "##[",
            "##vso[",
            " ",
            "\t=",
            "%",
            ":",
            ",",
            "\udcff",
            "\x1b",
            "\u2028",
            "\x85",
            "\u202e",
            "`",
            "|",
        ]
    ),
    max_size=20,
).map("".join)


@given(_any_text)
def test_line_is_one_printable_line_no_runner_reads(text: str) -> None:
    from expflow_git import escape

    out = escape.line(text)
    assert hidden_chars(out) == [] and "\n" not in out
    assert runner_commands(out) == []
    assert not re.search(r"##[A-Za-z]*\[", out)
    assert escape.line(out) == out
    ordinary = text.isprintable() and escape._ignorable().search(text) is None
    if ordinary and "##" not in text and not text.lstrip().startswith("::"):
        assert out == text  # ordinary text is left alone


@given(_any_text)
def test_github_data_and_property_stay_inside_their_annotation(text: str) -> None:
    from expflow_git import escape

    data, prop = escape.github_data(text), escape.github_property(text)
    line = f"::error file={prop},title=expflow x::{data}"
    assert runner_commands(line) == [
        ("error", {"file": _unescape_property(prop), "title": "expflow x"})
    ]
    assert hidden_chars(line) == [] and ":" not in prop and "," not in prop
    plain = text.replace("\r", "").replace("\n", "")
    if plain.isprintable() and escape._ignorable().search(plain) is None and "##" not in plain:
        assert _unescape_property(prop) == text  # the annotation shows the original


@given(_any_text)
def test_csv_cell_never_starts_a_formula(text: str) -> None:
    from expflow_git import escape

    cell = escape.csv_cell(text)
    assert hidden_chars(cell) == []
    start = cell.lstrip()[:1]
    assert start not in ("=", "+", "@", "\uff1d", "\uff0b", "\uff20") or cell.startswith("'")
    if start == "-" and cell != "-":
        assert cell.startswith("'") or float(cell) is not None


@given(_any_text)
def test_markdown_code_span_cannot_be_closed_from_inside(text: str) -> None:
    from expflow_git import escape

    span = escape.markdown_code(text)
    fence = re.match("`+", span)
    assert fence is not None
    inner = span[fence.end() : -fence.end()]
    assert fence.group() not in inner and "\n" not in span and hidden_chars(span) == []


@given(
    st.recursive(
        st.none()
        | st.floats(allow_nan=False)
        | _any_text.filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)),
        lambda kids: (
            st.lists(kids, max_size=3)
            | st.dictionaries(
                _any_text.filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)),
                kids,
                max_size=3,
            )
        ),
        max_leaves=8,
    )
)
def test_json_text_is_the_same_json_value(value: object) -> None:
    from expflow_git import escape

    for ensure_ascii in (True, False):
        text = escape.json_text(json.dumps(value, ensure_ascii=ensure_ascii, indent=2))
        assert json.loads(text) == value
        assert hidden_chars(text) == [] and "##[" not in text


def test_markdown_makes_no_link_of_a_bare_address(tmp_path: Path) -> None:
    """GitHub's autolink extension links a bare `www.…` or `https://…` with no markup at
    all: a failed run's reason (a pull request's words) became a live link in a job
    summary. Its dot or colon is escaped now; the text reads the same once rendered."""
    from expflow_git import escape

    repo = git_init(tmp_path / "repo")
    for args in (["init", "--template", "minimal"], ["new", "e1", "--study", "s"]):
        code, _, err = run_cli(args, cwd=repo)
        assert code == 0, err
    record = next((repo / "experiments").rglob("e1.json"))
    doc = json.loads(record.read_text())
    reason = "OOM - rerun at WWW.evil-example.com or https://evil-example.com/login?next=x"
    doc.update(status="failed", reason=reason)
    record.write_text(json.dumps(doc))
    code, out, err = run_cli(["list", "--format", "md"], cwd=repo)
    assert code == 0, err
    assert "WWW\\.evil-example" in out and "https\\://evil-example" in out, out
    assert not re.search(r"(?i)www\.|[^\\]://", out), out
    for text in (reason, "ftp://x.y www.a.b", "a \\www.b c"):  # as written, once rendered
        assert re.sub(r"\\(.)", r"\1", escape.markdown(text)) == text


_markdown_text = st.lists(
    st.characters(codec="utf-8", exclude_categories=("Cs",))
    | st.sampled_from(
        [
            "a@b.com",
            "@octocat",
            "mailto:x@y.org",
            "www.",
            "https://",
            "x.y",
            "![i](j)",
            "[l](m)",
            "<b>",
            "&amp;",
            "**",
            "~~",
            "`",
            "|",
            "\\",
            "#1",
            " ",
        ]
    ),
    max_size=12,
).map("".join)


@pytest.mark.parametrize("where", ["paragraph", "table cell"])
@given(text=_markdown_text)
def test_markdown_renders_on_github_as_its_text_and_nothing_more(where: str, text: str) -> None:
    """Rendered by GitHub's own cmark (autolink, tables, strikethrough; raw HTML kept):
    no link (e-mail addresses too: `a@b.com` was a mailto link after every escape), no
    image or tag but `@`'s code span, no `@` outside it (a mention), and the words
    read as written."""
    import html

    import cmarkgfm
    from cmarkgfm.cmark import Options

    from expflow_git import escape

    cell = escape.markdown(text)
    source = f"| h |\n|---|\n| {cell} |\n" if where == "table cell" else f"x {cell}\n"
    page = cmarkgfm.github_flavored_markdown_to_html(source, options=Options.CMARK_OPT_UNSAFE)
    body = re.sub(r"<th>h</th>|</?(p|table|thead|tbody|tr|th|td)>", "", page)
    tags = set(re.findall(r"</?([a-z]+)", body))
    assert tags <= {"code"}, page
    assert "@" not in re.sub(r"<code>@+</code>", "", body), page
    shown = html.unescape(re.sub(r"</?code>", "", body)).strip()
    words = " ".join(escape.terminal(text).split())
    assert shown == (f"x {words}".rstrip() if where == "paragraph" else words), page


def test_two_file_names_are_never_one_path_in_a_report(tmp_path: Path) -> None:
    """An undecodable byte of a file name is spelled `\\udcff` in a report, and so was a
    file literally named with those six characters: both in one commit made one path
    twice, and the audit wrote a report that failed its own verification (`inputs: not
    sorted or not unique`) while `blobs` counted one file fewer (an attacker's hunt).
    A report spells a backslash doubled now, so each name has its own spelling."""
    repo = git_init(tmp_path / "repo")
    for args in (
        ["init", "--template", "minimal"],
        ["new", "e1", "--study", "s"],
        ["result", "e1", "--metric", "accuracy=0.5"],
    ):
        code, _, err = run_cli(args, cwd=repo)
        assert code == 0, err
    for name in (b"bad\xff.json", b"bad\\udcff.json", b"a\\b.json"):
        (repo / "results/s").joinpath(os.fsdecode(name)).write_bytes(b'{"x": 1}')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "look-alike names")
    report = tmp_path / "report.json"
    code, _, err = run_cli(["audit", "--no-cache", "--out", str(report)], cwd=repo)
    assert code == 1, err  # none of the three is a valid result
    leaves = [
        leaf["path"] for leaf in statement_of(report.read_bytes())["predicate"]["inputs"]["leaves"]
    ]
    assert {p for p in leaves if p.startswith("results/s/") and p != "results/s/e1.json"} == {
        "results/s/bad\\udcff.json",
        "results/s/bad\\\\udcff.json",
        "results/s/a\\\\b.json",
    }
    code, out, err = run_cli(["verify", str(report), "--allow-unsigned", "--repo", "."], cwd=repo)
    assert code == 0 and "VERIFIED" in out, out + err
    assert f"all {len(leaves)} input blobs" in out and len(leaves) == 5, out  # policy aside


def test_a_librarys_warning_is_one_escaped_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A library's warning may quote repository text (ruamel's of a reused anchor quoted
    the policy's line); the CLI and the action print it as one escaped line, never a
    workflow command, and restore Python's own printing after."""
    import warnings

    from expflow_git.cli.console import warnings_escaped

    before = warnings.showwarning
    with warnings_escaped():
        warnings.warn("a\n::stop-commands::pwn\x1b[2J", UserWarning, stacklevel=1)
    assert warnings.showwarning is before
    err = capsys.readouterr().err
    assert err == ("expflow-git: warning: UserWarning: a\\x0a::stop-commands::pwn\\x1b[2J\n"), err
