"""What the Python API's rank, audit and verify return, typed and frozen, and the calls
that make them: expflow_git.api and the verifier, as the CLI's commands call them, read
from the same leaderboard and view the CLI renders, so both show the same thing."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from expflow_git.errors import Finding

if TYPE_CHECKING:
    from expflow_git.audit.attempts import StudyAttempts
    from expflow_git.gitstore import Git
    from expflow_git.render.view import View


@dataclass(frozen=True)
class RankedRow:
    """One row of a leaderboard: feasible runs ranked 1..k, the others `rank` None."""

    rank: int | None
    id: str
    study: str
    feasible: bool
    metrics: Mapping[str, float]
    failed: tuple[str, ...]  # "check (why)" for every check the run failed
    warnings: tuple[str, ...] = ()  # the advisory (severity warning) checks it failed


def attempt_counts(attempts: Sequence[StudyAttempts]) -> dict[str, dict[str, int]]:
    """Every record counted per study and status (issue 16: every attempt counted)."""
    return {a.study: dict(a.counts) for a in attempts}


@dataclass(frozen=True)
class RankResult:
    """`Repository.rank`: the leaderboard at a commit, and its two winners."""

    rows: tuple[RankedRow, ...]
    best_any: str | None  # top by the ranking metric, ignoring gates and rules
    best_feasible: str | None  # top among the runs that pass every check
    sort_by: str
    descending: bool
    findings: tuple[Finding, ...]  # problems in the committed documents
    attempts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # study → status → n


@dataclass(frozen=True)
class AuditResult:
    """`Repository.audit`: the verdict and what it rests on; `report` the signed report's
    bytes (the file `audit --out` writes) when asked for, else None."""

    verdict: str  # "pass" or "fail"
    commit: str
    best_any: str | None
    best_feasible: str | None
    rows: tuple[RankedRow, ...]
    findings: tuple[Finding, ...]
    signed_by: tuple[str, ...]  # the signing key's id; empty: unsigned
    report: bytes | None = None
    attempts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # study → status → n
    best_ladder: str | None = None  # with ranking.ladder_step (the Ladder)
    holdout: Mapping[str, Any] | None = None  # the holdout budget's counts, when one is set

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"


@dataclass(frozen=True)
class VerifyResult:
    """`Repository.verify`: one line per check, as `expflow-git verify` prints them (escaped)."""

    ok: bool
    lines: tuple[str, ...]
    signers: tuple[str, ...]  # only keys the signature was verified with


def _warn(message: str) -> None:
    """The API's channel for what the CLI warns of on stderr (a cache file ignored)."""
    import warnings

    warnings.warn(message, stacklevel=4)


def ranked_rows(rows: Sequence[object]) -> tuple[RankedRow, ...]:
    """The API's rows from the renderers' (expflow_git.render.view.Row)."""
    from expflow_git.render.view import Row

    return tuple(
        RankedRow(
            r.rank, r.id, r.study, r.feasible, dict(r.metrics), tuple(r.failed), tuple(r.warnings)
        )
        for r in rows
        if isinstance(r, Row)
    )


def rank_at(
    git: Git,
    rev: str,
    *,
    policy_path: str,
    policy_ref: str | None,
    sort_by: str | None,
    ascending: bool | None,
    gates: Sequence[str | Mapping[str, Any]],
    study: str | None,
    tags: Sequence[str],
    top: int | None,
) -> RankResult:
    """`expflow-git rank` as a value (expflow_git.api.rank)."""
    from expflow_git import api

    ranked = api.rank(
        git,
        rev,
        policy_path=policy_path,
        policy_ref=policy_ref,
        sort_by=sort_by,
        ascending=ascending,
        gates=gates,
        study=study,
        tags=tags,
        top=top,
        warn=_warn,
    )
    return RankResult(
        rows=ranked_rows(ranked.rows),
        best_any=ranked.board.best_any,
        best_feasible=ranked.board.best_feasible,
        sort_by=ranked.ranking.sort_by,
        descending=ranked.ranking.descending,
        findings=tuple(ranked.check.findings),
        attempts=attempt_counts(ranked.attempts),
    )


def audit_at(
    git: Git,
    rev: str,
    *,
    policy_path: str,
    since: str | None,
    policy_ref: str | None,
    experiment: str | None,
    sign_key: str | None,
    html: bool = False,
) -> tuple[AuditResult, str]:
    """`expflow-git audit` as a value (expflow_git.api.audit_report), with the report's
    bytes, and the HTML scorecard when `html` (else "")."""
    from expflow_git import api
    from expflow_git.render.formats import html_renderer
    from expflow_git.report.signer import signing_key

    seen: list[View] = []

    def keep(view: View) -> str:  # the audit's view, kept before the audit lets it go
        seen.append(view)
        return ""

    report, shown = api.audit_report(
        git,
        rev,
        policy_path=policy_path,
        policy_ref=policy_ref,
        experiment=experiment,
        since=since,
        use_cache=True,
        progress=None,
        key=signing_key(sign_key, _agent_only()),  # only the key asked for
        previous=None,
        render=keep,
        render_html=html_renderer() if html else None,
        warn=_warn,
    )
    view = seen[0]
    result = AuditResult(
        verdict=view.verdict,
        commit=view.commit,
        best_any=view.best_any,
        best_feasible=view.best_feasible,
        rows=ranked_rows(view.rows),
        findings=tuple(view.findings),
        signed_by=tuple(shown.signed_by),
        report=report.to_bytes(),
        attempts=attempt_counts(view.attempts),
        best_ladder=view.best_ladder,
        holdout=None if view.holdout is None else dict(view.holdout),
    )
    return result, shown.html.decode()


def _agent_only() -> dict[str, str]:
    """What the API's signing key is looked up with: the agent's socket alone. Never
    $EXPFLOW_SIGNING_KEY (it would sign what the caller did not ask to sign); the empty
    environment passed before made `audit(sign_key="agent:SHA256:…")` fail "SSH_AUTH_SOCK
    is not set" with the agent running (a hunt, issue 18 fortieth pass)."""
    sock = os.environ.get("SSH_AUTH_SOCK")
    return {} if sock is None else {"SSH_AUTH_SOCK": sock}


def verify_at(
    git: Git,
    data: bytes,
    *,
    source: str,
    public_keys: Sequence[str],
    allowed_signers: str | None,
    allow_unsigned: bool,
    recompute: bool,
    ref: str,
) -> VerifyResult:
    """`expflow-git verify REPORT --repo DIR` as a value: keys only from `public_keys`
    and `allowed_signers`, never from the report."""
    import warnings

    from expflow_git import escape
    from expflow_git.report.keyring import trusted_keys
    from expflow_git.report.verify import Options, verify_report

    # (No claimed commit: only --trusted-ref reads one, and reading it here parsed the
    # payload before its signature was checked, an unsigned 80 MB one's included.)
    keyring = trusted_keys(
        list(public_keys),
        allowed_signers=allowed_signers,
        git=git,
        verified=git,
        warn=warnings.warn,
    )
    options = Options(
        trusted=keyring.keys, allow_unsigned=allow_unsigned, repo=git, ref=ref, recompute=recompute
    )
    verdict = verify_report(data, source=source, options=options)
    lines = [*keyring.lines, *verdict.lines]
    return VerifyResult(
        ok=verdict.ok and all(line.ok for line in lines),
        # Escaped as `verify` prints them (console.out): a line quotes the report, and
        # its ESC, CR or LF reached whoever printed the API's lines raw (a hunter's
        # find, issue 18 twenty-fourth pass).
        lines=tuple(escape.line(str(line)) for line in lines),
        signers=tuple(dict.fromkeys(k.name() for k in verdict.signers)),
    )
