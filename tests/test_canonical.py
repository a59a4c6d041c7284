"""The fast canonical-JSON path gives exactly the bytes of the rfc8785 reference."""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from expflow_git.audit.ranking import Leaderboard, RankedRun
from expflow_git.checks import CheckKind, Outcome, RunVerdict, passed
from expflow_git.policy.model import Severity
from expflow_git.report.canonical import canonical_json, jcs_numbers, jcs_string, json_number
from expflow_git.report.encode import Known, RunParts, _Chain, outcome_bytes, run_parts
from expflow_git.report.inputs import Batch
from expflow_git.report.rules import Tally
from expflow_git.report.statement import ENTRY_DOMAIN, outcome_json, run_entries
from expflow_git.spelling import SPELLING, spell_numbers, spell_run

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
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


@pytest.mark.parametrize(
    "value",
    [
        15.0,
        -0.0,
        1e-05,
        1e-7,
        1e16,
        1e21,
        1e22,
        0.1,
        5e-324,
        1.7976931348623157e308,
        123456789.125,
        2.0**53,
    ],
)
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


# -- the hand-built encodings of the report's hot path ------------------------------

safe_numbers = (
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([15.0, -0.0, 1e-7, 1e16, 1e21, 2.0**53, 12345678901234567.0])
)
unicode_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)
# Metric and split names as the schemas allow them (ASCII), or any text.
names = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True) | unicode_text


@settings(max_examples=800, deadline=None)
@given(st.dictionaries(unicode_text, safe_numbers, max_size=15))
def test_jcs_numbers_matches_rfc8785(values: dict[str, float]) -> None:
    reference = rfc8785.dumps(values)
    assert jcs_numbers(values) == reference
    spelled = spell_numbers(values)  # what the audit's cache keeps
    assert (spelled is None) == (not all(k.isascii() for k in values))
    if spelled is not None:
        assert SPELLING.fullmatch(spelled)
        assert jcs_numbers(values, spelled) == reference
        # A spelling with another number of tokens is not used.
        assert jcs_numbers(values, spelled + ",1") == reference


@given(unicode_text)
def test_jcs_string_matches_rfc8785(text: str) -> None:
    assert jcs_string(text) == rfc8785.dumps(text)


outcomes = st.builds(
    Outcome,
    st.sampled_from(list(CheckKind)),
    unicode_text,
    st.booleans(),
    unicode_text,
    st.sampled_from(list(Severity)),
)


@given(outcomes)
def test_check_bytes_are_the_canonical_json_of_the_check(outcome: Outcome) -> None:
    """A failed check's bytes are written directly (each one's detail is its own)."""
    assert outcome_bytes(outcome) == rfc8785.dumps(outcome_json(outcome))


@settings(max_examples=400, deadline=None)
@given(
    run_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    study=unicode_text,
    path=unicode_text,
    metrics=st.dictionaries(names, safe_numbers, max_size=6),
    splits=st.dictionaries(names, st.dictionaries(names, safe_numbers, max_size=3), max_size=3),
    checks=st.lists(outcomes, max_size=4),
    rank=st.none() | st.integers(min_value=1, max_value=10**6),
    seq=st.integers(min_value=0, max_value=10**6),
    cached=st.booleans(),
)
def test_run_entry_bytes_are_the_canonical_json_of_the_entry(
    run_id: str,
    study: str,
    path: str,
    metrics: dict[str, float],
    splits: dict[str, dict[str, float]],
    checks: list[Outcome],
    rank: int | None,
    seq: int,
    cached: bool,
) -> None:
    # With `cached`, the numbers' spellings come along, as from a cache record.
    spelled = spell_run(metrics, splits) if cached else None
    assert spelled is None or SPELLING.fullmatch(spelled)
    verdict = RunVerdict(run_id, study, (), path, metrics, splits, tuple(checks))
    ranked = RankedRun(verdict, rank)
    prev = "ab" * 32
    encoded, items, last = chained_run(ranked, run_parts(verdict, {}, spelled), seq, prev)
    entry = dict(next(run_entries_of(ranked)), seq=seq, prev=prev)
    digest = hashlib.sha256(ENTRY_DOMAIN + rfc8785.dumps(entry)).hexdigest()
    assert encoded == rfc8785.dumps(dict(entry, hash=digest))
    assert last == digest
    assert items == [(run_id, rank, verdict.feasible)]


def chained_run(
    ranked: RankedRun, parts: RunParts, seq: int, prev: str
) -> tuple[bytes, list[tuple[object, ...]], str]:
    """One run entry as the encoder chains it after `prev` at `seq`: its bytes, the
    ranking items the tally heard of, and its hash."""
    out, items = io.BytesIO(), []
    batch = Batch(out)
    chain = _Chain(batch, Tally(None, lambda *item: items.append(item)), prev)
    chain.count = seq
    chain.runs([(ranked, parts)])
    batch.flush()
    assert chain.count == seq + 1
    return out.getvalue(), items, chain.prev


def test_run_entry_copies_the_cached_spellings() -> None:
    """The spellings a cache record kept are what the entry holds (the metrics', then
    each split's in name order); they are not spelled again."""
    metrics, splits = {"b": 2.0, "a": 1.5}, {"z": {"a": 3.0}, "h": {"a": 4.0, "c": 5.0}}
    assert spell_run(metrics, splits) == "1.5,2;4,5;3"
    verdict = RunVerdict("r", "s", (), "p", metrics, splits, ())
    encoded, _, _ = chained_run(
        RankedRun(verdict, 1), run_parts(verdict, {}, "7,8;9,10;11"), 0, "ab" * 32
    )
    assert b'"metrics":{"a":7,"b":8}' in encoded
    assert b'"splits":{"h":{"a":9,"c":10},"z":{"a":11}}' in encoded


_SHARED = [passed(kind, f"check-{i}") for i, kind in enumerate(CheckKind)]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(range(len(_SHARED))), max_size=4),
            st.none() | st.sampled_from(list(CheckKind)),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_runs_of_one_report_share_encoded_checks_correctly(
    runs: list[tuple[list[int], CheckKind | None]],
) -> None:
    """Within a report, passed checks (shared values) and a feasible run's whole
    "checks" member are encoded once and reused: every entry must still be exact."""
    known: Known = {}
    for n, (picked, failing) in enumerate(runs):
        checks = [_SHARED[i] for i in picked]
        if failing is not None:
            checks.append(Outcome(failing, f"failing-{n}", False, "why"))
        verdict = RunVerdict(
            f"run-{n}", "s", (), f"results/s/run-{n}.json", {"m": n / 3}, {}, tuple(checks)
        )
        ranked = RankedRun(verdict, n + 1 if verdict.feasible else None)
        encoded, _, digest = chained_run(ranked, run_parts(ranked.verdict, known), n, "ab" * 32)
        entry = dict(next(run_entries_of(ranked)), seq=n, prev="ab" * 32)
        assert encoded == rfc8785.dumps(dict(entry, hash=digest))
        assert digest == hashlib.sha256(ENTRY_DOMAIN + rfc8785.dumps(entry)).hexdigest()


def run_entries_of(ranked: RankedRun) -> Iterator[dict[str, object]]:
    board = Leaderboard("m", True, (ranked,), None, None)
    return run_entries(SimpleNamespace(board=board))  # type: ignore[arg-type]
