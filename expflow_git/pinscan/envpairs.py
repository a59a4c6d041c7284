"""The PIN scanner's rules for `EXPFLOW_PIN` named apart from its value (docs/spec.md §5):
a Kubernetes or ECS env list's `name: EXPFLOW_PIN` beside its `value` key, GitLab's
`EXPFLOW_PIN:` whose mapping holds a `value` child, and the commands that set a variable
without `=`: Dockerfile's `ENV NAME value`, fish's `set -x NAME value`, csh's `setenv
NAME value`, Windows' `setx NAME value` (also after fish's keywords as fish reads them,
quotes and escapes undone (`shellwords.py`), fish 4's `{`, csh's `if (…)` and `repeat
N`, a variable given for the command and cmd's `@`, and split by `\\` line
continuations; a command substitution's word may be the value); and PowerShell's
`${env:NAME} = value`.

Every rule starts from an occurrence of the variable's name (rare: the pre-filter asks for
it) and reads a bounded stretch around it, so the time is linear in the text whatever it
holds: the look back from a name is cut at the previous occurrence and at `_REACH`
characters, the look ahead is one regex whose parts each stop at a different character
(a flow mapping read up to 256 characters), and the values are read in text order with
one `Line` (each line found once).
No regex here has a part that can be read two ways (the command regex's `set` options did,
2**n steps for n options: a review, issue 18 fortieth pass).
(A first version, issue 18 thirty-first pass, was quadratic and taken back.)
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from expflow_git.lazyre import lazy_compile
from expflow_git.pinscan.hits import NUMBER_RE, Hit, Leak, Overlaps
from expflow_git.pinscan.shellwords import fish_keyword, spelled
from expflow_git.pinscan.values import (
    Kind,
    Line,
    Value,
    phrase_value,
    secret_shaped,
    substitution_value,
    value_at,
)

_KEY_RE = lazy_compile(r"(?<![\w-])expflow_pin(?:_hash)?(?![\w-])", re.IGNORECASE | re.ASCII)
# How far back from a name a pair's `value` key or a command's head is looked for.
_REACH = 256
# Before the name: `name:` (a YAML or flow mapping's key, a JSON object's), its quotes,
# the name's own opening quote. Searched in the stretch before the name only.
_NAME_KEY_RE = lazy_compile(
    r"(?<![\w-])(?P<nq>[\"']?)name(?P=nq)[ \t]*:[ \t]*(?P<q>[\"']?)\Z", re.ASCII
)
# Up to eight comment or blank lines, each up to 256 characters, between a key's line
# and its mapping's next key (`- name: EXPFLOW_PIN` then `# the PIN` then `value: …`
# passed: a hunt, issue 18 forty-first pass). Each line's blanks are followed by `#` or
# its end, which the next key's indent is not: one way to read them, a bounded stretch.
_GAP = r"(?:[ \t]*(?:#[^\r\n]{0,256})?\r?\n){0,8}"
# After the name (its closing quote matched by the caller): the `value` key of the same
# mapping, in a flow mapping or JSON object after a comma (line breaks allowed), in a
# YAML block on a later line (comment and blank lines between, `_GAP`; the columns
# compared by the caller). `valueFrom` is no value.
_VALUE_AFTER_RE = lazy_compile(
    r"[ \t]*(?:(?P<comma>,)[ \t]*(?:\r?\n[ \t]*)?|(?:#[^\r\n]{0,256})?\r?\n"
    rf"{_GAP}(?P<indent>[ \t]*))"
    r"(?P<vq>[\"']?)value(?P=vq)[ \t]*:[ \t]*",
    re.ASCII,
)
# After a key naming the variable, the `value` child of its mapping: in a flow mapping
# (up to 256 characters to the key, no `}` between), or a YAML block's first child.
_CHILD_VALUE_RE = lazy_compile(
    r"[ \t]*:[ \t]*(?:(?P<flow>\{)[^}\r\n]{0,256}?(?<=[{, \t])(?P<fq>[\"']?)value(?P=fq)"
    rf"|(?:#[^\r\n]{{0,256}})?\r?\n{_GAP}(?P<indent>[ \t]*)(?P<bq>[\"']?)value(?P=bq))"
    r"[ \t]*:[ \t]*",
    re.ASCII,
)
# The `value` key before the name: on the line before, its column the name's (a YAML block
# list item, `- value: …` then `  name: EXPFLOW_PIN`), or in the same flow mapping, a comma
# between (`{value: …, name: EXPFLOW_PIN}`).
_VALUE_KEY_RE = lazy_compile(r"(?<![\w-])(?P<vq>[\"']?)value(?P=vq)[ \t]*:[ \t]*", re.ASCII)
_GAP_LINE_RE = lazy_compile(r"[ \t]*(?:#[^\r\n]{0,256})?\r?\n")  # (one line of `_GAP`)
# How far back from a name's line a `value` key past `_GAP`'s lines is looked for: nine
# lines of `_REACH` (the name's look back, cut at `_REACH` and the previous occurrence,
# missed a value key eight 40-character comment lines above, or above a comment naming
# the variable: a review, issue 18 forty-first pass). Each name's walk stops at its
# first line that is no comment or blank line, so the lines walked are each name's own.
_GAP_REACH = 9 * (_REACH + 4)
_BLOCK_VALUE_KEY_RE = lazy_compile(
    r"[ \t]*(?:-[ \t]+)*(?P<vq>[\"']?)value(?P=vq)[ \t]*:[ \t]*", re.ASCII
)
# A blank between a command's words: a line continuation too (`ENV \` then the name).
_BLANK = r"(?:[ \t]|\\\r?\n)"
# A command setting the variable without `=`, where a statement begins (a line's start,
# or after `;`, `&`, `|`, `(`; fish's `and`, `or`, `not`, `builtin`; cmd's `@`):
# Dockerfile's `ENV` (any case, as Docker reads it), fish's `set` with its options
# (`-x`, `-gx`, `--export`), csh's `setenv`, Windows' `setx` (any case, as cmd reads it;
# and `setx /M`). Searched in the stretch before the name only. No part can be read two
# ways (a review, issue 18 fortieth pass: an option once `--?[A-Za-z-]+`, `--x` read as
# `-` `-x` or `--x`, took 2**n steps for n options): an option is a `-` and what follows
# up to a blank, a run of blanks ends before a `-`, a word or the name's quote.
# What may stand before the command where a statement begins: fish's keywords a statement
# follows (`and`, `or`, `not`, `!`, `builtin`, `if`, `while`, `begin`, `time`, `else`:
# `if set -x NAME V` was passed where `if \\` then `set -x NAME V` was flagged), fish 4's
# block, `{ set -x NAME V }`, and a variable given for the command, `NAME=value` (fish
# 3.1's and a POSIX shell's; `FOO=1 set -x NAME V`, and `true; FOO=1 builtin \\` then
# `set -x NAME V`, which the forty-second pass's keyword rule read as `FOO=1`'s
# arguments: a review, issue 18 forty-second pass). Each part ends at a different
# character (a word at a blank, a name at `=`, a value's `\\` takes the character after
# it, never a line break), so it is read one way.
# A value ends at a blank or at what ends a statement (`;`, `&`, `|`, as a shell reads an
# unquoted word): a value that took those characters made each of them a new start for
# the search, 1 ms a name on `A=;A=;…` (40x the scan of such a file: a second review,
# forty-second pass).
# A quoted stretch (`'a;b'`, `"$(pwd)"`) and a command substitution (`(pwd)`, `$(pwd)`,
# anywhere in the value: `a(pwd)`, `$HOME/(pwd)`) are parts of the value too, as the
# shell reads them: each part opens with its own character (`'`, `"`, `(`, `\`, or
# another; a `$` is one, so `$(pwd)` is read one way), so the value is read one way (a
# third review, forty-second pass: the value that ended at `;&|()` passed `FOO='a;b'`,
# `FOO="$(pwd)"` and `FOO=a(pwd)` before `set -x NAME V`, which the prefix had read).
_ASSIGNMENT = (
    r"[A-Za-z_][A-Za-z0-9_]*=(?:[^\s\\;&|()'\"]|\\[^\r\n]|\([^\s()]*\)"
    r"|'(?:[^'\\\r\n]|\\[^\r\n])*'|\"(?:[^\"\\\r\n]|\\[^\r\n])*\")*"
)
_ASSIGNMENT_RE = lazy_compile(_ASSIGNMENT, re.ASCII)
# fish's keywords a command follows on its line (`_leads`).
_PREFIX_WORDS = frozenset(
    ("and", "or", "not", "!", "builtin", "if", "while", "begin", "time", "else")
)
# A keyword as fish may write it, quotes or escapes inside (`a''nd`, `'and'`, `\x61nd`:
# the forty-second pass left `a''nd set …` and `x; 'and' set …` passed), matched by its
# shape (`shellwords.spelled`) and read as fish reads it by `_leads` once the command
# matched (`shellwords.fish_keyword`: `\and` is the bell and `nd`). Before csh's
# `setenv`, its `repeat N` (`_leads` keeps it to `setenv`); a word is then `_WORD`'s:
# plain characters, a `\` and the one after it, quoted stretches, no `=` outside quotes
# (which is `_ASSIGNMENT`'s) nor `{`, `}` or what ends a statement, each part opening
# with its own character, so it is read one way.


def _word(in_quotes: str = "") -> str:
    """`_WORD`'s pattern; `in_quotes`, an alternative more a quoted stretch may hold."""
    return (
        rf"(?:[^\s\\;&|()'\"{{}}=]|\\[^\r\n]|'(?:[^'\\\r\n]|\\[^\r\n]{in_quotes})*'"
        rf"|\"(?:[^\"\\\r\n]|\\[^\r\n]{in_quotes})*\")+"
    )


_WORD = _word()
_PREFIX = (
    rf"(?:{spelled(_PREFIX_WORDS)}|{_ASSIGNMENT}|repeat{_BLANK}+{_WORD}){_BLANK}+"
    rf"|\{{{_BLANK}*"
)
# csh's `if (expr)` before the one command it runs, `if ($?X == 0) setenv NAME V` (tcsh's
# man page; also `if(…)setenv`): the expression is what stands between the `(` and the
# last `)` before `setenv` on its line (`\\` line continuations aside), read one way (a
# `\\` takes the character after it).
_CSH_IF = rf"if{_BLANK}*\((?:[^;\r\n\\]|\\[^\r\n]|\\\r?\n)*\){_BLANK}*"
_COMMAND = (
    rf"[ \t]*(?:@[ \t]*)?(?P<prefix>(?:{_PREFIX})*)"
    rf"(?:(?P<other>(?i:env)|(?i:setx)(?:{_BLANK}+/[Mm])?)|(?P<csh>(?:{_CSH_IF})?setenv)"
    rf"|set(?:{_BLANK}+-[^\s]*)*)"
    rf"{_BLANK}+(?P<q>[\"']?)\Z"
)
# At a line's start (`_command` asks whether it begins a statement) or after an operator.
_COMMAND_AT_RE = lazy_compile(_COMMAND, re.ASCII)
_COMMAND_AFTER_OP_RE = lazy_compile(r"[;&|(]" + _COMMAND, re.ASCII)
# ENV or setx before the name (`_command`).
_OTHER_RE = lazy_compile(rf"(?:(?i:env)|(?i:setx)(?:{_BLANK}+/[Mm])?){_BLANK}+[\"']?\Z", re.ASCII)
_BLANKS_RE = lazy_compile(rf"{_BLANK}+")
# After `${env:NAME`: its assignment, `} = ` or `} += ` (a hunt, issue 18 forty-third pass:
# `${env:NAME} = 'value'` for the variable passed where `$env:NAME = 'value'` was flagged).
_BRACED_RE = lazy_compile(r"\}[ \t]*\+?=(?![=>~])[ \t]*")
# A prefix of plain keywords, assignments and blocks, blanks after each (`and FOO=1 `,
# `{ `): what nearly every prefix is, read by `_leads` without its words. (A line
# continuation right after a word is no blank: it joins the word to the next.)
_PLAIN_KEYWORDS = "|".join(map(re.escape, sorted(_PREFIX_WORDS)))
_PLAIN_PREFIX_RE = lazy_compile(
    rf"(?:(?:{_PLAIN_KEYWORDS}|{_ASSIGNMENT})[ \t]{_BLANK}*|\{{{_BLANK}*)*", re.ASCII
)
# A prefix's words as `_COMMAND` reads them (a `{`, an assignment, another word).
# A quoted stretch of a keyword's word may hold a `\\` line break, as `spelled` takes
# one (a review, issue 18 forty-third pass: fish keeps it in single quotes, `'and\\`
# then `'` is no `and`, and drops it in double ones, `"an\\` then `d"` is `and`; the
# quote `_WORD` did not take was passed over and the letters after it read as a keyword,
# as was a quote left open, `'and set`).
_PIECE_WORD = _word(r"|\\\r?\n")
_PIECE_RE = lazy_compile(rf"\{{|{_ASSIGNMENT}|{_PIECE_WORD}", re.ASCII)
# What may stand between a prefix's words: blanks and `\\` line breaks only.
_GAP_RE = lazy_compile(rf"{_BLANK}*", re.ASCII)
# What a continued line's words may end with where the next line begins a statement
# (`_continued`).
_STATEMENT_OPS = (";", "&", "|", "(")
_STATEMENT_WORDS = _PREFIX_WORDS | {"command", "exec"}
# A continued line's words and operators, apart (`x;and` is `x`, `;`, `and`; a `{` that
# opens a word is fish 4's block, `x{` a word).
_WORDS_RE = lazy_compile(r"[;&|(]|\{|[^\s;&|({][^\s;&|(]*")


def env_pair_hits(code: bool, text: str, overlaps: Overlaps) -> list[Hit]:
    """Pin-assignments of `EXPFLOW_PIN` and `EXPFLOW_PIN_HASH` named apart from their values
    (the module docstring). A value a content rule names is left to it."""
    # (where the value starts, the name as written, whether it is a command's)
    found: list[tuple[int, str, bool]] = []
    floor = 0
    for m in _KEY_RE.finditer(text):
        start, end, key = m.start(), m.end(), m.group()
        low = max(floor, start - _REACH)
        floor = end
        if text[max(0, start - 6) : start].lower() == "${env:":
            # PowerShell's `${env:NAME} = value`, as `$env:NAME = value` (the flat key rule's)
            if (braced := _BRACED_RE.match(text, end)) is not None:
                found.append((braced.end(), key, False))
            continue
        line_start = text.rfind("\n", low, start) + 1 or low
        # The line's statement, from the stretch's start if the line before ends with a
        # continuation's `\` (the regex's blanks take `\` and a line break).
        tail = text[max(low, line_start - 3) : line_start - 1] if line_start > low else ""
        head = low if tail.endswith(("\\", "\\\r")) else max(low, line_start - 1)
        c = _command(text, head, start, low)
        if c is not None:
            quote = c.group("q")
            if text.startswith(quote, end) and (b := _BLANKS_RE.match(text, end + len(quote))):
                found.append((b.end(), key, True))
            continue
        n = _NAME_KEY_RE.search(text, low, start)
        if n is None:
            opened = text[start - 1 : start] if start > low else ""
            quote = opened if opened in ("'", '"') else ""
            if text.startswith(quote, end):
                child = _child_value(text, start - len(quote), end + len(quote), line_start)
                if child is not None:
                    found.append((child, key, False))
            continue
        quote = n.group("q")
        if not text.startswith(quote, end):
            continue
        after = _VALUE_AFTER_RE.match(text, end + len(quote))
        if after is not None:
            if after.group("comma") is None:  # a YAML block: the same mapping's column
                name_column = n.start() - line_start
                if len(after.group("indent")) != name_column:
                    after = None
            if after is not None:
                found.append((after.end(), key, False))
                continue
        before = _value_before(text, n.start(), line_start, low)
        if before is not None:
            found.append((before, key, False))
    return _read_values(code, text, found, overlaps)


def _command(text: str, head: int, name: int, low: int) -> re.Match[str] | None:
    """The command before the name at `name` that sets it, looked for from `head`: a match
    of `_COMMAND` whose prefix a shell reads before a command (`_leads`) and that begins a
    statement: after an operator, or at a line's start that continues no command
    (`_continued`; the regex takes a line break only after `\\`), or for ENV and setx at
    any line's start (cmd reads no `\\` as a continuation, nor does a Dockerfile whose
    `# escape=` directive picks another character). Or None. Each line's start is asked
    whether it continues a command before it is matched, so a run of lines continuing one
    another is not each matched to the name (quadratic); a match `_leads` refuses is
    searched past, each stretch `_REACH` long. (Every match ends with the same command,
    the one before the name, so any of them will do.)"""
    pos = head
    while (c := _COMMAND_AFTER_OP_RE.search(text, pos, name)) is not None:
        if _leads(text, c):
            return c
        pos = c.start() + 1
    other: bool | None = None  # whether the command is ENV or setx (asked once, if at all)
    line = head if head == 0 or text[head - 1] == "\n" else text.find("\n", head, name) + 1
    while 0 <= line <= name and (line > 0 or head == 0):
        continued = _continued(text, line, low)
        if continued and other is None:
            other = _OTHER_RE.search(text, head, name) is not None
        if not continued or other:
            c = _COMMAND_AT_RE.match(text, line, name)
            if c is not None and (not continued or c.group("other")) and _leads(text, c):
                return c
        line = text.find("\n", line, name) + 1
        if line == 0:
            break
    return None


def _leads(text: str, c: re.Match[str]) -> bool:
    """Whether the words `c` matched before its command are what fish or csh reads before a
    command where a statement begins: fish's keywords as it reads them, quotes and escapes
    undone (`a''nd`, `'and'`: `shellwords.fish_keyword`), fish 4's `{`, a variable given
    for the command (`FOO=1`), and before csh's `setenv` its `repeat N`. Words a line
    continuation's `\\` joins (no blank around it) are one word, as fish reads them:
    `an\\` then `d` is `and`, and `and\\` then `set` no `set`."""
    start, end = c.span("prefix")
    if _PLAIN_PREFIX_RE.fullmatch(text, start, end) is not None:
        return True  # (plain keywords and blocks, as nearly every prefix is: no word read)
    setenv = c.group("csh") is not None
    words = _prefix_words(text, start, end)
    for word in words:
        if setenv and word == "repeat":
            if next(words, None) is None:
                return False
            continue  # (csh runs the command after `repeat N` N times)
        if not _leads_a_statement(word, _PREFIX_WORDS):
            return False
    return True


def _prefix_words(text: str, start: int, end: int) -> Iterator[str]:
    """The words of `text[start:end]`, a prefix `_COMMAND` matched, each as soon as it
    is whole (a refusal reads no further): a `\\` line continuation no blank stands around
    joins two pieces into one word, as fish reads them (`an\\` then `d` is `and`); then
    an empty word, which leads nothing, if the last goes on into the command's name
    (`and\\` then `set` is `andset`)."""
    word = ""
    last = start
    for m in _PIECE_RE.finditer(text, start, end):
        if _GAP_RE.fullmatch(text, last, m.start()) is None:
            # (a quote no word took, left open: `'and set`, `and' set`; fish reads no
            # keyword there, so the prefix leads nothing)
            yield ""
            return
        if word and word != "{" and text[last : m.start()] == "\\\n":
            word += "\\\n" + m.group()
        else:
            if word:
                yield word
            word = m.group()
        last = m.end()
    if word:
        yield word
        if _GAP_RE.fullmatch(text, last, end) is None:
            yield ""
        elif word != "{" and text[last:end] == "\\\n":
            yield ""


def _leads_a_statement(word: str, keywords: frozenset[str]) -> bool:
    """A word after which a statement begins where it begins one: one of fish's `keywords`
    (as fish reads them), fish 4's `{`, a variable given for the command."""
    return (
        word == "{" or fish_keyword(word) in keywords or _ASSIGNMENT_RE.fullmatch(word) is not None
    )


def _continued(text: str, line: int, low: int) -> bool:
    """Whether the line at `line` continues a command begun on a line before: the line
    before ends with an odd number of `\\` and holds no `#` (a comment's `\\` continues
    nothing, so a line after one holding a `#` is read as beginning a statement: the safe
    way round), and what it holds before that `\\` is a command's words. Then its `set
    \\` or `set -x NAME V` is an argument of the command before (`echo a \\` then `set
    -x NAME V`), no assignment (noticed in issue 18's fortieth pass, a false finding).
    A line before holding only blanks and the `\\` continues the one before it (read the
    same way); one whose words end with an operator (`;`, `&`, `|`, `(`) or a keyword
    a statement follows (fish's `and`, `or`, `not`, `builtin`, `command`, `if`, `while`,
    `else`, `begin`, `time`, `exec`) ends there, and the `set` begins a statement
    (`true; \\` then `set -x NAME V` was passed: a review, issue 18 forty-first pass).
    A keyword counts only where a statement begins: after an operator, another such
    keyword or a line's start that continues nothing; after a command's word it is that
    command's argument (`echo and \\` then `set -x NAME V`, a false finding the
    forty-first pass left; `x;and` is `x`, `;`, `and`; a keyword is read as fish reads
    it, `'and'` and `a''nd` are `and`, `\\and` the bell and `nd`; fish 4's `{` is one).
    A `\\` no blank stands before joins the word it ends to the next line's first
    (`and\\` then `set`: `andset`). Lines are read back to `low` at most; one not seen
    whole (or none) is no continuation."""
    while line > low:
        previous = text.rfind("\n", low, line - 1) + 1
        if previous == 0 and low > 0:
            return False
        body = text[previous : line - 1].rstrip("\r")
        slashes = len(body) - len(body.rstrip("\\"))
        if slashes % 2 == 0 or "#" in body:
            return False
        words = _WORDS_RE.findall(body[:-1])
        if words and words[-1] not in _STATEMENT_OPS and words[-1] != "{":
            if body[-2:-1] not in ("", " ", "\t"):
                return True  # `and\\`: the word goes on on this line (`andset`)
        for word in reversed(words):
            if word in _STATEMENT_OPS:
                return False
            if not _leads_a_statement(word, _STATEMENT_WORDS):
                return True  # a command's word: a keyword after it is its argument
        line = previous
    return False


def _child_value(text: str, key: int, after: int, line_start: int) -> int | None:
    """Where the value of the `value` child of the mapping a key (at `key`, its name ending
    at `after`) opens starts, or None: a flow mapping's (`EXPFLOW_PIN: {value: …}`), or a
    YAML block's first child, on the next line, indented deeper than a key that begins its
    line (GitLab's `EXPFLOW_PIN:` then `  value: …`)."""
    m = _CHILD_VALUE_RE.match(text, after)
    if m is None:
        return None
    if m.group("flow") is None:
        head = text[line_start:key]
        if head.strip(" ") not in ("", "-") or len(m.group("indent")) <= len(head):
            return None
    return m.end()


def _value_before(text: str, name: int, line_start: int, low: int) -> int | None:
    """Where the value of a `value` key written before the `name` key at `name` starts,
    or None: the line before's (comment and blank lines between, up to eight), at the
    name's column, if the name begins its line (read back `_GAP_REACH` at most); else
    the same flow mapping's, a comma between (read back to `low` at most)."""
    if not text[line_start:name].strip(" \t"):  # the name begins its line: a YAML block
        below = line_start
        back = max(0, line_start - _GAP_REACH)
        for _ in range(9):
            if below == 0:
                return None
            previous = text.rfind("\n", back, below - 1) + 1
            if previous == 0 and back > 0:
                return None
            if _GAP_LINE_RE.fullmatch(text, previous, below) is None:
                break
            below = previous
        else:
            return None
        v = _BLOCK_VALUE_KEY_RE.match(text, previous, below)
        if v is None or v.start("vq") - previous != name - line_start:
            return None
        return v.end()
    comma = name - 1
    while comma >= low and text[comma] in " \t\r\n":
        comma -= 1
    if comma < low or text[comma] != ",":
        return None
    # The last `value` key before the comma, if its value ends there.
    keys = list(_VALUE_KEY_RE.finditer(text, low, comma))
    if not keys or not _ends_at(text, keys[-1].end(), comma):
        return None
    return keys[-1].end()


def _ends_at(text: str, pos: int, comma: int) -> bool:
    """Whether the value from `pos` is one scalar ending at the blanks before `comma`."""
    first = text[pos : pos + 1]
    inner = text[pos:comma].rstrip(" \t")
    if first in ("'", '"'):
        return len(inner) >= 2 and inner.endswith(first) and first not in inner[1:-1]
    return bool(inner) and not any(c in inner for c in " \t,{}[]")


def _substitution(text: str, pos: int) -> bool:
    """Whether a command's value at `pos` opens a command substitution: fish's `(cmd)`, a
    backquoted `` `cmd` ``."""
    return text[pos : pos + 1] in ("(", "`")


def _read_values(
    code: bool, text: str, found: list[tuple[int, str, bool]], overlaps: Overlaps
) -> list[Hit]:
    """The hits for the values found, read in text order with one `Line`: a command's
    unquoted value counts only shaped as a PIN, a digest or the hash (`set -x EXPFLOW_PIN
    first` is prose), a pair's as a `key: value`'s does (prose, a reference and an empty
    value are none)."""
    hits: list[Hit] = []
    line = Line(text)
    done = -1
    ordered = sorted(found)
    # (where each command's substitution opens: one read stops where the next begins)
    substitutions = [pos for pos, _, command in ordered if command and _substitution(text, pos)]
    for pos, key, command in ordered:
        if pos <= done:
            continue
        done = pos
        value: Value | None
        if command and _substitution(text, pos):
            # fish's `(cmd)`, a backquoted `` `cmd` ``: a word of the command is the value,
            # as in `$(cmd)` (a hunt, issue 18 forty-third pass: `set -x NAME (echo NNNN)`
            # and `setenv NAME `echo NNNN`` passed where `$(echo NNNN)` was flagged). Read
            # up to the next such value at most, which reads on from there: a run of them,
            # `set -x NAME (set -x NAME (…`, is read once, not once a name; a value of
            # another kind inside one ends no read (`(echo set -x NAME x; echo NNNN)`).
            after = bisect.bisect_right(substitutions, pos)
            limit = substitutions[after] if after < len(substitutions) else len(text)
            value = substitution_value(text, pos, line.at(pos), limit)
        else:
            value = value_at(text, pos, line.at(pos), spaced=True)
        if value is None or value.kind is Kind.REFERENCE:
            continue
        token = text[value.start : value.end]
        if value.kind is Kind.BARE:
            if (command and not secret_shaped(token)) or token.startswith("$"):
                continue  # (prose; a reference left open, `value: $(x },`)
            if not command and not code:
                value = phrase_value(text, value, line)
                if value is None:
                    continue
                token = text[value.start : value.end]
            if code and not NUMBER_RE.fullmatch(token):
                continue
        if overlaps.any(value.start, value.end):
            continue
        hits.append(
            Hit(Leak.PIN_ASSIGNMENT, value.start, value.end, f"{key} assigned a value (masked)")
        )
    return hits
