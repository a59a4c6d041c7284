"""A tracking server that is down was asked again 7 times with a doubling back-off
(MLflow's defaults): `import mlflow --tracking-uri http://…` waited ~250 s for its
one-line error (a hunt, issue 18 thirtieth pass). The import asks at most three times
unless the user set MLflow's own variables."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from conftest import ExpRepo
from support import run_cli

pytest.importorskip("mlflow")
pytestmark = pytest.mark.usefixtures("isolated_env")


class _Unavailable(http.server.BaseHTTPRequestHandler):
    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).asked.append(self.path)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    asked: list[str] = []
    handler = type("Handler", (_Unavailable,), {"asked": asked})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", asked
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_server_that_answers_503_is_asked_three_times(
    exp_repo: ExpRepo, server: tuple[str, list[str]]
) -> None:
    url, asked = server
    args = ["import", "mlflow", "--tracking-uri", url, "--experiment", "e"]
    res = run_cli(args, exp_repo.path, timeout=90)  # (MLflow's own defaults: ~250 s)
    assert res.code == 2, res
    assert res.err.startswith(f"expflow-git: error: {url}: cannot read MLflow"), res.err
    assert res.err.count("\n") == 1 and "Traceback" not in res.err
    assert 1 <= len(asked) <= 3, asked


def test_the_users_own_retry_setting_stands(
    exp_repo: ExpRepo, server: tuple[str, list[str]]
) -> None:
    url, asked = server
    args = ["import", "mlflow", "--tracking-uri", url, "--experiment", "e"]
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    res = run_cli(args, exp_repo.path, env=env, timeout=90)
    assert res.code == 2, res
    assert len(asked) == 1, asked
