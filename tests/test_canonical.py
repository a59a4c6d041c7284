"""The fast canonical-JSON path gives exactly the bytes of the rfc8785 reference."""

from __future__ import annotations

import math

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from expflow_git.report.canonical import canonical_json, json_number

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=30,
)


def reference(obj: object) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(obj)
    except (ValueError, UnicodeEncodeError) as exc:
        return type(exc)


@settings(max_examples=1500, deadline=None)
@given(st.dictionaries(st.text(max_size=8), values, max_size=6) | st.lists(values, max_size=6))
def test_fast_path_matches_rfc8785(obj: object) -> None:
    want = reference(obj)
    if isinstance(want, bytes):
        assert canonical_json(obj) == want
    else:
        with pytest.raises((ValueError, UnicodeEncodeError)):
            canonical_json(obj)


@pytest.mark.parametrize("value", [15.0, -0.0, 1e-05, 1e-7, 1e16, 1e21, 1e22, 0.1, 5e-324,
                                   1.7976931348623157e308, 123456789.125, 2.0**53])
def test_awkward_floats(value: float) -> None:
    obj = {"v": [value, {"x": value}]}
    assert canonical_json(obj) == rfc8785.dumps(obj)


@pytest.mark.parametrize("key", ["\U0001f600", "\ufb01", "é", "a"])
def test_key_order_outside_the_bmp(key: str) -> None:
    obj = {key: 1, "\uffff": 2, "\U00010000": 3}
    assert canonical_json(obj) == rfc8785.dumps(obj)


def test_integers_beyond_2_53_are_refused_like_the_reference() -> None:
    with pytest.raises(ValueError):
        canonical_json({"n": 2**53 + 1})


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_json_number_keeps_the_value(value: float) -> None:
    out = json_number(value)
    assert out == value or (math.isnan(out) and math.isnan(value))
    assert canonical_json([out]) == rfc8785.dumps([value])
