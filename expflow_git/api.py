"""The library calls behind the commands that join several pipelines: `audit` (a commit →
checks → ranking → a signed report → renderers), `rank` and `diff`. The CLI parses options,
calls one of these, prints what it returns and picks the exit code."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from expflow_git.errors import ExpflowError
from expflow_git.heap import memory_releaser, no_cyclic_gc

if TYPE_CHECKING:
    from expflow_git.audit.attempts import StudyAttempts
    from expflow_git.audit.diff import MetricDiff
    from expflow_git.audit.pipeline import TreeCheck
    from expflow_git.audit.ranking import Leaderboard
    from expflow_git.gitstore import Git
    from expflow_git.policy.model import Ranking
    from expflow_git.query.runs import Run
    from expflow_git.query.where import Where
    from expflow_git.render.view import Row, View
    from expflow_git.report.encode import Report
    from expflow_git.report.signing import SigningKey


def _keyid(key: SigningKey) -> str:
    from expflow_git.report.signing import keyid  # (cryptography: only to sign)

    return keyid(key.public_key())


@dataclass(frozen=True)
class AuditShown:
    """What an audit shows besides its report: rendered before the report is signed."""

    text: str | None  # the chosen format's rendering; None for json (the report itself)
    html: bytes  # the HTML scorecard, if asked for
    passed: bool
    commit: str
    signed_by: list[str]  # the signing key's id (empty: unsigned)


# A payload this large (~35k runs) is read back only after the memory the audit freed is
# handed back; a smaller one is worth less than the collection that would hand it back.
RELEASE_ABOVE = 32 * 1024 * 1024


def audit_report(
    git: Git,
    rev: str,
    *,
    policy_path: str,
    policy_ref: str | None,
    experiment: str | None,
    since: str | None,
    use_cache: bool,
    progress: Callable[[int, int], None] | None,
    key: SigningKey | None,
    previous: dict[str, Any] | None,
    render: Callable[[View], str] | None,
    render_html: Callable[[View], str] | None,
    warn: Callable[[str], None] | None = None,
) -> tuple[Report, AuditShown]:
    """Audit `rev` and sign the report (chained to `previous`), rendering what is shown
    with `render` and `render_html` first. The renderers are the caller's, imported
    before the audit fills the heap (see heap.memory_releaser)."""
    from expflow_git.audit.pipeline import run_audit
    from expflow_git.render.view import view_from_audit
    from expflow_git.report.encode import encode_report

    release_memory = memory_releaser()
    with no_cyclic_gc():
        result = run_audit(
            git,
            rev,
            policy_path=policy_path,
            policy_ref=policy_ref,
            experiment=experiment,
            since=since,
            use_cache=use_cache,
            progress=progress,
            warn=warn,
        )
        unsigned, summary = encode_report(result, previous=previous)
        signed_by = [] if key is None else [_keyid(key)]
        view = view_from_audit(result, summary, signed_by)
        if render_html is not None:  # the top runs' learning curves (a report has none)
            from expflow_git.audit.curves import top_series

            view = replace(view, curves=top_series(git, result))
        del result, summary  # the payload is spooled and the view holds what is still shown
        # Everything shown is rendered now, so that only the payload is in memory while
        # it is signed; nothing is written before the report is. The memory is handed
        # back once the view (which reads the leaderboard) is gone too: a collection
        # while the audit's objects live walks them all (~0.4 s at 100k runs).
        html = b"" if render_html is None else render_html(view).encode()
        text = None if render is None else render(view)
        passed, commit = view.verdict == "pass", view.commit
        del view
        if unsigned.size >= RELEASE_ABOVE:  # (a collection costs ~10 ms whatever the size)
            release_memory()
        report = unsigned.sign(key)
    return report, AuditShown(text, html, passed, commit, signed_by)


@dataclass(frozen=True)
class Ranked:
    """`rank`'s outcome: the leaderboard, the rows shown, and what it was ranked by."""

    check: TreeCheck
    board: Leaderboard
    rows: Sequence[Row]
    ranking: Ranking  # render.rank.RankedBy: with the tables' metric columns
    runs: Mapping[str, Run]  # with `details`: every run by id (params, splits, status)
    # The records of the same study / tags per status, and the runs not ranked (issue 16).
    attempts: tuple[StudyAttempts, ...] = ()


def rank(
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
    where: Where | None = None,
    details: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Ranked:
    """The gated leaderboard of `rev`: extra `gates` (`metric:op:value`, or the policy's
    mapping form `{gate, severity}`: a warning is advisory), another sort metric or
    direction, only a study's runs, runs with all `tags` or matching `where`
    (query.where), the first `top`. With `details` (or `where`), `Ranked.runs` holds
    every ranked run's params, splits and status. `warn` hears of a cache file ignored
    as untrusted (as the audit's does)."""
    from expflow_git.audit.attempts import count_attempts
    from expflow_git.audit.pipeline import check_tree, verdicts
    from expflow_git.audit.ranking import rank as rank_runs
    from expflow_git.audit.ranking import sort_keys
    from expflow_git.documents import Status
    from expflow_git.policy.model import Ranking, did_you_mean, parse_gate
    from expflow_git.query.runs import load_runs
    from expflow_git.render.rank import ranked_by
    from expflow_git.render.view import rows_from_board

    with no_cyclic_gc():
        check = check_tree(
            git, rev, policy_path=policy_path, policy_ref=policy_ref, scan=False, warn=warn
        )
        policy = check.policy
        extra = tuple(parse_gate(g, policy.metrics) for g in gates)
        ranking = policy.ranking
        if sort_by is not None and sort_by != ranking.sort_by:  # (its own: the policy's order)
            if sort_by not in policy.metrics:
                raise ExpflowError(
                    f"--sort-by: unknown metric {sort_by!r}{did_you_mean(sort_by, policy.metrics)}"
                )
            ranking = Ranking(sort_by, policy.metrics[sort_by].higher_is_better, ranking.tie_break)
        if ascending is not None:
            ranking = Ranking(ranking.sort_by, not ascending, ranking.tie_break)
        chosen = verdicts(check, extra, study=study, tags=tags)
        runs: Mapping[str, Run] = {}
        if details or where is not None:
            # The audit keeps only the parameters rules read: filters and columns need
            # them all, so the records are read once more (query.runs).
            run_set = load_runs(git.root, policy, git=git, rev=check.commit.sha)
            runs = {r.id: r for r in run_set.runs if r.result is not None}
        if where is not None:
            where.check(policy.metrics, [s.value for s in Status])
            chosen = [v for v in chosen if v.id in runs and where.matches(runs[v.id])]
        board = rank_runs(chosen, sort_keys(ranking, policy.metrics))
        attempts = count_attempts(check.experiments, study=study, tags=tags)
        # The tables' metric columns, from the policy: the same whatever rows match.
        shown = ranked_by(ranking, policy.all_gates(extra), policy.ranking.sort_by)
        return Ranked(check, board, rows_from_board(board)[:top], shown, runs, attempts)


def diff(
    git: Git,
    rev_a: str,
    rev_b: str,
    *,
    policy_path: str,
    atol: float,
    rtol: float,
    warn: Callable[[str], None] | None = None,
    left_out: list[int] | None = None,
) -> list[MetricDiff]:
    """Every run's metrics compared between two revisions, under the policy at each;
    `warn` hears of a cache file ignored as untrusted, of a run with several results
    (left out), and of the documents either revision holds that fail their checks (left
    out: a result's metrics are then shown removed or added); `left_out`, if given, is
    filled with how many such problems each revision (REV_A, REV_B) holds."""
    from expflow_git.audit.diff import diff_checks
    from expflow_git.audit.pipeline import check_tree

    with no_cyclic_gc():
        checks = [
            check_tree(git, rev, policy_path=policy_path, scan=False, warn=warn)
            for rev in (rev_a, rev_b)
        ]
        # A result that fails its checks is no result to the diff: its run's metrics were
        # shown `removed` without a word (a regression in a result also given an unknown
        # metric passed `--fail-on-regression`, exit 0; a hunt of spec §4, issue 18
        # forty-first pass), where `rank` counts such problems on stderr. A run's several
        # results are said by name below (`diff_checks`).
        from expflow_git.checks import Problem

        counts = [
            sum(f.rule != Problem.DUPLICATE_RESULT.value for f in check.findings)
            for check in checks
        ]
        if left_out is not None:
            left_out[:] = counts
        shown = {check.commit.sha: count for check, count in zip(checks, counts, strict=True)}
        for sha, count in shown.items():  # (a revision given twice: said once)
            if count and warn is not None:
                warn(
                    f"{count} problem(s) in the documents at {sha[:12]}: a document "
                    "that fails its checks is left out (a result's metrics shown removed "
                    f"or added); run `expflow-git audit --rev {sha[:12]}`"
                )
        return diff_checks(*checks, atol=atol, rtol=rtol, warn=warn)
