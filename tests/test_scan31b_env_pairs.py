"""Environment variables set in other forms than `NAME=value` passed: a Kubernetes or ECS
name/value pair (`- name: EXPFLOW_PIN` then `value: "NNNN"`, in YAML and JSON), GitLab's
`EXPFLOW_PIN:` with a `value:` child, Dockerfile's `ENV EXPFLOW_PIN NNNN`, fish's `set -gx`,
csh's `setenv`, Windows' `setx` (a hunter's find, issue 18 thirty-first pass; spec §5
promises any non-empty assignment of EXPFLOW_PIN)."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import ExpRepo, run_cli

from expflow_git.pinscan.scanner import scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it
DIGEST = hashlib.sha256(PIN.encode()).hexdigest()
OTHER = str(1000 + 234)  # a harmless port or count
OPEN, CLOSE = "{{", "}}"

LEAKS = [
    ("k8s.yaml", f'env:\n  - name: EXPFLOW_PIN\n    value: "{PIN}"\n'),
    ("k8s-bare.yaml", f"env:\n- name: EXPFLOW_PIN\n  value: {PIN}\n"),
    ("k8s-below.yaml", f"env:\n- name: EXPFLOW_PIN\n  value:\n    '{PIN}'\n"),
    ("k8s-flow.yaml", f'env: [{{name: EXPFLOW_PIN, value: "{PIN}"}}]\n'),
    ("ecs.json", json.dumps({"environment": [{"name": "EXPFLOW_PIN", "value": PIN}]}, indent=2)),
    ("ecs-line.json", json.dumps({"environment": [{"name": "EXPFLOW_PIN", "value": PIN}]})),
    ("ecs-reversed.json", json.dumps([{"value": PIN, "name": "EXPFLOW_PIN"}])),
    ("gitlab.yml", f'variables:\n  EXPFLOW_PIN:\n    value: "{PIN}"\n    description: x\n'),
    ("gitlab-later.yml", f"variables:\n  EXPFLOW_PIN:\n    description: x\n    value: {PIN}\n"),
    ("gitlab-flow.yml", f'variables:\n  EXPFLOW_PIN: {{value: "{PIN}", description: x}}\n'),
    ("hash.yaml", f'env:\n  - name: EXPFLOW_PIN_HASH\n    value: "not-{PIN}-a-hash"\n'),
    ("Dockerfile", f"FROM python:3.12\nENV EXPFLOW_PIN {PIN}\n"),
    ("quoted.Dockerfile", f'ENV EXPFLOW_PIN "{PIN}"\n'),
    ("config.fish", f"set -gx EXPFLOW_PIN {PIN}\n"),
    ("long.fish", f"set --global --export EXPFLOW_PIN '{PIN}'\n"),
    ("subst.fish", f"set -gx EXPFLOW_PIN (echo {PIN})\n"),
    (".cshrc", f"setenv EXPFLOW_PIN {PIN}\n"),
    ("setup.bat", f"setx EXPFLOW_PIN {PIN}\n"),
    ("machine.bat", f"setx /M EXPFLOW_PIN {PIN}\n"),
]


def where(content: str) -> tuple[int, int]:
    """(line, column) of the PIN in `content` (of its first character in a JSON string)."""
    for number, line in enumerate(content.split("\n"), 1):
        if PIN in line:
            return number, line.index(PIN) + 1
    raise AssertionError(content)


@pytest.mark.parametrize(("name", "content"), LEAKS, ids=[x[0] for x in LEAKS])
def test_the_pair_or_command_assigns_the_pin(name: str, content: str) -> None:
    found = scan_bytes(name, content.encode("utf-8"))
    assert [f.rule for f in found] == ["pin-assignment"], found
    line, col = where(content)
    assert found[0].line == line, found
    if name != "hash.yaml":
        assert found[0].col == col, found


def test_a_digest_as_the_pairs_value_is_reported_as_the_digest() -> None:
    content = f'env:\n  - name: EXPFLOW_PIN_HASH\n    value: "{DIGEST}"\n'
    assert [f.rule for f in scan_bytes("a.yaml", content.encode())] == ["pin-sha256"]


HARMLESS = [
    f'env:\n  - name: PORT\n    value: "{OTHER}"\n',
    (
        "env:\n  - name: EXPFLOW_PIN\n    valueFrom:\n      secretKeyRef:\n"
        f'        name: expflow\n        key: pin\n  - name: WORKERS\n    value: "{OTHER}"\n'
    ),
    f"env:\n  - name: EXPFLOW_PIN\n    value: ${OPEN} secrets.EXPFLOW_PIN {CLOSE}\n",
    'env:\n  - name: EXPFLOW_PIN\n    value: ""\n',
    "env:\n  - name: EXPFLOW_PIN\n    value: the PIN from the vault\n",
    json.dumps(
        [
            {"name": "EXPFLOW_PIN", "valueFrom": {"secretKeyRef": {"name": "x"}}},
            {"name": "PORT", "value": OTHER},
        ],
        indent=2,
    ),
    f"variables:\n  EXPFLOW_PIN:\n    description: set in the UI\n  PORT:\n    value: {OTHER}\n",
    f"ENV PORT {OTHER}\n",
    "ENV EXPFLOW_PIN $PIN\n",
    "set -gx EXPFLOW_PIN (cat ~/.expflow-pin)\n",
    "set -gx EXPFLOW_PIN $PIN\n",
    "set -e EXPFLOW_PIN\n",
    "setenv EXPFLOW_PIN $PIN\n",
    "setx EXPFLOW_PIN %PIN%\n",
    "Set EXPFLOW_PIN first, then run the hooks.\n",
    f"set -gx PORT {OTHER}\n",
]


@pytest.mark.parametrize("content", HARMLESS)
def test_look_alikes_stay_clean(content: str) -> None:
    assert scan_bytes("deploy.yaml", content.encode("utf-8")) == []


def test_the_real_cli_refuses_them_with_the_pin_masked(exp_repo: ExpRepo) -> None:
    files = []
    for name, content in LEAKS:
        exp_repo.write(f"leaks/{name}", content)
        files.append(f"leaks/{name}")
    exp_repo.write("ok.yaml", HARMLESS[0] + HARMLESS[1][len("env:\n") :])
    code, out, err = run_cli(["scan", *files, "ok.yaml"], cwd=exp_repo.path)
    assert code == 1, (out, err)
    for name in files:
        assert f"{name}:" in out, (name, out, err)
    assert "ok.yaml" not in out
    assert PIN not in out + err
    assert "Traceback" not in err
