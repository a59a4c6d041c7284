"""The one `main`: the click group (group.py) runs every command, but for the validate
and scan hooks' plain command lines, which skip click's import (a hook runs once per
commit, and its start-up is most of its time: issue 18). Every error the library raises
becomes one stderr line and its exit code here."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

# (the package's own name, loaded with it: this module imports nothing else of the
# tool's before `main` runs)
from expflow_git import TOOL_NAME as PROG

INT_DIGITS = 4300  # jsonstrict.MAX_INT_DIGITS (not imported for it: a test holds them equal)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every user-facing error becomes one stderr line and its exit code.
    A Ctrl-C from the first of the tool's imports on ends it with one line and 130: the
    imports are `main`'s (this module's own are the standard library's, loaded already),
    so the console script's and `python -m`'s imports of `main` leave no traceback."""
    try:
        return _main(argv)
    except KeyboardInterrupt as exc:  # before _main's own `try` (its imports), or after
        return _interrupted(exc)


def _interrupted(exc: KeyboardInterrupt) -> int:
    """A Ctrl-C's (or a SIGTERM's, `Terminated`) one line, and the shell's exit code;
    from what is loaded only: it may come before anything of the tool is."""
    interrupts = sys.modules.get("expflow_git.interrupts")
    terminated = interrupts is not None and isinstance(exc, interrupts.Terminated)
    message = f"{PROG}: {'terminated' if terminated else 'interrupted'}"
    console = sys.modules.get("expflow_git.cli.console")
    try:
        if console is None:
            raise LookupError(message)  # not loaded yet: the line as it is, below
        console.err(message)
    except Exception:  # not loaded, or not whole yet: the line as it is (plain text)
        try:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):  # no stderr to say it on (or None:
            # closed, `2>&-`): the exit code says it
            pass
    return 143 if terminated else 130  # the shell's 128 + SIGTERM or SIGINT


def _main(argv: Sequence[str] | None) -> int:
    from expflow_git.cli.console import err, masked, to_null, typed, warnings_escaped
    from expflow_git.errors import ExitCode, ExpflowError

    args = list(argv) if argv is not None else sys.argv[1:]
    typed(args)  # (what would be a PIN in them is masked in every error and warning)
    if argv is None and sys.stdout is None:  # closed (`>&-`): click's help writes to it too
        from expflow_git.cli.console import ClosedStdout

        sys.stdout = ClosedStdout()
    if argv is None:  # the program itself: a SIGTERM ends it as a Ctrl-C does, cleaned up
        from expflow_git.interrupts import terminate_as_interrupt

        terminate_as_interrupt()
        # Python's integer digit limit as the strict reader's (jsonstrict.MAX_INT_DIGITS),
        # whatever PYTHONINTMAXSTRDIGITS says: a number read is one the tool can write.
        # (Python 3.10.0 to 3.10.6, which `requires-python` takes, have no such limit nor
        # the function: every command stopped with an AttributeError traceback.)
        set_limit = getattr(sys, "set_int_max_str_digits", None)
        if set_limit is not None:
            set_limit(INT_DIGITS)
    try:
        if argv is not None:  # a caller's (a test's): its own warnings' printing stands
            return _run(args)
        with warnings_escaped():
            return _run(args)
    except ExpflowError as exc:
        err(f"{PROG}: error: {masked(exc.message)}")
        return int(exc.code)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(bool(exc.code))
    except BrokenPipeError:
        # Its reader closed the pipe before the command was done (`| head`): no traceback
        # nor a line (as git and grep say none), but never exit 0, output was lost: a
        # `validate | head` under pipefail passed on failing data, the hook's plain
        # `validate` printing its findings before it picks its code (a hunter's find,
        # issue 18 twenty-ninth pass). Exit 1, as click exits for every other command
        # (and Python for a program that does not catch it); the code a command picks
        # before it prints (validate's, scan's, protect's findings) is 1 as well.
        to_null(sys.stdout)
        return int(ExitCode.FAILED)
    except OSError as exc:  # a file we were asked to write (or read) cannot be
        name = exc.filename2 or exc.filename  # a rename names its target second
        if not name and _stdout_failed():
            name = "stdout"
        where = f"{name}: " if name else ""
        err(f"{PROG}: error: {masked(f'{where}{exc.strerror or exc}')}")
        return int(ExitCode.USAGE)
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    finally:
        if argv is None:  # the program itself (console script, `python -m`): it ends now
            _before_exit()


def _stdout_failed() -> bool:
    """Whether stdout holds output it cannot write (a full disk: `>/dev/full`), the
    cause of an OSError that names no file. Its fd is then the null device's, so the
    interpreter's own flush at exit finds nothing to fail on: `list >/dev/full` printed
    the error line, then Python's "Exception ignored in: <_io.TextIOWrapper
    name='<stdout>'> … OSError: [Errno 28]" and exited 120 (a hunter's find, issue 18
    thirty-seventh pass), where a full disk is one line and exit 2 (docs/spec.md §4)."""
    stream = sys.stdout
    if stream is None:
        return False
    try:
        stream.flush()
    except OSError:
        from expflow_git.cli.console import to_null

        to_null(stream)
        return True
    except ValueError:  # closed
        return False
    return False


def _before_exit() -> None:
    """The interpreter's last collection at exit walks every object left, the hundred
    thousand the imports made among them: ~8 ms of a one-file hook (issue 18). Frozen, they
    are not walked; exit still runs atexit handlers and frees what reference counts free."""
    import gc

    gc.freeze()


def _run(args: list[str]) -> int:
    """The command: the validate and scan hooks' plain forms directly, anything else
    through click."""
    from expflow_git.cli.console import err
    from expflow_git.cli.plain import plain_hook
    from expflow_git.errors import ExitCode

    hook = plain_hook(args)
    if hook is not None:
        from expflow_git.heap import no_cyclic_gc

        command, paths, staged, policy, files_from = hook
        # The collector off from the first import: the hundred thousand objects the
        # imports make (modules, classes, functions: all kept) were walked again and again
        # as they came (~3 ms of a one-file hook, issue 18). It is back on after the run.
        with no_cyclic_gc():
            if command == "scan":  # (click's import was a sixth of a scan hook's time)
                from expflow_git.cli.scanning import run_scan as run
            else:
                from expflow_git.cli.validating import run_validate as run

            run(paths, staged, policy, files_from)
        return int(ExitCode.OK)
    import click

    from expflow_git.cli.group import cli

    _drop_stray_completion(args)
    try:
        # A command returns None; click returns the code of an exit a command or group
        # asked for (ctx.exit: a group given no command, group.Group).
        code = cli.main(args=args, prog_name=PROG, standalone_mode=False)
    except click.exceptions.Abort as exc:
        # Ctrl-C at a prompt (click's `prompt` turns it into an Abort), or as a command's
        # arguments were parsed: main's own interruption, one line and 130, as anywhere
        # else. It said `aborted` with exit 2 (a usage error), after a blank line.
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise exc.__context__ from None
        err(f"{PROG}: aborted")  # end of input at a prompt
        return int(ExitCode.USAGE)
    except click.ClickException as exc:
        _click_error(exc, args)
        return int(ExitCode.USAGE)
    return code if isinstance(code, int) else int(ExitCode.OK)


COMPLETE_VAR = "_EXPFLOW_GIT_COMPLETE"  # click's: `_{PROG}_COMPLETE`, upper case
_COMPLETION = frozenset(
    f"{shell}_{what}" for shell in ("bash", "zsh", "fish") for what in ("source", "complete")
)


def _drop_stray_completion(args: Sequence[str]) -> None:
    """Leave click's shell completion variable to a shell's completion alone: its
    scripts run the bare program (no argument), `*_complete` with COMP_WORDS and
    COMP_CWORD. Anywhere else (a hook's or a CI step's environment) click answered it
    in any command's place: `audit`, `protect`, `verify` printed a completion script and
    exited 0 having checked nothing (`bash_source`), or stopped with a KeyError
    traceback (`bash_complete`) (forty-second pass). There it is dropped, so the
    command runs (and the git it calls never sees it)."""
    import os

    instruction = os.environ.get(COMPLETE_VAR)
    if instruction is None:
        return
    asked = not args and instruction in _COMPLETION
    if asked and instruction.endswith("_complete"):
        asked = "COMP_WORDS" in os.environ and "COMP_CWORD" in os.environ
    if not asked:
        del os.environ[COMPLETE_VAR]


def _click_error(exc: click.ClickException, args: Sequence[str]) -> None:
    """Click's error as the tool's one stderr line, `expflow-git COMMAND: error: MESSAGE`,
    a usage error with a pointer to the command's help. Click printed four lines (usage,
    `Try … --help`, a blank, `Error: …`) where the README promises one (a user's hunt,
    issue 18 twenty-third pass)."""
    import click

    from expflow_git.cli.console import err, masked
    from expflow_git.errors import without_pins

    # Click quotes what it could not place ("Got unexpected extra argument (4821)"): a
    # PIN given where none is taken (`pin check 4821`, `rm ID 4821`) must not reach a
    # terminal or a CI log either. What it quotes is the user's, and may hold a terminal
    # escape: `err` escapes the line.
    message = masked(without_pins(exc.format_message()))
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    where = ctx.command_path if ctx is not None else _command_path(args)
    hint = f" (see '{where} --help')" if isinstance(exc, click.UsageError) else ""
    err(f"{where}: error: {message}{hint}")


def _command_path(args: Sequence[str]) -> str:
    """The command `args` name (`expflow-git pin check`), for an error click raised
    without its context: an option missing its value (`rank --top`) was said of
    `expflow-git`, with its help (a review, issue 18 twenty-third pass)."""
    import click

    from expflow_git.cli.group import cli

    path: list[str] = [PROG]
    command: click.Command = cli
    for arg in args:
        if not isinstance(command, click.Group):
            break
        found = command.get_command(click.Context(command), arg)
        if found is None:
            break
        path.append(arg)
        command = found
    return " ".join(path)
