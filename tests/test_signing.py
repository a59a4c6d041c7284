"""Ed25519 keys: loading both formats, key ids as ssh-keygen prints them, keygen, no leaks."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from support import run_cli

from expflow_git.errors import ExpflowError
from expflow_git.report.dsse import PAYLOAD_TYPE, pae
from expflow_git.report.signing import (
    keygen,
    keyid,
    load_private_key,
    load_private_key_bytes,
    load_public_key,
    load_public_key_bytes,
    sign,
    verify_signature,
)

SSH_KEYGEN = shutil.which("ssh-keygen")
needs_ssh_keygen = pytest.mark.ssh_keygen

# RFC 8032 §7.1 TEST 1.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUB = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIG = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555f"
    "b8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

# Computed once for the key with seed 00 01 .. 1f and confirmed with `ssh-keygen -lf`.
FIXED_SEED = bytes(range(32))
FIXED_PUB_LINE = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
FIXED_KEYID = "SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg"


def _fixed_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(FIXED_SEED)


def _pkcs8_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())


def _openssh_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, ser.NoEncryption())


def _spki_pem(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)


def _ssh_line(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH)


def _pem_body_lines(pem: bytes) -> list[str]:
    return [ln for ln in pem.decode().splitlines() if ln and not ln.startswith("-----")]


def _assert_no_key_material(err: ExpflowError, *materials: bytes) -> None:
    text = str(err)
    for material in materials:
        for chunk in _pem_body_lines(material) + material.decode(errors="replace").split():
            if len(chunk) >= 16:
                assert chunk not in text
                assert chunk[:16] not in text
    # The library's own exception is dropped, so a traceback cannot show it either.
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__


# --- signing ------------------------------------------------------------------------


def test_rfc8032_known_answer() -> None:
    priv = Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)
    pub = priv.public_key()
    assert pub.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw) == RFC8032_PUB
    assert sign(priv, b"") == RFC8032_SIG
    assert verify_signature(pub, RFC8032_SIG, b"")


def test_sign_verify_round_trip_over_pae() -> None:
    priv = Ed25519PrivateKey.generate()
    data = pae(PAYLOAD_TYPE, b'{"x":1}')
    sig = sign(priv, data)
    assert len(sig) == 64
    assert verify_signature(priv.public_key(), sig, data)


@pytest.mark.parametrize("bit", [0, 7, 255, 511])
def test_flipped_signature_bit_fails(bit: int) -> None:
    priv = _fixed_key()
    sig = bytearray(sign(priv, b"report"))
    sig[bit // 8] ^= 1 << (bit % 8)
    assert not verify_signature(priv.public_key(), bytes(sig), b"report")


def test_flipped_data_bit_fails() -> None:
    priv = _fixed_key()
    data = pae(PAYLOAD_TYPE, b'{"verdict":"pass"}')
    sig = sign(priv, data)
    tampered = bytearray(data)
    tampered[-3] ^= 0x01
    assert not verify_signature(priv.public_key(), sig, bytes(tampered))


def test_wrong_key_fails() -> None:
    sig = sign(_fixed_key(), b"report")
    assert not verify_signature(Ed25519PrivateKey.generate().public_key(), sig, b"report")


@pytest.mark.parametrize("sig", [b"", b"\x00" * 63, b"\x00" * 64, b"\xff" * 65, b"\xff" * 64])
def test_malformed_signature_is_false_not_an_exception(sig: bytes) -> None:
    assert verify_signature(_fixed_key().public_key(), sig, b"report") is False


# --- key ids ------------------------------------------------------------------------


def test_keyid_known_answer() -> None:
    pub = _fixed_key().public_key()
    assert _ssh_line(pub) == FIXED_PUB_LINE
    assert keyid(pub) == FIXED_KEYID


@needs_ssh_keygen
def test_keyid_matches_ssh_keygen(tmp_path: Path) -> None:
    for i in range(3):
        pub = Ed25519PrivateKey.generate().public_key()
        path = tmp_path / f"k{i}.pub"
        path.write_bytes(_ssh_line(pub) + b" some comment\n")
        out = subprocess.run(
            [str(SSH_KEYGEN), "-lf", str(path)], check=True, capture_output=True, text=True
        ).stdout
        assert out.split()[1] == keyid(pub)


# --- loading ------------------------------------------------------------------------


def test_private_key_loads_from_pem_and_openssh(tmp_path: Path) -> None:
    key = _fixed_key()
    (tmp_path / "k.pem").write_bytes(_pkcs8_pem(key))
    (tmp_path / "k.ssh").write_bytes(_openssh_private(key))
    for name in ("k.pem", "k.ssh"):
        loaded = load_private_key(str(tmp_path / name))
        assert keyid(loaded.public_key()) == FIXED_KEYID
    assert keyid(load_private_key(tmp_path / "k.pem").public_key()) == FIXED_KEYID


def test_public_key_loads_from_pem_and_openssh_line(tmp_path: Path) -> None:
    pub = _fixed_key().public_key()
    (tmp_path / "k.pem").write_bytes(_spki_pem(pub))
    (tmp_path / "k.pub").write_bytes(FIXED_PUB_LINE + b" alice@laptop with spaces\n")
    (tmp_path / "bare.pub").write_bytes(FIXED_PUB_LINE)
    for name in ("k.pem", "k.pub", "bare.pub"):
        assert keyid(load_public_key(str(tmp_path / name))) == FIXED_KEYID


def test_private_key_from_environment_text() -> None:
    # What a CI secret looks like: the text, perhaps with surrounding whitespace.
    for text in (_pkcs8_pem(_fixed_key()), _openssh_private(_fixed_key())):
        key = load_private_key_bytes(b"\n  " + text + b"\n\n", source="EXPFLOW_SIGNING_KEY")
        assert keyid(key.public_key()) == FIXED_KEYID


@needs_ssh_keygen
def test_loads_keys_made_by_ssh_keygen(tmp_path: Path) -> None:
    path = tmp_path / "id"
    subprocess.run(
        [str(SSH_KEYGEN), "-q", "-t", "ed25519", "-N", "", "-C", "ci key", "-f", str(path)],
        check=True,
    )
    priv = load_private_key(str(path))
    pub = load_public_key(str(path) + ".pub")
    assert keyid(priv.public_key()) == keyid(pub)
    assert verify_signature(pub, sign(priv, b"x"), b"x")


# --- loading failures, and that they never leak the key ------------------------------


def _load_priv_err(data: bytes, source: str = "EXPFLOW_SIGNING_KEY") -> ExpflowError:
    with pytest.raises(ExpflowError) as info:
        load_private_key_bytes(data, source=source)
    assert str(info.value).startswith(f"{source}: ")
    return info.value


def _load_pub_err(data: bytes, source: str = "keys/a.pub") -> ExpflowError:
    with pytest.raises(ExpflowError) as info:
        load_public_key_bytes(data, source=source)
    assert str(info.value).startswith(f"{source}: ")
    return info.value


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(ExpflowError, match="nope: key file not found"):
        load_private_key(missing)
    with pytest.raises(ExpflowError, match="key file not found"):
        load_public_key(missing)
    with pytest.raises(ExpflowError, match="is a directory"):
        load_private_key(str(tmp_path))
    big = tmp_path / "big"
    big.write_bytes(b"A" * (1 << 17))
    with pytest.raises(ExpflowError, match="too large"):
        load_public_key(str(big))


@pytest.mark.nonroot
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_bytes(_pkcs8_pem(_fixed_key()))
    path.chmod(0)
    with pytest.raises(ExpflowError, match="cannot read key file"):
        load_private_key(str(path))


def test_encrypted_pkcs8_key_is_refused() -> None:
    data = _fixed_key().private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(b"hunter2")
    )
    err = _load_priv_err(data)
    assert "encrypted" in str(err)
    _assert_no_key_material(err, data)


@needs_ssh_keygen
def test_encrypted_openssh_key_is_refused(tmp_path: Path) -> None:
    # ssh-keygen rather than cryptography: writing an encrypted OpenSSH key
    # needs the optional bcrypt module, reading the header does not.
    path = tmp_path / "id"
    subprocess.run(
        [str(SSH_KEYGEN), "-q", "-t", "ed25519", "-N", "hunter2", "-f", str(path)], check=True
    )
    with pytest.raises(ExpflowError, match="private key is encrypted") as info:
        load_private_key(str(path))
    assert str(info.value).startswith(f"{path}: ")
    _assert_no_key_material(info.value, path.read_bytes())


def test_non_ed25519_keys_are_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    for fmt in (ser.PrivateFormat.PKCS8, ser.PrivateFormat.OpenSSH):
        data = ec_key.private_bytes(ser.Encoding.PEM, fmt, ser.NoEncryption())
        err = _load_priv_err(data)
        assert "not Ed25519" in str(err)
        _assert_no_key_material(err, data)
    pub = ec_key.public_key()
    for data in (
        pub.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo),
        pub.public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH),
    ):
        err = _load_pub_err(data)
        assert "Ed25519" in str(err)
        _assert_no_key_material(err, data)


def test_garbage_is_refused_without_echo() -> None:
    pem = _pkcs8_pem(_fixed_key())
    lines = pem.splitlines()
    corrupt = b"\n".join([lines[0], lines[1][:-6] + b"!!!!!!", *lines[2:]])
    secret_like = b"ghp_SUPERSECRETTOKENVALUE1234567890"
    for data in (
        corrupt,
        secret_like,
        b"-----BEGIN PRIVATE KEY-----\n" + secret_like,
        b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + secret_like + b"\n"
        b"-----END OPENSSH PRIVATE KEY-----\n",
    ):
        err = _load_priv_err(data)
        assert "SUPERSECRET" not in str(err)
        _assert_no_key_material(err, pem, data)
    err = _load_priv_err(b"  \n")
    assert "empty" in str(err)


def test_public_key_mistakes() -> None:
    priv_pem = _pkcs8_pem(_fixed_key())
    err = _load_pub_err(priv_pem)
    assert "private key" in str(err)
    _assert_no_key_material(err, priv_pem)
    err = _load_pub_err(_openssh_private(_fixed_key()))
    assert "private key" in str(err)
    other = _ssh_line(Ed25519PrivateKey.generate().public_key())
    err = _load_pub_err(FIXED_PUB_LINE + b" a\n" + other + b" b\n")
    assert "exactly one" in str(err)
    truncated = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7 truncated"
    err = _load_pub_err(truncated)
    assert "cannot parse public key" in str(err)
    _assert_no_key_material(err, truncated)
    _load_pub_err(b"")
    _load_pub_err(b"not a key at all")


def test_public_key_loader_refuses_private_key_file(tmp_path: Path) -> None:
    path = tmp_path / "id"
    data = _openssh_private(_fixed_key())
    path.write_bytes(data)
    with pytest.raises(ExpflowError, match="pass the public key") as info:
        load_public_key(str(path))
    _assert_no_key_material(info.value, data)


# --- keygen -------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keygen_writes_both_halves(tmp_path: Path) -> None:
    out = tmp_path / "keys" / "signing"
    kid = keygen(str(out))
    pub_path = Path(str(out) + ".pub")
    assert _mode(out) == 0o600
    assert _mode(pub_path) == 0o644
    assert out.read_bytes().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    line = pub_path.read_bytes()
    assert line.startswith(b"ssh-ed25519 AAAA") and line.endswith(b" expflow-git\n")
    assert line.count(b"\n") == 1
    priv = load_private_key(str(out))
    pub = load_public_key(str(pub_path))
    assert keyid(priv.public_key()) == keyid(pub) == kid
    assert verify_signature(pub, sign(priv, b"x"), b"x")
    # No temp files left behind.
    assert sorted(p.name for p in out.parent.iterdir()) == ["signing", "signing.pub"]


def test_keygen_makes_a_new_key_each_time(tmp_path: Path) -> None:
    assert keygen(str(tmp_path / "a")) != keygen(str(tmp_path / "b"))


@needs_ssh_keygen
def test_keygen_output_is_usable_by_ssh_keygen(tmp_path: Path) -> None:
    out = tmp_path / "k"
    kid = keygen(str(out))
    fp = subprocess.run(
        [str(SSH_KEYGEN), "-lf", str(out) + ".pub"], check=True, capture_output=True, text=True
    ).stdout
    assert fp.split()[1] == kid
    derived = subprocess.run(
        [str(SSH_KEYGEN), "-y", "-f", str(out)], check=True, capture_output=True
    ).stdout
    assert derived.split()[:2] == Path(str(out) + ".pub").read_bytes().split()[:2]


@pytest.mark.parametrize("existing", ["k", "k.pub"])
def test_keygen_refuses_to_overwrite(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_bytes(b"precious")
    with pytest.raises(ExpflowError, match="already exists"):
        keygen(str(tmp_path / "k"))
    assert (tmp_path / existing).read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


def test_keygen_refuses_dangling_symlink(tmp_path: Path) -> None:
    (tmp_path / "k").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ExpflowError, match="already exists"):
        keygen(str(tmp_path / "k"))
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("out", ["dang/k", "dang/sub/k", "afile/k"])
def test_keygen_under_a_dangling_link_or_a_file_names_the_parent(tmp_path: Path, out: str) -> None:
    """`keygen --out dang/k` with `dang` a dangling link said "dang/k: already exists;
    refusing to overwrite a key file" where nothing exists (a review, issue 18
    twenty-fifth pass): the parent that is no folder is named, exit 2, nothing written."""
    (tmp_path / "dang").symlink_to(tmp_path / "nowhere")
    (tmp_path / "afile").write_bytes(b"")
    res = run_cli(["keygen", "--out", out], tmp_path)
    parent = out.split("/")[0]
    assert res.code == 2, res
    assert res.err == f"expflow-git: error: {out}: cannot write key: {parent} is not a folder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "dang"]


def test_keygen_escapes_the_path_it_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The message a Python caller gets is one line too, as the CLI prints it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "k\nforged").write_bytes(b"precious")
    with pytest.raises(ExpflowError) as caught:
        keygen("k\nforged")
    assert caught.value.message == "k\\x0aforged: already exists; refusing to overwrite a key file"
    (tmp_path / "d\n").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ExpflowError) as caught:
        keygen("d\n/k")
    assert caught.value.message == "d\\x0a/k: cannot write key: d\\x0a is not a folder"


@pytest.mark.parametrize("out", ["newdir/", "newdir/.", "newdir/..", "keys/new/"])
def test_keygen_refuses_a_folder_before_writing_anything(tmp_path: Path, out: str) -> None:
    """`keygen --out newdir/` wrote the private key as `newdir`, failed on `newdir/.pub`
    ("Not a directory") and left the private half behind (a hunter's find, issue 18
    twenty-fourth pass). Refused first, exit 2, nothing written."""
    res = run_cli(["keygen", "--out", out], tmp_path)
    assert res.code == 2 and f"{out}: names a folder, not a key file" in res.err, res
    assert "Traceback" not in res.err
    assert list(tmp_path.iterdir()) == []
