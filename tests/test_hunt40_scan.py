"""The PIN scan's and the reason masking's known gaps, closed (issue 18 fortieth pass;
docs/decisions.md, "left" by the thirty-ninth): `EXPFLOW_PIN` named apart from its value
(a Kubernetes or ECS env list, GitLab's `value` child, fish's `set -x`, csh's `setenv`,
Dockerfile's `ENV NAME value`, `setx`),
a workflow's `--pin ${{ secrets.X || 'NNNN' }}`, and a URL's password in a failed run's
reason when the URL is JSON-escaped or the password holds a blank. Each failed on the
code before; each has its nearest innocent text beside it.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli
from helpers_audit import commit_all, new_repo

from expflow_git import Repository
from expflow_git.pinscan.scanner import scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
KEY = "EXPFLOW" + "_PIN"
FLAG = "--" + "pin"
OPEN, CLOSE = "{{", "}}"

# (file, text, line and column of the value)
NAMED_APART = [
    ("k8s.yaml", f'env:\n  - name: {KEY}\n    value: "{PIN}"\n', 3, 13),
    ("k8s-value-first.yaml", f'env:\n  - value: "{PIN}"\n    name: {KEY}\n', 2, 13),
    ("deploy.yaml", f'env:\n- name: "{KEY}"\n  value: {PIN}\n', 3, 10),
    ("flow.yaml", f'env: [{{name: {KEY}, value: "{PIN}"}}]\n', 1, 35),
    ("ecs.json", f'{{"environment": [{{"name": "{KEY}", "value": "{PIN}"}}]}}\n', 1, 52),
    ("ecs-value-first.json", f'[{{"value": "{PIN}", "name": "{KEY}"}}]\n', 1, 13),
    ("pod.json", f'{{\n  "name": "{KEY}",\n  "value": "{PIN}"\n}}\n', 3, 13),
    ("gitlab-ci.yml", f'variables:\n  {KEY}:\n    value: "{PIN}"\n    description: x\n', 3, 13),
    ("gitlab-flow.yml", f'variables:\n  {KEY}: {{description: x, value: "{PIN}"}}\n', 2, 41),
    ("config.fish", f"set -x {KEY} {PIN}\n", 1, 20),
    ("conf.d.fish", f"if true; set -gx {KEY} '{PIN}'; end\n", 1, 31),
    ("login.csh", f"setenv {KEY} {PIN}\n", 1, 20),
    ("Dockerfile", f"FROM python:3.12\nENV {KEY} {PIN}\n", 2, 17),
    ("setup.bat", f"setx {KEY} {PIN}\n", 1, 18),
]


@pytest.mark.parametrize(
    ("name", "text", "line", "col"), NAMED_APART, ids=[n for n, *_ in NAMED_APART]
)
def test_a_pin_named_apart_from_its_value_is_found(
    name: str, text: str, line: int, col: int
) -> None:
    """Spec §5: "a non-empty assignment of … `EXPFLOW_PIN` (env, shell, YAML, JSON, TOML)";
    these forms name the variable in one place and give its value in another, and passed
    `scan`, the hooks and the audit (left by the thirty-ninth pass, a first fix reverted in
    the thirty-first for its quadratic time)."""
    found = scan_bytes(name, text.encode())
    assert [(f.rule, f.line, f.col) for f in found] == [("pin-assignment", line, col)], found


CLEAN = [
    ("from-secret.yaml", f"env:\n  - name: {KEY}\n    valueFrom:\n      secretKeyRef: {{}}\n"),
    ("reference.yaml", f"env:\n  - name: {KEY}\n    value: $(PIN)\n"),
    ("empty.yaml", f'env:\n  - name: {KEY}\n    value: ""\n'),
    ("other-item.yaml", f'env:\n  - name: {KEY}\n  - value: "{PIN}"\n'),
    ("deeper.yaml", f'env:\n  - name: {KEY}\n    x:\n      value: "{PIN}"\n'),
    ("other-name.yaml", f'env:\n  - name: OTHER\n    value: "{PIN}"\n  - name: {KEY}\n'),
    ("gitlab-ref.yml", f"variables:\n  {KEY}:\n    value: $PIN\n"),
    ("gitlab-sibling.yml", f'variables:\n  {KEY}:\n  value: "{PIN}"\n'),
    ("gitlab-from.yml", f'{KEY}: {{valueFrom: "{PIN}"}}\n'),
    ("prose.yaml", f"env:\n  - name: {KEY}\n    value: the PIN for guarded commands\n"),
    ("other.json", f'[{{"name": "X", "value": "{PIN}"}}, {{"name": "{KEY}", "valueFrom": 1}}]\n'),
    ("refs.fish", f"set -x {KEY} (cat ~/.pin)\nset -gx {KEY} $PIN\nset -x {KEY} first\n"),
    ("refs.csh", f'setenv {KEY} $PIN\nsetenv {KEY} ""\n'),
    ("Dockerfile", f'ARG {KEY}\nENV {KEY}=""\nENV {KEY} ${{PIN}}\n'),
    ("README.md", f"Set {KEY} in your env; {PIN} runs passed.\nThe env {KEY} value is yours.\n"),
]


@pytest.mark.parametrize(("name", "text"), CLEAN, ids=[n for n, _ in CLEAN])
def test_the_nearest_innocent_text_stays_clean(name: str, text: str) -> None:
    assert scan_bytes(name, text.encode()) == []


def test_a_workflow_fallback_after_the_flag_is_found() -> None:
    """`--pin ${{ secrets.X || 'NNNN' }}`: the literal is the PIN whenever the secret is
    empty (a fork's pull request), as spec §5 reads the same fallback after
    `EXPFLOW_PIN:`; it passed (noticed by the thirty-ninth pass)."""
    for text, col in (
        (
            f"run: expflow-git rm e1 {FLAG} ${OPEN} secrets.X || '{PIN}' {CLOSE}\n",
            48,
        ),
        (f'run: x {FLAG}="${OPEN} a || b || "{PIN}" {CLOSE}"\n', 30),
    ):
        found = scan_bytes("ci.yml", text.encode())
        assert [(f.rule, f.col) for f in found] == [("pin-value", col)], (text, found)
    for text in (
        f"run: x {FLAG} ${OPEN} secrets.X {CLOSE}\n",
        f"run: x {FLAG} \"${OPEN} secrets.X || '' {CLOSE}\"\n",
        f"run: x {FLAG} ${OPEN} secrets.X || '{PIN}5' {CLOSE}\n",
        f"run: x {FLAG} ${OPEN} secrets.X {CLOSE} || echo '{PIN}'\n",
    ):
        assert scan_bytes("ci.yml", text.encode()) == [], text


def test_the_real_cli_refuses_them_masked(exp_repo: ExpRepo) -> None:
    files = {f"leaks/{name}": text for name, text, *_ in NAMED_APART}
    files["leaks/ci.yml"] = f"run: x {FLAG} ${OPEN} secrets.X || '{PIN}' {CLOSE}\n"
    assert_refused_masked(exp_repo, files)


def assert_refused_masked(exp_repo: ExpRepo, files: dict[str, str]) -> None:
    """`scan` and `scan --staged` of the files written: exit 1, each named, the PIN not
    shown."""
    for path, text in files.items():
        exp_repo.write(path, text)
    exp_repo.stage(*files)
    for args in (["scan", *files], ["scan", "--staged", *files]):
        code, out, err = run_cli(args, cwd=exp_repo.path)
        assert_clean_output(out, err)
        assert code == 1, (args, out, err)
        for path in files:
            assert f"{path}:" in out, (path, out)
        assert PIN not in out + err, (args, out, err)


def test_the_pair_rules_stay_linear() -> None:
    """The reverted first version took 17 s for 128 KB of flow items; these shapes each
    name the variable thousands of times on one line."""
    shapes = [
        f"{{name: {KEY}, value: $(x }}, " * 4000,
        f'{{"value": "x", "name": "{KEY}"}}, ' * 4000,
        f"set -x {KEY} (; " * 4000,
        f"- name: {KEY}\n" * 4000,
        f"value: value: {KEY} " * 4000,
        f"{KEY}: {{ " * 4000,
        f"{KEY}:\n  value: x\n" * 4000,
    ]
    for shape in shapes:
        begun = time.perf_counter()
        scan_bytes("big.yaml", shape.encode())
        assert time.perf_counter() - begun < 2.0, shape[:60]


PASSWORD = "hunter2secret"


def test_a_failed_runs_reason_masks_an_escaped_or_blank_holding_password(
    tmp_path: Path,
) -> None:
    """Spec §4 (`Repository.run`): "a URL it quotes … loses its password and secret query
    values as an import's provenance does". A JSON-escaped URL (a response body quoted in
    an error) and a password holding a blank, which urlsplit still reads between `:` and
    `@`, were committed with the password (noticed by the thirty-ninth pass)."""
    root = new_repo(tmp_path / "repo")
    commit_all(root)
    repo = Repository(root)
    messages = (
        f'body: {{"url": "http:\\/\\/alice:{PASSWORD}@127.0.0.1:9\\/api"}}',
        f"API request to http://alice:{PASSWORD[:7]} {PASSWORD[7:]}@127.0.0.1:9/api failed",
        "see http://127.0.0.1:5000 or mail me@example.org",
    )
    for i, message in enumerate(messages):
        with pytest.raises(RuntimeError):
            with repo.run(f"a{i}", study="pdebench-task1"):
                raise RuntimeError(message)
    reasons = [
        json.loads((root / "experiments" / "pdebench-task1" / f"a{i}.json").read_text())["reason"]
        for i in range(len(messages))
    ]
    assert reasons[0] == 'RuntimeError: body: {"url": "http:\\/\\/alice@127.0.0.1:9\\/api"}'
    assert reasons[1] == "RuntimeError: API request to http://alice@127.0.0.1:9/api failed"
    # a port, a blank, then a mail address: no password, as it was
    assert reasons[2] == f"RuntimeError: {messages[2]}"
