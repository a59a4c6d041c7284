"""What the scan used to miss (issue 14 items 12-15), through the real CLI: nested `pin`
keys, notebooks, the tool's own `--pin` flag on a command line, private keys (and
`keygen`'s warning, `init`'s .gitignore, the hooks refusing the key).

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output, git_env, run_cli
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from support import pre_commit_install

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = "4821"
PIN_SHA = hashlib.sha256(PIN.encode()).hexdigest()
BASE64_LINE = r"[A-Za-z0-9+/=]{40,}"
OPAQUE_SHA = hashlib.sha256(b"a salted hash, not of a bare PIN").hexdigest()


def scan(exp_repo: ExpRepo, cli, files: dict[str, str | bytes]):  # type: ignore[no-untyped-def]
    for rel, content in files.items():
        exp_repo.write(rel, content)
    return cli(["scan", *files], cwd=exp_repo.path)


def located(text: str, token: str, nth: int = 0) -> tuple[int, int]:
    """(line, col) of the `nth` occurrence of `token` in `text`."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(token, at + 1)
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def assert_masked(output: str, *secrets: str) -> None:
    for secret in secrets:
        for i in range(max(1, len(secret) - 7)):
            assert secret[i : i + 8] not in output, (secret[i : i + 8], output)


# --- item 12: nested keys ----------------------------------------------------------------

NESTED = [
    (
        "conf.yaml",
        f"auth:\n  pin:\n    hash: {OPAQUE_SHA}\n",
        OPAQUE_SHA,
        "pin-assignment",
        "pin.hash assigned a value (masked)",
    ),
    (
        "conf.yaml",
        "pin:  # the operator's\n  salt: x\n  hash: 'opaque-value-1'\n",
        "opaque-value-1",
        "pin-assignment",
        "pin.hash assigned a value (masked)",
    ),
    (
        "conf.json",
        json.dumps({"pin": {"hash": OPAQUE_SHA}}),
        OPAQUE_SHA,
        "pin-assignment",
        "pin.hash assigned a value (masked)",
    ),
    (
        "conf.json",
        json.dumps({"x": 1, "PIN": {"sha256": OPAQUE_SHA}}, indent=2),
        OPAQUE_SHA,
        "pin-assignment",
        "PIN.sha256 assigned a value (masked)",
    ),
    (
        "conf.toml",
        f'[pin]\nhash = "{OPAQUE_SHA}"\n',
        OPAQUE_SHA,
        "pin-assignment",
        "pin.hash assigned a value (masked)",
    ),
    (
        "conf.toml",
        f'[auth.pin]  # ops\nrounds = 3\ndigest = "{OPAQUE_SHA}"\n',
        OPAQUE_SHA,
        "pin-assignment",
        "pin.digest assigned a value (masked)",
    ),
    (
        "conf.toml",
        f'pin = {{ hash = "{OPAQUE_SHA}" }}\n',
        OPAQUE_SHA,
        "pin-assignment",
        "pin.hash assigned a value (masked)",
    ),
    (
        "conf.yaml",
        f"pin: {{hash: {OPAQUE_SHA}}}\n",
        OPAQUE_SHA,
        "pin-assignment",
        "pin.hash assigned a value (masked)",
    ),
    (
        "conf.yaml",
        f"pin:\n  value: {PIN}\n",
        PIN,
        "pin-value",
        "4-digit PIN under key 'pin.value' (masked: ****)",
    ),
    (
        "conf.yaml",
        f"operator:\n  pin:\n    code: '{PIN}'\n",
        PIN,
        "pin-value",
        "4-digit PIN under key 'pin.code' (masked: ****)",
    ),
    (
        "conf.json",
        json.dumps({"pin": {"value": int(PIN)}}),
        PIN,
        "pin-value",
        "4-digit PIN under key 'pin.value' (masked: ****)",
    ),
    (
        "conf.toml",
        f"[pin]\nvalue = {PIN}\n",
        PIN,
        "pin-value",
        "4-digit PIN under key 'pin.value' (masked: ****)",
    ),
    (
        "settings.py",
        f'CONFIG = {{"pin": {{"hash": "{OPAQUE_SHA}"}}}}\n',
        OPAQUE_SHA,
        "pin-assignment",
        "pin.hash assigned a value (masked)",
    ),
]


@pytest.mark.parametrize(
    ("rel", "content", "token", "rule", "message"),
    NESTED,
    ids=[f"{n[0]}-{i}" for i, n in enumerate(NESTED)],
)
def test_nested_pin_keys_are_found(
    exp_repo: ExpRepo, cli, rel: str, content: str, token: str, rule: str, message: str
) -> None:
    res = scan(exp_repo, cli, {rel: content})
    assert res.code == 1, res.both
    line, col = located(content, token)
    assert res.out == f"{rel}:{line}:{col}: {rule}: {message}\n"
    assert_masked(res.both, token)


def test_a_nested_pin_sha_is_reported_once(exp_repo: ExpRepo, cli) -> None:
    content = f"pin:\n  hash: {PIN_SHA}\n"
    res = scan(exp_repo, cli, {"conf.yaml": content})
    assert res.out == "conf.yaml:2:9: pin-sha256: " + (
        "leaked SHA-256 of a 4-digit PIN (64 hex chars, masked: ****)\n"
    )


@pytest.mark.parametrize(
    "content",
    [
        "pin:\n  length: 4\n  retries: 3\n  timeout: 3600\n",  # settings, not a PIN
        "pin:\n  hash: ${{ secrets.PIN_HASH }}\n  value: $PIN\n",
        "pin:\n  hash: ''\n  value: null\n",
        "pin:\n  value: 48210\n  code: 482\n",
        f"spin:\n  hash: {OPAQUE_SHA}\n",
        f"pin:\n  enabled: true\nother:\n  hash: {OPAQUE_SHA}\n",  # after the pin block
        f"pin:\n  nested:\n    hash: {OPAQUE_SHA}\n",  # a grandchild, not pin's own hash
        f'[pin]\nlength = 4\n[other]\nhash = "{OPAQUE_SHA}"\n',
        f'{{"pin": {{"length": 4}}, "hash": "{OPAQUE_SHA}"}}',
    ],
)
def test_nested_lookalikes_are_clean(exp_repo: ExpRepo, cli, content: str) -> None:
    res = scan(exp_repo, cli, {"conf.yaml": content})
    assert res.code == 0, res.out


def test_nested_keys_in_code_need_a_literal(exp_repo: ExpRepo, cli) -> None:
    res = scan(exp_repo, cli, {"cfg.py": 'CONFIG = {"pin": {"hash": compute_hash(pin)}}\n'})
    assert res.code == 0, res.out


# --- item 13: notebooks --------------------------------------------------------------------

LEAKY_LINES = [
    f"%env EXPFLOW_PIN={PIN}\n",
    f'os.environ["EXPFLOW_PIN"] = "{PIN}"\n',
    f'pin_hash = "{OPAQUE_SHA}"\n',
]


def notebook(cells: list[dict[str, object]]) -> str:
    """As Jupyter writes a notebook (nbformat: sorted keys, one-space indent)."""
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def code_cell(source: list[str], outputs: list[dict[str, object]] | None = None) -> dict:
    return {
        "cell_type": "code",
        "execution_count": 1,
        "id": "c1",
        "metadata": {},
        "outputs": outputs or [],
        "source": source,
    }


def test_notebook_cell_sources_are_scanned(exp_repo: ExpRepo, cli) -> None:
    raw = notebook([code_cell(["import os\n", *LEAKY_LINES, "print(1)"])])
    res = scan(exp_repo, cli, {"analysis.ipynb": raw})
    assert res.code == 1, res.both
    # Each finding points into the file: the JSON string's line, the value's column there.
    expected = [
        (*located(raw, PIN, 0), "pin-assignment", "EXPFLOW_PIN assigned a value (masked)"),
        (*located(raw, PIN, 1), "pin-assignment", "EXPFLOW_PIN assigned a value (masked)"),
        (*located(raw, OPAQUE_SHA), "pin-assignment", "pin_hash assigned a value (masked)"),
    ]
    assert res.out.splitlines() == [
        f"analysis.ipynb:{line}:{col}: {rule}: {msg}" for line, col, rule, msg in expected
    ]
    assert_masked(res.both, OPAQUE_SHA)
    # The same lines in a .py file: the same findings.
    res = scan(exp_repo, cli, {"analysis.py": "import os\n" + "".join(LEAKY_LINES)})
    assert [line.split(": ", 1)[1] for line in res.out.splitlines()] == [
        f"{rule}: {msg}" for _, _, rule, msg in expected
    ]


def test_notebook_outputs_and_markdown_are_scanned(exp_repo: ExpRepo, cli) -> None:
    outputs = [
        {"name": "stdout", "output_type": "stream", "text": ["ok\n", f"EXPFLOW_PIN={PIN}\n"]},
        {
            "data": {"text/plain": [f"'{PIN_SHA}'"]},
            "execution_count": 1,
            "metadata": {},
            "output_type": "execute_result",
        },
        {
            "data": {"image/png": base64.b64encode(os.urandom(96)).decode()},
            "metadata": {},
            "output_type": "display_data",
        },
    ]
    markdown = {
        "cell_type": "markdown",
        "id": "m1",
        "metadata": {},
        "source": ["# Setup\n", "\n", "pin:\n", f"  value: {PIN}\n"],
    }
    raw = notebook([code_cell(["run()"], outputs), markdown])
    res = scan(exp_repo, cli, {"nb.ipynb": raw})
    assert res.code == 1, res.both
    rules = [line.split(": ")[1] for line in res.out.splitlines()]
    assert rules == ["pin-assignment", "pin-sha256", "pin-value"], res.out
    assert f"nb.ipynb:{':'.join(map(str, located(raw, PIN_SHA)))}: pin-sha256" in res.out


def test_notebook_escapes_shift_the_column(exp_repo: ExpRepo, cli) -> None:
    # `\u00e9` (6 characters in the file, one decoded) and `\"` before the value
    nb = json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "metadata": {},
                    "outputs": [],
                    "source": [f'x = "\u00e9"; EXPFLOW_PIN = "{PIN}"\n'],
                }
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )
    assert "\\u00e9" in nb
    res = scan(exp_repo, cli, {"esc.ipynb": nb})
    line, col = located(nb, PIN)
    assert res.out.startswith(f"esc.ipynb:{line}:{col}: pin-assignment"), res.out


def test_a_malformed_notebook_is_scanned_raw(exp_repo: ExpRepo, cli) -> None:
    raw = notebook([code_cell([f'h = "{PIN_SHA}"\n'])])[:-20]  # cut short: not JSON
    res = scan(exp_repo, cli, {"broken.ipynb": raw, "deep.ipynb": "[" * 100_000})
    assert_clean_output(res.both)
    assert res.code == 1
    assert res.out.startswith(f"broken.ipynb:{':'.join(map(str, located(raw, PIN_SHA)))}: ")


def test_a_clean_notebook_is_clean(exp_repo: ExpRepo, cli) -> None:
    raw = notebook(
        [code_cell(["pin = input()\n", "pin_hash = hash_pin(pin)\n", "%env EXPFLOW_PIN=$PIN\n"])]
    )
    res = scan(exp_repo, cli, {"clean.ipynb": raw})
    assert res.code == 0, res.out


def test_the_audit_reads_notebooks(exp_repo: ExpRepo) -> None:
    raw = notebook([code_cell(LEAKY_LINES)])
    exp_repo.write("nb/analysis.ipynb", raw)
    exp_repo.commit("notebook")
    for _ in range(2):  # cold, then from the per-blob cache
        code, out, err = run_cli(["audit"], cwd=exp_repo.path)
        assert code == 1, err
        assert out.count("nb/analysis.ipynb:") == 3, out


# --- item 14: the tool's own flag -------------------------------------------------------------

FLAGS = [
    ("scripts/cleanup.sh", f"#!/bin/sh\nexpflow-git rm exp-007 --pin {PIN}\n"),
    ("Makefile", f"clean:\n\texpflow-git rm exp-007 --pin={PIN}\n"),
    (
        ".github/workflows/ci.yml",
        "jobs:\n  x:\n    steps:\n"
        f"      - run: expflow-git cancel exp-1 --pin '{PIN}' --reason x\n",
    ),
    ("tools/run.py", f'subprocess.run("expflow-git rm x --pin {PIN}", shell=True)\n'),
]


@pytest.mark.parametrize(("rel", "content"), FLAGS, ids=[f[0] for f in FLAGS])
def test_pin_flag_on_a_command_line_is_found(
    exp_repo: ExpRepo, cli, rel: str, content: str
) -> None:
    res = scan(exp_repo, cli, {rel: content})
    assert res.code == 1, res.both
    line, col = located(content, PIN)
    assert res.out == (
        f"{rel}:{line}:{col}: pin-value: "
        "4-digit PIN given with --pin on a command line (masked: ****)\n"
    )
    assert PIN not in res.both


@pytest.mark.parametrize(
    "content",
    [
        'expflow-git rm x --pin "$EXPFLOW_PIN"\n',
        "expflow-git rm x --pin ${{ secrets.PIN }}\n",
        "expflow-git rm x --pin $PIN\n",
        "expflow-git rm x --pin 48210\n",
        "expflow-git rm x --pinned 4821\n",
        "expflow-git rm x --pin\n",
        "The PIN comes from `--pin`, a prompt or EXPFLOW_PIN.\n",
    ],
)
def test_pin_flag_lookalikes_are_clean(exp_repo: ExpRepo, cli, content: str) -> None:
    res = scan(exp_repo, cli, {"run.sh": content})
    assert res.code == 0, res.out


# --- item 15: private keys -------------------------------------------------------------------


def _pem(key: object, fmt: serialization.PrivateFormat, password: bytes | None = None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, fmt, encryption
    ).decode()


def _armored_pgp() -> str:
    body = base64.b64encode(os.urandom(300)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join(
        [
            "-----BEGIN PGP PRIVATE KEY BLOCK-----",
            "Version: x",
            "",
            *lines,
            "=" + body[:4],
            "-----END PGP PRIVATE KEY BLOCK-----",
            "",
        ]
    )


def _slashed_service_account() -> str:
    """A service account's key file as PHP's `json_encode` writes it, each `/` as `\\/`:
    the key's body no longer matched the base64 alphabet, and the key passed the scan."""
    while True:
        pkcs8 = _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)
        if "/" in pkcs8:  # (a body without one tests nothing)
            return json.dumps({"private_key": pkcs8}).replace("/", "\\/")


def private_keys() -> dict[str, tuple[str, str]]:
    """name -> (file content, the label the finding names)."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    pkcs8 = _pem(ec_key, serialization.PrivateFormat.PKCS8)
    service_account = json.dumps({"type": "service_account", "private_key": pkcs8}, indent=2)
    return {
        "pkcs8.pem": (pkcs8, "PRIVATE KEY"),
        "rsa.pem": (
            _pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL),
            "RSA PRIVATE KEY",
        ),
        "rsa-enc.pem": (
            _pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL, b"pw"),
            "RSA PRIVATE KEY",
        ),
        "ec.key": (_pem(ec_key, serialization.PrivateFormat.TraditionalOpenSSL), "EC PRIVATE KEY"),
        "enc.pem": (
            _pem(ec_key, serialization.PrivateFormat.PKCS8, b"pw"),
            "ENCRYPTED PRIVATE KEY",
        ),
        "id_ed25519": (_pem(ed_key, serialization.PrivateFormat.OpenSSH), "OPENSSH PRIVATE KEY"),
        "secring.asc": (_armored_pgp(), "PGP PRIVATE KEY BLOCK"),
        "sa.json": (service_account, "PRIVATE KEY"),
        "sa-php.json": (_slashed_service_account(), "PRIVATE KEY"),
        "values.yaml": (
            "tls:\n  key: |\n" + "".join("    " + ln + "\n" for ln in pkcs8.splitlines()),
            "PRIVATE KEY",
        ),
    }


def test_private_key_blocks_are_found(exp_repo: ExpRepo, cli) -> None:
    keys = private_keys()
    res = scan(exp_repo, cli, {name: text for name, (text, _) in keys.items()})
    assert res.code == 1, res.both
    lines = res.out.splitlines()
    assert len(lines) == len(keys), res.out
    for name, (text, label) in keys.items():
        line, col = located(text, "-----BEGIN")
        assert (
            f"{name}:{line}:{col}: private-key: a private key ({label}) must not be "
            "committed (contents masked; rotate the key)"
        ) in lines, (name, res.out)
        body = [ln.strip() for ln in text.splitlines() if re.fullmatch(BASE64_LINE, ln.strip())]
        assert_masked(res.both, *body[:3])


@pytest.mark.parametrize(
    "content",
    [
        "Never commit a file starting with -----BEGIN PRIVATE KEY-----.\n",
        "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n<your key here>\n-----END OPENSSH PRIVATE KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\n" + "A" * 64 + "\n-----END PUBLIC KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 64 + "\n",  # cut off: no END line
        "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 64 + "\n-----END EC PRIVATE KEY-----\n",
        "if line.startswith(b'-----BEGIN OPENSSH PRIVATE KEY-----'):\n",
    ],
)
def test_private_key_mentions_are_clean(exp_repo: ExpRepo, cli, content: str) -> None:
    res = scan(exp_repo, cli, {"doc.md": content})
    assert res.code == 0, res.out


def test_keygen_in_a_work_tree_warns(exp_repo: ExpRepo, tmp_path: Path) -> None:
    (exp_repo.path / ".gitignore").unlink()  # a project whose .gitignore does not know keys
    code, out, err = run_cli(["keygen", "--out", "keys/ci-key"], cwd=exp_repo.path)
    assert code == 0, err
    assert "warning: keys/ci-key is a private key inside the git work tree" in err
    assert "never commit it" in err
    # Outside any repository, and where .gitignore keeps the key out: no warning.
    outside = tmp_path / "outside"
    outside.mkdir()
    code, _, err = run_cli(
        ["keygen", "--out", "ci-key"], cwd=outside, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)}
    )
    assert code == 0 and "warning" not in err, err
    (exp_repo.path / ".gitignore").write_text("*-key\n")
    code, _, err = run_cli(["keygen", "--out", "keys/ci2-key"], cwd=exp_repo.path)
    assert code == 0 and "warning" not in err, err


def test_init_writes_a_gitignore_that_keeps_keys_out(exp_repo: ExpRepo) -> None:
    # exp_repo was made by `init`: its .gitignore came from there.
    for out in ("keys/ci-key", ".expflow/keys/release", "deploy/signing.pem"):
        code, _, err = run_cli(["keygen", "--out", out], cwd=exp_repo.path)
        assert code == 0 and "warning" not in err, err
    exp_repo.git("add", "-A")
    staged = exp_repo.git("diff", "--cached", "--name-only").splitlines()
    assert ".gitignore" in staged
    assert {"keys/ci-key.pub", ".expflow/keys/release.pub", "deploy/signing.pem.pub"} <= set(staged)
    assert not {"keys/ci-key", ".expflow/keys/release", "deploy/signing.pem"} & set(staged)
    # A write killed halfway leaves `.<name>.<random>.tmp` (atomicfile): never committed.
    exp_repo.write("experiments/s/.e1.json.k2x9.tmp", "{")
    assert exp_repo.git("status", "--porcelain", "--untracked-files=all", "experiments/s") == ""


def test_init_keeps_an_existing_gitignore(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / ".gitignore").write_text("build/\n")
    code, out, err = run_cli(["init"], cwd=repo)
    assert code == 0, err
    assert (repo / ".gitignore").read_text() == "build/\n"
    assert "kept" in next(line for line in out.splitlines() if line.endswith(".gitignore"))


def test_init_warns_of_a_kept_rule_that_ignores_results(tmp_path: Path) -> None:
    """`results/` in a kept .gitignore (common in ML projects): init said nothing, and the
    quick start's `result` was refused at its third step (a hunt, issue 18 twenty-seventh
    pass). init names the path and how to find the rule; its own rules hide no study."""
    repo = tmp_path / "proj"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("results/\n")
    code, _, err = run_cli(["init"], cwd=repo)
    assert code == 0, err
    assert (
        "expflow-git init: warning: results/study/exp-001.json: git ignores this path"
    ) in err, err
    assert "`git check-ignore -v results/study/exp-001.json`" in err
    # Where git refuses to answer (the sample's folder a link), init still succeeds.
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    (other / "experiments").mkdir()
    (other / "experiments" / "study").symlink_to("../elsewhere")
    code, _, err = run_cli(["init"], cwd=other)
    assert code == 0 and "error" not in err, err


def test_inits_key_rules_hide_no_study(exp_repo: ExpRepo) -> None:
    """`*-key`, `*_key` matched folders too: a study named `lookup-key` (a valid id) was
    ignored, its records refused (a hunt). The rules keep files out, not folders."""
    for study in ("lookup-key", "api_key", "id_rsa", "x.key"):
        code, _, err = run_cli(["new", "exp-001", "--study", study], cwd=exp_repo.path)
        assert code == 0, (study, err)
        (exp_repo.path / "experiments" / study / "exp-001.json").unlink()
    for private in ("lookup-key", "deploy/api_key", "x.key", "id_rsa", "deploy-key/signing"):
        exp_repo.write(private, "secret\n")
        assert exp_repo.git("check-ignore", private) == private


def test_the_hooks_refuse_a_committed_private_key(exp_repo: ExpRepo, tmp_path: Path) -> None:
    """The issue's scenario: keygen inside the repository, `git add -A && git commit`."""
    (exp_repo.path / ".gitignore").unlink()
    env = {
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "PRE_COMMIT_COLOR": "never",
    }
    pre_commit_install(exp_repo.path, env)
    exp_repo.git("add", "-A")
    exp_repo.git("commit", "-q", "-m", "scaffold", env=env)
    base = exp_repo.head()
    code, _, err = run_cli(["keygen", "--out", "keys/ci-key"], cwd=exp_repo.path, env=env)
    assert code == 0 and "warning" in err
    exp_repo.git("add", "-A")
    proc = subprocess.run(
        ["git", "commit", "-m", "add keys"],
        cwd=exp_repo.path,
        env=git_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "keys/ci-key:1:1: private-key: a private key (OPENSSH PRIVATE KEY)" in output
    assert exp_repo.head() == base
    key_body = (exp_repo.path / "keys/ci-key").read_text().splitlines()[1]
    assert key_body[:16] not in output


# --- precision on ordinary files -------------------------------------------------------------


def test_this_repository_is_clean_outside_its_fixtures() -> None:
    """The project's own files (code, docs, benchmarks, CI) hold nothing the scan reports;
    only test fixtures and the README's three worked examples do."""
    checkout = Path(__file__).resolve().parents[1]
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=checkout,
        env=git_env(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    files = [f for f in listing.split("\0") if f and (checkout / f).is_file()]
    code, out, err = run_cli(["scan", *files], cwd=checkout)
    assert_clean_output(out, err)
    where = {line.split(":")[0] for line in out.splitlines()}
    assert all(p.startswith("tests/") for p in where - {"README.md"}), out
    # The README's worked examples: `EXPFLOW_PIN_HASH=…` in the hook table, and the PIN
    # given to `git commit` (PIN protection) and to `result --overwrite` (Corrections).
    assert len([line for line in out.splitlines() if line.startswith("README.md:")]) <= 3, out
