"""The second read of the linked-folder patch (issue 18, fortieth pass): what it said
of a socket, and how it spells a linked folder of the policy's path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support import run_cli


def test_scan_of_a_socket_says_it_is_no_regular_file(tmp_path: Path) -> None:
    # One open that never follows a link cannot open a socket (ENXIO): it said "cannot
    # read: No such device or address", where it says "is not a regular file" of a FIFO.
    (tmp_path / "notes.txt").write_text("nothing here\n")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "agent.sock"))
        proc = run_cli(["scan", "agent.sock", "notes.txt"], cwd=tmp_path)
    finally:
        sock.close()
    assert proc.code == 1, proc.err
    assert "agent.sock: not-a-regular-file: is not a regular file" in proc.out + proc.err
    assert "No such device" not in proc.out + proc.err


def test_a_linked_folder_of_the_policy_is_spelled_as_its_path(tmp_path: Path) -> None:
    # Under a locale that is not UTF-8 the line's head was the OS's spelling and the
    # folder git's: `c\xc3\xb6nflink/…: … its folder c\xf6nflink is a symbolic link`.
    root = tmp_path / "r"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "cönf").mkdir()
    (root / "cönf" / "pölicy.yaml").write_text("version: 1\n")
    os.symlink("cönf", root / "cönflink")
    env = dict(os.environ, LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    proc = subprocess.run(
        [sys.executable, "-m", "expflow_git", "validate", "--policy", "cönflink/pölicy.yaml"],
        cwd=root,
        env=env,
        capture_output=True,
    )
    line = proc.stderr.decode("ascii", "replace").strip().splitlines()[-1]
    assert proc.returncode == 2, line
    head, _, rest = line.partition(": cannot read policy: its folder ")
    folder = rest.split(" is a symbolic link")[0]
    assert folder and head.split("error: ")[-1].startswith(folder + "/"), line
