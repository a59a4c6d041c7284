"""A finding's path is shown one name to one spelling (issue 18, twenty-ninth pass).

The text and md forms showed a byte that is not UTF-8 as `\\xff` but a backslash as it
is, so a file named with the bytes 0xff 0xfe and one literally named `\\xff\\xfe.json`
were the same line, and `back\\slash.json` showed one backslash where the report spells
two. A backslash is doubled now, as the report spells it.
"""

from __future__ import annotations

import os
from pathlib import Path

from conftest import CliCall, ExpRepo

from expflow_git import escape
from expflow_git.errors import Finding

NAMES = (b"\xff\xfe.json", b"\\xff\\xfe.json", b"back\\slash.json")
SHOWN = (
    "experiments/s/\\xff\\xfe.json:1:2: invalid-json",
    "experiments/s/\\\\xff\\\\xfe.json:1:2: invalid-json",
    "experiments/s/back\\\\slash.json:1:2: invalid-json",
)


def _look_alikes(repo: ExpRepo) -> None:
    folder = os.fsencode(str(repo.path / "experiments" / "s"))
    os.makedirs(folder, exist_ok=True)
    for name in NAMES:
        Path(os.fsdecode(folder + b"/" + name)).write_bytes(b"{")
    repo.commit("look-alike names")


def _finding_lines(out: str) -> list[str]:
    return sorted(ln.strip() for ln in out.splitlines() if "invalid-json" in ln)


def test_terminal_path_doubles_a_backslash_only() -> None:
    assert escape.terminal_path("a/b.json") == "a/b.json"
    assert escape.terminal_path("a\\b.json") == "a\\\\b.json"
    assert escape.terminal_path(os.fsdecode(b"\xff\xfe.json")) == "\\xff\\xfe.json"
    assert escape.terminal_path("\\xff\\xfe.json") == "\\\\xff\\\\xfe.json"
    assert escape.terminal_path("x\n.json") == "x\\x0a.json"
    assert Finding("a\\b.json", "r", "m", "/p").location() == "a\\\\b.json#/p"


def test_look_alike_names_are_three_lines_in_text_and_md(exp_repo: ExpRepo, cli: CliCall) -> None:
    _look_alikes(exp_repo)
    audited = cli(["audit", "--no-cache"], exp_repo.path)
    assert audited.code == 1, audited.err
    lines = _finding_lines(audited.out)
    assert len(set(lines)) == 3, lines
    assert all(any(ln.startswith(s) for ln in lines) for s in SHOWN), lines
    md = cli(["audit", "--no-cache", "--format", "md"], exp_repo.path)
    spans = sorted(ln.split("`")[1] for ln in md.out.splitlines() if "invalid-json" in ln)
    assert spans == sorted(s.split(": ")[0] for s in SHOWN), md.out
    validated = cli(["validate"], exp_repo.path)
    assert validated.code == 1
    shown = _finding_lines(validated.out + validated.err)
    assert len(set(shown)) == 3, shown


def test_a_report_shows_the_paths_as_the_audit_does(
    exp_repo: ExpRepo, cli: CliCall, tmp_path: Path
) -> None:
    _look_alikes(exp_repo)
    out = tmp_path / "report.json"
    audited = cli(["audit", "--no-cache", "--out", str(out)], exp_repo.path)
    shown = cli(["report", str(out)], exp_repo.path)
    assert (audited.code, shown.code) == (1, 0), shown.err
    assert _finding_lines(shown.out) == _finding_lines(audited.out)
    assert len(set(_finding_lines(shown.out))) == 3
