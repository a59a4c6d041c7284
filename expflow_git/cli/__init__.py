"""The command line (click): each command parses options, calls the library, renders and
picks the exit code. The group and `main` are in main.py; command modules load lazily."""

from __future__ import annotations

from expflow_git.cli.main import cli, main

__all__ = ["cli", "main"]
