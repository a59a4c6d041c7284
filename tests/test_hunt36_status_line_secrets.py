"""A PIN hash, a PIN's SHA-256 or a private key typed in an argument never reaches a
status line (`… written to PATH`, `created PATH`, `wrote PATH`, every line of `demo`):
errors and warnings mask what the PIN scan flags (`console.masked`), and status lines
masked only a PIN's four digits (`errors.masked_typed`), so the same path was `****` in
an error and printed whole in `audit --out`'s line. `keygen` masked its path after
escaping it, where a key's line breaks are `\\x0a` and its block is no longer one the
scan reads (a hunter's find, issue 18 thirty-sixth pass)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from support import demo_repository, private_key_pem, run_cli

from expflow_git.pin.store import hash_pin

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_repository(tmp_path_factory)


SECRETS = {
    "pin-hash": lambda: hash_pin(PIN),
    "pin-sha256": lambda: hashlib.sha256(PIN.encode()).hexdigest(),
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_a_secret_typed_in_a_path_is_masked_in_status_lines(
    demo_repo: Path, tmp_path: Path, kind: str
) -> None:
    secret = SECRETS[kind]()
    runs = [
        (["audit", "--out", str(tmp_path / f"r-{secret}.json")], demo_repo, "written to "),
        (["init", str(tmp_path / f"i-{secret}")], tmp_path, "created "),
        (["keygen", "--out", str(tmp_path / f"k-{secret}")], tmp_path, "wrote "),
        (["demo", "--dir", str(tmp_path / f"d-{secret}")], tmp_path, "example repository at"),
    ]
    for args, cwd, says in runs:
        res = run_cli(args, cwd)
        assert res.code == 0, res
        assert says in res.out + res.err, res
        assert secret not in res.out + res.err, (args[0], res)


def test_keygen_masks_a_private_key_typed_as_its_path(demo_repo: Path, tmp_path: Path) -> None:
    pem = private_key_pem()
    body = pem.splitlines()[1]
    res = run_cli(["keygen", "--out", pem], tmp_path)
    assert res.code == 0, res
    assert "(private, mode 0600)" in res.out, res
    assert body not in res.out + res.err, res
    out = tmp_path / "x" / pem.replace("/", "_")  # (one name: no sub-folder)
    res = run_cli(["audit", "--out", str(out)], demo_repo)
    assert res.code == 0 and "written to " in res.out + res.err, res
    assert out.is_file() and body not in res.out + res.err, res


def test_a_key_typed_in_an_argument_that_is_not_utf8_is_masked() -> None:
    """`utf8_argument` quotes the argument it refuses: it masked after escaping, where a
    key's line breaks are `\\x0a` and its block no longer one the scan reads (a review)."""
    from expflow_git.errors import ExpflowError, utf8_argument

    pem = private_key_pem()
    with pytest.raises(ExpflowError) as refused:
        utf8_argument(pem + "\udcff", "--reason")
    assert "is not UTF-8 text" in refused.value.message
    assert pem.splitlines()[1] not in refused.value.message


def test_status_lines_holding_no_secret_are_left_as_they_are(tmp_path: Path) -> None:
    from expflow_git.errors import mask_secrets

    for text in (
        "PIN set in /home/u/.expflow/pin.hash (scrypt)",
        "scheme: scrypt",
        "wrote k (private, mode 0600) and k.pub",
        "commit " + "ab" * 32,
    ):
        assert mask_secrets(text) == text
