"""Leaked-PIN / PIN-hash scanner for the `scan` hook and the audit (docs/spec.md §5).

The audit scans every blob of a committed tree, so the common case is cheap:
a NUL probe, one `bytes.translate` and a few substring searches (C speed),
plus one small regex search only if the file contains "pin". Only files that
trip that pre-filter are decoded, and only the rule families it flagged run.

Rules (the stable names are the values of `hits.Leak`; keys.py holds the nested-key,
`--pin` and private-key rules):

- ``pin-hash-file``: the file's basename is ``pin.hash`` (any case), whatever
  its content; reported at 1:1.
- ``pin-assignment``: ``EXPFLOW_PIN_HASH``, ``EXPFLOW_PIN``, ``pin_hash``,
  ``pin.hash`` or ``pinHash`` (any case) assigned a literal value with ``=`` or
  ``:`` (env, shell, YAML, JSON, TOML), or make's ``:=``, ``::=``, ``?=``, ``+=`` and,
  beginning a statement, ``!=`` (a secret-shaped word of its command; in code ``:=``
  only), and outside code ``define NAME`` … ``endef`` (the body's first line that is not
  blank); also ``EXPFLOW_PIN`` and ``EXPFLOW_PIN_HASH`` named apart from their values
  (`envpairs.py`: an env list's ``name:`` entry beside its mapping's ``value`` key;
  ``ENV``, ``set -x``, ``setenv``, ``setx NAME value``). Empty values (nothing, ``""``,
  ``null``, ``~``, ``None``, booleans, ``{}``/``[]``) and pure references (``$X``,
  ``${X}``, ``${X:-}``, ``$(cmd)``, ``${{ secrets.X }}``, ``$env:X``, ``%X%``,
  ``{{ template }}``) are not leaks, unless one holds a literal (`values.secret_in_reference`).
  In programming-language sources (``.py``,
  ``.js``, ``.ipynb``, ...) an unquoted right-hand side is an expression, so
  only quoted strings and bare numbers count there. A YAML key that begins and ends
  its line (a comment aside) takes its value from the next line that is neither blank
  nor a comment, if indented below the key: one quoted string or plain word. Outside
  code an unquoted word after ``:`` that more words follow is prose (`values.phrase_value`)
  unless a word of the phrase holds four digits, a 64-hex digest or the hash (then that
  part; `sha256`, `ed25519` are prose).
- ``pin-sha256``: a 64-hex token (either case, optionally ``0x``-prefixed)
  bounded by non-word characters that is the SHA-256 of one of the 10,000
  four-digit PINs (a letter escape, ``\\n``, or a colour code before it is a boundary:
  `_escape_view`).
- ``pin-hash-format``: any match of ``pin.PIN_HASH_RE`` (the tool's own format), also
  with each ``$`` written ``$$`` (docker compose, make) or ``\\$`` (a shell).
  In a path too (`name_findings`), as a PIN's SHA-256 in a path is a ``pin-sha256``.
  Both also when cut by escaped line breaks (`_split_hex_hits`, `_split_format_hits`).
- ``pin-value``: exactly four ASCII digits (unquoted, also with underscores between
  them: ``hits.pin_digits``) under a ``pin`` key (any case) with a
  ``:`` separator (YAML/JSON), or ``=`` outside code (TOML, INI, env), quoted or bare;
  or after the tool's own flag on a command line (``--pin NNNN`` or ``--pin=NNNN``,
  quoted or not, the quotes escaped too in a JSON string: shell scripts, Makefiles, CI
  files, package.json; a workflow expression's fallback, ``--pin ${{ x || 'NNNN' }}``;
  the argument list ``"--pin", "NNNN"`` of a test is not).
- Nested keys: below a ``pin`` mapping (a YAML ``pin:`` block, also as a list item's
  key, ``- pin:``, or behind node properties, ``pin: &a !!map``; a TOML ``[pin]`` or
  ``[x.pin]`` table, a ``pin: {...}`` / ``"pin": {...}`` / ``pin = {...}`` flow
  mapping or inline table), a direct child ``hash``, ``sha256``, ``digest`` or
  ``hashed`` with a literal value is a ``pin-assignment`` (as ``pin.hash``), and a
  child ``value``, ``code``, ``secret`` or ``number`` holding four digits is a
  ``pin-value``. Children are read up to the next nested mapping (a flow mapping)
  or the next ``pin`` mapping, which has its own children.
- ``private-key``: a PEM / OpenSSH private-key block (``-----BEGIN … PRIVATE
  KEY-----``: PKCS#8, RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP ``… PRIVATE KEY BLOCK``)
  with a base64 body and its ``-----END`` line, also inside a JSON string
  (``\\n`` line breaks) or a quoted YAML scalar (a single-quoted one writes each line
  break as a blank line; a double-quoted one folds its lines with ``\\``); a mention
  without a body is not a key. Reported at the BEGIN line.

Notebooks (``.ipynb``): the cell sources and text outputs are decoded from their
JSON strings and scanned as text (a code cell as Python, its ``%``/``!`` lines as
shell), besides the raw file; findings point at the line and column inside the
file's JSON string. The rest of its text (metadata, other outputs, attachments) is
read as a JSON file's text is (not as code). A notebook that is not nbformat 4 JSON is
scanned raw only.

Escapes: a file's escapes of printable ASCII (``\\u00NN``, ``\\U000000NN``, ``\\xNN``:
JSON, YAML, TOML; ``%NN``: a URL's percent-encoding) are also read decoded, a notebook's
raw text too (its metadata and other strings are not its cells) and each of its decoded
cells; a finding points at the escape (`_with_unescaped`, `_unescaped_hits`).

A line containing ``expflow: allow-pin-hash`` is exempt from every content
rule; ``pin-hash-file`` concerns the whole file and is exempted only by an
``allow`` glob. An assignment whose value is itself a ``pin-sha256`` or
``pin-hash-format`` token is reported once, under the more specific content
rule. Messages never contain any part of the token.

Every rule takes time linear in the file's size: each line is located once, a value
is read at most once, and what a later key on the same line would re-read (the next
``}``, the last ``)``, a block scalar's value) is remembered for the line.

Text handling: a NUL byte in the first 8 KiB means binary (git's own test), except
UTF-16 or UTF-32 text with a byte-order mark, which is decoded and scanned as the same
text in UTF-8 is, escapes and notebook cells decoded too (Windows PowerShell writes redirected
output that way). Binary data is read for the rules whose tokens are
ASCII: ``pin-sha256``, ``pin-hash-format``, ``private-key``, an ``EXPFLOW_PIN`` or
``EXPFLOW_PIN_HASH`` assignment (a number, or a string quoted on both sides) and
``--pin NNNN``, each in its run of printable ASCII, also written 16 or 32 bits a
character (little or big endian, no byte-order mark); such a key's value may also be
the next run after up to eight other bytes (a number), or a pickle's string after its
key's (see `_scan_binary`); its columns count bytes. A pickle of protocol 0 is text:
its key's line, a memo line and the value's line are an assignment.
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
import itertools
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from expflow_git.errors import Finding
from expflow_git.globs import matches_any
from expflow_git.lazyre import lazy_compile
from expflow_git.pin.store import PIN_HASH_PREFIX, PIN_HASH_RE
from expflow_git.pinscan import notebook
from expflow_git.pinscan.envpairs import env_pair_hits
from expflow_git.pinscan.hits import NUMBER_RE, Hit, Leak, Overlaps, pin_digits
from expflow_git.pinscan.keys import (
    argument_list_hits,
    flag_hits,
    nested_hits,
    private_key_hits,
    tag_hits,
)
from expflow_git.pinscan.values import (
    Kind,
    Line,
    command_value,
    ends_line,
    is_reference,
    past_properties,
    phrase_value,
    value_at,
    value_below,
)

PRAGMA = "expflow: allow-pin-hash"
PIN_HASH_FILENAME = "pin.hash"

_BINARY_PROBE = 8192


class FileClass(str, enum.Enum):
    """How a file's content is read; the audit caches a blob's findings per class."""

    TEXT = "t"
    CODE = "c"  # an unquoted right-hand side is an expression
    NOTEBOOK = "n"  # a Jupyter notebook: JSON whose strings are code and text


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
_HEX_RUN_RE = lazy_compile(r"[0-9A-Fa-f]{64,}")
_ASCII_WORD = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")

# The key first (so the engine can skip quickly to a `p`/`e`); a quote before it
# must match the one after it, which `_key_hits` checks. Make's assignments (`:=`, `::=`,
# `?=`, `+=`, `!=`) count outside code, `:=` in code too (Go, Python's walrus; a hunter's
# find, issue 18 twenty-sixth pass).
_KEY_RE = lazy_compile(
    r"""(?<![\w-])
        (?P<key>expflow_pin_hash|expflow_pin|pin_hash|pin\.hash|pinhash|pin)
        (?P<q>["']?)\]?[ \t]*
        (?P<sep>=(?![=>~])|:(?![:=])|(?:::|[:?+!])=(?![=>~]))
        [ \t]*""",
    # ASCII: the bytes pre-filter must see every key this matches (no `ſ`/`K` folding).
    re.IGNORECASE | re.VERBOSE | re.ASCII,
)


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
# `pin` as a key (`pin:`, `pin_hash=`, `"pin": {`), or a TOML table `[pin]` / `[x.pin]`.
_FOLDED_KEY_RE = lazy_compile(
    rb"pin(?:[_.]?"
    + re.escape(b"hash".translate(_FOLD))
    + rb")?[\"']?(?:\]?[ \t]*[?+!]?[:=]|[ \t]*\])"
)
# A hex run cut by an escaped line break that the format removes (a YAML double-quoted
# or TOML multi-line string: `abc\` newline `  def`, blanks after the `\` and blank
# lines too in TOML): see `_split_hex_hits`.
_FOLDED_SPLIT_HEX_RE = lazy_compile(rb"\x01\\[ \t]*\r?\n[ \t\r\n]*\x01")
# The format as a file that expands `$` must write it: each `$` doubled (docker compose,
# make) or escaped with `\` (a shell's double quotes); the tool reads the value it gets
# (an attacker's hunt, issue 18 twenty-second pass). PIN_HASH_RE's parts, one escape for all.
_FORMAT_PARTS = PIN_HASH_RE.pattern.split(r"\$")
_ESCAPED_FORMAT_RE = lazy_compile(
    _FORMAT_PARTS[0] + r"(?P<dollar>\$\$|\\\$)" + "(?P=dollar)".join(_FORMAT_PARTS[1:]),
    PIN_HASH_RE.flags,
)
# Every spelling of the prefix holds its first `$` and the word after it (`$scrypt`).
_FORMAT_MARK_TEXT = "$" + PIN_HASH_PREFIX.split("$")[1]
_FORMAT_MARK = _FORMAT_MARK_TEXT.encode("ascii")
# Only when PIN_HASH_RE stops starting with its literal prefix does the filter need the regex.
_FORMAT_FALLBACK_RE = (
    None
    if PIN_HASH_RE.pattern.startswith(re.escape(PIN_HASH_PREFIX))
    else lazy_compile(PIN_HASH_RE.pattern.encode("ascii"), PIN_HASH_RE.flags & re.IGNORECASE)
)


# A pickle of protocol 0 is text: a dict of the PIN under its variable's name is the lines
# `VEXPFLOW_PIN`, `p1`, `VNNNN` (`S'…'` in Python 2's, `I…` for a number), no separator
# between key and value (a hunter's find, issue 18 twenty-seventh pass). A string's
# opcode begins its line, then the key, an optional memo line (`p1`, `g1`), then the
# value's opcode.
_PICKLE_TEXT_RE = lazy_compile(
    r"^(?:V|S')(?P<key>(?i:expflow_pin(?:_hash)?))'?\r?\n(?:[pg][0-9]+\r?\n)?"
    r"(?:V(?P<v>[^\r\n]+)|S'(?P<s>[^\r\n]+)'|[IL](?P<i>[0-9]+)L?)\r?$",
    re.MULTILINE,
)
_FOLDED_ENV_KEY = b"expflow_pin".translate(_FOLD)
_FOLDED_PICKLE_TEXT_RE = lazy_compile(
    rb"(?:^|\n)(?:v|s')"
    + re.escape(_FOLDED_ENV_KEY)
    + rb"(?:_"
    + re.escape(b"hash".translate(_FOLD))
    + rb")?'?\r?\n"
)


def _pickle_text_hits(text: str, overlaps: Overlaps) -> list[Hit]:
    """Pin-assignments in a pickle of protocol 0 (`_PICKLE_TEXT_RE`)."""
    hits: list[Hit] = []
    for m in _PICKLE_TEXT_RE.finditer(text):
        group = "v" if m.group("v") is not None else "s" if m.group("s") is not None else "i"
        start, end = m.span(group)
        if not overlaps.any(start, end):
            message = f"{m.group('key')} assigned a value (masked)"
            hits.append(Hit(Leak.PIN_ASSIGNMENT, start, end, message))
    return hits


# Make's `define NAME` … `endef` assigns the lines between (a hunter's find, issue 18
# twenty-seventh pass): the first that is not blank is read as a quoted value is (a
# reference such as `$(shell cat .pin)` is none). Only outside code.
_DEFINE_RE = lazy_compile(
    r"^[ \t]*(?:(?:export|override)[ \t]+)*define[ \t]+"
    r"(?P<key>(?i:expflow_pin_hash|expflow_pin|pin_hash|pin\.hash|pinhash))"
    r"[ \t]*(?:(?:::|[:?+!])?=[ \t]*)?\r?$",
    re.MULTILINE,
)
_ENDEF_RE = lazy_compile(r"[ \t]*endef(?![^ \t\r#])")
_FOLDED_DEFINE = b"define".translate(_FOLD)
_FOLDED_DEFINE_RE = lazy_compile(
    re.escape(_FOLDED_DEFINE)
    + rb"[ \t]+(?:"
    + re.escape(b"expflow_".translate(_FOLD))
    + rb")?pin[_.]?(?:"
    + re.escape(b"hash".translate(_FOLD))
    + rb")?"
)


def _define_hits(text: str, overlaps: Overlaps) -> list[Hit]:
    """Pin-assignments by make's `define` (`_DEFINE_RE`): the first line of the body that
    is not blank, unless it is `endef`. Each search stops at the first line that is not
    blank, which the next `define` follows: linear."""
    hits: list[Hit] = []
    for m in _DEFINE_RE.finditer(text):
        pos = m.end() + 1
        while pos < len(text):
            eol = text.find("\n", pos)
            eol = len(text) if eol == -1 else eol
            body = text[pos:eol].strip()
            if body:
                break
            pos = eol + 1
        else:
            continue
        if (
            _ENDEF_RE.match(text, pos, eol) is not None
            or _DEFINE_RE.match(text, pos, eol) is not None  # (another define: no body)
            or is_reference(body)
        ):
            continue
        start = text.index(body, pos)
        if not overlaps.any(start, start + len(body)):
            message = f"{m.group('key')} assigned a value (masked)"
            hits.append(Hit(Leak.PIN_ASSIGNMENT, start, start + len(body), message))
    return hits


class _Family(enum.Flag):
    """Which rule families the pre-filter says may fire."""

    NONE = 0
    HEX = enum.auto()  # pin-sha256
    FORMAT = enum.auto()  # pin-hash-format
    KEY = enum.auto()  # pin-assignment, pin-value (flat and nested keys)
    FLAG = enum.auto()  # pin-value after `--pin`
    PRIVATE = enum.auto()  # private-key
    ENV = enum.auto()  # pin-assignment, `EXPFLOW_PIN` named apart from its value
    ALL = HEX | FORMAT | KEY | FLAG | PRIVATE | ENV


def _has_format_mark(data: bytes) -> bool:
    return _FORMAT_MARK in data or (
        _FORMAT_FALLBACK_RE is not None and _FORMAT_FALLBACK_RE.search(data) is not None
    )


def _may_match(data: bytes) -> _Family:
    """The rule families that can fire on `data` (ASCII-compatible text); NONE for most files."""
    folded = data.translate(_FOLD)
    families = _Family.NONE
    if _FOLDED_HEX_RUN in folded or _FOLDED_SPLIT_HEX_RE.search(folded) is not None:
        families |= _Family.HEX
    if _has_format_mark(data) or (
        b"\\" in data
        and _CONTINUATION_BYTES_RE.search(data) is not None
        and _has_format_mark(_CONTINUATION_BYTES_RE.sub(b"", data))
    ):
        families |= _Family.FORMAT
    if b"pin" in folded and (
        _FOLDED_KEY_RE.search(folded) is not None
        or (_FOLDED_ENV_KEY in folded and _FOLDED_PICKLE_TEXT_RE.search(folded) is not None)
        or (_FOLDED_DEFINE in folded and _FOLDED_DEFINE_RE.search(folded) is not None)
    ):
        families |= _Family.KEY
    if _FOLDED_ENV_KEY in folded:
        families |= _Family.ENV
    if b"--pin" in data:
        families |= _Family.FLAG
    if b"-----BEGIN" in data and b"PRIVATE" in data:  # (a YAML string may fold "PRIVATE KEY")
        families |= _Family.PRIVATE
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


def scan_bytes(
    path: str, data: bytes, *, allow: Sequence[str] = (), pragma: bool = True
) -> list[Finding]:
    """Findings for leaked PINs / PIN hashes / private keys in one file's bytes, by position.

    `path` is repo-relative with '/' separators; files matching an `allow` glob
    are exempt entirely. `pragma=False`: a pragma line is not exempt (the tool's own
    documents, before it writes them: pinscan/written.py).
    """
    if allow and path_is_allowed(path, allow):
        return []
    content = scan_content(data, file_class(path), pragma=pragma)
    shown = shown_path(path)
    return name_findings(path) + [replace(f, path=shown) for f in content]


def is_code_path(path: str) -> bool:
    """Source files, where an unquoted right-hand side is an expression, not a value."""
    if not path.lower().endswith(_CODE_SUFFIX_TUPLE):  # nearly every path: no splitext
        return False
    return posixpath.splitext(path)[1].lower() in _CODE_SUFFIXES


def file_class(path: str) -> FileClass:
    """How the content of the file at `path` is read."""
    if not is_code_path(path):
        return FileClass.TEXT
    return FileClass.NOTEBOOK if path.lower().endswith(".ipynb") else FileClass.CODE


def name_findings(path: str) -> list[Finding]:
    """The findings a file's name alone gives: a committed `pin.hash`, and a PIN's SHA-256
    or a string in the tool's own hash format in the path (a name stays in the history as
    surely as content). Each finding names the path with the secret masked: there, the
    name is the secret."""
    found: list[Finding] = []
    keyless = _mask_keys(path)  # (first: a `****` inside a key's body hid the key)
    hashed = _mask_format(keyless)
    shown = _mask_digests(hashed)
    if (
        path[-8:].lower() == PIN_HASH_FILENAME
        and posixpath.basename(path).lower() == PIN_HASH_FILENAME
    ):
        found.append(
            Finding(
                shown,
                Leak.PIN_HASH_FILE.value,
                "a file named pin.hash (a stored PIN hash) must not be committed",
                line=1,
                col=1,
            )
        )
    if hashed != keyless:
        found.append(Finding(shown, Leak.PIN_HASH_FORMAT.value, _PATH_FORMAT_MESSAGE))
    if shown != hashed:
        found.append(Finding(shown, Leak.PIN_SHA256.value, f"the path holds a {_SHA_MESSAGE}"))
    if keyless != path:
        found.append(Finding(shown, Leak.PRIVATE_KEY.value, _PATH_KEY_MESSAGE))
    return found


# A file (or folder, or submodule) named with a key's PEM or OpenSSH text: git takes
# line breaks in a name, and `keygen --out "$KEY"` makes two such files (a hunter's find).
_PATH_KEY_MESSAGE = (
    "the path holds a private key (masked: ****; rotate the key, and rename the file)"
)


def _mask_keys(path: str) -> str:
    """`path` with each private-key block in it masked (nearly every path: one search)."""
    if "PRIVATE" not in path:
        return path
    for hit in reversed(private_key_hits(path)):
        path = path[: hit.start] + "****" + path[hit.end :]
    return path


# The tool's hash is urlsafe base64 with `$`s, no `/`: a valid file or submodule name (a
# hunter's find, issue 18 twenty-sixth pass).
_PATH_FORMAT_MESSAGE = "the path holds a string in expflow's PIN-hash format (masked: ****)"


def shown_path(path: str) -> str:
    """`path` as the scan's findings name it: a PIN's SHA-256 and a string in the tool's
    hash format in it masked (`****`), in every finding about the file, not only the one
    that says the name leaks it."""
    return _mask_digests(_mask_format(_mask_keys(path)))


def _mask_format(path: str) -> str:
    """`path` with each string in the tool's hash format (its `$`s escaped too) masked."""
    if _FORMAT_MARK_TEXT not in path and (
        _FORMAT_FALLBACK_RE is None
        or _FORMAT_FALLBACK_RE.search(path.encode("utf-8", "surrogatepass")) is None
    ):
        return path  # (nearly every path: one substring search)
    for regex in (PIN_HASH_RE, _ESCAPED_FORMAT_RE):
        path = regex.sub("****", path)
    return path


def _mask_digests(path: str) -> str:
    return _HEX_RUN_RE.sub(_mask_pin_digest, path) if len(path) >= 64 else path


def _mask_pin_digest(m: re.Match[str]) -> str:
    token = m.group()
    return "****" if len(token) == 64 and token.lower() in pin_sha256_set() else token


# A report lists this many of one file's content findings, then how many more. Git keeps
# one blob for any number of paths: k leaks in a file at m paths were k × m findings
# from a repository of k + m lines (k = m = 1,000: a 400 MB report). `scan` reads each
# file from disk, and lists every finding.
MAX_LISTED = 20
_Row = TypeVar("_Row")  # a cached row, or a Finding


def listed(found: Sequence[_Row], finding: Callable[[_Row], Finding]) -> list[Finding]:
    """The first MAX_LISTED of a file's content findings (`finding` makes each of those
    listed from its row), and one more saying how many are not listed."""
    head = [finding(row) for row in found[: MAX_LISTED + 1]]
    if len(found) <= MAX_LISTED:
        return head
    rest = head[MAX_LISTED]
    more = f"{len(found) - MAX_LISTED:,} more finding(s) in this file, not listed"
    return [*head[:MAX_LISTED], replace(rest, message=f"{more}; the next: {rest.message}")]


def scan_content(
    data: bytes, cls: FileClass = FileClass.TEXT, *, pragma: bool = True
) -> list[Finding]:
    """The content findings (path left empty): what depends only on the bytes and the file's
    class, so the audit may cache it per blob. A file of any size: one over CHUNK_BYTES
    is read in parts (`_scan_parts`). `pragma=False`: a pragma line is not exempt."""
    if (encoding := _bom_encoding(data)) is not None:
        # Read as the same text in UTF-8 would be: its escapes and a notebook's cells
        # decoded too (`_scan_decoded`; they were not, an attacker's hunt).
        text = data.decode(encoding, errors="replace").removeprefix("\ufeff")
        found = _scan_utf8(text.encode("utf-8", "surrogatepass"), cls, pragma)
        # The bytes after a mark need not be that text: ASCII tokens among them (a mark
        # put before binary data hid them all; a review) are read as a binary file's are,
        # and so are wide ones, but for the mark's own text at its alignment, read above
        # (wide text in another width, byte order or alignment was hidden by the two bytes
        # of a mark: a hunt, issue 18 thirty-ninth pass).
        marked = _MARKED[data[:4] if encoding == "utf-32" else data[:2]]
        raw = (
            _scan_parts(data, cls, pragma, binary=True, marked=marked)
            if len(data) > CHUNK_BYTES
            else _scan_binary(data, pragma, marked=(marked, 0))
        )
        seen = {(f.line, f.col, f.rule) for f in found}
        return found + [f for f in raw if (f.line, f.col, f.rule) not in seen]
    if data.find(b"\0", 0, _BINARY_PROBE) != -1:  # binary: its ASCII tokens only
        if len(data) > CHUNK_BYTES:
            return _scan_parts(data, cls, pragma, binary=True)
        return _scan_binary(data, pragma)
    return _scan_utf8(data, cls, pragma)


# The wide text a byte-order mark begins, by the mark: `_wide_spans` leaves its runs at the
# mark's alignment to the decoded text.
_MARKED = {
    b"\xff\xfe": "utf-16-le",
    b"\xfe\xff": "utf-16-be",
    b"\xff\xfe\x00\x00": "utf-32-le",
    b"\x00\x00\xfe\xff": "utf-32-be",
}


def _bom_encoding(data: bytes) -> str | None:
    """ "utf-32" or "utf-16" for text that begins with its byte-order mark, else None. The
    UTF-32 marks first: UTF-32-LE's begins as UTF-16-LE's does (`FF FE 00 00` read as
    UTF-16 was garbage, and UTF-32-BE's `00 00 FE FF` counted as binary; a hunter's find),
    unless the length is no multiple of four (UTF-16 text whose first character is NUL)."""
    if data[:4] == b"\x00\x00\xfe\xff" or (data[:4] == b"\xff\xfe\x00\x00" and len(data) % 4 == 0):
        return "utf-32"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    return None


def _scan_utf8(data: bytes, cls: FileClass, pragma: bool) -> list[Finding]:
    """`scan_content` of text (UTF-8, or Latin-1 where it is not), whole or in parts."""
    if len(data) > CHUNK_BYTES and cls is not FileClass.NOTEBOOK:  # (a notebook is one JSON)
        return _scan_parts(data, cls, pragma)
    return _scan_decoded(data, cls, pragma)


# A file larger than this is scanned in parts of this size, each read with its neighbours'
# OVERLAP_BYTES on either side: the decoded text stays bounded, and no part of a file
# goes unread (files over 8 MiB were skipped whole, so a PIN hash in a big log was
# committed). Up to it a file is read whole: a part sees 64 KiB of context, and a `pin:`
# mapping whose child lies further below, or a key block longer than that (a review),
# would be missed across a cut. The report's own size cap.
CHUNK_BYTES = 512 * 1024 * 1024
OVERLAP_BYTES = 64 * 1024


def _scan_parts(
    data: bytes,
    cls: FileClass,
    pragma: bool = True,
    *,
    binary: bool = False,
    marked: str | None = None,
) -> list[Finding]:
    """`scan_content` of a file over CHUNK_BYTES, part by part: each part's findings
    placed in the whole file (its lines counted once, in order), a finding two parts see
    kept once. Left: a pragma line, or a hit's context, longer than a part's overlap.
    `binary`: the file is binary (`_scan_binary`, its columns count bytes; `marked`, the
    encoding of the text its byte-order mark begins)."""
    found: dict[tuple[int, int, str], Finding] = {}
    size, pos = len(data), 0
    counted, lines, line_start = 0, 0, 0  # newlines before `counted`; the last line's start
    while pos < size:
        end = size if size - pos <= CHUNK_BYTES else _line_cut(data, pos + CHUNK_BYTES)
        lo = _line_cut(data, pos - OVERLAP_BYTES) if pos else 0
        hi = size if end == size else _line_cut(data, min(size, end + OVERLAP_BYTES))
        lines += data.count(b"\n", counted, lo)
        last = data.rfind(b"\n", counted, lo)
        line_start, counted = (last + 1 if last != -1 else line_start), lo
        lead: int | None = None  # the characters of `lo`'s line before it (mid-line only)
        part = data[lo:hi]
        aligned = None if marked is None else (marked, -lo % (4 if "32" in marked else 2))
        parts = _scan_binary(part, pragma, marked=aligned) if binary else None
        for f in parts if parts is not None else _scan_decoded(part, cls, pragma):
            line, col = lines + (f.line or 1), f.col or 1
            if f.line == 1 and lo > line_start:
                if lead is None:
                    chars = data[line_start:lo]
                    lead = len(chars) if binary else len(chars.decode("utf-8", "replace"))
                col += lead
            found.setdefault((line, col, f.rule), replace(f, line=line, col=col))
        pos = end
    return [found[k] for k in sorted(found)]


def _line_cut(data: bytes, at: int) -> int:
    """A place near `at` to cut `data`: just after the last line break of the
    OVERLAP_BYTES before it, else at `at` itself (a line longer than that), moved back
    to the start of a UTF-8 character (a cut inside one made the part latin-1)."""
    at = max(0, min(len(data), at))
    brk = data.rfind(b"\n", max(0, at - OVERLAP_BYTES), at)
    if brk != -1:
        return brk + 1
    for _ in range(3):  # a UTF-8 character's continuation bytes: at most three
        if not (0 < at < len(data) and 0x80 <= data[at] < 0xC0):
            break
        at -= 1
    return at


# Binary data is read for the rules whose tokens are ASCII words of their own, as
# `strings` would show them: a PIN's SHA-256, the hash format (its escaped spellings too),
# a private key, an `EXPFLOW_PIN` or `EXPFLOW_PIN_HASH` assignment and `--pin NNNN`. A NUL
# byte hid all of them (`EXPFLOW_PIN=…` then one NUL; a pickle, an uncompressed zip;
# an attacker's hunt, issue 18 twenty-sixth pass). Each byte that is not printable ASCII
# (a tab and a line break are) reads as a line break, so a token ends where the text
# around it does, and a key's value is what its run of text holds. As in source code, an
# unquoted value counts only as a number, and a quoted one only closed on its run: the
# bytes after a key are as likely the next record as its value (a compiled f-string's
# `EXPFLOW_PIN={pin}` is followed by the next constant). The `pin` key rules are not
# read: `pin:` and four digits are too common in binary data. Text 16 or 32 bits a
# character is read too (`_wide_spans`), and a key's value a few bytes on (`_gap_hits`).
# The pre-filter is one fold and a few substring searches, as for text, with
# `expflow_pin` (any case) for the keys.
_PRINTABLE = frozenset(range(0x20, 0x7F)) | frozenset(b"\t\r\n")
_STRINGS = bytes(b if b in _PRINTABLE else 0x0A for b in range(256))
_ENV_KEYS = ("expflow_pin ", "expflow_pin_hash ")  # how `_key_hits` names them, lower case


def _binary_families(data: bytes, folded: bytes) -> _Family:
    """The rule families that can fire on binary `data` (`folded`: it folded by `_FOLD`);
    NONE for nearly every file."""
    families = _Family.NONE
    if _FOLDED_HEX_RUN in folded:
        families |= _Family.HEX
    if _FORMAT_MARK in data or (
        _FORMAT_FALLBACK_RE is not None and _FORMAT_FALLBACK_RE.search(data)
    ):
        families |= _Family.FORMAT
    if _FOLDED_ENV_KEY in folded:
        families |= _Family.KEY
    if b"--pin" in data:
        families |= _Family.FLAG
    if b"-----BEGIN" in data and b"PRIVATE" in data:
        families |= _Family.PRIVATE
    return families


def _scan_binary(
    data: bytes,
    pragma: bool = True,
    families: _Family | None = None,
    *,
    marked: tuple[str, int] | None = None,
) -> list[Finding]:
    """`scan_content` of binary data: the ASCII-token rules on its printable runs, as bytes
    and as 16- and 32-bit characters, each finding at the file's own line (its `\\n`
    bytes) and column (in bytes). `marked`: the encoding a byte-order mark names and the
    offsets' remainder where its characters begin, whose runs are read decoded instead."""
    folded = data.translate(_FOLD)
    if families is None:
        families = _binary_families(data, folded)
    # (start, end, rule, message) in the data's bytes
    spans: list[tuple[int, int, Leak, str]] = []
    if families:
        view = data.translate(_STRINGS).decode("ascii")  # offsets are the bytes' offsets
        hits = _view_hits(view, families)
        if _Family.KEY in families:
            hits += _gap_hits(data, Overlaps(hits))
        spans += [(h.start, h.end, h.rule, h.message) for h in _kept(view, hits, pragma)]
    spans += _wide_spans(data, folded, pragma, marked)
    found: list[Finding] = []
    line, counted, line_start = 1, 0, 0
    for start, _, rule, message in sorted(spans, key=lambda s: (s[0], s[2].value)):
        line += data.count(b"\n", counted, start)
        last = data.rfind(b"\n", counted, start)
        line_start, counted = (last + 1 if last != -1 else line_start), start
        col = start - line_start + 1
        found.append(Finding("", rule.value, message, line=line, col=col))
    return found


def _view_hits(view: str, families: _Family) -> list[Hit]:
    """The ASCII-token rules' hits on a view of binary data's printable text."""
    content = _content_hits(view, families)
    hits = list(content)
    if _Family.KEY in families:
        hits += [
            hit
            for hit in _key_hits(True, view, Overlaps(content))
            if hit.rule is Leak.PIN_ASSIGNMENT
            and hit.message.lower().startswith(_ENV_KEYS)
            and _closed(view, hit)
        ]
    if _Family.FLAG in families:
        hits += flag_hits(view)
    if _Family.PRIVATE in families:
        hits += private_key_hits(view)
    return hits


# Printable ASCII written 16 or 32 bits a character, little or big endian, with no
# byte-order mark (`strings -e l`, `-e b`, `-e L`, `-e B`): UTF-16 or UTF-32 text saved
# without a mark, a NumPy string array, a Windows resource. A byte only read as binary,
# these were never seen (a hunter's find, issue 18 twenty-seventh pass). Each width is
# looked for only when its pre-filter (the ASCII one's marks, spread to the width) finds
# a mark: a regex over every byte is for the few files that may hold a token.
_WIDE_PRINTABLE = rb"[\x20-\x7e\t\r\n]"
_WIDE_RUNS = (
    (2, 0, "utf-16-le", lazy_compile(rb"(?:" + _WIDE_PRINTABLE + rb"\x00){4,}")),
    (2, 1, "utf-16-be", lazy_compile(rb"(?:\x00" + _WIDE_PRINTABLE + rb"){4,}")),
    (4, 0, "utf-32-le", lazy_compile(rb"(?:" + _WIDE_PRINTABLE + rb"\x00\x00\x00){4,}")),
    (4, 3, "utf-32-be", lazy_compile(rb"(?:\x00\x00\x00" + _WIDE_PRINTABLE + rb"){4,}")),
)


# Every hex digit as 0x01 and every other byte but NUL as 0x02: a wide hex run's mark (in
# the fold, a byte 0x01 is itself a hex digit, and arrays of small numbers are common).
_HEX_ONLY = bytes(1 if b in b"0123456789abcdefABCDEF" else 0 if b == 0 else 2 for b in range(256))


def _spread(mark: bytes, width: int) -> bytes:
    """`mark` as a little- or big-endian text of `width` bytes a character holds it (the
    NULs between its characters, none before the first or after the last)."""
    return (b"\0" * (width - 1)).join(mark[i : i + 1] for i in range(len(mark)))


# The fold with the byte 0x01 not taken for a hex digit (arrays of small numbers)
_WIDE_FOLD = _FOLD[:1] + b"\x02" + _FOLD[2:]
_FOLDED_MARKS = (
    _FOLDED_HEX_RUN,
    (b"$" if _FORMAT_FALLBACK_RE is not None else _FORMAT_MARK).translate(_FOLD),
    _FOLDED_ENV_KEY,
    b"--pin",
    b"-----BEGIN".translate(_FOLD),
)
# For each width: the hex run's mark (first sought in the fold), the format's, the keys'
# and the flag's (the keys' and the flag's in the fold), and a private key's two.
_WIDE_MARKS = {
    width: (
        _spread(_FOLDED_HEX_RUN, width),
        _spread(b"$" if _FORMAT_FALLBACK_RE is not None else _FORMAT_MARK, width),
        _spread(_FOLDED_ENV_KEY, width),
        _spread(b"--pin", width),
        _spread(b"PRIVATE", width),
        _spread(b"-----BEGIN", width),
    )
    for width in (2, 4)
}


def _wide_marks(data: bytes, folded: bytes, width: int) -> list[tuple[bytes, bytes]]:
    """What `_binary_families` looks for, spread to `width` bytes a character: (where to
    look, what) for each family that may fire; every token of a family holds its mark."""
    hex_run, form, key, flag, private, begin = _WIDE_MARKS[width]
    marks = [(data, form), (folded, key), (folded, flag)]
    if hex_run in folded:  # (rarely: the fold's 0x01 bytes too)
        marks.append((data.translate(_HEX_ONLY), hex_run))
    if private in data:
        marks.append((data, begin))
    return [(where, mark) for where, mark in marks if mark in where]


def _wide_windows(data: bytes, folded: bytes, width: int) -> list[tuple[int, int]]:
    """The stretches of `data` around the marks of `width`-byte text, OVERLAP_BYTES a
    character on either side, merged: only they are read for runs of wide text (a
    regex over every byte of a 35 MB library took seconds)."""
    reach = OVERLAP_BYTES * width
    windows: list[tuple[int, int]] = []
    for where, mark in _wide_marks(data, folded, width):
        at = where.find(mark)
        while at != -1:
            windows.append((max(0, at - reach), min(len(data), at + reach)))
            at = where.find(mark, at + reach)  # (the rest of this window is read anyway)
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _wide_spans(
    data: bytes, folded: bytes, pragma: bool, marked: tuple[str, int] | None = None
) -> list[tuple[int, int, Leak, str]]:
    """The ASCII-token rules' hits in the runs of wide characters of binary data, placed
    at the byte of their first character that is not NUL (whose column a finding
    gives). One text read both ways yields a token twice (little-endian text read as
    big-endian drops its first character): a hit that overlaps an earlier one under
    the same rule is the same token."""
    # Every width's marks, their NULs taken out, are the folded marks: a file that holds
    # none of these holds no wide token (most binaries; cheaper than each width's marks)
    stripped = data.translate(_WIDE_FOLD, b"\0")
    if not any(mark in stripped for mark in _FOLDED_MARKS):
        return []
    spans: list[tuple[int, int, Leak, str]] = []
    for width in (2, 4):
        windows = _wide_windows(data, folded, width)
        if not windows:
            continue
        found: list[tuple[int, int, Leak, str]] = []
        for size, lead, encoding, runs in _WIDE_RUNS:
            if size == width:
                found += _wide_run_spans(data, windows, width, lead, encoding, runs, pragma)
        for size, _, encoding, runs in _WIDE_RUNS:
            if marked is not None and marked[0] == encoding and size == width:
                found = _outside_marked(found, data, windows, width, runs, marked[1])
        spans += found
    kept: list[tuple[int, int, Leak, str]] = []
    reach: dict[Leak, int] = {}  # how far the spans kept under each rule reach
    for span in sorted(spans, key=lambda s: (s[0], s[1])):
        if span[0] < reach.get(span[2], -1):
            continue
        reach[span[2]] = span[1]
        kept.append(span)
    return kept


def _wide_run_spans(
    data: bytes,
    windows: list[tuple[int, int]],
    width: int,
    lead: int,
    encoding: str,
    runs: re.Pattern[bytes],
    pragma: bool,
) -> list[tuple[int, int, Leak, str]]:
    """The hits in the runs of one wide encoding within `windows`, at their bytes."""
    pieces: list[str] = []
    view_starts: list[int] = []
    byte_starts: list[int] = []
    size = 0
    for lo, hi in windows:
        for m in runs.finditer(data, lo, hi):
            view_starts.append(size)
            byte_starts.append(m.start() + lead)  # a character's own byte: its place
            piece = m.group().decode(encoding)
            pieces.append(piece)
            size += len(piece) + 1
    if not pieces:
        return []
    view = "\n".join(pieces)  # each run a line of its own
    families = _binary_families(view.encode("ascii"), view.encode("ascii").translate(_FOLD))
    spans: list[tuple[int, int, Leak, str]] = []
    for hit in _kept(view, _view_hits(view, families), pragma) if families else []:
        index = bisect.bisect_right(view_starts, hit.start) - 1
        start = byte_starts[index] + (hit.start - view_starts[index]) * width
        end = byte_starts[index] + (hit.end - view_starts[index]) * width
        spans.append((start, end, hit.rule, hit.message))
    return spans


def _outside_marked(
    spans: list[tuple[int, int, Leak, str]],
    data: bytes,
    windows: list[tuple[int, int]],
    width: int,
    runs: re.Pattern[bytes],
    residue: int,
) -> list[tuple[int, int, Leak, str]]:
    """`spans` but those in a run of the text a byte-order mark begins (`runs`, at offsets
    whose remainder by `width` is `residue`): the mark's text is read decoded, each of its
    tokens a finding there (read again here, also in the other byte order a byte on, it
    was one more finding at another column)."""
    marked = [
        m.span()
        for lo, hi in windows
        for m in runs.finditer(data, lo, hi)
        if m.start() % width == residue
    ]
    if not marked:
        return spans
    starts = [lo for lo, _ in marked]
    kept = []
    for span in spans:
        index = bisect.bisect_right(starts, span[1] - 1) - 1  # the last run starting inside
        if index >= 0 and marked[index][1] > span[0]:
            continue
        kept.append(span)
    return kept


# A key of binary data whose value is the next run of text, a few bytes that are not text
# between them: a serialisation's type, length and bookkeeping bytes. A pickle writes
# a dict of the PIN under its variable's name as the key's string, a memo opcode and the
# value's string with its length (a hunter's find: key and value were separate runs).
# A string after a pickle's key (protocols 1 to 5) is read by its length, any text; after
# up to eight other bytes (msgpack, BSON, ...), only a number that ends its run counts, as
# an unquoted value does in code.
_PICKLED_KEY_RE = lazy_compile(
    rb"(?<![\w-])(?P<key>(?i:expflow_pin(?:_hash)?))"
    rb"(?:\x94|q[\x00-\xff]|r[\x00-\xff]{4})?"  # MEMOIZE, BINPUT n, LONG_BINPUT n
    rb"(?:[\x8cUC](?P<short>[\x00-\xff])|[XTB](?P<long>[\x00-\xff]{4}))",
)
_GAP_KEY_RE = lazy_compile(
    rb"(?<![\w-])(?P<key>(?i:expflow_pin(?:_hash)?))[^\x20-\x7e\t\r\n]{1,8}"
    rb"(?P<value>[0-9]+)(?![\x20-\x7e])"
)
_TEXT_BYTES_RE = lazy_compile(rb"[\x20-\x7e\t\r\n]+")


def _gap_hits(data: bytes, overlaps: Overlaps) -> list[Hit]:
    """Pin-assignments whose value is the next run of text after a few other bytes
    (`_PICKLED_KEY_RE`, `_GAP_KEY_RE`); a value a content rule names is left to it."""
    hits: list[Hit] = []
    run_lo = run_hi = -1
    for m in _PICKLED_KEY_RE.finditer(data):
        length = m.group("short") or m.group("long")
        size = int.from_bytes(length, "little")
        start, end = m.end(), m.end() + size
        if not size or end > len(data):
            continue
        if not run_lo <= start < run_hi:  # (keys in one run of text share its end)
            text = _TEXT_BYTES_RE.match(data, start)
            run_lo, run_hi = start, start if text is None else text.end()
        if end <= run_hi and start >= run_lo and (run_hi > start):
            hits.append(_gap_hit(m, start, end))
    for m in _GAP_KEY_RE.finditer(data):
        hits.append(_gap_hit(m, m.start("value"), m.end("value")))
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: h.start):
        if overlaps.any(hit.start, hit.end) or (kept and kept[-1].start == hit.start):
            continue
        kept.append(hit)
    return kept


def _gap_hit(m: re.Match[bytes], start: int, end: int) -> Hit:
    key = m.group("key").decode("ascii")
    return Hit(Leak.PIN_ASSIGNMENT, start, end, f"{key} assigned a value (masked)")


def _closed(view: str, hit: Hit) -> bool:
    """A quoted value that is closed within its run of text (a compiled f-string's
    `EXPFLOW_PIN"] = "` is followed by the next constant's bytes, not a value)."""
    quote = view[hit.start - 1 : hit.start]
    return quote not in ("'", '"') or view[hit.end : hit.end + 1] == quote


def _scan_decoded(data: bytes, cls: FileClass, pragma: bool = True) -> list[Finding]:
    """`scan_content` past the UTF-16 and binary checks."""
    code = cls is not FileClass.TEXT
    families = _may_match(data)
    # (Most documents hold no backslash: one search, not three.)
    escaped = (b"\\" in data and any(e in data for e in _ESCAPE_STARTS)) or (
        b"%" in data and _PERCENT_BYTES_RE.search(data) is not None
    )
    if not families and not escaped and cls is not FileClass.NOTEBOOK:
        return []
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    raw = _scan_text(text, code, families, pragma=pragma) if families else []
    if cls is FileClass.NOTEBOOK:
        raw = _with_notebook(raw, text, pragma, bool(families))
    if escaped:  # (a notebook's too: its metadata and other strings are not its cells)
        return _with_unescaped(raw, text, code, pragma)
    return raw


# An escape naming a printable ASCII character other than `"` and `\` (which would change
# where a string ends): `\u00XX` (JSON, YAML, TOML), `\U000000XX` (YAML, TOML) and `\xXX`
# (YAML double-quoted, TOML 1.1) spell a PIN or a hash digit that way.
_ASCII_HEX = r"(?:2[013-9a-fA-F]|[3-4][0-9a-fA-F]|5[0-9abd-fABD-F]|6[0-9a-fA-F]|7[0-9a-eA-E])"
# A URL's percent-encoding too (`%XX`: `?digest=sha256%3A<digest>`, whose `3A` joined the
# digest to a 66-hex run; `--pin%20NNNN`; the stored hash with each `$` as `%24`: a
# hunter's find, issue 18 thirty-first pass).
_U_ESCAPE_RE = lazy_compile(rf"(?:\\(?:u00|U000000|x)|%)({_ASCII_HEX})")
_ESCAPE_STARTS = (b"\\u", b"\\U", b"\\x")
_ESCAPE_TEXT_STARTS = ("\\u", "\\U", "\\x", "%")
_PERCENT_BYTES_RE = lazy_compile(rf"%{_ASCII_HEX}".encode("ascii"))


def _unescaped_hits(text: str, code: bool, pragma: bool = True) -> list[Hit]:
    """The hits in `text` with its escapes of ASCII decoded, each placed at its start in
    `text`. A decoded escape is one character where the text has four to ten, on the same
    line (no line break is decoded), so a hit's place in the text is its place in the
    decoded text plus what the escapes before it took away."""
    decoded_at: list[int] = []  # where each decoded escape stands in the decoded text
    removed = [0]  # removed[k]: the characters the first k escapes took away

    def decode(m: re.Match[str]) -> str:
        decoded_at.append(m.start() - removed[-1])
        removed.append(removed[-1] + len(m.group()) - 1)
        return chr(int(m.group(1), 16))

    decoded = _U_ESCAPE_RE.sub(decode, text)
    if not decoded_at:
        return []
    families = _may_match(decoded.encode("utf-8", "surrogatepass"))
    hits = _text_hits(decoded, code, families, pragma) if families else []
    return [
        replace(
            hit,
            start=hit.start + removed[bisect.bisect_left(decoded_at, hit.start)],
            end=hit.end + removed[bisect.bisect_left(decoded_at, hit.end)],
        )
        for hit in hits
    ]


def _with_unescaped(
    raw: list[Finding], text: str, code: bool, pragma: bool = True
) -> list[Finding]:
    """The raw findings and those in the text with its escapes of ASCII decoded
    (`_unescaped_hits`), each once."""
    hits = _unescaped_hits(text, code, pragma)
    if not hits:
        return raw
    newlines = _Newlines(text)
    found = {(f.line, f.col, f.rule): f for f in raw}
    for hit in hits:
        start = hit.start
        line, line_start = newlines.line_of(start)
        col = start - line_start + 1
        found.setdefault(
            (line, col, hit.rule.value),
            Finding("", hit.rule.value, hit.message, line=line, col=col),
        )
    return [found[k] for k in sorted(found, key=lambda k: (k[0] or 0, k[1] or 0, k[2]))]


def _with_notebook(
    raw: list[Finding], text: str, pragma: bool = True, flagged: bool = True
) -> list[Finding]:
    """The raw scan's findings and those in the notebook's decoded cells, each once; and,
    where the pre-filter `flagged` the text, those of its text outside the cells read as
    a JSON file's is (`Locator.outside`: blanking a string finds nothing more)."""
    cells = notebook.pieces(text)
    if cells is None:
        return raw
    locator = notebook.Locator(text)
    found = {(f.line, f.col, f.rule): f for f in raw}
    if flagged:
        outside = locator.outside(cells)  # its metadata, other outputs: as a .json's text
        families = _may_match(outside.encode("utf-8", "surrogatepass"))
        for finding in _scan_text(outside, False, families, pragma=pragma) if families else ():
            found.setdefault((finding.line, finding.col, finding.rule), finding)
    for piece in cells:
        if piece.code:
            python, shell = piece.split_shell()
            views = [(python, True), (shell, False)]
        else:
            views = [(piece.text, False)]
        starts = list(itertools.accumulate(len(e) for e in piece.elements))
        strings: dict[int, int] = {}  # element index -> where its JSON string opens
        for view, code in views:
            families = _may_match(view.encode("utf-8", "surrogatepass"))
            hits = _text_hits(view, code, families, pragma) if families else []
            # A cell's own escapes, as the same code or text in a file of its own is read
            # (`"\\u0034…"` in a cell's Python passed, a `.py` file holding it did not:
            # a hunt, issue 18 thirty-ninth pass); in the file they are `\\u…`, which the
            # raw text's decoding reads as a backslash and `\u…`.
            if any(mark in view for mark in _ESCAPE_TEXT_STARTS):
                seen = {(h.start, h.rule) for h in hits}
                hits += [
                    h for h in _unescaped_hits(view, code, pragma) if (h.start, h.rule) not in seen
                ]
            for hit in sorted(hits, key=lambda h: h.start):
                index = bisect.bisect_right(starts, hit.start)
                offset = hit.start - (starts[index - 1] if index else 0)
                if index not in strings:
                    strings[index] = locator.string_of(piece.elements[index])
                line, col = locator.position(strings[index], offset)
                found.setdefault(
                    (line, col, hit.rule.value),
                    Finding("", hit.rule.value, hit.message, line=line, col=col),
                )
    return [found[k] for k in sorted(found, key=lambda k: (k[0] or 0, k[1] or 0, k[2]))]


def _scan_text(
    text: str, code: bool, families: _Family = _Family.ALL, *, pragma: bool = True
) -> list[Finding]:
    """Content findings for decoded text (every rule except pin-hash-file)."""
    hits = _text_hits(text, code, families, pragma)
    if not hits:
        return []
    newlines = _Newlines(text)
    return [
        Finding("", hit.rule.value, hit.message, line=line, col=hit.start - start + 1)
        for hit in hits
        for line, start in [newlines.line_of(hit.start)]
    ]


class _Newlines:
    """Line numbers of offsets (built only for a text with a hit)."""

    def __init__(self, text: str) -> None:
        self.offsets = [m.start() for m in re.finditer("\n", text)]
        self._length = len(text)

    def line_of(self, pos: int) -> tuple[int, int]:
        """(1-based line, offset of its first character)."""
        index = bisect.bisect_left(self.offsets, pos)
        return index + 1, (self.offsets[index - 1] + 1 if index else 0)

    def end_of(self, line: int) -> int:
        """The offset of the "\\n" ending a 1-based line (the text's length for the last)."""
        return self.offsets[line - 1] if line <= len(self.offsets) else self._length


def flagged(text: str) -> set[str]:
    """Every span the scan flags in `text`, read as text and as code, a pragma or not,
    as written and with its escapes of ASCII decoded (as the scan reads a JSON file: a
    PIN's first digit may be written `\u0031`; a review)."""
    views = {text, _U_ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text)}
    return {
        view[h.start : h.end]
        for view in views
        for code in (False, True)
        for h in _every_hit(view, code, _Family.ALL)
    }


def masked(text: str) -> str:
    """`text` with every span the scan flags in it, read as text and as code, replaced by
    `****`, a pragma or not: what the tool writes from a message it did not choose (a
    failed run's reason) never carries what the scan refuses."""
    for code in (False, True):
        pieces, kept = [], 0  # built in one pass: linear in the text and its hits
        for start, end in sorted((h.start, h.end) for h in _every_hit(text, code, _Family.ALL)):
            if start >= kept:
                pieces += [text[kept:start], "****"]
            kept = max(kept, end)
        text = "".join([*pieces, text[kept:]])
    return text


# A string escape ending in a letter (`\\n`, `\\t`, `\\r`, ...: JSON, YAML, Python) glues that
# letter to the token after it, and so does an ANSI colour code (`ESC[1m`, written raw or
# as `\\u001b[1m`, `\\x1b[1m`, `\\033[1m`, `\\e[1m`): every word-bounded rule missed
# `"stored hash:\\n<digest>"`, `"retry\\n--pin NNNN"` (a hunter's find, issue 18 thirty-first
# pass). The rules are also run on a view of the same length with each such escape (its
# backslash not itself escaped: pairs are read from the left) and each colour code
# replaced by blanks, so a hit's place in the view is its place in the text.
_ESCAPE_VIEW_RE = lazy_compile(
    r"(?:\x1b|\\(?:u001[bB]|x1[bB]|033|[eE]))\[[0-?]*[ -/]*[@-~]|\\[nrtfvbae]|\\[^\n]"
)
_VIEW_MARKS = ("\\", "\x1b")
# What ends a string or a value right after a `\\t` escape (a quote, another escape, the
# line's or the text's end): the tab is then read as a line break, as the other escapes are.
_TAB_ENDS = frozenset(("", '"', "'", "\\", "\n", "\r", "`"))


def _escape_view(text: str) -> str | None:
    """`text` with its letter escapes and colour codes blanked (`_ESCAPE_VIEW_RE`), or None
    when it holds none."""
    if not any(mark in text for mark in _VIEW_MARKS):
        return None
    changed = False

    def blank(m: re.Match[str]) -> str:
        nonlocal changed
        token = m.group()
        if token[0] == "\\" and len(token) == 2 and token[1] not in "nrtfvbae":
            return token  # another escape (`\\\\`, `\\"`): read as it is, its pair consumed
        changed = True
        if token[0] == "\\" and len(token) == 2:
            # A tab is a blank: `--pin\\tNNNN`, `pin:\\tNNNN`, `EXPFLOW_PIN:\\tNNNN` in a
            # string hold the PIN as a raw tab does, and a shell splits words at it (read as
            # a line break, they were missed: a hunt, issue 18 thirty-ninth pass); only
            # where the string goes on after it with what is no quote nor other escape.
            if token[1] == "t" and m.string[m.end() : m.end() + 1] not in _TAB_ENDS:
                return "  "
            # A line break, not two blanks: a value ends at the escape, as at the end of
            # the string it is in, so the string's closing quote is no value's opening
            # one (`write_text("EXPFLOW_PIN_HASH=\\n")` was flagged: a review).
            return " \n"
        return " " * len(token)

    view = _ESCAPE_VIEW_RE.sub(blank, text)
    return view if changed else None


def _every_hit(text: str, code: bool, families: _Family) -> list[Hit]:
    """Every rule's hits on decoded text, pragma lines too, in no order: on the text as
    written and on its escape view (`_escape_view`), each hit once."""
    hits = _view_rule_hits(text, code, families)
    view = _escape_view(text)
    if view is None:
        return hits
    seen = {(h.start, h.rule) for h in hits}
    return hits + [
        h for h in _view_rule_hits(view, code, families) if (h.start, h.rule) not in seen
    ]


def _view_rule_hits(text: str, code: bool, families: _Family) -> list[Hit]:
    """Every rule's hits on one view of decoded text, pragma lines too, in no order."""
    content = _content_hits(text, families)
    hits = list(content)
    if _Family.KEY in families:
        overlaps = Overlaps(content)
        tags = tag_hits(code, text)
        # `pin=NNNN` outside code is a tag and a key's value: reported once, as the tag
        tagged = {h.start for h in tags}
        hits += [
            h
            for h in _key_hits(code, text, overlaps)
            if h.rule is not Leak.PIN_VALUE or h.start not in tagged
        ]
        hits += nested_hits(code, text, overlaps)
        hits += _pickle_text_hits(text, overlaps)
        if not code:
            hits += _define_hits(text, overlaps)
        hits += tags
    if _Family.ENV in families:
        hits += env_pair_hits(code, text, Overlaps(content))
    if _Family.FLAG in families:
        # (`--pin=${PIN:=NNNN}` is also `PIN:=NNNN`, a key's: reported once)
        seen = {(h.start, h.rule) for h in hits}
        hits += [
            h
            for h in flag_hits(text) + argument_list_hits(code, text)
            if (h.start, h.rule) not in seen
        ]
    if _Family.PRIVATE in families:
        hits += private_key_hits(text)
    return hits


def _text_hits(
    text: str, code: bool, families: _Family = _Family.ALL, pragma: bool = True
) -> list[Hit]:
    """Every rule's hits on decoded text, by position, without those on a pragma line
    (with them, `pragma=False`)."""
    return _kept(text, _every_hit(text, code, families), pragma)


def _kept(text: str, hits: list[Hit], pragma: bool = True) -> list[Hit]:
    """`hits` by position, without those on a pragma line (with them, `pragma=False`)."""
    if not hits:
        return []
    if not pragma:
        return sorted(hits, key=lambda h: (h.start, h.rule.value))
    newlines = _Newlines(text)
    kept: list[Hit] = []
    pragma_lines: dict[int, bool] = {}  # by line number: each line is searched once
    for hit in sorted(hits, key=lambda h: (h.start, h.rule.value)):
        line, line_start = newlines.line_of(hit.start)
        exempt = pragma_lines.get(line)
        if exempt is None:
            exempt = PRAGMA in text[line_start : newlines.end_of(line)]
            pragma_lines[line] = exempt
        if not exempt:
            kept.append(hit)
    return kept


def _content_hits(text: str, families: _Family) -> list[Hit]:
    hits: list[Hit] = []
    if _Family.HEX in families:
        for m in _HEX_RUN_RE.finditer(text):
            start, end = m.span()
            if (
                end - start == 64
                and _bounded(text, start, end)
                and m.group().lower() in pin_sha256_set()
            ):
                hits.append(Hit(Leak.PIN_SHA256, start, end, _SHA_MESSAGE))
        hits += _split_hex_hits(text)
    if _Family.FORMAT not in families:
        return hits
    for m in itertools.chain(PIN_HASH_RE.finditer(text), _ESCAPED_FORMAT_RE.finditer(text)):
        hits.append(_format_hit(m.start(), m.end(), len(m.group())))
    hits += _split_format_hits(text)
    return hits


def _format_hit(start: int, end: int, length: int) -> Hit:
    return Hit(
        Leak.PIN_HASH_FORMAT,
        start,
        end,
        f"string in expflow's PIN-hash format ({length} chars, masked: ****)",
    )


def _split_format_hits(text: str) -> list[Hit]:
    """The tool's hash cut by escaped line breaks (`\\` at the end of a line, which a YAML
    double-quoted string, a TOML multi-line one or a shell removes with the next line's
    indent; a hunter's find, issue 18 twenty-sixth pass): the format is looked for in the
    text with every such break removed, and a match that holds one is placed back in the
    text. One pass over the text and one over the joined view: linear."""
    breaks: list[int] = []  # where each removed break stood in the joined view
    removed = [0]  # removed[k]: the characters the first k breaks took away
    pieces: list[str] = []
    kept = 0
    for m in _CONTINUATION_RE.finditer(text):
        pieces.append(text[kept : m.start()])
        breaks.append(m.start() - removed[-1])
        removed.append(removed[-1] + m.end() - m.start())
        kept = m.end()
    if not breaks:
        return []
    pieces.append(text[kept:])
    joined = "".join(pieces)
    hits: list[Hit] = []
    for m in itertools.chain(PIN_HASH_RE.finditer(joined), _ESCAPED_FORMAT_RE.finditer(joined)):
        start, last = m.start(), m.end() - 1
        first_k, last_k = bisect.bisect_right(breaks, start), bisect.bisect_right(breaks, last)
        if first_k == last_k:
            continue  # no break inside: found in the text as it is
        hits.append(
            _format_hit(start + removed[first_k], last + removed[last_k] + 1, m.end() - start)
        )
    return hits


_SHA_MESSAGE = "leaked SHA-256 of a 4-digit PIN (64 hex chars, masked: ****)"
# TOML trims every blank after a line-ending `\` up to the next character that is not
# one, blank lines too; YAML the next line's indent.
_CONTINUATION_RE = lazy_compile(r"\\[ \t]*\r?\n[ \t\r\n]*")
_CONTINUATION_BYTES_RE = lazy_compile(_CONTINUATION_RE.pattern.encode("ascii"))
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_HEX_HEAD_RE = lazy_compile(r"[0-9A-Fa-f]{1,64}")


def _split_hex_hits(text: str) -> list[Hit]:
    """A PIN's SHA-256 cut in two by an escaped line break (`\\` at the end of a line, which a
    YAML double-quoted or TOML multi-line string removes with the next line's indent). Each
    break is looked at once, and at most 64 characters on either side of it: linear."""
    hits: list[Hit] = []
    for m in _CONTINUATION_RE.finditer(text):
        start = m.start()
        floor = max(0, start - 64)
        while start > floor and text[start - 1] in _HEX_DIGITS:
            start -= 1
        tail = _HEX_HEAD_RE.match(text, m.end())
        if start == m.start() or tail is None:
            continue
        end = tail.end()
        token = text[start : m.start()] + tail.group()
        if len(token) == 64 and _bounded(text, start, end) and token.lower() in pin_sha256_set():
            hits.append(Hit(Leak.PIN_SHA256, start, end, _SHA_MESSAGE))
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


# What may follow a bare value after `pin =` (TOML, INI, env): the line's end, a blank, a
# comment, the next key of an inline table or the table's end; not a YAML flow's `]`
# (`pin=NNNN]hash` is a name, which the ids of imported runs keep as they were).
_INI_VALUE_ENDS = frozenset(" \t\r\n,;#}")


def _ends_ini(text: str, end: int) -> bool:
    return end == len(text) or text[end] in _INI_VALUE_ENDS


def _begins_statement(m: re.Match[str], line: Line) -> bool:
    """Whether the key of `m` begins its line's statement, as a make assignment's name does."""
    return line.at(m.start()).make_head() == m.start()


def _key_hits(code: bool, text: str, overlaps: Overlaps) -> list[Hit]:
    """pin-assignment and pin-value hits; an assignment overlapping a content hit is dropped."""
    hits: list[Hit] = []
    line = Line(text)
    consumed = 0  # a key inside an earlier key's value is part of that value, not a new key
    for m in _KEY_RE.finditer(text):
        if m.start() < consumed:
            continue
        quote = m.group("q")
        if quote and text[m.start() - 1 : m.start()] != quote:
            continue  # `pin": x`: a closing quote without its opening one
        sep = m.group("sep")
        after_sep = text[m.end("sep") : m.end("sep") + 1]
        if sep == ":" and not quote and after_sep not in ("", " ", "\t", "\r", "\n"):
            continue  # an unquoted YAML key needs `: `; this is `${X:-}`, a URL, a time, ...
        key = m.group("key")
        if len(sep) > 1 and (
            (code and sep != ":=") or (sep == "!=" and not _begins_statement(m, line))
        ):
            # In code only `:=` assigns (Go, Python's walrus); `!=` is make's assignment
            # only where a statement begins, elsewhere a test
            continue
        is_pin = key.lower() == "pin"
        if is_pin and sep != ":" and code:
            continue  # `f(pin=NNNN)`, `pin = NNNN` in code: an expression (TOML's, INI's are not)
        spaced = m.group().endswith((" ", "\t"))
        if sep == "!=":  # the output of a command: a secret-shaped word in it
            value = command_value(text, m.end(), line.at(m.end()))
        else:
            value = value_at(text, m.end(), line.at(m.end()), spaced=spaced)
        below = False
        if value is not None and is_pin:
            value = past_properties(text, value, line)
        key_start = m.start() - len(quote)
        # YAML's value on a line below (`EXPFLOW_PIN:` then `  'NNNN'`), under a key that
        # begins its line (an attacker's hunt, issue 18 twenty-second pass); asked first,
        # so the rest of a line is read for one key at most (`&pin: &pin: …`: linear)
        if (
            value is None
            and sep == ":"
            and line.head() == key_start
            and ends_line(text, m.end(), line, spaced=spaced)
        ):
            value = value_below(text, line, key_start - line.start)
            below = True
        if value is None:
            continue
        if not below and sep == ":" and not code and not is_pin:
            # `EXPFLOW_PIN: the PIN for guarded commands`: prose, not a value (a `pin`
            # key's value is a PIN only when its first word is four digits)
            value = phrase_value(text, value, line)
            if value is None:
                continue
        if not below:  # (the lines between, comments, are read on as ever)
            consumed = value.end
        token = text[value.start : value.end]
        if is_pin:
            if (
                value.kind is not Kind.REFERENCE
                and pin_digits(token, value.kind is Kind.BARE)
                and (sep == ":" or value.kind is not Kind.BARE or _ends_ini(text, value.end))
            ):
                hits.append(
                    Hit(
                        Leak.PIN_VALUE,
                        value.start,
                        value.end,
                        "4-digit PIN under key 'pin' (masked: ****)",
                    )
                )
            continue
        if value.kind is Kind.REFERENCE:
            continue
        if code and value.kind is Kind.BARE and not NUMBER_RE.fullmatch(token):
            continue  # in source code an unquoted right-hand side is an expression
        if overlaps.any(value.start, value.end):
            continue  # the content rule already names this token, more specifically
        hits.append(
            Hit(Leak.PIN_ASSIGNMENT, value.start, value.end, f"{key} assigned a value (masked)")
        )
    return hits
