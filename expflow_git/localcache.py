"""Reading a file of this machine's own cache (.git/expflow): only one this user wrote.

A cache entry is trusted in place of the work it spares (a remembered policy stands for
the YAML it was parsed from), so a file another user could have written — owned by
someone else, or group- or world-writable — is not read (docs/spec.md §9: the cache is
local and trusted; `--no-cache` stays the ground truth).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path


def state_dir(git_dir: Path) -> Path:
    """Where this machine's expflow-git state lives in a repository: remembered policies,
    and the audit's per-blob cache under `cache/`."""
    return git_dir / "expflow"


_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def read_own(path: str | os.PathLike[str], warn: Callable[[str], None] | None) -> bytes | None:
    """The file's bytes if this user owns it and no one else may write it; None if it is
    missing, unreadable or not trusted (`warn` is told why it is not trusted)."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError:
        return None  # missing (the usual case) or a symbolic link: not a cache file
    try:
        info = os.fstat(fd)  # of the file opened: no swap between the check and the read
        why = _untrusted(info)
        if why:
            if warn is not None:
                warn(f"{os.fsdecode(path)}: cache file ignored: {why}")
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _untrusted(info: os.stat_result) -> str:
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None and info.st_uid != geteuid():
        return f"owned by uid {info.st_uid}, not this user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by group or others"
    return ""
