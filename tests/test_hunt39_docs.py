"""A hunt of the documentation against the code (thirty-ninth pass): what README.md,
docs/spec.md and pyproject.toml say the tool is and needs must be what it is."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import PROJECT
from test_docs_options import commands, documented

README = PROJECT / "README.md"
SPEC = PROJECT / "docs" / "spec.md"
PYPROJECT = PROJECT / "pyproject.toml"

# A run-time dependency the package does not import: `pre-commit` is the tool the quick
# start's `pre-commit install` runs (pyproject says so), never a library of expflow-git's.
NOT_IMPORTED = {"pre-commit": "the quick start's `pre-commit install`"}
# A distribution's import name where it is not the distribution's own.
IMPORT_NAME = {"ruamel.yaml": "ruamel", "jsonschema-rs": "jsonschema_rs", "GitPython": "git"}


def _dependencies() -> list[str]:
    """The distributions pyproject's `[project] dependencies` names (no tomllib on 3.10)."""
    text = PYPROJECT.read_text(encoding="utf-8")
    block = text.split("\ndependencies = [\n", 1)[1].split("\n]\n", 1)[0]
    return re.findall(r'^\s*"([A-Za-z0-9._-]+)', block, re.M)


def _imported() -> set[str]:
    """Every top-level module the package's own code imports."""
    found: set[str] = set()
    for path in (PROJECT / "expflow_git").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_every_run_time_dependency_is_one_the_code_uses() -> None:
    """pyproject installed GitPython with every copy of the tool, and spec §1 listed it
    among the "Run-time dependencies", yet no module imports it: every git read is a
    plumbing command (gitstore.py: "no GitPython objects"). A dependency nothing uses
    is only install time and a library more to trust (issue 18, thirty-ninth pass)."""
    imported = _imported()
    unused = [
        name
        for name in _dependencies()
        if name not in NOT_IMPORTED and IMPORT_NAME.get(name, name) not in imported
    ]
    assert unused == [], f"pyproject's dependencies no module imports: {unused}"


def test_the_spec_lists_the_run_time_dependencies_pyproject_has() -> None:
    """Spec §1's "Run-time dependencies:" sentence names exactly pyproject's list."""
    text = " ".join(SPEC.read_text(encoding="utf-8").split())
    sentence = re.search(r"Run-time dependencies: (.*?) \(the quick start's", text)
    assert sentence is not None, "spec §1 lists no run-time dependencies"
    named = sentence.group(1).split("), ", 1)[1]  # after git's "(… first-parent`)"
    listed = {part.strip() for part in re.split(r",| and ", named.replace(", and ", ", ")) if part}
    assert listed == set(_dependencies()), (listed, _dependencies())


@pytest.mark.parametrize("doc", ["README.md", "docs/spec.md"])
def test_a_repeatable_option_is_marked_so_in_the_synopses(doc: str) -> None:
    """A synopsis marks an option given several times with `…` after it (`[--gate G]…`,
    `[--public-key K]…`). `audit --previous-key` is repeatable (its --help: "repeatable;
    the signing key always is", for the keys a CI rotated out), but both command tables
    showed `[--previous REPORT [--previous-key PUB]]`, one key."""
    table_of, _, _ = documented(doc)
    unmarked = []
    for path, command in sorted(commands().items()):
        text = " ".join(table_of[path])
        for param in command.params:
            if not getattr(param, "multiple", False) or not param.opts[0].startswith("--"):
                continue
            option = param.opts[0]
            # `[--opt VALUE]…`, `[--opt VALUE …]…` or `--opt VALUE…` (one required, more).
            marked = re.search(rf"{re.escape(option)} [^\[\]]*?(\]…|…)", text)
            if marked is None:
                unmarked.append(f"{path} {option}")
    assert unmarked == [], f"{doc}: repeatable but not marked `…`: {unmarked}"
