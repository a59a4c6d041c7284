"""What the PIN scanner's rules report: the stable rule names, a hit in the text, and
the overlap index that keeps a key's assignment from repeating a more specific hit."""

from __future__ import annotations

import bisect
import enum
import itertools
from dataclasses import dataclass

from expflow_git.lazyre import lazy_compile

FOUR_DIGITS_RE = lazy_compile(r"[0-9]{4}")
# Four digits as a bare number may write them: TOML, YAML 1.1 and Python put underscores
# between digits (`pin = N_NNN` is the PIN; a hunter's find, issue 18 twenty-seventh pass).
PIN_NUMBER_RE = lazy_compile(r"[0-9](?:_?[0-9]){3}")


def pin_digits(token: str, bare: bool) -> bool:
    """Four digits, or (`bare`, an unquoted number) four digits with underscores between."""
    return FOUR_DIGITS_RE.fullmatch(token) is not None or (
        bare and PIN_NUMBER_RE.fullmatch(token) is not None
    )


NUMBER_RE = lazy_compile(r"[0-9]+")


class Leak(str, enum.Enum):
    """Stable rule names, as they appear in `Finding.rule`."""

    PIN_HASH_FILE = "pin-hash-file"
    PIN_ASSIGNMENT = "pin-assignment"
    PIN_SHA256 = "pin-sha256"
    PIN_HASH_FORMAT = "pin-hash-format"
    PIN_VALUE = "pin-value"
    PRIVATE_KEY = "private-key"


@dataclass(frozen=True)
class Hit:
    """A rule's match: its span in the text and what the finding says."""

    rule: Leak
    start: int  # offset of the token's first character in the text
    end: int
    message: str


class Overlaps:
    """Whether a span overlaps a content hit, in O(log n) (a line of thousands of hashes)."""

    def __init__(self, content: list[Hit]) -> None:
        spans = sorted((h.start, h.end) for h in content)
        self.starts = [s for s, _ in spans]
        self.max_end = list(itertools.accumulate((e for _, e in spans), max))

    def any(self, start: int, end: int) -> bool:
        index = bisect.bisect_left(self.starts, end)  # hits starting before `end`
        return index > 0 and self.max_end[index - 1] > start
