"""A reference that holds its own literal was read as a reference and passed: a command
substitution printing the PIN (`EXPFLOW_PIN=$(echo NNNN)`), a GitHub Actions fallback
(`${{ secrets.EXPFLOW_PIN || 'NNNN' }}`), a Helm or Jinja default (a hunter's find, issue
18 thirty-first pass; spec §5 promises any non-empty assignment of EXPFLOW_PIN)."""

from __future__ import annotations

import hashlib

import pytest
from conftest import ExpRepo, run_cli

from expflow_git.pinscan.scanner import scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it
DIGEST = hashlib.sha256(PIN.encode()).hexdigest()
OPEN, CLOSE = "{{", "}}"

LEAKS = [
    ("echo.sh", f"export EXPFLOW_PIN=$(echo {PIN})\n", "pin-assignment", 27),
    ("printf.sh", f"export EXPFLOW_PIN=\"$(printf '%s' '{PIN}')\"\n", "pin-assignment", 36),
    (
        "ci.yml",
        f"env:\n  EXPFLOW_PIN: ${OPEN} secrets.EXPFLOW_PIN || '{PIN}' {CLOSE}\n",
        "pin-assignment",
        44,
    ),
    ("values.yaml", f'pin: {OPEN} .Values.pin | default "{PIN}" {CLOSE}\n', "pin-value", 32),
    (
        "deploy.yaml",
        f'EXPFLOW_PIN_HASH: "{OPEN} .Values.h | default \\"{DIGEST}\\" {CLOSE}"\n',
        "pin-sha256",
        0,
    ),
    ("env.j2", f'EXPFLOW_PIN={OPEN} pin | default("{PIN}") {CLOSE}\n', "pin-assignment", 31),
]


@pytest.mark.parametrize(("name", "content", "rule", "col"), LEAKS, ids=[x[0] for x in LEAKS])
def test_a_literal_inside_a_reference_is_found(
    name: str, content: str, rule: str, col: int
) -> None:
    found = scan_bytes(name, content.encode("utf-8"))
    assert [f.rule for f in found] == [rule], found
    if col:
        assert found[0].col == col, found


HARMLESS = [
    "export EXPFLOW_PIN=$(cat ~/.expflow-pin)\n",
    "export EXPFLOW_PIN=$(head -c 32 /dev/urandom | base64)\n",
    "export EXPFLOW_PIN=$(pass show added)\n",
    f"EXPFLOW_PIN: ${OPEN} secrets.EXPFLOW_PIN {CLOSE}\n",
    f"EXPFLOW_PIN: ${OPEN} secrets.EXPFLOW_PIN || '' {CLOSE}\n",
    f'pin: {OPEN} .Values.pin | default "" {CLOSE}\n',
    f"EXPFLOW_PIN={OPEN} pin | default(omit) {CLOSE}\n",
]


@pytest.mark.parametrize("content", HARMLESS)
def test_pure_references_stay_clean(content: str) -> None:
    assert scan_bytes("ci.yml", content.encode("utf-8")) == []


def test_the_real_cli_refuses_them_with_the_secret_masked(exp_repo: ExpRepo) -> None:
    files = []
    for name, content, _, _ in LEAKS:
        exp_repo.write(f"leaks/{name}", content)
        files.append(f"leaks/{name}")
    code, out, err = run_cli(["scan", *files], cwd=exp_repo.path)
    assert code == 1, (out, err)
    for name in files:
        assert f"{name}:" in out, (name, out, err)
    assert PIN not in out + err and DIGEST[:8] not in out + err
    assert "Traceback" not in err
