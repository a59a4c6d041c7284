"""A URL `urlsplit` refuses (an unclosed `[`: "Invalid IPv6 URL") crashed `import optuna`
and `import mlflow` with a traceback, exit 1, and the Python API with a bare ValueError
(a hunter's report, issue 18 thirtieth pass): it is one line, exit 2, naming the URL
without its password."""

from __future__ import annotations

import pytest
from conftest import ExpRepo, assert_clean_output
from support import run_cli

from expflow_git.errors import ExpflowError
from expflow_git.importers.source import redact_uri

SECRET = "hunter2"
MLFLOW_URLS = [
    (f"sqlite://u:{SECRET}@[x/db", "sqlite://u@[x/db"),
    (f"http://u:{SECRET}@[::1/x", "http://u@[::1/x"),
    ("file://[x/mlruns", "file://[x/mlruns"),
    (f"http://u:{SECRET}@[::1/x?token={SECRET}&a=1", "http://u@[::1/x?token=REDACTED&a=1"),
]


@pytest.mark.parametrize(("url", "shown"), MLFLOW_URLS)
def test_mlflow_names_a_malformed_url_in_one_line(exp_repo: ExpRepo, url: str, shown: str) -> None:
    pytest.importorskip("mlflow")
    res = run_cli(["import", "mlflow", "--tracking-uri", url, "--experiment", "e"], exp_repo.path)
    assert res.code == 2, res
    assert_clean_output(res.out, res.err)
    assert res.err.strip().splitlines() == [
        f"expflow-git: error: {shown}: not a URL MLflow can open (Invalid IPv6 URL); nothing read"
    ], res.err
    assert SECRET not in res.out + res.err


def test_optuna_names_a_malformed_url_in_one_line(exp_repo: ExpRepo) -> None:
    pytest.importorskip("optuna")
    url = f"postgresql://u:{SECRET}@[::1/db"
    args = ["import", "optuna", "--storage", url, "--study", "s", "--metric", "seg_total"]
    res = run_cli(args, exp_repo.path)
    assert res.code == 2, res
    assert_clean_output(res.out, res.err)
    assert "postgresql://u@[::1/db: not a URL Optuna can open (Invalid IPv6 URL)" in res.err
    assert len(res.err.strip().splitlines()) == 1 and SECRET not in res.out + res.err


def test_the_python_api_raises_an_expflow_error(exp_repo: ExpRepo) -> None:
    pytest.importorskip("optuna")
    pytest.importorskip("mlflow")
    from expflow_git.importers import import_mlflow, import_optuna

    with pytest.raises(ExpflowError) as caught:
        import_optuna(f"postgresql://u:{SECRET}@[::1/db", "s", root=exp_repo.path)
    assert SECRET not in str(caught.value) and "postgresql://u@[::1/db" in str(caught.value)
    with pytest.raises(ExpflowError) as caught:
        import_mlflow(f"http://u:{SECRET}@[::1/x", "e", root=exp_repo.path)
    assert SECRET not in str(caught.value) and "http://u@[::1/x" in str(caught.value)


@pytest.mark.parametrize(("url", "shown"), MLFLOW_URLS)
def test_a_malformed_url_is_redacted_not_hidden(url: str, shown: str) -> None:
    """It was `<unparseable URI>`, which named nothing."""
    assert redact_uri(url) == shown
