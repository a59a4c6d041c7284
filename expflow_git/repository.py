"""The public Python API (docs/api.md): `Repository`, one experiment repository. Its
record methods call the functions the CLI's `new`, `result`, `start`, `fail` and
`cancel` call (expflow_git.records); rank, audit, verify and the scorecard wrap
expflow_git.api through expflow_git.outcomes, as the CLI's `rank`, `audit` and `verify`
do. One code path, two front ends."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expflow_git.documents import ID_RE, REASON_MAX_LENGTH, Scalar, Status
from expflow_git.errors import ExitCode, ExpflowError, printable, utf8_argument
from expflow_git.jsonstrict import under_writable_ints, writable_ints
from expflow_git.outcomes import AuditResult, RankResult, VerifyResult
from expflow_git.run import (
    ActiveRun,
    Run,
    checked_flags,
    checked_int,
    checked_metrics,
    checked_params,
    checked_series,
    checked_split_name,
    checked_tags,
    checked_texts,
    failure_reason,
    plain_text,
    read_runs,
    required_texts,
    same_record,
    short_repr,
    string_list,
)

if TYPE_CHECKING:
    from expflow_git.gitstore import Git
    from expflow_git.policy.model import Policy
    from expflow_git.records.writer import Layout, PlannedResult


class Repository:
    """An experiment repository: the git work tree enclosing `path`, a folder or a file
    in one (or that folder itself outside git; a path that does not exist is a
    ValueError), judged by the policy at `policy` (default `expflow.yaml` at its root).

    Errors: `ValueError` for metrics or params the policy refuses (nothing is written);
    `expflow_git.errors.ExpflowError` for what the CLI reports on one line (its `code`
    is the CLI's exit code)."""

    def __init__(
        self, path: str | os.PathLike[str] = ".", *, policy: str | os.PathLike[str] | None = None
    ) -> None:
        self._git, start, chosen = open_root(path, policy, name="path")
        self.root: Path = self._git.root if self._git is not None else start
        self._policy_path = chosen or os.environ.get("EXPFLOW_POLICY") or "expflow.yaml"

    def __repr__(self) -> str:
        return f"Repository({str(self.root)!r})"

    # ------------------------------------------------------------------ the policy
    @property
    def policy(self) -> Policy:
        """The policy in the working tree, read afresh (it may have changed)."""
        from expflow_git.workspace import Workspace

        target = Path(self._policy_path)
        where = target if target.is_absolute() else self.root / target
        return Workspace(root=self.root, policy_path=where, git=self._git).load_policy()

    def _layout(self) -> Layout:
        from expflow_git.records.writer import Layout

        return Layout(self.root, self.policy)

    # ------------------------------------------------------------------ records
    @under_writable_ints
    def new(
        self,
        id: str,
        *,
        study: str,
        params: Mapping[str, Scalar] | None = None,
        tags: Sequence[str] = (),
        seed: int | None = None,
        condition: str | None = None,
        replicate: int = 0,
        title: str = "",
        status: Status | str = Status.PENDING,
        reason: str | None = None,
    ) -> Run:
        """Write a record (as `expflow-git new`): provenance captured, the seed derived
        from the policy's base seed, study, condition (default: the id) and replicate."""
        # A study is required: None (text's "not given" elsewhere) was written into the
        # record's path and refused as `experiments/None/ID.json#/study` (ExpflowError).
        required_texts(study=study)
        study = plain_text(study)
        status = Status(status)
        # (Checked before the PIN is looked for in them: `title=5` was a TypeError from
        # the search, not the ValueError, when $EXPFLOW_PIN was set; a hunt, issue 18
        # thirty-ninth pass.)
        checked_texts(reason=reason, title=title)
        _no_pin_in(reason=reason, title=title)
        if status in (Status.FAILED, Status.SKIPPED) and not (reason and reason.strip()):
            # (the CLI's wording named its option, `--reason TEXT`)
            raise ValueError(
                f"reason: status {status.value!r} needs a reason (why it has no result)"
            )
        if status not in (Status.FAILED, Status.SKIPPED) and reason is not None:
            raise ValueError(f"reason: status {status.value!r} takes none (only failed or skipped)")
        self._write_record(
            self._layout(),
            _id(id),
            study=study,
            params=params,
            tags=tags,
            seed=seed,
            condition=condition,
            replicate=replicate,
            title=title,
            status=status,
            reason=reason,
        )
        return self.get(id)  # (its own documents read: `get`)

    @staticmethod
    def _write_record(
        layout: Layout,
        id: str,
        *,
        study: str,
        params: Mapping[str, Scalar] | None,
        tags: Sequence[str],
        title: str,
        status: Status,
        seed: int | None = None,
        condition: str | None = None,
        replicate: int = 0,
        reason: str | None = None,
        held: bool = False,
        warn: Callable[[str], object] | None = None,
    ) -> None:
        """`new`'s write (also `run`'s, `held`: under the lock `run` holds already): the
        record built, checked and written. `warn` takes what it warns of (by default a
        UserWarning at `new`'s caller's line)."""
        import warnings

        from expflow_git.records.writer import NEW_ARGUMENTS, write_experiment

        checked_texts(study=study, title=title, condition=condition, reason=reason)

        write_experiment(
            layout,
            exp_id=id,
            study=study,
            params=checked_params(params or {}),
            tags=checked_tags(tags),
            seed=None if seed is None else checked_int(seed, "seed"),
            condition=condition,
            replicate=checked_int(replicate, "replicate"),
            title=title,
            status=status,
            reason=reason,
            names=NEW_ARGUMENTS,
            held=held,
            # (5 up is `new`'s caller, and one more for `under_writable_ints`' wrapper)
            warn=warn or (lambda message: warnings.warn(message, stacklevel=6)),
        )

    @under_writable_ints
    def log_result(
        self,
        id: str,
        metrics: Mapping[str, float],
        *,
        splits: Mapping[str, Mapping[str, float]] | None = None,
        series: Mapping[str, Sequence[tuple[int, float]]] | None = None,
    ) -> Run:
        """Write the run's result (as `expflow-git result`) and mark it `success`. Checked
        against the registry and the required metrics first (and `series`, metric →
        [(step, value), …], against the series rules and declared aggregates): ValueError,
        nothing written."""
        # (the caller's line: 3 up, and one more for `under_writable_ints`' wrapper)
        self._log_result(_id(id), metrics, splits, series, [], stacklevel=4)
        return self.get(id)

    def _log_result(
        self,
        id: str,
        metrics: Mapping[str, float],
        splits: Mapping[str, Mapping[str, float]] | None,
        series: Mapping[str, Sequence[tuple[int, float]]] | None,
        planned: list[PlannedResult],
        stacklevel: int = 3,
    ) -> None:
        """`log_result`'s checks and write; `planned` gets the plan once nothing refuses
        it (no result was there): `run()` tells from it whether the result is its own.
        A warning (the holdout budget) is the caller's `stacklevel` up."""
        import warnings

        from expflow_git.records.writer import (
            holdout_warnings,
            plan_result,
            refuse_existing,
            write_result,
        )

        layout = self._layout()
        checked = checked_metrics(metrics, layout.policy)
        if not checked:
            # `result` asks for one `--metric` at least; a result of none (`log_result(id,
            # {})`, a `run()` block that logged nothing) was written and the run marked
            # `success` for good, a write-once result showing nothing, under a policy
            # that requires no metric (a hunt, issue 18 thirty-ninth pass).
            raise ValueError("metrics: give at least one metric (a result is write-once)")
        if splits is not None and not isinstance(splits, Mapping):
            raise ValueError("splits: give a mapping of split names to metrics")
        checked_splits = {
            checked_split_name(name): checked_metrics(m, layout.policy)
            for name, m in (splits or {}).items()
        }
        points = checked_series(series) if series is not None else None
        plan = plan_result(layout, id, checked, checked_splits, points)
        if plan.findings:
            raise ValueError("; ".join(str(f) for f in plan.findings))
        refuse_existing(plan)
        planned.append(plan)
        over = holdout_warnings(layout, plan)
        write_result(layout, plan, overwrite=False)
        for warning in over:  # (written all the same, as `result` writes it and warns)
            warnings.warn(
                f"{plan.path}: {warning}; the hook and the audit will refuse it",
                stacklevel=stacklevel,
            )

    @under_writable_ints
    def start(self, id: str) -> Run:
        """Mark a pending run `running` (as `expflow-git start`)."""
        from expflow_git.records.lifecycle import start_run

        start_run(self._layout(), _id(id))
        return self.get(id)

    @under_writable_ints
    def fail(self, id: str, reason: str) -> Run:
        """Mark a run without a result `failed`, with the reason (as `expflow-git fail`)."""
        from expflow_git.records.lifecycle import fail_run

        reason = _reason(reason)
        if not reason.strip():  # (was an ExpflowError naming the CLI's --reason)
            raise ValueError("reason: say why the run failed, not a blank text")
        _no_pin_in(reason=reason)
        fail_run(self._layout(), _id(id), reason, reason_option="reason")
        return self.get(id)

    @under_writable_ints
    def skip(self, id: str, reason: str, *, pin: str | None = None) -> Run:
        """Mark a pending or running run `skipped` (as `expflow-git cancel`): PIN-guarded,
        the PIN from `pin` or $EXPFLOW_PIN (there is no prompt)."""
        import warnings

        from expflow_git.pin.guard import refuse_pin_in, require_pin
        from expflow_git.records.lifecycle import cancel_run, cancellable

        id, reason = _id(id), _reason(reason)
        if reason and not reason.strip():  # (as `cancel --reason '  '`)
            raise ValueError("reason: say why the run is skipped, or give none, not a blank text")
        if pin is not None and not isinstance(pin, str):
            # Named by its type, never shown: `pin=1234` was an ExpflowError (exit 2) from
            # the PIN check, not the ValueError of any other argument of the wrong kind.
            raise ValueError(f"pin: give the PIN as text, not {type(pin).__name__}")
        layout = self._layout()
        exp_rel, doc = cancellable(layout, id)
        approved = require_pin(
            f"cancel {id}",
            pin=pin,
            force=False,
            env=os.environ,
            interactive=False,
            prompt=lambda _: "",
            warn=warnings.warn,
            pin_name="the pin argument",
            force_name=None,
        )
        refuse_pin_in({"reason": reason}, approved, pin, env=os.environ)
        cancel_run(layout, exp_rel, doc, reason, reason_option="reason")
        return self.get(id)

    # ------------------------------------------------------------------ reading
    @under_writable_ints
    def runs(
        self,
        study: str | None = None,
        status: Status | str | None = None,
        where: str | None = None,
    ) -> list[Run]:
        """Every run in the working tree (tracked or not), by id; only a study's, only
        those with a status, or only those matching `where` (the `--where` grammar of
        `list` and `rank`, docs/spec.md §4.1: `"metrics.seg_total > 50 and params.lr <=
        1e-3"`) when given. A malformed expression: ValueError with its column."""
        checked_texts(study=study, where=where)
        wanted = None if status is None else Status(status)
        parsed = None
        policy = self.policy  # (a broken policy is the ExpflowError it is, not a `where` error)
        if where is not None:
            from expflow_git.query.where import parse

            try:
                parsed = parse(where)
                parsed.check(policy.metrics, [s.value for s in Status])
            except ExpflowError as exc:
                raise ValueError(f"where: {exc.message}") from None
        return [
            run
            for run in read_runs(self.root, policy, self._git, parsed)
            if (study is None or run.study == study) and (wanted is None or run.status is wanted)
        ]

    @under_writable_ints
    def get(self, id: str) -> Run:
        """One run by id (KeyError when there is no valid record with that id; an id
        that is not text, `123`, `None`, `b"x"`, is a ValueError, as everywhere in the
        API: it was a KeyError, a hunter's report, issue 18 twenty-eighth pass)."""
        return self._get(_id(id))

    def _get(self, id: str, *, held: bool = False) -> Run:
        """`get`; `held`: the caller holds the records lock (`load_runs`)."""
        from expflow_git.query.runs import load_runs
        from expflow_git.run import _run

        # Only the documents named `<id>.json` read and checked, not every one of the work
        # tree (which each `new`, `log_result`, `start`, `fail` and `run` read again, to
        # return or check one run: a sweep logged through the API was quadratic; a user's
        # hunt, issue 18 thirtieth pass). A run's record and results bear its id as their
        # file name, so the run is the one `runs()` holds, found by the same checks.
        found = load_runs(self.root, self.policy, git=self._git, only=id, held=held).runs
        for run in found:
            if run.id == id:
                return _run(run)
        raise KeyError(id)

    # ------------------------------------------------------------------ training
    @contextlib.contextmanager
    def run(
        self,
        id: str,
        *,
        study: str | None = None,
        params: Mapping[str, Scalar] | None = None,
        tags: Sequence[str] = (),
        title: str = "",
    ) -> Iterator[ActiveRun]:
        """A training run: the record is written `running` on entry (a pending record
        `new` wrote is started instead); `log`/`log_split` collect metrics; a normal exit
        writes the result and marks the run `success`; an exception marks it `failed`
        with "TypeName: message" as the reason, writes no result, and is re-raised."""
        import warnings

        from expflow_git.records.writer import records_lock

        # Under the raised digit limit (`writable_ints`): `run`'s own reading and
        # writing, not the caller's block (a second review, issue 18 forty-second pass).
        with writable_ints():
            id = _id(id)
            checked_texts(study=study, title=title)
            study = None if study is None else plain_text(study)
            # A title holding $EXPFLOW_PIN's PIN alone is refused, as `new`'s is: `run` wrote it
            # into the record it makes (a hunt, issue 18 thirty-ninth pass).
            _no_pin_in(title=title)
            layout = self._layout()
            tags = checked_tags(tags)
            # (NumPy's bools and numbers as the plain values a record holds, before they are
            # compared with an existing record's)
            params = None if params is None else checked_params(params)
            # What is there and the write of the record, under one lock: two `run`s of one
            # new id both found no record, and the second met write_experiment's "exists
            # already" (exit code 2), not the refusal of a run that is not pending (1).
            # (Each folder listed once for the checks: `Layout.listed`.)
            said: list[str] = []  # (what the record's write warns of: given in the `try`)
            writing: list[bool] = []  # (set as the record is about to say `running`)
            with records_lock(layout.root), layout.listed():
                try:
                    study = self._begin(layout, id, study, params, tags, title, said, writing)
                except BaseException as exc:
                    # A Ctrl-C (or whatever a signal handler raises) once the record was
                    # written `running`, before `_begin` returned, left the run `running` for
                    # good, and a second `run` of it was refused (a hunt, issue 18
                    # thirty-ninth pass). Marked failed, if its record says `running` now.
                    if writing:
                        self._mark_failed(layout, id, exc, held=True)
                    raise
        # The record says `running` from here on: nothing but the block runs before the
        # `try` (no re-read of the tree an interrupt could land in), and whatever ends the
        # block or its result's write early marks the run failed.
        active = ActiveRun(id, study, layout.policy)
        try:
            # What writing the record warns of (the runs budget), given here: under
            # warnings as errors (`-W error`) it was raised before the `try`, and the run
            # was left `running` (a hunt, issue 18 thirty-ninth pass).
            for message in said:
                warnings.warn(message, stacklevel=3)
            yield active
        except BaseException as exc:
            # KeyboardInterrupt and SystemExit too: the run did not finish (as MLflow's
            # `start_run` marks it FAILED), and the exception goes on unchanged.
            active.finished = True
            with writable_ints():
                self._mark_failed(layout, id, exc)
            raise
        active.finished = True
        planned: list[PlannedResult] = []
        try:
            with writable_ints():
                self._log_result(
                    id, active.metrics, active.splits, active.series, planned, stacklevel=4
                )
        except BaseException as exc:
            # The block finished but its result was not written (it would fail the
            # policy, the policy broke meanwhile, an interrupt): the status says why. A
            # result is this run's only where its plan found none (one there before was
            # taken as written, and the run was left `running`).
            try:
                written = bool(planned) and (self.root / planned[0].path).exists()
            except OSError:  # the exception in flight matters more
                written = False
            if not written:
                with writable_ints():
                    self._mark_failed(layout, id, exc)
            raise

    def _begin(
        self,
        layout: Layout,
        id: str,
        study: str | None,
        params: Mapping[str, Scalar] | None,
        tags: Sequence[str],
        title: str,
        said: list[str],
        writing: list[bool],
    ) -> str:
        """`run`'s start, under the work tree's lock: the run's record checked (a record
        there is this run's, pending) and marked `running`, or written `running`; the
        run's study. `said` gets what the write warns of; `writing` is set once the record
        found is one this call may write `running` (none, or a pending one)."""
        from expflow_git.records.lifecycle import _start_run
        from expflow_git.records.writer import refuse_ignored

        existing = bool(layout.existing_experiments(id))
        if existing:
            # The record's path checked (no link out of the work tree) and the record
            # parsed strictly first: a broken one is named, not a KeyError from `get`.
            _, doc = layout.find_experiment(id)
            record = self._get(id, held=True)  # (under the lock `run` holds)
            has = doc.get("title", "")  # (the API's Run holds no title)
            same_record(
                record,
                study=study,
                params=params,
                tags=tags,
                title=title,
                record_title=has if isinstance(has, str) else "",
            )
            study = record.study
        elif study is None:
            raise ValueError(f"run {id!r} has no record yet: give study=")
        # Where the result goes is checked before the record says `running`: a results
        # folder that is a link was refused only at the end, and the run stayed running.
        # (A name the file system refuses is left to the record's own checks below,
        # which name its JSON pointer.)
        # A result path `.gitignore` keeps out is refused here too (exit 2): the run was
        # marked `success` with a result the commit never took (a user's hunt).
        with contextlib.suppress(OSError):
            result_rel = layout.checked_result(layout.result_of(study, id))
            layout.target(result_rel)
            if ID_RE.match(study):  # (a study the schema refuses is named as such below)
                refuse_ignored(layout, result_rel, "result")
        if not existing or record.status is Status.PENDING:
            # A result there already (its record deleted by hand, or lost in a checkout):
            # the block ran for hours, was refused at its end, and the record was left
            # `running` (a user's hunt). Refused now, nothing changed.
            _refuse_a_result(layout, study, id, "its record says pending" if existing else "")
            writing.append(True)
        if existing:
            _start_run(layout, id)
        else:
            self._write_record(
                layout,
                id,
                study=study,
                params=params,
                tags=tags,
                title=title,
                status=Status.RUNNING,
                held=True,
                warn=said.append,
            )
        return study

    def _mark_failed(
        self, layout: Layout, id: str, exc: BaseException, *, held: bool = False
    ) -> None:
        """The run marked failed, the reason `exc`'s; `held`: under the lock `run` holds
        (as its record was being written), and only if the record says `running`."""
        import warnings

        from expflow_git.records.lifecycle import _fail_run, fail_run
        from expflow_git.records.writer import record_status

        reason = failure_reason(exc, REASON_MAX_LENGTH)
        try:
            if not held:
                fail_run(layout, id, reason)
                return
            layout.forget_listing()  # (the record may be new since the tree was listed)
            if not layout.existing_experiments(id):
                return  # (not written)
            _, doc = layout.find_experiment(id)
            if record_status(doc) is Status.RUNNING:  # (else not written `running`)
                _fail_run(layout, id, reason, "--reason")
        except (ExpflowError, OSError) as problem:  # the exception in flight matters more
            warnings.warn(f"run {id!r} could not be marked failed: {problem}", stacklevel=3)

    # ------------------------------------------------------------------ judging
    @under_writable_ints
    def rank(
        self,
        *,
        rev: str = "HEAD",
        sort_by: str | None = None,
        ascending: bool | None = None,
        gates: Sequence[str | Mapping[str, Any]] = (),
        study: str | None = None,
        tags: Sequence[str] = (),
        top: int | None = None,
        policy_ref: str | None = None,
    ) -> RankResult:
        """The gated leaderboard of the committed runs at `rev` (as `expflow-git rank`);
        `gates` are extra `metric:op:value` checks."""
        from expflow_git.outcomes import rank_at
        from expflow_git.seeds import gate_texts

        checked_texts(rev=rev, sort_by=sort_by, study=study, policy_ref=policy_ref)
        if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
            raise ValueError(f"top: {top!r} is not a positive integer")  # as `--top`
        if ascending is not None and not isinstance(ascending, bool):
            raise ValueError(f"ascending: {ascending!r} is not True, False or None")
        return rank_at(
            self._repo(),
            rev,
            policy_path=self._policy_in_commit(),
            policy_ref=policy_ref,
            sort_by=sort_by,
            ascending=ascending,
            gates=gate_texts(gates),
            study=study,
            tags=checked_tags(tags),
            top=top,
        )

    @under_writable_ints
    def audit(
        self,
        *,
        rev: str = "HEAD",
        since: str | None = None,
        policy_ref: str | None = None,
        experiment: str | None = None,
        sign_key: str | os.PathLike[str] | None = None,
        report: bool = False,
    ) -> AuditResult:
        """The full audit of `rev` (as `expflow-git audit`); `report=True` also returns the
        report's bytes, signed with the key at `sign_key` (a path or `agent:SHA256:…`)."""
        from dataclasses import replace

        from expflow_git.outcomes import audit_at

        sign_key = path_text(sign_key)
        checked_texts(
            rev=rev, since=since, policy_ref=policy_ref, experiment=experiment, sign_key=sign_key
        )
        no_empty_path(sign_key=sign_key)
        checked_flags(report=report)
        result, _ = audit_at(
            self._repo(),
            rev,
            policy_path=self._policy_in_commit(),
            since=since,
            policy_ref=policy_ref,
            experiment=experiment,
            sign_key=sign_key,
        )
        return result if report else replace(result, report=None)

    @under_writable_ints
    def html(
        self,
        *,
        rev: str = "HEAD",
        since: str | None = None,
        policy_ref: str | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> str:
        """The HTML scorecard of `rev` (as `audit --html`); also written to `path` if given."""
        from expflow_git.outcomes import audit_at

        path = path_text(path)
        checked_texts(rev=rev, since=since, policy_ref=policy_ref, path=path)
        no_empty_path(path=path)
        _, html = audit_at(
            self._repo(),
            rev,
            policy_path=self._policy_in_commit(),
            since=since,
            policy_ref=policy_ref,
            experiment=None,
            sign_key=None,
            html=True,
        )
        if path is not None:
            from expflow_git.atomicfile import write_atomic

            try:
                write_atomic(path, html.encode(), named_by_user=True)
            except OSError as exc:
                # Named by the path given, as `audit --html` names it: the error named
                # the temporary file beside it (`.s.html.x1v7v.tmp`; a user's hunt).
                raise ExpflowError(
                    f"{printable(path)}: cannot write the scorecard: {exc.strerror or exc}"
                ) from None
        return html

    @under_writable_ints
    def verify(
        self,
        report: bytes | str | os.PathLike[str],
        *,
        public_keys: Sequence[str | os.PathLike[str]] = (),
        allowed_signers: str | os.PathLike[str] | None = None,
        allow_unsigned: bool = False,
        recompute: bool = True,
        ref: str = "HEAD",
    ) -> VerifyResult:
        """Verify a report (bytes, or a file's path) against this repository, as
        `expflow-git verify REPORT --repo .`: signature, hash chain, binding, recompute."""
        from expflow_git.outcomes import verify_at
        from expflow_git.report.saved import read_bytes

        allowed_signers = path_text(allowed_signers)
        checked_texts(allowed_signers=allowed_signers, ref=ref)
        checked_flags(allow_unsigned=allow_unsigned, recompute=recompute)
        source = "<report>" if isinstance(report, bytes) else path_text(report)
        if not isinstance(source, str):  # (a number was a TypeError from `os.fspath`)
            raise ValueError(f"report: give its bytes or its file's path, not {short_repr(report)}")
        keys = string_list(_paths_as_text(public_keys), "public_keys", "key")
        no_empty_path(
            report=None if isinstance(report, bytes) else source,
            allowed_signers=allowed_signers,
            public_keys="" if "" in keys else None,
        )

        return verify_at(
            self._repo(),
            report if isinstance(report, bytes) else read_bytes(source),
            source=source,
            public_keys=keys,
            allowed_signers=allowed_signers,
            allow_unsigned=allow_unsigned,
            recompute=recompute,
            ref=ref,
        )

    # ------------------------------------------------------------------ plumbing
    def _repo(self) -> Git:
        if self._git is None:
            raise ExpflowError(f"not a git repository: {self.root}")
        return self._git

    def _policy_in_commit(self) -> str:
        from expflow_git.policy.model import policy_in_commit

        return policy_in_commit(self._policy_path, self.root)


def _refuse_a_result(layout: Layout, study: str, id: str, record: str) -> None:
    """Refuse (exit 1) a run that has a result already, on disk or committed: results are
    write-once, and the run's block would be refused only once it has run."""
    rel, committed = layout.run_result(study, id)
    if committed or os.path.lexists(layout.root / rel):
        raise ExpflowError(
            f"{rel}: run {id!r} has a result already ({record or 'no record backs it'}); "
            "results are write-once (nothing changed)",
            code=ExitCode.FAILED,
        )


def open_root(
    path: str | os.PathLike[str], policy: str | os.PathLike[str] | None, *, name: str
) -> tuple[Git | None, Path, str | None]:
    """The git repository enclosing `path` (None outside one), the folder `path` names
    (`start_folder`) and the policy path given, each argument checked as docs/api.md
    promises (`Repository`'s and the importers' alike; `name` is the folder argument's):
    one of the wrong kind, or empty, is a ValueError naming it (`Repository(5)` was a
    TypeError from `Path`, `policy=5` one from the first read of the policy: a user's
    hunt, issue 18 twenty-third pass; `""` was taken for the argument left out)."""
    from expflow_git.gitstore import Git

    folder, chosen = path_text(path), path_text(policy)
    if not isinstance(folder, str):
        raise ValueError(f"{name}: give a folder's path, not {short_repr(path)}")
    checked_texts(policy=chosen)
    no_empty_path(**{name: folder}, policy=chosen)
    start = start_folder(folder)
    try:
        git: Git | None = Git.discover(start)
    except ExpflowError:
        git = None
    return git, start, chosen


def start_folder(path: str) -> Path:
    """Where `Repository(path)` looks for its work tree: the folder `path` names, or the
    folder of the file it names (`Repository(__file__)` in a training script). A path that
    does not exist is a ValueError naming it: it was taken as the root, and the first
    read said "no policy file; run expflow-git init" (a file: "cannot read policy: Not a
    directory"; a user's hunt, issue 18 twenty-seventh pass)."""
    try:
        # Not resolved: a script linked into the work tree is the work tree's (its
        # target's folder may be another repository; a review).
        start = Path(os.path.abspath(path))
        folder = stat.S_ISDIR(os.stat(start).st_mode)
    except (OSError, ValueError) as exc:  # (ValueError: a NUL in the path)
        missing = isinstance(exc, (FileNotFoundError, NotADirectoryError))
        why = "it does not exist" if missing else getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"path '{printable(path)}': {why}") from None
    return start if folder else start.parent


def _id(id: object) -> str:
    """A run's id given to the API: text (an id of the wrong kind, `123`, `None`, `b"x"`,
    was the ExpflowError of an invalid id, not the ValueError docs/api.md promises; text
    that is no valid id stays that ExpflowError, as in the CLI)."""
    if not isinstance(id, str):
        raise ValueError(f"id: give the run's id as text, not {short_repr(id)}")
    return plain_text(id)


def _no_pin_in(**texts: str | None) -> None:
    """A reason (or title) holding $EXPFLOW_PIN's PIN alone refused (ExpflowError, exit 2),
    as the CLI's `--reason` is (`pin.guard.refuse_pin_in`)."""
    from expflow_git.pin.guard import refuse_pin_in

    refuse_pin_in(texts, env=os.environ)


def _reason(reason: object) -> str:
    """A reason given to `fail` or `skip`: text (None was an AttributeError)."""
    if not isinstance(reason, str):
        raise ValueError(f"reason: give the reason as text, not {short_repr(reason)}")
    utf8_argument(reason, "reason")  # (a lone surrogate: no JSON text holds it)
    return reason


def no_empty_path(**paths: str | None) -> None:
    """A path or key given as the empty string is a ValueError naming it, as the CLI's
    `--policy ''`, `--sign-key ''` or `--html ''` is a usage error: it was taken for the
    argument left out (`Repository(".", policy="")` judged by $EXPFLOW_POLICY or
    `expflow.yaml`, `audit(sign_key="")` returned an unsigned report, `Repository("")`
    was the current folder), or failed naming nothing (`html(path="")`: `: cannot write
    the scorecard: Device or resource busy`). docs/spec.md §4; a hunt, issue 18
    thirty-eighth pass."""
    for what, value in paths.items():
        if value == "":
            raise ValueError(f"{what}: give a path, not an empty string")


def path_text(value: str | os.PathLike[str] | None) -> str | None:
    """A key file given as a `Path` as its path's text (anything else as given, for the
    checks that follow to name)."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _paths_as_text(values: object) -> object:
    """Each key file of a list given as a `Path` as its path's text (one string alone, a
    mapping or a set left for `string_list` to refuse)."""
    if isinstance(values, (str, bytes, Mapping, AbstractSet)) or not isinstance(values, Iterable):
        return values
    return [os.fspath(v) if isinstance(v, os.PathLike) else v for v in values]
