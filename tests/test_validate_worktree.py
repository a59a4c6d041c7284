"""`validate` without paths checks the working tree, tracked or not (issue 16, item 5;
docs/spec.md §7): before `git add`, an invalid new result is reported and a new record backs
its new result. With paths (the pre-commit hook) and with --staged (the plain git hook) the
index decides what backs a result, as strictly as before."""

from __future__ import annotations

import pytest
from conftest import ExpRepo, run_cli

EXP = "experiments/pdebench-task1/exp-001.json"
RES = "results/pdebench-task1/exp-001.json"


@pytest.fixture
def fresh_run(committed_repo: ExpRepo) -> ExpRepo:
    """A record and its result written, nothing of them added to git yet."""
    committed_repo.add_experiment()
    committed_repo.add_result()
    assert committed_repo.status().splitlines() == [f"?? {EXP}", f"?? {RES}"]
    return committed_repo


def test_an_untracked_record_backs_its_untracked_result(fresh_run: ExpRepo) -> None:
    code, out, err = run_cli(["validate"], fresh_run.path)
    assert (code, out) == (0, ""), out + err
    assert "2 document(s) OK" in err


def test_an_invalid_untracked_result_is_reported(fresh_run: ExpRepo) -> None:
    fresh_run.add_result("exp-002", metrics={"seg_totl": 1.0})
    code, out, _ = run_cli(["validate"], fresh_run.path)
    assert code == 1
    res2 = "results/pdebench-task1/exp-002.json"
    assert f"{res2}#/metrics/seg_totl: unknown-metric" in out
    assert RES not in out


def test_the_hook_forms_still_look_records_up_in_the_index(fresh_run: ExpRepo) -> None:
    fresh_run.stage(RES)  # the record stays untracked: it would not be committed
    for args in (["validate", "--staged"], ["validate", "--staged", RES], ["validate", RES]):
        code, out, _ = run_cli(args, fresh_run.path)
        assert code == 1, args
        assert f"{RES}#/experiment: result-without-record" in out, (args, out)
    code, out, err = run_cli(["validate"], fresh_run.path)
    assert code == 0, out + err


def test_ignored_files_are_not_documents_of_the_working_tree(fresh_run: ExpRepo) -> None:
    fresh_run.write(".gitignore", "results/scratch/\n")
    fresh_run.write("results/scratch/exp-009.json", "{not json")
    code, out, err = run_cli(["validate"], fresh_run.path)
    assert (code, out) == (0, ""), out + err


def test_a_record_deleted_from_disk_no_longer_backs_its_result(fresh_run: ExpRepo) -> None:
    fresh_run.commit("a run")
    (fresh_run.path / EXP).unlink()  # tracked, gone from the working tree
    code, out, err = run_cli(["validate"], fresh_run.path)
    assert code == 1
    assert f"{RES}#/experiment: result-without-record" in out
    assert "1 problem(s) in 1 file(s)" in err
    code, out, err = run_cli(["validate", "--staged"], fresh_run.path)
    assert code == 0, out + err  # the index still holds it


def test_help_says_what_is_checked(fresh_run: ExpRepo) -> None:
    code, out, _ = run_cli(["validate", "--help"], fresh_run.path)
    assert code == 0
    text = " ".join(out.split())
    for phrase in (
        "No PATHS: every document in the working tree, tracked or untracked (not ignored)",
        "an untracked record backs its result",
        "looked up in the git index (what the commit will hold)",
        "--staged (what the hooks run): the staged content of PATHS",
    ):
        assert phrase in text, (phrase, text)
