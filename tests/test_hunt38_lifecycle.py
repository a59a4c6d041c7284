"""The record writers against the hooks, from a hunt (issue 18 thirty-eighth pass): what
`result`, `fail` and `rm` write, the hooks must accept; what the hooks would refuse, the
writers refuse first, nothing written."""

from __future__ import annotations

import pytest
from conftest import ExpRepo
from support import CliResult, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

METRICS = ["--metric", "seg_total=1", "--metric", "pde_mean=1", "--metric", "train_time_min=1"]
OTHER = ["--metric", "seg_total=2", "--metric", "pde_mean=1", "--metric", "train_time_min=1"]


def cli(repo: ExpRepo, *args: str) -> CliResult:
    return run_cli(list(args), repo.path)


def committed_run(repo: ExpRepo, exp_id: str, study: str = "s") -> None:
    """Run `exp_id` of `study`, its result committed."""
    assert cli(repo, "new", exp_id, "--study", study).code == 0
    assert cli(repo, "result", exp_id, *METRICS).code == 0
    repo.commit(exp_id)


def files(repo: ExpRepo) -> dict[str, bytes]:
    """Every file of the work tree but git's, with its bytes."""
    return {
        p.relative_to(repo.path).as_posix(): p.read_bytes()
        for p in sorted(repo.path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo.path).parts
    }


def staged_passes(repo: ExpRepo) -> CliResult:
    """`git add -A`, then the validate and protect hooks on the index (the PIN skipped)."""
    repo.git("add", "-A")
    validated = cli(repo, "validate", "--staged")
    assert validated.code == 0, validated
    return cli(repo, "protect", "--force")


# --------------------------------------------------------------- ignored corrections
@pytest.mark.parametrize("exp_id", ["model-key", "api_key", "id_rsa", "run.pem"])
def test_an_overwrite_of_a_run_named_like_a_key_is_committed_with_its_correction(
    committed_repo: ExpRepo, exp_id: str
) -> None:
    """init's `.gitignore` keeps key files out by name (`*-key`, `*_key`, `*.pem`,
    `id_rsa`): it gave back the folders below `experiments/` and `results/`, not those
    below `corrections/`, where a run's id names a folder. `result ID --overwrite` of a
    run `model-key` wrote its correction where `git add -A` never took it, and the
    protect hook refused the commit as an undeclared rewrite."""
    committed_run(committed_repo, exp_id)
    res = cli(committed_repo, "result", exp_id, "--overwrite", "--reason", "fix", "--force", *OTHER)
    assert res.code == 0, res
    protect = staged_passes(committed_repo)
    assert protect.code == 0, protect
    assert f"corrections/s/{exp_id}/" in committed_repo.git("diff", "--cached", "--name-only")


def test_rm_of_a_run_named_like_a_key_is_committed_with_its_correction(
    committed_repo: ExpRepo,
) -> None:
    """The same for `rm` of a committed run: the deletion went in without its correction."""
    committed_run(committed_repo, "deploy-key")
    res = cli(committed_repo, "rm", "deploy-key", "--reason", "gone", "--force")
    assert res.code == 0, res
    protect = staged_passes(committed_repo)
    assert protect.code == 0, protect


@pytest.mark.parametrize("command", ["overwrite", "rm"])
def test_a_correction_git_ignores_is_refused_before_anything_is_written(
    committed_repo: ExpRepo, command: str
) -> None:
    """A correction where the user's own ignore rules keep files out would never be
    committed, and the hook then refuses the change it declares: refused (exit 2, nothing
    written), as a record or a result there is (`refuse_ignored`)."""
    committed_run(committed_repo, "a")
    with (committed_repo.path / ".gitignore").open("a") as fh:
        fh.write("corrections/\n")
    before = files(committed_repo)
    if command == "rm":
        res = cli(committed_repo, "rm", "a", "--reason", "gone", "--force")
    else:
        args = ["result", "a", "--overwrite", "--reason", "fix", "--force", *OTHER]
        res = cli(committed_repo, *args)
    assert res.code == 2, res
    assert res.out == "", res
    errors = [line for line in res.err.splitlines() if "error" in line]
    assert len(errors) == 1 and ".gitignore keeps this file out" in errors[0], res
    assert errors[0].startswith("expflow-git: error: corrections/s/a/"), res
    assert "Traceback" not in res.err
    assert files(committed_repo) == before


# ------------------------------------------------------------- a run deleted on record
def deleted_on_record(repo: ExpRepo) -> str:
    """Run `a` committed, then deleted on record (`rm --reason`, committed); its record put
    back in the work tree (`git checkout HEAD~1 -- RECORD`), staged. Returns its path."""
    committed_run(repo, "a")
    assert cli(repo, "rm", "a", "--reason", "gone", "--force").code == 0
    repo.commit("rm a")
    record = "experiments/s/a.json"
    repo.git("checkout", "HEAD~1", "--", record)
    return record


def test_a_result_for_a_run_deleted_on_record_is_refused(committed_repo: ExpRepo) -> None:
    """`new`, `import` and `Repository.run` refuse an id a committed correction deletes;
    `result` wrote a new result for it once its record was put back, and the protect hook
    refused the commit (a run deleted on record does not come back under its id, spec
    §2.4): the writer refuses it first, exit 1, nothing written."""
    deleted_on_record(committed_repo)
    before = files(committed_repo)
    res = cli(committed_repo, "result", "a", *OTHER)
    assert res.code == 1, res
    assert "deleted on record" in res.err and res.err.count("\n") == 1, res
    assert files(committed_repo) == before


def test_fail_of_a_run_deleted_on_record_is_refused(committed_repo: ExpRepo) -> None:
    """`fail` refuses a run with a committed result (its status is frozen, spec §2.1, "also
    after the result is deleted on record"); with the result deleted on record and the
    record put back, it marked the record `failed`, and the hook refused the commit
    (`record-rewritten`)."""
    deleted_on_record(committed_repo)
    before = files(committed_repo)
    res = cli(committed_repo, "fail", "a", "--reason", "oops")
    assert res.code == 1, res
    assert "deleted on record" in res.err and res.err.count("\n") == 1, res
    assert files(committed_repo) == before


def test_the_put_back_run_may_still_be_overwritten_once_committed(
    committed_repo: ExpRepo,
) -> None:
    """The way spec §2.4 gives back: the run's last result put back and committed, then
    overwritten with a correction. The writer's refusal leaves that open."""
    deleted_on_record(committed_repo)
    committed_repo.git("checkout", "HEAD~1", "--", "results/s/a.json")
    committed_repo.commit("rm undone")
    res = cli(committed_repo, "result", "a", "--overwrite", "--reason", "fix", "--force", *OTHER)
    assert res.code == 0, res
    protect = staged_passes(committed_repo)
    assert protect.code == 0, protect


# ------------------------------------------------------------ a reason nothing keeps
@pytest.mark.parametrize("written", [False, True])
def test_a_reason_no_correction_keeps_is_said_to_be_dropped(
    committed_repo: ExpRepo, written: bool
) -> None:
    """`result ID --overwrite --reason TEXT` of a result not yet committed (or of none)
    writes no correction, and only a correction keeps a reason: it was dropped without a
    word, where `rm --reason` of such a run says so (twenty-sixth pass)."""
    assert cli(committed_repo, "new", "a", "--study", "s").code == 0
    if written:
        assert cli(committed_repo, "result", "a", *METRICS).code == 0
    args = ["result", "a", "--overwrite", "--reason", "rerun", "--force", *OTHER]
    res = cli(committed_repo, *args)
    assert res.code == 0, res
    assert not (committed_repo.path / "corrections").exists()
    assert res.err.splitlines()[-1] == (
        "expflow-git result: warning: no correction written: results/s/a.json is not "
        "committed, so --reason is not kept"
    ), res


# --------------------------------------------------------- a folder at a result's path
@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_at_the_results_path_is_said_to_be_one(
    committed_repo: ExpRepo, overwrite: bool
) -> None:
    """A folder where the run's result goes is no result: `result` said "a result exists
    already; results are write-once (`--overwrite` is PIN-guarded)", exit 1, and
    `--overwrite` asked for the PIN before failing. Refused as `new` refuses a folder at
    a record's path (exit 2, one line, nothing written), before any PIN is asked for."""
    assert cli(committed_repo, "new", "a", "--study", "s").code == 0
    (committed_repo.path / "results/s/a.json").mkdir(parents=True)
    before = files(committed_repo)
    extra = ["--overwrite", "--reason", "x"] if overwrite else []
    res = cli(committed_repo, "result", "a", *extra, *METRICS)
    assert res.code == 2, res
    assert res.err == (
        "expflow-git: error: results/s/a.json: cannot write it: is a folder, not a file "
        "(nothing written)\n"
    ), res
    assert files(committed_repo) == before


# --------------------------------------------------------------- blank reasons
def test_cancel_refuses_a_blank_reason_as_new_and_fail_do(committed_repo: ExpRepo) -> None:
    """`cancel --reason '  '` wrote the blank reason into the record, where `new --status
    skipped --reason '  '` and `fail --reason '  '` refuse it (the lifecycle hunt's note)."""
    assert cli(committed_repo, "new", "b1", "--study", "s").code == 0
    before = files(committed_repo)
    res = cli(committed_repo, "cancel", "b1", "--reason", "  ", "--force")
    assert res.code == 2 and "--reason is blank" in res.err, res
    assert files(committed_repo) == before
    res = cli(committed_repo, "cancel", "b1", "--force")  # no reason at all stays allowed
    assert res.code == 0, res


def test_the_api_refuses_a_blank_reason_naming_its_argument(committed_repo: ExpRepo) -> None:
    """`Repository.fail(id, "")` raised an ExpflowError naming the CLI's `--reason TEXT`, and
    `skip(id, "  ")` wrote the blank reason: each is a ValueError naming `reason`."""
    from expflow_git import Repository

    assert cli(committed_repo, "new", "b2", "--study", "s").code == 0
    before = files(committed_repo)
    repo = Repository(str(committed_repo.path))
    for call in (lambda: repo.fail("b2", ""), lambda: repo.fail("b2", " \t")):
        with pytest.raises(ValueError, match=r"^reason: say why the run failed"):
            call()
    with pytest.raises(ValueError, match=r"^reason: say why the run is skipped"):
        repo.skip("b2", "  ", pin=str(4000 + 821))
    assert files(committed_repo) == before


def test_protect_spells_the_paths_it_approves_as_findings_do(committed_repo: ExpRepo) -> None:
    """`protect`'s "approved: PATHS" and "declared by PATH" lines printed a name with a
    backslash as written, so `b\\xff` (four characters) read as the byte 0xff; every other
    line a path reaches doubles it (escape.terminal_path; the escape hunt's note)."""
    assert run_cli(["new", "a1", "--study", "s"], committed_repo.path).code == 0
    assert run_cli(["result", "a1", *METRICS], committed_repo.path).code == 0
    odd = committed_repo.path / "results" / "b\\xff"
    odd.mkdir()
    (committed_repo.path / "results/s/a1.json").rename(odd / "a1.json")
    committed_repo.commit("a1")
    res = run_cli(
        ["result", "a1", "--overwrite", "--reason", "fix", "--force", *OTHER], committed_repo.path
    )
    assert res.code == 0, res
    committed_repo.git("add", "-A")
    res = run_cli(["protect", "--force"], committed_repo.path)
    assert res.code == 0, res
    approved = next(ln for ln in res.err.splitlines() if "approved:" in ln)
    assert approved.endswith("approved: results/b\\\\xff/a1.json"), approved


@pytest.mark.parametrize("command", [["start", "p"], ["cancel", "p", "--force"]])
def test_start_and_cancel_of_a_run_deleted_on_record_are_refused(
    committed_repo: ExpRepo, command: list[str]
) -> None:
    """The review of the writers' refusal: `start` and `cancel` (the API's `start` and
    `skip` too) still changed the status of a run deleted on record whose pending record
    was put back, exit 0, and the hook refused the commit."""
    assert cli(committed_repo, "new", "p", "--study", "s").code == 0
    committed_repo.commit("p launched")
    assert cli(committed_repo, "result", "p", *METRICS).code == 0
    committed_repo.commit("p done")
    assert cli(committed_repo, "rm", "p", "--reason", "gone", "--force").code == 0
    committed_repo.commit("rm p")
    committed_repo.git("checkout", "HEAD~2", "--", "experiments/s/p.json")  # pending again
    before = files(committed_repo)
    res = cli(committed_repo, *command)
    assert res.code == 1 and "deleted on record" in res.err, res
    assert files(committed_repo) == before
