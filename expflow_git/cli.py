"""The command line: click options → core call → renderer → exit code. Nothing else."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from expflow_git import __version__
from expflow_git.errors import ExitCode, ExpflowError, Finding
from expflow_git.escape import line as _line

if TYPE_CHECKING:
    from collections.abc import Callable

    from expflow_git.audit import TreeCheck
    from expflow_git.corrections import Planned
    from expflow_git.gitstore import Git
    from expflow_git.records import Layout
    from expflow_git.render.view import View
    from expflow_git.report.dsse import Envelope
    from expflow_git.report.signing import SigningKey
    from expflow_git.report.trust import TrustedKey
    from expflow_git.report.verify import Line

PROG = "expflow-git"


def _fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    raise ExpflowError(message, code=code)


def _err(message: str) -> None:
    """One line on stderr; what a repository or report put in it is escaped (expflow_git.escape)."""
    click.echo(_line(message), err=True)


def _out(message: str) -> None:
    """One line on stdout, escaped like `_err`'s."""
    click.echo(_line(message))


def _emit_findings(findings: Sequence[Finding]) -> None:
    for f in findings:
        _out(str(f))


policy_option = click.option(
    "--policy",
    "policy_path",
    metavar="FILE",
    envvar="EXPFLOW_POLICY",
    help="Policy file (default: expflow.yaml at the repository root; env EXPFLOW_POLICY).",
)


policy_ref_option = click.option(
    "--policy-ref",
    metavar="REF",
    help="Judge by the policy committed at REF (e.g. the pull request's base), not the one "
    "at the audited commit, and report what the commit's own policy would change.",
)


class _Commands(click.Group):
    """The command group; `pin` is loaded only when asked for, to keep hooks fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "pin"])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "pin":
            from expflow_git.cli_pin import pin_group

            return pin_group
        return super().get_command(ctx, name)


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
        build_experiment,
        derive_seed,
        dump,
        parse_assignments,
        parse_scalar,
    )
    from expflow_git.schemas import Kind

    layout = _layout(policy_path)
    policy = layout.policy
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
        root=layout.root,
    )
    rel = layout.experiment_path(study, exp_id)
    data = dump(doc)
    _, findings = check_document(Kind.EXPERIMENT, rel, data, policy)
    if findings:
        _fail(str(findings[0]))
    existing = layout.existing_experiments(exp_id)
    if existing:
        _fail(
            f"{existing[0].relative_to(layout.root).as_posix()}: experiment {exp_id!r} exists "
            "already; records are never overwritten"
        )
    write_atomic(layout.root / rel, data, overwrite=False)
    _out(f"wrote {rel} (seed {seed})")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
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

    Metrics are checked against the registry before anything is written. A
    pending or running record is marked `success`.
    """
    from expflow_git.atomicfile import write_atomic
    from expflow_git.documents import Status
    from expflow_git.records import (
        build_result,
        check_new_result,
        dump,
        parse_metric_args,
        record_status,
    )

    layout = _layout(policy_path)
    policy = layout.policy
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
    doc = build_result(exp_id=exp_id, metrics=metrics, splits=splits, root=layout.root)
    findings = check_new_result(rel, doc, policy)
    if findings:
        _emit_findings(findings)
        _fail(f"{rel}: not written: {len(findings)} problem(s)", ExitCode.FAILED)
    data = dump(doc)
    correction = None
    if (layout.root / rel).exists():
        if not overwrite:
            _fail(
                f"{rel}: a result exists already; results are write-once "
                "(--overwrite is PIN-guarded)",
                ExitCode.FAILED,
            )
        if not reason:
            _fail(f"{rel}: --overwrite needs --reason TEXT (it is recorded in a correction)")
        correction = _correction(layout, exp_doc["study"], exp_id, rel, data, reason)
        _guard(f"overwrite {rel}", pin=pin, force=force)
    if correction is not None:  # first: a crash leaves a declaration the hooks refuse alone
        _out(f"wrote {_write_correction(layout, correction)}")
    if status is not Status.SUCCESS:
        exp_doc["status"] = Status.SUCCESS.value
        write_atomic(layout.root / exp_rel, dump(exp_doc))
        _out(f"marked {exp_rel} success")
    write_atomic(layout.root / rel, data, overwrite=overwrite)
    _out(f"wrote {rel}")  # the study comes from the record


def _correction(
    layout: Layout, study: str, exp_id: str, rel: str, data: bytes | None, reason: str | None
) -> Planned | None:
    """The correction a change of the result at `rel` needs (None: it is not committed)."""
    from expflow_git.corrections import plan_correction

    return plan_correction(
        layout.root,
        layout.policy,
        study=study,
        experiment=exp_id,
        result_rel=rel,
        new_data=data,
        reason=reason,
        environ=os.environ,
    )


def _write_correction(layout: Layout, planned: Planned) -> str:
    from expflow_git.corrections import write_correction

    what = "replaces the uncommitted one" if planned.replaces else "commit it with the result"
    return f"{write_correction(layout.root, planned)} (a correction: {what})"


def _layout(policy_path: str | None) -> Layout:
    """Where record commands read and write, under the workspace's policy."""
    from expflow_git.records import Layout
    from expflow_git.validate import Workspace

    ws = Workspace.find(policy_path)
    return Layout(ws.root, ws.load_policy())


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
class _AsGiven(click.Path):
    """A path taken as given, without a look at the disk: the check reads each file
    once and reports a missing or unreadable one as a finding on that file."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return os.fsdecode(value)


def hook_options(command: Callable[..., None]) -> Callable[..., None]:
    """PATHS, --staged and --policy: what every file-checking hook takes."""
    for decorator in reversed(
        [
            click.argument("paths", nargs=-1, type=_AsGiven(path_type=str)),
            click.option(
                "--staged",
                is_flag=True,
                help="Check the staged content (the index), not the working tree "
                "(for plain git hooks).",
            ),
            policy_option,
        ]
    ):
        command = decorator(command)
    return command


@cli.command()
@hook_options
def validate(paths: tuple[str, ...], staged: bool, policy_path: str | None) -> None:
    """Validate records, results and the policy (all of them when no PATHS are given)."""
    from expflow_git.validate import Workspace
    from expflow_git.validate import validate as run_validate

    outcome = run_validate(Workspace.find(policy_path, staged=staged), paths)
    _emit_findings(outcome.findings)
    if outcome.findings:
        _err(
            f"{PROG} validate: {len(outcome.findings)} problem(s) in "
            f"{len({f.path for f in outcome.findings})} file(s)"
        )
        raise SystemExit(ExitCode.FAILED)
    _err(f"{PROG} validate: {outcome.checked} document(s) OK")


@cli.command()
@hook_options
def scan(paths: tuple[str, ...], staged: bool, policy_path: str | None) -> None:
    """Find leaked PINs and PIN hashes (every tracked file when no PATHS are given)."""
    from expflow_git.scanning import scan_paths
    from expflow_git.validate import Workspace

    ws = Workspace.find(policy_path, staged=staged)
    findings, count = scan_paths(ws, paths, warn=_err)
    _emit_findings(findings)
    if findings:
        _err(
            f"{PROG} scan: {len(findings)} leaked PIN / PIN hash / private key finding(s); "
            "remove them (and rotate the PIN or key)"
        )
        raise SystemExit(ExitCode.FAILED)
    _err(f"{PROG} scan: {count} file(s) clean")


@cli.command()
@click.option("--pin", help="PIN approving the change (or env EXPFLOW_PIN).")
@click.option("--force", is_flag=True, help="Approve without the PIN, and say so.")
@policy_option
def protect(pin: str | None, force: bool, policy_path: str | None) -> None:
    """Refuse staged rewrites of committed results and frozen records unless PIN-approved
    (a result's rewrite also needs a correction staged with it, unless corrections: deny)."""
    from expflow_git.guard import ENV_PIN
    from expflow_git.protect import judge_rewrites, orphaned_results, staged_rewrites
    from expflow_git.validate import Workspace

    ws = Workspace.find(policy_path)
    orphans = orphaned_results(ws)
    if orphans:  # never PIN-approvable: the result would be invalid
        _emit_findings(orphans)
        raise SystemExit(ExitCode.FAILED)
    judged = judge_rewrites(ws, staged_rewrites(ws))
    if judged.refused:  # never PIN-approvable: audit --since would report them
        _emit_findings(judged.refused)
        raise SystemExit(ExitCode.FAILED)
    rewrites = judged.approvable
    if not rewrites:
        return
    if not (pin or force or os.environ.get(ENV_PIN)):
        _emit_findings([r.finding() for r in rewrites])
        raise SystemExit(ExitCode.FAILED)
    paths = _line(", ".join(r.path for r in rewrites))  # also shown in the PIN prompt
    _guard(f"change committed result(s) or frozen record(s) {paths}", pin=pin, force=force)
    _err(
        f"{PROG} protect: change to {len(rewrites)} committed result(s) or frozen record(s) "
        f"approved: {paths}"
    )
    for c in judged.declared:
        _err(f"{PROG} protect: declared by {c.path}: {c.describe()}")


@cli.command("rm")
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
    from expflow_git.records import remove_run

    layout = _layout(policy_path)
    # A missing run, or a missing reason, fails before any PIN is asked for.
    _, exp_doc = layout.find_experiment(exp_id)
    study = exp_doc["study"]
    correction = _correction(layout, study, exp_id, layout.result_rel(study, exp_id), None, reason)
    _guard(f"rm {exp_id}", pin=pin, force=force)
    if correction is not None:
        _out(f"wrote {_write_correction(layout, correction)}")
    for rel in remove_run(layout, exp_id):
        _out(f"removed {rel}")


@cli.command()
@click.argument("exp_id", metavar="ID")
@click.option("--reason", default="", help="Why the run was cancelled.")
@click.option("--pin", help="The PIN (or env EXPFLOW_PIN, or a prompt).")
@click.option("--force", is_flag=True, help="Skip the PIN check, and say so.")
@policy_option
def cancel(exp_id: str, reason: str, pin: str | None, force: bool, policy_path: str | None) -> None:
    """Set a pending/running experiment to `skipped`, with the reason (PIN-guarded)."""
    from expflow_git.records import cancel_run, cancellable

    layout = _layout(policy_path)
    exp_rel, exp_doc = cancellable(layout, exp_id)  # refused before any PIN is asked for
    _guard(f"cancel {exp_id}", pin=pin, force=force)
    _out(f"cancelled {cancel_run(layout, exp_rel, exp_doc, reason)}")


@cli.command("install-hooks")
def install_hooks_cmd() -> None:
    """Install hooks/pre-commit and hooks/pre-push into .git/hooks (never overwrites)."""
    from expflow_git.githooks import install_hooks

    for path, what in install_hooks(_repo()):
        click.echo(f"{path}: {what}")


# --------------------------------------------------------------------------- rank / audit
rev_option = click.option(
    "--rev", default="HEAD", show_default=True, help="Commit to read (never the working tree)."
)


def _repo() -> Git:
    from expflow_git.gitstore import Git

    return Git.discover(Path.cwd())


def _policy_rel(policy_path: str | None) -> str:
    """The policy's path inside the commit (relative to the repository root)."""
    from expflow_git.policy import DEFAULT_POLICY_PATH

    path = (policy_path or DEFAULT_POLICY_PATH).replace(os.sep, "/")
    while path.startswith("./"):
        path = path[2:]
    return path or DEFAULT_POLICY_PATH


@cli.command()
@rev_option
@click.option("--sort-by", metavar="METRIC", help="Rank by this metric instead of ranking.sort_by.")
@click.option(
    "--ascending/--descending",
    "ascending",
    default=None,
    help="Sort direction (default: the metric's higher_is_better).",
)
@click.option(
    "--gate", "gates", multiple=True, metavar="M:OP:V", help="An extra gate (repeatable)."
)
@click.option("--study", help="Only runs of this study.")
@click.option(
    "--tag", "tags", multiple=True, help="Only runs with this tag (repeatable: all of them)."
)
@click.option("--top", type=click.IntRange(1), help="Show at most N rows.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "md", "csv"]),
    default="table",
    show_default=True,
)
@policy_option
@policy_ref_option
def rank(
    rev: str,
    sort_by: str | None,
    ascending: bool | None,
    gates: tuple[str, ...],
    study: str | None,
    tags: tuple[str, ...],
    top: int | None,
    fmt: str,
    policy_path: str | None,
    policy_ref: str | None,
) -> None:
    """Compare scores: a gated leaderboard from committed files.

    Feasible runs come first, ranked 1..k; then the infeasible ones, with the checks they failed.
    Exit 1 when no run is feasible.
    """
    import json

    from expflow_git.audit import check_tree, verdicts
    from expflow_git.escape import json_text
    from expflow_git.policy import Ranking, did_you_mean, parse_gate
    from expflow_git.ranking import rank as rank_runs
    from expflow_git.ranking import sort_keys
    from expflow_git.render.table import csv_table, leaderboard_cells, md_table, text_table
    from expflow_git.render.view import metric_columns, rows_from_board

    check = check_tree(
        _repo(), rev, policy_path=_policy_rel(policy_path), policy_ref=policy_ref, scan=False
    )
    policy = check.policy
    extra = tuple(parse_gate(g, policy.metrics) for g in gates)
    ranking = policy.ranking
    if sort_by is not None:
        if sort_by not in policy.metrics:
            _fail(f"--sort-by: unknown metric {sort_by!r}{did_you_mean(sort_by, policy.metrics)}")
        ranking = Ranking(sort_by, policy.metrics[sort_by].higher_is_better, ranking.tie_break)
    if ascending is not None:
        ranking = Ranking(ranking.sort_by, not ascending, ranking.tie_break)
    board = rank_runs(
        verdicts(check, extra, study=study, tags=tags), sort_keys(ranking, policy.metrics)
    )
    if check.findings:
        _err(
            f"{PROG} rank: warning: {len(check.findings)} problem(s) in the committed "
            "documents; run `expflow-git audit` for details"
        )
    _policy_change_note(check)
    rows = rows_from_board(board)[:top]
    if fmt == "json":
        doc = {
            "ranking": [
                {
                    "id": r.id,
                    "rank": r.rank,
                    "feasible": r.feasible,
                    "metrics": dict(r.metrics),
                    "failed": list(r.failed),
                }
                for r in rows
            ],
            "best_any": board.best_any,
            "best_feasible": board.best_feasible,
        }
        click.echo(json_text(json.dumps(doc, indent=2)))
    else:
        cells = leaderboard_cells(
            rows,
            metric_columns(ranking.sort_by, ranking.tie_break, [r.metrics for r in rows]),
            exact=fmt == "csv",  # a spreadsheet gets every value as the report spells it
        )
        render = {"table": text_table, "md": md_table, "csv": csv_table}[fmt]
        click.echo(render(*cells).rstrip("\n"))
        if fmt == "table":
            _err(f"best_any: {board.best_any or '-'}   best_feasible: {board.best_feasible or '-'}")
    if board.best_feasible is None:
        raise SystemExit(ExitCode.FAILED)


def _policy_change_note(check: TreeCheck) -> None:
    """Under --policy-ref, what the commit's own policy would change, on stderr."""
    from expflow_git.render.text import policy_change_lines

    for line in policy_change_lines(check.proposal, check.policy_blob):
        _err(f"{PROG} rank: {line}")


def _signing_key(spec: str | None) -> SigningKey | None:
    """--sign-key KEY, else env EXPFLOW_SIGNING_KEY (see report/signer.py)."""
    from expflow_git.report.signer import signing_key

    return signing_key(spec, os.environ)


@cli.command()
@rev_option
@click.option(
    "--since",
    metavar="BASE",
    help="Also examine every commit in BASE..REV: rewritten results and frozen records, "
    "and PIN hashes in any blob the range added.",
)
@click.option("--experiment", metavar="ID", help="The verdict is this run's alone.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the report (JSON) here.")
@click.option(
    "--sign-key",
    metavar="KEY",
    help="Ed25519 private key file (PEM or OpenSSH), or agent:SHA256:FINGERPRINT for a key "
    "held by ssh-agent; or env EXPFLOW_SIGNING_KEY.",
)
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, exists=True),
    help="Chain this report to a previous one.",
)
@click.option(
    "--note",
    is_flag=True,
    help="Also store the report as a git note (refs/notes/expflow) on the commit.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "md", "github", "sarif"]),
    default="text",
    show_default=True,
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Also write a self-contained HTML scorecard.",
)
@click.option("--no-cache", is_flag=True, help="Do not use the per-blob validation cache.")
@policy_option
@policy_ref_option
def audit(
    rev: str,
    since: str | None,
    experiment: str | None,
    out: str | None,
    sign_key: str | None,
    previous: str | None,
    note: bool,
    fmt: str,
    html_path: str | None,
    no_cache: bool,
    policy_path: str | None,
    policy_ref: str | None,
) -> None:
    """The full audit at a commit; writes a deterministic, hash-chained, signed report.

    Exit 0 iff there is no invalid document, no integrity or secret finding, at least
    one feasible run, and the walk-forward gate (if configured) passes.
    """
    from expflow_git.atomicfile import open_atomic, write_atomic
    from expflow_git.audit import run_audit
    from expflow_git.render.view import view_from_audit
    from expflow_git.report.signing import keyid
    from expflow_git.report.statement import encode_report

    # What runs after the audit is imported before it (see _memory_releaser).
    render = None if fmt == "json" else _renderer(fmt)
    render_html = _html_renderer() if html_path else None
    release_memory = _memory_releaser()
    key = _signing_key(sign_key)
    git = _repo()
    link = _previous_link(previous) if previous else None
    result = run_audit(
        git,
        rev,
        policy_path=_policy_rel(policy_path),
        policy_ref=policy_ref,
        experiment=experiment,
        since=since,
        use_cache=not no_cache,
        progress=_progress(),
    )
    unsigned, summary = encode_report(result, previous=link)
    signed_by = [] if key is None else [keyid(key.public_key())]
    view = view_from_audit(result, summary, signed_by)
    del result, summary  # the payload is spooled and the view holds what is still shown
    # Everything shown is rendered now, so that only the payload is in memory while
    # it is signed; nothing is written before the report is. The memory is handed
    # back once the view (which reads the leaderboard) is gone too: a collection
    # while the audit's objects live walks them all (~0.4 s at 100k runs).
    html = b"" if render_html is None else render_html(view).encode()
    shown = None if render is None else render(view)
    passed, commit = view.verdict == "pass", view.commit
    del view
    release_memory()
    report = unsigned.sign(key)
    if out:
        with open_atomic(out) as fh:
            report.write(fh)
    if note:
        git.add_note(commit, report.to_bytes())
    if html_path:
        write_atomic(html_path, html)
    if shown is None:
        sys.stdout.flush()
        report.write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        del report  # its buffer (100+ MB at 100k runs) is not kept while the text is output
        click.echo(shown, nl=False)
    where = f" written to {out}" if out else ""
    _err(
        f"{PROG} audit: {'PASS' if passed else 'FAIL'}; report "
        f"{'signed by ' + signed_by[0] if signed_by else 'UNSIGNED'}{where}"
    )
    if not passed:
        raise SystemExit(ExitCode.FAILED)


def _renderer(fmt: str) -> Callable[[View], str]:
    """How a report's view is shown as text, md, github (annotations, then the full
    text) or sarif."""
    from expflow_git.render.text import render_text

    if fmt == "md":
        from expflow_git.render.markdown import render_markdown

        return render_markdown
    if fmt == "github":
        from expflow_git.render.github import render_github

        # GitHub shows only 10 error annotations per step: the text form always follows.
        return lambda view: render_github(view) + render_text(view)
    if fmt == "sarif":
        from expflow_git.render.sarif import render_sarif

        return render_sarif
    return render_text


def _html_renderer() -> Callable[[View], str]:
    from expflow_git.render.html import render_html

    return render_html


def _previous_link(path: str) -> dict[str, Any]:
    import hashlib

    envelope, statement = _parse_saved(path)
    return {
        "seq": statement["predicate"]["chain"]["seq"],
        "payloadSha256": hashlib.sha256(envelope.payload).hexdigest(),
        "gitCommit": statement["predicate"]["repo"]["commit"],
    }


def _read_saved(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        _fail(f"{path}: no such file")
    except OSError as exc:
        _fail(f"{path}: cannot read: {exc.strerror}")


def _parse_saved(path: str, data: bytes | None = None) -> tuple[Envelope, dict[str, Any]]:
    from expflow_git.report.verify import ReportError, parse_report

    if data is None:
        data = _read_saved(path)
    try:
        return parse_report(data, source=path)
    except ReportError as exc:
        _fail(str(exc), ExitCode.FAILED)


def _progress() -> Callable[[int, int], None] | None:
    """A progress bar on stderr, only on a TTY and for long runs."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total < 2000 or (done % 500 and done != total):
            return
        width = 30
        filled = width * done // total
        end = "\n" if done == total else ""
        sys.stderr.write(
            f"\r  reading [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}"
        )
        sys.stderr.flush()

    return show


# --------------------------------------------------------------------------- keys / verify
@cli.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Private key path; the public key goes to PATH.pub.",
)
def keygen(out: str) -> None:
    """Make an Ed25519 key pair (PATH mode 0600, PATH.pub)."""
    from expflow_git.report.signing import keygen as make_keys

    kid = make_keys(out)
    click.echo(f"wrote {out} (private, mode 0600) and {out}.pub\nkeyid {kid}")
    _warn_key_in_work_tree(out)


def _warn_key_in_work_tree(path: str) -> None:
    """A private key inside a git work tree is one `git add -A` from being committed: say so
    (unless .gitignore keeps it out). The scan's private-key rule refuses it too."""
    from expflow_git.errors import printable
    from expflow_git.gitstore import Git

    try:
        git = Git.discover(os.path.dirname(os.path.abspath(path)))
    except ExpflowError:
        return  # not in a repository (or no git): nothing to warn about
    if git.root == git.git_dir:
        return  # a bare repository has no work tree
    import subprocess

    # Not through Git.run: check-ignore refuses its --literal-pathspecs. Exit 0: ignored.
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "--", os.path.abspath(path)],
        cwd=git.root,
        env=dict(git.env),
        capture_output=True,
        check=False,
    )
    if ignored.returncode == 0:
        return
    _err(
        f"{PROG} keygen: warning: {printable(path)} is a private key inside the git work tree "
        f"{printable(str(git.root))}; never commit it (add it to .gitignore, or keep keys "
        "outside the repository)"
    )


def _trusted_keys(
    paths: Sequence[str],
    trusted_ref: str | None,
    allowed_signers: str | None,
    git: Git | None,
    report_commit: str | None,
) -> tuple[list[TrustedKey], list[Line]]:
    """Keys from --public-key, .expflow/keys/*.pub at a trusted ref and an allowed_signers
    file — never from the report; with a line per key read at the ref, saying where from."""
    from expflow_git.report import trust
    from expflow_git.report.verify import Line

    keys = trust.from_files(paths)
    lines = []
    if trusted_ref:
        if git is None:
            _fail("--trusted-ref needs a repository (run inside one or pass --repo)")
        at_ref = trust.at_ref(git, trusted_ref, verified_commit=report_commit)
        keys += [k.trusted for k in at_ref]
        lines += [Line("key", True, k.describe()) for k in at_ref]
        if not at_ref:
            _err(f"{PROG} verify: warning: no .expflow/keys/*.pub at {trusted_ref}")
    if allowed_signers:
        from expflow_git.report.allowed_signers import NAMESPACE, load_allowed_signers

        loaded = load_allowed_signers(allowed_signers)
        for warning in loaded.warnings:
            _err(f"{PROG}: warning: {warning}")
        if not loaded.keys:
            _fail(
                f"{allowed_signers}: no ssh-ed25519 key usable for namespace {NAMESPACE!r} "
                "(see ssh-keygen(1), ALLOWED SIGNERS)"
            )
        keys += loaded.keys
    return keys, lines


allowed_signers_option = click.option(
    "--allowed-signers",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Trust the ssh-ed25519 keys of an OpenSSH allowed_signers file (namespace "
    "expflow-git), and name their principals.",
)


@cli.command()
@click.argument("report", type=click.Path(dir_okay=False))
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A trusted public key (repeatable).",
)
@click.option(
    "--trusted-ref",
    metavar="REF",
    help="Also trust .expflow/keys/*.pub as committed at REF (e.g. origin/main); REF must "
    "not contain the commit being verified.",
)
@allowed_signers_option
@click.option(
    "--repo",
    "repo_dir",
    type=click.Path(file_okay=False, exists=True),
    help="Check the report's binding to this repository.",
)
@click.option(
    "--ref",
    default="HEAD",
    show_default=True,
    help="With --repo: the commit must be in the history of REF.",
)
@click.option(
    "--recompute/--no-recompute",
    default=True,
    show_default=True,
    help="With --repo: re-run the audit and compare the entries byte for byte.",
)
@click.option(
    "--chain",
    "chain_dir",
    type=click.Path(file_okay=False, exists=True),
    help="A directory of reports to check as a chain REPORT belongs to.",
)
@click.option("--allow-unsigned", is_flag=True, help="Accept an unsigned report explicitly.")
def verify(
    report: str,
    public_keys: tuple[str, ...],
    trusted_ref: str | None,
    allowed_signers: str | None,
    repo_dir: str | None,
    ref: str,
    recompute: bool,
    chain_dir: str | None,
    allow_unsigned: bool,
) -> None:
    """Verify a report's signature, hash chain and binding to the repository."""
    from expflow_git.gitstore import Git
    from expflow_git.report.verify import Options, verify_report

    try:
        data = Path(report).read_bytes()
    except OSError as exc:
        _fail(f"{report}: cannot read: {exc.strerror}")
    git = Git.discover(repo_dir) if repo_dir else None
    keys_repo = git or (_repo() if trusted_ref else None)
    commit = _claimed_commit(data)
    keys, lines = _trusted_keys(public_keys, trusted_ref, allowed_signers, keys_repo, commit)
    options = Options(
        trusted=keys, allow_unsigned=allow_unsigned, repo=git, ref=ref, recompute=recompute
    )
    verdict = verify_report(data, source=report, options=options)
    lines += verdict.lines
    if chain_dir:
        from expflow_git.report.chain import verify_chain

        lines += verify_chain(Path(chain_dir), report=data, options=options, git=git or keys_repo)
    for line in lines:
        _out(str(line))  # a line may quote the report (keyids, paths): escaped
    ok = all(line.ok for line in lines)
    signers = ", ".join(dict.fromkeys(k.name() for k in verdict.signers))
    _out(
        f"{report}: "
        + (
            f"VERIFIED{', signed by ' + signers if signers else ''}"
            if ok
            else "VERIFICATION FAILED"
        )
    )
    if not ok:
        raise SystemExit(ExitCode.FAILED)


def _claimed_commit(data: bytes) -> str | None:
    """The commit a report claims, to keep --trusted-ref away from it (not trusted otherwise)."""
    from expflow_git.report.verify import ReportError, parse_report

    try:
        _, statement = parse_report(data, source="report")
    except ReportError:
        return None
    commit = statement["predicate"]["repo"]["commit"]
    return commit if isinstance(commit, str) else None


@cli.command("report")
@click.argument("report_path", metavar="REPORT", type=click.Path(dir_okay=False))
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Write a self-contained HTML scorecard.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "md"]), default="text", show_default=True
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Check the signature with this key (repeatable).",
)
@allowed_signers_option
def report_cmd(
    report_path: str,
    html_path: str | None,
    fmt: str,
    public_keys: tuple[str, ...],
    allowed_signers: str | None,
) -> None:
    """Render a saved report, after checking its integrity (and signature, given keys).

    Only signatures verified with a given key are shown as signers; without a key the
    report says its signature was not verified.
    """
    from expflow_git.atomicfile import write_atomic
    from expflow_git.render.view import view_from_statement
    from expflow_git.report.verify import Options, verify_report

    data = _read_saved(report_path)
    keys, _ = _trusted_keys(public_keys, None, allowed_signers, None, None)
    verdict = verify_report(
        data, source=report_path, options=Options(trusted=keys, allow_unsigned=not keys)
    )
    if not verdict.ok:
        for line in verdict.lines:
            if not line.ok:
                _err(str(line))
        _fail(f"{report_path}: not rendered: the report does not verify", ExitCode.FAILED)
    # The bytes that were verified are the bytes shown: the file is never read twice.
    envelope, statement = _parse_saved(report_path, data)
    unverified = bool(envelope.signatures) and not verdict.signers
    if unverified:
        _err(f"{PROG} report: signature not verified (pass --public-key or --allowed-signers)")
    signed_by = list(dict.fromkeys(k.name() for k in verdict.signers))
    view = view_from_statement(statement, signed_by, unverified=unverified)
    if html_path:
        write_atomic(html_path, _html_renderer()(view).encode())
        _err(f"wrote {html_path}")
    click.echo(_renderer(fmt)(view), nl=False)


@cli.command("diff")
@click.argument("rev_a")
@click.argument("rev_b", default="HEAD")
@click.option("--all", "show_all", is_flag=True, help="Also rows that did not change.")
@click.option(
    "--atol",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Changes within atol + rtol·|old| count as unchanged.",
)
@click.option("--rtol", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 if any metric regressed.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "md"]),
    default="table",
    show_default=True,
)
@policy_option
def diff_cmd(
    rev_a: str,
    rev_b: str,
    show_all: bool,
    atol: float,
    rtol: float,
    fail_on_regression: bool,
    fmt: str,
    policy_path: str | None,
) -> None:
    """Metrics per experiment between two revisions (REV_B defaults to HEAD)."""
    import json

    from expflow_git.audit import check_tree
    from expflow_git.diffing import Change, diff_checks
    from expflow_git.escape import json_text
    from expflow_git.render.table import distinct_numbers, md_table, text_table

    git = _repo()
    policy = _policy_rel(policy_path)
    rows = diff_checks(
        check_tree(git, rev_a, policy_path=policy, scan=False),
        check_tree(git, rev_b, policy_path=policy, scan=False),
        atol=atol,
        rtol=rtol,
    )
    shown = rows if show_all else [r for r in rows if r.change is not Change.UNCHANGED]
    if fmt == "json":
        doc = [
            {
                "experiment": r.experiment,
                "metric": r.metric,
                "old": r.old,
                "new": r.new,
                "delta": r.delta,
                "relative": r.relative,
                "change": r.change.value,
            }
            for r in shown
        ]
        click.echo(json_text(json.dumps(doc, indent=2)))
    elif not shown:
        click.echo(f"no metric changed between {rev_a} and {rev_b}")
    else:
        marks = {Change.IMPROVED: "▲ improved", Change.REGRESSED: "▼ regressed"}
        # An old and a new value that differ never look alike, nor two changes.
        value = distinct_numbers([v for r in shown for v in (r.old, r.new)])
        delta = distinct_numbers([r.delta for r in shown])
        body = [
            [
                r.experiment,
                r.metric,
                value[r.old],
                value[r.new],
                delta[r.delta],
                "-" if r.relative is None else f"{r.relative:+.2%}",
                marks.get(r.change, r.change.value),
            ]
            for r in shown
        ]
        headers = ["experiment", "metric", rev_a, rev_b, "change", "relative", ""]
        click.echo((md_table if fmt == "md" else text_table)(headers, body))
    if fail_on_regression and any(r.change is Change.REGRESSED for r in rows):
        raise SystemExit(ExitCode.FAILED)


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to build the example (default: a new temporary directory).",
)
def demo(directory: Path | None) -> None:
    """Build an example repository, commit, audit, sign, verify, print the leaderboard."""
    from expflow_git.demo import run_demo

    raise SystemExit(run_demo(directory, echo=click.echo))


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """One command allocates millions of small acyclic objects (documents, verdicts,
    report entries); the cyclic collector would re-walk all of them again and again
    as the heap grows (a quarter of an audit's time at 100k runs). Reference counting
    still frees everything; the collector is back on when the command ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _memory_releaser() -> Callable[[], None]:
    """What hands the memory a large audit freed back to the OS before the next large
    allocation (the payload read back to be signed).

    The free lists (tuples, floats, ...) keep a few blocks in nearly every pymalloc
    arena, so none could be released; a full collection empties them. glibc keeps its
    free heap pages unless asked (malloc_trim; elsewhere that part is skipped). At 100k
    runs this takes the process from about 330 to under 250 MiB before the signing.
    Whatever lives to the end and is created after the audit filled the heap (modules
    imported late, for one) lands in its holes and pins them: the caller gets this, and
    its renderers, before the audit.
    """
    trim: Callable[[int], int] | None
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim  # TypeError on Windows, AttributeError off glibc
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError, TypeError):
        trim = None

    def release() -> None:
        gc.collect()
        if trim is not None:
            trim(0)

    return release


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every user-facing error becomes one stderr line and its exit code."""
    try:
        with _no_cyclic_gc():
            cli.main(
                args=list(argv) if argv is not None else None,
                prog_name=PROG,
                standalone_mode=False,
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
    except OSError as exc:  # a file we were asked to write (or read) cannot be
        name = exc.filename2 or exc.filename  # a rename names its target second
        where = f"{name}: " if name else ""
        _err(f"{PROG}: error: {where}{exc.strerror or exc}")
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted")
        return 130
    return int(ExitCode.OK)
