"""A run's status after `new` (docs/spec.md §4): `start` (pending → running), `fail`
(→ failed, with a reason) and `cancel` (→ skipped). `result` (→ success) is in writer.py.
The CLI and the Python API (expflow_git.repository) both call these."""

from __future__ import annotations

from typing import Any

from expflow_git.checks import check_document
from expflow_git.documents import Status, dump
from expflow_git.errors import ExitCode, ExpflowError
from expflow_git.records.writer import Layout, record_status, records_lock, refuse_deleted_run
from expflow_git.schemas import Kind

# What a run may become, from each status it may leave.
_CAN_START = (Status.PENDING,)
_CAN_FAIL = (Status.PENDING, Status.RUNNING, Status.SUCCESS)
_CAN_CANCEL = (Status.PENDING, Status.RUNNING)


def start_run(layout: Layout, exp_id: str) -> str:
    """Mark a pending run `running`; returns the record's path. Any other status is
    refused (exit 1): a run starts once (two processes too: records_lock)."""
    with records_lock(layout.root), layout.listed():
        return _start_run(layout, exp_id)


def _start_run(layout: Layout, exp_id: str) -> str:
    exp_rel, doc = layout.find_experiment(exp_id)
    status = record_status(doc)
    if status not in _CAN_START:
        raise ExpflowError(
            f"{exp_rel}: only a pending experiment can be started (status is {status.value!r})",
            code=ExitCode.FAILED,
        )
    refuse_deleted_run(layout, exp_id)  # its status is frozen, as for `fail` (a review)
    return _set_status(layout, exp_rel, doc, Status.RUNNING, reason=None)


def fail_run(layout: Layout, exp_id: str, reason: str, *, reason_option: str = "--reason") -> str:
    """Mark a run without a result `failed`, with the reason; returns the record's path.
    Refused (exit 1) once the run has a result (a committed one is write-once, and so
    is the status beside it), or when it is failed or skipped already. `reason_option`
    names the reason in a refusal (`reason` for the Python API)."""
    if not reason.strip():
        raise ExpflowError("fail needs --reason TEXT (why the run failed)")
    with records_lock(layout.root), layout.listed():
        return _fail_run(layout, exp_id, reason, reason_option)


def _fail_run(layout: Layout, exp_id: str, reason: str, reason_option: str) -> str:
    exp_rel, doc = layout.find_experiment(exp_id)
    status = record_status(doc)
    _refuse_a_result(layout, doc, exp_id, "be marked failed")
    if status not in _CAN_FAIL:
        raise ExpflowError(
            f"{exp_rel}: experiment {exp_id!r} is {status.value!r} already",
            code=ExitCode.FAILED,
        )
    # Its result deleted on record (and its record put back), the run's status is frozen.
    refuse_deleted_run(layout, exp_id)
    return _set_status(layout, exp_rel, doc, Status.FAILED, reason=reason, option=reason_option)


def _refuse_a_result(layout: Layout, doc: dict[str, Any], exp_id: str, what: str) -> None:
    """A run with a result (committed, or on disk) cannot `what` (exit 1): `fail`'s and
    `cancel`'s refusal, one message."""
    result_rel, committed = layout.run_result(doc["study"], exp_id)
    if committed or layout.target(result_rel).exists():
        raise ExpflowError(
            f"{result_rel}: experiment {exp_id!r} has a result; a run with a result cannot "
            f"{what} (a wrong result is corrected with `result --overwrite`, or deleted "
            "with `rm`)",
            code=ExitCode.FAILED,
        )


def cancellable(layout: Layout, exp_id: str) -> tuple[str, dict[str, Any]]:
    """The record to cancel; refused (exit 1) unless it is pending or running, and,
    as `fail` refuses it, when the run has a result (committed or on disk): a skipped
    run with a result is what the validate hook refuses (`result-for-unsuccessful-run`)."""
    exp_rel, exp_doc = layout.find_experiment(exp_id)
    status = record_status(exp_doc)
    if status not in _CAN_CANCEL:
        raise ExpflowError(
            f"{exp_rel}: only a pending or running experiment can be cancelled "
            f"(status is {status.value!r})",
            code=ExitCode.FAILED,
        )
    _refuse_a_result(layout, exp_doc, exp_id, "be cancelled")
    refuse_deleted_run(layout, exp_id)  # before any PIN is asked for (a review)
    return exp_rel, exp_doc


def cancel_run(
    layout: Layout,
    exp_rel: str,
    exp_doc: dict[str, Any],
    reason: str,
    *,
    reason_option: str = "--reason",
) -> str:
    """Set a record `cancellable` returned to `skipped`, with the reason (none if empty);
    returns its path. It is checked again first, under the lock (the PIN prompt came
    between): any change since `cancellable` read it, its record's bytes as the tool
    writes them or what HEAD holds (a result, a correction deleting the run), refuses it,
    nothing written."""
    with records_lock(layout.root), layout.listed():
        now_rel, now_doc = cancellable(layout, exp_doc["id"])
        # As written, not as Python compares: `1 == 1.0 == True`, and a param edited from
        # `1` to `true` during the prompt was written back as `1` (issue 18, forty-first
        # pass).
        if (now_rel, dump(now_doc)) != (exp_rel, dump(exp_doc)):
            raise ExpflowError(
                f"{exp_rel}: the run changed while this command ran; nothing written",
                code=ExitCode.FAILED,
            )
        return _set_status(
            layout, exp_rel, exp_doc, Status.SKIPPED, reason=reason or None, option=reason_option
        )


def _set_status(
    layout: Layout,
    exp_rel: str,
    doc: dict[str, Any],
    status: Status,
    *,
    reason: str | None,
    option: str = "--reason",
) -> str:
    """Write the record with its new status (and reason), checked like any record first."""
    from expflow_git.atomicfile import write_atomic

    updated = {**doc, "status": status.value}
    if reason is not None:
        updated["reason"] = reason
    data = dump(updated)
    _, findings = check_document(Kind.EXPERIMENT, exp_rel, data, layout.policy)
    if findings:
        raise ExpflowError(str(findings[0]))
    # A `--reason` holding a PIN is a usage error, named by the option; a record holding
    # one already fails (exit 1), whatever reason was given: any given one made it exit 2
    # (a review, issue 18 twenty-fourth pass).
    from expflow_git.pinscan.written import leak_in, refuse

    found = leak_in(exp_rel, data)
    if found is not None:
        given = reason is not None and (found.pointer + "/").startswith("/reason/")
        code = ExitCode.USAGE if given else ExitCode.FAILED
        refuse(exp_rel, data, code, given={"/reason": option} if given else None)
    write_atomic(layout.disk(exp_rel), data)
    return exp_rel
