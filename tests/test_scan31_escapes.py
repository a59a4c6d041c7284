"""A string escape ending in a letter (`\\n`, `\\t`, `\\r`) or an ANSI colour code
(`ESC[1m`, `\\u001b[1m` in JSON) glued to a secret hid it from every word-bounded rule:
the PIN's SHA-256, the PIN keys and `--pin NNNN` (a hunter's find, issue 18
thirty-first pass). The scan now also reads a view of the text with those blanked."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import ExpRepo, run_cli

from expflow_git.pinscan.scanner import masked, scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it
DIGEST = hashlib.sha256(PIN.encode()).hexdigest()
ESC = "\x1b"


def notebook(text: str) -> str:
    output = {"output_type": "stream", "name": "stdout", "text": [text]}
    cell = {
        "cell_type": "code",
        "metadata": {},
        "source": ["print(1)"],
        "execution_count": 1,
        "outputs": [output],
    }
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]})


LEAKS = [
    ("out.json", json.dumps({"stdout": "stored PIN hash:\n" + DIGEST}), "pin-sha256"),
    ("log.json", json.dumps({"log": "retry\n--pin " + PIN}), "pin-value"),
    ("env.json", json.dumps({"env": "x\nEXPFLOW_PIN=" + PIN}), "pin-assignment"),
    ("tab.json", json.dumps({"o": "x\tpin: " + PIN}), "pin-value"),
    ("cr.json", json.dumps({"o": "x\r--pin " + PIN}), "pin-value"),
    ("run.log", f"stored hash: {ESC}[1m{DIGEST}{ESC}[0m\n", "pin-sha256"),
    ("colour.json", json.dumps({"o": f"hash {ESC}[1m{DIGEST}{ESC}[0m"}), "pin-sha256"),
    ("repr.txt", f"'hash \\x1b[1m{DIGEST}\\x1b[0m'\n", "pin-sha256"),
    ("nb.ipynb", notebook(f"hash {ESC}[1m{DIGEST}{ESC}[0m\n"), "pin-sha256"),
    ("str.yaml", f'k: "a\\npin: {PIN}"\n', "pin-value"),
    ("call.py", f'print("\\n--pin {PIN}")\n', "pin-value"),
]


@pytest.mark.parametrize(("name", "content", "rule"), LEAKS, ids=[x[0] for x in LEAKS])
def test_a_secret_after_an_escape_letter_or_colour_code_is_found(
    name: str, content: str, rule: str
) -> None:
    found = scan_bytes(name, content.encode("utf-8"))
    assert [f.rule for f in found] == [rule], found
    assert all(PIN not in f.message and DIGEST[:8] not in f.message for f in found)


def test_the_found_secret_is_masked() -> None:
    text = json.dumps({"log": "retry\n--pin " + PIN}) + f" {ESC}[1m{DIGEST}"
    shown = masked(text)
    assert PIN not in shown and DIGEST not in shown, shown


HARMLESS = [
    # an escaped backslash before the letter: the letter is a word of its own text
    ("a.json", json.dumps({"o": "C:\\npin\\" + DIGEST[:10]})),
    ("b.json", json.dumps({"o": "a\\n--pinned 1234x"})),
    ("c.log", f"{ESC}[1mpinned{ESC}[0m 2024-01-01\n"),
    ("d.json", json.dumps({"o": "line\nno secret here\tpin: unset"})),
]


@pytest.mark.parametrize(("name", "content"), HARMLESS, ids=[x[0] for x in HARMLESS])
def test_escapes_around_harmless_text_stay_clean(name: str, content: str) -> None:
    assert scan_bytes(name, content.encode("utf-8")) == []


def test_the_real_cli_refuses_them_with_the_secret_masked(exp_repo: ExpRepo) -> None:
    files = []
    for name, content, _ in LEAKS:
        exp_repo.write(f"leaks/{name}", content)
        files.append(f"leaks/{name}")
    code, out, err = run_cli(["scan", *files], cwd=exp_repo.path)
    assert code == 1, (out, err)
    for name in files:
        assert f"{name}:" in out + err, (name, out, err)
    assert PIN not in out + err and DIGEST[:8] not in out + err
    assert "Traceback" not in err
