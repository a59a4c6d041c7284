"""The command line: click options → core call → renderer → exit code. Nothing else."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from expflow_git import __version__
from expflow_git.errors import ExitCode, ExpflowError, Finding

PROG = "expflow-git"


def _fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    raise ExpflowError(message, code=code)


def _err(message: str) -> None:
    click.echo(message, err=True)


def _emit_findings(findings: Sequence[Finding]) -> None:
    for f in findings:
        click.echo(str(f))


policy_option = click.option(
    "--policy",
    "policy_path",
    metavar="FILE",
    envvar="EXPFLOW_POLICY",
    help="Policy file (default: expflow.yaml at the repository root; env EXPFLOW_POLICY).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name=PROG)
def cli() -> None:
    """Policy-as-code for ML experiments kept in git.

    Exit codes: 0 pass, 1 the checked data fails the policy, 2 usage or configuration error.
    """


# --------------------------------------------------------------------------- init
@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--template",
    type=click.Choice(["minimal", "competition"]),
    default="minimal",
    show_default=True,
    help="competition writes the standard 13-metric registry.",
)
def init(directory: Path, template: str) -> None:
    """Scaffold expflow.yaml, experiments/, results/, hooks config and a workflow."""
    from expflow_git.scaffold import Template, scaffold

    for rel, created in scaffold(directory, Template(template)):
        click.echo(f"{'created' if created else 'kept   '} {directory / rel}")


# --------------------------------------------------------------------------- new / result
@cli.command()
@click.argument("exp_id", metavar="ID")
@click.option("--study", required=True, help="Study the run belongs to.")
@click.option("--param", "params", multiple=True, metavar="K=V", help="A parameter (repeatable).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 2), help="Seed (default: derived).")
@click.option("--condition", help="Condition for the derived seed (default: the ID).")
@click.option(
    "--replicate",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Replicate number for the derived seed.",
)
@click.option("--title", default="", help="A one-line title.")
@click.option(
    "--status",
    type=click.Choice(["pending", "running", "success"]),
    default="pending",
    show_default=True,
)
@policy_option
def new(
    exp_id: str,
    study: str,
    params: tuple[str, ...],
    tags: tuple[str, ...],
    seed: int | None,
    condition: str | None,
    replicate: int,
    title: str,
    status: str,
    policy_path: str | None,
) -> None:
    """Write an experiment record with captured provenance and a derived seed."""
    from expflow_git.atomicfile import write_atomic
    from expflow_git.checks import check_document
    from expflow_git.documents import Status
    from expflow_git.records import (
        Layout,
        build_experiment,
        derive_seed,
        dump,
        parse_assignments,
        parse_scalar,
    )
    from expflow_git.schemas import Kind
    from expflow_git.validate import Workspace

    ws = Workspace.find(policy_path)
    policy = ws.load_policy()
    layout = Layout(ws.root, policy)
    parsed = {k: parse_scalar(v) for k, v in parse_assignments(params, what="--param")}
    if seed is None:
        seed = derive_seed(policy.base_seed, study, condition or exp_id, replicate)
    doc = build_experiment(
        exp_id=exp_id,
        study=study,
        params=parsed,
        tags=tags,
        seed=seed,
        title=title,
        status=Status(status),
        root=ws.root,
    )
    rel = layout.experiment_path(study, exp_id)
    data = dump(doc)
    _, findings = check_document(Kind.EXPERIMENT, rel, data, policy)
    if findings:
        _fail(str(findings[0]))
    existing = sorted((ws.root / "experiments").glob(f"*/{exp_id}.json"))
    if existing:
        _fail(
            f"{existing[0].relative_to(ws.root).as_posix()}: experiment {exp_id!r} exists "
            "already; records are never overwritten"
        )
    write_atomic(ws.root / rel, data, overwrite=False)
    click.echo(f"wrote {rel} (seed {seed})")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
@click.argument("exp_id", metavar="ID")
@click.argument("metric_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--overwrite", is_flag=True, help="Replace a result (PIN-guarded).")
@click.option("--pin", help="PIN for --overwrite (or env EXPFLOW_PIN, or a prompt).")
@click.option("--force", is_flag=True, help="Skip the PIN check for --overwrite, and say so.")
@policy_option
def result(
    exp_id: str,
    metric_args: tuple[str, ...],
    overwrite: bool,
    pin: str | None,
    force: bool,
    policy_path: str | None,
) -> None:
    """Write a result: --metric K=V… [--split NAME --metric K=V…]…

    Metrics are checked against the registry before anything is written. A
    pending or running record is marked `success`.
    """
    from expflow_git.atomicfile import write_atomic
    from expflow_git.documents import Status
    from expflow_git.records import (
        Layout,
        build_result,
        check_new_result,
        dump,
        parse_metric_args,
        record_status,
    )
    from expflow_git.validate import Workspace

    ws = Workspace.find(policy_path)
    policy = ws.load_policy()
    layout = Layout(ws.root, policy)
    metrics, splits = parse_metric_args(metric_args)
    exp_rel, exp_doc = layout.find_experiment(exp_id)
    status = record_status(exp_doc)
    if status in (Status.FAILED, Status.SKIPPED):
        _fail(
            f"{exp_rel}: experiment {exp_id!r} has status {status.value!r}; "
            "a result needs a successful run",
            ExitCode.FAILED,
        )
    rel = layout.result_path(exp_doc["study"], exp_id)
    doc = build_result(exp_id=exp_id, metrics=metrics, splits=splits, root=ws.root)
    findings = check_new_result(rel, doc, policy)
    if findings:
        _emit_findings(findings)
        _fail(f"{rel}: not written: {len(findings)} problem(s)", ExitCode.FAILED)
    if (ws.root / rel).exists():
        if not overwrite:
            _fail(
                f"{rel}: a result exists already; results are write-once "
                "(--overwrite is PIN-guarded)",
                ExitCode.FAILED,
            )
        _guard(f"overwrite {rel}", pin=pin, force=force)
    if status is not Status.SUCCESS:
        exp_doc["status"] = Status.SUCCESS.value
        write_atomic(ws.root / exp_rel, dump(exp_doc))
        click.echo(f"marked {exp_rel} success")
    write_atomic(ws.root / rel, dump(doc), overwrite=overwrite)
    click.echo(f"wrote {rel}")


def _guard(action: str, *, pin: str | None, force: bool) -> None:
    """The one PIN guard for every destructive command."""
    from expflow_git.guard import require_pin

    require_pin(
        action,
        pin=pin,
        force=force,
        env=dict(os.environ),
        interactive=sys.stdin is not None and sys.stdin.isatty(),
        prompt=lambda text: str(click.prompt(text, hide_input=True, err=True)),
        warn=_err,
    )


# --------------------------------------------------------------------------- hooks
@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@policy_option
def validate(paths: tuple[str, ...], policy_path: str | None) -> None:
    """Validate records, results and the policy (all of them when no PATHS are given)."""
    from expflow_git.validate import Workspace
    from expflow_git.validate import validate as run_validate

    outcome = run_validate(Workspace.find(policy_path), paths)
    _emit_findings(outcome.findings)
    if outcome.findings:
        _err(
            f"{PROG} validate: {len(outcome.findings)} problem(s) in "
            f"{len({f.path for f in outcome.findings})} file(s)"
        )
        raise SystemExit(ExitCode.FAILED)
    _err(f"{PROG} validate: {outcome.checked} document(s) OK")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@policy_option
def scan(paths: tuple[str, ...], policy_path: str | None) -> None:
    """Find leaked PINs and PIN hashes (every tracked file when no PATHS are given)."""
    from expflow_git.scanning import scan_paths
    from expflow_git.validate import Workspace

    ws = Workspace.find(policy_path)
    findings, count = scan_paths(ws, paths, warn=_err)
    _emit_findings(findings)
    if findings:
        _err(
            f"{PROG} scan: {len(findings)} leaked PIN / PIN hash finding(s); "
            "remove them (and rotate the PIN)"
        )
        raise SystemExit(ExitCode.FAILED)
    _err(f"{PROG} scan: {count} file(s) clean")


@cli.command()
@click.option("--pin", help="PIN approving the change (or env EXPFLOW_PIN).")
@click.option("--force", is_flag=True, help="Approve without the PIN, and say so.")
@policy_option
def protect(pin: str | None, force: bool, policy_path: str | None) -> None:
    """Refuse staged changes/deletions of committed results unless PIN-approved."""
    from expflow_git.guard import ENV_PIN
    from expflow_git.protect import staged_rewrites
    from expflow_git.validate import Workspace

    rewrites = staged_rewrites(Workspace.find(policy_path))
    if not rewrites:
        return
    if not (pin or force or os.environ.get(ENV_PIN)):
        _emit_findings([r.finding() for r in rewrites])
        raise SystemExit(ExitCode.FAILED)
    paths = ", ".join(r.path for r in rewrites)
    _guard(f"change committed result(s) {paths}", pin=pin, force=force)
    _err(f"{PROG} protect: change to {len(rewrites)} committed result(s) approved: {paths}")


def _register_groups() -> None:
    from expflow_git.cli_pin import pin_group

    cli.add_command(pin_group)


_register_groups()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every user-facing error becomes one stderr line and its exit code."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None, prog_name=PROG, standalone_mode=False
        )
    except ExpflowError as exc:
        _err(f"{PROG}: error: {exc.message}")
        return int(exc.code)
    except click.exceptions.Abort:
        _err(f"{PROG}: aborted")
        return int(ExitCode.USAGE)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.USAGE)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(bool(exc.code))
    except BrokenPipeError:
        # stdout closed early (e.g. piped to head): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.OK)
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted")
        return 130
    return int(ExitCode.OK)
