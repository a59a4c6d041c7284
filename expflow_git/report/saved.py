"""A report saved to a file, read back: to render it, or to chain a new report to it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expflow_git.errors import ExitCode, ExpflowError, printable
from expflow_git.report.dsse import PAYLOAD_TYPE, Envelope, encode_envelope
from expflow_git.report.signing import keyid
from expflow_git.report.verify import (
    MAX_REPORT_BYTES,
    Options,
    ReportError,
    parse_report,
    signature_check,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from expflow_git.gitstore import Git


def read_bytes(path: str) -> bytes:
    """The file's bytes; one that cannot be read is a usage error naming it, and one over
    the report size cap is refused once the cap is read (`/dev/zero` never ends)."""
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(MAX_REPORT_BYTES + 1)
    except FileNotFoundError:
        raise ExpflowError(f"{path}: no such file") from None
    except OSError as exc:
        raise ExpflowError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_REPORT_BYTES:
        raise ExpflowError(
            f"{path}: over {MAX_REPORT_BYTES >> 20} MiB, larger than any report",
            code=ExitCode.FAILED,
        )
    return data


def parse_saved(data: bytes, *, source: str) -> tuple[Envelope, dict[str, Any]]:
    """The envelope and statement of a report's bytes; a malformed report is exit 1."""
    try:
        return parse_report(data, source=source)
    except ReportError as exc:
        raise ExpflowError(str(exc), code=ExitCode.FAILED) from None


MAX_SEQ = 2**53 - 1  # the largest integer canonical JSON (RFC 8785) writes exactly


def previous_link(
    path: str, *, keys: Sequence[Ed25519PublicKey] = (), signing: bool = True
) -> dict[str, Any]:
    """What a new report records of the previous one it is chained to (`audit --previous`).

    With `keys` (the signing key's public half, and any `--previous-key`: the operator's
    keys, never one the report names), the previous report must be signed and every
    signature of it verify with one of them, as `verify --chain` holds each link to its
    trusted keys: the audit signed a link that could never verify (a hunter's find, issue
    18 thirty-third pass). Its signatures are checked before its payload is read.
    Whether its commit may come before the audited one is `refuse_unless_ancestor`'s.
    Not `signing` (an unsigned audit), an unsigned previous report is taken: verify takes
    an unsigned chain with --allow-unsigned."""
    data = read_bytes(path)
    shown = printable(path)
    if keys:
        # (One that is no envelope at all is refused below.)
        envelope, line = signature_check(data, source=path, options=Options(public_keys=keys))
        if envelope is not None and not envelope.signatures and signing:
            raise ExpflowError(
                f"{shown}: the previous report is UNSIGNED, so a signed report chained to it "
                "would not verify (`verify --chain`); chain to a signed report, or start a "
                "new chain (audit without --previous)"
            )
        if envelope is not None and envelope.signatures and not line.ok:
            raise ExpflowError(
                f"{shown}: the previous report does not verify with "
                f"{'the signing key or ' if signing else ''}a --previous-key "
                f"({_keyids(keys)}; {line.check}: {line.detail}), so the "
                "link would not verify (`verify --chain`); give the key that signed it "
                "with --previous-key (a rotated key), or start a new chain (audit without "
                "--previous)"
            )
    try:
        envelope, statement = parse_report(data, source=path)
        if envelope.payload_type != PAYLOAD_TYPE:  # (checked above only for a signed one)
            raise ReportError(
                f"payloadType is {printable(envelope.payload_type)!r}, expected {PAYLOAD_TYPE!r}"
            )
        if encode_envelope(envelope) != data:
            # The envelope's canonical bytes, as `verify` holds every link to (§6.4 item
            # 1): a previous report pretty-printed, cut of its final newline or with its
            # keys reordered was chained to, and `verify --chain` refused that file (an
            # attacker's hunt, issue 18 forty-second pass). The decoding is one to one
            # (standard, padded, canonical base64), so the bytes encoded again are the
            # canonical ones.
            raise ReportError(
                "its envelope is not in canonical form (whitespace, key order, escapes or "
                "the final newline were changed)"
            )
    except ReportError as exc:
        # Exit 2, naming the file, as for a previous report whose signature fails: one that
        # is no report (a download cut short, a payload not canonical or breaking the
        # schema) was exit 1, as if the audited data failed, and the payload's problems
        # did not name the file (an attacker's hunt, issue 18 thirty-eighth pass).
        problem = str(exc).removeprefix(f"{path}: ")
        raise ExpflowError(
            f"{shown}: the previous report cannot be read ({printable(problem)}), so no "
            "link to it would verify (`verify --chain`); chain to a report the audit wrote, "
            "or start a new chain (audit without --previous)"
        ) from None
    seq = statement["predicate"]["chain"]["seq"]
    if seq >= MAX_SEQ:  # the next one would leave JSON's safe integers: a traceback, exit 1
        raise ExpflowError(f"{shown}: chain seq {seq} leaves no room for a next report")
    return {
        "seq": seq,
        "payloadSha256": hashlib.sha256(envelope.payload).hexdigest(),
        "gitCommit": statement["predicate"]["repo"]["commit"],
    }


def _keyids(keys: Sequence[Ed25519PublicKey]) -> str:
    return ", ".join(dict.fromkeys(keyid(k) for k in keys))


def refuse_unless_ancestor(git: Git, path: str, link: Mapping[str, Any], commit: str) -> None:
    """Exit 2 unless the commit of the previous report (`link`, read from `path`) is in
    the repository and an ancestor of `commit` (or `commit` itself: a commit audited
    again), the rule `verify --chain` holds each link to (chain._follows, the same
    `is_ancestor`): the audit signed a link `verify --chain` always refused."""
    from expflow_git.gitstore import NotACommit

    before = link["gitCommit"]
    shown = printable(path)
    try:
        git.commit_by_id(before)  # (a tag's id names no commit, though git peels it)
        follows = git.is_ancestor(before, commit)
    except NotACommit as exc:
        raise ExpflowError(
            f"{shown}: the previous report's commit {exc.message}, so the link would not "
            "verify (`verify --chain`); start a new chain (audit without --previous)"
        ) from None
    except ExpflowError:
        follows = None
    if not follows and git.is_shallow():
        # Behind the clone's cut, an ancestor is "not in this repository", or once
        # fetched "not an ancestor" (actions/checkout clones one commit deep); a "yes" is
        # sure, the cut removes parents, never adds them (reviews).
        raise ExpflowError(
            f"{shown}: this is a shallow clone, and the previous report's commit "
            f"{printable(before[:12])} is not in the history it holds; fetch the full "
            "history (`git fetch --unshallow`, or actions/checkout with `fetch-depth: 0`)"
        )
    if follows is None:
        raise ExpflowError(
            f"{shown}: the previous report's commit {printable(before[:12])} is not in this "
            "repository, so the link would not verify (`verify --chain`); fetch it, or "
            "start a new chain (audit without --previous)"
        )
    if not follows:
        raise ExpflowError(
            f"{shown}: the previous report's commit {before[:12]} is not an ancestor of the "
            f"audited commit {commit[:12]}, so the link would not verify (`verify --chain`); "
            "chain to a report of an ancestor, or start a new chain (audit without --previous)"
        )
