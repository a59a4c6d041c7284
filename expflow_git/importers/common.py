"""Plan and apply an import (docs/spec.md §4.2): idempotent and incremental.

For each run of a `Source` the plan builds the record (and, for a successful run, the
result) the run maps to, checks both with the same checks as `validate` before
anything is written, and compares them with what the work tree holds:

- no record with that id: **new**;
- the same content (times and provenance aside): **unchanged**;
- different, and the run's result is not committed: **updated** (a run still running
  or pending, or an import not yet committed); but a record HEAD holds as ended
  (success, failed, skipped) keeps its frozen fields (params, status): a committed
  failed run is never rewritten into a success, **refused**;
- different, and the result is committed: **refused** as changed after commit (a
  committed result is never rewritten), unless `correct` gives a reason and the
  policy allows corrections: then **corrected**, the new result with a correction
  (corrections.py), as `result --overwrite --reason` writes it. A change of a frozen
  record field (params, status) cannot be corrected.

Never backwards: a run whose record here says it ended while the source still has it
pending or running (trained here with `run()`; not a success whose result the import
wrote) is **unchanged**, its plan saying why;
and a result the import did not write (its provenance names no source run of this one)
is never removed or written over: **refused**.

`apply` writes each run's files atomically: the correction, then the record, then the
result (a crash never leaves a result its record does not back).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import json
import math
import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from expflow_git.atomicfile import write_atomic
from expflow_git.checks import check_document, required_metric_findings
from expflow_git.corrections import (
    CORRECTION_SCHEMA,
    CORRECTIONS_DIR,
    plan_correction,
    refuse_empty_reason,
    write_correction,
)
from expflow_git.corrections import Planned as PlannedCorrection
from expflow_git.documents import (
    EXPERIMENT_SCHEMA,
    ID_RE,
    REASON_MAX_LENGTH,
    RESULT_SCHEMA,
    STATUS_OF,
    Result,
    Status,
    dump,
    stem,
)
from expflow_git.errors import (
    ExitCode,
    ExpflowError,
    is_utf8,
    mask_flagged,
    printable,
    utf8_argument,
)
from expflow_git.identity import normalised
from expflow_git.importers.source import Source, SourceRun, redact_uri, same_storage
from expflow_git.interrupts import deferred
from expflow_git.jsonstrict import DEFAULT_MAX_BYTES, JsonProblem, parse_json
from expflow_git.records.writer import (
    Layout,
    Studied,
    budget_warnings,
    deleted_message,
    file_digest,
    holdout_look,
    holdout_messages,
    read_document,
    records_lock,
    studied_records,
    utc_now,
)
from expflow_git.run import masked_reason, short_repr
from expflow_git.schemas import Kind, schema_errors

# What an import may differ in without the run having changed: when it was read, and
# where from (a moved database file is the same study).
_VOLATILE = ("created_at", "recorded_at", "provenance")
# A committed run's record fields that are as write-once as its result (spec §2.1).
_FROZEN = ("id", "study", "params", "seed", "status")
# The statuses a committed record may still leave on a later import (a run that goes on).
_GOING_ON = (Status.PENDING.value, Status.RUNNING.value)


class Action(str, enum.Enum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CORRECTED = "corrected"
    REFUSED = "refused"


@dataclass(frozen=True)
class Write:
    """One file to write: its path under the root and its bytes."""

    path: str
    data: bytes


@dataclass(frozen=True)
class RunPlan:
    """What the import does with one run, and why."""

    run: SourceRun
    action: Action
    writes: tuple[Write, ...] = ()
    removes: tuple[str, ...] = ()  # an uncommitted result of a run that is no success now
    correction: PlannedCorrection | None = None
    # Why refused, or what changed: one line each, as the CLI prints them (what the PIN
    # scan flags masked; control, bidi and other invisible characters escaped, `\x1b`).
    # The run's own fields (`run.run`, `run.name`, …) are the source's data, raw.
    reasons: tuple[str, ...] = ()
    # Metrics the source has that the run's committed result lacks (the registry took
    # them in since): said once for the import, the result left as committed.
    lacks: tuple[str, ...] = ()
    # Each file the run writes or removes, as the plan read it: its SHA-256, None when
    # there was none (`apply_import` refuses when one is another now; None: not checked).
    read: Mapping[str, str | None] | None = None


@dataclass(frozen=True)
class ImportSummary:
    """The plan of one import (what was written, unless `dry_run`), and warnings about
    what the audit will say of it (a study over its budget). `warnings`, the plans'
    `reasons` and `source.notes` are lines to show, escaped as `RunPlan.reasons` are."""

    source: Source
    plans: tuple[RunPlan, ...]
    dry_run: bool = False
    warnings: tuple[str, ...] = ()
    # HEAD's results (path → blob) the plan was made against: `apply_import` refuses
    # when a planned run's committed result is another now (None: not checked).
    committed: Mapping[str, str] | None = None

    def count(self, action: Action) -> int:
        return sum(1 for p in self.plans if p.action is action)

    @property
    def refused(self) -> int:
        return self.count(Action.REFUSED)

    @property
    def corrections(self) -> int:
        return self.count(Action.CORRECTED)

    def totals(self) -> str:
        """`3 new, 1 updated, 5 unchanged, 0 refused` (and corrected, when any)."""
        parts = [f"{self.count(a)} {a.value}" for a in Action if a is not Action.CORRECTED]
        if self.corrections:
            parts.insert(2, f"{self.corrections} corrected")
        return ", ".join(parts)


@dataclass
class _Context:
    layout: Layout
    source: Source
    correct: str | None
    environ: Mapping[str, str]
    captured_at: str = field(default_factory=utc_now)
    # Id → why each of the runs it is derived for is refused, when it is derived for
    # more than one (`_derived_twice`).
    twice: dict[str, str] = field(default_factory=dict)
    # Read once per import, not once per run (a year of trials is thousands of runs):
    records: dict[str, list[Path]] = field(default_factory=dict)  # id → record files
    committed: dict[str, str] = field(default_factory=dict)  # result path → blob in HEAD
    committed_ids: dict[str, str] = field(default_factory=dict)  # id → a result path in HEAD
    results: dict[str, list[str]] = field(default_factory=dict)  # id → result paths
    # Id → HEAD's records of that id, path → blob (read only for a run to be updated).
    committed_records: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Wherever the policy's globs take records (a moved record is still its run's).
        for exp_id, rels in self.layout.index(Kind.EXPERIMENT).items():
            self.records[exp_id] = [self.layout.disk(rel) for rel in rels]
        self.results = self.layout.index(Kind.RESULT)
        self.committed, records = _committed_documents(self.layout)
        for rel, blob in records.items():
            self.committed_records.setdefault(stem(rel), {})[rel] = blob
        for rel in sorted(self.committed, reverse=True):
            self.committed_ids[stem(rel)] = rel  # (a name without `.json` too)

    # The first run whose record here is another storage's study of the source's name
    # (`_other_run`): the source's new runs are that study's neither.
    foreign: RunPlan | None = None
    foreign_uri: object = None  # that record's provenance.source.uri

    @functools.cached_property
    def imported(self) -> dict[tuple[str, ...], list[tuple[str, object, str, object]]]:
        """The tracker's identity of each imported record in the work tree
        (`_identity`) → (id, study, record path, `started_at`) each; read when a run
        would be new (not for an import that finds every run). A CSV row's identity is
        its id in its study, which the record's id already is."""
        found: dict[tuple[str, ...], list[tuple[str, object, str, object]]] = {}
        for exp_id, paths in sorted(self.records.items()):
            for path in paths:
                doc = read_document(path)
                prov = doc.get("provenance") if doc is not None else None
                origin = prov.get("source") if isinstance(prov, dict) else None
                if doc is None or not isinstance(origin, dict):
                    continue
                key = tuple(origin.get(k) for k in ("tracker", "study", "run"))
                if key[0] == "csv" or not all(isinstance(k, str) for k in key):
                    continue
                rel = path.relative_to(self.layout.root).as_posix()
                found.setdefault(_identity(str(key[0]), str(key[1]), str(key[2])), []).append(
                    (exp_id, doc.get("study"), rel, origin.get("started_at"))
                )
        return found

    @functools.cached_property
    def deleted(self) -> dict[str, str]:
        """Id → HEAD's correction deleting the run, read when a run would be new (every
        correction of HEAD is read: not for an import that finds every run)."""
        return self.layout.deleted_on_record()


def check_correct_reason(
    correct: str | None, *pins: str | None, env: Mapping[str, str] | None = None
) -> None:
    """A `--correct` reason the PIN scan flags (`rerun --pin NNNN`) is a usage error (exit
    2, spec §4.2) before anything is read or written, whether or not the import then
    plans a correction: it was refused only when one was planned, and an import that
    planned none wrote its other runs and exited 0 (a hunter's report, issue 18
    twenty-seventh pass). Scanned as a correction's `reason` field, as
    `plan_correction` scans it. A reason that is not text is a ValueError, an empty or
    blank one or one the schema refuses (two lines) exit 2, all before anything is read
    (`correct=5` passed an import that planned no correction; `--correct ''` was told to
    "give --correct TEXT", a hunter's report, issue 18 twenty-eighth pass). So is a
    reason in which one of `pins` (`--pin`) or `env`'s $EXPFLOW_PIN stands alone
    (`pin.guard.refuse_pin_in`): `--dry-run` planned it "corrected", exit 0, and the
    Python API wrote it into the correction (no PIN is asked there), where the CLI's
    real run refuses it once approved (a hunt, issue 18 fortieth pass)."""
    if correct is None:
        return
    if not isinstance(correct, str):
        raise ValueError(f"correct: give the reason as text, not {short_repr(correct)}")
    # (a traceback, exit 1, as `--correct $'a\\xff'`: a hunter's report, thirty-seventh pass)
    utf8_argument(correct, "--correct")
    refuse_empty_reason(correct, "--correct")
    from expflow_git.pinscan.written import leak_in

    doc = {
        "schema": CORRECTION_SCHEMA,
        "experiment": "x",
        "supersedes": "0" * 40,
        "blob": "0" * 40,
        "reason": correct,
        "author": {"name": "x", "email": "x"},
        "time": utc_now(),
    }
    for pointer, message in schema_errors(Kind.CORRECTION, doc):
        if pointer == "/reason":
            raise ExpflowError(f"--correct: {printable(message)}")
    found = leak_in(f"{CORRECTIONS_DIR}/reason.json", dump(doc))
    if found is not None:
        # Named by where the reason goes (no correction file exists to name).
        where = replace(found, path=f"{CORRECTIONS_DIR}/", line=None, col=None)
        raise ExpflowError(f"--correct: {where}; the PIN scan refuses it, nothing written")
    from expflow_git.pin.guard import refuse_pin_in

    refuse_pin_in({"--correct": correct}, *pins, env=os.environ if env is None else env)


def plan_import(
    layout: Layout,
    source: Source,
    *,
    correct: str | None = None,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Decide, run by run, what importing `source` writes; nothing is written here."""
    check_correct_reason(correct, env=environ)
    # The policy's globs must take the files before any run is looked at (exit 2).
    layout.experiment_path(source.expflow_study, "x")
    layout.result_path(source.expflow_study, "x")
    ctx = _Context(layout, source, correct, os.environ if environ is None else environ)
    ctx.twice = _derived_twice(source)
    plans = []
    total = len(source.runs)
    for done, run in enumerate(source.runs, 1):
        plans.append(_as_read(layout, _plan_run(ctx, run)))
        if progress is not None:
            progress(done, total)
    plans = _not_foreign(ctx, plans)
    plans = _not_ignored(layout, plans)
    # What the plan says quotes the tracker (a cell, a name) and the work tree's records
    # (a provenance's tracker name, a study, a file name): what the PIN scan flags in it
    # masked (a hunter's report, issue 18 twenty-fourth pass), and what a terminal acts
    # on escaped (`\x1b`, `\x0d`, `\u202e`: they reached a Python caller raw, issue 18
    # twenty-ninth pass), for the Python caller as for the CLI: one line each.
    plans = [replace(p, reasons=tuple(map(_said, p.reasons))) for p in plans]
    source = replace(source, notes=tuple(map(_said, source.notes)))
    warnings = (
        _ended(plans) + _lacking(ctx, plans) + _budget(ctx, plans) + _holdout_budget(ctx, plans)
    )
    warnings = tuple(map(_said, warnings))
    return ImportSummary(source, tuple(plans), warnings=warnings, committed=dict(ctx.committed))


def _said(text: str) -> str:
    """A line of the plan (a reason, a note, a warning) as the CLI prints it: what the
    PIN scan flags masked (`masked_line`), then control, format and separator characters
    escaped."""
    return printable(masked_line(text))


_HEX_64 = re.compile(r"[0-9A-Fa-f]{64}")


def masked_line(text: str) -> str:
    """`text`, a line quoting the tracker or the work tree, with what the PIN scan flags
    masked (`mask_flagged`), and a PIN's SHA-256 also where the scan flags it only in a
    path (a 64-hex run, §5: `x<digest>`, `run_<digest>`, which a document's text does not
    show as a word): such an id or study is refused by its record's path, and the
    refusal's line masked the path, `experiments/s/x****.json`, beside the id whole, as
    the totals line showed such a study (an attacker's hunt, issue 18 forty-second
    pass)."""
    text = mask_flagged(text)
    if _HEX_64.search(text) is None:
        return text
    from expflow_git.pinscan.scanner import shown_path

    return shown_path(text)


def _as_read(layout: Layout, plan: RunPlan) -> RunPlan:
    """`plan` with the files it writes or removes as they are now (`RunPlan.read`)."""
    targets = _targets(layout, plan)
    if not targets:
        return plan
    return replace(plan, read={rel: file_digest(path) for rel, path in targets})


def _targets(layout: Layout, plan: RunPlan) -> list[tuple[str, Path]]:
    """The files a run's plan writes over or removes, by path under the root."""
    rels = [w.path for w in plan.writes] + list(plan.removes)
    found = [(rel, layout.target(rel)) for rel in rels]
    replaces = plan.correction.replaces if plan.correction is not None else None
    if replaces is not None:
        found.append((replaces, layout.disk(replaces)))
    return found


def _ended(plans: Sequence[RunPlan]) -> tuple[str, ...]:
    """One line for the runs left as they are because they ended here (`_ended_here`):
    not a change of the run (exit 0, a scheduled import goes on), but said."""
    held = [p for p in plans if p.action is Action.UNCHANGED and p.reasons]
    if not held:
        return ()
    ids = ", ".join(p.run.exp_id for p in held[:5]) + (", …" if len(held) > 5 else "")
    return (
        f"{len(held)} run(s) ended here that the source still has pending or running: "
        f"{ids}; left as they are (an import never moves an ended run back)",
    )


def _lacking(ctx: _Context, plans: Sequence[RunPlan]) -> tuple[str, ...]:
    """One line for the committed results that lack metrics the source has: the registry
    took a metric in after they were committed (an Optuna user attribute, a CSV column,
    an MLflow metric it left out before). Not a change of the run (no exit 1: every
    later import failed, a user's hunt, issue 18 twenty-fourth pass), and not written
    over either: `--correct` takes them in as declared corrections."""
    lacking = [p for p in plans if p.lacks]
    if not lacking:
        return ()
    names = ", ".join(dict.fromkeys(n for p in lacking for n in p.lacks))
    ids = ", ".join(p.run.exp_id for p in lacking[:5]) + (", …" if len(lacking) > 5 else "")
    how = (
        "take them in as declared corrections with --correct REASON"
        if ctx.layout.policy.corrections_allowed
        else "the policy allows no corrections"
    )
    return (
        f"{len(lacking)} committed result(s) lack metrics the source has ({names}): {ids}; "
        f"results are write-once ({how})",
    )


def _not_foreign(ctx: _Context, plans: list[RunPlan]) -> list[RunPlan]:
    """When a run's record here is another storage's study of the source's name (an
    Optuna trial of the same study and number that started at another time), the
    source's other runs are refused too: they are that other study's trials, and were
    written into the first one's study, new or over a record with no start to tell (a
    WAITING trial's) (a hunter's report, issue 18 thirtieth pass)."""
    first = ctx.foreign
    if first is None:
        return plans
    src = ctx.source
    said = (
        f"{src.uri} holds another {src.tracker} study named {src.study!r} than the one "
        f"imported into study {src.expflow_study} (see {first.run.label(src.tracker)}); "
        "nothing of it written"
    )
    if same_storage(ctx.foreign_uri, src.uri):  # the same storage: its study was made again
        said = (
            f"{src.tracker} study {src.study!r} at {src.uri} was re-created since it was "
            f"imported into study {src.expflow_study} (see {first.run.label(src.tracker)}); "
            "nothing of it written"
        )
    return [p if p.action is Action.REFUSED else _refused(p.run, said) for p in plans]


def _not_ignored(layout: Layout, plans: list[RunPlan]) -> list[RunPlan]:
    """A run whose files `.gitignore` keeps out is refused: it would never be committed,
    and nothing that lists the repository's runs would find it (as `new` refuses it).
    Its correction too: `--correct` wrote one where a `.gitignore` kept from before the
    template gave back `corrections/` (`*-key`, a run `model-key`), exit 0, and the hook
    then refused the result it declares as an undeclared rewrite (a hunter's report,
    issue 18 thirty-eighth pass; `result --overwrite` refuses it so)."""
    ignored = layout.ignored([rel for p in plans for rel in _written(p)])
    if not ignored:
        return plans
    return [
        _refused(p.run, f"{hidden}: .gitignore keeps this file out of the repository")
        if (hidden := next((rel for rel in _written(p) if rel in ignored), None))
        else p
        for p in plans
    ]


def _written(plan: RunPlan) -> list[str]:
    """The files a run's plan writes, its correction first (the path it is written at)."""
    fix = plan.correction
    first = [fix.replaces or fix.path] if fix is not None else []
    return first + [w.path for w in plan.writes]


def _budget(ctx: _Context, plans: Sequence[RunPlan]) -> tuple[str, ...]:
    """The audit fails a study with more records than `budget.max_runs_per_study`, and
    all studies with more than `budget.max_runs`."""
    new = {p.run.exp_id for p in plans if p.action is Action.NEW}
    return budget_warnings(ctx.layout, ctx.source.expflow_study, new)


def _holdout_budget(ctx: _Context, plans: Sequence[RunPlan]) -> tuple[str, ...]:
    """The audit and `validate` fail a study with more results carrying the holdout
    split than `walk_forward.max_evaluations_per_study`, and all studies with more than
    `walk_forward.max_evaluations` (checks.holdout_counts: a look counts in its run's
    record's study). Counted in the work tree as the plan would leave it, as `validate`
    counts them: an import of rows with a `holdout/...` column said nothing of this
    budget, and the commit's hook then refused it (a hunter's report, issue 18
    thirtieth pass)."""
    walk = ctx.layout.policy.walk_forward
    if walk is None or (walk.max_evaluations_per_study is None and walk.max_evaluations is None):
        return ()
    split, study = walk.split, ctx.source.expflow_study
    records = studied_records(ctx.layout)
    records += [
        Studied(w.path, p.run.exp_id, study)
        for p in plans
        if p.action is Action.NEW
        for w in p.writes[:1]
    ]
    # Result path → the experiment id of a result carrying the split (None: it does not).
    looks: dict[str, str | None] = {}
    for exp_id, rels in ctx.results.items():
        for rel in rels:
            looks[rel] = holdout_look(read_document(ctx.layout.disk(rel)), split, exp_id)
    for plan in plans:
        for write in plan.writes:
            if ctx.layout.policy.kind_of(write.path) is Kind.RESULT:
                looks[write.path] = holdout_look(json.loads(write.data), split, plan.run.exp_id)
        for rel in plan.removes:
            looks[rel] = None
    found = (i for i in looks.values() if i is not None)
    return holdout_messages(ctx.layout.policy, records, found, study)


def apply_import(layout: Layout, summary: ImportSummary) -> ImportSummary:
    """Write what the plan decided, run by run, each file atomically, and each run whole
    or not at all: a write that fails (a full disk, a folder that cannot be written)
    puts back what the run's earlier writes replaced, and the error says how many runs
    were written before it. (A record written without its result was a run that had
    succeeded with no score, and `validate` accepts that.) Under the work tree's lock,
    as every record command writes, once the runs the plan found new are still new and
    no planned run's committed result is another than the plan saw, nor any file it
    writes or removes another than the plan read. Returns the summary with each
    correction's path as it was written (a second one of a result in the same second
    takes a suffix, `write_correction`)."""
    with records_lock(layout.root):
        _still_new(layout, summary)
        _still_committed_as_planned(layout, summary)
        _still_as_read(layout, summary)
        return replace(summary, plans=tuple(_apply_runs(layout, summary)))


def _still_new(layout: Layout, summary: ImportSummary) -> None:
    """Refuse (exit 1, nothing written) when a run the plan found new has a record now:
    another command wrote one since (a PIN prompt may have come between)."""
    new = {p.run.exp_id for p in summary.plans if p.action is Action.NEW}
    taken = sorted(new & layout.index(Kind.EXPERIMENT).keys())
    if taken:
        raise ExpflowError(
            f"run {taken[0]} has a record now (another command wrote it while this import "
            "ran); nothing written, import again",
            code=ExitCode.FAILED,
        )


def _still_committed_as_planned(layout: Layout, summary: ImportSummary) -> None:
    """Refuse (exit 1, nothing written) when HEAD holds another result for a run the plan
    writes than it did when planned: another import committed one meanwhile (a PIN prompt
    may have come between), and a run planned "updated" wrote over that committed result
    without a correction (a user's hunt, issue 18 twenty-fourth pass). A correction
    planned against the old result is refused alike: it would declare the wrong one."""
    if summary.committed is None:
        return
    now = _committed_results(layout)
    if now == summary.committed:
        return
    then_ids, now_ids = _results_by_id(summary.committed), _results_by_id(now)
    for plan in summary.plans:
        exp_id = plan.run.exp_id
        touches = plan.writes or plan.removes or plan.correction is not None
        if touches and then_ids.get(exp_id) != now_ids.get(exp_id):
            rel = min(now_ids.get(exp_id) or then_ids[exp_id])[0]
            raise ExpflowError(
                f"run {exp_id}: HEAD's result {rel} is not the one this import planned "
                "against (another command committed it while this import ran); nothing "
                "written, import again",
                code=ExitCode.FAILED,
            )


def _still_as_read(layout: Layout, summary: ImportSummary) -> None:
    """Refuse (exit 1, nothing written) when a file a run's plan writes or removes is
    another now than the plan read: `result` (or `fail`, an edit) wrote it meanwhile, and
    the import wrote over it; a result of 0.25 recorded between the plan and its writes
    was lost to the tracker's 0.5 (a review, issue 18 twenty-fourth pass; `result`
    guards its own write so, `_still_as_planned`)."""
    for plan in summary.plans:
        if plan.read is None:
            continue
        for rel, path in _targets(layout, plan):
            if rel in plan.read and file_digest(path) != plan.read[rel]:
                raise ExpflowError(
                    f"run {plan.run.exp_id}: {rel} changed while this import ran (another "
                    "command wrote it); nothing written, import again",
                    code=ExitCode.FAILED,
                )


def _results_by_id(committed: Mapping[str, str]) -> dict[str, set[tuple[str, str]]]:
    """Id → its results in HEAD, (path, blob) each (as `_Context.committed_ids` names them)."""
    found: dict[str, set[tuple[str, str]]] = {}
    for rel, blob in committed.items():
        found.setdefault(stem(rel), set()).add((rel, blob))
    return found


def _apply_runs(layout: Layout, summary: ImportSummary) -> list[RunPlan]:
    written = 0
    done: list[RunPlan] = []
    for plan in summary.plans:
        left: list[Path] = []  # files a failed run could not put back
        try:
            # A Ctrl-C or SIGTERM waits for the run's files (a SIGTERM killed the process
            # between them, and left a record marked `success` without its result).
            with deferred():
                rel = _apply_run(layout, plan, left)
        except (OSError, ExpflowError) as exc:
            state = (
                f"half written (could not put back "
                f"{', '.join(p.relative_to(layout.root).as_posix() for p in left)})"
                if left
                else "not written"
            )
            raise ExpflowError(
                f"{_problem(exc)}; run {plan.run.exp_id} {state}, "
                f"{written} run(s) before it written whole"
            ) from None
        written += bool(plan.writes or plan.removes or plan.correction)
        if plan.correction is not None and rel is not None and rel != plan.correction.path:
            plan = replace(plan, correction=replace(plan.correction, path=rel))
        done.append(plan)
    return done


def _problem(exc: OSError | ExpflowError) -> str:
    """An error as one line naming its file (the CLI escapes what it prints)."""
    if isinstance(exc, ExpflowError):
        return str(exc)
    where = f"{os.fsdecode(exc.filename)}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def _apply_run(layout: Layout, plan: RunPlan, left: list[Path]) -> str | None:
    """One run's files; on a failure, each file it wrote is put back as it was (those
    that cannot be are added to `left`). Returns the correction's path as written.

    Only a file this run wrote or removed is put back: one whose write failed is as it
    was. A result never written was "put back" by removing it, which on a read-only file
    system fails with EROFS (not ENOENT), and the run was said to be half written while
    nothing of it was (a hunter's find, issue 18 thirty-second pass)."""
    before: list[tuple[Path, bytes | None]] = []
    changed: set[Path] = set()  # what this run wrote or removed
    written: str | None = None

    def keep(path: Path) -> None:
        before.append((path, path.read_bytes() if path.is_file() else None))

    try:
        for write in plan.writes:
            keep(layout.target(write.path))
        for rel in plan.removes:
            keep(layout.target(rel))
        if plan.correction is not None:
            if plan.correction.replaces is not None:  # an uncommitted one, rewritten
                keep(layout.disk(plan.correction.replaces))
                written = write_correction(layout.root, plan.correction)
                changed.add(layout.disk(written))
            else:
                written = write_correction(layout.root, plan.correction)
                before.append((layout.disk(written), None))
                changed.add(layout.disk(written))
        for write in plan.writes:
            write_atomic(layout.target(write.path), write.data)
            changed.add(layout.target(write.path))
        for rel in plan.removes:
            _remove(layout.target(rel))
            changed.add(layout.target(rel))
        return written
    except BaseException:
        for path, data in reversed(before):
            if path not in changed:
                continue  # (never written: as it was)
            try:
                if data is None:
                    _remove(path)
                else:
                    write_atomic(path, data)
            except OSError:
                left.append(path)
        raise


def _remove(path: Path) -> None:
    """Remove the file at `path`, if there is one: a file where one of its folders goes
    holds none either. `unlink(missing_ok=True)` raised NotADirectoryError there, and a
    failed run's result, never written, was said to be one that could not be put back."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        path.unlink()


def _owned(
    ctx: _Context, run: SourceRun, existing: Sequence[Path], committed: str | None
) -> tuple[str, dict[str, Any]] | RunPlan:
    """The run's record here, its path and content; or the run refused: the record there
    is no JSON document, or another source's run, or another study's."""
    source, layout, study = ctx.source, ctx.layout, ctx.source.expflow_study
    old_rel = existing[0].relative_to(layout.root).as_posix()
    old_record = read_document(existing[0])
    if old_record is None:
        return _refused(run, f"{old_rel}: the record there is no valid JSON document")
    # Another source's run, or another study's (by the record's own `study`: with flat
    # folders every study's record has one path, and a run was moved into the other).
    in_head = committed is not None or run.exp_id in ctx.committed_records
    mismatch = _other_run(old_record, source, run, old_rel, committed=in_head)
    if mismatch and _foreign(old_record, source, run):
        if ctx.foreign is None:
            ctx.foreign = _refused(run, "")
            origin = old_record.get("provenance", {}).get("source", {})
            ctx.foreign_uri = origin.get("uri")
        return _refused(run, f"id {run.exp_id!r} is taken: {mismatch}")
    theirs = old_record.get("study")
    if not mismatch and not isinstance(theirs, str):
        # Whose run it is cannot be told (a flat folder holds every study's): not taken
        # over, nor said to be another study's.
        mismatch = f"its record {old_rel} has no study; fix the record"
    elif not mismatch and theirs != study:
        mismatch = f"it is in another study ({old_rel})"
        if source.tracker != "csv":
            # The tracker's same run (a CSV's id is only its study's): its source was
            # renamed (an MLflow experiment), or another --study-as was given.
            mismatch += f"; {_again_as(theirs)}"
    if mismatch:
        return _refused(run, f"id {run.exp_id!r} is taken: {mismatch}")
    return old_rel, old_record


def _again_as(study: object) -> str:
    """The hint to import a run again into the study its record here names: the work
    tree's record, as anyone wrote it (a pull request's branch checked out), whose
    `study` was printed as it is, `--study-as x $(…)`, a command that does not run as
    printed and runs what the record put there if pasted (a hunter's report, issue 18
    thirty-ninth pass; `_gone` quotes its path so). `--study-as` takes an id only, which
    a shell reads as one word: any other study is said to be no id."""
    if isinstance(study, str) and ID_RE.match(study):
        return f"import it again with --study-as {study}"
    return f"its record's study {short_repr(study)} is no id; fix the record"


def _derived_twice(source: Source) -> dict[str, str]:
    """Id → the refusal of each run it is derived for, for the ids derived for more than
    one run of the source: none of them is the run. The first was imported and the
    others refused (`q,0.1` then `q,0.2`: `q` written with 0.1; a hunter's report, issue
    18 thirty-third pass), and before that a refused first row let the second be
    imported (twenty-sixth pass). Each line names every run of the id, a CSV's by its
    rows (both were `id a`, a user's hunt, twenty-fourth pass), ten at most. A CSV row
    with no id cell (`row-N` stands in) derives no id."""
    runs: dict[str, list[SourceRun]] = {}
    for run in source.runs:
        if run.run:
            runs.setdefault(run.exp_id, []).append(run)
    noun = {"csv": "rows", "optuna": "trials"}.get(source.tracker, "runs")
    found = {}
    for exp_id, same in runs.items():
        if len(same) < 2:
            continue
        named = [r.where or r.label(source.tracker) for r in same[:10]]
        more = f", … ({len(same) - 10} more)" if len(same) > 10 else ""
        found[exp_id] = (
            f"id {exp_id!r} is derived from {len(same)} {noun} ({', '.join(named)}{more}); "
            "none of them is imported"
        )
    return found


def _plan_run(ctx: _Context, run: SourceRun) -> RunPlan:
    source, layout = ctx.source, ctx.layout
    label = run.label(source.tracker)
    # Every run of an id derived more than once is refused, whatever else refuses it.
    twice: tuple[str, ...] = ()
    if run.run and run.exp_id in ctx.twice:
        twice = (f"{run.where}: {ctx.twice[run.exp_id]}" if run.where else ctx.twice[run.exp_id],)
    if run.oversized:  # (over the cap whatever else it holds: its JSON is not built)
        rec_rel = layout.experiment_path(source.expflow_study, run.exp_id)
        over = f"{rec_rel}: invalid-json: document is over the {DEFAULT_MAX_BYTES}-byte cap"
        return RunPlan(run, Action.REFUSED, reasons=(f"{over} ({run.oversized})", *twice))
    if run.problems or twice:
        return RunPlan(run, Action.REFUSED, reasons=run.problems + twice)
    problems = _non_finite(run) + _not_utf8(run)
    if problems:
        return RunPlan(run, Action.REFUSED, reasons=tuple(problems))
    record = _record(ctx, run)
    result = _result(ctx, run) if run.status is Status.SUCCESS else None
    study = source.expflow_study
    rec_rel = layout.experiment_path(study, run.exp_id)
    # Over the run's result wherever it is (a second file would be a second score).
    res_rel = layout.checked_result(layout.result_of(study, run.exp_id, ctx.results))
    writes = [Write(rec_rel, dump(record))]
    if result is not None:
        writes.append(Write(res_rel, dump(result)))
    existing = ctx.records.get(run.exp_id, [])
    committed = ctx.committed_ids.get(run.exp_id)
    # Whose id it is, before the documents are checked: they are checked at the result
    # path of the id's record wherever it is, and another study's id refused for a
    # missing metric was named by that study's file (`results/c/a.json#/metrics` for
    # `--study c2`; a hunter's report, issue 18 thirty-third pass).
    # (A result of the id with no record, in another study's folder, alike.)
    owned = _owned(ctx, run, existing, committed) if existing else None
    if isinstance(owned, RunPlan):
        return owned
    if owned is None and layout.target(res_rel).exists():
        return _refused(run, f"{res_rel}: a result exists without its record")
    findings = _check(ctx, writes) + _blocked(layout, writes)
    if findings:
        return RunPlan(run, Action.REFUSED, reasons=tuple(findings))
    if owned is None:
        if committed is not None:  # deleted from the work tree, not from the history
            return _gone(run, label, committed)
        if run.exp_id in ctx.deleted:  # deleted on record (a correction): it stays so
            return _refused(run, deleted_message(run.exp_id, ctx.deleted[run.exp_id]))
        # The tracker's run has a record under another id: another `--study-as` made
        # its id (an Optuna trial's is `<study>-t<number>`), and a second record would
        # count and rank it twice (a user's hunt; spec §4.2: a run is the tracker's own).
        key = _identity(source.tracker, source.study, run.run)
        taken = next(
            (t for t in ctx.imported.get(key, []) if _same_start(t[3], run.started_at)), None
        )
        if taken is not None:
            other_id, other_study, other_rel, _ = taken
            return _refused(
                run,
                f"{label} is imported already, as {other_id} in study {other_study} "
                f"({other_rel}); {_again_as(other_study)}",
            )
        return RunPlan(run, Action.NEW, tuple(writes))
    old_rel, old_record = owned
    res_path = layout.target(res_rel)
    old_result = read_document(res_path) if res_path.exists() else None
    if res_path.exists() and old_result is None:
        return _refused(run, f"{res_rel}: the result there is no valid JSON document")
    # HEAD's record of a run that ended (success, failed, skipped) is frozen as a
    # committed result's record is, though a failed or skipped run has no result to
    # commit (read only for a run that changed: a re-import of the same reads no blob).
    ended = (
        None
        if committed is not None or (_same(old_record, record) and _same(old_result, result))
        else _committed_ended(ctx, run.exp_id, old_rel)
    )
    kept = (
        _kept_params(old_record, record, run)
        if committed is not None or ended is not None
        else None
    )
    if kept is not None:  # the committed run's columns read as they were
        record["params"] = kept
        writes[0] = Write(rec_rel, dump(record))
        findings = _check(ctx, writes)
        if findings:
            return RunPlan(run, Action.REFUSED, reasons=tuple(findings))
    if old_rel != rec_rel:  # moved by hand within its study: the run's record is there
        writes[0] = Write(old_rel, dump(record))
        findings = _check(ctx, writes) + _blocked(layout, writes)
        if findings:
            return RunPlan(run, Action.REFUSED, reasons=tuple(findings))
    if _same(old_record, record) and _same(old_result, result):
        return RunPlan(run, Action.UNCHANGED)
    if committed is None and run.exp_id in ctx.deleted:
        # Its record put back (`git checkout HEAD~1 -- RECORD`): the import wrote it a
        # result again, "updated", exit 0, and the hook refused the commit (a run deleted
        # on record comes back only as the result it had, §2.4; a hunter's report, issue
        # 18 thirty-eighth pass), as `result` and `fail` refuse it (`refuse_deleted_run`).
        return _refused(run, deleted_message(run.exp_id, ctx.deleted[run.exp_id]))
    if committed is not None and not os.path.lexists(res_path):
        return _gone(run, label, committed)
    held = _ended_here(old_record, record, old_rel)
    # (A success whose result this import wrote ended in the source: the source changed,
    # updated while uncommitted and refused once committed, as before.)
    if held is not None and (old_result is None or _other_run(old_result, source, run)):
        return RunPlan(run, Action.UNCHANGED, reasons=(held,))
    if res_rel not in ctx.committed and committed is None:
        if ended is not None:
            frozen = [k for k in _FROZEN if _differs(ended[1].get(k), record.get(k))]
            if frozen:
                # A committed failed run was rewritten into a success with other params
                # and a score, no correction, and the hooks and the audit passed (a
                # hunter's report, issue 18 twenty-seventh pass).
                return _refused(
                    run,
                    f"{label} changed after its record {ended[0]} was committed as "
                    f"{ended[1].get('status')}: its {', '.join(frozen)} "
                    f"{'differs' if len(frozen) == 1 else 'differ'}, and an ended run's "
                    "committed record is frozen (nothing written)",
                )
        if old_result is not None and not _same(old_result, result):
            theirs = _other_run(old_result, source, run)
            if theirs:
                # `run()` or `result` wrote it (a pending row trained here): the import
                # removed it, or wrote the tracker's over it (a hunter's report, issue
                # 18 twenty-eighth pass).
                return _refused(
                    run,
                    f"{res_rel}: the result there is not this import's "
                    f"({theirs.replace('its record', 'it')}), and the source has the run "
                    f"{record.get('status')}{' with another result' if result else ''}; an "
                    "import never removes or writes over a result it did not write "
                    "(nothing written)",
                )
        removes = (res_rel,) if result is None and old_result is not None else ()
        return RunPlan(
            run, Action.UPDATED, tuple(writes), removes, reasons=_changes(old_record, record)
        )
    return _changed_after_commit(ctx, run, old_record, record, writes, res_rel)


def _changed_after_commit(
    ctx: _Context,
    run: SourceRun,
    old_record: Mapping[str, Any],
    record: Mapping[str, Any],
    writes: list[Write],
    res_rel: str,
) -> RunPlan:
    """The run's result is committed and the source says something else."""
    label = run.label(ctx.source.tracker)
    frozen = [k for k in _FROZEN if _differs(old_record.get(k), record.get(k))]
    if frozen:
        return _refused(
            run,
            f"{label} changed after its result was committed: its {', '.join(frozen)} "
            f"{'differs' if len(frozen) == 1 else 'differ'}, and a committed run's record is "
            "frozen (nothing written)",
        )
    old_result = read_document(ctx.layout.target(res_rel))
    if len(writes) < 2 or _same(old_result, json.loads(writes[1].data)):
        # Only what is not frozen (title, tags, reason) changed: the record may follow.
        return RunPlan(run, Action.UPDATED, (writes[0],), reasons=_changes(old_record, record))
    theirs = _other_run(old_result, ctx.source, run) if old_result is not None else ""
    if theirs:
        # `run()` or `result` wrote it, and it was committed: the import advised
        # `--correct`, which wrote the tracker's result over it (a hunt of spec §4,
        # issue 18 forty-first pass), as it never does before the commit. Asked before
        # the metrics the source adds: a result trained here that lacks one was "take
        # them in with --correct REASON", exit 0, advice the import then refused (a
        # review, forty-first pass), where before the commit it is refused.
        return _refused(
            run,
            f"{res_rel}: the result there is not this import's "
            f"({theirs.replace('its record', 'it')}), and the source has the run "
            f"{record.get('status')} with another result; an import never removes or "
            "writes over a result it did not write (nothing written)",
        )
    added = _added_metrics(ctx.source.tracker, old_result, writes[1])
    if added and ctx.correct is None:  # the source has more, not other (`_lacking`)
        if _same(old_record, record):
            return RunPlan(run, Action.UNCHANGED, lacks=added)
        reasons = _changes(old_record, record)
        return RunPlan(run, Action.UPDATED, (writes[0],), reasons=reasons, lacks=added)
    if ctx.correct is None:
        return _refused(
            run,
            f"{label} changed after its result {res_rel} was committed"
            f"{_options_hint(ctx, res_rel, writes[1])}; results are write-once (take it in "
            "as a declared correction with --correct REASON)",
        )
    if not ctx.layout.policy.corrections_allowed:
        return _refused(
            run,
            f"{label} changed after its result {res_rel} was committed, and the policy "
            "allows no corrections (protect.corrections: deny)",
        )
    if res_rel not in ctx.committed:  # moved or copied in the work tree: HEAD has none here
        return _refused(
            run,
            f"{label} changed after its result was committed as "
            f"{ctx.committed_ids[run.exp_id]}, which the work tree has as {res_rel}; "
            "commit or undo that move first (nothing written)",
        )
    correction = plan_correction(
        ctx.layout.root,
        ctx.layout.policy,
        study=ctx.source.expflow_study,
        experiment=run.exp_id,
        result_rel=res_rel,
        new_data=writes[1].data,
        reason=ctx.correct,
        environ=ctx.environ,
        reason_option="--correct",
    )
    if correction is None:  # (never "corrected" without the correction that declares it)
        return _refused(run, f"{label}: {res_rel} has no committed result to correct")
    if correction.replaces is not None:
        # Written over the uncommitted one it replaces (`write_correction`): the plan
        # named the new name it would have had, a file that is not written (a hunter's
        # report, issue 18 thirtieth pass).
        correction = replace(correction, path=correction.replaces)
    # The record is unchanged in what is frozen; what is not (an MLflow run's name and
    # tags) follows the source as it does without a correction: the result alone was
    # written, and the next import "updated" the record (a hunter's report, issue 18
    # thirty-eighth pass: an import after a correction was no no-op).
    if _same(old_record, record):
        return RunPlan(run, Action.CORRECTED, (writes[1],), correction=correction)
    return RunPlan(
        run,
        Action.CORRECTED,
        tuple(writes),
        correction=correction,
        reasons=_changes(old_record, record),
    )


def _ended_here(
    old_record: Mapping[str, Any], record: Mapping[str, Any], old_rel: str
) -> str | None:
    """Why a run is left as it is: its record here says it ended (success, failed,
    skipped) and the source still has it pending or running (unless its result is the
    import's own: the caller's check). An import never moves a run ended here back: a
    WAITING trial or a pending CSV row trained with `run()` was written back to pending
    on the next import, its uncommitted result removed, exit 0 (a hunter's report, issue
    18 twenty-eighth pass); once committed, every later import refused it. None: not so."""
    old, new = old_record.get("status"), record.get("status")
    if old in _GOING_ON or old not in STATUS_OF or new not in _GOING_ON:
        return None
    return f"ended here: {old_rel} says {old}, the source still has the run {new}"


def _kept_params(
    old_record: Mapping[str, Any], record: Mapping[str, Any], run: SourceRun
) -> dict[str, Any] | None:
    """A committed run's params when the source reads some of their columns as metrics
    now (a CSV column the registry took in since: by default a metric column), and the
    rest is the same: a committed record is frozen, and the column was a param when it
    was committed (a user's hunt, issue 18 twenty-fourth pass). None: not so."""
    old, new = old_record.get("params"), record.get("params")
    if not run.metric_params or not isinstance(old, dict) or not isinstance(new, dict):
        return None
    moved = old.keys() - new.keys()
    # (compared as the hook compares them, `_differs`: `1` is no `true`; a review)
    if not moved or any(k not in old or _differs(old[k], v) for k, v in new.items()):
        return None
    if any(k not in run.metric_params or _differs(run.metric_params[k], old[k]) for k in moved):
        return None
    return dict(old)


def _added_metrics(tracker: str, old: Mapping[str, Any] | None, write: Write) -> tuple[str, ...]:
    """What the new result has that the committed one lacks (`f1`, `holdout/f1`, `series
    f1`), when that is all it differs in; empty otherwise. `series` where the committed
    result has none, or Optuna's `splits`, are an option given one time and not the
    other (`_options_hint`): not additions."""
    new = json.loads(write.data)
    if old is None or not isinstance(new, dict):
        return ()
    added: list[str] = []
    trimmed = dict(new)
    for key, prefix in (("metrics", ""), ("splits", ""), ("series", "series ")):
        if key not in new:
            continue
        if key not in old and (key == "series" or (key == "splits" and tracker == "optuna")):
            continue
        trimmed[key] = _without_added(old.get(key, {}), new[key], prefix, added)
        if key not in old and not trimmed[key]:
            del trimmed[key]
    return tuple(added) if added and _same(old, trimmed) else ()


def _without_added(old: Any, new: Any, prefix: str, added: list[str]) -> Any:
    """`new` without the names `old` lacks (each added to `added`, a split's metrics as
    SPLIT/METRIC), at every level of mappings."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    kept = {}
    for name, value in new.items():
        if name in old:
            kept[name] = _without_added(old[name], value, f"{prefix}{name}/", added)
        elif isinstance(value, dict):
            added.extend(f"{prefix}{name}/{inner}" for inner in value)
        else:
            added.append(f"{prefix}{name}")
    return kept


def _options_hint(ctx: _Context, res_rel: str, write: Write) -> str:
    """When only `series` or `splits` differ in being there, the likely cause: `--series`
    or Optuna's `--split-attr` given one time, not the other (an import compares whole
    results). A correction would take the result in without them."""
    old, new = read_document(ctx.layout.target(res_rel)), json.loads(write.data)
    if old is None:
        return ""
    options = {"series": "--series"}
    if ctx.source.tracker == "optuna":  # (a CSV's splits are its columns)
        options["splits"] = "the same --split-attr"
    differ = [key for key in options if (key in old) != (key in new)]
    if not differ or not _same({**old, **dict.fromkeys(differ)}, {**new, **dict.fromkeys(differ)}):
        return ""
    parts = [f"{'with' if key in old else 'without'} {key}" for key in differ]
    how = " and ".join(
        options[key] if key in old else f"no {options[key].removeprefix('the same ')}"
        for key in differ
    )
    return f" {' and '.join(parts)} (import as it was: {how})"


def _gone(run: SourceRun, label: str, committed: str) -> RunPlan:
    # The path quoted for a shell, so that the hint runs as printed (`next: git add …`
    # is): HEAD's path is any a committer named (`old runs/`, `$(…)/`), and it was
    # printed as it is (a hunter's report, issue 18 thirty-seventh pass).
    return _refused(
        run,
        f"{label}: its result {committed} is committed and gone from the work tree; "
        f"results are write-once (`git checkout HEAD -- {shlex.quote(committed)}` brings "
        "it back)",
    )


def _refused(run: SourceRun, reason: str) -> RunPlan:
    return RunPlan(run, Action.REFUSED, reasons=(reason,))


def _non_finite(run: SourceRun) -> list[str]:
    groups = [("", run.metrics)] + [(f"split {s}: ", m) for s, m in run.splits.items()]
    found = [
        f"{where}{name} = {value} is not a finite number"
        for where, metrics in groups
        for name, value in metrics.items()
        if not math.isfinite(value)
    ]
    # Strict JSON has no NaN: such a point is named, not dropped (the curve would lie).
    for name, points in run.series.items():
        bad = [step for step, value in points if not math.isfinite(value)]
        if bad:
            steps = ", ".join(map(str, bad[:5])) + (", …" if len(bad) > 5 else "")
            found.append(f"series {name}: {len(bad)} value(s) not finite (step {steps})")
    return found


def _not_utf8(run: SourceRun) -> list[str]:
    """The run's texts a document cannot hold: a lone surrogate, as an Optuna categorical
    choice of a file name `os.listdir` read under surrogateescape (`caf\\udce9.csv`), which
    Optuna keeps as JSON's `"\\udce9"`. Building the record failed for the whole import (exit
    2, `not UTF-8 text (a non-UTF-8 argument or file name?)`, a piece of its JSON, no
    trial named; a hunter's report, issue 18 thirty-seventh pass): the run is refused by
    itself, naming the field (its reason is written with such a character escaped)."""
    found = [
        f"param {key!r} = {value!r} is not UTF-8 text"
        for key, value in run.params.items()
        if not is_utf8(key) or (isinstance(value, str) and not is_utf8(value))
    ]
    texts = [("title", run.title), ("run name", run.name), ("run", run.run)]
    texts += [("tag", tag) for tag in run.tags]
    found += [f"{what} {text!r} is not UTF-8 text" for what, text in texts if not is_utf8(text)]
    found += [
        f"split {split!r}: metric {name!r} is not UTF-8 text"
        for split, metrics in run.splits.items()
        for name in metrics
        if not is_utf8(split) or not is_utf8(name)
    ]
    return found


def _provenance(ctx: _Context, run: SourceRun) -> dict[str, Any]:
    source: dict[str, Any] = {
        "tracker": ctx.source.tracker,
        "uri": ctx.source.uri,
        "study": ctx.source.study,
        "run": run.run,
    }
    if run.name:
        source["name"] = run.name
    if run.started_at:
        source["started_at"] = run.started_at
    if run.finished_at:
        source["finished_at"] = run.finished_at
    return {"captured_at": ctx.captured_at, "source": source}


def _record(ctx: _Context, run: SourceRun) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": EXPERIMENT_SCHEMA,
        "id": run.exp_id,
        "study": ctx.source.expflow_study,
    }
    if run.title:
        doc["title"] = run.title
    doc["created_at"] = run.started_at or ctx.captured_at
    doc["tags"] = list(dict.fromkeys(run.tags))
    doc["status"] = run.status.value
    if run.reason:
        # A tracker's reason quotes what failed, a command line with its `--pin` too: it
        # is masked as `run()` masks an exception's message (a user's hunt).
        doc["reason"] = masked_reason(run.reason, REASON_MAX_LENGTH)
    doc["params"] = dict(run.params)
    doc["provenance"] = _provenance(ctx, run)
    return doc


def _result(ctx: _Context, run: SourceRun) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "experiment": run.exp_id,
        "recorded_at": run.finished_at or ctx.captured_at,
        "metrics": dict(run.metrics),
    }
    if run.splits:
        doc["splits"] = {name: dict(values) for name, values in run.splits.items()}
    if run.series:
        doc["series"] = {name: [[s, v] for s, v in pts] for name, pts in run.series.items()}
    doc["provenance"] = _provenance(ctx, run)
    return doc


def _check(ctx: _Context, writes: Sequence[Write]) -> list[str]:
    """What `validate` would say about the files: strict JSON, schema, file name, registry
    (every document), required metrics (results); and what the PIN scan would flag (a
    tracker's tag `pin=NNNN`, a param or a run name quoting `--pin NNNN`), as for every
    document the tool writes (pinscan.written): such a run was written whole, and the
    scan then flagged the repository's own files (a hunter's report, issue 18
    twenty-fourth pass)."""
    from expflow_git.pinscan.written import refusal

    policy = ctx.layout.policy
    lines: list[str] = []
    for write in writes:
        kind = policy.kind_of(write.path) or Kind.EXPERIMENT  # the globs took both paths
        doc, findings = check_document(kind, write.path, write.data, policy)
        if isinstance(doc, Result):
            findings = [*findings, *required_metric_findings(doc, policy)]
        lines.extend(str(f) for f in findings)
    return lines + [r for w in writes if (r := refusal(w.path, w.data)) is not None]


def _identity(tracker: str, study: str, run: str) -> tuple[str, ...]:
    """What names a run in its tracker (spec §4.2). An Optuna trial: its study and number.
    An MLflow run: its run id, which MLflow makes unique in its store; the experiment's
    name is only shown (a renamed experiment locked every committed run out of its next
    import, a hunter's report, issue 18 twenty-seventh pass). A CSV row: its id cell in
    the `--study` (the file is renamed by the next export: runs-12-03.csv)."""
    return (tracker, run) if tracker in ("mlflow", "csv") else (tracker, study, run)


def _other_run(
    record: Mapping[str, Any],
    source: Source,
    run: SourceRun,
    rel: str = "",
    *,
    committed: bool | None = None,
) -> str:
    """Why an existing record (at `rel`, when given; `committed`: whether HEAD holds it,
    when known) is not this run's (empty: it is).

    An Optuna trial is known by its study's name and number (`_identity`), not by the
    storage's URL: a moved database is the same study. Two databases each holding a
    study of one name are told apart by when the trial started, which a move keeps: the
    second database's trial 0 updated the first's uncommitted record, or was refused as
    "changed after its result was committed" once it was (a hunter's report, issue 18
    thirtieth pass)."""
    prov = record.get("provenance")
    origin = prov.get("source") if isinstance(prov, dict) else None
    if not isinstance(origin, dict):
        return "its record was not imported (no provenance.source)"
    theirs = (origin.get("tracker"), origin.get("study"), origin.get("run"))
    tracker, study, ran = theirs
    ours = _identity(source.tracker, source.study, run.run)
    if not (isinstance(tracker, str) and isinstance(study, str) and isinstance(ran, str)) or (
        ours != _identity(tracker, study, ran)
    ):
        return f"its record was imported from {theirs[0]} {theirs[1]!r}, run {theirs[2]!r}"
    if len(ours) == 3 and not _same_start(origin.get("started_at"), run.started_at):
        where = f" {rel}" if rel else ""
        started = (
            f"{run.label(tracker)} started at {origin.get('started_at')}, this one at "
            f"{run.started_at}"
        )
        stored = origin.get("uri")
        if not same_storage(stored, source.uri):
            # (Shown as rendered now: a record written by older rules may hold a password
            # they missed, `oracle+cx_oracle://u:pw@…`.)
            shown = redact_uri(stored) if isinstance(stored, str) else stored
            return (
                f"its record{where} was imported from another storage's {tracker} study "
                f"{study!r} ({shown}), whose {started}; rename the study in "
                "the tracker, or import it with --study-as NAME"
            )
        # The same storage: the study was made again there (a sweep re-run after
        # `rm a.db`), which "another storage's" misnamed (a review).
        if committed is False:
            advice = (
                f"the record is not committed: remove it (expflow-git rm {run.exp_id}, or "
                "delete its files) before importing again, or import the study with "
                "--study-as NAME"
            )
        else:
            advice = "rename the study in the tracker, or import it with --study-as NAME"
        return (
            f"its record{where} was imported from {tracker} study {study!r} at this "
            f"storage ({source.uri}), which was re-created since: its {started}; {advice}"
        )
    return ""


def _foreign(record: Mapping[str, Any], source: Source, run: SourceRun) -> bool:
    """Whether the record is the same tracker's run of another storage's study of the
    same name (`_other_run`)."""
    prov = record.get("provenance")
    origin = prov.get("source") if isinstance(prov, dict) else None
    if not isinstance(origin, dict) or len(_identity(source.tracker, "", "")) != 3:
        return False
    same = (origin.get("tracker"), origin.get("study"), origin.get("run")) == (
        source.tracker,
        source.study,
        run.run,
    )
    return same and not _same_start(origin.get("started_at"), run.started_at)


_STARTED = "%Y-%m-%dT%H:%M:%S.%fZ"  # source.utc_time's


def _same_start(before: object, now: str | None) -> bool:
    """Whether a record's `provenance.source.started_at` may be the run's start `now`:
    the same time, or one a time zone apart (Optuna keeps naive local times, read in
    this machine's zone: the same database read under another TZ is the same study), or
    one side without a start (a WAITING trial has none yet), or not one `utc_time`
    wrote (it cannot be told)."""
    if not isinstance(before, str) or not now or before == now:
        return True
    try:
        shift = dt.datetime.strptime(now, _STARTED) - dt.datetime.strptime(before, _STARTED)
    except ValueError:
        return True
    quarter = dt.timedelta(minutes=15)
    return abs(shift) <= dt.timedelta(hours=26) and shift % quarter == dt.timedelta(0)


def _content(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if doc is None else {k: v for k, v in doc.items() if k not in _VOLATILE}


def _same(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    return not _differs(_content(old), _content(new))


def _differs(old: Any, new: Any) -> bool:
    """Whether two JSON values differ as the protect hook tells them apart
    (`identity.normalised`): a boolean is never a number. Python's `==` took a committed
    failed trial's param `1` for Optuna's `true` now, and the import wrote it over,
    "[reason changed]", where §4.2 keeps an ended run's params (a hunter's report, issue
    18 thirty-ninth pass)."""
    return bool(normalised(old) != normalised(new))


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """What a record update changes, for the summary: `status running → success`."""
    keys = sorted(
        k for k in set(old) | set(new) if k not in _VOLATILE and _differs(old.get(k), new.get(k))
    )
    if "status" not in keys:
        return (f"{', '.join(keys) or 'result'} changed",)
    status = f"status {old.get('status')} → {new.get('status')}"
    keys.remove("status")
    return (f"{status}; {', '.join(keys)} changed",) if keys else (status,)


def _committed_results(layout: Layout) -> dict[str, str]:
    """Path → blob of every result in HEAD, wherever the work tree's policy or HEAD's
    takes results (a committed result moved to `archive/` is still committed, and an
    uncommitted edit of the policy does not hide it; none: not a repository, or no
    commit yet), from one `git ls-tree`."""
    return _committed_documents(layout)[0]


def _committed_documents(layout: Layout) -> tuple[dict[str, str], dict[str, str]]:
    """Path → blob of every result, and of every record, in HEAD (as
    `_committed_results` finds results), from one `git ls-tree`."""
    git, globs = layout.git, layout.head_globs
    if git is None or globs is None:
        return {}, {}
    results: dict[str, str] = {}
    records: dict[str, str] = {}
    for e in git.ls_tree("HEAD", globs.prefixes()):
        if e.type != "blob":
            continue
        if globs.is_result(e.path):
            results[e.path] = e.sha
        elif globs.is_record(e.path):
            records[e.path] = e.sha
    return results, records


def _committed_ended(
    ctx: _Context, exp_id: str, old_rel: str
) -> tuple[str, Mapping[str, Any]] | None:
    """HEAD's record of the run (at the work tree's path when HEAD has one there, else
    the first of its id) and its content, when it says the run ended: success, failed,
    skipped, or no status it could go on from (a record HEAD holds damaged). None: HEAD
    holds no record of it, or one still pending or running."""
    found = ctx.committed_records.get(exp_id)
    git = ctx.layout.git
    if not found or git is None:
        return None
    rel = old_rel if old_rel in found else min(found)
    try:
        raw: Any = parse_json(git.run("cat-file", "blob", found[rel]))
    except JsonProblem:
        raw = None
    doc: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    return None if doc.get("status") in _GOING_ON else (rel, doc)


def _blocked(layout: Layout, writes: Sequence[Write]) -> list[str]:
    """A file where a write needs a folder (`results/<study>` a file), or a folder where
    it writes its file: refused when the run is planned, not after its record is
    written (a link is replaced, as every write replaces one)."""
    problems = []
    for write in writes:
        parts = write.path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            here = layout.disk(folder)
            if os.path.lexists(here) and not here.is_dir():
                problems.append(f"{folder}: is not a folder, so {write.path} cannot be written")
                break
        else:
            target = layout.disk(write.path)
            if target.is_dir() and not target.is_symlink():
                problems.append(f"{write.path}: is a folder, so the file cannot be written")
    return problems
