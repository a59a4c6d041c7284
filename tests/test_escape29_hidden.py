"""Unassigned and private-use characters are shown as escapes in every sink (issue 18,
twenty-ninth pass).

Python 3.11's tables are Unicode 14: U+13439-U+1343F, format controls since Unicode 15
(a terminal may draw them as nothing), read as unassigned (Cn) and passed raw, as did
private-use characters (Co), while U+2067 beside them was escaped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from conftest import CliCall, ExpRepo

from expflow_git import escape

# Unicode 15 format controls, unassigned to Python 3.11; a private-use character of the
# BMP and one of plane 15; a noncharacter; and a bidi isolate, escaped already.
REASON = "ok\U00013439\U0001343f\ue000\U000f0000\ufffe\u2067x"
RAW = ("\U00013439", "\U0001343f", "\ue000", "\U000f0000", "\ufffe", "\u2067")


def _raw_in(text: str) -> list[str]:
    return [repr(ch) for ch in RAW if ch in text]


@pytest.mark.parametrize(
    "sink",
    [
        escape.terminal,
        escape.line,
        escape.github_data,
        escape.github_property,
        escape.markdown,
        escape.markdown_code,
        escape.csv_cell,
        escape.html_text,
        escape.json_text,
        escape.output_value,
    ],
)
def test_every_sink_escapes_unassigned_and_private_use(sink: Callable[[str], str]) -> None:
    shown = sink(REASON)
    assert _raw_in(shown) == []


def test_terminal_spells_them_as_code_points() -> None:
    assert escape.terminal(REASON) == ("ok\\U00013439\\U0001343f\\ue000\\U000f0000\\ufffe\\u2067x")
    assert escape.terminal("plain é ✓ text") == "plain é ✓ text"


def test_json_text_keeps_the_value() -> None:
    doc = json.dumps({"reason": REASON}, ensure_ascii=False)
    shown = escape.json_text(doc)
    assert _raw_in(shown) == []
    assert json.loads(shown) == {"reason": REASON}


def test_list_shows_them_escaped_in_every_format(exp_repo: ExpRepo, cli: CliCall) -> None:
    exp_repo.commit("init")
    new = ["new", "e1", "--study", "s", "--status", "failed", "--reason", REASON]
    done = cli(new, exp_repo.path)
    assert done.code == 0, done.err
    for fmt in ("text", "md", "csv", "json"):
        got = cli(["list", "--format", fmt], exp_repo.path)
        assert got.code == 0, got.err
        assert _raw_in(got.out) == [], fmt
    text = cli(["list"], exp_repo.path).out
    assert "ok\\U00013439\\U0001343f\\ue000" in text
    rows = list(csv.reader(io.StringIO(cli(["list", "--format", "csv"], exp_repo.path).out)))
    # The reason JSON-quoted, as every CSV of runs writes text it would show escaped
    # (spec §4.1; thirty-eighth pass): read back exactly.
    assert rows[1][-1].startswith('"') and json.loads(rows[1][-1]) == REASON, rows
    listed = json.loads(cli(["list", "--format", "json"], exp_repo.path).out)
    assert REASON in json.dumps(listed, ensure_ascii=False)
