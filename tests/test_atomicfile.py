"""Atomic writes (atomicfile.py): a regular file is replaced whole or not at all; a device
or a pipe at the path is written in place, never replaced by a file (`--out /dev/null`
run as root turned /dev/null into a plain file: every later `> /dev/null` wrote to it)."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import git, git_init, run_cli

from expflow_git.atomicfile import open_atomic_all, write_atomic


def test_a_regular_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "a" / "out.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]  # no temp file left
    with pytest.raises(FileExistsError):
        write_atomic(target, b"three", overwrite=False)
    assert target.read_bytes() == b"two"


def _drain(fifo: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(fifo, "rb") as fh:
            into.append(fh.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    write_atomic(fifo, b"streamed", named_by_user=True)
    reader.join(timeout=30)
    assert got == [b"streamed"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still the pipe
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.fifo"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_the_tools_own_file_replaces_a_pipe_without_waiting(tmp_path: Path) -> None:
    """A cache file's place taken by a FIFO: replaced, never written into (that would
    wait for a reader for ever)."""
    fifo = tmp_path / "01.json"
    os.mkfifo(fifo)
    write_atomic(fifo, b"cache")
    assert fifo.read_bytes() == b"cache" and not stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize(
    "kind",
    ["file", pytest.param("fifo", marks=pytest.mark.skipif(not hasattr(os, "mkfifo"), reason=""))],
)
def test_a_link_at_a_named_path_is_replaced_not_written_through(tmp_path: Path, kind: str) -> None:
    """A pull request can commit `report.json -> ~/.bashrc`, or `-> /dev/sda`: the report
    takes the link's place; what it named is untouched (a FIFO stands in for a device)."""
    victim = tmp_path / "victim"
    if kind == "file":
        victim.write_text("keep me\n")
    else:
        os.mkfifo(victim)
    link = tmp_path / "report.json"
    link.symlink_to(victim)
    write_atomic(link, b"report", named_by_user=True)  # (a FIFO written into would block)
    assert not link.is_symlink() and link.read_bytes() == b"report"
    assert kind == "fifo" or victim.read_text() == "keep me\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_audit_out_to_a_pipe_streams_the_report(tmp_path: Path) -> None:
    repo = git_init(tmp_path / "repo")
    for args in (["init", "--template", "minimal"], ["new", "e1", "--study", "s"]):
        code, _, err = run_cli(args, cwd=repo)
        assert code == 0, err
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "a record")
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    code, _, err = run_cli(["audit", "--out", str(fifo)], cwd=repo)
    if reader.is_alive():  # nothing was written: let the reader see the end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    reader.join(timeout=60)
    assert "Traceback" not in err
    assert got and got[0].startswith(b'{"payload":"'), (code, err)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_file_that_cannot_be_written_is_named_as_given(tmp_path: Path) -> None:
    """The error named the temporary file beside the target (`--html /proc/version`
    said `/proc/.version.11mc1xw2.tmp`), a name the user never gave (a user's hunt,
    issue 18 twenty-second pass). Nothing is left behind."""
    if not Path("/proc/version").exists():
        pytest.skip("needs Linux's /proc")
    root = git_init(tmp_path / "repo")
    assert run_cli(["init"], cwd=root)[0] == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "init")
    code, out, err = run_cli(["audit", "--html", "/proc/version"], cwd=root)
    assert code == 2 and err.strip().splitlines()[-1] == (
        "expflow-git: error: /proc/version: No such file or directory"
    ), err
    target = tmp_path / "out.html"
    (tmp_path / "out.html.d").mkdir()
    with pytest.raises(OSError) as caught:
        write_atomic(tmp_path / "out.html.d", b"x")  # a folder in the way: no rename
    assert caught.value.filename == str(tmp_path / "out.html.d")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.html.d", "repo"]
    assert not target.exists()


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_honours_the_umask_and_a_rewrite_keeps_the_mode(tmp_path: Path) -> None:
    """Every file was written 0644 whatever the umask, and a rewrite set 0640 back to
    0644 (an executable bit lost showed as a git mode change: a user's hunt, issue 18
    twenty-third pass). A user's file: as `open()` would; the cache's: 0644 as before."""
    repo = git_init(tmp_path / "repo")
    with _umask(0o027):
        assert run_cli(["init", "--template", "minimal"], cwd=repo)[0] == 0
        assert _mode(repo / "expflow.yaml") == 0o640
        assert run_cli(["new", "e1", "--study", "s"], cwd=repo)[0] == 0
        record = repo / "experiments/s/e1.json"
        assert _mode(record) == 0o640
        record.chmod(0o755)
        code, _, err = run_cli(["result", "e1", "--metric", "accuracy=0.5"], cwd=repo)
        assert code == 0, err
        assert '"success"' in record.read_text() and _mode(record) == 0o755
        assert _mode(repo / "results/s/e1.json") == 0o640
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--no-verify", "-m", "a run")
        out = tmp_path / "report.json"
        out.write_text("old\n")
        out.chmod(0o600)
        html = tmp_path / "s.html"
        run_cli(["audit", "--out", str(out), "--html", str(html)], cwd=repo)
        assert out.read_bytes().startswith(b"{") and _mode(out) == 0o600
        assert _mode(html) == 0o640
        shards = list((repo / ".git/expflow/cache").rglob("*.json"))
        assert shards and {_mode(p) for p in shards} == {0o644}
    with _umask(0o002):
        write_atomic(tmp_path / "group.txt", b"x")
        assert _mode(tmp_path / "group.txt") == 0o664
        write_atomic(tmp_path / "key", b"secret", mode=0o600)
        assert _mode(tmp_path / "key") == 0o600


def test_an_interrupt_as_the_temporary_file_is_made_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C that came inside `tempfile.mkstemp` was raised as it returned, before the
    write's `try` began, and left `.NAME.xxxx.tmp` behind (a user's hunt, issue 18
    twenty-third pass)."""
    real_open = os.open

    def interrupted(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        fd = real_open(path, flags, mode, **kwargs)
        if os.fspath(path).endswith(".tmp"):
            os.close(fd)
            raise KeyboardInterrupt  # as a signal handler raises it when os.open returns
        return fd

    monkeypatch.setattr(os, "open", interrupted)
    target = tmp_path / "out.json"
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"x")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("hard_links", [True, False])
@pytest.mark.parametrize("first", ["file", "link", "none"])
def test_files_written_together_are_all_put_back_when_one_cannot_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hard_links: bool, first: str
) -> None:
    """`open_atomic_all`: the second rename fails (a folder came at its path), so the
    first is undone: what it replaced (a file, or a link: itself, not what it names) is
    put back, or the new file removed. Where the file system has no hard links the old
    file is moved aside instead, and moved back."""
    a, b, elsewhere = tmp_path / "a", tmp_path / "b", tmp_path / "elsewhere"
    elsewhere.write_text("named by the link\n")
    if first == "file":
        a.write_text("old a\n")
        a.chmod(0o640)
    elif first == "link":
        a.symlink_to(elsewhere)
    if not hard_links:

        def no_link(*args: Any, **kwargs: Any) -> None:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    with pytest.raises(IsADirectoryError) as raised:
        with open_atomic_all([a, b], named_by_user=True) as (fa, fb):
            fa.write(b"new a\n")
            fb.write(b"new b\n")
            b.mkdir()  # (as another process might, while the files are written)
    assert raised.value.filename == str(b)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["b", "elsewhere"] + ([] if first == "none" else ["a"])
    )
    if first == "file":
        assert a.read_text() == "old a\n" and _mode(a) == 0o640
    elif first == "link":
        assert a.is_symlink() and os.readlink(a) == str(elsewhere)
    assert elsewhere.read_text() == "named by the link\n"


def test_files_written_together_all_take_their_places(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "sub" / "b"
    a.write_text("old a\n")
    with open_atomic_all([a, b]) as (fa, fb):
        fa.write(b"new a\n")
        fb.write(b"new b\n")
        assert a.read_text() == "old a\n" and not b.exists()  # nothing placed yet
    assert a.read_text() == "new a\n" and b.read_text() == "new b\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "sub"]  # no temp file
