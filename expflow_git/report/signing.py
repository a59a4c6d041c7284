"""Ed25519 keys for signing reports: loading, key ids, signing, verifying, generating.

Error messages name the file or source and say what is wrong, but never echo
any part of the key: they end up in CI logs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import struct
from typing import Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from expflow_git.atomicfile import write_atomic
from expflow_git.errors import ExpflowError, printable

KEY_COMMENT = "expflow-git"
# A key file is a few hundred bytes; anything far larger is not a key, and we
# would rather not read a multi-gigabyte file by mistake.
_MAX_KEY_FILE = 64 * 1024
_OPENSSH_PRIVATE = b"-----BEGIN OPENSSH PRIVATE KEY-----"
_PEM_BEGIN = b"-----BEGIN "
_PEM_END = b"-----END "
_SSH_ED25519 = b"ssh-ed25519"


def load_private_key(
    path: str | os.PathLike[str], *, source: str | None = None
) -> Ed25519PrivateKey:
    """Load an unencrypted Ed25519 private key file (PEM PKCS#8 or OpenSSH format); the
    messages name it `source` (its path when not given)."""
    name = os.fspath(path)
    source = source or name
    return load_private_key_bytes(_read_key_file(name, source), source=source)


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Load an Ed25519 public key file (PEM SubjectPublicKeyInfo or one `ssh-ed25519 …` line)."""
    name = os.fspath(path)
    return load_public_key_bytes(_read_key_file(name), source=name)


def load_private_key_bytes(data: bytes, *, source: str) -> Ed25519PrivateKey:
    """Parse an unencrypted Ed25519 private key given as PEM PKCS#8 or OpenSSH text."""
    text = data.strip()
    if not text:
        raise ExpflowError(f"{source}: empty private key")
    # The cryptography library's own messages are not relied on: they are not
    # written for our users and we cannot vouch that they never quote input.
    key: object
    try:
        if text.startswith(_OPENSSH_PRIVATE):
            key = serialization.load_ssh_private_key(text, password=None)
        elif text.startswith(_PEM_BEGIN):
            key = serialization.load_pem_private_key(text, password=None)
        else:
            raise ExpflowError(
                f"{source}: not a private key (expected PEM PKCS#8 or OpenSSH private key)"
            )
    except TypeError:
        # Raised by both loaders when the key needs a password.
        raise ExpflowError(f"{source}: private key is encrypted; use an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ExpflowError(
            f"{source}: cannot parse private key (corrupt or unsupported format)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ExpflowError(f"{source}: private key is not Ed25519")
    return key


def load_public_key_bytes(data: bytes, *, source: str) -> Ed25519PublicKey:
    """Parse an Ed25519 public key given as PEM SubjectPublicKeyInfo or an OpenSSH line."""
    text = data.strip()
    if not text:
        raise ExpflowError(f"{source}: empty public key")
    if b"PRIVATE KEY-----" in text:
        # Catch the likely slip (passing the private half) with a clear message.
        raise ExpflowError(f"{source}: this is a private key; pass the public key (.pub)")
    key: object
    try:
        if text.startswith(_PEM_BEGIN):
            # One block and nothing after it, as an OpenSSH key is one line: the loader
            # reads the first block, so a second key, an `ssh-ed25519` line or any text
            # after it was silently ignored, where a second line is refused (an
            # attacker's hunt, issue 18 thirty-eighth pass). The block's own END line,
            # whole, is the last: one that only started with `-----END ` let a second
            # key hide before any END line, or text follow on it (thirty-ninth pass).
            lines = text.split(b"\n")
            label = lines[0].strip().removeprefix(_PEM_BEGIN)
            if (
                text.count(_PEM_BEGIN) != 1
                or text.count(_PEM_END) != 1
                or lines[-1].strip() != _PEM_END + label
            ):
                raise ExpflowError(
                    f"{source}: expected exactly one public key (one PEM block, nothing after it)"
                )
            key = serialization.load_pem_public_key(text)
        elif text.startswith((_SSH_ED25519 + b" ", _SSH_ED25519 + b"\t")):
            # (a space or a tab after the type, as OpenSSH's sshkey_read splits fields,
            # and `--allowed-signers` reads them: a tab was "not an Ed25519 public key")
            if b"\n" in text or b"\r" in text:
                raise ExpflowError(f"{source}: expected exactly one public key line")
            key = serialization.load_ssh_public_key(_ssh_key_line(text, source))
        else:
            raise ExpflowError(
                f"{source}: not an Ed25519 public key (expected PEM or an 'ssh-ed25519 ...' line)"
            )
    except (ValueError, UnsupportedAlgorithm):
        raise ExpflowError(
            f"{source}: cannot parse public key (corrupt or unsupported format)"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ExpflowError(f"{source}: public key is not Ed25519")
    return key


def _ssh_key_line(text: bytes, source: str) -> bytes:
    """`ssh-ed25519 BLOB` with BLOB read as OpenSSH's sshkey_read reads it: up to a space
    or a tab, its other blanks (vertical tab, form feed) skipped as b64_pton skips them,
    and then strict base64 in its one spelling. cryptography's loader decodes base64
    loosely, dropping any character outside the alphabet: `KEY!!`, `KEY""`, `KEY\\`,
    `KEY=` and `KEY\\vjunk` were keys, which ssh-keygen refuses ("invalid key"; a
    review, issue 18 thirty-first pass)."""
    rest = text[len(_SSH_ED25519) :].lstrip(b" \t")
    blob = rest[: _field_end(rest)].translate(None, b"\v\f")
    try:
        canonical = base64.b64encode(base64.b64decode(blob, validate=True)) == blob
    except ValueError:  # binascii.Error
        canonical = False
    if not blob or not canonical:
        raise ExpflowError(
            f"{source}: cannot parse public key (its base64 is not strict and canonical)"
        )
    return _SSH_ED25519 + b" " + blob


def _field_end(data: bytes) -> int:
    """Where a field ends: at the first space or tab, as OpenSSH's strcspn(" \\t")."""
    ends = [i for i in (data.find(b" "), data.find(b"\t")) if i >= 0]
    return min(ends, default=len(data))


def keyid(pub: Ed25519PublicKey) -> str:
    """The key's `SHA256:` fingerprint, exactly as `ssh-keygen -lf key.pub` prints it."""
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    # The SSH wire blob (RFC 8709): string "ssh-ed25519" || string raw-key.
    blob = _ssh_string(_SSH_ED25519) + _ssh_string(raw)
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


class SigningKey(Protocol):
    """What signs a report: an Ed25519PrivateKey, or a key held by ssh-agent."""

    def public_key(self) -> Ed25519PublicKey: ...

    def sign(self, data: bytes | memoryview) -> bytes: ...


def sign(priv: SigningKey, data: bytes | memoryview) -> bytes:
    """Ed25519 signature over `data` (for reports, `data` is the DSSE PAE)."""
    return priv.sign(data)


def verify_signature(pub: Ed25519PublicKey, sig: bytes, data: bytes) -> bool:
    """True iff `sig` is a valid signature of `data` by `pub`; never raises for a bad signature."""
    try:
        pub.verify(sig, data)
    except InvalidSignature:
        return False
    return True


def keygen(out: str | os.PathLike[str]) -> str:
    """Write a new key pair to `out` (OpenSSH private, 0600) and `out.pub` (0644); return its keyid.

    Refuses to overwrite either file.
    """
    priv_path = os.fspath(out)
    pub_path = priv_path + ".pub"
    from expflow_git.atomicfile import names_a_folder

    if not priv_path or names_a_folder(priv_path):
        # Refused before anything is written, as `--out` and `--html` are: `newdir/` wrote
        # the private key as `newdir`, then failed on `newdir/.pub` and could not remove
        # it (a hunter's find, issue 18 twenty-fourth pass).
        raise ExpflowError(f"{printable(priv_path)}: names a folder, not a key file")
    for p in (priv_path, pub_path):
        if os.path.lexists(p):
            raise ExpflowError(f"{printable(p)}: already exists; refusing to overwrite a key file")
    priv = Ed25519PrivateKey.generate()
    pub = priv.public_key()
    priv_bytes = priv.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    pub_line = pub.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    pub_bytes = pub_line + b" " + KEY_COMMENT.encode("ascii") + b"\n"
    try:
        for path, data, mode in ((priv_path, priv_bytes, 0o600), (pub_path, pub_bytes, 0o644)):
            try:
                write_atomic(path, data, mode=mode, overwrite=False)
            except OSError as exc:
                raise _not_written(path, exc) from None
        return keyid(pub)
    except BaseException:
        # Both files or neither, whatever stopped keygen (the .pub's write failed, a
        # Ctrl-C): a private key left without its public half made a rerun refuse
        # "already exists" (only an OSError was cleaned up; a hunter's find).
        for path, data in ((pub_path, pub_bytes), (priv_path, priv_bytes)):
            _remove_written(path, data)
        raise


def _remove_written(path: str, data: bytes) -> None:
    """Remove the key file at `path` if it is the one keygen wrote (holds `data`, a key
    made just now): never a file another process put there meanwhile."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return
        with open(path, "rb") as fh:
            if fh.read(len(data) + 1) == data:
                os.unlink(path)
    except OSError:
        pass


def _not_written(path: str, exc: OSError) -> ExpflowError:
    """Why the key file `path` was not written, one line naming it. A FileExistsError
    names the file, or a folder on the way to it that is something else (a dangling
    link, a file): `dang/k` with `dang -> /nonexistent` said "already exists; refusing
    to overwrite a key file" of a path where nothing was (a review, issue 18
    twenty-fifth pass)."""
    shown = printable(path)
    if isinstance(exc, FileExistsError):
        name = exc.filename
        if name is None or os.path.normpath(os.fsdecode(name)) == os.path.normpath(path):
            return ExpflowError(f"{shown}: already exists; refusing to overwrite a key file")
        return ExpflowError(
            f"{shown}: cannot write key: {printable(os.fsdecode(name))} is not a folder"
        )
    return ExpflowError(f"{shown}: cannot write key: {exc.strerror or exc}")


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _read_key_file(path: str, source: str | None = None) -> bytes:
    """The file's bytes; the messages name it `source` (its path when not given)."""
    source = source or path
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_KEY_FILE + 1)
    except FileNotFoundError:
        raise ExpflowError(f"{source}: key file not found") from None
    except IsADirectoryError:
        raise ExpflowError(f"{source}: is a directory, not a key file") from None
    except (OSError, ValueError) as exc:  # (ValueError: a NUL in the name)
        reason = exc.strerror if isinstance(exc, OSError) else "not a file name"
        raise ExpflowError(f"{source}: cannot read key file: {reason}") from None
    if len(data) > _MAX_KEY_FILE:
        raise ExpflowError(f"{source}: too large to be a key file")
    return data
