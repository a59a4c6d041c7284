"""The record writers and the run lifecycle, from the CLI and the Python API, against the
hooks, from a hunt (issue 18 thirty-ninth pass): what `result`, `log_result` and `run()`
write, the hooks must accept (or the writer says the hook will refuse it, as `new` says of
the runs budget); what the CLI refuses, the API refuses; a PIN `new` refuses in a title,
`run()` refuses too."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from conftest import ExpRepo, experiment_doc
from support import CliResult, git_init, run_cli, run_cli_code

import expflow_git
from expflow_git import ExpflowError

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
METRICS = ["--metric", "seg_total=1", "--metric", "pde_mean=1", "--metric", "train_time_min=1"]
HOLDOUT = ["--split", "holdout", "--metric", "seg_total=1"]


def cli(repo: ExpRepo, *args: str) -> CliResult:
    return run_cli(list(args), repo.path)


def files(repo: ExpRepo) -> dict[str, bytes]:
    """Every file of the work tree but git's, with its bytes."""
    return {
        p.relative_to(repo.path).as_posix(): p.read_bytes()
        for p in sorted(repo.path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo.path).parts
    }


def validated(repo: ExpRepo) -> CliResult:
    """`git add -A`, then the validate hook on the index."""
    repo.git("add", "-A")
    return cli(repo, "validate", "--staged")


# ------------------------------------------------------------------ the PIN in a title
def test_run_refuses_the_pin_in_its_title_as_new_does(
    committed_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`new --title` and `Repository.new(title=)` refuse a title holding $EXPFLOW_PIN's PIN
    alone (docs/spec.md §5: "a reason the command writes (…; also fail's, and new's
    reason and title) in which a PIN it knows stands alone … is refused (exit 2, nothing
    written)"); `Repository.run(title=)` writes the record `new` writes, and wrote the
    PIN into it: the scan cannot tell four digits alone from a number, so the hooks
    passed it and the PIN was committed."""
    monkeypatch.setenv("EXPFLOW_PIN", PIN)
    repo = expflow_git.Repository(committed_repo.path)
    before = files(committed_repo)
    with pytest.raises(ExpflowError) as new_refused:
        repo.new("t1", study="s", params={"sub_step": 1}, title=f"approved {PIN}")
    assert new_refused.value.code == 2
    with pytest.raises(ExpflowError) as refused:
        with repo.run("t2", study="s", params={"sub_step": 1}, title=f"approved {PIN}") as run:
            run.log(seg_total=1, pde_mean=1, train_time_min=1)
    assert refused.value.code == 2, refused.value
    assert "title holds the PIN" in str(refused.value)
    assert PIN not in str(refused.value)
    assert files(committed_repo) == before


def test_new_names_a_title_that_is_not_text_with_the_pin_set(
    committed_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Repository.new(title=5)` is the ValueError docs/api.md promises for an argument of
    the wrong kind; with $EXPFLOW_PIN set it was a TypeError from the search for the PIN
    in it (`expected string or bytes-like object`), which ran before the title's check."""
    monkeypatch.setenv("EXPFLOW_PIN", PIN)
    repo = expflow_git.Repository(committed_repo.path)
    for title in (5, b"x"):
        with pytest.raises(ValueError, match="^title: give text"):
            repo.new("t1", study="s", title=title)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="^title: give text"):
            with repo.run("t2", study="s", title=title):  # type: ignore[arg-type]
                pass
    assert not (committed_repo.path / "experiments/s").exists()


# ------------------------------------------------------------------ the holdout budget
def _holdout_budget(repo: ExpRepo, limit: int) -> None:
    policy = repo.path / "expflow.yaml"
    policy.write_text(
        policy.read_text() + "walk_forward: {metric: seg_total, split: holdout, top_n: 10, "
        f"min_pearson: 0.3, max_evaluations_per_study: {limit}}}\n"
    )
    repo.commit("holdout budget")


def test_result_warns_when_a_holdout_look_takes_the_budget_over(committed_repo: ExpRepo) -> None:
    """`new` warns when a record takes the runs budget over, and `import` when its results
    take the holdout budget over (`walk_forward.max_evaluations_per_study`); `result
    --split holdout` wrote the look over that budget without a word, exit 0, marking the
    run `success`, and the commit's own validate hook then refused it
    (`holdout-budget-exceeded`). It is written all the same and said, in one line."""
    _holdout_budget(committed_repo, 1)
    for exp_id in ("h1", "h2", "h3"):
        assert cli(committed_repo, "new", exp_id, "--study", "s", "--param", "sub_step=1").code == 0
    first = cli(committed_repo, "result", "h1", *METRICS, *HOLDOUT)
    assert first.code == 0 and first.err == "", first
    no_look = cli(committed_repo, "result", "h2", *METRICS)  # no holdout split: no look
    assert no_look.code == 0 and no_look.err == "", no_look
    second = cli(committed_repo, "result", "h3", *METRICS, *HOLDOUT)
    assert second.code == 0, second
    assert (committed_repo.path / "results/s/h3.json").is_file()
    assert second.err.splitlines() == [
        "expflow-git result: warning: results/s/h3.json: study s will have 2 result(s) "
        "carrying the holdout split 'holdout', over the policy's holdout budget of 1 "
        "(walk_forward.max_evaluations_per_study); the hook and the audit will refuse it"
    ], second
    hook = validated(committed_repo)
    assert hook.code == 1 and "holdout-budget-exceeded" in hook.out, hook


def test_log_result_and_run_warn_of_the_holdout_budget_as_result_does(
    committed_repo: ExpRepo,
) -> None:
    """The Python API's writes of a result said nothing either: a UserWarning now, at the
    caller's line, the result written."""
    _holdout_budget(committed_repo, 1)
    repo = expflow_git.Repository(committed_repo.path)
    scores = {"seg_total": 1, "pde_mean": 1, "train_time_min": 1}
    repo.new("h1", study="s", params={"sub_step": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repo.log_result("h1", scores, splits={"holdout": {"seg_total": 1}})  # within it
    repo.new("h2", study="s", params={"sub_step": 1})
    with pytest.warns(UserWarning, match="study s will have 2 result") as said:
        repo.log_result("h2", scores, splits={"holdout": {"seg_total": 1}})
    assert said[0].filename == __file__
    with pytest.warns(UserWarning, match="study s will have 3 result") as said:
        with repo.run("h3", study="s", params={"sub_step": 1}) as run:
            run.log(**scores)
            run.log_split("holdout", seg_total=1)
    assert said[0].filename == __file__
    assert repo.get("h3").status.value == "success"


# ------------------------------------------------------- a record rewritten over the cap
def test_result_refuses_a_record_its_rewrite_takes_over_the_cap(committed_repo: ExpRepo) -> None:
    """`start`, `fail` and `cancel` check the record they rewrite; `result` did not check
    the record it marks `success`: a valid record written compact (by hand or another
    tool) just under the 1 MiB cap went over it once indented, and the validate hook then
    refused the record and its result (`result-without-record`). Refused now, exit 1,
    nothing written."""
    params = {f"p{i}": "x" * 1035 for i in range(998)} | {"sub_step": 1}
    doc = experiment_doc("big", study="s", status="pending", params=params)
    committed_repo.write("experiments/s/big.json", json.dumps(doc, separators=(",", ":")))
    assert cli(committed_repo, "validate", "experiments/s/big.json").code == 0
    before = files(committed_repo)
    res = cli(committed_repo, "result", "big", *METRICS)
    assert res.code == 1, res
    assert res.err.startswith("expflow-git: error: experiments/s/big.json: invalid-json: "), res
    assert "over the 1048576-byte cap" in res.err and res.err.count("\n") == 1, res
    assert files(committed_repo) == before
    with pytest.raises(ExpflowError) as refused:
        expflow_git.Repository(committed_repo.path).log_result(
            "big", {"seg_total": 1, "pde_mean": 1, "train_time_min": 1}
        )
    assert refused.value.code == 1
    assert files(committed_repo) == before


# ---------------------------------------------------------------- a result of no metric
def test_the_api_writes_no_result_of_no_metric_as_the_cli_writes_none(
    committed_repo: ExpRepo,
) -> None:
    """`result ID` with no `--metric` is refused ("give at least one --metric"); under a
    policy that requires no metric, `log_result(id, {})` and a `run()` block that logged
    nothing wrote a result of `"metrics": {}` and marked the run `success`: a write-once
    result showing nothing. A ValueError now, nothing written; the block's run is marked
    failed, as for any metric refused at its end."""
    policy = committed_repo.path / "expflow.yaml"
    text = policy.read_text()
    assert "required_metrics: [seg_total, pde_mean, train_time_min]\n" in text
    policy.write_text(text.replace("required_metrics: [seg_total, pde_mean, train_time_min]\n", ""))
    committed_repo.commit("no required metric")
    assert cli(committed_repo, "result", "x").code == 2  # (the CLI's refusal)
    repo = expflow_git.Repository(committed_repo.path)
    repo.new("e1", study="s", params={"sub_step": 1})
    with pytest.raises(ValueError, match="^metrics: give at least one metric"):
        repo.log_result("e1", {})
    assert repo.get("e1").status.value == "pending"
    with pytest.raises(ValueError, match="^metrics: give at least one metric"):
        with repo.run("e2", study="s", params={"sub_step": 1}):
            pass
    assert repo.get("e2").status.value == "failed"
    assert not (committed_repo.path / "results").exists() or not any(
        (committed_repo.path / "results").rglob("*.json")
    )
    assert validated(committed_repo).code == 0


# ------------------------------------------------- run(): an exception as it begins
def test_run_marks_the_run_failed_when_its_budget_warning_is_an_error(tmp_path: Path) -> None:
    """`run()` of a run that takes the runs budget over warns (`new` does, this pass); the
    warning was given as the record was written `running`, before the block's `try`:
    under warnings as errors (`python -W error`, pytest's `filterwarnings = error`) the
    UserWarning was raised there and the run stayed `running` for good (docs/spec.md §4:
    "an exception … marks the run `failed` … any exception"), a second `run` of it
    refused. The warning is given inside the `try` now: the run is marked failed."""
    root = git_init(tmp_path / "repo")
    assert run_cli(["init"], root).code == 0
    policy = root / "expflow.yaml"
    policy.write_text(policy.read_text() + "budget: {max_runs_per_study: 1}\n")
    repo = expflow_git.Repository(root)
    repo.new("a1", study="s")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="over the policy's budget of 1"):
            with repo.run("a2", study="s") as run:
                run.log(accuracy=0.5)
    failed = repo.get("a2")
    assert failed.status.value == "failed", failed
    assert failed.reason is not None and failed.reason.startswith("UserWarning: ")
    assert failed.result_path is None
    # Shown, not raised, the warning points at the caller's `with` line, the run written.
    with pytest.warns(UserWarning, match="will have 3 runs") as said:
        with repo.run("a3", study="s") as run:
            run.log(accuracy=0.5)
    assert said[0].filename == __file__
    assert repo.get("a3").status.value == "success"


# `python -c RUN_INTERRUPTED SUFFIX FUNC`: `Repository.run("x", study="s")` in the current
# folder, with SIGINT sent to this process right after the first os.FUNC (link: a new
# record; replace: a pending record started) whose target ends with SUFFIX; prints the
# record's status and reason.
RUN_INTERRUPTED = """
import json, os, signal, sys
suffix, name = sys.argv[1:3]
real = getattr(os, name)
sent = []
def hooked(*args, **kwargs):
    answer = real(*args, **kwargs)
    if not sent and os.fspath(args[1]).endswith(suffix):
        sent.append(True)
        os.kill(os.getpid(), signal.SIGINT)
    return answer
setattr(os, name, hooked)
import expflow_git
repo = expflow_git.Repository(".")
try:
    with repo.run("x", study="s", params={"sub_step": 1}):
        print("the block ran")
except KeyboardInterrupt:
    print("KeyboardInterrupt")
doc = json.load(open("experiments/s/x.json"))
print(doc["status"], doc.get("reason"))
"""


@pytest.mark.parametrize("pending", [False, True])
def test_a_ctrl_c_as_run_writes_its_record_marks_the_run_failed(
    committed_repo: ExpRepo, pending: bool
) -> None:
    """A Ctrl-C that came once `run()` had written the record `running` (or started the
    pending one), before its block's `try`, left the run `running`: the exception went
    on, the record said a run was going that no process ran, and a second `run` of the
    id was refused. The run is marked failed, its reason the KeyboardInterrupt."""
    if pending:
        assert cli(committed_repo, "new", "x", "--study", "s", "--param", "sub_step=1").code == 0
    func = "replace" if pending else "link"
    code, out, err = run_cli_code(RUN_INTERRUPTED, ["s/x.json", func], committed_repo.path)
    assert code == 0, err
    assert out.splitlines() == ["KeyboardInterrupt", "failed KeyboardInterrupt"], (out, err)
    assert "Traceback" not in err
