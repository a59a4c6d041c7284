"""The local PIN: validation, salted slow hashing, storage (docs/spec.md §5).

Nothing here ever puts a PIN or any part of a stored hash into a message, an
exception or a repr: errors name where the hash came from, never what it is.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from expflow_git.atomicfile import write_atomic
from expflow_git.errors import ExpflowError, printable

# The tool's own PIN-hash format: parameters live inside the string so they can change.
#   expflow$scrypt$n=16384,r=8,p=1$<salt, urlsafe b64, no padding>$<hash, urlsafe b64, no padding>
PIN_HASH_PREFIX = "expflow$scrypt$"
# Every hash `scheme_of` accepts: a salt of 8 bytes or more is 11 base64 characters or more
# (16 let a hand-made hash with a salt of 8 to 11 bytes, which the tool checks, pass the
# scan: a hunt, issue 18 thirty-ninth pass), and a digest of 16 characters or more (looser
# than the 22 of its 16 bytes: the scan errs toward finding).
PIN_HASH_RE = re.compile(r"expflow\$scrypt\$[a-z0-9=,]+\$[A-Za-z0-9_-]{11,}\$[A-Za-z0-9_-]{16,}")

PIN_FILE_NAME = "pin.hash"
ENV_HOME = "EXPFLOW_HOME"
ENV_PIN_HASH = "EXPFLOW_PIN_HASH"
DEFAULT_HOME_DIRNAME = ".expflow"

# Cost of new hashes: scrypt's interactive-login recommendation (16 MiB, ~50 ms).
_SCRYPT_N = 16384
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32

# Bounds on parameters read back from a stored string. The string may come from
# the environment, so a hostile one must not make scrypt allocate gigabytes or
# spin for minutes: memory is 128*r*n bytes, work grows with n*r*p.
_MAX_SCRYPT_MEMORY = 128 * 1024 * 1024
_MAX_SCRYPT_WORK = 2**22
_MAX_R = 32
_MAX_P = 16
_SALT_LEN_RANGE = range(8, 65)
_HASH_LEN_RANGE = range(16, 65)
# A pin.hash file holds one short line; anything bigger is not ours.
_MAX_STORED_BYTES = 4096

_PARAMS_RE = re.compile(r"n=([0-9]{1,8}),r=([0-9]{1,3}),p=([0-9]{1,3})")
_B64_RE = re.compile(r"[A-Za-z0-9_-]+")
_LEGACY_RE = re.compile(r"[0-9A-Fa-f]{64}")
_ASCII_DIGITS = frozenset("0123456789")


class PinScheme(enum.Enum):
    """How a stored PIN hash was made."""

    SCRYPT = "scrypt"
    LEGACY = "legacy"  # unsalted SHA-256 hex, accepted with a warning


class HashSource(enum.Enum):
    """Where the stored PIN hash was found."""

    FILE = "file"
    ENV = "env"


@dataclass(frozen=True)
class StoredHash:
    """A stored PIN hash and where it came from; the value never shows in its repr."""

    value: str = field(repr=False)
    source: HashSource
    path: Path | None = None  # the pin.hash file when source is FILE
    scheme: PinScheme = PinScheme.SCRYPT

    def describe_source(self) -> str:
        """Where the hash came from, for messages: a path or the variable name."""
        if self.source is HashSource.FILE:
            return str(self.path)
        return f"${ENV_PIN_HASH}"


@dataclass(frozen=True)
class _ScryptHash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def is_valid_pin(s: str) -> bool:
    """True iff `s` is exactly four ASCII digits (no other Unicode digits, no spaces)."""
    # str.isdigit() accepts '١' and '²', so compare against the ASCII set explicitly.
    return isinstance(s, str) and len(s) == 4 and all(c in _ASCII_DIGITS for c in s)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    if not _B64_RE.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    # OpenSSL refuses work above `maxmem`; give it exactly what these bounded
    # parameters need (V is 128*r*(n+2), B is 128*r*p) plus slack.
    maxmem = 128 * r * (n + 2 + p) + 1024 * 1024
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)


def _parse_scrypt(stored: str) -> _ScryptHash | None:
    """Parse the tool's format, or None if malformed or outside the safe bounds."""
    parts = stored.split("$")
    if len(parts) != 5 or f"{parts[0]}${parts[1]}$" != PIN_HASH_PREFIX:
        return None
    m = _PARAMS_RE.fullmatch(parts[2])
    if m is None:
        return None
    n, r, p = (int(g) for g in m.groups())
    if n < 2 or n & (n - 1) or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
        return None
    if 128 * r * n > _MAX_SCRYPT_MEMORY or n * r * p > _MAX_SCRYPT_WORK:
        return None
    if n * r < _SCRYPT_N * _SCRYPT_R:  # cheaper than any hash this tool writes: hand-made
        return None
    salt = _b64decode(parts[3])
    digest = _b64decode(parts[4])
    if salt is None or digest is None:
        return None
    if len(salt) not in _SALT_LEN_RANGE or len(digest) not in _HASH_LEN_RANGE:
        return None
    return _ScryptHash(n=n, r=r, p=p, salt=salt, digest=digest)


def is_legacy(stored: str) -> bool:
    """True iff `stored` is a legacy unsalted SHA-256 hex digest (64 hex digits, any case)."""
    return _LEGACY_RE.fullmatch(stored) is not None


def scheme_of(stored: str) -> PinScheme | None:
    """The scheme of a stored hash, or None if it is not one this tool can check."""
    if is_legacy(stored):
        return PinScheme.LEGACY
    if _parse_scrypt(stored) is not None:
        return PinScheme.SCRYPT
    return None


def hash_pin(pin: str) -> str:
    """Hash a PIN with scrypt and a fresh random salt, in the tool's own format."""
    if not is_valid_pin(pin):
        raise ExpflowError("a PIN must be exactly 4 ASCII digits (0-9)")
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(pin, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _HASH_BYTES)
    params = f"n={_SCRYPT_N},r={_SCRYPT_R},p={_SCRYPT_P}"
    return f"{PIN_HASH_PREFIX}{params}${_b64encode(salt)}${_b64encode(digest)}"


def check_pin(pin: str, stored: str) -> bool:
    """True iff `pin` matches `stored` (scrypt or legacy SHA-256); constant-time compare.

    A malformed PIN is simply wrong; a stored hash in no known format raises
    ExpflowError (exit 2), since that is a configuration problem, not a wrong PIN.
    """
    if is_legacy(stored):
        if not is_valid_pin(pin):
            return False
        computed = hashlib.sha256(pin.encode("ascii")).hexdigest()
        return hmac.compare_digest(computed, stored.lower())
    parsed = _parse_scrypt(stored)
    if parsed is None:
        raise ExpflowError("the stored PIN hash is not in a format expflow-git can check")
    if not is_valid_pin(pin):
        return False
    computed_bytes = _scrypt(pin, parsed.salt, parsed.n, parsed.r, parsed.p, len(parsed.digest))
    return hmac.compare_digest(computed_bytes, parsed.digest)


def pin_home(env: Mapping[str, str]) -> Path:
    """The directory holding pin.hash: $EXPFLOW_HOME, else ~/.expflow; an absolute path.

    A relative one (`EXPFLOW_HOME=.xp`, or `HOME=.`) would be read in whichever folder a
    command runs in: inside a repository it named the repository's own `.xp/pin.hash`
    to the guard, and the repository chose the PIN (an attacker's hunt, issue 18
    twenty-fourth pass; `pin init` refused only its own folder). It is refused."""
    configured = env.get(ENV_HOME, "")
    name = f"${ENV_HOME}" if configured else "$HOME"
    try:
        if configured:
            chosen = Path(configured).expanduser()
        else:
            home = env.get("HOME", "")
            chosen = (Path(home) if home else Path.home()) / DEFAULT_HOME_DIRNAME
    except RuntimeError:  # `~nosuchuser/x`: a traceback (a review)
        raise ExpflowError(f"{name}: its home folder cannot be found") from None
    if not chosen.is_absolute():
        raise ExpflowError(
            f"{name} must be an absolute path (a relative one would be read in whichever "
            "folder a command runs in)"
        )
    return chosen


def pin_file(env: Mapping[str, str]) -> Path:
    """The pin.hash path for this environment."""
    return pin_home(env) / PIN_FILE_NAME


def _read_pin_file(path: Path) -> str | None:
    """The stripped content of pin.hash, or None if there is no such file. One another
    user may have written (their own, or writable by group or world) is refused, as the
    local cache's are: whoever can write it chooses the PIN."""
    from expflow_git.localcache import READ_NOFOLLOW, untrusted

    try:
        # A symbolic link is not followed: one another user planted, to a file of ours
        # whose content they chose, passed the owner check made on its target (an
        # attacker's hunt, issue 18 twenty-fourth pass).
        fd = os.open(path, READ_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            raise ExpflowError(
                f"the PIN hash file {path} is a symbolic link: whoever may write it chooses "
                "the PIN; remove it, or run `expflow-git pin clear --force` and "
                "`expflow-git pin init`"
            ) from None
        if isinstance(exc, NotADirectoryError):
            _not_a_home(path.parent, "")
        raise ExpflowError(f"cannot read the PIN hash file {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            why = untrusted(info) or ("" if stat.S_ISREG(info.st_mode) else "not a file")
            if not why and info.st_nlink > 1:
                # A hard link's owner and mode are its file's, as a symbolic link's
                # target's: another user who may write the PIN home linked in a file of
                # ours whose content they chose (where the kernel lets them, as macOS
                # does), and it passed; the tool writes pin.hash with one name (an
                # attacker's hunt, issue 18 thirty-seventh pass).
                why = f"a hard link (one of {info.st_nlink} names of its file)"
            raw = fh.read(_MAX_STORED_BYTES + 1) if not why else b""
    except IsADirectoryError:  # (`fdopen` refuses a folder: "Is a directory")
        raise ExpflowError(
            f"the PIN hash file {path} is a folder, not a file; move it away and run "
            "`expflow-git pin init`"
        ) from None
    except OSError as exc:
        raise ExpflowError(f"cannot read the PIN hash file {path}: {exc.strerror}") from None
    if why:
        fix = "`chmod 600` it" if why.startswith("writable") else "remove it"
        raise ExpflowError(
            f"the PIN hash file {path} is {why}: whoever may write it chooses the PIN; "
            f"{fix}, or run `expflow-git pin clear --force` and `expflow-git pin init`"
        )
    if len(raw) > _MAX_STORED_BYTES:
        raise ExpflowError(
            f"the PIN hash file {path} is too large to be a PIN hash; "
            "remove it with `expflow-git pin clear --force` and run `expflow-git pin init`"
        )
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return ""  # reported as malformed by the caller, without echoing bytes


def load_stored_hash(env: Mapping[str, str]) -> StoredHash | None:
    """The stored PIN hash: the pin.hash file first, then $EXPFLOW_PIN_HASH; None if neither.

    A hash in no known format raises ExpflowError (exit 2) naming only its source.
    """
    path = pin_file(env)
    from_file = _read_pin_file(path)
    if from_file is not None:
        scheme = scheme_of(from_file)
        if scheme is None:
            raise ExpflowError(
                f"the PIN hash file {path} is not in a format expflow-git can check; "
                "remove it with `expflow-git pin clear --force` and run `expflow-git pin init`"
            )
        return StoredHash(value=from_file, source=HashSource.FILE, path=path, scheme=scheme)
    from_env = env.get(ENV_PIN_HASH, "").strip()
    if from_env:
        scheme = scheme_of(from_env)
        if scheme is None:
            raise ExpflowError(
                f"${ENV_PIN_HASH} is set but is not a PIN hash expflow-git can check; "
                "unset it, or store a PIN in a file (which takes precedence) with "
                "`expflow-git pin init --force`"
            )
        return StoredHash(value=from_env, source=HashSource.ENV, scheme=scheme)
    return None


def save_hash(home: Path, hashed: str, *, overwrite: bool = True) -> Path:
    """Write `hashed` to home/pin.hash atomically (dir 0700, file 0600); return the path.
    `overwrite` False: a file there (one made meanwhile too) is kept (FileExistsError)."""
    if scheme_of(hashed) is None:
        # Never persist something check_pin would refuse later.
        raise ExpflowError("refusing to store a PIN hash in an unknown format")
    created = not home.exists()
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        _not_a_home(home, "; nothing changed")
        raise
    if created:
        # mkdir's mode is filtered by the umask; make the intent explicit. An
        # existing directory is left alone: it may be shared with other things.
        os.chmod(home, 0o700)
    path = home / PIN_FILE_NAME
    write_atomic(path, (hashed + "\n").encode("ascii"), mode=0o600, overwrite=overwrite)
    return path


def _not_a_home(home: Path, end: str) -> None:
    """Refuse (exit 2) `home`, where something other than a folder is in its place or in
    that of a folder above it, naming what: `EXPFLOW_HOME` a file made `pin init` say
    `<home>: File exists` (a hunter's find, issue 18 thirty-second pass). Returns when
    nothing is in the way (any more): the caller's own error stands. `end` ends the line."""
    from expflow_git.atomicfile import folder_in_the_way

    found = folder_in_the_way(home)
    if found is None:
        return
    part, kind = found
    where = "" if part == Path(os.path.abspath(home)) else f"{printable(str(part))} "
    raise ExpflowError(
        f"{printable(str(home))}: {where}is {kind}, not a folder (the PIN's folder, ${ENV_HOME} or "
        f"~/{DEFAULT_HOME_DIRNAME}){end}"
    )


def clear_hash(home: Path) -> bool:
    """Remove home/pin.hash; True if a file was removed, False if there was none."""
    try:
        (home / PIN_FILE_NAME).unlink()
    except FileNotFoundError:
        return False
    return True
