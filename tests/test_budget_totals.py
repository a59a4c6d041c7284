"""The budgets in all studies (issue 18, twenty-seventh pass; docs/spec.md §3, §6.2
items 2 and 6, §7): `walk_forward.max_evaluations` and `budget.max_runs`.

A study is each record's own word, and every study's runs are ranked on one leaderboard:
an author who gave each extra holdout look a study of its own (A, A2, A3…) was capped by
no per-study budget (`at most 2: A 2, A2 1, A3 1`, exit 0; an attacker's hunt). The
totals count what the per-study budgets count, summed over the studies (a run once), in
the tree, over the history with `--since`, and in the validate hook."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo, git_env
from helpers_audit import (
    POLICY,
    STUDY,
    add_run,
    commit_all,
    m,
    new_repo,
    run_cli,
    statement_of,
    write,
    write_json,
)
from support import pre_commit_install
from test_hooks_precommit import commit_through_hooks

from expflow_git.policy.diff import Effect, diff_policies
from expflow_git.policy.load import load_policy_bytes

WALK = "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1"
SPLITS = {"holdout": {"seg_total": 40.0}}


def _holdout(per_study: int | None = None, total: int | None = None) -> str:
    limits = "".join(
        f", {key}: {value}"
        for key, value in (("max_evaluations_per_study", per_study), ("max_evaluations", total))
        if value is not None
    )
    return f"{POLICY}{WALK}{limits}}}\n"


def _looks(repo: Path, runs: list[tuple[str, str]]) -> None:
    for n, (exp_id, study) in enumerate(runs):
        splits = {"holdout": {"seg_total": 49.0 + n}}  # (varied: walk-forward passes)
        add_run(repo, exp_id, m(50.0 + n), study=study, splits=splits)


REPRO = [("x1", "A"), ("x2", "A"), ("x3", "A2"), ("x4", "A3")]


def _audit(repo: Path, *args: str) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    """The audit's exit code, its holdout-budget entry (or {}) and its findings."""
    res = run_cli(["audit", "--no-cache", "--format", "json", *args], repo)
    assert res.code in (0, 1), res.err
    entries = statement_of(res.out.encode())["predicate"]["entries"]
    budgets = [e for e in entries if e["type"] == "holdout-budget"]
    return res.code, (budgets[0] if budgets else {}), [e for e in entries if e["type"] == "finding"]


def test_a_study_per_look_is_capped_by_the_total(tmp_path: Path) -> None:
    """The repro: four looks in studies A, A, A2, A3 under a per-study budget of 2 pass
    it; the total of 3 fails them, at its own pointer, in every output and the report."""
    repo = new_repo(tmp_path / "repo", _holdout(per_study=2))
    _looks(repo, REPRO)
    commit_all(repo, "four looks, three studies")
    code, entry, findings = _audit(repo)
    assert code == 0 and findings == [] and "maxTotal" not in entry
    write(repo, "expflow.yaml", _holdout(per_study=2, total=3))
    commit_all(repo, "at most three looks in all")
    code, entry, findings = _audit(repo)
    assert code == 1
    assert entry["max"] == 2 and entry["maxTotal"] == 3
    [finding] = findings
    assert finding["rule"] == "holdout-budget-exceeded"
    assert (finding["path"], finding["pointer"]) == (
        "expflow.yaml",
        "/walk_forward/max_evaluations",
    )
    assert finding["message"] == (
        "all studies have 4 result(s) carrying the holdout split 'holdout' in the tree, "
        "over the budget of 3 in all studies"
    )
    line = (
        "holdout budget: FAIL — results carrying split holdout per study (in the tree), "
        "at most 2: A 2, A2 1, A3 1; in all studies 4, at most 3 OVER"
    )
    assert line in run_cli(["audit", "--no-cache"], repo).out
    report = tmp_path / "report.json"
    assert run_cli(["audit", "--no-cache", "--out", str(report)], repo).code == 1
    verify = run_cli(["verify", str(report), "--repo", ".", "--allow-unsigned"], repo)
    assert verify.code == 0 and "VERIFIED" in verify.out, verify.both
    assert line in run_cli(["report", str(report), "--format", "md"], repo).out
    # The total alone (no per-study budget): the report has no `max`, the line no limit.
    write(repo, "expflow.yaml", _holdout(total=4))
    commit_all(repo, "at most four in all")
    code, entry, findings = _audit(repo)
    assert code == 0 and findings == [] and "max" not in entry and entry["maxTotal"] == 4
    assert (
        "holdout budget: ok — results carrying split holdout (in the tree): "
        "A 2, A2 1, A3 1; in all studies 4, at most 4\n"
    ) in run_cli(["audit", "--no-cache"], repo).out


def test_the_total_counts_the_history_with_since(tmp_path: Path) -> None:
    """Deleting a look and making another in a new study keeps the tree at the total;
    the history counts both, each once (a look moved to another study is one look)."""
    repo = new_repo(tmp_path / "repo", _holdout(total=2))
    add_run(repo, "exp-000", m(50.0))  # no look
    base = commit_all(repo, "base")
    _looks(repo, [("x1", "A"), ("x2", "A2")])
    commit_all(repo, "two looks")
    for kind in ("experiments", "results"):  # x2 moved to study A9: the same look
        doc = json.loads((repo / f"{kind}/A2/x2.json").read_text())
        (repo / f"{kind}/A2/x2.json").unlink()
        write_json(repo, f"{kind}/A9/x2.json", {**doc, "study": "A9"} if "study" in doc else doc)
    commit_all(repo, "x2 moved")
    code, entry, findings = _audit(repo, "--since", base)
    assert [f for f in findings if f["rule"] == "holdout-budget-exceeded"] == []
    assert entry["counted"] == "history" and sum(s["evaluations"] for s in entry["studies"]) == 2
    (repo / "results/A/x1.json").unlink()
    _looks(repo, [("x3", "A3")])
    commit_all(repo, "x1's look deleted, a third in a study of its own")
    code, _, findings = _audit(repo)
    assert [f for f in findings if f["rule"] == "holdout-budget-exceeded"] == []  # two in the tree
    code, _, findings = _audit(repo, "--since", base)
    assert code == 1
    [finding] = [f for f in findings if f["rule"] == "holdout-budget-exceeded"]
    assert finding["pointer"] == "/walk_forward/max_evaluations"
    assert (
        "all studies have 3 result(s) carrying the holdout split 'holdout' in their history"
        in (finding["message"])
    )


def test_the_runs_total_counts_every_study_and_the_history(tmp_path: Path) -> None:
    """`budget.max_runs`: records in all studies, in the tree; with --since every
    attempt, a run moved to another study once, a failure rewritten as a new run twice."""
    repo = new_repo(tmp_path / "repo", POLICY + "budget: {max_runs_per_study: 2, max_runs: 2}\n")
    add_run(repo, "exp-000", m(50.0), study="s1")
    add_run(repo, "exp-001", study="s2", status="failed")
    base = commit_all(repo, "base: one success, one failure")
    rel = "experiments/s2/exp-001.json"
    doc = json.loads((repo / rel).read_text())
    (repo / rel).unlink()
    write_json(repo, "experiments/s3/exp-001.json", {**doc, "study": "s3"})
    commit_all(repo, "the failure moved to s3")
    code, _, findings = _audit(repo, "--since", base)
    # Two attempts, in all studies as in each: the move is no new attempt in all studies.
    assert (code, findings) == (0, [])
    add_run(repo, "exp-001", m(51.0), study="s3", sub_step=2)  # rewritten as a new run
    commit_all(repo, "the failure rewritten as a new run")
    assert _audit(repo)[0] == 0  # two records in the tree
    code, _, findings = _audit(repo, "--since", base)
    assert code == 1
    total = [f for f in findings if f["pointer"] == "/budget/max_runs"]
    assert [(f["rule"], f["path"], f["message"]) for f in total] == [
        (
            "budget-exceeded",
            "expflow.yaml",
            "all studies have had 3 runs in their history (1 of them no longer in the tree "
            "as they ran: deleted or rewritten), over the budget of 2 in all studies",
        )
    ]
    # A third run in a study of its own: over the total in the tree, reported once.
    add_run(repo, "exp-002", m(52.0), study="s4")
    commit_all(repo, "a third study")
    for args in ([], ["--since", base]):
        _, _, findings = _audit(repo, *args)
        total = [f["message"] for f in findings if f["pointer"] == "/budget/max_runs"]
        assert total == ["all studies have 3 runs in the tree, over the budget of 2 in all studies"]


def test_the_hook_refuses_a_commit_over_a_total(committed_repo: ExpRepo, tmp_path: Path) -> None:
    """validate (PATHS, --staged, and through pre-commit) counts the totals as the audit
    does: a look or a record in a new study is over them."""
    repo = committed_repo
    with (repo.path / "expflow.yaml").open("a") as f:
        f.write(
            f"budget: {{max_runs: 2}}\n{WALK}, max_evaluations_per_study: 1, max_evaluations: 1}}\n"
        )
    repo.add_experiment("e1", study="s1")
    repo.add_result("e1", study="s1", splits=SPLITS)
    repo.commit("one look")
    env = {
        "PATH": f"{Path(sys.executable).parent}:{git_env()['PATH']}",  # expflow-git
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }
    pre_commit_install(repo.path, env)
    record = repo.add_experiment("e2", study="s2")
    look = repo.add_result("e2", study="s2", splits=SPLITS)
    repo.git("add", "-A")
    over_looks = (
        "expflow.yaml#/walk_forward/max_evaluations: holdout-budget-exceeded: all studies "
        "have 2 result(s) carrying the holdout split 'holdout' in the tree, over the budget "
        "of 1 in all studies"
    )
    for args in (["--staged", "--", look], ["--staged", "--", record], ["--", look], []):
        res = run_cli(["validate", *args], repo.path)
        assert (res.code, res.out.splitlines()) == (1, [over_looks]), (args, res.out)
    before = repo.head()
    code, out = commit_through_hooks(repo, env, "a second look in a study of its own")
    assert code == 1 and over_looks in out, out
    assert repo.head() == before
    # Without the look, a third record in a third study is over the runs total.
    repo.git("rm", "-q", "--cached", look)
    (repo.path / look).unlink()
    third = repo.add_experiment("e3", study="s3")
    repo.git("add", "-A")
    over_runs = (
        "expflow.yaml#/budget/max_runs: budget-exceeded: all studies have 3 runs in the "
        "tree, over the budget of 2 in all studies"
    )
    res = run_cli(["validate", "--staged", "--", third], repo.path)
    assert (res.code, res.out.splitlines()) == (1, [over_runs]), res.out
    code, out = commit_through_hooks(repo, env, "a third study")
    assert code == 1 and over_runs in out, out
    assert repo.head() == before


@pytest.mark.parametrize(
    ("old", "new", "effect"),
    [
        ("", "{max}: 5", Effect.STRICTER),  # a cap added
        ("{max}: 5", "", Effect.LOOSER),  # a cap removed
        ("{max}: 5", "{max}: 9", Effect.LOOSER),  # raised
        ("{max}: 5", "{max}: 2", Effect.STRICTER),  # lowered
    ],
)
@pytest.mark.parametrize(
    ("section", "key"), [("budget", "max_runs"), ("walk_forward", "max_evaluations")]
)
def test_the_policy_diff_classifies_the_totals(
    old: str, new: str, effect: Effect, section: str, key: str
) -> None:
    def policy(limit: str) -> bytes:
        limit = limit.format(max=key)
        if section == "budget":
            return f"{POLICY}budget: {{{limit}}}\n".encode()
        return f"{POLICY}{WALK}{', ' + limit if limit else ''}}}\n".encode()

    changes = diff_policies(load_policy_bytes(policy(old)), load_policy_bytes(policy(new)))
    assert [(c.effect, c.where) for c in changes] == [(effect, f"/{section}/{key}")]


def test_renaming_the_split_under_a_total_is_looser() -> None:
    """The totals count looks at the split: renaming it drops every earlier look."""
    old = load_policy_bytes(_holdout(total=3).encode())
    new = load_policy_bytes(_holdout(total=3).replace("split: holdout", "split: other").encode())
    assert [(c.effect, c.where) for c in diff_policies(old, new)] == [
        (Effect.LOOSER, "/walk_forward/split")
    ]


def test_the_policy_ref_diff_shows_a_raised_total(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", _holdout(total=1))
    base = commit_all(repo, "base")
    write(repo, "expflow.yaml", _holdout(total=9) + "budget: {max_runs: 3}\n")
    commit_all(repo, "loosen")
    res = run_cli(["audit", "--no-cache", "--policy-ref", base], repo)
    assert "LOOSER    /walk_forward/max_evaluations: 1 → 9" in res.out, res.out
    assert "STRICTER  /budget/max_runs: added 3" in res.out, res.out


@pytest.mark.parametrize("bad", ["budget: {max_runs: 0}\n", f"{WALK}, max_evaluations: -1}}\n"])
def test_a_bad_total_is_a_configuration_error(tmp_path: Path, bad: str) -> None:
    repo = new_repo(tmp_path / "repo", POLICY + bad)
    add_run(repo, "exp-001", m(57.0))
    commit_all(repo)
    res = run_cli(["audit", "--no-cache"], repo)
    assert res.code == 2 and "Traceback" not in res.err, res.err
    assert len(res.err.strip().splitlines()) == 1, res.err


def test_records_moved_where_only_the_pull_requests_policy_reads_them_still_count(
    tmp_path: Path,
) -> None:
    """A pull request adds `archive/**` to its own `paths.experiments`, moves three
    attempts there and adds three runs: judged by the base's policy, the tree counted
    three runs, and the history kept the moved attempts as still in the tree (by every
    policy's globs), so neither count saw them; the action passed it (an attacker's
    hunt, issue 18 twenty-seventh pass)."""
    import subprocess

    repo = new_repo(tmp_path / "repo", f"{POLICY}budget: {{max_runs: 3}}\n")
    for exp_id in ("f1", "f2", "f3"):
        add_run(repo, exp_id)  # ended runs with no score: three attempts
    base = commit_all(repo, "three attempts, the budget's")
    wider = POLICY.replace(
        'experiments: ["experiments/**/*.json"]',
        'experiments: ["experiments/**/*.json", "archive/**/*.json"]',
    )
    assert wider != POLICY
    write(repo, "expflow.yaml", f"{wider}budget: {{max_runs: 3}}\n")
    (repo / "archive").mkdir()
    for exp_id in ("f1", "f2", "f3"):
        subprocess.run(
            ["git", "mv", f"experiments/{STUDY}/{exp_id}.json", "archive/"], cwd=repo, check=True
        )
    for n, exp_id in enumerate(("n1", "n2", "n3")):
        add_run(repo, exp_id, m(50.0 + n))
    commit_all(repo, "archive the attempts, three new runs")
    res = run_cli(["audit", "--no-cache", "--since", base, "--policy-ref", base], repo)
    assert res.code == 1, res
    assert (
        "expflow.yaml#/budget/max_runs: budget-exceeded: all studies have had 6 runs in "
        "their history (3 of them no longer in the tree as they ran"
    ) in res.out, res.out
