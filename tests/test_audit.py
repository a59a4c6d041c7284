"""`audit` on real repositories: docs/spec.md §6.2 checks 1–6 and 8, exit codes, output formats."""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_audit import (
    PIN_SHA,
    POLICY,
    STUDY,
    WALK,
    Cli,
    add_run,
    assert_one_error_line,
    clean_env,
    commit_all,
    copy_repo,
    experiment,
    git,
    m,
    new_repo,
    result,
    rules_of,
    run_cli,
    runs_of,
    seed_repo,
    statement_of,
    write,
    write_json,
)

from expflow_git.audit import parallel
from expflow_git.audit.pipeline import run_audit
from expflow_git.audit.tree import TreeReader
from expflow_git.checks import integrity_findings
from expflow_git.documents import Experiment, Result
from expflow_git.gitstore import Git
from expflow_git.policy.load import load_policy_bytes
from expflow_git.schemas import Kind


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_repo(tmp_path_factory.mktemp("seed") / "repo")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the policy and one good run, not yet committed."""
    path = new_repo(tmp_path / "repo")
    add_run(path, "good", m(50))
    return path


def audit_json(cli: Cli, repo: Path, *args: str) -> tuple[int, dict]:
    res = cli(["audit", "--format", "json", *args], repo)
    assert res.code in (0, 1), res
    return res.code, statement_of(res.out)


# ----------------------------------------------------------------------------- checks 1 and 2


def _invalid_json(r: Path) -> str:
    rel = f"results/{STUDY}/bad.json"
    add_run(r, "bad", None)
    write(r, rel, '{"schema": "expflow/result@1", "experiment": "bad", "experiment": "x"}')
    return rel


def _bom(r: Path) -> str:
    rel = f"experiments/{STUDY}/bom.json"
    write(r, rel, b"\xef\xbb\xbf" + json.dumps(experiment("bom")).encode())
    return rel


def _schema(r: Path) -> str:
    rel = f"experiments/{STUDY}/bad.json"
    doc = experiment("bad")
    del doc["status"]
    write_json(r, rel, doc)
    return rel


def _unknown_metric(r: Path) -> str:
    add_run(r, "bad", m(50, accuracy=0.9))
    return f"results/{STUDY}/bad.json"


def _out_of_range(r: Path) -> str:
    add_run(r, "bad", m(50, minutes=-1.0))
    return f"results/{STUDY}/bad.json"


def _duplicate_id(r: Path) -> str:
    add_run(r, "twin", m(40), study="alpha")
    add_run(r, "twin", m(41), study="beta")
    return "experiments/beta/twin.json"


def _dangling(r: Path) -> str:
    rel = f"results/{STUDY}/ghost.json"
    write_json(r, rel, result("ghost", m(50)))
    return rel


def _not_success(r: Path) -> str:
    add_run(r, "crashed", m(50), status="failed")
    return f"results/{STUDY}/crashed.json"


def _stem(r: Path) -> str:
    rel = f"experiments/{STUDY}/file-name.json"
    write_json(r, rel, experiment("other-id"))
    return rel


def _result_stem(r: Path) -> str:
    add_run(r, "real", None)
    rel = f"results/{STUDY}/renamed.json"
    write_json(r, rel, result("real", m(50)))
    return rel


def _symlink(r: Path) -> str:
    rel = f"experiments/{STUDY}/link.json"
    os.symlink("good.json", r / rel)
    return rel


def _budget(r: Path) -> str:
    write(r, "expflow.yaml", POLICY + "budget: {max_runs_per_study: 2}\n")
    add_run(r, "extra-1", m(40))
    add_run(r, "extra-2", None)
    return f"experiments/{STUDY}/extra-1.json"  # the study's first record by path


DEFECTS = {
    "invalid-json": _invalid_json,
    "invalid-json/bom": _bom,
    "schema": _schema,
    "unknown-metric": _unknown_metric,
    "metric-out-of-range": _out_of_range,
    "duplicate-id": _duplicate_id,
    "result-without-record": _dangling,
    "result-for-unsuccessful-run": _not_success,
    "id-mismatch": _stem,
    "id-mismatch/result": _result_stem,
    "not-a-regular-file": _symlink,
    "budget-exceeded": _budget,
}


@pytest.mark.parametrize("case", sorted(DEFECTS))
def test_each_document_and_integrity_check(xcli: Cli, repo: Path, case: str) -> None:
    path = DEFECTS[case](repo)
    commit_all(repo)
    code, st = audit_json(xcli, repo)
    rule = case.split("/")[0]
    assert code == 1
    assert st["predicate"]["result"]["verdict"] == "fail"
    assert path in rules_of(st).get(rule, []), rules_of(st)
    # a bad document does not hide the good run
    assert st["predicate"]["result"]["best_feasible"] == "good"


def test_a_clean_repository_passes(xcli: Cli, repo: Path) -> None:
    commit_all(repo)
    code, st = audit_json(xcli, repo)
    assert code == 0
    assert rules_of(st) == {}
    assert st["predicate"]["result"]["verdict"] == "pass"


def test_budget_at_the_limit_passes(xcli: Cli, repo: Path) -> None:
    write(repo, "expflow.yaml", POLICY + "budget: {max_runs_per_study: 2}\n")
    add_run(repo, "second", m(40))
    add_run(repo, "elsewhere", m(40), study="other")  # budgets are per study
    commit_all(repo)
    code, st = audit_json(xcli, repo)
    assert code == 0, rules_of(st)


def test_duplicate_id_in_the_same_study_file_names(xcli: Cli, repo: Path) -> None:
    # same id in two folders of one study: the second by path is the duplicate
    add_run(repo, "dup", m(40), study="s")
    write_json(repo, "experiments/s/nested/dup.json", experiment("dup", study="s"))
    commit_all(repo)
    code, st = audit_json(xcli, repo)
    assert code == 1  # an invalid document fails the audit
    assert rules_of(st)["duplicate-id"] == ["experiments/s/nested/dup.json"]


def test_a_submodule_where_documents_are_expected(xcli: Cli, repo: Path) -> None:
    sha = commit_all(repo)
    rel = "experiments/s/x.json"
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{sha},{rel}")
    git(repo, "commit", "-q", "--no-verify", "-m", "gitlink")
    assert git(repo, "ls-tree", "HEAD", rel).startswith("160000 commit")
    code, st = audit_json(xcli, repo)
    assert code == 1
    found = [f for f in st["predicate"]["entries"] if f.get("rule") == "not-a-regular-file"]
    assert [(f["path"], "submodule" in f["message"]) for f in found] == [(rel, True)]


def test_symlink_finding_says_symbolic_link(xcli: Cli, repo: Path) -> None:
    _symlink(repo)
    commit_all(repo)
    res = xcli(["audit"], repo)
    assert res.code == 1
    assert f"experiments/{STUDY}/link.json: not-a-regular-file: is a symbolic link" in res.out


def test_an_invalid_policy_is_exit_2(xcli: Cli, repo: Path) -> None:
    write(repo, "expflow.yaml", POLICY.replace("tie_break: [pde_mean]", "tie_break: [pde_men]"))
    commit_all(repo)
    assert_one_error_line(xcli(["audit"], repo), 2, "pde_men", "did you mean 'pde_mean'")


def test_the_policy_must_hold_no_pin_hash(xcli: Cli, repo: Path) -> None:
    write(repo, "expflow.yaml", POLICY + f"# {PIN_SHA}\n")
    commit_all(repo)
    res = xcli(["audit"], repo)
    assert_one_error_line(res, 2, "expflow.yaml")
    assert PIN_SHA not in res.err


# ----------------------------------------------------------------------------- check 3


def test_a_pin_hash_committed_with_no_verify_is_found(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    write(repo, "docs/notes.txt", f"remember the CI secret:\n  {PIN_SHA}\n")
    commit_all(repo)  # --no-verify: the hooks never saw it
    code, st = audit_json(xcli, repo, "--out", str(tmp_path / "r.json"))
    assert code == 1
    found = [f for f in st["predicate"]["entries"] if f.get("rule") == "pin-sha256"]
    assert len(found) == 1
    assert (found[0]["path"], found[0]["line"], found[0]["col"]) == ("docs/notes.txt", 2, 3)
    # the report and every output name the leak, never its value
    text = xcli(["audit"], repo)
    assert text.code == 1
    for fmt in ("md", "github"):
        res = xcli(["audit", "--format", fmt], repo)
        assert res.code == 1 and PIN_SHA not in res.both
    assert PIN_SHA not in text.both and "docs/notes.txt:2:3: pin-sha256" in text.out
    assert PIN_SHA.encode() not in (tmp_path / "r.json").read_bytes()
    assert PIN_SHA[:8] not in json.dumps(st)


def test_a_pin_hash_in_a_submodules_name_is_found(xcli: Cli, repo: Path) -> None:
    """A submodule's name stays in the history as a file's does: a PIN's digest in it
    passed the tree's scan and `--since` (only files were read; an attacker's hunt)."""
    base = commit_all(repo)
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},vendor/{PIN_SHA}")
    git(repo, "commit", "-q", "--no-verify", "-m", "a submodule")
    res = xcli(["audit"], repo)
    assert res.code == 1 and "vendor/****: pin-sha256" in res.out, res.out
    git(repo, "rm", "-q", "--cached", f"vendor/{PIN_SHA}")
    git(repo, "commit", "-q", "--no-verify", "-m", "and gone")
    assert xcli(["audit"], repo).code == 0
    res = xcli(["audit", "--since", base], repo)
    assert res.code == 1 and "vendor/****: pin-sha256" in res.out, res.out
    assert "a submodule added in commit" in res.out and PIN_SHA[:8] not in res.both


def test_a_pin_hash_in_a_file_name_is_found_and_never_printed(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    """Only a file named `pin.hash` was caught by its name: a PIN's digest in a name
    (`notes-<sha>.txt`) went into the history unseen, at HEAD and in `--since`."""
    base = commit_all(repo)
    leak = repo / f"docs/notes-{PIN_SHA}.txt"
    write(repo, leak.relative_to(repo).as_posix(), "nothing secret in here\n")
    scanned = xcli(["scan", "--", str(leak)], repo)
    assert scanned.code == 1 and "docs/notes-****.txt: pin-sha256" in scanned.out
    assert PIN_SHA[:8] not in scanned.both
    commit_all(repo)  # --no-verify: the hooks never saw it
    report = tmp_path / "r.json"
    code, st = audit_json(xcli, repo, "--out", str(report))
    assert code == 1
    found = [f for f in st["predicate"]["entries"] if f.get("rule") == "pin-sha256"]
    assert [f["path"] for f in found] == ["docs/notes-****.txt"], found
    assert PIN_SHA[:8] not in json.dumps(st) and PIN_SHA.encode() not in report.read_bytes()
    for fmt in ("text", "md", "github", "sarif"):
        res = xcli(["audit", "--format", fmt], repo)
        assert res.code == 1 and PIN_SHA[:8] not in res.both, fmt
    # Deleted again, it stays in the history: `--since` finds it there.
    leak.unlink()
    commit_all(repo)
    code, st = audit_json(xcli, repo, "--since", base)
    found = [f for f in st["predicate"]["entries"] if f.get("rule") == "pin-sha256"]
    assert code == 1 and [f["path"] for f in found] == ["docs/notes-****.txt"], found
    assert "stays in the history" in found[0]["message"] and PIN_SHA[:8] not in json.dumps(st)


@pytest.mark.parametrize(
    ("rel", "content", "rule"),
    [
        ("deploy/.env", "EXPFLOW_PIN_HASH=deadbeef\n", "pin-assignment"),
        ("config/settings.yaml", "pin: 4321\n", "pin-value"),
        ("backup/pin.hash", "whatever\n", "pin-hash-file"),
        # a document file is scanned too
        (f"experiments/{STUDY}/good.json", None, "pin-sha256"),
    ],
)
def test_other_leaks_anywhere_in_the_tree(
    xcli: Cli, repo: Path, rel: str, content: str | None, rule: str
) -> None:
    if content is None:
        doc = experiment("good")
        doc["params"]["note"] = PIN_SHA
        write_json(repo, rel, doc)
    else:
        write(repo, rel, content)
    commit_all(repo)
    code, st = audit_json(xcli, repo)
    assert code == 1
    assert rel in rules_of(st).get(rule, []), rules_of(st)


def test_a_pin_hash_removed_from_the_tree_is_no_finding_at_head(xcli: Cli, repo: Path) -> None:
    write(repo, "notes.txt", PIN_SHA + "\n")
    leaked = commit_all(repo)
    (repo / "notes.txt").unlink()
    commit_all(repo, "remove", date="2026-11-21T10:00:00+00:00")
    assert xcli(["audit"], repo).code == 0
    assert xcli(["audit", "--rev", leaked], repo).code == 1


# ----------------------------------------------------------------------------- checks 4 and 5


def test_per_run_verdicts_on_the_seed_example(xcli: Cli, seed: Path) -> None:
    code, st = audit_json(xcli, seed)
    assert code == 0
    runs = {r["id"]: r for r in runs_of(st)}
    assert [r["id"] for r in runs_of(st)] == [
        "exp-001",
        "exp-005",
        "exp-006",
        "exp-007",
        "exp-002",
        "exp-003",
        "exp-004",
    ]
    failed = {i: [c["name"] for c in r["checks"] if not c["passed"]] for i, r in runs.items()}
    assert failed == {
        "exp-001": [],
        "exp-005": [],
        "exp-006": [],
        "exp-007": [],
        "exp-002": ["pde_mean:lt:18.09"],
        "exp-003": ["sub_step:gt:0"],
        "exp-004": ["train_time_min:lt:60"],
    }
    assert {i: (r["feasible"], r["rank"]) for i, r in runs.items()} == {
        "exp-001": (True, 1),
        "exp-005": (True, 2),
        "exp-006": (True, 3),
        "exp-007": (True, 4),
        "exp-002": (False, None),
        "exp-003": (False, None),
        "exp-004": (False, None),
    }
    kinds = {c["kind"] for c in runs["exp-001"]["checks"]}
    assert kinds == {"threshold", "required", "rule"}
    assert runs["exp-004"]["checks"][1]["detail"] == "72 not < 60"


def test_best_any_differs_from_best_feasible(xcli: Cli, seed: Path) -> None:
    code, st = audit_json(xcli, seed)
    assert code == 0
    res = st["predicate"]["result"]
    assert (res["best_any"], res["best_feasible"]) == ("exp-002", "exp-001")
    assert res["counts"] == {"findings": 0, "runs": 7, "feasible": 4, "ranked": 4}
    text = xcli(["audit"], seed)
    assert text.code == 0
    assert "best_any: exp-002   best_feasible: exp-001" in text.out


def test_policy_gates_and_rules(xcli: Cli, tmp_path: Path) -> None:
    policy = POLICY.replace("gates: []", 'gates: ["seg_total:ge:45"]').replace(
        "required: true}", "required: true}\n  - {param: model, op: eq, value: fno}"
    )
    repo = new_repo(tmp_path / "repo", policy)
    add_run(repo, "low", m(44))
    add_run(repo, "nosub", m(60), sub_step=None)
    add_run(repo, "ok", m(50))
    write_json(
        repo,
        f"experiments/{STUDY}/ok.json",
        {**experiment("ok"), "params": {"--SUB_STEP": 1, "cfg/model": "fno"}},
    )
    commit_all(repo)
    code, st = audit_json(xcli, repo)
    assert code == 0  # "ok" passes every gate and rule
    failed = {
        r["id"]: {c["name"]: c["detail"] for c in r["checks"] if not c["passed"]}
        for r in runs_of(st)
    }
    assert failed["ok"] == {}  # params matched case-insensitively by last segment
    # an absent parameter fails only a required rule
    assert list(failed["low"]) == ["seg_total:ge:45"]
    assert failed["low"]["seg_total:ge:45"].startswith("44 not >= 45")
    assert failed["nosub"]["sub_step:gt:0"] == "required parameter absent"


def test_no_feasible_run_fails(xcli: Cli, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "slow", m(50, minutes=99))
    commit_all(repo)
    code, st = audit_json(xcli, repo)
    assert code == 1
    assert rules_of(st) == {}
    assert st["predicate"]["result"]["best_feasible"] is None
    assert st["predicate"]["result"]["best_any"] == "slow"


def test_no_runs_at_all_fails(xcli: Cli, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    commit_all(repo)
    res = xcli(["audit"], repo)
    assert res.code == 1
    assert "no runs" in res.out


# ----------------------------------------------------------------------------- check 6


def _walk_repo(tmp_path: Path, points: list[tuple[float, float | None]]) -> Path:
    repo = new_repo(tmp_path / "repo", POLICY + WALK)
    for i, (seg, holdout) in enumerate(points):
        splits = None if holdout is None else {"holdout": {"seg_total": holdout}}
        add_run(repo, f"r{i}", m(seg), splits=splits)
    commit_all(repo)
    return repo


def _walk(st: dict) -> dict:
    return st["predicate"]["result"]["walkForward"]


def test_walk_forward_pass(xcli: Cli, tmp_path: Path) -> None:
    repo = _walk_repo(tmp_path, [(50, 49), (55, 54.5), (60, 61)])
    code, st = audit_json(xcli, repo)
    assert code == 0
    assert _walk(st)["status"] == "pass" and _walk(st)["n"] == 3
    assert _walk(st)["r"] == pytest.approx(0.99, abs=0.01)


def test_walk_forward_fail(xcli: Cli, tmp_path: Path) -> None:
    repo = _walk_repo(tmp_path, [(50, 61), (55, 54.5), (60, 49)])
    code, st = audit_json(xcli, repo)
    assert code == 1
    assert rules_of(st) == {}
    assert _walk(st)["status"] == "fail"
    assert _walk(st)["r"] < 0
    text = xcli(["audit"], repo)
    assert text.code == 1 and "walk-forward: FAIL" in text.out


def test_no_correlation_is_zero_not_minus_zero(xcli: Cli, tmp_path: Path) -> None:
    """Holdout scores that do not follow the ranked ones at all (r = 0 exactly): the
    sign taken from the exact sum made it -0.0, "r = -0.0000" in every form, and a
    report written before no longer recomputed (a review)."""
    repo = _walk_repo(tmp_path, [(60, 51), (59, 48), (58, 51), (57, 50)])
    code, st = audit_json(xcli, repo)
    assert code == 1 and _walk(st)["status"] == "fail"
    assert _walk(st)["r"] == 0.0 and math.copysign(1, _walk(st)["r"]) == 1.0
    text = xcli(["audit"], repo).out
    assert "r = 0.0000 <" in text and "-0.0000" not in text, text


# Holdout scores whose exact r is 0.29999999999992… (r² = 0.089999999999955): rounded to
# 12 places it is 0.3, and the walk-forward with `min_pearson: 0.3` passed (an
# attacker's hunt). The spec's gate passes iff r >= min_pearson.
JUST_BELOW = [(51, 1), (52, 2.371004232882), (53, 1), (54, 2)]


def test_walk_forward_compares_the_exact_r_with_its_bound(xcli: Cli, tmp_path: Path) -> None:
    repo = _walk_repo(tmp_path, JUST_BELOW)
    code, st = audit_json(xcli, repo)
    assert code == 1 and _walk(st)["status"] == "fail", _walk(st)
    assert _walk(st)["r"] == 0.3  # the report's r, rounded as ever
    text = xcli(["audit"], repo).out
    assert "walk-forward: FAIL — Pearson r = 0.3000 " in text, text
    assert "needs ≥ 0.3 (r is below 0.3 before rounding)" in text, text
    signed = tmp_path / "report.json"
    assert xcli(["audit", "--out", str(signed)], repo).code == 1
    res = xcli(["verify", str(signed), "--repo", str(repo), "--allow-unsigned"], repo)
    assert res.code == 0 and "VERIFIED" in res.out, res.out + res.err
    # A report claiming the pass the rounded r gave does not recompute.
    from expflow_git.report import rules

    entries = [
        {**e, "status": "pass"} if e["type"] == "walk-forward" else e
        for e in st["predicate"]["entries"]
    ]
    problems = rules.recompute_walk(entries)
    assert any("walk-forward r/status should be 0.3/fail" in p for p in problems), problems


@pytest.mark.parametrize(
    ("ranked", "passed"),
    [
        # on a line as doubles, not as written: r is below 1 (it was exactly 1, a pass)
        ([0.05, 0.07, 0.09000000000000001], False),
        # on a line as written, not as doubles: r is 1 (it was below, a fail)
        ([0.1, 0.2, 0.3], True),
    ],
)
def test_walk_forward_correlates_the_decimals_the_documents_hold(
    xcli: Cli, tmp_path: Path, ranked: list[float], passed: bool
) -> None:
    """docs/spec.md §2.3: a number is the decimal its shortest spelling is (an attacker's
    hunt: r was computed on the doubles)."""
    from expflow_git import gate_scores

    holdout = [0.25, 0.5, 0.75]
    assert gate_scores(ranked, holdout, 1).passed is passed
    repo = new_repo(tmp_path / "repo", POLICY + WALK.replace("0.3", "1"))
    for i, (seg, look) in enumerate(zip(ranked, holdout, strict=True)):
        add_run(repo, f"r{i}", m(seg), splits={"holdout": {"seg_total": look}})
    commit_all(repo)
    code, st = audit_json(xcli, repo)
    assert _walk(st)["status"] == ("pass" if passed else "fail"), _walk(st)
    signed = tmp_path / "report.json"
    xcli(["audit", "--out", str(signed)], repo)
    res = xcli(["verify", str(signed), "--repo", str(repo), "--allow-unsigned"], repo)
    assert res.code == 0 and "VERIFIED" in res.out, res.out + res.err


def test_gate_scores_compares_the_exact_r_with_its_bound() -> None:
    from expflow_git import gate_scores

    train, holdout = zip(*JUST_BELOW, strict=True)
    verdict = gate_scores(list(train), list(holdout), 0.3)
    assert not verdict.passed and verdict.pearson == 0.3
    assert verdict.reasons == ("pearson r is below 0.3 before rounding",)
    assert gate_scores(list(train), list(holdout), 0.2999999999999).passed
    # Compared with 0.3 as written, not with the double nearest it (0.2999…9889, which
    # this r, below 0.3 by ~1e-17, reaches: a review).
    closer = gate_scores([0.0, 1.0, 2.0], [0.0, 10.574802139339916, 3.25], 0.3)
    assert not closer.passed and closer.pearson == 0.3


@pytest.mark.parametrize(
    "points",
    [
        [(50, 49), (60, 61)],  # two runs: r = 1.0, yet never a pass
        [(50, 49), (55, None), (60, 61)],  # a run without the split does not count
        [(50, 40), (55, 40), (60, 40)],  # no variance: correlation undefined
        # Equal scores whose floating-point mean is not one of them (3 × 0.1 / 3 is
        # 0.10000000000000002): r was exactly 1.0, a pass.
        [(0.1, 0.1), (0.1, 0.1), (0.1, 0.1)],
        [(0.7, 0.7), (0.7, 0.7), (0.7, 0.7)],
    ],
)
def test_walk_forward_insufficient_is_never_a_pass(
    xcli: Cli, tmp_path: Path, points: list[tuple[float, float | None]]
) -> None:
    repo = _walk_repo(tmp_path, points)
    code, st = audit_json(xcli, repo)
    assert code == 1
    assert _walk(st)["status"] == "insufficient"
    assert _walk(st)["r"] is None
    assert st["predicate"]["result"]["verdict"] == "fail"


def test_walk_forward_uses_only_the_top_n_feasible_runs(xcli: Cli, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", POLICY + WALK.replace("top_n: 10", "top_n: 3"))
    for i, (seg, hold) in enumerate([(60, 61), (55, 54.5), (50, 49), (45, 90), (40, 95)]):
        add_run(repo, f"r{i}", m(seg), splits={"holdout": {"seg_total": hold}})
    # infeasible, anti-correlated: must not count either
    add_run(repo, "bad", m(99, pde=30), splits={"holdout": {"seg_total": 0.0}})
    commit_all(repo)
    code, st = audit_json(xcli, repo)
    assert code == 0
    assert [p[0] for p in _walk_entry(st)["points"]] == ["r0", "r1", "r2"]


def _walk_entry(st: dict) -> dict:
    return next(e for e in st["predicate"]["entries"] if e["type"] == "walk-forward")


def test_walk_forward_on_the_seed_example(xcli: Cli, seed: Path) -> None:
    code, st = audit_json(xcli, seed)
    assert code == 0
    assert _walk(st)["status"] == "pass"
    assert _walk(st)["n"] == 4  # only the feasible runs


# ----------------------------------------------------------------------------- check 8


def test_experiment_infeasible_exits_1_naming_the_rule(xcli: Cli, seed: Path) -> None:
    res = xcli(["audit", "--experiment", "exp-003"], seed)
    assert res.code == 1
    assert "verdict: FAIL (experiment exp-003 only; history not checked)" in res.out
    row = next(r for r in res.out.splitlines() if " exp-003 " in r and "verdict" not in r)
    assert "sub_step:gt:0" in row and "sub_step = 0 not > 0" in row
    _, st = audit_json(xcli, seed, "--experiment", "exp-003")
    assert st["predicate"]["result"]["focus"] == "exp-003"
    assert st["predicate"]["result"]["verdict"] == "fail"


def test_every_form_says_what_the_verdict_covers(xcli: Cli, repo: Path, tmp_path: Path) -> None:
    """A verdict for one experiment passes with invalid documents beside it, and one
    without `--since` never read the history; the Markdown summary, the annotations and
    `verify`'s result line said neither, so such a report read like a full check (an
    attacker's hunt). Every form says it now."""
    base = commit_all(repo, "base")
    write(repo, f"results/{STUDY}/broken.json", "{")
    commit_all(repo, "a broken result beside the good run")
    report = tmp_path / "focus.json"
    res = xcli(["audit", "--experiment", "good", "--out", str(report)], repo)
    assert res.code == 0, res  # the run itself passes
    focus = "experiment good only; history not checked"
    assert f"verdict: PASS ({focus})" in res.out
    md = xcli(["report", str(report), "--format", "md"], repo).out
    assert "- verdict covers: experiment good only; history not checked" in md
    github = xcli(["audit", "--experiment", "good", "--format", "github"], repo).out
    assert f"::notice title=expflow-git audit::audit PASS ({focus})" in github
    verified = xcli(["verify", str(report), "--allow-unsigned", "--repo", "."], repo)
    assert verified.code == 0 and f"verdict PASS ({focus}) follows" in verified.out
    card = tmp_path / "card.html"
    xcli(["report", str(report), "--html", str(card)], repo)
    assert f"verdict covers: {focus}" in card.read_text()
    sarif = json.loads(xcli(["audit", "--experiment", "good", "--format", "sarif"], repo).out)
    assert sarif["runs"][0]["properties"]["verdictCovers"] == focus
    report = tmp_path / "since.json"
    res = xcli(["audit", "--since", base, "--out", str(report)], repo)
    assert res.code == 1
    history = f"every run; history checked since {base[:12]}"
    assert f"verdict: FAIL ({history})" in res.out
    assert history in xcli(["report", str(report), "--format", "md"], repo).out
    verified = xcli(["verify", str(report), "--allow-unsigned", "--repo", "."], repo)
    assert f"verdict FAIL ({history}) follows" in verified.out


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def test_since_the_empty_tree_checks_the_first_commits_own_files(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    """`--since` git's empty tree is the whole history. Since the first commit, that
    commit's own files were never read: a PIN hash it added and the next commit deleted
    passed (a new branch's pre-push hook, with no remote base, audited so)."""
    write(repo, "docs/notes.txt", f"pin_hash={PIN_SHA}\n")
    root = commit_all(repo)
    (repo / "docs/notes.txt").unlink()
    commit_all(repo)
    code, st = audit_json(xcli, repo, "--since", root)
    assert code == 0 and not [f for f in st["predicate"]["entries"] if "rule" in f]
    report = tmp_path / "whole.json"
    res = xcli(["audit", "--since", EMPTY_TREE, "--out", str(report)], repo)
    assert res.code == 1, res
    assert "docs/notes.txt:1:10: pin-sha256" in res.out and root[:12] in res.out
    assert "verdict: FAIL (every run; whole history checked)" in res.out
    assert PIN_SHA[:8] not in res.both and PIN_SHA.encode() not in report.read_bytes()
    verified = xcli(["verify", str(report), "--allow-unsigned", "--repo", "."], repo)
    assert verified.code == 0, verified
    assert "verdict FAIL (every run; whole history checked) follows" in verified.out
    # Only git's empty tree: another tree is no commit to start from.
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    assert_one_error_line(xcli(["audit", "--since", tree], repo), 2, "--since")


@pytest.mark.parametrize("broken", ["record", "result"])
def test_experiment_with_an_invalid_document_fails_with_its_report(
    xcli: Cli, repo: Path, tmp_path: Path, broken: str
) -> None:
    """`--experiment ID` whose record or result is invalid was an error naming no report
    ("no experiment 'bad'" for a record that is there; a user's hunt): the run's verdict
    fails, and the report says so."""
    add_run(repo, "bad", m(60))
    folder = "experiments" if broken == "record" else "results"
    write(repo, f"{folder}/{STUDY}/bad.json", '{"id": "bad"}\n')
    commit_all(repo)
    report = tmp_path / "bad.json"
    res = xcli(["audit", "--experiment", "bad", "--out", str(report)], repo)
    assert res.code == 1, res
    assert "verdict: FAIL (experiment bad only; history not checked)" in res.out, res.out
    assert f"{folder}/{STUDY}/bad.json" in res.out
    verified = xcli(["verify", str(report), "--allow-unsigned", "--repo", "."], repo)
    assert verified.code == 0 and "verdict FAIL (experiment bad only" in verified.out, verified
    res = xcli(["audit", "--experiment", "nope"], repo)  # nothing of it: an error, as ever
    assert res.code == 1 and "no experiment 'nope' at " in res.err, res


def test_experiment_feasible_exits_0(xcli: Cli, seed: Path) -> None:
    res = xcli(["audit", "--experiment", "exp-005"], seed)
    assert res.code == 0
    assert "verdict: PASS (experiment exp-005 only; history not checked)" in res.out


@pytest.mark.parametrize("focus", [None, "exp-003", "exp-005"])
def test_report_result_is_what_its_entries_imply(xcli: Cli, seed: Path, focus: str | None) -> None:
    """The encoder tallies `result` entry by entry (the ranking as canonical bytes);
    the verifier's `summarize` reads the parsed entries: the two must agree."""
    from expflow_git.report.rules import summarize

    code, st = audit_json(xcli, seed, *(["--experiment", focus] if focus else []))
    assert code == (1 if focus == "exp-003" else 0)  # exp-003 is infeasible
    p = st["predicate"]
    result = {k: v for k, v in p["result"].items() if k != "best_any"}
    assert result == summarize(p["entries"], focus)
    assert [r["id"] for r in result["ranking"]] == [
        e["id"] for e in p["entries"] if e["type"] == "run"
    ]
    assert result["counts"]["runs"] == len(result["ranking"]) > 0


def test_experiment_verdict_is_that_runs_alone(xcli: Cli, repo: Path) -> None:
    _dangling(repo)  # a finding elsewhere fails the full audit ...
    commit_all(repo)
    assert xcli(["audit"], repo).code == 1
    assert xcli(["audit", "--experiment", "good"], repo).code == 0  # ... not this run's verdict


def test_experiment_verdict_fails_on_a_finding_at_the_runs_own_files(xcli: Cli, repo: Path) -> None:
    """`--experiment ID` passed when ID's own committed result was rewritten after the
    fact (`result-rewritten` at its path, listed under a PASS); a finding at a file
    named by the run's id now fails its verdict, in the audit and in what `verify`
    recomputes from the entries (an attacker's hunt, issue 18 twenty-second pass)."""
    from expflow_git.report.rules import summarize

    add_run(repo, "other", m(40))
    base = commit_all(repo)
    write_json(repo, f"results/{STUDY}/good.json", result("good", m(99)))
    write_json(repo, f"results/{STUDY}/other.json", result("other", m(98)))
    commit_all(repo)
    for run in ("good", "other"):
        code, st = audit_json(xcli, repo, "--since", base, "--experiment", run)
        found = [e for e in st["predicate"]["entries"] if e["type"] == "finding"]
        assert code == 1 and st["predicate"]["result"]["verdict"] == "fail", run
        assert ("result-rewritten", f"results/{STUDY}/{run}.json") in [
            (e["rule"], e["path"]) for e in found
        ]
        result_now = {k: v for k, v in st["predicate"]["result"].items() if k != "best_any"}
        assert result_now == summarize(st["predicate"]["entries"], run)
    _dangling(repo)  # a finding beside the run still leaves its verdict alone
    commit_all(repo)
    assert xcli(["audit", "--experiment", "good"], repo).code == 0
    # A run named by a PIN's digest: the scan's findings at its files spell them
    # `****.json`, and its verdict passed (a review).
    digests = (hashlib.sha256(str(4000 + k).encode()).hexdigest() for k in range(100))
    named = next(d for d in digests if d[0] in "abcdef")
    add_run(repo, named, m(60))
    commit_all(repo)
    code, st = audit_json(xcli, repo, "--experiment", named)
    assert code == 1 and st["predicate"]["result"]["verdict"] == "fail"
    assert any(
        e["type"] == "finding" and e["path"] == f"results/{STUDY}/****.json"
        for e in st["predicate"]["entries"]
    )


def test_an_absolute_policy_path_inside_the_repository_is_its_committed_policy(
    xcli: Cli, repo: Path
) -> None:
    """`audit --policy /abs/repo/expflow.yaml` said there was no policy file at HEAD
    while `list` and `validate` read it (a user's hunt, issue 18 twenty-second pass)."""
    commit_all(repo)
    given = str((repo / "expflow.yaml").resolve())
    for args in (["audit"], ["rank"], ["diff", "HEAD", "HEAD"], ["list"]):
        res = xcli([*args, "--policy", given], repo)
        assert res.code == 0 and "no policy file" not in res.err, (args, res)
    from expflow_git import Repository

    assert Repository(repo, policy=given).audit().verdict == "pass"


def test_experiment_unknown_or_without_result(xcli: Cli, repo: Path) -> None:
    add_run(repo, "pending", None, status="pending")
    commit_all(repo)
    assert_one_error_line(xcli(["audit", "--experiment", "nobody"], repo), 1, "nobody")
    # A run without a result is not feasible: its verdict fails, with its report.
    res = xcli(["audit", "--experiment", "pending"], repo)
    assert res.code == 1 and "verdict: FAIL (experiment pending only;" in res.out, res


# ----------------------------------------------------------------------------- formats


def test_json_format_is_the_report_bytes(seed: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    res = run_cli(["audit", "--format", "json", "--out", str(out)], seed)
    assert res.code == 0
    assert res.out.encode() == out.read_bytes()
    envelope = json.loads(res.out)
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert envelope["signatures"] == []
    assert "UNSIGNED" in res.err


def test_text_format(xcli: Cli, seed: Path) -> None:
    res = xcli(["audit"], seed)
    assert res.code == 0
    lines = res.out.splitlines()
    assert lines[1].startswith("verdict: PASS")
    assert "report: UNSIGNED" in lines[1]
    assert "walk-forward: PASS" in res.out
    assert any(line.startswith("1     exp-001") for line in lines)


def test_md_format(xcli: Cli, repo: Path) -> None:
    _stem(repo)
    commit_all(repo)
    res = xcli(["audit", "--format", "md"], repo)
    assert res.code == 1
    assert res.out.startswith("## ❌ expflow-git audit: FAIL\n")
    assert "- report: **UNSIGNED**" in res.out
    assert "### Leaderboard" in res.out
    assert "| 1 | good |" in res.out
    assert "### Findings (1)" in res.out
    assert "**id-mismatch**" in res.out


def test_text_and_md_show_the_top_of_a_large_board(xcli: Cli, tmp_path: Path) -> None:
    from expflow_git.render.table import MAX_SHOWN_ROWS

    path = new_repo(tmp_path / "repo")
    count = MAX_SHOWN_ROWS + 3
    for i in range(count):
        add_run(path, f"r{i:03d}", m(1000 - i))  # r000 ranks first, the last run last
    commit_all(path)
    last = f"r{count - 1:03d}"

    text = xcli(["audit"], path)
    assert text.code == 0, text
    shown = [line.split()[1] for line in text.out.splitlines() if line[:1].isdigit()]
    assert shown == [f"r{i:03d}" for i in range(MAX_SHOWN_ROWS)]
    assert "… 3 more run(s) not shown: the report holds every run" in text.out
    md = xcli(["audit", "--format", "md"], path)
    assert md.code == 0, md
    md_rows = [line for line in md.out.splitlines() if line.startswith("| ") and " | r" in line]
    assert len(md_rows) == MAX_SHOWN_ROWS
    assert "_3 more run(s) not shown" in md.out
    # The report, and the JSON form, hold every run.
    code, statement = audit_json(xcli, path)
    assert code == 0
    assert len(runs_of(statement)) == count
    # A focused run below the cut is still shown, after the top rows.
    report = tmp_path / "focus.json"
    focus = xcli(["audit", "--experiment", last, "--out", str(report)], path)
    assert focus.code == 0, focus
    ids = [line.split()[1] for line in focus.out.splitlines() if line[:1].isdigit()]
    assert ids[-1] == last and len(ids) == MAX_SHOWN_ROWS + 1
    assert "… 2 more run(s) not shown" in focus.out
    inside = xcli(["audit", "--experiment", "r005"], path)  # in the top: shown once
    assert inside.code == 0, inside
    ids = [line.split()[1] for line in inside.out.splitlines() if line[:1].isdigit()]
    assert len(ids) == MAX_SHOWN_ROWS and ids.count("r005") == 1
    # The live view (rows made from the leaderboard) shows what the saved report shows.
    for fmt in ("text", "md"):
        live = xcli(["audit", "--experiment", last, "--format", fmt], path)
        saved = xcli(["report", str(report), "--format", fmt], path)
        assert (live.code, saved.code) == (0, 0), (live, saved)
        assert saved.out == live.out


def test_github_format_escapes_and_prints_the_full_report(xcli: Cli, repo: Path) -> None:
    write_json(repo, "experiments/s/a,b:c%d.json", experiment("zzz", study="s"))
    write_json(repo, "experiments/s/x\ny.json", experiment("xy", study="s"))
    add_run(repo, "slow", m(50, minutes=75))
    commit_all(repo)
    res = xcli(["audit", "--format", "github"], repo)
    assert res.code == 1
    lines = res.out.split("\n")
    errors = [line for line in lines if line.startswith("::error ")]
    assert (
        "::error file=experiments/s/a%2Cb%3Ac%25d.json,title=expflow id-mismatch::"
        "id 'zzz' differs from the file name 'a,b:c%25d' at /id"
    ) in errors
    assert any(e.startswith("::error file=experiments/s/x%0Ay.json,") for e in errors)
    # every annotation stays on one line and its properties never carry raw separators
    for line in errors:
        props = line[len("::error ") :].split("::", 1)[0]
        for prop in props.split(","):
            key, _, value = prop.partition("=")
            assert key in {"file", "line", "col", "title"}, line
            assert ":" not in value and "%" not in value.replace("%25", "").replace(
                "%2C", ""
            ).replace("%3A", "").replace("%0A", "").replace("%0D", ""), line
    assert any(
        line.startswith("::warning file=results/pdebench-task1/slow.json,")
        and "train_time_min:lt:60" in line
        for line in lines
    )
    assert "::error title=expflow-git audit::audit FAIL" in res.out
    assert "report UNSIGNED" in res.out
    # GitHub shows only 10 annotations: the full text report follows
    assert "verdict: FAIL" in res.out
    assert "findings (2):" in res.out
    assert res.out.index("::error") < res.out.index("verdict: FAIL")


def test_github_format_on_pass_is_a_notice(xcli: Cli, seed: Path) -> None:
    res = xcli(["audit", "--format", "github"], seed)
    assert res.code == 0
    assert "::notice title=expflow-git audit::audit PASS" in res.out
    assert "::error" not in res.out


def test_text_findings_stay_on_one_line(xcli: Cli, repo: Path) -> None:
    write_json(repo, "experiments/s/x\ny.json", experiment("xy", study="s"))
    commit_all(repo)
    res = xcli(["audit"], repo)
    assert res.code == 1
    block = res.out.split("findings (1):\n", 1)[1]
    assert len(block.strip("\n").split("\n")) == 1


def test_sarif_format(xcli: Cli, repo: Path) -> None:
    _stem(repo)
    _dangling(repo)
    commit_all(repo)
    res = xcli(["audit", "--format", "sarif"], repo)
    assert res.code == 1
    sarif = json.loads(res.out)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    got = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in results
    }
    assert {
        ("id-mismatch", f"experiments/{STUDY}/file-name.json"),
        ("result-without-record", f"results/{STUDY}/ghost.json"),
    } <= got


def test_html_scorecard(seed: Path, tmp_path: Path) -> None:
    res = run_cli(["audit", "--html", str(tmp_path / "s.html")], seed)
    assert "Traceback" not in res.err
    assert res.code == 0
    html = (tmp_path / "s.html").read_text()
    assert "<svg" in html and "exp-001" in html and "exp-002" in html
    assert "<script" not in html.lower()


def test_note_stores_the_report(xcli: Cli, seed: Path, tmp_path: Path) -> None:
    repo = copy_repo(seed, tmp_path / "repo")
    out = tmp_path / "r.json"
    assert xcli(["audit", "--note", "--out", str(out)], repo).code == 0
    assert git(repo, "notes", "--ref", "expflow", "show", "HEAD") == out.read_text().strip()


@pytest.mark.parametrize("option", ["--out", "--html"])
def test_unwritable_output_is_one_line_not_a_traceback(
    seed: Path, tmp_path: Path, option: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    target = blocker / "report.out"
    res = run_cli(["audit", option, str(target)], seed)
    assert_one_error_line(res, 2, str(blocker))
    assert blocker.read_text() == "not a directory\n"


@pytest.mark.parametrize("unwritable", ["--out", "--html"])
def test_one_unwritable_output_writes_neither(seed: Path, tmp_path: Path, unwritable: str) -> None:
    """--out and --html take their places together: the report was written and kept when
    the scorecard could not be (exit 2), as if the audit had not run."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    paths = {"--out": tmp_path / "r.json", "--html": tmp_path / "s.html"}
    paths[unwritable] = blocker / "cannot"
    res = run_cli(["audit", *(str(a) for pair in paths.items() for a in pair)], seed)
    assert_one_error_line(res, 2, str(blocker))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# ----------------------------------------------------------------------------- awkward data


def _audit_then_verify(repo: Path, tmp_path: Path) -> tuple[Any, Any]:
    out = tmp_path / "report.json"
    audited = run_cli(["audit", "--out", str(out)], repo)
    verified = run_cli(["verify", str(out), "--repo", str(repo), "--allow-unsigned"], repo)
    return audited, verified


def test_a_document_name_that_is_not_utf8_is_audited_and_verifies(
    repo: Path, tmp_path: Path
) -> None:
    name = os.fsencode(str(repo / "results" / STUDY)) + b"/run-\xff.json"
    with open(name, "wb") as fh:
        fh.write(json.dumps(result("a", m(50))).encode())
    commit_all(repo, "a result with a Latin-1 file name")
    out = tmp_path / "report.json"
    audited = subprocess.run(  # bytes: the text output names the file as git stores it
        [sys.executable, "-m", "expflow_git", "audit", "--out", str(out)],
        cwd=repo,
        env=clean_env(),
        capture_output=True,
    )
    assert audited.returncode == 1 and b"Traceback" not in audited.stderr, audited
    assert b"id-mismatch" in audited.stdout
    leaves = statement_of(out.read_bytes())["predicate"]["inputs"]["leaves"]
    assert f"results/{STUDY}/run-\\udcff.json" in [leaf["path"] for leaf in leaves]
    verified = run_cli(["verify", str(out), "--repo", str(repo), "--allow-unsigned"], repo)
    assert verified.code == 0 and "Traceback" not in verified.err, verified.out


def test_a_report_shown_from_its_file_names_files_as_the_audit_does(
    repo: Path, tmp_path: Path
) -> None:
    """A report spells a backslash doubled and a byte that is not UTF-8 as `\\udcff`
    (`errors.path_text`: one spelling per name); `report FILE` showed those spellings
    (`a\\\\b.json`) where the audit showed the names (`a\\b.json`, `\\xff`). Both
    show a backslash doubled now (issue 18, twenty-ninth pass)."""
    folder = os.fsencode(str(repo / "results" / STUDY))
    for name in (b"/a\\b.json", b"/c\xff.json"):
        with open(folder + name, "wb") as fh:
            fh.write(json.dumps(result("a", m(50))).encode())
    commit_all(repo, "odd file names")
    out = tmp_path / "report.json"
    command = [sys.executable, "-m", "expflow_git"]
    audited = subprocess.run(
        [*command, "audit", "--out", str(out)], cwd=repo, env=clean_env(), capture_output=True
    )
    shown = subprocess.run(
        [*command, "report", str(out)], cwd=repo, env=clean_env(), capture_output=True
    )
    assert (audited.returncode, shown.returncode) == (1, 0), (audited, shown)
    lines = [ln for ln in audited.stdout.splitlines() if b"id-mismatch" in ln]
    assert [ln.split(b"#")[0].strip() for ln in lines] == [
        f"results/{STUDY}/a\\\\b.json".encode(),
        f"results/{STUDY}/c\\xff.json".encode(),
    ]
    assert all(ln in shown.stdout.splitlines() for ln in lines), shown.stdout


@pytest.mark.parametrize("value", [2**53, 1e16, -(2.0**60)])
def test_a_metric_beyond_exact_integers_is_a_finding(
    repo: Path, tmp_path: Path, value: float
) -> None:
    add_run(repo, "huge", m(50, seg1=value))
    commit_all(repo, "a metric JSON numbers cannot hold exactly")
    audited, verified = _audit_then_verify(repo, tmp_path)
    assert audited.code == 1 and "Traceback" not in audited.err, audited
    assert "metric-out-of-range" in audited.out and "too large" in audited.out
    assert verified.code == 0 and "Traceback" not in verified.err, verified.out


@pytest.mark.parametrize(
    ("literal", "read_as"),
    [("-1e-400", "-0.0"), ("1e-999", "0.0"), ("45.00000000000000001", "45.0")],
)
def test_a_number_a_double_does_not_hold_as_written_is_refused(
    repo: Path, tmp_path: Path, literal: str, read_as: str
) -> None:
    """A negative training time under `min: 0`, spelled so that a double reads it as 0
    (or a number that is not its double's shortest spelling): the run was feasible and
    ranked first, its value reported as 0, and `verify --recompute` agreed (an attacker's
    hunt, issue 18). Now the result is refused by the hook and by the audit, and not
    ranked."""
    add_run(repo, "tiny", m(99))
    rel = f"results/{STUDY}/tiny.json"
    text = (repo / rel).read_text()
    (repo / rel).write_text(text.replace('"train_time_min": 45.0', f'"train_time_min": {literal}'))
    assert literal in (repo / rel).read_text()
    hook = run_cli(["validate", "--", rel], repo)
    message = f"number {literal} would be read as {read_as}"
    assert hook.code == 1 and f"{rel}#/metrics/train_time_min: invalid-json:" in hook.out, hook
    assert message in hook.out
    commit_all(repo, "a training time a double reads as something else")
    audited, verified = _audit_then_verify(repo, tmp_path)
    assert audited.code == 1 and "Traceback" not in audited.err, audited
    assert rel in audited.out and message in audited.out
    board = run_cli(["rank", "--format", "json"], repo)
    assert "tiny" not in board.out  # not ranked: its result is not a valid document
    assert verified.code == 0, verified.out


@pytest.mark.parametrize("how", ["cold", "warm", "forked"])
def test_reference_counting_frees_the_audits_documents(
    seed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The audit runs with the cyclic collector off (heap.no_cyclic_gc), so nothing it
    keeps may sit in a reference cycle: the tree and its documents, held through the cold
    read's workers, waited for a full collection (~0.2 s at 100k runs, and ~10 MiB more
    at the peak until it ran). Cold, warm (from the cache an audit filled), and with the
    cold read's blobs checked in a forked child too."""
    repo = copy_repo(seed, tmp_path / "repo")
    git = Git.discover(repo)
    if how == "warm":  # the audit below reads the cache this one fills
        run_audit(git, use_cache=True)
    if how == "forked":
        monkeypatch.setenv("EXPFLOW_JOBS", "2")
        monkeypatch.setattr(parallel, "PER_WORKER", 2)
    gc.collect()
    enabled, debug = gc.isenabled(), gc.get_debug()
    gc.disable()
    try:
        audit = run_audit(git, use_cache=how == "warm")
        assert audit.check.experiments and audit.check.results
        del audit
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        kept = [
            type(o).__name__
            for o in gc.garbage
            if isinstance(o, (Experiment, Result, TreeReader, parallel.Checker))
        ]
    finally:
        gc.set_debug(debug)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert kept == []


def test_a_blob_at_many_paths_is_classified_in_linear_time() -> None:
    """A tree may hold one blob at thousands of paths (empty `__init__.py` files, copies
    of one document): its uses are stored twice at most (a 1-tuple, then a list appended
    to), never copied once per path, which made classifying k such paths cost k²."""
    policy = load_policy_bytes(POLICY.encode())
    empty = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    paths = [f"pkg{i:04d}/__init__.py" for i in range(1_000)]
    stores: Counter[str] = Counter()

    class CountingDict(dict[str, Any]):
        def __setitem__(self, key: str, value: Any) -> None:
            stores[key] += 1
            super().__setitem__(key, value)

    tree = TreeReader(policy, [])
    tree.uses = CountingDict()
    tree.classify([f"100644 blob {empty}\t{path}" for path in paths], scan=True)
    assert [use.path for use in tree.uses[empty]] == paths
    assert stores[empty] <= 2


@pytest.mark.parametrize(
    "doc",
    [
        result("r1", {"seg_total": 61.5, "pde_mean": 16.0, "train_time_min": 22.0}),
        result("r1", {"seg_total": 1e300, "pde_mean": -0.0, "train_time_min": 5}),
        result("r1", {"seg_total": 2**53, "pde_mean": 1, "train_time_min": 1}),
        result("r1", {"seg_total": 3, "other": 1e-300}, {"holdout": {"seg_total": 2.0}}),
        result("r1", {"seg_total": 3, "pde_mean": 4, "train_time_min": 5}, {"é": {"seg1": 1}}),
        result("r2", {"seg_total": 3.0, "pde_mean": 4, "train_time_min": -1}),
        {"schema": "expflow/result@1", "experiment": "r1", "metrics": {"seg_total": "1"}},
    ],
)
def test_a_record_just_made_passes_the_checks_a_cached_one_gets(doc: dict[str, Any]) -> None:
    """A cold audit consumes the records it has just made without checking their numbers
    and spellings again (tree.consume(made=True)): that is only sound while every record
    `content_record` makes passes those checks, as one read back from the cache does.
    Both ways must give the same documents, findings and spellings."""
    from expflow_git.audit.record import content_record

    policy = load_policy_bytes(POLICY.encode())
    data = json.dumps(doc).encode()
    sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    line = f"100644 blob {sha}\tresults/s/r1.json"
    record = content_record(data, [Kind.RESULT], ["t"], policy)
    fresh, cached = TreeReader(policy, []), TreeReader(policy, [])
    fresh.classify([line], scan=True)
    cached.classify([line], scan=True)
    fresh.consume(sha, record, made=True)
    assert cached.consume_cached(sha, json.loads(json.dumps(record)))
    assert (fresh.findings, fresh.results, fresh.spellings) == (
        cached.findings,
        cached.results,
        cached.spellings,
    )


def test_the_study_budget_reads_the_records_once_however_many_studies_are_over_it() -> None:
    """Each study over `max_runs_per_study` is named by its first record's path; that
    path was found by a pass over every record per study (k² for k/2 studies of two)."""
    policy = load_policy_bytes(
        (POLICY + "budget:\n  max_runs_per_study: 1\n").encode(), path="expflow.yaml"
    )
    passes = 0

    class Records(list[Experiment]):
        def __iter__(self) -> Iterator[Experiment]:
            nonlocal passes
            passes += 1
            return super().__iter__()

    records = Records(
        Experiment.from_json(
            f"experiments/s{i // 2:03d}/e{i:03d}.json",
            experiment(f"e{i:03d}", study=f"s{i // 2:03d}"),
        )
        for i in reversed(range(200))
    )
    found = [f for f in integrity_findings(records, [], policy) if f.rule == "budget-exceeded"]
    assert [f.path for f in found] == [
        f"experiments/s{i:03d}/e{2 * i:03d}.json" for i in range(100)
    ]
    assert passes <= 5  # a few passes in all, not one per study (102 here)


def test_an_output_naming_another_is_refused_before_anything_is_written(
    seed: Path, tmp_path: Path
) -> None:
    """`audit --out F --html F` wrote the scorecard over the report and said "written"
    (exit 0, no report); `report F --html F` wrote it over the report it rendered (an
    attacker's hunt, issue 18 seventeenth pass). Exit 2, nothing written."""
    report = tmp_path / "r.json"
    (tmp_path / "sub").mkdir()
    res = run_cli(["audit", "--out", str(report), "--html", str(tmp_path / "sub/../r.json")], seed)
    assert res.code == 2 and "--out and --html name the same file" in res.err, res.err
    assert not report.exists()
    assert run_cli(["audit", "--out", str(report)], seed).code == 0
    before = report.read_bytes()
    res = run_cli(["report", str(report), "--html", str(report)], seed)
    assert res.code == 2 and "REPORT and --html name the same file" in res.err, res.err
    assert report.read_bytes() == before
    key = tmp_path / "key.pem"
    key.write_text("not read: refused first\n")
    for args, message in (
        (["--sign-key", str(key), "--html", str(key)], "--sign-key and --html"),
        (["--sign-key", str(key), "--out", str(key)], "--sign-key and --out"),
        (["--previous", str(report), "--html", str(report)], "--previous and --html"),
    ):  # the review: the scorecard written over the signing key, exit 0
        res = run_cli(["audit", *args], seed)
        assert res.code == 2 and f"{message} name the same file" in res.err, res.err
    env = {"EXPFLOW_SIGNING_KEY": str(key)}  # the key named by the environment (review)
    res = run_cli(["audit", "--html", str(key)], seed, env=env)
    assert res.code == 2 and "--sign-key and --html name the same file" in res.err, res.err
    assert key.read_text() == "not read: refused first\n" and report.read_bytes() == before
