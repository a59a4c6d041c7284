"""The validate and scan hooks' command lines read without click (issue 18: importing
click was a sixth of a hook's time). Only the plain forms pre-commit and plain git hooks
write are taken — `validate|scan [--staged] [--policy FILE] [--files-from FILE] [--]
PATH…` (the two take the same options: options.hook_options) — and read exactly as click
reads them; anything else (help, an unknown or misspelt option, a path starting with `-`
before `--`) returns None and goes through click, which explains it. `listed` reads the
names a `--files-from` gives, for either reader."""

from __future__ import annotations

import os
import sys

# the hooks whose plain command lines are read here (their options: hook_options)
PLAIN_COMMANDS = ("validate", "scan")

# (command, PATHS, --staged, --policy, each --files-from)
PlainHook = tuple[str, tuple[str, ...], bool, str | None, tuple[str, ...]]


def plain_hook(args: list[str]) -> PlainHook | None:
    """(command, paths, staged, policy, files_from) for a plain `validate` or `scan`
    command line, else None."""
    if not args or args[0] not in PLAIN_COMMANDS:
        return None
    read = _plain_options(args[1:])
    return None if read is None else (args[0], *read)


def _plain_options(
    args: list[str],
) -> tuple[tuple[str, ...], bool, str | None, tuple[str, ...]] | None:
    """(paths, staged, policy, files_from) from a hook's plain options (hook_options),
    else None."""
    paths: list[str] = []
    staged = False
    policy: str | None = None
    files_from: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            paths.extend(rest)
            if "" in paths:  # click's words for an empty PATH (options.AsGiven)
                return None
        elif arg == "--staged":
            staged = True
        elif arg in ("--policy", "--files-from"):
            value = next(rest, None)
            # (`-`, standard input, is --files-from's; any other value starting with `-`,
            # an empty one or none: click's words for that)
            if not value or (value.startswith("-") and (value, arg) != ("-", "--files-from")):
                return None
            if arg == "--policy":
                policy = value  # the last one given wins, as with click
            else:
                files_from.append(value)  # each one read (multiple, as with click)
        elif arg.startswith("--policy="):
            policy = arg.removeprefix("--policy=")
            if not policy:
                return None
        elif arg.startswith("--files-from="):
            files_from.append(arg.removeprefix("--files-from="))
            if not files_from[-1]:
                return None
        elif arg.startswith("-") or not arg:
            return None
        else:
            paths.append(arg)
    return tuple(paths), staged, policy, tuple(files_from)


def listed(paths: tuple[str, ...], files_from: tuple[str, ...]) -> tuple[str, ...] | None:
    """PATHS and then the names each `--files-from` FILE lists (`-`: standard input),
    NUL-separated as `git diff -z` and `git ls-files -z` write them, the last with a NUL
    after it or not; each name decoded as the command line's are (`os.fsdecode`: a byte
    that is not UTF-8 as a surrogate escape). None when a `--files-from` was given and no
    name at all, so nothing is to be checked: the hook's `xargs -r` ran no command then,
    and no PATHS means every document in the index (the hook's own `--files-from -`
    reads a commit that stages none). An empty name is refused, as an empty PATH is
    (options.AsGiven), and every name joins the command line whose PINs no line shows
    (console.typed), as through xargs it was that command line."""
    if not files_from:
        return paths
    from expflow_git.cli.console import typed_too

    names: list[str] = []
    for source in files_from:
        names += _names(source)
    typed_too(names)
    every = paths + tuple(names)
    return every or None


def _names(source: str) -> list[str]:
    """The names one `--files-from` FILE lists."""
    from expflow_git.errors import ExpflowError, printable

    shown = printable(source)
    try:
        if source == "-":
            stdin = sys.stdin
            if stdin is None:  # closed (`<&-`)
                raise ExpflowError("--files-from -: no standard input to read the names from")
            data = stdin.buffer.read()
        else:
            with open(source, "rb") as file:
                data = file.read()
    except OSError as exc:
        raise ExpflowError(f"--files-from {shown}: {exc.strerror or exc}") from None
    if not data:
        return []
    names = data.split(b"\0")
    if not names[-1]:  # (the last name's own NUL)
        names.pop()
    if b"" in names:
        raise ExpflowError(
            f"--files-from {shown}: an empty name (two NULs in a row, or one first); "
            "give paths, not empty strings"
        )
    return [os.fsdecode(name) for name in names]
