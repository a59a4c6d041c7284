"""Leaks the scan missed and prose it took for leaks, found by a hunter (issue 18
twenty-seventh pass), through the real CLI (`scan --staged`) in a real repository.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import hashlib

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
SHA = hashlib.sha256(PIN.encode("ascii")).hexdigest()
CLEAN = "expflow-git scan: 1 file(s) clean\n"


@pytest.fixture
def repo(committed_repo: ExpRepo) -> ExpRepo:
    """A repository with its policy committed (the scan's allow-list is HEAD's)."""
    return committed_repo


def staged_scan(repo: ExpRepo, files: dict[str, bytes]) -> tuple[int, str, str]:
    """Write and stage `files`, then `scan --staged` them."""
    for rel, content in files.items():
        repo.write(rel, content)
    repo.stage(*files)
    code, out, err = run_cli(["scan", "--staged", "--", *files], cwd=repo.path)
    assert_clean_output(out, err)
    return code, out, err


# --- prose holding a word with digits ----------------------------------------------------------
# Since the review of 79ac235 any run of four hex characters or more with a digit in a word
# of prose made the phrase a value: `sha256`, `ed25519`, a commit id.


@pytest.mark.parametrize(
    ("rel", "content"),
    [
        ("README.md", "# EXPFLOW_PIN: the PIN whose sha256 the repository secret holds\n"),
        ("README.md", "EXPFLOW_PIN: signed with ed25519 keys\n"),
        ("README.md", "EXPFLOW_PIN: see commit 3f2a1b9c for the change\n"),
        ("conf.yaml", "pin:\n  hash: computed by pin init, stored as sha256\n"),
        ("README.md", "EXPFLOW_PIN_HASH: written in 12345 steps, x86_64 only\n"),
    ],
)
def test_prose_with_digits_after_a_key_is_clean(repo: ExpRepo, rel: str, content: str) -> None:
    code, out, err = staged_scan(repo, {rel: content.encode()})
    assert (code, out, err) == (0, "", CLEAN)


@pytest.mark.parametrize(
    "line",
    [
        f"EXPFLOW_PIN: **{PIN}** (lab machine)",
        f"EXPFLOW_PIN: pin-{PIN} for CI",
        f"EXPFLOW_PIN: the code {PIN}, for now",
        f"EXPFLOW_PIN_HASH: sha256 {'ab' * 32} (not a PIN's)",
    ],
)
def test_a_pin_or_a_digest_in_prose_is_still_found(repo: ExpRepo, line: str) -> None:
    code, out, err = staged_scan(repo, {"notes.md": (line + "\n").encode()})
    assert code == 1 and ": pin-assignment: " in out, (out, err)
    assert PIN not in out + err


def test_a_pins_sha256_in_prose_is_found(repo: ExpRepo) -> None:
    code, out, err = staged_scan(repo, {"notes.md": f"EXPFLOW_PIN: see {SHA} there\n".encode()})
    assert code == 1 and ": pin-sha256: " in out, (out, err)
    assert SHA[:8] not in out + err
