"""Which public keys `verify` trusts, and where each came from (docs/spec.md §6.4 item 1).

Keys come only from the verifier: `--public-key` files, `.expflow/keys/*.pub` at a
trusted ref that does not contain the verified commit, or an OpenSSH
allowed_signers file (see `allowed_signers.py`). Never from the report, never from
the commit being verified.
"""

from __future__ import annotations

import base64
import datetime as dt
import posixpath
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from expflow_git.errors import ExpflowError, printable
from expflow_git.report.signing import keyid, load_public_key, load_public_key_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from expflow_git.gitblobs import BlobReader
    from expflow_git.gitstore import Git

KEYS_DIR = ".expflow/keys"

# OpenSSH's public key types: a key of one but ssh-ed25519 (or a certificate) cannot
# verify a report, and is refused with a warning wherever a verifier gives it.
SSH_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ssh-dss",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        "rsa-sha2-256",
        "rsa-sha2-512",
    }
)


def other_key_type(key_type: str) -> bool:
    """An OpenSSH key type (a certificate's among them) other than plain ssh-ed25519."""
    return key_type != "ssh-ed25519" and (
        key_type in SSH_KEY_TYPES or key_type.endswith("-cert-v01@openssh.com")
    )


class KeyNotUsedWarning(UserWarning):
    """A key file at --trusted-ref that holds a key of another type than Ed25519."""


@dataclass(frozen=True)
class TrustedKey:
    """A public key the verifier trusts, who it stands for, and when (POSIX seconds)."""

    key: Ed25519PublicKey
    keyid: str
    source: str
    principal: str | None = None
    valid_after: int | None = None
    valid_before: int | None = None

    def name(self) -> str:
        """How a signer is shown: the principal and the fingerprint, or the fingerprint."""
        return f"{self.principal} ({self.keyid})" if self.principal else self.keyid

    def valid_at(self, when: int) -> bool:
        """Inside the key's validity window (OpenSSH: valid-after <= t <= valid-before)."""
        return (self.valid_after is None or when >= self.valid_after) and (
            self.valid_before is None or when <= self.valid_before
        )

    def window(self) -> str:
        parts = []
        if self.valid_after is not None:
            parts.append(f"valid-after {utc(self.valid_after)}")
        if self.valid_before is not None:
            parts.append(f"valid-before {utc(self.valid_before)}")
        return ", ".join(parts)


def utc(seconds: int) -> str:
    """POSIX seconds as the report spells times (`2026-11-20T10:00:00Z`)."""
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> int | None:
    """The report's `createdAt` back to POSIX seconds; None if it is not that shape."""
    try:
        when = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return int(when.replace(tzinfo=dt.timezone.utc).timestamp())


def from_files(paths: Sequence[str]) -> list[TrustedKey]:
    """`--public-key FILE`, each trusted without a principal or a time limit."""
    keys = []
    for path in paths:
        key = load_public_key(path)
        keys.append(TrustedKey(key, keyid(key), f"file {path}"))
    return keys


@dataclass(frozen=True)
class RefKey:
    """A key read at a trusted ref: the ref, the commit it was read at, and the oldest
    commit of the ref's first-parent line since which it has held the key (`_key_ages`)."""

    trusted: TrustedKey
    ref: str
    path: str
    read_at: str
    added_in: str | None

    def describe(self) -> str:
        added = self.added_in[:12] if self.added_in else "unknown"
        return (
            f"{self.trusted.keyid} from {self.ref}:{self.path} "
            f"(read at {self.read_at[:12]}, added in {added})"
        )


@dataclass(frozen=True)
class AtRef:
    """The keys read at a trusted ref, the `.pub` files below a sub-folder of
    `.expflow/keys` that were not read (each path as committed), and the files holding
    a key of another type than Ed25519, not trusted (path, the key's type)."""

    keys: list[RefKey]
    nested: list[str]
    other_types: list[tuple[str, str]] = field(default_factory=list)


def at_ref(
    git: Git, ref: str, *, verified_commit: str | None, warn: Callable[[str], None] | None = None
) -> AtRef:
    """`.expflow/keys/*.pub` as committed at `ref`: the folder's own files, never its
    sub-folders'. A file holding one key of another type than Ed25519 (an `ssh-rsa …`
    line, an RSA key in PEM) is told to `warn` (Python's warnings without one) and not
    trusted, as `--allowed-signers` refuses such a line: one team member's RSA key made
    every `verify --trusted-ref` exit 2 (an attacker's hunt, issue 18 twenty-eighth
    pass). Any other file that is no Ed25519 public key (an `ssh-ed25519` line that does
    not parse, a second line, a private key, an unknown type) still stops the run (exit
    2), as a malformed allowed_signers line does: it may be a key tampered with.

    The ref must not contain the verified commit (be it, or a descendant of it):
    such a ref holds every key the verified change, or a commit stacked on it,
    added; git cannot tell a reviewed merge from an author's own branch. Exit 2.
    """
    from expflow_git.gitblobs import BlobReader

    target = git.resolve_trusted(ref)
    if verified_commit is not None and contains(git, target.sha, verified_commit):
        raise ExpflowError(
            f"--trusted-ref {ref} contains the commit being verified "
            f"({verified_commit[:12]}); read keys at a ref without it, e.g. the branch "
            "the change is judged against, as it was before the change was merged"
        )
    # `ls-tree -r` lists the sub-folders too: a key moved to `keys/retired/` (or one
    # planted in any sub-folder) is no `.expflow/keys/*.pub` and is never trusted (an
    # attacker's hunt, issue 18 twenty-second pass); the caller warns of each.
    listed = [
        e
        for e in git.ls_tree(target.sha, paths=[KEYS_DIR])
        if e.path.endswith(".pub") and e.type == "blob" and e.mode != "120000"
    ]
    entries = [e for e in listed if posixpath.dirname(e.path) == KEYS_DIR]
    nested = [e.path for e in listed if posixpath.dirname(e.path) != KEYS_DIR]
    keys = []
    used = []
    other_types = []
    with BlobReader(git) as reader:
        for e in entries:
            data = reader.read(e.sha)
            try:
                key = load_public_key_bytes(data, source=f"{ref}:{e.path}")
            except ExpflowError:
                key_type = _other_type(data)
                if key_type is None:
                    raise
                other_types.append((e.path, key_type))
                message = (
                    f"{printable(ref)}:{printable(e.path)}: {key_type} keys are not supported "
                    "(only Ed25519); not trusted"
                )
                if warn is None:
                    warnings.warn(message, KeyNotUsedWarning, stacklevel=2)
                else:
                    warn(message)
                continue
            keys.append(TrustedKey(key, keyid(key), f"{ref}:{e.path}"))
            used.append(e)
        ages = _key_ages(git, reader, target.sha, {k.keyid for k in keys})
    found = [
        RefKey(k, ref, e.path, target.sha, ages.get(k.keyid))
        for k, e in zip(keys, used, strict=True)
    ]
    return AtRef(found, nested, other_types)


def _other_type(data: bytes) -> str | None:
    """The type of the one public key `data` holds when it is one of another type than
    Ed25519: a single `TYPE BASE64 [comment]` line of a known OpenSSH type (its key left
    unparsed, as an allowed_signers line's), or a PEM public key that parses. None for
    anything else."""
    text = data.strip()
    if text.startswith(b"-----BEGIN PUBLIC KEY-----") or text.startswith(
        b"-----BEGIN RSA PUBLIC KEY-----"
    ):
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            key = serialization.load_pem_public_key(text)
        except (ValueError, UnsupportedAlgorithm):
            return None
        return None if isinstance(key, Ed25519PublicKey) else "PEM " + _pem_kind(key)
    if not text or b"\n" in text or b"\r" in text:
        return None
    fields = text.split()
    word = fields[0].decode("ascii", "replace")
    if not (other_key_type(word) and len(fields) >= 2):
        return None
    # The key's blob names its own type first: an `ssh-rsa` word before an Ed25519 blob,
    # or before no key at all, is a file tampered with, not another type's key (a review).
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except ValueError:
        return None
    size = int.from_bytes(blob[:4], "big")
    return word if len(blob) >= 4 + size and blob[4 : 4 + size] == fields[0] else None


def _pem_kind(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    for kind, name in ((rsa.RSAPublicKey, "RSA"), (ec.EllipticCurvePublicKey, "ECDSA")):
        if isinstance(key, kind):
            return name
    return "DSA" if isinstance(key, dsa.DSAPublicKey) else "non-Ed25519"


def _key_ages(git: Git, reader: BlobReader, tip: str, wanted: set[str]) -> dict[str, str]:
    """For each key (by keyid) at `tip`: the oldest commit of `tip`'s first-parent line
    from which some `.expflow/keys/*.pub` has held it without a break. Its file was the
    measure, so a comment added to a key file, a mode changed or a file renamed made
    every older report unverifiable by it; and git's simplified `log -- PATH` follows
    the side parent a merge took the file from, so a key merged in at a link's commit,
    or put back by a merge after its removal, seemed older than it is (reviews, issue 18
    twenty-seventh pass). Walks the commits that changed the keys folder, newest first,
    asking each one's first parent for the keys it held."""
    ages: dict[str, str] = {}
    changes = [commit for commit, _ in git.log_changes(None, tip, [KEYS_DIR], first_parent=True)]
    pending = set(wanted)
    for commit in reversed(changes):  # (newest first)
        if not pending:
            break
        held = _keyids_at(git, reader, f"{commit}^")
        for kid in [k for k in pending if k not in held]:
            ages[kid] = commit
            pending.discard(kid)
    return ages


def _keyids_at(git: Git, reader: BlobReader, rev: str) -> set[str]:
    """The keyids of `.expflow/keys/*.pub` at `rev` (none where it is no commit: a root
    commit's parent, a shallow clone's cut)."""
    try:
        listed = git.ls_tree(rev, paths=[KEYS_DIR])
    except ExpflowError:
        return set()
    held = set()
    for e in listed:
        if posixpath.dirname(e.path) != KEYS_DIR or not e.path.endswith(".pub"):
            continue
        if e.type != "blob" or e.mode == "120000":
            continue
        try:
            held.add(keyid(load_public_key_bytes(reader.read(e.sha), source=e.path)))
        except ExpflowError:
            continue
    return held


def ref_holds(git: Git, ref: str, keys: Sequence[RefKey]) -> Callable[[str], list[TrustedKey]]:
    """For `verify --chain`: the keys read at `ref` a link's commit may not be verified
    by. A link about a commit the ref contains (CI's reports of main's commits) is
    verified only by keys the ref has held since a strict ancestor of that commit (their
    age: `_key_ages`): a key that commit, or a later one, added cannot vouch for it. REPORT's
    commit alone was held to `at_ref`'s rule, so a link signed by a key the ref added
    after the link's commit verified (an attacker's hunt, issue 18 twenty-seventh pass);
    a link whose commit the clone lacks is verified by none of them. `keys`: those
    `at_ref` read (the keyring's), not read again."""
    tip = git.resolve_trusted(ref).sha

    def held(commit: str) -> list[TrustedKey]:
        try:
            if not contains(git, tip, commit):
                return []
        except ExpflowError:
            return [k.trusted for k in keys]
        return [
            k.trusted
            for k in keys
            if k.added_in is None or k.added_in == commit or not git.is_ancestor(k.added_in, commit)
        ]

    return held


def contains(git: Git, tip: str, commit: str) -> bool:
    """Whether the trusted ref's tip `tip` holds `commit` (is it, or a descendant of it);
    ExpflowError (exit 2) where that cannot be told: `commit` is no commit of this clone,
    or a shallow clone's cut hides the answer."""
    if tip == commit:
        return True
    from expflow_git.gitstore import NotACommit

    try:
        git.commit_by_id(commit)
    except NotACommit as exc:
        # An annotated tag's id, which git peels to the commit it tags: a key that commit
        # added, compared with the tag's id, was taken as older and vouched for it (a
        # hunter's find, issue 18 thirty-sixth pass).
        raise ExpflowError(
            f"the report's commit {exc.message}: keys at --trusted-ref are read only for a commit"
        ) from None
    except ExpflowError as exc:
        # The report's own claim: a commit made up, or one this clone lacks, would pass
        # any ref, the author's own branch with its own key among them (an attacker's
        # hunt). Whether the ref holds the change cannot be told, so it is refused.
        raise ExpflowError(
            f"the report's {exc.message}: keys at --trusted-ref are read only for a commit "
            "the clone holds (fetch it, or give the key itself: "
            "`git show REF:.expflow/keys/NAME.pub > key.pub`, --public-key)"
        ) from None
    if git.is_ancestor(commit, tip):
        return True
    # Behind a shallow clone's cut an ancestor is no ancestor (the cut removes parents):
    # a "no" is sure only when the ref's history holds no cut. A ref that merged the
    # commit which added a key, read in a clone one commit deep, was taken for one
    # without it, and that key verified the commit's report (a hunter's find).
    if git.is_shallow() and not git.is_ancestor(tip, commit) and git.cuts_in_history(tip):
        # (a commit that descends from the tip is surely not in it: a pull request's)
        raise ExpflowError(
            f"this is a shallow clone and the history of the trusted ref ({tip[:12]}) is "
            f"cut, so whether it contains commit {commit[:12]} cannot be told; fetch the "
            "full history (`git fetch --unshallow`, or actions/checkout with "
            "`fetch-depth: 0`)"
        )
    return False
