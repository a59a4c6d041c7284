"""The click command group: every command module is loaded only when its command runs
(a hook pays for no other command's imports). `main` (main.py) drives it."""

from __future__ import annotations

import importlib

import click

from expflow_git import __version__
from expflow_git.cli.console import PROG

# command name → (module in expflow_git.cli, attribute): one module per pipeline.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("records", "init"),
    "new": ("records", "new"),
    "result": ("records", "result"),
    "start": ("records", "start"),
    "fail": ("records", "fail_cmd"),
    "rm": ("records", "rm_cmd"),
    "cancel": ("records", "cancel"),
    "validate": ("hooks", "validate"),
    "scan": ("hooks", "scan"),
    "protect": ("hooks", "protect"),
    "install-hooks": ("hooks", "install_hooks_cmd"),
    "rank": ("audit", "rank"),
    "list": ("queries", "list_cmd"),
    "show": ("queries", "show"),
    "compare": ("queries", "compare"),
    "audit": ("audit", "audit"),
    "diff": ("audit", "diff_cmd"),
    "demo": ("audit", "demo"),
    "keygen": ("verify", "keygen"),
    "verify": ("verify", "verify"),
    "report": ("verify", "report_cmd"),
    "pin": ("pin", "pin_group"),
    "import": ("imports", "import_group"),
}


class Group(click.Group):
    """A group of commands (the tool's, `pin`'s, `import`'s). Given no command, it prints
    its help on stderr and exits 2, as click 8.2 does, whatever click runs: click 8.1
    printed it on stdout with exit 0, and 8.2's error whose message is the help went
    through main()'s one-line usage errors, the help garbled onto one line with `\x0a`
    and `0600` masked as `****` (a user's hunt, issue 18 twenty-third pass). A command
    left out is a usage error (git's exit 1 is "the data fails" here); stdout stays for
    results."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            click.echo(ctx.get_help(), err=True, color=ctx.color)
            ctx.exit(2)
        return super().parse_args(ctx, args)


class _Commands(Group):
    """The command group; a command's module is imported only when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def invoke(self, ctx: click.Context) -> object:
        """The command; a Ctrl-C inside it reaches `main` as a click Abort caused by it,
        which `main` takes as its own interruption (exit 130, one line): click's `main`
        turned the KeyboardInterrupt into an Abort after a blank line on stderr."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise click.exceptions.Abort from exc

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name]
        command = getattr(importlib.import_module(f"expflow_git.cli.{module}"), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name=PROG)
def cli() -> None:
    """Policy-as-code for ML experiments kept in git.

    Exit codes: 0 pass, 1 the checked data fails the policy, 2 usage or configuration error.
    """
