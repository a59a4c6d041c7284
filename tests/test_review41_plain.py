"""Review of the plain scan hook and the lazy patterns (issue 18, forty-first pass).

The commit that moved `scan`'s body to `cli/scanning.py` and added `lazyre.py` left
CONTRIBUTING.md's module table without either (README: "CONTRIBUTING.md lists every
module"; test_contributing failed), and the cli row still said the plain command line
was validate's only."""

from __future__ import annotations

from conftest import PROJECT


def _contributing_row(folder: str) -> str:
    text = (PROJECT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    rows = [row for row in text.splitlines() if row.startswith(f"| `{folder}")]
    assert len(rows) == 1, rows
    return rows[0]


def test_contributing_names_the_scan_hooks_plain_body() -> None:
    row = _contributing_row("expflow_git/cli/")
    assert "`scanning.py`" in row
    assert "validate and scan hooks' plain command lines" in row


def test_contributing_names_the_lazy_patterns_module() -> None:
    text = (PROJECT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "`lazyre.py`" in text


def test_the_cli_docstrings_name_both_plain_hooks() -> None:
    import importlib

    for name in ("expflow_git.cli", "expflow_git.cli.main"):
        doc = importlib.import_module(name).__doc__
        assert doc is not None
        assert "validate and scan hooks' plain command lines" in " ".join(doc.split())
