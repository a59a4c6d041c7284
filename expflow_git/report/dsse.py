"""DSSE v1 envelopes: the pre-authentication encoding, deterministic bytes, strict decoding."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import NoReturn

from expflow_git.errors import ExitCode, ExpflowError
from expflow_git.jsonstrict import type_name
from expflow_git.report.canonical import canonical_json

PAYLOAD_TYPE = "application/vnd.in-toto+json"

_ENVELOPE_KEYS = frozenset({"payload", "payloadType", "signatures"})
_SIGNATURE_KEYS = frozenset({"keyid", "sig"})
# Standard base64 (RFC 4648 section 4) with its padding, nothing else: one spelling
# per byte string, so no byte of a report can change while what it says stays
# (the URL-safe alphabet, missing padding, whitespace or non-zero unused bits
# would each be a second spelling of the same bytes). One character class and at most
# two `=`, the length a multiple of 4 checked apart: a repeated group of four,
# `(?:[A-Za-z0-9+/]{4})*`, kept state per repetition in Python's re, ~29 bytes per
# character (an 80 MB report took 2.5 GB before any signature was looked at; a
# hunter's find, issue 18 thirty-first pass).
_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# A keyid is a hint (ours is a `SHA256:` fingerprint); printable ASCII without
# spaces and bounded, so that a hostile one cannot forge a line of output.
_KEYID_RE = re.compile(r"[\x21-\x7e]{0,256}")
# The tool writes one signature; a few more leave room for co-signers. Past that a
# report is refused before any entry is decoded or any signature checked: each costs
# an Ed25519 verification per trusted key (an attacker's hunt, issue 18 twenty-second
# pass: 20,000 entries, 724 KB, took 20 s).
MAX_SIGNATURES = 16


@dataclass(frozen=True)
class Signature:
    """One DSSE signature: a key-id hint and the raw signature bytes."""

    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope with its payload and signatures already base64-decoded."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: the exact bytes that get signed."""
    type_bytes = payload_type.encode("utf-8")
    return b"".join(
        [
            b"DSSEv1 ",
            str(len(type_bytes)).encode("ascii"),
            b" ",
            type_bytes,
            b" ",
            str(len(payload)).encode("ascii"),
            b" ",
            payload,
        ]
    )


def encode_envelope(env: Envelope) -> bytes:
    """Serialise `env` as RFC 8785 canonical JSON plus a newline (same input, same bytes)."""
    doc = {
        "payload": _b64encode(env.payload),
        "payloadType": env.payload_type,
        "signatures": [{"keyid": s.keyid, "sig": _b64encode(s.sig)} for s in env.signatures],
    }
    return canonical_json(doc) + b"\n"


def decode_envelope(obj: object, *, source: str) -> Envelope:
    """Build an Envelope from an already strictly-parsed JSON value.

    Any deviation from the DSSE shape raises ExpflowError (exit 1) whose one-line
    message starts with `source` and names what is wrong.
    """
    if not isinstance(obj, dict):
        _fail(source, f"envelope must be a JSON object, got {type_name(obj)}")
    _check_keys(obj, _ENVELOPE_KEYS, source=source, where="envelope")
    payload_type = obj["payloadType"]
    if not isinstance(payload_type, str):
        _fail(source, f"payloadType must be a string, got {type_name(payload_type)}")
    payload = _b64decode(obj["payload"], source=source, where="payload")
    raw_sigs = obj["signatures"]
    if not isinstance(raw_sigs, list):
        _fail(source, f"signatures must be an array, got {type_name(raw_sigs)}")
    if len(raw_sigs) > MAX_SIGNATURES:
        _fail(
            source,
            f"{len(raw_sigs)} signatures, more than {MAX_SIGNATURES} (the tool writes one)",
        )
    sigs: list[Signature] = []
    # Where each keyid and signature was first seen: one look-up per entry, where a
    # comparison with every earlier one grew with the square of their number.
    keyids: dict[str, int] = {}
    signed: dict[bytes, int] = {}
    for i, raw in enumerate(raw_sigs):
        where = f"signatures[{i}]"
        if not isinstance(raw, dict):
            _fail(source, f"{where} must be an object, got {type_name(raw)}")
        _check_keys(raw, _SIGNATURE_KEYS, source=source, where=where)
        keyid = raw["keyid"]
        if not isinstance(keyid, str):
            _fail(source, f"{where}.keyid must be a string, got {type_name(keyid)}")
        if not _KEYID_RE.fullmatch(keyid):
            _fail(source, f"{where}.keyid must be at most 256 printable ASCII characters")
        sig = _b64decode(raw["sig"], source=source, where=f"{where}.sig")
        # A repeated entry changes the bytes of the report and nothing it says; one
        # key signs once.
        if keyid in keyids:
            _fail(source, f"{where} repeats the keyid of signatures[{keyids[keyid]}]")
        if sig in signed:
            _fail(source, f"{where} repeats the signature of signatures[{signed[sig]}]")
        keyids[keyid] = signed[sig] = i
        sigs.append(Signature(keyid=keyid, sig=sig))
    return Envelope(payload_type=payload_type, payload=payload, signatures=tuple(sigs))


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(value: object, *, source: str, where: str) -> bytes:
    """Decode standard, padded, canonical base64; reject every other spelling."""
    if not isinstance(value, str):
        _fail(source, f"{where} must be a base64 string, got {type_name(value)}")
    if len(value) % 4 or not _B64_RE.fullmatch(value):
        _fail(
            source,
            f"{where} is not valid base64 (only the standard alphabet with padding is accepted)",
        )
    data = base64.b64decode(value, validate=True)
    # Unused low bits set in the last character: a second spelling of the same bytes,
    # which would let the envelope change without the payload. Only the last quantum
    # can have unused bits, so only it is encoded again (not a second copy of it all).
    if value and base64.b64encode(data[-(len(data) % 3 or 3) :]) != value[-4:].encode():
        _fail(source, f"{where} is not valid base64 (non-canonical final character)")
    return data


def _check_keys(
    obj: dict[object, object], expected: frozenset[str], *, source: str, where: str
) -> None:
    unknown = sorted(repr(k) for k in obj if k not in expected)
    if unknown:
        _fail(source, f"{where} has unknown key(s) {', '.join(_short(u) for u in unknown)}")
    missing = sorted(k for k in expected if k not in obj)
    if missing:
        _fail(source, f"{where} is missing key(s) {', '.join(repr(k) for k in missing)}")


def _short(text: str, limit: int = 40) -> str:
    # Keys come from an untrusted file; keep the error to one readable line.
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(source: str, message: str) -> NoReturn:
    raise ExpflowError(f"{source}: {message}", code=ExitCode.FAILED)
