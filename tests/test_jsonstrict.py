"""The strict JSON reader (docs/spec.md §2.3): unit cases and hypothesis properties."""

from __future__ import annotations

import json
import math
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expflow_git import jsonstrict
from expflow_git.jsonstrict import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DEPTH,
    JsonProblem,
    parse_json,
    pointer_token,
)


def problem(data: bytes, **kwargs: int) -> JsonProblem:
    with pytest.raises(JsonProblem) as info:
        parse_json(data, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message
    return info.value


# --------------------------------------------------------------------------- accepted
def test_parses_plain_object() -> None:
    doc = parse_json(b'{"a": 1, "b": [true, null, 1.5, "x"], "c": {"d": -2e-3}}')
    assert doc == {"a": 1, "b": [True, None, 1.5, "x"], "c": {"d": -0.002}}
    assert isinstance(doc["a"], int) and isinstance(doc["b"][0], bool)


@pytest.mark.parametrize(
    "number",
    [
        "0.1",
        "57.09",
        "1.50",
        "60.0",
        "1e2",
        "1E+2",
        "-0.0",
        "0.30000000000000004",  # 0.1 + 0.2, as Python writes it
        "1.7976931348623157e308",  # the largest double
        "2.2250738585072014e-308",  # the smallest normal one
        "5e-324",  # the smallest subnormal one
        "0.000000000000001",
        "123456789012345.6",
    ],
)
def test_numbers_a_double_holds_as_written_are_read(number: str) -> None:
    """A number is the decimal its double's shortest spelling is: read as that double."""
    assert parse_json(f'{{"x": {number}}}'.encode()) == {"x": float(number)}


@pytest.mark.parametrize(
    ("number", "read_as"),
    [
        ("1e-999", "0.0"),  # underflow: read as 0, it would pass `min: 0` (issue 18's hunt)
        ("-1e-400", "-0.0"),
        ("60.0000000000000001", "60.0"),  # would pass `le:60`
        ("0.10000000000000001", "0.1"),  # 17 digits (%.17g): not the decimal 0.1
        ("4.9e-324", "5e-324"),
        ("1.2e-323", "1e-323"),
        ("12345678901234567.0", "1.2345678901234568e+16"),
    ],
)
def test_numbers_a_double_does_not_hold_as_written_are_refused(number: str, read_as: str) -> None:
    """The report would certify the double's value, not the document's: refused, naming
    the spelling that is the double, at the number's pointer, on the fast path as on
    the full decoder."""
    p = problem(f'{{"a": 1, "b": [2.5, {number}]}}'.encode())
    assert (p.message, p.pointer) == (
        f"number {number} would be read as {read_as} (a double does not hold it as written); "
        f"write {read_as}",
        "/b/1",
    )
    assert _outcome(f'{{"x": {number}}}'.encode()) == _full_decoder_outcome(
        f'{{"x": {number}}}'.encode()
    )


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    text = '{"s": "' + "[{" * 500 + '\\"]"}'
    assert parse_json(text.encode())["s"].startswith("[{[{")


def test_depth_cap_boundary() -> None:
    inner = DEFAULT_MAX_DEPTH - 1  # the top-level object is one level
    ok = '{"a": ' + "[" * inner + "]" * inner + "}"
    assert parse_json(ok.encode())
    deep = '{"a": ' + "[" * (inner + 1) + "]" * (inner + 1) + "}"
    assert "nested deeper" in str(problem(deep.encode()))


def test_size_cap_boundary() -> None:
    doc = b'{"a": "' + b"x" * 100 + b'"}'
    assert parse_json(doc, max_bytes=len(doc))
    p = problem(doc, max_bytes=len(doc) - 1)
    assert str(len(doc)) in str(p) and "cap" in str(p)


def test_default_caps() -> None:
    assert DEFAULT_MAX_BYTES == 1024 * 1024
    big = b'{"a": "' + b"x" * DEFAULT_MAX_BYTES + b'"}'
    assert "cap" in str(problem(big))


# --------------------------------------------------------------------------- refused
@pytest.mark.parametrize(
    ("data", "needle", "pointer"),
    [
        (b'{"a": 1, "a": 2}', 'duplicate key "a"', ""),
        (b'{"x": [{"k": 1}, {"k": 1, "k": 2}]}', 'duplicate key "k"', "/x/1"),
        (b'{"a/b": {"c~d": NaN}}', "NaN", "/a~1b/c~0d"),
        (b'{"x": Infinity}', "Infinity", "/x"),
        (b'{"x": [1, -Infinity]}', "-Infinity", "/x/1"),
        (b'{"x": 1e999}', "overflows to infinity", "/x"),
        (b'{"x": -1E+400}', "overflows to infinity", "/x"),
        (b'{"x": ' + b"9" * 5000 + b"}", "too long", "/x"),
    ],
)
def test_refused_values_carry_pointer(data: bytes, needle: str, pointer: str) -> None:
    p = problem(data)
    assert needle in str(p)
    assert p.pointer == pointer


def test_first_bad_value_in_document_order_is_reported() -> None:
    p = problem(b'{"a": {"b": 1, "c": NaN}, "d": Infinity}')
    assert p.pointer == "/a/c"


@pytest.mark.parametrize(
    ("data", "pointer"),
    [
        (b'{"a": ["\\ud800", "x", "\\udc00"], "b": "\\ud800"}', "/a/0"),
        (b'{"a": {"\\ud800": 1}, "b": "\\ud800"}', "/a"),  # a bad key: its parent
        (b'{"a": {"b": "ok", "c": "\\ud800"}, "d": {"\\udc00": 1}}', "/a/c"),
    ],
    ids=["list-before-sibling", "key-before-sibling", "nested-before-key"],
)
def test_first_lone_surrogate_in_document_order_is_reported(data: bytes, pointer: str) -> None:
    # It used to be the last one: the walk popped the last child first.
    p = problem(data)
    assert "surrogate" in str(p)
    assert p.pointer == pointer


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b'{"a": "\xff"}', "invalid UTF-8"),
        (b'{"a": "\xc3"}', "invalid UTF-8"),
        (b"[]", "array"),
        (b'"x"', "string"),
        (b"1", "number"),
        (b"null", "null"),
        (b"", "invalid JSON"),
        (b"{", "invalid JSON"),
        (b'{"a": 1,}', "invalid JSON"),
        (b"{'a': 1}", "invalid JSON"),
        (b'{"a": 1} {"b": 2}', "invalid JSON"),
        (b'{"a": 01}', "invalid JSON"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
        (b'{"a":' * 100_000, "nested deeper"),
    ],
)
def test_refused_documents(data: bytes, needle: str) -> None:
    assert needle in str(problem(data))


def test_invalid_utf8_and_syntax_errors_have_a_line() -> None:
    assert problem(b'{\n"a":\n "\xff"}').line == 3
    p = problem(b'{\n  "a": 1,\n}')
    assert p.line == 3 and p.col is not None


def test_pointer_token_escapes() -> None:
    assert pointer_token("a/b~c") == "a~1b~0c"
    assert pointer_token(3) == "3"


# --------------------------------------------------------------------------- properties
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_give_a_clean_problem(data: bytes) -> None:
    try:
        value = parse_json(data)
    except JsonProblem as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(value, dict)


_TOKENS = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        '"a"',
        '"b"',
        '"a"',
        "1",
        "-0.5",
        "1e999",
        "-1e999",
        "NaN",
        "Infinity",
        "-Infinity",
        "true",
        "false",
        "null",
        '"\\u0000"',
        '"\\ud800"',
        '"x\\"y"',
        " ",
        "\n",
        "1" * 30,
        '"',
        "\\",
        "\ufeff",
        "é",
        "0x1",
        "01",
        "1.",
        ".5",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_TOKENS, max_size=60).map("".join))
def test_jsonish_text_parses_or_gives_a_clean_problem(text: str) -> None:
    try:
        value = parse_json(text.encode("utf-8", "surrogatepass"))
    except JsonProblem as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(value, dict)
        # What the strict reader accepts is finite and duplicate-free, so it re-serialises.
        json.dumps(value, allow_nan=False)


def _outcome(data: bytes) -> object:
    try:
        return ("ok", parse_json(data))
    except JsonProblem as exc:
        return ("problem", str(exc), exc.pointer, exc.line, exc.col)


def _full_decoder_outcome(data: bytes) -> object:
    """What the full decoder (every per-number hook) alone says of `data`."""
    original = jsonstrict._fast_decode
    jsonstrict._fast_decode = lambda _text, _decoder=None: jsonstrict._MISS  # type: ignore[assignment]
    try:
        return _outcome(data)
    finally:
        jsonstrict._fast_decode = original


_NUMBERS = st.sampled_from(
    [
        "1e99",
        "1e100",
        "1E+308",
        "2e308",
        "-1e999",
        "-1.5e-400",
        "1e-99",
        "0.5",
        "-0",
        "7",
        "1" * 199,
        "1" * 200,
        "9" * 4400,
        "1" * 150 + "e99",
        "1" * 210 + ".0",
        "3.25E+2",
        "NaN",
        "-Infinity",
        "1e0400",
        "9" * 18,
        "9" * 19,
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "123456789012345678.5",
        "0.1234567890123456789",
        "0.30000000000000004",
        "0.10000000000000001",
        "60.0000000000000001",
        "-1e-400",
        "1e-99",
        "5e-324",
        "1.50",
        "123456789012345.6",
        "-12345678901234.5",
        "-1e-" + "4" * 40,  # an exponent past the decimal module's
    ]
)
_LEAVES = _NUMBERS | st.sampled_from(
    ['"s"', '"\\ud800"', '"e123"', "true", "null", '"x:y"', '"\\u003a"', '"\\u003A:"']
)


@st.composite
def _objects(draw: st.DrawFn, depth: int = 0) -> str:
    """An object's text, with number literals (some that overflow), nested objects and
    arrays, and sometimes a key given twice."""
    keys = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "a:", "\\u003a"]), max_size=4))
    members = []
    for key in keys:
        kind = draw(st.integers(0, 3 if depth < 3 else 1))
        if kind <= 1:  # whitespace after a number ends it as a comma or bracket does
            value = draw(_LEAVES) + draw(st.sampled_from(["", " ", "\n", "\t", "\r\n"]))
        elif kind == 2:
            value = draw(_objects(depth + 1))
        else:
            items = draw(st.lists(_LEAVES | _objects(depth + 1), max_size=3))
            value = "[" + ",".join(items) + "]"
        members.append(f'"{key}": {value}')
    return "{" + ", ".join(members) + "}"


@settings(max_examples=400, deadline=None)
@given(_objects() | st.lists(_TOKENS | _NUMBERS, max_size=60).map("".join))
def test_fast_path_and_full_decoder_agree(text: str) -> None:
    """Every document is first read without the per-number hooks: what it parses to,
    and every problem with its pointer, must be what the full decoder alone says."""
    data = text.encode("utf-8", "surrogatepass")
    assert repr(_outcome(data)) == repr(_full_decoder_outcome(data))  # repr: -0.0 is not 0


def test_fast_path_is_taken_and_refuses_what_the_full_decoder_refuses() -> None:
    assert jsonstrict._fast_decode('{"a": 1.5, "b": [2]}') == {"a": 1.5, "b": [2]}
    for text in ('{"a": 1, "a": 2}', '{"a": NaN}', '{"a": [-Infinity]}', '{"a": 1'):
        assert jsonstrict._fast_decode(text) is jsonstrict._MISS
    # An overflow or a rounded number the checked decoder refuses: the full one explains.
    for text in ('{"a": {"b": [1e999]}}', '{"a": 60.0000000000000001}', '{"a": [1e-400]}'):
        assert jsonstrict._fast_decode(text, jsonstrict._FAST_CHECKED) is jsonstrict._MISS
    assert jsonstrict._fast_decode('{"a": 0.30000000000000004}', jsonstrict._FAST_CHECKED) == {
        "a": 0.30000000000000004
    }


@pytest.mark.parametrize(
    ("number", "plain"),
    [
        ("1e99", True),
        ("12.5e-99", True),
        ("1.5", True),
        ("123456789012345", True),  # 15 digits: every such decimal is its own double
        ("-1234567890123.5", True),
        ("1234567890123456", False),
        ("0.30000000000000004", False),
        ("1" * 199, False),
        ("1e100", False),
        ("1e+100", False),
        ("1E-100", False),
        ("1" * 200, False),
        ("0." + "0" * 200 + "1", False),
    ],
)
def test_risky_numbers_are_checked(number: str, plain: bool) -> None:
    assert jsonstrict._plain_numbers(f'{{"x": {number}}}'.encode()) is plain


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ('{"sha": "a5e1234f0e999"}', True),  # a hex digest: not a number
        ('{"sha": "5e123"}', True),
        ('{"x": [1e100]}', False),
        ('{"x": 1E+100\n}', False),
        ('{"x":1e-0400,"y":2}', False),
        ("1e999", False),
        ('{"x": 1e100 }', False),
        ('{"note": "a 1e400, b"}', False),
        ('{"id": "run-123456789012345"}', True),
        ('{"version": "3.11.7", "ip": "10.0.0.1"}', True),
        ('{"note": "x:1234567890123456"}', False),
        ('{"ip": "192.168.100.200.1"}', False),
    ],  # in a string, but shaped like a number: checked (the cost of a false alarm only)
)
def test_only_number_shaped_literals_are_checked(text: str, plain: bool) -> None:
    assert jsonstrict._plain_numbers(text.encode()) is plain


@pytest.mark.parametrize(
    "number",
    ["9" * 18, "-" + "9" * 18, "9" * 19, "18446744073709551616", "-9223372036854775809", "9" * 40],
)
def test_long_integers_stay_exact_integers(number: str) -> None:
    value = parse_json(f'{{"x": {number}}}'.encode())["x"]
    assert type(value) is int and value == int(number)


def test_a_duplicate_key_is_not_hidden_by_an_escaped_colon() -> None:
    """A reader that found duplicates by counting colons would miss one beside a colon
    written as an escape (docs/decisions.md: orjson, tried and refused)."""
    p = problem(b'{"k\\u003a": 1, "a": 1, "a": 2}')
    assert p.message == 'duplicate key "a"'
    p = problem(b'{"k": "\\u003A", "b": {"a:": 1, "a:": 2}}')
    assert (p.message, p.pointer) == ('duplicate key "a:"', "/b")


SUITE = Path(__file__).parent / "jsontestsuite"  # nst/JSONTestSuite (SOURCE.txt, LICENSE)
# Valid JSON that docs/spec.md §2.3 refuses: a key given twice.
DUPLICATES = {"y_object_duplicated_key.json", "y_object_duplicated_key_and_value.json"}


def test_keys_are_read_as_written_whatever_was_read_before() -> None:
    """Keys whose hashes collide in orjson's key cache, which it trusts without comparing
    the strings (docs/decisions.md): a reader built on it renamed a key within a
    document, and one document's keys changed how later documents were read."""
    assert parse_json(b'{"k27406": 1, "x": {"3ZLhmnVd": 2}}') == {"k27406": 1, "x": {"3ZLhmnVd": 2}}
    assert parse_json(b'{"3ZLhmnVd": 2}') == {"3ZLhmnVd": 2}
    assert parse_json(b'{"R\\u0007|n\\b<\\u001fA": 0}') == {"R\x07|n\x08<\x1fA": 0}
    assert parse_json(b'{"valid": true}') == {"valid": True}


@pytest.mark.parametrize("name", sorted(p.name for p in SUITE.glob("*.json")))
def test_json_test_suite(name: str) -> None:
    """Every file of JSONTestSuite: the fast path gives exactly what the full decoder
    alone gives; an `n_` file is refused, a `y_` file whose top level is an object is
    read as Python's own reader reads it, unless it repeats a key."""
    data = (SUITE / name).read_bytes()
    assert repr(_outcome(data)) == repr(_full_decoder_outcome(data))
    if name.startswith("n_") or name in DUPLICATES:
        assert _outcome(data)[0] == "problem"
    elif name.startswith("y_") and data.strip().startswith(b"{"):
        assert _outcome(data) == ("ok", json.loads(data))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=3000), st.sampled_from(["[", '{"k":']))
def test_any_nesting_depth_is_safe(depth: int, opener: str) -> None:
    if opener == "[":
        inner = "[" * depth + "]" * depth
    else:
        inner = opener * depth + "1" + "}" * depth
    try:
        value = parse_json(('{"x": ' + inner + "}").encode())
    except JsonProblem as exc:
        assert "nested deeper" in str(exc)
        assert depth + 1 > DEFAULT_MAX_DEPTH
    else:
        assert depth + 1 <= DEFAULT_MAX_DEPTH
        assert "x" in value


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _json_values, max_size=8), st.booleans())
def test_valid_objects_round_trip(doc: dict, pretty: bool) -> None:
    data = json.dumps(doc, indent=2 if pretty else None, ensure_ascii=not pretty)
    parsed = parse_json(data.encode("utf-8"))
    assert parsed == doc
    # Types survive: booleans stay booleans, integers stay integers.
    assert json.dumps(parsed, sort_keys=True) == json.dumps(doc, sort_keys=True)


@settings(deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_floats_round_trip_exactly(x: float) -> None:
    value = parse_json(json.dumps({"x": x}).encode())["x"]
    assert value == x and math.copysign(1, value) == math.copysign(1, x)


@settings(deadline=None)
@given(
    st.dictionaries(
        st.text(string.printable, min_size=1, max_size=8), st.integers(), min_size=1, max_size=5
    ),
    st.data(),
)
def test_any_duplicated_key_is_refused(doc: dict, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(doc)))
    body = ", ".join(f"{json.dumps(k)}: {v}" for k, v in doc.items())
    text = "{" + body + f", {json.dumps(key)}: 0" + "}"
    p = problem(text.encode())
    assert p.message == f"duplicate key {json.dumps(key)}"
    assert p.pointer == ""


@pytest.mark.parametrize("bad", ['"z": {"a": 1, "a": 2}', '"z": "\\ud800"'])
def test_finding_a_refused_value_makes_no_pointer_per_node(bad: str) -> None:
    """A key of length L over an array of n items: the walks that find the refused value
    made a pointer string per node, n copies of the key (a 120 KB document: 1.6 GB).
    Now a pointer is made for the node reported only. The array before the refused
    value and after it (the walks go in different orders)."""
    n = 3000
    long = f'"{"k" * n}": [{", ".join(["0"] * n)}]'
    for data in (f"{{{long}, {bad}}}".encode(), f"{{{bad}, {long}}}".encode()):
        _assert_found_in_little_memory(data)


def _assert_found_in_little_memory(data: bytes) -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(JsonProblem) as problem:
            parse_json(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problem.value.pointer in ("/z/a", "/z")
    assert peak < 3 * len(data) + 2_000_000  # (~9 MB of pointers before: n × L bytes)
