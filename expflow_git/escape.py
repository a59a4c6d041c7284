"""How a string from a repository or a report is written to each place output goes.

A pull request's author controls file names, record and policy strings, and anyone
can hand over a report: none of that may start a line, move a terminal's cursor,
become a CI runner's workflow command, a Markdown link, an HTML tag or a spreadsheet
formula. Every renderer writes such strings through the one function here for its
sink (a terminal line, a GitHub annotation, Markdown, CSV, HTML, JSON, $GITHUB_OUTPUT).

The module imports only the standard library, so every layer may use it (the
`Finding` value in errors.py does).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from expflow_git.lazyre import lazy_compile

# Characters that are invisible or that move, erase or split what a terminal or a log
# viewer shows: C0 and C1 controls with DEL (ESC starts terminal sequences; CR, LF and
# NEL end lines), format characters (bidi overrides reorder text, zero-width ones hide
# it), line and paragraph separators, lone surrogates (a file name that is not UTF-8
# decoded with surrogateescape), and unassigned and private-use code points. Python's
# tables are of one Unicode version (3.11: Unicode 14), so a format character a later
# one added (U+13439-U+1343F, Egyptian hieroglyph format controls, Unicode 15) looks
# unassigned here while a terminal may hide it; a private-use one is drawn as nothing,
# or as whatever a font puts there. Either shows as an escape.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Cn", "Co"})

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, the same ranges in
# Unicode 14 to 16): what a terminal, a browser or GitHub draws as nothing. Most are of
# the categories above, but 263 are combining marks (Mn) and 4 fillers (Lo), which
# Python reads as printable: U+034F combining grapheme joiner, U+115F-U+1160, U+3164
# and U+FFA0 Hangul fillers, U+17B4-U+17B5 Khmer inherent vowels, U+180B-U+180D and
# U+180F Mongolian free variation selectors, and the variation selectors U+FE00-U+FE0F
# and U+E0100-U+E01EF: one selector a byte hides a message in a word ("ASCII smuggling",
# as tag characters do), one mark makes two names look alike (`lr`, `lr` + U+034F).
# VS16 (U+FE0F) too, though it only asks an emoji's colour form (docs/decisions.md).
# The whole property is listed, its reserved code points as well: a later Python whose
# tables assign one still escapes it.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


@functools.cache
def _ignorable() -> re.Pattern[str]:
    """A default-ignorable character (`_DEFAULT_IGNORABLE`). Compiled on first use, by
    text that is not ASCII: ~0.3 ms."""
    ranges = "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in _DEFAULT_IGNORABLE)
    return re.compile(f"[{ranges}]")


def _hidden(ch: str) -> bool:
    """Whether a terminal must get `ch` as an escape (`_HIDDEN`, `_DEFAULT_IGNORABLE`)."""
    return unicodedata.category(ch) in _HIDDEN or _ignorable().match(ch) is not None


# CI runners read a command anywhere in a line that has `##` + a word + `[`: GitHub
# Actions' old form `##[error]…`, Azure Pipelines' `##vso[…]`, TeamCity's `##teamcity[…]`.
_RUNNER_PREFIX = re.compile(r"##(?=[A-Za-z]*\[)")
_RUNNER_BRACKET = lazy_compile(r"(##[A-Za-z]*)\[")

# Characters with a meaning in GitHub-flavoured Markdown wherever they stand inside a
# line: escape, code, emphasis, links and images, raw HTML, table cells, headings and
# issue links, strikethrough, math, entities.
_MARKDOWN = lazy_compile(r"([\\`*_\[\]<>|#~$&])")
# What GitHub reads after every escape is undone (its mention and reference filters run
# on the rendered text): `@` (a mention, an e-mail address) and `#` before a digit (an
# issue link, `#1`, `owner/repo#1`: `\#1` links all the same). A run of them, escaped,
# is one code span, which splits the text around it (`@``@` would be one span of "@``@").
_AT = lazy_compile(r"(?:@|\\#)+")
_DIGIT = lazy_compile("[0-9]")
# What GitHub's autolink extension makes a link of with no markup at all: `www.` and
# `scheme://`. Its dot or colon escaped, the text shows as written and links nowhere.
_AUTOLINK = lazy_compile(r"(?i)(?<=www)\.|:(?=//)")

# A number as `csv_cell` may leave it unquoted: JCS spellings and plain decimals.
_NUMBER = lazy_compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
# What makes a spreadsheet read a cell as a formula (OWASP CSV injection), with the
# full-width forms some spreadsheets also accept.
_FORMULA_START = tuple("=+-@＝＋－＠")
_SARIF = lazy_compile(r"[\\\[\]{}]")


@functools.cache
def _json_suspect() -> re.Pattern[str]:
    """Where a JSON text (ensure_ascii=False) may hold a character `terminal` would
    escape: the encoder escapes C0 controls itself, so only beyond ASCII printables.
    Compiled on first use: its charset costs ~8 ms, paid by every hook otherwise."""
    return re.compile("[\x7f-\U0010ffff]")


def _visible(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _visible_match(match: re.Match[str]) -> str:
    return _visible(match.group())


def terminal(text: str) -> str:
    """`text` with every invisible or line-splitting character shown as an escape:
    `\\x1b` for ESC, `\\x0a` for a line feed, `\\xff` for an undecodable byte of a file
    name, `\\u2028`, `\\u202e`, a variation selector `\\ufe0f`, … The result is one
    line of printable text, none of it drawn as nothing."""
    if text.isprintable():  # nearly every string: one C-level scan (two beyond ASCII)
        if text.isascii() or _ignorable().search(text) is None:
            return text
        return _ignorable().sub(_visible_match, text)  # printable: no other to escape
    return "".join(_visible(ch) if _hidden(ch) else ch for ch in text)


def terminal_path(path: str) -> str:
    """A file name for a line of text, one name to one spelling: a backslash doubled (as
    a report spells it, `errors.path_text`), then `terminal`. So a single backslash only
    ever starts an escape: a name holding the byte 0xff shows `\\xff`, one literally
    named with those four characters `\\\\xff`, where both showed `\\xff`."""
    return terminal(path.replace("\\", "\\\\"))


def line(text: str) -> str:
    """One line of plain output (a terminal, a CI log): `terminal`, and nothing in it a
    CI runner reads as a workflow command — no `::` first (after blanks), no `##[`."""
    text = _RUNNER_PREFIX.sub(r"#\\x23", terminal(text))
    rest = text.lstrip()
    if rest.startswith("::"):
        start = len(text) - len(rest)
        text = f"{text[:start]}\\x3a{text[start + 1 :]}"
    return text


def github_data(text: str) -> str:
    """The message of a GitHub workflow command (`::error …::DATA`): GitHub's own escapes
    for `%`, CR and LF (the annotation shows the original), then `line`'s for the rest."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return _RUNNER_PREFIX.sub(r"#\\x23", terminal(text))


def github_property(text: str) -> str:
    """A property of a GitHub workflow command (`file=…`, `title=…`): `github_data`, and
    `:` and `,`, which end a property, escaped as GitHub does."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


# What a GitHub annotation's `file=` cannot hold raw: controls (a line's end among them),
# line and paragraph separators, and lone surrogates (a name's byte that is not UTF-8).
_BREAKS_LINE = frozenset({"Cc", "Cs", "Zl", "Zp"})


def github_path(path: str) -> str:
    """An annotation's `file=` property: `github_property`'s escapes for `%`, CR, LF, `:`
    and `,`, but only what can break the command line shown otherwise (controls, line and
    paragraph separators, a lone surrogate as `\\xNN`, and a runner's `##[`). A
    private-use, unassigned (to this Python's Unicode tables) or format character is a
    file name's own and stays raw: escaped, GitHub attached the finding to no file, so a
    pull request's author could move an error off its file with one such character."""
    text = path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if not text.isprintable():
        text = "".join(
            _visible(ch) if unicodedata.category(ch) in _BREAKS_LINE else ch for ch in text
        )
    text = _RUNNER_PREFIX.sub(r"#\\x23", text)
    return text.replace(":", "%3A").replace(",", "%2C")


def markdown(text: str) -> str:
    """Inline Markdown text or a table cell (GitHub-flavoured): one line, every character
    with a meaning backslash-escaped, so it shows as written and never as a link (bare
    `www.` and `https://` ones too), image, HTML, emphasis, a new cell, or an `@name`
    mention that would notify someone where the Markdown is posted (a job summary, a
    pull request comment), an e-mail address as a mailto link, or an issue link (`#1`,
    `owner/repo#1`). GitHub finds those after every escape is undone, so `@`, and `#`
    before a digit, are code spans of their own: the text on either side is two texts,
    and no address, mention or reference spans them (docs/decisions.md)."""
    escaped = _AT.sub(_code_span, _MARKDOWN.sub(r"\\\1", terminal(text)))
    return " ".join(_AUTOLINK.sub(r"\\\g<0>", escaped).split())


def _code_span(match: re.Match[str]) -> str:
    """A run of `@` and escaped `#` (`_AT`) as a code span of those characters, where
    GitHub would read it: any `@`, or a `#` before a digit; else as it is (`\\#`)."""
    run = match.group()
    if "@" not in run and not _DIGIT.match(match.string, match.end()):
        return run
    return "`" + run.replace("\\#", "#") + "`"


def markdown_code(text: str) -> str:
    """A Markdown code span of `text` (not for table cells): fenced by more backticks than
    it holds, so nothing inside can close it."""
    text = _RUNNER_PREFIX.sub(r"#\\x23", terminal(text))
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def sarif_text(text: str) -> str:
    """A SARIF plain-text message (SARIF 2.1.0 §3.11.5, §3.11.6): `terminal` first, so an
    ESC, a line feed or a bidi override shows as its escape (GitHub's alert showed a
    `\\u202e` reordering the text after it: a hunter's note, issue 18 thirty-sixth pass);
    then a bracket or a backslash is backslash-escaped, so no `[text](target)` in it is an
    embedded link, and a brace is doubled, so no `{0}` is a placeholder. A viewer shows
    the text as written."""
    return _SARIF.sub(_sarif_escape, terminal(text))


def _sarif_escape(match: re.Match[str]) -> str:
    ch = match.group()
    return ch + ch if ch in "{}" else "\\" + ch


def csv_cell(text: str) -> str:
    """A CSV cell: `terminal`, and a cell a spreadsheet would run as a formula (it starts,
    after any blanks, with = + - @, or with TAB or CR) gets a leading `'`. Numbers are
    left as they are (so `-0.5` stays a number), and so is a lone `-`, which no
    spreadsheet runs (a CSV of runs writes the string "-" so: render.table.csv_value
    JSON-quotes a string that reads as a number, `"-1"`, and one with a `'` first)."""
    if text == "-" or _NUMBER.fullmatch(text):
        return text
    raw_start = text[:1] in ("\t", "\r")
    text = _RUNNER_PREFIX.sub(r"#\\x23", terminal(text))
    if raw_start or text.lstrip().startswith(_FORMULA_START):
        return "'" + text
    return text


def html_text(text: str) -> str:
    """Text for HTML content or a quoted attribute: `terminal`, then HTML's escapes (and
    `##[` spelled with an entity, so a log that prints the page runs no command)."""
    import html  # only the HTML renderer needs it; the hooks start without it

    return html.escape(terminal(text), quote=True).replace("##", "#&#35;")


def json_text(text: str) -> str:
    """JSON text as written for a terminal or log, the same JSON value: characters that
    must not reach a terminal raw become `\\uXXXX` escapes and the `[` of a runner
    command (`##[`) `\\u005b`. (Those occur only inside strings.) A lone surrogate,
    which JSON cannot carry as valid Unicode, is written as the text `\\xNN`."""

    def escape(match: re.Match[str]) -> str:
        ch = match.group()
        category = unicodedata.category(ch)
        if category == "Cs":
            return "\\" + _visible(ch)  # the JSON text `\\xff`, valid Unicode
        if category in _HIDDEN or _ignorable().match(ch) is not None:
            return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else _utf16(ord(ch))
        return ch

    if not text.isascii():
        text = _json_suspect().sub(escape, text)
    return _RUNNER_BRACKET.sub(r"\1\\u005b", text)


def json_document(doc: object) -> str:
    """A JSON output (`--format json`), indented, as `json_text` writes it for a terminal.
    Not ASCII-only: `json.dumps` would write a lone surrogate (a file name's byte that is
    not UTF-8) as the escape `\udcff`, which no JSON reader takes back as text. Never
    NaN or Infinity (RFC 8259 has neither: `diff` wrote `Infinity`, a user's hunt, issue
    18 twenty-third pass): a value that is not finite is a bug, raised, not printed."""
    import json

    return json_text(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False))


def _utf16(code: int) -> str:
    """A character beyond the BMP as a JSON surrogate-pair escape."""
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def output_value(text: str) -> str:
    """A value for $GITHUB_OUTPUT written as `key=value` (our keys are fixed and have no
    `<<`, so the runner never reads a heredoc): `terminal`, so the value stays on its
    line and cannot add another output."""
    return terminal(text)
