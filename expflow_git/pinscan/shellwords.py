"""How fish reads a word where it looks for a keyword, for the PIN scan's commands that set
`EXPFLOW_PIN` without `=` (`envpairs.py`, docs/spec.md §5).

fish compares a command's first word with its keywords (`and`, `if`, `begin`, ...) after
undoing the word's quotes and escapes, so `a''nd`, `'and'`, `"an"d` and `\\x61nd` are
`and`, while `\\and` is the bell and `nd` (its parser's `unescape_keyword`; fish 3 and 4
alike). A word holding a character no keyword is written with (a blank, `$`, `*`, ...)
is never one, however it unescapes.
"""

from __future__ import annotations

import functools
import re

# The characters fish lets a keyword's word hold (its parser's `is_keyword_char`): any
# other and the word is no keyword, whatever it unescapes to.
_KEYWORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'\"\\\n!")
_QUOTING = frozenset("'\"\\")
# What a `\\` escapes inside quotes (any other `\\` there is itself).
_QUOTED_ESCAPES = {"'": "'\\", '"': '"\\\n'}
# fish's escapes that stand for a control character (`\\a` the bell, `\\cX`), none of
# which a keyword holds; the numeric ones read up to this many digits, in this base, to
# at most this code point (octal to 0x7F, fish's ASCII_MAX); any other escaped
# character is itself (`\\d` is `d`).
_CONTROL_ESCAPES = frozenset("abcefnrtv")
_NUMERIC_ESCAPES = {
    "x": (16, 2, 0xFF),
    "X": (16, 2, 0xFF),
    "u": (16, 4, 0xFFFF),
    "U": (16, 8, 0x10FFFF),
}
_OCTAL = "01234567"
# What a `\\` makes something else of (`spelled`).
_SPECIAL_ESCAPES = _CONTROL_ESCAPES | set(_NUMERIC_ESCAPES) | set(_OCTAL)
_HEX = "0123456789abcdefABCDEF"


@functools.lru_cache(maxsize=256)
def fish_keyword(word: str) -> str | None:
    """The text fish compares with its keywords for `word` as written (quotes and escapes
    undone, as its parser does), or None when it can be no keyword (a character no keyword
    is written with, an unclosed quote, a control character). Linear in the word."""
    if not _KEYWORD_CHARS.issuperset(word):
        return None
    if _QUOTING.isdisjoint(word):
        return word
    out: list[str] = []
    quote = ""
    i, size = 0, len(word)
    while i < size:
        c = word[i]
        i += 1
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and i < size and word[i] in _QUOTED_ESCAPES[quote]:
                if word[i] != "\n":  # (a line continuation inside double quotes is dropped)
                    out.append(word[i])
                i += 1
            else:
                out.append(c)
        elif c in "'\"":
            quote = c
        elif c != "\\":
            out.append(c)
        else:
            if i == size:
                return None
            escaped = word[i]
            i += 1
            if escaped == "\n":  # (a line continuation inside a word joins its parts)
                continue
            if escaped in _CONTROL_ESCAPES:
                return None
            if escaped in _NUMERIC_ESCAPES or escaped in _OCTAL:
                if escaped in _OCTAL:
                    base, most, top, i = 8, 3, 0x7F, i - 1
                else:
                    base, most, top = _NUMERIC_ESCAPES[escaped]
                digits = _OCTAL if base == 8 else _HEX
                stop = i
                while stop < size and stop - i < most and word[stop] in digits:
                    stop += 1
                if stop == i or int(word[i:stop], base) > top:
                    return None
                out.append(chr(int(word[i:stop], base)))
                i = stop
            else:
                out.append(escaped)
    return None if quote else "".join(out)


def spelled(keywords: frozenset[str]) -> str:
    """A regular expression for the `keywords` as fish may write them where it reads one:
    each character plain, after a `\\` that leaves it as it is (`\\d`, never `\\a`, the
    bell), or as a numeric escape (`\\x61`, `\\u0061`, `\\141`, as many digits as fish
    reads); quotes before, after and between them, and `\\` line continuations between
    them (`an\\` then `d`) and inside quotes. It takes what fish refuses only for quotes
    left open (`a'nd`): the search's first look, `fish_keyword` the exact one. No keyword
    is another's start or two others joined, so a run of them is read one way."""
    # (the quotes before a keyword taken once, and a look at the next character first: a
    # word no keyword begins with is given up at once, not once for each keyword)
    starts = re.escape("".join(sorted({k[0] for k in keywords})))
    words = "|".join(_spelled_word(k) for k in sorted(keywords))
    return rf"(?:['\"](?:['\"]|\\\n)*)?(?=[\\{starts}])(?:{words})"


def _spelled_word(keyword: str) -> str:
    # (after the last character a line continuation only inside quotes, one before a quote:
    # outside them it is a blank or joins the next word, `_BLANK`'s and `_leads`' to read)
    # The quotes and `\\` line breaks after it are taken whole, no `\\` line break before a
    # quote left to what follows (Python 3.10 has no possessive `*+`): a `\\` line break no
    # blank stands before joins the word on, so it is this word's. Left to `_BLANK`, with
    # the next keyword's quotes taking the rest, each such run after a keyword could be
    # split as many ways as it has quotes, and a line of them failing to be a command took
    # 2**n steps (a review, issue 18 forty-third pass: `and`, then `\\` + line break +
    # `'` twice and `or` 22 times, 199 characters, took 9 s, each two more times 4x; 28
    # fit in the 256 characters a name's look back reads).
    between = r"(?:['\"]|\\\n)*"
    trailing = r"(?:['\"]|\\\n(?=['\"]))*(?!['\"]|\\\n['\"])"
    return between.join(map(_spelled_char, keyword)) + trailing


def _spelled_char(c: str) -> str:
    code = ord(c)
    hexa = "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{code:02x}")
    octal = f"{code:o}"
    escapes = [
        f"[xX]{hexa}",
        f"u(?:00{hexa}|0?{hexa}(?![0-9A-Fa-f]))",
        f"U(?:0{{6}}{hexa}|0{{0,5}}{hexa}(?![0-9A-Fa-f]))",
        f"0{octal}" if len(octal) == 2 else octal,
    ]
    if len(octal) == 2:
        escapes.append(f"{octal}(?![0-7])")
    if c not in _SPECIAL_ESCAPES:
        escapes.append(re.escape(c))
    return rf"(?:{re.escape(c)}|\\(?:{'|'.join(escapes)}))"
