"""Path globs as the policy writes them, anchored at the repository root:
`*`, `?` and `[...]` never cross '/', a `**/` segment matches zero or more
directories, and a trailing `/**` matches everything below."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence


@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate one glob; `*`/`?`/`[...]` stay within a segment, a `**` segment spans any."""
    pattern = pattern.removeprefix("./").lstrip("/")
    out: list[str] = []
    segments = pattern.split("/")
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        if segment == "**":
            # `**/` matches zero or more directories; a trailing `**` matches everything below.
            out.append(".*" if i == last else "(?:[^/]*/)*")
            continue
        out.append(_segment_regex(segment))
        if i != last:
            out.append("/")
    return re.compile("".join(out), re.DOTALL)


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        if c == "*":
            while i < n and segment[i] == "*":
                i += 1
            out.append("[^/]*")
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
    return "".join(out)


def matches_any(path: str, patterns: Sequence[str]) -> bool:
    """True if the relative, '/'-separated `path` matches any of `patterns`."""
    return any_glob_regex(tuple(patterns)).fullmatch(path.removeprefix("./")) is not None


@functools.lru_cache(maxsize=64)
def any_glob_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a list of globs (a tree of 200k paths asks it once per path)."""
    if not patterns:
        return re.compile("(?!)")
    return re.compile("|".join(f"(?:{glob_regex(p).pattern})" for p in patterns), re.DOTALL)
