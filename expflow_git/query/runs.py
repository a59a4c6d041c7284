"""Every run of the work tree (or of a commit) as a typed row: its record, whatever its
status, with its result if it has one, and the corrections of its result.

The work tree is what a researcher looks at before committing: tracked files and
untracked ones git does not ignore, each read once, never through a symbolic link. A
commit is read through git objects, one `cat-file --batch` stream. Documents are checked
as the hooks check them (strict JSON, schema, registry); one that fails is left out and
named in `RunSet.findings`. Records that share an id are all left out (the audit ranks
none of them: checks.pair_runs), each named by a `duplicate-id` finding.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expflow_git.checks import (
    Problem,
    check_content,
    finish_document,
    integrity_findings,
    some_of,
)
from expflow_git.corrections import Correction, check_correction
from expflow_git.documents import Experiment, Result, Scalar, Status, stem
from expflow_git.errors import ExitCode, ExpflowError, Finding, mask_flagged, masked_argument
from expflow_git.gitstore import Git
from expflow_git.jsonstrict import DEFAULT_MAX_BYTES, over_cap
from expflow_git.policy.model import Policy, did_you_mean
from expflow_git.schemas import Kind
from expflow_git.workspace import (
    SYMLINK,
    NotRegular,
    ThroughLink,
    TooLarge,
    read_in_tree,
    through_link,
)


@dataclass(frozen=True)
class Run:
    """One run: its record's fields, its result's metrics and splits (empty without a
    result), and where both are."""

    id: str
    study: str
    status: Status
    reason: str  # why a run failed or was skipped ("" if the record gives none)
    title: str
    created_at: str
    params: Mapping[str, Scalar]
    tags: tuple[str, ...]
    metrics: Mapping[str, float]
    splits: Mapping[str, Mapping[str, float]]
    record_path: str
    result_path: str | None
    experiment: Experiment
    result: Result | None

    @property
    def status_name(self) -> str:
        return self.status.value


@dataclass(frozen=True)
class RunSet:
    """The runs of one source, the policy that judges them, and what could not be read."""

    source: str  # "the work tree", or the commit's id
    policy: Policy
    runs: tuple[Run, ...]  # by study, then id
    corrections: tuple[Correction, ...]
    findings: tuple[Finding, ...]
    # Ids held by several valid records (each record's path, in order): no run of theirs
    # is in `runs`.
    doubled: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, run_id: str) -> Run:
        """The run with this id; exit 1 naming the closest ids if there is none, or the
        records if several hold it."""
        found = [r for r in self.runs if r.id == run_id]
        if len(found) == 1:
            return found[0]
        if (paths := self.doubled.get(run_id)) is not None:
            named = some_of(paths, len(paths))
            raise ExpflowError(
                f"experiment {run_id!r} has several records ({named})", code=ExitCode.FAILED
            )
        # The id and the ids it suggests masked as `check_id` masks one: `show pin=NNNN`
        # printed the PIN (a review, issue 18 twenty-fourth pass).
        hint = mask_flagged(did_you_mean(run_id, [r.id for r in self.runs]))
        shown = masked_argument(run_id)
        # A record of the id left out for failing its checks: "no experiment" said there
        # was none, with the file right there (as `audit --experiment` said; a hunt,
        # issue 18 thirty-eighth pass).
        failing = sorted(
            {
                f.path
                for f in self.findings
                if stem(f.path) == run_id and self.policy.kind_of(f.path) is Kind.EXPERIMENT
            }
        )
        if failing:
            named = mask_flagged(some_of(failing, len(failing)))
            raise ExpflowError(
                f"experiment {shown!r}: its record {named} fails its checks and is left "
                "out; run `expflow-git validate`",
                code=ExitCode.FAILED,
            )
        raise ExpflowError(f"no experiment {shown!r} in {self.source}{hint}", code=ExitCode.FAILED)

    def studies(self) -> list[str]:
        return sorted({r.study for r in self.runs})


def run_from(
    experiment: Experiment, result: Result | None, raw: Mapping[str, Any] | None = None
) -> Run:
    """A run from its record (`raw`: the record's JSON, for what Experiment leaves out)
    and its result."""
    raw = raw or {}
    return Run(
        id=experiment.id,
        study=experiment.study,
        status=experiment.status,
        reason=str(raw.get("reason", "")),
        title=experiment.title,
        created_at=str(raw.get("created_at", "")),
        params=experiment.params,
        tags=experiment.tags,
        metrics=result.metrics if result is not None else {},
        splits=result.splits if result is not None else {},
        record_path=experiment.path,
        result_path=result.path if result is not None else None,
        experiment=experiment,
        result=result,
    )


def load_runs(
    root: Path,
    policy: Policy,
    *,
    git: Git | None = None,
    rev: str | None = None,
    only: str | None = None,
    held: bool = False,
) -> RunSet:
    """The runs of the work tree at `root` (with `git`, the files git would commit), or
    of commit `rev` (needs `git`), judged by `policy`.

    `only` (the work tree's): only the documents named `<only>.json` (`stem`) are read,
    as a run's record and results must be named (a document named otherwise is never
    that run's: checks.stem_findings), so that its run is the one the whole tree's holds,
    for one id's look-up (`Repository.get`, which read and checked every document of
    the tree, a user's hunt, issue 18 thirtieth pass). The set's other runs, corrections
    and findings are then those few documents' alone (the budgets' findings mean
    nothing).

    A `success` record of the work tree found without a result has its result looked
    for once more after the scan, once no record command writes (`records_lock`,
    shared): a command writes the record first, then the result, under that lock, and
    a scan between the two showed a success without its result. `held`: the caller
    holds the lock (nothing is mid-write, and taken again it would wait on itself)."""
    if rev is not None:
        if git is None:
            raise ExpflowError(f"--rev {rev}: not a git repository")
        if only is not None:
            raise ValueError("load_runs: `only` reads the work tree")
        commit = git.resolve_commit(rev)
        documents: Iterable[tuple[str, Kind, bytes | Finding]] = _commit_documents(
            git, commit.sha, policy
        )
        source = f"commit {commit.sha[:12]}"
    else:
        documents = _work_tree_documents(root, git, policy, None if only is None else {only})
        source = "the work tree"
    experiments: list[tuple[Experiment, Mapping[str, Any]]] = []
    results: list[Result] = []
    corrections: list[Correction] = []
    findings: list[Finding] = []
    seen: set[str] = set()

    def take(documents: Iterable[tuple[str, Kind, bytes | Finding]]) -> None:
        for path, kind, data in documents:
            seen.add(path)
            if isinstance(data, Finding):
                findings.append(data)
                continue
            if kind is Kind.CORRECTION:
                correction, problems = check_correction(path, data)
                findings.extend(problems)
                if correction is not None:
                    corrections.append(correction)
                continue
            content = check_content(kind, data)
            if isinstance(content, list):
                findings.extend(
                    Finding(path, f.rule, f.message, f.pointer, f.line, f.col) for f in content
                )
                continue
            doc, problems = finish_document(kind, path, content, policy, data)
            findings.extend(problems)
            if isinstance(doc, Experiment):
                experiments.append((doc, content))
            elif isinstance(doc, Result):
                results.append(doc)

    take(documents)
    succeeded = {e.id for e, _ in experiments if e.status is Status.SUCCESS}
    waiting = succeeded - {r.experiment for r in results}
    if rev is None and waiting and not held:
        # A result written between the listing and now: looked for once the writer is
        # done (`result`, `Repository.run`, an import write the record, then the result,
        # under the lock), and only among the files not read yet. (A run that succeeded
        # without a score, as an import may write it, costs one more listing.)
        from expflow_git.records.writer import records_lock

        with records_lock(root, shared=True):
            take(_work_tree_documents(root, git, policy, waiting, Kind.RESULT, seen))
    findings += integrity_findings([e for e, _ in experiments], results, policy)
    doubled = _doubled(e for e, _ in experiments)
    for exp_id, paths in doubled.items():
        # integrity_findings names each record after the first (as the audit reports
        # them); the first fails the check as much (as `validate` says): both are left
        # out, so both are counted.
        others = some_of(paths[1:], len(paths) - 1)
        message = f"id {exp_id!r} is also used by {others}"
        findings.append(Finding(paths[0], Problem.DUPLICATE_ID.value, message, "/id"))
    by_id: dict[str, list[Result]] = {}
    for res in results:
        by_id.setdefault(res.experiment, []).append(res)
    runs = []
    for exp, raw in experiments:
        if exp.id in doubled:
            # Two records of one id: neither is a run (which one the result is, is not
            # for the path order to decide), as in rank (checks.pair_runs).
            continue
        own = by_id.get(exp.id, [])
        # Two results for one run: neither is its (the finding names both), as in rank.
        # Nor is the result of a run that is not `success`: it fails its checks
        # (`result-for-unsuccessful-run`, at the result), and a failed run showed its
        # scores and matched `--where metrics…` (a hunt, issue 18 thirty-seventh pass).
        kept = len(own) == 1 and exp.status is Status.SUCCESS
        runs.append(run_from(exp, own[0] if kept else None, raw))
    runs.sort(key=lambda r: (r.study, r.id, r.record_path))
    corrections.sort(key=lambda c: (c.experiment, c.time, c.path))
    return RunSet(source, policy, tuple(runs), tuple(corrections), tuple(findings), doubled)


def _doubled(experiments: Iterable[Experiment]) -> dict[str, tuple[str, ...]]:
    """The ids several records hold, each with their paths in order."""
    paths: dict[str, list[str]] = {}
    for exp in experiments:
        paths.setdefault(exp.id, []).append(exp.path)
    return {i: tuple(sorted(p)) for i, p in paths.items() if len(p) > 1}


def _commit_documents(
    git: Git, sha: str, policy: Policy
) -> Iterator[tuple[str, Kind, bytes | Finding]]:
    """The documents of a commit's tree, read through one blob stream."""
    from expflow_git.gitblobs import BlobReader

    wanted: dict[str, list[tuple[str, Kind]]] = {}
    for entry in git.ls_tree(sha):
        kind = policy.kind_of(entry.path)
        if kind is None:
            continue
        if entry.type != "blob" or entry.mode == "120000":
            yield entry.path, kind, _not_a_file(entry.path, "is not a regular file")
            continue
        wanted.setdefault(entry.sha, []).append((entry.path, kind))
    with BlobReader(git) as reader:
        for blob, data in reader.read_many(list(wanted)):
            for path, kind in wanted[blob]:
                yield path, kind, data


def _work_tree_documents(
    root: Path,
    git: Git | None,
    policy: Policy,
    names: Container[str] | None = None,
    only_kind: Kind | None = None,
    skip: Container[str] = (),
) -> Iterator[tuple[str, Kind, bytes | Finding]]:
    """The documents of the work tree: with git, tracked files and untracked ones it does
    not ignore (what `git add -A` would commit); without, every file below `root`. Only
    those whose file name is one of `names` (`stem`), of kind `only_kind`, and not in
    `skip`, when given."""
    if git is not None:
        out = git.run("ls-files", "-z", "--cached", "--others", "--exclude-standard")
        paths = sorted(set(out.decode("utf-8", "surrogateescape").split("\0")[:-1]))
    else:
        from expflow_git.workspace import walk_paths

        paths = sorted(walk_paths(root, strict=False))
    if names is not None:
        paths = [rel for rel in paths if stem(rel) in names and rel not in skip]
    links: dict[str, bool] = {}
    for rel in paths:
        kind = policy.kind_of(rel)
        if kind is not None and only_kind in (None, kind):
            data = read_document(root, rel, links)
            if data is not None:
                yield rel, kind, data


def read_document(
    root: Path, rel: str, links: dict[str, bool] | None = None
) -> bytes | Finding | None:
    """A document's bytes, a finding if it cannot be one (a symbolic link, below a folder
    that is one on disk, not a regular file, too large), or None if it is gone (deleted,
    not yet staged). `links`: the folders asked about (`workspace.read_in_tree`)."""
    # By the bytes git gave (UTF-8 with surrogateescape, as gitstore decodes paths), not
    # the filesystem encoding's: under LC_ALL=C without UTF-8 mode that is ASCII, and a
    # record named `ëxp.json` was a UnicodeEncodeError traceback in list and show.
    try:
        return read_in_tree(root, rel, DEFAULT_MAX_BYTES, links)  # a FIFO does not block
    except FileNotFoundError:
        return None
    except ThroughLink as exc:
        return _not_a_file(rel, through_link(exc.folder))
    except NotRegular as exc:
        if exc.kind == SYMLINK:
            return _not_a_file(rel, "is a symbolic link; documents must be files")
        return _not_a_file(rel, "is not a regular file")
    except TooLarge as exc:
        return Finding(rel, Problem.JSON.value, over_cap(exc.size))
    except OSError as exc:
        return _not_a_file(rel, f"cannot read: {exc.strerror}")


def _not_a_file(rel: str, message: str) -> Finding:
    return Finding(rel, Problem.NOT_A_FILE.value, message)
