"""README.md ("Where to look") says CONTRIBUTING.md lists every module: every module of
`expflow_git/` is named in the row of CONTRIBUTING's table that holds its folder (a
top-level module in a row of its own name). No test held it, and `report/inputs.py`,
`audit/deleted.py`, `audit/folders.py` and `pinscan/written.py` went unlisted (issue 18,
twenty-fifth pass). A package's `__init__.py` is its folder's row."""

from __future__ import annotations

import re

from conftest import PROJECT

PACKAGE = PROJECT / "expflow_git"
_NAMED = re.compile(r"`([^`]+)`")


def table_rows() -> list[tuple[list[str], list[str]]]:
    """CONTRIBUTING.md's "| where | what |" table: each row's names in its first cell
    (folders without `expflow_git/`) and every name the row gives in backticks."""
    text = (PROJECT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = text[text.index("| where | what |") :].split("\n\n")[0]
    rows = []
    for line in table.splitlines()[2:]:  # after the header and the |---| line
        where, what = line.strip().strip("|").split(" | ", 1)
        places = [name.removeprefix("expflow_git/") for name in _NAMED.findall(where)]
        rows.append((places, _NAMED.findall(where) + _NAMED.findall(what)))
    return rows


def unlisted_modules() -> list[str]:
    rows = table_rows()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        folder, _, name = rel.rpartition("/")
        if folder and name == "__init__.py":
            continue
        if folder:  # named in the row of its folder (`audit/`), by its name or its path
            found = any(
                f"{folder}/" in places and (name in named or rel in named) for places, named in rows
            )
        else:
            found = any(name in places for places, _ in rows)
        if not found:
            missing.append(rel)
    return missing


def test_the_table_is_read() -> None:
    rows = table_rows()
    assert len(rows) > 20
    assert any("audit/" in places for places, _ in rows)
    assert any("cli/" in places for places, _ in rows)


def test_contributing_lists_every_module() -> None:
    assert unlisted_modules() == []
