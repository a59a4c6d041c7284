"""The holdout budget (docs/spec.md §6.2 item 6; Dwork et al., "The reusable holdout"):
`walk_forward.max_evaluations_per_study: N` caps how often a study looks at the
walk-forward split, `walk_forward.max_evaluations: N` how often all studies together do
(a study is each record's own word, and every study's runs share one leaderboard: an
author who gave each extra look a study of its own was capped by no per-study budget;
an attacker's hunt, issue 18 twenty-seventh pass). Every look leaks information about
the split, so every result document that carries it counts, whatever became of it:

- without `--since`: the results of the audited tree that carry the split;
- with `--since BASE`: every time a commit of REV's history (BASE's, trusted, and
  BASE..REV) commits a result blob that carries the split for an experiment (added,
  changed, or added again after a deletion with other bytes: a deletion, a correction
  or a re-add never lowers the count). Each (experiment, blob) is one look, however
  often it is committed: the same bytes for the same run show nothing new of the split
  (a cherry-pick and the merge of the branch it was picked from were two looks, and
  every later audit, BASE's history counting, stayed over the budget; a revert of a
  deletion likewise). The same bytes under another run's name are a look of that run.
  A byte-identical move within one commit is the same look, not a new one (a link made
  a file is not: the link was no look); so is what a merge brings from a branch whose
  commits were counted already (a merge's own new blob, an "evil merge", counts); and
  a result of BASE's or REV's tree that none of these counted (a shallow clone's BASE;
  a merge from a parent older than BASE re-adding what BASE deleted). BASE's history
  counts because BASE's tree forgets: a look deleted in one merged pull request went
  uncounted in the next one's (an attacker's hunt, issue 18 twenty-third pass).

A run's study is its record's: at REV, else the last one the history holds (a deleted
run still counts against its study).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from expflow_git.checks import (
    Problem,
    Study,
    by_study,
    check_content,
    holdout_budget_findings,
    holdout_counts,
    holdout_total_findings,
    run_total_findings,
    study_name,
)
from expflow_git.documents import stem
from expflow_git.errors import ExpflowError, Finding, clean, printable
from expflow_git.gitblobs import BlobReader, shared_reader
from expflow_git.gitstore import EMPTY_TREES, Change, Git, TreeEntry, tree_entries
from expflow_git.identity import REGULAR_MODES, DocumentGlobs, normalised
from expflow_git.jsonstrict import DEFAULT_MAX_BYTES, JsonProblem, parse_json
from expflow_git.policy.model import Policy, WalkForward
from expflow_git.schemas import Kind

if TYPE_CHECKING:
    from expflow_git.audit.pipeline import TreeCheck


@dataclass(frozen=True)
class HoldoutBudget:
    """How many results carrying the holdout split each study committed, against the limit."""

    split: str
    limit: int | None  # per study (`max_evaluations_per_study`); None: not set
    history: bool  # counted over BASE..REV (True) or in the audited tree
    counts: tuple[tuple[Study, int], ...]  # by study, sorted (a run without record first)
    total: int | None = None  # in all studies (`max_evaluations`); None: not set

    def findings(self, policy_path: str) -> list[Finding]:
        """One finding per study over the budget, and one when all studies are over the
        total (each fails the audit; the validate hook reports the tree's through the
        same `checks` functions)."""
        found = []
        if self.limit is not None:
            found += holdout_budget_findings(
                policy_path, self.split, self.limit, self.counts, history=self.history
            )
        if self.total is not None:
            found += holdout_total_findings(
                policy_path, self.split, self.total, self.counts, history=self.history
            )
        return found

    def entry(self) -> dict[str, Any]:
        """The report's entry (docs/spec.md §6.3): verify recomputes it byte for byte.
        `max` is the per-study limit, `maxTotal` the one in all studies (each when set)."""
        entry: dict[str, Any] = {"type": "holdout-budget", "split": clean(self.split)}
        if self.limit is not None:
            entry["max"] = self.limit
        if self.total is not None:
            entry["maxTotal"] = self.total
        entry["counted"] = "history" if self.history else "tree"
        entry["studies"] = [
            {"study": None if s is None else clean(s), "evaluations": n} for s, n in self.counts
        ]
        return entry


@dataclass(frozen=True)
class BudgetRange:
    """BASE..REV as both budgets read it: each commit's changes (BASE's own history's
    first, in `before`), BASE's and REV's trees, and the document globs of the judging
    policy and of BASE's and REV's own. Read once per audit (`budget_range`): the two
    budgets walked the same log and trees each."""

    base: str
    before: list[tuple[str, list[Change]]]
    commits: list[tuple[str, list[Change]]]
    base_tree: list[TreeEntry]
    rev_tree: list[TreeEntry]
    globs: DocumentGlobs


def budget_range(git: Git, check: TreeCheck, since: str | None) -> BudgetRange | None:
    """The range the budgets count over (`since`: a resolved ancestor); None without
    `--since`, or when the policy sets neither budget. With `--since`, budgets or not,
    a range holding a tree git reads path by path otherwise than whole is refused
    (`refuse_malformed_trees`, exit 2): every later audit reads it as BASE's history."""
    if since is None:
        return None
    policy = check.policy
    runs = policy.max_runs_per_study is not None or policy.max_runs is not None
    budgets = budget_policy(policy) is not None or runs
    from expflow_git.history.walk import policy_at

    rev = check.commit.sha
    if budgets:
        base_tree, rev_tree = git.ls_tree(since), git.ls_tree(rev)
    else:  # only the policies: their globs say which trees are checked
        base_tree, rev_tree = git.ls_tree(since, [policy.path]), git.ls_tree(rev, [policy.path])
    with shared_reader(git) as reader:  # (the audit's own stream: no process more)
        at_base = _own_policy(reader, base_tree, policy)
        globs = DocumentGlobs.of(policy, at_base, policy_at(reader, rev_tree, policy))
        refuse_malformed_trees(
            git, reader, since, rev, globs, policy.path, DocumentGlobs.of(at_base)
        )
    if not budgets:
        return None
    before = []
    if since not in EMPTY_TREES.values():
        _refuse_a_cut_history(git, since)
        # (only where documents are: the rest of a long history is not diffed)
        before = list(git.log_changes(None, since, globs.prefixes()))
    commits = list(git.log_changes(since, check.commit.sha, []))
    return BudgetRange(since, before, commits, base_tree, rev_tree, globs)


def _refuse_a_cut_history(git: Git, base: str) -> None:
    """A shallow clone's BASE history is cut: the budgets would count less than it holds,
    and a report would not recompute in a full clone (a review). Exit 2, as a cut range
    is (history/walk.resolve_base)."""
    if not git.is_shallow():
        return
    cut = git.cuts_in_history(base)
    if cut:
        raise ExpflowError(
            f"--since {base[:12]}: the budgets count its whole history, which this shallow "
            f"clone cuts at {cut[0][:12]} — fetch the full history (actions/checkout with "
            "`fetch-depth: 0`)"
        )


_Step = tuple[str, bytes]  # a tree to read and the folder it is at


def _own_policy(reader: BlobReader, tree: list[TreeEntry], judge: Policy) -> Policy | None:
    """The policy a tree holds at the judging policy's path (the judging policy where its
    bytes are the same), or None where it holds none that loads."""
    from expflow_git.policy.load import load_policy_bytes

    entry = next((e for e in tree if e.path == judge.path), None)
    if entry is None or entry.type != "blob" or entry.mode not in REGULAR_MODES:
        return None
    data = reader.read(entry.sha)
    if hashlib.sha256(data).hexdigest() == judge.sha256:
        return judge
    try:
        return load_policy_bytes(data, path=judge.path)
    except ExpflowError:
        return None


def refuse_malformed_trees(
    git: Git,
    reader: BlobReader,
    base: str,
    rev: str,
    globs: DocumentGlobs,
    policy_path: str,
    at_base: DocumentGlobs,
) -> None:
    """Exit 2 where a commit of BASE..REV has a tree out of git's order, or naming an
    entry twice (`gitstore.tree_entries`), on the way to a document folder
    (`globs.prefixes()`, the corrections' too) or to the policy file: its top folder's
    tree and each folder's down to the one holding that folder or file. git's
    path-limited readers stop early in such a tree: `git log -- results` read a commit
    adding a result under a top folder listing `results` after `zzz` as deleting every
    result, so an audit whose BASE held that commit (every one after its merge) forgot
    the look and the run it counted before (an attacker's hunt, issue 18 twenty-ninth
    pass). Inside a document folder git reads every entry, as the range's own
    unlimited walk does.

    Where the document folders (`globs`: the judging, BASE's and REV's policies) name
    one that BASE's own policy (`at_base`) did not, the trees on the way to it are
    read for BASE's whole history too: each earlier audit read its range only on the
    way to the folders its policies named then, so a commit whose folder `lab` listed
    `results` after `zzz` passed while `lab/` was no document folder, and once a policy
    added `lab/results/**` the budgets' `git log -- lab/results` of BASE's history
    missed its look (a review). Only then: an audit whose policies name BASE's folders
    reads no more. One `git rev-list` more, the trees in the same stream.

    Every depth is read before one is named: the oldest commit holding a fault, by
    `git rev-list --topo-order` (listed last: commit dates are the writer's to choose;
    BASE..REV listed before BASE's history, which none of it is in), then the folder
    nearest the top. One `git rev-list` (two with a new folder) and, depth by depth,
    one stream of the trees in `reader`'s one `git cat-file --batch`, whatever the
    number of commits; each tree is read once at each folder."""
    paths = {*globs.prefixes(), *globs.prefixes(corrections_only=True)}
    wide = _on_the_way({*paths, policy_path})  # (BASE..REV's)
    commits = git.range_trees(base, rev)  # newest first: a commit before its parents
    in_range = len(commits)
    new = sorted(paths - {*at_base.prefixes(), *at_base.prefixes(corrections_only=True)})
    narrow = _on_the_way(new)  # (BASE's history's: on the way to the new folders only)
    if new and base not in EMPTY_TREES.values():
        commits += git.range_trees(None, base)
    # each tree to read: the oldest commit holding it there, the oldest of BASE..REV's
    # (-1: none; the later listed the older)
    level: dict[_Step, tuple[int, int]] = {}
    for at, (_, tree) in enumerate(commits):
        _reach(level, (tree, b""), at, at if at < in_range else -1)
    faults: list[tuple[int, bytes, str, str]] = []  # (commit, folder, tree, what is wrong)
    while level:
        deeper: dict[_Step, tuple[int, int]] = {}
        wanted = sorted(level)
        # (read to the end, a fault or not: the stream may be the audit's own)
        trees = reader.read_many((tree for tree, _ in wanted), kind="tree")
        for (tree, folder), (_, data) in zip(wanted, trees, strict=True):
            at, ranged = level[(tree, folder)]  # (the fault is `at`'s)
            entries, fault = tree_entries(data, len(tree))
            if fault is not None:
                faults.append((at, folder, tree, fault))
            for e in entries:
                step = (e.sha, folder + b"/" + e.name if folder else e.name)
                if not e.folder:
                    continue
                if step[1] in narrow:  # (each commit's way: BASE's history's too)
                    _reach(deeper, step, at, ranged)
                elif step[1] in wide and ranged >= 0:  # (BASE..REV's way only)
                    _reach(deeper, step, ranged, ranged)
        level = deeper  # (a folder's depth is its own: no step comes back)
    if faults:
        at, folder, tree, fault = min(faults, key=lambda f: (-f[0], _depth(f[1]), f[1]))
        shown = printable(folder.decode("utf-8", "surrogateescape"))
        where = f"folder '{shown}'" if folder else "top folder"
        before = ""
        if at >= in_range:
            named = ", ".join(f"'{printable(p)}'" for p in new)
            folders = "folder" if len(new) == 1 else "folders"
            before = f" (BASE's history, read for the new document {folders} {named})"
        raise ExpflowError(
            f"--since {base[:12]}: commit {commits[at][0]}{before}: the tree of its {where} "
            f"({tree[:12]}) {fault} — a hand-made tree, which git's path-limited reads see "
            "otherwise than whole; the audit refuses the range (have git check what it "
            "receives: `transfer.fsckObjects`)"
        )


def _reach(level: dict[_Step, tuple[int, int]], step: _Step, at: int, ranged: int) -> None:
    """`step` held by the commits listed `at` and `ranged` (BASE..REV's, or -1)."""
    was = level.get(step, (-1, -1))
    level[step] = (max(at, was[0]), max(ranged, was[1]))


def _depth(folder: bytes) -> int:
    return folder.count(b"/") + 1 if folder else 0


def _on_the_way(paths: Iterable[str]) -> set[bytes]:
    """The folders holding a step of a path (`b""`: the top folder): those whose trees
    git's path-limited reads of `paths` look names up in."""
    found = {b""}
    for path in paths:
        parts = path.encode("utf-8", "surrogateescape").split(b"/")
        found.update(b"/".join(parts[:depth]) for depth in range(1, len(parts)))
    return found


def holdout_budget(git: Git, check: TreeCheck, span: BudgetRange | None) -> HoldoutBudget | None:
    """The budget's counts for an audited tree, or over BASE..REV with `span`; None when
    the policy sets no budget."""
    walk = budget_policy(check.policy)
    if walk is None:
        return None
    if span is None:
        counts = _tree_counts(check, walk.split)
    else:
        counts = _history_counts(git, check, span, walk)
    return HoldoutBudget(
        walk.split,
        walk.max_evaluations_per_study,
        span is not None,
        by_study(counts),
        walk.max_evaluations,
    )


def run_budget_history(git: Git, check: TreeCheck, span: BudgetRange | None) -> list[Finding]:
    """`budget.max_runs_per_study` with `--since` (`span`): every attempt a record in a
    commit of BASE's history or of the range, or at BASE, shows counts against the study
    it had then, as a holdout look does, so deleting failed attempts does not buy new
    tries, also once the deletion is merged (BASE's tree forgets it: the next pull
    request bought the try; an attacker's hunt, issue 18 twenty-third pass).

    An attempt is a run's (id, study, params, seed) once its record says it ended, or
    its (id, study) while it runs: a tracker adds params to a running run, and an import
    updates them (a review: one run counted twice). A record only ever pending, say
    renamed for a typo, was no attempt, unless a result of its run was committed (any
    blob at a result path, counted as a holdout look is, whatever it holds; one moved
    within a commit is no new one): a run with a result finished, whatever its record
    said (pending, invalid or none), and is one attempt by its id when no record of it
    counts already. A failed record rewritten in place as a new run, or moved to
    another study, was one run by its id, and bought a try (an attacker's hunt, issue 18
    twenty-second pass). Only the studies the tree's own count (checks.py) leaves under
    the budget are reported here.

    `budget.max_runs` counts the same attempts in all studies, each once: a run moved
    to another study is one attempt there (its study dropped from the key), while the
    per-study count charges it to both studies.
    """
    limit, total = check.policy.max_runs_per_study, check.policy.max_runs
    if (limit is None and total is None) or span is None:
        return []
    globs = span.globs
    # REV's records as the judging policy counts them (check.experiments): a record a
    # pull request moved where only its own policy's globs take records is no longer
    # counted in the tree, so its attempt is erased, not kept by the combined globs
    # (both counts lost it: an attacker's hunt, issue 18 twenty-seventh pass).
    judging = DocumentGlobs((check.policy,))
    at_rev: dict[str, set[str]] = {}
    for e in span.rev_tree:
        if _is_record(e.mode, e.path, judging, None):
            at_rev.setdefault(stem(e.path), set()).add(e.sha)
    # Only a record blob REV does not hold for its run may be another attempt.
    then = {
        (stem(e.path), e.sha) for e in span.base_tree if _is_record(e.mode, e.path, globs, None)
    }
    then |= {
        (stem(c.path), c.new_sha)
        for _, changes in span.before + span.commits
        for c in changes
        if c.new_sha is not None and _is_record(c.new_mode, c.path, globs, None)
    }
    then = {(exp_id, sha) for exp_id, sha in then if sha not in at_rev.get(exp_id, ())}

    # A result committed proves its run finished: a run whose record was only pending,
    # invalid or missing, deleted with its result, was an attempt all the same (an
    # attacker's hunt, issue 18 twenty-eighth pass). Any blob at a result path, whatever
    # it holds, as a holdout look is (one no reader reads, one past the cap, one whose
    # `experiment` is a number: a review); not one the same commit deletes at another
    # path (moved), nor one ever held under a counted run's name (`held`: the same bytes
    # are that run's document, so a result moved to put a typo in its name right is no
    # second run; a review).
    def results(tree: list[TreeEntry]) -> set[tuple[str, str]]:
        return {(stem(e.path), e.sha) for e in tree if _is_result(e.type, e.mode, e.path, globs)}

    at_base = results(span.base_tree)
    held = at_base | results(span.rev_tree)
    finished = {(i, sha) for i, sha in at_base if i not in at_rev}
    for _, changes in span.before + span.commits:
        moved = _deleted_results(changes, globs)
        for c in changes:
            if c.new_sha is None or not _is_result("blob", c.new_mode, c.path, globs):
                continue
            held.add((stem(c.path), c.new_sha))
            if c.new_sha not in moved and stem(c.path) not in at_rev:
                finished.add((stem(c.path), c.new_sha))
    if not then and not finished:
        return []
    now_blobs = {sha for exp_id, _ in then for sha in at_rev.get(exp_id, ())}
    with BlobReader(git) as reader:
        keys = _attempts(reader, {sha for _, sha in then} | now_blobs)
        then_keys = {key for _, sha in then if (key := keys.get(sha)) is not None}
        now_keys = {key for sha in now_blobs if (key := keys.get(sha)) is not None}
        counted = {k[0] for k in then_keys | now_keys} | {e.id for e in check.experiments}
        runs_of: dict[str, set[str]] = {}
        for exp_id, sha in held:
            runs_of.setdefault(sha, set()).add(exp_id)
        unrecorded = {
            exp_id
            for exp_id, sha in finished
            if exp_id not in counted and not runs_of[sha] & counted
        }
        studies = {d["id"]: d["study"] for d in _records_of(reader, unrecorded, span)}
    findings = []
    if total is not None:
        # (id, params, seed): the study dropped, so a move is no new attempt in all studies
        erased_total = len(_erased({(k[0], k[2], k[3]) for k in then_keys}, now_keys, 1))
        erased_total += len(unrecorded)
        now_total = len(check.experiments)
        if now_total <= total:  # (over the tree's own count: checks.py said it)
            findings += run_total_findings(check.policy.path, now_total, total, erased_total)
    if limit is None:
        return findings
    erased = Counter(study for _, study, _, _ in _erased(then_keys, now_keys, 2))
    # A run no valid record names has no study: only `budget.max_runs` counts it (§3).
    erased.update(studies[exp_id] for exp_id in unrecorded if studies.get(exp_id) is not None)
    now: Counter[Study] = Counter(e.study for e in check.experiments)
    return findings + [
        Finding(
            check.policy.path,
            Problem.BUDGET.value,
            f"{study_name(study)} has had {now[study] + n} runs in its history ({n} of them "
            f"no longer in the tree as they ran: deleted, moved or rewritten), over the "
            f"budget of {limit}",
            "/budget/max_runs_per_study",
        )
        for study, n in sorted(erased.items(), key=lambda item: (item[0] is not None, item))
        if now[study] <= limit < now[study] + n
    ]


_Attempt = tuple[str, str, Any, Any]  # (id, study, params, seed), params and seed normalised
RUNNING = ("running",)  # a running record's params and seed: not yet what the run was


def _erased(then: set[Any], now: set[_Attempt], run: int) -> set[Any]:
    """The attempts of `then` REV's records (`now`) do not show: keys whose first `run`
    items name a run ((id, study), or (id,) with the study dropped from `then`), then
    params and seed. A running record's attempt is one its run's ended record (or REV's
    record) finishes: no attempt of its own."""
    finished = {key[:run] for key in now}
    finished |= {key[:run] for key in then if key[run] is not RUNNING}
    now_keys = now if run == 2 else {(k[0], k[2], k[3]) for k in now}
    return {key for key in then - now_keys if key[run] is not RUNNING or key[:run] not in finished}


def _deleted_results(changes: list[Change], globs: DocumentGlobs) -> set[str]:
    """The result blobs a commit deletes (or replaces) at a path: one it adds at another
    path is moved, not a new look nor a new run (a review: a result renamed for a typo
    and back was counted twice, under each id)."""
    return {
        c.old_sha
        for c in changes
        if c.old_sha is not None and _is_result("blob", c.old_mode, c.path, globs)
    }


def _attempts(reader: BlobReader, shas: set[str]) -> dict[str, _Attempt | None]:
    """Each record blob's attempt; None for a record still pending, or not valid."""
    keys: dict[str, _Attempt | None] = {}
    for sha, data in reader.read_many(sorted(shas)):
        doc = check_content(Kind.EXPERIMENT, data, explain=False)
        keys[sha] = None
        if not isinstance(doc, dict) or doc["status"] == "pending":
            continue
        if doc["status"] == "running":
            keys[sha] = (doc["id"], doc["study"], RUNNING, RUNNING)
        else:
            params, seed = normalised(doc["params"]), normalised(doc.get("seed"))
            keys[sha] = (doc["id"], doc["study"], params, seed)
    return keys


def _tree_counts(check: TreeCheck, split: str) -> Mapping[Study, int]:
    looks = (r.experiment for r in check.results if r.splits.get(split))
    return holdout_counts(check.experiments, looks)


def _history_counts(
    git: Git, check: TreeCheck, span: BudgetRange, walk: WalkForward
) -> Counter[Study]:
    looks, moved = _looks(span)
    with BlobReader(git) as reader:
        carrying = _carrying(reader, check, {sha for _, sha in looks}, walk.split)
        ids = {exp_id for exp_id, sha in looks if carrying[sha]}
        ids |= {exp_id for sha, names in moved.items() if carrying.get(sha) for exp_id in names}
        studies = _studies(reader, check, ids, span)
    # A look of BASE's history counts whatever its record and form, as the range's do:
    # dropping one no record names let a pull request's look, counted in its own audit
    # as a look of no run, be forgotten by every later one (an attacker's hunt, issue 18
    # twenty-eighth pass). No look is exempt, not even the files a team kept under
    # results/ before it took expflow up: an exemption dated by the policy's history cost
    # a process per (look, commit turning the budget on), and moving the policy file
    # made the move that commit (a review). Such a team sets its budget accordingly.
    # A look is charged to its run's study; a look first committed under a name of no
    # record (a typo of the run's name, then moved) to the study of a run its blob was
    # moved to (a review): the first, in the order the history moved it. (A set of those
    # runs was read in its hash order, which differs from one process to the next: a blob
    # moved to runs of two studies was charged to either, and the report, and a study's
    # verdict at its budget, changed from one audit of the same commit to the next; a
    # hunt, issue 18 forty-third pass.)
    return Counter(
        studies.get(exp_id)
        or next((studies[i] for i in moved.get(sha, ()) if studies.get(i) is not None), None)
        for exp_id, sha in looks
        if carrying[sha]
    )


def _looks(span: BudgetRange) -> tuple[list[tuple[str, str]], dict[str, dict[str, None]]]:
    """Every (experiment id, result blob) committed, each once: each commit's of BASE's history,
    then BASE's results none of those counted, then each commit's of the range, then
    any of REV's that none of those counted: a merge whose first parent is older than
    BASE brings, unseen by its diff, what BASE had deleted (the tree's count is a floor
    for the history's). Also, by blob, the ids a blob was moved to, in the order the
    history moved it there: no new look, and none for the tree's floor (a result moved
    to fix a typo in its name was counted again at its new path; a review)."""
    globs = span.globs
    looks: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    moved: dict[str, dict[str, None]] = {}  # (ordered: the walk's order, never a hash's)

    def floor(tree: list[TreeEntry]) -> None:
        for e in tree:
            if _is_result(e.type, e.mode, e.path, globs):
                look = (stem(e.path), e.sha)
                if look not in seen:
                    looks.append(look)
                    seen.add(look)

    def walk(commits: list[tuple[str, list[Change]]]) -> None:
        for _, changes in commits:
            # A blob this commit deletes is moved, not looked at again, under any id.
            gone = _deleted_results(changes, globs)
            for c in changes:
                if c.new_sha is None or not _is_result("blob", c.new_mode, c.path, globs):
                    continue
                look = (stem(c.path), c.new_sha)
                # (a link or submodule made a file of the same blob is a first look: the
                # link was none, and a deletion after it went uncounted; an attacker's hunt)
                if c.new_sha in gone or (
                    c.old_sha == c.new_sha and _is_result("blob", c.old_mode, c.path, globs)
                ):
                    if c.new_sha in gone:
                        moved.setdefault(c.new_sha, {})[look[0]] = None
                    seen.add(look)
                    continue
                # The same bytes for the same run, committed again, show nothing new: a
                # cherry-pick of a counted commit, the merge of a branch already walked (a
                # merge is diffed against its first parent), a deletion reverted. Only the
                # pair: the same bytes under another id, or other bytes, are a look (an
                # id's blob moved here in an earlier commit was one look already: the
                # move's source was counted where it was committed).
                if look in seen:
                    continue
                looks.append(look)
                seen.add(look)

    walk(span.before)
    floor(span.base_tree)
    walk(span.commits)
    floor(span.rev_tree)
    return looks, moved


def _is_result(kind: str, mode: str | None, path: str, globs: DocumentGlobs) -> bool:
    return kind == "blob" and mode in REGULAR_MODES and globs.is_result(path)


def _carrying(
    reader: BlobReader, check: TreeCheck, shas: Iterable[str], split: str
) -> Mapping[str, bool]:
    """Which blobs hold a result with the split: REV's valid results are known already,
    the others are read (any parseable document counts, valid or not: it was a look)."""
    # A path listed twice (a malformed tree) does not say which blob is which result:
    # those blobs are read.
    paths = check.inputs.paths
    twice = {a for a, b in zip(paths, paths[1:], strict=False) if a == b}
    results = {r.path: r for r in check.results if r.path not in twice}
    known = {
        blob: bool(results[path].splits.get(split))
        for path, blob in check.inputs.blobs(results).items()
    }
    wanted = sorted(set(shas) - known.keys())
    for sha, data in reader.read_many(wanted):
        known[sha] = _has_split(data, split)
    return known


def _has_split(data: bytes, split: str) -> bool:
    """Whether a committed result blob carries the split. One the strict reader refuses
    was a look all the same (a digit too many, a BOM, a key given twice, over the size
    cap: its numbers are as readable): it is read leniently, every key given twice kept,
    and one no JSON reader reads, or over the size cap, or not an object, counts (it may
    hold the split; a look is the author's to make readable)."""
    try:
        doc = parse_json(data)
    except JsonProblem:
        return _lenient_has_split(data, split)
    if not isinstance(doc, dict):
        return True  # as the lenient reader counts it: one fault more, as readable
    return _holds(doc.get("splits"), split)


def _holds(splits: Any, split: str) -> bool:
    """Whether a result's `splits` (as written, valid or not) may hold the split: an
    object naming it with anything but an empty object, or anything the schema refuses
    (`[{"holdout": …}]` is a look). An empty split shows no value: `result --split
    holdout` with no metric after it spent a look for good (a user's hunt)."""
    if splits is None:
        return False
    return splits.get(split, {}) != {} if isinstance(splits, dict) else True


def _lenient_has_split(data: bytes, split: str) -> bool:
    doc = _lenient(data)
    if not isinstance(doc, dict):
        return True  # `[{…the result…}]`: one fault more, and the numbers as readable
    return any(_holds(s, split) for s in doc.get("splits", ()))


def _lenient(data: bytes) -> Any:
    """A document the strict reader refuses, read leniently: a BOM dropped, every key's
    values kept in a list (a key given twice), numbers as text. None when no JSON reader
    reads it, or over the size cap (unread: the lenient reader would cost ~25x its size
    in memory)."""
    import json

    if len(data) > DEFAULT_MAX_BYTES:
        return None

    def pairs(items: list[tuple[str, Any]]) -> dict[str, list[Any]]:
        keyed: dict[str, list[Any]] = {}
        for key, value in items:
            keyed.setdefault(key, []).append(value)
        return keyed

    try:
        return json.loads(
            data.decode("utf-8-sig", "replace"),
            object_pairs_hook=pairs,
            parse_float=str,
            parse_int=str,
            parse_constant=str,
        )
    except (ValueError, RecursionError):
        return None


def _studies(
    reader: BlobReader, check: TreeCheck, ids: set[str], span: BudgetRange
) -> dict[str, Study]:
    """Each id's study: its record at REV, else the last record of it in BASE..REV or at BASE."""
    studies: dict[str, Study] = {e.id: e.study for e in check.experiments if e.id in ids}
    missing = ids - studies.keys()
    if missing:
        for doc in _records_of(reader, missing, span):
            studies[doc["id"]] = doc["study"]
    return studies


def _records_of(reader: BlobReader, ids: set[str], span: BudgetRange) -> list[dict[str, Any]]:
    """Every valid record of `ids` in BASE's history, at BASE and in the range's commits,
    oldest first."""
    globs = span.globs

    def committed(commits: list[tuple[str, list[Change]]]) -> list[str]:
        return [
            c.new_sha
            for _, changes in commits
            for c in changes
            if c.new_sha is not None and _is_record(c.new_mode, c.path, globs, ids)
        ]

    records = committed(span.before)
    records += [e.sha for e in span.base_tree if _is_record(e.mode, e.path, globs, ids)]
    records += committed(span.commits)
    read = dict(reader.read_many(sorted(set(records))))
    docs = []
    for sha in records:
        doc = check_content(Kind.EXPERIMENT, read[sha], explain=False)
        if isinstance(doc, dict) and doc["id"] in ids:
            docs.append(doc)
    return docs


def _is_record(mode: str | None, path: str, globs: DocumentGlobs, ids: set[str] | None) -> bool:
    """A record's file (of one of `ids`, unless None)."""
    return mode in REGULAR_MODES and globs.is_record(path) and (ids is None or stem(path) in ids)


def budget_policy(policy: Policy) -> WalkForward | None:
    """The walk-forward section when it sets a holdout budget (per study, in all, or both)."""
    walk = policy.walk_forward
    if walk is None or (walk.max_evaluations_per_study is None and walk.max_evaluations is None):
        return None
    return walk
