"""An attacker's hunt of `verify`'s trusted keys (issue 18, twenty-eighth pass), through
the real CLI: allowed_signers lines ssh-keygen refuses are errors here too, checked
against ssh-keygen's own decisions.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers_audit import Out, run_cli, seed_repo
from support import ssh_keygen_verdict

SSH_KEYGEN = shutil.which("ssh-keygen")
# The seed repository's commit time (helpers_audit.DATE), as ssh-keygen -O verify-time takes it.
COMMIT_TIME = "20261120100000Z"
PRINCIPAL = "ci"


class Signed:
    """The seed repository and a report signed with a key `keygen` made."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = seed_repo(root / "repo")
        self.key = root / "ci-key"
        res = run_cli(["keygen", "--out", str(self.key)], root)
        assert res.code == 0, res
        self.pub = Path(f"{self.key}.pub")
        self.report = root / "report.json"
        res = run_cli(["audit", "--out", str(self.report), "--sign-key", str(self.key)], self.repo)
        assert res.code == 0, res

    def line(self, options: str) -> str:
        key_type, blob = self.pub.read_text().split()[:2]
        return " ".join(p for p in (PRINCIPAL, options, key_type, blob) if p)

    def verify(self, allowed: Path) -> Out:
        return run_cli(["verify", str(self.report), "--allowed-signers", str(allowed)], self.repo)

    def ssh_keygen_accepts(self, allowed: Path) -> tuple[bool, str]:
        """`ssh-keygen -Y verify -n expflow-git` of a signature at the commit's time."""
        return ssh_keygen_verdict(self.key, allowed, self.root, PRINCIPAL, COMMIT_TIME)


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    return Signed(tmp_path_factory.mktemp("keys-review"))


# =========================================================================== allowed_signers

# (options, what ssh-keygen says of the line, or None where it verifies): windows around
# the commit time (2026-11-20T10:00:00Z), so only the line's shape decides.
SHAPES = [
    # a trailing comma: OpenSSH's "unexpected end-of-options"; trusted here
    ('namespaces="expflow-git",', "unexpected end-of-options"),
    ('valid-after="20260101Z",', "unexpected end-of-options"),
    ('namespaces="expflow-git",,', "unexpected end-of-options"),
    (",", "unexpected end-of-options"),
    ("cert-authority,", "unexpected end-of-options"),
    # valid-before at or before valid-after: refused by OpenSSH; here trusted (for one
    # second when equal)
    (
        'valid-after="20261120100000Z",valid-before="20261120100000Z"',
        "valid-before is not after valid-after",
    ),
    (
        'valid-before="20261120095959Z",valid-after="20261120100001Z"',
        "valid-before is not after valid-after",
    ),
    (
        'cert-authority,valid-after="20270101Z",valid-before="20260101Z"',
        "valid-before is not after valid-after",
    ),
    # empty options before another are skipped by OpenSSH: the line verifies
    (',namespaces="expflow-git"', None),
    ('namespaces="expflow-git",,valid-after="20261120100000Z"', None),
    (',,valid-after="20261120095959Z",valid-before="20261120100000Z"', None),
]


@pytest.mark.ssh_keygen
@pytest.mark.parametrize(("options", "needle"), SHAPES)
def test_allowed_signers_lines_ssh_keygen_refuses_are_errors(
    signed: Signed, tmp_path: Path, options: str, needle: str | None
) -> None:
    """Old code: a trailing comma, and a valid-before not after valid-after, were
    VERIFIED (exit 0) where ssh-keygen refuses the line ("bad options"); spec §6.4
    item 1 makes such a line an error (exit 2) naming FILE:LINE."""
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("# team\n" + signed.line(options) + "\n")
    accepted, why = signed.ssh_keygen_accepts(allowed)
    assert accepted is (needle is None), why
    res = signed.verify(allowed)
    assert "Traceback" not in res.err
    if needle is None:
        assert res.code == 0, res
        assert f"VERIFIED, signed by {PRINCIPAL} (SHA256:" in res.out
        return
    assert "bad options" in why
    assert res.code == 2, res
    assert res.out == ""
    lines = res.err.strip("\n").split("\n")
    assert len(lines) == 1, res.err
    assert lines[0].startswith(f"expflow-git: error: {allowed}:2: bad options: "), res.err
    assert needle in lines[0]


@pytest.mark.ssh_keygen
@pytest.mark.parametrize("separator", ["\v", "\f", "\u00a0", "\u2003"])
def test_a_field_separated_by_other_than_a_space_or_tab_is_an_error(
    signed: Signed, tmp_path: Path, separator: str
) -> None:
    """OpenSSH splits an allowed_signers line on spaces and tabs only: `ci<VT>ssh-ed25519
    …` is a principal `ci<VT>ssh-ed25519` and the line is refused, where the old code
    split on any white space and trusted the key (a review, issue 18 twenty-eighth
    pass). Now an error naming FILE:LINE (exit 2), as ssh-keygen refuses it."""
    key_type, blob = signed.pub.read_text().split()[:2]
    for line in (
        f"{PRINCIPAL}{separator}{key_type} {blob}",
        f'{PRINCIPAL} namespaces="expflow-git"{separator}{key_type} {blob}',
    ):
        allowed = tmp_path / "allowed_signers"
        allowed.write_text(line + "\n", encoding="utf-8")
        accepted, why = signed.ssh_keygen_accepts(allowed)
        assert not accepted, why
        res = signed.verify(allowed)
        assert res.code == 2 and res.out == "", res
        assert res.err.startswith(f"expflow-git: error: {allowed}:1: "), res.err
        assert "\n" not in res.err.strip("\n") and "Traceback" not in res.err


# =========================================================================== --trusted-ref


def _git(repo: Path, *args: str, data: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True, check=True)
    return done.stdout.decode().strip()


def _keys_ref(repo: Path, ref: str, files: dict[str, bytes]) -> str:
    """A root commit at refs/heads/REF holding `.expflow/keys/NAME` for each file (and
    nothing else: it never contains the verified commit)."""

    def tree(lines: list[str]) -> str:
        return _git(repo, "mktree", "-z", data="".join(f"{x}\0" for x in lines).encode())

    blobs = [
        f"100644 blob {_git(repo, 'hash-object', '-w', '--stdin', data=data)}\t{name}"
        for name, data in files.items()
    ]
    keys = tree(blobs)
    root = tree([f"040000 tree {tree([f'040000 tree {keys}' + chr(9) + 'keys'])}\t.expflow"])
    commit = _git(repo, "commit-tree", root, "-m", "keys")
    _git(repo, "update-ref", f"refs/heads/{ref}", commit)
    return commit


def _other_keys(root: Path) -> dict[str, bytes]:
    """A key of each other type a team may commit: ssh-keygen's RSA and ECDSA `.pub`
    lines, and an RSA key in PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert SSH_KEYGEN is not None
    found = {}
    for kind in ("rsa", "ecdsa"):
        path = root / f"id_{kind}"
        subprocess.run(
            [SSH_KEYGEN, "-q", "-t", kind, "-N", "", "-C", "bob", "-f", str(path)],
            check=True,
            capture_output=True,
        )
        found[f"team-{kind}.pub"] = Path(f"{path}.pub").read_bytes()
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    found["pem-rsa.pub"] = pem.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return found


@pytest.mark.ssh_keygen
def test_a_key_of_another_type_at_the_trusted_ref_is_warned_of_and_skipped(
    signed: Signed, tmp_path: Path
) -> None:
    """Old code: one team member's RSA key committed as `.expflow/keys/team-rsa.pub` made
    every `verify --trusted-ref` exit 2 ("not an Ed25519 public key"). Now each such file
    is one escaped warning naming it, is not trusted, and the Ed25519 key verifies."""
    others = _other_keys(tmp_path)
    files = {"ci.pub": signed.pub.read_bytes(), **others}
    files["odd\x1b[31m-rsa.pub"] = others["team-rsa.pub"]
    _keys_ref(signed.repo, "keys-other", files)
    res = run_cli(
        ["verify", str(signed.report), "--trusted-ref", "keys-other", "--repo", "."], signed.repo
    )
    assert res.code == 0, res
    assert "VERIFIED" in res.out.splitlines()[-1]
    assert "from keys-other:.expflow/keys/ci.pub" in res.out
    assert "team-rsa" not in res.out and "pem-rsa" not in res.out
    warnings = res.err.strip("\n").split("\n")
    assert len(warnings) == 4, res.err
    assert "\x1b" not in res.err and "Traceback" not in res.err
    for name, kind in (
        ("team-rsa.pub", "ssh-rsa"),
        ("team-ecdsa.pub", "ecdsa-sha2-nistp256"),
        ("pem-rsa.pub", "PEM RSA"),
    ):
        line = f"keys-other:.expflow/keys/{name}: {kind} keys are not supported"
        assert sum(line in w and w.startswith("expflow-git") for w in warnings) == 1, res.err
    assert sum("keys-other:.expflow/keys/odd" in w for w in warnings) == 1, res.err
    # only keys of other types: nothing trusted, so nothing verifies
    _keys_ref(signed.repo, "keys-rsa", others)
    res = run_cli(["verify", str(signed.report), "--trusted-ref", "keys-rsa"], signed.repo)
    assert res.code != 0 and "VERIFIED" not in res.out.replace("VERIFICATION FAILED", "")
    assert "team-rsa.pub: ssh-rsa keys are not supported" in res.err
    # told as verify's other warnings are, and the ref is not said to hold no key file
    assert "KeyNotUsedWarning" not in res.err
    assert "no Ed25519 key in .expflow/keys/*.pub at keys-rsa" in res.err, res.err


@pytest.mark.ssh_keygen
@pytest.mark.parametrize(
    ("content", "needle"),
    [
        # an Ed25519 line that does not parse, or a second key hidden after another type's
        # line: what tampering would look like, still an error as in --allowed-signers
        (b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n", "cannot parse public key"),
        (b"ssh-rsa AAAAB3NzaC1yc2E= bob\nssh-ed25519 AAAA\n", "not an Ed25519 public key"),
        (b"nonsense-type AAAA\n", "not an Ed25519 public key"),
        (b"ssh-rsa\n", "not an Ed25519 public key"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "cannot parse"),
    ],
)
def test_a_malformed_key_file_at_the_trusted_ref_is_still_an_error(
    signed: Signed, content: bytes, needle: str
) -> None:
    ref = f"keys-bad-{hashlib.sha256(content).hexdigest()[:8]}"
    _keys_ref(signed.repo, ref, {"ci.pub": signed.pub.read_bytes(), "bad.pub": content})
    res = run_cli(["verify", str(signed.report), "--trusted-ref", ref], signed.repo)
    assert res.code == 2, res
    assert res.err.startswith(f"expflow-git: error: {ref}:.expflow/keys/bad.pub: "), res.err
    assert needle in res.err and "\n" not in res.err.strip("\n")


@pytest.mark.parametrize("word", ["ssh-rsa", "ecdsa-sha2-nistp256"])
def test_another_type_word_before_no_such_key_is_an_error(signed: Signed, word: str) -> None:
    """A file `ssh-rsa <an Ed25519 key's blob>` (or `ssh-rsa !!!`) was warned of as an RSA
    key and skipped, exit 0 (a review): its blob names another type, or none, so it is
    not another type's key but a file tampered with, an error as a malformed Ed25519 line
    is (exit 2)."""
    blob = signed.pub.read_text().split()[1]
    for content in (f"{word} {blob} ci\n", f"{word} !!!\n"):
        ref = f"keys-odd-{hashlib.sha256(content.encode()).hexdigest()[:8]}"
        files = {"ci.pub": signed.pub.read_bytes(), "odd.pub": content.encode()}
        _keys_ref(signed.repo, ref, files)
        res = run_cli(["verify", str(signed.report), "--trusted-ref", ref], signed.repo)
        assert res.code == 2, res
        assert res.err.startswith(f"expflow-git: error: {ref}:.expflow/keys/odd.pub: "), res.err


# =========================================================================== the docs


def test_the_first_link_of_ci_chain_needs_the_key_itself_as_the_docs_say(tmp_path: Path) -> None:
    """The report about the commit that adds ci.pub to main is never verified by the key
    read at main (a key does not vouch for its own commit); with `--public-key` it is.
    README's chain paragraph did not say so, and the threat model did not say that an
    allowed_signers window is checked against a time the committer sets."""
    from helpers_audit import add_run, commit_all, git, m, new_repo, write

    repo = new_repo(tmp_path / "repo")
    key = tmp_path / "ci-key"
    assert run_cli(["keygen", "--out", str(key)], tmp_path).code == 0
    pub = Path(f"{key}.pub")
    add_run(repo, "a", m(50))
    write(repo, ".expflow/keys/ci.pub", pub.read_bytes())
    adds_key = commit_all(repo, "C0 with ci.pub")
    add_run(repo, "b", m(51))
    commit_all(repo, "C1", date="2026-11-21T10:00:00+00:00")
    git(repo, "switch", "-q", "-c", "pr")
    add_run(repo, "c", m(52))
    commit_all(repo, "C2", date="2026-11-22T10:00:00+00:00")
    chain = tmp_path / "chain"
    chain.mkdir()
    r0, r1, head = chain / "r0.json", chain / "r1.json", tmp_path / "pr.json"
    for args in (
        ["--rev", adds_key, "--out", str(r0)],
        ["--rev", "main", "--out", str(r1), "--previous", str(r0)],
        ["--out", str(head), "--previous", str(r1)],
    ):
        assert run_cli(["audit", *args, "--sign-key", str(key)], repo).code == 0
    base = ["verify", str(head), "--trusted-ref", "main", "--chain", str(chain), "--repo", "."]
    res = run_cli(base, repo)
    assert res.code == 1, res
    assert "FAIL chain: r0.json: signature: " in res.out
    assert f"at or after its commit ({adds_key[:12]}) are not trusted for it" in res.out
    res = run_cli([*base, "--public-key", str(pub)], repo)
    assert res.code == 0, res
    # What the docs say of it
    root = Path(__file__).resolve().parents[1]
    readme = " ".join((root / "README.md").read_text().split())
    assert "a key does not vouch for its own commit" in readme
    assert "its first link needs `--public-key" in readme
    threat = (root / "docs" / "threat-model.md").read_text()
    verify_section = " ".join(threat.split("### `verify`", 1)[1].split("\n### ", 1)[0].split())
    assert "back-dated" in verify_section and "allowed_signers" in verify_section
