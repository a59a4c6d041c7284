"""Leaks the scan missed and prose it took for leaks, found by a hunter (issue 18
twenty-seventh pass), through the real CLI (`scan --staged`) in a real repository.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import hashlib
import pickle

import pytest
from conftest import ExpRepo
from test_scan_stored_hash import staged_scan

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
SHA = hashlib.sha256(PIN.encode("ascii")).hexdigest()
CLEAN = "expflow-git scan: 1 file(s) clean\n"


@pytest.fixture
def repo(committed_repo: ExpRepo) -> ExpRepo:
    """A repository with its policy committed (the scan's allow-list is HEAD's)."""
    return committed_repo


# --- prose holding a word with digits ----------------------------------------------------------
# Since the review of 79ac235 any run of four hex characters or more with a digit in a word
# of prose made the phrase a value: `sha256`, `ed25519`, a commit id.


@pytest.mark.parametrize(
    ("rel", "content"),
    [
        ("README.md", "# EXPFLOW_PIN: the PIN whose sha256 the repository secret holds\n"),
        ("README.md", "EXPFLOW_PIN: signed with ed25519 keys\n"),
        ("README.md", "EXPFLOW_PIN: see commit 3f2a1b9c for the change\n"),
        ("conf.yaml", "pin:\n  hash: computed by pin init, stored as sha256\n"),
        ("README.md", "EXPFLOW_PIN_HASH: written in 12345 steps, x86_64 only\n"),
    ],
)
def test_prose_with_digits_after_a_key_is_clean(repo: ExpRepo, rel: str, content: str) -> None:
    code, out, err = staged_scan(repo, {rel: content.encode()})
    assert (code, out, err) == (0, "", CLEAN)


@pytest.mark.parametrize(
    "line",
    [
        f"EXPFLOW_PIN: **{PIN}** (lab machine)",
        f"EXPFLOW_PIN: pin-{PIN} for CI",
        f"EXPFLOW_PIN: the code {PIN}, for now",
        f"EXPFLOW_PIN_HASH: sha256 {'ab' * 32} (not a PIN's)",
    ],
)
def test_a_pin_or_a_digest_in_prose_is_still_found(repo: ExpRepo, line: str) -> None:
    code, out, err = staged_scan(repo, {"notes.md": (line + "\n").encode()})
    assert code == 1 and ": pin-assignment: " in out, (out, err)
    assert PIN not in out + err


def test_a_pins_sha256_in_prose_is_found(repo: ExpRepo) -> None:
    code, out, err = staged_scan(repo, {"notes.md": f"EXPFLOW_PIN: see {SHA} there\n".encode()})
    assert code == 1 and ": pin-sha256: " in out, (out, err)
    assert SHA[:8] not in out + err


# --- binary data: wide text and a key's value after a few bytes --------------------------------
# A NUL byte made a file binary, read for runs of printable ASCII only: text of 16 or 32
# bits a character with no byte-order mark, and a pickle's key and value (separate runs)
# were never seen.

KEY = "EXPFLOW_" + "PIN"  # (so this file holds no assignment to it)
WIDE = ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]


@pytest.mark.parametrize("encoding", WIDE)
def test_wide_text_without_a_byte_order_mark_is_read(repo: ExpRepo, encoding: str) -> None:
    files = {
        "x.txt": f"x: {SHA}\n".encode(encoding),
        "a.env": f"{KEY}={PIN}\n".encode(encoding),
        "run.sh": f"expflow-git rm exp-1 --pin {PIN}\n".encode(encoding),
    }
    code, out, err = staged_scan(repo, files)
    rules = sorted(line.split(": ", 2)[:2][1] for line in out.splitlines())
    assert code == 1 and rules == ["pin-assignment", "pin-sha256", "pin-value"], (out, err)
    assert PIN not in out + err and SHA[:8] not in out + err


def test_wide_text_is_placed_at_its_bytes(repo: ExpRepo) -> None:
    """A finding's column counts bytes, at the token's first character's own byte."""
    data = b"\0" * 8 + f"note\nx: {SHA}\n".encode("utf-16-le")
    code, out, _ = staged_scan(repo, {"blob.bin": data})
    # line 2 begins after the `\n` byte (its NUL is the line's first byte)
    assert (code, out.split(": ")[0]) == (1, f"blob.bin:2:{1 + 1 + 2 * 3}"), out


def test_wide_text_in_a_large_binary_is_found_once(repo: ExpRepo) -> None:
    """Read both ways (a little-endian text read as big-endian too), a token is one finding."""
    text = f"x: {SHA}\n".encode("utf-16-le")
    data = bytes(range(256)) * 4096 + text + b"\x01\x00" * 100_000 + text
    code, out, _ = staged_scan(repo, {"blob.bin": data})
    assert code == 1 and out.count("pin-sha256") == 2, out


@pytest.mark.parametrize("protocol", [0, 1, 2, 4, 5])
def test_a_pickled_pin_is_found(repo: ExpRepo, protocol: int) -> None:
    data = pickle.dumps({KEY: PIN}, protocol=protocol)
    code, out, err = staged_scan(repo, {"state.pkl": data})
    assert code == 1 and f"pin-assignment: {KEY} assigned a value" in out, (out, err)
    assert PIN not in out + err


def test_a_pickled_number_in_protocol_0_and_a_bson_value_are_found(repo: ExpRepo) -> None:
    bson = b"\x16\0\0\0\x02" + KEY.encode() + b"\0\x05\0\0\0" + PIN.encode() + b"\0\0"
    files = {"a.pkl": pickle.dumps({KEY: int(PIN)}, protocol=0), "b.bson": bson}
    code, out, err = staged_scan(repo, files)
    assert code == 1 and out.count(f"pin-assignment: {KEY} assigned a value") == 2, out
    assert PIN not in out + err


@pytest.mark.parametrize(
    "data",
    [
        pickle.dumps({KEY: None, "n": 1}),
        pickle.dumps({KEY: ""}),
        pickle.dumps([KEY, "name", 12], protocol=0),
        b"\0" + KEY.encode() + b"\0\0name\0" + KEY.encode() + b"\x01\x02version 2\0",
        "\0".join(["UTF-16 strings", KEY, "the PIN for guarded commands"]).encode("utf-16-le"),
    ],
)
def test_binary_lookalikes_are_clean(repo: ExpRepo, data: bytes) -> None:
    code, out, err = staged_scan(repo, {"blob.bin": data})
    assert (code, out, err) == (0, "", CLEAN)


# --- make's `define` and a PIN written with an underscore -------------------------------------

UNDERSCORED = PIN[0] + "_" + PIN[1:]  # a TOML, YAML 1.1 or Python integer: the PIN


@pytest.mark.parametrize(
    ("rel", "content", "rule"),
    [
        ("Makefile", f"define {KEY}\n{PIN}\nendef\n", "pin-assignment"),
        ("ci.mk", f"export define {KEY} :=\n\n  {PIN}\nendef\n", "pin-assignment"),
        ("conf.toml", f"pin = {UNDERSCORED}\n", "pin-value"),
        ("conf.ini", f"[auth]\npin = {UNDERSCORED}\n", "pin-value"),
        ("conf.yaml", f"pin: {UNDERSCORED}\n", "pin-value"),
        ("conf.toml", f"[pin]\nvalue = {UNDERSCORED}\n", "pin-value"),
    ],
)
def test_a_make_define_and_an_underscored_pin_are_found(
    repo: ExpRepo, rel: str, content: str, rule: str
) -> None:
    code, out, err = staged_scan(repo, {rel: content.encode()})
    assert code == 1 and f": {rule}: " in out, (out, err)
    assert PIN not in out + err


@pytest.mark.parametrize(
    ("rel", "content"),
    [
        ("Makefile", f"define {KEY}\n$(shell cat .pin)\nendef\n"),
        ("Makefile", f"define {KEY}\nendef\n"),
        ("Makefile", "define greet\n@echo hello\nendef\n"),
        ("conf.toml", f'pin = "{UNDERSCORED}"\n'),  # a string, not four digits
        ("conf.toml", "pin = 48_210\n"),
        ("train.py", f"f(pin={UNDERSCORED})\n"),  # code: an expression
    ],
)
def test_define_and_underscore_lookalikes_are_clean(repo: ExpRepo, rel: str, content: str) -> None:
    code, out, err = staged_scan(repo, {rel: content.encode()})
    assert (code, out, err) == (0, "", CLEAN)


# --- what the scan reads stays linear (a hunt for quadratic paths, this pass) -----------------
def test_pickled_keys_read_each_run_of_text_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`EXPFLOW_PINXAAAA ` over and over (a 4-byte length that is text, ~1.1 GB): each
    key's value was matched against the text to the end of the file, so 1 MB took a
    minute in the hooks and the audit. Counted, not timed: the bytes the text pattern
    reads stay within the file's size; a pickled PIN is still found."""
    from expflow_git.pinscan import scanner
    from expflow_git.pinscan.scanner import file_class

    real = scanner._TEXT_BYTES_RE
    read: list[int] = []

    class Counted:
        def match(self, data: bytes, pos: int = 0, endpos: int | None = None) -> object:
            found = real.match(data, pos, len(data) if endpos is None else endpos)
            read.append((found.end() if found else pos) - pos)
            return found

    monkeypatch.setattr(scanner, "_TEXT_BYTES_RE", Counted())
    data = b"\0" + b"EXPFLOW_PINXAAAA " * 4000
    assert scanner.scan_content(data, file_class("blob.bin")) == []
    assert sum(read) <= 2 * len(data), sum(read)
    leaked = pickle.dumps({"EXPFLOW_PIN": PIN}, protocol=4)
    found = scanner.scan_content(leaked, file_class("env.pkl"))
    assert [f.rule for f in found] == ["pin-assignment"]


def test_a_define_followed_by_another_is_no_value_and_blanks_are_read_once(
    repo: ExpRepo,
) -> None:
    """A `define` whose first line is the next `define` was that line as the PIN's value
    (a 1 MB file of them: 26,885 findings); blanks after the name were split every way
    between two `[ \\t]*` (30 KB: 7 s). The define of a PIN is still found, blanks or
    `=` after its name."""
    body = "define EXPFLOW_PIN\n\n" * 50 + "define EXPFLOW_PIN" + " " * 40 + "\nendef\n"
    code, out, _ = staged_scan(repo, {"Makefile": body.encode()})
    assert code == 0 and out == "", out
    for head in ("define EXPFLOW_PIN   ", "define EXPFLOW_PIN =  "):
        code, out, _ = staged_scan(repo, {"leak.mk": f"{head}\n{PIN}\nendef\n".encode()})
        assert code == 1 and "pin-assignment" in out, (head, out)
