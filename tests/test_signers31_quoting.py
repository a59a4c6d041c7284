"""allowed_signers fields are cut as OpenSSH's sshsig.c cuts them (§6.4 item 1): the
principals as strdelimw does (a quoted part may hold a blank and may begin mid-token:
`al"ice"` is `alice`), the options as sshkey_advance_past_options and opt_dequote do
(`\\"` inside a quoted value is a quote). A regex tokenizer refused, with exit 2, lines
ssh-keygen uses: `namespaces="expflow-git,x\\""` (since the stray-quote fix a7be76b),
`namespaces="a\\"b,expflow-git"`, `al"ice"` and `"al ice"` (a review, issue 18
thirty-first pass). Every line ssh-keygen refuses stays refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers_audit import Cli
from support import ssh_ed25519_key, ssh_keygen_verdict
from test_openssh import COMMIT_TIME, Signed

from expflow_git.errors import ExpflowError
from expflow_git.report.allowed_signers import load_allowed_signers

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyZ0VmigrL/32u9blXABGAgTryXomOTm931FlbI/hWk"

# (line, the principals ssh-keygen reads, and so expflow-git names): keys for expflow-git
TRUSTED = [
    ('ci namespaces="expflow-git,x\\"" KEY', "ci"),
    ('ci namespaces="a\\"b,expflow-git" KEY', "ci"),
    ('ci namespaces="a\\\\",expflow-git" KEY', "ci"),
    ('ci namespaces="x y,expflow-git" KEY', "ci"),
    ('al"ice" KEY', "alice"),
    ('"al ice" KEY', "al ice"),
    ('"alice"KEY', "alice"),
    ('ci ,namespaces="expflow-git" KEY', "ci"),
]
# ... lines ssh-keygen reads but where the namespace is not expflow-git's
OTHER_NAMESPACE = [
    'ci namespaces="x\\"" KEY',
    'ci namespaces="git\\",expflow-git\\"" KEY',
    'ci namespaces="\\"expflow-git\\"" KEY',
]
# ... and lines ssh-keygen refuses
REFUSED = [
    'ci namespaces="expflow-git\\" KEY',
    'ci namespaces=\\"expflow-git\\" KEY',
    'ci namespaces="expflow-git"x KEY',
    'a"b c"d KEY',
    'ci" KEY',
    '"ci KEY',
    'ci valid-before="20300101\\" x" KEY',
    'ci namespaces="expflow-git" KEY"',
    'ci namespaces="expflow-git" "KEY"',
    'ci \\" KEY',
    'ci cert-authority" KEY',
    '"alice",bob KEY',  # (`,bob` are options: an empty one, then an unknown one)
]


def _load(tmp_path: Path, line: str, key: str = KEY) -> list[str]:
    path = tmp_path / "allowed_signers"
    path.write_text("# team\n" + line.replace("KEY", key) + "\n")
    return [k.principal or "" for k in load_allowed_signers(str(path)).keys]


@pytest.mark.parametrize(("line", "principals"), TRUSTED)
def test_openssh_quoting_is_read_as_openssh_reads_it(
    tmp_path: Path, line: str, principals: str
) -> None:
    assert _load(tmp_path, line) == [principals]


@pytest.mark.parametrize("line", OTHER_NAMESPACE)
def test_an_escaped_quote_never_widens_the_namespaces(tmp_path: Path, line: str) -> None:
    assert _load(tmp_path, line) == []


@pytest.mark.parametrize("line", REFUSED)
def test_lines_ssh_keygen_refuses_stay_errors(tmp_path: Path, line: str) -> None:
    with pytest.raises(ExpflowError) as info:
        _load(tmp_path, line)
    assert info.value.message.startswith(f"{tmp_path / 'allowed_signers'}:2: ")


@pytest.mark.ssh_keygen
@pytest.mark.parametrize(
    ("line", "principals"),
    TRUSTED + [(line, None) for line in OTHER_NAMESPACE + REFUSED],
)
def test_the_decision_is_ssh_keygen_s(tmp_path: Path, line: str, principals: str | None) -> None:
    key, public = ssh_ed25519_key(tmp_path)
    try:
        ours = _load(tmp_path, line, public)
    except ExpflowError:
        ours = []
    allowed = tmp_path / "allowed_signers"
    for name in ("ci", "alice", "al ice", "a"):
        theirs, said = ssh_keygen_verdict(key, allowed, tmp_path, name, "20261120100000Z")
        assert theirs is (principals is not None and name in principals.split(",")), (
            line,
            name,
            said,
        )
    assert ours == ([] if principals is None else [principals])


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    """A report signed with a key ssh-keygen made (as tests/test_openssh.py has it)."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH ssh-keygen is not installed")
    return Signed(tmp_path_factory.mktemp("openssh"))


@pytest.mark.ssh_keygen
@pytest.mark.parametrize(
    ("principal", "options", "named"),
    [
        ("ci", 'namespaces="expflow-git,x\\""', "ci"),
        ("ci", 'namespaces="a\\"b,expflow-git"', "ci"),
        ('al"ice"', "", "alice"),
        ('"al ice"', "", "al ice"),
        ("ci", 'namespaces="\\"expflow-git\\""', None),
    ],
)
def test_verify_agrees_with_ssh_keygen(
    signed: Signed, xcli: Cli, tmp_path: Path, principal: str, options: str, named: str | None
) -> None:
    allowed = signed.allowed(options, principal)
    theirs, said = ssh_keygen_verdict(signed.key, allowed, tmp_path, named or "ci", COMMIT_TIME)
    assert theirs is (named is not None), said
    res = xcli(["verify", str(signed.report), "--allowed-signers", str(allowed)], signed.repo)
    if named is None:
        assert res.code == 2, res
        assert "no ssh-ed25519 key usable for namespace 'expflow-git'" in res.err
    else:
        assert res.code == 0, res
        assert res.out.splitlines()[-1].endswith(f"VERIFIED, signed by {named} ({signed.fp})")
