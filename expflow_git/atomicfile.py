"""Atomic file writes: a temp file in the same directory, fsync, rename; and the check
that a path the tool writes or deletes stays inside the work tree."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from expflow_git.errors import ExpflowError, printable

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


def confined(root: Path, rel: str) -> Path:
    """`root / rel`, refused (exit 2) unless every part of `rel` that exists is a real
    directory or file: no symbolic link, no `..`.

    A repository can commit a symlink (`results/s -> /home/me`); a write or delete
    through it would land outside the work tree. Checked before anything is written,
    so a refusal leaves everything as it was.
    """
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or ".." in parts:
        raise ExpflowError(f"{printable(rel)}: not a path inside the work tree")
    path = root
    for depth, part in enumerate(parts, 1):
        path = path / part
        if path.is_symlink():
            shown = "/".join(parts[:depth])
            raise ExpflowError(
                f"{printable(rel)}: {printable(shown)} is a symbolic link; expflow-git writes "
                "and deletes only inside the work tree, never through a link (nothing changed)"
            )
        if not path.exists():
            break  # what is missing is created as real directories and files
    return root.joinpath(*parts)


def git_directory_part(rel: str) -> str | None:
    """The leading parts of `rel` (a path below the work tree's root) up to the first that
    is `.git` in any case, or None when none is: no commit can hold such a path (git keeps
    its own directory out of every `add`, and refuses `.GIT/…` and `x/.Git/…` as invalid
    paths on every platform), and no command that lists the work tree's documents sees it."""
    parts = rel.split("/")
    for depth, part in enumerate(parts, 1):
        if part.lower() == ".git":
            return "/".join(parts[:depth])
    return None


def below_root(
    absolute: str, root: str | Path, *, on_the_way: Callable[[str], None] | None = None
) -> list[str] | None:
    """The parts of the absolute path `absolute` below `root`: its shortest leading folders
    that are `root` (the same folder, by device and inode, however the path reaches it),
    then the rest as written, no link below the root followed; None when no leading folder
    is `root` (or one is missing). `on_the_way` sees each leading folder before it."""
    try:
        top = os.stat(root)
    except OSError:
        return None
    parts = [part for part in absolute.split(os.sep) if part not in ("", ".")]
    for end in range(len(parts) + 1):
        here = os.path.join(os.sep, *parts[:end])
        try:
            found = os.stat(here)
        except OSError:
            return None
        if (found.st_dev, found.st_ino) == (top.st_dev, top.st_ino):
            return parts[end:]
        if on_the_way is not None:
            on_the_way(here)
    return None


def not_a_folder(root: Path, folder: str) -> str | None:
    """The first part of `folder` (under `root`) that exists and is not a folder, as
    `root`-relative text; None when each is a folder or missing (`new`, `result` and
    `init` refuse such a part by name before anything is written)."""
    parts = Path(folder).parts
    path = root
    for depth, part in enumerate(parts, 1):
        path = path / part
        if os.path.lexists(path) and not path.is_dir():
            return "/".join(parts[:depth])
    return None


def kind_of(path: str | os.PathLike[str]) -> str | None:
    """What is at `path`, in a message's words (`mode_kind`, or "a broken symbolic link":
    a link is read as what it names); None when nothing is there (or it cannot be looked
    at)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return "a broken symbolic link" if os.path.islink(path) else None
    return mode_kind(mode)


def mode_kind(mode: int) -> str:
    """A file's kind by its mode, in a message's words: "a file", "a folder", "a named
    pipe", "a device", "a socket", or "another kind of file"."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "another kind of file"


def folder_in_the_way(path: Path) -> tuple[Path, str] | None:
    """Where `path` is to be a folder (made where missing): the first of its parts (itself
    or a folder above it) that exists and is not a folder, with what it is (`kind_of`);
    None when there is none. mkdir's own words for it, "File exists" (EEXIST) or "Not a
    directory" (ENOTDIR), name no file that is in the way: `EXPFLOW_HOME` a file made
    `pin init` say `<home>: File exists` (a hunter's find, issue 18 thirty-second pass)."""
    absolute = Path(os.path.abspath(path))
    for part in (*reversed(absolute.parents), absolute):
        if os.path.lexists(part) and not part.is_dir():
            return part, kind_of(part) or "not a folder"
    return None


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    mode: int | None = None,
    overwrite: bool = True,
    named_by_user: bool = False,
) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half.

    With overwrite=False an existing file is never replaced (FileExistsError),
    even if it appears between the check and the rename. `mode` and `named_by_user`:
    see open_atomic.
    """
    with open_atomic(path, mode=mode, overwrite=overwrite, named_by_user=named_by_user) as fh:
        fh.write(data)


@contextlib.contextmanager
def open_atomic(
    path: str | os.PathLike[str],
    *,
    mode: int | None = None,
    overwrite: bool = True,
    named_by_user: bool = False,
) -> Iterator[BinaryIO]:
    """A file to stream into; it takes `path`'s place only if the block finishes.

    `mode` None (a user's file: a record, a result, a report): the mode of the regular
    file it replaces, else what `open()` would give a new file (0o666 less the umask, the
    kernel's own). Every file was written 0644, whatever the umask, and a rewrite lost a
    file's mode (0640 became 0644; an executable bit lost showed as a git mode change: a
    user's hunt, issue 18 twenty-third pass). A mode given (the cache's 0644, a private
    key's 0600) is the mode, whatever the umask.

    `named_by_user` (`--out FILE`, `--html FILE`): a device or a pipe named directly
    (`/dev/null`, a FIFO), or one of the system's own links (`/dev/stdout`), is written
    into, as a shell's `>` would: a rename would replace the node itself (run as root,
    /dev/null with a plain file). Any other link is replaced, never written through,
    whatever it names (a pull request can commit one at the report's path). The tool's
    own files (the cache, records) replace whatever is in their place.
    """
    if named_by_user and names_a_folder(path):
        # `Path` drops the slash: `--out newdir/` wrote a file `newdir` (a user's hunt)
        raise IsADirectoryError(errno.EISDIR, "names a folder, not a file", os.fspath(path))
    target = Path(path)
    if named_by_user and written_in_place(target):
        if not overwrite:
            raise FileExistsError(errno.EEXIST, "file exists", str(target))
        with _writer(target, target) as fh:
            yield fh
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = _mode_kept(target)
    # The temporary file's name, once it may exist: whatever stops the write removes it.
    # A Ctrl-C that came inside `tempfile.mkstemp` was raised as it returned, before the
    # `try` began, and left `.NAME.xxxx.tmp` in the work tree (a user's hunt).
    names: list[str] = []
    try:
        fd = _create_temp(target, names, 0o666 if mode is None else 0o600)
        with _writer(fd, target) as fh:
            with _naming(target):
                if mode is not None:
                    os.fchmod(fh.fileno(), mode)
            yield fh
            fh.flush()
            with _naming(target):
                os.fsync(fh.fileno())
        tmp = names[0]
        if overwrite:
            os.replace(tmp, target)
        else:
            # link() fails if the target exists: no window where we clobber a file.
            os.link(tmp, target)
            os.unlink(tmp)
    except BaseException as exc:
        _remove_temps(names)
        if isinstance(exc, OSError) and {exc.filename, exc.filename2} & set(names):
            raise _as_targets(exc, target) from None
        raise


@contextlib.contextmanager
def open_atomic_all(
    paths: Sequence[str | os.PathLike[str]], *, named_by_user: bool = False
) -> Iterator[list[BinaryIO]]:
    """Files to stream into, one for each of `paths`, that take their places together once
    the block finishes: every one of them, or none (`audit --out R --html H`).

    Each is written to a temporary file as `open_atomic` does, and all are flushed to disk
    before any is renamed; the renames then run one after the other with SIGINT and
    SIGTERM held (a Ctrl-C waits until they are done), and when one fails, those already
    made are undone: the file each replaced is put back, or the new one removed where
    there was none. A device or a pipe named directly (`named_by_user`, see
    `open_atomic`) is written into as the block writes: no part of the all-or-nothing.
    """
    staged: list[tuple[Path, list[str]]] = []  # (target, [its temporary file's name])
    try:
        with contextlib.ExitStack() as stack:
            files: list[BinaryIO] = []
            to_sync: list[tuple[Path, BinaryIO]] = []
            for path in paths:
                if named_by_user and names_a_folder(path):
                    raise IsADirectoryError(
                        errno.EISDIR, "names a folder, not a file", os.fspath(path)
                    )
                target = Path(path)
                if named_by_user and written_in_place(target):
                    files.append(stack.enter_context(_writer(target, target)))
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                mode = _mode_kept(target)
                names: list[str] = []
                staged.append((target, names))
                fd = _create_temp(target, names, 0o666 if mode is None else 0o600)
                temp = stack.enter_context(_writer(fd, target))
                if mode is not None:
                    with _naming(target):
                        os.fchmod(temp.fileno(), mode)
                files.append(temp)
                to_sync.append((target, temp))
            yield files
            for target, temp in to_sync:
                temp.flush()
                with _naming(target):
                    os.fsync(temp.fileno())
        _place_together([(made[0], target) for target, made in staged])
    except BaseException as exc:
        for _, names in staged:
            _remove_temps(names)
        if isinstance(exc, OSError):
            for target, names in staged:
                if {exc.filename, exc.filename2} & set(names):
                    raise _as_targets(exc, target) from None
        raise


def _place_together(moves: Sequence[tuple[str, Path]]) -> None:
    """Rename each temporary file onto its target, SIGINT and SIGTERM held: all of them,
    or (one failing) none, each target as it was before."""
    held = _hold_signals()
    done: list[tuple[Path, str | None]] = []  # (target, where what it replaced was kept)
    try:
        for i, (tmp, target) in enumerate(moves):
            # What a rename replaces is kept aside, unless no rename comes after it to fail.
            kept, moved = _keep_aside(target) if i < len(moves) - 1 else (None, False)
            try:
                os.replace(tmp, target)
            except BaseException:
                if kept is not None and moved:
                    with contextlib.suppress(OSError):
                        os.replace(kept, target)
                elif kept is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(kept)
                raise
            done.append((target, kept))
    except BaseException:
        for target, kept in reversed(done):
            with contextlib.suppress(OSError):
                if kept is None:
                    os.unlink(target)
                else:
                    os.replace(kept, target)
        raise
    else:
        for _, kept in done:
            if kept is not None:
                with contextlib.suppress(OSError):
                    os.unlink(kept)
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _hold_signals() -> set[int | signal.Signals] | None:
    """Block SIGINT and SIGTERM (where the platform can); the mask to restore."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _keep_aside(target: Path) -> tuple[str | None, bool]:
    """A second name, `.NAME.xxxxxxxx.tmp` beside it, for what is at `target`, so that it
    can be put back: (that name, whether it was moved there). A hard link (the target
    stays in place), or where the file system has none, a rename. (None, False) when
    nothing is there, or a folder (no rename onto a folder succeeds). A symbolic link is
    kept aside itself, not what it names."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return None, False
    if stat.S_ISDIR(info.st_mode):
        return None, False
    for _ in range(100):
        aside = os.path.join(target.parent, f".{target.name}.{os.urandom(4).hex()}.tmp")
        try:
            os.link(target, aside, follow_symlinks=False)
            return aside, False
        except FileExistsError:
            continue  # another's name
        except OSError:  # no hard links here (FAT, some network file systems)
            if os.path.lexists(aside):
                continue
            os.rename(target, aside)
            return aside, True
    raise FileExistsError(errno.EEXIST, "no temporary file name is free", str(target))


# As tempfile.mkstemp opens its file (no link followed, not inherited by a child); a new
# user's file with 0o666, the kernel taking the umask away as for `open()` (no umask read).
_TEMP_FLAGS = (
    os.O_RDWR
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _create_temp(target: Path, names: list[str], mode: int) -> int:
    """A new file `.NAME.xxxxxxxx.tmp` beside `target`, open; its name is in `names`
    before it is made (a signal raised as `os.open` returns leaves no file unknown).
    `mode` 0o600 when the caller sets the mode: no one else may open it meanwhile (and
    read a private key through that descriptor once it is written)."""
    for _ in range(100):
        tmp = os.path.join(target.parent, f".{target.name}.{os.urandom(4).hex()}.tmp")
        names[:] = [tmp]
        try:
            return os.open(tmp, _TEMP_FLAGS, mode)
        except FileExistsError:
            names.clear()  # another's, not ours to remove
    raise FileExistsError(errno.EEXIST, "no temporary file name is free", str(target))


def _mode_kept(target: Path) -> int | None:
    """The permission bits of the regular file at `target` (None: there is none, and the
    new file gets what `open()` would give it)."""
    try:
        info = os.lstat(target)
    except (OSError, ValueError):
        return None
    return stat.S_IMODE(info.st_mode) & 0o777 if stat.S_ISREG(info.st_mode) else None


def _remove_temps(names: Sequence[str]) -> None:
    """Remove the temporary files `names`, whatever stops it: on a read-only file system
    the removal's own EROFS took the place of the error that stopped the write, and named
    the temporary file (`audit --out /ro/r.json` said `/ro/.r.json.ecfe3d32.tmp`: a
    user's hunt, issue 18 twenty-ninth pass)."""
    for tmp in names:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


class _NamedFileIO(io.FileIO):
    """A file whose failed writes name `target`: a write error carries no file name of
    its own, and `ulimit -f 4; audit --out x/r.json` said only "File too large" (ENOSPC,
    EDQUOT, EIO likewise; a user's hunt, issue 18 twenty-ninth pass). The buffered file
    above it writes through `write`, its flush and close too."""

    def __init__(self, file: int | Path, target: Path) -> None:
        super().__init__(file, "wb")
        self.target = target

    def write(self, data: ReadableBuffer, /) -> int:
        with _naming(self.target):
            return super().write(data)


def _writer(file: int | Path, target: Path) -> BinaryIO:
    """The open file descriptor or path `file`, buffered for writing, its write errors
    naming `target` (the temporary file's name is no name a user knows)."""
    return io.BufferedWriter(_NamedFileIO(file, target))


@contextlib.contextmanager
def _naming(target: Path) -> Iterator[None]:
    """An OSError that names no file (a write's, an fsync's) names `target`."""
    try:
        yield
    except BlockingIOError:
        raise  # (a buffered write's own signal, its count of bytes written kept)
    except OSError as exc:
        if exc.filename is None and exc.filename2 is None:
            raise _as_targets(exc, target) from None
        raise


def _as_targets(exc: OSError, target: Path) -> OSError:
    """`exc` naming the file the caller gave: the temporary file beside it is no name a
    user knows (`--html /proc/version` said `/proc/.version.11mc1xw2.tmp`; a user's hunt).
    A folder in the target's place, met by a write that replaces nothing (EEXIST), is
    said to be one: `mkdir experiments/s/e4.json; new e4 --study s` said "cannot write
    it: File exists" (a hunter's find, issue 18 thirty-second pass). The error stays a
    FileExistsError (a caller taking the next free name still does)."""
    strerror = exc.strerror
    if exc.errno == errno.EEXIST and _is_folder(target):
        strerror = "is a folder, not a file"
    return OSError(exc.errno, strerror, str(target))


def _is_folder(path: Path) -> bool:
    """Whether `path` is a folder itself (not a link to one)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


_SYSTEM_DIRS = ("/dev/", "/proc/")


def names_a_folder(path: str | os.PathLike[str]) -> bool:
    """Whether `path`, as written, names a folder whatever is there: it ends in `/`, or
    its last part is `.` or `..`. `Path` drops a last `/` and `/.`: `--out newdir/` and
    `--out out/.` wrote a file `newdir`, `out`, and said it wrote `out/.`; `--out x/..`
    made a folder `x`, then failed with "Device or resource busy" (hunts)."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or os.path.basename(text) in (".", "..")


def written_in_place(path: Path) -> bool:
    """A device, a pipe or a socket named directly, or a link of the system's own
    (/dev/stdout). A link anywhere else is never followed, whatever it names: committed
    at the report's path as `report.json -> /dev/sda`, it would have the report written
    over a disk."""
    try:
        if path.is_symlink():
            return os.path.abspath(path).startswith(_SYSTEM_DIRS) and os.path.exists(path)
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def refuse_same_file(a: str, b: str, a_name: str, b_name: str) -> None:
    """Exit 2 before anything is written when two outputs (or an input and an output)
    name one file, after links and `..`, existing or not: one would overwrite the other."""
    try:
        same = os.path.samefile(a, b)
    except OSError:
        same = os.path.realpath(a) == os.path.realpath(b)
    if same:
        raise ExpflowError(f"{printable(b)}: {a_name} and {b_name} name the same file")
