"""The PIN scanner's structural rules: keys nested below a `pin` mapping, the tool's own
`--pin` flag on a command line, and private-key blocks (see scanner.py for the rules)."""

from __future__ import annotations

import re

from expflow_git.lazyre import lazy_compile
from expflow_git.pinscan.hits import NUMBER_RE, Hit, Leak, Overlaps, pin_digits
from expflow_git.pinscan.values import (
    Kind,
    Line,
    ends_line,
    past_properties,
    phrase_value,
    reference_end,
    secret_in_reference,
    value_at,
    value_below,
)

# --- nested keys ----------------------------------------------------------------------

_HASH_CHILDREN = "hash|sha256|digest|hashed"
_VALUE_CHILDREN = "value|code|secret|number"
# A YAML `pin:` opening a block mapping: nothing after the colon but node properties
# (`&anchor`, `!!map`) and a comment; the key may open a list item (`- pin:`, `- - pin:`,
# PyYAML's own dump of a list of users; an attacker's hunt, issue 18 twenty-second pass).
# Each part's blanks are followed by a different character (`-`, a quote or `p`; `&` or
# `!`; `#`, a carriage return or the line's end), so a failed line is read in linear time.
_YAML_PIN_RE = lazy_compile(
    r"^ *(?:- +)*(?P<q>[\"']?)(?P<key>pin)(?P=q)[ \t]*:"
    r"(?:[ \t]+[&!][^ \t\r\n#]*)*[ \t]*(?:#[^\n]*)?\r?$",
    re.IGNORECASE | re.MULTILINE | re.ASCII,
)
# A TOML table `[pin]`, `[auth.pin]`, `[[pin]]`, `["pin"]`.
_TOML_PIN_RE = lazy_compile(
    # the dotted prefix starts at a non-blank: the blanks before it are `[ \t]*`'s alone
    r"^[ \t]*\[\[?[ \t]*(?:(?![ \t])[^\]\n]*\.[ \t]*)?(?P<q>[\"']?)(?P<key>pin)(?P=q)[ \t]*\]\]?"
    r"[ \t]*(?:#[^\n]*)?\r?$",
    re.IGNORECASE | re.MULTILINE | re.ASCII,
)
# `pin: {`, `"pin": {`, `pin = {` (a flow mapping, JSON object, TOML inline table).
# Node properties may stand before the brace (`pin: &id001 {value: …}`, PyYAML's flow dump
# of a shared mapping; a review): a node has at most two (an anchor and a tag), each read
# up to 128 characters, so a key that fails reads a bounded stretch (`&pin: &pin: …` of
# 200 KB was quadratic with any number of any length). The brace may begin a later line,
# indented, after the key's properties or comment and blank lines (`pin: &a` then
# `  {value: …}`; missed until issue 18's twenty-third pass). Each part's blanks are
# followed by a different character, and a comment is read up to 256 characters (`pin: #`
# repeated on one line was quadratic; a review), so a failed key reads a bounded stretch.
_FLOW_PROPERTIES = r"(?:[&!][^ \t\r\n{#]{0,128}(?:[ \t]+|(?=[\r\n#]))){0,2}"
_FLOW_PIN_RE = lazy_compile(
    r"(?<![\w-])(?P<q>[\"']?)(?P<key>pin)(?P=q)[ \t]*[:=][ \t]*"
    rf"(?:{_FLOW_PROPERTIES}(?:#[^\r\n]{{0,256}})?(?:\r?\n[ \t]*){{1,8}}(?<=[ \t]))?"
    rf"{_FLOW_PROPERTIES}\{{",
    re.IGNORECASE | re.ASCII,
)
_CHILD = rf"(?P<q>[\"']?)(?P<key>{_HASH_CHILDREN}|{_VALUE_CHILDREN})(?P=q)[ \t]*"
# (a child may end its line: its value on a line below, `value_below`)
_YAML_CHILD_RE = lazy_compile(_CHILD + r":(?:[ \t]+|(?=\r?$))", re.IGNORECASE | re.ASCII)
_TOML_CHILD_RE = lazy_compile(_CHILD + r"=[ \t]*", re.IGNORECASE | re.ASCII)
_FLOW_CHILD_RE = lazy_compile(
    r"(?<![\w-])" + _CHILD + r"(?:=|:(?=[ \t\"'0-9]))[ \t]*", re.IGNORECASE | re.ASCII
)
_BRACE_RE = lazy_compile(r"[{}]")
_INDENT_RE = lazy_compile(r"[ \t]*")


def nested_hits(code: bool, text: str, overlaps: Overlaps) -> list[Hit]:
    """Hits for the direct children of `pin` mappings (see the module docstring).

    Each form is read in one pass: a mapping's children end where the next `pin`
    mapping of the same form begins, so no line is read for two mappings."""
    # (the pin key as written, the child's match, whether it is a YAML block's child)
    children: list[tuple[str, re.Match[str], bool]] = []
    openers = list(_YAML_PIN_RE.finditer(text))
    for i, m in enumerate(openers):
        stop = openers[i + 1].start() if i + 1 < len(openers) else len(text)
        children += [(m.group("key"), c, True) for c in _yaml_children(text, m, stop)]
    headers = list(_TOML_PIN_RE.finditer(text))
    for i, m in enumerate(headers):
        stop = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        children += [(m.group("key"), c, False) for c in _toml_children(text, m, stop)]
    for m in _FLOW_PIN_RE.finditer(text):
        close = _BRACE_RE.search(text, m.end())
        stop = close.start() if close is not None else len(text)
        children += [
            (m.group("key"), c, False) for c in _FLOW_CHILD_RE.finditer(text, m.end(), stop)
        ]
    hits: list[Hit] = []
    line = Line(text)
    consumed = 0  # a child found twice (two forms), or inside an earlier child's value
    for parent, c, block in sorted(children, key=lambda pc: pc[1].start()):
        if c.start() < consumed:
            continue
        consumed = c.end()
        spaced = c.group().endswith((" ", "\t"))
        value = value_at(text, c.end(), line.at(c.end()), spaced=spaced)
        if value is not None:
            value = past_properties(text, value, line)
        if value is None and block and ends_line(text, c.end(), line, spaced=spaced):
            # `value:` then `  'NNNN'` on a line below (a child begins its line)
            value = value_below(text, line, c.start() - line.start)
        if value is None or value.kind is Kind.REFERENCE:
            continue
        child = c.group("key")
        if (
            not code
            and child.lower() not in _VALUE_CHILDREN.split("|")  # (four digits first, or none)
            and value.start < line.end
            and ":" in c.group()[c.end("key") - c.start() :]
        ):
            value = phrase_value(text, value, line)  # `hash: computed by pin init`: prose
            if value is None:
                continue
        if value.start < line.end:
            consumed = value.end
        token = text[value.start : value.end]
        name = f"{parent}.{child}"
        if child.lower() in _VALUE_CHILDREN.split("|"):
            if pin_digits(token, value.kind is Kind.BARE):
                hits.append(
                    Hit(
                        Leak.PIN_VALUE,
                        value.start,
                        value.end,
                        f"4-digit PIN under key '{name}' (masked: ****)",
                    )
                )
            continue
        if code and value.kind is Kind.BARE and not NUMBER_RE.fullmatch(token):
            continue
        if overlaps.any(value.start, value.end):
            continue
        hits.append(
            Hit(Leak.PIN_ASSIGNMENT, value.start, value.end, f"{name} assigned a value (masked)")
        )
    return hits


def _yaml_children(text: str, opener: re.Match[str], stop: int) -> list[re.Match[str]]:
    """The direct children of a YAML block mapping: the lines at the first child's indent,
    up to the first line indented no deeper than the `pin` key (its column: a list
    item's `- ` before it is the item's, not the key's)."""
    indent = opener.start("q") - opener.start()
    child_indent = -1
    out: list[re.Match[str]] = []
    pos = opener.end() + 1
    while pos < stop:
        eol = text.find("\n", pos, stop)
        eol = stop if eol == -1 else eol
        lead = _INDENT_RE.match(text, pos, eol)
        body = lead.end() if lead is not None else pos
        if body < eol and text[body] not in "#\r":
            depth = body - pos
            if depth <= indent or "\t" in text[pos:body]:
                break
            if child_indent == -1:
                child_indent = depth
            if depth == child_indent and (c := _YAML_CHILD_RE.match(text, body, eol)):
                out.append(c)
        pos = eol + 1
    return out


def _toml_children(text: str, header: re.Match[str], stop: int) -> list[re.Match[str]]:
    """The `key = value` lines of a TOML table, up to the next table header."""
    out: list[re.Match[str]] = []
    pos = header.end() + 1
    while pos < stop:
        eol = text.find("\n", pos, stop)
        eol = stop if eol == -1 else eol
        lead = _INDENT_RE.match(text, pos, eol)
        body = lead.end() if lead is not None else pos
        if text.startswith("[", body):
            break
        if c := _TOML_CHILD_RE.match(text, body, eol):
            out.append(c)
        pos = eol + 1
    return out


# --- the tool's flag on a command line ------------------------------------------------

_FLAG_RE = lazy_compile(
    # `--pin \` then the PIN on the next line: a shell or Makefile line continuation. The
    # quotes may be escaped, `--pin \"NNNN\"` in a JSON string (package.json's scripts; an
    # attacker's hunt, issue 18 twenty-second pass): a `\` before a quote, not a newline.
    # The PIN may be a parameter expansion's default (`--pin "${EXPFLOW_PIN:-NNNN}"`, `${X-N}`,
    # `${X:=N}`, `${X=N}`): the value whenever the variable is unset (a hunter's find, issue
    # 18 thirty-first pass).
    r"(?<![\w-])--pin(?:=|(?:[ \t]|\\\r?\n)+)(?P<q>(?:\\?[\"'])?)"
    # A `.` ends the PIN as it ends a sentence (`… --pin NNNN.`), not before a letter or
    # a digit (a decimal, `--pin 1013.25`; a file, `--pin 2024.txt`: a review) (a
    # hunter's find, issue 18 thirty-ninth pass: a README's sentence passed).
    r"(?:(?P<ref>\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=])?(?P<pin>[0-9]{4})(?(ref)\})(?P=q)(?!\w|\.\w)"
    # A GitHub Actions expression, `--pin ${{ secrets.X || 'NNNN' }}`: read by `flag_hits`
    # as after `EXPFLOW_PIN:` (issue 18 fortieth pass).
    r"|(?P<expr>\$\{\{))",
    re.ASCII,
)
_PIN_RE = lazy_compile(r"[0-9]{4}")


def flag_hits(text: str) -> list[Hit]:
    """The PINs given with `--pin`: a literal, or one a GitHub Actions expression holds as
    a quoted string (`${{ secrets.X || 'NNNN' }}`, `${{ cond && 'NNNN' || secrets.X }}`:
    the value whenever the secret is empty, as a fork's pull request runs), read as the
    same expression after `EXPFLOW_PIN:` is (`values.secret_in_reference`, to the line's
    first `}}`; issue 18 fortieth pass: a narrower regex of its own took only a last
    operand). Expressions ending at one `}}` are read once: linear."""
    hits: list[Hit] = []
    line = Line(text)
    read_to = -1
    for m in _FLAG_RE.finditer(text):
        if m.group("pin") is not None:
            start, end = m.start("pin"), m.end("pin")
        else:
            pos = m.start("expr")
            line.at(pos)
            close = reference_end(text, pos, line.end, line)
            if close is None or close <= read_to:
                continue
            read_to = close
            value = secret_in_reference(text, pos, close)
            if value is None or not _PIN_RE.fullmatch(text, value.start, value.end):
                continue
            start, end = value.start, value.end
        hits.append(
            Hit(
                Leak.PIN_VALUE,
                start,
                end,
                "4-digit PIN given with --pin on a command line (masked: ****)",
            )
        )
    return hits


# An argument list in a data file (a hunter's find, issue 18 thirty-first pass): a JSON or
# YAML flow list, `["rm", "--pin", "NNNN"]` (Dockerfile's CMD, VS Code's launch.json
# `args`, a TOML array; the items may stand on lines of their own), or a YAML block list,
# `- --pin` then `- "NNNN"` at the same indent. Not in code, where such a list is a test
# calling the CLI (docs/decisions.md). Each part is followed by a character the one
# before cannot take: linear.
_ARGS_RE = lazy_compile(
    r"(?<![\w-])(?P<q1>[\"']?)--pin(?P=q1)[ \t]*,[ \t\r\n]*"
    r"(?P<q2>[\"']?)(?P<pin>[0-9]{4})(?P=q2)(?![\w.])"
    r"|^(?P<indent>[ \t]*)-[ \t]+(?P<q3>[\"']?)--pin(?P=q3)[ \t]*(?:#[^\n]*)?\r?\n"
    r"(?P=indent)-[ \t]+(?P<q4>[\"']?)(?P<item>[0-9]{4})(?P=q4)[ \t]*(?=#|\r?$)",
    re.ASCII | re.MULTILINE,
)


def argument_list_hits(code: bool, text: str) -> list[Hit]:
    """`_ARGS_RE`'s hits outside code, but for a flow list that is a call's argument,
    `run([..., "--pin", "NNNN"])`: code quoted in prose (this repository's own decisions
    quote a test's), as in a code file. The list's `[` is looked for back to the previous
    match only: linear."""
    if code:
        return []
    hits: list[Hit] = []
    floor = 0
    for m in _ARGS_RE.finditer(text):
        group = "pin" if m.group("pin") is not None else "item"
        if group == "pin":
            opener = text.rfind("[", floor, m.start())
            before = opener - 1
            while before >= floor and text[before] in " \t":
                before -= 1
            if opener != -1 and before >= floor and text[before] == "(":
                floor = m.end()
                continue
        floor = m.end()
        message = "4-digit PIN given after --pin in an argument list (masked: ****)"
        hits.append(Hit(Leak.PIN_VALUE, m.start(group), m.end(group), message))
    return hits


# A tag in the tool's own `NAME:V` form, or `name=value`, as a whole quoted string: an
# import of a tracker's tag `pin=NNNN` wrote the record tag `"pin:NNNN"`, which no rule
# read (a user's hunt, issue 18 twenty-second pass). No backtracking: linear.
# A YAML list writes the tag plain (`- pin:NNNN`, `[pin:NNNN]`; a review): a word of its own,
# also as a tracker writes it (`- pin=NNNN`; missed until issue 18's twenty-third pass),
# outside code, where `f(pin=NNNN)` is a keyword argument; a word ends a quoted string or
# a sentence too (`"door pin=NNNN"`, `pin=NNNN.`; a review), not a decimal (`pin=1013.25`).
# Blanks may follow the `:` (`"x\tpin: NNNN"` in a JSON string, read on the scan's escape
# view: a hunter's find, issue 18 thirty-first pass).
_TAG_RE = lazy_compile(
    r"(?<=[\"'])pin[ \t]*[:=][ \t]*(?P<pin>[0-9]{4})(?=[\"'])"
    r"|(?<![^ \t\r\n\[(,])pin(?P<sep>:[ \t]*|=)(?P<bare>[0-9]{4})"
    r"(?=[ \t\r\n\]),\"';]|\.(?![0-9])|\Z)",
    re.IGNORECASE | re.ASCII,
)


def tag_hits(code: bool, text: str) -> list[Hit]:
    return [
        Hit(
            Leak.PIN_VALUE,
            m.start(group),
            m.end(group),
            "4-digit PIN in a `pin:` or `pin=` tag (masked: ****)",
        )
        for m in _TAG_RE.finditer(text)
        if not (code and m.group("sep") == "=")
        for group in ["pin" if m.group("pin") is not None else "bare"]
    ]


# --- private keys -----------------------------------------------------------------------

# A line break is a newline, or `\n` inside a JSON string (a service account's key file),
# after a line's trailing blanks (carriage returns among them); a line's leading blanks
# are its next token's. A YAML emitter writes two more (PyYAML's `safe_dump` of a key; an
# attacker's hunt, issue 18 twenty-second pass): a single-quoted scalar writes each line
# break as a blank line (a second newline), and a double-quoted one may end a line just
# after an escape with `\` (the next line's indent is dropped), between `\r` and `\n` too.
# No two parts can take the same blank or character and both go on: the blanks of that
# blank line, which the next line's indent could take, must be followed by a newline, the
# indent's by a token. (Only the one optional break after the headers can split a blank
# line with the break before it, two ways, once per block.) So a block that fails to
# match is given up in time linear in its length (blanks that either side could take made
# a failed 150-byte block with eight headers backtrack (n + 1)^8 times; an attacker's hunt).
_YAML_FOLD = r"\\\r?\n"  # a double-quoted YAML scalar's escaped line break
_BR = rf"(?:[ \t\r]*\n(?:[ \t\r]*\n)?|[ \t]*(?:\\r(?:{_YAML_FOLD}[ \t]*)?)?\\n(?:{_YAML_FOLD})?)"
_IND = r"[ \t]*"
_B64 = r"(?:[A-Za-z0-9+/=]|\\/)"  # (its two sides begin apart: no backtracking between)
# The blank between two words of a BEGIN or END line, where a quoted YAML scalar may fold
# the line too: a line break and indent (ruamel writes "-----END PRIVATE" and "KEY-----"
# on two lines so), or in a double-quoted one `\`, the break and indent, then `\ ` (PyYAML:
# after a body line, in one of four EC keys dumped with an indent of four).
_FOLDED_BLANK = rf"(?:{_YAML_FOLD}[ \t]*\\ |\r?\n[ \t]*)"
_SP = rf"(?: |{_FOLDED_BLANK})"
_LABEL = rf"(?:[A-Z0-9]+{_SP})*"
_PRIVATE_KEY_RE = lazy_compile(
    rf"-----BEGIN{_SP}(?P<label>{_LABEL})PRIVATE{_SP}KEY(?P<block>{_SP}BLOCK)?-----"
    + _BR
    # RFC 1421 headers (Proc-Type: 4,ENCRYPTED / DEK-Info) or PGP armor headers, each value
    # ending in a non-blank (a carriage return counts as a blank), then a blank line
    + rf"(?:{_IND}[A-Za-z][A-Za-z0-9-]*:[^\n\r\\ \t]*"
    + rf"(?:(?:[ \t\r]+|{_YAML_FOLD}[ \t]*\\ )[^\n\r\\ \t]+)*{_BR}){{0,8}}"
    + rf"(?:{_BR})?"
    # the base64 body: one line of 16 or more characters, then any lines; a `/` may be
    # written `\/` in a JSON string (PHP's json_encode does: such a key passed, a review)
    + rf"{_IND}{_B64}{{16,}}{_BR}"
    + rf"(?:{_IND}{_B64}+{_BR})*"
    # the END line names the BEGIN line's label, which `_words` compares (its folds apart)
    + rf"{_IND}-----END{_SP}(?P<end_label>{_LABEL})PRIVATE{_SP}KEY(?P<end_block>{_SP}BLOCK)?-----",
    re.ASCII,
)
_FOLDED_BLANK_RE = lazy_compile(_FOLDED_BLANK)


def _words(label: str) -> str:
    """A BEGIN or END line's words as written on one line."""
    return _FOLDED_BLANK_RE.sub(" ", label)


def private_key_hits(text: str) -> list[Hit]:
    hits: list[Hit] = []
    pos = 0
    while (m := _PRIVATE_KEY_RE.search(text, pos)) is not None:
        label = _words(m.group("label"))
        if _words(m.group("end_label")) != label or (m.group("end_block") and not m.group("block")):
            # Another key's END (the old backreference failed here): a block that begins
            # inside this one (in a header's value) is still looked for.
            pos = m.start() + 1
            continue
        block = " BLOCK" if m.group("block") else ""
        hits.append(
            Hit(
                Leak.PRIVATE_KEY,
                m.start(),
                m.end(),
                f"a private key ({label}PRIVATE KEY{block}) must not "
                "be committed (contents masked; rotate the key)",
            )
        )
        pos = m.end()
    return hits
