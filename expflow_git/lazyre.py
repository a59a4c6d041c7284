"""Regular expressions compiled on their first use, not as their module loads: the PIN
scan's ~70 patterns cost ~8 ms of every `scan` hook's start-up, and a file that holds no
digit run, hex run, key or format mark (most files: `scanner._may_match`) needs none but
one or two of them (issue 18, forty-first pass)."""

from __future__ import annotations

import re
from typing import Any, AnyStr, cast

# What a pattern is used for: bound to the compiled pattern's own at its first use, so a
# later call costs what a compiled pattern's does.
_METHODS = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split")


class _Lazy:
    """A pattern and its flags; compiled (by `re`, as `re.compile` would) at the first
    use of anything but `pattern`, which is known as given."""

    def __init__(self, pattern: str | bytes, flags: int) -> None:
        self.pattern = pattern
        self._flags = flags

    def __getattr__(self, name: str) -> Any:  # only for what is not set yet
        if name.startswith("__"):  # (copy's and pickle's probes: not a pattern's)
            raise AttributeError(name)
        compiled = re.compile(self.pattern, self._flags)
        for method in _METHODS:
            setattr(self, method, getattr(compiled, method))
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazy {re.compile(self.pattern, self._flags)!r}"


def lazy_compile(pattern: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """`re.compile(pattern, flags)`, done at the first search, match, ...: a pattern
    used only by its methods and `pattern` (never given to `re.*` functions, compared,
    hashed or checked with isinstance), so it stands for the compiled one.
    tests/test_hunt41_imports.py compiles every one the modules hold."""
    return cast("re.Pattern[AnyStr]", _Lazy(pattern, flags))
