"""No document the tool writes carries what its own PIN scan flags (docs/threat-model.md:
the PIN and PIN hashes never reach the repository's files; docs/spec.md §5): a record, a
result or a correction whose bytes the scan flags is refused before anything is written,
naming the document and the field, the PIN masked; an import refuses that run (exit 1),
`new`, `result --overwrite --reason` and an import's `--correct` reason are usage errors
(exit 2). Every line the import prints that quotes the tracker masks it too (a hunter's
report, issue 18 twenty-fourth pass)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliCall
from test_import_common import tree_bytes

from expflow_git.errors import ExpflowError
from expflow_git.pinscan.scanner import scan_bytes

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it


def documents(root: Path) -> dict[str, bytes]:
    """Every file under experiments/, results/ and corrections/, by path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for folder in ("experiments", "results", "corrections")
        for p in sorted((root / folder).rglob("*.json"))
    }


def assert_no_leak(root: Path, *outputs: str) -> None:
    """Neither a file of the tree nor an output holds what the scan flags, nor the PIN."""
    for rel, data in documents(root).items():
        assert scan_bytes(rel, data) == [], rel
    for text in outputs:
        assert PIN not in text, text


def new_args(*extra: str) -> list[str]:
    return ["new", "exp-001", "--study", "pdebench-task1", "--param", "sub_step=5", *extra]


METRICS = ["--metric", "seg_total=57", "--metric", "pde_mean=15", "--metric", "train_time_min=45"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--param", f"cmd=train --pin {PIN}"], "--param: experiments/pdebench-task1/exp-001.json"),
        (["--tag", f"pin:{PIN}"], "#/tags/0"),
        (["--title", f"x --pin={PIN}"], "--title: "),
        (["--status", "failed", "--reason", f"ran with --pin {PIN}"], "#/reason"),
    ],
)
def test_new_refuses_an_argument_the_pin_scan_flags(
    exp_repo: ExpRepo, cli: CliCall, extra: list[str], field: str
) -> None:
    res = cli(new_args(*extra), exp_repo.path)
    assert res.code == 2, res
    assert field in res.err and "the PIN scan refuses it, nothing written" in res.err, res.err
    assert res.err.count("\n") == 1
    assert not (exp_repo.path / "experiments" / "pdebench-task1").exists()
    assert_no_leak(exp_repo.path, res.out, res.err)


def test_the_python_api_refuses_the_same(exp_repo: ExpRepo) -> None:
    import expflow_git

    repo = expflow_git.Repository(exp_repo.path)
    with pytest.raises(ExpflowError, match=r"params: .*#/params/cmd: pin-value") as caught:
        repo.new("exp-001", study="pdebench-task1", params={"cmd": f"train --pin {PIN}"})
    assert caught.value.code == 2 and PIN not in caught.value.message
    assert not (exp_repo.path / "experiments" / "pdebench-task1").exists()
    repo.new("exp-002", study="pdebench-task1", params={"sub_step": 5})
    with pytest.raises(ExpflowError, match="#/reason") as caught:
        repo.fail("exp-002", reason=f"diverged; rerun with --pin {PIN}")
    assert caught.value.code == 2
    assert repo.get("exp-002").status.value == "pending"
    assert_no_leak(exp_repo.path)


def test_result_overwrite_refuses_a_reason_the_pin_scan_flags(
    exp_repo: ExpRepo, cli: CliCall
) -> None:
    assert cli(new_args(), exp_repo.path).code == 0
    assert cli(["result", "exp-001", *METRICS], exp_repo.path).code == 0
    exp_repo.commit("a run")
    before = tree_bytes(exp_repo.path)
    res = cli(
        [
            "result",
            "exp-001",
            *METRICS[:-1],
            "train_time_min=44",
            "--overwrite",
            "--reason",
            f"re-ran: train --pin {PIN}",
            "--force",
        ],
        exp_repo.path,
    )
    assert res.code == 2, res
    assert "--reason: corrections/" in res.err and "#/reason: pin-value" in res.err, res.err
    assert tree_bytes(exp_repo.path) == before and exp_repo.status() == ""
    assert_no_leak(exp_repo.path, res.out, res.err)


CSV = (
    "run,sub_step,seg_total,pde_mean,train_time_min\n"
    "r-001,5,57.09,15.0,45.5\n"
    "r-002,3,58.2,14.1,50\n"
)


def csv_args(path: Path, *extra: str) -> list[str]:
    return ["import", "csv", str(path), "--id-column", "run", "--study", "sheet", *extra]


def test_an_import_correct_reason_the_pin_scan_flags_is_exit_2(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(CSV)
    assert cli(csv_args(path), exp_repo.path).code == 0
    exp_repo.commit("the sheet")
    path.write_text(CSV.replace("57.09", "57.5"))
    before = tree_bytes(exp_repo.path)
    res = cli(csv_args(path, "--correct", f"fixed: --pin {PIN}", "--force"), exp_repo.path)
    assert res.code == 2, res
    assert "--correct: corrections/" in res.err and "#/reason" in res.err, res.err
    assert tree_bytes(exp_repo.path) == before
    assert_no_leak(exp_repo.path, res.out, res.err)


def test_a_csv_cell_or_column_holding_a_pin_is_masked_where_quoted(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(
        "run,sub_step,seg_total,pde_mean,train_time_min,cmd\n"
        f"r-001,5,pin:{PIN},15.0,45.5,ok\n"
        f"r-002,3,58.2,14.1,50,train --pin {PIN}\n"
        "r-003,3,58.2,14.1,50,ok\n"
    )
    res = cli(csv_args(path), exp_repo.path)
    assert res.code == 1, res
    refused = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
    assert len(refused) == 2 and "#/params/cmd: pin-value" in refused[1], res.out
    assert sorted(documents(exp_repo.path)) == [
        "experiments/sheet/r-003.json",
        "results/sheet/r-003.json",
    ]
    assert_no_leak(exp_repo.path, res.out, res.err)


def test_an_mlflow_run_holding_a_pin_is_refused_and_masked(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    pytest.importorskip("mlflow.tracking", reason="needs the mlflow extra")
    pytest.importorskip("sqlalchemy", reason="needs the mlflow extra's SQLAlchemy")
    from test_import_mlflow import EXPERIMENT, STUDY, Store, import_args

    store = Store(tmp_path / "ml1.db")
    leaky = store.run(
        f"x --pin {PIN}",
        params={"pin": PIN, "cmd": f"train --pin {PIN}", "sub_step": "5"},
        tags={"pin": PIN},
    )
    store.log(f"x --pin {PIN}", "seg_total", 50.0)
    store.log(f"x --pin {PIN}", "pde_mean", 16.0)
    store.log(f"x --pin {PIN}", "train_time_min", 45.0)
    store.log(f"x --pin {PIN}", f"pin:{PIN}", 1.0)  # not in the registry: a note names it
    store.end(f"x --pin {PIN}", "FINISHED")
    store.run("clean", params={"sub_step": "3"})
    store.end("clean", "FAILED")
    res = cli(import_args(store), exp_repo.path)
    assert res.code == 1, res
    refused = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
    assert refused and all(leaky in ln for ln in refused), res.out
    assert f"experiments/{STUDY}/{leaky}.json" in refused[0] and "****" in refused[0]
    assert not (exp_repo.path / f"experiments/{STUDY}/{leaky}.json").exists()
    assert (
        json.loads((exp_repo.path / f"experiments/{STUDY}/{store.ids['clean']}.json").read_text())[
            "status"
        ]
        == "failed"
    )
    assert "not imported: pin:****" in res.err, res.err
    assert_no_leak(exp_repo.path, res.out, res.err)
    # The experiment's own name quoted in the totals line, masked as well.
    store.client.rename_experiment(store.experiment_id, f"pin:{PIN}")
    again = cli(
        ["import", "mlflow", "--tracking-uri", store.uri, "--experiment", f"pin:{PIN}"]
        + ["--study-as", STUDY],
        exp_repo.path,
    )
    assert "mlflow 'pin:****'" in again.out, again
    assert_no_leak(exp_repo.path, again.out, again.err)
    assert EXPERIMENT  # (the fixture's name, renamed above)
    # The Python API: the run refused as well, what its summary says masked too.
    from expflow_git.importers import import_mlflow

    summary = import_mlflow(store.uri, f"pin:{PIN}", root=exp_repo.path, study_as=STUDY)
    (plan,) = [p for p in summary.plans if p.run.run == leaky]
    assert plan.action.value == "refused"
    said = [r for p in summary.plans for r in p.reasons] + list(summary.source.notes)
    assert said and not any(PIN in line for line in said), said
    assert_no_leak(exp_repo.path)


def test_a_pin_in_a_field_name_is_masked_in_the_pointer(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """The refusal's pointer named the key `pin:NNNN` whole: the finding's masking read
    `/params/pin:NNNN`, where no blank stands before `pin` (a review, issue 18
    twenty-fourth pass); `new`, an import, its plan's reasons and `validate` alike."""
    res = cli(
        ["new", "exp-001", "--study", "pdebench-task1", "--param", f"pin:{PIN}=1"], exp_repo.path
    )
    assert res.code == 2 and "#/params/pin:****: pin-value" in res.err, res
    assert_no_leak(exp_repo.path, res.out, res.err)
    path = tmp_path / "pk.csv"
    path.write_text(f"run,pin:{PIN},seg_total,pde_mean,train_time_min\na,1,57,15,45\n")
    res = cli(csv_args(path), exp_repo.path)
    assert res.code == 1 and "#/params/pin:****: pin-value" in res.out, res
    assert_no_leak(exp_repo.path, res.out, res.err)
    from expflow_git.importers import import_csv

    summary = import_csv(path, id_column="run", study="sheet", root=exp_repo.path)
    said = [r for p in summary.plans for r in p.reasons]
    assert said and not any(PIN in line for line in said), said
    # A committed file holding such a key: another finding's pointer names it.
    assert cli(new_args(), exp_repo.path).code == 0
    assert cli(["result", "exp-001", *METRICS], exp_repo.path).code == 0
    rel = "results/pdebench-task1/exp-001.json"
    doc = json.loads((exp_repo.path / rel).read_text())
    doc["metrics"][f"pin:{PIN}"] = [1]
    (exp_repo.path / rel).write_text(json.dumps(doc, indent=2))
    res = cli(["validate", rel], exp_repo.path)
    assert res.code == 1 and "#/metrics/pin:****: schema" in res.out + res.err, res
    assert PIN not in res.out + res.err


PIN_SHA256 = __import__("hashlib").sha256(PIN.encode()).hexdigest()
PRAGMA = "expflow: " + "allow-pin-hash"  # (spelled apart: this file's lines stay scanned)


def test_the_pragma_in_a_value_exempts_nothing_the_tool_writes(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """A value ending with the scan's pragma exempted its own line: `new` and an import
    wrote the PIN and its hash, and the hooks and the audit then passed them (a review,
    issue 18 twenty-fourth pass). The tool's own documents are never exempt."""
    for param in (f"cmd=train --pin {PIN} # {PRAGMA}", f"h={PIN_SHA256} {PRAGMA}"):
        res = cli(new_args("--param", param), exp_repo.path)
        assert res.code == 2 and "the PIN scan refuses it" in res.err, res
        assert PIN not in res.err and PIN_SHA256 not in res.err
    assert not (exp_repo.path / "experiments" / "pdebench-task1").exists()
    pytest.importorskip("mlflow.tracking", reason="needs the mlflow extra")
    pytest.importorskip("sqlalchemy", reason="needs the mlflow extra's SQLAlchemy")
    from test_import_mlflow import STUDY, Store, import_args

    store = Store(tmp_path / "ml2.db")
    name = f"name --pin {PIN} # {PRAGMA}"
    leaky = store.run(name, params={"sub_step": "5"})
    for metric, value in (("seg_total", 50.0), ("pde_mean", 16.0), ("train_time_min", 45.0)):
        store.log(name, metric, value)
    store.end(name, "FINISHED")
    res = cli(import_args(store), exp_repo.path)
    assert res.code == 1, res
    assert any(ln.startswith("refused") and leaky in ln for ln in res.out.splitlines()), res.out
    assert not (exp_repo.path / f"experiments/{STUDY}/{leaky}.json").exists()
    assert_no_leak(exp_repo.path, res.out, res.err)


@pytest.mark.parametrize("verb", ["fail", "cancel"])
def test_fail_or_cancel_of_a_record_holding_a_pin_is_exit_1_not_the_reasons(
    exp_repo: ExpRepo, cli: CliCall, verb: str
) -> None:
    """A record that held the PIN already (hand-edited) made `fail`/`cancel` exit 2, as
    if the user's harmless `--reason` had given it (a review, issue 18 twenty-fourth
    pass): exit 1 for what the work tree holds, exit 2 naming `--reason` for a reason
    that holds one."""
    assert cli(new_args(), exp_repo.path).code == 0
    rel = exp_repo.path / "experiments/pdebench-task1/exp-001.json"
    clean = rel.read_bytes()
    force = ["--force"] if verb == "cancel" else []
    res = cli([verb, "exp-001", "--reason", f"rerun with --pin {PIN}", *force], exp_repo.path)
    assert res.code == 2 and "--reason: experiments/" in res.err and "#/reason" in res.err, res
    doc = json.loads(clean)
    doc["params"]["cmd"] = f"train --pin {PIN}"
    rel.write_text(json.dumps(doc, indent=2))
    before = rel.read_bytes()
    res = cli([verb, "exp-001", "--reason", "out of memory", *force], exp_repo.path)
    assert res.code == 1, res
    assert "#/params/cmd: pin-value" in res.err and "--reason" not in res.err, res.err
    assert rel.read_bytes() == before and PIN not in res.out + res.err


@pytest.mark.parametrize(
    "args",
    [
        ["result", "ID", *METRICS],
        ["fail", "ID", "--reason", "oom"],
        ["start", "ID"],
        ["cancel", "ID", "--reason", "x", "--force"],
        ["show", "ID"],
    ],
    ids=["result", "fail", "start", "cancel", "show"],
)
@pytest.mark.parametrize("given", [f"pin={PIN}", f"pin:{PIN}", f"x --pin {PIN}"])
def test_an_id_holding_a_pin_is_masked_where_quoted(
    exp_repo: ExpRepo, cli: CliCall, args: list[str], given: str
) -> None:
    """`result pin=NNNN` printed `invalid id 'pin=NNNN'` (`new` masked it; a review, issue
    18 twenty-fourth pass): every command taking an id masks it as `new` does."""
    res = cli([given if a == "ID" else a for a in args], exp_repo.path)
    assert res.code in (1, 2) and "****" in res.err, res
    assert_no_leak(exp_repo.path, res.out, res.err)


def test_an_id_or_study_sanitized_from_a_pin_holds_no_pin(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """A CSV id `b --pin NNNN` became the id `b---pin-NNNN-…`, an Optuna study so named
    the study `x---pin-NNNN-…`, both printed by the import (a review, issue 18
    twenty-fourth pass): derived from the name with what the scan flags masked, the
    digest too (eight hex digits of the raw name's SHA-256 tell the PIN to 10,000
    guesses). Every other name keeps its id."""
    from expflow_git.importers.source import sanitize_id

    assert sanitize_id("a b") == "a-b-" + __import__("hashlib").sha256(b"a b").hexdigest()[:8]
    path = tmp_path / "b.csv"
    path.write_text(f"run,seg_total,pde_mean,train_time_min\nb --pin {PIN},57,15,45\n")
    res = cli(["import", "csv", str(path), "--id-column", "run", "--study", "sh"], exp_repo.path)
    assert res.code == 1 and "refused   b---pin-" in res.out, res
    assert_no_leak(exp_repo.path, res.out, res.err)
    optuna = pytest.importorskip("optuna", reason="needs the optuna extra")
    from test_import_optuna import complete, storage_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db = tmp_path / "o.db"
    study = optuna.create_study(
        study_name=f"x --pin {PIN}", storage=storage_url(db), directions=["maximize", "minimize"]
    )
    study.add_trial(complete(1, 57.0, 15.0))
    res = cli(
        ["import", "optuna", "--storage", storage_url(db), "--study", f"x --pin {PIN}"]
        + ["--metric", "seg_total", "--metric", "pde_mean"],
        exp_repo.path,
    )
    assert "x---pin-" in res.out + res.err, res
    assert_no_leak(exp_repo.path, res.out, res.err)


def test_a_name_flagged_only_as_a_record_holds_it_is_masked_and_others_keep_their_ids(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """The first mend masked a name as bare text: `pin= NNNN`, which the scan flags only
    quoted (as the record holds it), was printed whole in the id, the label and the
    path; and `pin=NNNN"x`, which its record does not show flagged, got a new id, so a
    re-import wrote the committed run a second time (a second review, issue 18
    twenty-fourth pass). The id changes only for a name its record would show flagged."""
    from expflow_git.importers.source import sanitize_id

    kept = [f'pin={PIN}"x', f"pin={PIN}]hash", "ordinary run"]
    for name in kept:  # the ids every earlier import gave them
        digest = __import__("hashlib").sha256(name.encode()).hexdigest()[:8]
        assert sanitize_id(name).endswith("-" + digest), name
    path = tmp_path / "d.csv"
    path.write_text(f'run,sub_step,seg_total,pde_mean,train_time_min\n"pin= {PIN}",1,1,2,3\n')
    res = cli(csv_args(path), exp_repo.path)
    assert res.code == 1 and "refused" in res.out, res
    assert_no_leak(exp_repo.path, res.out, res.err)


def test_a_pointer_with_no_pin_word_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every finding's pointer holding four digits was scanned key by key, three scans a
    key: 100k findings (`/series/loss/1234/0`, `/params/lr_2024`) took an audit twice
    the time (a second review). Only a pointer that can hold a `pin` word is read key
    by key; the masking is the same."""
    from expflow_git.errors import Finding
    from expflow_git.pinscan import scanner

    calls: list[str] = []
    real = scanner.masked
    monkeypatch.setattr(scanner, "masked", lambda text: calls.append(text) or real(text))
    found = Finding("r.json", "schema", "x", "/series/loss/1234/0/fold-2024")
    assert found.pointer == "/series/loss/1234/0/fold-2024" and len(calls) == 1, calls
    calls.clear()
    found = Finding("r.json", "schema", "x", f"/params/pin:{PIN}")
    assert found.pointer == "/params/pin:****", found.pointer


def test_a_key_with_a_quote_after_the_pin_is_masked_in_the_pointer() -> None:
    """The pointer's keys were masked as a document holds them (JSON-escaped), where a
    quote after the PIN (`[--pin "NNNN`) is no word end the scan reads: the PIN showed
    that the first version's plain quoting had masked (a review, issue 18 twenty-fourth
    pass). Both readings mask now."""
    from expflow_git.errors import Finding

    for key in (f'[--pin "{PIN}', f'pin: {PIN}"'):
        pointer = Finding("x.json", "schema", "m", f"/params/{key}").pointer
        assert PIN not in pointer and "****" in pointer, pointer
