"""Two imports of MLflow in threads each saved the retry variables on entry and put back
what it had saved on exit: A entered (the variables unset, A set them), B entered (B saw
them set), A left (unset), B left (set again, for good) (a review, issue 18 thirtieth
pass). The first to enter now saves and sets them, the last to leave puts them back."""

from __future__ import annotations

import os
import threading

import pytest

from expflow_git.importers.mlflow import _RETRIES, _few_retries

RETRIES = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
BACKOFF = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"


def _overlapping(seen: dict[str, dict[str, str | None]]) -> None:
    """A enters, B enters, A leaves, B leaves: forced by events."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def look(name: str) -> None:
        seen[name] = {var: os.environ.get(var) for var in _RETRIES}

    def a() -> None:
        with _few_retries():
            a_in.set()
            assert b_in.wait(10)
            look("a")
        a_out.set()

    def b() -> None:
        assert a_in.wait(10)
        with _few_retries():
            b_in.set()
            assert a_out.wait(10)
            look("b after a left")

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads)


def test_overlapping_imports_leave_the_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(RETRIES, raising=False)
    monkeypatch.delenv(BACKOFF, raising=False)
    seen: dict[str, dict[str, str | None]] = {}
    _overlapping(seen)
    assert seen["a"] == _RETRIES and seen["b after a left"] == _RETRIES, seen
    assert RETRIES not in os.environ and BACKOFF not in os.environ


def test_overlapping_imports_leave_the_users_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RETRIES, "5")
    monkeypatch.delenv(BACKOFF, raising=False)
    seen: dict[str, dict[str, str | None]] = {}
    _overlapping(seen)
    assert seen["b after a left"] == {RETRIES: "5", BACKOFF: "1"}, seen
    assert os.environ.get(RETRIES) == "5" and BACKOFF not in os.environ
