"""Small items left, and an attacker's read of the integrity primitives (issue 18,
forty-third pass). Each test failed on the code before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ExpRepo
from helpers_audit import (
    POLICY,
    add_run,
    clean_env,
    commit_all,
    experiment,
    m,
    new_repo,
    result,
    run_cli,
    statement_of,
    write,
    write_json,
)

# ------------------------------------------------------- a list asked for, given unordered


def test_import_optuna_refuses_metrics_given_as_a_mapping(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """docs/decisions.md, forty-second pass: `import_optuna(metrics={"seg_total": "max"})`
    took the mapping's keys as the metric names and imported, the aggregate silently
    unused (an objective's value has none: `--metric NAME=min|max|last` is MLflow's).
    Refused as the API refuses an argument of the wrong kind, nothing written."""
    optuna = pytest.importorskip("optuna", reason="needs the optuna extra")
    from optuna.distributions import IntDistribution
    from optuna.trial import create_trial

    from expflow_git.importers import import_optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{tmp_path / 'one.db'}"
    study = optuna.create_study(study_name="one", storage=url, direction="maximize")
    study.add_trial(
        create_trial(
            params={"sub_step": 3},
            distributions={"sub_step": IntDistribution(1, 8)},
            values=[57.0],
            user_attrs={"pde_mean": 15.0, "train_time_min": 40.0},
        )
    )
    before = exp_repo.status()
    with pytest.raises(ValueError, match=r"^metrics: .*not a mapping \{'seg_total': 'max'\}"):
        import_optuna(url, "one", root=exp_repo.path, metrics={"seg_total": "max"})
    # A set has no order, and an Optuna study's metric names are in objective order.
    with pytest.raises(ValueError, match=r"^metrics: give a list of strings, not a set"):
        import_optuna(url, "one", root=exp_repo.path, metrics={"seg_total"})
    assert exp_repo.status() == before  # nothing written
    # The list form imports as before.
    summary = import_optuna(url, "one", root=exp_repo.path, metrics=["seg_total"], dry_run=True)
    assert summary.refused == 0 and len(summary.plans) == 1


def test_the_api_refuses_a_set_or_a_mapping_where_a_list_is_asked_for(
    exp_repo: ExpRepo,
) -> None:
    """`string_list` took any iterable: `tags={"b", "a"}` wrote the record's tags in the
    set's hash order, which differs from one process to the next (the same call wrote
    other bytes on another machine), and `tags={"fno": 1}` wrote the key alone."""
    from expflow_git import Repository

    repo = Repository(exp_repo.path)
    for tags in ({"fno", "task1"}, frozenset({"fno"}), {"fno": 1}, {"fno": 1}.keys()):
        with pytest.raises(ValueError, match=r"^tags: give a list of strings, not a "):
            repo.new("e1", study="s", tags=tags)  # type: ignore[arg-type]
    assert not (exp_repo.path / "experiments/s/e1.json").exists()
    with pytest.raises(ValueError, match=r"^public_keys: give a list of strings, not a set"):
        repo.verify(b"{}", public_keys={"ci.pub"})  # type: ignore[arg-type]
    repo.new("e1", study="s", tags=sorted({"fno", "task1"}))
    assert json.loads((exp_repo.path / "experiments/s/e1.json").read_text())["tags"] == [
        "fno",
        "task1",
    ]


def test_gates_and_walk_forward_lists_refuse_a_set_or_a_mapping() -> None:
    """`gates` given one `{gate, severity}` mapping (not a list of one) was read as its
    keys, "gate 'gate' is malformed"; a set of gates came out in hash order in every
    check list. `gate_scores` paired train and holdout values by a set's order (each
    run's pair broken) or a mapping's keys."""
    from expflow_git import compare_scores, gate_scores

    runs = {"a": {"seg_total": 1.0, "pde_mean": 5.0}, "b": {"seg_total": 2.0, "pde_mean": 0.5}}
    gate = {"gate": "pde_mean:lt:1", "severity": "warning"}
    with pytest.raises(ValueError, match=r"^gates: give a list .* not a mapping"):
        compare_scores(runs, sort_by="seg_total", gates=gate)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^gates: give a list .* not a set"):
        compare_scores(runs, sort_by="seg_total", gates={"pde_mean:lt:1"})
    assert compare_scores(runs, sort_by="seg_total", gates=[gate]).rows[1].warnings
    with pytest.raises(ValueError, match=r"^train: give a list of numbers.* not a set"):
        gate_scores({1.0, 2.0, 3.0}, [1.0, 2.0, 3.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^holdout: give a list of numbers.* not a mapping"):
        gate_scores([1.0, 2.0, 3.0], {"a": 1.0, "b": 2.0, "c": 3.0})  # type: ignore[arg-type]
    assert gate_scores((1.0, 2.0, 3.0), iter([1.0, 2.0, 3.5])).passed


# ------------------------------------------------------------ the holdout budget's study


def _audit_json(repo: Path, base: str, seed: int) -> str:
    env = clean_env({"PYTHONHASHSEED": str(seed)})
    proc = subprocess.run(
        [sys.executable, "-m", "expflow_git", "audit", "--since", base, "--format", "json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


def test_a_look_moved_to_runs_of_two_studies_is_charged_to_one_whatever_the_hash_seed(
    tmp_path: Path,
) -> None:
    """docs/spec.md §6.2 item 6: a look first committed under a name of no record is
    charged to the study of a run its blob was moved to. The runs it was moved to were a
    set, read in its hash order: a blob moved to a run of `s1` and one of `s2` in one
    commit was charged to either, from one audit of the same commit to the next (the
    report, and a study's verdict at its budget, differed between two machines, and
    `verify --recompute` with them). It is charged to the first the history moved it to."""
    policy = POLICY + (
        "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
        "               max_evaluations_per_study: 5}\n"
    )
    repo = new_repo(tmp_path / "repo", policy)
    base = commit_all(repo, "policy")
    write_json(repo, "results/sa/typo.json", result("typo", m(50.0), {"holdout": m(40.0)}))
    commit_all(repo, "a look under a name of no record")
    data = (repo / "results/sa/typo.json").read_bytes()
    (repo / "results/sa/typo.json").unlink()
    for study, run_id in (("s1", "y"), ("s2", "z")):
        write(repo, f"results/{study}/{run_id}.json", data)
        write_json(repo, f"experiments/{study}/{run_id}.json", experiment(run_id, study=study))
    commit_all(repo, "its blob moved to a run of each of two studies")
    reports = {_audit_json(repo, base, seed) for seed in range(1, 9)}
    assert len(reports) == 1, "the report differs with PYTHONHASHSEED"
    entries = statement_of(reports.pop())["predicate"]["entries"]
    [budget] = [e for e in entries if e["type"] == "holdout-budget"]
    assert budget["studies"] == [{"study": "s1", "evaluations": 1}], budget


# ------------------------------------------------- the job summary keeps the findings


def test_a_long_walk_forward_split_pushes_no_finding_out_of_the_summary(tmp_path: Path) -> None:
    """docs/spec.md §6.5 and §8: the summary's findings come before the leaderboard and
    are always shown within GitHub's 1 MiB cap, and the holdout budget's line is cut at
    1,000 characters. `walk_forward.split` is the judging policy's free text: named in
    the walk-forward's line and the budget's (neither cut), a split of 300,000 `_`
    (each escaped `\\_`) made the lines before the findings over 1 MiB, and the summary
    was cut before its first finding."""
    split = "_" * 300_000
    policy = POLICY + (
        f'walk_forward: {{metric: seg_total, split: "{split}", top_n: 10,\n'
        "               min_pearson: 0.3, max_evaluations: 3}\n"
    )
    repo = new_repo(tmp_path / "repo", policy)
    add_run(repo, "r01", m(50.0))
    write(repo, "results/pdebench-task1/stray.json", "{}\n")  # an invalid result: findings
    commit_all(repo, "a policy with a long split")
    res = run_cli(["audit", "--format", "md"], repo)
    assert res.code == 1, res
    assert "### Findings (4)" in res.out, res.out[:2000]
    assert "`results/pdebench-task1/stray.json` **schema**" in res.out
    assert "summary truncated" not in res.out
    lines = res.out.splitlines()
    [walk] = [ln for ln in lines if ln.startswith("- walk-forward:")]
    [budget] = [ln for ln in lines if ln.startswith("- holdout budget:")]
    assert walk.endswith("…") and len(walk) < 2_200, walk[:200]  # 1,000 characters, escaped
    assert budget.endswith("none; in all studies 0, at most 3"), budget[-200:]
    assert len(budget) < 2_200
    # The text form (a log, no cap) names the split whole.
    assert split in run_cli(["audit"], repo).out
