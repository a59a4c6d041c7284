"""A signature is tried only with the trusted key its keyid names (issue 18, thirty-third
pass, a hunter's find): every signature was checked against every trusted key, each
check hashing the whole payload, so a 70 MB report with one bogus signature took 64 s
against 1000 allowed_signers keys. Now a signature costs at most one check, whatever
the number of trusted keys, on REPORT and on every link of `--chain` (with
`--trusted-ref` too); and every key the tool signs with (a key file in OpenSSH or PEM
form, the environment's PEM text, ssh-agent) writes the keyid `verify` computes for its
public key (a PEM file, an OpenSSH line, an allowed_signers line), so nothing the tool
signed stops verifying.

The checks are counted (`verify_signature` wrapped), never timed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from helpers_audit import (
    Cli,
    add_run,
    b64d,
    b64e,
    commit_all,
    envelope_bytes,
    git,
    m,
    new_repo,
    run_cli,
    seed_repo,
    write,
)

from expflow_git.report import verify as verify_mod
from expflow_git.report.signing import keyid, load_public_key

MANY = 300


def _key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


def _ssh_line(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def _write_private(key: Ed25519PrivateKey, path: Path, form: str) -> Path:
    fmt = (
        serialization.PrivateFormat.OpenSSH
        if form == "openssh"
        else serialization.PrivateFormat.PKCS8
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    )
    path.chmod(0o600)
    return path


def _pem_public(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _ssh_public(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_text(_ssh_line(key) + " ci\n")
    return path


def _allowed(path: Path, signer: Ed25519PrivateKey | None, extra: int) -> Path:
    """An allowed_signers file: `extra` keys of others, and `signer`'s in the middle."""
    lines = [
        f'p{i}@example.com namespaces="expflow-git" {_ssh_line(_key(f"other-{i}"))}'
        for i in range(extra)
    ]
    if signer is not None:
        lines.insert(extra // 2, f'ci@example.com namespaces="expflow-git" {_ssh_line(signer)}')
    path.write_text("\n".join(lines) + "\n")
    return path


def _raw(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _keyid_of(report: Path) -> str:
    signatures = json.loads(report.read_bytes())["signatures"]
    assert len(signatures) == 1
    return str(signatures[0]["keyid"])


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Each `verify_signature` call the verifier makes (its key's raw bytes), from now on."""
    real = verify_mod.verify_signature
    seen: list[bytes] = []

    def counting(pub: Ed25519PublicKey, sig: bytes, data: bytes) -> bool:
        seen.append(_raw(pub))
        return real(pub, sig, data)

    monkeypatch.setattr(verify_mod, "verify_signature", counting)
    return seen


# ----------------------------------------------------------------------------- keyids


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    return seed_repo(tmp_path / "repo")


@pytest.mark.parametrize("form", ["openssh", "pem", "env-pem"])
def test_the_keyid_the_tool_writes_is_the_one_verify_computes(
    seed: Path, tmp_path: Path, form: str
) -> None:
    """Each way of giving a key to sign writes the keyid of its public key, as computed
    from a PEM public key, an OpenSSH `.pub` line and an allowed_signers line; so the
    report verifies with one trusted key and with hundreds of others beside it."""
    ci = _key("ci")
    out = tmp_path / "report.json"
    private = _write_private(ci, tmp_path / "ci", "openssh" if form == "openssh" else "pem")
    if form == "env-pem":
        env = {"EXPFLOW_SIGNING_KEY": private.read_text()}
        res = run_cli(["audit", "--out", str(out)], seed, env=env)
    else:
        res = run_cli(["audit", "--out", str(out), "--sign-key", str(private)], seed)
    assert res.code == 0, res
    pem_pub = _pem_public(ci, tmp_path / "ci.pem.pub")
    ssh_pub = _ssh_public(ci, tmp_path / "ci.pub")
    kid = _keyid_of(out)
    assert kid == keyid(load_public_key(pem_pub)) == keyid(load_public_key(ssh_pub))
    if shutil.which("ssh-keygen"):  # and OpenSSH's own fingerprint of it
        shown = subprocess.run(
            ["ssh-keygen", "-lf", str(ssh_pub)], check=True, capture_output=True, text=True
        ).stdout
        assert shown.split()[1] == kid
    _verifies_with_one_and_many(out, seed, tmp_path, ci)


def _verifies_with_one_and_many(
    report: Path, repo: Path, tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    kid = _keyid_of(report)
    others = [_pem_public(_key(f"o{i}"), tmp_path / f"o{i}.pem.pub") for i in range(20)]
    pem_pub = _pem_public(signer, tmp_path / "signer.pem.pub")
    ssh_pub = _ssh_public(signer, tmp_path / "signer.pub")
    for trusted in (
        ["--public-key", str(pem_pub)],
        ["--public-key", str(ssh_pub)],
        [a for p in [*others[:10], ssh_pub, *others[10:]] for a in ("--public-key", str(p))],
        ["--allowed-signers", str(_allowed(tmp_path / "one", signer, 0))],
        ["--allowed-signers", str(_allowed(tmp_path / "many", signer, MANY))],
    ):
        res = run_cli(["verify", str(report), *trusted, "--repo", "."], repo)
        assert res.code == 0, (trusted[:2], res)
        assert f"valid Ed25519 signature by trusted key {kid}" in res.out, res.out


@pytest.mark.ssh_agent
def test_a_report_signed_through_ssh_agent_carries_the_keyid_verify_computes(
    seed: Path,
    tmp_path: Path,
    agent: str,  # noqa: F811 (the fixture)
) -> None:
    ci = _key("agent-ci")
    private = _write_private(ci, tmp_path / "agent-ci", "openssh")
    subprocess.run(
        ["ssh-add", "-q", str(private)],
        env={**os.environ, "SSH_AUTH_SOCK": agent},
        check=True,
        capture_output=True,
    )
    private.unlink()
    kid = keyid(ci.public_key())
    out = tmp_path / "report.json"
    res = run_cli(
        ["audit", "--out", str(out), "--sign-key", f"agent:{kid}"],
        seed,
        env={"SSH_AUTH_SOCK": agent},
    )
    assert res.code == 0, res
    assert _keyid_of(out) == kid
    _verifies_with_one_and_many(out, seed, tmp_path, ci)


# ----------------------------------------------------------------------------- checks counted


@pytest.mark.parametrize("extra", [0, MANY])
def test_a_signature_by_no_trusted_key_is_never_checked(
    xcli: Cli, seed: Path, tmp_path: Path, checks: list[bytes], extra: int
) -> None:
    """Its keyid names no trusted key: it fails untried. Old code: one check per trusted
    key (301 here, each hashing the whole payload)."""
    intruder = _write_private(_key("intruder"), tmp_path / "intruder", "openssh")
    out = tmp_path / "report.json"
    assert xcli(["audit", "--out", str(out), "--sign-key", str(intruder)], seed).code == 0
    allowed = _allowed(tmp_path / "as", _key("ci"), extra)
    checks.clear()
    res = xcli(["verify", str(out), "--allowed-signers", str(allowed)], seed)
    assert res.code == 1, res
    hint = keyid(_key("intruder").public_key())
    assert (
        f"FAIL signature: no signature from a trusted key (no trusted key with keyid '{hint}')"
    ) in res.out, res.out
    assert checks == []


@pytest.mark.parametrize("which", ["bogus", "good"])
def test_a_signature_naming_a_trusted_key_is_checked_once(
    xcli: Cli, seed: Path, tmp_path: Path, checks: list[bytes], which: str
) -> None:
    """With hundreds of trusted keys, the one its keyid names, once: a signature that
    does not verify (a byte of it flipped) fails, a good one verifies."""
    ci = _key("ci")
    private = _write_private(ci, tmp_path / "ci", "openssh")
    out = tmp_path / "report.json"
    assert xcli(["audit", "--out", str(out), "--sign-key", str(private)], seed).code == 0
    if which == "bogus":
        env = json.loads(out.read_bytes())
        sig = bytearray(b64d(env["signatures"][0]["sig"]))
        sig[5] ^= 0x01
        env["signatures"][0]["sig"] = b64e(bytes(sig))
        out.write_bytes(envelope_bytes(b64d(env["payload"]), env["signatures"]))
    allowed = _allowed(tmp_path / "as", ci, MANY)
    checks.clear()
    res = xcli(["verify", str(out), "--allowed-signers", str(allowed)], seed)
    assert checks == [_raw(ci.public_key())], len(checks)
    if which == "bogus":
        assert res.code == 1, res
        assert "FAIL signature: signature 0 by trusted key" in res.out, res.out
        assert "is INVALID" in res.out, res.out
    else:
        assert res.code == 0, res


class ChainRepo:
    """main: C0, C1, C2; a branch `keys` off C0 whose `.expflow/keys/` holds the CI key
    and `extra` others (for --trusted-ref: it holds neither C1 nor C2); chain/r0.json of
    C1 signed by `first` (the CI key unless told), head.json of C2 signed by CI after it."""

    def __init__(self, cli: Cli, root: Path, extra: int, first: str) -> None:
        self.repo = new_repo(root / "repo")
        (self.repo / ".git" / "info" / "exclude").write_text("chain/\n")
        add_run(self.repo, "a", m(50))
        commit_all(self.repo, "C0", date="2026-11-20T10:00:00+00:00")
        self.ci = _key("ci")
        git(self.repo, "switch", "-q", "-c", "keys")
        write(self.repo, ".expflow/keys/ci.pub", _ssh_line(self.ci) + "\n")
        for i in range(extra):
            write(self.repo, f".expflow/keys/k{i:03}.pub", _ssh_line(_key(f"other-{i}")) + "\n")
        commit_all(self.repo, "trusted keys", date="2026-11-20T11:00:00+00:00")
        git(self.repo, "switch", "-q", "main")
        add_run(self.repo, "b", m(51))
        commit_all(self.repo, "C1", date="2026-11-21T10:00:00+00:00")
        add_run(self.repo, "c", m(52))
        commit_all(self.repo, "C2", date="2026-11-22T10:00:00+00:00")
        ci_key = _write_private(self.ci, root / "ci", "openssh")
        signer = _key(first)
        first_key = _write_private(signer, root / first, "openssh")
        self.chain = self.repo / "chain"
        self.chain.mkdir()
        r0 = self.chain / "r0.json"
        args = ["audit", "--rev", "HEAD~1", "--out", str(r0), "--sign-key", str(first_key)]
        assert cli(args, self.repo).code == 0
        self.head = root / "head.json"
        pub = _ssh_public(signer, root / f"{first}.pub")
        args = ["audit", "--out", str(self.head), "--sign-key", str(ci_key)]
        args += ["--previous", str(r0), "--previous-key", str(pub)]
        assert cli(args, self.repo).code == 0


@pytest.mark.parametrize("first", ["ci", "intruder"])
def test_chain_and_trusted_ref_check_each_signature_once_whatever_the_keys(
    xcli: Cli, tmp_path: Path, checks: list[bytes], first: str
) -> None:
    """`verify --trusted-ref --chain`: REPORT and every link are checked with the keys
    read at the ref (its `_membership` and the links' commit look-ups included): as many
    checks with 300 keys besides the CI key as with the CI key alone, each with the key
    the signature names. A link by a key the ref does not hold fails untried."""
    counts = []
    for extra in (0, MANY):
        setup = ChainRepo(xcli, tmp_path / str(extra), extra, first)
        checks.clear()
        args = ["verify", str(setup.head), "--trusted-ref", "keys", "--chain", str(setup.chain)]
        res = xcli([*args, "--repo", "."], setup.repo)
        if first == "ci":
            assert res.code == 0, res
            assert "ok   chain: REPORT follows the chain's head r0.json" in res.out, res.out
        else:
            assert res.code == 1, res
            assert "FAIL chain: r0.json: signature: no signature from a trusted key" in res.out
        assert set(checks) == {_raw(setup.ci.public_key())}, len(checks)
        counts.append(len(checks))
    assert counts[0] == counts[1], counts
