"""A PIN after `--pin` in an argument list of a data file passed: a JSON or YAML flow list
(`args: ["rm", "--pin", "NNNN"]`), a YAML block list (`- --pin` then `- "NNNN"`), a
Dockerfile's exec-form CMD, VS Code's launch.json (a hunter's find, issue 18 thirty-first
pass). In code such a list is a test calling the CLI, and stays unread (docs/decisions.md)."""

from __future__ import annotations

import json

import pytest
from conftest import ExpRepo, run_cli

from expflow_git.pinscan.scanner import scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it
PORT = str(8000 + 80)

LEAKS = [
    ("job.json", json.dumps({"args": ["rm", "run-1", "--pin", PIN]})),
    ("job.yaml", f'args: ["rm","run-1","--pin","{PIN}"]\n'),
    ("plain.yaml", f"args: [rm, --pin, {PIN}]\n"),
    ("block.yaml", f'args:\n  - rm\n  - --pin\n  - "{PIN}"\n'),
    ("quoted-block.yml", f"steps:\n- args:\n  - '--pin'\n  - {PIN}  # the PIN\n"),
    ("Dockerfile", f'FROM python:3.12\nCMD ["expflow-git", "rm", "--pin", "{PIN}"]\n'),
    (
        "launch.json",
        json.dumps({"configurations": [{"args": ["rm", "run-1", "--pin", PIN]}]}, indent=4),
    ),
    ("pyproject.toml", f'[tool.x]\nargs = ["--pin", "{PIN}"]\n'),
]


def where(content: str) -> tuple[int, int]:
    """(line, column) of the PIN in `content`."""
    for number, line in enumerate(content.split("\n"), 1):
        if PIN in line:
            return number, line.index(PIN) + 1
    raise AssertionError(content)


@pytest.mark.parametrize(("name", "content"), LEAKS, ids=[x[0] for x in LEAKS])
def test_the_pin_after_the_flag_in_a_list_is_found(name: str, content: str) -> None:
    found = scan_bytes(name, content.encode("utf-8"))
    assert [(f.rule, f.line, f.col) for f in found] == [("pin-value", *where(content))], found


HARMLESS = [
    json.dumps({"args": ["--port", PORT]}),
    f'args: ["--port","{PORT}"]\n',
    f"args:\n  - --port\n  - '{PORT}'\n",
    "args:\n  - --pin\n  - $(EXPFLOW_PIN)\n",
    json.dumps({"args": ["--pin", "${env:EXPFLOW_PIN}"]}),
    json.dumps({"args": ["--pin", PIN + "0"]}),
    f"args:\n  - --pin\n  - x\n  - {PIN}\n",  # (not the flag's value)
]


@pytest.mark.parametrize("content", HARMLESS)
def test_look_alikes_stay_clean(content: str) -> None:
    assert scan_bytes("job.yaml", content.encode("utf-8")) == []


def test_in_code_the_argument_list_is_a_test_calling_the_cli() -> None:
    for name in ("test_cli.py", "cli.test.js"):
        content = f'run(["rm", "--pin", "{PIN}"])\n'
        assert scan_bytes(name, content.encode()) == [], name


def test_a_list_given_to_a_call_is_code_quoted_in_prose() -> None:
    content = f'A script whose `subprocess.run([..., "--pin", "{PIN}"])` failed.\n'
    assert scan_bytes("notes.md", content.encode()) == []
    # (the same list given to a key, or as the file's list, is a data file's)
    content = f'cmd = ["x", "--pin", "{PIN}"]\nrun( ["y"] )\n'
    assert [f.rule for f in scan_bytes("notes.md", content.encode())] == ["pin-value"]


def test_the_real_cli_refuses_them_with_the_pin_masked(exp_repo: ExpRepo) -> None:
    files = []
    for name, content in LEAKS:
        exp_repo.write(f"leaks/{name}", content)
        files.append(f"leaks/{name}")
    exp_repo.write("ok.json", HARMLESS[0])
    code, out, err = run_cli(["scan", *files, "ok.json"], cwd=exp_repo.path)
    assert code == 1, (out, err)
    for name in files:
        assert f"{name}:" in out, (name, out, err)
    assert "ok.json" not in out
    assert PIN not in out + err
    assert "Traceback" not in err
