"""Four allowed_signers lines read wider than ssh-keygen reads them (a review, issue 18
thirty-first pass; each older than that pass): a local `valid-after` in summer time
opened an hour early (`mktime` was let apply summer time, where OpenSSH's zeroed
`struct tm` says standard time), a NUL inside `namespaces` was read past (OpenSSH's C
string ends there), a namespace pattern of 1,023 characters or more still matched
(OpenSSH's list then matches nothing), and a line whose principals are all negated
(which no `ssh-keygen -Y verify -I NAME` matches) was a trusted signer."""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from expflow_git.errors import ExpflowError
from expflow_git.report.allowed_signers import load_allowed_signers, match_pattern_list

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyZ0VmigrL/32u9blXABGAgTryXomOTm931FlbI/hWk"


def _write(tmp_path: Path, line: str) -> str:
    path = tmp_path / "allowed_signers"
    path.write_bytes((line.replace("KEY", KEY) + "\n").encode())
    return str(path)


@pytest.fixture
def sydney(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The local time zone of a place in summer time in November (AEDT, UTC+11)."""
    monkeypatch.setenv("TZ", "Australia/Sydney")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("sydney")
def test_a_local_window_is_read_as_standard_time_as_openssh_reads_it(tmp_path: Path) -> None:
    loaded = load_allowed_signers(_write(tmp_path, 'ci valid-after="20261120203000" KEY'))
    (key,) = loaded.keys
    # 20:30 read as standard time (UTC+10) is 10:30Z; as summer time (UTC+11), 09:30Z.
    assert key.valid_after == calendar.timegm((2026, 11, 20, 10, 30, 0))


def test_a_nul_inside_the_options_ends_the_line_as_in_openssh(tmp_path: Path) -> None:
    path = _write(tmp_path, 'ci namespaces="git\0,expflow-git" KEY')
    with pytest.raises(ExpflowError, match="allowed_signers:1"):
        load_allowed_signers(path)


def test_a_nul_in_the_comment_leaves_the_key(tmp_path: Path) -> None:
    loaded = load_allowed_signers(_write(tmp_path, "ci KEY a comment\0 with a NUL"))
    assert [k.principal for k in loaded.keys] == ["ci"]


@pytest.mark.parametrize(("length", "matches"), [(1022, True), (1023, False), (1100, False)])
def test_a_namespace_pattern_openssh_cannot_hold_matches_nothing(
    length: int, matches: bool
) -> None:
    assert match_pattern_list("expflow-git", f"expflow-git,{'x' * length}") is matches
    assert match_pattern_list("expflow-git", f"expflow-git,!{'x' * length}") is matches
    assert match_pattern_list("expflow-git", "*" * length) is matches


@pytest.mark.parametrize("principals", ["!*", "!alice@example.com", "!a,!b"])
def test_principals_that_match_no_one_sign_for_no_one(tmp_path: Path, principals: str) -> None:
    loaded = load_allowed_signers(_write(tmp_path, f"{principals} KEY"))
    assert loaded.keys == []
    assert any("match no one; line ignored" in w for w in loaded.warnings), loaded.warnings


def test_a_list_with_one_principal_that_matches_still_signs(tmp_path: Path) -> None:
    loaded = load_allowed_signers(_write(tmp_path, "!bob,alice KEY"))
    assert [k.principal for k in loaded.keys] == ["!bob,alice"]
