"""A correction read back from a report's entry (`report FILE`) has the path the file has:
the entry spells a backslash doubled and a byte that is not UTF-8 as `\\udcff`
(`errors.path_text`), and `Correction.from_entry` kept that spelling, so `report FILE`
showed `corrections/a\\\\b.json` where the audit showed `corrections/a\\b.json`, doubled
again on display (a fixer's note, issue 18 twenty-ninth pass)."""

from __future__ import annotations

import pytest

from expflow_git.corrections import Correction
from expflow_git.escape import terminal_path


@pytest.mark.parametrize("path", ["corrections/a\\b.json", "corrections/c\udcff.json", "c/d.json"])
def test_a_correction_from_its_entry_has_the_files_path(path: str) -> None:
    doc = {
        "experiment": "r1",
        "supersedes": "a" * 40,
        "blob": None,
        "reason": "withdrawn",
        "author": {"name": "A", "email": "a@example.org"},
        "time": "2026-01-01T00:00:00Z",
    }
    correction = Correction.from_json(path, doc)
    back = Correction.from_entry(correction.entry())
    assert back == correction
    assert terminal_path(back.path) == terminal_path(path)
