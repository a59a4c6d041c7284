"""A report saved to a file, read back: to render it, or to chain a new report to it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from expflow_git.errors import ExitCode, ExpflowError, printable
from expflow_git.report.dsse import Envelope
from expflow_git.report.verify import MAX_REPORT_BYTES, ReportError, parse_report


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


def previous_link(path: str) -> dict[str, Any]:
    """What a new report records of the previous one it is chained to (`audit --previous`)."""
    envelope, statement = parse_saved(read_bytes(path), source=path)
    seq = statement["predicate"]["chain"]["seq"]
    if seq >= MAX_SEQ:  # the next one would leave JSON's safe integers: a traceback, exit 1
        raise ExpflowError(f"{printable(path)}: chain seq {seq} leaves no room for a next report")
    return {
        "seq": seq,
        "payloadSha256": hashlib.sha256(envelope.payload).hexdigest(),
        "gitCommit": statement["predicate"]["repo"]["commit"],
    }


def claimed_commit(data: bytes) -> str | None:
    """The commit a report claims, to keep --trusted-ref away from it (not trusted otherwise)."""
    try:
        _, statement = parse_report(data, source="report")
    except ReportError:
        return None
    commit = statement["predicate"]["repo"]["commit"]
    return commit if isinstance(commit, str) else None
