"""valid-after / valid-before with OpenSSH's `UTC` suffix: ssh-keygen (OpenSSH 9) reads
`20200101UTC` as `20200101Z`, any case; the line was refused here (exit 2), one
ssh-keygen uses (issue 18 thirty-first pass)."""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ssh_ed25519_key, ssh_keygen_verdict

from expflow_git.errors import ExpflowError
from expflow_git.report.allowed_signers import load_allowed_signers

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyZ0VmigrL/32u9blXABGAgTryXomOTm931FlbI/hWk"
# The commit time ssh-keygen is asked about, and the same in seconds.
WHEN = "20261120100000Z"
WHEN_SECONDS = calendar.timegm((2026, 11, 20, 10, 0, 0))


@pytest.fixture
def far_east(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local time zone nine hours from UTC, so that reading a time as local is seen."""
    monkeypatch.setenv("TZ", "JST-9")  # (POSIX: no tzdata needed)
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


def _window(tmp_path: Path, options: str, key: str = KEY) -> tuple[int | None, int | None]:
    path = tmp_path / "allowed_signers"
    path.write_text(f"alice {options} {key}\n")
    (trusted,) = load_allowed_signers(str(path)).keys
    return trusted.valid_after, trusted.valid_before


@pytest.mark.parametrize("suffix", ["UTC", "utc", "Utc"])
@pytest.mark.parametrize("digits", ["20200101", "202001011230", "20200101123045"])
def test_utc_is_read_as_z(tmp_path: Path, far_east: None, suffix: str, digits: str) -> None:
    zulu = _window(tmp_path, f'valid-after="{digits}Z",valid-before="{digits[:4]}1231Z"')
    utc = _window(
        tmp_path, f'valid-after="{digits}{suffix}",valid-before="{digits[:4]}1231{suffix}"'
    )
    local = _window(tmp_path, f'valid-after="{digits}",valid-before="{digits[:4]}1231"')
    assert utc == zulu
    assert utc != local  # (nine hours apart here)


@pytest.mark.parametrize(
    "value", ["20200101UTCZ", "20200101ZUTC", "20200101 UTC", "UTC", "2020UTC", "20200101UT"]
)
def test_other_suffixes_stay_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ExpflowError, match=r"valid-after: expected YYYYMMDD\[HHMM\[SS\]\]\[Z\]"):
        _window(tmp_path, f'valid-after="{value}"')


@pytest.mark.ssh_keygen
@pytest.mark.parametrize(
    "options",
    [
        'valid-after="20261120100000UTC"',
        'valid-after="20261120100001UTC"',
        'valid-after="202611201000utc"',
        'valid-before="20261120095959UTC"',
        'valid-before="20261120100000Utc"',
        'valid-after="20261120UTC",valid-before="20261121UTC"',
        'valid-after="20261120UTCZ"',
    ],
)
def test_the_window_is_ssh_keygen_s(tmp_path: Path, far_east: None, options: str) -> None:
    key, public = ssh_ed25519_key(tmp_path)
    try:
        after, before = _window(tmp_path, options, public)
    except ExpflowError:
        ours = False
    else:
        ours = (after is None or WHEN_SECONDS >= after) and (
            before is None or WHEN_SECONDS <= before
        )
    theirs, said = ssh_keygen_verdict(key, tmp_path / "allowed_signers", tmp_path, "alice", WHEN)
    assert ours is theirs, (options, said)
