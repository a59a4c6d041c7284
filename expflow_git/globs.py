"""Path globs as the policy writes them, anchored at the repository root:
`*`, `?` and `[...]` never cross '/', a `**/` segment matches zero or more
directories, and a trailing `/**` matches everything below.

A policy comes from a pull request, so matching must stay cheap whatever the
glob: Python's backtracking `re` takes time exponential in the number of `*`
in one segment (`*a*a*a…b` against `aaaa…`) and polynomial in the number of
`**`. Globs whose regex provably cannot backtrack far (`regex_is_safe`: at most
one `*` run per segment, at most one `**` before the last segment) keep the
compiled regex, C speed for the usual `results/**/*.json`; every other glob goes
to `_Matcher`, which matches greedily, leftmost first, chunk by chunk (the
classic wildcard algorithm, inside a segment over characters and across
segments over whole segments). Both take time at most proportional to
|glob| × |path|; the matcher is checked against the regex by a property test.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# One token of a segment: `*` (a run), `?`, a `[...]` class, or one literal character.
_STAR = "*"


def normalise(pattern: str) -> str:
    """A glob as it is matched: no leading `./` or `/` (paths are relative to the root)."""
    return pattern.removeprefix("./").lstrip("/")


@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate one glob; `*`/`?`/`[...]` stay within a segment, a `**` segment spans any."""
    out: list[str] = []
    segments = normalise(pattern).split("/")
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        if segment == "**":
            # `**/` matches zero or more directories; a trailing `**` matches everything below.
            out.append(".*" if i == last else "(?:[^/]*/)*")
            continue
        out.append("".join("[^/]*" if t == _STAR else t for t in _tokens(segment)))
        if i != last:
            out.append("/")
    return re.compile("".join(out), re.DOTALL)


@functools.lru_cache(maxsize=1024)
def _tokens(segment: str) -> tuple[str, ...]:
    """A segment's tokens as regex pieces; `_STAR` stands for a run of `*`."""
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        if c == "*":
            while i < n and segment[i] == "*":
                i += 1
            out.append(_STAR)
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if segment[j : j + 1] == "!":
                j += 1
            if segment[j : j + 1] == "]":
                j += 1  # a `]` right after `[` or `[!` is a member, as in fnmatch
            end = segment.find("]", j)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = segment[i + 1 : end]
                negate = body.startswith("!")
                body = re.sub(r"([\\\[\]^&~|])", r"\\\1", body[1:] if negate else body)
                out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
                i = end + 1
                continue
        else:
            out.append(re.escape(c))
        i += 1
    return tuple(out)


def regex_is_safe(pattern: str) -> bool:
    """Whether `glob_regex(pattern)` cannot backtrack catastrophically: every segment has at
    most one `*` run (its extent is then fixed by the segment's end) and at most one `**`
    stands before the last segment (one choice of how many directories it spans)."""
    segments = normalise(pattern).split("/")
    inner_globstars = sum(1 for s in segments[:-1] if s == "**")
    if inner_globstars > 1:
        return False
    return all(s == "**" or _tokens(s).count(_STAR) <= 1 for s in segments)


# --------------------------------------------------------------------------- the matcher


@dataclass(frozen=True)
class _Chunk:
    """Tokens between two `*` runs: a fixed number of characters."""

    length: int
    literal: str | None  # the text when every token is a literal character (str.find)
    regex: re.Pattern[str]

    @classmethod
    def of(cls, tokens: Sequence[str]) -> _Chunk:
        literal = None
        if all(len(t) == 1 or (t[0] == "\\" and len(t) == 2) for t in tokens):
            literal = "".join(t[-1] for t in tokens)  # re.escape adds one backslash at most
        return cls(len(tokens), literal, re.compile("".join(tokens), re.DOTALL))

    def at(self, text: str, pos: int) -> bool:
        if self.literal is not None:
            return text.startswith(self.literal, pos)
        return self.regex.match(text, pos, pos + self.length) is not None

    def find(self, text: str, pos: int, end: int) -> int:
        """The leftmost start in [pos, end - length], or -1."""
        if self.literal is not None:
            return text.find(self.literal, pos, end)
        m = self.regex.search(text, pos, end)
        return -1 if m is None else m.start()


@dataclass(frozen=True)
class _Segment:
    """One segment's glob: chunks separated by `*` runs (one chunk: no `*`)."""

    chunks: tuple[_Chunk, ...]

    @classmethod
    def of(cls, segment: str) -> _Segment:
        chunks: list[list[str]] = [[]]
        for t in _tokens(segment):
            if t == _STAR:
                chunks.append([])
            else:
                chunks[-1].append(t)
        return cls(tuple(_Chunk.of(c) for c in chunks))

    def matches(self, name: str) -> bool:
        """Greedy, leftmost: the prefix and suffix chunks are anchored, each middle chunk
        takes its leftmost place (which leaves the most room for the rest)."""
        first, last = self.chunks[0], self.chunks[-1]
        if len(self.chunks) == 1:
            return len(name) == first.length and first.at(name, 0)
        end = len(name) - last.length
        if end < first.length or not first.at(name, 0) or not last.at(name, end):
            return False
        pos = first.length
        for chunk in self.chunks[1:-1]:
            found = chunk.find(name, pos, end)
            if found == -1:
                return False
            pos = found + chunk.length
        return True


@dataclass(frozen=True)
class _Matcher:
    """A glob matched segment by segment without backtracking.

    `groups` are the runs of ordinary segments between `**` segments (so a glob with k
    inner `**` has k + 1 groups); `trailing`: the glob ends in `**`, which matches at
    least one more (possibly empty) segment, as the regex `x/.*` needs the '/'.
    """

    groups: tuple[tuple[_Segment, ...], ...]
    trailing: bool

    @classmethod
    def of(cls, pattern: str) -> _Matcher:
        segments = normalise(pattern).split("/")
        trailing = segments[-1] == "**"
        if trailing:
            segments.pop()
        groups: list[list[_Segment]] = [[]]
        for s in segments:
            if s == "**":
                groups.append([])
            else:
                groups[-1].append(_Segment.of(s))
        return cls(tuple(tuple(g) for g in groups), trailing)

    def matches(self, path: str) -> bool:
        names = path.split("/")
        n = len(names)
        # Segments the groups may use: all of them, or all but one for a trailing `**`.
        limit = n - 1 if self.trailing else n
        first = self.groups[0]
        if len(self.groups) == 1 and not self.trailing:
            return len(first) == n and _run_at(first, names, 0)
        if len(first) > limit or not _run_at(first, names, 0):
            return False
        pos = len(first)
        middle = self.groups[1:] if self.trailing else self.groups[1:-1]
        if not self.trailing:
            last = self.groups[-1]
            limit = n - len(last)
            if limit < pos or not _run_at(last, names, limit):
                return False
        for group in middle:
            found = _find_run(group, names, pos, limit)
            if found == -1:
                return False
            pos = found + len(group)
        return True


def _run_at(group: Sequence[_Segment], names: Sequence[str], pos: int) -> bool:
    return all(seg.matches(names[pos + k]) for k, seg in enumerate(group))


def _find_run(group: Sequence[_Segment], names: Sequence[str], pos: int, end: int) -> int:
    """The leftmost index in [pos, end - len(group)] where `group` matches, or -1."""
    for start in range(pos, end - len(group) + 1):
        if _run_at(group, names, start):
            return start
    return -1


@functools.lru_cache(maxsize=256)
def glob_matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate for one glob: the compiled regex when it is safe, else the matcher."""
    regex = glob_regex(pattern)  # a bad class (`[z-a]`) is an error either way
    if regex_is_safe(pattern):
        return lambda path: regex.fullmatch(path) is not None
    return _Matcher.of(pattern).matches


# --------------------------------------------------------------------------- sets of globs


@dataclass(frozen=True)
class GlobSet:
    """Several globs: the safe ones as one regex, the others matched one by one."""

    regex: re.Pattern[str] | None
    others: tuple[Callable[[str], bool], ...]

    def matches(self, path: str) -> bool:
        """True if the relative, '/'-separated `path` (no "./") matches one of the globs."""
        if self.regex is not None and self.regex.fullmatch(path) is not None:
            return True
        return any(m(path) for m in self.others)


@functools.lru_cache(maxsize=64)
def glob_set(patterns: tuple[str, ...]) -> GlobSet:
    """The GlobSet of `patterns` (a tree of 200k paths asks it once per path)."""
    safe = [p for p in patterns if regex_is_safe(p)]
    others = tuple(glob_matcher(p) for p in patterns if not regex_is_safe(p))
    regex = any_glob_regex(tuple(safe)) if safe else None
    return GlobSet(regex, others)


def matches_any(path: str, patterns: Sequence[str]) -> bool:
    """True if the relative, '/'-separated `path` matches any of `patterns`."""
    return glob_set(tuple(patterns)).matches(path.removeprefix("./"))


@functools.lru_cache(maxsize=64)
def any_glob_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a list of globs; only for globs that are all `regex_is_safe`."""
    if not patterns:
        return re.compile("(?!)")
    if not all(regex_is_safe(p) for p in patterns):
        raise ValueError("any_glob_regex: a glob that may backtrack; use glob_set")
    return re.compile("|".join(f"(?:{glob_regex(p).pattern})" for p in patterns), re.DOTALL)


def classifier(groups: tuple[tuple[str, ...], ...]) -> Callable[[str], int | None]:
    """A function giving the index of the first of `groups` whose globs match a path (or
    None): one regex with a named group per list when every glob is safe."""
    return _classifier(groups)


@functools.lru_cache(maxsize=64)
def _classifier(groups: tuple[tuple[str, ...], ...]) -> Callable[[str], int | None]:
    if all(regex_is_safe(p) for g in groups for p in g):
        regex = re.compile(
            "|".join(f"(?P<g{i}>{any_glob_regex(g).pattern})" for i, g in enumerate(groups)),
            re.DOTALL,
        )

        index = {f"g{i}": i for i in range(len(groups))}

        def by_regex(path: str) -> int | None:
            match = regex.fullmatch(path)
            return None if match is None else index[match.lastgroup]  # type: ignore[index]

        return by_regex
    sets = [glob_set(g) for g in groups]

    def by_sets(path: str) -> int | None:
        return next((i for i, s in enumerate(sets) if s.matches(path)), None)

    return by_sets


def literal_folder(glob: str) -> str | None:
    """The folder a glob's matches all lie below: its segments before the first one
    with a wildcard (`results/**/*.json` → `results`; `/results/…` too; `**/*.json` →
    the root); None for one that would leave the work tree (`..`: it matches nothing)."""
    literal = []
    for part in normalise(glob).split("/")[:-1]:
        if any(c in part for c in "*?["):
            break
        literal.append(part)
    return None if ".." in literal else "/".join(literal)
