"""The record writers, small defects earlier passes noticed and left (issue 18 fortieth
pass): `Repository.run()` on a record with another title, `import --dry-run --correct`
with the PIN in its reason, and the validate hook's budget facts file without a digest
of its own body."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliResult, run_cli

import expflow_git
from expflow_git import ExpflowError, Status
from expflow_git.importers import import_csv

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
STUDY = "pdebench-task1"
SEED = {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}


def files(repo: ExpRepo) -> dict[str, bytes]:
    """Every file of the work tree but git's, with its bytes."""
    return {
        p.relative_to(repo.path).as_posix(): p.read_bytes()
        for p in sorted(repo.path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo.path).parts
    }


# ------------------------------------------------------------------ run() and a title
def test_run_refuses_a_record_with_another_title(committed_repo: ExpRepo) -> None:
    """`run()` on an existing record refuses a study, params or tags that differ from the
    record's (docs/api.md: "a study, params or tags given that differ from the record's
    are a `ValueError` naming them, nothing changed"); a title that differs was ignored
    without a word, the run started under the record's title. It is refused as they are;
    no title given, or the record's own, starts the run."""
    repo = expflow_git.Repository(committed_repo.path)
    repo.new("exp-001", study=STUDY, params={"sub_step": 5}, title="wider FNO")
    before = files(committed_repo)
    with pytest.raises(ValueError, match=r"run 'exp-001' exists with other title") as refused:
        with repo.run("exp-001", title="narrow FNO") as run:
            run.log(**SEED)
    assert "experiments/" in str(refused.value)  # the record is named
    assert files(committed_repo) == before
    assert repo.get("exp-001").status is Status.PENDING
    with repo.run("exp-001", title="wider FNO") as run:
        run.log(**SEED)
    assert repo.get("exp-001").status is Status.SUCCESS
    # A record without a title: one given is another title too.
    repo.new("exp-002", study=STUDY, params={"sub_step": 6})
    with pytest.raises(ValueError, match="other title"):
        with repo.run("exp-002", title="a title"):
            pass
    with repo.run("exp-002") as run:
        run.log(**SEED)
    record = json.loads((committed_repo.path / repo.get("exp-002").record_path).read_text())
    assert "title" not in record and record["status"] == "success"


# ------------------------------------------------------------------ import --dry-run --correct
def _csv(tmp_path: Path, score: float) -> Path:
    path = tmp_path / "runs.csv"
    path.write_text(f"run,sub_step,seg_total,pde_mean,train_time_min\nr-001,5,{score},15,45\n")
    return path


def _import(repo: ExpRepo, sheet: Path, *extra: str, pin: str | None = None) -> CliResult:
    env = {"EXPFLOW_PIN": pin} if pin is not None else None
    args = ["import", "csv", str(sheet), "--id-column", "run", "--study", "sheet", *extra]
    return run_cli(args, repo.path, env=env)


def _changed_sheet(repo: ExpRepo, tmp_path: Path) -> Path:
    """A PIN set, a run imported and committed, then its score changed in the CSV file:
    importing it again is a correction."""
    assert run_cli(["pin", "init", PIN], repo.path).code == 0
    sheet = _csv(tmp_path, 57.0)
    assert _import(repo, sheet).code == 0
    repo.commit("import")
    return _csv(tmp_path, 50.0)


def test_a_dry_run_correction_refuses_the_pin_in_its_reason(
    committed_repo: ExpRepo, tmp_path: Path
) -> None:
    """`import … --correct "rerun NNNN"` with the PIN NNNN (given, or in $EXPFLOW_PIN) is
    refused, exit 2, the PIN not shown (docs/spec.md §5: a `--correct` reason "in which a
    PIN it knows stands alone … is refused (exit 2, nothing written, the PIN not
    shown)"); `--dry-run`, which "prints the same and writes nothing" (§4.2), planned it
    as `corrected`, exit 0: the real run it previews then failed."""
    repo = committed_repo
    sheet = _changed_sheet(repo, tmp_path)
    before = files(repo)
    for how in (("--pin", PIN), ()):
        env_pin = None if how else PIN
        real = _import(repo, sheet, "--correct", f"rerun {PIN}", *how, pin=env_pin)
        assert real.code == 2, real
        assert "--correct holds the PIN" in real.err, real
        dry = _import(repo, sheet, "--dry-run", "--correct", f"rerun {PIN}", *how, pin=env_pin)
        assert dry.code == 2, dry
        assert "--correct holds the PIN" in dry.err, dry
        assert "corrected" not in dry.out, dry
        for res in (real, dry):
            assert PIN not in res.out + res.err, res
    assert files(repo) == before
    # A reason without the PIN: the dry run plans the correction, writes nothing.
    dry = _import(repo, sheet, "--dry-run", "--correct", "rerun", pin=PIN)
    assert dry.code == 0, dry
    assert "1 corrected" in dry.out, dry
    assert files(repo) == before


def test_the_api_import_refuses_the_pin_in_its_correction_reason(
    committed_repo: ExpRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`import_csv(…, correct="rerun NNNN")` with $EXPFLOW_PIN holding NNNN wrote the PIN
    into the correction it wrote (and the new score under it), where the CLI refuses the
    reason (docs/spec.md §5) and docs/api.md promises "an ExpflowError … code 2, naming
    the field, nothing written" for a reason quoting a PIN: no PIN is asked for there, so
    none was looked for. Refused now, dry run or not."""
    repo = committed_repo
    sheet = _changed_sheet(repo, tmp_path)
    before = files(repo)
    monkeypatch.setenv("EXPFLOW_PIN", PIN)
    for dry_run in (True, False):
        with pytest.raises(ExpflowError, match="^--correct holds the PIN") as refused:
            import_csv(
                sheet,
                id_column="run",
                study="sheet",
                root=repo.path,
                correct=f"rerun {PIN}",
                dry_run=dry_run,
            )
        assert refused.value.code == 2 and PIN not in str(refused.value)
    assert files(repo) == before
    summary = import_csv(sheet, id_column="run", study="sheet", root=repo.path, correct="rerun")
    assert [p.action.value for p in summary.plans] == ["corrected"]


# ------------------------------------------------------------------ the budget facts' digest
def _facts_file(repo: ExpRepo) -> Path:
    [facts] = sorted((repo.path / ".git" / "expflow").glob("budget-facts-*.json"))
    return facts


def test_a_bit_flipped_in_the_budget_facts_changes_no_verdict(committed_repo: ExpRepo) -> None:
    """The validate hook remembers each record's study in `.git/expflow/budget-facts-*.
    json`; the policy cache carries the SHA-256 of its body (a bit flipped on disk in a
    threshold was believed, thirty-ninth pass), the facts file did not: one bit flipped
    in a study's name there (`s1` to `s3`) moved a run out of its study, and a commit over
    `budget.max_runs_per_study` passed the hook, exit 0, where the same check without the
    file refuses it. A file whose body does not match its digest is a miss: every
    document read again, the verdict right, the file rewritten whole."""
    repo = committed_repo
    with (repo.path / "expflow.yaml").open("a") as f:
        f.write("budget: {max_runs_per_study: 2}\n")
    for exp_id in ("r1", "r2"):
        repo.add_experiment(exp_id, study="s1")
    repo.commit("two runs in s1")
    third = repo.add_experiment("r3", study="s1")
    repo.stage(third)
    refused = run_cli(["validate", "--staged", "--", third], repo.path)
    assert refused.code == 1, refused
    assert "budget-exceeded: study 's1' has 3 runs, over the budget of 2" in refused.out
    facts = _facts_file(repo)
    data = facts.read_bytes()
    assert data.count(b'"s1"]') == 3  # r1's, r2's and the staged r3's (a given one is read)
    # One bit: `1` (0x31) to `3` (0x33) in the first study named (r1's).
    at = data.index(b'"r1","s1"]') + 7
    facts.write_bytes(data[:at] + bytes([data[at] ^ 0x02]) + data[at + 1 :])
    again = run_cli(["validate", "--staged", "--", third], repo.path)
    assert (again.code, again.out) == (refused.code, refused.out), again
    assert _facts_file(repo).read_bytes() == data  # read again, and rewritten
