"""expflow.yaml → Policy (policy/model.py): YAML with budgets, unknown keys, the registry,
gates, rules and the rest (docs/spec.md §3).

A broken policy is a configuration error (exit 2): every problem is raised as
ExpflowError naming the file and, where known, the JSON pointer. Nothing that
fails to parse is ever silently dropped or treated as passing.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

from expflow_git import __version__
from expflow_git.errors import ExpflowError, is_utf8
from expflow_git.jsonstrict import float_problem, pointer_token
from expflow_git.lazyre import lazy_compile
from expflow_git.policy.model import (
    DEFAULT_CORRECTION_GLOBS,
    DEFAULT_EXPERIMENT_GLOBS,
    DEFAULT_POLICY_PATH,
    DEFAULT_RESULT_GLOBS,
    Aggregate,
    Metric,
    Op,
    Policy,
    Ranking,
    Rule,
    Severity,
    WalkForward,
    did_you_mean,
    fmt_number,
    one_check_each,
    parse_gate,
    quoted,
)
from expflow_git.schemas import Kind, is_valid, load_schema, schema_errors

MAX_POLICY_BYTES = 1024 * 1024
# A policy is a small file: a node budget stops YAML alias "billion laughs"
# expansions long before they cost memory or time.
MAX_POLICY_NODES = 100_000
# ... and a text budget: one long string aliased thousands of times is few nodes, but
# every copy was checked, kept and written to the policy cache (200 KB: 480 MB).
MAX_POLICY_TEXT = 4 * MAX_POLICY_BYTES  # characters of keys and strings, aliases expanded
# As deep as a document may nest (jsonstrict.DEFAULT_MAX_DEPTH): a policy needs a few levels.
MAX_POLICY_DEPTH = 64
# A registry threshold is a gate (docs/spec.md §3): every run's report entry lists each,
# so they are bounded as `gates` are (the schema's maxItems).
MAX_THRESHOLDS = 256


def load_policy_bytes(
    data: bytes,
    *,
    path: str = DEFAULT_POLICY_PATH,
    cache_dir: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Policy:
    """Parse and check a policy document; any problem is ExpflowError (exit 2) naming `path`.

    With `cache_dir`, a policy already checked (same bytes at the same path, same tool
    version) is read back from there, which spares a hook the YAML parser; it is
    re-validated on use, and only a file this user wrote is read (`warn` is told of one
    that is not trusted).
    """
    digest = _sha256_hex(data)
    cached = _cached_policy(cache_dir, digest, path, warn)
    if cached is not None:
        return _build(cached, path, digest)
    try:
        raw = _load_yaml(data, path)
    except ExpflowError as exc:
        unparsed: ExpflowError | None = exc
    else:
        unparsed = None
    if unparsed is not None:
        # A YAML error may quote the policy's scalars (ruamel's duplicate key both values,
        # a tag's `'NNNN' is not a valid !!bool`): `pin: NNNN` twice printed the PIN in the
        # hook's and the audit's error (a hunt, issue 18 thirty-ninth pass). A policy that
        # holds a secret is refused for it first, masked, as one that parses is; outside
        # the `except`, so that the refusal carries no YAML error as its context, which a
        # traceback (the API's, a notebook's) printed with the PIN (a review).
        if len(data) <= MAX_POLICY_BYTES:
            _check_no_secrets(data, path)
        raise unparsed
    _check_no_secrets(data, path)
    _check_unknown_keys(raw, load_schema(Kind.POLICY), "", path)
    if not is_valid(Kind.POLICY, raw):
        for pointer, message in schema_errors(Kind.POLICY, raw):
            raise ExpflowError(f"{path}: {pointer or '/'}: {message}")
    policy = _build(raw, path, digest)
    if cache_dir is not None:
        _store_policy(cache_dir, digest, path, raw)
    return policy


def _sha256_hex(data: bytes) -> str:
    """SHA-256 of the policy's bytes (CPython's own: gitstore.builtin_hash)."""
    from expflow_git.gitstore import builtin_hash

    return str(builtin_hash("sha256")(data).hexdigest())


def _policy_cache_file(cache_dir: Path, digest: str, path: str) -> Path:
    # f2: floats are read as written (a policy cached before may hold `1e-400`).
    # f3: the file names the policy's digest and path inside, and its name the path too:
    # the PIN scan's verdict depends on the path (a `.py` name, `pin.hash`), and a file
    # renamed onto another policy's name must not stand in for it.
    # f4: a YAML 1.1 base-60 float is refused (a policy cached before read it); f5: an
    # integer of 2**53 too (an f4 entry written before held one: a review). Since then
    # the build's code digest stands for such tags: no one has to remember them.
    from expflow_git.resources import code_digest

    where = _sha256_hex(path.encode("utf-8", "surrogatepass"))[:16]
    return cache_dir / f"policy-{__version__}-{code_digest()}-{digest}-{where}.json"


def _cached_policy(
    cache_dir: Path | None, digest: str, path: str, warn: Callable[[str], None] | None
) -> dict[str, Any] | None:
    if cache_dir is None:
        return None
    from expflow_git.localcache import read_own
    from expflow_git.resources import build_id

    data = read_own(_policy_cache_file(cache_dir, digest, path), warn, below=cache_dir.parent)
    if data is None:
        return None  # parsed from the YAML, and remembered again (by this user)
    try:
        entry = json.loads(data)
    except (ValueError, RecursionError):  # (nested past the recursion limit: as damaged)
        return None
    if not (
        isinstance(entry, dict)
        and entry.get("sha256") == digest
        and entry.get("path") == path
        and entry.get("tool") == build_id()
        and isinstance(raw := entry.get("policy"), dict)
        and entry.get("body") == _body_digest(raw)
    ):
        return None  # another policy's entry (renamed onto this name), or damaged
    return raw if is_valid(Kind.POLICY, raw) else None


def _body_digest(raw: Mapping[str, Any]) -> str:
    """The SHA-256 of a remembered policy as its entry writes it (`json.dumps`, which
    writes what it read back the same): a bit flipped on disk in a threshold (`18.09` to
    `98.09`) is still a valid policy, and was believed in place of the committed one, a
    failing run passed by every audit with the cache and every hook (a hunt, issue 18
    thirty-ninth pass). The audit's shards carry their body's digest for that reason."""
    return _sha256_hex(json.dumps(raw).encode())


def _store_policy(cache_dir: Path, digest: str, path: str, raw: Mapping[str, Any]) -> None:
    from expflow_git.localcache import write_own
    from expflow_git.resources import build_id

    entry = {
        "sha256": digest,
        "path": path,
        "tool": build_id(),
        "policy": raw,
        "body": _body_digest(raw),
    }
    # ASCII JSON: a path that is not UTF-8 (`\udcff`) reads back as it was written. As
    # the audit's cache: never through a linked folder, and not kept if it cannot be.
    data = json.dumps(entry).encode()
    write_own(_policy_cache_file(cache_dir, digest, path), data, below=cache_dir.parent)


def _load_yaml(data: bytes, path: str) -> dict[str, Any]:
    if len(data) > MAX_POLICY_BYTES:
        raise ExpflowError(
            f"{path}: policy is {len(data)} bytes, over the {MAX_POLICY_BYTES}-byte cap"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExpflowError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe", pure=True)
    yaml.Scanner = _scanner()
    yaml.Constructor = _constructor()
    yaml.constructor.source = path
    yaml.constructor.text = text
    import warnings

    try:
        with warnings.catch_warnings():
            # A reused anchor is valid YAML (an alias takes the latest one). ruamel's
            # warning of it quoted the policy's line, printed raw: a line starting `::`
            # was a workflow command in the CI log (an attacker's hunt).
            warnings.simplefilter("ignore")
            raw = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _spot(text, mark) if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ExpflowError(f"{path}{where}: invalid YAML: {problem}") from None
    except RecursionError:
        raise ExpflowError(f"{path}: invalid YAML: nested too deeply") from None
    if raw is None:
        raise ExpflowError(f"{path}: policy is empty")
    if not isinstance(raw, dict):
        raise ExpflowError(f"{path}: policy must be a mapping at the top level")
    _count_nodes(raw, path)
    plain: dict[str, Any] = _plain(raw, path)
    return plain


# The most decimal digits of an integer the policy may hold (Python's own limit for
# printing one, sys.int_info.default_max_str_digits): a hex, octal, binary or base-60
# spelling of one past it is refused at its line, as a decimal one is.
_MAX_INT_DIGITS = 4300
_PAST_INT_DIGITS = 10**_MAX_INT_DIGITS

# What ruamel's constructors raise, past their own ConstructorError, on a tagged value
# they cannot build (`!!int ''`, `!!bool abc`, a mapping as a key).
_UNBUILDABLE = (ArithmeticError, AssertionError, AttributeError, LookupError, TypeError, ValueError)

# The YAML versions ruamel reads. It took `%YAML 1.3` (or 1.0, 1.9) to a bare assert: an
# AssertionError traceback, exit 1, from every command; under `python -O`, a KeyError.
_YAML_VERSIONS = ((1, 1), (1, 2))


@functools.cache
def _scanner() -> type[Any]:
    """ruamel's scanner, but a `%YAML` directive of another version than 1.1 or 1.2 is a
    YAML error at the directive, checked here rather than left to ruamel's assert; and a
    flow collection (`[`, `{`) more than MAX_POLICY_DEPTH deep in others is a YAML error
    at its bracket: the scanner's work per token grows with the flow depth (its possible
    simple keys, one a level), and 160 KB of `[` … `]` 400 deep took 47 s before the
    depth bound refused what it built (a minute and more at the 1 MiB cap; forty-second
    pass). Such a collection nests deeper than that bound allows anyway."""
    from ruamel.yaml.scanner import Scanner as RuamelScanner
    from ruamel.yaml.scanner import ScannerError

    class Scanner(RuamelScanner):
        def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
            if len(self.flow_context) >= MAX_POLICY_DEPTH:
                raise ScannerError(
                    None,
                    None,
                    f"flow collections ([ or {{) nest more than {MAX_POLICY_DEPTH} levels deep",
                    self.reader.get_mark(),
                )
            super().fetch_flow_collection_start(TokenClass, to_push)

        def scan_yaml_directive_value(self, start_mark: Any) -> Any:
            version = super().scan_yaml_directive_value(start_mark)
            if tuple(version) not in _YAML_VERSIONS:
                major, minor = version
                raise ScannerError(
                    None,
                    None,
                    f"%YAML {major}.{minor} is not a version this reads (1.1 or 1.2)",
                    start_mark,
                )
            return version

    return Scanner


@functools.cache
def _constructor() -> type[Any]:
    """ruamel's safe constructor, but a float must be the decimal its double's shortest
    spelling is (jsonstrict.float_problem), as in a document: `min: -1e-400` would be
    -0.0, and a threshold `60.0000000000000001` would be 60."""
    from ruamel.yaml.constructor import SafeConstructor

    class Constructor(SafeConstructor):
        source = DEFAULT_POLICY_PATH
        text = ""  # the policy's text, for the lines its errors name

        def construct_yaml_float(self, node: Any) -> float:
            if ":" in node.value:  # YAML 1.1's base 60, summed in floating point (a hunt)
                self._refuse(node, "a base-60 number (YAML 1.1); write the decimal it means")
            try:
                value = float(super().construct_yaml_float(node))
            except ValueError:  # `!!float 0x1F`, `!!float abc`: a traceback (a review)
                self._refuse(node, f"{_cut(node.value)} is not a number")
            problem = float_problem(node.value, value) if math.isfinite(value) else None
            if problem is not None:
                self._refuse(node, problem)
            return value

        def construct_yaml_int(self, node: Any) -> int:
            # Past Python's 4,300 digits no double holds it either, and no message can
            # print it. Refused before ruamel reads it (YAML 1.1's base 60 sums its
            # parts in time quadratic in their number: 60,000 took 1.8 s) and after:
            # `0x` and 4,000 `f`s is 4,800 decimal digits, and its message was
            # Python's own ValueError, a traceback, exit 1 (an attacker's hunt,
            # thirty-seventh pass).
            too_long = f"an integer of {len(node.value)} characters is not a finite number"
            if len(node.value) > _MAX_INT_DIGITS:
                self._refuse(node, too_long)
            try:
                value = int(super().construct_yaml_int(node))
            except ValueError:  # `!!int 1:30` under YAML 1.2, `!!int abc`
                self._refuse(node, f"{_cut(node.value)} is not an integer")
            if abs(value) >= _PAST_INT_DIGITS:
                self._refuse(
                    node,
                    f"{_cut(node.value)} is an integer of more than {_MAX_INT_DIGITS} digits, "
                    "not a finite number",
                )
            return value

        def construct_document(self, node: Any) -> Any:
            _check_merges(node, self._refuse)  # before ruamel copies a single pair
            return super().construct_document(node)

        def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
            """ruamel's, but a value its constructors fail on with Python's own error is
            refused at its line: `!!int ''` and `!!float ''` (IndexError), `!!bool abc`
            (KeyError), `!!timestamp 2001-13-45` (ValueError), a key holding a mapping
            (`? [{a: 1}]`: TypeError) and `!!omap` with a key twice (AssertionError)
            were tracebacks, exit 1 (an attacker's hunt, thirty-seventh pass). A mapping
            is filled after its node is built (a generator ruamel keeps for later): that
            part is guarded the same way."""
            pending = len(self.state_generators)
            try:
                data = super().construct_non_recursive_object(node, tag)
            except _UNBUILDABLE as exc:
                self._unbuildable(node, exc)
            if len(self.state_generators) > pending:
                self.state_generators[-1] = self._guarded(self.state_generators[-1], node)
            return data

        def _guarded(self, generator: Any, node: Any) -> Any:
            try:
                yield from generator
            except _UNBUILDABLE as exc:
                self._unbuildable(node, exc)

        def _unbuildable(self, node: Any, exc: BaseException) -> NoReturn:
            from ruamel.yaml.nodes import ScalarNode

            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            if isinstance(node, ScalarNode):
                self._refuse(node, f"invalid YAML: {_cut(node.value)} is not a valid {tag}")
            if isinstance(exc, TypeError) and "unhashable" in str(exc):  # `? [{a: 1}]`
                self._refuse(node, "invalid YAML: a key holds a mapping or a list (keys are text)")
            detail = _cut(str(exc)) if str(exc) else type(exc).__name__
            self._refuse(node, f"invalid YAML: this {node.id} cannot be read as {tag} ({detail})")

        def _refuse(self, node: Any, problem: str) -> NoReturn:
            raise ExpflowError(f"{self.source}{_spot(self.text, node.start_mark)}: {problem}")

    Constructor.add_constructor("tag:yaml.org,2002:float", Constructor.construct_yaml_float)
    Constructor.add_constructor("tag:yaml.org,2002:int", Constructor.construct_yaml_int)
    return Constructor


_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_VALUE_TAG = "tag:yaml.org,2002:value"


def _check_merges(root: Any, refuse: Callable[[Any, str], NoReturn]) -> None:
    """Bound what YAML merge keys (`<<`) cost, on the composed nodes, before any is built.

    ruamel flattens a mapping with a merge key in place: its pairs become the merged
    mappings' pairs (each as many times as it is named) followed by its own, and a later
    merge of it copies all of them again. `<<: [*a, *a, …]` ten times over six levels was
    five million pairs for a dict of five (minutes at seven levels, hours at nine), and
    the node budget (_count_nodes) only ever saw the small result. Here each mapping's
    flattened length is counted once (linear in the nodes and merge keys): the pairs
    merges would copy, summed over the document, stay within MAX_POLICY_NODES. A merge
    that reaches the mapping holding it is refused too (no honest policy needs one, and
    ruamel's result then depends on the order it flattens in)."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    _check_merge_cycles(root, refuse)
    mappings: list[Any] = []
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:  # every mapping node once, aliases and all
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            mappings.append(node)
            for key, value in node.value:
                stack += (key, value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    # A mapping holding a merge key, and each mapping one merges, has its keys checked
    # here: ruamel builds neither as a mapping of its own (it copies a merged one's
    # pairs), so `<<: {threshold: 5, threshold: 500}` kept the last silently (an
    # attacker's hunt, thirty-eighth pass). Each once, however often it is merged.
    checked: set[int] = set()
    for node in mappings:
        merges = [value for key, value in node.value if key.tag == _MERGE_TAG]
        if not merges:
            continue
        named = [m for v in merges for m in (v.value if isinstance(v, SequenceNode) else [v])]
        for mapping in [node, *named]:
            if isinstance(mapping, MappingNode) and id(mapping) not in checked:
                checked.add(id(mapping))
                _check_own_keys(mapping, refuse)

    def sources(node: Any) -> list[tuple[Any, Any]]:
        """(the `<<` key, a mapping it merges) for each mapping `node` merges."""
        found: list[tuple[Any, Any]] = []
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                items = value.value if isinstance(value, SequenceNode) else [value]
                found += ((key, item) for item in items if isinstance(item, MappingNode))
        return found  # anything else than mappings is ruamel's own error

    flat: dict[int, int] = {}  # id(mapping) → its pairs once flattened
    copied = 0
    for top in mappings:
        todo: list[tuple[Any, bool]] = [(top, False)]
        open_: set[int] = set()
        while todo:  # depth first along merge keys only, without recursion
            node, children_done = todo.pop()
            if id(node) in flat:
                continue
            merged = sources(node)
            if not children_done:
                open_.add(id(node))
                todo.append((node, True))
                for key, source in merged:
                    if id(source) in open_:
                        refuse(key, "invalid YAML: a merge key (<<) merges a mapping that holds it")
                    if id(source) not in flat:
                        todo.append((source, False))
                continue
            open_.discard(id(node))
            own = sum(1 for key, _ in node.value if key.tag != _MERGE_TAG)
            extra = sum(flat[id(source)] for _, source in merged)
            flat[id(node)] = own + extra
            copied += extra
            if copied > MAX_POLICY_NODES:
                refuse(
                    merged[0][0],
                    f"invalid YAML: merge keys (<<) copy more than {MAX_POLICY_NODES} "
                    "key/value pairs (YAML merge bomb?)",
                )


def _check_merge_cycles(root: Any, refuse: Callable[[Any, str], NoReturn]) -> None:
    """A merge that reaches the mapping holding it through the document's own nesting
    is refused at its `<<` too (`metrics: &m {…, other: {<<: *m}}`): the merge-only walk
    in `_check_merges` saw no cycle there, ruamel built a mapping holding itself, and the
    policy was refused as "nests more than 64 levels deep", naming no line (a hunt of
    spec §3, forty-first pass). One depth-first walk of the nodes, aliases and all: a
    cycle that takes a merge key's edge names that `<<`; one without (`&a [*a]`) is left
    to the depth bound."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    def edges(node: Any) -> Iterator[tuple[Any, Any]]:
        """(child, the `<<` key when the edge is a merge's, else None)."""
        if isinstance(node, MappingNode):
            for key, value in node.value:
                merge = key if key.tag == _MERGE_TAG else None
                if merge is None:
                    yield key, None
                yield value, merge
        elif isinstance(node, SequenceNode):
            for item in node.value:
                yield item, None

    done: set[int] = set()
    on_path: dict[int, int] = {id(root): 0}  # id(node) → its place on the path
    into: list[Any] = [None]  # the `<<` key of the edge into each node on the path
    stack: list[tuple[Any, Iterator[tuple[Any, Any]]]] = [(root, edges(root))]
    while stack:
        node, children = stack[-1]
        for child, merge in children:
            place = on_path.get(id(child))
            if place is not None:  # a cycle: the path from `child` on, and this edge
                merges = [k for k in (*into[place + 1 :], merge) if k is not None]
                if merges:
                    refuse(
                        merges[0], "invalid YAML: a merge key (<<) merges a mapping that holds it"
                    )
                continue
            if id(child) not in done:
                on_path[id(child)] = len(stack)
                into.append(merge)
                stack.append((child, edges(child)))
                break
        else:
            stack.pop()
            into.pop()
            del on_path[id(node)]
            done.add(id(node))


def _check_own_keys(node: Any, refuse: Callable[[Any, str], NoReturn]) -> None:
    """A key given twice in a mapping that holds a merge key is refused, as it is in any
    other mapping: ruamel checks only a mapping without one, and kept the last of the two
    silently (`{<<: *b, threshold: 0.5, threshold: 0.9}`). Keys compare as the scalars
    they are (`a`, `"a"` and `!!str a` are one key); a policy's keys are strings (any other
    is refused once built), and a key the merge brings is overridden, as YAML means."""
    from ruamel.yaml.nodes import ScalarNode

    seen: set[tuple[Any, Any]] = set()
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
            continue  # a second `<<` is ruamel's own error
        # ruamel reads a `=` key (YAML 1.1's value key) as the string "="
        spelled = (_STR_TAG if key.tag == _VALUE_TAG else key.tag, key.value)
        if spelled in seen:
            refuse(key, f"invalid YAML: found duplicate key {_cut(key.value)}")
        seen.add(spelled)


def _spot(text: str, mark: Any) -> str:
    """`:LINE:COL` of a ruamel mark as git and GitHub count lines: ruamel also breaks a
    line at a lone CR or a NEL, and a finding put at its line 27 was git's line 17 (a
    review, issue 18 twenty-fourth pass). Without the text, ruamel's own count."""
    index = mark.index
    if not text or not 0 <= index <= len(text):
        return f":{mark.line + 1}:{mark.column + 1}"
    newline = "\n"
    line_start = text.rfind(newline, 0, index) + 1
    return f":{text.count(newline, 0, index) + 1}:{index - line_start + 1}"


def _cut(literal: str) -> str:
    """A scalar quoted for a message, at most 40 characters of it (a policy holds 1 MiB)."""
    return repr(literal if len(literal) <= 40 else literal[:40] + "…")


def _count_nodes(root: Any, path: str) -> None:
    """Walk iteratively with budgets: aliases can make a tiny file a huge tree, or a huge
    text (a long string repeated); and no deeper than a document may nest (the schema's
    validator gave up at ~260 levels with a traceback)."""
    budget = MAX_POLICY_NODES
    text = MAX_POLICY_TEXT
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_POLICY_DEPTH:
            raise ExpflowError(f"{path}: policy nests more than {MAX_POLICY_DEPTH} levels deep")
        budget -= 1
        if budget < 0:
            raise ExpflowError(
                f"{path}: policy expands to more than {MAX_POLICY_NODES} values (YAML alias bomb?)"
            )
        if isinstance(node, (str, int)):  # an int of up to 4,300 digits is text too
            text -= len(node) if isinstance(node, str) else node.bit_length() * 3 // 10 + 1
            if text < 0:
                raise ExpflowError(
                    f"{path}: policy expands to more than {MAX_POLICY_TEXT} characters of "
                    "text (YAML alias bomb?)"
                )
        elif isinstance(node, dict):
            stack.extend((key, depth + 1) for key in node)
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)


def _integer(value: Any, path: str, pointer: str) -> Any:
    """A setting the schema types as an integer, as an int: the schema takes 10.0 for
    one, and a float slices nothing and is shown as "5.0" in the report. Bounded as the
    integers are (`1.0e+20` as an int made the report's canonical JSON fail)."""
    if not isinstance(value, float):
        return value
    if abs(value) >= 2**53:
        raise ExpflowError(
            f"{path}: {pointer}: {fmt_number(value)} is too large: a policy's integers are "
            "below 2**53 (at most 9007199254740991) in magnitude"
        )
    return int(value)


# A rule's value (or one of an `in` list) is compared with a param exactly, as an
# integer: 2**53 + 1 is not 2**53, and a tracker may store any integer (docs/spec.md §3).
_RULE_VALUE = lazy_compile(r"/rules/[0-9]+/value(?:/[0-9]+)?\Z")
# A rule's `param` and `value` in characters (the policy schema's maxLength): an integer
# value is spelled in the report's rule names as a string one is.
MAX_RULE_TEXT = 256
_LONG_RULE_INT = 10 ** (MAX_RULE_TEXT - 1)  # (the least with 256 digits: asked of no other)


def _plain(node: Any, path: str, pointer: str = "") -> Any:
    """YAML values → JSON values; YAML-only types (dates, non-finite floats…) are refused."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not isinstance(key, str):
                raise ExpflowError(f"{path}: {pointer or '/'}: key {quoted(key)} must be a string")
            _text(key, path, pointer)
            out[key] = _plain(value, path, f"{pointer}/{pointer_token(key)}")
        return out
    if isinstance(node, list):
        return [_plain(v, path, f"{pointer}/{i}") for i, v in enumerate(node)]
    if isinstance(node, float) and not math.isfinite(node):
        raise ExpflowError(f"{path}: {pointer}: {node} is not a finite number")
    if type(node) is int and abs(node) >= 2**53 and not _RULE_VALUE.match(pointer):
        # A bound, a step or a count is read as a double, and a report's canonical JSON
        # holds no integer of 2**53 or more: 10**19 as a ladder step passed `validate`,
        # then every audit died writing the report (2**53 itself too: a hunt, issue 18
        # twenty-fourth pass). Rule values are compared exactly.
        raise ExpflowError(
            f"{path}: {pointer}: {fmt_number(node)} is too large: a policy's integers are "
            "below 2**53 (at most 9007199254740991) in magnitude"
        )
    if type(node) is int and abs(node) >= _LONG_RULE_INT and _RULE_VALUE.match(pointer):
        spelled = len(str(node))
        if spelled > MAX_RULE_TEXT:
            # Kept exactly past 2**53, a rule's integer (up to 4,300 digits) named it in
            # every run's report entry as a string value did before it was bounded: 200
            # rules of one aliased 4,000-digit value made a 54 MB report of 50 runs (a
            # review, issue 18 forty-first pass). Bounded as the schema bounds a string.
            raise ExpflowError(
                f"{path}: {pointer}: an integer of {spelled} characters is longer than "
                f"the maximum length of {MAX_RULE_TEXT}"
            )
    if isinstance(node, str):
        return _text(node, path, pointer)
    if node is None or isinstance(node, (int, float, bool)):
        return node
    raise ExpflowError(
        f"{path}: {pointer}: unsupported YAML value of type "
        f"{type(node).__name__}; quote it as a string"
    )


def _text(text: str, path: str, pointer: str) -> str:
    """A string that is Unicode text: a `"\\ud800"` escape decodes to a lone surrogate."""
    if not is_utf8(text):
        raise ExpflowError(f"{path}: {pointer or '/'}: a lone surrogate is not text")
    return text


def _check_no_secrets(data: bytes, path: str) -> None:
    from expflow_git.pinscan.scanner import scan_bytes

    findings = scan_bytes(path, data)
    if findings:
        raise ExpflowError(f"{findings[0]} — the policy must never hold a PIN or PIN hash")


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Mapping[str, Any] = root["$defs"][ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def _check_unknown_keys(
    node: Any,
    schema: Mapping[str, Any],
    pointer: str,
    path: str,
    root: Mapping[str, Any] | None = None,
) -> None:
    """Unknown keys get a "did you mean" hint, which schema errors alone do not give."""
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if isinstance(node, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in node.items():
            here = f"{pointer}/{pointer_token(key)}"
            if key in props:
                _check_unknown_keys(value, props[key], here, path, root)
            elif extra is False:
                hint = did_you_mean(key, list(props))
                raise ExpflowError(f"{path}: {pointer or '/'}: unknown key {quoted(key)}{hint}")
            elif isinstance(extra, dict):
                _check_unknown_keys(value, extra, here, path, root)
    elif isinstance(node, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(node):
            _check_unknown_keys(value, schema["items"], f"{pointer}/{i}", path, root)


def _check_globs(path: str, paths: Mapping[str, Any], allow: list[str]) -> None:
    """Every glob must translate to a regex (`[z-a]` does not): exit 2, not a traceback."""
    from expflow_git.globs import glob_regex

    given = [(f"/paths/{kind}/{i}", g) for kind, gs in paths.items() for i, g in enumerate(gs)]
    given += [(f"/scan/allow/{i}", g) for i, g in enumerate(allow)]
    for pointer, glob in given:
        try:
            glob_regex(glob)
        except re.error as exc:
            raise ExpflowError(f"{path}: {pointer}: bad glob {glob!r}: {exc}") from None


def _build(raw: dict[str, Any], path: str, digest: str) -> Policy:
    metrics = {
        name: Metric(
            name=name,
            group=m["group"],
            higher_is_better=m["higher_is_better"],
            description=m.get("description", ""),
            unit=m.get("unit", ""),
            threshold=m.get("threshold"),
            min=m.get("min"),
            max=m.get("max"),
            aggregate=Aggregate(m["aggregate"]) if "aggregate" in m else None,
        )
        for name, m in raw["metrics"].items()
    }

    def known(name: str, pointer: str) -> str:
        if name not in metrics:
            raise ExpflowError(
                f"{path}: {pointer}: unknown metric {quoted(name)}{did_you_mean(name, metrics)}"
            )
        return name

    thresholds = sum(m.threshold is not None for m in metrics.values())
    if thresholds > MAX_THRESHOLDS:
        # Each is a check in every run's report entry: 20,000 of them (a 1 MiB policy)
        # over 2,000 runs made a report of ~4 GB (an attacker's hunt, issue 18 forty-first
        # pass), where `gates` stop at 256.
        raise ExpflowError(
            f"{path}: /metrics: {thresholds} metrics have a threshold, more than the maximum "
            f"of {MAX_THRESHOLDS} (each is a gate, as `gates` are)"
        )
    for m in metrics.values():
        where = f"/metrics/{pointer_token(m.name)}"
        if m.min is not None and m.max is not None and m.min > m.max:
            raise ExpflowError(f"{path}: {where}: min {m.min} is greater than max {m.max}")

    required = tuple(
        known(n, f"/required_metrics/{i}") for i, n in enumerate(raw.get("required_metrics", []))
    )
    ranking_raw = raw.get("ranking") or {"sort_by": next(iter(metrics))}
    sort_by = known(ranking_raw["sort_by"], "/ranking/sort_by")
    order = ranking_raw.get("order")
    descending = metrics[sort_by].higher_is_better if order is None else order == "desc"
    tie_break = tuple(
        known(n, f"/ranking/tie_break/{i}") for i, n in enumerate(ranking_raw.get("tie_break", []))
    )

    gates = []
    for i, text in enumerate(raw.get("gates", [])):
        try:
            gates.append(parse_gate(text, metrics))
        except ExpflowError as exc:
            raise ExpflowError(f"{path}: /gates/{i}: {exc.message}") from None

    rules = one_check_each(
        (
            Rule(
                param=r["param"],
                op=Op(r["op"]),
                value=r["value"],
                required=r.get("required", False),
                severity=Severity(r.get("severity", Severity.ERROR.value)),
            )
            for r in raw.get("rules", [])
        ),
        lambda rule: rule.key,
    )

    walk = None
    if "walk_forward" in raw:
        wf = raw["walk_forward"]
        walk = WalkForward(
            metric=known(wf["metric"], "/walk_forward/metric"),
            split=wf["split"],
            top_n=_integer(wf.get("top_n", 10), path, "/walk_forward/top_n"),
            min_pearson=wf.get("min_pearson", 0.3),
            max_evaluations_per_study=_integer(
                wf.get("max_evaluations_per_study"),
                path,
                "/walk_forward/max_evaluations_per_study",
            ),
            max_evaluations=_integer(
                wf.get("max_evaluations"), path, "/walk_forward/max_evaluations"
            ),
        )

    paths = raw.get("paths", {})
    _check_globs(path, paths, raw.get("scan", {}).get("allow", []))
    return Policy(
        path=path,
        sha256=digest,
        metrics=metrics,
        required_metrics=required,
        ranking=Ranking(sort_by, descending, tie_break, ranking_raw.get("ladder_step")),
        gates=tuple(gates),
        rules=rules,
        experiment_globs=tuple(paths.get("experiments", DEFAULT_EXPERIMENT_GLOBS)),
        result_globs=tuple(paths.get("results", DEFAULT_RESULT_GLOBS)),
        max_runs_per_study=_integer(
            raw.get("budget", {}).get("max_runs_per_study"), path, "/budget/max_runs_per_study"
        ),
        max_runs=_integer(raw.get("budget", {}).get("max_runs"), path, "/budget/max_runs"),
        walk_forward=walk,
        base_seed=_integer(
            raw.get("seed_policy", {}).get("base_seed", 0), path, "/seed_policy/base_seed"
        ),
        results_immutable=raw.get("protect", {}).get("results_immutable", True),
        correction_globs=tuple(paths.get("corrections", DEFAULT_CORRECTION_GLOBS)),
        corrections_allowed=raw.get("protect", {}).get("corrections", "allow") == "allow",
        public_keys=tuple(raw.get("signing", {}).get("public_keys", [])),
        scan_allow=tuple(raw.get("scan", {}).get("allow", [])),
        raw=raw,
    )
