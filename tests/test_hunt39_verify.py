"""An attacker's hunt of signed reports and their verification (issue 18, thirty-ninth
pass): key files, `audit --previous`, `verify --trusted-ref`."""

# The fixtures `repo` and `xcli` are imported from test_hunt38_verify, and test parameters
# of those names receive them (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_audit import (
    Cli,
    assert_one_error_line,
    git,
)
from test_hunt38_verify import repo, xcli  # noqa: F401 (fixtures: parameters of these names)


def _keygen(xcli: Cli, tmp_path: Path, name: str) -> Path:
    key = tmp_path / name
    assert xcli(["keygen", "--out", str(key)], tmp_path).code == 0
    return key


def _signed_report(xcli: Cli, repo: Path, tmp_path: Path, key: Path) -> Path:
    out = tmp_path / "r0.json"
    res = xcli(["audit", "--sign-key", str(key), "--out", str(out)], repo)
    assert res.code == 0, res
    return out


def _pem_of(public_line: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_ssh_public_key(public_line)
    return bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


# ------------------------------- a PEM key file with more after its block, behind an END


@pytest.mark.parametrize("how", ["a key line, then an END line", "text on the END line"])
def test_a_pem_key_file_hiding_more_behind_an_end_line_is_refused(
    xcli: Cli, repo: Path, tmp_path: Path, how: str
) -> None:
    """§6.4 item 1: "a PEM key with anything after it, is an error" (thirty-eighth pass:
    a key file with more than its one key is what a key tampered with looks like). The
    check only asked that the file's last line start with `-----END `, so a PEM block
    followed by a second key's `ssh-ed25519` line and any `-----END …` line, or an END
    line with text after it, was trusted (its first key), the rest silently ignored, at
    --public-key and at --trusted-ref."""
    key = _keygen(xcli, tmp_path, "k")
    other = _keygen(xcli, tmp_path, "other")
    pem = _pem_of(Path(f"{key}.pub").read_bytes())
    if how == "text on the END line":
        data = pem.rstrip(b"\n") + b" ssh-ed25519 appended\n"
    else:
        data = pem + Path(f"{other}.pub").read_bytes() + b"-----END PUBLIC KEY-----\n"
    report = _signed_report(xcli, repo, tmp_path, key)
    keyfile = tmp_path / "ci.pub"
    keyfile.write_bytes(data)
    res = xcli(["verify", str(report), "--public-key", str(keyfile)], tmp_path)
    assert_one_error_line(res, 2, str(keyfile), "expected exactly one public key")
    # The same file at a trusted ref: a branch of its own, which holds no audited commit.
    git(repo, "checkout", "-q", "--orphan", "keys")
    git(repo, "rm", "-q", "-r", "--cached", ".")
    (repo / ".expflow" / "keys").mkdir(parents=True)
    (repo / ".expflow" / "keys" / "ci.pub").write_bytes(data)
    git(repo, "add", ".expflow")
    git(repo, "commit", "-q", "--no-verify", "-m", "keys")
    git(repo, "checkout", "-q", "-f", "main")
    res = xcli(["verify", str(report), "--trusted-ref", "keys"], repo)
    assert res.code == 2 and res.out == "", res
    assert "keys:.expflow/keys/ci.pub: expected exactly one public key" in res.err, res


def test_a_pem_key_file_as_openssl_writes_it_still_verifies(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    """The stricter END line refuses nothing a key tool writes: one PEM block, with CRLF
    line ends too."""
    key = _keygen(xcli, tmp_path, "k")
    pem = _pem_of(Path(f"{key}.pub").read_bytes())
    report = _signed_report(xcli, repo, tmp_path, key)
    for name, data in (("lf.pub", pem), ("crlf.pub", pem.replace(b"\n", b"\r\n"))):
        keyfile = tmp_path / name
        keyfile.write_bytes(data)
        res = xcli(["verify", str(report), "--public-key", str(keyfile)], tmp_path)
        assert res.code == 0, res


# ---------------------------------------- an OpenSSH key line whose fields a TAB parts


def test_an_ssh_ed25519_line_with_a_tab_after_its_type_is_a_key(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    """§6.4 item 1 trusts a `--public-key` in OpenSSH's format; OpenSSH splits a key
    line's fields at a space or a tab (`ssh-keygen -lf` reads `ssh-ed25519<TAB>KEY`, and
    so does `--allowed-signers`' own parser), but `--public-key` (and a `.pub` at
    --trusted-ref) asked for a space after the type: `not an Ed25519 public key`, exit 2."""
    key = _keygen(xcli, tmp_path, "k")
    report = _signed_report(xcli, repo, tmp_path, key)
    keyfile = tmp_path / "tab.pub"
    keyfile.write_bytes(Path(f"{key}.pub").read_bytes().replace(b" ", b"\t", 1))
    res = xcli(["verify", str(report), "--public-key", str(keyfile)], tmp_path)
    assert res.code == 0, res
    assert res.out.rstrip("\n").endswith("VERIFIED, signed by " + _keyid(keyfile)), res


def _keyid(path: Path) -> str:
    from expflow_git.report.signing import keyid, load_public_key

    return keyid(load_public_key(path))


# (`audit --previous-key PUB --out PUB`: tests/test_hunt39_fixfs.py)


# ------------------------------------------- a first link of seq 0 that names a previous


def test_a_first_link_of_seq_0_naming_a_previous_report_says_so(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    """§6.4 item 6: the chain starts at a first report (seq 0, no previous). One of seq 0
    whose `prev` names a report failed, rightly, but its line said `the first report has
    seq 0, not 0`."""
    from helpers_audit import reseal, statement_of

    out = tmp_path / "r0.json"
    assert xcli(["audit", "--out", str(out)], repo).code == 0
    statement = statement_of(out.read_bytes())
    commit = statement["predicate"]["repo"]["commit"]
    statement["predicate"]["chain"]["prev"] = {"payloadSha256": "0" * 64, "gitCommit": commit}
    chain = tmp_path / "chain"
    chain.mkdir()
    (chain / "x.json").write_bytes(reseal(statement, None))
    res = xcli(
        [
            "verify",
            str(chain / "x.json"),
            "--allow-unsigned",
            "--repo",
            ".",
            "--no-recompute",
            "--chain",
            str(chain),
        ],
        repo,
    )
    assert res.code == 1, res
    assert "not 0" not in res.out, res
    assert "FAIL chain: x.json: the first report (seq 0) names a previous report" in res.out
