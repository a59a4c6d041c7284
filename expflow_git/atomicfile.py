"""Atomic file writes: a temp file in the same directory, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def write_atomic(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644, overwrite: bool = True
) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half.

    With overwrite=False an existing file is never replaced (FileExistsError),
    even if it appears between the check and the rename.
    """
    with open_atomic(path, mode=mode, overwrite=overwrite) as fh:
        fh.write(data)


@contextlib.contextmanager
def open_atomic(
    path: str | os.PathLike[str], *, mode: int = 0o644, overwrite: bool = True
) -> Iterator[BinaryIO]:
    """A file to stream into; it takes `path`'s place only if the block finishes."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            # link() fails if the target exists: no window where we clobber a file.
            os.link(tmp, target)
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
