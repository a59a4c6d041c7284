"""A URL's percent-encoding hid a secret: `sha256%3A<digest>` (the `3A` joined the digest
into a 66-hex run), `--pin%20NNNN`, the stored hash with each `$` written `%24` (a
hunter's find, issue 18 thirty-first pass). `%NN` escapes of printable ASCII are now read
decoded, as `\\u00NN` ones are."""

from __future__ import annotations

import hashlib

import pytest
from conftest import ExpRepo, run_cli

from expflow_git.pin.store import hash_pin
from expflow_git.pinscan.scanner import scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it
DIGEST = hashlib.sha256(PIN.encode()).hexdigest()


def leaks() -> list[tuple[str, str, str, int]]:
    stored = hash_pin(PIN).replace("$", "%24")
    return [
        ("url.txt", f"https://x.example/?digest=sha256%3A{DIGEST}\n", "pin-sha256", 36),
        ("cmd.log", f"GET /run?args=rm%20--pin%20{PIN}\n", "pin-value", 28),
        ("stored.txt", f"backup={stored}\n", "pin-hash-format", 8),
        ("q.md", f"see ?EXPFLOW_PIN%3D{PIN}\n", "pin-assignment", 20),
    ]


@pytest.mark.parametrize("index", range(4))
def test_a_percent_encoded_secret_is_found_at_its_column(index: int) -> None:
    name, content, rule, col = leaks()[index]
    found = scan_bytes(name, content.encode("utf-8"))
    assert [(f.rule, f.line, f.col) for f in found] == [(rule, 1, col)], found


@pytest.mark.parametrize(
    "content",
    [
        "progress 100%\n",
        "printf '%20s %d%%' x 1\n",
        "https://x.example/a%20b?q=pin%3Dunset\n",
        f"https://x.example/?h=sha256%3A{hashlib.sha256(b'not a pin').hexdigest()}\n",
    ],
)
def test_harmless_percent_escapes_stay_clean(content: str) -> None:
    assert scan_bytes("notes.txt", content.encode("utf-8")) == []


def test_the_real_cli_refuses_them_with_the_secret_masked(exp_repo: ExpRepo) -> None:
    files = []
    for name, content, _, _ in leaks():
        exp_repo.write(f"leaks/{name}", content)
        files.append(f"leaks/{name}")
    code, out, err = run_cli(["scan", *files], cwd=exp_repo.path)
    assert code == 1, (out, err)
    for name in files:
        assert f"{name}:" in out, (name, out, err)
    assert PIN not in out + err and DIGEST[:8] not in out + err
    assert "Traceback" not in err
