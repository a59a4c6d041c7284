"""The leaked-PIN / PIN-hash scanner (docs/spec.md §5).

Every hash in this file is computed at run time, so the file holds no token a
scanner would (rightly) flag.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expflow_git.errors import Finding
from expflow_git.pin.store import PIN_HASH_PREFIX, PIN_HASH_RE
from expflow_git.pinscan.scanner import (
    PRAGMA,
    FileClass,
    Leak,
    _Family,
    _scan_binary,
    _scan_text,
    is_code_path,
    path_is_allowed,
    pin_sha256_set,
    scan_bytes,
    scan_content,
)
from expflow_git.pinscan.values import _REFERENCE_RE, Line, reference_end

PIN = "7391"
PIN_SHA = hashlib.sha256(PIN.encode()).hexdigest()
# A well-formed string in the tool's own format (the salt and hash need not be real).
FORMAT_HASH = PIN_HASH_PREFIX + "n=16384,r=8,p=1$" + "Q" * 22 + "$" + "Z" * 43
RANDOM_SHA = hashlib.sha256(b"not a pin").hexdigest()
_ALL = _Family.ALL


def pin_sha(pin: str) -> str:
    return hashlib.sha256(pin.encode()).hexdigest()


def scan(path: str, text: str, **kwargs: object) -> list[Finding]:
    return scan_bytes(path, text.encode("utf-8"), **kwargs)  # type: ignore[arg-type]


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


def assert_masked(findings: list[Finding], secret: str) -> None:
    """No finding's rendering contains the secret or any 8-character piece of it."""
    for f in findings:
        rendered = str(f)
        assert secret not in rendered
        for i in range(len(secret) - 7):
            assert secret[i : i + 8] not in rendered, rendered


def test_rule_names_are_stable() -> None:
    assert {r.value for r in Leak} == {
        "pin-hash-file",
        "pin-assignment",
        "pin-sha256",
        "pin-hash-format",
        "pin-value",
        "private-key",
    }


def test_pin_sha256_set_is_the_10000_pins() -> None:
    pins = pin_sha256_set()
    assert len(pins) == 10_000
    assert pin_sha("0000") in pins and pin_sha("9999") in pins
    assert pin_sha("12345") not in pins
    assert pin_sha256_set() is pins  # built once per process


def test_clean_file_has_no_findings() -> None:
    text = (
        '{"id": "exp-001", "params": {"model": "pinn", "spin": 1}, "git_sha": "' + "a" * 40 + '"}'
    )
    assert scan("experiments/s/exp-001.json", text) == []


# --- pin-hash-file -----------------------------------------------------------


@pytest.mark.parametrize("path", ["pin.hash", ".expflow/pin.hash", "a/b/PIN.HASH"])
@pytest.mark.parametrize("data", [b"", b"anything", b"\x00\x01binary"])
def test_pin_hash_file_any_content(path: str, data: bytes) -> None:
    findings = scan_bytes(path, data)
    assert rules(findings) == ["pin-hash-file"]
    assert (findings[0].line, findings[0].col) == (1, 1)


@pytest.mark.parametrize("path", ["pin.hash.bak", "mypin.hash", "pin.hash/readme.txt", "pin_hash"])
def test_not_a_pin_hash_file(path: str) -> None:
    assert scan_bytes(path, b"nothing here") == []


def test_pin_hash_file_also_reports_content() -> None:
    findings = scan_bytes(".expflow/pin.hash", FORMAT_HASH.encode())
    assert rules(findings) == ["pin-hash-file", "pin-hash-format"]


@pytest.mark.parametrize("template", ["notes-{}.txt", "a/{}/b.bin", "{}", "x/{}.PIN"])
def test_a_pin_digest_in_the_path_is_a_leak_named_masked(template: str) -> None:
    """A name stays in the history as content does; the finding must not print it."""
    digest = hashlib.sha256(b"0042").hexdigest()
    for spelled in (digest, digest.upper()):
        path = template.format(spelled)
        findings = scan_bytes(path, b"\x00binary: the content is not read")
        assert rules(findings) == ["pin-sha256"]
        assert findings[0].path == template.format("****")
        assert spelled not in repr(findings) and spelled[:8] not in repr(findings)


@pytest.mark.parametrize(
    "path",
    [
        f"notes-{hashlib.sha256(b'not a pin').hexdigest()}.txt",  # 64 hex, no PIN's digest
        f"a{hashlib.sha256(b'0042').hexdigest()}.txt",  # a 65-hex run is no SHA-256
        "short-0042.txt",
    ],
)
def test_other_hex_in_a_path_is_no_leak(path: str) -> None:
    assert scan_bytes(path, b"nothing here") == []


# --- pin-assignment ----------------------------------------------------------

ASSIGNMENTS = [
    (".env", "EXPFLOW_PIN=7391\n", "EXPFLOW_PIN"),
    (".env", f"EXPFLOW_PIN_HASH={RANDOM_SHA}\n", "EXPFLOW_PIN_HASH"),
    (".env", "expflow_pin_hash=opaque-value\n", "expflow_pin_hash"),
    ("run.sh", "export EXPFLOW_PIN='7391'\n", "EXPFLOW_PIN"),
    ("run.sh", 'EXPFLOW_PIN_HASH="opaque-value"\n', "EXPFLOW_PIN_HASH"),
    ("run.sh", "EXPFLOW_PIN=${EXPFLOW_PIN:-7391}\n", "EXPFLOW_PIN"),
    ("run.ps1", '$env:EXPFLOW_PIN = "7391"\n', "EXPFLOW_PIN"),
    ("Dockerfile", "ENV EXPFLOW_PIN=7391\n", "EXPFLOW_PIN"),
    ("cfg.yaml", "pin_hash: opaque-value\n", "pin_hash"),
    ("compose.yml", "services:\n  x:\n    environment:\n      - EXPFLOW_PIN=7391\n", "EXPFLOW_PIN"),
    (".github/workflows/ci.yml", "env:\n  EXPFLOW_PIN: '7391'\n", "EXPFLOW_PIN"),
    ("cfg.yaml", "pinHash: |\n  opaque-value\n", "pinHash"),
    ("cfg.json", '{"pinHash": "opaque-value"}', "pinHash"),
    ("cfg.json", '{"EXPFLOW_PIN": 7391}', "EXPFLOW_PIN"),
    ("cfg.json", '{\n  "PIN_HASH" : "opaque-value"\n}', "PIN_HASH"),
    ("cfg.toml", 'pin_hash = "opaque-value"\n', "pin_hash"),
    ("cfg.toml", "[tool]\npin.hash = 'opaque-value'\n", "pin.hash"),
    ("cfg.toml", '"pinhash" = "opaque-value"\n', "pinhash"),
    ("train.py", 'PIN_HASH = "opaque-value"\n', "PIN_HASH"),
    ("train.py", 'os.environ["EXPFLOW_PIN"] = "7391"\n', "EXPFLOW_PIN"),
    ("train.py", "EXPFLOW_PIN = 7391\n", "EXPFLOW_PIN"),
    ("notes.txt", "# EXPFLOW_PIN=7391 (commented out is still committed)\n", "EXPFLOW_PIN"),
]


@pytest.mark.parametrize(("path", "text", "key"), ASSIGNMENTS)
def test_pin_assignment_found(path: str, text: str, key: str) -> None:
    findings = scan(path, text)
    assert rules(findings) == ["pin-assignment"]
    assert findings[0].message == f"{key} assigned a value (masked)"
    assert_masked(findings, "opaque-value")
    assert all("7391" not in str(f) for f in findings)


NOT_ASSIGNMENTS = [
    (".env", "EXPFLOW_PIN=\n"),
    (".env", "EXPFLOW_PIN_HASH=\r\n"),
    (".env", 'EXPFLOW_PIN=""\n'),
    (".env", "EXPFLOW_PIN=''  # set in CI\n"),
    (".env", "EXPFLOW_PIN_HASH= # comment\n"),
    ("run.sh", "export EXPFLOW_PIN\nunset EXPFLOW_PIN_HASH\n"),
    ("run.sh", "echo $EXPFLOW_PIN\n"),
    ("run.sh", "EXPFLOW_PIN=$EXPFLOW_PIN\n"),
    ("run.sh", 'EXPFLOW_PIN="${EXPFLOW_PIN}"\n'),
    ("run.sh", "EXPFLOW_PIN=${EXPFLOW_PIN:-}\n"),
    ("run.sh", "EXPFLOW_PIN=$(cat ~/.secret)\n"),
    ("run.cmd", "set EXPFLOW_PIN=%PIN%\n"),
    ("run.sh", "EXPFLOW_PIN_HASH_FILE=/tmp/x\nMY_EXPFLOW_PIN=7391\n"),
    ("run.sh", "PIN_FILE=~/.expflow/pin.hash\ncp a ~/.expflow/pin.hash\n"),
    (".github/workflows/ci.yml", "env:\n  EXPFLOW_PIN: ${{ secrets.EXPFLOW_PIN }}\n"),
    (".github/workflows/ci.yml", 'env:\n  EXPFLOW_PIN_HASH: "${{ secrets.PIN_HASH }}"\n'),
    ("cfg.yaml", 'pin_hash: ""\n'),
    ("cfg.yaml", "pin_hash: null\npinHash: ~\nPIN_HASH:\n"),
    ("cfg.yaml", "pin_hash: # filled in later\n"),
    ("cfg.yaml", "pin_hash: {}\npinHash: []\n"),
    ("cfg.yaml", "pin_hash: |\nnext: 1\n"),
    ("chart.yaml", "pin_hash: {{ .Values.pinHash }}\n"),
    ("cfg.yaml", "pin_hash: *anchor\n"),
    ("cfg.json", '{"pinHash": null, "pin_hash": "", "EXPFLOW_PIN": false}'),
    ("cfg.toml", 'pin_hash = ""\n'),
    ("guard.py", "pin_hash = hash_pin(pin)\nif pin_hash == stored: pass\n"),
    ("guard.py", 'pin_hash = os.environ.get("EXPFLOW_PIN_HASH", "")\n'),
    ("guard.py", "pin_hash: str | None = None\n"),
    ("README.md", "Set `EXPFLOW_PIN` in the environment.\n"),
]


@pytest.mark.parametrize(("path", "text"), NOT_ASSIGNMENTS)
def test_pin_assignment_not_found(path: str, text: str) -> None:
    assert scan(path, text) == []


# --- pin-sha256 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "template"),
    [
        (".env", "LEGACY={}\n"),
        ("run.sh", "echo '{}' > out\n"),
        ("cfg.yaml", "digest: {}\n"),
        ("cfg.json", '{{"digest": "{}"}}'),
        ("cfg.toml", 'digest = "{}"\n'),
        ("notes.txt", "sha256:{}\n"),
        ("notes.txt", "https://example.org/blob/{}/x\n"),
        ("notes.txt", "literal 0x{}\n"),
    ],
)
def test_pin_sha256_found(path: str, template: str) -> None:
    text = template.format(PIN_SHA)
    findings = scan(path, text)
    assert rules(findings) == ["pin-sha256"]
    assert findings[0].col == text.index(PIN_SHA) + 1
    assert_masked(findings, PIN_SHA)


def test_pin_sha256_uppercase_and_mixed_case_found() -> None:
    upper = pin_sha("0000").upper()
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(pin_sha("9999")))
    findings = scan("x.txt", f"{upper}\n{mixed}\n")
    assert rules(findings) == ["pin-sha256", "pin-sha256"]
    assert [(f.line, f.col) for f in findings] == [(1, 1), (2, 1)]
    assert_masked(findings, upper)
    assert_masked(findings, mixed)


@pytest.mark.parametrize(
    "text",
    [
        PIN_SHA + "0",  # 65 hex characters: part of a longer token
        "f" + PIN_SHA,
        "ab" + PIN_SHA + "cd",
        "g" + PIN_SHA,  # glued to a word character
        PIN_SHA + "_x",
        "_" + PIN_SHA,
        "10x" + PIN_SHA,  # `0x` only counts as a prefix when it starts a token
        PIN_SHA[:63],
        pin_sha("12345"),  # five digits is not a PIN
        pin_sha("abcd"),
        hashlib.sha1(PIN.encode()).hexdigest(),
        RANDOM_SHA,
    ],
)
def test_pin_sha256_not_a_token(text: str) -> None:
    assert scan("x.txt", f"value: {text}\n") == []


@settings(max_examples=300)
@given(st.binary(min_size=32, max_size=32).map(lambda b: hashlib.sha256(b).hexdigest()))
def test_random_sha256_never_flagged(digest: str) -> None:
    if digest in pin_sha256_set():  # about 1 in 2**240; keep the property honest anyway
        return
    for text in (digest, digest.upper(), f'{{"sha256": "{digest}"}}', f"x={digest}\n"):
        assert scan("f.json", text) == []


@settings(max_examples=100)
@given(st.integers(0, 9999), st.sampled_from([".env", "a.json", "b.yaml", "c.py", "d"]))
def test_every_pin_sha256_is_found(n: int, path: str) -> None:
    digest = pin_sha(f"{n:04d}")
    findings = scan(path, f"x: {digest}\n")
    assert rules(findings) == ["pin-sha256"]
    assert_masked(findings, digest)


# --- pin-hash-format ---------------------------------------------------------


def test_format_hash_fixture_matches_the_tool_format() -> None:
    assert PIN_HASH_RE.fullmatch(FORMAT_HASH)


@pytest.mark.parametrize(
    "template",
    ["{}\n", "stored = '{}'\n", '{{"h": "{}"}}', "x: {}\n", "prefix text {} suffix\n"],
)
def test_pin_hash_format_found(template: str) -> None:
    text = template.format(FORMAT_HASH)
    findings = scan("any.txt", text)
    assert rules(findings) == ["pin-hash-format"]
    assert findings[0].col == text.index(FORMAT_HASH) + 1
    assert_masked(findings, FORMAT_HASH)
    assert_masked(findings, "Q" * 22)
    assert_masked(findings, "Z" * 43)


@pytest.mark.parametrize(
    "text", [PIN_HASH_PREFIX, PIN_HASH_PREFIX + "n=1$short$short", "expflow$bcrypt$x$y"]
)
def test_pin_hash_format_not_found(text: str) -> None:
    assert scan("any.txt", text + "\n") == []


# --- pin-value ---------------------------------------------------------------

PIN_VALUES = [
    ("cfg.yaml", "pin: 7391\n"),
    ("cfg.yaml", 'pin: "7391"\n'),
    ("cfg.yaml", "user:\n  PIN: '7391'  # oops\n"),
    ("cfg.yaml", "pin: 0042\n"),
    ("cfg.json", '{"pin": "7391"}'),
    ("cfg.json", '{"pin":7391}'),
    ("cfg.json", '{\n  "Pin": 7391,\n  "x": 1\n}'),
]


@pytest.mark.parametrize(("path", "text"), PIN_VALUES)
def test_pin_value_found(path: str, text: str) -> None:
    findings = scan(path, text)
    assert rules(findings) == ["pin-value"]
    digits = "0042" if "0042" in text else "7391"
    line_no = text[: text.index(digits)].count("\n") + 1
    line_start = text.rfind("\n", 0, text.index(digits)) + 1
    assert (findings[0].line, findings[0].col) == (line_no, text.index(digits) - line_start + 1)
    assert all(digits not in str(f) for f in findings)


@pytest.mark.parametrize(
    "text",
    [
        "pin: 739\n",
        "pin: 73910\n",
        "pin: abcd\n",
        "pin: 73.9\n",
        'pin: "\u0661\u0662\u0663\u0664"\n',  # Arabic-Indic digits are not a PIN
        "pin: \u00b2\u00b3\u00b9\u2074\n",
        "spin: 7391\n",
        "pin_code: 7391\n",
        "x-pin: 7391\n",
        "pin:73910\n",  # not a YAML mapping (no space after the colon), nor a PIN tag
        "pin: ${{ secrets.PIN }}\n",
        "pin: $PIN\n",
        "pin:\n",
        'pin == "7391"\n',  # a comparison (`pin = "NNNN"`, TOML's and INI's, is a PIN)
        "--pin 73910\n",
        "--pin abcd\n",
        "--pinned 7391\n",
        "x--pin 7391\n",
    ],
)
def test_pin_value_not_found(text: str) -> None:
    assert scan("cfg.yaml", text) == []


# --- one finding per token ---------------------------------------------------


def test_assignment_of_a_pin_sha_is_reported_once_as_pin_sha256() -> None:
    for text in (f"EXPFLOW_PIN_HASH={PIN_SHA}\n", f'{{"pinHash": "{PIN_SHA}"}}'):
        findings = scan("f.env", text)
        assert rules(findings) == ["pin-sha256"]
        assert findings[0].col == text.index(PIN_SHA) + 1


def test_assignment_of_a_format_hash_is_reported_once_as_pin_hash_format() -> None:
    findings = scan("cfg.yaml", f"pin_hash: '{FORMAT_HASH}'\n")
    assert rules(findings) == ["pin-hash-format"]


def test_several_findings_sorted_by_position_and_deterministic() -> None:
    text = (
        f'{{"pin": "7391", "pinHash": "opaque", "d": "{PIN_SHA}"}}\n'
        f"EXPFLOW_PIN=1111\n"
        f"{FORMAT_HASH}\n"
    )
    first = scan("mixed.txt", text)
    assert first == scan("mixed.txt", text)
    assert rules(first) == [
        "pin-value",
        "pin-assignment",
        "pin-sha256",
        "pin-assignment",
        "pin-hash-format",
    ]
    line1 = text.splitlines()[0]
    assert [(f.line, f.col) for f in first] == [
        (1, 10),
        (1, line1.index("opaque") + 1),
        (1, line1.index(PIN_SHA) + 1),
        (2, 13),
        (3, 1),
    ]


# --- pragma ------------------------------------------------------------------


def test_pragma_exempts_its_own_line_only() -> None:
    text = (
        f"EXPFLOW_PIN_HASH={PIN_SHA}  # {PRAGMA}\n"
        f"# {PRAGMA}\n"
        f"pin: 7391\n"
        f'{{"fixture": "{FORMAT_HASH}", "pinHash": "x"}} // {PRAGMA} (test fixture)\n'
    )
    findings = scan("f.yaml", text)
    assert rules(findings) == ["pin-value"]
    assert findings[0].line == 3


def test_pragma_does_not_exempt_a_pin_hash_file() -> None:
    assert rules(scan("pin.hash", f"{PIN_SHA} {PRAGMA}\n")) == ["pin-hash-file"]


# --- allow globs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.json", "a.json", True),
        ("*.json", "dir/a.json", False),  # `*` does not cross '/'
        ("**/*.json", "a.json", True),  # `**/` matches zero directories
        ("**/*.json", "d/e/a.json", True),
        ("tests/fixtures/**", "tests/fixtures/a/b.lock", True),
        ("tests/fixtures/**", "tests/other/b.lock", False),
        ("data/**/raw.csv", "data/raw.csv", True),
        ("data/**/raw.csv", "data/x/y/raw.csv", True),
        ("data/**/raw.csv", "data/xraw.csv", False),
        ("a?c.txt", "abc.txt", True),
        ("a?c.txt", "a/c.txt", False),
        ("[ab].txt", "b.txt", True),
        ("[!ab].txt", "b.txt", False),
        ("[!ab].txt", "c.txt", True),
        ("./vendor/*.bin", "vendor/x.bin", True),
        ("/vendor/*.bin", "vendor/x.bin", True),
        ("a.json", "a.json", True),
        ("a.json", "ba.json", False),
        ("a.json", "sub/a.json", False),  # anchored at the repository root
        ("v1.0/*", "v1x0/a", False),  # `.` is literal
    ],
)
def test_path_is_allowed(pattern: str, path: str, expected: bool) -> None:
    assert path_is_allowed(path, [pattern]) is expected


def test_allow_exempts_matching_files_entirely() -> None:
    data = f"pin: 7391\n{PIN_SHA}\n".encode()
    allow = ["tests/fixtures/**", "**/pin.hash"]
    assert scan_bytes("tests/fixtures/leak.lock", data, allow=allow) == []
    assert scan_bytes("secrets/pin.hash", data, allow=allow) == []
    assert rules(scan_bytes("src/leak.lock", data, allow=allow)) == ["pin-value", "pin-sha256"]


# --- binary and encodings ----------------------------------------------------


def test_binary_with_nul_in_first_8k_is_read_for_its_ascii_tokens_only() -> None:
    # A PIN's SHA-256 is found at the file's own line and byte column; the `pin` key
    # rules are not read in binary data.
    data = b"\x89PNG\r\n\x1a\n\x00\x00" + f"pin: 7391\n{PIN_SHA}\n".encode()
    findings = scan_bytes("img.png", data)
    assert [(f.rule, f.line, f.col) for f in findings] == [("pin-sha256", 4, 1)]


def test_nul_after_8k_is_still_text() -> None:
    data = b"x" * 9000 + b"\x00\n" + PIN_SHA.encode()
    findings = scan_bytes("big.txt", data)
    assert rules(findings) == ["pin-sha256"]
    assert (findings[0].line, findings[0].col) == (2, 1)


def test_non_utf8_text_is_scanned_as_latin1() -> None:
    data = "caf\u00e9 = 1\nnaïve: ".encode("latin-1") + PIN_SHA.encode() + b"\n"
    findings = scan_bytes("legacy.txt", data)
    assert rules(findings) == ["pin-sha256"]
    assert (findings[0].line, findings[0].col) == (2, 8)


def test_utf16_with_bom_is_scanned() -> None:
    data = f"EXPFLOW_PIN_HASH={PIN_SHA}\r\n".encode("utf-16")
    findings = scan_bytes("out.txt", data)
    assert rules(findings) == ["pin-sha256"]
    assert (findings[0].line, findings[0].col) == (1, 18)


def test_utf32_with_bom_is_scanned_and_utf16_starting_with_nul_stays_utf16() -> None:
    for encoding in ("utf-32", "utf-32-le", "utf-32-be"):
        bom = "" if encoding == "utf-32" else "\ufeff"
        findings = scan_bytes("out.txt", (bom + f"a: 1\nh: {PIN_SHA}\r\n").encode(encoding))
        assert [(f.rule, f.line, f.col) for f in findings] == [("pin-sha256", 2, 4)], encoding
    # `FF FE 00 00` also begins UTF-16-LE text whose first character is NUL: a length
    # that is no multiple of four is UTF-16
    data = ("\ufeff\0" + f"hh: {PIN_SHA}\n").encode("utf-16-le")
    assert len(data) % 4 == 2
    assert [(f.rule, f.line, f.col) for f in scan_bytes("out.txt", data)] == [("pin-sha256", 1, 6)]


# --- positions ---------------------------------------------------------------


def test_columns_count_characters_not_bytes() -> None:
    text = f'{{"name": "na\u00efve \u6f22\u5b57 \U0001f600", "d": "{PIN_SHA}"}}'
    findings = scan("u.json", text)
    assert (findings[0].line, findings[0].col) == (1, text.index(PIN_SHA) + 1)


def test_crlf_tabs_and_bom() -> None:
    data = b"\xef\xbb\xbf" + f"a: 1\r\n\tpin: 7391\r\n\r\nb: {PIN_SHA}\r\n".encode()
    findings = scan_bytes("w.yaml", data)
    assert [(f.rule, f.line, f.col) for f in findings] == [
        ("pin-value", 2, 7),
        ("pin-sha256", 4, 4),
    ]


def test_rendered_finding_shape() -> None:
    (finding,) = scan("conf/app.env", f"\n\nEXPFLOW_PIN_HASH={PIN_SHA}\n")
    assert str(finding) == (
        "conf/app.env:3:18: pin-sha256: "
        "leaked SHA-256 of a 4-digit PIN (64 hex chars, masked: ****)"
    )


# --- robustness --------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "pin",
        "PIN",
        "pin_hash",
        "pinHash",
        "pin.hash",
        "EXPFLOW_PIN",
        "EXPFLOW_PIN_HASH",
        "\u017fpin",
        "p\u0131n: ",  # Unicode case folding must not reach keys the bytes filter misses
        "pin_ha\u017fh=",
        "EXPFLOW_P\u0130N=",
        '"pin": ',
        "pin_hash: ",
        "EXPFLOW_PIN=",
        ":",
        ": ",
        "=",
        " = ",
        '"',
        "'",
        "]",
        "|",
        ">-",
        "\n",
        "\r\n",
        "  ",
        "\t",
        "#",
        "7391",
        "${{ secrets.X }}",
        "$X",
        "${X:-",
        "}",
        "{",
        "0x",
        PIN_SHA,
        PIN_SHA.upper(),
        RANDOM_SHA,
        FORMAT_HASH,
        PIN_HASH_PREFIX,
        PRAGMA,
        "null",
        "\u00e9",
        "\ufeff",
        # issue 14: nested keys, the --pin flag, private keys
        "pin:\n  ",
        "hash: ",
        "value: ",
        "[pin]\n",
        '"pin": {',
        "--pin ",
        "--pin=",
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\n",
        "-----END RSA PRIVATE KEY-----",
        "\\n",
        # issue 18 twenty-second pass: keys as YAML emitters write them, values below
        # their keys, the format with its `$` escaped, `--pin` with escaped quotes
        "\n\n  ",
        "\\n\\\n  ",
        "\\r\\\n  \\n",
        "-----END RSA PRIVATE\\\n  \\ KEY-----",
        "-----BEGIN RSA PRIVATE\\\n  \\ KEY-----\n",
        "EXPFLOW_PIN:\n  ",
        "- ",
        " &a",
        "  # c\n",
        FORMAT_HASH.replace("$", "$$"),
        FORMAT_HASH.replace("$", "\\$"),
        '--pin \\"',
    ]
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=5)), max_size=30).map("".join),
    st.sampled_from(["a.yaml", "b.json", "c.py", ".env", "d.toml", "pin.hash"]),
)
def test_prefilter_never_hides_a_finding(text: str, path: str) -> None:
    # The bytes pre-filter is an optimisation only: scanning with it (scan_bytes)
    # must equal scanning the decoded text rule by rule.
    direct = [
        replace(f, path=path) for f in _scan_text(text.removeprefix("\ufeff"), is_code_path(path))
    ]
    data = text.encode("utf-8")
    via_bytes = [f for f in scan_bytes(path, data) if f.rule != "pin-hash-file"]
    if "\x00" in text:  # binary: its ASCII tokens, every family read
        assert via_bytes == [replace(f, path=path) for f in _scan_binary(data, families=_ALL)]
    else:
        assert via_bytes == direct


_REFERENCE_PARTS = [
    "$",
    "{",
    "{{",
    "}",
    "}}",
    "(",
    ")",
    ":",
    "-",
    "?",
    "%",
    "*",
    "x",
    "AB",
    " ",
    "\r",
    "env",
    "$(",
    "${",
    "${{",
    "#",
    ",",
]


@settings(max_examples=2000)
@given(st.lists(st.sampled_from(_REFERENCE_PARTS), min_size=1, max_size=10).map("".join))
def test_reference_end_is_the_reference_regex(text: str) -> None:
    # The hand-written matcher (linear per line) ends where the regex's match would.
    line = Line(text).at(0)
    if line.end == 0:
        return
    expected = _REFERENCE_RE.match(text[: line.end])
    assert reference_end(text, 0, line.end, line) == (expected.end() if expected else None)


@settings(max_examples=500)
@given(st.binary(max_size=2048), st.sampled_from(["a.json", "b.yaml", "pin.hash", "x.py", "c"]))
def test_scan_bytes_never_raises(data: bytes, path: str) -> None:
    findings = scan_bytes(path, data)
    assert all(isinstance(f, Finding) and f.line is not None and f.col for f in findings)


@settings(max_examples=200)
@given(
    st.lists(
        st.one_of(_FRAGMENTS, st.binary(max_size=4).map(lambda b: b.decode("latin-1"))), max_size=40
    )
)
def test_scan_bytes_never_raises_on_suspicious_bytes(parts: list[str]) -> None:
    data = "".join(parts).encode("utf-8", errors="surrogatepass")
    scan_bytes("f.yaml", data)
    scan_bytes("f.yaml", b"\xff\xfe" + data)
    scan_bytes("f.yaml", data + b"\xff")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=4)), max_size=8), max_size=4),
    st.booleans(),
)
def test_notebooks_never_raise_and_point_into_the_file(
    cells: list[list[str]], ascii_only: bool
) -> None:
    import json

    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "source": source}
            for source in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    raw = json.dumps(nb, indent=1, ensure_ascii=ascii_only)
    data = raw.encode("utf-8", "surrogatepass")
    lines = raw.split("\n")
    for f in scan_bytes("n.ipynb", data):
        assert f.line is not None and f.col is not None
        assert 1 <= f.line <= len(lines) and 1 <= f.col <= len(lines[f.line - 1]) + 1


# ----------------------------------------------------------------------------- large files
# Files over 8 MiB were skipped whole: a PIN hash in a big log was committed (an
# attacker's hunt). They are read in parts now, each with its neighbours' edges.

_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXQAAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def _large_text(seed: int) -> bytes:
    """Lines of filler with leaks of every kind among them, some lines longer than a
    part, some not ASCII."""
    r = random.Random(seed)
    digests = [hashlib.sha256(b"%04d" % i).hexdigest() for i in range(20)]
    out = []
    for i in range(r.randint(200, 3000)):
        k = r.random()
        if k < 0.01:
            out.append(f"log {i} hash {r.choice(digests)} end\n")
        elif k < 0.015:
            out.append(_KEY)
        elif k < 0.02:
            out.append("pin:\n  value: 4821\n")
        elif k < 0.025:
            out.append(f"run --pin {r.randint(1000, 9999)} x\n")
        elif k < 0.03:
            out.append("é" * r.randint(1, 50) + f" pin_hash={r.choice(digests)}\n")
        elif k < 0.031:
            out.append("x" * r.randint(3000, 9000) + f" {r.choice(digests)} " + "y" * 100 + "\n")
        else:
            out.append("x" * r.randint(0, 120) + "\n")
    return "".join(out).encode()


@pytest.mark.parametrize("seed", range(12))
def test_a_large_file_read_in_parts_finds_what_one_read_finds(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts of a few KiB (the file's own lines up to 9 KB: cut mid-line too) give the
    findings, lines and columns of one read of the whole file."""
    from expflow_git.pinscan import scanner

    data = _large_text(seed)
    chunk, overlap = [(2000, 500), (5000, 1200), (3000, 700), (20000, 4000)][seed % 4]
    monkeypatch.setattr(scanner, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(scanner, "OVERLAP_BYTES", overlap)
    assert len(data) > chunk
    for cls in (FileClass.TEXT, FileClass.CODE):
        whole = sorted(scanner._scan_decoded(data, cls), key=lambda f: (f.line, f.col, f.rule))
        parts = scan_content(data, cls)
        assert len(whole) > 0
        assert [(f.line, f.col, f.rule, f.message) for f in parts] == [
            (f.line, f.col, f.rule, f.message) for f in whole
        ]


@pytest.mark.parametrize("seed", range(8))
def test_a_large_binary_read_in_parts_finds_what_one_read_finds(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Binary data (its ASCII tokens) read in parts: the findings, lines and byte columns
    of one read of the whole."""
    from expflow_git.pinscan import scanner

    r = random.Random(seed)
    pieces = [b"\0"]
    for line in _large_text(seed).splitlines(keepends=True):
        pieces.append(line)
        if r.random() < 0.3:
            pieces.append(r.randbytes(r.randint(0, 40)))
        if r.random() < 0.01:
            pieces.append(b"\0EXPFLOW_PIN=%d\0" % r.randint(1000, 9999))
    data = b"".join(pieces)
    chunk, overlap = [(2000, 500), (5000, 1200), (3000, 700), (20000, 4000)][seed % 4]
    whole = scanner._scan_binary(data)
    monkeypatch.setattr(scanner, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(scanner, "OVERLAP_BYTES", overlap)
    assert len(data) > chunk and len(whole) > 0
    for cls in (FileClass.TEXT, FileClass.CODE):
        assert [(f.line, f.col, f.rule, f.message) for f in scan_content(data, cls)] == [
            (f.line, f.col, f.rule, f.message) for f in whole
        ]


def test_a_file_over_8_mib_is_scanned() -> None:
    filler = ("x" * 99 + "\n").encode() * 90_000  # 9 MB
    data = filler + f"pin_hash: {PIN_SHA}\n".encode() + _KEY.encode() + filler
    found = scan_content(data, FileClass.TEXT)
    assert [(f.line, f.col, f.rule) for f in found] == [
        (90_001, 11, "pin-sha256"),  # (the digest itself; the assignment overlapping it not)
        (90_002, 1, "private-key"),
    ], found


def test_a_line_of_many_make_tests_reads_its_head_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each `!=` key matched the line's make head again from the line's start: a line of
    `export`s and n keys was read n times (640 KB took a minute; a review). The head is
    read once a line: counted here, as no test may time it."""
    from expflow_git.pinscan import scanner, values

    real = values._MAKE_HEAD_RE
    calls: list[int] = []

    class Counting:
        def match(self, text: str, pos: int, endpos: int) -> object:
            calls.append(pos)
            return real.match(text, pos, endpos)

    monkeypatch.setattr(values, "_MAKE_HEAD_RE", Counting())
    text = "export " * 200 + "EXPFLOW_PIN != x " * 300 + "\n"
    assert scanner.scan_content(text.encode()) == []
    assert len(calls) == 1, len(calls)
