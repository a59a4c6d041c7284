"""Shared fixtures: real git repositories in tmp dirs, and two ways to drive the CLI.

- `run_cli(args, cwd, env=None, input=None)` runs `python -m expflow_git` as a
  real subprocess (what a hook or a user sees: exit code, stdout, stderr).
- the `cli` fixture calls `expflow_git.cli.main` in-process (fast), from the
  given directory, with stdout/stderr captured.

Both, the `git()` helper and the environment scrub live in tests/support.py.

Fixtures other test modules define with the same names (e.g. `repo` in
test_gitstore.py) take precedence there; the ones here are named `exp_repo`,
`cli` and `isolated_env` to stay out of their way.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from support import (
    PROJECT,
    CliCall,
    CliResult,
    git,
    git_init,
    in_process_cli,
    run_cli,
    scrub_process_env,
    scrubbed_env,
)

# The scrub under the name test modules know it by.
git_env = scrubbed_env

__all__ = [
    "PROJECT",
    "CliCall",
    "CliResult",
    "git",
    "git_env",
    "git_init",
    "run_cli",
    "scrubbed_env",
]


# Property tests run the same examples on every run ("ci", the default), so a red CI
# means a change broke something, not that a new seed turned up; "nightly"
# (HYPOTHESIS_PROFILE=nightly) draws fresh random examples to find new failures.
# A test's own @settings (its max_examples) still wins over the profile.
settings.register_profile("ci", derandomize=True, database=None, max_examples=100, deadline=None)
settings.register_profile("nightly", derandomize=False, max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# What a test needs beyond Python and git, as markers (registered in pyproject.toml): a
# test whose need is not met is skipped, saying which.
_NEEDS: dict[str, tuple[Callable[[], bool], str]] = {
    "chromium": (
        lambda: bool(shutil.which("chromium") or shutil.which("chromium-browser")),
        "needs Chromium: no `chromium` or `chromium-browser` on PATH "
        "(Debian: apt-get install chromium)",
    ),
    "ssh_keygen": (lambda: bool(shutil.which("ssh-keygen")), "needs OpenSSH's ssh-keygen"),
    "ssh_agent": (
        lambda: all(shutil.which(t) for t in ("ssh-keygen", "ssh-agent", "ssh-add")),
        "needs OpenSSH's ssh-keygen, ssh-agent and ssh-add",
    ),
    "nonroot": (
        lambda: hasattr(os, "geteuid") and os.geteuid() != 0,
        "needs a non-root user (root reads a file whatever its mode)",
    ),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pre-commit installs the checkout's hooks with pip: tests using `hook_repo` need a
    package index (deselect them offline with `-m "not network"`)."""
    for item in items:
        if "hook_repo" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.network)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name, (available, reason) in _NEEDS.items():
        if item.get_closest_marker(name) is not None and not available():
            pytest.skip(f"{reason} [marker {name}]")


SEED_PARAMS = {"Args/--sub_step": 5, "lr": 0.001, "model": "fno"}
SEED_METRICS = {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}


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
    scrub_process_env(monkeypatch)
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


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_env: Path
) -> Iterator[CliCall]:
    """In-process `expflow_git.cli.main(args)` run from `cwd`; returns a CliResult."""
    yield in_process_cli(monkeypatch, capsys)


def assert_clean_output(*texts: str) -> None:
    """No traceback, no Python exception repr leaked to the user."""
    for text in texts:
        assert "Traceback" not in text, text
        assert "RecursionError" not in text, text
        assert "MemoryError" not in text, text


@pytest.fixture
def xcli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """The real CLI run in-process (helpers_audit.make_cli): the audit, rank, report and
    verify tests' driver, one fixture for all of them."""
    from helpers_audit import make_cli

    return make_cli(monkeypatch, capsys)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[str]:
    """A real ssh-agent on a socket of our own, stopped afterwards (by its pid)."""
    import subprocess
    import time

    ssh_agent = shutil.which("ssh-agent")
    assert ssh_agent is not None
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(
        [ssh_agent, "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.05)
        assert sock.exists(), "ssh-agent did not start"
        yield str(sock)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
