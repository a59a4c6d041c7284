"""The `--where` tokenizer: operators, punctuation, numbers, quoted strings, keywords
and dotted fields (a field is one token; a segment may be quoted in backticks, a
doubled backtick inside being one backtick). Every error is a WhereError with the
1-based column where it was found."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from expflow_git.errors import ExpflowError
from expflow_git.jsonstrict import float_problem
from expflow_git.policy.model import numeric

_KEYWORDS = ("and", "or", "not", "in", "true", "false", "null")

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<op>!=|==|<=|>=|<>|=|<|>)
    |(?P<punct>[(),])
    |(?P<number>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![A-Za-z0-9_.])
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<dot>\.)
    |(?P<string>['"])
    |(?P<backtick>`)""",
    re.VERBOSE | re.ASCII,
)
# A field segment after a dot: a word that may also start with a digit and hold `-`.
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*", re.ASCII)


class WhereError(ExpflowError):
    """A malformed or meaningless expression (exit 2); `column` is 1-based."""

    def __init__(self, column: int, detail: str) -> None:
        super().__init__(f"column {column}: {detail}")
        self.column = column


@dataclass(frozen=True)
class Token:
    """One token: its kind (op, punct, number, string, word, field, end), text, column
    and value (a number, a string, a field's segments)."""

    kind: str  # op, punct, number, string, word, field, end
    text: str
    column: int
    value: object = None


def tokens(text: str) -> list[Token]:
    """The expression's tokens; a field (`a.b.c`, segments maybe in backticks) is one."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise WhereError(pos + 1, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind == "space":
            pos = match.end()
        elif kind == "string":
            value, end = _string(text, pos)
            out.append(Token("string", text[pos:end], pos + 1, value))
            pos = end
        elif kind in ("word", "backtick"):
            path, end = _field(text, pos)
            word = path[0].casefold()
            if len(path) == 1 and kind == "word" and word in _KEYWORDS:
                out.append(Token("word", word, pos + 1))
            else:
                out.append(Token("field", text[pos:end], pos + 1, path))
            pos = end
        elif kind == "number":
            number = _number(match.group())
            if number is None:
                raise WhereError(
                    pos + 1, f"{match.group()} is not a finite number a double holds as written"
                )
            out.append(Token("number", match.group(), pos + 1, number))
            pos = match.end()
        elif kind == "dot":
            raise WhereError(pos + 1, "a field name must come before '.'")
        else:
            out.append(Token(kind, match.group(), pos + 1))
            pos = match.end()
    out.append(Token("end", "", len(text) + 1))
    return out


def _string(text: str, start: int) -> tuple[str, int]:
    """A quoted string from `start` (its quote): the value and the index after it.
    A backslash escapes the quote or a backslash; a doubled quote is one quote."""
    quote = text[start]
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text) and text[pos + 1] in (quote, "\\"):
            chars.append(text[pos + 1])
            pos += 2
        elif ch == quote:
            if text[pos + 1 : pos + 2] == quote:
                chars.append(quote)
                pos += 2
            else:
                return "".join(chars), pos + 1
        else:
            chars.append(ch)
            pos += 1
    raise WhereError(start + 1, "unterminated string")


def _field(text: str, start: int) -> tuple[tuple[str, ...], int]:
    """A dotted field from `start`: its segments and the index after it."""
    segments: list[str] = []
    pos = start
    while True:
        if text.startswith("`", pos):
            name, pos = _quoted_name(text, pos)
            segments.append(name)
        else:
            match = (_SEGMENT if segments else _WORD).match(text, pos)
            if match is None:
                raise WhereError(pos + 1, "expected a name after '.'")
            segments.append(match.group())
            pos = match.end()
        if not text.startswith(".", pos):
            return tuple(segments), pos
        pos += 1


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def _quoted_name(text: str, start: int) -> tuple[str, int]:
    """A name in backticks from `start` (its backtick): the name and the index after it.
    A doubled backtick inside is one backtick (``params.`a``b` `` is `a`b`), as a
    doubled quote is one quote in a string: a name holding one could not be written."""
    pieces: list[str] = []
    pos = start + 1
    while True:
        end = text.find("`", pos)
        if end < 0:
            raise WhereError(start + 1, "unterminated `quoted name`")
        if not text.startswith("`", end + 1):
            pieces.append(text[pos:end])
            break
        pieces.append(text[pos : end + 1])
        pos = end + 2
    name = "".join(pieces)
    if not name:
        raise WhereError(start + 1, "empty `quoted name`")
    return name, end + 1


def _number(spelled: str) -> int | float | None:
    """A literal's value as rules read a number (policy.model.numeric: an integer
    spelling exactly, `9007199254740993`), else as a double (`1.`, `007`); None where no
    double holds it, or not as written (`1e400`, 10**400, `1e-4000`)."""
    number = numeric(spelled)
    if type(number) is int or type(number) is float:
        return number
    try:
        value = float(spelled)
    except (OverflowError, ValueError):
        return None
    return value if math.isfinite(value) and float_problem(spelled, value) is None else None
