"""Options several commands share, and the repository a command runs in."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from expflow_git.gitstore import Git


class Folder(click.Path):
    """A folder to write into, never the empty string: `init ''` scaffolded the current
    folder and `demo --dir ''` wrote `./repo`, where an empty `$DIR` meant none given."""

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":
            self.fail("give a path, not an empty string", param, ctx)
        return super().convert(value, param, ctx)


def _given_policy(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """`--policy ''` judged by `expflow.yaml`, exit 0, whatever EXPFLOW_POLICY named: a
    CI step's `--policy "$POLICY"` with the variable empty took the default policy."""
    if value == "":
        raise click.BadParameter("give a path, not an empty string", ctx=ctx, param=param)
    return value


policy_option = click.option(
    "--policy",
    "policy_path",
    metavar="FILE",
    envvar="EXPFLOW_POLICY",
    callback=_given_policy,
    help="Policy file (default: expflow.yaml at the repository root; env EXPFLOW_POLICY).",
)


class Tolerance(click.FloatRange):
    """A finite number ≥ 0: NaN passes FloatRange(0) (no comparison with it is false),
    and acted as 0; infinity would call every change none."""

    name = "tolerance"

    def __init__(self) -> None:
        super().__init__(0)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def format_option(*choices: str) -> Callable[[Any], Any]:
    """`--format` (into `fmt`): one of `choices`, the first by default."""
    return click.option(
        "--format", "fmt", type=click.Choice(list(choices)), default=choices[0], show_default=True
    )


policy_ref_option = click.option(
    "--policy-ref",
    metavar="REF",
    help="Judge by the policy committed at REF (e.g. the pull request's base), not the one "
    "at the audited commit, and report what the commit's own policy would change.",
)

# `list` and `rank` filter and widen their tables the same way (docs/spec.md §4.1).
where_option = click.option(
    "--where",
    "where_text",
    metavar="EXPR",
    help='Only runs matching EXPR (e.g. "metrics.seg_total > 50 and params.lr <= 1e-3").',
)

columns_option = click.option(
    "--columns",
    metavar="FIELDS",
    help="Also these fields, comma-separated (params.lr,splits.holdout.seg_total).",
)

rev_option = click.option(
    "--rev", default="HEAD", show_default=True, help="Commit to read (never the working tree)."
)

allowed_signers_option = click.option(
    "--allowed-signers",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Trust the ssh-ed25519 keys of an OpenSSH allowed_signers file (namespace "
    "expflow-git), and name their principals.",
)


class AsGiven(click.Path):
    """A path taken as given, without a look at the disk: the check reads each file
    once and reports a missing or unreadable one as a finding on that file."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        # `validate "$FILES"` with the variable empty checked nothing (or, with --staged,
        # the whole index) and passed: an empty PATH names no file (a review).
        if value == "" or value == b"":
            self.fail("give a path, not an empty string", param, ctx)
        return os.fsdecode(value)


def _given_names(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """`--files-from ''` names no file (as `--policy ''`, `_given_policy`)."""
    if "" in value:
        raise click.BadParameter("give a path, not an empty string", ctx=ctx, param=param)
    return value


def hook_options(command: Callable[..., None]) -> Callable[..., None]:
    """PATHS, --staged, --policy and --files-from: what every file-checking hook takes."""
    for decorator in reversed(
        [
            click.argument("paths", nargs=-1, type=AsGiven(path_type=str)),
            click.option(
                "--staged",
                is_flag=True,
                help="Check the staged content (the index), not the working tree "
                "(what the hooks run, pre-commit's and the plain ones).",
            ),
            policy_option,
            click.option(
                "--files-from",
                "files_from",
                metavar="FILE",
                multiple=True,
                callback=_given_names,
                help="Also the PATHS FILE lists (- for stdin), NUL-separated as `git diff "
                "-z` writes them (the plain hook's); none listed and no PATHS: nothing checked.",
            ),
        ]
    ):
        command = decorator(command)
    return command


def repo() -> Git:
    """The repository enclosing the working directory."""
    from expflow_git.gitstore import Git

    return Git.discover(Path.cwd())
