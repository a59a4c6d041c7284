"""An attacker's hunt over the researcher-facing surface (issue 10: `list`, `show`,
`compare`, `--where`, the Python API; issue 18, thirty-seventh pass)."""

from __future__ import annotations

import json
import re

from conftest import ExpRepo
from support import run_cli

# GitHub links `#123`, and `owner/repo#123` in any repository, wherever it stands in the
# rendered text, *after* Markdown's escapes are undone: `\#123` still links (GitHub's
# reference filter runs on the HTML's text, as its mention filter does; cmark-gfm issue
# 181, "At sign and hash escaping is not possible"). Only markup that splits the text,
# a code span (as `@` is given), keeps it from being one.
_ISSUE_REF = re.compile(r"#[0-9]")


def _outside_code_spans(markdown: str) -> str:
    """The text GitHub's reference filters read: code spans dropped, escapes undone."""
    return re.sub(r"\\(.)", r"\1", re.sub(r"`+[^`]*`+", " ", markdown))


def test_markdown_links_no_issue_from_a_pull_requests_words(exp_repo: ExpRepo) -> None:
    """A failed run's reason and a param value (a pull request's words) in `list`,
    `compare` and `audit --format md` (the job summary) linked an issue of this
    repository or any other (`#1`, `octo/repo#2`): `escape.markdown` wrote `\\#1`,
    which GitHub links all the same, as it mentioned `\\@name` before `@` was given a
    code span. The text still reads as written."""
    r = exp_repo
    reason = "OOM, same as #1 and octo/repo#2; see ##3"
    r.add_experiment("exp-001", params={"sub_step": 1, "note": "fixes #4"})
    r.add_result("exp-001")
    r.add_experiment("exp-002", params={"sub_step": 1, "note": "x #5"})
    r.add_result("exp-002")
    r.add_experiment("exp-003", status="failed", reason=reason)
    r.commit("runs")
    outputs = {
        "list": ["list", "--format", "md"],
        "list --columns": ["list", "--format", "md", "--columns", "params.note"],
        "compare": ["compare", "exp-001", "exp-002", "--format", "md"],
        "rank --columns": ["rank", "--format", "md", "--columns", "params.note"],
        "audit": ["audit", "--format", "md", "--no-cache"],
    }
    for name, args in outputs.items():
        code, out, err = run_cli(args, cwd=r.path)
        assert code in (0, 1) and "Traceback" not in err, (name, err)
        assert "#" in out, (name, out)
        text = _outside_code_spans(out)
        assert not _ISSUE_REF.search(text), (name, out)
    # Still the words as written once rendered (the code span shows `#` itself).
    code, out, _ = run_cli(["list", "--format", "md"], cwd=r.path)
    row = next(ln for ln in out.splitlines() if "exp-003" in ln)
    shown = re.sub(r"\\(.)", r"\1", row.replace("`", ""))
    assert reason in shown, row
    code, out, _ = run_cli(["list", "--format", "json"], cwd=r.path)
    assert json.loads(out)["runs"][-1]["reason"] == reason


def test_a_failed_runs_result_is_left_out_as_any_result_that_fails(exp_repo: ExpRepo) -> None:
    """A result whose record is not `success` fails its checks
    (`result-for-unsuccessful-run`, which `validate` and the audit report at the result)
    but was still the run's in `list`, `show`, `--where` and `Repository.runs()`: a
    failed run showed the invalid result's scores and matched `metrics.seg_total > 50`,
    though "a document that fails its checks is left out" (docs/spec.md §4.1; the API's
    "invalid documents are left out"). It is left out now, and `show` says so, as for a
    result that fails its own checks."""
    import expflow_git

    r = exp_repo
    r.add_experiment("exp-001")
    r.add_result("exp-001")
    r.add_experiment("exp-002", status="failed", reason="diverged")
    r.add_result("exp-002", metrics={"seg_total": 99.0, "pde_mean": 1.0, "train_time_min": 1.0})
    r.commit("a failed run with a result")
    code, out, err = run_cli(["validate", r.res_path("exp-002")], cwd=r.path)
    assert code == 1 and "result-for-unsuccessful-run" in out + err, out + err
    for rev in ([], ["--rev", "HEAD"]):
        code, out, err = run_cli(["list", "--format", "json", *rev], cwd=r.path)
        assert code == 0, err
        failed = next(run for run in json.loads(out)["runs"] if run["id"] == "exp-002")
        assert failed["result"] is None and failed["metrics"] == {}, failed
        code, out, err = run_cli(
            ["list", "--format", "csv", "--where", "metrics.seg_total > 90", *rev], cwd=r.path
        )
        assert code == 0 and "exp-002" not in out, out
    code, out, err = run_cli(["show", "exp-002"], cwd=r.path)
    assert code == 0, err
    assert f"result:   {r.res_path('exp-002')} (left out: it fails its checks)" in out, out
    assert "seg_total = 99" not in out, out
    runs = {run.id: run for run in expflow_git.Repository(r.path).runs()}
    assert runs["exp-002"].metrics == {} and runs["exp-002"].result_path is None
    assert runs["exp-001"].metrics["seg_total"] == 57.09


def test_show_spells_a_records_path_as_its_history_does(exp_repo: ExpRepo) -> None:
    """`show` printed the record and result paths through `escape.line`, not
    `terminal_path` as its own history lines and every other path a line shows: a folder
    literally named `c\\xffd` and one whose name holds the byte 0xff were both
    `record:   experiments/c\\xffd/…`, while the history below spelled the first
    `c\\\\xffd`. One name, one spelling (escape.terminal_path)."""
    import os

    r = exp_repo
    odd = os.fsdecode(b"a\xffb")
    for folder, exp_id in ((odd, "g1"), ("c\\xffd", "g2")):
        doc = json.dumps({**_record(exp_id), "status": "pending"})
        r.write(f"experiments/{folder}/{exp_id}.json", doc)
    r.commit("two look-alike folders")
    shown = {}
    for exp_id in ("g1", "g2"):
        code, out, err = run_cli(["show", exp_id], cwd=r.path)
        assert code == 0, err
        record = next(ln for ln in out.splitlines() if ln.startswith("  record:"))
        history = next(ln for ln in out.splitlines() if "[added " in ln)
        path = record.split(None, 1)[1]
        assert f"[added {path}]" in history, (record, history)
        shown[exp_id] = path
    assert shown == {"g1": "experiments/a\\xffb/g1.json", "g2": "experiments/c\\\\xffd/g2.json"}


def _record(exp_id: str) -> dict[str, object]:
    from conftest import experiment_doc

    return experiment_doc(exp_id)


def test_a_latin1_stdout_gets_every_output_without_a_traceback(exp_repo: ExpRepo) -> None:
    """Under a stdout encoding that is neither UTF-8 nor ASCII (a Latin-1 locale,
    `PYTHONIOENCODING=latin-1`, a Windows pipe's cp1252), `list`, `show`, `compare` and
    `rank` printed a UnicodeEncodeError traceback for any param, title or reason holding
    a character it cannot encode (`ő`, an emoji): click writes UTF-8 only to an ASCII
    stdout. "Never a traceback" (docs/spec.md §4); what the stream cannot hold is
    written as a JSON escape now, so `--format json` stays JSON with the same values."""
    r = exp_repo
    text = "\u0151 \U0001f600"
    r.add_experiment("exp-001", params={"sub_step": 1, "note": text}, title=text)
    r.add_result("exp-001")
    r.add_experiment("exp-002", status="failed", reason=text)
    r.commit("non-Latin-1 text")
    env = {"PYTHONIOENCODING": "latin-1"}
    for args in (
        ["list"],
        ["list", "--columns", "params.note"],
        ["list", "--format", "md"],
        ["list", "--format", "csv"],
        ["show", "exp-001"],
        ["compare", "exp-001", "exp-002", "--format", "md"],
        ["rank", "--columns", "params.note"],
    ):
        code, out, err = run_cli(args, cwd=r.path, env=env)
        assert code == 0 and "Traceback" not in err, (args, err)
        assert "\\u0151" in out, (args, out)
    for args in (["list", "--format", "json"], ["show", "exp-001", "--format", "json"]):
        code, out, err = run_cli(args, cwd=r.path, env=env)
        assert code == 0 and "Traceback" not in err, (args, err)
        doc = json.loads(out)
        run = doc["runs"][0] if "runs" in doc else doc
        assert run["params"]["note"] == text and run["title"] == text, out
