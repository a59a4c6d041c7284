"""A password holding an unencoded `/`, `?`, `#`, `[` or `]` was shown whole: the URI's
authority was cut at the first `/`, `?` or `#` (as urlsplit cuts it), so the `@` after
the password was left out of it and no password was found (`redact_uri` gave
`postgresql://u:Hunter2/secret@db.example/optuna` back unchanged, and an unclosed `[`
showed `postgresql://u:Hunter[2/secret@…` in the one-line error). SQLAlchemy reads a
password up to its `@`: the user info now runs from `//` to the last `@` (a review,
issue 18 thirtieth pass)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output
from support import run_cli

from expflow_git.errors import ExpflowError
from expflow_git.importers.source import first_line, redact_uri

SECRET = "Hunter"  # in every password below; nothing else holds it

# (URI, the secret it holds, how it is shown)
SPELLINGS = [
    (
        "postgresql://u:Hunter[2/secret@db.example/optuna",
        "Hunter[2/secret",
        "postgresql://u@db.example/optuna",
    ),
    (
        "postgresql://u:Hunter2/secret@db.example/optuna",
        "Hunter2/secret",
        "postgresql://u@db.example/optuna",
    ),
    ("http://u:Hunter]2?secret@[::1/", "Hunter]2?secret", "http://u@[::1/"),
    ("http://u:Hunter2#secret@127.0.0.1:5000/x", "Hunter2#secret", "http://u@127.0.0.1:5000/x"),
    ("mysql://u:Hun@ter2@h/db", "Hun@ter2", "mysql://u@h/db"),
    # SQLAlchemy's password runs to the first `@`, urlsplit's authority to the first `/`:
    # the host is `b` (the thirtieth pass's "last @" took `Hunter2/a@b/c`).
    ("mysql://u:Hunter2/a@b/c@h/db?x=1", "Hunter2/a", "mysql://u@b/c@h/db?x=1"),
    ("mysql://u:Hunter%402@h/db", "Hunter%402", "mysql://u@h/db"),
    ("postgresql://u:Hunter:2:x@h/db", "Hunter:2:x", "postgresql://u@h/db"),
    ("postgresql://:Hunter2/x@h/db", "Hunter2/x", "postgresql://h/db"),
    (
        "http://u:Hunter2@[::1]:5000/x?token=Hunter3",
        "Hunter2",
        "http://u@[::1]:5000/x?token=REDACTED",
    ),
    ("http://u:Hunter[2@[::1]:5000/x", "Hunter[2", "http://u@[::1]:5000/x"),
    (
        "http://u:Hunter2/x?a#b@[::1/p?password=Hunter4",
        "Hunter2/x?a#b",
        "http://u@[::1/p?password=REDACTED",
    ),
    ("http://h/x?password=Hunter2&a=1", "Hunter2", "http://h/x?password=REDACTED&a=1"),
    ("http://h/x;token=Hunter2/y", "Hunter2", "http://h/x;token=REDACTED/y"),
    ("sqlite:////abs/[x.db?token=Hunter2", "Hunter2", "sqlite:////abs/[x.db?token=REDACTED"),
    ("  postgresql://u:Hunter2/x@h/db", "Hunter2/x", "  postgresql://u@h/db"),
    ("//u:Hunter2/x@h/db", "Hunter2/x", "//u@h/db"),
    # A scheme holding `_` (urlsplit refuses it; SQLAlchemy's names take it), and a URL
    # after a no-break space or a blank: shown whole by the thirtieth pass (a review).
    (
        "oracle+cx_oracle://scott:Hunter2x@127.0.0.1:1521/orcl",
        "Hunter2x",
        "oracle+cx_oracle://scott@127.0.0.1:1521/orcl",
    ),
    ("ibm_db_sa://db2inst1:Hunter2x@h:50000/x", "Hunter2x", "ibm_db_sa://db2inst1@h:50000/x"),
    (
        "redshift+redshift_connector://u:Hunter2x@h:5439/db",
        "Hunter2x",
        "redshift+redshift_connector://u@h:5439/db",
    ),
    (
        "\u00a0postgresql://u:Hunter2x@127.0.0.1:1/db",
        "Hunter2x",
        "\u00a0postgresql://u@127.0.0.1:1/db",
    ),
    (" postgresql://u:Hunter2x@127.0.0.1:1/db", "Hunter2x", " postgresql://u@127.0.0.1:1/db"),
    # A token as an http(s) user name: the user info shown as `***`.
    ("https://ghp_Hunter2abc@host/x", "ghp_Hunter2abc", "https://***@host/x"),
    ("http://Hunter2tok@127.0.0.1:5000/", "Hunter2tok", "http://***@127.0.0.1:5000/"),
    # An `@` in the query or the path of a URL with a password: only the password goes.
    (
        "postgresql://u:Hunter2@h/db?application_name=a@b",
        "Hunter2",
        "postgresql://u@h/db?application_name=a@b",
    ),
    ("mysql://u:Hunter2@h/db?ssl_ca=/a@b/ca.pem", "Hunter2", "mysql://u@h/db?ssl_ca=/a@b/ca.pem"),
    (
        "mysql+pymysql://u:Hunter2@h:3306/db?charset=utf8mb4",
        "Hunter2",
        "mysql+pymysql://u@h:3306/db?charset=utf8mb4",
    ),
    ("http://u:Hunter2@host:5000/x?m=a@b", "Hunter2", "http://u@host:5000/x?m=a@b"),
    ("http://u:Hunter2@host:5000/api@v1", "Hunter2", "http://u@host:5000/api@v1"),
]
# URLs rendered exactly so: nothing but a password (or an http token) changed (the
# "last @" rule showed `http://host:5000/x?m=a@b` as `http://host@b`, another host).
RENDERED = [
    ("http://host:5000/x?m=a@b", "http://host:5000/x?m=a@b"),
    ("http://host:5000/api@v1", "http://host:5000/api@v1"),
    ("https://host/x/a@b?c=d@e#f@g", "https://host/x/a@b?c=d@e#f@g"),
    ("postgresql://u:pw@h/db?application_name=a@b", "postgresql://u@h/db?application_name=a@b"),
    ("mysql://u:p@h/db?ssl_ca=/a@b/ca.pem", "mysql://u@h/db?ssl_ca=/a@b/ca.pem"),
    (
        "mysql+pymysql://u:pw@h:3306/db?charset=utf8mb4",
        "mysql+pymysql://u@h:3306/db?charset=utf8mb4",
    ),
    ("postgresql://u:Hunter[2/secret@db.example/optuna", "postgresql://u@db.example/optuna"),
    ("postgresql://u:Hunter2/secret@db.example/optuna", "postgresql://u@db.example/optuna"),
    ("https://ghp_abcdef123456@host/x", "https://***@host/x"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("oracle+cx_oracle://scott:tiger@h:1521/orcl", "oracle+cx_oracle://scott@h:1521/orcl"),
    ("\u00a0postgresql://u:pw@h:1/db", "\u00a0postgresql://u@h:1/db"),
]
# What holds an `@` or a `:` and no password: shown as it is.
UNCHANGED = [
    "sqlite:////abs/[x.db",
    "sqlite:////tmp/a:b@c.db",
    "sqlite:///C:/runs/a@b.db",
    "http://h/x?mail=a@b",
    "http://[::1]:5000/x",
    "file:///tmp/ml@runs",
    "/tmp/x:y@z/mlruns",
    "http://host:5000/x?m=a@b",
    "http://host:5000/api@v1",
    "postgresql://h/db?application_name=a@b",
]


@pytest.mark.parametrize(("uri", "secret", "shown"), SPELLINGS)
def test_the_password_is_never_shown(uri: str, secret: str, shown: str) -> None:
    assert redact_uri(uri) == shown
    assert SECRET not in redact_uri(uri)
    # A library's message quoting the URI, or a part of it as it read it, is masked too.
    quoted = f"cannot connect to {uri} ({urllib.parse.unquote(secret)}, {secret})"
    line = first_line(ValueError(quoted), uri)
    assert SECRET not in line, line


@pytest.mark.parametrize(("uri", "shown"), RENDERED)
def test_a_uri_is_rendered_with_only_its_password_changed(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown
    assert redact_uri(shown) == shown


def test_a_port_is_never_masked_in_a_library_message() -> None:
    """The pieces of what the "last @" rule took for a password (`5000/x?m=a`) were
    masked in messages: the port read `port=***`."""
    for uri in ("http://host:5000/x?m=a@b", "http://u:Hunter2@host:5000/x?m=a@b"):
        line = first_line(ValueError(f"refused: {uri} (host='host', port=5000)"), uri)
        assert "port=5000" in line and "host:5000/x?m=a@b" in line, line
        assert SECRET not in line, line


@pytest.mark.parametrize("uri", UNCHANGED)
def test_a_uri_without_a_password_is_kept(uri: str) -> None:
    assert redact_uri(uri) == uri


CLI_CASES = [
    (
        ["import", "optuna", "--storage", "postgresql://u:Hunter[2/secret@db.example/optuna"],
        "postgresql://u@db.example/optuna: not a URL Optuna can open (Invalid IPv6 URL)",
    ),
    (
        ["import", "optuna", "--storage", "postgresql://u:Hunter2/secret@127.0.0.1:1/optuna"],
        "postgresql://u@127.0.0.1:1/optuna: cannot read the Optuna",
    ),
    (
        ["import", "mlflow", "--tracking-uri", "http://u:Hunter]2?secret@[::1/"],
        "http://u@[::1/: not a URL MLflow can open (Invalid IPv6 URL)",
    ),
    (
        ["import", "mlflow", "--tracking-uri", "http://u:Hunter2/secret@127.0.0.1:1/"],
        "http://u@127.0.0.1:1/: cannot read MLflow",
    ),
    (
        ["import", "mlflow", "--tracking-uri", "http://u:Hunter2#secret@127.0.0.1:1/"],
        "http://u@127.0.0.1:1/: cannot read MLflow",
    ),
    (
        ["import", "optuna", "--storage", "oracle+cx_oracle://scott:Hunter2x@127.0.0.1:1521/o"],
        "oracle+cx_oracle://scott@127.0.0.1:1521/o: cannot read the Optuna",
    ),
    (
        ["import", "optuna", "--storage", "ibm_db_sa://db2inst1:Hunter2x@127.0.0.1:1/x"],
        "ibm_db_sa://db2inst1@127.0.0.1:1/x: cannot read the Optuna",
    ),
    (
        ["import", "mlflow", "--tracking-uri", "redshift+redshift_connector://u:Hunter2x@h/d"],
        "redshift+redshift_connector://u@h/d: no MLflow store folder there",
    ),
    (
        ["import", "optuna", "--storage", "\u00a0postgresql://u:Hunter2x@127.0.0.1:1/db"],
        "postgresql://u@127.0.0.1:1/db: cannot read the Optuna",
    ),
    (
        ["import", "mlflow", "--tracking-uri", " postgresql://u:Hunter2x@127.0.0.1:1/db"],
        "postgresql://u@127.0.0.1:1/db: cannot read MLflow",
    ),
    (
        ["import", "mlflow", "--tracking-uri", "http://Hunter2tok@127.0.0.1:1/"],
        "http://***@127.0.0.1:1/: cannot read MLflow",
    ),
]


def _files_holding(root: Path, text: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text in p.read_bytes()]


@pytest.mark.parametrize(("args", "shown"), CLI_CASES)
def test_the_cli_never_shows_nor_writes_the_password(
    exp_repo: ExpRepo, isolated_env: Path, args: list[str], shown: str
) -> None:
    pytest.importorskip(args[1])
    tail = ["--study", "s"] if args[1] == "optuna" else ["--experiment", "e"]
    res = run_cli([*args, *tail], exp_repo.path, timeout=90)
    assert res.code == 2, res
    assert_clean_output(res.out, res.err)
    assert len(res.err.strip().splitlines()) == 1, res.err
    assert shown in res.err, res.err
    assert SECRET not in res.out + res.err
    assert _files_holding(exp_repo.path, SECRET.encode()) == []
    assert _files_holding(isolated_env, SECRET.encode()) == []


def test_the_python_api_never_raises_with_the_password(exp_repo: ExpRepo) -> None:
    pytest.importorskip("optuna")
    pytest.importorskip("mlflow")
    from expflow_git.importers import import_mlflow, import_optuna

    for uri in (
        "postgresql://u:Hunter[2/secret@db.example/optuna",
        "postgresql://u:Hunter2/secret@127.0.0.1:1/optuna",
        "sqlite://u:Hunter2/secret@//tmp/x.db",
        "oracle+cx_oracle://scott:Hunter2x@127.0.0.1:1521/orcl",
        "ibm_db_sa://db2inst1:Hunter2x@127.0.0.1:1/x",
        "\u00a0postgresql://u:Hunter2x@127.0.0.1:1/db",
    ):
        with pytest.raises(ExpflowError) as caught:
            import_optuna(uri, "s", root=exp_repo.path)
        assert SECRET not in str(caught.value), caught.value
    for uri in (
        "http://u:Hunter]2?secret@[::1/",
        "http://u:Hunter2/secret@127.0.0.1:1/",
        "redshift+redshift_connector://u:Hunter2x@127.0.0.1:1/db",
        " postgresql://u:Hunter2x@127.0.0.1:1/db",
        "http://Hunter2tok@127.0.0.1:1/",
    ):
        with pytest.raises(ExpflowError) as caught:
            import_mlflow(uri, "e", root=exp_repo.path)
        assert SECRET not in str(caught.value), caught.value


def test_a_store_whose_path_holds_an_at_and_a_colon_keeps_its_uri(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """The user info is looked for after `//` only up to a `/`-free user: a SQLite
    file's path holding `:` and `@` is the store's name, kept in provenance whole."""
    pytest.importorskip("optuna")
    import json

    from test_import_optuna import STUDY, make_study, storage_url

    folder = tmp_path / "a:b@c"
    folder.mkdir()
    make_study(folder / "o.db")
    storage = storage_url(folder / "o.db")
    res = run_cli(["import", "optuna", "--storage", storage, "--study", STUDY], exp_repo.path)
    assert res.code == 0, res
    records = list((exp_repo.path / "experiments").rglob("*.json"))
    assert records, res
    for path in records:
        assert json.loads(path.read_text())["provenance"]["source"]["uri"] == storage


def test_two_databases_are_not_one_storage_by_their_rendering() -> None:
    """The "last @" rule rendered `postgresql://u:pw@h1/db?application_name=a@b` and the
    same at `h2` both as `postgresql://u@b`: a study of one name in the second was said
    to be the first's "re-created at this storage", and its records to be removed."""
    from expflow_git.importers.common import _other_run
    from expflow_git.importers.source import Source, SourceRun, same_storage

    first = "postgresql://u:Hunter2@h1/db?application_name=a@b"
    second = "postgresql://u:Hunter2@h2/db?application_name=a@b"
    assert redact_uri(first) != redact_uri(second)
    assert not same_storage(redact_uri(first), redact_uri(second))
    assert same_storage(redact_uri(first), redact_uri(first))
    run = SourceRun("1", "s-t0001", "completed", {}, started_at="2026-01-05T00:00:07.000000Z")
    source = Source("optuna", redact_uri(second), "s", "s", [run])
    record = {
        "provenance": {
            "source": {
                "tracker": "optuna",
                "study": "s",
                "run": "1",
                "uri": redact_uri(first),
                "started_at": "2026-01-01T00:00:00.000000Z",
            }
        }
    }
    said = _other_run(record, source, run, committed=False)
    assert "another storage's optuna study 's' (postgresql://u@h1/db" in said, said
    assert "re-created" not in said and "expflow-git rm" not in said, said
    # A record an older rule wrote with the password it missed is shown without it.
    record["provenance"]["source"]["uri"] = "oracle+cx_oracle://scott:Hunter2x@h/o"
    said = _other_run(record, source, run, committed=False)
    assert "oracle+cx_oracle://scott@h/o" in said and SECRET not in said, said
