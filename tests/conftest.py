"""Shared fixtures: real git repositories in tmp dirs, and two ways to drive the CLI.

- `run_cli(args, cwd, env=None, input=None)` runs `python -m expflow_git` as a
  real subprocess (what a hook or a user sees: exit code, stdout, stderr).
- the `cli` fixture calls `expflow_git.cli.main` in-process (fast), from the
  given directory, with stdout/stderr captured.

Fixtures other test modules define with the same names (e.g. `repo` in
test_gitstore.py) take precedence there; the ones here are named `exp_repo`,
`cli` and `isolated_env` to stay out of their way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

PROJECT = Path(__file__).resolve().parents[1]

# Property tests run the same examples on every run ("ci", the default), so a red CI
# means a change broke something, not that a new seed turned up; "nightly"
# (HYPOTHESIS_PROFILE=nightly) draws fresh random examples to find new failures.
# A test's own @settings (its max_examples) still wins over the profile.
settings.register_profile("ci", derandomize=True, database=None, max_examples=100, deadline=None)
settings.register_profile("nightly", derandomize=False, max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Variables that would make the tool, or git, look somewhere other than the test repo.
_LEAKY_ENV = (
    "EXPFLOW_POLICY",
    "EXPFLOW_PIN",
    "EXPFLOW_PIN_HASH",
    "EXPFLOW_JOBS",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "NO_COLOR",
)

SEED_PARAMS = {"Args/--sub_step": 5, "lr": 0.001, "model": "fno"}
SEED_METRICS = {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without repository selectors, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
    env.update(extra or {})
    return env


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True) -> str:
    """Run git in `cwd`; with check, a failure fails the test with git's message."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(env), capture_output=True, text=True, check=False
    )
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout.strip()


def git_init(path: Path) -> Path:
    """`git init` with a local identity and no signing."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Expflow Tester")
    git(path, "config", "user.email", "tester@example.com")
    git(path, "config", "commit.gpgsign", "false")
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


def run_cli(
    args: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> tuple[int, str, str]:
    """Run the real CLI (`python -m expflow_git ARGS`) in `cwd`: (code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "expflow_git", *args],
        cwd=cwd,
        env=git_env(env),
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def experiment_doc(exp_id: str = "exp-001", **overrides: Any) -> dict[str, Any]:
    """A valid experiment record (the seed example by default)."""
    doc: dict[str, Any] = {
        "schema": "expflow/experiment@1",
        "id": exp_id,
        "study": "pdebench-task1",
        "title": "FNO baseline, 5 sub-steps",
        "created_at": "2026-11-20T10:00:00Z",
        "tags": ["task1", "fno"],
        "status": "success",
        "seed": 1837261,
        "params": dict(SEED_PARAMS),
    }
    doc.update(overrides)
    return doc


def result_doc(exp_id: str = "exp-001", **overrides: Any) -> dict[str, Any]:
    """A valid result (the seed example's metrics by default)."""
    doc: dict[str, Any] = {
        "schema": "expflow/result@1",
        "experiment": exp_id,
        "recorded_at": "2026-11-20T11:02:00Z",
        "metrics": dict(SEED_METRICS),
    }
    doc.update(overrides)
    return doc


class ExpRepo:
    """A scratch experiment repository: `git init` + `expflow-git init --template competition`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, env: Mapping[str, str] | None = None, check: bool = True) -> str:
        return git(self.path, *args, env=env, check=check)

    def write(self, rel: str, data: str | bytes) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        return target

    def write_json(self, rel: str, doc: Any) -> Path:
        return self.write(rel, json.dumps(doc, indent=2) + "\n")

    def exp_path(self, exp_id: str = "exp-001", study: str = "pdebench-task1") -> str:
        return f"experiments/{study}/{exp_id}.json"

    def res_path(self, exp_id: str = "exp-001", study: str = "pdebench-task1") -> str:
        return f"results/{study}/{exp_id}.json"

    def add_experiment(self, exp_id: str = "exp-001", **overrides: Any) -> str:
        rel = self.exp_path(exp_id, overrides.get("study", "pdebench-task1"))
        self.write_json(rel, experiment_doc(exp_id, **overrides))
        return rel

    def add_result(
        self, exp_id: str = "exp-001", study: str = "pdebench-task1", **overrides: Any
    ) -> str:
        rel = self.res_path(exp_id, study)
        self.write_json(rel, result_doc(exp_id, **overrides))
        return rel

    def stage(self, *paths: str) -> None:
        self.git("add", "--", *(paths or (".",)))

    def commit(self, message: str = "commit", *, verify: bool = False) -> str:
        """Stage everything and commit (hooks skipped unless `verify`); returns HEAD."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, *(() if verify else ("--no-verify",)))
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def status(self) -> str:
        return self.git("status", "--porcelain", "--untracked-files=all")


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No EXPFLOW_* or GIT_* selector from the outside; a private EXPFLOW_HOME (which
    `run_cli` subprocesses inherit)."""
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("expflow-home")
    monkeypatch.setenv("EXPFLOW_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def _template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised repository, copied per test (init via the real CLI, once)."""
    path = git_init(tmp_path_factory.mktemp("template") / "repo")
    code, out, err = run_cli(["init", "--template", "competition"], cwd=path)
    assert code == 0, err
    return path


@pytest.fixture
def exp_repo(tmp_path: Path, _template_repo: Path, isolated_env: Path) -> ExpRepo:
    """A fresh `git init` repo with the competition template (nothing committed yet)."""
    import shutil

    dest = tmp_path / "repo"
    shutil.copytree(_template_repo, dest, symlinks=True)
    return ExpRepo(dest)


@pytest.fixture
def committed_repo(exp_repo: ExpRepo) -> ExpRepo:
    """`exp_repo` with the scaffold committed."""
    exp_repo.commit("init")
    return exp_repo


CliCall = Callable[..., CliResult]


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_env: Path
) -> Iterator[CliCall]:
    """In-process `expflow_git.cli.main(args)` run from `cwd`; returns a CliResult."""
    from expflow_git.cli import main

    def call(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> CliResult:
        capsys.readouterr()  # drop anything earlier
        with monkeypatch.context() as m:
            m.chdir(cwd)
            for key, value in (env or {}).items():
                m.setenv(key, value)
            code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield call


def assert_clean_output(*texts: str) -> None:
    """No traceback, no Python exception repr leaked to the user."""
    for text in texts:
        assert "Traceback" not in text, text
        assert "RecursionError" not in text, text
        assert "MemoryError" not in text, text
