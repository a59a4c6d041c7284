"""The command line (click): each command parses options, calls the library, renders and
picks the exit code. `main` is in main.py, the group in group.py (loaded on first use:
the validate and scan hooks' plain command lines never import click); command modules
load lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from expflow_git.cli.main import main

if TYPE_CHECKING:
    from expflow_git.cli.group import cli

__all__ = ["cli", "main"]


def __getattr__(name: str) -> Any:
    if name == "cli":
        from expflow_git.cli.group import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
