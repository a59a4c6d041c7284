"""The validate hook counts the two per-study budgets as the audit of the same tree does
(docs/spec.md §6.2 items 2 and 6, §7): `budget.max_runs_per_study` (budget-exceeded) and
the holdout budget `walk_forward.max_evaluations_per_study` (holdout-budget-exceeded).
Every hook passed a commit that `audit` then failed: the policy's budget lowered under
the records committed, a record over it, a second result carrying the holdout split (a
hunter's find). Each mode (PATHS, none, --staged) now reports the audit's own finding,
word for word, when it is given a record of the study, a result carrying the split or
the policy; with the git processes of a hook that counts no budget."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ExpRepo, experiment_doc, git_env, result_doc, run_cli
from support import CliCall, git_calls, git_counter, pre_commit_install, record_calls
from test_hooks_precommit import commit_through_hooks
from test_validate_processes import _subcommand

from expflow_git.hooks.lookup import Lookup

pytestmark = pytest.mark.usefixtures("isolated_env")

POLICY = "expflow.yaml"
RUNS = "budget: {max_runs_per_study: 1}\n"
HOLDOUT = (
    "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
    "               max_evaluations_per_study: 1}\n"
)
OVER_RUNS = "budget-exceeded: study 's1' has 2 runs, over the budget of 1"
OVER_LOOKS = (
    f"{POLICY}#/walk_forward/max_evaluations_per_study: holdout-budget-exceeded: study 's1' "
    "has 2 result(s) carrying the holdout split 'holdout' in the tree, over the budget of 1 "
    "per study"
)


def _append_policy(repo: ExpRepo, text: str) -> None:
    with (repo.path / POLICY).open("a") as f:
        f.write(text)


def _record(repo: ExpRepo, exp_id: str, study: str = "s1") -> str:
    return repo.add_experiment(exp_id, study=study)


def _result(repo: ExpRepo, exp_id: str, study: str = "s1", *, holdout: bool = True) -> str:
    splits = {"splits": {"holdout": {"seg_total": 50.0}}} if holdout else {}
    return repo.add_result(exp_id, study=study, **splits)


def _audit_findings(repo: ExpRepo) -> list[str]:
    """The findings the audit of HEAD lists (its text output), one line each."""
    res = run_cli(["audit", "--no-cache"], repo.path)
    assert res.code in (0, 1), res
    lines = res.out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("findings ("))
    found = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        found.append(line.strip())
    return found


def _validate(repo: ExpRepo, *args: str) -> tuple[int, list[str]]:
    res = run_cli(["validate", *args], repo.path)
    assert res.code in (0, 1), res
    return res.code, res.out.splitlines()


MODES = [
    ("no paths", []),
    ("--staged", ["--staged"]),
    ("the policy", ["--", POLICY]),
    ("the staged policy", ["--staged", "--", POLICY]),
]


@pytest.mark.parametrize("args", [m[1] for m in MODES], ids=[m[0] for m in MODES])
def test_a_runs_budget_lowered_under_the_committed_records_fails_as_the_audit(
    committed_repo: ExpRepo, args: list[str]
) -> None:
    repo = committed_repo
    e1, e2 = _record(repo, "e1"), _record(repo, "e2")
    repo.commit("two runs")
    _append_policy(repo, RUNS)
    repo.commit("a budget of one run")
    audit = _audit_findings(repo)
    assert audit == [f"{e1}: {OVER_RUNS}"], audit
    assert _validate(repo, *args) == (1, audit)
    for path in (e1, e2):  # a record of the study, checked alone
        assert _validate(repo, "--", path) == (1, audit)
        assert _validate(repo, "--staged", "--", path) == (1, audit)


def test_a_new_record_over_a_committed_runs_budget_is_refused(committed_repo: ExpRepo) -> None:
    repo = committed_repo
    _append_policy(repo, RUNS)
    e1 = _record(repo, "e1")
    other = _record(repo, "o1", study="s2")
    repo.commit("one run per study")
    e2 = _record(repo, "e2")
    repo.stage()
    expected = [f"{e1}: {OVER_RUNS}"]  # at the study's first record, as the audit says
    for args in (["--", e2], ["--staged", "--", e2], [], ["--staged"]):
        assert _validate(repo, *args) == (1, expected), args
    # A record of another study, and a result, do not touch the runs budget.
    assert _validate(repo, "--staged", "--", other)[0] == 0
    res = _result(repo, "e1", holdout=False)
    repo.stage()
    assert _validate(repo, "--staged", "--", res)[0] == 0
    repo.commit("over the budget")
    assert _audit_findings(repo) == expected


@pytest.mark.parametrize(
    "args",
    [[], ["--staged"], ["--"], ["--staged", "--"]],
    ids=["no paths", "--staged", "the result", "the staged result"],
)
def test_a_second_look_at_the_holdout_over_its_budget_fails_as_the_audit(
    committed_repo: ExpRepo, args: list[str]
) -> None:
    repo = committed_repo
    _append_policy(repo, HOLDOUT)
    for exp_id, study in (("e1", "s1"), ("e2", "s1"), ("o1", "s2")):
        _record(repo, exp_id, study)
    _result(repo, "e1")
    repo.commit("one look")
    plain = _result(repo, "o1", study="s2")  # the other study's first look: fine
    repo.stage()
    assert _validate(repo, "--staged", "--", plain)[0] == 0
    second = _result(repo, "e2")
    repo.stage()
    given = [second] if args and args[-1] == "--" else []
    assert _validate(repo, *args, *given) == (1, [OVER_LOOKS])
    repo.commit("a second look")
    assert _audit_findings(repo) == [OVER_LOOKS]


def test_the_holdout_budget_counts_only_results_carrying_the_split(
    committed_repo: ExpRepo,
) -> None:
    repo = committed_repo
    _append_policy(repo, HOLDOUT)
    _record(repo, "e1")
    _record(repo, "e2")
    _result(repo, "e1")
    repo.commit("one look")
    res = _result(repo, "e2", holdout=False)
    repo.stage()
    assert _validate(repo, "--staged", "--", res)[0] == 0
    # The record that moves a run's look into the study is refused as the look is.
    moved = _record(repo, "o1", study="s2")
    _result(repo, "o1", study="s2")
    repo.commit("a look in s2")
    doc = experiment_doc("o1", study="s1")
    repo.write_json(moved, doc)
    repo.stage()
    assert _validate(repo, "--staged", "--", moved) == (1, [OVER_LOOKS])


def test_the_policy_given_re_checks_every_study(committed_repo: ExpRepo) -> None:
    """A record checked alone reports its own study; the policy, every study over."""
    repo = committed_repo
    for exp_id, study in (("a1", "s1"), ("a2", "s1"), ("b1", "s2"), ("b2", "s2")):
        _record(repo, exp_id, study)
    repo.commit("four runs in two studies")
    _append_policy(repo, RUNS)
    repo.stage()
    a = f"{repo.exp_path('a1', 's1')}: {OVER_RUNS}"
    b = f"{repo.exp_path('b1', 's2')}: {OVER_RUNS.replace('s1', 's2')}"
    assert _validate(repo, "--staged", "--", POLICY) == (1, [a, b])
    assert _validate(repo, "--staged", "--", repo.exp_path("b2", "s2")) == (1, [b])
    repo.commit("a budget of one run")
    assert _audit_findings(repo) == [a, b]


def test_a_budget_the_names_cannot_exceed_reads_no_other_document(
    committed_repo: ExpRepo, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer records (results) in the index than the budget: only names are needed, and
    no other record or result is read."""
    repo = committed_repo
    _append_policy(repo, "budget: {max_runs_per_study: 5}\n" + HOLDOUT.replace(": 1}", ": 5}"))
    for n in range(4):
        _record(repo, f"e{n}")
    repo.commit("four runs")
    res = _result(repo, "e0")
    new = _record(repo, "e4")
    repo.stage()
    prefetched = record_calls(monkeypatch, Lookup, "prefetch")
    out = cli(["validate", "--staged", "--", res, new], repo.path)
    assert out.code == 0, out
    assert [sorted(call[1]) for call in prefetched] == [[repo.exp_path("e0", "s1")]]


def test_a_new_run_without_a_result_reads_no_result_for_the_holdout_budget(
    committed_repo: ExpRepo, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record moves no look unless its run has a result: a sweep's launch reads none
    of the results committed, however many more than the budget there are."""
    repo = committed_repo
    _append_policy(repo, HOLDOUT)
    for n in range(3):
        _record(repo, f"e{n}", f"s{n}")
        _result(repo, f"e{n}", f"s{n}")
    repo.commit("three looks in three studies")
    new = _record(repo, "e3", "s0")
    repo.stage()
    prefetched = record_calls(monkeypatch, Lookup, "prefetch")
    out = cli(["validate", "--staged", "--", new], repo.path)
    assert out.code == 0, out
    assert [list(call[1]) for call in prefetched] == [[]]
    # Its run's look, once it has one, is counted in its study.
    _result(repo, "e3", "s0")
    repo.stage()
    out = cli(["validate", "--staged", "--", new], repo.path)
    assert out.code == 1 and "study 's0' has 2 result(s)" in out.out, out


def test_pre_commit_refuses_what_the_audit_fails(committed_repo: ExpRepo, tmp_path: Path) -> None:
    repo = committed_repo
    env = {
        "PATH": f"{Path(sys.executable).parent}:{git_env()['PATH']}",  # expflow-git
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }
    pre_commit_install(repo.path, env)
    e1, _ = _record(repo, "e1"), _record(repo, "e2")
    repo.git("add", "-A")
    code, out = commit_through_hooks(repo, env, "through the hooks")
    assert code == 0, out
    before = repo.head()
    _append_policy(repo, RUNS)
    repo.git("add", "-A")
    code, out = commit_through_hooks(repo, env, "through the hooks")
    assert code == 1, out
    assert f"{e1}: {OVER_RUNS}" in out
    assert repo.head() == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="git_counter reads /proc")
def test_counting_the_budgets_starts_as_many_git_processes_for_500_runs_as_for_one(
    committed_repo: ExpRepo, tmp_path: Path
) -> None:
    """Both budgets counted (more records and results than either allows, each run in
    a study of its own): the index listed once, every blob through one cat-file."""
    repo = committed_repo
    _append_policy(repo, RUNS + HOLDOUT)
    for n in range(501):
        repo.write_json(repo.exp_path(f"r{n}", f"s{n}"), experiment_doc(f"r{n}", study=f"s{n}"))
    repo.write_json(
        repo.res_path("r0", "s0"), result_doc("r0", splits={"holdout": {"seg_total": 1}})
    )
    repo.commit("launch")
    env, log = git_counter(tmp_path)

    def calls(first: int, count: int) -> list[str]:
        paths = []
        for n in range(first, first + count):
            paths.append(_record(repo, f"n{n}", f"t{n}"))
            paths.append(_result(repo, f"n{n}", f"t{n}"))
        repo.stage()
        # A committed record and result not on disk as staged: read from git.
        (repo.path / repo.exp_path("r1", "s1")).unlink()
        (repo.path / repo.res_path("r0", "s0")).unlink()
        log.unlink(missing_ok=True)
        # Counted cold: the budget facts the first call learnt would spare the second its
        # cat-file (test_validate_budget_facts.py counts the warm call's reads).
        for facts in (repo.path / ".git" / "expflow").glob("budget-facts-*.json"):
            facts.unlink()
        res = run_cli(["validate", "--staged", "--", *paths], repo.path, env=env)
        assert res.code == 0, res
        found = sorted(_subcommand(c.args) for c in git_calls(log))
        repo.git("checkout", "--", ".")
        repo.commit(f"{count} run(s)")
        return found

    one = calls(0, 1)
    many = calls(1, 500)
    assert one == many, (one, many)
    # Find the repository, the staged policy, the index, and one stream of every blob.
    assert many == ["cat-file", "ls-files", "ls-files", "rev-parse"], many
