"""Finished runs' records are frozen (docs/spec.md §2.1, §6.2 item 7; docs/threat-model.md).

- `record-rewritten`: a frozen field of a record changed after its run's result was
  committed (see :mod:`expflow_git.identity`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from expflow_git.checks import Problem
from expflow_git.corrections import check_correction
from expflow_git.documents import stem
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import GITLINK, REGULAR_MODES, Git, TreeEntry, blob_id
from expflow_git.history.walk import Edit, Walk, documents, is_doc
from expflow_git.identity import (
    FROZEN_FIELDS,
    DocumentGlobs,
    Frozen,
    RecordEdit,
    changed_fields,
    frozen_message,
    frozen_view,
    readable_new,
    record_edits,
)
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind

RECORD_RULE = Problem.RECORD_REWRITTEN.value


def records_of(
    tree: list[TreeEntry], globs: DocumentGlobs, policy: Policy
) -> dict[str, list[TreeEntry]]:
    """A tree's records by experiment id, each id's the judging `policy` reads first (then
    in path order): a second record of a run under a glob only BASE's or REV's policy
    has is no decoy to compare in its place (an attacker's hunt)."""
    by_id = documents(tree, globs.is_record)
    for entries in by_id.values():
        if len(entries) > 1:
            entries.sort(key=lambda e: policy.kind_of(e.path) is not Kind.EXPERIMENT)
    return by_id


def net_record_candidates(
    walk: Walk, globs: DocumentGlobs, policy: Policy
) -> dict[str, tuple[str, TreeEntry]]:
    """Runs with a result at BASE whose record's blob differs at REV: BASE's blob and REV's."""
    with_result = documents(walk.base_tree, globs.is_result)
    base = records_of(walk.base_tree, globs, policy)
    rev = records_of(walk.rev_tree, globs, policy)
    return {
        exp_id: (base[exp_id][0].sha, rev[exp_id][0])
        for exp_id in with_result
        if exp_id in base and exp_id in rev and base[exp_id][0].sha != rev[exp_id][0].sha
    }


def net_records(
    net: dict[str, tuple[str, TreeEntry]],
    views: dict[str, Frozen | None],
    reported: set[str],
) -> list[Finding]:
    """Frozen fields that differ between BASE and REV where no commit showed the edit.
    BASE's record that cannot be read (strict JSON: a repeated key, say) froze as it is,
    as beside a result the range committed (`frozen_at_rev`): REV's record must be that
    very blob (the candidates' blobs differ), else every frozen field changed."""
    findings = []
    for exp_id, (old, entry) in sorted(net.items()):
        if exp_id in reported:
            continue
        if views.get(old) is None:  # unreadable at BASE: frozen byte for byte
            message = (
                f"the audited commit {frozen_message(FROZEN_FIELDS, exp_id)}: its record "
                f"(blob {entry.sha[:12]}) differs from the base's (blob {old[:12]}), which "
                "could not be read: it froze as it is; a finished run is frozen"
            )
        elif fields := changed_fields(views.get(old), views.get(entry.sha)):
            message = (
                f"the audited commit {frozen_message(fields, exp_id)} (blob {old[:12]} → "
                f"{entry.sha[:12]}), and no commit's change against its first parent "
                "shows it (a merge of an unrelated history?); a finished run is frozen"
            )
        else:
            continue
        findings.append(Finding(entry.path, RECORD_RULE, message))
    return findings


def frozen_candidates(
    walk: Walk, globs: DocumentGlobs, with_result: dict[str, int]
) -> tuple[list[Edit], dict[str, str]]:
    """Record edits of experiments that ever had a committed result, with their
    commit's position and whether the run was frozen then (a result committed in an
    earlier commit), and the record blob of each at BASE. The walk is in topological
    order: where history branches, a result committed on another branch may come
    first and freeze a record a little early."""
    # Every edit of such a record: the earlier ones say what it was when it froze.
    edits = [
        (i, edit, with_result[edit.experiment] < i)
        for i, (_, changes) in enumerate(walk.commits)
        for edit in record_edits(changes, globs)
        if edit.experiment in with_result
    ]
    wanted = {edit.experiment for _, edit, _ in edits}
    base_records: dict[str, str] = {}
    for entry in sorted(walk.base_tree, key=lambda e: e.path.encode("utf-8", "surrogateescape")):
        if stem(entry.path) in wanted and is_doc(entry, globs.is_record):
            base_records.setdefault(stem(entry.path), entry.sha)
    return edits, base_records


# The record edits the walk would report at merges, by walk position: `Adopted` says
# which of them take a finished run whole from a parent other than the first.
Adopted = Callable[[list[tuple[int, RecordEdit]]], set[tuple[int, str]]]


def rewritten_records(
    walk: Walk,
    edits: list[Edit],
    base_records: dict[str, str],
    views: dict[str, Frozen | None],
    adopted: Adopted | None = None,
) -> list[Finding]:
    """Walk the edits in commit order, each judged against the record its run had
    last (so a deletion and a later re-adding with other params is still caught); an
    edit `adopted` names (a merge taking the run whole from another parent) is not."""
    last: dict[str, str] = dict(base_records)  # experiment -> the record blob it is frozen to
    flagged: list[tuple[int, RecordEdit, list[str], str]] = []
    for i, edit, frozen in edits:
        exp_id = edit.experiment
        reference = edit.old_sha or last.get(exp_id)
        new_view = views.get(edit.change.new_sha or "") if readable_new(edit) else None
        if frozen and reference is not None:
            fields = changed_fields(views.get(reference), new_view)
            if fields:
                flagged.append((i, edit, fields, reference))
        if edit.change.new_sha is not None:
            last[exp_id] = edit.change.new_sha
    spared = adopted([(i, edit) for i, edit, _, _ in flagged]) if adopted and flagged else set()
    findings = []
    for i, edit, fields, reference in flagged:
        if (i, edit.change.path) in spared:
            continue
        commit = walk.commits[i][0]
        findings.append(
            Finding(
                edit.change.path,
                RECORD_RULE,
                f"commit {commit[:12]} {frozen_message(fields, edit.experiment)} "
                f"(blob {reference[:12]} → {(edit.change.new_sha or '?')[:12]}); "
                "a finished run is frozen",
            )
        )
    return findings


def adoptions(
    git: Git,
    reader: BlobReader,
    walk: Walk,
    globs: DocumentGlobs,
    base: str,
    links: _Links | None = None,
) -> Adopted:
    """The walk's record edits at merges that adopt a finished run whole (spec §2.1): at
    a merge M, judged against its first parent P1, an edit of run E's record at path X
    is not judged there when P1's tree holds no result of E, another parent Pk holds the
    very record blob M has at X and the very results of E that M has (at least one, a
    file in M), and no correction at BASE or added in the range names E. M then takes
    Pk's finished run as a commit giving a pending run its result does (M's diff adds
    the result: `frozen_at_rev` judges REV's record against M's too), and the lines that
    froze E are judged by `frozen_at_rev`, `net_records` and the deleted runs' check.
    Asked only about the edits the walk would report: one `rev-list`, one `cat-file
    --batch-check` of the walk's first parents, one listing per tree a chain starts from
    outside the range, one read of the corrections and one `cat-file --batch-check` of
    `<commit>:<path>` names, whatever the number of merges. `links`: the walked commits' as
    `with_fork_records` read them (else read here)."""

    def spared(flagged: list[tuple[int, RecordEdit]]) -> set[tuple[int, str]]:
        at = sorted({i for i, _ in flagged})
        names = "".join(f"{walk.commits[i][0]}\n" for i in at).encode("ascii")
        parents: dict[int, list[str]] = {}
        lines = git.run("rev-list", "--no-walk=unsorted", "--parents", "--stdin", input=names)
        by_id = {ids[0]: ids[1:] for ids in (ln.split() for ln in lines.decode().splitlines())}
        for i in at:
            found = by_id.get(walk.commits[i][0], [])
            if len(found) > 1:
                parents[i] = found
        candidates = [(i, edit) for i, edit in flagged if i in parents]
        runs = {edit.experiment for _, edit in candidates}
        if not runs or _named_by_corrections(walk, globs, reader, runs):
            return set()
        paths = _result_paths(git, walk, globs, base, runs, parents, links)
        if paths is None:
            return set()
        asked: dict[str, str | None] = {}
        for i, edit in candidates:
            first, *others = parents[i]  # the merge's own: its diff, against `first`
            changed = {c.path for c in walk.commits[i][1]}
            for path in paths.get(edit.experiment, []):
                if path not in changed:  # else the diff says what `first` held there
                    asked[f"{first}:{path}"] = None
            for other in others:
                for path in [edit.change.path, *paths.get(edit.experiment, [])]:
                    asked[f"{other}:{path}"] = None
        if any(not _nameable(name) for name in asked):
            return set()
        query = "".join(f"{name}\n" for name in asked).encode("utf-8", "surrogateescape")
        out = git.run("cat-file", "--batch-check=%(objectname) %(objecttype)", input=query)
        answers = out.decode("utf-8", "surrogateescape").splitlines()
        if len(answers) != len(asked):
            return set()
        for name, line in zip(asked, answers, strict=True):
            words = line.split(" ")
            known = len(words) == 2 and words[1] in ("blob", "tree", "commit", "tag")
            asked[name] = words[0] if known else ("" if line.endswith(" missing") else "?")
        out_set: set[tuple[int, str]] = set()
        for i, edit in candidates:
            first, *others = parents[i]
            results = paths.get(edit.experiment, [])
            added = {c.path: c for c in walk.commits[i][1] if c.path in results}
            if any(c.old_sha is not None for c in added.values()) or any(
                asked[f"{first}:{p}"] != "" for p in results if p not in added
            ):
                continue  # the first parent holds (or may hold) a result of the run
            # So the merge holds at those paths what its diff against `first` adds.
            if not any(c.new_mode in REGULAR_MODES for c in added.values()):
                continue  # the merge holds no result of the run
            mine = [added[p].new_sha or "" if p in added else "" for p in results]
            for other in others:
                if asked[f"{other}:{edit.change.path}"] == edit.change.new_sha and mine == [
                    asked[f"{other}:{p}"] for p in results
                ]:
                    out_set.add((i, edit.change.path))
                    break
        return out_set

    return spared


def _named_by_corrections(
    walk: Walk, globs: DocumentGlobs, reader: BlobReader, runs: set[str]
) -> bool:
    """Whether a correction at BASE or added in the range names one of `runs` (one that
    cannot be read: any of them)."""
    docs = {e.sha: e.path for e in walk.base_tree if is_doc(e, globs.is_correction)}
    for _, changes in walk.commits:
        for c in changes:
            if c.new_sha and c.new_mode in REGULAR_MODES and globs.is_correction(c.path):
                docs.setdefault(c.new_sha, c.path)
    for sha, data in reader.read_many(sorted(docs)):
        correction = check_correction(docs[sha], data)[0]
        if correction is None or correction.experiment in runs:
            return True
    return False


def _result_paths(
    git: Git,
    walk: Walk,
    globs: DocumentGlobs,
    base: str,
    runs: set[str],
    parents: dict[int, list[str]],
    links: _Links | None = None,
) -> dict[str, list[str]] | None:
    """Every path a result of `runs` has in any tree the merges' parents can hold: BASE's,
    each commit's diff, and the trees the range's chains start from outside it (a first
    parent not walked: a fork before BASE, an empty commit) and the merges' parents that
    are not walked. None: a path git cannot be asked for."""
    found: dict[str, set[str]] = {}

    def add(path: str) -> None:
        if stem(path) in runs and globs.is_result(path):
            found.setdefault(stem(path), set()).add(path)

    for entry in walk.base_tree:
        add(entry.path)
    for _, changes in walk.commits:
        for c in changes:
            add(c.path)
    walked = [commit for commit, _ in walk.commits]
    inside = {*walked, base}
    if links is None or links.keys() != inside - {base}:  # (as `with_fork_records` read them)
        links = commit_links(git, walked)
    starts = chain_starts(git, links, inside)
    # A merge's parent the walk never lists (no change against its first parent: a
    # branch ending with an empty commit, say) holds a walked commit's or BASE's tree as
    # a rule, whose paths BASE's listing, the diffs and the chains' starts above name:
    # listing it per merge cost one `git ls-tree` of a growing tree each (a review).
    outside = sorted({p for ps in parents.values() for p in ps if p not in inside})
    if outside:
        names = "".join(f"{c}^{{tree}}\n" for c in [base, *outside]).encode("ascii")
        out = git.run("cat-file", "--batch-check=%(objectname)", input=names).splitlines()
        trees = [None if b" " in line else line.decode("ascii") for line in out]
        known = {tree for tree, _, _ in links.values() if tree} | {trees[0]} - {None}
        for commit, tree in zip(outside, trees[1:], strict=True):
            if tree is None or tree not in known:
                starts.add(tree or commit)
    for tree in sorted(starts):
        for entry in git.ls_tree(tree, globs.prefixes()):
            add(entry.path)
    if any(not _nameable(p) for ps in found.values() for p in ps):
        return None
    return {exp_id: sorted(ps) for exp_id, ps in found.items()}


_Introduced = tuple[TreeEntry, list[str], list[str]]  # REV's record, commits, record paths
_RecordChange = tuple[str, str, bool]  # experiment, record path, whether it is a file after


# Each commit's tree, its first parent and that parent's tree (None: no parent).
_Links = dict[str, tuple[str | None, str | None, str | None]]


@dataclass(frozen=True)
class Introduced:
    """`introduced_results`' answer: the runs by id, and each commit of the walk (in its
    order) with its changes to those runs' record paths, for `frozen_at_rev` to know
    which path is a file in a commit's tree without asking git path by path; and, once
    `with_fork_records` has read them, each walked commit's links."""

    runs: dict[str, _Introduced]
    changes: list[tuple[str, list[_RecordChange]]]
    links: _Links = field(default_factory=dict)


def introduced_results(walk: Walk, globs: DocumentGlobs, policy: Policy) -> Introduced:
    """Runs whose result at REV was committed in the range (BASE's are net_records'):
    REV's record, every commit whose diff adds a result blob of the run (each link of
    its chain of corrections, in its own commit and in a merge taking it from a parent
    other than the first), and every path the run's record had (REV's first), to find
    the record in those commits' trees. Not REV's blob alone: a result committed beside
    one record on a branch, merged where another line changed the pending run's record,
    then overwritten through a correction, left only the overwrite's commit, beside the
    changed record, to compare with (an attacker's hunt)."""
    base = documents(walk.base_tree, globs.is_result)
    records = records_of(walk.rev_tree, globs, policy)
    new = {
        exp_id: {e.sha for e in entries} - {e.sha for e in base.get(exp_id, [])}
        for exp_id, entries in documents(walk.rev_tree, globs.is_result).items()
        if exp_id in records
    }
    new = {exp_id: blobs for exp_id, blobs in new.items() if blobs}
    commits: dict[str, dict[str, None]] = {}  # an ordered set: a merge may add several
    paths: dict[str, set[str]] = {}
    changes: list[tuple[str, list[_RecordChange]]] = []
    for entry in walk.base_tree:
        if stem(entry.path) in new and globs.is_record(entry.path):
            paths.setdefault(stem(entry.path), set()).add(entry.path)
    for commit, diff in walk.commits:
        mine = []
        for c in diff:
            exp_id = stem(c.path)
            if exp_id not in new:
                continue
            if globs.is_record(c.path):
                paths.setdefault(exp_id, set()).add(c.path)
                # `<commit>:<path>` reads a symlink's blob too, never a submodule's commit.
                mine.append((exp_id, c.path, c.new_mode not in (None, GITLINK)))
            elif globs.is_result(c.path) and (
                c.new_sha in new[exp_id] or (c.new_sha is not None and c.new_mode in REGULAR_MODES)
            ):
                commits.setdefault(exp_id, {})[commit] = None
        changes.append((commit, mine))
    out = {}
    for exp_id, found in commits.items():
        at_rev = records[exp_id][0]
        others = sorted(paths.get(exp_id, set()) - {at_rev.path})
        out[exp_id] = (at_rev, list(found), [at_rev.path, *others])
    return Introduced(out, changes)


def with_fork_records(
    git: Git, base: str, introduced: Introduced, globs: DocumentGlobs
) -> Introduced:
    """`introduced` with the record paths its runs have in the trees the range's chains
    start from, other than BASE's: a commit whose first parent lies outside the range (a
    branch forked before BASE) holds that parent's records. A path BASE no longer has
    and no commit of the range touched was never looked at, so a record changed by a
    merge after its run's result was committed beside the old one passed (an attacker's
    hunt). One listing per such tree; the walk's links are kept for `frozen_at_rev`."""
    if not introduced.runs:
        return introduced
    walked = [commit for commit, _ in introduced.changes]
    links = commit_links(git, walked)
    # A fork is a first parent outside the range, by id: a commit of the range with the
    # same tree, a revert say, hid it when forks were told by their trees (a review).
    inside = {*walked, base}
    forks = sorted(chain_starts(git, links, inside))
    found: dict[str, set[str]] = {}
    for tree in forks:
        for entry in git.ls_tree(tree, globs.prefixes()):
            if stem(entry.path) in introduced.runs and is_doc(entry, globs.is_record):
                found.setdefault(stem(entry.path), set()).add(entry.path)
    runs = {
        exp_id: (entry, commits, [*paths, *sorted(found.get(exp_id, set()) - set(paths))])
        for exp_id, (entry, commits, paths) in introduced.runs.items()
    }
    return replace(introduced, runs=runs, links=links)


def chain_starts(git: Git, links: _Links, inside: set[str]) -> set[str]:
    """The trees the range's chains start from outside it: each walked commit's first
    parent the walk does not hold (a fork before BASE, a commit with no change against
    its own first parent), by its tree; but for a commit with no change on a walked one
    or BASE (a branch's empty commit), or on a line of such commits down to one (several
    CI re-runs, a review): its tree is that one's, whose paths BASE's listing and the
    diffs name. Each such commit listed on its own was one `git ls-tree` of a growing
    tree per merge (a review). One `git cat-file --batch-check`, and one `git rev-list
    --first-parent` of the range when a first parent's own is outside the walk too."""
    tree_of = {up: tree for _, up, tree in links.values() if up and tree and up not in inside}
    ups = sorted(tree_of)
    if not ups:
        return set()
    bases = sorted(inside - links.keys())  # BASE (the walked commits all have links)
    names = "".join(f"{c}^1\n{c}^1^{{tree}}\n" for c in ups)
    names += "".join(f"{c}^{{tree}}\n" for c in bases)
    out = git.run("cat-file", "--batch-check=%(objectname)", input=names.encode("ascii"))
    ids = [None if b" " in line else line.decode("ascii") for line in out.splitlines()]
    trees = {c: t for _, c, t in links.values() if c and t}  # commit -> tree: first parents
    trees |= {c: tree for c, (tree, _, _) in links.items() if tree}
    trees |= {c: t for c, t in zip(bases, ids[2 * len(ups) :], strict=True) if t}
    # commit -> (its first parent, its tree), for the ups' first parents outside the walk
    first: dict[str, tuple[str | None, str | None]] = {}
    deeper = sorted({ids[2 * k] or "" for k in range(len(ups))} - inside - {""})
    if deeper:
        since = [f"^{c}" for c in bases if len(c) in (40, 64) and trees.get(c) != c]
        revs = "".join(f"{c}\n" for c in [*deeper, *since]).encode("ascii")  # no ARG_MAX
        args = ("rev-list", "--first-parent", "--parents", "--format=%T", "--stdin")
        lines = git.run(*args, input=revs).decode("ascii").splitlines()
        for head, tree in zip(lines[::2], lines[1::2], strict=True):
            commit, *parents = head.split()[1:]
            first[commit] = (parents[0] if parents else None, tree)

    # Each commit met: its tree when a line of commits with that tree joins it to a walked
    # commit or BASE with it (their paths are named), else None.
    verdict: dict[str, str | None] = {}

    def named(commit: str, tree: str) -> bool:
        line = []
        c: str | None = commit
        while c is not None and c not in verdict and c not in inside:
            line.append(c)
            parent, own = first.get(c, (None, None))
            c = parent if own == tree else None
        ok = c is not None and (verdict[c] if c in verdict else trees.get(c)) == tree
        for d in line:
            verdict[d] = tree if ok else None
        return ok

    starts = set()
    for k, up in enumerate(ups):
        parent, tree = ids[2 * k], tree_of[up]
        if parent is None or ids[2 * k + 1] != tree or not named(parent, tree):
            starts.add(tree)
    return starts


def commit_links(git: Git, commits: list[str]) -> _Links:
    """Each commit's tree, first parent and that parent's tree, in one
    `git cat-file --batch-check`."""
    names = "".join(f"{c}^{{tree}}\n{c}^1\n{c}^1^{{tree}}\n" for c in commits).encode("ascii")
    out = git.run("cat-file", "--batch-check=%(objectname)", input=names).splitlines()
    ids = [None if b" " in line else line.decode("ascii") for line in out]
    return {c: (ids[3 * i], ids[3 * i + 1], ids[3 * i + 2]) for i, c in enumerate(commits)}


def frozen_at_rev(
    reader: BlobReader,
    introduced: Introduced,
    views: dict[str, Frozen | None],
    reported: set[str],
) -> list[Finding]:
    """A run's record at REV against the record beside a result of that run in each
    commit that committed one (the first of its paths that is a file there, as
    `<commit>:<path>` reads it): the run froze there, whichever parent a later merge
    lists first. A record there that cannot be read (strict JSON: a repeated key, say)
    froze as it is: REV's record must be that very blob."""
    runs = {x: run for x, run in sorted(introduced.runs.items()) if x not in reported}
    beside = _records_beside(reader, runs, introduced.changes, introduced.links)
    findings = []
    for exp_id, (entry, commits, _) in runs.items():
        for commit in commits:
            found, view, unnamed, blob = beside[exp_id, commit]
            if not found and not unnamed:
                continue  # no record beside the result then: nothing froze
            why = ""
            if not found:
                fields = list(FROZEN_FIELDS)
            elif view is None:  # it could not be read: frozen byte for byte
                fields = [] if blob == entry.sha else list(FROZEN_FIELDS)
                why = f" (that record, blob {blob[:12]}, could not be read: it froze as it is)"
            else:
                fields = changed_fields(view, views.get(entry.sha))
            if fields:
                findings.append(
                    Finding(
                        entry.path,
                        RECORD_RULE,
                        f"the audited commit {frozen_message(fields, exp_id)}: its record "
                        f"(blob {entry.sha[:12]}) differs from the one beside the result in "
                        f"commit {commit[:12]}, which committed it{why}; a finished run is "
                        "frozen",
                    )
                )
                break
    return findings


# Whether a record was found beside the result, its frozen view, whether a path could
# not be named to git (a line break in it: then nothing proves the record unchanged),
# and the found record's blob id when it could not be read (else "").
_Beside = tuple[bool, Frozen | None, bool, str]


class _RecordPaths:
    """One run's record paths (REV's first, those git can be asked for) as they are at
    the commit the walk in `_records_beside` stands on: whether a commit of its chain
    left a file at a path, else as in the tree the chain starts from (asked at most
    once). The heap holds the indices that may be a file, so the first one is found
    without a scan of the others."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = [p for p in paths if _nameable(p)]
        self.unnamed = len(self.paths) != len(paths)
        self.index = {p: i for i, p in enumerate(self.paths)}
        self.left: dict[int, bool] = {}  # a file or none, as the chain left it (else untouched)
        self.absent_at_root: set[int] = set()
        self.heap = list(range(len(self.paths)))  # sorted, so already a heap

    def maybe_file(self, i: int) -> bool:
        return self.left[i] if i in self.left else i not in self.absent_at_root

    def set(self, i: int, is_file: bool | None) -> None:
        """Path `i` is now a file or not (None: as at the chain's start again)."""
        if is_file is None:
            del self.left[i]
        else:
            self.left[i] = is_file
        if self.maybe_file(i):
            heapq.heappush(self.heap, i)  # again: it may have been dropped as no file

    def first_file(self, reader: BlobReader, commit: str) -> _Beside:
        """The first path that is a file in `commit`'s tree, read as `<commit>:<path>`
        (the diffs only say which paths are files: a malformed tree, one name twice,
        makes git's diff and its path look-up disagree on the blob); a path whose read
        fails is passed over, as before."""
        unreadable = []
        found: _Beside = (False, None, self.unnamed, "")
        while self.heap:
            i = self.heap[0]
            if not self.maybe_file(i):
                heapq.heappop(self.heap)
                continue
            try:
                data = reader.read(f"{commit}:{self.paths[i]}")
                view = frozen_view(data)
                found = (True, view, False, "" if view is not None else blob_id(data, len(commit)))
                break
            except ExpflowError:  # not there or not a file
                heapq.heappop(self.heap)
                if self.left.get(i):
                    unreadable.append(i)  # a commit of the chain left a file: kept
                else:
                    self.absent_at_root.add(i)  # so in every tree from this chain's start
        for i in unreadable:
            heapq.heappush(self.heap, i)
        return found


def _records_beside(
    reader: BlobReader,
    runs: dict[str, _Introduced],
    changes: list[tuple[str, list[_RecordChange]]],
    links: _Links,
) -> dict[tuple[str, str], _Beside]:
    """For each run and each commit that committed its result, the record beside it.

    Asking git for `<commit>:<path>` for each path the record ever had costs commits ×
    paths look-ups. Instead each commit's record paths follow from its first parent's and
    its own diff: the commits form a forest (a commit under the earlier one whose tree is
    its first parent's tree; a root where none is: BASE, a fork before it), walked depth
    first, each diff applied on the way down and undone on the way up. A path no commit of
    a chain touched is as in the chain's first tree: looked up there at most once."""
    wanted: dict[str, list[str]] = {}  # commit -> the runs that committed a result there
    for exp_id, (_, commits, _) in runs.items():
        for commit in commits:
            wanted.setdefault(commit, []).append(exp_id)
    if not wanted:
        return {}
    last = max(i for i, (commit, _) in enumerate(changes) if commit in wanted)
    changes = changes[: last + 1]  # what comes later is no ancestor of those commits
    by_commit = dict(changes)
    first_with_tree: dict[str, str] = {}
    children: dict[str, list[str]] = {}
    roots: dict[str | None, list[str]] = {}
    for commit, _ in changes:
        tree, _, parent_tree = links[commit]
        under = first_with_tree.get(parent_tree or "")
        if under is not None:
            children.setdefault(under, []).append(commit)
        else:
            roots.setdefault(parent_tree, []).append(commit)
        if tree is not None:
            first_with_tree.setdefault(tree, commit)
    out: dict[tuple[str, str], _Beside] = {}
    for starts in roots.values():
        state: dict[str, _RecordPaths] = {}  # per run, from this root on
        stack: list[tuple[str, list[tuple[_RecordPaths, int, bool | None]] | None]]
        stack = [(commit, None) for commit in reversed(starts)]
        while stack:
            commit, undo = stack.pop()
            if undo is not None:  # on the way up
                for paths, i, was in reversed(undo):
                    paths.set(i, was)
                continue
            undo = []
            for exp_id, path, is_file in by_commit[commit]:
                if exp_id in runs:
                    paths = _of_run(state, runs, exp_id)
                    if (at := paths.index.get(path)) is not None:
                        undo.append((paths, at, paths.left.get(at)))
                        paths.set(at, is_file)
            for exp_id in wanted.get(commit, []):
                out[exp_id, commit] = _of_run(state, runs, exp_id).first_file(reader, commit)
            stack.append((commit, undo))
            stack.extend((child, None) for child in reversed(children.get(commit, [])))
    return out


def _of_run(
    state: dict[str, _RecordPaths], runs: dict[str, _Introduced], exp_id: str
) -> _RecordPaths:
    if exp_id not in state:  # untouched so far on every chain from this root
        state[exp_id] = _RecordPaths(runs[exp_id][2])
    return state[exp_id]


def _nameable(path: str) -> bool:
    # `<commit>:<path>` is one line of cat-file's input, which strips it.
    return "\n" not in path and path.strip() == path
