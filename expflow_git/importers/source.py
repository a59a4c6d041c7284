"""What every importer hands to the plan (`common.py`): a tracker's runs, already mapped to
expflow's terms (record id, status, params, metrics, splits), and the helpers the three
importers share: stable ids, URIs without passwords, UTC times, strict numbers, the extra.

Nothing here reads a tracker; optuna.py, mlflow.py and csv.py do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
import os
import re
import sqlite3
import stat
import threading
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from expflow_git.atomicfile import mode_kind
from expflow_git.documents import ID_RE, Scalar, Status
from expflow_git.errors import ExpflowError, flagged_as_held, mask_as_held, printable
from expflow_git.policy.model import Policy, did_you_mean
from expflow_git.run import plain_text


@dataclass(frozen=True)
class SourceRun:
    """One run of a tracker, mapped: the record and result the plan builds from it.

    `metrics` may still hold what the registry refuses (NaN, out of range): the plan
    checks every value with the same checks as `validate` and refuses the run.
    `problems` are what the importer itself refused (a non-number in a CSV cell)."""

    run: str  # the tracker's own identity: trial number, run id, the id column's value
    exp_id: str  # the record id derived from it (stable, sanitized to the id pattern)
    status: Status
    params: Mapping[str, Scalar]
    metrics: Mapping[str, float] = field(default_factory=dict)
    splits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # `--series`: step-wise values of registry metrics, steps increasing (spec §2.2).
    series: Mapping[str, Sequence[tuple[int, float]]] = field(default_factory=dict)
    title: str = ""
    name: str = ""  # the tracker's run name, kept in provenance
    tags: tuple[str, ...] = ()
    reason: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    problems: tuple[str, ...] = ()
    where: str = ""  # a CSV row's `row N`: two rows of one id are named by their rows
    # A CSV's metric columns as params would hold them: a committed run whose record has
    # them as params (the column was no registry metric then) keeps them there (common.py).
    metric_params: Mapping[str, Scalar] = field(default_factory=dict)
    # A CSV row with a cell too long for any document, not read (csv.py): what the plan
    # names as its record's refusal, without building the record.
    oversized: str = ""

    def label(self, tracker: str) -> str:
        """How messages name the run in its tracker: `trial 3`, `run 9f2c…`, `row a-1`."""
        noun = {"optuna": "trial", "mlflow": "run", "csv": "id"}.get(tracker, "run")
        return f"{noun} {mask_as_held(self.run)}"  # (`id pin= NNNN` was printed whole)


@dataclass(frozen=True)
class Source:
    """The runs of one study of one tracker, and notes worth one line each (metrics
    that are not in the registry, tags that could not be kept)."""

    tracker: str  # optuna | mlflow | csv (provenance.source.tracker)
    uri: str  # where it was read, any password removed
    study: str  # the tracker's study / experiment / file name
    expflow_study: str  # the study the records get
    runs: Sequence[SourceRun]
    notes: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- ids
_NOT_ID = re.compile(r"[^A-Za-z0-9._-]+")
_ID_MAX = 128


def sanitize_id(text: str) -> str:
    """`text` if it is a valid id; else its invalid characters as `-`, trimmed, with the
    first 8 hex digits of its SHA-256 appended, so that two names that sanitize alike
    (`a b`, `a/b`) still get two ids, the same ones on every import.

    A text the PIN scan flags as a record holds it (a JSON string: the run is refused,
    and its id printed) is read with that masked (`errors.mask_as_held`), the digest
    too: `b --pin NNNN` was the id `b---pin-NNNN-…`, and eight hex digits of the raw
    text's SHA-256 would tell the PIN to 10,000 guesses (a review, issue 18 twenty-fourth
    pass). Every other text is read as it is, so its id is the one every earlier import
    gave it (masking `pin=NNNN"x`, which its record does not show flagged, renamed a
    committed run: the second review)."""
    if ID_RE.match(text):
        return text
    if flagged_as_held(text):
        text = mask_as_held(text)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    body = _NOT_ID.sub("-", text).lstrip("._-")[: _ID_MAX - len(digest) - 1].rstrip("._-")
    return f"{body}-{digest}" if body else f"x{digest}"


def join_id(*parts: str) -> str:
    """Parts joined by `-`, each already an id; a result too long is shortened the same
    way `sanitize_id` does (a hash of the whole keeps it unique)."""
    whole = "-".join(parts)
    if len(whole) <= _ID_MAX:
        return whole
    digest = hashlib.sha256(whole.encode()).hexdigest()[:8]
    return f"{whole[: _ID_MAX - 9].rstrip('._-')}-{digest}"


def study_id(name: str, study_as: str | None, *, option: str = "--study-as") -> str:
    """The expflow study: `--study-as` (which must be an id; `option` names it in the
    error) or the tracker's name, sanitized."""
    if study_as is None:  # (a `str` Enum's member as its text: a review, fortieth pass)
        return sanitize_id(plain_text(name) if isinstance(name, str) else name)
    if not ID_RE.match(study_as):
        raise ExpflowError(
            f"{option} {study_as!r}: use letters, digits, '.', '_' and '-' "
            "(at most 128, starting with a letter or digit)"
        )
    return plain_text(study_as)  # (a `str` Enum's member as its text, not `Study.TASK`)


# A result's split name, as the schema takes it (Optuna's --split-attr, a CSV's columns).
SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+-]{0,63}\Z")


def is_tag(text: str) -> bool:
    """Whether `text` fits the record schema's tag pattern."""
    return bool(_TAG.match(text))


# ----------------------------------------------------------------------------- URIs
# (`pwd`: PyMySQL's and ODBC's password; `odbc_connect`: a whole ODBC connection string,
# `PWD=` within it, encoded or not: its value is redacted whole.)
_SECRET_QUERY = re.compile(r"pass|secret|token|key|auth|credential|pwd|odbc_connect", re.IGNORECASE)
# A `;name=value` parameter of a path segment (`http://h/p;token=…`): urlsplit leaves it
# in the path.
_PATH_PARAM = re.compile(r"(;([^=;/?#]*)=)([^;/?#]*)")
# A `name=value` in a library's message (its own spelling of a URL it was given): the
# value runs to `&`, `#`, a blank or a quote.
_MESSAGE_PARAM = re.compile(r"([^\s=&?;#/'\"]+)=([^\s&#'\"]*)")


def redact_uri(uri: str) -> str:
    """The URI as provenance keeps it: no password in the user info (as any reader of
    it finds one: `_userinfo`), an `http(s)` user info without a password (a token as
    the user name) as `***`, no query value or `;` path parameter whose name says it is
    a secret (`?password=`, `?token=`). Nothing else of the string is changed: the URI
    still names the same store. Last, what the URI's own readers would send as a
    secret (`_parsed_secrets`) is masked as `***` wherever it is still shown: the rules
    above are a model of those readers, and a model can be wrong (a review)."""
    original = uri
    found = _userinfo(uri)
    host = found.host
    if found.drop is not None:
        colon, end = found.drop
        if colon == found.start:  # no user: its `@` goes too (`postgresql://h/db`)
            end += 1
        uri = uri[:colon] + uri[end:]
        host -= end - colon
    elif found.mask is not None:
        start, end = found.mask
        uri = uri[:start] + "***" + uri[end:]
        host += 3 - (end - start)
    # (Where the path starts is found in the URI as given: the string without its
    # password may read otherwise, `pg://u@h:5432/d?x=a@b` having a `:` before an `@`.)
    rest = _rest_start(uri, host) if found.start != -1 else 0
    shown = uri[:rest] + _redacted_rest(uri[rest:], sqlalchemy=found.sqlalchemy)
    return _masked_leftovers(shown, original)


def same_storage(stored: object, uri: str) -> bool:
    """Whether a record's `provenance.source.uri` (`stored`) names the storage `uri` (as
    `redact_uri` rendered it) names: the two compared as the current rules render them,
    so a record written by older rules (which took `http://h:5000/x?m=a@b` for
    `http://h@b`, and two databases for one) is compared with what it renders as now.
    A stored URI older rules rendered otherwise than these may differ from the storage's
    own: its study is then said to be another storage's, as before."""
    if not isinstance(stored, str):
        return False
    return stored == uri or redact_uri(stored) == redact_uri(uri)


@dataclass(frozen=True)
class _UserInfo:
    """Where a URI's user info is, as its readers read it (indices into the URI)."""

    start: int = -1  # where the authority starts (after `//`); -1: the URI has none
    # The authority as urlsplit (RFC 3986) reads it: to the first `/`, `?` or `#`.
    authority_end: int = -1
    # Each password a reader takes, as (start, end): after its `:`, before its `@`.
    passwords: tuple[tuple[int, int], ...] = ()
    # What `redact_uri` drops: from the `:` of the user to the end of the longest password.
    drop: tuple[int, int] | None = None
    # An http(s) user info with no password (a token as the user name): shown as `***`.
    mask: tuple[int, int] | None = None
    host: int = -1  # where the host starts (after the user info's `@`, if any)
    # Read by SQLAlchemy (a scheme other than http, https and file): its query runs from
    # the first `?` after the host to the end, a `#` in it or before it included.
    sqlalchemy: bool = False


# Where the analysis of a URI starts: after what urlsplit strips (controls, blanks) and
# what a pasted URL may start with (a no-break space).
_LEAD = re.compile(r"[\x00-\x20\s]*")
# A scheme: everything up to the first `://` (a tab or a newline within `://` is dropped
# by urlsplit); `_` and other characters urlsplit refuses in a scheme included
# (`oracle+cx_oracle://`, `ibm_db_sa://`: SQLAlchemy's names take them).
_SCHEME = re.compile(r"([^/?#]*?):[\t\r\n]*/[\t\r\n]*/")
_SLASHES = re.compile(r"[\t\r\n]*/[\t\r\n]*/")  # a URI with no scheme (`//host/path`)
# SQLAlchemy's reading after `://`: a user of `[^:/]*`, a password up to the FIRST `@`.
_SQLALCHEMY_USERINFO = re.compile(r"[^:/]*:([^@]*)@")
_HTTP = ("http", "https", "file")  # read by urllib3 / urllib, never by SQLAlchemy's regex
_PORT = re.compile(r"[0-9]*\Z")


def _userinfo(uri: str) -> _UserInfo:
    """A URI's user info as the two readers of an import's URL read it, and what
    `redact_uri` takes out of it (a review, issue 18 thirtieth pass):

    (a) urlsplit / urllib3 (RFC 3986): the authority runs to the first `/`, `?` or `#`,
        its user info to its LAST `@`, the password after the user info's first `:`;
    (b) SQLAlchemy (every scheme but http, https and file: its URL regex): after `://`, a
        user of `[^:/]*`, then `:` and a password up to the FIRST `@` (a password holding
        an unencoded `/`, `?`, `#` or `[`: `u:Hunter2/secret@db`);
    (c) http(s) whose authority holds no `@` and reads as `host:port` with a port that is
        no number (`http://u:Hunter2#x@h/`): no server is at such a place, so the one
        reading that names one is the user's password up to the first `@`.

    The scheme is everything up to the first `://`, after the blanks and controls the URI
    starts with (a no-break space too). (c) holds for an authority with an `@` too:
    `http://u@x:pw/x@h/` drops `:pw/x`.

    The fullwidth `＠ ： ／ ？ ＃` are delimiters to urlsplit's NFKC check only: (a) is
    read on the URI as given and again with them as the ASCII ones, (b) and (c) on the
    URI as given (SQLAlchemy and urllib3 read them as any other character: translated,
    `an／n:pw@h` hid SQLAlchemy's password, and `u:pw?y＠x@h` cut it at the `＠`), and
    what is dropped is the union of these readings (a review, issue 18 thirtieth pass)."""
    raw = _userinfo_ascii(uri)
    wide = _userinfo_ascii(uri.translate(_FULLWIDTH), wide=True)
    passwords = tuple(dict.fromkeys(raw.passwords + wide.passwords))
    if passwords:
        drops = [found.drop for found in (raw, wide) if found.drop is not None]
        drop = (min(c for c, _ in drops), max(e for _, e in drops))
        return _UserInfo(
            raw.start, raw.authority_end, passwords, drop, None, drop[1] + 1, raw.sqlalchemy
        )
    if raw.mask is None and wide.mask is not None:
        return _UserInfo(
            raw.start, raw.authority_end, (), None, wide.mask, wide.host, raw.sqlalchemy
        )
    return raw


_FULLWIDTH = str.maketrans("\uff20\uff1a\uff0f\uff1f\uff03", "@:/?#")


def _userinfo_ascii(uri: str, *, wide: bool = False) -> _UserInfo:
    """`_userinfo` by one spelling of a URI; `wide`: the URI with its fullwidth delimiters
    as ASCII ones (one character for one: the indices are the given URI's), read by (a)
    alone, as urlsplit's NFKC check reads it."""
    lead = _LEAD.match(uri)
    begin = lead.end() if lead else 0
    scheme_match = _SCHEME.match(uri, begin)
    if scheme_match is not None:
        start = scheme_match.end()
        scheme = re.sub(r"[\x00-\x20\s]", "", scheme_match[1]).lower()
    else:
        slashes = _SLASHES.match(uri, begin)
        if slashes is None:
            return _UserInfo()
        start, scheme = slashes.end(), ""
    end = next((i for i in range(start, len(uri)) if uri[i] in "/?#"), len(uri))
    passwords: list[tuple[int, int]] = []
    at = uri.rfind("@", start, end)
    colon = -1
    if at != -1:  # (a)
        colon = uri.find(":", start, at)
        if colon != -1:
            passwords.append((colon + 1, at))
    if not wide and scheme not in _HTTP:  # (b)
        sqlalchemy = _SQLALCHEMY_USERINFO.match(uri, start)
        if sqlalchemy is not None:
            colon = sqlalchemy.start(1) - 1
            passwords.append((sqlalchemy.start(1), sqlalchemy.end(1)))
    elif not wide and scheme != "file" and not uri.startswith("[", at + 1 if at != -1 else start):
        # (c)
        port_colon = uri.find(":", at + 1 if at != -1 else start, end)
        first_at = uri.find("@", end)
        if port_colon != -1 and first_at != -1 and not _PORT.match(uri, port_colon + 1, end):
            passwords.append((port_colon + 1, first_at))
            colon = port_colon if colon == -1 else colon
    by_sqlalchemy = bool(scheme) and scheme not in _HTTP
    if passwords:
        drop_end = max(e for _, e in passwords)
        drop = (colon, drop_end)
        return _UserInfo(start, end, tuple(passwords), drop, None, drop_end + 1, by_sqlalchemy)
    if at != -1 and scheme in ("http", "https") and at > start:
        return _UserInfo(start, end, (), None, (start, at), at + 1, by_sqlalchemy)
    return _UserInfo(start, end, (), None, None, at + 1 if at != -1 else start, by_sqlalchemy)


def _rest_start(uri: str, host: int) -> int:
    """Where a URI's path starts: the first `/`, `?` or `#` after its `host`."""
    return next((i for i in range(host, len(uri)) if uri[i] in "/?#"), len(uri))


def _redacted_rest(rest: str, *, sqlalchemy: bool = False) -> str:
    """A URI's path, query and fragment with each secret parameter's value REDACTED and
    nothing else changed."""
    path, mark, query, hash_, fragment = _path_query_fragment(rest, sqlalchemy=sqlalchemy)
    path = _PATH_PARAM.sub(lambda m: m[1] + ("REDACTED" if _secret_name(m[2]) else m[3]), path)
    query = _redacted_query(query)[0] if mark else ""
    return f"{path}{mark}{query}{hash_}{fragment}"


def _path_query_fragment(rest: str, *, sqlalchemy: bool = False) -> tuple[str, str, str, str, str]:
    """What follows a URI's authority as (path, `?` or "", query, `#` or "", fragment).
    `sqlalchemy`: as SQLAlchemy reads it, which knows no fragment: the query runs from the
    first `?` to the end (`db#x?password=...` gives make_url a password; a review). Its
    parameters are a superset of urlsplit's reading's, each value running further."""
    if sqlalchemy:
        path, mark, query = rest.partition("?")
        return path, mark, query, "", ""
    before, hash_, fragment = rest.partition("#")
    path, mark, query = before.partition("?")
    return path, mark, query, hash_, fragment


def _redacted_query(query: str) -> tuple[str, list[str]]:
    """The query with each secret value REDACTED, the rest as written, and those values.
    A parameter runs to the next `&` (as `parse_qsl` reads it), a secret one whole; a
    `;` within another is read as a separator too (`?x=1;token=…`): either way, what
    could be a secret is."""
    pieces, secrets = [], []
    for piece in query.split("&") if query else []:
        name, eq, value = piece.partition("=")
        if eq and _secret_name(name):
            pieces.append(f"{name}=REDACTED")
            secrets.append(value)
            continue
        subs = piece.split(";")
        for i, sub in enumerate(subs[1:], 1):
            name, eq, value = sub.partition("=")
            if eq and _secret_name(name):
                subs[i] = f"{name}=REDACTED"
                secrets.append(value)
        pieces.append(";".join(subs))
    return "&".join(pieces), secrets


def _secret_name(name: str) -> bool:
    """Whether a parameter's name (or a query, or a message's text) says it is a secret,
    percent-decoded (and without the tabs and newlines urlsplit drops)."""
    name = re.sub(r"[\t\r\n]", "", name)
    return bool(_SECRET_QUERY.search(urllib.parse.unquote(name)))


def _secret_values(uri: str) -> list[tuple[str, bool]]:
    """What `uri` holds that is secret, as given and percent-decoded, the longest first,
    each with whether it is a password (masked at any length; else a token given as an
    http(s) user name, the part of a password urlsplit reads as a port, or the value of
    a query (`_redacted_query`) or `;` path parameter whose name says it is a secret).
    Only these: a host or a port is never masked (the pieces of a password between
    delimiters were, and a message's `port=5000` read `port=***`: a review)."""
    found = _userinfo(uri)
    values: list[tuple[str, bool]] = [(uri[s:e], True) for s, e in found.passwords]
    if found.drop is not None:
        whole = uri[found.drop[0] + 1 : found.drop[1]]
        values.append((whole, True))
        # What urlsplit reads as the port when the password holds a `/`, `?` or `#`
        # (`u:Hunter2/secret@db`: port `Hunter2`), unless it is a number (a port's text).
        head = re.split(r"[/?#]", whole, maxsplit=1)[0]
        if not _PORT.match(head):
            values.append((head, False))
    if found.mask is not None:
        values.append((uri[found.mask[0] : found.mask[1]], False))
    after = _rest_start(uri, found.host) if found.start != -1 else 0
    rest = _path_query_fragment(uri[after:], sqlalchemy=found.sqlalchemy)
    values += [(v, False) for v in _redacted_query(rest[2])[1]]
    # An ODBC connection string's password (`odbc_connect=...;PWD=...`), alone too.
    values += [
        (m[1], True)
        for v, _ in list(values)
        for m in _ODBC_PWD.finditer(urllib.parse.unquote_plus(v))
        if m[1]
    ]
    values += [(m[3], False) for m in _PATH_PARAM.finditer(rest[0]) if _secret_name(m[2])]
    values += _parsed_secrets(uri)
    spellings: dict[str, bool] = {}
    for value, is_password in values:
        for spelling in _spellings(value):
            spellings[spelling] = spellings.get(spelling, False) or is_password
    return sorted(spellings.items(), key=lambda item: len(item[0]), reverse=True)


# What RFC 3986 leaves unencoded in a user info (urllib3's encoding of one keeps these).
_USERINFO_SAFE = "!$&'()*+,;=:~"


def _spellings(value: str) -> list[str]:
    """`value` as given, percent-decoded and percent-encoded (each non-empty)."""
    decoded = urllib.parse.unquote(value)
    forms = [value, decoded, urllib.parse.unquote_plus(value)]
    for text in (value, decoded):
        forms += [
            urllib.parse.quote(text, safe=""),
            urllib.parse.quote(text, safe=_USERINFO_SAFE),
            urllib.parse.quote_plus(text, safe=""),
        ]
    return [form for form in dict.fromkeys(forms) if form]


def _parsed_secrets(uri: str) -> list[tuple[str, bool]]:
    """What the readers of an import's URL would send as secrets, each as (value, whether
    it is a password), as they read it: SQLAlchemy's `make_url` (for a scheme other than
    http, https and file: its password and each query value whose name says it is a
    secret), urlsplit (its password and such query values) and urllib3's `parse_url` (the
    part of its `auth` after the first `:`). Each reader only if it is installed (imported
    here, when a URL is given), and none of their errors: a URL one refuses gives nothing
    (a review, issue 18 thirtieth pass)."""
    import importlib

    found: list[tuple[str, bool]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if _userinfo(uri).sqlalchemy:
            try:
                url = importlib.import_module("sqlalchemy.engine").make_url(uri)
                found += [(str(url.password), True)] if url.password else []
                for name, value in url.query.items():
                    if _secret_name(str(name)):
                        many = value if isinstance(value, tuple) else (value,)
                        found += [(str(one), False) for one in many]
            except Exception:  # no SQLAlchemy, or no URL it reads
                pass
        try:
            parts = urllib.parse.urlsplit(uri)
            found += [(parts.password, True)] if parts.password else []
            query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
            found += [(value, False) for name, value in query if _secret_name(name)]
        except Exception:  # (ValueError: an NFKC netloc, an unclosed `[`)
            pass
        try:
            auth = importlib.import_module("urllib3.util").parse_url(uri).auth
            if auth and ":" in auth:
                found.append((auth.partition(":")[2], True))
        except Exception:  # no urllib3, or no URL it reads
            pass
    return [(value, password) for value, password in found if value]


# Around a secret shorter than `_SHORTEST_MASKED`: what it is masked between in a rendered
# URI (a password `p` is no `p` of `.pem`, a `1` no digit of `127.0.0.1`).
_WORDISH = r"[\w.~%+-]"


def _masked_leftovers(shown: str, uri: str) -> str:
    """`shown` (`uri` rendered) with each secret `_parsed_secrets` finds in `uri`, in each
    of its spellings, as `***` wherever it still appears; one shorter than
    `_SHORTEST_MASKED` only where it stands alone, between delimiters."""
    spellings = {form for value, _ in _parsed_secrets(uri) for form in _spellings(value)}
    for secret in sorted(spellings, key=len, reverse=True):
        pattern = re.escape(secret)
        if len(secret) < _SHORTEST_MASKED:
            pattern = f"(?<!{_WORDISH}){pattern}(?!{_WORDISH})"
        shown = re.sub(pattern, "***", shown, flags=re.IGNORECASE if "%" in secret else 0)
    return shown


_ODBC_PWD = re.compile(r"(?i)\bpwd\s*=\s*\{?([^;}]*)")


# A parameter's secret value shorter than this is masked only where its name comes
# before it: `1` masked everywhere made `?sortkey=1`'s error line unreadable (host
# `***27.0.0.***`; a review). A password has no name before it: masked at any length.
_SHORTEST_MASKED = 4


def _mask_secrets(message: str, uri: str) -> str:
    """`message` without `uri`'s secrets: the URI itself redacted, each secret value in
    any letter case of its escapes, and the value of every `name=value` in the message
    whose name says it is a secret. A library quotes the URL in its own form (urllib3:
    `url: /?token=…`, escapes upper-cased, a name decoded), so a secret the provenance
    redacts reached an import's error line (an attacker's hunt, a review)."""
    message = message.replace(uri, redact_uri(uri))
    for secret, password in _secret_values(uri):
        if password or len(secret) >= _SHORTEST_MASKED:  # (else: after its name, below)
            message = re.sub(re.escape(secret), "***", message, flags=re.IGNORECASE)
    return _MESSAGE_PARAM.sub(
        lambda m: f"{m[1]}=***" if m[2] and _secret_name(m[1]) else m[0], message
    )


# A URL as a message quotes it: a scheme and `://`, to a blank. A quote or a bracket
# after it is taken as its path's (`'pg://u:pw@h/db')`: no reader finds a password
# there), never as its end: a password may hold a `'` (a sub-delimiter, RFC 3986).
# Also JSON-escaped, `http:\/\/u:pw@h` (a response body quoted in an error), and with
# blanks in its user info where an `@` still ends that before any `/`, `?`, `#` or line
# break (`http://u:pass word@h`: urlsplit's password is `pass word`): a user, a `:`, then
# up to 256 characters to the `@` (issue 18 fortieth pass; both showed the password),
# but for a port before the blank (`http://h:8080 or me@x.org` is no password).
# The scheme is read from the start of its word (a review, issue 18 fortieth pass: tried at
# every letter, a long word before a `:\/\/` took quadratic time, 80,000 letters 7 s;
# a `://` was as slow before): what comes before its first letter is `lead`, kept as it
# is. A word holds no `:`, so the URL a later letter would begin is the same.
_SCHEME_IN_TEXT = r"(?<![A-Za-z0-9+.-])(?P<lead>[0-9+.-]*)[A-Za-z][A-Za-z0-9+.-]*:"
_URL_IN_TEXT = re.compile(
    _SCHEME_IN_TEXT + r"(?P<slashes>//|\\/\\/)"
    r"(?:[^\s/\\?#@:]*:(?![0-9]*[ \t])[^/\\?#@\r\n]{0,256}@\S*|\S+)"
)
# Where another URL begins inside one read to a blank: compact JSON quotes two with no
# blank between (`{"a":"http:\/\/h","b":"http:\/\/u:pw@h"}`: the second's password was
# committed; a review, issue 18 fortieth pass).
_URL_START = re.compile(_SCHEME_IN_TEXT + r"(?://|\\/\\/)")


def without_uri_secrets(text: str) -> str:
    """`text`, a message no import gave a URI to (a failed run's exception, written as
    its committed reason: run.py), with every URL it quotes redacted as provenance keeps
    one (`redact_uri`: no password, no secret query value) and each of those URLs'
    secrets masked wherever else the text shows it, one shorter than `_SHORTEST_MASKED`
    only where it stands alone. MLflow's REST client quotes its tracking URI whole
    ("API request to http://user:PASSWORD@host/api/... failed"), and `Repository.run`
    committed it (an attacker's hunt, issue 18 thirty-ninth pass). A `name=value` outside
    a URL is left as it is (`monkey=3`: `_secret_name` reads a name loosely). One pass
    for the URLs and one for their secrets, however many a long message quotes."""
    secrets: dict[str, None] = {}

    def one(uri: str) -> tuple[str, list[str]]:
        """`uri` redacted, and its secrets (remembered) as `uri` spells them."""
        escaped = not uri.startswith("//", uri.index(":") + 1)  # JSON's `\/`: read as `/`
        if escaped:
            uri = uri.replace("\\/", "/")
        found = [secret for secret, _ in _secret_values(uri)]
        secrets.update(dict.fromkeys(found))
        if escaped:
            found = [s.replace("/", "\\/") for s in found]
            secrets.update(dict.fromkeys(found))
            return redact_uri(uri).replace("/", "\\/"), found
        return redact_uri(uri), found

    def redacted(match: re.Match[str]) -> str:
        whole = match.string
        start, end = match.start() + len(match.group("lead")), match.end()
        # Each URL begun inside this one is read on its own, up to the next; this one
        # is also read whole for its secrets (a password the readers take to an `@` past
        # a `x://`), as it was before: what either reading finds is masked.
        starts = [
            m.start() + len(m.group("lead"))
            for m in _URL_START.finditer(whole, match.end("slashes"), end)
        ]
        if not starts:
            return match.group("lead") + one(whole[start:end])[0]
        # What the whole reading finds is masked before the pieces are read: a piece's
        # reading dropped part of it (`u:98765432/x://v:pw@h`, the piece `x://v:pw@h`
        # lost `:pw`), and what was left of the password was shown (a review).
        url = whole[start:end]
        for secret in sorted(one(url)[1], key=len, reverse=True):
            # (each `/` either way: an escaped URL may hold a plain `x://` in its password)
            either = re.escape(secret.replace("\\/", "/")).replace("/", r"(?:\\/|/)")
            url = re.sub(either, "***", url)
        cuts = [m.start() + len(m.group("lead")) for m in _URL_START.finditer(url, 1)]
        bounds = [0, *cuts, len(url)]
        pieces = [one(url[a:b])[0] for a, b in zip(bounds, bounds[1:], strict=False)]
        return match.group("lead") + "".join(pieces)

    text = _URL_IN_TEXT.sub(redacted, text)
    if not secrets:
        return text
    long = _any_of(s for s in secrets if len(s) >= _SHORTEST_MASKED)
    short = _any_of(s for s in secrets if len(s) < _SHORTEST_MASKED)
    alone = f"(?<!{_WORDISH})(?:{short})(?!{_WORDISH})" if short else ""
    pattern = "|".join(filter(None, (long, alone)))
    return re.sub(pattern, "***", text, flags=re.IGNORECASE)


def _any_of(words: Iterable[str]) -> str:
    """A regex of any of `words`, the longest where two share a start, as a trie: at each
    place of the text it tries the characters that begin a word, not every word (an
    alternation of thousands of passwords, a compact JSON body of URLs, took time the
    square of the message's size: 16,000 URLs 76 s; a review, issue 18 fortieth pass).
    A chain of one branch is one literal, so no nesting is deeper than the words that
    share prefixes. Matched with `re.IGNORECASE`: a letter's cases are one branch, so the
    branches of a place never match one character twice and the longest word still
    wins."""
    trie: dict[str, Any] = {}
    for word in words:
        if not word:  # (none is: a pattern matching nothing would mask between letters)
            continue
        node = trie
        for char in word:  # (one branch for both cases: the pattern ignores case)
            folded = char.lower()
            node = node.setdefault(folded if len(folded) == 1 else char, {})
        node[""] = {}
    out: list[str] = []
    # Nodes to write and text to copy, on a stack: no recursion, however long a word.
    stack: list[dict[str, Any] | str] = [trie]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        branches = sorted(char for char in item if char)
        if not branches:
            continue
        out.append("(?:")
        stack.append(")?" if "" in item else ")")  # (a word ends here: after the longer)
        for i, char in enumerate(reversed(branches)):
            child, literal = item[char], re.escape(char)
            while len(child) == 1 and "" not in child:  # a chain: one literal
                ((char, child),) = child.items()
                literal += re.escape(char)
            stack += [child, literal] if i == len(branches) - 1 else [child, literal, "|"]
    return "".join(out)


# ----------------------------------------------------------------------------- values
def utc_time(value: dt.datetime | None) -> str | None:
    """RFC 3339 in UTC; a naive time (Optuna's) is taken as this machine's local time."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.astimezone()
    # By isoformat, not strftime: glibc's `%Y` gives year 999 as `999`, which no RFC 3339
    # date-time (nor the schemas' pattern) holds, and the run was refused by its schema
    # (a review, issue 18 forty-first pass); isoformat writes `0999`.
    utc = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def epoch_ms_time(value: int | None) -> str | None:
    """MLflow's milliseconds since the epoch as RFC 3339 UTC."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError, TypeError):  # (TypeError: not a number)
        return None
    return utc_time(moment)


def metric_value(value: Any) -> float | None:
    """A tracker's number as a metric value (NaN and infinities kept, for the plan to
    refuse and name); None for what is no number at all (a string, a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an int no double holds: infinite, refused by the plan by name
        return math.inf if value > 0 else -math.inf


def examples(items: Sequence[str]) -> str:
    """The first five of `items`, and how many more: a note names a few, never hundreds
    (a run may log hundreds of metrics or tags)."""
    shown = ", ".join(items[:5])
    return f"{shown}, and {len(items) - 5} more" if len(items) > 5 else shown


def registry_names(names: Sequence[str], policy: Policy, *, option: str) -> tuple[str, ...]:
    """Metric names given on the command line must be in the registry, each once (exit 2:
    a name given twice kept one objective's value under it, the other's lost)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ExpflowError(f"{option} '{printable(name)}': named twice; name each once")
        seen.add(name)
        if name not in policy.metrics:
            raise ExpflowError(
                f"{option} '{printable(name)}': not in the registry of "
                f"{policy.path}{did_you_mean(name, policy.metrics)}"
            )
    return tuple(names)


def scalar_params(params: Mapping[str, Any]) -> tuple[dict[str, Scalar], list[str]]:
    """Parameters a record can hold (strings, finite numbers, booleans, null), and a
    problem for each other one (a list, a NaN)."""
    kept: dict[str, Scalar] = {}
    problems = []
    for key, value in params.items():
        if value is None or isinstance(value, (str, bool, int)):
            kept[str(key)] = value
        elif isinstance(value, float) and math.isfinite(value):
            kept[str(key)] = value
        else:
            problems.append(f"param {key!r} = {value!r} is no string, finite number or bool")
    return kept, problems


# ----------------------------------------------------------------------------- extras
def require_extra(module: str, extra: str) -> ModuleType:
    """Import an optional tracker library, or stop with the one line that says which
    extra installs it (exit 2)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExpflowError(
            f"{module} is not installed: install expflow-git[{extra}] "
            f"(pip install 'expflow-git[{extra}]')"
        ) from None


def sqlalchemy_error() -> type[Exception]:
    """SQLAlchemy's base error (the SQL stores of Optuna and MLflow raise it), or a type
    nothing raises when SQLAlchemy is absent."""
    import importlib

    try:  # through importlib: type-checked without SQLAlchemy installed (CI's lint step)
        module = importlib.import_module("sqlalchemy.exc")
    except ImportError:
        return _Never
    error = getattr(module, "SQLAlchemyError", _Never)
    return error if isinstance(error, type) and issubclass(error, Exception) else _Never


class _Never(Exception):
    """Stands for an exception type that cannot be raised."""


def first_line(exc: BaseException, uri: str, *, named: bool = False) -> str:
    """A library's error message as one printable line, without `uri`'s secrets (a
    library may quote the URI it was given: its password, a secret query value);
    `named`: after the exception's type (for errors no library meant to raise:
    `KeyError: 'type'`), the type alone if it says nothing more."""
    text = str(exc).strip().splitlines()
    name = type(exc).__name__
    message = text[0] if text else name
    if named and text:
        message = f"{name}: {message}"
    return printable(_mask_secrets(message, uri))


def refuse_missing_store(url: str, shown: str, *, tracker: str, table: str) -> None:
    """A tracker's library makes what it does not find: SQLAlchemy an empty database for
    a mistyped `sqlite:///` path, then Optuna or MLflow its tables in any database it is
    given, MLflow a file store's folders. An import reads its source and never changes
    it, so the store must already be there (a database: with the tracker's `table`,
    looked for without a change; a file store: with an experiment) before the library
    opens it, and the library then reads it under `read_only_sqlite`."""
    if not url.strip():
        raise ExpflowError(f"an empty URL names no {tracker} store")
    sqlite = _sqlite_file(url)
    if sqlite is not None and not sqlite[0]:
        return  # an in-memory database: nothing to change
    if sqlite is not None:
        path, options = sqlite
        if not Path(path).exists():
            raise ExpflowError(f"{shown}: no such database file")
        # Never opened unless a file: SQLite's open of a named pipe waits for a writer,
        # retrying through every signal, so a Ctrl-C or SIGTERM never ended the import
        # (`--storage sqlite:///FIFO`: a hunter's find, issue 18 fortieth pass).
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise ExpflowError(f"{shown}: {mode_kind(mode)}, not a regular file")
        # Read-only, with the URL's other options (`immutable`): not the connection that
        # closes a WAL database last, which would write its pending pages into the file.
        query = [*((k, v) for k, v in options if k != "mode"), ("mode", "ro")]
        probe = f"{Path(path).resolve().as_uri()}?" + "&".join(
            f"{urllib.parse.quote(k, safe='')}={urllib.parse.quote(v, safe='')}" for k, v in query
        )
        try:
            with contextlib.closing(sqlite3.connect(probe, uri=True)) as db:
                found = db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
                ).fetchone()
        except sqlite3.Error as exc:
            raise ExpflowError(
                f"{shown}: cannot read the database: {printable(str(exc))}"
            ) from None
        if found is None:
            raise ExpflowError(f"{shown}: no {tracker} store in this database (left as it is)")
        return
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:  # a library read it no better: a traceback (a hunter's report)
        # Never the error's own text: the NFKC one quotes the netloc, password and all.
        raise ExpflowError(
            f"{printable(shown)}: not a URL {tracker} can open{_why_unsplit(exc)}; nothing read"
        ) from None
    if tracker == "MLflow" and parts.scheme in ("", "file"):
        folder = Path(urllib.request.url2pathname(parts.path) if parts.scheme else url)
        if not folder.is_dir():
            raise ExpflowError(f"{shown}: no MLflow store folder there")
        # MLflow makes its `.trash` folder in any folder it opens as a store.
        if not any(map(_mlflow_experiment, folder.glob("*/meta.yaml"))):
            raise ExpflowError(f"{shown}: no MLflow experiment in this folder (left as it is)")


def _why_unsplit(exc: ValueError) -> str:
    """Why urlsplit refused a URL, as a fixed phrase (its message may quote the URL)."""
    text = str(exc)
    if "NFKC" in text:
        return " (its host holds characters NFKC turns into URL delimiters)"
    if "IPv6" in text:
        return " (Invalid IPv6 URL)"
    return ""


def _mlflow_experiment(meta: Path) -> bool:
    """Whether `meta` is an MLflow file store's experiment description."""
    try:
        with meta.open("rb") as file:
            return b"experiment_id:" in file.read(4096)
    except OSError:
        return False


_QUERY_ONLY = "expflow_query_only"  # a pooled connection's mark: made query-only by us


@contextlib.contextmanager
def read_only_sqlite() -> Iterator[None]:
    """Every SQLite connection this thread takes from SQLAlchemy meanwhile is
    query-only: the tracker's library, which makes or migrates its tables in a database
    that lacks them, can read its store and not change it (the change fails, and the
    import says so). Each is writable again when it goes back to its pool, and other
    threads' are not touched (an API caller may be writing meanwhile, through the same
    engine). The engines used are closed at the end. SQLAlchemy's warnings (a URL
    option it does not know) are not the import's output."""
    import importlib

    try:  # through importlib: type-checked without SQLAlchemy installed (CI's lint step)
        event = importlib.import_module("sqlalchemy.event")
        engine = importlib.import_module("sqlalchemy.engine").Engine
        warning = importlib.import_module("sqlalchemy.exc").SAWarning
    except ImportError:
        yield
        return

    opened: list[Any] = []
    reader = threading.get_ident()  # the import's thread: other threads' engines are theirs

    def query_only(connection: Any, record: Any, _proxy: Any) -> None:
        # On every checkout, not only on connect: a pooled connection is one too.
        if threading.get_ident() == reader and isinstance(connection, sqlite3.Connection):
            connection.execute("PRAGMA query_only = ON")
            record.info[_QUERY_ONLY] = True

    def writable(connection: Any, record: Any) -> None:
        # Back in its pool, a connection is its owner's again: MLflow shares one engine
        # per URL between threads, and the next checkout may be another thread's.
        if record is not None and record.info.pop(_QUERY_ONLY, False):
            if isinstance(connection, sqlite3.Connection):
                connection.execute("PRAGMA query_only = OFF")

    def note(connection: Any) -> None:
        if threading.get_ident() == reader and connection.engine not in opened:
            opened.append(connection.engine)

    hooks = (("checkout", query_only), ("checkin", writable), ("engine_connect", note))
    for name, hook in hooks:
        event.listen(engine, name, hook)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", warning)
            yield
    finally:
        for name, hook in hooks:
            event.remove(engine, name, hook)
        # Closed, not left to the interpreter's exit: the last connection to a WAL
        # database closed is what removes its -wal and -shm files. An in-memory
        # database is left open: closing it would lose it.
        for used in opened:
            found = _sqlite_file(str(used.url))
            if found is None or found[0]:
                used.dispose()


def _sqlite_file(url: str) -> tuple[str, list[tuple[str, str]]] | None:
    """The file a SQLAlchemy URL opens and the URI options SQLite gets with it, as
    SQLAlchemy's own dialect hands them over (`sqlite+pysqlite:`, `%20` decoded, a
    `file:` URI with `uri=true` or `uri=1`); ("", []) for an in-memory database, None
    for a URL that is no SQLite one (or no URL: an MLflow folder)."""
    import importlib

    try:  # SQLAlchemy comes with both trackers; through importlib for the lint step
        with warnings.catch_warnings():  # an option SQLAlchemy does not know: the library's
            warnings.simplefilter("ignore")
            parsed = importlib.import_module("sqlalchemy.engine").make_url(url)
            if str(parsed.get_backend_name()).lower() != "sqlite":
                return None
            (filename, *_), options = parsed.get_dialect()().create_connect_args(parsed)
    except Exception:  # no SQLAlchemy, or not a URL it reads
        return None
    filename = str(filename)
    # SQLite reads a name as a URI only when asked to and when it starts with `file:`.
    if options.get("uri") and filename.startswith("file:"):
        path, query = _sqlite_uri(filename)
        return ("", []) if path == ":memory:" or ("mode", "memory") in query else (path, query)
    return ("", []) if filename == ":memory:" else (filename, [])


def _sqlite_uri(name: str) -> tuple[str, list[tuple[str, str]]]:
    """A `file:` URI's path and options, split as SQLite splits them: an authority
    (empty or `localhost`) skipped, `%HH` decoded, and nothing else (`urlsplit` drops a
    tab or a newline from a path, and `parse_qsl` reads `+` as a space)."""
    rest = name[len("file:") :]
    if rest.startswith("//"):
        slash = rest.find("/", 2)
        rest = rest[slash:] if slash != -1 else ""
    path, _, query = rest.partition("#")[0].partition("?")
    pairs = [item.partition("=") for item in query.split("&") if item]
    unquote = urllib.parse.unquote
    return unquote(path), [(unquote(key), unquote(value)) for key, _, value in pairs]
