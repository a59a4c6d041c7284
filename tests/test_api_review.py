"""A review of the Python API (issue 16, items 1-4) as a new user and as an attacker would
use it: the `run()` context manager's edges (interrupts, exceptions that cannot be
printed, logging after the block, the same id twice), values that are not finite
numbers, tags and gates given as one string, ids and links that lead out of the work
tree, and which strings count as numbers (docs/spec.md §3). Each test names the defect
it guards against."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import PROJECT, CliCall, ExpRepo, assert_clean_output, experiment_doc, run_cli

import expflow_git
from expflow_git import ExpflowError, Repository, Status

pytestmark = pytest.mark.usefixtures("isolated_env")

STUDY = "pdebench-task1"
SEED = {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}


@pytest.fixture
def repo(exp_repo: ExpRepo) -> Repository:
    return Repository(exp_repo.path)


def _record(exp_repo: ExpRepo, exp_id: str) -> dict:
    return json.loads((exp_repo.path / exp_repo.exp_path(exp_id)).read_text())


def _validates(exp_repo: ExpRepo) -> None:
    """What the API wrote passes the validate hook."""
    exp_repo.stage()
    code, out, err = run_cli(["validate", "--staged"], cwd=exp_repo.path)
    assert code == 0, out + err


# ------------------------------------------------------------------ run(): the failure path
class _Unprintable(Exception):
    def __str__(self) -> str:
        raise ValueError("__str__ is broken")


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        # A lone surrogate: an OSError about a file name that is not UTF-8. Writing it
        # raised UnicodeEncodeError, which replaced the exception and left the run running.
        (OSError("cannot open b'\udcff.pt'"), "OSError: cannot open b'\\udcff.pt'"),
        # A broken __str__ raised from the except block, with the same effect.
        (_Unprintable(), "_Unprintable: <the exception's message could not be read>"),
        (KeyboardInterrupt(), "KeyboardInterrupt"),
        (SystemExit(3), "SystemExit: 3"),
    ],
    ids=["surrogate", "broken-str", "keyboard-interrupt", "system-exit"],
)
def test_run_marks_failed_and_reraises_the_same_exception(
    repo: Repository, exp_repo: ExpRepo, exc: BaseException, reason: str
) -> None:
    with pytest.raises(BaseException) as caught:
        with repo.run("exp-001", study=STUDY, params={"sub_step": 1}) as run:
            run.log(**SEED)
            raise exc
    assert caught.value is exc  # never replaced by an error of our own
    doc = _record(exp_repo, "exp-001")
    assert (doc["status"], doc["reason"]) == ("failed", reason)
    assert not (exp_repo.path / exp_repo.res_path()).exists()
    _validates(exp_repo)


def test_a_huge_exception_message_is_cut_to_the_schema_limit(
    repo: Repository, exp_repo: ExpRepo
) -> None:
    with pytest.raises(RuntimeError):
        with repo.run("exp-001", study=STUDY, params={"sub_step": 1}):
            raise RuntimeError("x" * 5000)
    reason = _record(exp_repo, "exp-001")["reason"]
    assert len(reason) == expflow_git.documents.REASON_MAX_LENGTH and reason.endswith("…")
    _validates(exp_repo)


def test_the_reason_limit_is_the_schemas() -> None:
    from expflow_git.documents import REASON_MAX_LENGTH

    schema = json.loads((PROJECT / "schemas/experiment.schema.json").read_text())
    assert schema["properties"]["reason"]["maxLength"] == REASON_MAX_LENGTH


# ------------------------------------------------------------------ run(): edges
def test_logging_after_the_block_is_refused(repo: Repository, exp_repo: ExpRepo) -> None:
    """It was accepted and silently lost: the result had been written."""
    with repo.run("exp-001", study=STUDY, params={"sub_step": 1}) as run:
        run.log(**SEED)
    with pytest.raises(RuntimeError, match="has finished"):
        run.log(seg_total=99.0)
    with pytest.raises(RuntimeError, match="has finished"):
        run.log_split("holdout", seg_total=1.0)
    assert repo.get("exp-001").metrics == SEED


def test_the_same_id_inside_its_own_run_is_refused(repo: Repository, exp_repo: ExpRepo) -> None:
    """Nested runs of one id: the inner one is refused on entry (the run is running), the
    outer one fails with that error; no result is written."""
    with pytest.raises(ExpflowError, match="only a pending experiment can be started"):
        with repo.run("exp-001", study=STUDY, params={"sub_step": 1}) as outer:
            outer.log(**SEED)
            with repo.run("exp-001"):
                pass
    run = repo.get("exp-001")
    assert run.status is Status.FAILED and run.result_path is None
    assert run.reason is not None and run.reason.startswith("ExpflowError: ")


def test_nested_runs_of_two_ids_are_independent(repo: Repository) -> None:
    with pytest.raises(RuntimeError):
        with repo.run("outer", study=STUDY, params={"sub_step": 1}) as outer:
            with repo.run("inner", study=STUDY, params={"sub_step": 2}) as inner:
                inner.log(**SEED)
            outer.log(seg_total=1.0)
            raise RuntimeError("boom")
    assert repo.get("inner").status is Status.SUCCESS
    assert repo.get("outer").status is Status.FAILED


def test_a_run_with_a_result_is_left_alone(repo: Repository, exp_repo: ExpRepo) -> None:
    with repo.run("exp-001", study=STUDY, params={"sub_step": 1}) as run:
        run.log(**SEED)
    before = {
        p: (exp_repo.path / p).read_bytes() for p in (exp_repo.exp_path(), exp_repo.res_path())
    }
    with pytest.raises(ExpflowError, match="status is 'success'") as caught:
        with repo.run("exp-001") as run:
            run.log(seg_total=1.0)
    assert caught.value.code == 1
    assert {p: (exp_repo.path / p).read_bytes() for p in before} == before


@pytest.mark.parametrize("record", ["deleted", "pending"])
def test_a_run_whose_result_exists_is_refused_before_its_block(
    repo: Repository, exp_repo: ExpRepo, record: str
) -> None:
    """A result in the work tree whose record was deleted by hand (or a pending record
    beside a result): `run()` ran the whole block, was refused at its end, and left the
    record `running`, which `validate` refuses (a user's hunt). Refused at entry now,
    nothing changed."""
    repo.new("exp-001", study=STUDY, params={"sub_step": 1})
    repo.log_result("exp-001", SEED)
    exp = exp_repo.path / exp_repo.exp_path()
    if record == "deleted":
        exp.unlink()
    else:
        doc = _record(exp_repo, "exp-001")
        exp.write_text(json.dumps({**doc, "status": "pending"}, indent=2) + "\n")
    before = _snapshot(exp_repo.path)
    entered = []
    with pytest.raises(ExpflowError, match="has a result already") as caught:
        with repo.run("exp-001", study=STUDY, params={"sub_step": 1}) as run:
            entered.append(run)
            run.log(**SEED)
    assert caught.value.code == 1 and not entered
    assert caught.value.message.startswith(exp_repo.res_path())
    assert _snapshot(exp_repo.path) == before


def test_a_result_written_by_another_during_the_block_is_not_the_runs(
    repo: Repository, exp_repo: ExpRepo
) -> None:
    """A result that appears while the block runs (another process wrote it): the run's
    own result is refused, and the run was left `running` in silence, the result there
    taken for its own. It is marked failed now, which a run with a result cannot be
    (lifecycle): the warning says so."""
    with (
        pytest.raises(ExpflowError, match="write-once"),
        pytest.warns(UserWarning, match="'exp-001' could not be marked failed: .* has a result"),
    ):
        with repo.run("exp-001", study=STUDY, params={"sub_step": 1}) as run:
            run.log(**SEED)
            result = exp_repo.path / exp_repo.res_path()
            result.parent.mkdir(parents=True, exist_ok=True)
            result.write_text(json.dumps({"experiment": "exp-001"}))


def test_write_once_is_exit_1_from_the_api_as_from_the_cli(repo: Repository) -> None:
    """The API said 2 (usage) where `expflow-git result` says 1 (the data fails)."""
    repo.new("exp-001", study=STUDY, params={"sub_step": 1})
    repo.log_result("exp-001", SEED)
    with pytest.raises(ExpflowError, match="write-once") as caught:
        repo.log_result("exp-001", SEED)
    assert caught.value.code == 1


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("value", [10**400, -(10**400)], ids=["huge", "-huge"])
def test_an_int_too_large_for_a_double_is_a_value_error(repo: Repository, value: int) -> None:
    """math.isfinite(10**400) raises OverflowError; it leaked from log() and the seeds'."""
    repo.new("exp-001", study=STUDY, params={"sub_step": 1})
    with pytest.raises(ValueError, match="seg_total.*not a finite number"):
        repo.log_result("exp-001", {**SEED, "seg_total": value})
    with pytest.raises(ValueError, match="not a finite number"):
        with repo.run("exp-002", study=STUDY, params={"sub_step": 1}) as run:
            run.log(seg_total=value)
    assert repo.get("exp-002").status is Status.FAILED
    with pytest.raises(ValueError, match="seg_total"):
        expflow_git.validate_competition_rules(task_metrics={"seg_total": value}, task_params={})
    with pytest.raises(ValueError, match="not a finite number"):
        expflow_git.compare_scores({"a": {"seg_total": value}}, sort_by="seg_total")
    with pytest.raises(ValueError, match="not a finite number"):
        expflow_git.gate_scores([value, 1, 2], [1, 2, 3])


def test_tags_given_as_one_string_are_refused(repo: Repository, exp_repo: ExpRepo) -> None:
    """tags="fno" was written as ["f", "n", "o"]."""
    with pytest.raises(ValueError, match="list of strings"):
        repo.new("exp-001", study=STUDY, tags="fno")
    with pytest.raises(ValueError, match="list of strings"):
        with repo.run("exp-002", study=STUDY, tags="fno"):
            pass
    with pytest.raises(ValueError, match="tags are strings"):
        repo.new("exp-003", study=STUDY, tags=[1])  # type: ignore[list-item]
    assert not (exp_repo.path / "experiments").exists() or not any(
        (exp_repo.path / "experiments").rglob("*.json")
    )
    assert repo.new("exp-004", study=STUDY, tags=["fno", "a"]).tags == ("fno", "a")


# ------------------------------------------------------------------ the seeds' functions
@pytest.mark.parametrize("bound", [float("nan"), 1.5, -2, True, "0.3", float("inf")])
def test_gate_scores_refuses_a_bound_that_is_not_a_correlation(bound: object) -> None:
    """min_pearson=nan passed every pair of lists, even perfectly anti-correlated ones."""
    with pytest.raises(ValueError, match="min_pearson"):
        expflow_git.gate_scores([1, 2, 3], [3, 2, 1], min_pearson=bound)  # type: ignore[arg-type]


def test_gate_scores_refuses_values_it_cannot_correlate_exactly() -> None:
    """1e308 overflowed the sums of squares: OverflowError, not a ValueError."""
    with pytest.raises(ValueError, match="2\\*\\*53"):
        expflow_git.gate_scores([1e308, -1e308, 1e308], [1, 2, 3])


def test_compare_scores_refuses_what_it_would_misread() -> None:
    runs = {"a": {"x": 1.0}}
    with pytest.raises(ValueError, match="list of 'metric:op:value'"):
        expflow_git.compare_scores(runs, sort_by="x", gates="x:lt:5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="malformed"):  # was an AttributeError
        expflow_git.compare_scores(runs, sort_by="x", gates=[None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="run ids are strings"):  # were two rows named "1"
        expflow_git.compare_scores({1: {"x": 1.0}, "1": {"x": 2.0}}, sort_by="x")  # type: ignore[dict-item]


def test_the_seeds_functions_name_what_they_cannot_read(tmp_path: Path) -> None:
    """FileNotFoundError, IsADirectoryError, AttributeError and TypeError escaped from
    these (an attacker's hunt)."""
    for policy in (tmp_path / "none.yaml", tmp_path):
        with pytest.raises(ExpflowError, match="cannot read policy") as caught:
            expflow_git.validate_competition_rules(task_metrics={}, task_params={}, policy=policy)
        assert caught.value.code == 2
    runs = {"a": {"x": 1.0}}
    with pytest.raises(ValueError, match="runs: give a mapping"):
        expflow_git.compare_scores([("a", {"x": 1.0})], sort_by="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metrics: give a mapping of names to numbers"):
        expflow_git.compare_scores({"a": 5}, sort_by="x")  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="gates: give a list"):
        expflow_git.compare_scores(runs, sort_by="x", gates=None)  # type: ignore[arg-type]
    # A review: "False" sorted ascending; a misspelt metric ranked no run, silently.
    with pytest.raises(ValueError, match="ascending: 'False' is not True or False"):
        expflow_git.compare_scores(runs, sort_by="x", ascending="False")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no run has a metric 'y'; the closest known name is 'x'"):
        expflow_git.compare_scores(runs, sort_by="y")
    with pytest.raises(ValueError, match="train: give a list of numbers"):
        expflow_git.gate_scores(None, [1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="holdout: give a list of numbers"):
        expflow_git.gate_scores([1.0, 2.0, 3.0], "abc")  # type: ignore[arg-type]


def test_numpy_integers_are_numbers_as_numpy_floats_are(repo: Repository) -> None:
    """A sweep's `np.int64` step or param was refused ("a step is a non-negative integer",
    "is not a string, number or bool") where its `np.float64` values were taken (an
    attacker's hunt). They are written as the plain numbers they are."""
    np = pytest.importorskip("numpy")
    repo.new("exp-001", study=STUDY, params={"sub_step": np.int64(3), "lr": np.float32(0.5)})
    assert repo.get("exp-001").params == {"sub_step": 3, "lr": 0.5}
    # A seed or replicate from a NumPy grid (a review: "int64 is not JSON serializable").
    assert repo.new("exp-003", study=STUDY, seed=np.int64(7)).seed == 7
    assert repo.new("exp-004", study=STUDY, replicate=np.int64(1)).status is Status.PENDING
    with repo.run("exp-001", params={"sub_step": 3, "lr": 0.5}) as run:
        run.log(step=np.int64(3), **SEED)
        run.log(step=np.uint8(7), **SEED)
    assert repo.get("exp-001").status is Status.SUCCESS
    with pytest.raises(ValueError, match="parameter 'lr'"):
        repo.new("exp-002", study=STUDY, params={"lr": np.float32("nan")})


@pytest.mark.parametrize("given", [5.0, "float64", "5", True], ids=["float", "np", "text", "bool"])
@pytest.mark.parametrize("what", ["seed", "replicate"])
def test_a_seed_or_replicate_that_is_no_integer_is_a_value_error(
    repo: Repository, exp_repo: ExpRepo, what: str, given: object
) -> None:
    """`seed=5.0` (`np.float64(5)` too) was written as `"seed": 5.0`, and a reader's
    `np.random.seed(5.0)` failed; `seed="5"` and `seed=True` were the schema's
    ExpflowError (a user's hunt, issue 18 twenty-seventh pass). A ValueError naming it
    now, nothing written."""
    if given == "float64":
        given = pytest.importorskip("numpy").float64(5)
    with pytest.raises(ValueError, match=f"^{what}: .* is not an integer$"):
        repo.new("exp-001", study=STUDY, **{what: given})  # type: ignore[arg-type]
    assert not (exp_repo.path / exp_repo.exp_path("exp-001")).exists()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # A user's hunt (issue 18 twenty-seventh pass): an id of the wrong kind was the
        # ExpflowError of an invalid id; the API's missing reason named the CLI's option;
        # an integer too long to write was Python's own error, naming no parameter.
        (lambda r: r.run(123, study=STUDY).__enter__(), "id: give the run's id as text, not 123"),
        (lambda r: r.run(None, study=STUDY).__enter__(), "id: give the run's id as text, not None"),
        (lambda r: r.run(b"x", study=STUDY).__enter__(), "id: give the run's id as text, not b'x'"),
        (lambda r: r.new(5, study=STUDY), "id: give the run's id as text, not 5"),
        (lambda r: r.log_result(None, SEED), "id: give the run's id as text, not None"),
        (lambda r: r.start(1), "id: give the run's id as text, not 1"),
        (lambda r: r.fail(1, "x"), "id: give the run's id as text, not 1"),
        (lambda r: r.new("a", study=STUDY, status="failed"), "reason: status 'failed' needs a"),
        (lambda r: r.new("a", study=STUDY, status="skipped", reason=" "), "status 'skipped' needs"),
        (lambda r: r.new("a", study=STUDY, reason="x"), "reason: status 'pending' takes none"),
        (lambda r: r.new("a", study=STUDY, params={"h": 10**5000}), "parameter 'h': an integer"),
        (
            lambda r: r.run("a", study=STUDY, params={"h": -(10**5000)}).__enter__(),
            "parameter 'h': an integer of more than",
        ),
    ],
)
def test_arguments_of_the_wrong_kind_are_value_errors(
    repo: Repository, exp_repo: ExpRepo, call: object, message: str
) -> None:
    before = _snapshot(exp_repo.path)
    with pytest.raises(ValueError, match=re.escape(message)):
        call(repo)  # type: ignore[operator]
    assert _snapshot(exp_repo.path) == before


def test_numpy_bools_are_params_as_numpy_numbers_are(repo: Repository) -> None:
    """`np.bool_(True)` was refused ("is not a string, number or bool") where NumPy's
    integers and floats were taken (a user's hunt, issue 18 twenty-seventh pass); it is
    written as the bool it is, and run() on the record compares it as one."""
    np = pytest.importorskip("numpy")
    assert repo.new("exp-001", study=STUDY, params={"amp": np.bool_(True)}).params == {"amp": True}
    with repo.run("exp-001", params={"amp": np.True_}) as run:
        run.log(**SEED)
    assert repo.get("exp-001").status is Status.SUCCESS


def test_validate_competition_rules_checks_its_params() -> None:
    metrics = dict(SEED)
    with pytest.raises(ValueError, match="names are strings"):  # was an AttributeError
        expflow_git.validate_competition_rules(task_metrics=metrics, task_params={5: "5"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="parameter 'sub_step'"):
        expflow_git.validate_competition_rules(task_metrics=metrics, task_params={"sub_step": [5]})


# ------------------------------------------------------------------ numbers in strings
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("-0", 0),
        ("-0.5", -0.5),
        ("5.0", 5),
        ("1e-3", 0.001),
        ("1E+2", 100),
        ("9007199254740993", 9007199254740993),  # exact: float() says ...992
        ("1" + "0" * 300, 10**300),
    ],
)
def test_numeric_reads_json_numbers(text: str, value: float) -> None:
    got = expflow_git.numeric(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    "text",
    [
        "1.",  # not JSON; was 1
        ".5",  # not JSON; was 0.5
        "007",  # not JSON (a zero-padded label); was 7
        "-.5",
        "+5",
        " 5",
        "5 ",
        "5\n",
        "0x10",
        "5_000",
        "1,000",
        "١٢",  # Arabic-Indic digits: float() reads them, JSON does not
        "５",  # a full-width digit
        "²",
        "nan",
        "NaN",
        "Infinity",
        "-inf",
        "1e309",
        "-1e309",
        "1" + "0" * 400,  # an integer no double holds
        "-1e-400",  # a double would read it as 0 (docs/spec.md §2.3)
        "0.0100000000000000001",  # ... as 0.01
        "",
        "-",
        "1e",
    ],
)
def test_numeric_leaves_every_other_string_alone(text: str) -> None:
    assert expflow_git.numeric(text) == text


def test_numeric_leaves_non_strings_alone() -> None:
    numeric = expflow_git.numeric
    assert numeric(True) is True and numeric(False) is False and numeric(None) is None
    assert numeric(1) == 1 and numeric(2.5) == 2.5


def test_rules_read_numbers_in_strings_by_json_spelling(exp_repo: ExpRepo) -> None:
    """Through the CLI: `sub_step > 0` passes "5" and "5.0", fails what is not a JSON
    number (".5" passed before) and "1e309" (not finite), and a bool."""
    spelled = {"a": "5", "b": "5.0", "c": ".5", "d": "007", "e": "1e309", "f": True}
    for exp_id, value in spelled.items():
        exp_repo.add_experiment(exp_id, params={"Args/--sub_step": value})
        exp_repo.add_result(exp_id)
    exp_repo.commit("runs")
    code, out, err = run_cli(["rank", "--format", "json"], cwd=exp_repo.path)
    assert code == 0, err
    feasible = {r["id"]: r["feasible"] for r in json.loads(out)["ranking"]}
    assert feasible == {"a": True, "b": True, "c": False, "d": False, "e": False, "f": False}


# ------------------------------------------------------------------ paths and links
def test_run_of_a_record_behind_a_link_is_refused(
    repo: Repository, exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """A study folder that is a link to outside the work tree: `run` said KeyError; now the
    one-line refusal naming the link, and nothing outside is changed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "exp-001.json"
    target.write_text(json.dumps(experiment_doc("exp-001", study="linked", status="pending")))
    before = target.read_bytes()
    (exp_repo.path / "experiments").mkdir(exist_ok=True)
    (exp_repo.path / "experiments/linked").symlink_to(outside)
    with pytest.raises(ExpflowError, match="symbolic link"):
        with repo.run("exp-001") as run:
            run.log(**SEED)
    with pytest.raises(ExpflowError, match="symbolic link"):
        repo.new("exp-002", study="linked")
    assert target.read_bytes() == before and sorted(p.name for p in outside.iterdir()) == [
        "exp-001.json"
    ]


def test_run_of_a_broken_record_names_the_file(repo: Repository, exp_repo: ExpRepo) -> None:
    """A hand-edited record that no longer parses: was a bare KeyError('exp-001')."""
    exp_repo.write(exp_repo.exp_path(), "{")
    with pytest.raises(ExpflowError, match=f"{exp_repo.exp_path()}.*invalid-json"):
        with repo.run("exp-001"):
            pass
    assert (exp_repo.path / exp_repo.exp_path()).read_text() == "{"


@pytest.mark.parametrize("bad_id", ["../evil", "a/b", "*", ".hidden", "x\x1b[2J"])
def test_ids_that_are_not_ids_are_refused_before_anything_is_written(
    repo: Repository, exp_repo: ExpRepo, bad_id: str
) -> None:
    before = exp_repo.status()
    for call in (
        lambda: repo.new(bad_id, study=STUDY),
        lambda: repo.run(bad_id, study=STUDY).__enter__(),
        lambda: repo.start(bad_id),
        lambda: repo.fail(bad_id, "x"),
    ):
        with pytest.raises(ExpflowError):
            call()
    assert exp_repo.status() == before  # nothing written anywhere


def test_a_reason_with_terminal_escapes_never_reaches_the_terminal_raw(
    exp_repo: ExpRepo,
) -> None:
    """A failed run's reason (an exception's message, or typed) with ANSI and OSC escapes
    and line breaks: stored as given, shown escaped wherever the CLI prints it."""
    hostile = "\x1b[31mred\x1b]0;title\x07\r\nforged line"
    code, out, err = run_cli(
        ["new", "exp-001", "--study", STUDY, "--status", "failed", "--reason", hostile],
        cwd=exp_repo.path,
    )
    assert code == 0, out + err
    assert _record(exp_repo, "exp-001")["reason"] == hostile
    code, out, err = run_cli(
        ["new", "exp-002", "--study", STUDY, "--status", "failed", "--reason", hostile * 200],
        cwd=exp_repo.path,
    )
    assert code == 2 and "maximum length of 2000" in err
    for text in (out, err):
        assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert len(err.splitlines()) == 1
    assert_clean_output(out, err)


# ------------------------------------------------------------------ results the hook refuses
def test_result_with_a_split_name_the_schema_refuses_writes_nothing(exp_repo: ExpRepo) -> None:
    """`result --split "hold out"` wrote a result the validate hook refuses and marked the
    run success; fixing it needed --overwrite and the PIN (issue 16, item 4)."""
    new = ["new", "exp-001", "--study", STUDY, "--param", "sub_step=1"]
    assert run_cli(new, cwd=exp_repo.path).code == 0
    metrics = [arg for k, v in SEED.items() for arg in ("--metric", f"{k}={v}")]
    split = ["--split", "hold out", "--metric", "seg_total=1"]
    code, out, err = run_cli(["result", "exp-001", *metrics, *split], cwd=exp_repo.path)
    assert code == 1, out + err
    assert f"{exp_repo.res_path()}#/splits: schema: property name" in out
    assert not (exp_repo.path / exp_repo.res_path()).exists()
    assert _record(exp_repo, "exp-001")["status"] == "pending"


def test_a_split_name_is_checked_as_it_is_logged(repo: Repository, exp_repo: ExpRepo) -> None:
    with pytest.raises(ValueError, match="split name 'hold out'"):
        with repo.run("exp-001", study=STUDY, params={"sub_step": 1}) as run:
            run.log(**SEED)
            run.log_split("hold out", seg_total=1.0)
    assert repo.get("exp-001").status is Status.FAILED
    repo.new("exp-002", study=STUDY, params={"sub_step": 1})
    with pytest.raises(ValueError, match="split name '../x'"):  # (as log_split says it)
        repo.log_result("exp-002", SEED, splits={"../x": {"seg_total": 1.0}})
    assert not (exp_repo.path / exp_repo.res_path("exp-002")).exists()
    assert repo.get("exp-002").status is Status.PENDING


@pytest.mark.parametrize(
    "args",
    [
        ["new", "exp-002", "--study", STUDY, "--param", "k=\udcff"],
        ["new", "exp-002", "--study", STUDY, "--title", "\udcff"],
        ["new", "exp-002", "--study", STUDY, "--status", "failed", "--reason", "\udcff\x1b[2J"],
        ["fail", "exp-001", "--reason", "\udcff"],
        [
            "result",
            "exp-001",
            "--metric",
            "seg_total=1",
            "--split",
            "\udcff",
            "--metric",
            "seg_total=1",
        ],
    ],
    ids=["param", "title", "reason", "fail", "split"],
)
def test_arguments_that_are_not_utf8_are_one_line_errors(
    exp_repo: ExpRepo, args: list[str]
) -> None:
    """A non-UTF-8 argument (a surrogate once decoded) was a UnicodeEncodeError traceback."""
    assert run_cli(["new", "exp-001", "--study", STUDY], cwd=exp_repo.path).code == 0
    before = exp_repo.status(), _record(exp_repo, "exp-001")
    code, out, err = run_cli(args, cwd=exp_repo.path)
    assert code in (1, 2), out + err
    assert len(err.strip().splitlines()) == 1 and "\x1b" not in err
    assert_clean_output(out, err)
    assert (exp_repo.status(), _record(exp_repo, "exp-001")) == before


def test_the_api_refuses_text_that_is_not_utf8(repo: Repository, exp_repo: ExpRepo) -> None:
    with pytest.raises(ExpflowError, match="not UTF-8"):
        repo.new("exp-001", study=STUDY, params={"k": "\udcff"})
    assert not (exp_repo.path / exp_repo.exp_path()).exists()


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.new("a7", study="s" * 5000), "#/study: schema"),  # was OSError ENAMETOOLONG
        (lambda r: r.new("a8", study="s", params=[1, 2]), "params: give a mapping"),
        (lambda r: r.new("a9", study="s", replicate=-5), "replicate -5"),
        (lambda r: r.log_result("exp-001", metrics=[1]), "metrics: give a mapping"),
        (
            lambda r: r.log_result("exp-001", {"seg_total": 1}, splits={"holdout": 5}),
            "metrics: give a mapping",
        ),
        (
            lambda r: r.log_result("exp-001", {"seg_total": 1}, series={"seg_total": None}),
            "give (step, value) pairs",
        ),
        (
            lambda r: r.log_result("exp-001", {"seg_total": 1}, series={"seg_total": [5]}),
            "is not a (step, value) pair",
        ),
        # An attacker's hunt: TypeError from a metric name that is no string; split names
        # None, True, 1.5 written as "null", "true", "1.5"; AttributeError from fail(id, None);
        # rank(top=-1) dropped the last row, top=0 gave none; tags, gates and keys given
        # as one string were read letter by letter (gate 'p' is malformed, key file 'k').
        (lambda r: r.log_result("exp-001", {**SEED, 1: 2.0}), "metric name 1: names are strings"),
        (lambda r: r.log_result("exp-001", SEED, splits={None: SEED}), "split name None"),
        (lambda r: r.log_result("exp-001", SEED, splits={True: SEED}), "split name True"),
        (lambda r: r.log_result("exp-001", SEED, splits={1.5: SEED}), "split name 1.5"),
        (lambda r: r.fail("exp-001", None), "reason: give the reason as text"),
        (lambda r: r.skip("exp-001", None, pin="1234"), "reason: give the reason as text"),
        (lambda r: r.rank(top=-1), "top: -1 is not a positive integer"),
        (lambda r: r.rank(top=0), "top: 0 is not a positive integer"),
        (lambda r: r.rank(top=1.5), "top: 1.5 is not a positive integer"),
        (lambda r: r.rank(top=True), "top: True is not a positive integer"),
        (lambda r: r.rank(ascending="no"), "ascending: 'no' is not True, False or None"),
        (lambda r: r.rank(tags="fno"), "tags: give a list of strings"),
        (lambda r: r.rank(gates="pde_mean:lt:14"), "gates: give a list of 'metric:op:value'"),
        (lambda r: r.verify(b"{}", public_keys="k.pub"), "public_keys: give a list of strings"),
        # A review: the first sweep left these TypeErrors and AttributeErrors.
        (lambda r: r.new("a10", study="s", status="failed", reason=5), "reason: give text"),
        (lambda r: r.new("a11", study=5), "study: give text"),
        (lambda r: r.rank(sort_by=5), "sort_by: give text"),
        (lambda r: r.rank(rev=5), "rev: give text"),
        (lambda r: r.audit(rev=5), "rev: give text"),
        (lambda r: r.html(since=5), "since: give text"),
        (lambda r: r.runs(where=5), "where: give text"),
        (lambda r: r.verify(b"{}", allowed_signers=["a"]), "allowed_signers: give text"),
    ],
)
def test_wrong_arguments_are_named_errors_and_write_nothing(
    repo: Repository, exp_repo: ExpRepo, call: object, message: str
) -> None:
    """AttributeError, TypeError and OSError escaped from these; a negative replicate was
    taken (the CLI refuses it)."""
    before = _snapshot(exp_repo.path)
    with pytest.raises((ValueError, ExpflowError), match=re.escape(message)):
        call(repo)  # type: ignore[operator]
    assert _snapshot(exp_repo.path) == before


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["new", "exp-\udcff", "--study", STUDY], "ID"),
        (["new", "exp-002", "--study", "s\udcff"], "--study"),
        (["new", "exp-002", "--study", STUDY, "--condition", "c\udcff"], "--condition"),
        (["new", "exp-002", "--study", STUDY, "--tag", "t\udcff"], "--tag"),
        (["new", "exp-002", "--study", STUDY, "--param", "k\udcff=1"], "--param"),
    ],
    ids=["id", "study", "condition", "tag", "param-name"],
)
def test_a_record_argument_that_is_not_utf8_is_named(
    exp_repo: ExpRepo, cli: CliCall, args: list[str], named: str
) -> None:
    """The id, study and condition went into the seed's canonical JSON first: a
    CanonicalizationError traceback (exit 1); a tag was refused quoting a piece of the
    record's JSON, naming no option (a user's hunt, issue 18 twenty-third pass)."""
    before = exp_repo.status()
    res = cli(args, cwd=exp_repo.path)
    assert res.code == 2, res
    assert res.err.startswith(f"expflow-git: error: {named} '") and "not UTF-8" in res.err, res
    assert len(res.err.splitlines()) == 1 and "{" not in res.err, res
    assert exp_repo.status() == before


@pytest.mark.parametrize(
    "args",
    [
        ["rank", "--rev", "\udcff"],
        ["rank", "--policy-ref", "\udcff"],
        ["audit", "--rev", "\udcff"],
        ["audit", "--since", "\udcff"],
        ["audit", "--policy-ref", "\udcff"],
        ["diff", "\udcff"],
        ["diff", "HEAD", "\udcff"],
        ["show", "exp-001", "--rev", "\udcff"],
        ["list", "--rev", "\udcff"],
        ["compare", "exp-001", "exp-002", "--rev", "\udcff"],
        ["verify", "report.json", "--trusted-ref", "\udcff"],
    ],
)
def test_a_revision_that_is_not_utf8_is_refused(
    committed_repo: ExpRepo, cli: CliCall, args: list[str]
) -> None:
    """Git's stdin took the name encoded strictly: a UnicodeEncodeError traceback, exit 1
    (a user's hunt, issue 18 twenty-third pass)."""
    if args[0] == "verify":  # (the report is read first)
        cli(["audit", "--out", "report.json"], cwd=committed_repo.path)
    res = cli(args, cwd=committed_repo.path)
    assert res.code == 2, res
    assert "revision '\\xff' is not UTF-8 text" in res.err, res
    assert len(res.err.splitlines()) == 1, res


def test_the_api_refuses_an_id_or_revision_that_is_not_utf8(
    repo: Repository, exp_repo: ExpRepo
) -> None:
    """`new` raised rfc8785's CanonicalizationError, `rank` a UnicodeEncodeError: the API
    raises only ValueError or ExpflowError (docs/api.md)."""
    with pytest.raises(ExpflowError, match=r"^id 'e\\xff' is not UTF-8 text$"):
        repo.new("e\udcff", study=STUDY)
    with pytest.raises(ExpflowError, match=r"^tags 't\\xff' is not UTF-8 text$"):
        repo.new("exp-001", study=STUDY, tags=["t\udcff"])
    assert not (exp_repo.path / exp_repo.exp_path()).exists()
    exp_repo.commit("init")
    with pytest.raises(ExpflowError, match="not UTF-8"):
        repo.rank(rev="\udcff")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["result", "exp-001", "--metric", "s\udcff=1"], "--metric"),
        (["result", "exp-001", "--metric", "seg_total=1", "--split", "h\udcff"], "--split"),
        (["fail", "exp-001", "--reason", "oom \udcff"], "--reason"),
        (["cancel", "exp-001", "--reason", "late \udcff", "--force"], "--reason"),
        (["rm", "exp-001", "--reason", "bad \udcff", "--force"], "--reason"),
        (["demo", "--dir", "d\udcff"], "--dir"),
    ],
    ids=["metric", "split", "fail", "cancel", "rm", "demo"],
)
def test_every_writing_commands_text_that_is_not_utf8_is_named(
    exp_repo: ExpRepo, cli: CliCall, args: list[str], named: str
) -> None:
    """`rm --reason` raised a traceback from the correction's schema check, `demo --dir`
    one from its steps' output; `result`'s metric and split names and `fail`'s and
    `cancel`'s reasons were refused quoting the record's JSON (a review, issue 18
    twenty-third pass)."""
    assert cli(["new", "exp-001", "--study", STUDY], cwd=exp_repo.path).code == 0
    exp_repo.commit("a run")
    before = _snapshot(exp_repo.path)
    res = cli(args, cwd=exp_repo.path)
    assert res.code == 2, res
    assert res.err.startswith(f"expflow-git: error: {named} '") and "not UTF-8" in res.err, res
    assert len(res.err.splitlines()) == 1 and "{" not in res.err, res
    assert _snapshot(exp_repo.path) == before


def test_a_pin_in_a_refused_argument_is_masked(exp_repo: ExpRepo, cli: CliCall) -> None:
    """The refusal quotes the argument: a reason holding the PIN showed it (a review)."""
    pin = str(4000 + 821)
    assert cli(["new", "exp-001", "--study", STUDY], cwd=exp_repo.path).code == 0
    res = cli(["fail", "exp-001", "--reason", f"rerun --pin {pin} \udcff"], cwd=exp_repo.path)
    assert res.code == 2 and "--pin ****" in res.err and pin not in res.err, res
    res = cli(["pin", "check", f"--{pin}"], cwd=exp_repo.path)  # a PIN typed as an option
    assert res.code == 2 and "No such option '--****'" in res.err and pin not in res.err, res
    for typed in (f"--pin:{pin}", f"--PIN{pin}", f"---{pin}"):  # (a second review)
        res = cli(["pin", "check", typed], cwd=exp_repo.path)
        assert res.code == 2 and "****" in res.err and pin not in res.err, res
