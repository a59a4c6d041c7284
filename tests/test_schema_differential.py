"""jsonschema-rs (the fast path) and python-jsonschema (the reference) agree on
valid/invalid for every bundled schema: on hypothesis mutations of valid documents
and on a corpus of awkward values."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import record_calls

from expflow_git.demo import build_repo
from expflow_git.jsonstrict import pointer_token
from expflow_git.schemas import Kind, fast_validator, schema_errors, validator

EXPERIMENT = {
    "schema": "expflow/experiment@1",
    "id": "exp-001",
    "study": "pdebench-task1",
    "title": "FNO baseline",
    "created_at": "2026-11-20T10:00:00Z",
    "tags": ["task1", "fno"],
    "status": "success",
    "seed": 1837261,
    "params": {"Args/--sub_step": 5, "lr": 0.001, "model": "fno", "flag": True, "none": None},
    "provenance": {
        "git_sha": "a" * 40,
        "host": "gpu-3",
        "platform": "Linux",
        "python_version": "3.11.7",
        "package_versions": {"torch": "2.4.0"},
        "captured_at": "2026-11-20T10:00:00Z",
    },
}
RESULT = {
    "schema": "expflow/result@1",
    "experiment": "exp-001",
    "recorded_at": "2026-11-20T11:02:00Z",
    "metrics": {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5},
    "splits": {"holdout": {"seg_total": 55.2}},
    "provenance": {"host": "gpu-3", "git_sha": None},
}
CORRECTION = {
    "schema": "expflow/correction@1",
    "experiment": "exp-001",
    "supersedes": "a" * 40,
    "blob": "b" * 40,
    "reason": "re-ran with the fixed loader",
    "author": {"name": "T Tester", "email": "t@example.com"},
    "time": "2026-11-20T12:00:00Z",
}
POLICY = {
    "version": 1,
    "paths": {"experiments": ["experiments/**/*.json"], "results": ["results/**"]},
    "metrics": {
        "seg_total": {"group": "Score", "higher_is_better": True},
        "pde_mean": {"group": "PDE", "higher_is_better": False, "threshold": 18.09},
    },
    "required_metrics": ["seg_total"],
    "ranking": {"sort_by": "seg_total", "tie_break": []},
    "gates": ["pde_mean:lt:20"],
    "rules": [{"param": "sub_step", "op": "gt", "value": 0}],
    "budget": {"max_runs_per_study": 50},
    "walk_forward": {"metric": "seg_total", "split": "holdout", "top_n": 10, "min_pearson": 0.3},
}

AWKWARD = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**31 - 1,
    2**31,
    -0.0,
    1e300,
    "",
    "x",
    "exp-001\n",
    "\n",
    "é",
    "a" * 129,
    "2026-11-20T10:00:00Z",
    "2026-11-20 10:00:00",
    "a" * 40,
    "A" * 40,
    [],
    [1],
    ["a", "a"],
    {},
    {"k": 1},
    {"": 1},
    {"": {"0": None}},
    {"01": None, "1": "x"},
]


def _report_statement(tmp: Path) -> dict[str, Any]:
    from expflow_git.audit.pipeline import run_audit
    from expflow_git.gitstore import Git
    from expflow_git.report.encode import build_statement

    build_repo(tmp)
    return build_statement(run_audit(Git.discover(tmp), use_cache=False))


@pytest.fixture(scope="module")
def valid_docs(tmp_path_factory: pytest.TempPathFactory) -> dict[Kind, dict[str, Any]]:
    repo = tmp_path_factory.mktemp("diff") / "repo"
    repo.mkdir()
    return {
        Kind.EXPERIMENT: EXPERIMENT,
        Kind.RESULT: RESULT,
        Kind.POLICY: POLICY,
        Kind.CORRECTION: CORRECTION,
        Kind.REPORT: _report_statement(repo),
    }


def agree(kind: Kind, doc: Any) -> None:
    """Both judge `doc` alike, and explain an invalid one at the same places (an empty
    key or a key spelled as a number, which jsonschema-rs's paths lose, included)."""
    fast = fast_validator(kind)
    assert fast is not None, "jsonschema-rs is a run-time dependency"
    reference = validator(kind).is_valid(doc)
    assert fast.is_valid(doc) == reference, (kind, json.dumps(doc)[:300], reference)
    if not reference:
        explained = {pointer for pointer, _ in schema_errors(kind, doc)}
        expected = {
            "".join("/" + pointer_token(p) for p in error.absolute_path)
            for error in validator(kind).iter_errors(doc)
        }
        assert explained, (kind, json.dumps(doc)[:300])
        assert explained == expected, (explained, expected, json.dumps(doc)[:300])
        if kind in CAPPED:
            capped_alike(kind, doc)


CAPPED = (Kind.EXPERIMENT, Kind.RESULT, Kind.CORRECTION)  # check_content's kinds


def capped_alike(kind: Kind, doc: Any) -> None:
    """A document's first schema errors and their count are the same when python-jsonschema
    counts them (a document of many values and errors: `schemas.FEW_VALUES`), in the
    same words as jsonschema-rs's."""
    from expflow_git import schemas

    every = list(schema_errors(kind, doc))
    for limit in (0, 1, 2, 100):
        expected = (every[:limit], len(every))
        assert schemas.schema_problems(kind, doc, limit) == expected
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(schemas, "FEW_VALUES", 0)
            mp.setattr(schemas, "MANY_ERRORS", 0)
            assert schemas.schema_problems(kind, doc, limit) == expected, json.dumps(doc)[:300]


def paths_of(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths_of(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:5]):
            out += paths_of(v, (*prefix, i))
    return out


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(AWKWARD[:20]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("kind", list(Kind))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fast_and_reference_validators_agree(
    valid_docs: dict[Kind, Any], kind: Kind, data: st.DataObject
) -> None:
    doc = copy.deepcopy(valid_docs[kind])
    agree(kind, doc)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths_of(doc)))
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        if not path:
            continue
        key = path[-1]
        if action == "replace":
            parent[key] = data.draw(json_values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[key]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8))] = data.draw(json_values)
    agree(kind, doc)


@pytest.mark.parametrize("kind", [Kind.EXPERIMENT, Kind.RESULT, Kind.POLICY, Kind.CORRECTION])
@pytest.mark.parametrize("value", AWKWARD, ids=repr)
def test_awkward_values_everywhere(kind: Kind, value: Any) -> None:
    base = {
        Kind.EXPERIMENT: EXPERIMENT,
        Kind.RESULT: RESULT,
        Kind.POLICY: POLICY,
        Kind.CORRECTION: CORRECTION,
    }[kind]
    for path in paths_of(base)[1:]:
        doc = copy.deepcopy(base)
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
        agree(kind, doc)


def test_python_jsonschema_judges_and_explains_where_jsonschema_rs_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from expflow_git import schemas

    doc = {**EXPERIMENT, "status": "done"}
    options = ["pending", "running", "success", "failed", "skipped"]
    assert list(schema_errors(Kind.EXPERIMENT, doc)) == [
        ("/status", f'"done" is not one of {json.dumps(options, separators=(",", ":"))}')
    ]
    monkeypatch.setattr(schemas, "fast_validator", lambda kind: None)
    assert not schemas.is_valid(Kind.EXPERIMENT, doc)
    assert schemas.is_valid(Kind.EXPERIMENT, EXPERIMENT)
    assert list(schema_errors(Kind.EXPERIMENT, doc)) == [
        ("/status", f"'done' is not one of {options!r}")
    ]


_DROP = object()


@pytest.mark.parametrize(
    ("kind", "change", "expected"),
    [
        (
            Kind.EXPERIMENT,
            {"status": "done"},
            ("/status", '"done" is not one of ["pending","running","success","failed","skipped"]'),
        ),
        (
            Kind.EXPERIMENT,
            {"zz": 2, "owner": 1},
            ("", 'additional properties are not allowed: "owner", "zz"'),
        ),
        (Kind.EXPERIMENT, {"schema": "x"}, ("/schema", '"expflow/experiment@1" was expected')),
        (
            Kind.EXPERIMENT,
            {"id": "-bad"},
            ("/id", '"-bad" does not match "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"'),
        ),
        (Kind.EXPERIMENT, {"seed": -5}, ("/seed", "-5 is less than the minimum of 0")),
        (Kind.EXPERIMENT, {"tags": ["a", "a"]}, ("/tags", '["a","a"] has non-unique elements')),
        (Kind.EXPERIMENT, {"study": _DROP}, ("", '"study" is a required property')),
        (
            Kind.EXPERIMENT,
            {"params": {"": 1}},
            ("/params", 'property name "" is shorter than the minimum length of 1'),
        ),
        (
            Kind.EXPERIMENT,
            {"params": {"x": [1, {"k": "é"}]}},
            (
                "/params/x",
                '[1,{"k":"é"}] is not of type "boolean" or "null" or "number" or "string"',
            ),
        ),
        (
            Kind.POLICY,
            {"paths": {"experiments": [], "results": ["r"]}},
            ("/paths/experiments", "[] has fewer items than the minimum of 1"),
        ),
        (
            Kind.POLICY,
            {"metrics": {}},
            ("/metrics", "{} has fewer properties than the minimum of 1"),
        ),
        (
            Kind.POLICY,
            {"walk_forward": {**POLICY["walk_forward"], "min_pearson": 3}},
            ("/walk_forward/min_pearson", "3 is greater than the maximum of 1"),
        ),
        (
            Kind.RESULT,
            {"metrics": {"m" * 200: 1}},  # a long value is cut, the reason kept
            (
                "/metrics",
                'property name "' + "m" * 58 + "… does not match "
                '"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"',
            ),
        ),
        (
            Kind.EXPERIMENT,
            {"title": "t" * 1001},
            ("/title", '"' + "t" * 58 + "… is longer than the maximum length of 1000"),
        ),
        (
            Kind.EXPERIMENT,
            {"tags": [f"t{i}" for i in range(101)]},
            (
                "/tags",
                '["t0","t1","t2","t3","t4","t5","t6","t7","t8","t9","t10","t… has more '
                "items than the maximum of 100",
            ),
        ),
        (
            Kind.EXPERIMENT,
            {"params": {f"k{i:04d}": 0 for i in range(1001)}},
            (
                "/params",
                '{"k0000":0,"k0001":0,"k0002":0,"k0003":0,"k0004":0,"k0005":… has more '
                "properties than the maximum of 1000",
            ),
        ),
    ],
    ids=lambda value: "" if isinstance(value, (Kind, tuple)) else ",".join(value)[:20],
)
def test_schema_messages_are_our_own_words(
    kind: Kind, change: dict[str, Any], expected: tuple[str, str]
) -> None:
    """The wording is ours, not the library's: signed reports hold these messages and
    `verify --repo` recomputes them, so a jsonschema-rs upgrade must not change them."""
    base = {Kind.EXPERIMENT: EXPERIMENT, Kind.RESULT: RESULT, Kind.POLICY: POLICY}[kind]
    doc = {k: v for k, v in {**base, **change}.items() if v is not _DROP}
    pointer, message = expected
    found = list(schema_errors(Kind(kind), doc))
    assert found == [(pointer, message if len(message) <= 200 else message[:200] + "…")]


def test_every_template_has_its_words() -> None:
    """Each kind of jsonschema-rs error we word, met once, in a schema of our own."""
    import jsonschema_rs

    from expflow_git.schemas import _RS_WORDS, _rs_message

    schema = {
        "type": "object",
        "required": ["req"],
        "additionalProperties": False,
        "properties": {
            "any": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "one": {"oneOf": [{"type": "string"}, {"type": "null"}]},
            "two": {"oneOf": [{"type": "number"}, {"type": "integer"}]},
            "const": {"const": "k"},
            "enum": {"enum": ["a", "b"]},
            "xmax": {"exclusiveMaximum": 5},
            "xmin": {"exclusiveMinimum": 5},
            "no": False,
            "items": {"maxItems": 1, "minItems": 3, "uniqueItems": True},
            "text": {"maxLength": 2, "minLength": 5, "pattern": "^x"},
            "obj": {"maxProperties": 1, "minProperties": 3, "propertyNames": {"maxLength": 1}},
            "num": {"maximum": 1, "minimum": 7, "type": "integer"},
        },
    }
    doc = {
        "any": 1,
        "one": 1,
        "two": 3,
        "const": "q",
        "enum": "c\u2028",
        "xmax": 5,
        "xmin": 5,
        "no": 1,
        "items": [1, 1],
        "text": "yyy",
        "obj": {"ab": 1, "c": 2},
        "num": 3.5,
        "zz": 1,
        "ab": 2,
    }
    validator = jsonschema_rs.Draft202012Validator(schema)
    words = {type(e.kind).__name__: _rs_message(e) for e in validator.iter_errors(doc)}
    assert words == {
        "AdditionalProperties": 'additional properties are not allowed: "ab", "zz"',
        "AnyOf": "1 is not valid under any of the given schemas",
        "Constant": '"k" was expected',
        "Enum": '"c\\u2028" is not one of ["a","b"]',  # a line separator is escaped
        "ExclusiveMaximum": "5 is not less than 5",
        "ExclusiveMinimum": "5 is not greater than 5",
        "FalseSchema": "1 is not allowed here",
        "MaxItems": "[1,1] has more items than the maximum of 1",
        "MaxLength": '"yyy" is longer than the maximum length of 2',
        "MaxProperties": '{"ab":1,"c":2} has more properties than the maximum of 1',
        "Maximum": "3.5 is greater than the maximum of 1",
        "MinItems": "[1,1] has fewer items than the minimum of 3",
        "MinLength": '"yyy" is shorter than the minimum length of 5',
        "MinProperties": '{"ab":1,"c":2} has fewer properties than the minimum of 3',
        "Minimum": "3.5 is less than the minimum of 7",
        "OneOfMultipleValid": "3 is valid under more than one of the given schemas",
        "OneOfNotValid": "1 is not valid under any of the given schemas",
        "Pattern": '"yyy" does not match "^x"',
        "PropertyNames": 'property name "ab" is longer than the maximum length of 1',
        "Required": '"req" is a required property',
        "Type": '3.5 is not of type "integer"',
        "UniqueItems": "[1,1] has non-unique elements",
    }
    assert set(words) == set(_RS_WORDS) | {"PropertyNames"}


def test_each_objects_keys_are_read_once_however_many_errors_it_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every metric of a result of the wrong type is one error under the same object:
    whether that object holds a key jsonschema-rs's paths lose was asked again for each
    error, reading all its keys each time (k² for k metrics: ~11 s for one 100 KB
    document of 8,000). Asked once per object, the keys are read once."""
    from expflow_git import schemas

    calls = record_calls(monkeypatch, schemas, "_lossy_key")
    metrics = {f"m{i}": "" for i in range(500)}
    document = {"experiment": "x", "metrics": metrics}
    found = list(schema_errors(Kind.RESULT, document))
    assert sum(pointer.startswith("/metrics/m") for pointer, _ in found) == len(metrics)
    if fast_validator(Kind.RESULT) is not None:  # (python-jsonschema keeps its keys as they are)
        assert len(calls) <= len(metrics) + len(document)
