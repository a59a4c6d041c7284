"""A review of the forty-third pass's PIN scan (issue 18; docs/decisions.md "Forty-third
pass"): fish's keywords read by their shape (`shellwords.spelled`) left a `\\` line break
before a quote to be taken either by the keyword or by the blank after it, the next
keyword's opening quote taking the rest. A line of such keywords that is no command was
then tried every way: 2**n steps for n of them, 9 s for one 199-character line and hours
for the 256 characters a name's look back reads (the code before this pass: 1.5 ms). And
`_leads` passed over a quote its words did not take (one holding a `\\` line break, one
left open), reading the letters after it as a keyword: `true; 'and\\` then `' set -x
NAME NNNN` was flagged, where fish keeps the line break in the single-quoted word.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import re

import pytest

from expflow_git.pinscan import envpairs
from expflow_git.pinscan.scanner import scan_bytes
from expflow_git.pinscan.shellwords import fish_keyword, spelled

pytestmark = pytest.mark.usefixtures("isolated_env")

KEY = "EXPFLOW" + "_PIN"
PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it
SPELLED = spelled(envpairs._PREFIX_WORDS)
BLANKS = rf"(?:{envpairs._BLANK})+"


def _splits(text: str) -> list[int]:
    """Where a first keyword may end in `text` read as keyword, blanks, keyword (as
    `_COMMAND`'s prefix reads two): each such place is one more way the regex tries."""
    ends = []
    for end in range(1, len(text)):
        first = re.compile(rf"(?:{SPELLED})(?={re.escape(text[end:])}\Z)").match(text)
        if first is not None and first.end() == end:
            if re.fullmatch(rf"{BLANKS}(?:{SPELLED})", text[end:]) is not None:
                ends.append(end)
    return ends


@pytest.mark.parametrize("quotes", ["'", "'\\\n'", "\"\\\n'", "'\\\n'\\\n\""])
def test_a_line_break_after_a_keyword_is_read_one_way(quotes: str) -> None:
    """`and`, a `\\` line break, quotes (each after a `\\` line break) and `or`: the line
    break no blank stands before joins the word on (`_leads`), so the keyword's pattern
    takes it and every quote after it; none is left to the blank and the next keyword's
    quotes. Failed before: one way per quote (`'\\\\\\n'` two, the last three)."""
    text = "and\\\n" + quotes + "or"
    assert len(_splits(text)) <= 1, (text, _splits(text))


def test_a_blank_before_the_line_break_still_parts_the_keywords() -> None:
    """What the fix keeps: `and \\` then `'or'` is two keywords, read one way, and a
    keyword written with quotes after a line break is matched whole (`and\\` then `''`)."""
    assert len(_splits("and \\\n'or'")) == 1
    assert re.fullmatch(SPELLED, "and\\\n''") is not None
    assert fish_keyword("and\\\n''") == "and"


@pytest.mark.parametrize("times", [1, 2, 6, 12])
def test_a_run_of_them_is_no_command(times: int) -> None:
    """The line that took 2**n steps (kept short here: the fix is asserted by the splits
    above, never by a time) reads as fish reads it: one word, no keyword, no finding; and
    the same keywords with a blank before each line break do lead a `set`."""
    joined = "and" + ("\\\n'\\\n'or") * times
    assert scan_bytes("config.fish", f"{joined} x {KEY} {PIN}\n".encode()) == []
    assert scan_bytes("config.fish", f"{joined} set -x {KEY} {PIN}\n".encode()) == []
    parted = "and" + (" \\\n'or'") * times
    text = f"{parted} set -x {KEY} {PIN}\n"
    found = [(f.rule, f.line) for f in scan_bytes("config.fish", text.encode())]
    assert found == [("pin-assignment", times + 1)], text


# (name, text): no keyword where fish reads these (flagged by the pass, clean before it)
QUOTES_NO_KEYWORD = [
    ("single-quoted-line-break", f"true; 'and\\\n' set -x {KEY} {PIN}\n"),
    ("single-quoted-line-break-inside", f"true; 'an\\\nd' set -x {KEY} {PIN}\n"),
    ("single-quoted-line-break-before", f"true; '\\\n'and set -x {KEY} {PIN}\n"),
    ("at-line-start", f"'and\\\n' set -x {KEY} {PIN}\n"),
    ("second-word", f"and '\\\n'or set -x {KEY} {PIN}\n"),
    ("left-open-before", f"true; 'and set -x {KEY} {PIN}\n"),
    ("left-open-after", f"true; and' set -x {KEY} {PIN}\n"),
    ("double-left-open", f'true; "and set -x {KEY} {PIN}\n'),
]


@pytest.mark.parametrize(("name", "text"), QUOTES_NO_KEYWORD, ids=[n for n, _ in QUOTES_NO_KEYWORD])
def test_a_quote_the_words_did_not_take_leads_nothing(name: str, text: str) -> None:
    """fish keeps a `\\` line break inside single quotes (`fish_keyword` reads
    `'and\\` then `'` as no keyword already) and reads no keyword through a quote left
    open: the prefix's words are read whole, a quote never passed over."""
    assert scan_bytes("config.fish", text.encode()) == [], text


# (name, text): what the pass reads and the fix keeps
QUOTES_KEYWORD = [
    ("double-quoted-line-break", f'true; "an\\\nd" set -x {KEY} {PIN}\n'),
    ("quoted", f"true; 'and' set -x {KEY} {PIN}\n"),
    ("split-quotes", f"true; a\"n\"d set -x {KEY} '{PIN}'\n"),
    ("joined-empty-quotes", f"true; and\\\n'' set -x {KEY} {PIN}\n"),
]


@pytest.mark.parametrize(("name", "text"), QUOTES_KEYWORD, ids=[n for n, _ in QUOTES_KEYWORD])
def test_a_keyword_fish_reads_through_quotes_still_leads(name: str, text: str) -> None:
    """fish drops a `\\` line break in double quotes: `"an\\` then `d"` is `and`."""
    found = [(f.rule, f.line) for f in scan_bytes("config.fish", text.encode())]
    assert found == [("pin-assignment", text.count("\n", 0, text.index(PIN)) + 1)], text
