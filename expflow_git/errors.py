"""The user-facing error (exit 2) and the Finding value (exit 1)."""

from __future__ import annotations

import enum
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from expflow_git.escape import github_data, terminal, terminal_path


def clean(text: str) -> str:
    """Strings must be valid Unicode for canonical JSON: escape lone surrogates (a file
    name that is not UTF-8 reaches us with surrogate escapes)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def path_text(path: str) -> str:
    """A file name as a report spells it, one name to one spelling: a backslash doubled,
    then `clean` (an undecodable byte as the text `\\udcff`). Without the first, a file
    named with the six characters `\\udcff` and one whose name holds the byte 0xff
    were one path in a report, which then failed its own verification."""
    if path.isascii() and "\\" not in path:  # nearly every path: two C-level scans
        return path
    return clean(path.replace("\\", "\\\\"))


# (Compiled on first use, by `re`'s own cache, as _FOUR_DIGITS below.)
_SPELLED = r"\\(\\|udc[89a-f][0-9a-f])"


def path_from_text(text: str) -> str:
    """A path as `path_text` spelled it, back: a report's paths, shown from its file as the
    audit shows them (`escape.terminal_path`: a backslash doubled, a byte that is not
    UTF-8 as `\\xff`). What is not such a spelling is left as it is."""
    if "\\" not in text:
        return text
    return re.sub(_SPELLED, lambda m: "\\" if m[1] == "\\" else chr(int(m[1][1:], 16)), text)


def printable(text: str) -> str:
    """Control, format and separator characters escaped (`\\x0a`, `\\x1b`, `\\u2028`;
    an undecodable byte of a file name as `\\xff`), so a hostile file name or value can
    never split a one-line message or forge another line of output (expflow_git.escape)."""
    return terminal(text)


def utf8_argument(text: str, what: str) -> None:
    """Refuse (ExpflowError, exit 2) `text` given as `what` if it is not UTF-8: Python
    reads such an argument with a lone surrogate per byte (`\\udcff`), which canonical
    JSON and git's stdin cannot take (a traceback, exit 1: `new $'e\\xff'`, `rank --rev
    $'\\xff'`; a user's hunt, issue 18 twenty-third pass). The one line names `what`."""
    if not is_utf8(text):
        # (quoted as a PIN would be masked where none is taken: a reason may hold one)
        # (masked before it is escaped: a key's line breaks as `\x0a` are no block the
        # scan reads; a review)
        shown = printable(masked_argument(text))
        raise ExpflowError(f"{what} '{shown}' is not UTF-8 text")


def is_utf8(text: str) -> bool:
    """Whether `text` is Unicode text UTF-8 can hold: no lone surrogate (`\udcff`, as
    Python reads a byte that is not UTF-8 in an argument, a file name, or a `"\ud800"`
    escape)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # the checked data fails the policy
    USAGE = 2  # usage or configuration error


class ExpflowError(Exception):
    """A condition the run cannot go on from; rendered as one line on stderr.

    `code` is the exit code: 2 (usage/config) unless the caller says otherwise
    (a wrong PIN, for example, is 1).
    """

    def __init__(self, message: str, *, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class Finding:
    """Something wrong with the checked data: one line, naming where."""

    path: str
    rule: str
    message: str
    pointer: str = ""
    line: int | None = None
    col: int | None = None

    def __post_init__(self) -> None:
        # A message or pointer quoting a document (a metric named by a PIN's digest; an
        # attacker's hunt) never carries what the scan flags to an output.
        object.__setattr__(self, "message", _masked_under(self.pointer, self.message))
        object.__setattr__(self, "pointer", _masked_pointer(self.pointer))

    @classmethod
    def kept(
        cls,
        path: str,
        rule: str,
        message: str,
        pointer: str = "",
        line: int | None = None,
        col: int | None = None,
    ) -> Finding:
        """A finding made (and masked) before, as a cache kept it: not masked again. Masking
        twice was not masking once (a mask across a key's closing quote kept the quote,
        which the next mask escaped: `/params/"\\"key…`), so a finding the folder cache made
        again from its masked copy differed from the one `--no-cache` reported; masking is
        idempotent now (`_masked_pointer`), and a finding restored is still the one made."""
        finding = object.__new__(cls)
        for name, value in zip(
            ("path", "rule", "message", "pointer", "line", "col"),
            (path, rule, message, pointer, line, col),
            strict=True,
        ):
            object.__setattr__(finding, name, value)
        return finding

    def location(self) -> str:
        loc = terminal_path(masked_path(self.path))  # a backslash doubled: one spelling
        if self.line is not None:
            loc += f":{self.line}"
            if self.col is not None:
                loc += f":{self.col}"
        if self.pointer:
            loc += f"#{printable(self.pointer)}"
        return loc

    def __str__(self) -> str:
        return f"{self.location()}: {self.rule}: {printable(self.message)}"


def mask_flagged(text: str) -> str:
    """`text`, which quotes a document, with what the PIN scan flags in it masked
    (`pinscan.scanner.masked`): what reaches an output never carries a PIN, a PIN's hash
    or a private key that the same output's scan finding masks (an attacker's hunt,
    issue 18 twenty-second pass). Every such span holds a run of four digits or hex
    digits, or names a private key or the tool's hash format (`$scrypt`); other text is
    returned without a scan."""
    if re.search(_SUSPECT, text) is None:
        return text
    from expflow_git.pinscan.scanner import masked

    return masked(text)


_SUSPECT = r"[0-9A-Fa-f]{4}|PRIVATE|scrypt"


def mask_secrets(text: str) -> str:
    """`text`, a status line that may quote the command line (`… written to PATH`,
    `created PATH`, a `demo` step), with a PIN hash, a PIN's SHA-256 or a private key the
    scan flags masked (`mask_flagged`): an error or a warning masked them, a status line
    only a PIN's four digits (`masked_typed`), so `audit --out` printed a path typed with
    the hash whole (a hunter's find). Looked for only where a line names the hash format
    or a private key, or holds 64 hex digits: nearly every line is returned unscanned."""
    if re.search(_SECRET, text) is None:
        return text
    return mask_flagged(text)


_SECRET = r"scrypt|PRIVATE|[0-9A-Fa-f]{64}"
# 64 hex digits no other hex digit touches (`TypedPins.digests`), and any 64 in a row.
_HEX_64 = "[0-9A-Fa-f]{64}"
_HEX_WORD_64 = r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])"


def mask_as_held(text: str) -> str:
    """`text`, a name from outside (a tracker's run or study), with what the scan flags
    masked both as the text reads and as a document holds it, a JSON string: `pin= NNNN`
    is flagged only quoted, and an import printed it, in the id derived from it too (a
    review, issue 18 twenty-fourth pass)."""
    held = json.dumps(text, ensure_ascii=False)
    masked = mask_flagged(held)
    if masked != held:
        try:
            unquoted = json.loads(masked)
        except ValueError:  # (a mask across the closing quote or an escape)
            unquoted = _unquoted(masked)
        text = unquoted if isinstance(unquoted, str) else masked
    # And quoted as written: `pin: NNNN"` held is `"pin: NNNN\""`, which the scan does not
    # flag, but a pointer quoting the key masked it before (a review: more is masked, never
    # less).
    framed = mask_flagged(f'"{text}"')
    if len(framed) > 1 and framed[0] == framed[-1] == '"':
        text = framed[1:-1]
    return mask_flagged(text)


def _unquoted(masked: str) -> str:
    """A JSON string a mask cut into, read back as far as it can be: its quotes dropped,
    its escapes undone when they are whole. Kept quoted, it was masked again as a new
    text, its quote and escapes escaped once more each time (`"\\"key…`), so a finding
    made again from its masked copy differed (a hunter's find, thirty-seventh pass)."""
    body = masked.removeprefix('"').removesuffix('"')
    try:
        unquoted = json.loads(f'"{body}"')
    except ValueError:  # (a mask across an escape: the text, escapes as they are)
        return body
    return unquoted if isinstance(unquoted, str) else body


def flagged_as_held(text: str) -> bool:
    """Whether the scan flags `text` as a document holds it (a JSON string)."""
    held = json.dumps(text, ensure_ascii=False)
    return mask_flagged(held) != held


def _masked_pointer(pointer: str) -> str:
    """A JSON pointer with what the scan flags masked, each key also read as the scan
    reads it in its document, a quoted string: `/params/pin:NNNN` showed the PIN (the tag
    rule wants a blank, `[`, `(` or `,` before `pin`, never a `/`), in a write's refusal
    and in any finding of a committed file holding that key (a review, issue 18
    twenty-fourth pass). The key `a/b` is the segment `a~1b`, read unescaped.

    Masked until masking changes nothing (at most a few passes): the mask of the whole
    pointer may span two keys and make other keys of it, which a finding made again from
    its masked copy masked once more (a review, thirty-seventh pass)."""
    for _ in range(4):
        masked = _masked_pointer_once(pointer)
        if masked == pointer:
            break
        pointer = masked
    return pointer


def _masked_pointer_once(pointer: str) -> str:
    if re.search(_SUSPECT, pointer) is None:
        return pointer
    if "pin" not in pointer.casefold():  # only a `pin` word is read otherwise quoted
        return mask_flagged(pointer)  # (a scan a key: 100k findings took twice the time)
    from expflow_git.jsonstrict import pointer_token

    keys = (segment.replace("~1", "/").replace("~0", "~") for segment in pointer.split("/"))
    masked = (pointer_token(mask_as_held(key)) for key in keys)
    return mask_flagged("/".join(masked))


def masked_path(path: str) -> str:
    """A file's path as a finding shows it, masked name by name as `_masked_pointer` masks
    a pointer key by key: `experiments/s/pin=NNNN.json` showed the PIN (the tag rule
    wants a blank, `[`, `(` or `,` before `pin`, never a `/`), in `new`'s refusal of that
    id and in any finding of a file so named (a review, issue 18 twenty-fifth pass). Only
    a path holding a `pin` word is read name by name (the scan flags four digits nowhere
    else); a long one, or one naming the hash format, is read whole (a PIN's digest is
    masked in a scan finding's own path already: `pinscan.scanner.shown_path`)."""
    if re.search(_SUSPECT, path) is None:
        return path
    folded = path.casefold()
    if "pin" not in folded:
        return path if len(path) < 64 and "scrypt" not in folded else mask_flagged(path)
    return mask_flagged("/".join(mask_as_held(name) for name in path.split("/")))


def _masked_under(pointer: str, message: str) -> str:
    """A finding's message masked as the scan reads it, and also as it reads it under the
    pointer's keys when they name a PIN: `"NNNN" is not of type "number"` at `/metrics/pin`
    (or `/splits/pin/value`) quoted the PIN, which is a PIN only beside its key (a
    review). Only a message that begins with the value it quotes (a schema message) is
    read under its keys: framed, another message's first word read as the value."""
    keys = pointer.split("/")[-2:]
    if "pin" not in pointer.lower() or not message or message[0] not in _VALUE_FIRST:
        return mask_flagged(message)
    from expflow_git.pinscan.scanner import masked

    last = keys[-1]
    if "pin" in last.lower():
        head = f"{last}: "
    elif len(keys) == 2 and "pin" in keys[0].lower():
        head = f"{keys[0]}:\n  {last}: "
    else:
        return mask_flagged(message)
    framed = masked(head + message)
    return mask_flagged(framed[len(head) :] if framed.startswith(head) else message)


_VALUE_FIRST = frozenset("\"'{[-+0123456789")


# (Compiled on first use, by `re`'s own cache: not in every command's start-up.)
_FOUR_DIGITS = (
    r"(?<![\w./:-])[0-9]{4}(?![\w./:-])"
    # after `--pin` however spelled (`--PIN`, `--pin:`), or as an option: `--NNNN`
    r"|(?:(?<=--[pP][iI][nN])|(?<=--[pP][iI][nN][:=+])|(?<=--))[0-9]{4}(?![0-9])"
)


def masked_argument(text: str) -> str:
    """An argument a user gave, quoted by an error: what the scan flags masked, and four
    digits where a PIN may stand (`without_pins`), as `new` and `check_id` show an id."""
    return without_pins(mask_flagged(text))


def without_pins(text: str) -> str:
    """`text` quoting an argument a user gave where none is taken, with four digits that
    stand alone (`pin check 4821`), or follow `--pin` (`--pin4821`), masked: a PIN given
    in the wrong place reaches a terminal or a CI log otherwise, or as an option
    (`--4821`: "No such option"; a review, issue 18 twenty-third pass). Four digits of a
    word, a path or a date (`done2024`, `/srv/2024`, `2024-01-01`) are left as they are."""
    return re.sub(_FOUR_DIGITS, "****", text)


# Four digits standing alone in a word's place, where a line quotes an argument's PIN:
# not inside a hex id or a name (`4f77db8182f0`, `run1000`), which they only happen to
# share digits with (a review: a commit id was garbled).
_DIGIT_RUN = r"(?<![0-9A-Za-z])[0-9]{4}(?![0-9A-Za-z])"
# A word that ends in the `--pin` option, its value the next word (TypedPins._after_pin);
# a pattern, compiled at its first use as _DIGIT_RUN is (not on every command's start-up).
_PIN_OPTION = r"(?i)--pin[=:]?$"


def masked_output(text: str, arguments: Sequence[str] | TypedPins) -> str:
    """An error or warning line the CLI prints, with what the scan flags masked
    (`mask_flagged`), and every run of four digits that would be masked as a PIN in one of
    `arguments` (the command line typed) masked wherever the line quotes it: a refused
    argument is quoted in pieces, inside paths and revisions, where the masking of the
    argument itself does not fire (`--metric 'x=--pin NNNN'` quoted as `'--pin NNNN'`,
    `new pin=NNNN` in the path `experiments/s/pin=NNNN.json`, `--since pin=NNNN:`; a
    review, issue 18 twenty-fifth pass). An argument is read as the scan reads it (and as
    `masked_argument` reads one that names a pin), and so is each of its `/` or `,` pieces
    (`_typed_as_pin`); four digits inside a word or a hex id are never masked so. A line
    that quotes no such argument is returned as `mask_flagged` returns it."""
    return masked_typed(mask_flagged(text), arguments)


def masked_typed(text: str, arguments: Sequence[str] | TypedPins) -> str:
    """`text`, a line the CLI composes (`wrote PATH`, `imported: csv 'NAME' …`), with every
    run of four digits `arguments` (the command line typed) give as a PIN masked wherever
    it stands as a word: `masked_output` without the scan of the text (a status line
    quotes the user's arguments, not a document)."""
    typed = arguments if isinstance(arguments, TypedPins) else TypedPins(arguments)
    for run in typed.runs(text):
        text = re.sub(rf"(?<![0-9A-Za-z]){run}(?![0-9A-Za-z])", "****", text)
    # (only a line holding 64 hex digits can show one: a hook's thousands of paths are
    # not searched for them for its every line)
    if re.search(_HEX_64, text) is not None:
        for digest in typed.digests:
            text = re.sub(digest, "****", text, flags=re.IGNORECASE)
    return text


def masked_status(text: str, arguments: Sequence[str] | TypedPins) -> str:
    """`text`, a status line the CLI composes: `masked_typed` after `mask_secrets`, as
    `masked_output` is `masked_typed` after the scan (an error or a warning line)."""
    return masked_typed(mask_secrets(text), arguments)


def masked_quoting(text: str, arguments: Sequence[str] | TypedPins) -> str:
    """`text`, a report or table as a terminal shows it (several lines: the audit's text,
    a leaderboard), with a run of four digits `arguments` give as a PIN masked only in a
    line that quotes the argument holding it: the argument, an option's value, or the `/`
    or `,` piece of either in which the digits stand (`policy pin=NNNN/expflow.yaml` of
    `--policy /repo/pin=NNNN/expflow.yaml`). A value of the repository's that only shares
    the digits, in another line, is the product and is left as it is. A PIN hash, a PIN's
    SHA-256 or a private key an argument holds is masked in every line (`mask_secrets`)."""
    typed = arguments if isinstance(arguments, TypedPins) else TypedPins(arguments)
    if typed.holds_secret:
        text = "\n".join(mask_secrets(line) for line in text.split("\n"))
    if not typed.any_digits:
        return text
    escaped = typed.escaped_pieces()
    lines = text.split("\n")
    for i, line in enumerate(lines):
        for run in typed.runs(line):
            if any(piece in line for piece in typed.pieces(run)):
                lines[i] = re.sub(rf"(?<![0-9A-Za-z]){run}(?![0-9A-Za-z])", "****", lines[i])
        for shown, masked in escaped:
            if shown in lines[i]:
                lines[i] = lines[i].replace(shown, masked)
    return "\n".join(lines)


class TypedPins:
    """A command line, read once for the runs of four digits it gives as a PIN
    (`_typed_as_pin`): every line a command prints is masked against it, and a hook's
    command line names thousands of paths, many with four digits (`run-1000.json`)."""

    def __init__(self, arguments: Sequence[str]) -> None:
        self.arguments = tuple(arguments)
        self._joined: str | None = None  # made at the first line masked
        self._digits: bool | None = None
        self._secret: bool | None = None
        self._pins: dict[str, bool] = {}
        self._escaped: list[tuple[str, str]] | None = None
        self._pin_values: tuple[str, ...] | None = None
        self._digests: tuple[str, ...] | None = None
        self._holding: dict[str, list[str]] | None = None
        self._pieces: dict[str, frozenset[str]] = {}

    @property
    def _all(self) -> str:
        """The arguments in one string, to find a line's runs of digits in at once (a
        hook's 2,000 paths, each read for its runs, cost ~5 ms before any line was
        printed); no run of digits spans two arguments."""
        if self._joined is None:
            self._joined = "\0".join(self.arguments)
        return self._joined

    @property
    def any_digits(self) -> bool:
        if self._digits is None:
            self._digits = re.search("[0-9]{4}", self._all) is not None
        return self._digits

    @property
    def holds_secret(self) -> bool:
        """Whether an argument holds a PIN hash, a PIN's SHA-256 or a private key
        (`mask_secrets`): a terminal's table then masks them in every line (`diff
        b-DIGEST HEAD` printed the digest; issue 18, thirty-seventh pass)."""
        if self._secret is None:
            self._secret = mask_secrets(self._all) != self._all
        return self._secret

    @property
    def digests(self) -> tuple[str, ...]:
        """Each PIN's SHA-256 an argument holds as 64 hex digits inside a word (`x<digest>`,
        `run_<digest>`), which `mask_secrets` (a 64-hex word) leaves, and which the scan
        flags in a path: `diff x<digest> HEAD` and `audit --since x<digest>` quoted it
        whole in their error line, where the import's lines mask it (`masked_line`; a
        review, issue 18 forty-second pass). Made once, empty without 64 hex digits."""
        if self._digests is None:
            found: set[str] = set()
            if re.search(_HEX_64, self._all) is not None:
                from expflow_git.pinscan.scanner import pin_sha256_set

                pins = pin_sha256_set()
                for m in re.finditer(_HEX_WORD_64, self._all):
                    if m.group().lower() in pins:
                        found.add(m.group().lower())
            self._digests = tuple(sorted(found))
        return self._digests

    def _arguments_holding(self, run: str) -> list[str]:
        """The arguments holding the four digits `run`, each once, in order: read from an
        index of every argument's four-digit windows, made once. Each run a line showed
        was looked for in every argument (and every option's next word), and a hook given
        10,000 names by `--files-from` (one command line, where xargs cut it at ~128 KiB)
        took 66 s to print 10,000 findings against 1.2 s for 1,000 (issue 18, forty-second
        pass review)."""
        if run not in self._all:  # (most lines' runs: the index is not made for them)
            return []
        if self._holding is None:
            holding: dict[str, list[str]] = {}
            for argument in dict.fromkeys(self.arguments):
                for window in dict.fromkeys(re.findall(r"(?=([0-9]{4}))", argument)):
                    holding.setdefault(window, []).append(argument)
            self._holding = holding
        return self._holding.get(run, [])

    def runs(self, text: str) -> list[str]:
        """The runs of four digits standing as a word in `text` that an argument gives as
        a PIN."""
        if not self.any_digits:
            return []
        runs = {run for run in re.findall(_DIGIT_RUN, text) if self._arguments_holding(run)}
        return sorted(run for run in runs if self._is_pin(run))

    def _is_pin(self, run: str) -> bool:
        if run not in self._pins:
            self._pins[run] = any(
                _typed_as_pin(a, run) for a in self._arguments_holding(run)
            ) or any(self._after_pin(run))
        return self._pins[run]

    def _after_pin(self, run: str) -> Iterator[str]:
        """Each word typed after `--pin` that gives `run` as a PIN read with it (`--pin
        NNNN`): the option's value is its own word of the command line, four digits and no
        PIN alone, so a PIN that another option's value or an argument took (`rm --reason
        --pin NNNN` named the ID `NNNN`, `import csv --correct --pin NNNN …` the FILE) was
        printed as typed (a hunter's find, issue 18 thirty-sixth pass)."""
        if self._pin_values is None:
            # Found once: each run's look read every pair of words, and `escaped_pieces`
            # looks for every run, so 1,000 escaped arguments took 5 s, 3,000 26 s (a
            # review, issue 18 forty-second pass).
            # (`--reason=--pin` and `--pin=` too, as typed: the next word is the value)
            self._pin_values = tuple(
                value
                for option, value in itertools.pairwise(self.arguments)
                if re.search(_PIN_OPTION, option)
            )
        for value in self._pin_values:
            if run in value and _typed_as_pin(f"--pin {value}", run):
                yield value

    def escaped_pieces(self) -> list[tuple[str, str]]:
        """(as a line shows it, the same masked) for each piece (`pieces`) of an argument
        giving a PIN that a line shows escaped (`escape.terminal`, `terminal_path`,
        `github_data`): `pin=NNNN\\u200b/expflow.yaml` quoted the argument, but not as
        typed, so `masked_quoting` left its PIN in the audit's text, where the error line
        quoting the same argument masked it (an attacker's hunt, issue 18 forty-second
        pass). Longest first; made once, empty for a command line of plain text."""
        if self._escaped is None:
            found: dict[str, str] = {}
            runs = set(re.findall(r"(?<![0-9])[0-9]{4}(?![0-9])", self._all))
            for run in sorted(r for r in runs if self._is_pin(r)):
                for piece in self.pieces(run):
                    masked = re.sub(rf"(?<![0-9]){run}(?![0-9])", "****", piece)
                    for spell in (terminal, terminal_path, github_data):
                        if (shown := spell(piece)) != piece:
                            found[shown] = spell(masked)
            self._escaped = sorted(found.items(), key=lambda item: -len(item[0]))
        return self._escaped

    def pieces(self, run: str) -> frozenset[str]:
        """What of an argument giving `run` as a PIN a line quotes when it quotes that
        argument: the argument, an option's value after `=`, and each of their `/` or `,`
        pieces holding `run` and more than it; a word typed after `--pin`, whole. Made once
        a run: `masked_quoting` asks for them in every line showing the run, and each ask
        read every argument holding it (a 10,000-line audit table showing the digits of
        `--policy /r/pin=NNNN/expflow.yaml` took 5 s, 500 such arguments and lines 78 s:
        a third review, issue 18 forty-second pass)."""
        if run not in self._pieces:
            self._pieces[run] = frozenset(self._pieces_of(run))
        return self._pieces[run]

    def _pieces_of(self, run: str) -> set[str]:
        pieces: set[str] = set(self._after_pin(run))
        for argument in self._arguments_holding(run):
            if not _typed_as_pin(argument, run):
                continue
            whole = {argument}
            if argument.startswith("--") and "=" in argument:
                whole.add(argument.partition("=")[2])
            pieces |= whole
            for text in whole:
                pieces |= {p for p in re.split(r"[/,]", text) if run in p and len(p) > len(run)}
        return pieces


def _typed_as_pin(argument: str, run: str) -> bool:
    """Whether the masking of `argument` masks the four digits `run` somewhere in it: the
    argument (and an option's value after `=`) as the scan reads it, as `masked_argument`
    reads the digits beside the word `pin` in it, and as the scan reads each of its `/`
    and `,` pieces (`pin:NNNN/seg_total`, a column list; four digits standing alone in a
    path, `/srv/2024`, are not a PIN there)."""
    whole = {argument}
    if argument.startswith("--") and "=" in argument:
        whole.add(argument.partition("=")[2])
    alone = rf"(?<![0-9]){run}(?![0-9])"

    def hides(text: str, shown: str) -> bool:
        return len(re.findall(alone, shown)) < len(re.findall(alone, text))

    # The word `pin` (the scan's tag rule's boundary: no letter either side, so never
    # `spin`, `spinup` or `pinball`), then the digits after at most a few separators.
    beside = rf"(?i:(?<![a-z])pin(?![a-z]))[^0-9A-Za-z]{{0,3}}{run}(?![0-9])"
    for text in whole:
        # As the scan reads it, or four digits beside the word `pin` (`'pin NNNN'`): a
        # count, a seed or a metric of four digits (`--top 8182`, `epochs=1000`) is no
        # PIN, and masking it wherever a line holds it garbled ids (a review); nor are
        # digits elsewhere in an argument that holds a word with `pin` inside it
        # (`spin_steps=1500` made `--seed -1500` print `-****`: a review).
        if hides(text, mask_as_held(text)):
            return True
        if re.search(beside, text) and hides(text, masked_argument(text)):
            return True
        for piece in re.split(r"[/,]", text):
            if run in piece and hides(piece, mask_as_held(piece)):
                return True
    return False
