"""Five ways a password or a token in an import's URL still reached its error line or
its provenance (a review, issue 18 thirtieth pass):

1. Optuna formats its storage URL (`url.format(SCHEMA_VERSION=...)`): a password
   `{SCHEMA_VERSION.x}` or `{SCHEMA_VERSION:x}` came back as `x` in its error;
2. urlsplit's NFKC refusal quoted the netloc, password and all (`h／x`);
3. SQLAlchemy knows no fragment: `db#x?password=...` gives make_url a password, shown
   whole;
4. http(s): a user holding `@` and a password holding `/` (`u@x:pw/x@h`) was shown;
5. `?pwd=` and `?odbc_connect=...PWD=...` were no secret names."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output
from support import CliResult, run_cli

from expflow_git.importers.source import first_line, redact_uri

SECRET = "Zq9SECRET"

# (tracker, URL, what the one error line shows)
CASES = [
    (  # 1
        "optuna",
        "postgresql://u:{SCHEMA_VERSION.Zq9SECRETx}@127.0.0.1:1/db",
        "postgresql://u@127.0.0.1:1/db: '{' or '}' in the URL: Optuna reads it as a format",
    ),
    (
        "optuna",
        "postgresql://u:{SCHEMA_VERSION:Zq9SECRETx}@127.0.0.1:1/db",
        "postgresql://u@127.0.0.1:1/db: '{' or '}' in the URL",
    ),
    (  # 2
        "optuna",
        "mysql://u:Zq9SECRETpw@h\uff0fx/db",
        "not a URL Optuna can open (its host holds characters NFKC turns into URL delimiters)",
    ),
    (
        "mlflow",
        "mysql://u:Zq9SECRETpw@h\uff0fx/db",
        "not a URL MLflow can open (its host holds characters NFKC",
    ),
    ("mlflow", "http://u:Zq9SECRETpw@h\uff0fx/", "not a URL MLflow can open"),
    ("mlflow", "http://u\uff1aZq9SECRETpw\uff20h\uff0fx/", "not a URL MLflow can open"),
    (  # 3
        "optuna",
        "postgresql://u@h/db#x?password=Zq9SECRETx",
        "postgresql://u@h/db#x?password=REDACTED: cannot read the Optuna",
    ),
    (
        "optuna",
        "postgresql+psycopg2://u:pw@h/db#?sslpassword=Zq9SECRETx",
        "postgresql+psycopg2://u@h/db#?sslpassword=REDACTED",
    ),
    (  # 4
        "mlflow",
        "http://u@x:Zq9SECRETx/x@127.0.0.1:1/",
        "http://u@x@127.0.0.1:1/: cannot read MLflow",
    ),
    (  # 5
        "optuna",
        "mysql+pymysql://u@127.0.0.1:1/db?pwd=Zq9SECRETx",
        "mysql+pymysql://u@127.0.0.1:1/db?pwd=REDACTED",
    ),
    (
        "optuna",
        "mysql+pymysql://u@127.0.0.1:1/db?PWD=Zq9SECRETx",
        "mysql+pymysql://u@127.0.0.1:1/db?PWD=REDACTED",
    ),
    (
        "optuna",
        "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BX%7D%3BPWD%3DZq9SECRETx",
        "mssql+pyodbc:///?odbc_connect=REDACTED",
    ),
    (
        "mlflow",
        "mssql+pyodbc:///?odbc_connect=DRIVER={X};PWD=Zq9SECRETx",
        "mssql+pyodbc:///?odbc_connect=REDACTED",
    ),
]


def _files_holding(root: Path, text: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text in p.read_bytes()]


@pytest.mark.parametrize(("tracker", "url", "shown"), CASES)
def test_the_cli_never_shows_nor_writes_the_secret(
    exp_repo: ExpRepo, isolated_env: Path, tracker: str, url: str, shown: str
) -> None:
    pytest.importorskip(tracker)
    if tracker == "optuna":
        args = ["import", "optuna", "--storage", url, "--study", "s"]
    else:
        args = ["import", "mlflow", "--tracking-uri", url, "--experiment", "e"]
    res = run_cli(args, exp_repo.path, timeout=90)
    assert res.code == 2, res
    assert_clean_output(res.out, res.err)
    assert len(res.err.strip().splitlines()) == 1, res.err
    assert shown in res.err, res.err
    assert SECRET not in res.out + res.err, res.err
    assert _files_holding(exp_repo.path, SECRET.encode()) == []
    assert _files_holding(isolated_env, SECRET.encode()) == []


@pytest.mark.parametrize("url", [u for _, u, _ in CASES[2:]])
def test_redact_uri_and_messages_hold_no_secret(url: str) -> None:
    assert SECRET not in redact_uri(url)
    quoted = f"cannot open {url} ({urllib.parse.unquote(url)}; PWD=Zq9SECRETx)"
    assert SECRET not in first_line(ValueError(quoted), url)


def test_an_odbc_password_alone_is_masked_in_a_message() -> None:
    url = "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BX%7D%3BPWD%3DZq9SECRETx"
    assert SECRET not in first_line(ValueError("login failed: Zq9SECRETx"), url)


def test_a_url_without_secrets_is_kept() -> None:
    for url in (
        "http://host:5000/x?m=a@b#f?password",
        "postgresql://u@h/db?application_name=a#b",
        "mysql+pymysql://u@h/db?charset=utf8mb4",
    ):
        assert redact_uri(url) == url


# Four more (a review): `_userinfo` read the fullwidth `＠ ： ／ ？ ＃` as ASCII ones before
# every reading, but only urlsplit's NFKC check does; SQLAlchemy and urllib3 read them as
# any other character. And a final pass masks what the readers themselves would send.
LEAKS = [
    ("optuna", "postgresql://an\uff0fn:Hunter2Pw@127.0.0.1:1/db", ["Hunter2Pw"]),
    (
        "optuna",
        "postgresql://user:Hunter2Pw+x?y\uff20Tail9Secret@127.0.0.1:1/db",
        ["Hunter2Pw", "Tail9Secret"],
    ),
    ("mlflow", "http://:Hunter2Pw@Tail9Secret\uff0fx@127.0.0.1:1/", ["Hunter2Pw", "Tail9Secret"]),
    ("optuna", "postgresql://127.0.0.1:1/db?user=a@b.com&password=Hunter2Pw", ["Hunter2Pw"]),
    ("optuna", "postgresql://127.0.0.1:1/db?note=a\uff20b&sslpassword=Hunter2Pw", ["Hunter2Pw"]),
]


def _import(tracker: str, url: str, root: Path) -> CliResult:
    if tracker == "optuna":
        args = ["import", "optuna", "--storage", url, "--study", "s"]
    else:
        args = ["import", "mlflow", "--tracking-uri", url, "--experiment", "e"]
    return run_cli(args, root, timeout=90)


@pytest.mark.parametrize(("tracker", "url", "secrets"), LEAKS)
def test_a_fullwidth_delimiter_hides_no_password(
    exp_repo: ExpRepo, isolated_env: Path, tracker: str, url: str, secrets: list[str]
) -> None:
    for secret in secrets:
        assert secret not in redact_uri(url)
        assert secret not in first_line(ValueError(f"cannot open {url}"), url)
    pytest.importorskip(tracker)
    res = _import(tracker, url, exp_repo.path)
    assert res.code == 2, res
    out = res.out + res.err
    assert len(res.err.strip().splitlines()) == 1, res
    for secret in secrets:
        assert secret not in out, out
        assert _files_holding(exp_repo.path, secret.encode()) == []


def test_a_fullwidth_at_in_a_query_is_no_user_info(exp_repo: ExpRepo) -> None:
    url = "postgresql://127.0.0.1:1/prod?application_name=a\uff20b"
    assert redact_uri(url) == url
    pytest.importorskip("optuna")
    res = _import("optuna", url, exp_repo.path)
    assert res.code == 2, res
    assert f"error: {url}: cannot read" in res.err, res


def test_a_short_secret_is_masked_only_where_it_stands_alone() -> None:
    assert redact_uri("mysql://u:p@h/db?ssl_ca=/a@b/ca.pem") == "mysql://u@h/db?ssl_ca=/a@b/ca.pem"
    assert redact_uri("postgresql://u:1@127.0.0.1/db") == "postgresql://u@127.0.0.1/db"
