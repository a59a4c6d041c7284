"""Path globs as the policy writes them: `*` and `?` stay inside one path
segment, `**/` spans zero or more directories, `**` at the end spans the rest."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence


@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile one glob to an anchored regex over '/'-separated relative paths."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def matches_any(path: str, patterns: Sequence[str]) -> bool:
    """True if the relative `path` matches any of `patterns`."""
    return any(glob_regex(p).match(path) for p in patterns)
