"""Step-wise observations of a result (docs/spec.md §2.2): `series: {metric: [[step,
value], ...]}` checked against the registry, and their compact text form.

The schema gives the shape (an object of non-empty arrays of `[integer ≥ 0, number]`);
this module decides the rest: registered metrics, strictly increasing integer steps,
values within the metric's bounds, the size caps, and that a headline value equals its
series' declared aggregate. Each violation is a finding at its JSON pointer
(`/series/loss/3/0`), so the validate hook and the audit (through
`checks.registry_findings`) say the same thing.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from expflow_git.errors import Finding
from expflow_git.escape import line
from expflow_git.jsonstrict import pointer_token
from expflow_git.policy.model import Aggregate, Policy, fmt_number

# A learning curve of 10,000 points is finer than any plot of it; a result document
# is at most 1 MiB (jsonstrict), which 50,000 short points nearly fill.
MAX_SERIES_POINTS = 10_000
MAX_DOCUMENT_POINTS = 50_000
# A hostile document could hold a violation at every point: the first ones are named,
# the rest counted in one more finding (a report lists every finding as an entry).
MAX_SERIES_FINDINGS = 100
# Numbers the report's canonical JSON holds exactly (as for `metrics`).
_EXACT = 2**53

Points = Sequence[Sequence[float]]
Series = Mapping[str, Points]


class SeriesProblem(str, enum.Enum):
    """Finding names; the first two are the registry's (checks.Problem) for metrics too."""

    UNKNOWN_METRIC = "unknown-metric"
    OUT_OF_RANGE = "metric-out-of-range"
    STEP = "series-step"
    TOO_LONG = "series-too-long"
    AGGREGATE = "aggregate-mismatch"


def series_findings(
    path: str,
    series: Series,
    metrics: Mapping[str, float],
    policy: Policy,
    source: bytes | None = None,
) -> list[Finding]:
    """Every problem of a result's `series` (already schema-valid), at its JSON pointer.
    `source`, the document's bytes where there are any, gives a refused step's spelling."""
    total = sum(map(len, series.values()))
    if total > MAX_DOCUMENT_POINTS:
        # Over the cap nothing else is read: the work stays bounded whatever the input.
        return [
            _finding(
                path,
                SeriesProblem.TOO_LONG,
                f"the series hold {total:,} points, over the cap of "
                f"{MAX_DOCUMENT_POINTS:,} per result",
                "/series",
            )
        ]
    found: list[Finding] = []
    spelled = _Spellings(source)
    for name, points in series.items():
        found += _one_series(path, name, points, metrics, policy, spelled)
    if len(found) > MAX_SERIES_FINDINGS:
        rest = len(found) - MAX_SERIES_FINDINGS
        found = found[:MAX_SERIES_FINDINGS]
        found.append(
            _finding(
                path,
                SeriesProblem.STEP,
                f"{rest:,} more problem(s) in the series, not listed",
                "/series",
            )
        )
    return found


def _one_series(
    path: str,
    name: str,
    points: Points,
    metrics: Mapping[str, float],
    policy: Policy,
    spelled: _Spellings,
) -> list[Finding]:
    base = f"/series/{pointer_token(name)}"
    spec = policy.metrics.get(name)
    if spec is None:
        message = (
            f"series of metric {name!r}, which is not in the registry of "
            f"{policy.path}{policy.metric_hint(name)}"
        )
        return [_finding(path, SeriesProblem.UNKNOWN_METRIC, message, base)]
    if len(points) > MAX_SERIES_POINTS:
        message = (
            f"series {name} has {len(points):,} points, over the cap of "
            f"{MAX_SERIES_POINTS:,} per series"
        )
        return [_finding(path, SeriesProblem.TOO_LONG, message, base)]
    found = []
    previous: int | None = None
    for i, (step, value) in enumerate(points):
        here = f"{base}/{i}"
        # The schema takes 3.0 and 1e2 for integers; a step is written as one (digits).
        if type(step) is float:
            # As the document writes it: `1e2` was refused as "step 100.0 is not a
            # non-negative integer", and 100 is one (a hunt, issue 18 twenty-fifth pass).
            message = (
                f"step {spelled.step(name, i, step)} is not written as an integer: steps "
                "are written as integers (digits only), non-negative and below 2^53"
            )
            found.append(_finding(path, SeriesProblem.STEP, message, f"{here}/0"))
        elif type(step) is not int or step < 0 or step >= _EXACT:
            message = f"step {fmt_number(step)} is not a non-negative integer below 2^53"
            found.append(_finding(path, SeriesProblem.STEP, message, f"{here}/0"))
        else:
            if previous is not None and step <= previous:
                message = f"step {step} follows step {previous}: steps increase strictly"
                found.append(_finding(path, SeriesProblem.STEP, message, f"{here}/0"))
            previous = step
        problem = _range_problem(name, value, spec.min, spec.max)
        if problem is not None:
            found.append(_finding(path, SeriesProblem.OUT_OF_RANGE, problem, f"{here}/1"))
    if spec.aggregate is not None and not found:
        found += _aggregate_findings(path, name, points, metrics, spec.aggregate)
    return found


class _Spellings:
    """The steps of a document's series as its bytes spell them, read (once, the whole
    `series` object) only when a step must be quoted; without the bytes, or where they
    do not read as expected, a step is spelled as Python writes it (`repr`)."""

    def __init__(self, source: bytes | None) -> None:
        self.source = source
        self.steps: dict[str, list[str]] | None = None

    def step(self, name: str, index: int, value: float) -> str:
        if self.steps is None:
            self.steps = _step_literals(self.source) if self.source is not None else {}
        literals = self.steps.get(name, ())
        return line(literals[index]) if index < len(literals) else repr(value)


_JSON_WS = " \t\n\r"
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
# One `[step, value]` point (the schema's shape: two numbers), the step captured.
_POINT = re.compile(
    rf"\[[{_JSON_WS}]*({_NUMBER})[{_JSON_WS}]*,[{_JSON_WS}]*{_NUMBER}[{_JSON_WS}]*\]"
)


def _step_literals(source: bytes) -> dict[str, list[str]]:
    """Each series' steps as written in a strict, schema-valid result document: one walk
    of its top level to `series` (other members skipped whole by the C decoder), then
    of each point. {} where the text is not as expected."""
    import json

    scan = json.JSONDecoder().raw_decode
    try:
        text = source.decode()
        pos = _past(text, _skip(text, 0), "{")
        while True:  # the top-level members, to `series`
            key, pos = scan(text, pos)
            pos = _past(text, _skip(text, pos), ":")
            if key == "series":
                break
            _, pos = scan(text, pos)
            pos = _past(text, _skip(text, pos), ",")
        pos = _past(text, pos, "{")
        out: dict[str, list[str]] = {}
        while text[pos] != "}":
            name, pos = scan(text, pos)
            pos = _past(text, _past(text, _skip(text, pos), ":"), "[")
            steps = out[name] = []
            while text[pos] != "]":
                point = _POINT.match(text, pos)
                if point is None:
                    return {}
                steps.append(point.group(1))
                pos = _skip(text, point.end())
                if text[pos] == ",":
                    pos = _skip(text, pos + 1)
            pos = _skip(text, pos + 1)
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
        return out
    except (ValueError, IndexError, TypeError):  # (no `series` key: IndexError at the end)
        return {}


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_WS:
        pos += 1
    return pos


def _past(text: str, pos: int, char: str) -> int:
    """Past `char` at `pos` and the whitespace after it; ValueError if it is not there."""
    if text[pos] != char:
        raise ValueError(char)
    return _skip(text, pos + 1)


def _range_problem(name: str, value: float, low: float | None, high: float | None) -> str | None:
    if abs(value) >= _EXACT:
        return f"{name} is a number too large to compare exactly"
    if low is not None and value < low:
        return f"{name} = {fmt_number(value)} is below its min {fmt_number(low)}"
    if high is not None and value > high:
        return f"{name} = {fmt_number(value)} is above its max {fmt_number(high)}"
    return None


def _aggregate_findings(
    path: str, name: str, points: Points, metrics: Mapping[str, float], aggregate: Aggregate
) -> list[Finding]:
    """The headline value must equal the series' aggregate exactly (both are JSON numbers
    read the same way; 1 and 1.0 are equal): the tool never recomputes one from the other."""
    want = aggregate.of([value for _, value in points])
    have = metrics.get(name)
    agg = aggregate.value
    what = f"its series' {agg} value {fmt_number(want)} (registry: aggregate: {agg})"
    if have is None:
        message = f"metrics has no {name}, which must equal {what}"
        return [_finding(path, SeriesProblem.AGGREGATE, message, "/metrics")]
    if have != want:
        message = f"{name} = {fmt_number(have)} differs from {what}"
        return [_finding(path, SeriesProblem.AGGREGATE, message, f"/metrics/{pointer_token(name)}")]
    return []


def _finding(path: str, problem: SeriesProblem, message: str, pointer: str) -> Finding:
    return Finding(path, problem.value, message, pointer)


# --- the compact text form ---------------------------------------------------------

_BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24
_LIMIT = 1e300


def series_text(series: Series) -> str:
    """One line per metric, by name: a sparkline of its values, the number of points,
    the step range, min, max and last value, each spelled whole as the report spells it
    (`show` prints one run's numbers whole: 0.1234567 and 0.1234568 both read 0.123457
    here, the steps 10**15 + 1 and + 2 both 1e+15, and `last` differed from the headline
    it must equal; a hunt). Terminal-safe (escape.line); "" for none."""
    from expflow_git.render.table import exact_number as _num

    names = {name: line(name) for name in series if series[name]}  # escaped, then aligned
    width = max(map(len, names.values()), default=0)
    lines = []
    for name in sorted(names):
        points = series[name]
        values = [value for _, value in points]
        lines.append(
            f"{names[name]:<{width}}  {sparkline(values):<{SPARK_WIDTH}}  n={len(points)} "
            f"steps {_num(points[0][0])}..{_num(points[-1][0])}  "
            f"min {_num(min(values))}  max {_num(max(values))}  last {_num(values[-1])}"
        )
    return "".join(text + "\n" for text in lines)


def sparkline(
    values: Sequence[float],
    width: int = SPARK_WIDTH,
    scale: tuple[float, float] | None = None,
) -> str:
    """At most `width` bars: the values in equal runs by position, each run's mean,
    scaled between the smallest and largest mean, or between `scale`'s (low, high) so
    that several runs' lines share one axis (`compare`)."""
    # Clipped, so no sum or difference overflows (series_text may see unchecked input).
    values = [min(_LIMIT, max(-_LIMIT, v)) for v in values]
    n = len(values)
    if n == 0:
        return ""
    buckets = min(width, n)
    means = []
    for b in range(buckets):
        chunk = values[b * n // buckets : (b + 1) * n // buckets]
        means.append(sum(chunk) / len(chunk))
    low, high = (min(means), max(means)) if scale is None else scale
    means = [min(high, max(low, m)) for m in means]
    if not high > low:  # flat (or too close to tell apart): the middle bar
        return _BARS[3] * buckets
    top = len(_BARS) - 1
    return "".join(_BARS[round((m - low) / (high - low) * top)] for m in means)


def overlay_text(runs: Sequence[tuple[str, Series]]) -> str:
    """Several runs' series, metric by metric, one line per run on one shared axis (the
    smallest and largest value any of them has for that metric): `compare`'s overlay.
    Terminal-safe; "" when no run has a series."""
    out = []
    for name in sorted({m for _, series in runs for m in series if series[m]}):
        lines = [(run_id, series[name]) for run_id, series in runs if series.get(name)]
        values = [v for _, points in lines for _, v in points]
        axis = (min(values), max(values))
        axis = (max(-_LIMIT, axis[0]), min(_LIMIT, axis[1]))
        out.append(f"{name}  (one axis: {_num(axis[0])} .. {_num(axis[1])})")
        width = max(len(run_id) for run_id, _ in lines)
        for run_id, points in lines:
            ys = [v for _, v in points]
            out.append(
                f"  {run_id:<{width}}  {sparkline(ys, scale=axis):<{SPARK_WIDTH}}  "
                f"n={len(points)} last {_num(ys[-1])}"
            )
    return "".join(line(text) + "\n" for text in out)


def _num(value: float) -> str:
    """Six significant digits; whole numbers in full."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


@dataclass(frozen=True)
class RunSeries:
    """One run's series, as the scorecard draws them (render/curves.py)."""

    id: str
    series: Series
