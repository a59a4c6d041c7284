"""A PIN given to `--pin` as a parameter expansion's default passed: `--pin
"${EXPFLOW_PIN:-NNNN}"` in a shell script is the PIN whenever the variable is unset, as
`EXPFLOW_PIN=${EXPFLOW_PIN:-NNNN}` was already flagged (a hunter's find, issue 18
thirty-first pass)."""

from __future__ import annotations

import pytest
from conftest import ExpRepo, run_cli
from test_scan31b_argument_lists import PIN, where  # (PIN: never a literal in a file)

from expflow_git.pinscan.scanner import scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")


LEAKS = [
    ("quoted.sh", f'expflow-git rm r --pin "${{EXPFLOW_PIN:-{PIN}}}"\n'),
    ("bare.sh", f"expflow-git rm r --pin ${{PIN:-{PIN}}}\n"),
    ("unset.sh", f"expflow-git rm r --pin ${{PIN-{PIN}}}\n"),
    ("assign.sh", f"expflow-git rm r --pin '${{PIN:={PIN}}}'\n"),
    ("equals.sh", f"expflow-git rm r --pin=${{X={PIN}}}\n"),
    ("Makefile", f'rm:\n\texpflow-git rm r --pin "${{PIN:-{PIN}}}"\n'),
]


@pytest.mark.parametrize(("name", "content"), LEAKS, ids=[x[0] for x in LEAKS])
def test_a_default_after_the_flag_is_the_pin(name: str, content: str) -> None:
    found = scan_bytes(name, content.encode("utf-8"))
    assert [(f.rule, f.line, f.col) for f in found] == [("pin-value", *where(content))], found


def test_a_key_and_the_flag_on_one_default_report_it_once() -> None:
    # `--pin=${PIN:=NNNN}` is also a `PIN:=NNNN` key's value: one finding, not two
    found = scan_bytes("a.sh", f"x --pin=${{PIN:={PIN}}}\n".encode())
    assert [f.rule for f in found] == ["pin-value"], found


HARMLESS = [
    'expflow-git rm r --pin "${PIN}"\n',
    "expflow-git rm r --pin ${EXPFLOW_PIN:-}\n",
    'expflow-git rm r --pin "${EXPFLOW_PIN:?set it}"\n',
    "expflow-git rm r --pin ${PIN:-$DEFAULT_PIN}\n",
    f"expflow-git rm r --pin ${{PIN:+{PIN}}}\n",  # (the PIN only when the variable is set)
    f"expflow-git rm r --pin ${{PIN:-{PIN}0}}\n",
    f"serve --port ${{PORT:-{PIN}}}\n",
]


@pytest.mark.parametrize("content", HARMLESS)
def test_look_alikes_stay_clean(content: str) -> None:
    assert scan_bytes("a.sh", content.encode("utf-8")) == []


def test_the_real_cli_refuses_them_with_the_pin_masked(exp_repo: ExpRepo) -> None:
    files = []
    for name, content in LEAKS:
        exp_repo.write(f"leaks/{name}", content)
        files.append(f"leaks/{name}")
    exp_repo.write("ok.sh", "".join(HARMLESS))
    code, out, err = run_cli(["scan", *files, "ok.sh"], cwd=exp_repo.path)
    assert code == 1, (out, err)
    for name in files:
        assert f"{name}:" in out, (name, out, err)
    assert "ok.sh" not in out
    assert PIN not in out + err
    assert "Traceback" not in err
