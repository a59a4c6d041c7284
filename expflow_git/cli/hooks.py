"""The hooks on the index or the work tree: `validate`, `scan`, `protect`, and
`install-hooks` for repositories without pre-commit."""

from __future__ import annotations

import os
from dataclasses import replace

import click

from expflow_git.cli.console import PROG, emit_findings, err, fail, guard, out
from expflow_git.cli.options import hook_options, policy_option, repo
from expflow_git.errors import ExitCode
from expflow_git.escape import line, terminal_path


@click.command()
@hook_options
def validate(
    paths: tuple[str, ...], staged: bool, policy_path: str | None, files_from: tuple[str, ...]
) -> None:
    """Validate records, results, corrections and the policy.

    \b
    PATHS (by hand): those files as they are on disk;
      each result's record and the other documents of an id are looked up in
      the git index (what the commit will hold), so an untracked record does
      not back a result. A directory stands for the files below it; naming the
      policy re-checks every document in the index.
    No PATHS: every document in the working tree, tracked or untracked (not
      ignored), each looked up there too: an untracked record backs its result.
    --staged (what the hooks run): the staged content of PATHS (no PATHS: of
      every document in the index), everything looked up in the index.
    Outside a git repository: every file below the current directory.
    --files-from FILE (- for stdin): more PATHS, NUL-separated (`git diff -z`);
      listing none and given no PATHS, it checks nothing (exit 0).
    """
    from expflow_git.cli.validating import run_validate

    run_validate(paths, staged, policy_path, files_from)


@click.command()
@hook_options
def scan(
    paths: tuple[str, ...], staged: bool, policy_path: str | None, files_from: tuple[str, ...]
) -> None:
    """Find leaked PINs, PIN hashes and private keys (every tracked file when no PATHS
    are given; none when only a --files-from listing none is)."""
    from expflow_git.cli.scanning import run_scan

    run_scan(paths, staged, policy_path, files_from)


@click.command()
@click.option("--pin", help="PIN approving the change (or env EXPFLOW_PIN).")
@click.option("--force", is_flag=True, help="Approve without the PIN, and say so.")
@policy_option
def protect(pin: str | None, force: bool, policy_path: str | None) -> None:
    """Refuse staged rewrites of committed results and frozen records.

    The PIN approves a result's rewrite that a correction staged with it declares;
    never a frozen record's change or a result the staged globs drop (no correction
    can declare them). Under `protect: {corrections: deny}` it approves every one."""
    from expflow_git.hooks.protect import (
        judge_rewrites,
        orphaned_results,
        staged_changes,
        staged_entries_refused,
        staged_rewrites,
        unpassed_findings,
    )
    from expflow_git.pin.guard import ENV_PIN
    from expflow_git.workspace import Workspace

    # The index is what is committed, so its policy judges (as validate/scan --staged):
    # an unstaged edit of expflow.yaml must not turn write-once off for this commit.
    ws = replace(Workspace.find(policy_path), policy_from_index=True)
    if ws.git is None:
        # Outside git there is no index to judge: it passed silently, exit 0, where
        # the README and spec §4 say exit 2 (a user's hunt, issue 18 twenty-third pass).
        fail(f"not a git repository: {ws.root} (protect judges the staged changes)")
    changes = staged_changes(ws)  # read once: every check below judges the same index
    orphans = staged_entries_refused(ws, changes) + orphaned_results(ws, changes)
    orphans += unpassed_findings(ws, changes, warn=err)
    if orphans:  # never PIN-approvable: the audit would refuse the commit
        emit_findings(orphans)
        raise SystemExit(ExitCode.FAILED)
    judged = judge_rewrites(ws, changes, staged_rewrites(ws, changes))
    if judged.refused:  # never PIN-approvable: audit --since would report them
        emit_findings(judged.refused)
        raise SystemExit(ExitCode.FAILED)
    rewrites = judged.approvable
    if not rewrites:
        return
    if not (pin or force or os.environ.get(ENV_PIN)):
        emit_findings([r.finding() for r in rewrites])
        raise SystemExit(ExitCode.FAILED)
    # (also shown in the PIN prompt; each name spelt as a finding's is, a backslash
    # doubled: `a\\xff` is no byte 0xff; the escape hunt's note, thirty-eighth pass)
    paths = line(", ".join(terminal_path(r.path) for r in rewrites))
    # A declaring correction's reason holding the approving PIN (written with `--force`,
    # or by hand) is refused: the hook knows the PIN last (a review, thirty-seventh pass).
    guard(
        f"change committed result(s) or frozen record(s) {paths}",
        pin=pin,
        force=force,
        texts={f"the reason of {c.path}": c.reason for c in judged.declared},
    )
    err(
        f"{PROG} protect: change to {len(rewrites)} committed result(s) or frozen record(s) "
        f"approved: {paths}"
    )
    for c in judged.declared:
        err(f"{PROG} protect: declared by {terminal_path(c.path)}: {c.describe()}")


@click.command("install-hooks")
def install_hooks_cmd() -> None:
    """Install the plain git hooks (pre-commit, pre-merge-commit, pre-push) into .git/hooks.

    Another hook there is kept, never overwritten; one an earlier expflow-git installed
    and nobody edited is updated."""
    from expflow_git.hooks.install import install_hooks

    for path, what in install_hooks(repo()):
        out(f"{path}: {what}")
