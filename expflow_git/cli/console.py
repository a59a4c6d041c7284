"""What every command prints and asks through: one output line, one warning style, one
error type, and the PIN prompt. Everything from a repository or a report is escaped."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NoReturn, TextIO

from expflow_git.errors import (
    ExitCode,
    ExpflowError,
    Finding,
    TypedPins,
    masked_output,
    masked_quoting,
    masked_status,
)
from expflow_git.escape import line

PROG = "expflow-git"

# The command line being run (`typed`), whose PINs no line printed quotes.
_TYPED: list[TypedPins] = [TypedPins(())]


def typed(arguments: Sequence[str]) -> None:
    """Remember the command line being run: `masked`, `out`, `err` and `for_terminal`
    mask what would be a PIN in it."""
    _TYPED[0] = TypedPins(arguments)


def typed_too(arguments: Sequence[str]) -> None:
    """Add to the command line being run (`typed`) what stands for more of it: the names
    a `--files-from` lists, each once a PATH of the hook's `xargs` command line."""
    _TYPED[0] = TypedPins((*_TYPED[0].arguments, *arguments))


def masked(message: str) -> str:
    """An error's or warning's message with what the scan flags masked, and what would be
    a PIN in the command line wherever the message quotes it (errors.masked_output): a
    refused argument is quoted in pieces (`'--pin NNNN' is not a number`), in a path
    (`experiments/s/pin=NNNN.json`) or a revision (`--since pin=NNNN:`), where the masking
    of one call site after another missed it (a review, issue 18 twenty-fifth pass)."""
    return masked_output(message, _TYPED[0])


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    """Stop the command: main() prints `expflow-git: error: MESSAGE` and exits with `code`."""
    raise ExpflowError(message, code=code)


def refuse_empty(given: Sequence[tuple[str, str | None]], wanted: str = "a path") -> None:
    """A usage error, exit 2, for an option (or argument) of `given`, (name, value), whose
    value is the empty string: `audit --out ''` wrote nothing with exit 0, `verify
    --allowed-signers ''` said no key was given, `report ''` could not read `` (a
    hunter's find, issue 18 twenty-ninth pass). Click's own line: `expflow-git audit:
    error: Invalid value for '--out': give a path, not an empty string (see …)`."""
    import click

    for name, value in given:
        if value == "":
            raise click.BadParameter(
                f"give {wanted}, not an empty string",
                ctx=click.get_current_context(silent=True),
                param_hint=f"'{name}'",
            )


def shown_argument(text: str) -> str:
    """An argument typed on the command line as an output of any format quotes it (`diff`'s
    revisions in its header, Markdown and text alike), masked as a status line is
    (`errors.masked_status`): `diff b-DIGEST HEAD --format md` printed a PIN's SHA-256
    the table masked (a review, issue 18 thirty-seventh pass)."""
    return masked_status(text, _TYPED[0])


def for_terminal(text: str) -> str:
    """A report or a table in a terminal's format (the audit's text, a leaderboard, a
    diff's table), with what would be a PIN in the command line masked in a line that
    quotes the argument holding it (`policy pin=NNNN/expflow.yaml` of `--policy`):
    `errors.masked_quoting`. The repository's own values, in other lines, are the
    product and stay; the data formats (JSON, CSV, Markdown, HTML, SARIF) are not
    passed here (docs/decisions.md, twenty-sixth pass)."""
    return masked_quoting(text, _TYPED[0])


def err(message: str) -> None:
    """One line on stderr; what a repository or report put in it is escaped (expflow_git.escape),
    and what would be a PIN in the command line is masked wherever the line quotes it, a
    PIN hash or a private key too (`errors.masked_status`): every status line a command
    prints goes through here or `out`, so a path or name typed with a PIN in it is masked
    in one place, not call site by call site (a review, issue 18 twenty-sixth pass)."""
    text = line(masked_status(message, _TYPED[0]))
    try:
        _echo(text, sys.stderr)
    except BrokenPipeError:
        to_null(sys.stderr)  # its reader left (`2>&1 | head`): exit 1, as for stdout
        raise
    except OSError:
        # A stderr that cannot take the line (a full disk: `2>/dev/full`) loses it, and the
        # exit code says what it would have: the OSError reached main, whose own line
        # failed again, and the command exited 1 whatever it was to exit with (a passing
        # `validate`, a usage error; a hunter's find, issue 18 thirty-seventh pass), or
        # 120 from the interpreter's flush at exit. What stderr still holds goes nowhere.
        to_null(sys.stderr)


def to_null(stream: TextIO) -> None:
    """Point `stream`'s file at the null device: what it holds, and what is written to it
    after, is dropped there, and the interpreter's flush at exit cannot fail (stderr that
    takes nothing, stdout whose reader left or whose disk is full)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    except (OSError, ValueError):  # no file under it (a test's stream): nothing to do
        pass


def out(message: str) -> None:
    """One line on stdout, escaped and masked like `err`'s."""
    _echo(line(masked_status(message, _TYPED[0])), stdout())


def echo(text: str) -> None:
    """Text made for a terminal already, of several lines (the demo's steps and their
    output), on stdout as it is but for what would be a PIN in the command line, masked
    as `out` masks it."""
    _echo(masked_status(text, _TYPED[0]), stdout())


def emit(text: str, *, nl: bool = True) -> None:
    """A command's output as its renderer made it (a table, a report's text or JSON, a
    diff), on stdout through click.echo; a stdout that was closed is a write error,
    as `stdout` says."""
    import click

    stream = stdout()
    try:
        click.echo(text, nl=nl)
    except UnicodeEncodeError:
        # A stdout whose encoding cannot hold the text and that click writes as it is
        # (a Latin-1 locale, a Windows pipe's cp1252; to an ASCII one click writes
        # UTF-8): a traceback (a hunt, issue 18 thirty-seventh pass). What it cannot
        # hold is written as a JSON escape (`\u0151`, a pair beyond the BMP): a JSON
        # output stays JSON, holding the same values, and a table one line. Nothing was
        # written yet (the text layer encodes a write whole before it writes any of it).
        encoding = getattr(stream, "encoding", None) or "ascii"
        click.echo(text.encode(encoding, _json_escapes()).decode(encoding), nl=nl)


def _json_escapes() -> str:
    """The name of the codec error handler that writes what an encoding cannot hold as
    JSON's `\\uXXXX` escapes (a surrogate pair beyond the BMP); registered on first use."""
    import codecs

    name = "expflow-json-escapes"
    try:
        codecs.lookup_error(name)
    except LookupError:
        codecs.register_error(name, _as_json_escapes)
    return name


def _as_json_escapes(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    escaped = []
    for ch in exc.object[exc.start : exc.end]:
        code = ord(ch)
        if code > 0xFFFF:
            code -= 0x10000
            escaped.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{code:04x}")
    return "".join(escaped), exc.end


def stdout() -> TextIO:
    """The stream a command's output is written to. A stdout closed when the program
    started (`>&-`) is None in Python: writing to it is an error as writing to a full
    disk is (OSError: main prints `expflow-git: error: stdout: Bad file descriptor`,
    exit 2), not output lost with exit 0, nor an AttributeError traceback (a hunter's
    find, issue 18 twenty-ninth pass). One straight over the file (`python -u`) is
    given a buffered writer first (`_whole_writes`): its writes are whole or fail."""
    stream = sys.stdout
    if stream is None:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF), "stdout")
    raw = getattr(stream, "buffer", None)
    if isinstance(raw, io.RawIOBase):
        stream = sys.stdout = _whole_writes(stream, raw)
    return stream


class ClosedStdout(io.TextIOBase):
    """sys.stdout when the program started with it closed (`>&-`, where Python makes it
    None): every write is the error `stdout()` raises, so that click's own `--help` and
    `--version`, which skip a stdout that is None, fail as a command's output does (they
    exited 0 with the output lost: a hunter's find, issue 18 thirty-seventh pass)."""

    encoding = "utf-8"

    def write(self, s: str) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF), "stdout")

    def isatty(self) -> bool:
        return False

    @property
    def buffer(self) -> ClosedStdout:
        """Itself: a report's bytes written to `sys.stdout.buffer` fail as text does."""
        return self


def _whole_writes(stream: TextIO, raw: io.RawIOBase) -> TextIO:
    """`stream`, a text stream straight over the file `raw` (`python -u`, PYTHONUNBUFFERED,
    as many CI images and containers set), as one that writes all it is given or raises.
    Python's text layer writes to an unbuffered file once and drops what that write did
    not take (CPython issue 85393): a pipe whose reader left (`| head`) took the 64 KiB
    it holds, the rest was lost and no next write failed, so `list --format json | head`
    exited 0 (a hunter's find, issue 18 thirty-first pass). A buffered writer between
    them writes again until all is written, and the write that finds the pipe closed
    raises BrokenPipeError (main: exit 1). Every write is passed on at once (write_through,
    and `_Flushed` flushes the buffer after it), so what -u asks stays, for a caller
    printing after an in-process CLI call too (it was held in the buffer until exit, and
    came after what the caller wrote to stderr: a review)."""
    stream.flush()
    whole = _Flushed(
        io.BufferedWriter(raw),
        encoding=stream.encoding,
        errors=stream.errors,
        newline=None if os.name == "nt" else "\n",  # as Python makes sys.stdout
        line_buffering=bool(stream.line_buffering),
        write_through=True,
    )
    # Kept for good: the file is sys.__stdout__'s too, and a wrapper dropped (sys.stdout
    # set to another stream, then back) would close it as it went.
    _WHOLE.append(whole)
    return whole


_WHOLE: list[TextIO] = []


class _Flushed(io.TextIOWrapper):
    """A text stream whose every write reaches the file before it returns."""

    def write(self, s: str) -> int:
        written = super().write(s)
        self.flush()
        return written


def _echo(text: str, stream: TextIO | None) -> None:
    # click.echo's plain-text path without importing click (the validate hook never
    # loads it): the stream looked up at each call (tests swap it), one write, a flush.
    if stream is not None:
        try:
            stream.write(text + "\n")
        except UnicodeEncodeError:
            # A stream whose encoding cannot hold the text (LC_ALL=C, PYTHONIOENCODING=
            # ascii): what it cannot hold is written as Python writes it on stderr
            # (backslashreplace: `\xeb`), not a traceback (the write encodes the whole
            # text before it writes any of it: nothing was written yet).
            encoding = getattr(stream, "encoding", None) or "ascii"
            stream.write((text + "\n").encode(encoding, "backslashreplace").decode(encoding))
        stream.flush()


def warn(message: str, *, command: str | None = None) -> None:
    """The one warning style: `expflow-git[ COMMAND]: warning: MESSAGE` on stderr."""
    err(f"{PROG}{' ' + command if command else ''}: warning: {masked(message)}")


@contextlib.contextmanager
def warnings_escaped() -> Iterator[None]:
    """Python's warnings, a library's among them, printed as `warn`'s one escaped line
    each while this lasts: a library's warning may quote repository text (ruamel's of a
    reused anchor quoted the policy's line), and Python prints it raw."""
    import warnings

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        warn(f"{category.__name__}: {message}")

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def emit_findings(findings: Sequence[Finding]) -> None:
    """One `path: reason` line per finding, on stdout."""
    for f in findings:
        out(str(f))


def prompt_hidden(text: str) -> str:
    """Ask for a PIN without echoing it (prompt on stderr, so stdout stays for results).
    The prompt is one line escaped as `err`'s: it names what is approved, a committed
    result's path among them (`result --overwrite`), and a folder a pull request named
    with a line break, a bidi override or an ESC sequence forged or reordered what the
    prompt asked to approve (a hunter's find, issue 18 thirty-eighth pass)."""
    import click

    value: str = click.prompt(line(masked(text)), hide_input=True, err=True)
    return value


def guard(
    action: str,
    *,
    pin: str | None,
    force: bool,
    force_name: str | None = "--force",
    texts: Mapping[str, str | None] | None = None,
) -> None:
    """The one PIN guard for every destructive command (pin/guard.py decides); its
    messages name `force_name` as the way round (None: the command has no --force).
    `texts` (`{"--reason": reason}`), written by the command once approved, are refused
    when they hold the PIN it was given (`refuse_pin_in`)."""
    from expflow_git.cli.pinsettings import pin_settings
    from expflow_git.pin.guard import refuse_pin_in, require_pin

    settings = pin_settings()
    approved = require_pin(
        action,
        pin=pin,
        force=force,
        env=settings.env,
        interactive=settings.interactive,
        prompt=prompt_hidden,
        warn=warn,
        force_name=force_name,
    )
    refuse_pin_in(texts or {}, approved, pin, env=settings.env)


def no_pin_in(texts: Mapping[str, str | None]) -> None:
    """`texts` an unguarded command writes (`fail --reason`) refused when $EXPFLOW_PIN's
    PIN stands alone in one (`refuse_pin_in`)."""
    from expflow_git.cli.pinsettings import pin_settings
    from expflow_git.pin.guard import refuse_pin_in

    refuse_pin_in(texts, env=pin_settings().env)


def progress_bar(label: str, *, at_least: int, every: int) -> Callable[[int, int], None] | None:
    """A progress bar on stderr, only on a terminal and only for `at_least` items or more,
    redrawn every `every` items and at the end (None: no bar)."""
    # (None: stderr closed when the program started, `2>&-`, which made `audit` and
    # `import` an AttributeError, exit 1, a passing audit too: a hunter's find, issue 18
    # thirty-seventh pass)
    if sys.stderr is None or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total < at_least or (done % every and done != total):
            return
        width = 30
        filled = width * done // total
        end = "\n" if done == total else ""
        sys.stderr.write(
            f"\r  {label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}"
        )
        sys.stderr.flush()

    return show
