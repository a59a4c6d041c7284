"""What `scan` does once its command line is read (by click in hooks.py, or by plain.py
for the hook's plain forms): scan, print, pick the exit code. No click here."""

from __future__ import annotations

from expflow_git.cli.console import PROG, emit_findings, err
from expflow_git.errors import ExitCode


def run_scan(
    paths: tuple[str, ...], staged: bool, policy_path: str | None, files_from: tuple[str, ...]
) -> None:
    """Scan `paths` and the names `files_from` lists (see `expflow-git scan --help`);
    SystemExit(1) on findings."""
    from expflow_git.cli.plain import listed

    every = listed(paths, files_from)
    if every is None:  # a --files-from listing no name: nothing to scan (plain.listed)
        return
    paths = every
    from expflow_git.checks import Problem
    from expflow_git.hooks.scan import scan_paths
    from expflow_git.workspace import Workspace

    ws = Workspace.find(policy_path, staged=staged)
    findings, count = scan_paths(ws, paths, warn=err)
    emit_findings(findings)
    if findings:
        unread = sum(f.rule == Problem.NOT_A_FILE.value for f in findings)  # not scanned
        if unread < len(findings):
            err(
                f"{PROG} scan: {len(findings) - unread} leaked PIN / PIN hash / private "
                "key finding(s); remove them (and rotate the PIN or key)"
            )
        if unread and staged:
            err(f"{PROG} scan: {unread} path(s) not staged: --staged scans the index")
        elif unread and paths:
            err(f"{PROG} scan: {unread} path(s) named are no file to scan")
        elif unread:  # (a tracked file there that cannot be read: none is named)
            err(f"{PROG} scan: {unread} file(s) could not be read")
        raise SystemExit(ExitCode.FAILED)
    err(f"{PROG} scan: {count} file(s) clean")
