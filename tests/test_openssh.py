"""Signers people already have (issue 14): keys made by OpenSSH's ssh-keygen, OpenSSH's
allowed_signers file (checked against ssh-keygen's own decisions), and signing with a
key held by a real ssh-agent, so no private key is on disk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers_audit import Cli, run_cli, seed_repo
from hypothesis import given, settings
from hypothesis import strategies as st
from support import ssh_keygen_key, ssh_keygen_verdict

SSH_KEYGEN = shutil.which("ssh-keygen")
SSH_AGENT = shutil.which("ssh-agent")
SSH_ADD = shutil.which("ssh-add")
needs_keygen = pytest.mark.ssh_keygen
needs_agent = pytest.mark.ssh_agent
# The seed repository's commit time (helpers_audit.DATE), as ssh-keygen -O verify-time takes it.
COMMIT_TIME = "20261120100000Z"
PRINCIPAL = "alice@example.com"


def fingerprint(pub: Path) -> str:
    """`ssh-keygen -lf`'s SHA256 fingerprint."""
    assert SSH_KEYGEN is not None
    out = subprocess.run(
        [SSH_KEYGEN, "-lf", str(pub)], check=True, capture_output=True, text=True
    ).stdout
    return out.split()[1]


class Signed:
    """The seed repository and a report signed with a key ssh-keygen made."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = seed_repo(root / "repo")
        self.key = ssh_keygen_key(root / "id_ed25519")
        self.pub = Path(f"{self.key}.pub")
        self.report = root / "report.json"
        res = run_cli(["audit", "--out", str(self.report), "--sign-key", str(self.key)], self.repo)
        assert res.code == 0, res
        self.audit_err = res.err
        self.fp = fingerprint(self.pub)

    def allowed(self, options: str = "", principal: str = PRINCIPAL, name: str = "as") -> Path:
        key_type, blob = self.pub.read_text().split()[:2]
        path = self.root / name
        path.write_text(
            "# team signers\n\n"
            + " ".join(p for p in (principal, options, key_type, blob, "alice's laptop") if p)
            + "\n"
        )
        return path


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    if SSH_KEYGEN is None:
        pytest.skip("OpenSSH ssh-keygen is not installed")
    return Signed(tmp_path_factory.mktemp("openssh"))


# =========================================================================== ssh-keygen keys


@needs_keygen
def test_a_key_made_by_ssh_keygen_signs_and_verifies(signed: Signed, xcli: Cli) -> None:
    assert f"signed by {signed.fp}" in signed.audit_err  # our keyid is ssh-keygen's
    res = xcli(["verify", str(signed.report), "--public-key", str(signed.pub)], signed.repo)
    assert res.code == 0, res
    assert res.out.splitlines()[-1].endswith(f"VERIFIED, signed by {signed.fp}")


@needs_keygen
def test_keygen_keyid_is_the_ssh_keygen_fingerprint(tmp_path: Path) -> None:
    res = run_cli(["keygen", "--out", str(tmp_path / "k")], tmp_path)
    assert res.code == 0, res
    assert f"keyid {fingerprint(tmp_path / 'k.pub')}" in res.out


# =========================================================================== allowed_signers


@needs_keygen
def test_allowed_signers_names_the_principal(signed: Signed, xcli: Cli, tmp_path: Path) -> None:
    allowed = signed.allowed()
    res = xcli(["verify", str(signed.report), "--allowed-signers", str(allowed)], signed.repo)
    assert res.code == 0, res
    who = f"{PRINCIPAL} ({signed.fp})"
    assert f"ok   signature: valid Ed25519 signature by trusted key {signed.fp}\n" in res.out
    assert res.out.splitlines()[-1].endswith(f"VERIFIED, signed by {who}")
    # the report view and the HTML say who signed
    html = tmp_path / "card.html"
    res = xcli(
        ["report", str(signed.report), "--allowed-signers", str(allowed), "--html", str(html)],
        signed.repo,
    )
    assert res.code == 0, res
    assert f"report: signed by {who}" in res.out
    assert f"Report signed by {PRINCIPAL} (" in html.read_text()
    res = xcli(
        ["report", str(signed.report), "--allowed-signers", str(allowed), "--format", "md"],
        signed.repo,
    )
    assert PRINCIPAL.replace("@", "`@`") in res.out  # no @mention from Markdown


@needs_keygen
def test_a_principal_outside_its_window_is_never_named(signed: Signed, xcli: Cli) -> None:
    """One key, two principals: mallory's window ended before the commit, so no line of
    the output names mallory as a signer (the signature line used to)."""
    key_type, blob = signed.pub.read_text().split()[:2]
    allowed = signed.root / "two"
    allowed.write_text(
        f'{PRINCIPAL} {key_type} {blob}\nmallory valid-before="20000101" {key_type} {blob}\n'
    )
    res = xcli(["verify", str(signed.report), "--allowed-signers", str(allowed)], signed.repo)
    assert res.code == 0, res
    assert "mallory" not in res.out
    assert res.out.splitlines()[-1].endswith(f"VERIFIED, signed by {PRINCIPAL} ({signed.fp})")


# (options, accepted at the commit time): both ssh-keygen and expflow-git must agree.
OPTION_CASES = [
    ("", True),
    ('namespaces="expflow-git"', True),
    ('namespaces="git"', False),
    ('namespaces="git,expflow-*"', True),
    ('namespaces="*,!expflow-git"', False),
    (f'valid-after="{COMMIT_TIME}"', True),
    ('valid-after="20261120100001Z"', False),
    ('valid-before="20261120095959Z"', False),
    ('valid-before="20261120100000Z"', True),
    ('VALID-BEFORE="20270101",Namespaces="expflow-git"', True),
    ('valid-after="20200101",valid-before="20211231"', False),
    # OpenSSH refuses a time at or before the epoch as a bad option (an attacker's hunt,
    # issue 18 twenty-second pass: expflow-git trusted the key since then)
    ('valid-after="19700101000000Z"', False),
    ('valid-after="19691231Z"', False),
    ('valid-after="19700101000001Z"', True),
    ('valid-before="19700101000000Z",valid-after="20200101"', False),
]


@needs_keygen
@pytest.mark.parametrize(("options", "accepted"), OPTION_CASES)
def test_allowed_signers_decisions_match_ssh_keygen(
    signed: Signed, xcli: Cli, tmp_path: Path, options: str, accepted: bool
) -> None:
    """Namespaces and validity are decided as `ssh-keygen -Y verify -n expflow-git` decides
    them for a signature at the commit's time."""
    allowed = signed.allowed(options)
    verified, said = ssh_keygen_verdict(signed.key, allowed, tmp_path, PRINCIPAL, COMMIT_TIME)
    ours = xcli(
        ["verify", str(signed.report), "--allowed-signers", str(allowed), "--repo", "."],
        signed.repo,
    )
    assert "Traceback" not in ours.err
    assert verified is accepted, said
    if verified:
        assert ours.code == 0, (ours, said)
    else:
        assert ours.code in (1, 2), ours
        assert "VERIFIED" not in ours.out.replace("VERIFICATION FAILED", "")


@needs_keygen
def test_an_expired_key_fails_with_its_window(signed: Signed, xcli: Cli) -> None:
    allowed = signed.allowed('valid-before="20261120095959Z"')
    res = xcli(["verify", str(signed.report), "--allowed-signers", str(allowed)], signed.repo)
    assert res.code == 1
    assert (
        "FAIL validity: no signing key is valid at the commit time 2026-11-20T10:00:00Z "
        f"({PRINCIPAL} ({signed.fp}): valid-before 2026-11-20T09:59:59Z)"
    ) in res.out


@needs_keygen
def test_a_key_for_another_namespace_is_not_trusted(signed: Signed, xcli: Cli) -> None:
    allowed = signed.allowed('namespaces="git"')
    res = xcli(["verify", str(signed.report), "--allowed-signers", str(allowed)], signed.repo)
    assert res.code == 2
    assert "no ssh-ed25519 key usable for namespace 'expflow-git'" in res.err


@needs_keygen
def test_cert_authority_and_other_key_types_are_refused_with_a_warning(
    signed: Signed, xcli: Cli, tmp_path: Path
) -> None:
    assert SSH_KEYGEN is not None
    rsa = tmp_path / "rsa"
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(rsa)],
        check=True,
        capture_output=True,
    )
    key_type, blob = signed.pub.read_text().split()[:2]
    allowed = tmp_path / "as"
    allowed.write_text(
        f"*@example.com cert-authority {key_type} {blob}\n"
        f"bob@example.com {Path(f'{rsa}.pub').read_text().strip()}\n"
    )
    res = xcli(["verify", str(signed.report), "--allowed-signers", str(allowed)], signed.repo)
    assert res.code == 2
    assert f"{allowed}:1: cert-authority is refused" in res.err
    assert f"{allowed}:2: ssh-rsa keys are not supported (only ssh-ed25519); line ignored" in (
        res.err
    )
    assert "no ssh-ed25519 key usable" in res.err
    assert "Traceback" not in res.err
    # next to a usable line, the refused ones are warnings and the usable one verifies
    allowed.write_text(allowed.read_text() + f"{PRINCIPAL} {key_type} {blob}\n")
    res = xcli(["verify", str(signed.report), "--allowed-signers", str(allowed)], signed.repo)
    assert res.code == 0, res
    assert "cert-authority is refused" in res.err


@needs_keygen
@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("alice", "expected 'principals [options] keytype key'"),
        ("alice valid-after=20200101 KEY", "valid-after is missing its start quote"),
        ('alice foo="1" KEY', "unknown key option 'foo'"),
        ('alice valid-after="2020" KEY', "expected YYYYMMDD[HHMM[SS]][Z]"),
        ("alice ssh-ed25519 AAAA", "cannot parse public key"),
        ("alice nonsense-type AAAA", "unknown key option 'nonsense-type'"),
        # OpenSSH refuses an option given twice; the last one won here (an attacker's hunt)
        ('alice namespaces="git",namespaces="expflow-git" KEY', "namespaces given twice"),
        ('alice valid-before="20200101",VALID-BEFORE="29990101" KEY', "valid-before given twice"),
        ('alice valid-after="19700101000000Z" KEY', "valid-after is not after 1970-01-01"),
        ('alice valid-before="00010101Z" KEY', "valid-before is not after 1970-01-01"),
    ],
)
def test_a_malformed_allowed_signers_line_is_one_error(
    signed: Signed, xcli: Cli, tmp_path: Path, line: str, needle: str
) -> None:
    key_type, blob = signed.pub.read_text().split()[:2]
    allowed = tmp_path / "as"
    allowed.write_text("# ok\n" + line.replace("KEY", f"{key_type} {blob}") + "\n")
    res = xcli(["verify", str(signed.report), "--allowed-signers", str(allowed)], signed.repo)
    assert res.code == 2, res
    assert res.err.startswith(f"expflow-git: error: {allowed}:2: ")
    assert needle in res.err and res.out == ""


# =========================================================================== ssh-agent


def ssh_add(sock: str, key: Path) -> None:
    assert SSH_ADD is not None
    subprocess.run(
        [SSH_ADD, "-q", str(key)],
        env={**os.environ, "SSH_AUTH_SOCK": sock},
        check=True,
        capture_output=True,
    )


@needs_agent
def test_audit_signs_with_a_key_held_by_ssh_agent(
    signed: Signed, agent: str, tmp_path: Path
) -> None:
    """The private key is loaded into the agent and deleted: the report is the one the
    key file gives, byte for byte (Ed25519 is deterministic)."""
    key = ssh_keygen_key(tmp_path / "agent_key")
    by_file = tmp_path / "by_file.json"
    res = run_cli(["audit", "--out", str(by_file), "--sign-key", str(key)], signed.repo)
    assert res.code == 0, res
    ssh_add(agent, key)
    fp = fingerprint(Path(f"{key}.pub"))
    key.unlink()
    by_agent = tmp_path / "by_agent.json"
    env = {"SSH_AUTH_SOCK": agent}
    res = run_cli(
        ["audit", "--out", str(by_agent), "--sign-key", f"agent:{fp}"], signed.repo, env=env
    )
    assert res.code == 0, res
    assert f"signed by {fp}" in res.err
    assert by_agent.read_bytes() == by_file.read_bytes()
    res = run_cli(["verify", str(by_agent), "--public-key", f"{key}.pub"], signed.repo)
    assert res.code == 0, res
    # and through the environment, as CI passes a key
    again = tmp_path / "again.json"
    res = run_cli(
        ["audit", "--out", str(again)],
        signed.repo,
        env={**env, "EXPFLOW_SIGNING_KEY": f"agent:{fp}"},
    )
    assert res.code == 0 and again.read_bytes() == by_file.read_bytes()


@needs_agent
def test_agent_errors_are_one_line(signed: Signed, agent: str, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ["audit", "--out", str(out), "--sign-key", "agent:SHA256:nosuchkey"]
    res = run_cli(args, signed.repo, env={"SSH_AUTH_SOCK": agent})
    assert res.code == 2, res
    assert res.err.strip() == (
        "expflow-git: error: ssh-agent holds no ssh-ed25519 key SHA256:nosuchkey (0 key(s) "
        "held; `ssh-add -l` lists them)"
    )
    res = run_cli(args, signed.repo)
    assert res.code == 2 and "SSH_AUTH_SOCK is not set" in res.err
    res = run_cli(args, signed.repo, env={"SSH_AUTH_SOCK": str(tmp_path / "nothing")})
    assert res.code == 2 and "cannot talk to ssh-agent" in res.err
    assert not out.exists()


@needs_agent
def test_agent_refuses_more_than_it_can_sign(agent: str, tmp_path: Path) -> None:
    from expflow_git.errors import ExpflowError
    from expflow_git.report.sshagent import MAX_AGENT_MESSAGE, agent_key

    key = ssh_keygen_key(tmp_path / "k")
    ssh_add(agent, key)
    signer = agent_key(fingerprint(Path(f"{key}.pub")), {"SSH_AUTH_SOCK": agent})
    assert len(signer.sign(b"small")) == 64
    with pytest.raises(ExpflowError, match="too large for ssh-agent to sign"):
        signer.sign(bytes(MAX_AGENT_MESSAGE))


# =========================================================================== parser fuzz


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.lists(
            st.sampled_from(
                [
                    "alice@example.com",
                    '"bob smith"',
                    "*@x",
                    "ssh-ed25519",
                    "ssh-rsa",
                    "cert-authority",
                    'namespaces="expflow-git"',
                    'valid-after="20260101"',
                    'valid-before="2026"',
                    "AAAAC3NzaC1lZDI1NTE5AAAAIOsNy1RVvSq8wQo/6Hzn4uqSt4Vo2cS4y6Zy8ud2S9FI",
                    "AAAA",
                    "#",
                    '"',
                    ",",
                ]
            )
            | st.text(max_size=6),
            max_size=5,
        ).map(" ".join),
        max_size=4,
    )
)
def test_any_allowed_signers_text_is_keys_or_one_error(lines: list[str]) -> None:
    """Whatever the file holds: keys, warnings, or one ExpflowError naming FILE:LINE."""
    import tempfile

    from expflow_git.errors import ExpflowError
    from expflow_git.report.allowed_signers import load_allowed_signers

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "as"
        path.write_text("\n".join(lines), encoding="utf-8", errors="surrogateescape")
        try:
            loaded = load_allowed_signers(str(path))
        except ExpflowError as exc:
            assert exc.message.startswith(str(path))
            assert "\n" not in exc.message
        else:
            assert all(k.principal for k in loaded.keys)
