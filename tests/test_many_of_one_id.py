"""Many documents of one id, as a pull request's author may commit them (issue 18's
hunt for quadratic paths): every finding names the first few others and a count, each
document gets one finding, and the hook judges each record once.

k results of one run each named all k-1 others (4,000 of them: a 515 MB report); k
records of one id gave k(k-1) `duplicate-id` lines from the hook (the audit gives k-1);
a failed record gave one `not-success` line per result; k results of one id each read
and judged the same k records again. Real repositories, the real CLI as a subprocess,
`validate` in-process where the work is counted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers_audit import (
    POLICY,
    STUDY,
    add_run,
    commit_all,
    experiment,
    findings_of,
    m,
    new_repo,
    result,
    run_cli,
    statement_of,
    write_json,
)
from support import record_calls

from expflow_git import checks
from expflow_git.hooks import validate as hook
from expflow_git.schemas import Kind
from expflow_git.workspace import Workspace

K = 9  # documents of one id: each finding names 3 of the 8 others, and "5 more"


def _lines(out: str, rule: str) -> list[str]:
    return [line for line in out.splitlines() if f": {rule}: " in line]


def test_some_of_names_the_first_few_and_counts_the_rest() -> None:
    assert checks.some_of(["a", "b"], 2) == "a, b"
    assert checks.some_of(iter("abc"), 3) == "a, b, c"
    assert checks.some_of(iter("abcdefg"), 7) == "a, b, c and 4 more"
    assert checks.some_of((str(i) for i in range(5000)), 5000) == "0, 1, 2 and 4,997 more"


def test_two_results_at_one_path_name_each_other() -> None:
    """A malformed tree listing one name twice holds two results at one path: each
    finding named the other as "" (every copy of its own path was left out; a hunt)."""
    from expflow_git.documents import Result

    twice = [Result("results/s/e05.json", "e05", {"m": float(i)}, {}) for i in (1, 2)]
    found = checks.duplicate_result_findings([*twice, Result("results/t/e05.json", "e05", {}, {})])
    assert [f.message.split(";")[0] for f in found] == [
        "experiment 'e05' also has the result results/s/e05.json, results/t/e05.json",
    ] * 2 + ["experiment 'e05' also has the result results/s/e05.json, results/s/e05.json"]


def test_results_of_one_run_each_name_three_others_in_the_audit_and_the_hook(
    tmp_path: Path,
) -> None:
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "exp-001", m(50))
    twins = [f"results/t{i}/exp-001.json" for i in range(K - 1)]
    for rel in twins:
        write_json(repo, rel, result("exp-001", m(60)))
    commit_all(repo)
    every = sorted([f"results/{STUDY}/exp-001.json", *twins])

    res = run_cli(["audit", "--no-cache", "--format", "json"], repo)
    assert res.code == 1, res
    found = [f for f in findings_of(statement_of(res.out)) if f["rule"] == "duplicate-result"]
    assert sorted(f["path"] for f in found) == every
    for f in found:
        others = [p for p in every if p != f["path"]]
        assert f["message"] == (
            f"experiment 'exp-001' also has the result {', '.join(others[:3])} and 5 more; "
            "one result per experiment, and neither is ranked"
        )

    checked = run_cli(["validate"], repo)
    assert checked.code == 1, checked
    lines = _lines(checked.out, "duplicate-result")
    assert len(lines) == K
    for rel, line in zip(every, sorted(lines), strict=True):
        others = [p for p in every if p != rel]
        assert line.startswith(f"{rel}#/experiment: duplicate-result: ")
        assert f"also has the result {', '.join(others[:3])} and 5 more;" in line


def test_records_of_one_id_give_one_finding_each_from_the_hook(tmp_path: Path) -> None:
    """k records of one id: k `duplicate-id` lines from the hook (k(k-1) before), each
    naming three of the others; the audit's k-1 name the first record."""
    repo = new_repo(tmp_path / "repo")
    records = sorted(f"experiments/s{i}/exp-001.json" for i in range(K))
    for rel in records:
        write_json(repo, rel, experiment("exp-001"))
    commit_all(repo)

    checked = run_cli(["validate"], repo)
    assert checked.code == 1, checked
    lines = sorted(_lines(checked.out, "duplicate-id"))
    assert len(lines) == K
    for rel, line in zip(records, lines, strict=True):
        others = [p for p in records if p != rel]
        assert line == (
            f"{rel}#/id: duplicate-id: id 'exp-001' is also used by "
            f"{', '.join(others[:3])} and 5 more"
        )

    res = run_cli(["audit", "--no-cache", "--format", "json"], repo)
    found = [f for f in findings_of(statement_of(res.out)) if f["rule"] == "duplicate-id"]
    assert sorted(f["path"] for f in found) == records[1:]


def test_a_failed_record_with_many_results_is_one_finding(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "exp-001", m(50), status="failed")
    results = sorted(
        [f"results/{STUDY}/exp-001.json", *(f"results/t{i}/exp-001.json" for i in range(4))]
    )
    for rel in results[1:]:
        write_json(repo, rel, result("exp-001", m(60)))
    commit_all(repo)
    checked = run_cli(["validate", f"experiments/{STUDY}/exp-001.json"], repo)
    assert checked.code == 1, checked
    (line,) = _lines(checked.out, "result-for-unsuccessful-run")
    assert line == (
        f"experiments/{STUDY}/exp-001.json#/status: result-for-unsuccessful-run: "
        f"status 'failed', but results {', '.join(results[:3])} and 2 more exist; "
        "a run with a result must stay 'success'"
    )
    one = run_cli(["validate", "--staged"], new_failed_run(tmp_path / "one"))
    assert re.search(r"but result \S+ exists; a run with a result", one.out), one


def new_failed_run(path: Path) -> Path:
    repo = new_repo(path)
    add_run(repo, "exp-001", m(50), status="failed")
    commit_all(repo)
    return repo


def test_results_of_one_id_judge_its_records_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """k results of one run given to the hook, its k records committed and each invalid:
    every result read and judged every record again (k² checks); now each record is
    judged once."""
    repo = new_repo(tmp_path / "repo")
    k = 20
    for i in range(k):
        write_json(repo, f"experiments/s{i:02d}/x.json", {"id": "x", "broken": True})
    given = [f"results/s{i:02d}/x.json" for i in range(k)]
    for rel in given:
        write_json(repo, rel, result("x", m(50)))
    commit_all(repo)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("EXPFLOW_JOBS", "1")
    checks = record_calls(monkeypatch, hook, "check_document")
    outcome = hook.validate(Workspace.find(None), given)
    assert outcome.checked == k
    assert {f.rule for f in outcome.findings} == {"duplicate-result", "result-without-record"}
    judged = [path for kind, path, *_ in checks if kind is Kind.EXPERIMENT]
    assert sorted(judged) == sorted(f"experiments/s{i:02d}/x.json" for i in range(k))


def test_a_document_alone_of_its_name_is_classified_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The common case stays cheap: a record that is the only file of its name is
    matched against the globs once (to know it is a record), not again when it asks
    for others of its id."""
    from expflow_git.policy.model import Policy

    repo = new_repo(tmp_path / "repo")
    k = 50
    given = [f"experiments/{STUDY}/r{i:03d}.json" for i in range(k)]
    for i in range(k):
        write_json(repo, given[i], experiment(f"r{i:03d}"))
    commit_all(repo)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("EXPFLOW_JOBS", "1")
    classified = record_calls(monkeypatch, Policy, "kind_of")
    outcome = hook.validate(Workspace.find(None), given)
    assert outcome.checked == k and not outcome.findings
    assert sorted(path for _, path in classified if path in given) == given


def test_a_leaky_file_at_many_paths_lists_twenty_findings_at_each(tmp_path: Path) -> None:
    """Git keeps one blob for any number of paths: k leaks in one file at m paths were
    k × m findings from a repository of k + m lines (k = m = 1,000: a 400 MB report).
    The report lists a file's first 20 content findings and how many more, at each path,
    in the audit and in `audit --since`; `scan` reads files from disk and lists all."""
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "exp-001", m(50))
    base = commit_all(repo)
    leaks = "".join(f"pin: {1000 + i}\n" for i in range(30))
    paths = [f"notes/n{i}.txt" for i in range(4)]
    for rel in paths:
        (repo / rel).parent.mkdir(exist_ok=True)
        (repo / rel).write_text(leaks)
    commit_all(repo)
    for args in ([], ["--since", base]):
        res = run_cli(["audit", "--no-cache", "--format", "json", *args], repo)
        assert res.code == 1, res
        found = [f for f in findings_of(statement_of(res.out)) if f["path"] in paths]
        for rel in paths:
            mine = [f for f in found if f["path"] == rel]
            assert len(mine) == 21 and all(f["rule"] == "pin-value" for f in mine), args
            assert [f["line"] for f in mine] == list(range(1, 22))
            assert mine[-1]["message"].startswith("10 more finding(s) in this file, not listed")
    scanned = run_cli(["scan", *paths], repo)
    assert len(scanned.out.splitlines()) == 30 * len(paths)


def test_deleting_one_of_two_records_of_an_id_strands_no_result(tmp_path: Path) -> None:
    """Two records of one id (two branches merged), one deleted with its result: the
    protect hook called the other run's result one without a record, though a record of
    its id stays (a review, issue 18 twenty-seventh pass). Record commands refuse the id,
    naming its records."""
    import subprocess

    repo = new_repo(tmp_path / "repo")
    for study in ("a", "b"):
        add_run(repo, "d1", m(50), study=study)
    commit_all(repo, "two branches merged")
    res = run_cli(["rm", "d1", "--reason", "dup", "--force"], repo)
    assert res.code == 1, res
    assert "has several records (experiments/a/d1.json, experiments/b/d1.json)" in res.err
    assert (repo / "experiments/b/d1.json").is_file()
    subprocess.run(["git", "rm", "-q", "experiments/b/d1.json", "results/b/d1.json"], cwd=repo)
    res = run_cli(["protect", "--force"], repo)
    assert "results/a/d1.json" not in res.out + res.err, res
    assert "result-without-record" not in res.out + res.err, res


def test_a_result_inside_the_record_globs_is_no_record_of_its_run(tmp_path: Path) -> None:
    """With `paths.results` inside `paths.experiments` (exp/**/results/), a run's only
    record deleted alone passed the protect hook: the result, which the record globs
    also match, was taken for a record of its id left in the index (a review of the
    fix above)."""
    import subprocess

    policy = POLICY.replace('["experiments/**/*.json"]', '["exp/**/*.json"]').replace(
        '["results/**/*.json"]', '["exp/**/results/*.json"]'
    )
    repo = new_repo(tmp_path / "repo", policy)
    write_json(repo, "exp/s/e1.json", experiment("e1", study="s"))
    write_json(repo, "exp/s/results/e1.json", result("e1", m(50)))
    commit_all(repo, "one run")
    assert run_cli(["validate"], repo).code == 0
    subprocess.run(["git", "rm", "-q", "exp/s/e1.json"], cwd=repo, check=True)
    res = run_cli(["protect", "--force"], repo)
    assert res.code == 1, res
    assert "exp/s/results/e1.json: result-without-record" in res.out + res.err, res
    # The result moved in the same commit was taken for the record moved (a review).
    (repo / "exp/t/results").mkdir(parents=True)
    subprocess.run(
        ["git", "mv", "exp/s/results/e1.json", "exp/t/results/e1.json"], cwd=repo, check=True
    )
    res = run_cli(["protect", "--force"], repo)
    assert res.code == 1, res
    assert "exp/t/results/e1.json: result-without-record" in res.out + res.err, res


def test_a_deleted_result_is_told_to_put_the_run_back_before_rm(tmp_path: Path) -> None:
    """A run's files deleted by hand (or by `git revert --no-commit`): the protect hook
    advised `expflow-git rm ID --reason TEXT`, which then failed with "no experiment
    record" (rm reads the run from the work tree; a review). It says to put the files
    back first, and that advice works."""
    import subprocess

    repo = new_repo(tmp_path / "repo")
    add_run(repo, "e5", m(50))
    commit_all(repo, "e5")
    paths = [f"experiments/{STUDY}/e5.json", f"results/{STUDY}/e5.json"]
    subprocess.run(["git", "rm", "-q", *paths], cwd=repo, check=True)
    res = run_cli(["protect"], repo)
    assert res.code == 1, res
    assert (
        "after putting the run's files back (this one and its record: `git restore --staged "
        "--worktree -- PATHS`)"
    ) in res.out + res.err, res
    subprocess.run(["git", "restore", "--staged", "--worktree", "--", *paths], cwd=repo, check=True)
    assert run_cli(["rm", "e5", "--reason", "bad run", "--force"], repo).code == 0
