"""OpenSSH's allowed_signers file (ssh-keygen(1), ALLOWED SIGNERS) as trusted keys.

One key per line: `principals [options] keytype base64-key [comment]`; options are
`namespaces="…"`, `valid-after="…"`, `valid-before="…"` and `cert-authority`, parsed as
OpenSSH's sshsig.c does (names case-insensitive, values quoted). A line is used for a
report only if its namespaces allow NAMESPACE; its validity window is checked against
the commit time by `verify`. Only ssh-ed25519 keys can verify a report: a line with
another key type, or a cert-authority line, is refused with a warning and never used
(it can only lower trust). Anything malformed stops the run (exit 2), naming FILE:LINE.
"""

from __future__ import annotations

import calendar
import fnmatch
import re
import time
from dataclasses import dataclass

from expflow_git.errors import ExpflowError, printable
from expflow_git.report.signing import keyid, load_public_key_bytes
from expflow_git.report.trust import SSH_KEY_TYPES, TrustedKey, other_key_type

# The signature namespace of expflow-git reports, as git uses "git" and ssh-keygen
# -Y sign takes -n: a key limited to namespaces="git" does not sign reports.
NAMESPACE = "expflow-git"

_MAX_FILE = 1024 * 1024
# The principals field ends at one of these or at a quote, as OpenSSH's strdelimw reads it.
# Later fields are split on spaces and tabs only, as OpenSSH splits them: a vertical tab,
# a form feed or a no-break space between them made a line ssh-keygen refuses trusted (a
# review, issue 18 twenty-eighth pass); such a character stays in its field, where the
# principals' or the key's own check refuses it.
_PRINCIPALS_END = re.compile(r'[ \t\r\n"]')
# ASCII digits, as ssh; `Z` or `UTC` (any case) for UTC, as OpenSSH 9's
# parse_absolute_time takes either.
_TIME = re.compile(r"([0-9]{8})([0-9]{4}([0-9]{2})?)?(Z|UTC)?", re.IGNORECASE)


@dataclass(frozen=True)
class Loaded:
    """The usable keys of a file (possibly none), and one warning per line refused."""

    keys: list[TrustedKey]
    warnings: list[str]


def load_allowed_signers(path: str, *, namespace: str = NAMESPACE) -> Loaded:
    """Read an allowed_signers file; raise ExpflowError (exit 2) for a malformed line."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_FILE + 1)
    except OSError as exc:
        raise ExpflowError(f"{path}: cannot read allowed signers: {exc.strerror}") from None
    if len(data) > _MAX_FILE:
        raise ExpflowError(f"{path}: too large to be an allowed signers file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ExpflowError(f"{path}: not UTF-8 text") from None
    keys: list[TrustedKey] = []
    warnings: list[str] = []
    # Lines end at "\n" only, as OpenSSH reads them (str.splitlines would also split at
    # form feeds and other separators inside a line).
    for number, line in enumerate(text.removesuffix("\n").split("\n"), 1):
        line = line.removesuffix("\r")
        # OpenSSH's C strings end at a NUL: `namespaces="git\0,expflow-git"` is an
        # unclosed quote to ssh-keygen, where the whole value was read here (a review,
        # issue 18 thirty-first pass).
        line = line.partition("\0")[0]
        where = f"{path}:{number}"
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        parsed = _parse_line(stripped, where)
        if isinstance(parsed, str):
            warnings.append(f"{where}: {parsed}; line ignored")
        elif parsed is not None and _namespace_allowed(parsed.namespaces, namespace):
            keys.append(parsed.key)
    return Loaded(keys, warnings)


@dataclass(frozen=True)
class _Line:
    key: TrustedKey
    namespaces: str | None


def _parse_line(line: str, where: str) -> _Line | str | None:
    """A line's key, or why it is refused (a warning); malformed lines raise. The fields
    are cut as OpenSSH's sshsig.c parse_principals_key_and_options cuts them: the
    principals by strdelimw (a quoted part may hold blanks and may start mid-token:
    `al"ice"` is `alice`), the options by sshkey_advance_past_options (up to a blank
    outside quotes; `\\"` is an escape), the key type and the key by sshkey_read (up to
    a space or a tab). A regex tokenizer read `namespaces="expflow-git,x\\""` as
    unbalanced quotes, and refused `al"ice"` and `"al ice"`: lines ssh-keygen uses (a
    review, issue 18 thirty-first pass)."""
    principals, rest = _principals(line, where)
    if not principals or not principals.isprintable():
        raise ExpflowError(f"{where}: principals must be non-empty printable text")
    if all(p.startswith("!") for p in principals.split(",")):
        # No `ssh-keygen -Y verify -I NAME` matches such a list (a negation never
        # matches): the key signed for no one, where it was trusted here (a review).
        return "its principals are all negated, so they match no one"
    if not rest:
        raise ExpflowError(f"{where}: expected 'principals [options] keytype key'")
    first = rest[: _field_end(rest)]
    options: dict[str, str | None] = {}
    if first not in SSH_KEY_TYPES and not first.endswith("-cert-v01@openssh.com"):
        # (OpenSSH reads options where a key does not parse; such a type with a key that
        # does not parse is refused either way.)
        end = _options_end(rest, where)
        if end == len(rest):
            raise ExpflowError(f"{where}: missing key")
        options = _parse_options(rest[:end], where)
        rest = rest[end + 1 :].lstrip(" \t")
    key_type = rest[: _field_end(rest)]
    blob = rest[len(key_type) :].lstrip(" \t")
    blob = blob[: _field_end(blob)]
    if (key_type + blob).count('"') % 2:
        # (`KEY"`, `KEY"x`, `" KEY`: no key to ssh-keygen)
        raise ExpflowError(f"{where}: unbalanced quotes")
    if not key_type or not blob:
        raise ExpflowError(f"{where}: missing key")
    after, before = _window(options, where)  # (as OpenSSH: whatever the line's key)
    if "cert-authority" in options:
        return (
            "cert-authority is refused (expflow-git checks plain ssh-ed25519 keys, "
            "not certificates)"
        )
    if key_type != "ssh-ed25519":
        if other_key_type(key_type):
            return f"{printable(key_type)} keys are not supported (only ssh-ed25519)"
        raise ExpflowError(f"{where}: unknown key type '{printable(key_type[:40])}'")
    key = load_public_key_bytes(f"ssh-ed25519 {blob}".encode(), source=where)
    trusted = TrustedKey(key, keyid(key), where, principals, after, before)
    return _Line(trusted, options.get("namespaces"))


def _principals(line: str, where: str) -> tuple[str, str]:
    """OpenSSH's strdelimw: the first field and the rest of the line. The field ends at a
    blank, or is the text before a quote and the text between it and the next quote
    (which need not be followed by a blank); blanks after it are skipped."""
    found = _PRINCIPALS_END.search(line)
    if found is None:
        raise ExpflowError(f"{where}: expected 'principals [options] keytype key'")
    if found.group() != '"':
        principals, rest = line[: found.start()], line[found.end() :]
    else:
        close = line.find('"', found.end())
        if close < 0:
            raise ExpflowError(f"{where}: unbalanced quotes")
        principals = line[: found.start()] + line[found.end() : close]
        rest = line[close + 1 :]
    return principals, rest.lstrip(" \t\r\n")


def _options_end(text: str, where: str) -> int:
    """OpenSSH's sshkey_advance_past_options: the options end at a space or a tab outside
    quotes; `\\"` (inside quotes or not) toggles nothing."""
    quoted = False
    i = 0
    while i < len(text) and (quoted or text[i] not in " \t"):
        if text.startswith('\\"', i):
            i += 1
        elif text[i] == '"':
            quoted = not quoted
        i += 1
    if quoted:
        raise ExpflowError(f"{where}: unbalanced quotes")
    return i


def _field_end(text: str) -> int:
    """Where a field ends: at its first space or tab, as OpenSSH's strcspn(" \\t")."""
    ends = [i for i in (text.find(" "), text.find("\t")) if i >= 0]
    return min(ends, default=len(text))


_VALUED = ("namespaces", "valid-after", "valid-before")


def _parse_options(text: str, where: str) -> dict[str, str | None]:
    """OpenSSH's sshsigopt_parse: names case-insensitive, a value quoted with `\\"` as
    an escaped quote (opt_dequote); an empty option before another (a leading or doubled
    comma) is skipped, a comma that ends the options is refused."""
    options: dict[str, str | None] = {}
    i = 0
    while i < len(text):
        word = text[i:].lower()
        name = next((n for n in _VALUED if word.startswith(n + "=")), None)
        if name is not None:
            value, i = _dequote(text, i + len(name) + 1, where, name)
        elif word.startswith("cert-authority") and word[14:15] in ("", ","):
            name, value, i = "cert-authority", None, i + 14
        elif not word.startswith(","):
            unknown = re.match(r"[^,=]*", word)
            assert unknown is not None  # (it matches the empty string)
            raise ExpflowError(
                f"{where}: bad options: unknown key option '{printable(unknown.group()[:40])}'"
            )
        if name is not None:
            if name in options:  # OpenSSH refuses it too: no "last one wins" to argue over
                raise ExpflowError(f"{where}: bad options: {name} given twice")
            options[name] = value
        if i == len(text):
            break
        if text[i] != ",":
            raise ExpflowError(f"{where}: bad options: unknown key option after {name}'s value")
        i += 1
        if i == len(text):
            # OpenSSH: "unexpected end-of-options"; the line was trusted here (an
            # attacker's hunt, issue 18 twenty-eighth pass).
            raise ExpflowError(
                f"{where}: bad options: unexpected end-of-options (a trailing comma)"
            )
    return options


def _dequote(text: str, i: int, where: str, what: str) -> tuple[str, int]:
    """OpenSSH's opt_dequote: the quoted value at text[i], `\\"` in it a quote (any other
    backslash is itself), and where it ends."""
    if not text.startswith('"', i):
        raise ExpflowError(f"{where}: bad options: {what} is missing its start quote")
    value: list[str] = []
    i += 1
    while i < len(text) and text[i] != '"':
        if text.startswith('\\"', i):
            i += 1
        value.append(text[i])
        i += 1
    if i == len(text):
        raise ExpflowError(f"{where}: {what}: unbalanced quotes")
    return "".join(value), i + 1


def _window(options: dict[str, str | None], where: str) -> tuple[int | None, int | None]:
    """valid-after and valid-before; OpenSSH refuses a line whose valid-before is not
    after its valid-after (it was trusted here, for one second when they were equal: an
    attacker's hunt, issue 18 twenty-eighth pass). Compared as written, then capped: 9999
    west of UTC lies past the years a time is shown in (a traceback)."""
    after = _time(options.get("valid-after"), where, "valid-after")
    before = _time(options.get("valid-before"), where, "valid-before")
    if after is not None and before is not None and before <= after:
        raise ExpflowError(f"{where}: bad options: valid-before is not after valid-after")
    return (
        None if after is None else min(_LAST, after),
        None if before is None else min(_LAST, before),
    )


def _time(value: str | None, where: str, what: str) -> int | None:
    """OpenSSH's YYYYMMDD[HHMM[SS]][Z|UTC]: UTC with Z or UTC, the local time zone
    without (as ssh-keygen reads it), after 1970-01-01T00:00:00Z (OpenSSH refuses the
    line else). `UTC` was refused here, a line ssh-keygen uses (issue 18 thirty-first
    pass)."""
    if value is None:
        return None
    match = _TIME.fullmatch(value)
    if match is None:
        raise ExpflowError(f"{where}: {what}: expected YYYYMMDD[HHMM[SS]][Z] (or UTC for Z)")
    digits = value[: match.end(2) if match.group(2) else match.end(1)]
    fields = [int(digits[i : i + 2]) for i in range(4, len(digits), 2)]
    year, (month, day, hour, minute, second) = int(digits[:4]), (fields + [0, 0, 0])[:5]
    # strptime's ranges as glibc's, which ssh-keygen's parse_absolute_time uses, and then
    # timegm or mktime, which carry a day or a second past the month's or the minute's
    # end over: `20270229` is 2027-03-01 to ssh-keygen, as `…235960` is the next minute.
    # Python's strptime refused both, so a file git and ssh-keygen use stopped every
    # `verify` (exit 2; an attacker's hunt, issue 18 thirty-eighth pass).
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 61):
        raise ExpflowError(f"{where}: {what}: not a date")
    if year < 1969:
        seconds = 0  # (long before the epoch in any time zone: refused below)
    elif match.group(4):
        seconds = calendar.timegm((year, month, day, hour, minute, second))
    else:
        try:
            # tm_isdst 0, as OpenSSH's zeroed struct tm has it (-1 let mktime apply
            # summer time: a window an hour wider than ssh-keygen's).
            seconds = int(time.mktime((year, month, day, hour, minute, second, 0, 1, 0)))
        except (OverflowError, ValueError):
            raise ExpflowError(f"{where}: {what}: not a date this system can place") from None
    if seconds <= 0:
        # OpenSSH's parse_absolute_time refuses a time before the epoch and sshsig.c a
        # time of 0 ("bad options"): a line ssh-keygen never uses must not be used here
        # (an attacker's hunt, issue 18 twenty-second pass: `valid-after="19700101000000Z"`
        # was a window open since the epoch).
        raise ExpflowError(f"{where}: bad options: {what} is not after 1970-01-01T00:00:00Z")
    return seconds


_LAST = calendar.timegm((9999, 12, 31, 23, 59, 59))


def _namespace_allowed(patterns: str | None, namespace: str) -> bool:
    return patterns is None or match_pattern_list(namespace, patterns)


_MOST_PATTERN = 1023  # characters of one pattern (after its `!`) OpenSSH reads


def match_pattern_list(name: str, patterns: str) -> bool:
    """OpenSSH's match_pattern_list: comma-separated `*`/`?` patterns, `!` negates and
    wins over any positive match."""
    matched = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        if len(body) >= _MOST_PATTERN:  # OpenSSH's sub[1024]: the list matches nothing
            return False
        # fnmatch also knows [...]; OpenSSH does not, so brackets match themselves.
        regex = fnmatch.translate(body.replace("[", "[[]"))
        if re.match(regex, name):
            if negated:
                return False
            matched = True
    return matched
