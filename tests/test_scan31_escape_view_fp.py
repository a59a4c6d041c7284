"""The scan's escape view (a letter escape or colour code glued before a secret is a
boundary: `_escape_view`) blanked `\\n` into two blanks, so the closing quote of a
string ending in an escape was read as a value's opening quote: code writing an empty
`.env` template was flagged as assigning a value, and its commit refused (a review,
issue 18 thirty-first pass). A letter escape is now a line break in the view."""

from __future__ import annotations

import hashlib
import json

import pytest

from expflow_git.pinscan.scanner import scan_bytes

PIN = str(4000 + 821)
DIGEST = hashlib.sha256(PIN.encode()).hexdigest()

EMPTY_TEMPLATES = [
    ("a.py", 'p.write_text("EXPFLOW_PIN_HASH=\\n")\n'),
    ("a.py", 'fh.write("EXPFLOW_PIN=\\n")\n'),
    ("a.py", 'f.write("EXPFLOW_PIN:\\n")\n'),
    ("a.py", 'print("EXPFLOW_PIN_HASH=\\n", file=f)\n'),
    ("a.ts", 'const env = "EXPFLOW_PIN=\\n" + rest;\n'),
    ("a.go", 'fmt.Fprintf(w, "EXPFLOW_PIN_HASH=\\n")\n'),
    ("a.rs", 'writeln!(f, "EXPFLOW_PIN_HASH=\\t")?;\n'),
]


@pytest.mark.parametrize(("name", "text"), EMPTY_TEMPLATES)
def test_an_empty_template_ending_in_an_escape_is_clean(name: str, text: str) -> None:
    assert scan_bytes(name, text.encode()) == []


@pytest.mark.parametrize(
    "doc",
    [
        {"stdout": "stored PIN hash:\n" + DIGEST},
        {"log": "retry\n--pin " + PIN},
        {"env": "x\nEXPFLOW_" + "PIN=" + PIN},  # (spelled apart: this file is scanned too)
        {"o": "x\tpin: " + PIN},
    ],
)
def test_a_secret_glued_to_an_escape_is_still_found(doc: dict[str, str]) -> None:
    found = scan_bytes("out.json", json.dumps(doc).encode())
    assert len(found) == 1, found
