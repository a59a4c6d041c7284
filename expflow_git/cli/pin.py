"""`expflow-git pin init/check/clear/status`: manage the local PIN (docs/spec.md §5).

Options are parsed here; the decisions live in pin/store.py and pin/guard.py. Errors
are raised as ExpflowError and rendered by the one main() (cli/main.py).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import click

from expflow_git.cli.console import PROG, emit, guard, out, warn
from expflow_git.cli.group import Group
from expflow_git.cli.options import format_option
from expflow_git.cli.pinsettings import PinSettings, pin_settings
from expflow_git.errors import ExitCode, ExpflowError, printable
from expflow_git.escape import json_document
from expflow_git.pin.store import (
    ENV_HOME,
    ENV_PIN_HASH,
    HashSource,
    PinScheme,
    StoredHash,
    clear_hash,
    hash_pin,
    is_valid_pin,
    load_stored_hash,
    pin_file,
    pin_home,
    save_hash,
)

__all__ = ["PinSettings", "pin_group"]


def _settings() -> PinSettings:
    # The root context may hold settings a test injected; else the real process's.
    return pin_settings()


def _new_pin_value(value: str) -> str:
    # Raising UsageError makes click.prompt say why and ask again.
    if not is_valid_pin(value):
        raise click.UsageError("a PIN is exactly 4 ASCII digits (0-9)")
    return value


def _pin_exists(env: Mapping[str, str]) -> bool:
    """Whether any PIN is configured, without parsing it (a broken one still counts)."""
    return os.path.lexists(pin_file(env)) or bool(env.get(ENV_PIN_HASH, "").strip())


def _pin_file_now(env: Mapping[str, str]) -> bytes | None:
    """The PIN file as it is now: its bytes, or None when there is none (something else
    at its path, or a file that cannot be read, is told apart by a marker, not read)."""
    path = pin_file(env)
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return f"not a file: {info.st_mode} {info.st_ino}".encode()
    try:
        return path.read_bytes()
    except OSError as exc:
        return f"unreadable: {exc.errno} {info.st_ino} {info.st_mtime_ns}".encode()


def _changed_meanwhile(path: Path) -> ExpflowError:
    """The refusal (exit 1) of a PIN file another command wrote since it was looked at."""
    return ExpflowError(
        f"{printable(str(path))}: the PIN was set or changed while this command ran "
        "(another `pin init`); nothing changed, run it again",
        code=ExitCode.FAILED,
    )


@click.group(name="pin", cls=Group)
def pin_group() -> None:
    """Manage the local PIN that guards destructive commands."""


@pin_group.command("init")
@click.argument("new_pin", metavar="[PIN]", required=False)
@click.option(
    "--pin", "old_pin", metavar="OLD", help="The current PIN, needed to replace an existing one."
)
@click.option("--force", is_flag=True, help="Replace an existing PIN without checking it.")
def init_cmd(new_pin: str | None, old_pin: str | None, force: bool) -> None:
    """Set the PIN (asked twice, hidden). Replacing one needs the current PIN."""
    settings = _settings()
    _outside_the_repository(pin_home(settings.env))
    if new_pin is not None:
        if not is_valid_pin(new_pin):
            raise ExpflowError("a PIN must be exactly 4 ASCII digits (0-9); nothing changed")
    elif not settings.interactive:
        raise ExpflowError(
            "pin init needs a terminal to ask for the new PIN (or the PIN as an argument); "
            "nothing changed"
        )

    seen = _pin_file_now(settings.env)  # (what the guard approves replacing, if anything)
    if _pin_exists(settings.env):
        guard("replacing the existing PIN", pin=old_pin, force=force)

    typed = new_pin is not None
    if new_pin is None:
        new_pin = click.prompt(
            "New PIN (4 digits)",
            hide_input=True,
            confirmation_prompt="Repeat the new PIN",
            value_proc=_new_pin_value,
            err=True,
        )
    hashed = hash_pin(new_pin)
    # Another `pin init` may have set (or replaced) the PIN since it was looked at: the
    # prompt and the hash come between, and this one wrote over it, no PIN asked for (a
    # hunt, issue 18 forty-first pass). Refused, as `result` refuses a run changed meanwhile;
    # where there was none, the write itself replaces nothing.
    try:
        if _pin_file_now(settings.env) != seen:
            raise FileExistsError
        path = save_hash(pin_home(settings.env), hashed, overwrite=seen is not None)
    except FileExistsError:
        raise _changed_meanwhile(pin_file(settings.env)) from None
    out(f"PIN set in {path} (scrypt)")
    if typed:  # (once stored: a refused init told this before its error; a hunt)
        warn(
            "the PIN given on the command line is now in your shell history; "
            f"next time run `{PROG} pin init` and type it at the prompt"
        )
    if settings.env.get(ENV_PIN_HASH, "").strip():
        warn(f"${ENV_PIN_HASH} is also set; the file takes precedence over it")


def _outside_the_repository(home: Path) -> None:
    """Refuse a PIN home inside the repository this runs in (`EXPFLOW_HOME=.expflow`):
    `git add -A` would commit the hash (docs/spec.md §5: never in a repository)."""
    from expflow_git.gitstore import Git

    try:
        root = os.path.realpath(Git.discover(Path.cwd(), env=os.environ).root)
    except ExpflowError:
        return  # not in a repository
    target = os.path.realpath(home)
    if target == root or target.startswith(root + os.sep):
        raise ExpflowError(
            f"the PIN home {printable(str(home))} is inside this repository: the PIN hash "
            f"is never kept in one; set ${ENV_HOME} to a folder outside it; nothing changed"
        )


@pin_group.command("check")
@click.option("--pin", metavar="PIN", help="The PIN to check (else $EXPFLOW_PIN, else a prompt).")
def check_cmd(pin: str | None) -> None:
    """Exit 0 if the PIN is correct, 1 if it is wrong."""
    guard("pin check", pin=pin, force=False, force_name=None)  # (check has no --force)
    out("PIN is correct")


@pin_group.command("clear")
@click.option("--pin", metavar="PIN", help="The current PIN (else $EXPFLOW_PIN, else a prompt).")
@click.option("--force", is_flag=True, help="Remove the PIN file without checking the PIN.")
def clear_cmd(pin: str | None, force: bool) -> None:
    """Remove the stored PIN (needs the PIN, or --force)."""
    settings = _settings()
    path = pin_file(settings.env)
    env_hash_set = bool(settings.env.get(ENV_PIN_HASH, "").strip())
    if not os.path.lexists(path):
        if env_hash_set:
            raise ExpflowError(
                f"the PIN comes from ${ENV_PIN_HASH}, not a file; unset that variable to clear it"
            )
        out("no PIN is set; nothing to clear")
        return
    seen = _pin_file_now(settings.env)
    guard("pin clear", pin=pin, force=force)
    if _pin_file_now(settings.env) != seen:
        # Another `pin init` replaced it while the PIN was asked for and checked: the PIN
        # given approved removing the one it was checked against, not this one.
        raise _changed_meanwhile(path)
    clear_hash(pin_home(settings.env))
    out(f"PIN cleared (removed {path})")
    if env_hash_set:
        warn(f"${ENV_PIN_HASH} is still set, so a PIN is still required")


@pin_group.command("status")
@format_option("text", "json")
def status_cmd(fmt: str) -> None:
    """Say whether a PIN is set, where it comes from and how it is hashed (never the hash)."""
    settings = _settings()
    stored = load_stored_hash(settings.env)
    env_ignored = (
        stored is not None
        and stored.source is HashSource.FILE
        and bool(settings.env.get(ENV_PIN_HASH, "").strip())
    )
    if stored is not None:
        _warn_about(stored)
    if fmt == "json":
        status = {
            "env_hash_ignored": env_ignored,
            "path": str(stored.path) if stored and stored.path else None,
            "scheme": stored.scheme.value if stored else None,
            "set": stored is not None,
            "source": stored.source.value if stored else None,
        }
        emit(json_document(status))
        return
    if stored is None:
        out("PIN: not set")
        warn(f"run `{PROG} pin init` to set one")
        return
    out("PIN: set")
    out(f"source: {stored.source.value} ({stored.describe_source()})")  # (a path: escaped)
    out(f"scheme: {stored.scheme.value}")
    if env_ignored:
        out(f"note: ${ENV_PIN_HASH} is also set and ignored (the file takes precedence)")


def _warn_about(stored: StoredHash) -> None:
    """Warnings a status check should surface: a legacy hash, a file others can read."""
    if stored.scheme is PinScheme.LEGACY:
        warn(f"the PIN hash is a legacy unsalted SHA-256; run `{PROG} pin init` again")
    if stored.path is not None:
        try:
            mode = stat.S_IMODE(stored.path.stat().st_mode)
        except OSError:
            return
        if mode & 0o077:
            warn(
                f"{stored.path} is accessible to other users (mode {mode:04o}); "
                f"run `chmod 600 {stored.path}`"
            )
