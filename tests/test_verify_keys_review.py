"""An attacker's hunt of `verify`'s trusted keys (issue 18, twenty-eighth pass), through
the real CLI: allowed_signers lines ssh-keygen refuses are errors here too, checked
against ssh-keygen's own decisions.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers_audit import Out, run_cli, seed_repo

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
        assert SSH_KEYGEN is not None
        message = self.root / "msg"
        if not message.exists():
            message.write_bytes(b"expflow-git interop")
            subprocess.run(
                [SSH_KEYGEN, "-Y", "sign", "-q", "-n", "expflow-git", "-f", str(self.key)]
                + [str(message)],
                check=True,
                capture_output=True,
            )
        theirs = subprocess.run(
            [SSH_KEYGEN, "-Y", "verify", "-n", "expflow-git", "-I", PRINCIPAL, "-f", str(allowed)]
            + ["-s", f"{message}.sig", "-O", f"verify-time={COMMIT_TIME}"],
            input=message.read_bytes(),
            capture_output=True,
        )
        return theirs.returncode == 0, theirs.stderr.decode()


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
