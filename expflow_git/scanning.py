"""`scan`: gather the files to scan (given paths, or every tracked file) and scan them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from expflow_git.errors import ExpflowError, Finding
from expflow_git.pinscan import scan_bytes
from expflow_git.validate import Workspace, walk_files

MAX_SCAN_BYTES = 8 * 1024 * 1024  # larger files are data dumps, not config: skipped


def scan_paths(
    ws: Workspace, paths: Sequence[str], *, warn: Callable[[str], None]
) -> tuple[list[Finding], int]:
    """Scan `paths` (or every tracked file); returns findings and the number of files read."""
    allow = _allow_list(ws, warn)
    targets: list[Path] = []
    for p in paths:
        if os.path.isdir(p):
            targets.extend(Path(p) / rel for rel in walk_files(Path(p)))
        else:
            targets.append(Path(p))
    if not paths:
        targets = [ws.root / rel for rel in ws.tracked_paths()]
    findings: list[Finding] = []
    count = 0
    for full in targets:
        if full.is_symlink() or not full.is_file():
            continue
        if full.stat().st_size > MAX_SCAN_BYTES:
            warn(f"{ws.rel(full)}: skipped, larger than {MAX_SCAN_BYTES} bytes")
            continue
        count += 1
        findings.extend(scan_bytes(ws.rel(full), full.read_bytes(), allow=allow))
    return findings, count


def _allow_list(ws: Workspace, warn: Callable[[str], None]) -> tuple[str, ...]:
    """The policy's scan.allow globs; a missing or broken policy narrows nothing."""
    if not ws.policy_path.exists():
        return ()
    try:
        return ws.load_policy().scan_allow
    except ExpflowError as exc:
        warn(f"warning: policy not used for the scan allow-list: {exc.message}")
        return ()
