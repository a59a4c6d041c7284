"""`install-hooks`: the plain git hooks in hooks/scripts/, for repositories without pre-commit."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from expflow_git.atomicfile import write_atomic
from expflow_git.gitstore import Git

HOOK_NAMES = ("pre-commit", "pre-merge-commit", "pre-push")
_DEFAULT_LINE = "EXPFLOW_PYTHON=${EXPFLOW_PYTHON:-}"


def hook_source_dir() -> Path:
    """The shipped hook scripts: package data beside this module, in a checkout or a wheel."""
    return Path(__file__).resolve().parent / "scripts"


def install_hooks(git: Git) -> list[tuple[str, str]]:
    """Install each hook unless one exists; returns (hook path, "installed"/"kept …")."""
    hooks_dir = Path(git.run("rev-parse", "--git-path", "hooks").decode().strip())
    if not hooks_dir.is_absolute():
        hooks_dir = git.root / hooks_dir
    # The hooks call this very installation, whatever PATH the committer has.
    python = shlex.quote(sys.executable)
    report = []
    for name in HOOK_NAMES:
        target = hooks_dir / name
        text = (hook_source_dir() / name).read_text()
        text = text.replace(_DEFAULT_LINE, "EXPFLOW_PYTHON=${EXPFLOW_PYTHON:-" + python + "}")
        if target.exists():
            same = target.read_text(errors="replace") == text
            report.append(
                (
                    str(target),
                    "kept (already installed)"
                    if same
                    else "kept: a different hook exists; merge it by hand",
                )
            )
            continue
        write_atomic(target, text.encode(), mode=0o755, overwrite=False)
        report.append((str(target), "installed"))
    return report
