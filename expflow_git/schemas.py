"""The bundled JSON Schemas and validators built once per process.

Schemas ship inside the package (the wheel maps the repository's `schemas/`
to `expflow_git/schemas/`); a source checkout falls back to `schemas/` beside
the package. Every `$ref` resolves among the bundled schemas only: a remote
reference is refused, so validation never touches the network.

The files carry no `$id` and refer to each other by file name
("experiment.schema.json#/$defs/provenance"), so a tool given a schema file
(check-jsonschema, an editor) finds its siblings in the same folder; here each
is known by its file name under `BUNDLE`, which nothing ever fetches.
"""

from __future__ import annotations

import _thread
import enum
import functools
import itertools
import json
import operator
import re
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from expflow_git.errors import ExpflowError, mask_flagged
from expflow_git.jsonstrict import pointer_token
from expflow_git.lazyre import lazy_compile

if TYPE_CHECKING:
    from jsonschema.protocols import Validator
    from referencing import Resource


class Kind(enum.Enum):
    """What a document is, which decides the schema it must meet."""

    EXPERIMENT = "experiment"
    RESULT = "result"
    CORRECTION = "correction"  # a declared change to a committed result (corrections.py)
    POLICY = "policy"
    REPORT = "report"


def schema_dir() -> Path:
    """Where the bundled schemas live (installed wheel, or source checkout)."""
    from expflow_git.resources import bundled_dir

    return bundled_dir("schemas", "experiment.schema.json")


@functools.cache
def load_schema(kind: Kind) -> dict[str, Any]:
    """The schema document for `kind`."""
    path = schema_dir() / f"{kind.value}.schema.json"
    try:
        with path.open("rb") as fh:
            schema: dict[str, Any] = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ExpflowError(
            f"bundled schema {path} is unreadable ({exc}); reinstall expflow-git"
        ) from None
    return schema


BUNDLE = "https://expflow-git.invalid/schemas/"  # .invalid: a name no resolver answers


def _identified(kind: Kind) -> dict[str, Any]:
    """The schema for `kind` with the `$id` its file location gives it in the bundle."""
    return {**load_schema(kind), "$id": f"{BUNDLE}{kind.value}.schema.json"}


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """`pattern` with ECMA-262 semantics for a final `$`: the end of the string.

    Python's `$` also matches before a trailing newline, so "exp-001\\n" would pass
    python-jsonschema while jsonschema-rs (rightly) refuses it.
    """
    from jsonschema.exceptions import ValidationError

    if not isinstance(instance, str):
        return
    if _search(pattern, instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.lru_cache(maxsize=64)
def _compile(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _search(pattern: str, text: str) -> re.Match[str] | None:
    return _compile(pattern).search(text)


def _refuse_remote(uri: str) -> Resource:
    raise ExpflowError(f"refusing to fetch remote $ref {uri!r}: only bundled schemas are used")


@functools.cache
def validator(kind: Kind) -> Validator:
    """A Draft 2020-12 validator for `kind`, built once per process."""
    from jsonschema import Draft202012Validator, validators
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    schemas = [_identified(k) for k in Kind]
    resources = [(schema["$id"], DRAFT202012.create_resource(schema)) for schema in schemas]
    registry: Registry[Any] = Registry(
        retrieve=_refuse_remote  # type: ignore[call-arg]  # an attrs field the stubs miss
    ).with_resources(resources)
    schema = _identified(kind)
    Draft202012Validator.check_schema(schema)
    strict = validators.extend(  # type: ignore[no-untyped-call]  # untyped in the stubs
        Draft202012Validator, {"pattern": _ecma_pattern}
    )
    checker: Validator = strict(schema, registry=registry)
    return checker


@functools.cache
def fast_validator(kind: Kind) -> Any | None:
    """A jsonschema-rs validator (offline: remote references fail), or None if not installed.

    It judges and explains every document; python-jsonschema, the reference, takes
    over where it is missing, and a differential test keeps the two in agreement.
    """
    jsonschema_rs = _import_jsonschema_rs()
    if jsonschema_rs is None:
        return None
    # Only the schemas `kind` refers to: each one registered is parsed again per validator
    # (the policy's, with all five, took 4x its own time in every hook's start-up).
    schemas = [_identified(k) for k in _referred(kind)]
    registry = jsonschema_rs.Registry([(schema["$id"], schema) for schema in schemas])
    return jsonschema_rs.Draft202012Validator(_identified(kind), registry=registry, offline=True)


def _referred(kind: Kind) -> list[Kind]:
    """`kind` and the bundled schemas its `$ref`s name by file name, transitively (any
    other reference is left to the validator, which refuses it offline)."""
    by_file = {f"{k.value}.schema.json": k for k in Kind}
    found = [kind]
    todo: list[Any] = [load_schema(kind)]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            target = by_file.get(ref.partition("#")[0]) if isinstance(ref, str) else None
            if target is not None and target not in found:
                found.append(target)
                todo.append(load_schema(target))
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return found


def _import_jsonschema_rs() -> Any | None:
    """The jsonschema_rs module, or None if it is not installed.

    Its extension imports `email.utils` (with socket, random, datetime, urllib.parse) for
    one call at load time: `parsedate_to_datetime` of its own build date, for a `__build__`
    info dict no one here reads. That was ~9 ms of every hook's start-up (issue 18), so
    while the extension loads `email.utils` is a stand-in that hands the date back as
    text and sends any other name to the real module; it is removed at once, and
    `import email.utils` anywhere later gets the real one.
    """
    import sys

    if "jsonschema_rs" in sys.modules or "email.utils" in sys.modules:
        return _import_plain()
    sys.modules["email.utils"] = _BuildDateOnly("email.utils")
    try:
        return _import_plain()
    finally:
        if isinstance(sys.modules.get("email.utils"), _BuildDateOnly):
            del sys.modules["email.utils"]


def _import_plain() -> Any | None:
    try:
        # The extension imports `decimal` as it loads, and a Ctrl-C meanwhile made it
        # panic (a Rust backtrace on stderr, exit 1): imported here first, where a Ctrl-C
        # is a plain KeyboardInterrupt, it costs nothing more (the extension loads it
        # anyway) and the extension finds it loaded.
        import decimal  # noqa: F401

        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs


class _BuildDateOnly(types.ModuleType):
    """`email.utils` while jsonschema_rs loads: its build date stays text; any other
    name, or any other thread (one that imports `email.utils` meanwhile), gets the real
    module's."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._loading_thread = _thread.get_ident()

    def parsedate_to_datetime(self, text: str) -> Any:
        if _thread.get_ident() == self._loading_thread:
            return text
        return self.__getattr__("parsedate_to_datetime")(text)

    def __getattr__(self, name: str) -> Any:
        import importlib
        import sys

        if sys.modules.get("email.utils") is self:
            del sys.modules["email.utils"]  # the real one from here on
        return getattr(importlib.import_module("email.utils"), name)


def is_valid(kind: Kind, document: Any) -> bool:
    """Whether `document` meets its schema (jsonschema-rs when available)."""
    fast = fast_validator(kind)
    if fast is not None:
        return bool(fast.is_valid(document))
    return bool(validator(kind).is_valid(document))


def schema_errors(kind: Kind, document: Any) -> Iterator[tuple[str, str]]:
    """(JSON pointer, message) for each way `document` breaks its schema, in a stable order.

    jsonschema-rs explains when available (in our words, `_rs_message`), which spares
    a failing hook the import of python-jsonschema; without it, python-jsonschema's
    messages are used as they are.
    """
    yield from schema_problems(kind, document)[0]


# A document (1 MiB at most) may break its schema at each of its 500,000 values: the
# first MAX_SCHEMA_FINDINGS are named and the rest counted in one more finding, as for
# the series' problems (series.MAX_SERIES_FINDINGS). A series of 349,460 `[]` was as
# many findings (a 149 MB report).
MAX_SCHEMA_FINDINGS = 100
# jsonschema-rs collects every error before it hands over the first (~25 µs and 2.7 KB
# each: a series of 524,000 zeros took 13 s and 1.4 GB). It is asked only about a
# document of up to FEW_VALUES values (a few errors each at most), or one in which
# python-jsonschema, which hands its errors over one at a time, finds no more than
# MANY_ERRORS; past that python-jsonschema counts them, keeping only the first ones.
FEW_VALUES = 10_000
MANY_ERRORS = 10_000


def listed_schema_errors(
    kind: Kind, document: Any, limit: int = MAX_SCHEMA_FINDINGS
) -> list[tuple[str, str]]:
    """The first `limit` of `schema_errors`, then, if there are more, one at the document
    ("" as its pointer) saying how many are not listed."""
    listed, total = schema_problems(kind, document, limit)
    if total <= len(listed):
        return listed
    more = f"{total - len(listed):,} more schema violation(s) in this document, not listed"
    return [*listed, ("", more)]


def schema_problems(
    kind: Kind, document: Any, limit: int | None = None
) -> tuple[list[tuple[str, str]], int]:
    """The first `limit` (all when None) of `schema_errors` in its order, and how many
    there are in all. Only those listed are put in words: by jsonschema-rs, or where it
    would collect too many errors (FEW_VALUES, MANY_ERRORS) by python-jsonschema counting
    them and `_in_rs_words` explaining the first ones, in the same words."""
    fast = fast_validator(kind)
    if fast is not None and (limit is None or not _holds_over(document, FEW_VALUES)):
        return _rs_explained(kind, document, fast, limit)
    errors: Iterator[Any] = validator(kind).iter_errors(document)
    if limit is None:  # (python-jsonschema quotes values whole: masked before `_short` cuts)
        found = list(errors)
        return _sorted_first(_py_paths(found), found, _py_message, None), len(found)
    if fast is not None:
        first = list(itertools.islice(errors, MANY_ERRORS + 1))
        if len(first) <= MANY_ERRORS:
            return _rs_explained(kind, document, fast, limit)
        errors = itertools.chain(first, errors)
    kept, total = _least(errors, limit)
    explain = _py_message if fast is None else _in_rs_words
    return _sorted_first(_py_paths(kept), kept, explain, limit), total


def _rs_explained(
    kind: Kind, document: Any, fast: Any, limit: int | None
) -> tuple[list[tuple[str, str]], int]:
    found = list(fast.iter_errors(document))
    paths = _rs_paths(kind, document, found)
    return _sorted_first(paths, found, _rs_message, limit), len(found)


def _sorted_first(
    paths: list[list[Any]], found: list[Any], explain: Callable[[Any], str], limit: int | None
) -> list[tuple[str, str]]:
    """The first `limit` errors (all when None) in order of their path's steps as text,
    then of their message, as (JSON pointer, message). The paths decide which those are:
    only the errors up to the last one's path are put in words."""
    keys = [_path_key(path) for path in paths]
    order = sorted(range(len(found)), key=keys.__getitem__)
    if limit is not None and len(order) > limit:
        order = _up_to(order, keys.__getitem__, limit)
    errors = sorted((keys[i], explain(found[i]), i) for i in order)[:limit]
    return [
        ("".join("/" + pointer_token(p) for p in paths[i]), _short(message))
        for _, message, i in errors
    ]


def _path_key(path: Iterable[Any]) -> list[str]:
    return [str(step) for step in path]


_T = TypeVar("_T")


def _up_to(ordered: list[_T], key: Callable[[_T], list[str]], limit: int) -> list[_T]:
    """The first `limit` of `ordered` (sorted by `key`) and those after with the same key."""
    if limit <= 0:
        return []
    last = key(ordered[limit - 1])
    return list(itertools.takewhile(lambda item: key(item) <= last, ordered))


def _least(errors: Iterable[Any], limit: int) -> tuple[list[Any], int]:
    """The python-jsonschema errors `_sorted_first` may list (the first `limit` by path
    and those at the last one's path), and how many there are: memory stays bounded."""
    kept: list[tuple[list[str], int, Any]] = []
    total = 0
    for error in errors:
        total += 1
        kept.append((_path_key(error.absolute_path), total, error))
        if len(kept) > 4 * limit + 64:
            kept = _up_to(sorted(kept, key=_FIRST_TWO), _FIRST, limit)
    kept = _up_to(sorted(kept, key=_FIRST_TWO), _FIRST, limit) if len(kept) > limit else kept
    return [error for _, _, error in kept], total


_FIRST = operator.itemgetter(0)
_FIRST_TWO = operator.itemgetter(0, 1)


def _py_paths(errors: list[Any]) -> list[list[Any]]:
    return [list(e.absolute_path) for e in errors]


def _holds_over(document: Any, bound: int) -> bool:
    """Whether `document` holds more than `bound` values (keys aside), counted no further."""
    todo = [document]
    count = 0
    while todo:
        node = todo.pop()
        count += 1
        if count > bound:
            return True
        if isinstance(node, dict):
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return False


def _py_message(error: Any) -> str:
    """python-jsonschema's message (it quotes values whole: masked before `_short` cuts)."""
    return mask_flagged(str(error.message))


# Keywords whose words (`_RS_WORDS`) depend on their value and the value at fault alone.
_ALONE = frozenset(
    {
        "const", "enum", "exclusiveMaximum", "exclusiveMinimum", "maxItems", "maxLength",
        "maxProperties", "maximum", "minItems", "minLength", "minProperties", "minimum",
        "pattern", "type", "uniqueItems",
    }
)  # fmt: skip


def _in_rs_words(error: Any) -> str:
    """A python-jsonschema error in `_rs_message`'s words: jsonschema-rs asked about the
    value at fault against the failing keyword alone (python-jsonschema's own message
    for a keyword that depends on more)."""
    keyword, value, schema = error.validator, error.validator_value, error.schema
    alone: dict[str, Any]
    if keyword in _ALONE:
        alone = {keyword: value}
    elif keyword == "additionalProperties" and value is False and isinstance(schema, dict):
        alone = {
            "properties": dict.fromkeys(schema.get("properties", {}), True),
            "patternProperties": dict.fromkeys(schema.get("patternProperties", {}), True),
            "additionalProperties": False,
        }
    elif keyword == "required" and isinstance(error.instance, dict):
        missing = [name for name in value if f"{name!r} is a required property" == error.message]
        alone = {"required": missing[:1]}
    elif keyword in ("anyOf", "oneOf"):  # (python-jsonschema: no context when several hold)
        words = (
            "AnyOf"
            if keyword == "anyOf"
            else "OneOf" + ("NotValid" if error.context else "MultipleValid")
        )
        return _names_prefix(error) + _RS_WORDS[words](None, error.instance)
    else:
        return _py_message(error)
    found = next(iter(_alone_validator(_json(alone)).iter_errors(error.instance)), None)
    if found is None:
        return _py_message(error)
    return _names_prefix(error) + _rs_message(found)


def _names_prefix(error: Any) -> str:
    """The words before a property name at fault (as `_rs_message` puts them), or none."""
    steps = list(error.absolute_schema_path)
    return "property name " if len(steps) >= 2 and steps[-2] == "propertyNames" else ""


@functools.lru_cache(maxsize=64)
def _alone_validator(schema: str) -> Any:
    jsonschema_rs = _import_jsonschema_rs()
    assert jsonschema_rs is not None  # (asked only where fast_validator found it)
    return jsonschema_rs.Draft202012Validator(json.loads(schema))


def _rs_paths(kind: Kind, document: Any, errors: list[Any]) -> list[list[Any]]:
    """Where each jsonschema-rs error is, as the path of keys and indices into `document`.

    jsonschema-rs hands its paths over lossily: an empty key vanishes (`/splits//0`
    comes back as `/splits/0`) and a key spelled as a number becomes that number
    ("01" and "+1" both come back as 1). A path is trusted when no object it passes
    through holds such a key; otherwise python-jsonschema, which keeps keys as they
    are, locates the errors and each is paired with the jsonschema-rs error that has
    the same keywords, the same lossy path and the same value at fault. Errors left
    tied after that have the same words, so which location each takes is immaterial.
    """
    paths = [list(e.instance_path) for e in errors]
    lossy: dict[int, bool] = {}  # by object: whether it holds such a key (asked once each)
    untrusted = [i for i, path in enumerate(paths) if not _trusted(document, path, lossy)]
    if not untrusted:
        return paths
    reference: dict[tuple[str, str], list[tuple[str, list[Any]]]] = {}
    for error in validator(kind).iter_errors(document):
        real = list(error.absolute_path)
        key = (_json([str(step) for step in error.absolute_schema_path]), _json(_lossy(real)))
        reference.setdefault(key, []).append((_json(error.instance), real))
    for i in untrusted:
        error = errors[i]
        # python-jsonschema's schema path is jsonschema-rs's without the references taken
        steps = [str(step) for step in error.evaluation_path if step not in ("$ref", "$dynamicRef")]
        candidates = reference.get((_json(steps), _json(paths[i])), [])
        names = type(error.kind).__name__ == "PropertyNames"  # at fault: the name, not the object
        at_fault = _json(error.kind.error.instance if names else error.instance)
        same = [c for c in candidates if c[0] == at_fault] or candidates
        if same:
            pick = same[0]
            candidates.remove(pick)
            paths[i] = pick[1]
    return paths


def _trusted(document: Any, path: list[Any], lossy: dict[int, bool]) -> bool:
    """Whether `path` leads through `document` by objects that hold no key it can lose.
    `lossy` remembers each object's answer: k errors in an object of k keys (a document's
    every metric of the wrong type) would otherwise read its keys k times (k² in all)."""
    node = document
    for step in [*path, None]:
        if isinstance(node, dict):
            holds = lossy.get(id(node))
            if holds is None:
                holds = lossy[id(node)] = any(_lossy_key(key) for key in node)
            if holds:
                return False
            node = node.get(step if isinstance(step, str) else str(step), _MISSING)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        elif step is not None:
            return False
    return True


_MISSING = object()
_DIGITS = lazy_compile(r"\+?[0-9]+")


def _lossy_key(key: str) -> bool:
    """A key jsonschema-rs does not hand back as it is: empty, or a number not spelled
    the way it prints ("01", "+1")."""
    return key == "" or (_DIGITS.fullmatch(key) is not None and str(int(key)) != key)


def _lossy(path: list[Any]) -> list[Any]:
    """`path` as jsonschema-rs would hand it over (see `_rs_paths`)."""
    out: list[Any] = []
    for step in path:
        if isinstance(step, str) and _DIGITS.fullmatch(step) and int(step) < 2**64:
            out.append(int(step))
        elif step != "":
            out.append(step)
    return out


def _rs_message(error: Any) -> str:
    """A jsonschema-rs error in our own words, values spelled as compact JSON.

    Messages go into signed reports, which `verify --repo` recomputes: their wording
    must not change with the library's version (and an enum error names every option).
    """
    kind = error.kind
    name = type(kind).__name__
    if name == "PropertyNames":
        return "property name " + _rs_message(kind.error)
    words = _RS_WORDS.get(name)
    if words is None:  # a keyword the bundled schemas do not use
        return mask_flagged(str(error.message))
    return words(kind, error.instance)


def _json(value: Any) -> str:
    """`value` as compact JSON on one line (a line separator in a string is escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_LINE_SEPARATORS)


_LINE_SEPARATORS = {c: f"\\u{c:04x}" for c in (0x85, 0x2028, 0x2029)}


def _value(value: Any, limit: int = 60) -> str:
    """The value an error is about, cut so that the reason after it always shows. What
    the PIN scan flags in it is masked before the cut: 58 hex digits of a PIN's digest
    were left, which name the PIN (an attacker's hunt)."""
    if isinstance(value, (dict, list)) and len(value) > limit:  # spares dumping a whole document
        value = dict(list(value.items())[:limit]) if isinstance(value, dict) else value[:limit]
    text = mask_flagged(_json(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


_RS_WORDS: dict[str, Callable[[Any, Any], str]] = {
    "AdditionalProperties": lambda k, v: (
        "additional properties are not allowed: "
        + ", ".join(_value(name) for name in sorted(k.unexpected))
    ),
    "AnyOf": lambda k, v: f"{_value(v)} is not valid under any of the given schemas",
    "Constant": lambda k, v: f"{_json(k.expected_value)} was expected",
    "Enum": lambda k, v: f"{_value(v)} is not one of {_json(k.options)}",
    "ExclusiveMaximum": lambda k, v: f"{_value(v)} is not less than {_json(k.limit)}",
    "ExclusiveMinimum": lambda k, v: f"{_value(v)} is not greater than {_json(k.limit)}",
    "FalseSchema": lambda k, v: f"{_value(v)} is not allowed here",
    "MaxItems": lambda k, v: f"{_value(v)} has more items than the maximum of {k.limit}",
    "MaxLength": lambda k, v: f"{_value(v)} is longer than the maximum length of {k.limit}",
    "MaxProperties": lambda k, v: f"{_value(v)} has more properties than the maximum of {k.limit}",
    "Maximum": lambda k, v: f"{_value(v)} is greater than the maximum of {_json(k.limit)}",
    "MinItems": lambda k, v: f"{_value(v)} has fewer items than the minimum of {k.limit}",
    "MinLength": lambda k, v: f"{_value(v)} is shorter than the minimum length of {k.limit}",
    "MinProperties": lambda k, v: f"{_value(v)} has fewer properties than the minimum of {k.limit}",
    "Minimum": lambda k, v: f"{_value(v)} is less than the minimum of {_json(k.limit)}",
    "OneOfMultipleValid": lambda k, v: (
        f"{_value(v)} is valid under more than one of the given schemas"
    ),
    "OneOfNotValid": lambda k, v: f"{_value(v)} is not valid under any of the given schemas",
    "Pattern": lambda k, v: f"{_value(v)} does not match {_json(k.pattern)}",
    "Required": lambda k, v: f"{_json(k.property)} is a required property",
    "Type": lambda k, v: f"{_value(v)} is not of type " + " or ".join(map(_json, sorted(k.types))),
    "UniqueItems": lambda k, v: f"{_value(v)} has non-unique elements",
}


def _short(message: str, limit: int = 200) -> str:
    """One line (line breaks and tabs become spaces), at most `limit` characters."""
    message = _BREAKS.sub(" ", message).strip()
    return message if len(message) <= limit else message[:limit] + "…"


_BREAKS = lazy_compile("[\t\n\x0b\x0c\r\x1c-\x1f\x85\u2028\u2029]+")
