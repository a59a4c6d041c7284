"""`expflow-git import csv` (issue 17, docs/spec.md §4.2): one run per row, strict parsing
(a non-number in a metric column names the row and the column), a status column, splits
as SPLIT/METRIC columns, ids sanitized and escaped where printed; committed through the
real hooks and audited; a second import is a no-op."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo, experiment_doc
from support import CliCall, ComparedStrings, run_cli
from test_import_common import audit_passes, hook_commit, install_hooks, totals, tree_bytes

from expflow_git.documents import ID_RE
from expflow_git.errors import ExpflowError

STUDY = "sheet"
GOOD = (
    "run,sub_step,lr,seg_total,pde_mean,train_time_min,holdout/seg_total,state\n"
    "r-001,5,0.001,57.09,15.0,45.5,55.2,success\n"
    "r-002,3,0.01,58.2,14.1,50,56.0,success\n"
    "r-003,4,0.02,,,,,failed\n"
    "r-004,2,0.03,56.1,16.2,38,53.9,success\n"
)


def write_csv(tmp_path: Path, text: str, name: str = "runs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def args(path: Path, *extra: str) -> list[str]:
    return ["import", "csv", str(path), "--id-column", "run", "--study", STUDY, *extra]


def load(repo: ExpRepo, rel: str) -> Any:
    return json.loads((repo.path / rel).read_text())


def test_rows_become_runs_with_splits_and_statuses(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    path = write_csv(tmp_path, GOOD)
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "4 new, 0 updated, 0 unchanged, 0 refused"
    rec = load(exp_repo, f"experiments/{STUDY}/r-001.json")
    assert rec["status"] == "success"
    assert rec["params"] == {"sub_step": "5", "lr": "0.001"}  # kept as the file has them
    assert rec["provenance"]["source"] == {
        "tracker": "csv",
        "uri": str(path),
        "study": "runs.csv",
        "run": "r-001",
    }
    res_doc = load(exp_repo, f"results/{STUDY}/r-001.json")
    assert res_doc["metrics"] == {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}
    assert res_doc["splits"] == {"holdout": {"seg_total": 55.2}}
    assert load(exp_repo, f"experiments/{STUDY}/r-003.json")["status"] == "failed"
    assert not (exp_repo.path / f"results/{STUDY}/r-003.json").exists()


def test_failed_and_skipped_rows_say_the_file_gave_no_reason(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """spec §2.1: a failed or skipped record says why in `reason`; a CSV row's had none
    (a user's hunt, issue 18 twenty-fourth pass), where Optuna's says it recorded none."""
    path = write_csv(tmp_path, "run,sub_step,state\nf-1,2,failed\ns-1,3,skipped\n")
    assert cli(args(path, "--status-column", "state"), exp_repo.path).code == 0
    failed = load(exp_repo, f"experiments/{STUDY}/f-1.json")
    assert failed["reason"] == "failed in the CSV file (no reason recorded)"
    skipped = load(exp_repo, f"experiments/{STUDY}/s-1.json")
    assert skipped["reason"] == "skipped in the CSV file (no reason recorded)"


def test_committed_through_the_hooks_audited_and_reimported_as_a_noop(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    install_hooks(exp_repo)
    # The cells are strings ("5"): the template's `sub_step > 0` rule reads them as
    # numbers (docs/spec.md §3), so the policy is the template's, unchanged.
    path = write_csv(tmp_path, GOOD)
    assert cli(args(path, "--status-column", "state"), exp_repo.path).code == 0
    proc = hook_commit(exp_repo, "import the sheet")
    assert proc.returncode == 0, proc.stderr
    assert "r-002" in audit_passes(exp_repo)
    before = tree_bytes(exp_repo.path)
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert totals(res.out) == "0 new, 0 updated, 4 unchanged, 0 refused", res
    assert tree_bytes(exp_repo.path) == before and exp_repo.status() == ""
    # A row appended later is the only thing the next import writes.
    path.write_text(GOOD + "r-005,6,0.04,59,13,41,57,success\n")
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert totals(res.out) == "1 new, 0 updated, 4 unchanged, 0 refused", res
    # A committed row edited in the sheet is refused, and nothing is rewritten.
    path.write_text(GOOD.replace("57.09", "57.5"))
    before = tree_bytes(exp_repo.path)
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert res.code == 1 and "r-001 (id r-001): id r-001 changed after its result" in res.out
    assert tree_bytes(exp_repo.path) == before


def test_a_correction_of_a_result_moved_in_the_work_tree_is_refused(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """The committed result moved and the move not committed: `--correct` said
    "corrected" and wrote the new score with no correction (HEAD had nothing at the
    work-tree path), which protect and the audit then refused (an attacker's hunt)."""
    path = write_csv(tmp_path, GOOD)
    assert cli(args(path, "--status-column", "state"), exp_repo.path).code == 0
    exp_repo.commit("import the sheet")
    committed = exp_repo.path / f"results/{STUDY}/r-001.json"
    elsewhere = exp_repo.path / f"results/{STUDY}/old/r-001.json"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(committed.read_bytes())
    committed.unlink()
    path.write_text(GOOD.replace("57.09", "57.5"))
    before = tree_bytes(exp_repo.path)
    res = cli(args(path, "--status-column", "state", "--correct", "fix", "--force"), exp_repo.path)
    assert res.code == 1, res
    assert "corrected" not in totals(res.out).replace("0 corrected", ""), res.out
    # It names where HEAD has the result (`committed_ids`, keyed by the file's stem).
    assert (
        f"committed as results/{STUDY}/r-001.json, which the work tree has as "
        f"results/{STUDY}/old/r-001.json; commit or undo that move first"
    ) in res.out, res.out
    assert tree_bytes(exp_repo.path) == before
    assert not (exp_repo.path / "corrections").exists()


def test_a_write_that_fails_leaves_no_half_run(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk at r-002's result: its record was left behind with status success and
    no score (which validate accepts), and nothing said that r-001 was written."""
    import expflow_git.importers.common as common

    real = common.write_atomic

    def full_disk(path: Any, data: bytes, **kw: Any) -> None:
        if Path(path).name == "r-002.json" and "results" in Path(path).parts:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data, **kw)

    monkeypatch.setattr(common, "write_atomic", full_disk)
    res = cli(args(write_csv(tmp_path, GOOD)), exp_repo.path)
    assert res.code == 2, res
    (line,) = res.err.splitlines()
    assert line.startswith("expflow-git: error: ") and "No space left on device" in line
    assert "run r-002 not written, 1 run(s) before it written whole" in line
    written = sorted(
        p.relative_to(exp_repo.path).as_posix() for p in exp_repo.path.glob("*/sheet/*")
    )
    assert written == [f"experiments/{STUDY}/r-001.json", f"results/{STUDY}/r-001.json"]


def test_a_run_that_cannot_be_put_back_is_said_to_be_half_written(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk stays full: the record the run replaced cannot be written back either, and
    the error must not say "not written" (a review). The result whose write failed is
    as it was, and is not named (issue 18 thirty-second pass)."""
    import expflow_git.importers.common as common

    path = write_csv(tmp_path, GOOD)
    assert cli(args(path, "--status-column", "state"), exp_repo.path).code == 0
    result = exp_repo.path / f"results/{STUDY}/r-001.json"
    kept = result.read_bytes()
    real, full = common.write_atomic, []

    def full_disk(target: Any, data: bytes, **kw: Any) -> None:
        if full or (Path(target).name == "r-001.json" and "results" in Path(target).parts):
            full.append(target)
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real(target, data, **kw)

    monkeypatch.setattr(common, "write_atomic", full_disk)
    path.write_text(GOOD.replace("r-001,5,0.001,57.09", "r-001,6,0.001,57.5"))
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert res.code == 2, res
    assert (
        f"run r-001 half written (could not put back experiments/{STUDY}/r-001.json), "
        "0 run(s) before it written whole" in res.err
    )
    assert result.read_bytes() == kept


def test_a_named_pipe_at_a_record_path_is_refused_not_waited_on(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """The import read it (`read_bytes`) and waited forever; list and validate skip it."""
    fifo = exp_repo.path / f"experiments/{STUDY}/r-001.json"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    res = run_cli(args(write_csv(tmp_path, GOOD)), exp_repo.path, timeout=30)
    assert res.code == 1, res
    assert "r-001" in res.out and "no valid JSON document" in res.out, res.out
    assert (exp_repo.path / f"results/{STUDY}/r-002.json").exists()


def test_rows_into_a_folder_git_ignores_are_refused(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """They were written, and `get` then raised KeyError: such records are never committed
    (a review; `new` refuses them too)."""
    with (exp_repo.path / ".gitignore").open("a") as fh:
        fh.write(f"experiments/{STUDY}/\n")
    res = cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert ".gitignore keeps this file out of the repository" in res.out
    assert not (exp_repo.path / "experiments" / STUDY).exists()


def test_a_record_written_while_the_import_planned_is_not_overwritten(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another command's `new` between the import's plan and its writes (a PIN prompt may
    stand there): the import wrote over it, or a second record of the id (a review)."""
    import expflow_git.importers as importers

    real = importers.plan_import

    def then_another_new(*a: Any, **kw: Any) -> Any:
        planned = real(*a, **kw)
        exp_repo.write_json("experiments/other/r-002.json", experiment_doc("r-002", study="other"))
        return planned

    monkeypatch.setattr(importers, "plan_import", then_another_new)
    res = cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert "run r-002 has a record now" in res.err
    assert not (exp_repo.path / "experiments" / STUDY).exists()


def test_a_result_committed_while_the_import_planned_is_not_overwritten(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run planned "updated" (running → success), and another import commits a result
    for it before the writes (a PIN prompt may stand there): the import wrote over the
    committed result without a correction (a user's hunt, issue 18 twenty-fourth pass)."""
    import expflow_git.importers as importers

    running = GOOD.replace("r-002,3,0.01,58.2,14.1,50,56.0,success", "r-002,3,0.01,,,,,running")
    path = write_csv(tmp_path, running)
    assert cli(args(path, "--status-column", "state"), exp_repo.path).code == 0
    exp_repo.commit("import the sheet")
    real = importers.plan_import

    def then_another_import(*a: Any, **kw: Any) -> Any:
        planned = real(*a, **kw)
        monkeypatch.setattr(importers, "plan_import", real)  # the other import plans as ever
        other = write_csv(tmp_path, GOOD.replace("58.2", "59.9"), "other.csv")
        importers.import_csv(
            other, id_column="run", study=STUDY, status_column="state", root=exp_repo.path
        )
        exp_repo.commit("the other import")
        return planned

    monkeypatch.setattr(importers, "plan_import", then_another_import)
    res = cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert f"run r-002: HEAD's result results/{STUDY}/r-002.json is not the one" in res.err
    assert load(exp_repo, f"results/{STUDY}/r-002.json")["metrics"]["seg_total"] == 59.9
    assert exp_repo.status() == ""


@pytest.mark.parametrize("status", ["failed", "skipped"])
def test_a_committed_ended_run_is_never_rewritten_into_another(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, status: str
) -> None:
    """A committed failed row re-imported as a success with other params and a score was
    `updated … [status failed → success; params, reason changed]`, exit 0, and the hooks
    and `audit --since` passed it (a hunter's report, issue 18 twenty-seventh pass):
    `result` refuses a failed run, the import rewrote it. A committed ended record keeps
    its status and params, `--correct` or not; a running one still goes on."""
    header = "run,sub_step,seg_total,pde_mean,train_time_min,state\n"
    path = write_csv(tmp_path, f"{header}r1,5,,,,running\nr2,4,,,,{status}\n")
    assert cli(args(path, "--status-column", "state"), exp_repo.path).code == 0
    exp_repo.commit("imported")
    before = tree_bytes(exp_repo.path)
    path.write_text(f"{header}r1,5,,,,running\nr2,3,59,12,40,success\n")
    for extra in ((), ("--correct", "rerun", "--force")):
        res = cli(args(path, "--status-column", "state", *extra), exp_repo.path)
        assert res.code == 1, res
        assert totals(res.out).endswith("0 updated, 1 unchanged, 1 refused"), res.out
        refusal = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
        assert refusal == [
            f"refused   r2 (id r2): id r2 changed after its record experiments/{STUDY}/r2.json "
            f"was committed as {status}: its params, status differ, and an ended run's committed "
            "record is frozen (nothing written)"
        ], res.out
        assert tree_bytes(exp_repo.path) == before
    # The same row as committed, and a running row that finished, still go through.
    path.write_text(f"{header}r1,5,58,13,41,success\nr2,4,,,,{status}\n")
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "0 new, 1 updated, 1 unchanged, 0 refused", res.out


def test_a_param_column_the_registry_takes_later_changes_no_committed_row(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """Column `f1` was a param (not in the registry); the registry gains `f1` and the
    column is read as a metric by default: every committed row was refused as "its params
    differ", `--correct` too (a user's hunt, issue 18 twenty-fourth pass). A committed
    run keeps its params; its result lacks f1, said once, exit 0."""
    path = write_csv(
        tmp_path, "run,sub_step,seg_total,pde_mean,train_time_min,f1\nr-001,5,57,15,45,0.8\n"
    )
    assert cli(args(path), exp_repo.path).code == 0
    exp_repo.commit("import the sheet")
    policy = exp_repo.path / "expflow.yaml"
    policy.write_text(
        policy.read_text().replace(
            "required_metrics:",
            "  f1: {group: Score, higher_is_better: true, min: 0, max: 1}\nrequired_metrics:",
        )
    )
    exp_repo.commit("the registry gains f1")
    before = tree_bytes(exp_repo.path)
    res = cli(args(path), exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "0 new, 0 updated, 1 unchanged, 0 refused"
    assert "1 committed result(s) lack metrics the source has (f1): r-001" in res.err
    assert tree_bytes(exp_repo.path) == before
    res = cli(args(path, "--correct", "f1 joined the registry", "--force"), exp_repo.path)
    assert res.code == 0, res
    assert totals(res.out) == "0 new, 0 updated, 1 corrected, 0 unchanged, 0 refused"
    assert load(exp_repo, f"results/{STUDY}/r-001.json")["metrics"]["f1"] == 0.8
    assert load(exp_repo, f"experiments/{STUDY}/r-001.json")["params"]["f1"] == "0.8"
    # A new row reads the column as the registry says: a metric.
    path.write_text(path.read_text() + "r-002,4,58,14,40,0.9\n")
    assert cli(args(path), exp_repo.path).code == 0
    assert "f1" not in load(exp_repo, f"experiments/{STUDY}/r-002.json")["params"]


def test_an_empty_correction_reason_names_the_option(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    path = write_csv(tmp_path, GOOD)
    assert cli(args(path, "--status-column", "state"), exp_repo.path).code == 0
    exp_repo.commit("import the sheet")
    path.write_text(GOOD.replace("57.09", "57.5"))
    for reason in ("", "x\x1b[31m"):
        res = cli(
            args(path, "--status-column", "state", "--correct", reason, "--force"), exp_repo.path
        )
        assert res.code == 2, res
        assert "--correct" in res.err and "--reason" not in res.err, res.err


def test_a_correct_reason_the_pin_scan_flags_is_exit_2_with_no_correction_planned(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """spec §4.2: a `--correct` reason the PIN scan flags is a usage error, nothing
    written. It was scanned only when a correction was planned: an import of new runs
    with `--correct "rerun --pin NNNN"` wrote them and exited 0 (a hunter's report, issue
    18 twenty-seventh pass). Now before anything is read, from Python too."""
    from expflow_git.importers import import_csv

    reason = f"rerun --pin {4000 + 821}"
    path = write_csv(tmp_path, GOOD)
    for sheet in (path, tmp_path / "missing.csv"):  # (read after the reason is checked)
        res = cli(args(sheet, "--status-column", "state", "--correct", reason), exp_repo.path)
        assert res.code == 2, res
        assert res.err.count("\n") == 1, res.err
        assert "--correct: corrections/#/reason: pin-value" in res.err, res.err
        assert str(4000 + 821) not in res.both
        assert not (exp_repo.path / "experiments" / STUDY).exists()
    with pytest.raises(ExpflowError, match="--correct: corrections/#/reason") as caught:
        import_csv(path, id_column="run", study=STUDY, root=exp_repo.path, correct=reason)
    assert caught.value.code == 2
    assert not (exp_repo.path / "experiments" / STUDY).exists()
    res = cli(args(path, "--status-column", "state", "--correct", "rerun"), exp_repo.path)
    assert res.code == 0 and "4 new" in res.out, res


def test_a_non_number_names_the_row_and_column_and_refuses_only_that_row(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    text = GOOD.replace("58.2,14.1", "58.2,n/a").replace("56.1,", "NaN,")
    text = text.replace("57.09,", "-1e400,")  # the spelling of a number, beyond a double
    # More digits than a double holds: its document would say 38.0, not what the cell does.
    text = text.replace(",38,", ",38.00000000000000001,")
    res = cli(args(write_csv(tmp_path, text), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert "row 3: column 'pde_mean': 'n/a' is not a number" in res.out
    assert "row 5: column 'seg_total': 'NaN' is not a number" in res.out
    assert "row 2: column 'seg_total': '-1e400' is too large for a number" in res.out, res.out
    assert (
        "row 5: column 'train_time_min': number 38.00000000000000001 would be read as 38.0"
        in res.out
    ), res.out
    assert totals(res.out) == "1 new, 0 updated, 0 unchanged, 3 refused"
    assert not (exp_repo.path / f"experiments/{STUDY}/r-002.json").exists()
    assert not (exp_repo.path / f"results/{STUDY}/r-001.json").exists()
    assert (exp_repo.path / f"experiments/{STUDY}/r-003.json").exists()


def test_a_refused_row_still_claims_its_id(exp_repo: ExpRepo, tmp_path: Path) -> None:
    """Row 2 `a` refused (not a number), row 3 `a` was imported as `a`: the refused row
    claimed no id. Committed, then row 2 fixed, both rows were refused for good and the
    run kept row 3's values (a hunter's report, issue 18 twenty-sixth pass). Every row
    of an id derived more than once is refused (its own problems said too; issue 18
    thirty-third pass: the first was imported); a row with no id claims none."""
    head = "run,sub_step,seg_total,pde_mean,train_time_min\n"
    rows = [
        "r-001,1,bad,15,45\n",  # row 2: refused, claims r-001
        "r-001,2,57.5,15,45\n",  # row 3: the same id
        " r-002 ,1,56,15,45\n",  # row 4
        "r-002,2,x,15,45\n",  # row 5: the same id, and a problem of its own
        ",3,58,15,45\n",  # row 6: no id (row-6 stands in), claims nothing
        "row-6,4,59,15,45\n",  # row 7
    ]
    path = write_csv(tmp_path, head + "".join(rows))
    res = run_cli(args(path), exp_repo.path)
    assert res.code == 1, res
    refused = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
    twice = "id '{0}' is derived from 2 rows (row {1}, row {2}); none of them is imported"
    assert refused == [
        f"refused   r-001 (id r-001): {path}: row 2: column 'seg_total': 'bad' is not a number",
        "refused   r-001 (id r-001): row 2: " + twice.format("r-001", 2, 3),
        "refused   r-001 (id r-001): row 3: " + twice.format("r-001", 2, 3),
        "refused   r-002 (id r-002): row 4: " + twice.format("r-002", 4, 5),
        f"refused   r-002 (id r-002): {path}: row 5: column 'seg_total': 'x' is not a number",
        "refused   r-002 (id r-002): row 5: " + twice.format("r-002", 4, 5),
        f"refused   row-6 (id ): {path}: row 6: column 'run' is empty",
    ], res.out
    assert totals(res.out) == "1 new, 0 updated, 0 unchanged, 5 refused", res.out
    for exp_id in ("r-001", "r-002"):
        assert not (exp_repo.path / f"experiments/{STUDY}/{exp_id}.json").exists()
        assert not (exp_repo.path / f"results/{STUDY}/{exp_id}.json").exists()
    assert load(exp_repo, f"experiments/{STUDY}/row-6.json")["params"] == {"sub_step": "4"}
    exp_repo.commit("import the sheet")
    # Row 3 removed: row 2, fixed, is the run.
    path.write_text(
        head + "".join(["r-001,1,57,15,45\n", *rows[2:]]).replace("r-002,2,x", "r-003,2,58"),
        encoding="utf-8",
    )
    res = run_cli(args(path), exp_repo.path)
    assert res.code == 1, res  # (row 6 still has no id)
    assert "new       r-001 (id r-001, success)" in res.out, res.out
    assert "derived" not in res.out, res.out
    assert load(exp_repo, f"experiments/{STUDY}/r-001.json")["params"] == {"sub_step": "1"}
    assert load(exp_repo, f"results/{STUDY}/r-001.json")["metrics"]["seg_total"] == 57


def test_a_long_cell_that_is_no_number_is_refused_at_once(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """The number pattern split a run of digits every way before giving up on the
    character after it: one cell of 40,000 digits and an `x` took 22.8 s, the csv
    module's longest field (131,072) about five minutes (an attacker's hunt)."""
    cell = "1" * 40_000 + "x"
    res = cli(
        args(write_csv(tmp_path, GOOD.replace("57.09,", cell + ",")), "--dry-run"), exp_repo.path
    )
    assert res.code == 1, res
    assert "row 2: column 'seg_total': '" + "1" * 20 in res.out and "is not a number" in res.out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Both rows named (the message named neither; a user's hunt, issue 18 24th pass).
        (
            GOOD.replace("r-002", "r-001"),
            "row 3: id 'r-001' is derived from 2 rows (row 2, row 3); none of them is imported",
        ),
        (GOOD.replace(",success\nr-002", ",succes\nr-002"), "'succes' is no status"),
        (GOOD + "r-009,1\n", "row 6: 2 cells, the header has 8"),
        # The id cell is the title and provenance.source.run: refused by the schema with
        # lines naming no row (a user's hunt, issue 18 twenty-fourth pass).
        (
            GOOD.replace("r-002", "r" * 1001),
            "row 3: column 'run': the id is 1001 characters, at most 1000 fit a record",
        ),
        (GOOD.replace("r-001,5,0.001,57.09,15.0,45.5", "r-001,5,0.001,57.09,15.0,-1"), "below"),
        (GOOD.replace("r-001,5,0.001,57.09,15.0,45.5", "r-001,5,0.001,57.09,15.0,"), "required"),
    ],
)
def test_bad_rows_are_refused_one_line_each(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, text: str, message: str
) -> None:
    res = cli(args(write_csv(tmp_path, text), "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    refused = [ln for ln in res.out.splitlines() if ln.startswith("refused")]
    # (An id of two rows refuses both: one line each.)
    assert len(refused) == 1 + ("derived" in message) and message in refused[-1], res.out


@pytest.mark.parametrize("column", ["/seg_total", "a/b/seg_total", "test set/seg_total"])
@pytest.mark.parametrize("given", [False, True])
def test_a_split_column_the_schema_refuses_is_named_at_the_header(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, column: str, given: bool
) -> None:
    """The column was taken as a split's metric, then every row refused (exit 1) by a
    schema line naming no column (a user's hunt, issue 18 twenty-fourth pass): its split
    is checked at the header, as Optuna's --split-attr is (exit 2)."""
    text = f"run,sub_step,seg_total,pde_mean,train_time_min,{column}\nr-1,5,57,15,45,55\n"
    extra = ["--metric-columns", f"seg_total,pde_mean,train_time_min,{column}"] if given else []
    res = cli(args(write_csv(tmp_path, text), *extra), exp_repo.path)
    assert res.code == 2, res
    assert f"column '{column}': split " in res.err, res.err
    assert not (exp_repo.path / "experiments" / STUDY).exists()


def test_a_row_that_is_not_csv_is_named_by_its_row_and_line(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """Row 501 malformed: the message said `not CSV: ',' expected after '"'`, naming no
    row (a user's hunt, issue 18 twenty-fourth pass)."""
    text = "run,sub_step\n" + "".join(f"r{i},1\n" for i in range(1, 500)) + 'r500,"0.5"x\n'
    res = cli(
        ["import", "csv", str(write_csv(tmp_path, text)), "--id-column", "run", "--study", STUDY],
        exp_repo.path,
    )
    assert res.code == 2, res
    assert "runs.csv: row 501 (line 501): not CSV: ',' expected after '\"'" in res.err, res.err


@pytest.mark.parametrize(
    ("extra", "text", "message"),
    [
        (["--status-column", "stat"], GOOD, "no such column (did you mean 'state'?)"),
        (["--metric-columns", "seg_totl"], GOOD.replace("seg_total,", "seg_totl,", 1), "registry"),
        ([], "run,seg_total,seg_total\n", "appears twice"),
        ([], "", "empty"),
    ],
)
def test_file_level_problems_are_exit_2(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, extra: list[str], text: str, message: str
) -> None:
    res = cli(args(write_csv(tmp_path, text), *extra), exp_repo.path)
    assert res.code == 2 and message in res.err and res.err.count("\n") == 1, res


def test_columns_without_a_name_are_not_read_however_many(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """Two unnamed columns (a sheet's trailing commas) refused the file as "column ''
    appears twice", one was fine (a user's hunt, issue 18 twenty-third pass). None is read,
    values or not, as neither param nor metric; an option naming '' is then ambiguous."""
    text = "run,sub_step,seg_total,pde_mean,train_time_min,,\nr-001,1,5,1,3,a,b\n"
    res = cli(args(write_csv(tmp_path, text)), exp_repo.path)
    assert res.code == 0 and res.err == "", res
    record = load(exp_repo, "experiments/sheet/r-001.json")
    assert record["params"] == {"sub_step": "1"}
    result = load(exp_repo, "results/sheet/r-001.json")
    assert result["metrics"] == {"seg_total": 5, "pde_mean": 1, "train_time_min": 3}
    named = ["import", "csv", str(write_csv(tmp_path, text)), "--id-column", "", "--study", STUDY]
    res = cli(named, exp_repo.path)
    assert res.code == 2 and "--id-column '': several columns have no name" in res.err, res
    one = "run,sub_step,seg_total,pde_mean,train_time_min,\nr-002,1,5,1,3,a\n"
    res = cli(args(write_csv(tmp_path, one)), exp_repo.path)
    assert res.code == 0, res
    assert load(exp_repo, "experiments/sheet/r-002.json")["params"] == {"sub_step": "1"}


def test_not_utf8_is_exit_2(exp_repo: ExpRepo, tmp_path: Path, cli: CliCall) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("run,seg_total\nr\xe9,1\n".encode("latin-1"))
    res = cli(args(path), exp_repo.path)
    assert res.code == 2 and "not UTF-8" in res.err, res


def test_hostile_ids_are_sanitized_and_escaped(exp_repo: ExpRepo, tmp_path: Path) -> None:
    text = (
        "run,seg_total,pde_mean,train_time_min,sub_step\n"
        '"\x1b[31m../../evil\u202e",57,15,45,5\n'
        '"::error::forged",56,15,45,5\n'
    )
    res = run_cli(args(write_csv(tmp_path, text)), exp_repo.path)
    assert res.code == 0, res
    assert "\x1b" not in res.out and "\u202e" not in res.out
    assert not any(ln.startswith("::") for ln in res.out.splitlines())
    written = sorted(p.name for p in (exp_repo.path / "experiments" / STUDY).iterdir())
    assert len(written) == 2 and all(ID_RE.match(n[: -len(".json")]) for n in written)
    assert not (tmp_path / "evil").exists()
    assert run_cli(["validate"], exp_repo.path).code == 0


def test_the_python_api_imports_the_same(exp_repo: ExpRepo, tmp_path: Path) -> None:
    from expflow_git.importers import Action, import_csv

    path = write_csv(tmp_path, GOOD)
    summary = import_csv(
        path, id_column="run", study=STUDY, root=exp_repo.path, status_column="state"
    )
    assert summary.count(Action.NEW) == 4 and summary.refused == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"param_columns": "lr"}, "param_columns: give a list of strings, not 'lr'"),
        ({"metric_columns": "seg_total"}, "metric_columns: give a list of strings"),
        ({"metric_columns": [3]}, "column 3: metric_columns are strings"),
        ({"status_column": 3}, "status_column: give text, not 3"),
        ({"id_column": None}, "id_column: give text, not None"),
        ({"study": 5}, "study: give text, not 5"),
        ({"path": 5}, "path: give a file's path, not 5"),
    ],
)
def test_the_python_api_checks_its_arguments_kinds(
    exp_repo: ExpRepo, tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    """`param_columns="lr"` was read letter by letter ("no such column 'l'"), a number or
    None for a name a TypeError (spec §4.2: a ValueError; a user's hunt, issue 18
    twenty-fourth pass)."""
    import re

    from expflow_git.importers import import_csv

    given: dict[str, Any] = {"path": write_csv(tmp_path, GOOD), "id_column": "run", "study": STUDY}
    with pytest.raises(ValueError, match=re.escape(message)):
        import_csv(**{**given, **kwargs}, root=exp_repo.path)
    assert not (exp_repo.path / "experiments" / STUDY).exists()


def test_the_python_api_reads_the_policy_the_environment_names(
    exp_repo: ExpRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`import_csv` read expflow.yaml where $EXPFLOW_POLICY named another policy, as the
    CLI and `Repository` read it: the records went where that policy does not look, and
    `validate` then found results without records (a user's hunt)."""
    import expflow_git
    from expflow_git.importers import import_csv

    policy = (exp_repo.path / "expflow.yaml").read_text()
    moved = policy.replace(
        'experiments: ["experiments/**/*.json"]', 'experiments: ["runs/**/*.json"]'
    )
    assert moved != policy
    (exp_repo.path / "alt.yaml").write_text(moved)
    monkeypatch.setenv("EXPFLOW_POLICY", "alt.yaml")
    path = write_csv(tmp_path, GOOD)
    summary = import_csv(
        path, id_column="run", study=STUDY, root=exp_repo.path, status_column="state"
    )
    assert summary.plans[0].writes[0].path == f"runs/{STUDY}/r-001.json"
    runs = expflow_git.Repository(exp_repo.path).runs()
    assert [r.id for r in runs] == ["r-001", "r-002", "r-003", "r-004"]
    code, out, err = run_cli(["validate"], cwd=exp_repo.path, env={"EXPFLOW_POLICY": "alt.yaml"})
    assert code == 0, out + err
    # A policy given is that policy, whatever the environment says.
    other = write_csv(tmp_path, "run,sub_step,state\nz-1,5,pending\n", "other.csv")
    summary = import_csv(
        other,
        id_column="run",
        study=STUDY,
        root=exp_repo.path,
        policy="expflow.yaml",
        status_column="state",
    )
    assert summary.plans[0].writes[0].path == f"experiments/{STUDY}/z-1.json"


def rows(count: int) -> str:
    lines = ["run,sub_step,seg_total,pde_mean,train_time_min"]
    lines += [f"r-{i:04d},{i % 7 + 1},{50 + i % 10},15,{30 + i % 20}" for i in range(count)]
    return "\n".join(lines) + "\n"


def test_a_progress_bar_only_on_a_terminal(exp_repo: ExpRepo, tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    from support import scrubbed_env

    path = write_csv(tmp_path, rows(250))
    plain = run_cli(args(path, "--dry-run"), exp_repo.path)
    assert plain.code == 0 and plain.err == "", plain  # no terminal: no bar
    leader, follower = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-m", "expflow_git", *args(path, "--dry-run")],
        cwd=exp_repo.path,
        env=scrubbed_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
        timeout=120,
        check=False,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end is closed: everything was read
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.returncode == 0
    assert b"import [" in seen and b"250/250" in seen, seen
    assert b"250/250" not in proc.stdout  # the bar is on stderr, never in the output


def test_a_study_over_its_budget_is_warned_of(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    policy = exp_repo.path / "expflow.yaml"
    policy.write_text(policy.read_text() + "budget: {max_runs_per_study: 3}\n")
    res = cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path)
    assert res.code == 0, res
    assert "study sheet will have 4 runs, over the policy's budget of 3" in res.err


def test_all_studies_over_their_total_budget_are_warned_of(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """`budget.max_runs` (all studies) was not read before the import: it wrote runs the
    audit then refused, saying nothing."""
    policy = exp_repo.path / "expflow.yaml"
    policy.write_text(policy.read_text() + "budget: {max_runs: 3}\n")
    res = cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path)
    assert res.code == 0, res
    assert "all studies will have 4 runs, over the policy's budget of 3" in res.err


def test_the_budget_warning_counts_records_below_the_studys_folder(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """Records were counted by their folder's name: two kept in `experiments/sheet/old/`
    were not the study's, and a third run got no warning the audit then refused."""
    policy = exp_repo.path / "expflow.yaml"
    policy.write_text(policy.read_text() + "budget: {max_runs_per_study: 2}\n")
    for exp_id in ("o-1", "o-2"):
        exp_repo.write_json(
            f"experiments/{STUDY}/old/{exp_id}.json",
            {"schema": "expflow/experiment@1", "id": exp_id, "study": STUDY, "status": "failed"},
        )
    one = "run,sub_step,lr,seg_total,pde_mean,train_time_min\nr-001,5,0.001,57.09,15.0,45.5\n"
    res = cli(args(write_csv(tmp_path, one)), exp_repo.path)
    assert res.code == 0, res
    assert "study sheet will have 3 runs, over the policy's budget of 2" in res.err


def test_a_moved_run_is_not_imported_twice(exp_repo: ExpRepo, tmp_path: Path, cli: CliCall) -> None:
    """The importer looked for records only at experiments/<study>/<id>.json and results
    at results/<study>/<id>.json: a committed run moved elsewhere (as the policy's globs
    allow) was imported again as new, a second record and a second score."""
    path = write_csv(tmp_path, GOOD)
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert res.code == 0, res
    exp_repo.commit("imported")
    moves = {
        f"experiments/{STUDY}/r-001.json": f"experiments/{STUDY}/old/r-001.json",
        f"results/{STUDY}/r-001.json": "results/archive/r-001.json",
    }
    for src, dst in moves.items():
        (exp_repo.path / dst).parent.mkdir(parents=True, exist_ok=True)
        (exp_repo.path / src).rename(exp_repo.path / dst)
    exp_repo.commit("archived r-001")
    before = tree_bytes(exp_repo.path)
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    # Its run still (a moved record is its run's, in its study: it was refused as taken).
    assert res.code == 0 and totals(res.out) == "0 new, 0 updated, 4 unchanged, 0 refused", res
    assert tree_bytes(exp_repo.path) == before  # no second record, no second result


def test_a_renamed_export_is_the_same_runs(exp_repo: ExpRepo, tmp_path: Path, cli: CliCall) -> None:
    """A CSV's runs were owned by its file name: the next export, saved as another file,
    had every run refused as "taken" by the first file."""
    assert cli(args(write_csv(tmp_path, GOOD), "--status-column", "state"), exp_repo.path).code == 0
    exp_repo.commit("imported")
    before = tree_bytes(exp_repo.path)
    later = write_csv(tmp_path, GOOD + "r-005,2,0.03,56.5,16.0,39,54.0,success\n", "runs-v2.csv")
    res = cli(args(later, "--status-column", "state"), exp_repo.path)
    assert res.code == 0, res
    assert "1 new, 0 updated, 4 unchanged, 0 refused" in res.out, res.out
    assert {k: v for k, v in tree_bytes(exp_repo.path).items() if k in before} == before


def test_a_wide_header_is_read_in_one_pass() -> None:
    """Each column's position is found once: the header was searched again for every
    column (its count to find doubles, its index per metric column), C² comparisons
    (40k columns: 22 s). The header's names count their comparisons here."""
    from expflow_git.importers.csv import _Columns
    from expflow_git.policy.load import load_policy_bytes
    from expflow_git.records.scaffold import COMPETITION_POLICY

    names = ComparedStrings()
    columns = 1000
    header = [names.of("run"), *(names.of(f"s{i:04d}/seg_total") for i in range(columns))]
    layout = _Columns(
        "wide.csv", header, load_policy_bytes(COMPETITION_POLICY.encode()), "run", None
    )
    chosen = layout.metric_columns(())
    assert sorted(chosen) == list(range(1, columns + 1))
    assert chosen[7] == ("s0006", "seg_total")
    assert names.compared <= 10 * columns  # (~1.5 million before)
    with pytest.raises(ExpflowError, match="column 's0001/seg_total' appears twice"):
        _Columns("wide.csv", [*header, names.of("s0001/seg_total")], layout.policy, "run", None)


def test_a_run_deleted_on_record_is_never_brought_back(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, isolated_env: Path
) -> None:
    """`rm` of a committed run, committed: a second import planned the run as new and
    wrote it back, and the hook then refused the commit ("a committed correction deletes
    it"; an attacker's hunt). README: "a deleted run is not imported again as new". The
    import refuses it, as `new` and `Repository.run` do, before anything is written."""
    from test_import_common import set_pin

    import expflow_git

    env = set_pin(isolated_env)
    install_hooks(exp_repo)
    path = write_csv(tmp_path, GOOD)
    assert cli(args(path, "--status-column", "state"), exp_repo.path).code == 0
    assert hook_commit(exp_repo, "import").returncode == 0
    res = cli(["rm", "r-002", "--reason", "a leak in the split"], exp_repo.path, env=env)
    assert res.code == 0, res
    proc = hook_commit(exp_repo, "remove r-002", env=env)
    assert proc.returncode == 0, proc.stderr
    before = tree_bytes(exp_repo.path)
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert res.code == 1, res
    assert "r-002" in res.out and "was deleted on record" in res.out
    assert totals(res.out) == "0 new, 0 updated, 3 unchanged, 1 refused"
    assert tree_bytes(exp_repo.path) == before
    res = cli(["new", "r-002", "--study", STUDY, "--param", "sub_step=1"], exp_repo.path)
    assert res.code == 1 and "was deleted on record" in res.err, res
    repo = expflow_git.Repository(exp_repo.path)
    with pytest.raises(ExpflowError, match="was deleted on record"):
        with repo.run("r-002", study=STUDY, params={"sub_step": 1}):
            pass
    assert tree_bytes(exp_repo.path) == before
    assert "r-001" in audit_passes(exp_repo)
    # HEAD's corrections are read with HEAD's policy too: an uncommitted edit of
    # paths.corrections hid the deletion, and both wrote the run back (review).
    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    policy.write_text(text.replace("paths:\n", 'paths:\n  corrections: ["notes/**/*.json"]\n', 1))
    res = cli(["new", "r-002", "--study", STUDY, "--param", "sub_step=1"], exp_repo.path)
    assert res.code == 1 and "was deleted on record" in res.err, res
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert res.code == 1 and "was deleted on record" in res.out, res
    policy.write_text(text)
    assert tree_bytes(exp_repo.path) == before
    # An uncommitted `rm` of a committed run: `new` of its id wrote a record the hook
    # then refused (review); HEAD holds its result, so its record is frozen, and the
    # refusal names the pending deletion.
    res = cli(["rm", "r-001", "--reason", "again"], exp_repo.path, env=env)
    assert res.code == 0, res
    res = cli(["new", "r-001", "--study", STUDY, "--param", "sub_step=9"], exp_repo.path)
    assert res.code == 1 and "'r-001' was deleted on record (corrections/" in res.err, res
    assert not (exp_repo.path / f"experiments/{STUDY}/r-001.json").exists()


def test_another_studys_run_is_refused_with_flat_folders(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """Records `records/*.json`: every study's record of one id has one path, and the
    import told another study only by the record's folder, so importing the file again
    into study s2 moved its runs there ("updated … [study changed]"; an attacker's hunt;
    docs/spec.md: a record id taken by another study is refused)."""
    policy = (exp_repo.path / "expflow.yaml").read_text()
    policy = policy.replace(
        'experiments: ["experiments/**/*.json"]', 'experiments: ["records/*.json"]'
    )
    policy = policy.replace('results: ["results/**/*.json"]', 'results: ["scores/*.json"]')
    (exp_repo.path / "expflow.yaml").write_text(policy)
    path = write_csv(tmp_path, GOOD)
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert res.code == 0 and load(exp_repo, "records/r-001.json")["study"] == STUDY, res
    before = tree_bytes(exp_repo.path)
    other = ["import", "csv", str(path), "--id-column", "run", "--study", "s2"]
    res = cli([*other, "--status-column", "state"], exp_repo.path)
    assert res.code == 1, res
    assert totals(res.out) == "0 new, 0 updated, 0 unchanged, 4 refused"
    assert "it is in another study (records/r-001.json)" in res.out
    assert tree_bytes(exp_repo.path) == before


def test_a_record_moved_in_its_study_is_still_its_runs(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """`git mv experiments/sheet/r-002.json experiments/old/`: the next import refused the
    run as "in another study (experiments/old/r-002.json)", though its record says study
    sheet (an attacker's hunt; a moved record is still its run's, as a moved result is).
    It is unchanged, and a change is written where the record is."""
    path = write_csv(tmp_path, GOOD)
    assert cli(args(path, "--status-column", "state"), exp_repo.path).code == 0
    (exp_repo.path / "experiments/old").mkdir()
    os.rename(
        exp_repo.path / f"experiments/{STUDY}/r-002.json",
        exp_repo.path / "experiments/old/r-002.json",
    )
    res = cli(args(path, "--status-column", "state"), exp_repo.path)
    assert res.code == 0 and totals(res.out) == "0 new, 0 updated, 4 unchanged, 0 refused", res
    changed = write_csv(tmp_path, GOOD.replace("r-002,3,", "r-002,7,"), "changed.csv")
    res = cli(args(changed, "--status-column", "state"), exp_repo.path)
    assert res.code == 0 and totals(res.out) == "0 new, 1 updated, 3 unchanged, 0 refused", res
    assert load(exp_repo, "experiments/old/r-002.json")["params"]["sub_step"] == "7"
    assert not (exp_repo.path / f"experiments/{STUDY}/r-002.json").exists()


def test_a_record_without_a_study_is_neither_taken_over_nor_another_studys(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """A record that lost its `study`: the import called it "in another study" (review),
    and once told it was the run's, another study's import took it over (the next
    review; a flat folder cannot tell). It is refused as what it is."""
    path = write_csv(tmp_path, GOOD)
    assert cli(args(path, "--status-column", "state"), exp_repo.path).code == 0
    rel = f"experiments/{STUDY}/r-001.json"
    doc = load(exp_repo, rel)
    del doc["study"]
    (exp_repo.path / rel).write_text(json.dumps(doc, indent=2) + "\n")
    before = tree_bytes(exp_repo.path)
    for study in (STUDY, "other"):
        given = ["import", "csv", str(path), "--id-column", "run", "--study", study]
        res = cli([*given, "--status-column", "state"], exp_repo.path)
        assert res.code == 1 and f"its record {rel} has no study" in res.out, res
        assert tree_bytes(exp_repo.path) == before
