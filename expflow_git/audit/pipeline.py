"""The audit: read a commit's tree through git objects → check → rank → an Audit value.

Only committed bytes are read (never the working tree), all of them through
`git cat-file --batch` (this process's stream, and one per cold-read worker:
parallel.py), and each blob is parsed, checked and scanned as it arrives, so that
no more than one raw document per process is held at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol, TypeVar

from expflow_git.audit.attempts import StudyAttempts, count_attempts
from expflow_git.audit.cache import BlobCache
from expflow_git.audit.ladder import Ladder, audit_ladder
from expflow_git.audit.leaves import Leaves
from expflow_git.audit.parallel import BATCH_BLOBS, Checker
from expflow_git.audit.params import TopParams, top_params
from expflow_git.audit.ranking import Leaderboard, WalkForwardOutcome, rank, sort_keys, walk_forward
from expflow_git.audit.tree import SYMLINK_MODE, TreeReader, read_cold
from expflow_git.checks import (
    Problem,
    RunVerdict,
    integrity_findings,
    judge_runs,
    pair_runs,
)
from expflow_git.corrections import Correction, tree_findings
from expflow_git.documents import Experiment, Result, stem
from expflow_git.errors import ExitCode, ExpflowError, Finding, masked_argument, path_text
from expflow_git.gitblobs import BlobReader, BlobsExist
from expflow_git.gitstore import TREE_RECORD, Commit, Git, TreeEntry, tree_entry
from expflow_git.heap import no_cyclic_gc
from expflow_git.localcache import state_dir
from expflow_git.policy.diff import PolicyProposal, diff_policies
from expflow_git.policy.load import load_policy_bytes
from expflow_git.policy.model import DEFAULT_POLICY_PATH, Gate, Policy
from expflow_git.report.inputs import LeavesJob

if TYPE_CHECKING:
    from expflow_git.audit.budget import HoldoutBudget


class _HasPath(Protocol):
    @property
    def path(self) -> str: ...


_Pathed = TypeVar("_Pathed", bound=_HasPath)


@dataclass(frozen=True)
class TreeCheck:
    """Everything read and checked at one commit, before ranking."""

    commit: Commit
    policy: Policy
    policy_blob: str
    inputs: Leaves  # every document read, in path order
    findings: tuple[Finding, ...]
    experiments: tuple[Experiment, ...]
    results: tuple[Result, ...]
    corrections: tuple[Correction, ...] = ()  # declared corrections (corrections.py)
    # With --policy-ref: the commit whose policy judged, and the audited commit's own.
    policy_ref: str | None = None
    proposal: PolicyProposal | None = None
    # The canonical spellings of a result's numbers (spelling.spell_run), by its path,
    # where the cache kept them: only the report's encoder reads them.
    spellings: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Audit:
    check: TreeCheck
    board: Leaderboard
    walk: WalkForwardOutcome | None
    focus: str | None = None
    since: str | None = None
    extra_findings: tuple[Finding, ...] = ()
    ladder: Ladder | None = None  # with ranking.ladder_step (audit/ladder.py)
    budget: HoldoutBudget | None = None  # the holdout budget's counts (audit/budget.py)
    # Every record per study and status, and the runs left off the board (issue 16).
    attempts: tuple[StudyAttempts, ...] = ()
    top_params: TopParams | None = None  # the params that differ between the top runs
    # The report's input leaves, encoded while the runs were ranked (report/inputs.py).
    leaves: LeavesJob | None = None

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.check.findings + self.extra_findings


def verdict_passes(
    *,
    findings: int,
    feasible_runs: int,
    focus_feasible: bool,
    walk_passed: bool | None,
    focus: str | None,
    focus_findings: int = 0,
) -> bool:
    """docs/spec.md §6.2: no finding, a feasible run, the walk-forward gate if configured.

    With a focus (`--experiment ID`) the verdict is that run's alone: feasible, and no
    finding at a file named by its id (`focus_findings`). Its own result rewritten after
    the fact passed (an attacker's hunt, issue 18 twenty-second pass).
    """
    if focus is not None:
        return focus_feasible and focus_findings == 0
    return findings == 0 and feasible_runs > 0 and walk_passed is not False


def path_key(path: str) -> bytes:
    """Sort paths by their bytes, as git does."""
    return path.encode("utf-8", "surrogateescape")


def leaf_key(path: str) -> bytes:
    """The order of the report's input leaves: by the bytes of the path as the report
    writes it (`path_text`: an undecodable byte as the text `\\udcff`, a backslash
    doubled), which is what `verify` checks; the same as `path_key` for every path that
    is UTF-8 and has no backslash."""
    return path_text(path).encode("utf-8")


_PATH = operator.attrgetter("path")


def by_path(items: list[_Pathed], *, unique: bool = False) -> list[_Pathed]:
    """`items` sorted in place by their paths' bytes, as git sorts them. ASCII paths sort
    the same as str: their keys are then the paths themselves, not a bytes copy of each
    (two million at once, at a million runs).

    Two items at one path (only a malformed tree lists a path twice) are ordered by what
    they hold, never by the order they were read in, which the caches change; `unique`:
    the caller knows no path is listed twice (TreeReader.in_order)."""
    if all(item.path.isascii() for item in items):
        items.sort(key=_PATH)
    else:
        items.sort(key=lambda item: path_key(item.path))
    if not unique:
        paths = list(map(_PATH, items))
        if any(map(operator.eq, paths, paths[1:])):
            items.sort(key=lambda item: (path_key(item.path), repr(item)))
    return items


def commit_time_utc(commit: Commit) -> str:
    return dt.datetime.fromtimestamp(commit.time, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@no_cyclic_gc()  # see heap.py: millions of acyclic objects
def check_tree(
    git: Git,
    rev: str = "HEAD",
    *,
    policy_path: str = DEFAULT_POLICY_PATH,
    policy_ref: str | None = None,
    scan: bool = True,
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
    reader: BlobReader | None = None,
    warn: Callable[[str], None] | None = None,
) -> TreeCheck:
    """Read, parse and check every document of `rev` (and scan every blob for PINs).

    With `policy_ref`, the policy committed at that ref judges, and `rev`'s own policy
    is only compared with it (TreeCheck.proposal). With `use_cache`, what a blob's
    content decided is reused from earlier runs; cache files this user may not have
    written are ignored, and told to `warn` (docs/threat-model.md: the cache is trusted).
    `reader`: the caller's blob stream (the audit reads a few more blobs after
    ranking), else one of its own.
    """
    commit = git.resolve_commit(rev)
    # With the cache, the folders too: an unchanged one is taken whole (folders.py),
    # and its lines are never parsed.
    records = git.tree_records(commit.sha, trees=use_cache)
    here = _entry_at(records, policy_path)
    ref_sha: str | None = None
    proposal: PolicyProposal | None = None
    problems: list[Finding] = []
    with contextlib.ExitStack() as stack:
        if reader is None:
            reader = stack.enter_context(BlobReader(git))
        if policy_ref is None:
            if here is None or not _is_file(here):
                raise ExpflowError(
                    f"{policy_path}: no policy file at {rev} ({commit.sha[:12]}); "
                    "commit one (expflow-git init) or pass --policy"
                )
            policy_entry = here
            # With the cache, a policy checked before is read back without the YAML
            # parser (~30 ms), as the hooks do (policy/load.py; re-validated on use).
            policy = load_policy_bytes(
                reader.read(here.sha),
                path=policy_path,
                cache_dir=state_dir(git.git_dir) if use_cache else None,
                warn=warn,
            )
        else:
            ref_sha, policy_entry, policy = _trusted_policy(git, reader, policy_ref, policy_path)
            proposal, problems = _proposal(reader, here, policy_entry, policy)
        cache = (
            BlobCache.for_git_dir(git.git_dir, policy.sha256, policy.path) if use_cache else None
        )
        check = _read_documents(
            git,
            reader,
            commit,
            policy,
            policy_entry,
            records,
            scan,
            cache,
            progress,
            problems,
            stack,
        )
    if cache is not None:
        cache.mark_used()
        if warn is not None and (message := cache.distrust_warning()):
            warn(message)
    return replace(check, policy_ref=ref_sha, proposal=proposal)


def _entry_at(records: list[str], path: str) -> TreeEntry | None:
    """The listing's first entry at `path` that is not a folder (found without parsing
    the others: a line ends with its path)."""
    suffix = f"\t{path}"
    for record in records:
        if record.endswith(suffix) and not record.startswith(TREE_RECORD):
            entry = tree_entry(record)
            if entry.path == path:
                return entry
    return None


def _is_file(entry: TreeEntry | None) -> bool:
    return entry is not None and entry.type == "blob" and entry.mode != SYMLINK_MODE


def _trusted_policy(
    git: Git, reader: BlobReader, ref: str, policy_path: str
) -> tuple[str, TreeEntry, Policy]:
    """The policy committed at `ref`: its commit, its tree entry and the parsed policy.
    Any problem with it is a usage error (exit 2): there is no rule to judge by."""
    try:
        ref_sha = git.resolve_trusted(ref).sha
    except ExpflowError as exc:
        # CI's default checkout is shallow: the base commit is then simply not there.
        hint = (
            " — this is a shallow clone: fetch the full history (actions/checkout with "
            "`fetch-depth: 0`)"
            if git.is_shallow()
            else ""
        )
        raise ExpflowError(f"--policy-ref {ref}: {exc.message}{hint}") from None
    found = [e for e in git.ls_tree(ref_sha, paths=[policy_path]) if e.path == policy_path]
    if not found or not _is_file(found[0]):
        raise ExpflowError(f"{policy_path}: no policy file at --policy-ref {ref} ({ref_sha[:12]})")
    try:
        policy = load_policy_bytes(reader.read(found[0].sha), path=policy_path)
    except ExpflowError as exc:
        raise ExpflowError(f"--policy-ref {ref} ({ref_sha[:12]}): {exc.message}") from None
    return ref_sha, found[0], policy


def _proposal(
    reader: BlobReader, here: TreeEntry | None, judged: TreeEntry, trusted: Policy
) -> tuple[PolicyProposal, list[Finding]]:
    """The audited commit's own policy against the trusted one; a missing or broken one
    is a finding (it would be the repository's policy after merge)."""
    path = trusted.path
    if here is None or not _is_file(here):
        what = "is not a regular file" if here is not None else "is missing"
        message = f"the commit's policy file {what}: after merge there would be no policy"
        return PolicyProposal(None, False), [Finding(path, Problem.POLICY_INVALID.value, message)]
    if here.sha == judged.sha:
        return PolicyProposal(here.sha, True), []
    try:
        proposed = load_policy_bytes(reader.read(here.sha), path=path)
    except ExpflowError as exc:
        return PolicyProposal(here.sha, False), [_policy_invalid(path, exc.message)]
    return PolicyProposal(here.sha, True, diff_policies(trusted, proposed)), []


def _policy_invalid(path: str, message: str) -> Finding:
    """The finding for a policy that does not load: its line and column, where the error
    names them, go to the finding (an annotation and SARIF put them at line 1, and the
    text named the path twice: a hunt, issue 18 twenty-fourth pass)."""
    rest = message.removeprefix(path)
    line: int | None = None
    col: int | None = None
    if rest.startswith(":"):  # path:LINE:COL: what
        spot, _, said = rest[1:].partition(": ")
        numbers = spot.split(":")
        if len(numbers) == 2 and all(n.isascii() and n.isdigit() for n in numbers):
            line, col, rest = int(numbers[0]), int(numbers[1]), ": " + said
    if rest.startswith(": ") and rest != message:
        message = rest[2:]
    return Finding(path, Problem.POLICY_INVALID.value, message, line=line, col=col)


def _read_documents(
    git: Git,
    reader: BlobReader,
    commit: Commit,
    policy: Policy,
    policy_entry: TreeEntry,
    records: list[str],
    scan: bool,
    cache: BlobCache | None,
    progress: Callable[[int, int], None] | None,
    problems: list[Finding],
    stack: contextlib.ExitStack,
) -> TreeCheck:
    """Check every document of the listing (`git ls-tree` lines: emptied once classified).
    `problems`: findings made before the listing was read (they are sorted in).
    With the cache (and folders in the listing), an unchanged leaf folder is taken whole
    from the folder cache beside it, and each one read blob by blob is kept there after.
    `stack`: where the git process that checks the cached blobs exist is ended."""
    tree = TreeReader(policy, problems)
    folders = cache.folders(scan) if cache is not None else None
    # What a cache answers for is never read: that each of those blobs is in the
    # repository is asked of git meanwhile (a cold audit fails on a missing one, and a
    # warm one must too). Where a cold audit reads every blob (all are scanned), git is
    # asked before the listing is classified, the others once it is.
    every_blob = scan and not policy.scan_allow
    exist: BlobsExist | None = None
    if cache is not None and every_blob:
        blobs = read_cold(records, policy, scan, 12 + len(commit.sha))
        exist = stack.enter_context(BlobsExist(git, blobs))
    taken_blobs: list[str] | None = [] if cache is not None and not every_blob else None
    if folders is None:
        tree.classify(records, scan)
    else:
        width = 32 + len(commit.sha) // 2
        trees = [tree_entry(r) for r in records if r.startswith(TREE_RECORD)]
        # A folder listed twice (only a malformed tree can) is read twice, blob by blob.
        twice = {path for path, n in Counter(e.path for e in trees).items() if n > 1}
        cached = {
            e.path: (e.sha, folder)
            for e in trees
            if e.path not in twice and (folder := folders.load(e.path, e.sha, width)) is not None
        }
        tree.classify(records, scan, cached, note=True, taken_blobs=taken_blobs)
    # Shard by shard, so that few cache shards are in memory at once. The blobs no
    # record answers for are read and checked in rounds of about BATCH_BLOBS (on every
    # core: parallel.py), and the shards they belong to saved after each round.
    batches: dict[str, list[str]] = {}
    for sha in tree.uses:
        name = cache.shard_of(sha, document=tree.reads_document(sha)) if cache is not None else ""
        batches.setdefault(name, []).append(sha)
    done, total = 0, len(tree.uses)
    # A round's records wait only for the cache to keep them: without one they are
    # consumed as they come, and the cold read is one batch, so that the children's
    # rounds never run dry between batches.
    batch = BATCH_BLOBS if cache is not None else max(total, 1)
    missing: list[str] = []
    pending: list[str] = []  # shards whose blobs are in `missing`

    def flush() -> None:
        for sha, record in checker.records(reader, missing):
            if cache is not None:
                cache.put(cache.shard_of(sha, document=tree.reads_document(sha)), sha, record)
            tree.consume(sha, record, made=True)
        if cache is not None:
            for name in pending:
                cache.save(name)
        missing.clear()
        pending.clear()

    if taken_blobs is not None:
        exist = stack.enter_context(BlobsExist(git, itertools.chain(taken_blobs, tree.uses)))
    # The checker's children end before the blob stream does (they hold its pipes).
    with Checker(policy, git, tree.needs) as checker:
        for shard, shas in sorted(batches.items()):
            shard_records = cache.records(shard) if cache is not None else {}
            for sha in shas:
                if not tree.consume_cached(sha, shard_records.get(sha)):
                    missing.append(sha)
                    if len(missing) >= batch:
                        flush()
            pending.append(shard)
            # A shard all of whose blobs had records is let go at once (a warm audit
            # holds one shard at a time); the others once a round is worth checking.
            if not missing or len(missing) >= batch // 4:
                flush()
            done += len(shas)
            if progress is not None:
                progress(done, total)
        flush()
    if exist is not None:
        exist.check()
    if folders is not None:
        for path, (sha, folder) in tree.folders().items():
            folders.save(path, sha, folder)
    # In path order first: the integrity checks sort by path again, which is then one
    # pass over a sorted list, not a second n log n sort of a million documents.
    unique = tree.in_order  # (paths in strictly increasing order: none listed twice)
    experiments = by_path(tree.experiments, unique=unique)
    results = by_path(tree.results, unique=unique)
    findings = tree.findings
    findings.extend(integrity_findings(experiments, results, policy))
    findings.extend(tree_findings(tree.corrections, (e.id for e in experiments)))
    inputs = Leaves(tree.leaf_paths, tree.leaf_digests, tree.width)
    if "" in tree.leaf_paths:  # every document's blob is consumed: a slot left empty is a bug
        raise RuntimeError("audit: a document was listed but never read")
    if not tree.in_order:
        inputs = inputs.reordered(leaf_key)
    findings.sort(key=_finding_key)
    return TreeCheck(
        commit=commit,
        policy=policy,
        policy_blob=policy_entry.sha,
        inputs=inputs,
        findings=tuple(findings),
        experiments=tuple(experiments),
        results=tuple(results),
        corrections=tuple(by_path(tree.corrections)),
        spellings=tree.spellings,
    )


def _finding_key(f: Finding) -> tuple[bytes, int, int, str, str, str]:
    return (path_key(f.path), f.line or 0, f.col or 0, f.pointer, f.rule, f.message)


def verdicts(
    check: TreeCheck,
    extra_gates: tuple[Gate, ...] = (),
    *,
    study: str | None = None,
    tags: Sequence[str] = (),
) -> list[RunVerdict]:
    """Per-run verdicts, optionally only for one study / runs carrying all `tags`."""
    pairs = pair_runs(check.experiments, check.results)
    if study is not None or tags:
        pairs = [
            (exp, res)
            for exp, res in pairs
            if (study is None or exp.study == study) and all(t in exp.tags for t in tags)
        ]
    return judge_runs(pairs, check.policy, check.policy.all_gates(extra_gates))


def run_audit(
    git: Git,
    rev: str = "HEAD",
    *,
    policy_path: str = DEFAULT_POLICY_PATH,
    policy_ref: str | None = None,
    experiment: str | None = None,
    since: str | None = None,
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Audit:
    """docs/spec.md §6.2: items 1–6 at `rev`, item 7 with `since`, item 8 with `experiment`,
    judged by the policy at `policy_ref` when given."""
    # One blob stream for the tree and, after ranking, the top runs' whole records.
    with BlobReader(git) as reader:
        check = check_tree(
            git,
            rev,
            policy_path=policy_path,
            policy_ref=policy_ref,
            use_cache=use_cache,
            progress=progress,
            reader=reader,
            warn=warn,
        )
        # The leaves need only what was read: encoded by a child while this one ranks.
        leaves = LeavesJob(check.inputs)
        try:
            return _judge(git, reader, rev, check, experiment, since, leaves)
        except BaseException:
            leaves.close()
            raise


def _names(check: TreeCheck, board: Leaderboard, experiment: str) -> bool:
    """Whether the tree has anything of the run `--experiment` names: ranked, a record, or
    a finding at a file named by its id. A run whose record or result is invalid has a
    failing verdict and its report: it was an error naming no report, "no experiment"
    for a record that is there (a user's hunt, issue 18 twenty-third pass)."""
    if any(r.verdict.id == experiment for r in board.runs):
        return True
    if any(e.id == experiment for e in check.experiments):
        return True
    names = focus_stems(experiment)
    return any(stem(f.path) in names for f in check.findings)


def focus_stems(run_id: str) -> set[str]:
    """The file stems that name run `run_id` in findings: its id, and the id as the scan's
    findings spell it (a PIN's digest in it masked, `****.json`, which then passed as
    another run's; a review)."""
    from expflow_git.pinscan.scanner import shown_path

    return {run_id, shown_path(run_id)}


def _judge(
    git: Git,
    reader: BlobReader,
    rev: str,
    check: TreeCheck,
    experiment: str | None,
    since: str | None,
    leaves: LeavesJob,
) -> Audit:
    """run_audit's items 4–8, once the tree is read and checked."""
    board = rank(verdicts(check), sort_keys(check.policy.ranking, check.policy.metrics))
    top = top_params(reader, board, check.experiments, check.inputs)
    if experiment is not None and not _names(check, board, experiment):
        shown = masked_argument(experiment)  # (as `check_id` masks an id)
        raise ExpflowError(f"no experiment {shown!r} at {rev}", code=ExitCode.FAILED)
    walk = walk_forward(board, check.policy.walk_forward) if check.policy.walk_forward else None
    since_sha = None
    rewritten: tuple[Finding, ...] = ()
    if since is not None:
        from expflow_git.history import history_findings, resolve_base

        since_sha = resolve_base(git, since, check.commit.sha)
        rewritten = tuple(history_findings(git, since_sha, check.commit.sha, check.policy))
    if check.corrections or since_sha is not None:  # a run deleted on record, back again
        from expflow_git.audit.deleted import deleted_runs_back

        rewritten += tuple(deleted_runs_back(git, check, since_sha, {f.path for f in rewritten}))
    from expflow_git.audit.budget import budget_range, holdout_budget, run_budget_history

    span = budget_range(git, check, since_sha)  # (read once for both budgets)
    budget = holdout_budget(git, check, span)
    if budget is not None:
        rewritten += tuple(budget.findings(check.policy.path))
    rewritten += tuple(run_budget_history(git, check, span))
    return Audit(
        check=check,
        board=board,
        walk=walk,
        focus=experiment,
        since=since_sha,
        extra_findings=rewritten,
        ladder=audit_ladder(
            git,
            check.commit.sha,
            check.policy,
            board,
            check.inputs,
            check.policy_ref,
        ),
        budget=budget,
        attempts=count_attempts(check.experiments),
        top_params=top,
        leaves=leaves,
    )
