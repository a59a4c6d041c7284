"""`import_mlflow` set MLflow's retry variables (`MLFLOW_HTTP_REQUEST_MAX_RETRIES=2`,
`..._BACKOFF_FACTOR=1`) in `os.environ` for good: a Python caller's own MLflow logging
afterwards gave up after ~3 s, and every subprocess it started inherited them (a review,
issue 18 thirtieth pass). They hold while the import reads, and the environment is as
it was afterwards; the user's own values stand throughout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ExpRepo

pytest.importorskip("mlflow.tracking")
pytest.importorskip("sqlalchemy")
from test_import_mlflow import EXPERIMENT, Store  # noqa: E402

from expflow_git.importers import import_mlflow  # noqa: E402

RETRIES = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
BACKOFF = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A SQLite tracking store with one finished run."""
    made = Store(tmp_path / "mlflow.db")
    made.run("fno-a", params={"lr": "0.01"})
    made.log("fno-a", "seg_total", 57.0)
    made.end("fno-a", "FINISHED")
    return made


def _environment() -> dict[str, str]:
    """os.environ but the telemetry switch (set before MLflow is imported, for good)."""
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_DISABLE_TELEMETRY"}


def test_the_api_leaves_the_environment_as_it_was(
    exp_repo: ExpRepo, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RETRIES, raising=False)
    monkeypatch.delenv(BACKOFF, raising=False)
    before = _environment()
    import_mlflow(store.uri, EXPERIMENT, root=exp_repo.path, dry_run=True)
    assert _environment() == before
    assert RETRIES not in os.environ and BACKOFF not in os.environ


def test_the_users_own_values_stand_and_stay(
    exp_repo: ExpRepo, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RETRIES, "5")
    monkeypatch.delenv(BACKOFF, raising=False)
    seen: list[tuple[str | None, str | None]] = []
    search = store.client.__class__.search_runs

    def spy(self: object, *args: object, **kwargs: object) -> object:
        seen.append((os.environ.get(RETRIES), os.environ.get(BACKOFF)))
        return search(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.client.__class__, "search_runs", spy)
    before = _environment()
    import_mlflow(store.uri, EXPERIMENT, root=exp_repo.path, dry_run=True)
    assert seen and set(seen) == {("5", "1")}, seen  # while reading: theirs, and ours
    assert _environment() == before
    assert os.environ[RETRIES] == "5" and BACKOFF not in os.environ
