"""The public Python API (issue 16, item 2) in real repositories: `Repository`, the
`run()` context manager, listing runs, rank/audit/verify, the seeds' functions, and
numbers spelled in strings. The CLI is checked to write what the API writes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import ExpRepo, experiment_doc, run_cli

import expflow_git
from expflow_git import Repository, Status
from expflow_git.errors import ExpflowError

pytestmark = pytest.mark.usefixtures("isolated_env")

STUDY = "pdebench-task1"
SEED = {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}


@pytest.fixture
def repo(exp_repo: ExpRepo) -> Repository:
    return Repository(exp_repo.path)


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


# ------------------------------------------------------------------ import
def test_import_is_cheap_and_exports_lazily() -> None:
    code = (
        "import sys, expflow_git\n"
        "heavy = [m for m in ('click', 'jsonschema', 'jsonschema_rs', 'git', 'ruamel') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
        "print(expflow_git.Repository.__module__, expflow_git.compare_scores.__module__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines() == ["[]", "expflow_git.repository expflow_git.seeds"]
    with pytest.raises(AttributeError):
        expflow_git.no_such_name  # noqa: B018
    assert set(expflow_git.__all__) <= set(dir(expflow_git))


# ------------------------------------------------------------------ run()
def test_run_writes_running_then_result_and_success(repo: Repository, exp_repo: ExpRepo) -> None:
    record = exp_repo.path / exp_repo.exp_path()
    with repo.run("exp-001", study=STUDY, params={"Args/--sub_step": "5"}, tags=["fno"]) as run:
        assert _json(record)["status"] == "running"  # written on entry
        run.log(seg_total=50.0, pde_mean=15.0)
        run.log(seg_total=57.09, train_time_min=45.5)  # a later value replaces an earlier one
        run.log_split("holdout", seg_total=55.2)
    doc = _json(record)
    assert doc["status"] == "success" and doc["tags"] == ["fno"]
    assert doc["params"] == {"Args/--sub_step": "5"}
    result = _json(exp_repo.path / exp_repo.res_path())
    assert result["metrics"] == SEED and result["splits"] == {"holdout": {"seg_total": 55.2}}
    # What the API wrote passes the validate hook.
    exp_repo.stage()
    code, out, err = run_cli(["validate", "--staged"], cwd=exp_repo.path)
    assert code == 0, out + err


def test_run_marks_failed_on_an_exception_and_reraises(repo: Repository, exp_repo: ExpRepo) -> None:
    boom = RuntimeError("CUDA out of memory")
    with pytest.raises(RuntimeError) as caught:
        with repo.run("exp-001", study=STUDY) as run:
            run.log(**SEED)
            raise boom
    assert caught.value is boom
    doc = _json(exp_repo.path / exp_repo.exp_path())
    assert (doc["status"], doc["reason"]) == ("failed", "RuntimeError: CUDA out of memory")
    assert not (exp_repo.path / exp_repo.res_path()).exists()


def test_a_failed_runs_reason_never_holds_the_pin(
    repo: Repository, exp_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A training script's failed `subprocess.run([..., "--pin", "4321"])`: the error's
    text, argument list and all, became the committed record's reason, and the scan does
    not read an argument list (a hunt). The PIN of $EXPFLOW_PIN is masked too."""
    with pytest.raises(subprocess.CalledProcessError):
        with repo.run("exp-001", study=STUDY):
            subprocess.run(
                [sys.executable, "-c", "raise SystemExit(3)", "--pin", "4321"], check=True
            )
    reason = _json(exp_repo.path / exp_repo.exp_path())["reason"]
    assert "4321" not in reason and "'--pin', '****'" in reason, reason
    # An argument list of bytes, and the PIN given to `pin init` (an attacker's hunt).
    for i, argv in enumerate(
        [
            [sys.executable.encode(), b"-c", b"raise SystemExit(3)", b"--pin", b"4321"],
            [sys.executable, "-c", "raise SystemExit(3)", "pin", "init", "4321"],
            [sys.executable, "-c", "raise SystemExit(3)", "pin", "init", "--force", "4321"],
            # The new PIN after the old one, and after `--` (review).
            [sys.executable, "-c", "raise SystemExit(3)", "pin", "init", "--pin", "1111", "4321"],
            [sys.executable, "-c", "raise SystemExit(3)", "pin", "init", "--", "4321"],
        ],
        start=3,
    ):
        with pytest.raises(subprocess.CalledProcessError):
            with repo.run(f"exp-00{i}", study=STUDY):
                subprocess.run(argv, check=True)
        reason = _json(exp_repo.path / exp_repo.exp_path(f"exp-00{i}"))["reason"]
        assert "4321" not in reason and "1111" not in reason and "'****'" in reason, reason
    monkeypatch.setenv("EXPFLOW_PIN", "2468")
    with pytest.raises(RuntimeError):
        with repo.run("exp-002", study=STUDY):
            raise RuntimeError("login with 2468 failed at step 12468")
    reason = _json(exp_repo.path / exp_repo.exp_path("exp-002"))["reason"]
    assert reason == "RuntimeError: login with **** failed at step 12468"


def test_a_failed_runs_reason_holds_nothing_the_pin_scan_refuses(
    repo: Repository, exp_repo: ExpRepo
) -> None:
    """The reason masked only the PINs its own patterns knew, a copy of one scan rule: a
    PIN's SHA-256, a key's block or `pin_hash = ...` in an exception's message was
    committed with the record, and the hook or the audit then refused the repository.
    Every span the scan flags is masked now, and a reason it would still refuse (here,
    cut short so that four digits stand alone) is left out."""
    import hashlib

    from expflow_git.run import failure_reason

    digest = hashlib.sha256(b"4321").hexdigest()
    block = "PRIVATE KEY-----"
    key = f"-----BEGIN OPENSSH {block}\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH {block}"
    left_out = "RuntimeError: (the message is left out: the PIN scan flags it)"
    messages = {
        f"checkpoint {digest} does not match": "RuntimeError: checkpoint **** does not match",
        f"cannot sign with\n{key}\n": "RuntimeError: cannot sign with\n****\n",
        "launch failed: train.py --pin 4321 --epochs 3": (
            "RuntimeError: launch failed: train.py --pin **** --epochs 3"
        ),
        # The digest masked, `pin_hash = ****` is still an assignment to the scan.
        f"bad config: pin_hash = {digest}": left_out,
    }
    for i, (message, expected) in enumerate(messages.items(), start=1):
        with pytest.raises(RuntimeError):
            with repo.run(f"exp-00{i}", study=STUDY):
                raise RuntimeError(message)
        path = exp_repo.path / exp_repo.exp_path(f"exp-00{i}")
        assert _json(path)["reason"] == expected
    exp_repo.stage()
    code, out, err = run_cli(["scan", "--staged"], cwd=exp_repo.path)
    assert code == 0, out + err
    limit = len("RuntimeError: --pin 1234…")  # cut there, four digits would stand alone
    assert failure_reason(RuntimeError("--pin 123456"), limit) == left_out[:limit]
    assert failure_reason(RuntimeError("--pin 12345"), limit) == "RuntimeError: --pin 12345"


def test_a_long_reason_is_masked_before_it_is_cut() -> None:
    """Cut to four times its length first, a message kept the start of a key's block
    (its END line cut off, the scan neither flagged nor masked it) or 58 characters of a
    PIN's digest (a review)."""
    import hashlib
    import re

    from expflow_git.run import failure_reason

    block = "PRIVATE KEY-----"
    body = "\n".join("A" * 64 for _ in range(190))  # ~12 KB
    key = f"-----BEGIN RSA {block}\n{body}\n-----END RSA {block}"
    reason = failure_reason(ValueError("could not parse key:\n" + key), 2000)
    assert reason == "ValueError: could not parse key:\n****", reason
    digest = hashlib.sha256(b"4321").hexdigest()
    reason = failure_reason(ValueError(" ".join([digest] * 124)), 2000)
    assert not re.search("[0-9a-f]{8}", reason), reason


def test_run_reads_nothing_between_writing_running_and_the_block(
    repo: Repository, exp_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupt landing after the record said `running` but before the block began
    (while `new` re-read the whole tree: seconds in a large repository) left the run
    `running` for ever, and a retry was refused."""

    real_get, in_block = Repository.get, []

    class Interrupt(BaseException):  # as KeyboardInterrupt, without stopping pytest
        pass

    def interrupted(self: Repository, id: str) -> object:
        if not in_block:
            raise Interrupt  # where the re-read of the tree was
        return real_get(self, id)

    monkeypatch.setattr(Repository, "get", interrupted)
    with repo.run("exp-001", study=STUDY) as run:  # no re-read before: the block runs
        in_block.append(True)
        run.log(**SEED)
    monkeypatch.undo()
    assert repo.get("exp-001").status is Status.SUCCESS


def test_run_marks_failed_when_the_result_cannot_be_written(
    repo: Repository, exp_repo: ExpRepo
) -> None:
    """Not only a result that fails the policy (ValueError): a policy broken during the
    block (a `git pull`) raised an ExpflowError and left the run `running`."""
    policy = exp_repo.path / "expflow.yaml"
    with pytest.raises(Exception, match="expflow.yaml") as caught:
        with repo.run("exp-001", study=STUDY) as run:
            run.log(**SEED)
            policy.write_text("metrics: [unclosed\n")
    assert not isinstance(caught.value, ValueError)
    doc = _json(exp_repo.path / exp_repo.exp_path())
    assert doc["status"] == "failed" and "expflow.yaml" in doc["reason"], doc
    assert not (exp_repo.path / exp_repo.res_path()).exists()


def test_a_folder_that_is_a_file_is_an_expflow_error(repo: Repository, exp_repo: ExpRepo) -> None:
    """A raw FileExistsError, and `log_result` left the run `success` without its result
    (a user's hunt, issue 18 twenty-third pass): docs/api.md promises ExpflowError."""
    (exp_repo.path / "experiments/z").write_text("x\n")
    with pytest.raises(ExpflowError, match="experiments/z is not a folder"):
        repo.new("q2", study="z")
    repo.new("exp-001", study=STUDY)
    (exp_repo.path / f"results/{STUDY}").write_text("x\n")
    with pytest.raises(ExpflowError, match=f"results/{STUDY} is not a folder"):
        repo.log_result("exp-001", SEED)
    assert repo.get("exp-001").status is Status.PENDING


def test_run_unknown_metric_names_the_closest(repo: Repository, exp_repo: ExpRepo) -> None:
    with pytest.raises(
        ValueError, match="unknown metric 'pde_maen'; the closest known name is 'pde_mean'"
    ):
        with repo.run("exp-001", study=STUDY) as run:
            run.log(pde_maen=1.0)
    assert repo.get("exp-001").status is Status.FAILED
    assert not (exp_repo.path / exp_repo.res_path()).exists()


def test_run_missing_required_metric_writes_no_result(repo: Repository, exp_repo: ExpRepo) -> None:
    with pytest.raises(ValueError, match="required metric 'train_time_min' is missing"):
        with repo.run("exp-001", study=STUDY) as run:
            run.log(seg_total=1.0, pde_mean=1.0)
    assert not (exp_repo.path / exp_repo.res_path()).exists()
    assert repo.get("exp-001").status is Status.FAILED


@pytest.mark.parametrize("value", [float("nan"), True, "1.0", None])
def test_log_refuses_what_is_not_a_finite_number(repo: Repository, value: object) -> None:
    with pytest.raises(ValueError, match="seg_total"):
        with repo.run("exp-001", study=STUDY) as run:
            run.log(seg_total=value)  # type: ignore[arg-type]


def test_run_starts_a_pending_record_and_refuses_a_different_one(repo: Repository) -> None:
    repo.new("exp-001", study=STUDY, params={"sub_step": 5})
    with pytest.raises(ValueError, match="other params"):
        with repo.run("exp-001", params={"sub_step": 6}):
            pass
    assert repo.get("exp-001").status is Status.PENDING
    with repo.run("exp-001", study=STUDY) as run:
        run.log(**SEED)
    assert repo.get("exp-001").status is Status.SUCCESS


def test_run_takes_a_records_tags_in_any_order(repo: Repository) -> None:
    """`new(tags=["fno", "baseline"])` then `run(tags=["baseline", "fno"])` said the run
    exists with other tags (a user's hunt, issue 18 twenty-second pass)."""
    repo.new("exp-001", study=STUDY, params={"sub_step": 5}, tags=["fno", "baseline"])
    with pytest.raises(ValueError, match="other tags"):
        with repo.run("exp-001", tags=["fno"]):
            pass
    with repo.run("exp-001", study=STUDY, tags=["baseline", "fno"]) as run:
        run.log(**SEED)
    assert repo.get("exp-001").status is Status.SUCCESS


def test_run_refuses_a_record_whose_param_is_a_boolean_for_a_number(repo: Repository) -> None:
    """`True == 1` in Python: the record kept `true`, which no rule reads as a number, and
    the run started (a hunt). 1 and 1.0 stay one value."""
    repo.new("exp-001", study=STUDY, params={"sub_step": True, "lr": 1})
    with pytest.raises(ValueError, match="other params"):
        with repo.run("exp-001", params={"sub_step": 1, "lr": 1}):
            pass
    assert repo.get("exp-001").status is Status.PENDING
    with repo.run("exp-001", params={"sub_step": True, "lr": 1.0}) as run:
        run.log(**SEED)
    assert repo.get("exp-001").status is Status.SUCCESS


def test_run_checks_where_its_result_goes_before_it_starts(
    repo: Repository, exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """A results folder that is a link was refused only when the result was written: the
    record said `running` for ever (fail was refused through the same link; a hunt)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (exp_repo.path / "results").mkdir(exist_ok=True)
    (exp_repo.path / "results" / STUDY).symlink_to(elsewhere, target_is_directory=True)
    repo.new("exp-001", study=STUDY)
    for run_id in ("exp-001", "exp-002"):  # a pending record, and none yet
        with pytest.raises(expflow_git.ExpflowError, match="is a symbolic link"):
            with repo.run(run_id, study=STUDY) as run:
                run.log(**SEED)
    assert repo.get("exp-001").status is Status.PENDING
    assert not (exp_repo.path / exp_repo.exp_path("exp-002")).exists()
    assert list(elsewhere.iterdir()) == []


def test_a_record_git_would_ignore_is_refused_before_it_is_written(
    repo: Repository, exp_repo: ExpRepo
) -> None:
    """`new` wrote it, then `get` (which lists what git sees) raised KeyError; run() the
    same. Such a record would never be committed (a hunt)."""
    with (exp_repo.path / ".gitignore").open("a") as fh:
        fh.write("experiments/hidden/\n")
    with pytest.raises(expflow_git.ExpflowError, match="gitignore keeps this file out"):
        repo.new("exp-001", study="hidden")
    with pytest.raises(expflow_git.ExpflowError, match="gitignore keeps this file out"):
        with repo.run("exp-002", study="hidden") as run:
            run.log(**SEED)
    assert not (exp_repo.path / "experiments" / "hidden").exists()


def test_a_result_git_would_ignore_is_refused_before_the_run_starts(
    repo: Repository, exp_repo: ExpRepo
) -> None:
    """`results/` in .gitignore: run() marked the run `success` with a result the commit
    never took, and log_result the same (a user's hunt, issue 18 twenty-seventh pass).
    Refused before the record says `running`, the block never entered."""
    with (exp_repo.path / ".gitignore").open("a") as fh:
        fh.write("results/\n")
    entered = []
    with pytest.raises(expflow_git.ExpflowError, match="gitignore keeps this file out") as exc:
        with repo.run("exp-001", study=STUDY, params={"sub_step": 5}) as run:
            entered.append(run)
    assert exc.value.code == 2 and entered == []
    assert not (exp_repo.path / exp_repo.exp_path("exp-001")).exists()
    repo.new("exp-002", study=STUDY)
    with pytest.raises(expflow_git.ExpflowError, match="gitignore keeps this file out"):
        with repo.run("exp-002") as run:
            entered.append(run)
    assert entered == [] and repo.get("exp-002").status is Status.PENDING
    with pytest.raises(expflow_git.ExpflowError, match="gitignore keeps this file out"):
        repo.log_result("exp-002", SEED)
    assert repo.get("exp-002").status is Status.PENDING
    assert not (exp_repo.path / "results" / STUDY / "exp-002.json").exists()
    # A study the schema refuses is named as such, not as a path git ignores (a review).
    for study in ("s\n", "-x"):
        with pytest.raises(expflow_git.ExpflowError) as bad:
            with repo.run("exp-003", study=study, params={"sub_step": 5}) as run:
                entered.append(run)
        assert "#/study" in str(bad.value) and "gitignore" not in str(bad.value), bad.value
    assert entered == []


def test_run_compares_number_subclasses_by_value(repo: Repository) -> None:
    """A sweep grid's numpy floats (a float subclass) were "other params" on the second
    look once params compared by exact type (a review)."""

    class Grid(float):
        pass

    repo.new("exp-001", study=STUDY, params={"lr": Grid(0.1), "sub_step": 5})
    with repo.run("exp-001", params={"lr": Grid(0.1), "sub_step": 5}) as run:
        run.log(**SEED)
    assert repo.get("exp-001").status is Status.SUCCESS


def test_run_names_a_study_the_schema_refuses(repo: Repository) -> None:
    """The result's target was checked first, and a 300-character study met the file
    system (`File name too long`) before the record's check named its pointer."""
    with pytest.raises(expflow_git.ExpflowError, match="/study"):
        with repo.run("exp-001", study="s" * 300) as run:
            run.log(**SEED)


def test_record_commands_work_where_a_folder_cannot_be_locked(
    repo: Repository, exp_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On NFS or Lustre, flock of a folder fails (ENOLCK): every record command failed
    with "No locks available" (a review). They run without the lock there."""
    import errno
    import fcntl

    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with repo.run("exp-001", study=STUDY) as run:
        run.log(**SEED)
    assert repo.get("exp-001").status is Status.SUCCESS


# ------------------------------------------------------------------ records
def test_api_and_cli_write_the_same_record(repo: Repository, exp_repo: ExpRepo, cli) -> None:
    repo.new("exp-001", study=STUDY, params={"lr": 0.001, "model": "fno"}, tags=["a"])
    res = cli(
        ["new", "exp-002", "--study", STUDY, "--param", "lr=0.001", "--param", "model=fno"]
        + ["--tag", "a", "--condition", "exp-001"],
        cwd=exp_repo.path,
    )
    assert res.code == 0, res.both
    api_doc = _json(exp_repo.path / exp_repo.exp_path("exp-001"))
    cli_doc = _json(exp_repo.path / exp_repo.exp_path("exp-002"))
    assert list(api_doc) == list(cli_doc)
    same = ("study", "tags", "status", "seed", "params")
    assert {k: api_doc[k] for k in same} == {k: cli_doc[k] for k in same}


def test_log_result_checks_before_writing(repo: Repository, exp_repo: ExpRepo) -> None:
    repo.new("exp-001", study=STUDY)
    with pytest.raises(ValueError, match="'seg_totl'; the closest known name is 'seg_total'"):
        repo.log_result("exp-001", {**SEED, "seg_totl": 1.0})
    with pytest.raises(ValueError, match="required metric 'pde_mean' is missing"):
        repo.log_result("exp-001", {"seg_total": 1.0, "train_time_min": 1.0})
    with pytest.raises(ValueError, match="train_time_min = -1 is below its min 0"):
        repo.log_result("exp-001", {**SEED, "train_time_min": -1})
    assert not (exp_repo.path / exp_repo.res_path()).exists()
    assert repo.get("exp-001").status is Status.PENDING
    run = repo.log_result("exp-001", SEED, splits={"holdout": {"seg_total": 55.2}})
    assert (run.status, dict(run.metrics)) == (Status.SUCCESS, SEED)
    with pytest.raises(expflow_git.ExpflowError, match="write-once"):
        repo.log_result("exp-001", SEED)


def test_lifecycle_methods(repo: Repository) -> None:
    assert repo.new("a", study=STUDY).status is Status.PENDING
    assert repo.start("a").status is Status.RUNNING
    failed = repo.fail("a", "diverged")
    assert (failed.status, failed.reason) == (Status.FAILED, "diverged")
    skipped = repo.new("b", study=STUDY, status="skipped", reason="superseded")
    assert (skipped.status, skipped.reason) == (Status.SKIPPED, "superseded")
    with pytest.raises(ValueError, match="reason: status 'failed' needs a reason"):
        repo.new("c", study=STUDY, status="failed")
    with pytest.raises(ValueError, match="parameter 'lr'"):
        repo.new("d", study=STUDY, params={"lr": [0.1]})  # type: ignore[dict-item]


def test_skip_is_pin_guarded(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, exp_repo: ExpRepo
) -> None:
    monkeypatch.delenv("EXPFLOW_PIN", raising=False)
    repo.new("a", study=STUDY)
    with pytest.raises(expflow_git.ExpflowError) as no_pin:
        repo.skip("a", "not needed")
    # the API has no --pin nor --force: its errors name what it has (they named both)
    assert str(no_pin.value) == (
        "no PIN is set, so cancel a cannot be approved; run `expflow-git pin init` first"
    )
    assert run_cli(["pin", "init", "1234"], cwd=exp_repo.path).code == 0
    with pytest.raises(expflow_git.ExpflowError) as none_given:
        repo.skip("a", "not needed")
    assert str(none_given.value) == (
        "cancel a needs the PIN and there is no terminal to ask on: "
        "pass the pin argument or set $EXPFLOW_PIN; nothing changed"
    )
    with pytest.raises(expflow_git.ExpflowError) as wrong:
        repo.skip("a", "not needed", pin="9999")
    assert str(wrong.value) == (
        "wrong PIN (from the pin argument): cancel a refused, nothing changed"
    )
    assert repo.get("a").status is Status.PENDING
    assert repo.skip("a", "not needed", pin="1234").status is Status.SKIPPED


def test_runs_lists_the_working_tree_with_filters(repo: Repository, exp_repo: ExpRepo) -> None:
    repo.new("a", study=STUDY, params={"lr": "0.1"})
    repo.log_result("a", SEED)
    repo.new("b", study="other", status="failed", reason="oom")
    exp_repo.write("experiments/other/broken.json", "{")  # invalid: left out
    outside = exp_repo.write_json("data/c.json", experiment_doc("c"))  # not a record's path
    (exp_repo.path / "experiments/other/c.json").symlink_to(outside)  # a link: left out
    runs = repo.runs()
    assert [r.id for r in runs] == ["a", "b"]  # untracked files count
    a = runs[0]
    assert (a.study, a.status, a.params, a.result_path) == (
        STUDY,
        Status.SUCCESS,
        {"lr": "0.1"},
        f"results/{STUDY}/a.json",
    )
    assert [r.id for r in repo.runs(study="other")] == ["b"]
    assert [r.id for r in repo.runs(status="success")] == ["a"]
    assert repo.runs(study=STUDY, status=Status.FAILED) == []
    with pytest.raises(KeyError):
        repo.get("zzz")


def test_runs_leaves_out_records_that_share_an_id(repo: Repository, exp_repo: ExpRepo) -> None:
    """`runs()` reads as `list` does: two records of one id are no run (the audit ranks
    neither), not two runs each given the id's one result (a hunt, issue 18)."""
    repo.new("a", study=STUDY)
    repo.log_result("a", SEED)
    exp_repo.write_json("experiments/other/a.json", experiment_doc("a", study="other"))
    repo.new("b", study=STUDY)
    assert [r.id for r in repo.runs()] == ["b"]


def test_a_run_several_records_hold_is_never_written(repo: Repository, exp_repo: ExpRepo) -> None:
    """start/log_result of an id two records hold changed one of them and wrote its
    result, then raised KeyError (no such run): the caller took the write for failed,
    and a retry was refused, the result being there (a review, issue 18)."""
    repo.new("x", study=STUDY)
    exp_repo.write_json("experiments/other/x.json", experiment_doc("x", study="other"))
    before = {p: p.read_bytes() for p in exp_repo.path.glob("experiments/*/x.json")}
    for call in (lambda: repo.start("x"), lambda: repo.log_result("x", SEED)):
        with pytest.raises(ExpflowError, match="'x' has several records"):
            call()
    assert {p: p.read_bytes() for p in exp_repo.path.glob("experiments/*/x.json")} == before
    assert not list(exp_repo.path.glob("results/*/x.json"))


# ------------------------------------------------------------------ rank / audit / verify
def test_rank_audit_verify_html(repo: Repository, exp_repo: ExpRepo, tmp_path: Path) -> None:
    repo.new("fast", study=STUDY, params={"sub_step": "5"})
    repo.log_result("fast", {"seg_total": 50.0, "pde_mean": 12.0, "train_time_min": 20})
    repo.new("slow", study=STUDY, params={"sub_step": 5})
    repo.log_result("slow", {"seg_total": 60.0, "pde_mean": 12.0, "train_time_min": 50})
    exp_repo.commit("runs")
    board = repo.rank(gates=["train_time_min:lt:30"])
    assert [(r.id, r.rank, r.feasible) for r in board.rows] == [
        ("fast", 1, True),
        ("slow", None, False),
    ]
    assert board.rows[1].failed == ("train_time_min:lt:30 (50 not < 30)",)
    assert (board.best_any, board.best_feasible, board.sort_by) == ("slow", "fast", "seg_total")
    with pytest.raises(expflow_git.ExpflowError, match="malformed"):
        repo.rank(gates=["train_time_min<30"])

    audit = repo.audit()
    assert (audit.verdict, audit.passed, audit.best_feasible, audit.report) == (
        "pass",
        True,
        "slow",
        None,
    )
    assert [r.id for r in audit.rows] == ["slow", "fast"] and audit.findings == ()
    signed = repo.audit(report=True)
    assert signed.report is not None and signed.commit == exp_repo.head()
    saved = tmp_path / "report.json"
    saved.write_bytes(signed.report)
    # The CLI verifies what the API wrote, and the API what the CLI wrote.
    code, out, err = run_cli(
        ["verify", str(saved), "--allow-unsigned", "--repo", "."], cwd=exp_repo.path
    )
    assert code == 0 and "VERIFIED" in out, out + err
    code, _, err = run_cli(["audit", "--out", str(saved)], cwd=exp_repo.path)
    assert code == 0, err
    assert saved.read_bytes() == signed.report
    assert repo.verify(saved, allow_unsigned=True).ok
    tampered = signed.report.replace(b'"payload":"', b'"payload":"A', 1)
    assert not repo.verify(tampered, allow_unsigned=True).ok
    assert not repo.verify(saved).ok  # unsigned, and not allowed

    html = repo.html(path=tmp_path / "s.html")
    assert "slow" in html and (tmp_path / "s.html").read_text() == html


def test_verify_lines_are_escaped_as_the_cli_prints_them(
    repo: Repository, exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """`Repository.verify(...).lines` carried a report's ESC, CR and LF raw (its policy
    path here), where the docs say the lines are as `expflow-git verify` prints them and
    show them printed (a hunter's find, issue 18 twenty-fourth pass)."""
    from helpers_audit import reseal, statement_of

    repo.new("fast", study=STUDY, params={"sub_step": "5"})
    repo.log_result("fast", {"seg_total": 50.0, "pde_mean": 12.0, "train_time_min": 20})
    exp_repo.commit("runs")
    audited = repo.audit(report=True).report
    assert audited is not None
    st = statement_of(audited)
    st["predicate"]["policy"]["path"] = "exp\x1b[31mflow\r\n.yaml"
    saved = tmp_path / "report.json"
    saved.write_bytes(reseal(st, None))
    checked = repo.verify(saved, allow_unsigned=True)
    assert not checked.ok
    code, out, err = run_cli(
        ["verify", str(saved), "--allow-unsigned", "--repo", "."], cwd=exp_repo.path
    )
    assert code == 1 and "Traceback" not in err, out + err
    assert list(checked.lines) == out.splitlines()[:-1]
    assert any("exp\\x1b[31mflow\\x0d\\x0a.yaml" in line for line in checked.lines)
    assert all(line.isprintable() for line in checked.lines)


def test_a_scorecard_that_cannot_be_written_names_the_path_given(
    repo: Repository, exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """`html(path=<a folder>)` raised a bare IsADirectoryError naming the temporary file
    beside it (`.s.x1v7v.tmp`); `audit --html` names the path. An ExpflowError now names
    the path given, and nothing is left beside it."""
    exp_repo.commit("policy")
    out = tmp_path / "out"
    folder = out / "s"
    folder.mkdir(parents=True)
    with pytest.raises(ExpflowError) as caught:
        repo.html(path=folder)
    assert caught.value.message == f"{folder}: cannot write the scorecard: Is a directory"
    assert [p.name for p in out.iterdir()] == ["s"]
    with pytest.raises(ValueError, match="path: give text, not 5"):
        repo.html(path=5)  # type: ignore[arg-type]


def test_arguments_of_the_wrong_kind_are_value_errors(repo: Repository, exp_repo: ExpRepo) -> None:
    """`Repository(5)`, `policy=5` and `verify(5)` were TypeErrors, `skip(pin=<an int>)` an
    ExpflowError (exit 2): docs/api.md promises ValueError for an argument of the wrong
    kind (a user's hunt, issue 18 twenty-third pass). A PIN given as a number is never
    shown back."""
    with pytest.raises(ValueError, match="path: give a folder's path, not 5"):
        Repository(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="policy: give text, not 5"):
        Repository(exp_repo.path, policy=5)  # type: ignore[arg-type]
    assert Repository(exp_repo.path, policy=exp_repo.path / "expflow.yaml").policy.metrics
    with pytest.raises(ValueError, match="report: give its bytes or its file's path, not 5"):
        repo.verify(5)  # type: ignore[arg-type]
    repo.new("a", study=STUDY, params={"sub_step": 1})
    pin = 4000 + 821
    with pytest.raises(ValueError, match="pin: give the PIN as text, not int") as caught:
        repo.skip("a", "not needed", pin=pin)  # type: ignore[arg-type]
    assert str(pin) not in str(caught.value)
    assert repo.get("a").status is Status.PENDING


def test_repository_of_a_file_or_of_a_path_that_does_not_exist(
    exp_repo: ExpRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Repository("train.py")` said "expflow.yaml: cannot read policy: Not a directory";
    `Repository("does/not/exist")` inside a repository took it as the root and said "no
    policy file; run expflow-git init" (a user's hunt, issue 18 twenty-seventh pass). A
    file is looked up from its folder (`Repository(__file__)`); a path that does not
    exist is a ValueError naming it."""
    exp_repo.write("src/train.py", "print('train')\n")
    monkeypatch.chdir(exp_repo.path)
    for given in ("src/train.py", exp_repo.path / "src" / "train.py", "expflow.yaml"):
        found = Repository(given)
        assert found.root == exp_repo.path.resolve()
        assert "seg_total" in found.policy.metrics
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "notes.txt").write_text("x\n")
    assert Repository(outside / "notes.txt").root == outside.resolve()
    # A script linked into the work tree is the work tree's, not its target's folder's.
    (exp_repo.path / "linked.py").symlink_to(outside / "notes.txt")
    assert Repository(exp_repo.path / "linked.py").root == exp_repo.path.resolve()
    for missing in ("does/not/exist", "src/train.py/x", exp_repo.path / "gone"):
        with pytest.raises(ValueError, match=r"^path '.*(exist|x|gone)': it does not exist$"):
            Repository(missing)
    with pytest.raises(ValueError, match="^path '.*': "):
        Repository("a\0b")


@pytest.mark.parametrize("flag", ["False", "no", "0", 0, 1, None])
def test_a_flag_that_is_no_bool_is_refused_not_read_as_true(
    repo: Repository, exp_repo: ExpRepo, tmp_path: Path, flag: object
) -> None:
    """`verify(allow_unsigned="False")` accepted an unsigned report: any value that is
    true passed as the flag (a user's hunt). Every flag of the API takes True or False."""
    repo.new("a", study=STUDY, params={"sub_step": 1})
    repo.log_result("a", {"seg_total": 50.0, "pde_mean": 12.0, "train_time_min": 20})
    exp_repo.commit("runs")
    unsigned = repo.audit(report=True).report
    assert unsigned is not None and not repo.verify(unsigned).ok
    with pytest.raises(ValueError, match=re.escape(f"allow_unsigned: {flag!r} is not True")):
        repo.verify(unsigned, allow_unsigned=flag)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape(f"recompute: {flag!r} is not True")):
        repo.verify(unsigned, allow_unsigned=True, recompute=flag)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape(f"report: {flag!r} is not True")):
        repo.audit(report=flag)  # type: ignore[arg-type]

    from expflow_git.importers import import_csv

    sheet = tmp_path / "runs.csv"
    sheet.write_text("run,sub_step,seg_total,pde_mean,train_time_min\nr1,2,50,12,20\n")
    before = exp_repo.status()
    with pytest.raises(ValueError, match=re.escape(f"dry_run: {flag!r} is not True")):
        import_csv(sheet, id_column="run", study=STUDY, root=exp_repo.path, dry_run=flag)
    assert exp_repo.status() == before  # "False" was a dry run, "no" too


# ------------------------------------------------------------------ numbers in strings
def test_rank_compares_a_number_in_a_string_as_a_number(exp_repo: ExpRepo) -> None:
    """MLflow and ClearML store params as strings: `"5"` passes `sub_step > 0`."""
    exp_repo.add_experiment("exp-001", params={"Args/--sub_step": "5"})
    exp_repo.add_result("exp-001")
    exp_repo.add_experiment("exp-002", params={"Args/--sub_step": "0"})
    exp_repo.add_result("exp-002")
    exp_repo.commit("runs")
    code, out, err = run_cli(["rank", "--format", "json"], cwd=exp_repo.path)
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(out)["ranking"]}
    assert rows["exp-001"]["feasible"] is True
    assert rows["exp-002"]["feasible"] is False


# ------------------------------------------------------------------ the seeds' functions
def test_validate_competition_rules_seed_example() -> None:
    verdict = expflow_git.validate_competition_rules(
        task_metrics=SEED, task_params={"Args/--sub_step": "5"}
    )
    assert verdict.all_pass is True
    assert [c.name for c in verdict.checks] == [
        "pde_mean:lt:18.09",
        "train_time_min:lt:60",
        "required:seg_total",
        "required:pde_mean",
        "required:train_time_min",
        "sub_step:gt:0",
    ]
    bad = expflow_git.validate_competition_rules(
        task_metrics={"seg_total": 1.0, "pde_mean": 19.0, "seg_totl": 2.0}, task_params={}
    )
    failed = {c.name: c.detail for c in bad.checks if not c.passed}
    assert bad.all_pass is False
    assert failed["pde_mean:lt:18.09"] == "19 not < 18.09"
    assert failed["required:train_time_min"] == "missing"
    assert failed["sub_step:gt:0"] == "required parameter absent"
    assert "did you mean 'seg_total'" in failed["registry:seg_totl"]


def test_validate_competition_rules_with_a_policy_file(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\nmetrics:\n  acc: {group: S, higher_is_better: true, threshold: 0.5}\n"
        "required_metrics: [acc]\nranking: {sort_by: acc}\n"
        "rules:\n  - {param: model, op: eq, value: fno}\n"
    )
    ok = expflow_git.validate_competition_rules(
        task_metrics={"acc": 0.9}, task_params={"model": "fno"}, policy=policy
    )
    assert ok.all_pass and len(ok.checks) == 3


def test_compare_scores_feasible_first() -> None:
    runs = {
        "a": {"seg_total": 57.1, "pde_mean": 15.0},
        "b": {"seg_total": 61.4, "pde_mean": 19.7},
        "c": {"seg_total": 52.4, "pde_mean": 12.0},
        "d": {"pde_mean": 1.0},
    }
    table = expflow_git.compare_scores(runs, sort_by="seg_total", gates=["pde_mean:lt:18.09"])
    assert [(r.id, r.rank) for r in table.rows] == [("a", 1), ("c", 2), ("d", None), ("b", None)]
    assert (table.best_any, table.best_feasible) == ("b", "a")
    assert table.rows[3].failed == ("pde_mean:lt:18.09 (19.7 not < 18.09)",)
    up = expflow_git.compare_scores(runs, sort_by="seg_total", ascending=True)
    assert [r.id for r in up.rows][:3] == ["c", "a", "b"] and up.best_any == "c"
    for gate in ("pde_mean<18", "pde_mean:lesser:1", "pde_mean:lt:nan", ""):
        with pytest.raises(ValueError):
            expflow_git.compare_scores(runs, sort_by="seg_total", gates=[gate])


def test_compare_scores_takes_one_condition_as_one_check() -> None:
    """A warning repeating a gate was listed as failed and as a warning, and two spellings
    of one warning twice, where `rank --gate G --warn G` shows one error (spec §3; a
    hunt, thirtieth pass)."""
    runs = {"a": {"x": 5, "y": 1}, "b": {"x": 3, "y": 2}}
    warn = {"gate": "y:lt:2", "severity": "warning"}
    both = expflow_git.compare_scores(runs, sort_by="x", gates=[warn, "y:lt:2"])
    b = next(r for r in both.rows if r.id == "b")
    assert (b.failed, b.warnings, b.feasible) == (("y:lt:2 (2 not < 2)",), (), False)
    twice = {"gate": "y:lt:2.0", "severity": "warning"}
    warned = expflow_git.compare_scores(runs, sort_by="x", gates=[warn, twice])
    b = next(r for r in warned.rows if r.id == "b")
    assert (b.failed, b.warnings, b.feasible) == ((), ("y:lt:2 (2 not < 2)",), True)


def test_compare_scores_warning_gate_is_listed_but_never_reranks() -> None:
    runs = {"a": {"seg_total": 57.1, "pde_mean": 15.0}, "b": {"seg_total": 61.4, "pde_mean": 19.7}}
    warn = {"gate": "pde_mean:lt:18.09", "severity": "warning"}
    table = expflow_git.compare_scores(runs, sort_by="seg_total", gates=[warn])
    assert [(r.id, r.rank, r.feasible) for r in table.rows] == [("b", 1, True), ("a", 2, True)]
    assert (table.best_any, table.best_feasible) == ("b", "b")
    assert table.rows[0].failed == ()
    assert table.rows[0].warnings == ("pde_mean:lt:18.09 (19.7 not < 18.09)",)
    with pytest.raises(ValueError):
        expflow_git.compare_scores(runs, sort_by="seg_total", gates=[{"gate": "x", "severity": 1}])


def test_gate_scores() -> None:
    good = expflow_git.gate_scores([1, 2, 3, 4], [1.1, 2.1, 2.9, 4.2])
    assert good.passed and good.pearson is not None and good.pearson > 0.9 and good.reasons == ()
    bad = expflow_git.gate_scores([1, 2, 3, 4], [4, 3, 2, 1], min_pearson=0.3)
    assert (bad.passed, bad.pearson) == (False, -1.0) and "< 0.3" in bad.reasons[0]
    few = expflow_git.gate_scores([1, 2], [1, 2])
    assert not few.passed and few.pearson is None and "at least 3" in few.reasons[0]
    flat = expflow_git.gate_scores([1, 1, 1], [1, 2, 3])
    assert not flat.passed and "no variance" in flat.reasons[0]
    # Equal values whose float mean is not one of them: exact sums, still no variance
    # (r was 1.0 for both sides constant, 0.0 for one, which passed min_pearson <= 0).
    for xs, ys in (([0.1] * 3, [0.1] * 3), ([57.09] * 5, [1, 2, 3, 4, 5])):
        flat = expflow_git.gate_scores(xs, ys, min_pearson=-1.0)
        assert (flat.passed, flat.pearson) == (False, None) and "no variance" in flat.reasons[0]
    with pytest.raises(ValueError, match="one pair per run"):
        expflow_git.gate_scores([1, 2, 3], [1, 2])


def test_numeric() -> None:
    numeric = expflow_git.numeric
    assert [numeric(v) for v in ("5", "-0.5", "1e-3", "5.0")] == [5, -0.5, 0.001, 5]
    assert [numeric(v) for v in ("five", " 5", "nan", "1e999", True, None)] == [
        "five",
        " 5",
        "nan",
        "1e999",
        True,
        None,
    ]


def test_runs_where_uses_the_list_grammar_and_reader(exp_repo: ExpRepo) -> None:
    """`Repository.runs(where=…)` is `list --where`: the same reader, the same grammar."""
    root = exp_repo.path
    repo = expflow_git.Repository(root)
    repo.new("exp-001", study="s", params={"lr": "0.001", "sub_step": 5})
    repo.log_result("exp-001", {"seg_total": 57.0, "pde_mean": 15.0, "train_time_min": 45.0})
    repo.new("exp-002", study="s", params={"lr": "0.1", "sub_step": 5})
    repo.log_result("exp-002", {"seg_total": 61.0, "pde_mean": 15.0, "train_time_min": 45.0})
    picked = repo.runs(where="metrics.seg_total > 50 and params.lr <= 1e-3")
    assert [r.id for r in picked] == ["exp-001"]  # "0.001" compares as a number
    listed = run_cli(["list", "--where", "metrics.seg_total > 50 and params.lr <= 1e-3",
                      "--format", "json"], cwd=root)  # fmt: skip
    assert [r["id"] for r in json.loads(listed.out)["runs"]] == ["exp-001"]
    with pytest.raises(ValueError, match="column"):
        repo.runs(where="metrics.seg_total >")
    with pytest.raises(ValueError, match="seg_totl"):
        repo.runs(where="metrics.seg_totl > 1")


def test_a_series_within_the_caps_is_written(repo: Repository, exp_repo: ExpRepo) -> None:
    """Three metrics logged at 10,000 steps each (within the caps: 10,000 points a
    series, 50,000 a result) made a 1.3 MB result, over the 1 MiB document cap, and the
    finished run was marked failed: each point took five indented lines. A point is now
    one line (a user's hunt, issue 18 twenty-second pass)."""
    with repo.run("long", study=STUDY, params={"sub_step": 5}) as run:
        for step in range(10_000):
            run.log(step=step, seg_total=50.0 + step * 1e-4, pde_mean=15.0, train_time_min=45.5)
    assert repo.get("long").status is Status.SUCCESS
    path = exp_repo.path / exp_repo.res_path("long")
    text = path.read_text()
    assert len(text.encode()) < 1 << 20
    doc = json.loads(text)
    assert [len(points) for points in doc["series"].values()] == [10_000] * 3
    assert doc["series"]["seg_total"][1] == [1, 50.0001]
    assert "\n      [1, 50.0001],\n" in text  # one point a line
    assert run_cli(["validate"], cwd=exp_repo.path).code == 0


def test_a_bad_step_names_the_metrics_it_was_logged_with(repo: Repository) -> None:
    """docs/api.md: what log() refuses is a ValueError naming the metric; a bad step
    named only itself (a review, issue 18 twenty-seventh pass)."""
    with repo.run("named-steps", study=STUDY, params={"sub_step": 5}) as run:
        for step in ("3", -1, 50.0):
            with pytest.raises(ValueError, match=r"^step .* \(of 'seg_total'\): a step is"):
                run.log(step=step, seg_total=1.0)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^step '3' \(of no metric\): a step is"):
            run.log(step="3")  # type: ignore[arg-type]
        run.log(seg_total=57.0, pde_mean=15.0, train_time_min=45.5)
    assert repo.get("named-steps").status is Status.SUCCESS


def test_logging_a_series_reads_each_point_once(
    repo: Repository, exp_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The headline of a metric with a series was its whole series' aggregate again on
    every log() (five series of 10,000 steps: ~7 s; a hunt). Counted, not timed: the
    values the aggregate reads stay linear in the points, and the headline is still the
    series' aggregate (min here, last by default)."""
    from expflow_git.policy.model import Aggregate

    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    assert "pde_mean: {" in text
    policy.write_text(text.replace("pde_mean: {", "pde_mean: {aggregate: min, ", 1))
    real = Aggregate.of
    read: list[int] = []

    def counted(self: Aggregate, values: Sequence[float]) -> float:
        read.append(len(values))
        return real(self, values)

    monkeypatch.setattr(Aggregate, "of", counted)
    steps = 2_000
    with repo.run("long", study=STUDY, params={"sub_step": 5}) as run:
        for step in range(steps):
            run.log(step=step, seg_total=float(step), pde_mean=float((step * 7919) % 1000))
        run.log(train_time_min=45.5)
    assert sum(read) <= 4 * 2 * steps, sum(read)
    doc = _json(exp_repo.path / exp_repo.res_path("long"))
    assert doc["metrics"]["seg_total"] == steps - 1
    assert doc["metrics"]["pde_mean"] == min((s * 7919) % 1000 for s in range(steps))


def test_issue_19_primitives_through_the_api(repo: Repository, exp_repo: ExpRepo) -> None:
    """Series logged with steps, warning gates, every attempt, the Ladder and the holdout
    budget, as the API returns them (issue 19: every primitive through the Python API)."""
    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    assert "ranking:\n" in text and "walk_forward" not in text
    text = text.replace("ranking:\n", "ranking:\n  ladder_step: 1.0\n")
    text += (
        "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: 0.3,\n"
        "               max_evaluations_per_study: 1}\n"
    )
    policy.write_text(text)
    with repo.run("curve", study=STUDY, params={"sub_step": 5}) as run:
        for step, value in ((0, 30.0), (10, 50.0), (20, 57.09)):
            run.log(step=step, seg_total=value)
        run.log(pde_mean=15.0, train_time_min=45.5)
        run.log_split("holdout", seg_total=55.0)
    doc = _json(exp_repo.path / exp_repo.res_path("curve"))
    assert doc["series"] == {"seg_total": [[0, 30.0], [10, 50.0], [20, 57.09]]}
    assert doc["metrics"]["seg_total"] == 57.09  # the series' last point
    assert run_cli(["validate"], cwd=exp_repo.path).code == 0
    shown = run_cli(["show", "curve"], cwd=exp_repo.path)
    assert "seg_total" in shown.out.split("\nseries\n")[1].splitlines()[0]

    with pytest.raises(ValueError, match="step 5 follows step 5"):
        with repo.run("bad-steps", study=STUDY, params={"sub_step": 5}) as run:
            run.log(step=5, seg_total=1.0)
            run.log(step=5, seg_total=2.0)  # a step must increase (refused as it is logged)
            run.log(pde_mean=15.0, train_time_min=45.5)
    assert repo.get("bad-steps").status is Status.FAILED
    assert not (exp_repo.path / exp_repo.res_path("bad-steps")).exists()
    with pytest.raises(ValueError, match="step"):
        with repo.run("neg", study=STUDY, params={"sub_step": 5}) as run:
            run.log(step=-1, seg_total=1.0)

    exp_repo.commit("the curve first")
    repo.new("late", study=STUDY, params={"sub_step": 5})
    with pytest.warns(UserWarning, match="over the policy's holdout budget of 1"):  # (said)
        repo.log_result("late", {"seg_total": 57.5, "pde_mean": 15.0, "train_time_min": 45.5},
                        splits={"holdout": {"seg_total": 55.5}})  # fmt: skip
    exp_repo.commit("a later run, a second holdout look")
    board = repo.rank(gates=[{"gate": "pde_mean:lt:14", "severity": "warning"}])
    assert all(r.feasible for r in board.rows) and board.rows[0].warnings
    assert board.attempts[STUDY]["failed"] == 2 and board.attempts[STUDY]["success"] == 2
    audit = repo.audit()
    assert audit.attempts[STUDY] == board.attempts[STUDY]
    # The Ladder: "late" beats "curve" by 0.41 < η = 1: the board's top is not a new rung.
    assert (audit.best_feasible, audit.best_ladder) == ("late", "curve")
    # Two results carry the holdout split, the budget allows one: the audit fails.
    assert audit.holdout is not None and audit.holdout["max"] == 1
    assert not audit.passed


def test_key_files_may_be_given_as_paths(
    repo: Repository, exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """`verify(allowed_signers=Path(…))` worked and the first argument check refused it
    (review); `audit(sign_key=Path(…))` was an AttributeError. Paths are taken, as the
    report's own path is."""
    repo.new("fast", study=STUDY, params={"sub_step": "5"})
    repo.log_result("fast", {"seg_total": 50.0, "pde_mean": 12.0, "train_time_min": 20})
    exp_repo.commit("runs")
    key = tmp_path / "ci-key"
    code, _, err = run_cli(["keygen", "--out", str(key)], cwd=tmp_path)
    assert code == 0, err
    signed = repo.audit(report=True, sign_key=key)
    assert signed.report is not None
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'ci namespaces="expflow-git" {(tmp_path / "ci-key.pub").read_text()}')
    verdict = repo.verify(signed.report, allowed_signers=signers)
    assert verdict.ok and [s.split()[0] for s in verdict.signers] == ["ci"], verdict.lines
    assert repo.verify(signed.report, public_keys=[tmp_path / "ci-key.pub"]).ok


def _aggregated(exp_repo: ExpRepo, name: str, aggregate: str) -> None:
    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    entry = f"  {name}: {{group: Loss, higher_is_better: false, type: scalar}}"
    assert entry in text
    policy.write_text(text.replace(entry, entry[:-1] + f", aggregate: {aggregate}}}"))


@pytest.mark.parametrize(
    ("log", "message"),
    [
        (lambda run: run.log(train_time_min=2**60), "'train_time_min': 1152921504606846976 is a"),
        (lambda run: run.log(train_time_min=-1), "'train_time_min': -1 is below its min 0"),
        (lambda run: run.log(seg_total=2.0**53), "too large to compare exactly"),
        (lambda run: run.log_split("holdout", train_time_min=-2), "-2 is below its min 0"),
        (lambda run: run.log(step=2**53, val_mse=1.0), "below 2^53"),
        (lambda run: run.log(step=-1, val_mse=1.0), "below 2^53"),
        (
            lambda run: (run.log(step=0, val_mse=1.0), run.log(step=0, val_mse=1.0)),
            "metric 'val_mse': step 0 follows step 0",
        ),
        (
            lambda run: (run.log(step=3, val_mse=1.0), run.log(step=2, val_mse=1.0)),
            "metric 'val_mse': step 2 follows step 3",
        ),
        (lambda run: run.log_split("holdout"), "split 'holdout': give it at least one metric"),
        (
            lambda run: (
                run.log(step=0, val_mse=2.0),
                run.log(step=1, val_mse=1.0),
                run.log(val_mse=2.0),
            ),  # fmt: skip
            "2 is not its series' min value 1",
        ),
    ],
    ids=[
        "2**60",
        "below-min",
        "2**53",
        "split-min",
        "step-2**53",
        "step-neg",
        "same-step",
        "decreasing-step",
        "empty-split",
        "headline",
    ],  # fmt: skip
)
def test_log_refuses_at_once_what_the_policy_refuses(
    repo: Repository, exp_repo: ExpRepo, log: object, message: str
) -> None:
    """These were taken by log() and refused only at the end of the `with` block: the run
    was marked failed and every metric logged was lost (a user's hunt, issue 18
    twenty-seventh pass). A ValueError naming it now, as logged: nothing of that call is
    kept, and a caller that catches it finishes the run with what it logged before."""
    _aggregated(exp_repo, "val_mse", "min")
    with repo.run("exp-001", study=STUDY, params={"sub_step": 5}) as run:
        run.log(**SEED)
        with pytest.raises(ValueError, match=re.escape(message)):
            log(run)  # type: ignore[operator]
    done = repo.get("exp-001")
    assert done.status is Status.SUCCESS
    assert done.metrics["train_time_min"] == SEED["train_time_min"]
    assert "holdout" not in done.splits


def test_log_refuses_a_point_over_the_series_caps_at_once(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A series over its cap was refused at the end of the block, every metric lost."""
    import expflow_git.series

    monkeypatch.setattr(expflow_git.series, "MAX_SERIES_POINTS", 3)
    monkeypatch.setattr(expflow_git.series, "MAX_DOCUMENT_POINTS", 6)
    with repo.run("exp-001", study=STUDY, params={"sub_step": 5}) as run:
        run.log(**SEED)
        for step in range(3):
            run.log(step=step, val_mse=1.0, val_relmse=1.0)
        with pytest.raises(ValueError, match="'val_mse': its series has 3 points, the cap"):
            run.log(step=3, val_mse=1.0)
        with pytest.raises(ValueError, match="would hold 7 points, over the cap of 6"):
            run.log(step=0, seg1=1.0)
    assert repo.get("exp-001").status is Status.SUCCESS


@pytest.mark.parametrize("bad", [123, None, b"x"], ids=["int", "none", "bytes"])
def test_get_refuses_an_id_that_is_not_text(repo: Repository, bad: object) -> None:
    """docs/api.md: an id that is not text is a ValueError, as `start(123)` raises; `get`
    raised KeyError (issue 18 twenty-eighth pass). Text with no record stays a KeyError."""
    with repo.run("exp-001", study=STUDY) as run:
        run.log(**SEED)
    with pytest.raises(ValueError, match="id: give the run's id as text"):
        repo.get(bad)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        repo.get("exp-404")
