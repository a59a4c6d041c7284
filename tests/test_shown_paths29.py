"""Two paths of this pass's follow-ups (issue 18, twenty-ninth pass).

- A correction's path in the job summary's Markdown and the HTML scorecard was escaped
  as text, where a finding's is shown one name to one spelling (`escape.terminal_path`:
  a backslash doubled): `corrections/a\\b.json` rendered as `corrections/a\\b.json` in
  the text and as `a\\b` in Markdown and HTML, the spelling of another name there.
- `list` and `show` opened documents by the filesystem encoding's bytes: under LC_ALL=C
  without UTF-8 mode (ASCII), a record named `ëxp.json` was a UnicodeEncodeError
  traceback; the validate hook was fixed the same way earlier in the pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CliCall, ExpRepo, assert_clean_output, experiment_doc
from support import run_cli

SPELLED = "corrections/a\\\\b.json"  # how the text, Markdown and HTML show `a\b.json`


@pytest.fixture
def moved_correction(exp_repo: ExpRepo, cli: CliCall) -> ExpRepo:
    exp_repo.add_experiment("r1", study="s")
    exp_repo.add_result("r1", study="s")
    exp_repo.commit("r1")
    res = cli(["rm", "r1", "--reason", "withdrawn", "--force"], exp_repo.path)
    assert res.code == 0, res
    exp_repo.commit("r1 withdrawn")
    (written,) = (exp_repo.path / "corrections").rglob("*.json")
    exp_repo.git("mv", str(written.relative_to(exp_repo.path)), "corrections/a\\b.json")
    exp_repo.commit("the correction under a name with a backslash")
    return exp_repo


def test_a_corrections_path_is_one_spelling_in_text_md_and_html(
    moved_correction: ExpRepo, cli: CliCall, tmp_path: Path
) -> None:
    text = cli(["audit", "--no-cache"], moved_correction.path).out
    assert f"  {SPELLED}: result of 'r1' deleted" in text
    md = cli(["audit", "--no-cache", "--format", "md"], moved_correction.path).out
    assert f"- `{SPELLED}`: result of" in md, md
    page = tmp_path / "card.html"
    cli(["audit", "--no-cache", "--html", str(page)], moved_correction.path)
    assert f"<li><code>{SPELLED}</code>" in page.read_text()


NAME = "experiments/\u00eb/exp-002.json"  # a folder named ë


def test_list_and_show_read_a_non_ascii_name_under_an_ascii_filesystem_encoding(
    committed_repo: ExpRepo,
) -> None:
    committed_repo.write_json(NAME, experiment_doc("exp-002", status="pending"))
    committed_repo.commit("a record whose file name is not ASCII")
    env = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    listed = run_cli(["list", "--format", "json"], committed_repo.path, env=env)
    assert_clean_output(listed.out, listed.err)
    assert listed.code in (0, 1), listed
    assert "exp-002" in {run["id"] for run in json.loads(listed.out)["runs"]}, listed.out
    shown = run_cli(["show", "exp-002"], committed_repo.path, env=env)
    assert_clean_output(shown.out, shown.err)
    assert shown.code == 0, shown
    assert "exp-002  (pdebench-task1, pending)" in shown.out, shown.out
