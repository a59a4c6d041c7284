"""A stdout or a filesystem encoding that is not UTF-8 (LC_ALL=C without Python's UTF-8
mode, PYTHONIOENCODING=ascii) and a path that is not ASCII: `validate` printed a
UnicodeEncodeError traceback, exit 1, where stderr escaped the same line (issue 18
twenty-ninth pass, a hunter's find). What the stream cannot hold is escaped now, as
Python escapes it on stderr, and the document is opened by the bytes git gave."""

from __future__ import annotations

import io

import pytest
from conftest import ExpRepo, assert_clean_output, experiment_doc
from support import run_cli

from expflow_git.cli import console

NAME = "experiments/pdebench-task1/\u00ebxp.json"  # ëxp.json: its id is exp-001


@pytest.fixture
def odd_repo(committed_repo: ExpRepo) -> ExpRepo:
    committed_repo.write_json(NAME, experiment_doc("exp-001"))
    committed_repo.commit("a record whose file name is not ASCII")
    return committed_repo


def test_an_ascii_stdout_escapes_the_path(odd_repo: ExpRepo) -> None:
    res = run_cli(["validate"], odd_repo.path, env={"LC_ALL": "C", "PYTHONIOENCODING": "ascii"})
    assert_clean_output(res.out, res.err)
    assert res.code == 1, res
    assert "experiments/pdebench-task1/\\xebxp.json#/id: id-mismatch" in res.out, res


def test_an_ascii_filesystem_encoding_reads_the_document(odd_repo: ExpRepo) -> None:
    env = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    res = run_cli(["validate"], odd_repo.path, env=env)
    assert_clean_output(res.out, res.err)
    assert res.code == 1, res
    # Read and checked: the finding is the document's own, not "cannot read".
    assert "experiments/pdebench-task1/\\xebxp.json#/id: id-mismatch" in res.out, res
    assert "1 problem(s) in 1 file(s)" in res.err, res


def test_the_same_under_utf8(odd_repo: ExpRepo) -> None:
    res = run_cli(["validate"], odd_repo.path, env={"PYTHONIOENCODING": "utf-8"})
    assert res.code == 1, res
    assert f"{NAME}#/id: id-mismatch" in res.out, res


def test_echo_and_out_escape_what_the_stream_cannot_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict", write_through=True)
    monkeypatch.setattr("sys.stdout", stream)
    console.echo("step \u00eb \u2713")
    console.out("row \u00eb")
    assert raw.getvalue() == b"step \\xeb \\u2713\nrow \\xeb\n"
