"""Leaked-PIN / PIN-hash scanner for the `scan` hook and the audit (docs/spec.md §5).

The audit scans every blob of a committed tree, so the common case is cheap:
a NUL probe, one `bytes.translate` and a few substring searches (C speed),
plus one small regex search only if the file contains "pin". Only files that
trip that pre-filter are decoded, and only the rule families it flagged run.

Rules (the stable names are the values of `Rule`):

- ``pin-hash-file``: the file's basename is ``pin.hash`` (any case), whatever
  its content; reported at 1:1.
- ``pin-assignment``: ``EXPFLOW_PIN_HASH``, ``EXPFLOW_PIN``, ``pin_hash``,
  ``pin.hash`` or ``pinHash`` (any case) assigned a literal value with ``=`` or
  ``:`` (env, shell, YAML, JSON, TOML). Empty values (nothing, ``""``, ``null``,
  ``~``, ``None``, booleans, ``{}``/``[]``) and pure references (``$X``,
  ``${X}``, ``${X:-}``, ``$(cmd)``, ``${{ secrets.X }}``, ``$env:X``, ``%X%``,
  ``{{ template }}``) are not leaks. In programming-language sources (``.py``,
  ``.js``, ``.ipynb``, ...) an unquoted right-hand side is an expression, so
  only quoted strings and bare numbers count there.
- ``pin-sha256``: a 64-hex token (either case, optionally ``0x``-prefixed)
  bounded by non-word characters that is the SHA-256 of one of the 10,000
  four-digit PINs.
- ``pin-hash-format``: any match of ``pin.PIN_HASH_RE`` (the tool's own format).
- ``pin-value``: exactly four ASCII digits under a ``pin`` key (any case) with a
  ``:`` separator (YAML/JSON), quoted or bare.

A line containing ``expflow: allow-pin-hash`` is exempt from every content
rule; ``pin-hash-file`` concerns the whole file and is exempted only by an
``allow`` glob. An assignment whose value is itself a ``pin-sha256`` or
``pin-hash-format`` token is reported once, under the more specific content
rule. Messages never contain any part of the token.

Text handling: a NUL byte in the first 8 KiB means binary (git's own test) and
the file's content is skipped, except UTF-16 text with a byte-order mark, which
is decoded and scanned (Windows PowerShell writes redirected output that way).
Text that is not valid UTF-8 is scanned as Latin-1 rather than skipped: every
token the rules look for is ASCII, so a leak in a legacy-encoded file is still
found, and columns stay exact for single-byte encodings. Lines end at ``\\n``;
columns count characters (a UTF-8 BOM is not a column).
"""

from __future__ import annotations

import bisect
import enum
import functools
import hashlib
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from expflow_git.errors import Finding
from expflow_git.globs import matches_any
from expflow_git.pin import PIN_HASH_PREFIX, PIN_HASH_RE

PRAGMA = "expflow: allow-pin-hash"
PIN_HASH_FILENAME = "pin.hash"

_BINARY_PROBE = 8192


class Rule(str, enum.Enum):
    """Stable rule names, as they appear in `Finding.rule`."""

    PIN_HASH_FILE = "pin-hash-file"
    PIN_ASSIGNMENT = "pin-assignment"
    PIN_SHA256 = "pin-sha256"
    PIN_HASH_FORMAT = "pin-hash-format"
    PIN_VALUE = "pin-value"


# Files whose unquoted right-hand sides are expressions, not literal values.
# fmt: off
_CODE_SUFFIXES = frozenset({
    ".py", ".pyi", ".ipynb", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".java", ".kt",
    ".kts", ".scala", ".go", ".rs", ".rb", ".php", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs",
    ".swift", ".r", ".jl", ".lua", ".m",
})
_CODE_SUFFIX_TUPLE = tuple(_CODE_SUFFIXES)
# fmt: on

# Maximal hex runs; the 64-character, word-bounded ones are checked in Python
# (cheaper than lookbehinds tried at every position).
_HEX_RUN_RE = re.compile(r"[0-9A-Fa-f]{64,}")
_ASCII_WORD = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")

# The key first (so the engine can skip quickly to a `p`/`e`); a quote before it
# must match the one after it, which `_key_hits` checks.
_KEY_RE = re.compile(
    r"""(?<![\w-])
        (?P<key>expflow_pin_hash|expflow_pin|pin_hash|pin\.hash|pinhash|pin)
        (?P<q>["']?)\]?[ \t]*
        (?P<sep>=(?![=>~])|:(?![:=]))
        [ \t]*""",
    # ASCII: the bytes pre-filter must see every key this matches (no `ſ`/`K` folding).
    re.IGNORECASE | re.VERBOSE | re.ASCII,
)

# A value that names where the secret comes from instead of holding it.
_REFERENCE_RE = re.compile(
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
_BARE_RE = re.compile(r"[^\s,;#\]})]+")
_ENDS_VALUE_RE = re.compile(r"[ \t,;#\]})]|\Z")
_BLOCK_SCALAR_RE = re.compile(r"[|>][-+0-9]*[ \t]*(?:#.*)?")
_NOT_A_SECRET = frozenset({"null", "~", "none", "nil", "undefined", "true", "false"})
_FOUR_DIGITS_RE = re.compile(r"[0-9]{4}")
_NUMBER_RE = re.compile(r"[0-9]+")


# The pre-filter. One C-speed pass folds the bytes: every hex digit becomes 0x01
# and ASCII letters become lower case (p, i, n are not hex digits, so they
# survive). Then a 64-hex run is a plain substring search, and the key regex
# only runs on files that contain "pin" at all. Each detailed rule's match
# implies one of these checks succeeds, so a file that passes none cannot
# produce a finding (tests/test_pinscan.py checks that property).
_HEX_MARK = b"\x01"
_FOLD = bytes.maketrans(
    b"0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZ",
    _HEX_MARK * 22 + b"ghijklmnopqrstuvwxyz",
)
_FOLDED_HEX_RUN = _HEX_MARK * 64
_FOLDED_KEY_RE = re.compile(
    rb"pin(?:[_.]?" + re.escape(b"hash".translate(_FOLD)) + rb")?[\"']?\]?[ \t]*[:=]"
)
_FORMAT_PREFIX = PIN_HASH_PREFIX.encode("ascii")
# Only when PIN_HASH_RE stops starting with its literal prefix does the filter need the regex.
_FORMAT_FALLBACK_RE = (
    None
    if PIN_HASH_RE.pattern.startswith(re.escape(PIN_HASH_PREFIX))
    else re.compile(PIN_HASH_RE.pattern.encode("ascii"), PIN_HASH_RE.flags & re.IGNORECASE)
)


class _Family(enum.Flag):
    """Which rule families the pre-filter says may fire."""

    NONE = 0
    HEX = enum.auto()  # pin-sha256
    FORMAT = enum.auto()  # pin-hash-format
    KEY = enum.auto()  # pin-assignment, pin-value
    ALL = HEX | FORMAT | KEY


def _may_match(data: bytes) -> _Family:
    """The rule families that can fire on `data` (ASCII-compatible text); NONE for most files."""
    folded = data.translate(_FOLD)
    families = _Family.NONE
    if _FOLDED_HEX_RUN in folded:
        families |= _Family.HEX
    if _FORMAT_PREFIX in data or (
        _FORMAT_FALLBACK_RE is not None and _FORMAT_FALLBACK_RE.search(data)
    ):
        families |= _Family.FORMAT
    if b"pin" in folded and _FOLDED_KEY_RE.search(folded) is not None:
        families |= _Family.KEY
    return families


@functools.cache
def pin_sha256_set() -> frozenset[str]:
    """Lower-case SHA-256 hex digests of the 10,000 four-digit PINs (built once)."""
    return frozenset(hashlib.sha256(f"{n:04d}".encode("ascii")).hexdigest() for n in range(10_000))


def path_is_allowed(path: str, allow: Sequence[str]) -> bool:
    """True iff `path` (repo-relative, '/'-separated) matches one of the `allow` globs.

    Globs are anchored at the repository root: `*`, `?` and `[...]` never cross
    '/', a `**/` segment matches zero or more directories, a trailing `/**`
    matches everything below. Write `**/name` to match at any depth.
    """
    return matches_any(path, allow)


def scan_bytes(path: str, data: bytes, *, allow: Sequence[str] = ()) -> list[Finding]:
    """Findings for leaked PINs / PIN hashes in one file's bytes, sorted by position.

    `path` is repo-relative with '/' separators; files matching an `allow` glob
    are exempt entirely.
    """
    if allow and path_is_allowed(path, allow):
        return []
    content = scan_content(data, code=is_code_path(path))
    return name_findings(path) + [replace(f, path=path) for f in content]


def is_code_path(path: str) -> bool:
    """Source files, where an unquoted right-hand side is an expression, not a value."""
    if not path.lower().endswith(_CODE_SUFFIX_TUPLE):  # nearly every path: no splitext
        return False
    return posixpath.splitext(path)[1].lower() in _CODE_SUFFIXES


def name_findings(path: str) -> list[Finding]:
    """The finding a file's name alone gives (a committed `pin.hash`)."""
    if (
        path[-8:].lower() != PIN_HASH_FILENAME
        or posixpath.basename(path).lower() != PIN_HASH_FILENAME
    ):
        return []
    return [
        Finding(
            path,
            Rule.PIN_HASH_FILE.value,
            "a file named pin.hash (a stored PIN hash) must not be committed",
            line=1,
            col=1,
        )
    ]


def scan_content(data: bytes, *, code: bool) -> list[Finding]:
    """The content findings (path left empty): what depends only on the bytes and the file type,
    so the audit may cache it per blob."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = data.decode("utf-16", errors="replace").removeprefix("\ufeff")
        return _scan_text(text, code)
    if data.find(b"\0", 0, _BINARY_PROBE) != -1:
        return []  # binary
    families = _may_match(data)
    if not families:
        return []
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return _scan_text(text, code, families)


@dataclass(frozen=True)
class _Hit:
    rule: Rule
    start: int  # offset of the token's first character in the text
    end: int
    message: str


def _scan_text(text: str, code: bool, families: _Family = _Family.ALL) -> list[Finding]:
    """Content findings for decoded text (every rule except pin-hash-file)."""
    content = _content_hits(text, families)
    hits = content + _key_hits(code, text, content) if _Family.KEY in families else content
    if not hits:
        return []
    newlines = [m.start() for m in re.finditer("\n", text)]
    findings: list[Finding] = []
    for hit in sorted(hits, key=lambda h: (h.start, h.rule.value)):
        line_index = bisect.bisect_left(newlines, hit.start)
        line_start = newlines[line_index - 1] + 1 if line_index else 0
        line_end = newlines[line_index] if line_index < len(newlines) else len(text)
        if PRAGMA in text[line_start:line_end]:
            continue
        findings.append(
            Finding(
                "",
                hit.rule.value,
                hit.message,
                line=line_index + 1,
                col=hit.start - line_start + 1,
            )
        )
    return findings


def _content_hits(text: str, families: _Family) -> list[_Hit]:
    hits: list[_Hit] = []
    if _Family.HEX in families:
        for m in _HEX_RUN_RE.finditer(text):
            start, end = m.span()
            if (
                end - start == 64
                and _bounded(text, start, end)
                and m.group().lower() in pin_sha256_set()
            ):
                hits.append(
                    _Hit(
                        Rule.PIN_SHA256,
                        start,
                        end,
                        "leaked SHA-256 of a 4-digit PIN (64 hex chars, masked: ****)",
                    )
                )
    if _Family.FORMAT not in families:
        return hits
    for m in PIN_HASH_RE.finditer(text):
        hits.append(
            _Hit(
                Rule.PIN_HASH_FORMAT,
                m.start(),
                m.end(),
                f"string in expflow's PIN-hash format ({len(m.group())} chars, masked: ****)",
            )
        )
    return hits


def _bounded(text: str, start: int, end: int) -> bool:
    """A token bounded by non-word ASCII characters, or by a `0x` prefix that is itself bounded."""
    if text[end : end + 1] in _ASCII_WORD:
        return False
    if start == 0 or text[start - 1] not in _ASCII_WORD:
        return True
    return (
        text[start - 1] in "xX"
        and text[start - 2 : start - 1] == "0"
        and (start == 2 or text[start - 3] not in _ASCII_WORD)
    )


def _key_hits(code: bool, text: str, content: list[_Hit]) -> list[_Hit]:
    """pin-assignment and pin-value hits; an assignment overlapping a content hit is dropped."""
    hits: list[_Hit] = []
    consumed = 0  # a key inside an earlier key's value is part of that value, not a new key
    for m in _KEY_RE.finditer(text):
        if m.start() < consumed:
            continue
        quote = m.group("q")
        if quote and text[m.start() - 1 : m.start()] != quote:
            continue  # `pin": x`: a closing quote without its opening one
        after_sep = text[m.end("sep") : m.end("sep") + 1]
        if m.group("sep") == ":" and not quote and after_sep not in ("", " ", "\t", "\r", "\n"):
            continue  # an unquoted YAML key needs `: `; this is `${X:-}`, a URL, a time, ...
        key = m.group("key")
        is_pin = key.lower() == "pin"
        if is_pin and m.group("sep") != ":":
            continue
        value = _value_at(text, m.end(), spaced=m.group().endswith((" ", "\t")))
        if value is None:
            continue
        consumed = value.end
        token = text[value.start : value.end]
        if is_pin:
            if value.kind is not _Kind.REFERENCE and _FOUR_DIGITS_RE.fullmatch(token):
                hits.append(
                    _Hit(
                        Rule.PIN_VALUE,
                        value.start,
                        value.end,
                        "4-digit PIN under key 'pin' (masked: ****)",
                    )
                )
            continue
        if value.kind is _Kind.REFERENCE:
            continue
        if code and value.kind is _Kind.BARE and not _NUMBER_RE.fullmatch(token):
            continue  # in source code an unquoted right-hand side is an expression
        if any(c.start < value.end and value.start < c.end for c in content):
            continue  # the content rule already names this token, more specifically
        hits.append(
            _Hit(Rule.PIN_ASSIGNMENT, value.start, value.end, f"{key} assigned a value (masked)")
        )
    return hits


class _Kind(enum.Enum):
    LITERAL = "literal"  # quoted string or YAML block scalar
    BARE = "bare"  # unquoted scalar
    REFERENCE = "reference"  # names where the secret comes from


@dataclass(frozen=True)
class _Value:
    start: int
    end: int
    kind: _Kind


def _value_at(text: str, pos: int, *, spaced: bool) -> _Value | None:
    """The scalar value starting at `pos`, or None when it is empty or a nested mapping/list."""
    eol = text.find("\n", pos)
    if eol == -1:
        eol = len(text)
    rest = text[pos:eol].rstrip("\r")
    if not rest or (spaced and rest.startswith("#")):
        return None
    first = rest[0]
    if first in "\"'":
        close = _closing_quote(rest, first)
        inner_end = pos + (close if close != -1 else len(rest))
        inner = text[pos + 1 : inner_end]
        stripped = inner.strip()
        if not stripped:
            return None
        start = pos + 1 + (len(inner) - len(inner.lstrip()))
        kind = _Kind.REFERENCE if _is_reference(stripped) else _Kind.LITERAL
        return _Value(start, start + len(stripped), kind)
    if _BLOCK_SCALAR_RE.fullmatch(rest):
        return _block_scalar_value(text, pos, eol)
    reference = _REFERENCE_RE.match(rest)
    if reference is not None and _ENDS_VALUE_RE.match(rest, reference.end()):
        return _Value(pos, pos + reference.end(), _Kind.REFERENCE)
    if first in "{[":
        # Empty, a `{{ template }}`, or a nested mapping/list whose own keys are scanned.
        return None
    bare = _BARE_RE.match(rest)
    if bare is None or bare.group().lower() in _NOT_A_SECRET:
        return None
    return _Value(pos, pos + bare.end(), _Kind.BARE)


def _closing_quote(rest: str, quote: str) -> int:
    i = 1
    while i < len(rest):
        c = rest[i]
        if c == "\\" and quote == '"':
            i += 2
            continue
        if c == quote:
            return i
        i += 1
    return -1


def _is_reference(value: str) -> bool:
    return _REFERENCE_RE.fullmatch(value) is not None


def _block_scalar_value(text: str, pos: int, eol: int) -> _Value | None:
    """A YAML `|`/`>` value: the next non-blank line, if it is indented below the key's line."""
    line_start = text.rfind("\n", 0, pos) + 1
    key_line = text[line_start:pos]
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
        return _Value(start + indent, start + len(line.rstrip()), _Kind.LITERAL)
    return None
