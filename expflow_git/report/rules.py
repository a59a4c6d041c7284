"""The rules a report's entries obey, applied by the encoder as it writes them and by
the verifier as it reads them back: the `result` they imply, the order and ranks of the
runs, the best run overall, the walk-forward figures."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from expflow_git.audit.attempts import totals_of_entry
from expflow_git.audit.ladder import climb
from expflow_git.audit.pipeline import focus_stems, verdict_passes
from expflow_git.audit.ranking import best_any, order_key, pearson
from expflow_git.documents import stem

Json = dict[str, Any]


def sort_keys_of(config: Mapping[str, Any]) -> list[tuple[str, bool]]:
    return [(config["sortBy"], config["descending"])] + [
        (t["metric"], t["descending"]) for t in config["tieBreak"]
    ]


def summarize(entries: Sequence[Mapping[str, Any]], focus: str | None) -> Json:
    """The `result` the entries imply: verdict, counts, best runs, ranking, walk-forward."""
    ranking: list[Json] = []
    tally = Tally(
        focus,
        lambda run_id, rank, feasible: ranking.append(
            {"id": run_id, "rank": rank, "feasible": feasible}
        ),
    )
    for entry in entries:
        tally.add(entry)
    return tally.result(ranking)


class Tally:
    """What `result` says of a report's entries, gathered one entry at a time (the
    encoder's and the verifier's one way to it). Each run's ranking item goes to
    `ranking_item(id, rank, feasible)`: the encoder writes its canonical bytes, as
    100k dicts would be the largest thing built while a report is encoded."""

    def __init__(self, focus: str | None, ranking_item: Callable[[Any, Any, Any], object]):
        self.focus = focus
        self.ranking_item = ranking_item
        self.findings = self.runs = self.feasible = self.ranked = 0
        self.best_feasible: Any = None
        self.focus_feasible = False
        self.focus_findings = 0
        self.focus_names = set() if focus is None else focus_stems(focus)
        self.walk: Mapping[str, Any] | None = None
        self.attempts: dict[str, int] = {}  # stays empty for a report without the entries

    def add(self, entry: Mapping[str, Any]) -> None:
        """One entry, as a value."""
        kind = entry["type"]
        if kind == "finding":
            self.findings += 1
            if self.focus is not None and stem(entry["path"]) in self.focus_names:
                self.focus_findings += 1  # at the run's own record or result
        elif kind == "run":
            self.add_run(entry["id"], entry["rank"], entry["feasible"])
        elif kind == "walk-forward" and self.walk is None:
            self.walk = entry
        elif kind == "attempts":
            totals_of_entry(entry, self.attempts)

    def add_run(self, run_id: Any, rank: Any, feasible: Any) -> None:
        """One run entry, by its id, rank and feasibility."""
        self.ranking_item(run_id, rank, feasible)
        self.runs += 1
        self.feasible += 1 if feasible else 0
        if rank is not None:
            if not self.ranked:
                self.best_feasible = run_id
            self.ranked += 1
        self.focus_feasible = self.focus_feasible or bool(run_id == self.focus and feasible)

    def result(self, ranking: object) -> Json:
        walk = self.walk
        passed = verdict_passes(
            findings=self.findings,
            feasible_runs=self.feasible,
            focus_feasible=self.focus_feasible,
            walk_passed=None if walk is None else walk["status"] == "pass",
            focus=self.focus,
            focus_findings=self.focus_findings,
        )
        result: Json = {
            "verdict": "pass" if passed else "fail",
            "focus": self.focus,
            "counts": {
                "findings": self.findings,
                "runs": self.runs,
                "feasible": self.feasible,
                "ranked": self.ranked,
            },
            "ranking": ranking,
            "best_feasible": self.best_feasible,
            "walkForward": None
            if walk is None
            else {"status": walk["status"], "r": walk["r"], "n": walk["n"]},
        }
        if self.attempts:  # records per status over every study, and their total (issue 16)
            result["attempts"] = dict(sorted(self.attempts.items()))
        return result


def expected_best_any(
    entries: Sequence[Mapping[str, Any]], keys: list[tuple[str, bool]]
) -> str | None:
    runs = [(e["id"], e["metrics"]) for e in entries if e["type"] == "run"]
    return best_any(runs, keys)


def check_run_order(
    entries: Sequence[Mapping[str, Any]], keys: list[tuple[str, bool]]
) -> list[str]:
    """Problems with the run entries' order, ranks and feasibility (empty when consistent)."""
    problems = []
    runs = [e for e in entries if e["type"] == "run"]
    for r in runs:
        if r["feasible"] != all(c["passed"] or c.get("severity") == "warning" for c in r["checks"]):
            problems.append(f"run {r['id']!r}: 'feasible' contradicts its checks")
    # In order when no entry's key is below the one before it: one pass, not a sort
    # (a million runs' keys were sorted again only to be compared with the report's).
    before: tuple[object, ...] | None = None
    for r in runs:
        key = order_key(r["metrics"], r["id"], r["feasible"], keys)
        if before is not None and key < before:
            problems.append("run entries are not in ranking order")
            break
        before = key
    next_rank = 1
    for r in runs:
        rankable = r["feasible"] and keys[0][0] in r["metrics"]
        expected = next_rank if rankable else None
        next_rank += 1 if rankable else 0
        if r["rank"] != expected:
            problems.append(f"run {r['id']!r}: rank {r['rank']} should be {expected}")
    return problems


def recompute_walk(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Problems with the walk-forward entry (its points and r from the ranked runs)."""
    walks = [e for e in entries if e["type"] == "walk-forward"]
    if not walks:
        return []
    w = walks[0]
    ranked = [e for e in entries if e["type"] == "run" and e["rank"] is not None][: w["topN"]]
    points = [
        [e["id"], e["metrics"][w["metric"]], e["splits"][w["split"]][w["metric"]]]
        for e in ranked
        if w["metric"] in e["metrics"] and w["metric"] in e.get("splits", {}).get(w["split"], {})
    ]
    problems = []
    if points != w["points"] or w["n"] != len(points):
        problems.append("walk-forward points do not match the ranked runs")
    r, reached = None, False
    if len(points) >= 3:
        r, reached = pearson([p[1] for p in points], [p[2] for p in points], w["minPearson"])
    status = "insufficient" if r is None else "pass" if reached else "fail"
    if w["r"] != r or w["status"] != status:
        problems.append(f"walk-forward r/status should be {r}/{status}")
    return problems


def recompute_ladder(
    entries: Sequence[Mapping[str, Any]], config: Mapping[str, Any]
) -> tuple[list[str], Json]:
    """Problems with the run entries' `ladder` members, and what `result` says of the
    ladder: Algorithm 1 (audit/ladder.py) re-run over the runs in their recorded order.
    That order itself comes from the repository's history: `verify --repo` recomputes it."""
    runs = [e for e in entries if e["type"] == "run"]
    step = config.get("ladderStep")
    if step is None:
        if any("ladder" in r for r in runs):
            return ["run entries carry a ladder, but the ranking sets no ladder step"], {}
        return [], {}
    if any("ladder" not in r for r in runs):
        return ["a run entry lacks its ladder member"], {}
    ordered = sorted(runs, key=lambda r: r["ladder"]["order"])
    if [r["ladder"]["order"] for r in ordered] != list(range(len(runs))):
        return ["the runs' ladder orders are not 0, 1, 2, … each once"], {}
    sort_by = config["sortBy"]
    # A ranked run lacking the sort metric is check_run_order's to report: not eligible here.
    scores = [r["metrics"].get(sort_by) if r["rank"] is not None else None for r in ordered]
    moved, best, level = climb(scores, step, config["descending"])
    problems = [
        f"run {r['id']!r}: ladder 'moved' should be {m}"
        for r, m in zip(ordered, moved, strict=True)
        if r["ladder"]["moved"] != m
    ]
    expected: Json = {
        "best_ladder": None if best is None else ordered[best]["id"],
        "ladder": {"step": step, "score": level},
    }
    return problems, expected


def check_attempts(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Problems with the attempts entries: one per study, in study order, each listing
    exactly as many excluded runs of each status as it counts (none `success`)."""
    problems = []
    studies = [e["study"] for e in entries if e["type"] == "attempts"]
    if studies != sorted(set(studies)):
        problems.append("attempts entries are not one per study in study order")
    for e in entries:
        if e["type"] != "attempts":
            continue
        listed: dict[str, int] = {}
        for x in e["excluded"]:
            listed[x["status"]] = listed.get(x["status"], 0) + 1
        counted = {k: n for k, n in e["counts"].items() if k != "success" and n}
        if listed != counted:
            problems.append(f"attempts of study {e['study']!r}: the excluded runs do not match")
    return problems
