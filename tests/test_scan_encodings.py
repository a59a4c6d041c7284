"""Leaks the scan read past, found by an attacker's hunt (issue 18 twenty-sixth pass):
binary data (one NUL byte in the first 8 KiB skipped every rule), UTF-16 text, whose
escapes and notebook cells were not decoded, a notebook's JSON escapes outside its
cells, and UTF-32 text (never read), through the real CLI with the hash `pin init`
stores. Each is refused by `scan --staged`, the pre-commit hook and the audit, and no
output shows the secret.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import py_compile
import random
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli
from support import pre_commit_install
from test_hooks_precommit import commit_through_hooks

from expflow_git.pinscan.scanner import scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
FORMAT = "pin-hash-format: string in expflow's PIN-hash format"
ASSIGNED = "pin-assignment: EXPFLOW_PIN assigned a value (masked)"
KEY = b"EXPFLOW_" + b"PIN"  # (so this file holds no assignment to it)


@pytest.fixture
def stored(isolated_env: Path) -> str:
    """The PIN hash `pin init` stores in $EXPFLOW_HOME/pin.hash."""
    code, _, err = run_cli(["pin", "init", PIN], cwd=isolated_env)
    assert code == 0, err
    return (isolated_env / "pin.hash").read_text().strip()


@pytest.fixture
def hooked(exp_repo: ExpRepo, tmp_path: Path) -> dict[str, str]:
    """`exp_repo` with its scaffold committed and the pre-commit hooks installed; the
    environment a commit runs them in."""
    env = {
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "PRE_COMMIT_COLOR": "never",
    }
    pre_commit_install(exp_repo.path, env)
    exp_repo.git("add", "-A")
    exp_repo.git("commit", "-q", "--no-verify", "-m", "scaffold")
    return env


def at(data: bytes, token: bytes, skip: int = 0) -> str:
    """`line:col` of `token` in `data` (`skip` bytes into it), the column counted in bytes."""
    i = data.index(token) + skip
    line, start = data.count(b"\n", 0, i) + 1, data.rfind(b"\n", 0, i) + 1
    return f"{line}:{i - start + 1}"


def refused(
    repo: ExpRepo, env: dict[str, str], files: dict[str, bytes], expected: list[str], secret: str
) -> None:
    """Each `expected` finding (`path:line:col: rule: message`) is reported by `scan
    --staged`, the pre-commit hook (the commit refused) and the audit."""
    for rel, data in files.items():
        repo.write(rel, data)
    repo.git("add", "--", *files)
    code, out, err = run_cli(["scan", "--staged", "--", *files], cwd=repo.path)
    assert_clean_output(out, err)
    assert code == 1, (out, err)
    assert all(e in out for e in expected), (expected, out)
    base = repo.head()
    code, hook = commit_through_hooks(repo, env, "leak")
    assert code != 0 and repo.head() == base, hook
    assert all(e in hook for e in expected), (expected, hook)
    repo.git("commit", "-q", "--no-verify", "-m", "leak")
    code, report, report_err = run_cli(["audit"], cwd=repo.path)
    assert_clean_output(report, report_err)
    assert code == 1 and all(e in report for e in expected), (expected, report)
    for text in (out, err, hook, report, report_err):
        for i in range(len(secret) - 7):
            assert secret[i : i + 8] not in text, (secret[i : i + 8], text)


def located(text: str, token: str, skip: int = 0) -> str:
    """`line:col` of `token` in `text` (`skip` characters into it), the column counted in
    characters."""
    i = text.index(token) + skip
    return f"{text.count(chr(10), 0, i) + 1}:{i - (text.rfind(chr(10), 0, i) + 1) + 1}"


def _npy(values: list[bytes]) -> bytes:
    """A NumPy `.npy` file of a byte-string array (dtype `|S…`), as `np.save` writes it."""
    width = max(len(v) for v in values)
    header = f"{{'descr': '|S{width}', 'fortran_order': False, 'shape': ({len(values)},), }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    body = b"".join(v.ljust(width, b"\0") for v in values)
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + body


def _stored_zip(members: dict[str, bytes]) -> bytes:
    """An uncompressed zip (what `torch.save` and `np.savez` write)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


# --- binary data ---------------------------------------------------------------------------


def test_a_nul_byte_no_longer_hides_a_leak(
    exp_repo: ExpRepo, hooked: dict[str, str], stored: str
) -> None:
    """The hunter's file: the stored hash and the PIN as env lines, then one NUL byte."""
    data = f"EXPFLOW_PIN_HASH={stored}\nEXPFLOW_PIN={PIN}\n".encode() + b"\0"
    refused(
        exp_repo,
        hooked,
        {"leak.env": data},
        ["leak.env:1:18: " + FORMAT, "leak.env:2:13: " + ASSIGNED],
        stored,
    )


def test_the_hash_in_a_pickle_a_checkpoint_and_an_array_is_found(
    exp_repo: ExpRepo, hooked: dict[str, str], stored: str
) -> None:
    token = stored.encode()
    state = pickle.dumps({"backup": stored, "env": f"EXPFLOW_PIN={PIN}"}, protocol=4)
    checkpoint = _stored_zip(
        {"model/data.pkl": pickle.dumps({"backup": stored}), "model/version": b"3\n"}
    )
    arrays = _stored_zip({"h.npy": _npy([token, b"other"])})
    files = {"state.pkl": state, "model.pt": checkpoint, "arrays.npz": arrays}
    expected = [
        f"state.pkl:{at(state, token)}: {FORMAT}",
        f"state.pkl:{at(state, KEY + b'=', 12)}: {ASSIGNED}",
        f"model.pt:{at(checkpoint, token)}: {FORMAT}",
        f"arrays.npz:{at(arrays, token)}: {FORMAT}",
    ]
    refused(exp_repo, hooked, files, expected, stored)


def test_real_binaries_stay_clean(tmp_path: Path) -> None:
    """Random bytes, an image, archives, compiled Python (this project's own modules, whose
    f-strings write `EXPFLOW_PIN={pin}`), the interpreter and its extension modules: none
    is flagged."""
    rng = random.Random(4)
    blobs: dict[str, bytes] = {f"random-{i}.bin": b"\0" + rng.randbytes(1 << 20) for i in range(8)}
    source = tmp_path / "envs.py"
    source.write_text(
        (
            "import os\n"
            "def env(pin, h):\n"
            "    os.environ['KEY'] = f'{pin}'\n"
            "    return f'KEY={pin}\\nKEY_HASH={h}\\n', f'--pin {pin}'\n"
        ).replace("KEY", KEY.decode())
    )
    project = Path(__file__).resolve().parents[1]
    sources = [
        source,
        *sorted(project.glob("expflow_git/**/*.py")),
        *project.glob("benchmarks/*.py"),
    ]
    for i, path in enumerate(sources):
        compiled = py_compile.compile(str(path), cfile=str(tmp_path / f"c{i}.pyc"), doraise=True)
        blobs[f"c{i}.pyc"] = Path(compiled).read_bytes()
    blobs["compiled.zip"] = _stored_zip({k: v for k, v in blobs.items() if k.endswith(".pyc")})
    png = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + rng.randbytes(4096)
    blobs["image.png"] = png
    blobs["python"] = Path(os.path.realpath(sys.executable)).read_bytes()
    dynload = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for path in sorted((dynload / "lib-dynload").glob("*.so"))[:40]:
        blobs[path.name] = path.read_bytes()
    flagged = {name: found for name, data in blobs.items() if (found := scan_bytes(name, data))}
    assert flagged == {}


# --- UTF-16 text ------------------------------------------------------------------------------


def test_utf16_text_has_its_escapes_and_notebook_cells_decoded(
    exp_repo: ExpRepo, hooked: dict[str, str], stored: str
) -> None:
    """UTF-16 text went to the rules as it was written: the hash with each `$` written
    `\\u0024` in JSON, and a notebook cell's `%env` line (a JSON string), passed."""
    escaped = json.dumps({"backup": stored}).replace("$", "\\u0024")
    assert json.loads(escaped) == {"backup": stored}
    cell = f"%env {KEY.decode()}={PIN}\n"
    notebook = json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": ["import os\n", cell],
                }
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )
    files = {
        "u.json": ("\ufeff" + escaped).encode("utf-16-le"),
        "nb.ipynb": ("\ufeff" + notebook).encode("utf-16-be"),
    }
    expected = [
        f"u.json:{located(escaped, 'expflow')}: {FORMAT}",
        f"nb.ipynb:{located(notebook, KEY.decode() + '=', 12)}: {ASSIGNED}",
    ]
    refused(exp_repo, hooked, files, expected, stored)


# --- a notebook's escapes outside its cells ------------------------------------------------


def test_a_notebooks_escapes_outside_its_cells_are_decoded(
    exp_repo: ExpRepo, hooked: dict[str, str], stored: str
) -> None:
    """A notebook's cells were decoded, but its raw text never had its escapes decoded: the
    hash in the notebook's metadata with each `$` written `\\u0024`, or the PIN under a
    `pin` key with its first digit written `\\u00NN`, passed as `nb.ipynb` and was refused
    as `nb.json`."""
    first = f"\\u{ord(PIN[0]):04x}"
    notebook = json.dumps(
        {
            "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Notes\n"]}],
            "metadata": {"backup": "HASH", "auth": {"pin": "PIN"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )
    notebook = notebook.replace("HASH", stored.replace("$", "\\u0024"))
    notebook = notebook.replace('"PIN"', f'"{first}{PIN[1:]}"')
    assert json.loads(notebook)["metadata"] == {"backup": stored, "auth": {"pin": PIN}}
    token, pin = located(notebook, "expflow"), located(notebook, first)
    expected = [
        f"nb.ipynb:{token}: {FORMAT}",
        f"nb.ipynb:{pin}: pin-value: 4-digit PIN under key 'pin' (masked: ****)",
    ]
    refused(exp_repo, hooked, {"nb.ipynb": notebook.encode()}, expected, stored)
    exp_repo.write("nb.json", notebook)  # as JSON it was refused: the same findings
    code, out, _ = run_cli(["scan", "nb.json"], cwd=exp_repo.path)
    lines = out.replace("nb.json:", "nb.ipynb:").splitlines()
    assert code == 1 and len(lines) == 2, out
    assert all(line.startswith(e) for line, e in zip(lines, expected, strict=True)), out


# --- UTF-32 text ------------------------------------------------------------------------------


def test_utf32_text_with_a_byte_order_mark_is_read(
    exp_repo: ExpRepo, hooked: dict[str, str], stored: str
) -> None:
    """UTF-32-LE's mark was taken for UTF-16-LE's (the text read as garbage) and UTF-32-BE
    counted as binary: the stored hash passed in either."""
    text = f"# restore\nEXPFLOW_PIN_HASH={stored}\n"
    files = {
        "le.txt": ("\ufeff" + text).encode("utf-32-le"),
        "be.txt": ("\ufeff" + text).encode("utf-32-be"),
        "bom.txt": text.encode("utf-32"),  # (the platform's order, its mark first)
    }
    refused(exp_repo, hooked, files, [f"{rel}:2:18: {FORMAT}" for rel in files], stored)
