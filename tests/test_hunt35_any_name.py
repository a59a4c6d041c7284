"""Documents whose file names do not end in `.json` (a hunter's find, issue 18 thirty-fifth
pass).

The policy's globs may match any file name (`experiments/**/*`), and the spec's id rule
is "equals the file's stem" (`documents.stem`: the name without `.json` *if* it has
one), so `experiments/a/run1` is a valid record of id `run1` for the audit. The hooks'
lookup (`hooks/lookup.py`, `Lookup.all_paths` / `Lookup.index`) only ever indexes paths
that end in `.json`, so `validate --staged` never sees another document of such an id:
a duplicate id, a second result and a result of a failed run pass the hook, and the
commit's audit fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ExpRepo, experiment_doc, result_doc
from support import run_cli


def _any_name_policy(repo: ExpRepo) -> None:
    policy = (repo.path / "expflow.yaml").read_text()
    policy = policy.replace('"experiments/**/*.json"', '"experiments/**/*"')
    policy = policy.replace('"results/**/*.json"', '"results/**/*"')
    assert '"experiments/**/*"' in policy and '"results/**/*"' in policy
    (repo.path / "expflow.yaml").write_text(policy)
    for keep in ("experiments/.gitkeep", "results/.gitkeep"):  # (no document: not JSON)
        (repo.path / keep).unlink()


SCENARIOS = {
    # two records of one id, neither named `.json`
    "duplicate-id": (
        {
            "experiments/a/run1": experiment_doc("run1"),
            "experiments/b/run1": experiment_doc("run1"),
        },
        {},
    ),
    # one record, two results for it
    "duplicate-result": (
        {
            "experiments/s/run1": experiment_doc("run1"),
            "results/a/run1": result_doc("run1"),
            "results/b/run1": result_doc("run1"),
        },
        {},
    ),
    # a run with a result committed, its record then staged as failed
    "result-for-unsuccessful-run": (
        {"experiments/s/run1": experiment_doc("run1", status="failed")},
        {
            "experiments/s/run1": experiment_doc("run1"),
            "results/s/run1": result_doc("run1"),
        },
    ),
}
# The same id in both spellings: a committed record without the suffix, one with it staged.
SCENARIOS["duplicate-id (mixed)"] = (
    {"experiments/s/run3.json": experiment_doc("run3")},
    {"experiments/t/run3": experiment_doc("run3")},
)


@pytest.mark.parametrize("rule", sorted(SCENARIOS))
def test_validate_staged_catches_what_the_audit_of_its_commit_refuses(
    exp_repo: ExpRepo, rule: str
) -> None:
    repo = exp_repo
    _any_name_policy(repo)
    staged, before = SCENARIOS[rule]
    for rel, doc in before.items():
        repo.write_json(rel, doc)
    repo.commit("init")
    for rel, doc in staged.items():
        repo.write_json(rel, doc)
    repo.stage(*staged)
    hook = run_cli(["validate", "--staged", "--", *staged], cwd=repo.path)
    repo.commit("the pull request")
    audit = run_cli(["audit", "--no-cache"], cwd=repo.path)
    said = rule.split()[0]
    assert audit.code != 0 and f": {said}:" in audit.out, audit.both  # the audit refuses it
    # ... so the pre-commit hook, judging the same staged bytes, should have.
    assert hook.code != 0, f"validate --staged passed: {hook.both}\naudit:\n{audit.out}"
    assert f": {said}:" in hook.out, hook.both


@pytest.mark.parametrize("runs", [1, 40])  # (40: more than the few ids asked of git by name)
def test_a_result_finds_its_record_named_without_the_suffix(exp_repo: ExpRepo, runs: int) -> None:
    """The other half: the hook said "no experiment record" of a result whose record is
    named `run1` (the audit pairs them), with one result staged and with many."""
    repo = exp_repo
    _any_name_policy(repo)
    for n in range(runs):
        repo.write_json(f"experiments/s/run{n}", experiment_doc(f"run{n}"))
    repo.commit("launch")
    results = [f"results/s/run{n}" for n in range(runs)]
    for n, rel in enumerate(results):
        repo.write_json(rel, result_doc(f"run{n}"))
    repo.stage(*results)
    hook = run_cli(["validate", "--staged", "--", *results], cwd=repo.path)
    assert hook.code == 0, hook.both
    repo.commit("results")
    audit = run_cli(["audit", "--no-cache"], cwd=repo.path)
    assert audit.code == 0, audit.both


def _new(exp_id: str, study: str) -> list[str]:
    params = ["--param", "lr=0.001", "--param", "Args/--sub_step=5", "--param", "model=fno"]
    return ["new", exp_id, "--study", study, *params]


def test_the_writers_find_a_run_whose_files_have_no_suffix(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """`new`, `result` and `import` look for a run's record and result as the hooks and
    the audit do: `new run1` wrote `experiments/t/run1.json` beside a committed
    `experiments/s/run1` (a duplicate id), and `result run1` gave the result to it."""
    repo = exp_repo
    _any_name_policy(repo)
    assert run_cli(_new("run1", "s"), cwd=repo.path).code == 0
    (repo.path / "experiments/s/run1.json").rename(repo.path / "experiments/s/run1")
    repo.commit("a record without the suffix")
    again = run_cli(_new("run1", "t"), cwd=repo.path)
    assert again.code == 2 and "experiments/s/run1: experiment 'run1' exists" in again.err
    assert not (repo.path / "experiments/t").exists()
    wrote = run_cli(
        ["result", "run1", "--metric", "seg_total=50", "--metric", "pde_mean=10"]
        + ["--metric", "train_time_min=5"],
        cwd=repo.path,
    )
    assert wrote.code == 0, wrote.both
    assert json.loads((repo.path / "experiments/s/run1").read_text())["status"] == "success"
    (repo.path / "results/s/run1.json").rename(repo.path / "results/s/run1")
    repo.commit("its result, without the suffix")
    assert run_cli(["audit", "--no-cache"], cwd=repo.path).code == 0
    sheet = tmp_path / "runs.csv"
    sheet.write_text("run,seg_total,pde_mean,train_time_min\nrun1,50,10,5\n")
    imported = run_cli(
        ["import", "csv", str(sheet), "--id-column", "run", "--study", "s"], cwd=repo.path
    )
    assert not (repo.path / "experiments/s/run1.json").exists(), imported.both
    assert not (repo.path / "results/s/run1.json").exists(), imported.both


def test_an_import_names_where_head_has_a_result_without_the_suffix(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """A correction of an imported result that HEAD holds as `results/s/run1`, moved in
    the work tree and not committed, is refused naming both places, and nothing is
    written. The importers key HEAD's results by stem: keyed by the name less `.json`'s
    five characters, `run1` was "", HEAD seemed to hold no result of it, and the import
    wrote the new score over the moved file, "updated", with no correction."""
    repo = exp_repo
    _any_name_policy(repo)
    sheet = tmp_path / "runs.csv"
    sheet.write_text("run,seg_total,pde_mean,train_time_min\nrun1,50,10,5\n")
    import_csv = ["import", "csv", str(sheet), "--id-column", "run", "--study", "s"]
    assert run_cli(import_csv, cwd=repo.path).code == 0
    for kind in ("experiments", "results"):
        (repo.path / f"{kind}/s/run1.json").rename(repo.path / f"{kind}/s/run1")
    repo.commit("an imported run, its files without the suffix")
    (repo.path / "results/s/old").mkdir()
    (repo.path / "results/s/run1").rename(repo.path / "results/s/old/run1")
    sheet.write_text("run,seg_total,pde_mean,train_time_min\nrun1,51,10,5\n")
    moved = run_cli([*import_csv, "--correct", "fix", "--force"], cwd=repo.path)
    assert moved.code == 1, moved.both
    assert (
        "committed as results/s/run1, which the work tree has as results/s/old/run1;"
    ) in moved.out, moved.both
    assert json.loads((repo.path / "results/s/old/run1").read_text())["metrics"]["seg_total"] == 50
    assert not (repo.path / "corrections").exists()
