"""The validate and scan hooks' command lines read without click (issue 18: importing
click was a sixth of a hook's time). Only the plain forms pre-commit and plain git hooks
write are taken — `validate|scan [--staged] [--policy FILE] [--] PATH…` (the two take the
same options: options.hook_options) — and read exactly as click reads them; anything
else (help, an unknown or misspelt option, a path starting with `-` before `--`)
returns None and goes through click, which explains it."""

from __future__ import annotations

# the hooks whose plain command lines are read here (their options: hook_options)
PLAIN_COMMANDS = ("validate", "scan")


def plain_hook(args: list[str]) -> tuple[str, tuple[str, ...], bool, str | None] | None:
    """(command, paths, staged, policy) for a plain `validate` or `scan` command line,
    else None."""
    if not args or args[0] not in PLAIN_COMMANDS:
        return None
    read = _plain_options(args[1:])
    return None if read is None else (args[0], *read)


def _plain_options(args: list[str]) -> tuple[tuple[str, ...], bool, str | None] | None:
    """(paths, staged, policy) from a hook's plain options (hook_options), else None."""
    paths: list[str] = []
    staged = False
    policy: str | None = None
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            paths.extend(rest)
            if "" in paths:  # click's words for an empty PATH (options.AsGiven)
                return None
        elif arg == "--staged":
            staged = True
        elif arg == "--policy":
            value = next(rest, None)
            if not value or value.startswith("-"):  # click's words for that
                return None
            policy = value  # the last one given wins, as with click
        elif arg.startswith("--policy="):
            policy = arg.removeprefix("--policy=")
            if not policy:
                return None
        elif arg.startswith("-") or not arg:
            return None
        else:
            paths.append(arg)
    return tuple(paths), staged, policy
