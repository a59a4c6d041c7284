"""The PIN scanner's rules for environment variables set in other forms than `NAME=value`
and `NAME: value` (a hunter's find, issue 18 thirty-first pass): a name/value pair
(Kubernetes' and ECS's `- name: EXPFLOW_PIN` with `value: "NNNN"`, in YAML or JSON),
GitLab's variable mapping (`EXPFLOW_PIN:` with a child `value: "NNNN"`), and the commands
that take the name and the value as two words (Dockerfile's `ENV NAME value`, fish's
`set -gx NAME value`, csh's `setenv NAME value`, Windows' `setx NAME value`).

Each form is read in one pass: a YAML mapping's lines are read up to the next match of
the same form, a flow mapping once whatever number of names it holds, and every value
once, in text order."""

from __future__ import annotations

import bisect
import re

from expflow_git.pinscan.hits import NUMBER_RE, Hit, Leak, Overlaps
from expflow_git.pinscan.values import (
    Kind,
    Line,
    Value,
    command_secret,
    ends_line,
    phrase_value,
    secret_shaped,
    value_at,
    value_below,
)

_ENV_NAME = r"(?P<key>expflow_pin(?:_hash)?)"
# `name: EXPFLOW_PIN`, `"name": "EXPFLOW_PIN"` (a pair's name; the key may open a list item)
_PAIR_NAME_RE = re.compile(
    rf"(?<![\w-])(?P<q>[\"']?)name(?P=q)[ \t]*:[ \t]*(?P<vq>[\"']?){_ENV_NAME}(?P=vq)"
    r"(?![\w-])",
    re.IGNORECASE | re.ASCII,
)
# `value:` (or `"value":`) as a key: a pair's value or a GitLab variable's
_VALUE_KEY_RE = re.compile(
    r"(?<![\w-])(?P<q>[\"']?)value(?P=q)[ \t]*:(?:[ \t]+|(?=\r?$)|(?<=[\"'])(?=[\"'0-9]))",
    re.IGNORECASE | re.ASCII,
)
# A GitLab variable as a YAML block mapping: the key alone on its line (a comment aside)
_KEY_BLOCK_RE = re.compile(
    rf"^ *(?:- +)*(?P<q>[\"']?){_ENV_NAME}(?P=q)[ \t]*:[ \t]*(?:#[^\n]*)?\r?$",
    re.IGNORECASE | re.MULTILINE | re.ASCII,
)
# ... or as a flow mapping or JSON object, `{value: …}` after the key
_KEY_FLOW_RE = re.compile(
    rf"(?<![\w-])(?P<q>[\"']?){_ENV_NAME}(?P=q)[ \t]*:[ \t]*\{{", re.IGNORECASE | re.ASCII
)
_LINE_HEAD_RE = re.compile(r" *(?:- +)*")
_INDENT_RE = re.compile(r"[ \t]*")
_BRACE_RE = re.compile(r"[{}]")


def pair_hits(code: bool, text: str, overlaps: Overlaps) -> list[Hit]:
    """Pin-assignments by a name/value pair or a GitLab variable's `value` child."""
    # (where the value key's match is, the variable's name, the key's column for a value
    # on the line below, or -1 in a flow mapping)
    found: dict[int, tuple[re.Match[str], str, int]] = {}
    braces: list[int] | None = None
    objects: set[int] = set()  # the flow mappings read, by their `{`

    def flow(open_at: int, close_at: int, name: str) -> None:
        if open_at in objects:
            return
        objects.add(open_at)
        v = _VALUE_KEY_RE.search(text, open_at + 1, close_at)
        if v is not None:
            found.setdefault(v.start(), (v, name, -1))

    def enclosing(pos: int) -> tuple[int, int] | None:
        """The flow mapping holding `pos` with no other mapping inside, as ({, })."""
        nonlocal braces
        if braces is None:
            braces = [b.start() for b in _BRACE_RE.finditer(text)]
        index = bisect.bisect_left(braces, pos)
        if not 0 < index < len(braces):
            return None
        open_at, close_at = braces[index - 1], braces[index]
        return (open_at, close_at) if text[open_at] == "{" and text[close_at] == "}" else None

    names = list(_PAIR_NAME_RE.finditer(text))
    start = read = 0  # the line start of the last name read, and how far it was searched
    for i, m in enumerate(names):
        span = enclosing(m.start())
        if span is not None:
            flow(*span, m.group("key"))
            continue
        # (the text before a name is searched once for line breaks: names on one line)
        start, read = max(start, text.rfind("\n", read, m.start()) + 1), m.start()
        head = _LINE_HEAD_RE.match(text, start)
        if head is None or head.end() != m.start("q"):
            continue  # not a key beginning its line
        stop = names[i + 1].start() if i + 1 < len(names) else len(text)
        column = m.start("q") - start
        for v, _ in _siblings(text, m.end(), stop, column, column):
            found.setdefault(v.start(), (v, m.group("key"), column))
    blocks = list(_KEY_BLOCK_RE.finditer(text))
    for i, m in enumerate(blocks):
        stop = blocks[i + 1].start() if i + 1 < len(blocks) else len(text)
        column = m.start("q") - m.start()
        for v, line_start in _siblings(text, m.end(), stop, column + 1, -1):
            found.setdefault(v.start(), (v, m.group("key"), v.start() - line_start))
    for m in _KEY_FLOW_RE.finditer(text):
        span = enclosing(m.end())
        if span is not None and span[0] == m.end() - 1:
            flow(*span, m.group("key"))
    return _hits(code, text, overlaps, [found[k] for k in sorted(found)])


def _siblings(
    text: str, pos: int, stop: int, floor: int, column: int
) -> list[tuple[re.Match[str], int]]:
    """The `value` key (and its line's start) among the lines after `pos` (up to `stop`) of
    a YAML block mapping: at `column` (-1: the first line's indent, which must be `floor`
    or deeper), up to the first line indented less than `floor`."""
    out: list[tuple[re.Match[str], int]] = []
    pos = text.find("\n", pos, stop)
    if pos == -1:
        return out
    pos += 1
    while pos < stop:
        eol = text.find("\n", pos, stop)
        eol = stop if eol == -1 else eol
        lead = _INDENT_RE.match(text, pos, eol)
        body = lead.end() if lead is not None else pos
        if body < eol and text[body] not in "#\r":
            depth = body - pos
            if depth < floor or "\t" in text[pos:body]:
                break
            if column == -1:
                column = depth
            if depth == column and (v := _VALUE_KEY_RE.match(text, body, eol)):
                out.append((v, pos))
                break  # (a mapping has one `value`)
        pos = eol + 1
    return out


def _hits(
    code: bool, text: str, overlaps: Overlaps, keys: list[tuple[re.Match[str], str, int]]
) -> list[Hit]:
    """The hits of the value keys found, in text order (each read once)."""
    hits: list[Hit] = []
    line = Line(text)
    for v, name, column in keys:
        spaced = v.group().endswith((" ", "\t"))
        value = value_at(text, v.end(), line.at(v.end()), spaced=spaced)
        below = False
        if value is None and column != -1 and ends_line(text, v.end(), line, spaced=spaced):
            value = value_below(text, line, column)
            below = True
        if value is None or value.kind is Kind.REFERENCE:
            continue
        if not below and not code:
            value = phrase_value(text, value, line)  # `value: set it in the secrets`: prose
            if value is None:
                continue
        hit = _assignment(code, text, overlaps, value, name)
        if hit is not None:
            hits.append(hit)
    return hits


def _assignment(code: bool, text: str, overlaps: Overlaps, value: Value, name: str) -> Hit | None:
    token = text[value.start : value.end]
    if code and value.kind is Kind.BARE and not NUMBER_RE.fullmatch(token):
        return None  # in source code an unquoted word is an expression
    if overlaps.any(value.start, value.end):
        return None  # the content rule already names this token, more specifically
    return Hit(Leak.PIN_ASSIGNMENT, value.start, value.end, f"{name} assigned a value (masked)")


# The commands that set a variable from two words, where a statement begins: Dockerfile's
# `ENV NAME value`, csh's `setenv`, Windows' `setx` (`/M` before the name or after the
# value), fish's `set` with any options (`-gx`, `--global --export`). One way to read a
# line: each part is followed by a character the one before cannot take.
_COMMAND_RE = re.compile(
    r"(?:^|(?<=[;&|(]))[ \t]*"
    r"(?:env|setenv|setx(?:[ \t]+/[a-z])?|set(?:[ \t]+--?[a-z][a-z-]*)*)[ \t]+"
    rf"(?P<q>[\"']?){_ENV_NAME}(?P=q)[ \t]+(?=[^ \t\r\n])",
    re.IGNORECASE | re.MULTILINE | re.ASCII,
)


def command_hits(code: bool, text: str, overlaps: Overlaps) -> list[Hit]:
    """Pin-assignments by a command taking the name and the value as two words
    (`_COMMAND_RE`). An unquoted value counts only shaped as a secret (four digits, a
    digest, the tool's hash): prose says `set EXPFLOW_PIN first`; a fish command
    substitution `(cmd)` only for such a word of its command."""
    hits: list[Hit] = []
    line = Line(text)
    for m in _COMMAND_RE.finditer(text):
        pos = m.end()
        line.at(pos)
        value: Value | None
        if text[pos] == "(":
            close = text.find(")", pos, line.end)
            value = command_secret(text, pos + 1, close) if close != -1 else None
        else:
            value = value_at(text, pos, line, spaced=True)
        if value is None or value.kind is Kind.REFERENCE:
            continue
        if value.kind is Kind.BARE and not secret_shaped(text[value.start : value.end]):
            continue
        hit = _assignment(code, text, overlaps, value, m.group("key"))
        if hit is not None:
            hits.append(hit)
    return hits
