"""The Ladder and the advisory checks read by an attacker and by the paper's authors
(issue 19 parts 1 and 4, a review): the submission order is the audited commit's history,
never a date, so a pull request that merged its base branch in cannot place its result
before the base's; a result rewritten in place is submitted again; a higher-is-better
score climbs as the exact mirror of a loss (Blum & Hardt, ICML 2015, Algorithm 1); a pull
request's own ladder step does not judge it; every new string is escaped in every sink.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers_audit import (
    Cli,
    add_run,
    commit_all,
    git,
    new_repo,
    reseal,
    runs_of,
    statement_of,
)
from hypothesis import given
from hypothesis import strategies as st
from test_escaping import HOSTILE, assert_runner_safe, hidden_chars, run_bytes
from test_ladder import LADDER, _m, _rechain

from expflow_git.audit.ladder import climb, released
from expflow_git.policy.diff import Effect, diff_policies
from expflow_git.policy.load import load_policy_bytes

OLD = "2020-01-01T00:00:00+00:00"  # a date a pull request's author may claim


def _statement(cli: Cli, r: Path, *args: str) -> dict:
    res = cli(["audit", "--format", "json", *args], r)
    assert res.code == 0, res
    return statement_of(res.out)


def _ladder(st: dict) -> tuple[str | None, dict[str, int]]:
    orders = {e["id"]: e["ladder"]["order"] for e in runs_of(st)}
    return st["predicate"]["result"]["best_ladder"], orders


def _pull_request(path: Path, pr_policy: str = LADDER) -> Path:
    """main: base (55), then step (56.4). A pull request branched before both commits a
    lucky draw (56.9, ≤ 56 + η) dated years back, then merges main in (its first parent
    is its own commit: GitHub's "update branch")."""
    r = new_repo(path, LADDER)
    commit_all(r, "policy")
    git(r, "checkout", "-q", "-b", "pr")
    add_run(r, "lucky", _m(56.9))
    (r / "expflow.yaml").write_text(pr_policy)
    commit_all(r, "lucky", date=OLD)
    git(r, "checkout", "-q", "main")
    for run_id, seg in (("base", 55.0), ("step", 56.4)):
        add_run(r, run_id, _m(seg))
        commit_all(r, run_id)
    git(r, "checkout", "-q", "pr")
    git(r, "merge", "-q", "--no-ff", "--no-edit", "main", date=OLD)
    return r


def test_a_pull_request_that_merged_its_base_cannot_backdate_its_result(
    xcli: Cli, tmp_path: Path
) -> None:
    r = _pull_request(tmp_path / "repo")
    # Judged against main: main's history comes first, then what only the PR holds.
    st = _statement(xcli, r, "--policy-ref", "main")
    assert _ladder(st) == ("step", {"base": 0, "step": 1, "lucky": 2})
    assert st["predicate"]["result"]["best_feasible"] == "lucky"  # the top of the board
    out = tmp_path / "report.json"
    assert xcli(["audit", "--policy-ref", "main", "--out", str(out)], r).code == 0
    res = xcli(["verify", str(out), "--allow-unsigned", "--repo", str(r)], tmp_path)
    assert res.code == 0, res.out
    assert "ok   recompute" in res.out
    # Merged into main: the merge brings the PR's result, after main's own.
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", "--no-ff", "--no-edit", "pr")
    assert _ladder(_statement(xcli, r)) == ("step", {"base": 0, "step": 1, "lucky": 2})


def test_a_result_rewritten_in_place_is_submitted_again(xcli: Cli, tmp_path: Path) -> None:
    """Its id was first committed long ago; its score was not."""
    r = new_repo(tmp_path / "repo", LADDER)
    for run_id, seg in (("early", 50.0), ("base", 55.0), ("step", 56.4)):
        add_run(r, run_id, _m(seg))
        commit_all(r, run_id)
    add_run(r, "early", _m(56.9))  # a lucky draw, written over the first submission
    commit_all(r, "rewrite early")
    assert _ladder(_statement(xcli, r)) == ("step", {"base": 0, "step": 1, "early": 2})


def test_a_pull_requests_ladder_step_does_not_judge_it(xcli: Cli, tmp_path: Path) -> None:
    r = _pull_request(tmp_path / "repo", LADDER.replace("ladder_step: 1", "ladder_step: 0.01"))
    st = _statement(xcli, r, "--policy-ref", "main")
    assert st["predicate"]["result"]["ladder"] == {"step": 1, "score": 56}
    assert st["predicate"]["policy"]["proposed"]["changes"] == [
        {"effect": "changed", "where": "/ranking/ladder_step", "before": "1", "after": "0.01"}
    ]


def test_a_score_rounds_as_the_mirror_of_a_loss() -> None:
    """Algorithm 1 is stated for a loss; accuracy is 1 − loss, so a half rounds down for
    a score as it rounds up for a loss: a tie never flatters the released score."""
    assert released(56.5, 1.0) == 57.0
    assert released(56.5, 1.0, descending=True) == 56.0
    assert climb([55.0, 56.5], 1.0, descending=True) == ([True, True], 1, 56.0)
    assert str(released(0.4, 1.0, descending=True)) == "0.0"  # not −0.0 in a report


@given(
    scores=st.lists(
        st.one_of(
            st.none(),
            st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
            st.integers(-40, 40).map(lambda n: n / 2),  # halves: where rounding chooses
        ),
        max_size=30,
    ),
    step=st.sampled_from([0.5, 1.0, 0.25, 3.0]) | st.floats(min_value=1e-3, max_value=100.0),
)
def test_a_score_climbs_exactly_as_its_negated_loss(
    scores: list[float | None], step: float
) -> None:
    moved, best, level = climb(scores, step, descending=True)
    as_loss = climb([None if s is None else -s for s in scores], step, descending=False)
    assert (moved, best) == as_loss[:2]
    assert level == (None if as_loss[2] is None else -as_loss[2])


def test_advisory_checks_and_the_ladder_are_escaped_in_every_sink(tmp_path: Path) -> None:
    """A pull request's policy names a warning rule after a workflow command, HTML and
    Markdown; a forged report names its ladder's best run so."""
    hostile = json.dumps(HOSTILE)
    policy = LADDER + (
        f"  - {{param: {hostile}, op: gt, value: 0, required: true, severity: warning}}\n"
        f"  - {{param: lr, op: eq, value: {hostile}, severity: warning}}\n"
    )
    r = new_repo(tmp_path / "repo", policy)
    for run_id, seg in (("base", 55.0), ("step", 56.4)):
        add_run(r, run_id, _m(seg))
        commit_all(r, run_id)
    html = tmp_path / "card.html"
    for fmt in ("text", "md", "github", "sarif"):
        code, out, err = run_bytes(["audit", "--format", fmt, "--html", str(html)], r)
        assert code == 0, err  # warnings only: the audit passes
        assert "step" in out and "warning" in out, out
        assert_runner_safe(out, own_annotations=fmt == "github")
        assert_runner_safe(err)
        page = html.read_text(encoding="utf-8")
        assert "<img" not in page and "onerror=alert(1)&gt;" in page
        assert hidden_chars(page.replace("\n", "")) == []
    for fmt in ("table", "md", "csv"):
        code, out, err = run_bytes(["rank", "--format", fmt], r)
        assert code == 0, err
        assert_runner_safe(out)
        assert "INJECTED" in out  # shown, escaped
    # The forged report renames the ladder's best run (every mention, consistently).
    st = statement_of(run_bytes(["audit", "--format", "json"], r)[1])
    forged_id = "step" + HOSTILE
    p = st["predicate"]
    for entry in p["entries"]:
        if entry["type"] == "run" and entry["id"] == "step":
            entry["id"] = forged_id
    for item in p["result"]["ranking"]:
        item["id"] = forged_id if item["id"] == "step" else item["id"]
    for best in ("best_any", "best_feasible", "best_ladder"):
        assert p["result"][best] == "step"
        p["result"][best] = forged_id
    _rechain(st)
    forged = tmp_path / "forged.json"
    forged.write_bytes(reseal(st, None))
    for fmt in ("text", "md"):
        code, out, err = run_bytes(["report", str(forged), "--format", fmt, "--html", str(html)], r)
        assert code == 0, err
        assert "best_ladder: step" in out.replace("\\_", "_") and "INJECTED" in out, out
        assert_runner_safe(out)
        assert_runner_safe(err)
        page = html.read_text(encoding="utf-8")
        assert "<img" not in page and hidden_chars(page.replace("\n", "")) == []


def test_an_error_forged_into_a_warning_is_caught_by_recompute(xcli: Cli, tmp_path: Path) -> None:
    """The predicate records no gates, so a report that calls a failed threshold a
    warning (and redoes feasibility, ranks and result) is consistent in itself: only
    the signature and recompute against the repository can refuse it."""
    from expflow_git.audit.ranking import order_key
    from expflow_git.report.rules import expected_best_any, sort_keys_of, summarize

    r = new_repo(tmp_path / "repo", LADDER)
    add_run(r, "solid", _m(57.0))
    add_run(r, "slow", _m(60.0, pde=20.0))  # the top score, failing the pde_mean threshold
    commit_all(r, "runs")
    st = _statement(xcli, r)
    p = st["predicate"]
    runs = [e for e in p["entries"] if e["type"] == "run"]
    assert [e["id"] for e in runs] == ["solid", "slow"] and runs[1]["rank"] is None
    for check in runs[1]["checks"]:
        if not check["passed"]:
            check["severity"] = "warning"
    runs[1]["feasible"] = True
    keys = sort_keys_of(p["policy"]["ranking"])
    runs.sort(key=lambda e: order_key(e["metrics"], e["id"], e["feasible"], keys))
    for rank, e in enumerate(runs, 1):
        e["rank"] = rank
    # The ladder, consistent too: slow submitted first (it sets [60]_1), solid second.
    runs[0]["ladder"], runs[1]["ladder"] = (
        {"order": 0, "moved": True},
        {"order": 1, "moved": False},
    )
    p["entries"] = runs + [e for e in p["entries"] if e["type"] != "run"]
    p["result"] = summarize(p["entries"], None) | {
        "best_any": expected_best_any(p["entries"], keys),
        "best_ladder": "slow",
        "ladder": {"step": 1, "score": 60},
    }
    _rechain(st)
    forged = tmp_path / "forged.json"
    forged.write_bytes(reseal(st, None))
    alone = xcli(["verify", str(forged), "--allow-unsigned"], tmp_path)
    assert alone.code == 0, alone.out  # consistent in itself: the limit of offline checks
    res = xcli(["verify", str(forged), "--allow-unsigned", "--repo", str(r)], tmp_path)
    assert res.code == 1 and "FAIL recompute" in res.out, res.out


def _changes(before: str, after: str) -> list[tuple[Effect, str]]:
    policies = (load_policy_bytes(LADDER.replace("gates: []", g).encode()) for g in (before, after))
    return [(c.effect, c.describe()) for c in diff_policies(*policies)]


def test_an_error_turned_warning_beside_a_new_error_is_a_lowered_bar() -> None:
    """error seg_total > 50 → warning seg_total > 50 plus error seg_total > 49: what now
    blocks a run is > 49, a looser bar, not a stricter addition."""
    error = "gates: ['seg_total:gt:50']"
    softened = "gates: [{gate: 'seg_total:gt:50', severity: warning}, 'seg_total:gt:49']"
    assert _changes(error, softened) == [
        (Effect.LOOSER, "seg_total:gt:50 (error) → seg_total:gt:50 (warning)"),
        (Effect.LOOSER, "seg_total:gt:50 → seg_total:gt:49"),
    ]
    assert _changes(softened, error) == [
        (Effect.STRICTER, "seg_total:gt:50 (warning) → seg_total:gt:50 (error)"),
        (Effect.STRICTER, "seg_total:gt:49 → seg_total:gt:50"),
    ]
