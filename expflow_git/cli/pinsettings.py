"""What the PIN guard takes from the process (or a test) — apart from console.py, so the
commands that never ask for a PIN (the validate hook above all) do not build its class."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PinSettings:
    """What the PIN guard takes from the process; tests pass their own as click's `obj`."""

    env: Mapping[str, str]
    interactive: bool

    @classmethod
    def from_process(cls) -> PinSettings:
        """The real environment; interactive only when stdin is a terminal."""
        stdin = sys.stdin
        return cls(env=os.environ, interactive=stdin is not None and stdin.isatty())


def pin_settings() -> PinSettings:
    """The settings a test injected into the root context, else the real process's."""
    import click

    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(PinSettings) if ctx is not None else None
    return found if found is not None else PinSettings.from_process()
