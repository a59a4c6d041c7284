"""`expflow-git import` (issue 17, docs/spec.md §4.2), what the three importers share: stable
ids, URIs without passwords, the missing extra, and the helpers the importer tests use
(hooks installed for real, commits through them, the audit)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo
from support import git_init, run_cli, run_git

from expflow_git.documents import ID_RE
from expflow_git.importers.source import join_id, redact_uri, sanitize_id
from expflow_git.pin.store import hash_pin, save_hash

PIN = "1234"


# ----------------------------------------------------------------------------- helpers
def minimal_repo(tmp_path: Path) -> Path:
    """A repository at `tmp_path/r` with `init --template minimal`'s files, uncommitted."""
    repo = git_init(tmp_path / "r")
    res = run_cli(["init", "--template", "minimal"], repo)
    assert res.code == 0, res
    return repo


def install_hooks(repo: ExpRepo) -> None:
    """The plain git hooks (`install-hooks`), calling this interpreter's expflow_git."""
    res = run_cli(["install-hooks"], repo.path)
    assert res.code == 0, res


def hook_commit(
    repo: ExpRepo, message: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`git add -A && git commit` through the installed hooks (no --no-verify)."""
    repo.git("add", "-A")
    return run_git(repo.path, "commit", "-q", "-m", message, env=env)


def set_pin(home: Path) -> dict[str, str]:
    """A PIN in the private EXPFLOW_HOME; the environment that gives it to a hook."""
    save_hash(home, hash_pin(PIN))
    return {"EXPFLOW_PIN": PIN}


def audit_passes(repo: ExpRepo) -> str:
    """`audit` at HEAD exits 0; its text output."""
    res = run_cli(["audit"], repo.path)
    assert res.code == 0, res
    return res.out


def totals(out: str) -> str:
    """The totals line of an import's output."""
    line = next(ln for ln in out.splitlines() if ln.startswith(("imported:", "dry run")))
    return line.split(": ", 2)[-1]


def optuna_study(
    db: Path, name: str, metric: str, value: float, trials: list[dict[str, Any]]
) -> Any:
    """A real Optuna study NAME in SQLite at `db`, maximising METRIC (its metric_names), one
    COMPLETE trial of objective VALUE per entry of `trials` (create_trial's keywords)."""
    import optuna
    from optuna.trial import create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=f"sqlite:///{db}", direction="maximize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([metric])
    for trial in trials:
        study.add_trial(create_trial(values=[value], **trial))
    return study


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under experiments/, results/ and corrections/, with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for folder in ("experiments", "results", "corrections")
        for p in sorted((root / folder).rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------------------- ids
@pytest.mark.parametrize(
    "name", ["pde search", "a/b", "a b", "../../etc", "-x", "é", "\x1b[31m", "", "x" * 300]
)
def test_sanitized_ids_are_valid_stable_and_distinct(name: str) -> None:
    made = sanitize_id(name)
    assert ID_RE.match(made), made
    assert sanitize_id(name) == made  # the same id on every import
    assert "/" not in made and ".." not in made.split("-")[0]


def test_names_that_sanitize_alike_keep_distinct_ids() -> None:
    ids = {sanitize_id(n) for n in ("a b", "a/b", "a-b", "a  b", "a\tb")}
    assert len(ids) == 5
    assert sanitize_id("exp-001") == "exp-001"  # a valid id is kept as it is


def test_joined_ids_stay_within_the_pattern() -> None:
    long = join_id("s" * 120, "t0001")
    assert ID_RE.match(long) and len(long) <= 128
    assert long != join_id("s" * 120, "t0002")


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("sqlite:///rel.db", "sqlite:///rel.db"),
        ("postgresql://bob:s3cret@db:5432/optuna", "postgresql://bob@db:5432/optuna"),
        ("mysql+pymysql://:s3cret@db/o", "mysql+pymysql://db/o"),
        (
            "https://u:s3cret@mlflow.example/?token=s3cret&x=1",
            "https://u@mlflow.example/?token=REDACTED&x=1",
        ),
        ("http://mlflow.example:5000", "http://mlflow.example:5000"),
        # Redacted, a path with no host stays one (`tmp` was read as the host).
        ("sqlite:////tmp/o.db?token=s3cret", "sqlite:////tmp/o.db?token=REDACTED"),
        ("sqlite:///rel.db?password=s3cret", "sqlite:///rel.db?password=REDACTED"),
        ("http://u:s3cret@h/p#a?b", "http://u@h/p#a?b"),  # a `?` in the fragment is no query
    ],
)
def test_provenance_uri_has_no_password(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown
    assert "s3cret" not in redact_uri(uri)


# ----------------------------------------------------------------------------- extras
@pytest.mark.parametrize(
    ("module", "args", "extra"),
    [
        ("optuna", ["optuna", "--storage", "sqlite:///x.db", "--study", "s"], "optuna"),
        (
            "mlflow",
            ["mlflow", "--tracking-uri", "sqlite:///x.db", "--experiment", "e"],
            "mlflow",
        ),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(
    exp_repo: ExpRepo, module: str, args: list[str], extra: str
) -> None:
    # A real subprocess in which the tracker library cannot be imported.
    code = (
        f"import sys; sys.modules[{module!r}] = None; "
        "from expflow_git.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "import", *args],
        cwd=exp_repo.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert f"install expflow-git[{extra}]" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (exp_repo.path / "experiments").exists() or not any(
        (exp_repo.path / "experiments").rglob("*.json")
    )


def test_import_is_listed_in_the_help(exp_repo: ExpRepo) -> None:
    res = run_cli(["import", "--help"], exp_repo.path)
    assert res.code == 0
    for name in ("optuna", "mlflow", "csv"):
        assert name in res.out


def test_an_import_of_numpy_values_writes_plain_numbers(tmp_path: Path) -> None:
    """A source whose params, metrics and series steps are NumPy scalars (what a tracker's
    client or a sweep hands over) was a TypeError traceback from the writer ("int64 is not
    JSON serializable"; an attacker's hunt). They are written as the numbers they are."""
    np = pytest.importorskip("numpy")
    import json

    from expflow_git.documents import Status
    from expflow_git.importers import Source, SourceRun, import_source, open_repository

    repo = tmp_path / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q")
    assert run_cli(["init", "--template", "minimal"], repo).code == 0
    run = SourceRun(
        run="1",
        exp_id="np-1",
        status=Status.SUCCESS,
        params={"lr": np.float32(0.5), "depth": np.int64(3), "amp": np.bool_(True)},
        metrics={"accuracy": np.float64(0.5), "loss": np.float32(0.25)},
        series={"loss": [(np.int64(0), np.float32(0.5)), (np.int64(1), np.float64(0.25))]},
    )
    source = Source(tracker="mlflow", uri="x", study="s", expflow_study="s", runs=[run])
    summary = import_source(open_repository(str(repo)), source)
    assert [p.action.value for p in summary.plans] == ["new"]
    record = json.loads((repo / "experiments/s/np-1.json").read_text())
    assert record["params"] == {"lr": 0.5, "depth": 3, "amp": True}
    result = json.loads((repo / "results/s/np-1.json").read_text())
    assert result["metrics"] == {"accuracy": 0.5, "loss": 0.25}
    assert result["series"]["loss"] == [[0, 0.5], [1, 0.25]]
    run_git(repo, "add", "-A")
    assert run_cli(["validate", "--staged"], repo).code == 0
