"""The validate hook's budgets remember what they count of each index blob (issue 18).

With a run or holdout budget set, every `validate` given a record or a result counted
every document of the index, and read, hashed, parsed and schema-checked every one of
them again on each call: one new run committed in a 20,000-run repository cost
1.3-1.5 s (pre-commit's batches of a sweep each repeated it). What a budget needs of a
document it only counts (a record's id and study when it is valid; a result's
experiment when it is valid and carries the holdout split) is now kept per index blob
in `.git/expflow/budget-facts-*.json`: a document whose index blob has its facts there
is not read. The verdicts are the same with and without the file (cold and warm, after
a committed record's study or a result's split is edited, after a policy change), and
a file this user may not have written is ignored with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import CliCall, CliResult, ExpRepo, experiment_doc, result_doc
from support import record_calls

import expflow_git.hooks.lookup as lookup_module
import expflow_git.hooks.validate as validate_module

POLICY = "expflow.yaml"
BUDGETS = (
    "budget: {max_runs_per_study: 2}\n"
    "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
    "               max_evaluations_per_study: 2, max_evaluations: 5}\n"
)
HOLDOUT = {"holdout": {"seg_total": 50.0}}


def _facts_files(repo: ExpRepo) -> list[Path]:
    return sorted((repo.path / ".git" / "expflow").glob("budget-facts-*.json"))


def _sealed(stored: dict[str, Any]) -> bytes:
    """A facts file's JSON edited, written back as the tool writes it: with the digest of
    its facts (a file whose facts do not match it is a miss as a whole, fortieth pass),
    so that what is checked is the edit itself."""
    body = json.dumps(stored["facts"], separators=(",", ":")).encode()
    head = {k: v for k, v in stored.items() if k not in ("body", "facts")}
    head["body"] = hashlib.sha256(body).hexdigest()
    return json.dumps(head, separators=(",", ":")).encode()[:-1] + b',"facts":' + body + b"}"


def _run(
    repo: ExpRepo,
    exp_id: str,
    study: str,
    *,
    holdout: bool = False,
    result: bool = True,
    **extra: Any,
) -> list[str]:
    """Write a run's record (and result); its paths."""
    paths = [repo.add_experiment(exp_id, study=study)]
    if result:
        doc = result_doc(exp_id, **({"splits": HOLDOUT} if holdout else {}), **extra)
        rel = repo.res_path(exp_id, study)
        repo.write_json(rel, doc)
        paths.append(rel)
    return paths


def _committed(repo: ExpRepo) -> None:
    """Five runs in two studies (one record's id is not its file name; one result has an
    unregistered metric in its holdout split: neither is valid, neither counts), the
    budgets set, all committed."""
    with (repo.path / POLICY).open("a") as f:
        f.write(BUDGETS)
    _run(repo, "r1", "s1", holdout=True)
    _run(repo, "r2", "s1", result=False)
    repo.write_json(
        repo.res_path("r2", "s1"),
        result_doc("r2", splits={"holdout": {"mystery": 1.0}}),
    )
    _run(repo, "r3", "s2")
    repo.write_json(repo.exp_path("bad", "s2"), experiment_doc("not-bad", study="s2"))
    _run(repo, "r4", "s3")
    repo.commit("runs")


def _validate(cli: CliCall, repo: ExpRepo, paths: list[str]) -> CliResult:
    res = cli(["validate", "--staged", "--", *paths], repo.path)
    assert res.code in (0, 1), res
    return res


def _judged_warm_and_cold(cli: CliCall, repo: ExpRepo, paths: list[str]) -> CliResult:
    """The staged `paths` validated with the facts file as it is, then without it: the
    same exit code and output (the cold run leaves the facts of this index behind)."""
    warm = _validate(cli, repo, paths)
    for file in _facts_files(repo):
        file.unlink()
    cold = _validate(cli, repo, paths)
    assert warm == cold
    assert _facts_files(repo), "the cold run remembers what it read"
    return cold


def test_warm_and_cold_verdicts_agree_after_edits(committed_repo: ExpRepo, cli: CliCall) -> None:
    repo = committed_repo
    _committed(repo)
    first = _run(repo, "n1", "s2")
    repo.stage(*first)
    res = _judged_warm_and_cold(cli, repo, first)
    assert res.code == 0, res
    assert _judged_warm_and_cold(cli, repo, first) == res  # warm from the cold run's facts
    repo.commit("n1")

    # A committed record moves to s1 (3 runs there, over 2): its remembered study is
    # its old blob's, not the new one's.
    repo.write_json(repo.exp_path("r3", "s2"), experiment_doc("r3", study="s1"))
    repo.commit("r3 moved")
    second = _run(repo, "n2", "s1", result=False)
    repo.stage(*second)
    res = _judged_warm_and_cold(cli, repo, second)
    assert res.code == 1
    assert "budget-exceeded: study 's1' has 4 runs, over the budget of 2" in res.out

    # A committed result gains the holdout split: s1 then has 3 looks with n2's (over 2).
    repo.write_json(repo.res_path("r3", "s2"), result_doc("r3", splits=HOLDOUT))
    repo.commit("r3 looked")
    looked = _run(repo, "n2", "s1", holdout=True)
    repo.stage(*looked)
    res = _judged_warm_and_cold(cli, repo, looked)
    assert "study 's1' has 3 result(s) carrying the holdout split" in res.out, res

    # The policy registers r2's metric: its result becomes valid, a fourth look in s1.
    policy = (repo.path / POLICY).read_text()
    mystery = "  mystery: {group: Score, higher_is_better: true, type: scalar}\n"
    repo.write(POLICY, policy.replace("metrics:\n", "metrics:\n" + mystery, 1))
    repo.commit("policy")
    res = _judged_warm_and_cold(cli, repo, looked)
    assert "study 's1' has 4 result(s) carrying the holdout split" in res.out, res


class _Reads:
    """The documents a validate call reads and judges (the CLI in this process)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._on_disk = record_calls(monkeypatch, lookup_module, "same_on_disk")
        self._from_git = record_calls(monkeypatch, lookup_module, "read_blobs")
        self._judged = record_calls(monkeypatch, validate_module, "check_document")

    def clear(self) -> None:
        for calls in (self._on_disk, self._from_git, self._judged):
            calls.clear()

    @property
    def read(self) -> set[str]:
        """The documents read from disk as their index blobs; (blobs read from git fail
        the test: none is expected, every file is on disk as staged)."""
        assert not self._from_git
        return {path for _, path, _ in self._on_disk if path.endswith(".json")}

    @property
    def judged(self) -> list[str]:
        return [path for _, path, *_ in self._judged]


def test_a_new_run_reads_only_its_own_documents(
    committed_repo: ExpRepo, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = committed_repo
    _committed(repo)
    reads = _Reads(monkeypatch)
    first = _run(repo, "n1", "s2")
    repo.stage(*first)
    assert _validate(cli, repo, first).code == 0
    assert len(reads.read) == 11  # cold: every record and result
    repo.commit("n1")

    second = _run(repo, "n2", "s4")
    repo.stage(*second)
    reads.clear()
    res = _validate(cli, repo, second)
    assert res.code == 0, res
    assert reads.read == set(second)  # n1's facts were learnt when it was checked
    assert sorted(reads.judged) == sorted(second)

    # Run again over the same index: nothing new learnt, the file is not rewritten.
    [facts] = _facts_files(repo)
    before = facts.stat().st_mtime_ns, facts.read_bytes()
    os.utime(facts, ns=(1, 1))
    assert _validate(cli, repo, second) == res
    assert facts.stat().st_mtime_ns == 1
    assert facts.read_bytes() == before[1]


def test_a_malformed_entry_is_read_again(
    committed_repo: ExpRepo, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = committed_repo
    _committed(repo)
    run = _run(repo, "n1", "s1", result=False)
    repo.stage(*run)
    res = _validate(cli, repo, run)
    [facts] = _facts_files(repo)
    stored = json.loads(facts.read_bytes())
    moved = repo.exp_path("r4", "s3")
    sha, code, exp_id, _ = stored["facts"][moved]
    stored["facts"][moved] = [sha, code, exp_id, 7]  # a study that is no string
    stored["facts"][repo.exp_path("r3", "s2")] = {"damaged": True}
    facts.write_bytes(_sealed(stored))
    reads = _Reads(monkeypatch)
    assert _validate(cli, repo, run) == res
    assert reads.read == {moved, repo.exp_path("r3", "s2"), *run}
    assert json.loads(facts.read_bytes())["facts"][moved][3] == "s3"  # learnt again


def test_a_cache_file_others_may_write_is_ignored(
    committed_repo: ExpRepo, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = committed_repo
    _committed(repo)
    run = _run(repo, "n1", "s1", result=False)
    repo.stage(*run)
    res = _validate(cli, repo, run)
    [facts] = _facts_files(repo)
    # Another user's facts: every record of s1 forged into s9 (under budget there).
    stored = json.loads(facts.read_bytes())
    for entry in stored["facts"].values():
        if entry[1] == "e" and len(entry) == 4:
            entry[3] = "s9"
    facts.write_bytes(_sealed(stored))
    facts.chmod(0o664)
    reads = _Reads(monkeypatch)
    ignored = _validate(cli, repo, run)
    assert (ignored.code, ignored.out) == (res.code, res.out)
    assert f"{facts}: cache file ignored: writable by other users" in ignored.err
    records = [p for p in repo.git("ls-files", "experiments").split() if p.endswith(".json")]
    assert reads.read == {*records}  # every record read again (n1's among them)
    assert facts.stat().st_mode & 0o777 == 0o644  # rewritten as this user's


def test_another_builds_facts_renamed_onto_this_builds_name_are_read_again(
    committed_repo: ExpRepo, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build was only in the facts file's name: another build's facts renamed onto
    this build's name were believed (a hunt of the caches, thirtieth pass)."""
    repo = committed_repo
    _committed(repo)
    run = _run(repo, "n1", "s1", result=False)
    repo.stage(*run)
    res = _validate(cli, repo, run)
    [facts] = _facts_files(repo)
    stored = json.loads(facts.read_bytes())
    assert "+" in stored["tool"]  # this build's, inside the file
    stored["tool"] = "0.0.1+0123456789abcdef"
    for entry in stored["facts"].values():  # that build's facts: s1's records in s9
        if entry[1] == "e" and len(entry) == 4:
            entry[3] = "s9"
    facts.write_bytes(_sealed(stored))
    reads = _Reads(monkeypatch)
    again = _validate(cli, repo, run)
    assert (again.code, again.out) == (res.code, res.out)
    records = [p for p in repo.git("ls-files", "experiments").split() if p.endswith(".json")]
    assert reads.read == {*records}  # every record read again


def test_facts_of_another_policy_are_removed_once_unused(
    committed_repo: ExpRepo, cli: CliCall
) -> None:
    repo = committed_repo
    _committed(repo)
    state = repo.path / ".git" / "expflow"
    old, recent = state / "budget-facts-0.0.1-old.json", state / "budget-facts-0.0.2-new.json"
    state.mkdir(exist_ok=True)
    for file in (old, recent):
        file.write_text("{}")
    os.utime(old, (1, 1))
    run = _run(repo, "n1", "s4")
    repo.stage(*run)
    assert _validate(cli, repo, run).code == 0
    assert not old.exists()
    assert recent.exists()


def test_a_facts_file_nested_past_the_recursion_limit_is_a_miss(
    committed_repo: ExpRepo, cli: CliCall
) -> None:
    """A facts file (or a remembered policy) nested 100,000 deep raised RecursionError
    out of `json.loads`: a traceback on every `validate` until the file was deleted (a
    review, issue 18 twenty-eighth pass). It is read as damaged: the documents are read
    again and the file rewritten."""
    repo = committed_repo
    _committed(repo)
    run = _run(repo, "n1", "s1", result=False)
    repo.stage(*run)
    res = _validate(cli, repo, run)
    [facts] = _facts_files(repo)
    policies = sorted((repo.path / ".git" / "expflow").glob("policy-*.json"))
    assert policies
    for file in (facts, *policies):
        file.write_text("[" * 100_000)
    again = _validate(cli, repo, run)
    assert (again.code, again.out) == (res.code, res.out)
    assert "Traceback" not in again.err
    assert json.loads(facts.read_bytes())["facts"]  # rewritten


def test_a_facts_write_killed_half_way_leaves_no_temp_file_for_long(
    committed_repo: ExpRepo, cli: CliCall
) -> None:
    """A facts write killed half-way left `.budget-facts-….json.XXXXXXXX.tmp` (as large as
    the facts: 20 MB at 100k runs) for good (a review). A later write removes one older
    than an hour, as the audit's cache does; a recent one (a write under way) stays."""
    repo = committed_repo
    _committed(repo)
    state = repo.path / ".git" / "expflow"
    state.mkdir(exist_ok=True)
    stale = state / ".budget-facts-0.1.0-x.json.8b1ed2f2.tmp"
    fresh = state / ".budget-facts-0.1.0-x.json.0123abcd.tmp"
    for file in (stale, fresh):
        file.write_text("{")
    os.utime(stale, (1, 1))
    run = _run(repo, "n1", "s4")
    repo.stage(*run)
    assert _validate(cli, repo, run).code == 0
    assert not stale.exists()
    assert fresh.exists()
