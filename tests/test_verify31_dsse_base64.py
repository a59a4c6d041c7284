"""The envelope's base64 check costs memory in proportion to nothing but the string: a
repeated group of four, `(?:[A-Za-z0-9+/]{4})*`, kept state per repetition in Python's
re, ~29 bytes per character (an 80 MB unsigned report made `verify --public-key` take
2.5 GB before any signature was looked at; a hunter's find, issue 18 thirty-first pass).
The check accepts exactly what it did: the standard alphabet, padded, one spelling."""

from __future__ import annotations

import base64
import os
import re
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from expflow_git.errors import ExpflowError
from expflow_git.report.dsse import PAYLOAD_TYPE, decode_envelope

# The check as it was: the spelling the tool has always accepted.
_OLD_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _old_accepts(value: str) -> bool:
    if not _OLD_RE.fullmatch(value):
        return False
    return base64.b64encode(base64.b64decode(value, validate=True)).decode() == value


def _accepts(value: str) -> bool:
    obj = {"payload": value, "payloadType": PAYLOAD_TYPE, "signatures": []}
    try:
        env = decode_envelope(obj, source="r.json")
    except ExpflowError as exc:
        assert "payload is not valid base64" in exc.message
        return False
    assert base64.b64encode(env.payload).decode() == value
    return True


_CHARS = "AQRgwz09+/=-_ \n\u00e9"


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=_CHARS, max_size=14))
def test_the_check_accepts_what_the_old_one_did_on_any_string(value: str) -> None:
    assert _accepts(value) == _old_accepts(value)


@settings(max_examples=400, deadline=None)
@given(
    data=st.binary(max_size=10),
    at=st.integers(0, 20),
    char=st.sampled_from(list(_CHARS)),
    how=st.sampled_from(["replace", "insert", "delete"]),
)
def test_the_check_accepts_what_the_old_one_did_near_valid_spellings(
    data: bytes, at: int, char: str, how: str
) -> None:
    good = base64.b64encode(data).decode()
    assert _accepts(good) and _old_accepts(good)
    i = min(at, len(good))
    changed = {
        "replace": good[:i] + char + good[i + 1 :],
        "insert": good[:i] + char + good[i:],
        "delete": good[:i] + good[i + 1 :],
    }[how]
    assert _accepts(changed) == _old_accepts(changed)


def test_every_final_character_of_a_short_payload() -> None:
    """Unused low bits in the last character: only the canonical one is accepted."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    accepted = []
    for template in ("Q?==", "QU?=", "QUJ?", "QUJDR?=="):
        for last in alphabet:
            value = template.replace("?", last)
            assert _accepts(value) == _old_accepts(value), value
            accepted += [value] if _accepts(value) else []
    assert len(accepted) == 4 + 16 + 64 + 4


def test_a_large_payload_is_checked_in_memory_proportional_to_it() -> None:
    """~5 MB of base64: the old pattern peaked at ~30x its size under tracemalloc (the
    repeat's state per character); the check with its decoding stays under 3x."""
    value = base64.b64encode(os.urandom(3_750_000)).decode()
    obj = {"payload": value, "payloadType": PAYLOAD_TYPE, "signatures": []}
    tracemalloc.start()
    try:
        env = decode_envelope(obj, source="r.json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(env.payload) == 3_750_000
    assert peak < 3 * len(value), peak / len(value)
    # and one bad character at the very end is still found
    with_bad_end = {**obj, "payload": value[:-1] + "-"}
    tracemalloc.start()
    try:
        try:
            decode_envelope(with_bad_end, source="r.json")
        except ExpflowError as exc:
            assert "is not valid base64" in exc.message
        else:
            raise AssertionError("accepted a URL-safe character")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(value), peak / len(value)
