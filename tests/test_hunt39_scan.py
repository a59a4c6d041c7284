"""The PIN scan, an attacker's hunt (issue 18 thirty-ninth pass), through the real CLI:
`--pin NNNN.` ending a sentence, a submodule's name under `scan` with no PATHS, and wide
text after a byte-order mark in binary data. Each failed on the code before.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
PIN_SHA = hashlib.sha256(PIN.encode()).hexdigest()
FLAG = "--" + "pin"  # (so this file holds no flag given a PIN)


def test_a_pin_flag_ending_a_sentence_is_found(exp_repo: ExpRepo) -> None:
    """`… rm exp-1 --pin NNNN.` in a README passed `scan` (staged and not) and the audit:
    the flag's PIN had to be followed by neither a word character nor `.`, where a tag's
    `pin=NNNN.` ends at a `.` before no digit (spec §5: `--pin NNNN` on a command line;
    the twenty-third pass read `pin=NNNN.` so). A decimal stays none."""
    exp_repo.write("NOTES.md", f"To undo it, run expflow-git rm exp-1 {FLAG} {PIN}.\n")
    exp_repo.write("misc.md", f"Pinned with {FLAG} {PIN[:3]}7.25 (a decimal).\n")
    exp_repo.stage("NOTES.md", "misc.md")
    for args in (["scan", "NOTES.md", "misc.md"], ["scan", "--staged", "NOTES.md", "misc.md"]):
        code, out, err = run_cli(args, cwd=exp_repo.path)
        assert_clean_output(out, err)
        assert code == 1, (args, out, err)
        assert "NOTES.md:1:" in out and "pin-value" in out, (args, out)
        assert "misc.md" not in out, (args, out)
        assert PIN not in out + err, (args, out, err)


def test_scan_without_paths_reads_a_submodules_name(exp_repo: ExpRepo, tmp_path: Path) -> None:
    """A submodule named with a PIN's SHA-256: `scan` with no PATHS said "1 file(s)
    clean", exit 0 (its folder has no content to read, and its name was never looked at),
    where `scan --staged`, `scan PATH` and the audit refuse it (spec §5: "The scan
    refuses, in any file's (or submodule's) path: … a 64-hex run equal to the SHA-256 of
    one of the 10,000 PINs")."""
    sub = tmp_path / "sub"
    sub.mkdir()
    subprocess.run(["git", "init", "-q", str(sub)], check=True)
    (sub / "f.txt").write_text("hello\n")
    exp_repo.git("-C", str(sub), "add", "f.txt")
    exp_repo.git("-C", str(sub), "commit", "-q", "-m", "sub")
    name = f"m{PIN_SHA}"
    exp_repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), name)
    assert (exp_repo.path / name).is_dir()
    for args in (["scan"], ["scan", "--staged"]):
        code, out, err = run_cli(args, cwd=exp_repo.path)
        assert_clean_output(out, err)
        assert code == 1, (args, out, err)
        assert "m****: pin-sha256: the path holds" in out, (args, out)
        assert PIN_SHA[:16] not in out + err, (args, out, err)


@pytest.mark.parametrize("mark", [b"\xff\xfe", b"\xfe\xff"])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_byte_order_mark_before_binary_data_hides_no_wide_text(
    exp_repo: ExpRepo, mark: bytes, encoding: str
) -> None:
    """Binary data is read for printable ASCII 16 or 32 bits a character, either byte
    order (spec §5), and a mark before binary data was to hide nothing (twenty-sixth
    pass); but a file that began `FF FE` (or `FE FF`) was read for its ASCII runs only,
    so the two bytes hid a PIN's SHA-256 written as UTF-32, or as UTF-16 in the other
    byte order or alignment, which the same data without them showed."""
    body = b"\x00\x01\x02junk\x00\x07" + f"x {PIN_SHA} y".encode(encoding) + b"\x00\xff\x10"
    exp_repo.write("plain.bin", body)
    exp_repo.write("marked.bin", mark + body)
    exp_repo.stage("plain.bin", "marked.bin")
    code, out, err = run_cli(["scan", "--staged", "plain.bin", "marked.bin"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert code == 1, (out, err)
    assert out.count("plain.bin:1:") == 1 and out.count("marked.bin:1:") == 1, out
    assert PIN_SHA[:16] not in out + err, (out, err)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
@pytest.mark.parametrize("order", ["le", "be"])
def test_text_with_a_mark_is_one_finding_a_token(
    exp_repo: ExpRepo, encoding: str, order: str
) -> None:
    """The fix above reads the wide text after a mark, but not the mark's own text again
    (also read a byte on in the other byte order): each token of UTF-16 or UTF-32 text
    with its mark is one finding, at its character's column, as before."""
    codec = f"{encoding}-{order}"
    mark = "\ufeff".encode(codec)
    text = f"a: 1\nsha: {PIN_SHA}\nrun: expflow-git rm x {FLAG} {PIN}\n"
    exp_repo.write("wide.txt", mark + text.encode(codec))
    code, out, err = run_cli(["scan", "wide.txt"], cwd=exp_repo.path)
    assert code == 1, (out, err)
    lines = [line for line in out.splitlines() if line.startswith("wide.txt:")]
    assert [line.split(": ")[0] for line in lines] == ["wide.txt:2:6", "wide.txt:3:29"], out


def _notebook(source: list[str], kind: str = "code") -> str:
    cell: dict[str, object] = {"cell_type": kind, "source": source, "metadata": {}}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    doc = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}
    return json.dumps(doc, indent=1) + "\n"


def test_a_notebook_cells_escapes_are_read_as_in_a_file_of_its_own(exp_repo: ExpRepo) -> None:
    """A cell's Python `"…\\u0034…"` (a digit of a PIN's SHA-256, or of the PIN after
    `--pin` or under `pin:`, written as an escape) passed the scan of a notebook, where the
    same line in a `.py` (or `.md`) file is refused: a cell is "scanned decoded" (spec §5)
    as it reads in a file of its own, but the escapes were decoded only in the file's raw
    JSON, where the cell's `\\u` is `\\\\u` (a backslash, then `\\u…`)."""
    digit = PIN_SHA[10]
    escaped_sha = f"{PIN_SHA[:10]}\\u00{ord(digit):02x}{PIN_SHA[11:]}"
    escaped_pin = f"\\u00{ord(PIN[0]):02x}{PIN[1:]}"
    cells = {
        "sha": ["x = 1\n", f'digest = "{escaped_sha}"\n'],
        "flag": [f"!expflow-git rm x {FLAG} {escaped_pin}\n"],
    }
    for name, source in cells.items():
        exp_repo.write(f"{name}.py", "".join(source))
        exp_repo.write(f"{name}.ipynb", _notebook(source))
    exp_repo.write("tag.md", f"pin: {escaped_pin}\n")
    exp_repo.write("tag.ipynb", _notebook([f"pin: {escaped_pin}\n"], "markdown"))
    names = [
        f"{n}.{ext}" for n in (*cells, "tag") for ext in ("py" if n != "tag" else "md", "ipynb")
    ]
    exp_repo.stage(*names)
    code, out, err = run_cli(["scan", "--staged", *names], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert code == 1, (out, err)
    for name in names:
        assert f"{name}:" in out, (name, out)
    assert PIN_SHA[:16] not in out + err and PIN not in out + err, (out, err)
    text = (exp_repo.path / "sha.ipynb").read_text()
    line, col = next(
        (int(p[1]), int(p[2]))
        for p in (x.split(":") for x in out.splitlines())
        if p[0] == "sha.ipynb"
    )
    assert text.splitlines()[line - 1][col - 1 :].startswith(PIN_SHA[:10]), (line, col)


def test_a_hash_with_a_short_salt_the_tool_checks_is_found(exp_repo: ExpRepo) -> None:
    """`scheme_of` takes a salt of 8 bytes or more (11 base64 characters) and checks the
    PIN against it, but the scan's format wanted 16 characters: a hand-made hash with an
    8-byte salt, as good as any for trying the 10,000 PINs, passed (spec §5: "a string in
    the tool's own hash format")."""
    from expflow_git.pin import store

    salt = b"\x01" * 8
    digest = store._scrypt(PIN, salt, 16384, 8, 1, 32)
    made = f"{store.PIN_HASH_PREFIX}n=16384,r=8,p=1${store._b64encode(salt)}"
    made += f"${store._b64encode(digest)}"
    assert store.check_pin(PIN, made)
    exp_repo.write("notes.txt", f"stored: {made}\n")
    code, out, err = run_cli(["scan", "notes.txt"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert code == 1 and "notes.txt:1:9: pin-hash-format" in out, (out, err)
    assert made[-20:] not in out + err, (out, err)


def test_a_pin_flag_before_a_file_name_is_no_sentence_end(exp_repo: ExpRepo) -> None:
    """`--pin NNNN.` ends a sentence, but `--pin 2024.txt` names a file: a `.` before a
    letter ends no PIN, as one before a digit does not (a review, issue 18 thirty-ninth
    pass)."""
    (exp_repo.path / "NOTES.md").write_text("render it with tool --pin 2024.txt --out x\n")
    code, out, err = run_cli(["scan", "NOTES.md"], exp_repo.path)
    assert code == 0, out + err
