"""Writing records: `init`, `new`, `result`, `start`, `fail`, `rm`, `cancel`. Each is
options → one call into expflow_git.records (the functions the Python API calls too)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import click

from expflow_git.cli.console import (
    emit_findings,
    fail,
    guard,
    no_pin_in,
    out,
    refuse_empty,
    warn,
)
from expflow_git.cli.options import Folder, policy_option
from expflow_git.errors import ExitCode, utf8_argument

if TYPE_CHECKING:
    from expflow_git.corrections import Planned


@click.command()
@click.argument("directory", required=False, type=Folder())
@click.option(
    "--template",
    type=click.Choice(["minimal", "competition"]),
    default="minimal",
    show_default=True,
    help="competition writes the standard 13-metric registry.",
)
def init(directory: Path | None, template: str) -> None:
    """Scaffold expflow.yaml, experiments/, results/, hooks config and a workflow.

    DIRECTORY defaults to the current folder, which must then be the root of its git
    work tree (or in none): pre-commit and GitHub read hooks and workflows only there."""
    from expflow_git.records.scaffold import (
        Template,
        from_root,
        ignored_documents,
        init_folder,
        nested_prefix,
        scaffold,
    )

    directory, root = init_folder(directory)
    # A nested project's globs start at its folder (they are read from the root): its
    # records went to the root's experiments/, never to the folders init made here, and
    # `new` there said "no policy file; run `expflow-git init`" (a hunt, issue 18).
    prefix = nested_prefix(directory, root) if root is not None else ""
    for rel, created in scaffold(directory, Template(template), prefix):
        out(f"{'created' if created else 'kept   '} {directory / rel}")
    # A link kept in the policy's place is read by no command (nor by the audit, in a
    # commit): it was "kept", exit 0, and every later command refused it (a hunter's
    # find, issue 18 thirty-seventh pass). Kept still, never written through: said.
    if (directory / "expflow.yaml").is_symlink():
        warn(
            f"{directory / 'expflow.yaml'}: a symbolic link, kept; no command reads the "
            "policy through one (`cannot read policy`): put the file itself in its place",
            command="init",
        )
    # Below a work tree's root, pre-commit and GitHub read neither file: said, not
    # refused (a nested project may be meant), with how its commands find its policy.
    if root is not None:
        policy = shlex.quote(f"{from_root(directory, root)}/expflow.yaml")
        warn(
            f"{directory}: not the root of the git work tree {root}: pre-commit and GitHub "
            "will not use the .pre-commit-config.yaml and .github/workflows here "
            f"(run `expflow-git init` at {root} for those); commands read this policy with "
            f"`--policy {policy}` (or EXPFLOW_POLICY={policy}), from anywhere in the work tree",
            command="init",
        )
    # An ignore rule kept from before (`results/` in an ML project's .gitignore) refused
    # the quick start's `result` at its third step, init having said nothing (a hunt).
    for rel in ignored_documents(directory, prefix):
        # (a command that works as printed: from the current folder, whatever DIR is)
        where = "" if str(directory) == "." else f" -C {shlex.quote(str(directory))}"
        ask = f"git{where} check-ignore -v {shlex.quote(rel)}"
        warn(
            f"{directory / rel}: git ignores this path, so the records or results written "
            "there would never be committed: remove the rule, or add one that starts with "
            f"`!` (`{ask}` names it)",
            command="init",
        )


@click.command()
@click.argument("exp_id", metavar="ID")
@click.option("--study", required=True, help="Study the run belongs to.")
@click.option("--param", "params", multiple=True, metavar="K=V", help="A parameter (repeatable).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 2), help="Seed (default: derived).")
@click.option("--condition", help="Condition for the derived seed (default: the ID).")
@click.option(
    "--replicate",
    type=click.IntRange(0, 2**53 - 1),  # writer.MAX_REPLICATE (writer loads lazily)
    default=0,
    show_default=True,
    help="Replicate number for the derived seed.",
)
@click.option("--title", help="A one-line title.")
@click.option(
    "--status",
    type=click.Choice(["pending", "running", "success", "failed", "skipped"]),
    default="pending",
    show_default=True,
    help="failed and skipped need --reason.",
)
@click.option("--reason", help="Why the run failed or was skipped (with --status failed|skipped).")
@policy_option
def new(
    exp_id: str,
    study: str,
    params: tuple[str, ...],
    tags: tuple[str, ...],
    seed: int | None,
    condition: str | None,
    replicate: int,
    title: str | None,
    status: str,
    reason: str | None,
    policy_path: str | None,
) -> None:
    """Write an experiment record with captured provenance and a derived seed."""
    from expflow_git.documents import Status
    from expflow_git.records.writer import open_layout, params_from_args, write_experiment

    # An empty --condition derived the seed from the ID, as if it were left out (spec §4).
    refuse_empty([("--condition", condition)], "a condition (or leave it out: the ID)")
    # An empty --title wrote no title, as if it were left out (spec §4).
    refuse_empty([("--title", title)], "a title (or leave it out)")
    no_pin_in({"--reason": reason, "--title": title})
    rel, seed = write_experiment(
        open_layout(policy_path),
        exp_id=exp_id,
        study=study,
        params=params_from_args(params),
        tags=tags,
        seed=seed,
        condition=condition,
        replicate=replicate,
        title=title or "",
        status=Status(status),
        reason=reason,
        warn=lambda message: warn(message, command="new"),
    )
    out(f"wrote {rel} (seed {seed})")


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
@click.argument("exp_id", metavar="ID")
@click.argument("metric_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--overwrite", is_flag=True, help="Replace a result (PIN-guarded; needs --reason).")
@click.option(
    "--reason",
    help="Why the result is replaced (required with --overwrite); a committed result's "
    "replacement is recorded in a correction.",
)
@click.option("--pin", help="PIN for --overwrite (or env EXPFLOW_PIN, or a prompt).")
@click.option("--force", is_flag=True, help="Skip the PIN check for --overwrite, and say so.")
@policy_option
def result(
    exp_id: str,
    metric_args: tuple[str, ...],
    overwrite: bool,
    reason: str | None,
    pin: str | None,
    force: bool,
    policy_path: str | None,
) -> None:
    """Write a result: --metric K=V… [--split NAME --metric K=V…]…

    Metrics are checked against the registry and the required metrics before anything
    is written. A pending or running record is marked `success`.
    """
    from expflow_git.records.writer import (
        correction_for,
        holdout_warnings,
        open_layout,
        parse_metric_args,
        plan_result,
        refuse_existing,
        write_result,
    )

    metrics, splits = parse_metric_args(metric_args)
    _utf8_reason(reason)
    layout = open_layout(policy_path)
    plan = plan_result(layout, exp_id, metrics, splits)
    if plan.findings:
        emit_findings(plan.findings)
        fail(f"{plan.path}: not written: {len(plan.findings)} problem(s)", ExitCode.FAILED)
    correction = None
    if plan.exists:
        if not overwrite:
            refuse_existing(plan)
        if reason is None:
            fail(f"{plan.path}: --overwrite needs --reason TEXT (it is recorded in a correction)")
        if not reason:  # (given empty: not taken for --reason left out, spec §4)
            fail("--reason: the reason is empty (one line saying why the result changes)")
        correction = correction_for(
            layout,
            study=plan.record["study"],
            exp_id=exp_id,
            result_rel=plan.path,
            new_data=plan.data,
            reason=reason,
            environ=os.environ,
        )
        guard(f"overwrite {plan.path}", pin=pin, force=force, texts={"--reason": reason})
    over = holdout_warnings(layout, plan)
    for done in write_result(layout, plan, overwrite=overwrite, correction=correction):
        out(done)
    for warning in over:
        # Written all the same, as `new` writes a run over the runs budget: the hook and
        # the audit refuse the commit (a hunt, issue 18 thirty-ninth pass).
        warn(f"{plan.path}: {warning}; the hook and the audit will refuse it", command="result")
    if correction is None and reason is not None:
        # Only a correction keeps a reason, and only a committed result gets one: it was
        # dropped without a word, as `rm`'s was (a hunt, issue 18 thirty-eighth pass); an
        # empty one too (`--reason "$WHY"`, the variable empty: spec §4, forty-first pass).
        warn(
            f"no correction written: {plan.path} is not committed, so --reason is not kept",
            command="result",
        )


@click.command()
@click.argument("exp_id", metavar="ID")
@policy_option
def start(exp_id: str, policy_path: str | None) -> None:
    """Mark a pending run `running` (training has begun)."""
    from expflow_git.records.lifecycle import start_run
    from expflow_git.records.writer import open_layout

    out(f"started {start_run(open_layout(policy_path), exp_id)}")


@click.command("fail")
@click.argument("exp_id", metavar="ID")
@click.option("--reason", required=True, help="Why the run failed (kept in the record).")
@policy_option
def fail_cmd(exp_id: str, reason: str, policy_path: str | None) -> None:
    """Mark a run `failed`, with the reason; refused once the run has a result."""
    from expflow_git.records.lifecycle import fail_run
    from expflow_git.records.writer import open_layout

    _utf8_reason(reason)
    no_pin_in({"--reason": reason})
    out(f"failed {fail_run(open_layout(policy_path), exp_id, reason)}")


@click.command("rm")
@click.argument("exp_id", metavar="ID")
@click.option(
    "--reason", help="Why (required when the result is committed; recorded in a correction)."
)
@click.option("--pin", help="The PIN (or env EXPFLOW_PIN, or a prompt).")
@click.option("--force", is_flag=True, help="Skip the PIN check, and say so.")
@policy_option
def rm_cmd(
    exp_id: str, reason: str | None, pin: str | None, force: bool, policy_path: str | None
) -> None:
    """Delete a record and its result (PIN-guarded; a committed result leaves a correction)."""
    from expflow_git.records.writer import correction_for, open_layout, records_lock, remove_run

    _utf8_reason(reason)
    layout = open_layout(policy_path)

    def planned() -> Planned | None:
        _, exp_doc = layout.find_experiment(exp_id)
        study = exp_doc["study"]
        return correction_for(
            layout,
            study=study,
            exp_id=exp_id,
            result_rel=layout.run_result(study, exp_id)[0],
            new_data=None,
            reason=reason,
            environ=os.environ,
        )

    planned()  # a missing run or reason, a moved result: refused before any PIN is asked for
    guard(f"rm {exp_id}", pin=pin, force=force, texts={"--reason": reason})
    done: list[str] = []
    try:
        with records_lock(layout.root):
            # Planned again under the lock: another command may have changed the run, or
            # written a correction of it, while the PIN was asked for.
            correction = planned()
            # A Ctrl-C or SIGTERM waits for the correction and every delete (not for the
            # reads before them): one between the result's and the record's left a run
            # `success` without its result. One failing, the others are undone, and the
            # error says so (remove_run). Each line is in `done` once its step is done.
            remove_run(layout, exp_id, held=True, correction=correction, done=done)
    finally:
        for line in done:  # (what was done, said after a Ctrl-C too)
            out(line)
    if correction is None and reason is not None:
        # Only a correction keeps a reason: it was dropped without a word (issue 18,
        # twenty-sixth pass); an empty one too, as `cancel` no longer takes one given
        # empty for none (spec §4; forty-first pass).
        warn(
            f"no correction written: {exp_id} has no committed result, so --reason is not kept",
            command="rm",
        )


@click.command()
@click.argument("exp_id", metavar="ID")
@click.option("--reason", help="Why the run was cancelled.")
@click.option("--pin", help="The PIN (or env EXPFLOW_PIN, or a prompt).")
@click.option("--force", is_flag=True, help="Skip the PIN check, and say so.")
@policy_option
def cancel(
    exp_id: str, reason: str | None, pin: str | None, force: bool, policy_path: str | None
) -> None:
    """Set a pending/running experiment to `skipped`, with the reason (PIN-guarded)."""
    from expflow_git.records.lifecycle import cancel_run, cancellable
    from expflow_git.records.writer import open_layout

    _utf8_reason(reason)
    if reason is not None and not reason.strip():
        # Written as given, where `new --status skipped` and `fail` refuse a blank reason
        # (a hunt, issue 18 thirty-eighth pass); an empty one (`--reason "$WHY"`, the
        # variable empty) was taken for none given (spec §4; a hunt, forty-first pass).
        fail("--reason is blank: say why the run is cancelled, or leave --reason out")
    reason = reason or ""  # (none given)
    layout = open_layout(policy_path)
    exp_rel, exp_doc = cancellable(layout, exp_id)  # refused before any PIN is asked for
    guard(f"cancel {exp_id}", pin=pin, force=force, texts={"--reason": reason})
    out(f"cancelled {cancel_run(layout, exp_rel, exp_doc, reason)}")


def _utf8_reason(reason: str | None) -> None:
    """A `--reason` that is not UTF-8, refused by name before anything is read or written:
    `rm` and `result --overwrite` raised a traceback from the correction's schema check,
    `fail` and `cancel` quoted a piece of the record's JSON (a review, issue 18
    twenty-third pass)."""
    if reason is not None:
        utf8_argument(reason, "--reason")
