"""A key's base64 is read as OpenSSH reads it: strictly, in its one spelling. The
cryptography loader drops characters outside the alphabet, so `KEY!!`, `KEY""`, `KEY\\`,
`KEY=`, quotes inside the blob and `KEY<vertical tab>junk` were trusted keys in an
allowed_signers line, a `--public-key` file or a `.expflow/keys/*.pub` at
`--trusted-ref`: ssh-keygen says "invalid key" (a review, issue 18 thirty-first pass).
Blanks OpenSSH's base64 decoder skips (a vertical tab, a form feed) still are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_audit import Cli
from support import ssh_ed25519_key, ssh_keygen_verdict

from expflow_git.errors import ExitCode, ExpflowError
from expflow_git.report.allowed_signers import load_allowed_signers
from expflow_git.report.signing import keyid, load_public_key, load_public_key_bytes

BLOB = "AAAAC3NzaC1lZDI1NTE5AAAAIHyZ0VmigrL/32u9blXABGAgTryXomOTm931FlbI/hWk"
KEYID = keyid(load_public_key_bytes(f"ssh-ed25519 {BLOB}".encode(), source="k"))
MESSAGE = "cannot parse public key (its base64 is not strict and canonical)"

# Blob spellings ssh-keygen refuses ("invalid key"): <B> stands for a good key's blob,
# <H> for its first 20 characters (the same for every ssh-ed25519 key), <T> for the rest.
JUNK = [
    "<B>!!",
    '<B>""',
    "<B>\\",
    "<B>=",
    "<B>====",
    "<B>\vjunk",
    '<H>"1"<T>',
    "<H>-<T>",
    "<H>.<T>",
]
# ... and ones it reads as the key (its base64 decoder skips these blanks).
GOOD = ["<B>", "<B>\v", "<B>\f comment", "<H>\v<T>", "<H>\f<T>"]


def _spell(blob: str, good: str = BLOB) -> str:
    return blob.replace("<B>", good).replace("<H>", good[:20]).replace("<T>", good[20:])


def _signers(tmp_path: Path, blob: str, good: str = BLOB) -> Path:
    path = tmp_path / "allowed_signers"
    path.write_text(f"# team\nci ssh-ed25519 {_spell(blob, good)}\n")
    return path


@pytest.mark.parametrize("blob", JUNK)
def test_allowed_signers_refuses_a_loose_blob(tmp_path: Path, blob: str) -> None:
    path = _signers(tmp_path, blob)
    with pytest.raises(ExpflowError) as info:
        load_allowed_signers(str(path))
    # (`<B>\vjunk` is strict base64 once the blank is skipped: too long for a key)
    assert info.value.message.startswith(f"{path}:2: cannot parse public key (")
    assert info.value.code == ExitCode.USAGE


@pytest.mark.parametrize("blob", GOOD)
def test_allowed_signers_still_reads_what_openssh_reads(tmp_path: Path, blob: str) -> None:
    path = _signers(tmp_path, blob)
    assert [k.keyid for k in load_allowed_signers(str(path)).keys] == [KEYID]


@pytest.mark.parametrize("blob", JUNK)
def test_a_public_key_file_with_a_loose_blob_is_refused(tmp_path: Path, blob: str) -> None:
    pub = tmp_path / "ci.pub"
    pub.write_bytes(f"ssh-ed25519 {_spell(blob)} ci@example\n".encode())
    with pytest.raises(ExpflowError) as info:
        load_public_key(pub)
    assert info.value.message.startswith(f"{pub}: cannot parse public key (")
    with pytest.raises(ExpflowError):  # as a .expflow/keys/*.pub read at --trusted-ref
        load_public_key_bytes(pub.read_bytes(), source="main:.expflow/keys/ci.pub")


def test_verify_stops_with_one_line(xcli: Cli, tmp_path: Path) -> None:
    signers = _signers(tmp_path, "<B>!!")
    report = tmp_path / "r.json"
    report.write_bytes(b"{}\n")
    res = xcli(["verify", str(report), "--allowed-signers", str(signers)], tmp_path)
    assert res.code == 2, res
    assert res.err == f"expflow-git: error: {signers}:2: {MESSAGE}\n"
    assert res.out == ""
    pub = tmp_path / "ci.pub"
    pub.write_text(f"ssh-ed25519 {BLOB}!!\n")
    res = xcli(["verify", str(report), "--public-key", str(pub)], tmp_path)
    assert res.code == 2, res
    assert res.err == f"expflow-git: error: {pub}: {MESSAGE}\n"


@pytest.mark.ssh_keygen
@pytest.mark.parametrize("blob", JUNK + GOOD)
def test_the_decision_is_ssh_keygen_s(tmp_path: Path, blob: str) -> None:
    key, public = ssh_ed25519_key(tmp_path)
    good = public.split()[1]
    path = _signers(tmp_path, blob, good)
    try:
        ours = bool(load_allowed_signers(str(path)).keys)
    except ExpflowError:
        ours = False
    theirs, said = ssh_keygen_verdict(key, path, tmp_path, "ci", "20261120100000Z")
    assert ours is theirs, (blob, said)
