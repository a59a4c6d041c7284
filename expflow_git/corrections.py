"""Declared corrections (issue 13): a change to a committed result is accepted only
with a correction document added in the same commit that names the experiment,
the superseded blob and the new one (null: deleted), with a reason, an author and
a time. Corrections are append-only and listed in every report.

This module holds the model (`Correction`, `Rewrite`), reading and checking a
correction document, writing one (`build_correction`, `write_correction`), and
the one rule the `protect` hook and `audit --since` share (`correction_changes`
and `judge`, over the pure `match`; the callers find the rewrites by experiment id,
identity.py). It reads git only through what the caller passes in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expflow_git.atomicfile import confined
from expflow_git.checks import Problem, check_content
from expflow_git.documents import stem
from expflow_git.errors import (
    ExpflowError,
    Finding,
    clean,
    mask_flagged,
    path_from_text,
    path_text,
    printable,
)
from expflow_git.gitstore import Change, Git, no_git_env
from expflow_git.identity import REGULAR_MODES
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind, is_valid

CORRECTION_SCHEMA = "expflow/correction@1"
CORRECTIONS_DIR = "corrections"  # where `result --overwrite` and `rm` write them
# What `git var` needs to resolve the identity a commit would get (no_git_env drops them).
IDENTITY_VARS = (
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
)
_IDENT = re.compile(r"(?P<name>.*) <(?P<email>[^<>]*)> (?P<time>-?[0-9]+) (?P<tz>[+-][0-9]{4})\Z")
_CHANGED = ("M", "D", "T")  # git's letters for a change or deletion of a path


@dataclass(frozen=True, slots=True)
class Correction:
    """A correction document, from strictly parsed, schema-valid JSON."""

    path: str
    experiment: str
    supersedes: str  # git blob id of the committed result it replaces
    blob: str | None  # git blob id of the new result; None: the result was deleted
    reason: str
    author_name: str
    author_email: str
    time: str

    @classmethod
    def from_json(cls, path: str, doc: Mapping[str, Any]) -> Correction:
        """Build from a document that passed the correction schema. Its free text is
        kept with what the PIN scan flags masked: every output shows it (a reason
        `rerun with --pin NNNN` reached the report and the CI log; an attacker's hunt)."""
        return cls(
            path,
            doc["experiment"],
            doc["supersedes"],
            doc["blob"],
            mask_flagged(doc["reason"]),
            mask_flagged(doc["author"]["name"]),
            mask_flagged(doc["author"]["email"]),
            doc["time"],
        )

    def entry(self) -> dict[str, Any]:
        """The report's entry body for this correction (strings made JCS-safe)."""
        return {
            "type": "correction",
            "path": path_text(self.path),
            "experiment": self.experiment,
            "supersedes": self.supersedes,
            "blob": self.blob,
            # Clean already, unless they came from an edited cache record: never let
            # such a record break the report's encoding.
            "reason": clean(self.reason),
            "author": {"name": clean(self.author_name), "email": clean(self.author_email)},
            "time": self.time,
        }

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Correction:
        """Back from a report entry (`entry`), its path as the file names it (the entry
        spells it: `errors.path_text`)."""
        return cls.from_json(path_from_text(entry["path"]), entry)

    def change(self) -> str:
        """`<old> → <new>` with 12-digit blob ids (new: "deleted")."""
        return f"{self.supersedes[:12]} → {self.blob[:12] if self.blob else 'deleted'}"

    def describe(self) -> str:
        """One line for people (control characters escaped by the caller's renderer)."""
        verb = "deleted" if self.blob is None else "corrected"
        return (
            f"result of {self.experiment!r} {verb} ({self.change()}) by {self.author_name} "
            f"<{self.author_email}> at {self.time}: {self.reason}"
        )


@dataclass(frozen=True, slots=True)
class Rewrite:
    """A change of a committed result: its experiment, path, old blob and new blob
    (None: deleted). Identity is the experiment id; the path is for messages."""

    experiment: str
    path: str
    old: str
    new: str | None


@dataclass(frozen=True)
class Coverage:
    """How the corrections added with a set of rewrites pair with them."""

    declared: tuple[tuple[Rewrite, Correction], ...]
    uncovered: tuple[Rewrite, ...]
    unmatched: tuple[Correction, ...]


def match(
    rewrites: Sequence[Rewrite],
    added: Sequence[Correction],
    additions: Sequence[Rewrite] = (),
) -> Coverage:
    """Pair each rewrite with the corrections added beside it that declare it: one that
    names the same experiment, old blob and new blob, else a chain of them, each step
    one correction's exact old → new blob, from the rewrite's old blob to its new one.
    `additions` (old blob "": none) are results the change set adds for runs it had none
    of: a chain of added corrections that ends at one's blob declares it, from wherever
    it starts. Each correction serves one rewrite or addition at most.

    A chain in one change set is what one commit made of several steps (an amended
    commit, a squash, a merge taking a branch's overwrites, a new run corrected before
    it was merged): every step is declared, as it was commit by commit (issue 18, thirty-third
    pass; one correction per commit failed all of these for good)."""
    # By what they declare, each in the order added: a rewrite takes the first still free
    # (a scan of every correction per rewrite was R × C for one commit).
    free: dict[tuple[str, str, str | None], deque[int]] = {}
    by_experiment: dict[str, list[int]] = {}
    for i, c in enumerate(added):
        free.setdefault((c.experiment, c.supersedes, c.blob), deque()).append(i)
        by_experiment.setdefault(c.experiment, []).append(i)
    declared: list[tuple[Rewrite, Correction]] = []
    uncovered: list[Rewrite] = []
    taken: set[int] = set()
    chained: list[Rewrite] = []
    for rewrite in rewrites:
        waiting = free.get((rewrite.experiment, rewrite.old, rewrite.new))
        if not waiting:
            chained.append(rewrite)
        else:
            i = waiting.popleft()
            taken.add(i)
            declared.append((rewrite, added[i]))
    # Chains only once every exact step has found its rewrite (a chain never takes the
    # correction another rewrite names exactly), and only for a run with one change to
    # declare: several results of one id are no run (checks.pair_runs), and a search
    # per result was R × C for one commit (a review).
    wanting = Counter(r.experiment for r in (*chained, *additions))
    for rewrite in chained:
        steps = None
        if wanting[rewrite.experiment] == 1:
            mine = by_experiment.get(rewrite.experiment, ())
            steps = _chain_forward(added, mine, taken, rewrite)
        if steps is None:
            uncovered.append(rewrite)
            continue
        taken.update(steps)
        declared.extend((rewrite, added[i]) for i in steps)
    for addition in additions:
        if wanting[addition.experiment] == 1:
            mine = by_experiment.get(addition.experiment, ())
            steps = _chain_back(added, mine, taken, addition.new)
            taken.update(steps)
            declared.extend((addition, added[i]) for i in steps)
    unmatched = tuple(c for i, c in enumerate(added) if i not in taken)
    return Coverage(tuple(declared), tuple(uncovered), unmatched)


def additions(
    changes: Iterable[Change],
    is_result: Callable[[str], bool],
    added: Iterable[Correction] = (),
    held: Callable[[set[str]], set[str]] | None = None,
) -> list[Rewrite]:
    """What a change set adds for runs its parent held no result of (old blob ""):

    - each added result file of an experiment that no change, deletion or retyping of a
      result file names (those had a result: their change is a rewrite or a move);
    - a deletion (new blob None) of each experiment an `added` correction deletes the
      result of, where no change of a result file names it and `held` (which of the
      ids the parent holds a result of) says the parent held none: a run made and
      removed on a branch, then merged or squashed, was never in the parent.

    Only chains of `added` corrections use them: none without one.
    """
    added = list(added)
    if not added:
        return []  # (nothing to declare them: most commits)
    results = [c for c in changes if is_result(c.path)]
    held_before = {stem(c.path) for c in results if c.status in _CHANGED}
    out = [
        Rewrite(stem(c.path), c.path, "", c.new_sha)
        for c in results
        if c.status == "A"
        and c.new_sha is not None
        and c.new_mode in REGULAR_MODES
        and stem(c.path) not in held_before
    ]
    touched = {stem(c.path) for c in results}
    gone = {c.experiment for c in added if c.blob is None and c.experiment not in touched}
    if gone and held is not None:
        out += [Rewrite(e, "", "", None) for e in sorted(gone - held(gone))]
    return out


def _chain_forward(
    added: Sequence[Correction], candidates: Iterable[int], taken: set[int], rewrite: Rewrite
) -> list[int] | None:
    """The shortest chain of free corrections (indices, in order) from the rewrite's old
    blob to its new one; None if there is none."""
    out: dict[str, list[int]] = {}
    for i in candidates:
        if i not in taken:
            out.setdefault(added[i].supersedes, []).append(i)
    came_by: dict[str | None, int | None] = {rewrite.old: None}  # the step to each blob
    todo: deque[str | None] = deque([rewrite.old])
    while todo:
        blob = todo.popleft()
        if blob == rewrite.new:
            steps = []
            while (step := came_by[blob]) is not None:
                steps.append(step)
                blob = added[step].supersedes
            return steps[::-1]
        for i in out.get(blob, ()) if blob is not None else ():
            if (nxt := added[i].blob) not in came_by:
                came_by[nxt] = i
                todo.append(nxt)
    return None


def _chain_back(
    added: Sequence[Correction], candidates: Iterable[int], taken: set[int], blob: str | None
) -> list[int]:
    """The free corrections (indices, in chain order) that lead to `blob`, followed back
    from it one step at a time while one does (empty if none ends at `blob`), never
    through a blob twice: a chain that loops back to its end (taken whole, it ended at
    the run's blob in the walk, and at another, by path, in `chain_order`) stops before
    the step that closes the loop."""
    into: dict[str | None, list[int]] = {}
    for i in candidates:
        if i not in taken:
            into.setdefault(added[i].blob, []).append(i)
    steps: list[int] = []
    seen: set[str | None] = {blob}
    while found := into.get(blob):
        i = found.pop(0)
        if added[i].supersedes in seen:
            break  # a loop (A → B, B → A): that step declares nothing (a review)
        steps.append(i)
        blob = added[i].supersedes
        seen.add(blob)
    return steps[::-1]


@dataclass(frozen=True)
class Verdict:
    """What one commit's (or the index's) changes decide: the rewrites a correction
    declares, those none does, and findings about the corrections themselves."""

    declared: tuple[tuple[Rewrite, Correction], ...]
    uncovered: tuple[Rewrite, ...]
    findings: tuple[Finding, ...]

    def covers(self, path: str) -> bool:
        """Whether the rewrite of the result at `path` is declared."""
        return any(rewrite.path == path for rewrite, _ in self.declared)


def is_added_correction(change: Change, policy: Policy) -> bool:
    """Whether `change` adds a file that, if it parses, is a correction that may declare
    a change: only the judging policy's `paths.corrections` (the corrections the audit
    lists), never one only another policy's globs match."""
    # A link or submodule that becomes a file (`T`) adds a file as surely as `A` does.
    added = change.status == "A" or (change.status == "T" and change.old_mode not in REGULAR_MODES)
    return (
        added
        and change.new_sha is not None
        and change.new_mode in REGULAR_MODES
        and policy.kind_of(change.path) is Kind.CORRECTION
    )


def correction_changes(
    changes: Iterable[Change],
    policy: Policy,
    read: Callable[[str], bytes],
    *,
    where: str,
    watched: Callable[[str], bool] | None = None,
) -> tuple[list[Correction], list[Finding]]:
    """The corrections `changes` add (`is_added_correction`; an invalid one declares
    nothing: `validate` and the audit say why), and a `correction-rewritten` finding for
    each committed correction they change or delete (corrections are append-only; a move
    is a deletion). `watched` says which paths are corrections whose change is reported
    (default: the policy's; callers pass the globs of every policy they combine)."""

    def is_committed_correction(change: Change) -> bool:
        # A correction is a file: a symbolic link at a correction's path never was one.
        if change.old_mode is not None and change.old_mode not in REGULAR_MODES:
            return False
        # The executable bit alone (`chmod +x`): the same bytes, no change, as for a
        # result (identity.result_rewrites); it was a `correction-rewritten` no PIN or
        # correction could mend (issue 18, thirty-eighth pass).
        if change.old_sha == change.new_sha and change.new_mode in REGULAR_MODES:
            return False
        if watched is not None:
            return watched(change.path)
        return policy.kind_of(change.path) is Kind.CORRECTION

    added: list[Correction] = []
    findings: list[Finding] = []
    for change in changes:
        if change.status in _CHANGED and is_committed_correction(change):
            verb = "deleted" if change.status == "D" else "changed"
            findings.append(
                Finding(
                    change.path,
                    Problem.CORRECTION_REWRITTEN.value,
                    f"a committed correction was {verb} {where} (corrections are append-only)",
                )
            )
        elif is_added_correction(change, policy):
            assert change.new_sha is not None
            doc, _ = check_correction(change.path, read(change.new_sha))
            if doc is not None:
                added.append(doc)
    return added, findings


def judge(
    rewrites: Sequence[Rewrite],
    added: Sequence[Correction],
    findings: Sequence[Finding],
    policy: Policy,
    *,
    where: str,
    additions: Sequence[Rewrite] = (),
) -> Verdict:
    """The verdict on one commit's (or the index's) rewrites, however the caller found
    them, given the corrections added beside them and the findings so far. A rewrite is
    declared exactly when added corrections name its experiment and lead from its old
    blob to its new one (`match`; never under `protect: {corrections: deny}`); under
    `allow` an added correction that declares nothing, neither a rewrite nor the way to
    a result added for a new run (`additions`), is `correction-unmatched`."""
    if not policy.corrections_allowed:
        return Verdict((), tuple(rewrites), tuple(findings))
    coverage = match(rewrites, added, additions)
    unmatched = [
        Finding(
            c.path,
            Problem.CORRECTION_UNMATCHED.value,
            f"declares a change of the result of {c.experiment!r} ({c.change()}) that "
            f"nothing {where} makes",
        )
        for c in coverage.unmatched
    ]
    return Verdict(coverage.declared, coverage.uncovered, (*findings, *unmatched))


def live_blob(correction: Correction) -> str:
    """The blob a run may hold once `correction` is the end of its chain: the new blob,
    or, after a deletion, the blob the deletion superseded (the `rm` undone)."""
    return correction.blob if correction.blob is not None else correction.supersedes


def chain_order(corrections: Iterable[Correction]) -> list[Correction]:
    """Corrections one commit added, each run's in the order of its chain: each after
    the one whose blob it supersedes, from those that supersede no blob of another;
    any left (a cycle) after, as given. The order `chain_ends` must see them in: by
    path, a squash's steps made in one second sort by blob id, and the chain's end came
    out at a middle blob (a review, issue 18 thirty-third pass)."""
    given = list(corrections)
    after: dict[tuple[str, str | None], list[Correction]] = {}
    for c in given:
        after.setdefault((c.experiment, c.supersedes), []).append(c)
    made = {(c.experiment, c.blob) for c in given}
    out: list[Correction] = []
    placed: set[int] = set()
    for first in given:
        if id(first) in placed or (first.experiment, first.supersedes) in made:
            continue
        todo = [first]
        while todo:
            c = todo.pop()
            if id(c) in placed:
                continue
            placed.add(id(c))
            out.append(c)
            todo.extend(reversed(after.get((c.experiment, c.blob), [])))
    out += [c for c in given if id(c) not in placed]
    return out


def chain_ends(
    ordered: Iterable[Correction], start: Mapping[str, Correction] | None = None
) -> dict[str, Correction]:
    """Each experiment's last correction along its chain, given its corrections in the
    order they were committed: a correction continues the chain when it supersedes the
    blob the last one left (`live_blob`); one that does not is no step of it. A run's
    result at a revision must be `live_blob` of its end (docs/spec.md §2.4): a blob a
    later correction superseded never comes back without a new correction declaring it
    (issue 18, thirty-second pass: the inflated score a correction replaced, re-added
    after the run's `rm`, passed the hook and `audit --since`). `start`: the ends so far
    (a walk's, commit by commit), which the chains continue from."""
    ends = dict(start or {})
    for c in ordered:
        last = ends.get(c.experiment)
        if last is None or c.supersedes == live_blob(last):
            ends[c.experiment] = c
    return ends


def reachable(corrections: Iterable[Correction], experiment: str, *old: str) -> set[str | None]:
    """The blobs (None: deleted) that a chain of `corrections` of `experiment` leads to
    from any of `old`, each step one correction's exact old → new blob (`old` included).
    The history audit's BASE-vs-REV comparison accepts a net change only along one."""
    return _walk(_steps(corrections, experiment), old)


def leading_to(
    corrections: Iterable[Correction], experiment: str, targets: Iterable[str | None]
) -> set[str | None]:
    """The blobs from which a chain of `corrections` of `experiment` leads to one of
    `targets` (None: deleted), `targets` included: `reachable` backwards, so that many
    blobs are each asked about in one walk (one walk per blob read every correction
    of the experiment again: blobs x corrections)."""
    return _walk(_steps(corrections, experiment, backwards=True), targets)


def _steps(
    corrections: Iterable[Correction], experiment: str, *, backwards: bool = False
) -> dict[str | None, set[str | None]]:
    """Each correction of `experiment` as a step old blob → new blob (or new → old)."""
    steps: dict[str | None, set[str | None]] = {}
    for c in corrections:
        if c.experiment == experiment:
            start, end = (c.blob, c.supersedes) if backwards else (c.supersedes, c.blob)
            steps.setdefault(start, set()).add(end)
    return steps


def _walk(
    steps: Mapping[str | None, set[str | None]], start: Iterable[str | None]
) -> set[str | None]:
    seen: set[str | None] = set(start)
    todo = list(seen)
    while todo:
        for nxt in steps.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# --------------------------------------------------------------------------- reading
def check_correction(path: str, data: bytes) -> tuple[Correction | None, list[Finding]]:
    """Strict JSON → the correction schema. The value only if both pass."""
    from dataclasses import replace

    content = check_content(Kind.CORRECTION, data)
    if isinstance(content, list):
        return None, [replace(f, path=path) for f in content]
    return Correction.from_json(path, content), []


def correction_from_record(path: str, raw: Any) -> Correction:
    """From what the audit's cache kept; TypeError unless it still meets the schema
    (an edited cache record must be a miss, never a correction of another shape)."""
    if not is_valid(Kind.CORRECTION, raw):
        raise TypeError("not a correction document")
    return Correction.from_json(path, raw)


def tree_findings(
    corrections: Iterable[Correction], experiment_ids: Iterable[str]
) -> list[Finding]:
    """A correction that keeps a result must name an experiment of the tree, or one
    that a correction of the tree deletes (a run deleted on record keeps its history;
    a correction that deletes a run names an experiment that is gone with it)."""
    corrections = list(corrections)
    known = set(experiment_ids) | {c.experiment for c in corrections if c.blob is None}
    return [
        Finding(
            c.path,
            Problem.CORRECTION_UNKNOWN_EXPERIMENT.value,
            f"names experiment {c.experiment!r}, which has no record here",
            "/experiment",
        )
        for c in corrections
        if c.blob is not None and c.experiment not in known
    ]


# --------------------------------------------------------------------------- writing
@dataclass(frozen=True)
class Author:
    """The identity git would give a commit made now (`git var GIT_AUTHOR_IDENT`)."""

    name: str
    email: str
    time: str  # RFC 3339, UTC


def git_author(git: Git, environ: Mapping[str, str]) -> Author:
    """Who makes the correction, as git resolves it: user.name/user.email and the
    GIT_AUTHOR_* / GIT_COMMITTER_* variables of `environ` (GIT_AUTHOR_DATE too)."""
    env = no_git_env(environ)
    env.update({k: environ[k] for k in IDENTITY_VARS if k in environ})
    try:
        text = Git(git.root, git.git_dir, env).run("var", "GIT_AUTHOR_IDENT")
    except ExpflowError as exc:
        raise ExpflowError(
            f"{exc.message} — a correction records its author: set user.name and user.email"
        ) from None
    found = _IDENT.match(text.decode("utf-8", "replace").rstrip("\n"))
    if found is None:
        raise ExpflowError("git var GIT_AUTHOR_IDENT: an identity git did not format as usual")
    try:
        when = dt.datetime.fromtimestamp(int(found["time"]), tz=dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ExpflowError("git var GIT_AUTHOR_IDENT: the time is out of range") from None
    return Author(found["name"], found["email"], when.strftime("%Y-%m-%dT%H:%M:%SZ"))


def committed_blob(git: Git, rel: str) -> str | None:
    """The blob of `rel` in HEAD; None if HEAD is unborn or lacks it (nothing to correct)."""
    try:
        head = git.resolve_commit("HEAD").sha
    except ExpflowError:
        return None
    entry = next((e for e in git.ls_tree(head, [rel]) if e.path == rel), None)
    return entry.sha if entry is not None and entry.type == "blob" else None


def blob_id(git: Git, rel: str, data: bytes) -> str:
    """The blob id `git add rel` would give `data` (the path's filters applied). `rel` is
    git's spelling (`workspace.repo_path`): given as the same bytes, whatever the locale
    (under `LC_ALL=C` a non-ASCII folder was a UnicodeEncodeError traceback)."""
    from expflow_git.workspace import os_path

    return git.run("hash-object", "--stdin", os_path(f"--path={rel}"), input=data).decode().strip()


# A reason of nothing but white space and controls: what the schema's `reason` pattern
# refuses (schemas/correction.schema.json), said as such, not as the pattern.
_BLANK = re.compile(
    "[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*"
)


# What the schema's `line` refuses in a reason: a line break or another control.
_NOT_ONE_LINE = re.compile("[\u0000-\u001f\u007f-\u009f\u2028\u2029]")


def refuse_empty_reason(reason: str, reason_option: str = "--reason") -> None:
    """ExpflowError (exit 2) for an empty or blank reason, or one that is not one line of
    text, naming its option: `--correct ''` was told to "give --correct TEXT" though it
    was given, and `--correct '  '` (or two lines) was shown the schema's pattern (a
    hunter's report and a review, issue 18 twenty-eighth pass)."""
    if _BLANK.fullmatch(reason):
        raise ExpflowError(
            f"{reason_option}: the reason is empty (one line saying why the result changes)"
        )
    if _NOT_ONE_LINE.search(reason):
        raise ExpflowError(
            f"{reason_option}: the reason must be one line of text, without line breaks "
            "or control characters"
        )


def build_correction(
    *,
    experiment: str,
    supersedes: str,
    blob: str | None,
    reason: str,
    author: Author,
    reason_option: str = "--reason",
) -> dict[str, Any]:
    """A correction document; ExpflowError (exit 2) unless it meets the schema (a reason
    must be one line of text; `reason_option` is the option that gave it, for the error)."""
    doc = {
        "schema": CORRECTION_SCHEMA,
        "experiment": experiment,
        "supersedes": supersedes,
        "blob": blob,
        "reason": reason,
        "author": {"name": author.name, "email": author.email},
        "time": author.time,
    }
    if not is_valid(Kind.CORRECTION, doc):
        from expflow_git.schemas import schema_errors

        pointer, message = next(iter(schema_errors(Kind.CORRECTION, doc)))
        what = reason_option if pointer == "/reason" else f"correction {pointer}"
        raise ExpflowError(f"{what}: {printable(message)}")
    return doc


def correction_path(policy: Policy, study: str, doc: Mapping[str, Any]) -> str:
    """Where a new correction goes: corrections/<study>/<id>/<time>-<old blob>.json, or
    where the policy's `paths.corrections` take it (`Policy.placed`)."""
    stamp = doc["time"].replace("-", "").replace(":", "")
    name = f"{stamp}-{doc['supersedes'][:12]}.json"
    exp_id = doc["experiment"]
    tails = [f"{study}/{exp_id}/{name}", f"{exp_id}/{name}", name]
    rel = policy.placed(Kind.CORRECTION, CORRECTIONS_DIR, tails)
    if policy.kind_of(rel) is not Kind.CORRECTION:
        raise ExpflowError(
            f"{rel} would not match the policy's paths.corrections {list(policy.correction_globs)}"
        )
    from expflow_git.records.writer import refuse_git_directory

    refuse_git_directory(rel)  # (as a record's or result's: no commit could declare it)
    return rel


@dataclass(frozen=True)
class Planned:
    """A correction to write: where, its bytes, and whether it replaces an uncommitted
    correction of the same committed result (`replaces`: its path)."""

    path: str
    data: bytes
    replaces: str | None = None


def write_correction(root: Path, planned: Planned) -> str:
    """Write a new correction (never over a committed one: a second one in the same
    second gets a suffix), or over the uncommitted one it replaces; it must stay inside
    the work tree. Returns its path."""
    from expflow_git.atomicfile import write_atomic

    # No symbolic link on the way, even one back inside the work tree (atomicfile.confined).
    if planned.replaces is not None:
        write_atomic(confined(root, planned.replaces), planned.data)
        return planned.replaces
    rel, data = planned.path, planned.data
    base = rel[: -len(".json")]
    for n in range(100):
        candidate = rel if n == 0 else f"{base}-{n}.json"
        target = confined(root, candidate)
        try:
            write_atomic(target, data, overwrite=False)
        except FileExistsError:
            if not target.parent.is_dir():  # a file where the folder goes: no name clash
                folder = candidate.rsplit("/", 1)[0]
                raise ExpflowError(f"{printable(folder)}: not a directory") from None
            continue
        return candidate
    raise ExpflowError(f"{rel}: too many corrections of this result in one second")


def plan_correction(
    root: Path,
    policy: Policy,
    *,
    study: str,
    experiment: str,
    result_rel: str,
    new_data: bytes | None,
    reason: str | None,
    environ: Mapping[str, str],
    reason_option: str = "--reason",
) -> Planned | None:
    """The correction that replacing `result_rel` by `new_data` (None: deleting it)
    needs, or None when HEAD has no result there (nothing committed to correct).
    Checked before anything is written: a missing reason or identity is exit 2. An
    uncommitted correction of the same committed blob (an earlier `--overwrite` not yet
    committed) is replaced, so that one pending change has one correction."""
    from expflow_git.documents import dump

    try:
        git = Git.discover(root, env=environ)
    except ExpflowError:
        return None  # not a repository: nothing is committed
    old = committed_blob(git, result_rel)
    if old is None:
        return None
    new = None if new_data is None else blob_id(git, result_rel, new_data)
    if new == old:
        return None  # the same bytes: nothing changes
    if reason is None:
        raise ExpflowError(
            f"{result_rel}: the result is committed; give {reason_option} TEXT "
            "(the change is recorded in a correction)"
        )
    refuse_empty_reason(reason, reason_option)
    doc = build_correction(
        experiment=experiment,
        supersedes=old,
        blob=new,
        reason=reason,
        author=git_author(git, environ),
        reason_option=reason_option,
    )
    rel = correction_path(policy, study, doc)
    data = dump(doc)
    # A reason the PIN scan flags (`--pin NNNN` quoted) is refused by its option, exit 2,
    # before the PIN and any write: it was written as given, and the audit then failed
    # on it (a hunter's report, issue 18 twenty-fourth pass; pinscan/written.py).
    from expflow_git.pinscan.written import refuse

    refuse(rel, data, given={"/reason": reason_option})
    confined(root, rel)  # a link on the way is refused before the PIN and any write
    folder = rel.rpartition("/")[0]  # ("" at the root, where `paths.corrections` may put it)
    return Planned(rel, data, _pending(git, root, folder, experiment, old))


def _pending(git: Git, root: Path, folder: str, experiment: str, old: str) -> str | None:
    """An uncommitted correction in `folder` of the work tree ("": the root) that
    supersedes `old`."""
    directory = root / folder
    if not directory.is_dir() or directory.is_symlink():
        return None
    head = git.resolve_commit("HEAD").sha
    committed = {e.path for e in git.ls_tree(head, [folder] if folder else None)}
    for path in sorted(directory.glob("*.json")):
        rel = f"{folder}/{path.name}" if folder else path.name
        if rel in committed or path.is_symlink() or not path.is_file():
            continue
        doc, _ = check_correction(rel, path.read_bytes())
        if doc is not None and (doc.experiment, doc.supersedes) == (experiment, old):
            return rel
    return None
