"""The `--where` filter: an MLflow-like expression over runs, parsed by hand (recursive
descent, no `eval`) into a small tree of frozen nodes (docs/spec.md §4).

    expr    := term ('or' term)*          term := factor ('and' factor)*
    factor  := 'not' factor | '(' expr ')' | test
    test    := field OP value | field ['not'] 'in' '(' value (',' value)* ')' | 'tags.'NAME
    field   := metrics.M | params.P | tags.NAME | tags | splits.S.M | study | status | id
    value   := number | 'string' | "string" | true | false | null

Keywords are case-insensitive; a name with other characters is quoted in backticks
(``params.`Args/--sub_step` ``). An expression can come from a workflow file a pull
request edits: it is bounded in length, nesting and list size, and every error is one
line with the column where it was found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from expflow_git.errors import ExpflowError
from expflow_git.policy.model import did_you_mean, param_key
from expflow_git.query.values import OPS, compare, numeric

MAX_LENGTH = 4096  # characters of an expression
MAX_DEPTH = 50  # nested parentheses and `not`s
MAX_ITEMS = 1000  # values in one `in (…)` list

Literal = str | float | bool | None

ROOTS = ("metrics", "params", "tags", "splits", "study", "status", "id")
_SEGMENTS = {"metrics": 2, "params": 2, "splits": 3, "study": 1, "status": 1, "id": 1}
_FIELD_SHAPES = "metrics.M, params.P, tags, tags.NAME, splits.S.M, study, status, id"
_KEYWORDS = ("and", "or", "not", "in", "true", "false", "null")

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<op>!=|==|<=|>=|<>|=|<|>)
    |(?P<punct>[(),])
    |(?P<number>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![A-Za-z0-9_.])
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<dot>\.)
    |(?P<string>['"])
    |(?P<backtick>`)""",
    re.VERBOSE | re.ASCII,
)
# A field segment after a dot: a word that may also start with a digit and hold `-`.
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*", re.ASCII)


class WhereError(ExpflowError):
    """A malformed or meaningless expression (exit 2); `column` is 1-based."""

    def __init__(self, column: int, detail: str) -> None:
        super().__init__(f"column {column}: {detail}")
        self.column = column


class Fields(Protocol):
    """What a filter reads of a run (query.runs.Run has it; so does a ranked run)."""

    @property
    def id(self) -> str: ...
    @property
    def study(self) -> str: ...
    @property
    def status_name(self) -> str: ...
    @property
    def params(self) -> Mapping[str, object]: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def metrics(self) -> Mapping[str, float]: ...
    @property
    def splits(self) -> Mapping[str, Mapping[str, float]]: ...


@dataclass(frozen=True)
class Field:
    """A field path (`("splits", "holdout", "seg_total")`) and where it starts."""

    path: tuple[str, ...]
    column: int

    @property
    def root(self) -> str:
        return self.path[0]

    def __str__(self) -> str:
        return ".".join(self.path)


_MISSING = object()


def lookup(field: Field, run: Fields) -> object:
    """The run's value of `field`; `_MISSING` where it has none. A parameter is found by
    its exact name, else as a rule finds it (last path segment, dashes, case)."""
    root, path = field.root, field.path
    if root == "metrics":
        return run.metrics.get(path[1], _MISSING)
    if root == "splits":
        return run.splits.get(path[1], {}).get(path[2], _MISSING)
    if root == "params":
        params = run.params
        if path[1] in params:
            return params[path[1]]
        key = param_key(path[1])
        return next((v for k, v in params.items() if param_key(k) == key), _MISSING)
    if root == "study":
        return run.study
    if root == "status":
        return run.status_name
    if root == "id":
        return run.id
    raise AssertionError(root)  # tags are tested by Tagged / TagTest


def _tag_values(name: str, tags: Sequence[str]) -> list[str]:
    """The values of key:value tags `NAME:VALUE` with this name."""
    prefix = name + ":"
    return [t[len(prefix) :] for t in tags if t.startswith(prefix)]


class Node(Protocol):
    def matches(self, run: Fields) -> bool: ...


@dataclass(frozen=True)
class Compare:
    """`field OP value`: false where the run has no such value (as in MLflow)."""

    field: Field
    op: str
    value: Literal

    def matches(self, run: Fields) -> bool:
        if self.field.root == "tags":
            if len(self.field.path) == 1:  # `tags = 'x'`: membership
                return (self.value in run.tags) == (self.op == "=")
            values = _tag_values(self.field.path[1], run.tags)
            if self.op == "!=":
                return bool(values) and all(compare(v, "!=", self.value) for v in values)
            return any(compare(v, self.op, self.value) for v in values)
        found = lookup(self.field, run)
        return found is not _MISSING and compare(found, self.op, self.value)


@dataclass(frozen=True)
class In:
    """`field [not] in (v, …)`: present and equal to one of them (or to none)."""

    field: Field
    values: tuple[Literal, ...]
    negated: bool

    def matches(self, run: Fields) -> bool:
        if self.field.root == "tags":
            found: list[object] = (
                list(run.tags)
                if len(self.field.path) == 1
                else list(_tag_values(self.field.path[1], run.tags))
            )
            if not found and len(self.field.path) > 1:
                return False
        else:
            value = lookup(self.field, run)
            if value is _MISSING:
                return False
            found = [value]
        hit = any(compare(f, "=", v) for f in found for v in self.values)
        return hit != self.negated


@dataclass(frozen=True)
class Tagged:
    """A bare `tags.NAME`: the run has the tag NAME, or a key:value tag `NAME:…`."""

    name: str

    def matches(self, run: Fields) -> bool:
        return self.name in run.tags or bool(_tag_values(self.name, run.tags))


@dataclass(frozen=True)
class Not:
    part: Node

    def matches(self, run: Fields) -> bool:
        return not self.part.matches(run)


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Node, ...]

    def matches(self, run: Fields) -> bool:
        return all(p.matches(run) for p in self.parts)


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Node, ...]

    def matches(self, run: Fields) -> bool:
        return any(p.matches(run) for p in self.parts)


@dataclass(frozen=True)
class Where:
    """A parsed expression: its text, its tree and every field it reads."""

    text: str
    node: Node
    fields: tuple[tuple[Field, Literal | None], ...]  # (field, a value compared with it)

    def matches(self, run: Fields) -> bool:
        return self.node.matches(run)

    def check(self, metrics: Mapping[str, object], statuses: Sequence[str]) -> None:
        """See `check_fields`."""
        check_fields(self.fields, metrics, statuses)


def check_fields(
    fields: Iterable[tuple[Field, Literal | None]],
    metrics: Mapping[str, object],
    statuses: Sequence[str],
) -> None:
    """Fields the policy does not know, and values they can never hold, are errors
    (exit 2 with the column): a typo must not silently match nothing."""
    for field, value in fields:
        if field.root in ("metrics", "splits"):
            name = field.path[-1]
            if name not in metrics:
                raise WhereError(
                    field.column,
                    f"unknown metric {name!r} in {field}{did_you_mean(name, list(metrics))}",
                )
        elif field.root == "status" and isinstance(value, str) and value not in statuses:
            raise WhereError(
                field.column,
                f"status {value!r} is none of {', '.join(statuses)}"
                f"{did_you_mean(value, list(statuses))}",
            )


@dataclass(frozen=True)
class _Token:
    kind: str  # op, punct, number, string, word, field, end
    text: str
    column: int
    value: object = None


def tokens(text: str) -> list[_Token]:
    """The expression's tokens; a field (`a.b.c`, segments maybe in backticks) is one."""
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise WhereError(pos + 1, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind == "space":
            pos = match.end()
        elif kind == "string":
            value, end = _string(text, pos)
            out.append(_Token("string", text[pos:end], pos + 1, value))
            pos = end
        elif kind in ("word", "backtick"):
            path, end = _field(text, pos)
            word = path[0].casefold()
            if len(path) == 1 and kind == "word" and word in _KEYWORDS:
                out.append(_Token("word", word, pos + 1))
            else:
                out.append(_Token("field", text[pos:end], pos + 1, path))
            pos = end
        elif kind == "number":
            number = float(match.group())
            if not math.isfinite(number):
                raise WhereError(pos + 1, f"{match.group()} is not a finite number")
            out.append(_Token("number", match.group(), pos + 1, number))
            pos = match.end()
        elif kind == "dot":
            raise WhereError(pos + 1, "a field name must come before '.'")
        else:
            out.append(_Token(kind, match.group(), pos + 1))
            pos = match.end()
    out.append(_Token("end", "", len(text) + 1))
    return out


def _string(text: str, start: int) -> tuple[str, int]:
    """A quoted string from `start` (its quote): the value and the index after it.
    A backslash escapes the quote or a backslash; a doubled quote is one quote."""
    quote = text[start]
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text) and text[pos + 1] in (quote, "\\"):
            chars.append(text[pos + 1])
            pos += 2
        elif ch == quote:
            if text[pos + 1 : pos + 2] == quote:
                chars.append(quote)
                pos += 2
            else:
                return "".join(chars), pos + 1
        else:
            chars.append(ch)
            pos += 1
    raise WhereError(start + 1, "unterminated string")


def _field(text: str, start: int) -> tuple[tuple[str, ...], int]:
    """A dotted field from `start`: its segments and the index after it."""
    segments: list[str] = []
    pos = start
    while True:
        if text.startswith("`", pos):
            end = text.find("`", pos + 1)
            if end < 0:
                raise WhereError(pos + 1, "unterminated `quoted name`")
            if end == pos + 1:
                raise WhereError(pos + 1, "empty `quoted name`")
            segments.append(text[pos + 1 : end])
            pos = end + 1
        else:
            match = (_SEGMENT if segments else _WORD).match(text, pos)
            if match is None:
                raise WhereError(pos + 1, "expected a name after '.'")
            segments.append(match.group())
            pos = match.end()
        if not text.startswith(".", pos):
            return tuple(segments), pos
        pos += 1


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = tokens(text)
        self.i = 0
        self.depth = 0
        self.fields: list[tuple[Field, Literal | None]] = []

    @property
    def tok(self) -> _Token:
        return self.toks[self.i]

    def fail(self, what: str) -> WhereError:
        tok = self.tok
        found = "the end of the expression" if tok.kind == "end" else repr(tok.text[:40])
        return WhereError(tok.column, f"expected {what}, found {found}")

    def keyword(self, word: str) -> bool:
        if self.tok.kind == "word" and self.tok.text == word:
            self.i += 1
            return True
        return False

    def expr(self) -> Node:
        parts = [self.term()]
        while self.keyword("or"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def term(self) -> Node:
        parts = [self.factor()]
        while self.keyword("and"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def factor(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise WhereError(self.tok.column, f"nested deeper than {MAX_DEPTH} levels")
        try:
            if self.keyword("not"):
                return Not(self.factor())
            if self.tok.kind == "punct" and self.tok.text == "(":
                self.i += 1
                node = self.expr()
                if not (self.tok.kind == "punct" and self.tok.text == ")"):
                    raise self.fail("')' or 'and'/'or'")
                self.i += 1
                return node
            return self.test()
        finally:
            self.depth -= 1

    def field(self) -> Field:
        tok = self.tok
        if tok.kind != "field":
            raise self.fail(f"a field ({_FIELD_SHAPES})")
        assert isinstance(tok.value, tuple)
        path: tuple[str, ...] = tok.value
        root = path[0]
        if root not in ROOTS:
            raise WhereError(
                tok.column,
                f"unknown field {root!r}{did_you_mean(root, list(ROOTS))}; "
                f"fields are {', '.join(ROOTS)}",
            )
        wanted = _SEGMENTS.get(root)
        if (root == "tags" and len(path) > 2) or (wanted is not None and len(path) != wanted):
            shape = {1: root, 2: f"{root}.NAME", 3: f"{root}.SPLIT.METRIC"}[wanted or 2]
            raise WhereError(tok.column, f"{tok.text!r}: write {shape}")
        self.i += 1
        return Field(path, tok.column)

    def test(self) -> Node:
        field = self.field()
        tok = self.tok
        if tok.kind == "op":
            self.i += 1
            op = {"==": "=", "<>": "!="}.get(tok.text, tok.text)
            value = self.value(field)
            if field.path == ("tags",) and op not in ("=", "!="):
                raise WhereError(tok.column, "tags compare only with = and != (has a tag or not)")
            self.fields.append((field, value))
            return Compare(field, op, value)
        negated = self.keyword("not")
        if negated or (tok.kind == "word" and tok.text == "in"):
            if not self.keyword("in"):
                raise self.fail("'in' after 'not'")
            return In(field, self.values(field), negated)
        if field.root == "tags" and len(field.path) == 2:
            return Tagged(field.path[1])
        raise self.fail(f"an operator ({' '.join(OPS)}) or 'in' after {str(field)!r}")

    def values(self, field: Field) -> tuple[Literal, ...]:
        if not (self.tok.kind == "punct" and self.tok.text == "("):
            raise self.fail("'(' after 'in'")
        self.i += 1
        out = [self.value(field)]
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.i += 1
            out.append(self.value(field))
            if len(out) > MAX_ITEMS:
                raise WhereError(self.tok.column, f"more than {MAX_ITEMS} values in one list")
        if not (self.tok.kind == "punct" and self.tok.text == ")"):
            raise self.fail("',' or ')'")
        self.i += 1
        for value in out:
            self.fields.append((field, value))
        return tuple(out)

    def value(self, field: Field) -> Literal:
        tok = self.tok
        value: Literal
        if tok.kind == "number":
            assert isinstance(tok.value, float)
            value = tok.value
        elif tok.kind == "string":
            assert isinstance(tok.value, str)
            value = tok.value
        elif tok.kind == "word" and tok.text in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[tok.text]
        else:
            raise self.fail("a value (a number, a 'quoted string', true, false or null)")
        if field.root in ("metrics", "splits") and not isinstance(value, float):
            if not (isinstance(value, str) and numeric(value) is not None):
                raise WhereError(tok.column, f"{field} is a number; {tok.text} is not one")
        self.i += 1
        return value


def parse(text: str) -> Where:
    """Parse a `--where` expression; WhereError (exit 2, with the column) if it is not one."""
    if len(text) > MAX_LENGTH:
        raise WhereError(MAX_LENGTH + 1, f"the expression is longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise WhereError(1, "the expression is empty")
    parser = _Parser(text)
    node = parser.expr()
    if parser.tok.kind != "end":
        raise parser.fail("'and', 'or' or the end")
    return Where(text, node, tuple(parser.fields))


def fields_of(spec: str) -> tuple[Field, ...]:
    """A `--columns` list (`params.lr,splits.holdout.seg_total`): fields as `--where`
    names them, comma-separated; tags are not a column (they are a list)."""
    if len(spec) > MAX_LENGTH:
        raise WhereError(MAX_LENGTH + 1, f"longer than {MAX_LENGTH} characters")
    parser = _Parser(spec)
    out = [parser.field()]
    while parser.tok.kind == "punct" and parser.tok.text == ",":
        parser.i += 1
        out.append(parser.field())
    if parser.tok.kind != "end":
        raise parser.fail("',' or the end")
    for f in out:
        if f.root == "tags":
            raise WhereError(f.column, "tags are not a column (filter with --where tags.NAME)")
    return tuple(out)


def value_of(field: Field, run: Fields) -> object:
    """A column's value for a run: None where it has none."""
    found = lookup(field, run)
    return None if found is _MISSING else found
