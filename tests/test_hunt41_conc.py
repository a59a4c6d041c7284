"""Two commands at once (a hunt, issue 18 forty-first pass): what another process writes
between a command's look and its write. Each race is made certain, not timed: the other
process's write is done at the point where the command's window is (the scrypt hash and
the prompt of `pin init`; the look and the write of `install-hooks`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import CliCall, git_init

from expflow_git.pin.store import check_pin, hash_pin, load_stored_hash, save_hash

FIRST = str(4000 + 821)
SECOND = str(4000 + 822)


def _other_init_meanwhile(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Another `pin init FIRST` finishes while this one hashes its PIN (after its check
    that no PIN is set, before its write)."""
    from expflow_git.cli import pin

    real = pin.hash_pin

    def hashing(value: str) -> str:
        save_hash(home, real(FIRST))
        return real(value)

    monkeypatch.setattr(pin, "hash_pin", hashing)


def test_pin_init_keeps_a_pin_another_init_set_meanwhile(
    tmp_path: Path, cli: CliCall, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second of two `pin init` (one at its prompt while the other finished) wrote its
    PIN over the first's, exit 0: the PIN replaced without the current one, which
    docs/spec.md §5 and `pin init --help` ask for ("Replacing one needs the current
    PIN"), and the first user's PIN silently gone."""
    _other_init_meanwhile(monkeypatch, isolated_env)
    res = cli(["pin", "init", SECOND], tmp_path)
    assert res.code == 1, res
    assert res.err.splitlines()[-1] == (
        f"expflow-git: error: {isolated_env / 'pin.hash'}: the PIN was set or changed while "
        "this command ran (another `pin init`); nothing changed, run it again"
    ), res.err
    assert "PIN set" not in res.out
    stored = load_stored_hash({"EXPFLOW_HOME": str(isolated_env)})
    assert stored is not None and check_pin(FIRST, stored.value)
    assert FIRST not in res.out + res.err and SECOND not in res.out + res.err.replace(
        "shell history", ""
    )


def test_pin_init_with_the_pin_refuses_one_replaced_meanwhile(
    tmp_path: Path, cli: CliCall, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replacing a PIN (`--pin OLD`): the guard approved replacing the PIN it checked, not
    one another `pin init --force` wrote since."""
    save_hash(isolated_env, hash_pin(SECOND))
    _other_init_meanwhile(monkeypatch, isolated_env)
    res = cli(["pin", "init", "--pin", SECOND, SECOND], tmp_path)
    assert res.code == 1, res
    assert "the PIN was set or changed while this command ran" in res.err, res.err
    stored = load_stored_hash({"EXPFLOW_HOME": str(isolated_env)})
    assert stored is not None and check_pin(FIRST, stored.value)


def test_pin_init_unraced_still_sets_and_replaces(
    tmp_path: Path, cli: CliCall, isolated_env: Path
) -> None:
    res = cli(["pin", "init", FIRST], tmp_path)
    assert res.code == 0, res
    res = cli(["pin", "init", "--pin", FIRST, SECOND], tmp_path)
    assert res.code == 0, res
    stored = load_stored_hash({"EXPFLOW_HOME": str(isolated_env)})
    assert stored is not None and check_pin(SECOND, stored.value)


def test_install_hooks_keeps_a_hook_another_install_wrote_meanwhile(
    tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `install-hooks` at once (a setup script run twice, two terminals): the second
    said `.git/hooks/pre-commit: File exists`, exit 2, of a hook installed whole, as
    `init` did before the thirty-second pass."""
    from expflow_git.hooks import install

    repo = git_init(tmp_path / "repo")
    real = install.write_atomic

    def write(target: Path, data: bytes, **kw: Any) -> None:
        if not target.exists():
            real(target, data, mode=0o755)  # the other install's write
        real(target, data, **kw)

    monkeypatch.setattr(install, "write_atomic", write)
    res = cli(["install-hooks"], repo)
    assert (res.code, res.err) == (0, ""), res
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert f"{hook}: kept (already installed)" in res.out.splitlines(), res.out


def test_install_hooks_keeps_a_different_hook_made_meanwhile(
    tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expflow_git.hooks import install

    repo = git_init(tmp_path / "repo")
    real = install.write_atomic
    mine = b"#!/bin/sh\nexit 0\n"

    def write(target: Path, data: bytes, **kw: Any) -> None:
        if target.name == "pre-commit" and not target.exists():
            target.write_bytes(mine)  # the user's own hook, made meanwhile
        real(target, data, **kw)

    monkeypatch.setattr(install, "write_atomic", write)
    res = cli(["install-hooks"], repo)
    assert (res.code, res.err) == (0, ""), res
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert f"{hook}: kept: a different hook exists; merge it by hand" in res.out.splitlines()
    assert hook.read_bytes() == mine


def test_pin_clear_keeps_a_pin_replaced_while_it_checked(
    tmp_path: Path, cli: CliCall, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pin clear --pin OLD` while another `pin init --pin OLD NEW` replaced the PIN: the
    old PIN removed the new one, which it never approved."""
    from expflow_git.pin import guard

    save_hash(isolated_env, hash_pin(SECOND))
    real = guard.check_pin

    def checking(pin: str, stored: str) -> bool:
        save_hash(isolated_env, hash_pin(FIRST))  # the other command's write
        return bool(real(pin, stored))

    monkeypatch.setattr(guard, "check_pin", checking)
    res = cli(["pin", "clear", "--pin", SECOND], tmp_path)
    assert res.code == 1, res
    assert "the PIN was set or changed while this command ran" in res.err, res.err
    stored = load_stored_hash({"EXPFLOW_HOME": str(isolated_env)})
    assert stored is not None and check_pin(FIRST, stored.value)
