"""`init`, `new` and `result` through the CLI, in real repositories."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sys
from pathlib import Path

import pytest
import rfc8785
from conftest import ExpRepo, assert_clean_output, git_init, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

STUDY = "pdebench-task1"
EXP = f"experiments/{STUDY}/exp-001.json"
RES = f"results/{STUDY}/exp-001.json"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SEED_METRIC_ARGS = [
    "--metric",
    "seg_total=57.09",
    "--metric",
    "pde_mean=15.0",
    "--metric",
    "train_time_min=45.5",
]


def expected_seed(base_seed: int, study: str, condition: str, replicate: int) -> int:
    """docs/spec.md §2.1, computed independently of the product."""
    canonical = rfc8785.dumps([base_seed, study, condition, replicate])
    return int(hashlib.sha256(canonical).hexdigest()[:16], 16) % (2**31 - 1)


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def leftovers(directory: Path) -> list[str]:
    """Anything a non-atomic writer could leave behind (temp files, partial files)."""
    return sorted(
        p.name for p in directory.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"
    )


# --------------------------------------------------------------------------- init
def test_init_competition_writes_the_standard_registry(tmp_path: Path, cli) -> None:
    repo = git_init(tmp_path / "r")
    res = cli(["init", "--template", "competition"], cwd=repo)
    assert res.code == 0, res.both
    for rel in (
        "expflow.yaml",
        "experiments",
        "results",
        ".pre-commit-config.yaml",
        ".github/workflows/expflow.yml",
    ):
        assert (repo / rel).exists(), rel
        assert rel.split("/")[0] in res.out

    from expflow_git.policy.load import load_policy_bytes

    policy = load_policy_bytes((repo / "expflow.yaml").read_bytes())
    groups = {
        "Score": ({"seg_total", "seg1", "seg2", "seg3"}, True),
        "Loss": ({"val_mse", "val_relmse"}, False),
        "PDE": ({"pde_mean", "pde_seg1", "pde_seg2", "pde_seg3"}, False),
        "Time": ({"train_time_min"}, False),
        "Model": ({"arch_params"}, False),
        "Training": ({"epochs"}, False),
    }
    assert len(policy.metrics) == 13
    for group, (names, higher) in groups.items():
        for name in names:
            m = policy.metrics[name]
            assert (m.group, m.higher_is_better) == (group, higher), name
    thresholds = {n: m.threshold for n, m in policy.metrics.items() if m.threshold is not None}
    assert thresholds == {"pde_mean": 18.09, "train_time_min": 60}
    mins = {n: m.min for n, m in policy.metrics.items() if m.min is not None}
    assert mins == {"train_time_min": 0, "arch_params": 0, "epochs": 0}
    assert policy.ranking.sort_by == "seg_total" and policy.ranking.descending
    assert [(r.param, r.op.value, r.value, r.required) for r in policy.rules] == [
        ("sub_step", "gt", 0, True)
    ]


def test_init_minimal_policy_loads_and_init_never_overwrites(tmp_path: Path, cli) -> None:
    target = tmp_path / "new-dir"
    res = cli(["init", str(target)], cwd=tmp_path)
    assert res.code == 0, res.both
    from expflow_git.policy.load import load_policy_bytes

    load_policy_bytes((target / "expflow.yaml").read_bytes())
    (target / "expflow.yaml").write_text("# mine\n")
    res = cli(["init", str(target), "--template", "competition"], cwd=tmp_path)
    assert res.code == 0
    assert (target / "expflow.yaml").read_text() == "# mine\n"
    assert "kept" in res.out and "expflow.yaml" in res.out
    assert leftovers(target) == [".github", ".gitignore", ".pre-commit-config.yaml"]


def test_init_bad_template_is_usage_error(tmp_path: Path) -> None:
    code, out, err = run_cli(["init", "--template", "nope"], cwd=tmp_path)
    assert code == 2
    assert_clean_output(out, err)
    assert not (tmp_path / "expflow.yaml").exists()


# --------------------------------------------------------------------------- new
def test_new_writes_a_valid_record_with_derived_seed(committed_repo: ExpRepo, cli) -> None:
    repo = committed_repo
    res = cli(
        [
            "new",
            "exp-001",
            "--study",
            STUDY,
            "--param",
            "Args/--sub_step=5",
            "--param",
            "lr=0.001",
            "--param",
            "model=fno",
            "--param",
            "amp=true",
            "--tag",
            "task1",
            "--tag",
            "fno",
            "--tag",
            "task1",
            "--title",
            "FNO baseline",
        ],
        cwd=repo.path,
    )
    assert res.code == 0, res.both
    doc = load(repo.path / EXP)
    seed = expected_seed(0, STUDY, "exp-001", 0)
    assert doc["seed"] == seed
    assert f"seed {seed}" in res.out
    assert doc["id"] == "exp-001" and doc["study"] == STUDY and doc["status"] == "pending"
    assert doc["params"] == {"Args/--sub_step": 5, "lr": 0.001, "model": "fno", "amp": True}
    assert doc["tags"] == ["task1", "fno"]
    assert doc["title"] == "FNO baseline"
    assert TIMESTAMP.match(doc["created_at"])
    repo.stage()
    assert cli(["validate", EXP], cwd=repo.path).code == 0


def test_new_captures_provenance(committed_repo: ExpRepo, cli) -> None:
    repo = committed_repo
    assert cli(["new", "exp-001", "--study", STUDY], cwd=repo.path).code == 0
    prov = load(repo.path / EXP)["provenance"]
    assert prov["git_sha"] == repo.head()
    assert prov["host"] == socket.gethostname()
    assert prov["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert prov["platform"]
    assert "expflow-git" in prov["package_versions"]
    assert TIMESTAMP.match(prov["captured_at"])


def test_new_without_commits_records_null_sha(exp_repo: ExpRepo, cli) -> None:
    assert cli(["new", "exp-001", "--study", STUDY], cwd=exp_repo.path).code == 0
    assert load(exp_repo.path / EXP)["provenance"]["git_sha"] is None


@pytest.mark.parametrize(
    ("args", "base_seed", "condition", "replicate"),
    [
        ([], 0, "exp-001", 0),
        (["--condition", "lr-1e-3"], 0, "lr-1e-3", 0),
        (["--condition", "lr-1e-3", "--replicate", "7"], 0, "lr-1e-3", 7),
        (["--replicate", "2"], 1234, "exp-001", 2),
    ],
)
def test_new_seed_matches_spec(
    exp_repo: ExpRepo, cli, args: list[str], base_seed: int, condition: str, replicate: int
) -> None:
    if base_seed:
        policy = exp_repo.path / "expflow.yaml"
        policy.write_text(policy.read_text() + f"seed_policy: {{base_seed: {base_seed}}}\n")
    assert cli(["new", "exp-001", "--study", STUDY, *args], cwd=exp_repo.path).code == 0
    seed = load(exp_repo.path / EXP)["seed"]
    assert seed == expected_seed(base_seed, STUDY, condition, replicate)
    assert 0 <= seed <= 2**31 - 2


def test_new_seed_is_deterministic_and_input_sensitive(exp_repo: ExpRepo, cli) -> None:
    for exp_id in ("a-1", "a-2"):
        assert (
            cli(
                ["new", exp_id, "--study", STUDY, "--condition", "c", "--replicate", "3"],
                cwd=exp_repo.path,
            ).code
            == 0
        )
    assert (
        cli(
            ["new", "a-3", "--study", STUDY, "--condition", "c", "--replicate", "4"],
            cwd=exp_repo.path,
        ).code
        == 0
    )
    seeds = [load(exp_repo.path / f"experiments/{STUDY}/a-{i}.json")["seed"] for i in (1, 2, 3)]
    assert seeds[0] == seeds[1] != seeds[2]


def test_new_explicit_seed_and_range(exp_repo: ExpRepo, cli) -> None:
    assert cli(["new", "exp-001", "--study", STUDY, "--seed", "42"], cwd=exp_repo.path).code == 0
    assert load(exp_repo.path / EXP)["seed"] == 42
    res = cli(["new", "exp-002", "--study", STUDY, "--seed", str(2**31 - 1)], cwd=exp_repo.path)
    assert res.code == 2
    assert not (exp_repo.path / f"experiments/{STUDY}/exp-002.json").exists()


def test_new_refuses_to_overwrite(exp_repo: ExpRepo, cli) -> None:
    assert cli(["new", "exp-001", "--study", STUDY], cwd=exp_repo.path).code == 0
    before = (exp_repo.path / EXP).read_bytes()
    res = cli(["new", "exp-001", "--study", STUDY, "--seed", "1"], cwd=exp_repo.path)
    assert res.code == 2
    assert EXP in res.err and "never overwritten" in res.err
    assert (exp_repo.path / EXP).read_bytes() == before
    # The same id in another study is the same experiment: refused too.
    res = cli(["new", "exp-001", "--study", "other"], cwd=exp_repo.path)
    assert res.code == 2
    assert not (exp_repo.path / "experiments/other/exp-001.json").exists()
    assert leftovers(exp_repo.path / f"experiments/{STUDY}") == []


def test_new_writes_atomically(exp_repo: ExpRepo, cli) -> None:
    for i in range(5):
        assert cli(["new", f"exp-{i}", "--study", STUDY], cwd=exp_repo.path).code == 0
    directory = exp_repo.path / f"experiments/{STUDY}"
    assert sorted(p.name for p in directory.iterdir()) == [f"exp-{i}.json" for i in range(5)]
    assert leftovers(directory) == []
    for p in directory.iterdir():
        json.loads(p.read_text())  # complete documents


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["new", "bad id", "--study", STUDY], "/id"),
        (["new", "exp-001", "--study", "no spaces"], "/study"),
        (["new", "exp-001", "--study", STUDY, "--param", "novalue"], "NAME=VALUE"),
        (["new", "exp-001", "--study", STUDY, "--param", "=5"], "NAME=VALUE"),
        (["new", "exp-001", "--study", STUDY, "--tag", "bad tag!"], "/tags"),
        (["new", "exp-001"], "--study"),
        (["new", "exp-001", "--study", STUDY, "--status", "failed"], "needs --reason"),
        (["new", "exp-001", "--study", STUDY, "--status", "skipped"], "needs --reason"),
        (["new", "exp-001", "--study", STUDY, "--status", "failed", "--reason", " "], "--reason"),
        (["new", "exp-001", "--study", STUDY, "--reason", "why"], "--status failed or skipped"),
    ],
)
def test_new_bad_input_is_usage_error(exp_repo: ExpRepo, args: list[str], needle: str) -> None:
    code, out, err = run_cli(args, cwd=exp_repo.path)
    assert code == 2, out + err
    assert needle in err
    assert_clean_output(out, err)
    assert list((exp_repo.path / "experiments").rglob("*.json")) == []


def test_new_without_policy_is_usage_error(tmp_path: Path, cli) -> None:
    git_init(tmp_path / "r")
    res = cli(["new", "exp-001", "--study", STUDY], cwd=tmp_path / "r")
    assert res.code == 2
    assert "expflow.yaml" in res.err and "init" in res.err


def test_new_param_values_that_are_not_finite_stay_strings(exp_repo: ExpRepo, cli) -> None:
    res = cli(
        [
            "new",
            "exp-001",
            "--study",
            STUDY,
            "--param",
            "a=NaN",
            "--param",
            "b=1e999",
            "--param",
            "c=[1,2]",
            "--param",
            "d=null",
        ],
        cwd=exp_repo.path,
    )
    assert res.code == 0, res.both
    params = load(exp_repo.path / EXP)["params"]
    assert params == {"a": "NaN", "b": "1e999", "c": "[1,2]", "d": None}


@pytest.mark.parametrize(
    ("records", "results", "record_at", "result_at"),
    [
        (
            "runs/records/*.json",
            "runs/scores/**/*.json",
            "runs/records/{id}.json",
            "runs/scores/{study}/{id}.json",
        ),
        ("lab/*/exp/*.json", "lab/*/res/*.json", None, None),  # no literal folder takes a run
    ],
)
def test_new_and_result_write_where_the_policys_paths_take_them(
    exp_repo: ExpRepo, cli, records: str, results: str, record_at: str | None, result_at: str | None
) -> None:
    """With other `paths` than the defaults, `new` wrote experiments/<study>/ all the
    same and then refused it ("would not match the policy's paths"): a record the tool's
    own policy reads could not be made by the tool. Now the policy's globs place it."""
    repo = exp_repo
    policy = (repo.path / "expflow.yaml").read_text()
    policy = policy.replace('experiments: ["experiments/**/*.json"]', f'experiments: ["{records}"]')
    policy = policy.replace(
        'results: ["results/**/*.json"]',
        f'results: ["{results}"]\n  corrections: ["fixes/**/*.json"]',
    )
    assert records in policy and results in policy
    (repo.path / "expflow.yaml").write_text(policy)
    res = cli(["new", "exp-001", "--study", STUDY, "--param", "Args/--sub_step=5"], cwd=repo.path)
    if record_at is None:
        assert res.code == 2 and res.out == ""
        assert (
            f"experiments/{STUDY}/exp-001.json would not match the policy's paths.experiments"
            in res.err
        )
        assert not (repo.path / "experiments" / STUDY).exists()
        return
    assert res.code == 0, res.both
    record = record_at.format(id="exp-001", study=STUDY)
    assert load(repo.path / record)["study"] == STUDY
    res = cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=repo.path)
    assert res.code == 0, res.both
    result = result_at.format(id="exp-001", study=STUDY)
    assert load(repo.path / result)["experiment"] == "exp-001"
    assert load(repo.path / record)["status"] == "success"
    assert not (repo.path / "experiments" / STUDY).exists()
    assert not (repo.path / "results" / STUDY).exists()
    repo.git("add", "-A")
    assert cli(["validate", "--staged", record, result], cwd=repo.path).code == 0
    repo.git("commit", "-q", "-m", "a run where the policy keeps runs")
    base = repo.head()
    res = cli(["audit"], cwd=repo.path)
    assert res.code == 0 and "exp-001" in res.out, res.both
    # A correction goes where paths.corrections takes it (a review: it was always
    # corrections/<study>/<id>/, refused by this policy, so no run could be corrected).
    metrics = [*SEED_METRIC_ARGS[:-1], "train_time_min=44.0"]
    res = cli(
        ["result", "exp-001", *metrics, "--overwrite", "--reason", "re-ran", "--force"],
        cwd=repo.path,
    )
    assert res.code == 0, res.both
    (fix,) = (repo.path / "fixes" / STUDY / "exp-001").glob("*.json")
    assert load(fix)["experiment"] == "exp-001"
    assert not (repo.path / "corrections").exists()
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "corrected")
    res = cli(["audit", "--since", base], cwd=repo.path)
    assert res.code == 0, res.both


def test_a_results_folder_inside_the_records_folder_is_never_read_as_records(
    exp_repo: ExpRepo, cli, tmp_path: Path
) -> None:
    """Records `data/**`, results `data/results/**`: the record commands listed every
    file the records' globs matched, results too, and took the first by path, so for a
    study sorting after `results` the result was read as the run's record ("created_at is
    a required property" from `result --overwrite`, `rm`, `fail`; a second import refused
    every run as "in another study"; an attacker's hunt). A path the results' globs take
    is a result, as the policy reads it."""
    repo = exp_repo
    policy = (repo.path / "expflow.yaml").read_text()
    policy = policy.replace(
        'experiments: ["experiments/**/*.json"]', 'experiments: ["data/**/*.json"]'
    )
    policy = policy.replace('results: ["results/**/*.json"]', 'results: ["data/results/**/*.json"]')
    (repo.path / "expflow.yaml").write_text(policy)
    args = ["--param", "Args/--sub_step=5"]
    assert cli(["new", "exp-001", "--study", "zeta", *args], cwd=repo.path).code == 0
    res = cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=repo.path)
    assert res.code == 0 and "data/results/zeta/exp-001.json" in res.out, res.both
    rows = tmp_path / "runs.csv"
    rows.write_text("run,seg_total,pde_mean,train_time_min,sub_step\nr1,50,15,40,5\n")
    csv = ["import", "csv", str(rows), "--id-column", "run", "--study", "zeta"]
    assert cli(csv, cwd=repo.path).code == 0
    res = cli(csv, cwd=repo.path)
    assert res.code == 0 and "0 new" in res.out and "1 unchanged" in res.out, res.both
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "runs of a study after 'results'")
    base = repo.head()
    metrics = [*SEED_METRIC_ARGS[:-1], "train_time_min=44.0"]
    overwrite = ["result", "exp-001", *metrics, "--overwrite", "--reason", "re-ran", "--force"]
    res = cli(overwrite, cwd=repo.path)
    assert res.code == 0, res.both
    assert cli(["rm", "r1", "--reason", "gone", "--force"], cwd=repo.path).code == 0
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "corrected")
    res = cli(["audit", "--since", base], cwd=repo.path)
    assert res.code == 0, res.both


def test_new_refuses_an_id_heads_result_holds_under_an_edited_policy(
    exp_repo: ExpRepo, cli
) -> None:
    """A committed run whose record was removed from the work tree: `new` of its id is
    refused (its record is frozen), also when an uncommitted edit of `paths.results`
    no longer takes HEAD's result (review: `new` read the work tree's globs only, wrote
    the record, and the hook refused it)."""
    repo = exp_repo
    assert (
        cli(["new", "exp-001", "--study", STUDY, "--param", "sub_step=5"], cwd=repo.path).code == 0
    )
    assert cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=repo.path).code == 0
    repo.commit("a run")
    (repo.path / EXP).unlink()
    policy = repo.path / "expflow.yaml"
    policy.write_text(
        policy.read_text().replace('results: ["results/**/*.json"]', 'results: ["res/**/*.json"]')
    )
    res = cli(["new", "exp-001", "--study", STUDY, "--param", "sub_step=9"], cwd=repo.path)
    assert res.code == 1 and f"{RES}: experiment 'exp-001' has a committed result" in res.err, (
        res.both
    )
    assert not (repo.path / EXP).exists()


def test_new_finds_the_repository_and_resolves_head_once_each(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """`new` found the repository three times and resolved HEAD twice (its provenance
    and what HEAD holds): 13 git processes where 10 do. The record names the HEAD that
    was read."""
    from support import git_calls, git_counter

    repo = exp_repo
    assert run_cli(["new", "exp-001", "--study", STUDY], repo.path)[0] == 0
    head = repo.commit("a run")
    env, log = git_counter(tmp_path)
    code, out, err = run_cli(
        ["new", "exp-002", "--study", STUDY, "--param", "sub_step=6"], repo.path, env=env
    )
    assert code == 0, out + err
    calls = [c.args for c in git_calls(log)]
    assert sum("rev-parse --absolute-git-dir" in c for c in calls) == 2, calls  # policy, git
    assert sum(" cat-file commit " in f" {c} " for c in calls) == 1, calls
    record = json.loads((repo.path / f"experiments/{STUDY}/exp-002.json").read_text())
    assert record["provenance"]["git_sha"] == head


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_init_refuses_a_policy_that_is_no_file(tmp_path: Path, cli, kind: str) -> None:
    """`expflow.yaml` a folder or a FIFO was "kept", exit 0 (a user's hunt, issue 18
    twenty-third pass): refused, one line naming it, nothing written."""
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("needs named pipes")
    repo = git_init(tmp_path / "r")
    policy = repo / "expflow.yaml"
    policy.mkdir() if kind == "folder" else os.mkfifo(policy)
    res = cli(["init"], cwd=repo)
    assert res.code == 2, res.both
    assert (
        res.err.count("\n") == 1 and "expflow.yaml: there is something other than a file" in res.err
    )
    assert sorted(p.name for p in repo.iterdir()) == [".git", "expflow.yaml"]


@pytest.mark.parametrize("rel", ["results", ".github/workflows"])
def test_init_refuses_a_file_where_it_makes_a_folder(tmp_path: Path, cli, rel: str) -> None:
    """`results` a file failed with "File exists" after expflow.yaml and experiments/ were
    written (a review, issue 18 twenty-third pass): refused first, nothing written."""
    repo = git_init(tmp_path / "r")
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text("x\n")
    before = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if ".git/" not in str(p))
    res = cli(["init"], cwd=repo)
    assert res.code == 2, res.both
    assert (
        res.err
        == f"expflow-git: error: {rel}: not a folder, where init makes one (nothing written)\n"
    )
    after = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if ".git/" not in str(p))
    assert after == before


# --------------------------------------------------------------------------- result
@pytest.fixture
def pending(exp_repo: ExpRepo, cli) -> ExpRepo:
    res = cli(
        ["new", "exp-001", "--study", STUDY, "--param", "Args/--sub_step=5"], cwd=exp_repo.path
    )
    assert res.code == 0, res.both
    return exp_repo


def test_result_writes_and_marks_the_record_success(pending: ExpRepo, cli) -> None:
    res = cli(
        [
            "result",
            "exp-001",
            *SEED_METRIC_ARGS,
            "--split",
            "holdout",
            "--metric",
            "seg_total=55.2",
        ],
        cwd=pending.path,
    )
    assert res.code == 0, res.both
    doc = load(pending.path / RES)
    assert doc["experiment"] == "exp-001"
    assert doc["metrics"] == {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}
    assert doc["splits"] == {"holdout": {"seg_total": 55.2}}
    assert TIMESTAMP.match(doc["recorded_at"])
    assert load(pending.path / EXP)["status"] == "success"
    assert "marked" in res.out and RES in res.out
    assert leftovers(pending.path / f"results/{STUDY}") == []
    assert leftovers(pending.path / f"experiments/{STUDY}") == []
    pending.stage()
    assert cli(["validate", EXP, RES], cwd=pending.path).code == 0


def test_result_for_successful_record_leaves_record_alone(pending: ExpRepo, cli) -> None:
    assert cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=pending.path).code == 0
    record = (pending.path / EXP).read_bytes()
    (pending.path / RES).unlink()
    res = cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=pending.path)
    assert res.code == 0
    assert "marked" not in res.out
    assert (pending.path / EXP).read_bytes() == record


def test_result_whose_folder_is_a_file_leaves_the_record_pending(pending: ExpRepo, cli) -> None:
    """`results/STUDY` a file: the record was marked `success`, then the result's write
    failed (a user's hunt, issue 18 twenty-third pass). Refused first, named, nothing written."""
    record = (pending.path / EXP).read_bytes()
    (pending.path / f"results/{STUDY}").write_text("x\n")
    res = cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=pending.path)
    assert res.code == 2, res.both
    assert f"results/{STUDY} is not a folder" in res.err, res.err
    assert (pending.path / EXP).read_bytes() == record


def test_result_git_would_ignore_is_refused_before_anything_is_written(
    pending: ExpRepo, cli
) -> None:
    """`results/` in .gitignore: the result was written and the record marked `success`,
    and the commit took the record alone (a user's hunt, issue 18 twenty-seventh pass)."""
    record = (pending.path / EXP).read_bytes()
    with (pending.path / ".gitignore").open("a") as fh:
        fh.write("results/\n")
    res = cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=pending.path)
    assert res.code == 2, res.both
    assert f"{RES}: .gitignore keeps this file out" in res.err, res.err
    assert len(res.err.strip().splitlines()) == 1
    assert_clean_output(res.out, res.err)
    assert (pending.path / EXP).read_bytes() == record
    assert not (pending.path / RES).exists()


def test_a_failed_result_write_puts_the_record_back(
    pending: ExpRepo, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever stops the result's write after the record was marked (a full disk): the
    record goes back as it was, no run a success without its result."""
    import errno

    import expflow_git.atomicfile as atomicfile

    record = (pending.path / EXP).read_bytes()
    real = atomicfile.write_atomic

    def full_disk(path, data, **kwargs):  # type: ignore[no-untyped-def]
        if "results" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data, **kwargs)

    monkeypatch.setattr(atomicfile, "write_atomic", full_disk)
    res = cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=pending.path)
    assert res.code == 2 and "No space left" in res.err and RES in res.err, res.both
    assert (pending.path / EXP).read_bytes() == record
    assert not (pending.path / RES).exists()


@pytest.mark.parametrize(
    ("metric", "needle"),
    [
        ("seg_totl=57.09", "did you mean 'seg_total'"),
        ("train_time_min=-1", "below its min"),
    ],
)
def test_result_refuses_registry_violations_before_writing(
    pending: ExpRepo, metric: str, needle: str
) -> None:
    record = (pending.path / EXP).read_bytes()
    code, out, err = run_cli(["result", "exp-001", "--metric", metric], cwd=pending.path)
    assert code == 1, out + err
    assert needle in out + err
    assert RES in out + err
    assert_clean_output(out, err)
    assert not (pending.path / RES).exists()
    assert (
        not (pending.path / "results" / STUDY).exists()
        or list((pending.path / "results" / STUDY).iterdir()) == []
    )
    assert (pending.path / EXP).read_bytes() == record  # still pending


def test_result_unknown_split_metric_refused(pending: ExpRepo, cli) -> None:
    res = cli(
        ["result", "exp-001", *SEED_METRIC_ARGS, "--split", "holdout", "--metric", "seg_totl=1"],
        cwd=pending.path,
    )
    assert res.code == 1
    assert "/splits/holdout/seg_totl" in res.out
    assert not (pending.path / RES).exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--metric", "seg_total=nan"],
        ["--metric", "seg_total=inf"],
        ["--metric", "seg_total=1e999"],
        ["--metric", "seg_total=true"],
        ["--metric", "seg_total=abc"],
        ["--metric", "seg_total=\u0665\u0667"],  # non-ASCII digits
        ["--metric", "seg_total"],
        ["--metric", "seg_total=1", "--metric", "seg_total=2"],
        [],
        ["seg_total=1"],
        ["--split"],
    ],
)
def test_result_bad_arguments_are_usage_errors(pending: ExpRepo, args: list[str]) -> None:
    code, out, err = run_cli(["result", "exp-001", *args], cwd=pending.path)
    assert code == 2, out + err
    assert_clean_output(out, err)
    assert err.startswith("expflow-git: error:") and err.count("\n") == 1
    assert not (pending.path / RES).exists()


def test_result_without_record(exp_repo: ExpRepo, cli) -> None:
    res = cli(["result", "exp-404", *SEED_METRIC_ARGS], cwd=exp_repo.path)
    assert res.code == 1
    assert "exp-404" in res.err
    assert list((exp_repo.path / "results").rglob("*.json")) == []


@pytest.mark.parametrize("status", ["failed", "skipped"])
def test_result_for_unsuccessful_run_refused(exp_repo: ExpRepo, cli, status: str) -> None:
    exp_repo.add_experiment(status=status)
    res = cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=exp_repo.path)
    assert res.code == 1
    assert EXP in res.err and status in res.err
    assert not (exp_repo.path / RES).exists()


@pytest.mark.parametrize("pattern", ["exp-00?", "*", "exp-[0]01"])
def test_result_id_is_not_a_glob(pending: ExpRepo, cli, pattern: str) -> None:
    res = cli(["result", pattern, *SEED_METRIC_ARGS], cwd=pending.path)
    assert res.code != 0
    assert list((pending.path / "results").rglob("*.json")) == []
    assert load(pending.path / EXP)["status"] == "pending"


def test_result_refuses_overwrite_without_flag(pending: ExpRepo, cli) -> None:
    assert cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=pending.path).code == 0
    before = (pending.path / RES).read_bytes()
    res = cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=pending.path)
    assert res.code == 1
    assert RES in res.err and "write-once" in res.err
    assert (pending.path / RES).read_bytes() == before


def test_result_overwrite_is_pin_guarded(pending: ExpRepo, isolated_env: Path) -> None:
    cwd = pending.path
    assert run_cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=cwd)[0] == 0
    before = (cwd / RES).read_bytes()
    env = {"EXPFLOW_HOME": str(isolated_env)}
    new = ["result", "exp-001", "--overwrite", "--reason", "x", *SEED_METRIC_ARGS]
    new[new.index("seg_total=57.09")] = "seg_total=99"

    # No PIN set at all: refused (usage), unchanged.
    code, out, err = run_cli(new, cwd=cwd, env=env)
    assert code == 2 and (cwd / RES).read_bytes() == before, err

    code, _, err = run_cli(["pin", "init", "1234"], cwd=cwd, env=env)
    assert code == 0, err
    # No TTY and no PIN given: refused without hanging.
    code, _, err = run_cli(new, cwd=cwd, env=env)
    assert code == 2 and (cwd / RES).read_bytes() == before, err
    # Wrong PIN: exit 1, unchanged.
    code, _, err = run_cli([*new, "--pin", "9999"], cwd=cwd, env=env)
    assert code == 1 and (cwd / RES).read_bytes() == before, err
    assert "9999" not in err
    # Right PIN from the environment: replaced.
    code, out, err = run_cli(new, cwd=cwd, env={**env, "EXPFLOW_PIN": "1234"})
    assert code == 0, err
    assert load(cwd / RES)["metrics"] == {"seg_total": 99, "pde_mean": 15, "train_time_min": 45.5}
    assert leftovers(cwd / f"results/{STUDY}") == []


def test_result_overwrite_force_says_so(pending: ExpRepo) -> None:
    cwd = pending.path
    assert run_cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=cwd)[0] == 0
    code, out, err = run_cli(
        ["result", "exp-001", "--overwrite", "--reason", "x", "--force", *SEED_METRIC_ARGS[2:]]
        + ["--metric", "seg_total=1"],
        cwd=cwd,
    )
    assert code == 0, err
    assert "--force" in err
    assert load(cwd / RES)["metrics"] == {"pde_mean": 15, "train_time_min": 45.5, "seg_total": 1}


@pytest.fixture
def moved(pending: ExpRepo, cli) -> ExpRepo:
    """exp-001 finished, then its result moved to results/archive/ (the policy's globs
    take it there; a run's result is its id's, wherever it lies) and committed."""
    assert cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=pending.path).code == 0
    (pending.path / "results/archive").mkdir()
    (pending.path / RES).rename(pending.path / "results/archive/exp-001.json")
    pending.commit("archive the result")
    return pending


def test_record_commands_find_a_moved_result_by_its_id(
    moved: ExpRepo, cli, isolated_env: Path
) -> None:
    """They looked only at results/<study>/<id>.json: `result` wrote a second score with
    no PIN, `fail` turned a finished run into a failed one, and `rm` left the result of
    a deleted record behind, with no correction."""
    cwd, archived = moved.path, moved.path / "results/archive/exp-001.json"
    before = archived.read_bytes()
    res = cli(["result", "exp-001", *SEED_METRIC_ARGS], cwd=cwd)
    assert res.code == 1 and "results/archive/exp-001.json" in res.err, res.both
    assert not (cwd / RES).exists() and archived.read_bytes() == before
    res = cli(["fail", "exp-001", "--reason", "oops"], cwd=cwd)
    assert res.code == 1 and "has a result" in res.err, res.both
    assert load(cwd / f"experiments/{STUDY}/exp-001.json")["status"] == "success"
    env = {"EXPFLOW_HOME": str(isolated_env), "EXPFLOW_PIN": "1234"}
    assert run_cli(["pin", "init", "1234"], cwd=cwd, env=env)[0] == 0
    code, _, err = run_cli(["rm", "exp-001"], cwd=cwd, env=env)
    assert code == 2 and "--reason" in err, err  # a committed result needs a correction
    code, out, err = run_cli(["rm", "exp-001", "--reason", "bad split"], cwd=cwd, env=env)
    assert code == 0, err
    assert "removed results/archive/exp-001.json" in out and not archived.exists()


def test_rm_says_a_reason_is_not_kept_when_no_correction_is_written(
    pending: ExpRepo, isolated_env: Path
) -> None:
    """The README's quick start ends with `rm exp-002 --reason "trained on the holdout"` on
    a failed run without a result: it printed only `removed …`, and the reason, which only
    a correction keeps, was thrown away without a word (issue 18, twenty-sixth pass)."""
    cwd, pin = pending.path, str(4000 + 821)
    env = {"EXPFLOW_HOME": str(isolated_env), "EXPFLOW_PIN": pin}
    run = lambda *args: run_cli(list(args), cwd=cwd, env=env)  # noqa: E731
    assert run("pin", "init", pin).code == 0
    failed = ["--status", "failed", "--reason", "nan"]
    assert run("new", "exp-002", "--study", STUDY, *failed).code == 0
    assert run("result", "exp-001", *SEED_METRIC_ARGS).code == 0  # written, not committed
    pending.commit("exp-002 failed")
    pending.git("rm", "-q", "--cached", RES)  # exp-001's result stays uncommitted
    pending.git("commit", "-q", "--no-verify", "-m", "uncommit exp-001's result")
    warning = "expflow-git rm: warning: no correction written: {} has no committed result, "
    for exp_id in ("exp-002", "exp-001"):
        code, out, err = run("rm", exp_id, "--reason", "trained on the holdout")
        assert code == 0, err
        assert f"removed experiments/{STUDY}/{exp_id}.json" in out, out
        assert err == warning.format(exp_id) + "so --reason is not kept\n"
        assert not (cwd / "corrections").exists()
    # Without --reason nothing is lost, and nothing is said.
    assert run("new", "exp-003", "--study", STUDY).code == 0
    code, out, err = run("rm", "exp-003")
    assert (code, err) == (0, ""), err


def test_new_finds_a_moved_record_by_its_id(pending: ExpRepo, cli) -> None:
    old = pending.path / f"experiments/{STUDY}/old"
    old.mkdir()
    (pending.path / f"experiments/{STUDY}/exp-001.json").rename(old / "exp-001.json")
    res = cli(["new", "exp-001", "--study", STUDY], cwd=pending.path)
    assert res.code == 2 and "exists already" in res.err, res.both
    assert not (pending.path / f"experiments/{STUDY}/exp-001.json").exists()


def test_record_commands_take_globs_with_a_leading_slash(exp_repo: ExpRepo, cli) -> None:
    """`/experiments/**/*.json` is the same glob as `experiments/**/*.json` (globs.py);
    the lookup by id walked the filesystem's /experiments instead."""
    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    assert '  experiments: ["experiments/**/*.json"]' in text
    for folder in ("experiments", "results"):
        text = text.replace(f'["{folder}/', f'["/{folder}/')
    policy.write_text(text)
    assert cli(["new", "r1", "--study", STUDY], cwd=exp_repo.path).code == 0
    res = cli(["new", "r1", "--study", "other"], cwd=exp_repo.path)
    assert res.code == 2 and "exists already" in res.err, res.both
    assert cli(["result", "r1", *SEED_METRIC_ARGS], cwd=exp_repo.path).code == 0
