"""`python -m expflow_git`, and the console script `expflow-git` (pyproject.toml names
`main` here): the CLI, its imports inside the Ctrl-C handling too."""

from __future__ import annotations

import sys

from expflow_git import TOOL_NAME


def main() -> int:
    """The CLI's `main`, imported here: a Ctrl-C as its modules load (most of a short
    command's time, and a hook's) printed a KeyboardInterrupt traceback, where the CLI
    ends any other Ctrl-C with one line and 130. `main` takes it from there (its own
    imports are inside its handling: cli/main.py). Nothing is imported here that the
    CLI would not import anyway."""
    try:
        from expflow_git.cli.main import main as command
    except KeyboardInterrupt:
        try:
            sys.stderr.write(f"{TOOL_NAME}: interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):  # no stderr to say it on (or None:
            # closed, `2>&-`): the exit code says it
            pass
        return 130  # the shell's 128 + SIGINT
    return command()


if __name__ == "__main__":
    raise SystemExit(main())
