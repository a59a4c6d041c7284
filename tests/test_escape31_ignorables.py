"""Default-ignorable characters Python reads as printable are shown as escapes in every
sink (issue 18, thirty-first pass).

Unicode's Default_Ignorable_Code_Point holds 263 combining marks (Mn) and 4 Hangul
fillers (Lo) that a terminal, a browser or GitHub draws as nothing, but that are none of
the categories `escape` escaped: `lr` and `lr` + U+034F were two params shown alike, and
a reason shown as "OOM" could carry a message, one variation selector a byte.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Callable

import pytest
from conftest import CliCall, ExpRepo

from expflow_git import escape

# DerivedCoreProperties.txt, Default_Ignorable_Code_Point, its Mn and Lo entries.
RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180D),  # Mongolian free variation selectors one to three
    (0x180F, 0x180F),  # Mongolian free variation selector four
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors 1-16
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0100, 0xE01EF),  # variation selectors 17-256
)
CODES = [code for low, high in RANGES for code in range(low, high + 1)]

SINKS: list[Callable[[str], str]] = [
    escape.terminal,
    escape.terminal_path,
    escape.line,
    escape.github_data,
    escape.github_property,
    escape.markdown,
    escape.markdown_code,
    escape.csv_cell,
    escape.html_text,
    escape.json_text,
    escape.output_value,
]


def _spelled(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _json_spelled(code: int) -> str:
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    low = code - 0x10000
    return f"\\u{0xD800 + (low >> 10):04x}\\u{0xDC00 + (low & 0x3FF):04x}"


def test_the_ranges_are_the_printable_part_of_the_property() -> None:
    assert len(CODES) == 267
    for code in CODES:  # printable to Python, so `str.isprintable` passed them all
        category = unicodedata.category(chr(code))
        assert category in ("Mn", "Lo", "Cn"), hex(code)  # Cn: U+180F before Unicode 14
        assert chr(code).isprintable() or category == "Cn", hex(code)


@pytest.mark.parametrize("sink", SINKS, ids=lambda sink: sink.__name__)
def test_every_sink_shows_every_one_as_an_escape(sink: Callable[[str], str]) -> None:
    raw = [hex(code) for code in CODES if chr(code) in sink(f"a{chr(code)}b")]
    assert raw == []
    for code in CODES:
        shown = sink(f"a{chr(code)}b")
        if sink is escape.json_text:
            assert shown == f"a{_json_spelled(code)}b"
        elif sink is escape.markdown:
            assert shown == f"a\\{_spelled(code)}b"  # its backslash escaped: shows \u034f
        elif sink is escape.markdown_code:
            assert shown == f"`a{_spelled(code)}b`"
        else:
            assert shown == f"a{_spelled(code)}b", sink.__name__


@pytest.mark.parametrize("sink", SINKS, ids=lambda sink: sink.__name__)
def test_a_smuggled_message_and_a_lookalike_name(sink: Callable[[str], str]) -> None:
    smuggled = "OOM" + "".join(chr(0xE0100 + b - 0x10) for b in b"rm -rf /")
    for text in (smuggled, "a\U000e0100\U000e0101b", "lr\u034f", "\u3164", "x\ufe0f"):
        shown = sink(text)
        assert not any(chr(code) in shown for code in CODES), (sink.__name__, shown)


def test_ordinary_text_is_left_alone() -> None:
    for text in ("plain", "plain é ✓ text", "e\u0301", "中文 ＝", "\u1100\u1161"):
        assert escape.terminal(text) == text
        assert escape.line(text) == text
        assert escape.json_text(json.dumps(text, ensure_ascii=False)) == json.dumps(
            text, ensure_ascii=False
        )
    # Mixed with a character escaped before: both escaped, the rest as it was.
    assert escape.terminal("é\x1b\u034f✓") == "é\\x1b\\u034f✓"


def test_json_text_keeps_the_value() -> None:
    value = {"lr\u034f": "OOM\U000e0100\ufe0f\u3164"}
    shown = escape.json_text(json.dumps(value, ensure_ascii=False))
    assert not any(chr(code) in shown for code in CODES)
    assert json.loads(shown) == value


def test_github_path_keeps_a_file_name_as_it_is() -> None:
    """An annotation's `file=` must name the file as the repository does."""
    assert escape.github_path("a\u034f\ufe0f.json") == "a\u034f\ufe0f.json"


def _no_raw(text: str) -> list[str]:
    return [hex(code) for code in CODES if chr(code) in text]


def test_show_compare_and_list_show_them(exp_repo: ExpRepo, cli: CliCall) -> None:
    exp_repo.commit("init")
    reason = "OOM\U000e0100\U000e0101"
    for args in (
        ["new", "e1", "--study", "s", "--param", "lr=0.1"],
        ["new", "e2", "--study", "s", "--param", "lr\u034f=3.0", "--param", "note=ok\ufe0f"]
        + ["--status", "failed", "--reason", reason],
    ):
        done = cli(args, exp_repo.path)
        assert done.code == 0, done.err
    exp_repo.commit("runs")
    outputs = {}
    for args in (
        ["show", "e2"],
        ["compare", "e1", "e2"],
        ["list"],
        ["list", "--format", "md"],
        ["list", "--format", "csv", "--columns", "params.`lr\u034f`,params.note"],
        ["list", "--format", "json"],
    ):
        got = cli(args, exp_repo.path)
        assert got.code == 0, (args, got.err)
        assert _no_raw(got.out) == [] and _no_raw(got.err) == [], (args, got.out)
        outputs[" ".join(args[:3])] = got.out
    assert "lr\\u034f" in outputs["show e2"], outputs["show e2"]
    assert "OOM\\U000e0100\\U000e0101" in outputs["show e2"]
    assert "lr\\u034f" in outputs["compare e1 e2"], outputs["compare e1 e2"]
    assert "OOM\\U000e0100\\U000e0101" in outputs["list"]
    rows = list(csv.reader(io.StringIO(outputs["list --format csv"])))
    assert rows[0][-3:] == ["params.lr\\u034f", "params.note", "reason"], rows
    # A param's string the output escapes is JSON-quoted (spec §4.1), and so is the reason
    # (thirty-eighth pass: it was as is), each read back exactly.
    assert rows[2][-3:-1] == ["3", '"ok\\ufe0f"'], rows
    assert json.loads(rows[2][-1]) == reason, rows
    listed = json.loads(outputs["list --format json"])
    assert reason in json.dumps(listed, ensure_ascii=False)
