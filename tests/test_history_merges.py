"""`audit --since BASE` judges a range with merges the same whichever parent a merge
lists first: a result committed on one branch and dropped by a merge that keeps
another branch's is `result-rewritten`; a frozen record edited on one branch and
merged with the branch that committed the run's result is `record-rewritten`.

Real repositories (`expflow-git init`), the real CLI as a subprocess.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git, git_init, run_cli
from helpers_audit import statement_of
from support import git_calls, git_counter

REC = "experiments/s/e2.json"
RES = "results/s/e2.json"


def ok(repo: Path, *args: str) -> None:
    code, out, err = run_cli(list(args), repo)
    assert code == 0, out + err


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def audit(repo: Path, base: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    """The exit code and the findings (path: rule) of `audit --since BASE --format json`."""
    code, out, err = run_cli(
        ["audit", "--since", base, "--no-cache", "--format", "json"], repo, env=env
    )
    assert code in (0, 1) and "Traceback" not in err, out + err
    entries = statement_of(out)["predicate"]["entries"]
    return code, {e["path"]: e["rule"] for e in entries if "rule" in e}


@pytest.fixture
def repo(tmp_path: Path, isolated_env: Path) -> Path:
    return base_repo(tmp_path)


def base_repo(tmp_path: Path) -> Path:
    """A repository whose BASE commit holds run e1 with its result."""
    path = git_init(tmp_path / "repo")
    ok(path, "init")
    ok(path, "new", "e1", "--study", "s", "--param", "lr=0.1", "--status", "success")
    ok(path, "result", "e1", "--metric", "accuracy=0.5")
    commit(path, "base")
    return path


def two_results(repo: Path) -> str:
    """Run e2 committed, then a result for it on branch b1 (0.3) and another on b2 (0.9)."""
    base = git(repo, "rev-parse", "HEAD")
    ok(repo, "new", "e2", "--study", "s", "--param", "lr=0.2", "--status", "success")
    commit(repo, "rec2")
    git(repo, "checkout", "-q", "-b", "b1")
    ok(repo, "result", "e2", "--metric", "accuracy=0.3")
    commit(repo, "bad")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "b2")
    ok(repo, "result", "e2", "--metric", "accuracy=0.9")
    commit(repo, "good")
    return base


@pytest.mark.parametrize("first", ["b1", "b2"])
def test_a_result_dropped_by_a_merge_is_rewritten_in_either_parent_order(
    repo: Path, first: str
) -> None:
    base = two_results(repo)
    other = "b2" if first == "b1" else "b1"
    git(repo, "checkout", "-q", first)
    git(repo, "merge", "-q", "-s", "ours", other, "-m", "m")
    code, findings = audit(repo, base)
    assert code == 1 and findings == {RES: "result-rewritten"}, findings


@pytest.mark.parametrize("first", ["b1", "b2"])
def test_a_conflict_resolved_to_one_side_is_rewritten_in_either_parent_order(
    repo: Path, first: str
) -> None:
    base = two_results(repo)
    other = "b2" if first == "b1" else "b1"
    git(repo, "checkout", "-q", first)
    git(repo, "merge", "-q", other, "-m", "m", check=False)  # add/add conflict
    git(repo, "checkout", "b2", "--", RES)  # resolved to 0.9
    commit(repo, "merged")
    code, findings = audit(repo, base)
    assert code == 1 and findings == {RES: "result-rewritten"}, findings


def test_a_result_committed_and_dropped_by_a_merge_is_a_deletion(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    ok(repo, "new", "e2", "--study", "s", "--param", "lr=0.2", "--status", "success")
    commit(repo, "rec2")
    git(repo, "checkout", "-q", "-b", "b1")
    ok(repo, "result", "e2", "--metric", "accuracy=0.3")
    commit(repo, "result")
    git(repo, "checkout", "-q", "main")
    (repo / "notes.txt").write_text("n\n")
    commit(repo, "notes")
    git(repo, "merge", "-q", "-s", "ours", "b1", "-m", "m")
    code, findings = audit(repo, base)
    assert code == 1 and findings == {RES: "result-rewritten"}, findings


@pytest.mark.parametrize("into", ["edit", "res"])
def test_a_frozen_record_edited_beside_a_merged_result_is_rewritten_in_either_order(
    repo: Path, into: str
) -> None:
    ok(repo, "new", "e2", "--study", "s", "--param", "lr=0.2", "--status", "success")
    base = commit(repo, "rec2")
    git(repo, "checkout", "-q", "-b", "res")
    ok(repo, "result", "e2", "--metric", "accuracy=0.3")
    commit(repo, "result")
    git(repo, "checkout", "-q", "-b", "edit", base)
    record = repo / REC
    record.write_text(record.read_text().replace('"lr": 0.2', '"lr": 0.7'))
    commit(repo, "edit")
    git(repo, "checkout", "-q", into)
    git(repo, "merge", "-q", "res" if into == "edit" else "edit", "-m", "merge")
    assert '"lr": 0.7' in record.read_text()
    code, findings = audit(repo, base)
    assert code == 1 and findings == {REC: "record-rewritten"}, findings


def test_a_moved_record_is_found_by_id_where_the_result_was_committed(repo: Path) -> None:
    ok(repo, "new", "e2", "--study", "s", "--param", "lr=0.2", "--status", "success")
    base = commit(repo, "rec2")
    git(repo, "checkout", "-q", "-b", "res")
    ok(repo, "result", "e2", "--metric", "accuracy=0.3")
    commit(repo, "result")
    git(repo, "checkout", "-q", "-b", "edit", base)
    (repo / "experiments/t").mkdir()
    moved = repo / "experiments/t/e2.json"
    git(repo, "mv", REC, "experiments/t/e2.json")
    moved.write_text((repo / "experiments/t/e2.json").read_text().replace("0.2", "0.7"))
    commit(repo, "move and edit")
    git(repo, "merge", "-q", "res", "-m", "merge")
    code, findings = audit(repo, base)
    assert code == 1 and findings.get("experiments/t/e2.json") == "record-rewritten", findings


@pytest.mark.parametrize("revert", [False, True])
def test_a_record_from_a_fork_before_base_is_frozen_where_its_result_was_committed(
    repo: Path, revert: bool
) -> None:
    """A branch forked before BASE commits a run's result beside its record (lr=0.2);
    BASE had deleted that record (a run without a result: no correction). The pull
    request adds the run's record elsewhere with other params and merges the branch: the
    record beside the result sat at a path neither BASE nor any commit of the range
    touched, so it was never looked at, and the audit passed (an attacker's hunt). With
    a file committed and reverted on the branch first, a commit of the range had the
    fork's tree, and forks told by their trees were missed (a review)."""

    def junk() -> None:
        (repo / "junk.txt").write_text("junk\n")
        commit(repo, "junk")
        (repo / "junk.txt").unlink()
        commit(repo, "no junk")

    assert_fork_before_base_frozen(repo, [junk] if revert else [])


def assert_fork_before_base_frozen(repo: Path, on_fork: list[Callable[[], None]]) -> None:
    """BASE drops run e2 planned at a fork; the fork (after `on_fork`) gives it its result
    beside the planned record; the pull request adds e2 elsewhere with other params and
    merges the fork: `record-rewritten` at the new path."""
    ok(repo, "new", "e2", "--study", "s", "--param", "lr=0.2")
    fork = commit(repo, "e2 planned")
    old = (repo / REC).read_text()
    ok(repo, "rm", "e2", "--force")
    base = commit(repo, "e2 dropped")
    git(repo, "checkout", "-q", "-b", "side", fork)
    for step in on_fork:
        step()
    ok(repo, "result", "e2", "--metric", "accuracy=0.9")
    (repo / REC).write_text(old)  # the record as it was planned, beside the result
    commit(repo, "e2's result")
    git(repo, "checkout", "-q", "-b", "pr", base)
    (repo / "experiments/t").mkdir(parents=True)
    moved = old.replace('"lr": 0.2', '"lr": 0.7').replace('"pending"', '"success"')
    (repo / "experiments/t/e2.json").write_text(moved)
    commit(repo, "e2 again, other params")
    git(repo, "merge", "-q", "side", "-m", "merge")
    assert not (repo / REC).exists() and (repo / RES).exists()
    code, findings = audit(repo, base)
    assert code == 1 and findings == {"experiments/t/e2.json": "record-rewritten"}, findings


def test_an_honest_merge_of_two_new_runs_passes(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    for branch, (exp_id, lr) in {"a": ("e2", "0.2"), "b": ("e3", "0.3")}.items():
        git(repo, "checkout", "-q", "-b", branch, base)
        ok(repo, "new", exp_id, "--study", "s", "--param", f"lr={lr}", "--status", "success")
        ok(repo, "result", exp_id, "--metric", "accuracy=0.4")
        commit(repo, exp_id)
    git(repo, "merge", "-q", "a", "-m", "merge")
    code, findings = audit(repo, base)
    assert (code, findings) == (0, {})


@pytest.mark.parametrize("first", ["fix", "other"])
def test_a_declared_correction_merged_in_passes(repo: Path, first: str) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "fix")
    fix = ["--metric", "accuracy=0.6", "--overwrite", "--reason", "re-ran", "--force"]
    ok(repo, "result", "e1", *fix)
    assert list((repo / "corrections").rglob("*.json"))
    commit(repo, "corrected")
    git(repo, "checkout", "-q", "-b", "other", base)
    ok(repo, "new", "e2", "--study", "s", "--param", "lr=0.2", "--status", "success")
    ok(repo, "result", "e2", "--metric", "accuracy=0.4")
    commit(repo, "e2")
    git(repo, "checkout", "-q", first)
    git(repo, "merge", "-q", "other" if first == "fix" else "fix", "-m", "merge")
    code, findings = audit(repo, base)
    assert (code, findings) == (0, {})


def test_merges_cost_no_extra_git_processes(repo: Path, tmp_path: Path) -> None:
    env, log = git_counter(tmp_path)
    base = git(repo, "rev-parse", "HEAD")
    for n in range(4):
        git(repo, "checkout", "-q", "-b", f"b{n}", "main")
        exp_id = f"r{n}"
        ok(repo, "new", exp_id, "--study", "s", "--param", f"lr=0.{n}", "--status", "success")
        ok(repo, "result", exp_id, "--metric", "accuracy=0.4")
        commit(repo, exp_id)
        git(repo, "checkout", "-q", "main")
        git(repo, "merge", "-q", "--no-ff", f"b{n}", "-m", f"merge {n}")

    def calls(since: str) -> list[str]:
        log.unlink(missing_ok=True)
        code, findings = audit(repo, since, env)
        assert (code, findings) == (0, {})
        return sorted(call.args for call in git_calls(log))

    one = calls("HEAD~1")  # the last merge only
    many = calls(base)  # four merges
    assert len(one) == len(many), (one, many)
    # The audit's stream and the history's, and the history's `<commit>:<path>` reads'
    # (git's default delta-base cache: issue 18, forty-second pass).
    assert sum(c.endswith("cat-file --batch") for c in many) == 3, many


def test_a_record_under_a_non_ascii_folder_is_read_where_the_result_was_committed(
    repo: Path,
) -> None:
    ok(repo, "new", "e2", "--study", "s", "--param", "lr=0.2", "--status", "success")
    (repo / "experiments/straße").mkdir()
    where = "experiments/straße/e2.json"
    (repo / REC).rename(repo / where)
    base = commit(repo, "rec2")
    git(repo, "checkout", "-q", "-b", "res")
    ok(repo, "result", "e2", "--metric", "accuracy=0.3")
    commit(repo, "result")
    git(repo, "checkout", "-q", "-b", "edit", base)
    record = repo / where
    record.write_text(record.read_text().replace('"lr": 0.2', '"lr": 0.7'))
    commit(repo, "edit")
    git(repo, "merge", "-q", "res", "-m", "merge")
    code, findings = audit(repo, base)
    assert code == 1 and findings.get(where) == "record-rewritten", findings


def test_a_second_record_under_a_glob_the_pull_request_adds_is_no_decoy(
    tmp_path: Path, isolated_env: Path
) -> None:
    """BASE's record bytes copied under a glob the pull request's own policy adds
    (`a/*.json`, sorting before `experiments/`): the net check compared BASE's record
    with that copy, the first in path order, and a merge from before BASE brought the
    run's frozen params back to what they were before its result (an attacker's hunt).
    The record the judging policy reads is compared now; and a glob added to `paths` is
    a `changed` policy line, not `stricter`."""
    repo = git_init(tmp_path / "repo")
    ok(repo, "init")
    ok(repo, "new", "r1", "--study", "s", "--param", "lr=0.1", "--status", "success")
    c0 = commit(repo, "the record first")
    record = repo / "experiments/s/r1.json"
    record.write_text(record.read_text().replace('"lr": 0.1', '"lr": 0.3'))  # no result yet
    ok(repo, "result", "r1", "--metric", "accuracy=0.5")
    base = commit(repo, "r1 frozen at lr 0.3")
    git(repo, "checkout", "-q", "-b", "pr", c0)
    (repo / "a").mkdir()
    (repo / "a/r1.json").write_text(git(repo, "show", f"{base}:experiments/s/r1.json") + "\n")
    policy = repo / "expflow.yaml"
    globs = 'experiments: ["experiments/**/*.json"]'
    assert globs in policy.read_text()
    policy.write_text(
        policy.read_text().replace(globs, 'experiments: ["experiments/**/*.json", "a/*.json"]')
    )
    commit(repo, "a decoy")
    git(repo, "merge", "-q", "--no-ff", "--no-commit", base, check=False)
    git(repo, "checkout", c0, "--", "experiments/s/r1.json")  # lr back to 0.1
    commit(repo, "merge")
    assert '"lr": 0.1' in record.read_text()
    code, out, err = run_cli(
        ["audit", "--since", base, "--policy-ref", base, "--no-cache", "--format", "json"], repo
    )
    assert code == 1, out + err
    entries = statement_of(out)["predicate"]["entries"]
    assert {e["path"]: e["rule"] for e in entries if "rule" in e} == {
        "experiments/s/r1.json": "record-rewritten"
    }
    proposed = statement_of(out)["predicate"]["policy"]["proposed"]["changes"]
    assert [(c["effect"], c["where"]) for c in proposed] == [("changed", "/paths/experiments")]


def test_the_executable_bit_alone_is_no_rewrite(repo: Path) -> None:
    """`chmod +x` on a committed result was `result-rewritten` (blob X → X), and no
    correction can declare a change of no bytes (an attacker's hunt: a false refusal).
    The same bytes are the same result; a change of bytes with it still is a rewrite."""
    base = git(repo, "rev-parse", "HEAD")
    result = repo / "results/s/e1.json"
    result.chmod(0o755)
    commit(repo, "chmod +x")
    assert audit(repo, base) == (0, {})
    result.write_text(result.read_text().replace("0.5", "0.9"))
    commit(repo, "and a better number")
    assert audit(repo, base) == (1, {"results/s/e1.json": "result-rewritten"})
