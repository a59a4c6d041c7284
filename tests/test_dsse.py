"""DSSE envelopes: PAE known answer, deterministic encoding, strict decoding."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expflow_git.errors import ExitCode, ExpflowError
from expflow_git.report.dsse import (
    PAYLOAD_TYPE,
    Envelope,
    Signature,
    decode_envelope,
    encode_envelope,
    pae,
)

SRC = "reports/r1.json"


def _env(payload: bytes = b'{"a":1}', sigs: tuple[Signature, ...] = ()) -> Envelope:
    return Envelope(payload_type=PAYLOAD_TYPE, payload=payload, signatures=sigs)


def _good_obj() -> dict[str, Any]:
    return {
        "payload": base64.b64encode(b"hello").decode(),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": "SHA256:abc", "sig": base64.b64encode(b"\xfb\xff").decode()}],
    }


def _reject(obj: object, match: str) -> ExpflowError:
    with pytest.raises(ExpflowError, match=match) as info:
        decode_envelope(obj, source=SRC)
    err = info.value
    assert err.code == ExitCode.FAILED
    assert str(err).startswith(f"{SRC}: ")
    assert "\n" not in str(err)
    return err


# --- PAE -------------------------------------------------------------------


def test_pae_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("é", b"") == b"DSSEv1 2 \xc3\xa9 0 "


def test_pae_is_unambiguous() -> None:
    # Moving a space between type and payload must change the encoding.
    assert pae("a b", b"c") != pae("a", b"b c")


# --- encoding ----------------------------------------------------------------


def test_encode_is_canonical_and_deterministic() -> None:
    env = _env(b"hi", (Signature("k1", b"\x00\x01"), Signature("k2", b"\xff")))
    out = encode_envelope(env)
    assert out == (
        b'{"payload":"aGk=","payloadType":"application/vnd.in-toto+json",'
        b'"signatures":[{"keyid":"k1","sig":"AAE="},{"keyid":"k2","sig":"/w=="}]}\n'
    )
    assert (
        encode_envelope(_env(b"hi", (Signature("k1", b"\x00\x01"), Signature("k2", b"\xff"))))
        == out
    )


def test_unsigned_envelope_has_empty_signature_list() -> None:
    assert json.loads(encode_envelope(_env()))["signatures"] == []


@given(
    payload=st.binary(max_size=200),
    ptype=st.text(max_size=40),
    sigs=st.lists(
        st.tuples(
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20),
            st.binary(max_size=80),
        ),
        max_size=3,
        unique_by=(lambda s: s[0], lambda s: s[1]),
    ),
)
def test_round_trip(payload: bytes, ptype: str, sigs: list[tuple[str, bytes]]) -> None:
    env = Envelope(ptype, payload, tuple(Signature(k, s) for k, s in sigs))
    raw = encode_envelope(env)
    assert raw.endswith(b"\n")
    decoded = decode_envelope(json.loads(raw), source=SRC)
    assert decoded == env
    assert encode_envelope(decoded) == raw


# --- one spelling per byte string (issue 14 item 2) -------------------------------


@pytest.mark.parametrize("data", [b"", b"\xfb", b"\xfb\xff", b"\xfb\xff\xbf", b"\xfa\xfb\xfc\xfd"])
def test_accepts_standard_padded_base64_only(data: bytes) -> None:
    obj = _good_obj()
    obj["payload"] = base64.b64encode(data).decode()
    obj["signatures"][0]["sig"] = base64.b64encode(data).decode()
    env = decode_envelope(obj, source=SRC)
    assert env.payload == data and env.signatures[0].sig == data
    others = {
        base64.b64encode(data).decode().rstrip("="),
        base64.urlsafe_b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
    } - {base64.b64encode(data).decode()}
    for encoded in others:
        for field in ("payload", "sig"):
            obj = _good_obj()
            if field == "payload":
                obj["payload"] = encoded
            else:
                obj["signatures"][0]["sig"] = encoded
            _reject(obj, r"is not valid base64")


def test_duplicate_signature_entries_are_refused() -> None:
    obj = _good_obj()
    obj["signatures"] = [obj["signatures"][0], dict(obj["signatures"][0])]
    _reject(obj, r"signatures\[1\] repeats the keyid of signatures\[0\]")
    obj = _good_obj()
    obj["signatures"] = [obj["signatures"][0], {**obj["signatures"][0], "keyid": "other"}]
    _reject(obj, r"signatures\[1\] repeats the signature of signatures\[0\]")


def test_a_repeat_names_the_entry_it_repeats() -> None:
    sigs = [{"keyid": f"k{i}", "sig": base64.b64encode(bytes([i])).decode()} for i in range(4)]
    obj = {**_good_obj(), "signatures": [*sigs, {**sigs[1], "sig": "AAAA"}]}
    _reject(obj, r"signatures\[4\] repeats the keyid of signatures\[1\]")
    obj = {**_good_obj(), "signatures": [*sigs, {**sigs[2], "keyid": "k9"}]}
    _reject(obj, r"signatures\[4\] repeats the signature of signatures\[2\]")


def test_more_signatures_than_the_cap_are_refused_before_any_is_read() -> None:
    """An attacker's hunt, issue 18 twenty-second pass: 20,000 entries took 20 s to compare.
    An entry past the cap is not even an object: the count alone refuses the envelope."""
    sigs: list[object] = [
        {"keyid": f"k{i}", "sig": base64.b64encode(bytes([i])).decode()} for i in range(16)
    ]
    assert len(decode_envelope({**_good_obj(), "signatures": sigs}, source=SRC).signatures) == 16
    too_many = r"^reports/r1\.json: 17 signatures, more than 16 \(the tool writes one\)$"
    _reject({**_good_obj(), "signatures": [*sigs, None]}, too_many)


@pytest.mark.parametrize("keyid", ["a b", "x\n::error::forged", "\u00e9", "k" * 257])
def test_keyids_are_bounded_printable_ascii(keyid: str) -> None:
    obj = _good_obj()
    obj["signatures"][0]["keyid"] = keyid
    _reject(obj, r"keyid must be at most 256 printable ASCII characters")


# --- base64 strictness -----------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "aGVs bG8=",  # space: the stdlib's lenient decoder would drop it
        "aGVsbG8=\n",  # trailing newline
        "aGVs\nbG8=",
        "aGVsbG8*",
        "aGVsbG8=!",
        "aGVs=bG8",  # padding in the middle
        "aGVsbG8===",  # too much padding
        "aGVsbG=",  # padding that does not complete a quantum
        "a",  # one character cannot encode any byte
        "aGVsb",
        "+-//",  # mixes the two alphabets
        "QR==",  # non-zero unused bits: a second spelling of "A"
        "QR",
        "aGVsbG9=",  # ditto for two bytes
        "aGVsbG8é",
    ],
)
@pytest.mark.parametrize("field", ["payload", "sig"])
def test_rejects_invalid_base64(bad: str, field: str) -> None:
    obj = _good_obj()
    if field == "payload":
        obj["payload"] = bad
        _reject(obj, r"payload is not valid base64")
    else:
        obj["signatures"][0]["sig"] = bad
        _reject(obj, r"signatures\[0\]\.sig is not valid base64")


def test_canonical_spelling_of_same_bytes_is_accepted() -> None:
    obj = _good_obj()
    obj["payload"] = "QQ=="
    assert decode_envelope(obj, source=SRC).payload == b"A"


# --- envelope shape ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value,kind",
    [
        ([], "array"),
        ("x", "string"),
        (None, "null"),
        (3, "number"),
        (True, "boolean"),
    ],
)
def test_rejects_non_object(value: object, kind: str) -> None:
    _reject(value, f"envelope must be a JSON object, got {kind}")


def test_rejects_unknown_key() -> None:
    obj = _good_obj()
    obj["extra"] = 1
    _reject(obj, "envelope has unknown key\\(s\\) 'extra'")


def test_unknown_key_message_stays_one_line() -> None:
    obj = _good_obj()
    obj["evil\nkey" + "x" * 100] = 1
    err = _reject(obj, "unknown key")
    assert len(str(err)) < 120


@pytest.mark.parametrize("key", ["payload", "payloadType", "signatures"])
def test_rejects_missing_key(key: str) -> None:
    obj = _good_obj()
    del obj[key]
    _reject(obj, f"envelope is missing key\\(s\\) '{key}'")


@pytest.mark.parametrize("value", [None, 1, ["x"], {"a": "b"}])
def test_rejects_non_string_payload_type(value: object) -> None:
    obj = _good_obj()
    obj["payloadType"] = value
    _reject(obj, "payloadType must be a string")


@pytest.mark.parametrize("value", [None, 1, ["eA=="]])
def test_rejects_non_string_payload(value: object) -> None:
    obj = _good_obj()
    obj["payload"] = value
    _reject(obj, "payload must be a base64 string")


@pytest.mark.parametrize("value", [None, {}, "sigs", 0])
def test_rejects_signatures_not_a_list(value: object) -> None:
    obj = _good_obj()
    obj["signatures"] = value
    _reject(obj, "signatures must be an array")


@pytest.mark.parametrize("value", [None, "sig", ["a"], 1])
def test_rejects_signature_not_an_object(value: object) -> None:
    obj = _good_obj()
    obj["signatures"].append(value)
    _reject(obj, r"signatures\[1\] must be an object")


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda s: s.pop("keyid"), r"signatures\[0\] is missing key\(s\) 'keyid'"),
        (lambda s: s.pop("sig"), r"signatures\[0\] is missing key\(s\) 'sig'"),
        (lambda s: s.update(extra=1), r"signatures\[0\] has unknown key\(s\) 'extra'"),
        (lambda s: s.update(keyid=1), r"signatures\[0\]\.keyid must be a string"),
        (lambda s: s.update(keyid=None), r"signatures\[0\]\.keyid must be a string"),
        (lambda s: s.update(sig=None), r"signatures\[0\]\.sig must be a base64 string"),
        (lambda s: s.update(sig=[]), r"signatures\[0\]\.sig must be a base64 string"),
    ],
)
def test_rejects_malformed_signature(mutate: Any, match: str) -> None:
    obj = _good_obj()
    mutate(obj["signatures"][0])
    _reject(obj, match)


def test_decode_keeps_payload_type_as_given() -> None:
    # Checking the type against PAYLOAD_TYPE is the verifier's verdict, not a parse error.
    obj = _good_obj()
    obj["payloadType"] = "text/plain"
    assert decode_envelope(obj, source=SRC).payload_type == "text/plain"
