"""The `--where` filter: an MLflow-like expression over runs, parsed by hand (recursive
descent, no `eval`) into a small tree of frozen nodes (nodes.py; docs/spec.md §4.1).

    expr    := term ('or' term)*          term := factor ('and' factor)*
    factor  := 'not' factor | '(' expr ')' | test
    test    := field OP value | field ['not'] 'in' '(' value (',' value)* ')' | 'tags.'NAME
    field   := metrics.M | params.P | tags.NAME | tags | splits.S.M | study | status | id
    value   := number | 'string' | "string" | true | false | null

Keywords are case-insensitive; a name with other characters is quoted in backticks
(``params.`Args/--sub_step` ``), a backtick in it doubled (```params.`a``b` ```). An
expression can come from a workflow file a pull request edits: it is bounded in
length, nesting and list size, and every error is one line with the column where it
was found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from expflow_git.policy.model import did_you_mean
from expflow_git.query.nodes import (
    AllOf,
    AnyOf,
    Compare,
    Field,
    Fields,
    In,
    Literal,
    Node,
    Not,
    Reading,
    Tagged,
    value_of,
)
from expflow_git.query.tokens import Token, WhereError, tokens
from expflow_git.query.values import OPS, numeric

# What callers of the filter use, from one place.
__all__ = [
    "Field",
    "Fields",
    "Where",
    "WhereError",
    "check_fields",
    "fields_of",
    "parse",
    "value_of",
]

MAX_LENGTH = 4096  # characters of an expression
MAX_DEPTH = 50  # nested parentheses and `not`s
MAX_ITEMS = 1000  # values in one `in (…)` list

ROOTS = ("metrics", "params", "tags", "splits", "study", "status", "id")
_SEGMENTS = {"metrics": 2, "params": 2, "splits": 3, "study": 1, "status": 1, "id": 1}
_FIELD_SHAPES = "metrics.M, params.P, tags, tags.NAME, splits.S.M, study, status, id"


@dataclass(frozen=True)
class Where:
    """A parsed expression: its text, its tree and every field it reads."""

    text: str
    node: Node
    fields: tuple[tuple[Field, Literal | None], ...]  # (field, a value compared with it)

    def matches(self, run: Fields) -> bool:
        return self.node.matches(Reading(run))

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


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = tokens(text)
        self.i = 0
        self.depth = 0
        self.fields: list[tuple[Field, Literal | None]] = []

    @property
    def tok(self) -> Token:
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
        if tok.kind == "number" and field.names:
            value = tok.text  # `study = 2024.10` is the study so named, not a number
        elif tok.kind == "number":
            assert isinstance(tok.value, (int, float))
            value = tok.value
        elif tok.kind == "string":
            assert isinstance(tok.value, str)
            value = tok.value
        elif tok.kind == "word" and tok.text in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[tok.text]
        else:
            raise self.fail("a value (a number, a 'quoted string', true, false or null)")
        if field.root in ("metrics", "splits") and type(value) not in (int, float):
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
