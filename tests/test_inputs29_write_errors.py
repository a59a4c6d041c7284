"""A file that cannot be written is named in the error, the file the user gave, never
the temporary file beside it (atomicfile.open_atomic, open_atomic_all). A write's own
error carries no file name: `ulimit -f 4; expflow-git audit --out x/r.json` said
"expflow-git: error: File too large", naming nothing; and on a read-only file system
the temporary file's removal raised EROFS in place of the error that stopped the write,
naming `/ro/.r.json.ecfe3d32.tmp` (a user's hunt, issue 18 twenty-ninth pass)."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_audit import seed_repo
from support import CliResult, read_only_bind, scrubbed_env

from expflow_git import atomicfile
from expflow_git.atomicfile import open_atomic_all, write_atomic

FSIZE = 2048  # bytes: the seed's report is several times that


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_repo(tmp_path_factory.mktemp("seed") / "repo")


def _small_files() -> None:
    # Python ignores SIGXFSZ itself; said here too, so a write over the limit fails with
    # EFBIG instead of killing the process, whatever the interpreter's start does.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE, FSIZE))


def audit(seed: Path, args: list[str], *, prefix: tuple[str, ...] = ()) -> CliResult:
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "expflow_git", "audit", "--no-cache", *args],
        cwd=seed,
        env=scrubbed_env(),
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=None if prefix else _small_files,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def test_a_write_over_the_file_size_limit_names_the_report(seed: Path, tmp_path: Path) -> None:
    out = tmp_path / "x" / "r.json"
    res = audit(seed, ["--out", str(out)])
    assert (res.code, res.err.splitlines()) == (
        2,
        [f"expflow-git: error: {out}: File too large"],
    ), res
    assert list(out.parent.iterdir()) == []  # neither the report nor a temporary file


def test_the_scorecard_that_cannot_be_written_is_the_one_named(seed: Path, tmp_path: Path) -> None:
    """Two outputs: the error names the one whose write failed (the report goes to the
    captured stdout, a pipe, which the limit does not bound)."""
    html = tmp_path / "y" / "s.html"
    res = audit(seed, ["--out", "/dev/stdout", "--html", str(html)])
    assert (res.code, res.err.splitlines()) == (
        2,
        [f"expflow-git: error: {html}: File too large"],
    ), res
    assert list(html.parent.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_device_written_in_place_is_named(seed: Path) -> None:
    """`--out /dev/full`: a device named is written into (no temporary file), and its
    ENOSPC named it no more than a temporary file's did."""
    proc = subprocess.run(
        [sys.executable, "-m", "expflow_git", "audit", "--no-cache", "--out", "/dev/full"],
        cwd=seed,
        env=scrubbed_env(),
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (proc.returncode, proc.stderr.splitlines()) == (
        2,
        ["expflow-git: error: /dev/full: No space left on device"],
    ), proc


def test_a_read_only_folder_names_the_report(seed: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    prefix = read_only_bind(folder)
    if prefix is None:
        pytest.skip("needs root and `unshare -m` to mount a folder read-only")
    out = folder / "r.json"
    res = audit(seed, ["--out", str(out)], prefix=tuple(prefix))
    assert (res.code, res.err.splitlines()) == (
        2,
        [f"expflow-git: error: {out}: Read-only file system"],
    ), res
    assert list(folder.iterdir()) == []


def _read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """`folder` as a read-only file system has it: creating a file there, and removing
    one (whether it is there or not), fail with EROFS, naming it."""

    def create(target: Path, names: list[str], mode: int) -> int:
        tmp = os.path.join(target.parent, f".{target.name}.0badf00d.tmp")
        names[:] = [tmp]
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), tmp)

    real_unlink = os.unlink

    def unlink(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if Path(path).parent == folder:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(atomicfile, "_create_temp", create)
    monkeypatch.setattr(os, "unlink", unlink)


def test_a_read_only_folder_names_the_target_not_the_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.json"
    _read_only(monkeypatch, tmp_path)
    with pytest.raises(OSError) as caught:
        write_atomic(target, b"{}", named_by_user=True)
    assert (caught.value.errno, caught.value.filename) == (errno.EROFS, str(target))
    with pytest.raises(OSError) as caught, open_atomic_all([target], named_by_user=True):
        pass
    assert (caught.value.errno, caught.value.filename) == (errno.EROFS, str(target))
