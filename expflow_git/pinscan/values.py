"""Reading the value after a key, for the PIN scan: a quoted string, a YAML block
scalar, a reference (`$X`, `${{ secrets.X }}`, `$(cmd)`, ...) or a bare scalar.

Every read stays within the key's line and is linear in what it reads; what several
keys on one line would each search the rest of the line for (the next `}`, the last
`)` and `}}`, a block scalar's value) is found once per line by `Line`. A YAML value
on the lines below its key (`value_below`) is read only for a key that begins and ends
its line, so for one key a line at most.
"""

from __future__ import annotations

import bisect
import enum
import re
from dataclasses import dataclass

from expflow_git.lazyre import lazy_compile

# A value that names where the secret comes from instead of holding it.
_REFERENCE_RE = lazy_compile(
    r"""\$\{\{[^}]*\}\}                                 # ${{ secrets.X }} (GitHub Actions)
      | \$\{[A-Za-z_][A-Za-z0-9_]*(?::?-|:?\?[^}]*)?\}  # ${X} ${X:-} ${X:?m}; defaults literal
      | \$[A-Za-z_][A-Za-z0-9_]*                        # $X
      | \$env:[A-Za-z_][A-Za-z0-9_]*                    # PowerShell
      | \$\(.*\)                                        # $(command)
      | %[A-Za-z_][A-Za-z0-9_]*%                        # cmd.exe
      | \{\{.*\}\}                                      # Jinja / Helm template
      | \*[A-Za-z0-9_-]+                                # YAML alias
    """,
    re.VERBOSE,
)
_BARE_RE = lazy_compile(r"[^\s,;#\]})]+")
_NOT_A_SECRET = frozenset({"null", "~", "none", "nil", "undefined", "true", "false"})


class Line:
    """The line around increasing positions of one text, each line found once, with what
    several keys on one line would otherwise each search the rest of the line for."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.start = 0
        self.eol = -1  # index of the line's "\n" (or len(text)); -1: no line yet
        self.end = 0  # the line's end without trailing "\r"
        self._last_paren = -2
        self._last_pair = -2
        self._brace_from = 0
        self._brace_at = -2
        self._block: Value | None | bool = False  # False: not computed
        self._head = -1  # where the line's first key may begin; -1: not computed
        self._make_head = -1  # where a make statement's name may begin; -1: not computed
        self._shaped: list[tuple[int, int]] | None = None  # None: not computed
        # What `past_properties` found after a property token, by the token's start
        self.after_property: dict[int, Value | None] = {}

    def at(self, pos: int) -> Line:
        """Move to the line holding `pos` (never backwards: callers go in text order)."""
        if pos <= self.eol:
            return self
        text = self.text
        # Only the stretch after the previous line is searched: each line is found once.
        self.start = text.rfind("\n", self.eol + 1, pos) + 1 or self.eol + 1
        eol = text.find("\n", pos)
        self.eol = len(text) if eol == -1 else eol
        end = self.eol
        while end > self.start and text[end - 1] == "\r":
            end -= 1
        self.end = end
        self._last_paren = self._last_pair = self._brace_at = -2
        self._block = False
        self._head = -1
        self._make_head = -1
        self._shaped = None
        self.after_property = {}
        return self

    def make_head(self) -> int:
        """Where a make variable's name may begin on the line: past its blanks and any
        `export` or `override`. Read once a line: matched again for each `!=` on it, the
        line was read once per key (quadratic: a 640 KB line took a minute; a review)."""
        if self._make_head == -1:
            m = _MAKE_HEAD_RE.match(self.text, self.start, self.end)
            self._make_head = self.start if m is None else m.end()
        return self._make_head

    def shaped(self) -> list[tuple[int, int]]:
        """The spans of the line's words shaped as a secret (`phrase_value`), in order: each
        line's words are read once, however many keys it holds."""
        if self._shaped is None:
            self._shaped = [
                span
                for m in _WORD_RE.finditer(self.text, self.start, self.end)
                if (span := _prose_shaped(self.text, m.start(), m.end())) is not None
            ]
        return self._shaped

    def head(self) -> int:
        """Where a YAML key beginning the line begins: past its indent and the list items
        it opens (`- - key:`)."""
        if self._head == -1:
            m = _LINE_HEAD_RE.match(self.text, self.start, self.end)
            self._head = self.start if m is None else m.end()
        return self._head

    def last_paren(self) -> int:
        """The line's last `)` (where a `$(...)` reference ends), or -1."""
        if self._last_paren == -2:
            self._last_paren = self.text.rfind(")", self.start, self.end)
        return self._last_paren

    def last_pair(self) -> int:
        """The line's last `}}` (where a `{{ template }}` ends), or -1."""
        if self._last_pair == -2:
            self._last_pair = self.text.rfind("}}", self.start, self.end)
        return self._last_pair

    def next_brace(self, pos: int) -> int:
        """The first `}` at or after `pos` on the line, or -1."""
        if self._brace_at == -2 or pos < self._brace_from or -1 < self._brace_at < pos:
            self._brace_from = pos
            self._brace_at = self.text.find("}", pos, self.end)
        return self._brace_at

    def block_value(self) -> Value | None:
        """The value of a YAML `|`/`>` block scalar opened on this line (the same for every
        key of the line)."""
        if self._block is False:
            self._block = _block_scalar_value(self.text, self.start, self.eol)
        return self._block  # type: ignore[return-value]


class Kind(enum.Enum):
    """What a value is: it decides whether an assignment is a leak."""

    LITERAL = "literal"  # quoted string or YAML block scalar
    BARE = "bare"  # unquoted scalar
    REFERENCE = "reference"  # names where the secret comes from


@dataclass(frozen=True)
class Value:
    """A value's span in the text (what a finding points at) and its kind."""

    start: int
    end: int
    kind: Kind


_VALUE_ENDS = frozenset(" \t,;#]})")
# What may stand before a make variable's name on its line.
_MAKE_HEAD_RE = lazy_compile(r"[ \t]*(?:(?:export|override)[ \t]+)*")
_LINE_HEAD_RE = lazy_compile(r" *(?:- +)*")
_INDENT_RE = lazy_compile(r"[ \t]*")
# A scalar alone on its line, below its key: a quoted string, or one plain word that does
# not begin as a YAML indicator (a list item, a mapping, a block scalar, a property, an
# alias: each read by its own rule, or not a value). Each part is followed by a character
# the one before it cannot take: linear.
_BELOW_RE = lazy_compile(
    r"""(?:[&!][^ \t\r\n]*[ \t]+)*  # node properties first (`&a 'NNNN'`, `!!str 'NNNN'`)
        (?:"(?P<dq>(?:[^"\\\r\n]|\\.)*)"
         | '(?P<sq>(?:[^'\r\n]|'')*)'
         | (?P<plain>[^ \t\r\n"'\#&*!|>%@`,\[\]{}?:-][^ \t\r\n]*)
        )[ \t]*(?:\#[^\n]*)?\r?$""",
    re.VERBOSE,
)
# A PIN (YAML reads `+NNNN` as one), a digest, or the tool's own hash format (any salt
# length `pin check` takes; a second review).
_SECRET_SHAPED = lazy_compile(r"[+-]?(?:0[xX]|sha256:)?[0-9A-Fa-f]{4,}|[^ \t]*\$scrypt\$[^ \t]*")
_NAME_RE = lazy_compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALIAS_RE = lazy_compile(r"[A-Za-z0-9_-]+")
_BLOCK_HEAD_RE = lazy_compile(r"[|>][-+0-9]*[ \t]*")


def value_at(text: str, pos: int, line: Line, *, spaced: bool) -> Value | None:
    """The scalar value starting at `pos`, or None when it is empty or a nested mapping/list.

    The value ends with its line (`line`, which holds `pos`); nothing here reads further
    along the line than the value, except through `line`'s per-line answers."""
    end = max(pos, line.end)
    if pos >= end or (spaced and text[pos] == "#"):
        return None
    first = text[pos]
    if first in "\"'":
        if text.startswith(first * 3, pos):
            return _triple_quoted(text, pos, end, first)
        close = _closing_quote(text, pos, end, first)
        return _quoted(text, pos + 1, close if close != -1 else end)
    head = _BLOCK_HEAD_RE.match(text, pos, end)
    if head is not None and (head.end() == end or text[head.end()] == "#"):
        return line.block_value()
    reference = reference_end(text, pos, end, line)
    if reference is not None and (reference == end or text[reference] in _VALUE_ENDS):
        return secret_in_reference(text, pos, reference) or Value(pos, reference, Kind.REFERENCE)
    if first in "{[":
        # Empty, a `{{ template }}`, or a nested mapping/list whose own keys are scanned.
        return None
    bare = _BARE_RE.match(text, pos, end)
    if bare is None or bare.group().lower() in _NOT_A_SECRET:
        return None
    return Value(pos, bare.end(), Kind.BARE)


_WORD_RE = lazy_compile(r"[^ \t\r\n]+")


def secret_shaped(token: str) -> bool:
    """A word shaped as a PIN, a digest or the tool's own hash format."""
    return _SECRET_SHAPED.fullmatch(token) is not None


def phrase_value(text: str, value: Value, line: Line) -> Value | None:
    """A bare value after a key's `:` that begins a phrase (more words follow it on its
    line, a comment aside) is no PIN and no hash (a YAML plain scalar of several words):
    None, unless a word of it (or after it) holds a PIN, a digest or the hash
    (`_prose_shaped`), then the first such part (`EXPFLOW_PIN: it is NNNN` shows it).
    Prose is no finding (`# EXPFLOW_PIN: set it in the repository secrets`, a Markdown
    `EXPFLOW_PIN: the PIN for guarded commands`; a hunter's find: false findings). Any
    other value as it is."""
    if value.kind is not Kind.BARE:
        return value
    pos = value.end
    while pos < line.end and text[pos] in " \t":
        pos += 1
    if pos == value.end or pos >= line.end or text[pos] in "#,;]})":
        return value
    shaped = line.shaped()
    index = bisect.bisect_left(shaped, (value.start, value.start))
    if index == len(shaped):
        return None
    start, end = shaped[index]
    return value if start == value.start else Value(start, end, Kind.BARE)


_PUNCTUATION = "\"'`.,;:!?()[]{}<>"
# A secret inside a word of prose, whatever stands around it (`**NNNN**`, `pin-NNNN`,
# `value=NNNN`, `NNNN/ci`): four digits no other digit touches, or a digest's 64 hex digits
# no other hex digit touches. A run of four hex characters or more with a digit counted
# too, and took `sha256`, `ed25519` and a commit's `3f2a1b9c` for secrets (a hunter's
# find, issue 18 twenty-seventh pass).
_SHAPED_PART = lazy_compile(
    r"(?<![0-9])[0-9]{4}(?![0-9])|(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])"
)
_FORMAT_WORD = "$scrypt$"


def _prose_shaped(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of the secret in the word `text[start:end]`, if it holds one: the tool's
    hash (the word, its punctuation aside), four digits or a 64-hex digest (`_SHAPED_PART`).
    Any part of the word counts: a whole word shaped as a secret once punctuation was
    stripped let `**NNNN**` (Markdown's bold) pass as prose (a review)."""
    while start < end and text[start] in _PUNCTUATION:
        start += 1
    while end > start and text[end - 1] in _PUNCTUATION:
        end -= 1
    if text.find(_FORMAT_WORD, start, end) != -1:
        return start, end
    m = _SHAPED_PART.search(text, start, end)
    return None if m is None else m.span()


def command_value(text: str, pos: int, line: Line) -> Value | None:
    """The first secret-shaped word (a PIN, a digest, the tool's hash; quotes aside) of the
    command after make's `!=`, which assigns the command's output (`X != echo NNNN`): a
    command naming where the secret is (`cat .pin`) holds none. Reads to the line's end."""
    return _secret_word(text, pos, max(pos, line.end), _WORD_RE, _SECRET_SHAPED, comments=True)


def _secret_word(
    text: str,
    start: int,
    end: int,
    words: re.Pattern[str],
    shape: re.Pattern[str],
    *,
    comments: bool,
) -> Value | None:
    """The first of the `words` in `text[start:end]` (quotes aside) that is `shape`d, as a
    literal value; with `comments`, none after a word that begins a comment."""
    for m in words.finditer(text, start, end):
        s, e = m.start(), m.end()
        while e - s > 1 and text[s] in "\"'" and text[e - 1] == text[s]:
            s, e = s + 1, e - 1
        if shape.fullmatch(text, s, e):
            return Value(s, e, Kind.LITERAL)
        if comments and m.group().startswith("#"):
            break
    return None


def ends_line(text: str, pos: int, line: Line, *, spaced: bool) -> bool:
    """Nothing but blanks and a comment from `pos` (past a key's separator) to the line's
    end, node properties aside (`pin: &a` then `  NNNN` below; a review)."""
    if pos >= line.end or (spaced and text[pos] == "#"):
        return True
    return spaced and _PROPERTIES_RE.fullmatch(text, pos, line.end) is not None


# Node properties to the line's end, each token followed by blanks before the next: one
# way to read a line, so a failed one is given up in linear time.
_PROPERTIES_RE = lazy_compile(r"[&!][^ \t\r\n#]*(?:[ \t]+[&!][^ \t\r\n#]*)*[ \t]*(?:#.*)?")


def value_below(text: str, line: Line, column: int) -> Value | None:
    """A YAML scalar on the line below its key (`EXPFLOW_PIN:` then `  'NNNN'`; the key,
    at `column` of `line`, ends its line): the next line that is neither blank nor a comment,
    if it is indented deeper than the key and holds one quoted string or one plain word."""
    pos = line.eol + 1
    size = len(text)
    while pos < size:
        eol = text.find("\n", pos)
        eol = size if eol == -1 else eol
        lead = _INDENT_RE.match(text, pos, eol)
        body = lead.end() if lead is not None else pos
        if body < eol and text[body] not in "#\r":
            break
        pos = eol + 1
    else:
        return None
    if body - pos <= column or "\t" in text[pos:body]:
        return None
    m = _BELOW_RE.match(text, body, eol)
    if m is None:
        return None
    plain = m.group("plain")
    if plain is not None:
        # Only a word shaped as a PIN or a digest: a definition list or a docstring's
        # `EXPFLOW_PIN:` then `    Required.` is prose (a review: false findings).
        if not _SECRET_SHAPED.fullmatch(plain):
            return None
        return Value(m.start("plain"), m.end("plain"), Kind.BARE)
    group = "dq" if m.group("dq") is not None else "sq"
    inner = m.group(group)
    stripped = inner.strip()
    if not stripped:
        return None
    start = m.start(group) + (len(inner) - len(inner.lstrip()))
    return _literal_or_reference(text, start, start + len(stripped))


def reference_end(text: str, pos: int, end: int, line: Line) -> int | None:
    """Where `_REFERENCE_RE.match(text[pos:end])` would end (absolute), or None: the same
    alternatives in the same order, with the line's remembered `}`, `)` and `}}`."""
    first = text[pos]
    if first == "$":
        nxt = text[pos + 1 : pos + 2] if pos + 1 < end else ""
        if nxt == "{":
            if text.startswith("{", pos + 2) and pos + 2 < end:
                brace = line.next_brace(pos + 3)
                if brace != -1 and brace + 1 < end and text[brace + 1] == "}":
                    return brace + 2
            name = _NAME_RE.match(text, pos + 2, end)
            if name is None:
                return None
            after = name.end()
            two = text[after : min(after + 2, end)]
            if two == ":-" and text[after + 2 : after + 3] == "}" and after + 2 < end:
                return after + 3
            if two[:1] == "-" and text[after + 1 : after + 2] == "}" and after + 1 < end:
                return after + 2
            question = after + 1 if two == ":?" else after if two[:1] == "?" else -1
            if question != -1:
                brace = line.next_brace(question + 1)
                if brace != -1:
                    return brace + 1
            return after + 1 if text[after : after + 1] == "}" and after < end else None
        if nxt == "(":
            paren = line.last_paren()
            return paren + 1 if paren >= pos + 2 else None
        name = _NAME_RE.match(text, pos + 1, end)
        return None if name is None else name.end()
    if first == "%":
        name = _NAME_RE.match(text, pos + 1, end)
        if name is not None and text[name.end() : name.end() + 1] == "%" and name.end() < end:
            return name.end() + 1
        return None
    if first == "{":
        if text[pos + 1 : pos + 2] == "{" and pos + 1 < end:
            pair = line.last_pair()
            return pair + 2 if pair >= pos + 2 else None
        return None
    if first == "*":
        alias = _ALIAS_RE.match(text, pos + 1, end)
        return None if alias is None else alias.end()
    return None


def _triple_quoted(text: str, pos: int, end: int, quote: str) -> Value | None:
    """A TOML (or Python) string between triple quotes, closed on its line (a PIN so
    written was read as the empty string its first two quotes make; an attacker's hunt,
    issue 18 twenty-second pass); one left open, a multi-line string, is not read. Only
    as far as the next quote is looked at, so keys on one line are each read once."""
    close = _closing_quote(text, pos + 2, end, quote)
    if close == -1 or not text.startswith(quote * 3, close):
        return None
    return _quoted(text, pos + 3, close)


def _quoted(text: str, start: int, end: int) -> Value | None:
    """The value between quotes, `text[start:end]`, without its blanks; None if blank."""
    inner = text[start:end]
    stripped = inner.strip()
    if not stripped:
        return None
    start += len(inner) - len(inner.lstrip())
    return _literal_or_reference(text, start, start + len(stripped))


def _closing_quote(text: str, pos: int, end: int, quote: str) -> int:
    """The index of the quote closing the one at `pos`, before `end`; -1 if none."""
    i = pos + 1
    while i < end:
        c = text[i]
        if c == "\\" and quote == '"':
            i += 2
            continue
        if c == quote:
            return i
        i += 1
    return -1


def _literal_or_reference(text: str, start: int, end: int) -> Value:
    """A quoted value `text[start:end]`: a reference (unless it holds a literal secret,
    `secret_in_reference`) or a literal."""
    if not is_reference(text[start:end]):
        return Value(start, end, Kind.LITERAL)
    return secret_in_reference(text, start, end) or Value(start, end, Kind.REFERENCE)


# What a reference may hold as a literal secret: four digits, a digest, the tool's hash
# (stricter than `_SECRET_SHAPED`: `$(pass show added)` names no secret).
_REFERENCE_SECRET = lazy_compile(
    r"[0-9]{4}|(?:sha256:)?[0-9A-Fa-f]{64}|[^ \t\"']*\$scrypt\$[^ \t\"']*"
)
_COMMAND_WORD_RE = lazy_compile(r"[^ \t\r\n;|&()`]+")
_TEMPLATE_LITERAL_RE = lazy_compile(r"\"([^\"\\\r\n]*)\"|'([^'\r\n]*)'")


def secret_in_reference(text: str, start: int, end: int) -> Value | None:
    """The literal secret a reference `text[start:end]` holds, as a literal value, or None: a
    word of a command substitution (`$(echo NNNN)`, `$(printf %s NNNN)`: its output is the
    value), or a quoted string in a template (`${{ secrets.X || 'NNNN' }}`, Helm's
    `{{ .Values.pin | default "NNNN" }}`, Jinja's `default("NNNN")`: a fallback is the value
    whenever the reference is empty). A hunter's find, issue 18 thirty-first pass: these
    were references. Reads the reference once."""
    if text.startswith("$(", start):
        return _secret_word(
            text, start + 2, end, _COMMAND_WORD_RE, _REFERENCE_SECRET, comments=False
        )
    if text.startswith("{{", start) or text.startswith("${{", start):
        floor = start  # (the previous literal's end: each blank is read twice at most)
        for m in _TEMPLATE_LITERAL_RE.finditer(text, start, end):
            group = 1 if m.group(1) is not None else 2
            compared = _compared(text, m.start(), m.end(), floor, end)
            floor = m.end()
            if not compared and _REFERENCE_SECRET.fullmatch(m.group(group).strip()):
                inner = m.group(group)
                s = m.start(group) + len(inner) - len(inner.lstrip())
                return Value(s, s + len(inner.strip()), Kind.LITERAL)
    return None


# How far a command substitution after a command's name is read (`substitution_value`).
_SUBSTITUTION_REACH = 256
_SUBSTITUTION_CLOSE = {"(": ")", "`": "`"}
# What every word `_REFERENCE_SECRET` takes holds.
_SECRET_PART_RE = lazy_compile(r"[0-9]{4}|[0-9A-Fa-f]{64}|\$scrypt\$")


def substitution_value(text: str, pos: int, line: Line, limit: int) -> Value | None:
    """The literal secret of the command substitution opening at `pos`, fish's `(cmd)` or a
    backquoted `` `cmd` `` (csh, a POSIX shell), read as `$(cmd)` is
    (`secret_in_reference`): a word of the command, its output being the value. Read to
    its closing character on its line, before `limit` and `_SUBSTITUTION_REACH`
    characters at most."""
    stop = min(line.end, limit, pos + _SUBSTITUTION_REACH)
    close = text.find(_SUBSTITUTION_CLOSE[text[pos]], pos + 1, stop)
    if _SECRET_PART_RE.search(text, pos + 1, stop if close == -1 else close) is None:
        return None  # (no word can be one: the words are not read)
    return _secret_word(
        text,
        pos + 1,
        stop if close == -1 else close,
        _COMMAND_WORD_RE,
        _REFERENCE_SECRET,
        comments=False,
    )


_COMPARED_BEFORE = ("==", "!=", "<=", ">=", "<", ">")
_COMPARED_AFTER = ("==", "!=", "<", ">")


def _compared(text: str, start: int, end: int, floor: int, ceiling: int) -> bool:
    """Whether the quoted string `text[start:end]` is an operand of a comparison (`==`,
    `!=`, `<`, `<=`, `>`, `>=`, blanks between), looking back to `floor` and ahead to
    `ceiling`: `${{ inputs.pin != 'NNNN' && secrets.X }}` tests the literal and never
    yields it, where `|| 'NNNN'` and `cond && 'NNNN'` do (a hunt, issue 18 forty-first
    pass: the compared literal was taken for the PIN)."""
    before = start
    while before > floor and text[before - 1] in " \t":
        before -= 1
    if text.endswith(_COMPARED_BEFORE, floor, before):
        return True
    after = end
    while after < ceiling and text[after] in " \t":
        after += 1
    return text.startswith(_COMPARED_AFTER, after, ceiling)


def is_reference(value: str) -> bool:
    """A quoted value that names where the secret comes from (`"${EXPFLOW_PIN}"`)."""
    return _REFERENCE_RE.fullmatch(value) is not None


def _block_scalar_value(text: str, line_start: int, eol: int) -> Value | None:
    """A YAML `|`/`>` value: the next non-blank line, if it is indented below the key's line."""
    key_line = text[line_start:eol]
    key_indent = len(key_line) - len(key_line.lstrip(" "))
    cursor = eol
    while cursor < len(text):
        start = cursor + 1
        end = text.find("\n", start)
        if end == -1:
            end = len(text)
        line = text[start:end].rstrip("\r")
        cursor = end
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent <= key_indent:
            return None
        return Value(start + indent, start + len(line.rstrip()), Kind.LITERAL)
    return None


def past_properties(text: str, value: Value, line: Line) -> Value | None:
    """The value itself, after any YAML node properties before it (`&anchor`, `!tag`,
    `!!str`): `pin: &p 1234` holds the PIN 1234. Each step reads on along the line.

    What a walk found is remembered by each property token it passed (`line`), so a later
    key inside one (`&pin: &pin: …`) does not walk the rest of the line again: each
    property of a line is walked once (every key re-walking them was quadratic)."""
    memo = line.after_property
    passed: list[int] = []
    result: Value | None = value
    while value.kind is Kind.BARE and text[value.start] in "&!":
        if value.start in memo:
            result = memo[value.start]
            break
        passed.append(value.start)
        pos = value.end
        while pos < line.end and text[pos] in " \t":
            pos += 1
        if pos == value.end:
            result = None  # `&a,` or the line's end: nothing after the property
            break
        next_value = value_at(text, pos, line, spaced=True)
        if next_value is None:
            result = None
            break
        value = result = next_value
    for start in passed:
        memo[start] = result
    return result
