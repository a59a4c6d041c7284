"""Reading a file of this machine's own cache (.git/expflow): only one this user wrote.

A cache entry is trusted in place of the work it spares (a remembered policy stands for
the YAML it was parsed from), so a file another user could have written — owned by
someone else, or group- or world-writable — is not read (docs/spec.md §6.1,
docs/threat-model.md: the cache is local and trusted; `--no-cache` stays the ground truth).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from expflow_git.lazyre import lazy_compile


def state_dir(git_dir: Path) -> Path:
    """Where this machine's expflow-git state lives in a repository: remembered policies,
    and the audit's per-blob cache under `cache/`."""
    return git_dir / "expflow"


# How a file that must be a regular file is opened (this cache's files, the hooks'
# documents): no link is followed, and a FIFO does not block the open (the caller
# refuses it after fstat).
READ_NOFOLLOW = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_BINARY", 0)
)


def read_trusted(
    path: str | os.PathLike[str], *, below: Path | None = None
) -> tuple[bytes | None, str]:
    """A cache file's bytes if this user owns it and no one else may write it:
    `(bytes, "")`; `(None, why)` for one this user may not have written (a symbolic
    link, in its place or, with `below` (the git directory), for a folder between the
    two; another owner; writable by others); `(None, "")` for one missing, unreadable
    or not a regular file of this user's (a directory, a FIFO: damage, not a forgery)."""
    if below is not None and (linked := _linked_folder(Path(path).parent, below)) is not None:
        return None, f"its folder {linked} is a symbolic link"
    try:
        fd = os.open(path, READ_NOFOLLOW)
    except OSError:
        # The link itself is refused, whoever owns it: it could name any file of ours.
        return None, "a symbolic link" if os.path.islink(path) else ""
    try:
        info = os.fstat(fd)  # of the file opened: no swap between the check and the read
        why = untrusted(info)
        if why or not stat.S_ISREG(info.st_mode):
            return None, why
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), ""
    except OSError:
        return None, ""
    finally:
        os.close(fd)


def _linked_folder(folder: Path, below: Path) -> Path | None:
    """The first folder from `folder` up to (not including) `below` that is a link."""
    while folder != below and folder != folder.parent:
        if folder.is_symlink():
            return folder
        folder = folder.parent
    return None


def read_own(
    path: str | os.PathLike[str], warn: Callable[[str], None] | None, *, below: Path | None = None
) -> bytes | None:
    """The file's bytes if this user wrote it (`read_trusted`); None if not, and `warn`
    is told why when it may be someone else's."""
    data, why = read_trusted(path, below=below)
    if why and warn is not None:
        warn(f"{os.fsdecode(path)}: cache file ignored: {why}")
    return data


def untrusted(info: os.stat_result) -> str:
    """Why a file of this user's state (a cache file, the PIN hash) may not be this
    user's own writing ("": it is). Where there are no user ids (Windows) nothing is said:
    its mode bits call every writable file writable by all (0o666), which would refuse
    every PIN hash and ignore every cache file there."""
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None:
        return ""
    if info.st_uid != geteuid():
        return f"owned by another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by other users (group or world)"
    return ""


def write_own(target: Path, data: bytes, *, below: Path | None) -> None:
    """Write a cache file whole (a temp file renamed over it), replacing an empty folder
    in its place; a cache that cannot be written is simply not kept.

    A symbolic link for a folder between `below` (the git directory) and the file is
    replaced by a real folder (the link removed, never what it names): written through,
    every file went into the link's target and every later read ignored it, with a
    warning, run after run (a user's hunt, issue 18 twenty-third pass)."""
    from expflow_git.atomicfile import write_atomic

    try:
        if below is not None:
            _unlink_linked_folders(target.parent, below)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir() and not target.is_symlink():
            target.rmdir()  # an empty directory in the file's place: ours to replace
        write_atomic(target, data, mode=0o644)  # whatever the umask (decisions.md)
    except OSError:
        return


def _unlink_linked_folders(folder: Path, below: Path) -> None:
    """Remove each symbolic link on the way from `below` to `folder` (the links only:
    what is under one is then missing, and made as real folders)."""
    try:
        parts = folder.relative_to(below).parts
    except ValueError:  # (not below it: nothing of ours to judge)
        return
    path = below
    for part in parts:
        path = path / part
        if path.is_symlink():
            path.unlink()


# A cache folder (audit/cache.py: one per build of the tool and policy) that no audit
# has used for this long is removed by the next audit: nothing else removes the folders
# of an upgraded build or an edited policy, each as large as the cache of the whole
# repository.
UNUSED_DAYS = 14
_CACHE_FOLDER = lazy_compile(r"[0-9A-Za-z.+!_]+-[0-9a-f]{16}-[0-9a-f]{16}")


def prune_unused(folder: Path, *, below: Path, now: float | None = None) -> None:
    """Mark cache folder `folder` used now, remove its temp files left behind
    (`remove_stale_temps`), and remove its siblings that no audit has used for
    UNUSED_DAYS. Only real folders of this user's, named as a cache folder is, and none
    while a folder between `below` (the git directory) and them is a link; a cache that
    cannot be tidied is left as it is."""
    import shutil  # (only an audit with the cache tidies: not paid by every hook)
    import time

    now = time.time() if now is None else now
    parent = folder.parent
    if _linked_folder(parent, below) is not None:
        return
    try:
        os.utime(folder, (now, now))
        names = os.listdir(parent)
    except OSError:
        return
    remove_stale_temps(folder, now=now)
    geteuid = getattr(os, "geteuid", None)
    for name in names:
        if name == folder.name or not _CACHE_FOLDER.fullmatch(name):
            continue
        path = parent / name
        try:
            info = os.lstat(path)
            if (
                not stat.S_ISDIR(info.st_mode)  # (a link is not: never followed)
                or (geteuid is not None and info.st_uid != geteuid())
                or now - info.st_mtime < UNUSED_DAYS * 86400
            ):
                continue
            shutil.rmtree(path)
        except OSError:
            continue


def remove_unused_files(
    folder: Path, name: re.Pattern[str], keep: str, *, below: Path, now: float | None = None
) -> None:
    """Remove the files in `folder` named like `name` (a whole name), but `keep`, that
    were not written for UNUSED_DAYS (a cache file of another build or policy, one per
    policy edit, that nothing else removes): only this user's regular files, never
    through a link, none while a folder between `below` and `folder` is a link."""
    import time

    now = time.time() if now is None else now
    if _linked_folder(folder, below) is not None:
        return
    try:
        names = os.listdir(folder)
    except OSError:
        return
    geteuid = getattr(os, "geteuid", None)
    for entry in names:
        if entry == keep or not name.fullmatch(entry):
            continue
        try:
            info = os.lstat(folder / entry)
            if (
                stat.S_ISREG(info.st_mode)  # (a link is not: never followed)
                and (geteuid is None or info.st_uid == geteuid())
                and now - info.st_mtime >= UNUSED_DAYS * 86400
            ):
                os.unlink(folder / entry)
        except OSError:
            continue


# A temp file of atomicfile's (`.NAME.xxxxxxxx.tmp`) that a writer killed mid-write (a
# SIGKILL runs no cleanup) left in a cache folder: removed when the cache is tidied once
# it is this old, which no write of a live audit's file takes.
STALE_TEMP_SECONDS = 3600
_TEMP_FILE = lazy_compile(r"\..+\.[0-9a-f]{8}\.tmp", re.DOTALL)
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)


def remove_stale_temps(folder: Path, *, now: float) -> None:
    """Remove the temp files in cache folder `folder` and its `folders/` (the folder
    cache) that this user wrote more than STALE_TEMP_SECONDS ago: regular files only,
    never through a link (neither the folders nor the files are followed), never another
    user's. One listing of each folder; what cannot be removed is left."""
    if os.listdir not in os.supports_fd or os.unlink not in os.supports_dir_fd:
        return  # (no fd-relative calls, as on Windows: left, as before)
    try:
        top = os.open(folder, _DIRECTORY)
    except OSError:
        return
    try:
        _remove_stale_in(top, now)
        try:
            sub = os.open("folders", _DIRECTORY, dir_fd=top)
        except OSError:
            return
        try:
            _remove_stale_in(sub, now)
        finally:
            os.close(sub)
    finally:
        os.close(top)


def _remove_stale_in(fd: int, now: float) -> None:
    geteuid = getattr(os, "geteuid", None)
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            return
        names = os.listdir(fd)
    except OSError:
        return
    for name in names:
        if name[0] != "." or not _TEMP_FILE.fullmatch(name):
            continue
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if (
                stat.S_ISREG(info.st_mode)  # (a link is not: never followed)
                and (geteuid is None or info.st_uid == geteuid())
                and now - info.st_mtime >= STALE_TEMP_SECONDS
            ):
                os.unlink(name, dir_fd=fd)
        except OSError:
            continue
