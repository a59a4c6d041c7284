"""Numbers on the scorecard: short enough to read at a glance (`1.23 million`,
`4.5×10⁻⁷`), distinct where the values differ, with the exact value (as the report
spells it) for the element's title."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from expflow_git.render.table import exact_number
from expflow_git.render.view import fmt_number

# Whole-number names up to a trillion; past that, and below 10⁻⁴, powers of ten.
_NAMES = ((1e6, "million"), (1e9, "billion"), (1e12, "trillion"))
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_MIN_DIGITS = 4


def readable(value: float | None, digits: int = _MIN_DIGITS) -> str:
    """`value` with `digits` significant digits in a form people read: plain below a
    million, `1.235 million` … `1.235 trillion`, then `1.235×10¹⁸`; `-` for none."""
    if value is None:
        return "-"
    magnitude = abs(value)
    if not math.isfinite(value) or magnitude == 0:
        return fmt_number(value, digits)
    if 1e-4 <= magnitude < 1e6:
        # Every digit of the whole part: 123457, not 1.235e+05.
        plain = fmt_number(value, max(digits, math.floor(math.log10(magnitude)) + 1))
        if "e" not in plain:
            return plain
    for scale, name in _NAMES:
        # Rounded first: 999.99 million reads as 1 billion, 999999.5 as 1 million.
        mantissa = float(f"{value / scale:.{digits}g}")
        if 1 <= abs(mantissa) < 1000:
            return f"{fmt_number(mantissa, digits)} {name}"
    # Mantissa and exponent as Python spells them: no division, so subnormals work too.
    mantissa_text, exponent_text = f"{value:.{digits - 1}e}".split("e")
    mantissa, exponent = float(mantissa_text), int(exponent_text)
    return f"{fmt_number(mantissa, digits)}×10{str(exponent).translate(_SUPERSCRIPT)}"


def readable_column(values: Iterable[float | None]) -> Mapping[float | None, str]:
    """How each value of a column is shown: `readable`, with more digits where fewer
    would show two different values alike (runs that differ never look tied)."""
    distinct = set(values)
    for digits in range(_MIN_DIGITS, 18):
        shown = {v: readable(v, digits) for v in distinct}
        if len(set(shown.values())) == len(distinct):
            return shown
    return {v: exact_number(v) for v in distinct}


def exact_title(value: float | None, shown: str) -> str:
    """The exact value for a `title` attribute, or "" where the shown text is exact."""
    if value is None:
        return ""
    exact = exact_number(value)
    return "" if exact == shown else exact
