"""allowed_signers lines ssh-keygen refuses are errors (§6.4 item 1), a stray quote among
them: the tokenizer skipped a `"` no quote closed, so `alice" KEY`, `alice " KEY` and
`alice namespaces="expflow-git" " KEY` were trusted (a hunter's find, issue 18
thirty-first pass). A quote in the comment after the key is read by neither."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_audit import Cli
from support import ssh_ed25519_key, ssh_keygen_verdict

from expflow_git.errors import ExitCode, ExpflowError
from expflow_git.report.allowed_signers import load_allowed_signers

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyZ0VmigrL/32u9blXABGAgTryXomOTm931FlbI/hWk"

REFUSED = [
    'alice" KEY',
    'alice " KEY',
    'alice namespaces="expflow-git" " KEY',
    'alice,bob" KEY',
    '"alice KEY',
    'alice namespaces="expflow-git"" KEY',
    'alice KEY"',
    'alice KEY"x',
    'alice\t"\tKEY',
]
ACCEPTED = [
    "alice KEY",
    '"alice" KEY',
    'alice namespaces="expflow-git" KEY',
    'alice KEY my "comment',
    'alice KEY "my comment',
    'alice KEY\t"x',
]


def _load(tmp_path: Path, line: str, key: str = KEY) -> list[str]:
    path = tmp_path / "allowed_signers"
    path.write_text("# team\n" + line.replace("KEY", key) + "\n")
    return [k.keyid for k in load_allowed_signers(str(path)).keys]


@pytest.mark.parametrize("line", REFUSED)
def test_a_stray_quote_before_the_comment_is_an_error(tmp_path: Path, line: str) -> None:
    with pytest.raises(ExpflowError) as info:
        _load(tmp_path, line)
    assert info.value.message == f"{tmp_path / 'allowed_signers'}:2: unbalanced quotes"
    assert info.value.code == ExitCode.USAGE


@pytest.mark.parametrize("line", ACCEPTED)
def test_balanced_lines_and_quotes_in_the_comment_are_trusted(tmp_path: Path, line: str) -> None:
    assert len(_load(tmp_path, line)) == 1


def test_verify_stops_at_the_line_with_one_error(xcli: Cli, tmp_path: Path) -> None:
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'alice " {KEY}\n')
    report = tmp_path / "r.json"
    report.write_bytes(b"{}\n")
    res = xcli(["verify", str(report), "--allowed-signers", str(signers)], tmp_path)
    assert res.code == 2, res
    assert res.err == f"expflow-git: error: {signers}:1: unbalanced quotes\n"
    assert res.out == ""


@pytest.mark.ssh_keygen
@pytest.mark.parametrize("line", REFUSED + ACCEPTED)
def test_the_decision_is_ssh_keygen_s(tmp_path: Path, line: str) -> None:
    key, public = ssh_ed25519_key(tmp_path)
    try:
        ours = bool(_load(tmp_path, line, public))
    except ExpflowError:
        ours = False
    allowed = tmp_path / "allowed_signers"
    theirs, said = ssh_keygen_verdict(key, allowed, tmp_path, "alice", "20261120100000Z")
    assert ours is theirs, (line, said)
