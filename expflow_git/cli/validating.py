"""What `validate` does once its command line is read (by click in hooks.py, or by
plain.py for the hook's plain forms): check, print, pick the exit code. No click here."""

from __future__ import annotations

from expflow_git.cli.console import PROG, emit_findings, err, warn
from expflow_git.errors import ExitCode


def run_validate(
    paths: tuple[str, ...], staged: bool, policy_path: str | None, files_from: tuple[str, ...]
) -> None:
    """Validate `paths` and the names `files_from` lists (see `expflow-git validate
    --help`); SystemExit(1) on findings."""
    from expflow_git.cli.plain import listed

    every = listed(paths, files_from)
    if every is None:  # a --files-from listing no name: nothing to check (plain.listed)
        return
    paths = every
    from expflow_git.hooks.validate import validate
    from expflow_git.workspace import Workspace, repo_path

    ws = Workspace.find(policy_path, staged=staged)
    # Each PATH as git's paths are decoded, whatever the locale decoded argv with: under
    # latin-1 a UTF-8 work tree's `ëxp.json` was "no such file" and "not staged".
    given = tuple(map(repo_path, paths))
    outcome = validate(ws, given, warn=lambda message: warn(message, command="validate"))
    emit_findings(outcome.findings)
    if outcome.findings:
        err(
            f"{PROG} validate: {len(outcome.findings)} problem(s) in "
            f"{len({f.path for f in outcome.findings})} file(s)"
        )
        raise SystemExit(ExitCode.FAILED)
    err(f"{PROG} validate: {outcome.checked} document(s) OK")
