"""Folders shipped with the package: inside the wheel, or at the checkout's root."""

from __future__ import annotations

from pathlib import Path

from expflow_git.errors import ExpflowError


def bundled_dir(name: str, marker: str) -> Path:
    """`expflow_git/<name>` in an installed wheel, else `<name>` beside the package
    (a source checkout or an editable install); `marker` is a file it must hold."""
    here = Path(__file__).resolve().parent
    for candidate in (here / name, here.parent / name):
        if (candidate / marker).is_file():
            return candidate
    raise ExpflowError(
        f"bundled {name} are missing (looked in {here / name}); reinstall expflow-git"
    )
