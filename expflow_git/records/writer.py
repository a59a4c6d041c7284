"""Writing experiment records and results (`new`, `result`): build, check, write atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import platform
import posixpath
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from expflow_git.atomicfile import confined
from expflow_git.checks import check_document, registry_findings, required_metric_findings
from expflow_git.documents import (
    EXPERIMENT_SCHEMA,
    ID_RE,
    RESULT_SCHEMA,
    Experiment,
    Result,
    Scalar,
    Status,
    dump,
    stem,
)
from expflow_git.errors import (
    ExitCode,
    ExpflowError,
    Finding,
    masked_argument,
    path_text,
    utf8_argument,
    without_pins,
)
from expflow_git.globs import literal_folder
from expflow_git.jsonstrict import float_problem
from expflow_git.policy.model import Policy, parse_number
from expflow_git.schemas import Kind
from expflow_git.workspace import below, linked_folder, on_disk, os_path, repo_path, walk

if TYPE_CHECKING:
    from expflow_git.corrections import Planned
    from expflow_git.gitblobs import BlobReader
    from expflow_git.gitstore import Git
    from expflow_git.identity import DocumentGlobs

# Packages whose versions are worth recording when installed; the rest is noise.
TRACKED_PACKAGES = (
    "expflow-git",
    "numpy",
    "scipy",
    "pandas",
    "torch",
    "jax",
    "jaxlib",
    "tensorflow",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "transformers",
)
SEED_MODULUS = 2**31 - 1
# The largest replicate the seed's canonical JSON (RFC 8785) writes exactly: `new
# --replicate 99999999999999999999999` was rfc8785's IntegerDomainError, a traceback (a
# hunter's find, issue 18 fortieth pass).
MAX_REPLICATE = 2**53 - 1


def derive_seed(base_seed: int, study: str, condition: str, replicate: int) -> int:
    """SHA-256 of the canonical JSON of the inputs; first 16 hex digits mod 2^31-1."""
    import rfc8785

    digest = hashlib.sha256(rfc8785.dumps([base_seed, study, condition, replicate])).hexdigest()
    return int(digest[:16], 16) % SEED_MODULUS


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def capture_provenance(layout: Layout) -> dict[str, Any]:
    """Where and with what a record was made: git SHA, host, platform, versions, time."""
    prov: dict[str, Any] = {
        "host": socket.gethostname()[:256],
        "platform": platform.platform()[:256],
        "python_version": platform.python_version(),
        "package_versions": _package_versions(),
        "captured_at": utc_now(),
    }
    git, head = layout.git, layout.head
    if git is None or head is None:
        prov["git_sha"] = None  # not a repository, or no commit yet
        return prov
    try:
        dirty = bool(git.run("status", "--porcelain", "--untracked-files=no").strip())
    except ExpflowError:
        prov["git_sha"] = None
        return prov
    prov["git_sha"], prov["git_dirty"] = head, dirty
    return prov


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def parse_scalar(text: str) -> str | int | float | bool | None:
    """`--param k=v` values: JSON scalars when they parse as one, else the string. A
    number a double does not hold as written (`1e400`, and `1e-400`, `0.10000000000000001`,
    which were stored rounded: a user's hunt) stays the string, as docs/spec.md §3 reads it."""
    try:
        value = json.loads(text, parse_constant=lambda c: text)
    except (ValueError, RecursionError):  # (`[[[…` nested past the parser's depth: text)
        return text
    if isinstance(value, (dict, list)):
        return text
    if isinstance(value, float) and float_problem(text.strip(), value) is not None:
        return text
    return value  # type: ignore[no-any-return]


def parse_assignments(items: Sequence[str], *, what: str) -> list[tuple[str, str]]:
    """`k=v` pairs; a missing `=` or an empty key is a usage error."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ExpflowError(f"{what} {item!r}: expected NAME=VALUE")
        out.append((key.strip(), value))
    return out


def placed_result(policy: Policy, study: str, exp_id: str) -> str:
    """Where `policy` puts a result of run `exp_id` of `study` (`Layout.result_rel`; no
    file is read: `show` looks there for a result left out, in a commit too)."""
    tails = [f"{study}/{exp_id}.json", f"{exp_id}.json"]
    return policy.placed(Kind.RESULT, "results", tails)


@dataclass
class _Listing:
    """A `Layout`'s open `listed()` scopes (how deep) and the indexes listed in them."""

    depth: int = 0
    indexes: dict[Kind, dict[str, list[str]]] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Layout:
    """Where `new` and `result` put files: experiments/<study>/<id>.json and results/…
    by default, else where the policy's `paths` globs take them (`Policy.placed`)."""

    root: Path
    policy: Policy
    # Each kind's `index` while a `listed()` scope is open (none outside one).
    _listing: _Listing = dataclasses.field(
        default_factory=_Listing, init=False, repr=False, compare=False
    )

    @contextlib.contextmanager
    def listed(self) -> Iterator[None]:
        """Within: each kind's `index` listed once, then reused (scopes nest; the outermost
        one's end forgets them). For one command's checks, under the records lock: a
        `run()` at 8,000 runs listed both folders 8 times, and each listing cost more
        than its writes (a user's hunt, issue 18 thirtieth pass). Never across a PIN
        prompt, a training run or two API calls: other processes write between. A new
        file this layout writes (`make_folders`, before it) forgets them too."""
        self._listing.depth += 1
        try:
            yield
        finally:
            self._listing.depth -= 1
            if not self._listing.depth:
                self._listing.indexes.clear()

    def forget_listing(self) -> None:
        """The listings of an open `listed()` scope are stale: listed afresh when next asked."""
        self._listing.indexes.clear()

    def experiment_path(self, study: str, exp_id: str) -> str:
        return self._checked(self.experiment_rel(study, exp_id), Kind.EXPERIMENT)

    def experiment_rel(self, study: str, exp_id: str) -> str:
        """Where `new` writes a run's record (before the policy's globs are checked)."""
        tails = [f"{study}/{exp_id}.json", f"{exp_id}.json"]
        return self.policy.placed(Kind.EXPERIMENT, "experiments", tails)

    def result_path(self, study: str, exp_id: str) -> str:
        return self.checked_result(self.result_rel(study, exp_id))

    def checked_result(self, rel: str) -> str:
        """A result's path, checked as `result_path` checks the usual one."""
        return self._checked(rel, Kind.RESULT)

    def result_rel(self, study: str, exp_id: str) -> str:
        """Where `result` writes a run's result (before the policy's globs are checked)."""
        return placed_result(self.policy, study, exp_id)

    def _checked(self, rel: str, kind: Kind) -> str:
        if self.policy.kind_of(rel) is not kind:
            key = "experiments" if kind is Kind.EXPERIMENT else "results"
            globs = list(self.policy.globs_of(kind))
            raise ExpflowError(f"{rel} would not match the policy's paths.{key} {globs}")
        refuse_git_directory(rel)
        self.target(rel)
        return rel

    def target(self, rel: str) -> Path:
        """Where `rel` is on disk; refused (exit 2) if a symlink would take it outside."""
        return confined(self.root, os_path(rel))

    def disk(self, rel: str) -> Path:
        """`rel` (in the documents' convention, `workspace.repo_path`, as every path a
        layout gives and takes is) joined to the root as the OS names it (`os_path`):
        under a locale whose filesystem encoding is not UTF-8 the str git's path is named
        other bytes (issue 18 thirtieth pass)."""
        return self.root / os_path(rel)

    def existing_experiments(self, exp_id: str) -> list[Path]:
        """Records named `exp_id` wherever the policy's globs take records (a run's
        identity is its id, not its folder: a record moved to experiments/A/old/ is
        still this run's), on disk (their paths: `named`)."""
        return [self.disk(rel) for rel in self.named(exp_id, Kind.EXPERIMENT)]

    def result_of(
        self, study: str, exp_id: str, index: Mapping[str, list[str]] | None = None
    ) -> str:
        """Where the run's result is: in its study's folder, else any file the policy's
        result globs match named `exp_id` (moved there, as a committed result may be),
        else where `result` would write it. `index`: the results' `index`, when the
        caller looks up many runs at once (an import)."""
        rel = self.result_rel(study, exp_id)
        if os.path.lexists(on_disk(self.root, rel)):
            return rel
        if index is None:
            found = self.named(exp_id, Kind.RESULT)
        else:
            check_id(exp_id)
            found = index.get(exp_id, [])
        return found[0] if found else rel

    def results_of(self, study: str, exp_id: str) -> list[str]:
        """Every result of the run the work tree may hold: `result_of`'s first, then each
        other file the policy's result globs match named `exp_id` (a copy left in
        results/archive/ is the run's too: `rm` deletes them all)."""
        first = self.result_of(study, exp_id)
        return [first] + [rel for rel in self.named(exp_id, Kind.RESULT) if rel != first]

    def named(self, exp_id: str, kind: Kind) -> list[str]:
        """Every path named `<exp_id>.json` the policy reads as a `kind`, sorted (the id is
        checked first: it is never a pattern)."""
        check_id(exp_id)
        return self.index(kind).get(exp_id, [])

    def index(self, kind: Kind) -> dict[str, list[str]]:
        """Every `.json` path below the root the policy reads as a `kind` (as `kind_of`
        does: a path the results' globs take too is a result, never a record), by file stem
        (= id), sorted, each in the documents' convention (`workspace.repo_path`, as git
        names it: the walk's names are the OS's, and under a locale whose filesystem
        encoding is not UTF-8 a committed result compared with git's name was "moved",
        issue 18 thirtieth pass). Only the folders its globs can reach are walked, never
        through a link: a file behind a linked folder is listed, so that `target` refuses
        it aloud, and a top folder that is a link is refused at once (exit 2). (Listed
        afresh each time, but once in a `listed()` scope: a command writes between two
        looks. The dict given is the caller's; its lists are shared, never to be
        changed.)"""
        if self._listing.depth:
            if kind not in self._listing.indexes:
                self._listing.indexes[kind] = self._index(kind)
            return dict(self._listing.indexes[kind])
        return self._index(kind)

    def in_tree(self, kind: Kind) -> dict[str, list[str]]:
        """`index(kind)` without the paths below a folder that is a symbolic link on disk:
        the work tree's documents as `validate`, the hook and the audit count them (a
        budget). git commits the link, never the files it points at; `new` counted the
        records behind `experiments/s/old -> …` and warned of a budget the hook then
        passed (a hunt, issue 18 fortieth pass)."""
        links: dict[str, bool] = {}
        kept = {
            name: [rel for rel in rels if linked_folder(self.root, rel, links) is None]
            for name, rels in self.index(kind).items()
        }
        return {name: rels for name, rels in kept.items() if rels}

    def _index(self, kind: Kind) -> dict[str, list[str]]:
        found: dict[str, set[str]] = {}
        real_root = os.path.realpath(self.root)
        kind_of = self.policy.kind_of
        suffix = "" if self.policy.takes_any_name() else ".json"  # (documents' names)
        for base in {literal_folder(g) for g in self.policy.globs_of(kind)} - {None}:
            top = self.disk(str(base))
            if os.path.realpath(top) != os.path.normpath(
                os.path.join(real_root, os_path(str(base)))
            ):
                # The folder itself is (or lies behind) a link: refused at once (exit 2),
                # never walked (`results -> /` walked the whole disk first).
                self.target(str(base))
            # The folder's path from the root once, not each file's (`relative_to` of
            # every file was most of a listing's time), and below `top` by its text
            # (`workspace.below`: `relative_to` of each folder was quadratic in depth).
            start = top.relative_to(self.root).as_posix()
            start = "" if start == "." else f"{start}/"
            for folder, dirs, files in walk(str(top)):
                dirs[:] = [d for d in dirs if d != ".git"]
                names = [f for f in files if f.endswith(suffix)]
                for d in dirs:
                    if os.path.islink(os.path.join(folder, d)):
                        with contextlib.suppress(OSError):
                            names += [f"{d}/{f}" for f in os.listdir(os.path.join(folder, d))]
                prefix = below(folder, str(top))
                prefix = f"{start}{prefix}/" if prefix else start
                for name in names:
                    rel = repo_path(prefix + name)
                    if rel.endswith(suffix) and kind_of(rel) is kind:
                        found.setdefault(stem(rel), set()).add(rel)
        return {name: sorted(rels) for name, rels in found.items()}

    @functools.cached_property
    def git(self) -> Git | None:
        """The repository of the work tree (None outside git), found once per layout:
        `new` and `result` ask it what HEAD holds and what it ignores."""
        from expflow_git.gitstore import Git

        try:
            return Git.discover(self.root)
        except ExpflowError:
            return None

    @functools.cached_property
    def head(self) -> str | None:
        """HEAD's commit id, resolved once per layout (the record's provenance and what
        HEAD holds); None outside git or before the first commit."""
        git = self.git
        if git is None:
            return None
        try:
            return git.resolve_commit("HEAD").sha
        except ExpflowError:  # no commit yet
            return None

    @functools.cached_property
    def head_globs(self) -> DocumentGlobs | None:
        """The globs of the work tree's policy and of HEAD's (an uncommitted edit of
        `paths` hides no committed document), read once per layout; None outside git or
        before the first commit."""
        git = self.git
        if git is None or self.head is None:
            return None
        from expflow_git.gitblobs import BlobReader
        from expflow_git.identity import DocumentGlobs

        with BlobReader(git) as reader:
            return DocumentGlobs.of(self.policy, head_policy(git, reader, self.policy))

    def committed_result(self, exp_id: str) -> str | None:
        """Where HEAD holds the run's result (a file the work tree's or HEAD's policy reads
        as a result, named `exp_id`: an uncommitted edit of `paths` hides no committed
        result); None outside git, before the first commit, or when it holds none. The
        work tree may have moved or deleted it: a committed result is write-once all the
        same."""
        found = self.committed_results(exp_id)
        return found[0] if found else None

    def committed_results(self, exp_id: str) -> list[str]:
        """Every path where HEAD holds a result of the run (`committed_result`'s first),
        sorted: more than one only past the hooks (duplicate-result)."""
        git, globs = self.git, self.head_globs
        if git is None or globs is None:
            return []
        folders = {literal_folder(g) for p in globs.policies for g in p.result_globs} - {None}
        listed = git.ls_tree("HEAD", None if "" in folders else sorted(str(f) for f in folders))
        name = f"{exp_id}.json"
        return sorted(
            e.path for e in listed if e.path.rsplit("/", 1)[-1] == name and globs.is_result(e.path)
        )

    def deleted_on_record(self) -> dict[str, str]:
        """The runs HEAD's corrections delete (`rm` of a committed result, `blob: null`):
        id → the first such correction's path. Such a run does not come back under its id
        (docs/spec.md §2.4; the protect hook and `audit --since` refuse it). None outside
        git or before the first commit."""
        git, globs = self.git, self.head_globs
        if git is None or globs is None:
            return {}
        from expflow_git.audit.deleted import corrections_at, deletions
        from expflow_git.gitblobs import BlobReader

        with BlobReader(git) as reader:
            found = corrections_at(git, reader, "HEAD", globs)
        return {exp_id: cs[0].path for exp_id, cs in deletions(found).items()}

    def pending_deletion(self, exp_id: str) -> str | None:
        """The first correction of the work tree (by path) that deletes the run (`rm`, not
        yet committed, or committed), if any: read only where a command is refused anyway."""
        from expflow_git.corrections import check_correction

        for rel in sorted(r for rels in self.index(Kind.CORRECTION).values() for r in rels):
            path = self.disk(rel)
            if path.is_symlink() or not path.is_file():
                continue
            correction, _ = check_correction(rel, path.read_bytes())
            if correction is not None and (correction.experiment, correction.blob) == (
                exp_id,
                None,
            ):
                return rel
        return None

    def skipped_in_index(self, rel: str) -> bool:
        """Whether the index holds `rel` (from the work tree's root) as a skip-worktree entry
        (a sparse checkout's file outside its cone): absent from the disk, yet `git add -A`
        keeps it, and a file written there becomes its new content. `new` looked only at
        the disk and wrote a record over a committed one there (a hunt, issue 18
        thirty-ninth pass). One `ls-files`, in a sparse checkout only."""
        git = self.git
        if git is None or not (git.git_dir / "info" / "sparse-checkout").is_file():
            return False
        prefix = os.path.relpath(os.path.realpath(self.root), os.path.realpath(git.root))
        if prefix.startswith(".."):
            return False
        full = posixpath.normpath(posixpath.join(prefix.replace(os.sep, "/"), rel))
        out = git.run("ls-files", "-z", "-t", "--", full).decode("utf-8", "surrogateescape")
        return f"S {full}" in out.split("\0")

    def ignored(self, rels: Sequence[str]) -> set[str]:
        """Those of `rels` (from the work tree's root) that git's ignore rules keep out of
        the repository: none outside git. One `git check-ignore` for all of them."""
        git = self.git
        if git is None:
            return set()
        prefix = os.path.relpath(os.path.realpath(self.root), os.path.realpath(git.root))
        if prefix.startswith(".."):
            return set()  # (the work tree is the repository's, always: nothing to ask)
        prefix = prefix.replace(os.sep, "/")
        full = {posixpath.normpath(posixpath.join(prefix, rel)): rel for rel in rels}
        return {full[path] for path in git.ignored(list(full)) if path in full}

    def run_result(self, study: str, exp_id: str) -> tuple[str, bool]:
        """Where the run's result is (or goes), and whether HEAD holds it there. On disk,
        it is where it is; deleted from the disk, it is where HEAD has it (write-once all
        the same). Refused (exit 1) while the disk has it at one path and HEAD at another:
        a correction of the new path would name nothing HEAD has, and protect and the
        audit would refuse the change as an undeclared rewrite. Where HEAD holds several
        results of the run (past the hooks), one of them on disk is where it is: only the
        first in path order was taken as committed, so a copy sorting first
        (`results/archive/`) made `rm` refuse the study's own as moved, where a copy
        sorting last (`results/zarch/`) met `correction_for`'s refusal of several
        committed results (a review, issue 18 thirtieth pass)."""
        rel = self.result_of(study, exp_id)
        committed = self.committed_results(exp_id)
        if not committed or rel in committed:
            return rel, bool(committed)
        if os.path.lexists(on_disk(self.root, rel)):
            raise ExpflowError(
                f"{rel}: the result of {exp_id!r} is committed as {committed[0]}; commit "
                "that move first, or undo it (nothing changed)",
                code=ExitCode.FAILED,
            )
        return committed[0], True

    def find_experiment(self, exp_id: str) -> tuple[str, dict[str, Any]]:
        """The record with this id on disk (any study), strictly parsed and checked (each
        folder listed once: `listed`)."""
        with self.listed():
            return self._find_experiment(exp_id)

    def _find_experiment(self, exp_id: str) -> tuple[str, dict[str, Any]]:
        hits = self.named(exp_id, Kind.EXPERIMENT)
        if not hits:
            raise ExpflowError(
                f"no experiment record {exp_id!r} where the policy's paths.experiments "
                f"{list(self.policy.experiment_globs)} take records",
                code=ExitCode.FAILED,
            )
        if len(hits) > 1:
            # The audit, list and show judge no run of an id several records hold: one
            # of them chosen here was changed, its result written, and the API's answer
            # then found no such run (a review, issue 18 twenty-seventh pass).
            named = ", ".join(path_text(rel) for rel in hits)
            raise ExpflowError(
                f"experiment {exp_id!r} has several records ({named}), of which the audit "
                "judges none: keep one (git rm the others and their results)",
                code=ExitCode.FAILED,
            )
        rel = hits[0]
        # Both files of the run are checked before anything reads, asks for a PIN or
        # writes: `result`, `rm` and `cancel` write or delete them.
        data = self.target(rel).read_bytes()
        doc, findings = check_document(Kind.EXPERIMENT, rel, data, self.policy)
        if doc is None:
            raise ExpflowError(f"{findings[0]}", code=ExitCode.FAILED)
        record: dict[str, Any] = json.loads(data)
        for result in self.results_of(record["study"], exp_id):
            self.target(result)
        return rel, record


@contextlib.contextmanager
def records_lock(root: Path, *, shared: bool = False) -> Iterator[None]:
    """One record command at a time in a work tree: an exclusive `flock` on its root
    folder, so that what a command checks (no record with this id, the run still
    pending, no result yet) still holds when it writes. Two `new` of one id, or `result`
    and `fail` of one run, in two processes each passed its check before the other
    wrote. Held for a check and its writes, never across a PIN prompt or a training run,
    and never taken twice by one command (it would wait on itself). None where the
    system has no `flock`, or the file system cannot lock a folder (NFS, Lustre): the
    commands work as they did before there was a lock. `shared`: a reader's, waiting for
    a command's writes to end (`query.runs.load_runs`)."""
    try:
        import fcntl

        fd = os.open(root, os.O_RDONLY)
    except (ImportError, OSError):  # not POSIX, or the folder cannot be opened
        yield
        return
    try:
        with contextlib.suppress(OSError):  # ENOLCK, ENOSYS, EOPNOTSUPP: no lock
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # (closing releases the lock)


def refuse_ignored(layout: Layout, rel: str, what: str = "record") -> None:
    """A record or result where `.gitignore` keeps files out would never be committed,
    and nothing that lists the repository's runs would find it: refused (exit 2) before
    it is written. A result was written there and its run marked `success`, and the
    commit took the record alone (a user's hunt, issue 18 twenty-seventh pass)."""
    if layout.ignored([rel]):
        raise ExpflowError(
            f"{rel}: .gitignore keeps this file out of the repository (or .git/info/exclude "
            f"or core.excludesFile: `git check-ignore -v` names the rule); a {what} there "
            "would never be committed (nothing written)"
        )


def refuse_git_directory(rel: str) -> None:
    """A document's path below a `.git` folder (in any case: a policy's `paths` glob may
    take it there) is refused (exit 2) before anything is written: `new` wrote a record
    into the repository's git directory, exit 0, that no commit can hold and no command
    lists, and below `.GIT` one that made every later `git add -A` fail ("invalid path"; a
    hunt, issue 18 thirty-ninth pass)."""
    from expflow_git.atomicfile import git_directory_part

    part = git_directory_part(rel)
    if part is not None:
        raise ExpflowError(
            f"{path_text(rel)}: {path_text(part)} is a git directory's name; git cannot "
            "commit a file below it (nothing written)"
        )


def check_id(exp_id: str) -> None:
    """Ids from the command line or the API must be valid ids: they name files."""
    if isinstance(exp_id, str):
        # `start`, `result`, `fail`, `cancel` and `rm` of `$'e\xff'` said "invalid id
        # 'e\udcff'", a lone surrogate's spelling and no option named, where `new` names
        # it as spec §4 says (`ID 'e\xff' is not UTF-8 text`; a hunt, forty-first pass).
        utf8_argument(exp_id, "ID")
    if not isinstance(exp_id, str) or not ID_RE.match(exp_id):
        # Masked as `new` masks it, before it is cut: `result pin=NNNN` (`fail`, `start`
        # and every command taking an id) printed the PIN (a review, issue 18
        # twenty-fourth pass).
        masked = masked_argument(str(exp_id))
        masked = masked if len(masked) <= 60 else f"{masked[:60]}…"
        shown = repr(masked) if isinstance(exp_id, str) else masked
        raise ExpflowError(
            f"invalid id {shown}: use letters, digits, '.', '_' and '-' "
            "(at most 128, starting with a letter or digit)"
        )


def build_experiment(
    *,
    exp_id: str,
    study: str,
    params: Mapping[str, Any],
    tags: Sequence[str],
    seed: int,
    title: str,
    status: Status,
    layout: Layout,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema": EXPERIMENT_SCHEMA, "id": exp_id, "study": study}
    if title:
        doc["title"] = title
    doc.update(
        created_at=utc_now(),
        tags=list(dict.fromkeys(tags)),
        status=status.value,
        seed=seed,
        params=dict(params),
        provenance=capture_provenance(layout),
    )
    return doc


def build_result(
    *,
    exp_id: str,
    metrics: Mapping[str, float],
    splits: Mapping[str, Mapping[str, float]],
    layout: Layout,
    series: Mapping[str, Sequence[Sequence[float]]] | None = None,
) -> dict[str, Any]:
    refuse_empty_splits(splits)
    doc: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "experiment": exp_id,
        "recorded_at": utc_now(),
        "metrics": dict(metrics),
    }
    if splits:
        doc["splits"] = {k: dict(v) for k, v in splits.items()}
    if series:
        doc["series"] = {k: [list(p) for p in points] for k, points in series.items()}
    doc["provenance"] = capture_provenance(layout)
    return doc


def parse_metric_args(args: Sequence[str]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """`--metric k=v… [--split NAME --metric k=v…]…`: order matters, so we parse it ourselves."""
    metrics: dict[str, float] = {}
    splits: dict[str, dict[str, float]] = {}
    target = metrics
    it = iter(args)
    for arg in it:
        opt, eq, inline = arg.partition("=")
        if opt in ("--metric", "-m"):
            value = inline if eq else next(it, None)
            if value is None:
                raise ExpflowError("--metric needs NAME=VALUE")
            for name, text in parse_assignments([value], what="--metric"):
                utf8_argument(name, "--metric")  # (named, not quoted from the result's JSON)
                if name in target:
                    raise ExpflowError(f"--metric {name} given twice")
                target[name] = parse_number(text, what=f"--metric {name}")
        elif opt == "--split":
            split = inline if eq else next(it, None)
            if not split:
                raise ExpflowError("--split needs a NAME")
            utf8_argument(split, "--split")
            target = splits.setdefault(split, {})
        else:
            raise ExpflowError(
                without_pins(f"unexpected argument {arg!r}; use --metric NAME=VALUE")
            )
    if not metrics:
        raise ExpflowError("give at least one --metric NAME=VALUE")
    refuse_empty_splits(splits, what="--split ")
    return metrics, splits


def refuse_empty_splits(splits: Mapping[str, Mapping[str, float]], *, what: str = "split ") -> None:
    """A split is written with a metric at least: an empty one was written, and a result
    is write-once (a user's hunt; the holdout budget no longer counts one as a look)."""
    for name, values in splits.items():
        if not values:
            raise ExpflowError(f"{what}{name!r} has no metric: give it at least one")


def refuse_existing(plan: PlannedResult) -> None:
    """A result is write-once: a second one is refused (exit 1) unless it goes through
    `result --overwrite`, PIN-guarded and declared in a correction."""
    if plan.exists:
        raise ExpflowError(
            f"{plan.path}: a result exists already; results are write-once "
            "(`expflow-git result --overwrite` is PIN-guarded)",
            code=ExitCode.FAILED,
        )


def check_new_result(path: str, data: bytes, policy: Policy) -> list[Finding]:
    """What the validate hook would refuse in a result, checked before it is written:
    the schema (a split's name, how many splits), unknown metrics, values out of range,
    missing required metrics."""
    from dataclasses import replace

    from expflow_git.checks import check_content

    content = check_content(Kind.RESULT, data)
    if isinstance(content, list):
        return [replace(f, path=path) for f in content]
    result = Result.from_json(path, content)
    return registry_findings(result, policy, data) + required_metric_findings(result, policy)


def record_status(doc: Mapping[str, Any]) -> Status:
    return Experiment.from_json("", doc).status


def remove_run(
    layout: Layout,
    exp_id: str,
    *,
    held: bool = False,
    correction: Planned | None = None,
    done: list[str] | None = None,
) -> list[str]:
    """Delete a record and its results: every file the policy reads as a result named
    the run's id (a copy in results/archive/ too: one left was a result without its
    record, and a new run of the id inherited it), first, so a crash never leaves a
    result without its record, and the one HEAD commits last of them; after the
    correction (`correction_for`), if any. Returns what was done, one line each. All
    of it or nothing: a delete the file system refuses (a read-only folder) puts back
    what was removed, from the bytes read before anything was, and takes the correction
    back, the error (one line naming the file, exit 2) saying so, or naming what could
    not be put back. A record that could not be deleted was left, its result gone and
    the correction written, unsaid: `success` without a result (a hunter's find, issue
    18 thirty-second pass). Under the work tree's lock (`held`: the caller holds it
    already). `done`: the list the lines are added to as each step is done (a Ctrl-C
    held back is raised when the deletes are over, before this returns)."""
    if not held:
        with records_lock(layout.root), layout.listed():
            return remove_run(layout, exp_id, held=True, correction=correction, done=done)
    from expflow_git.interrupts import deferred

    exp_rel, exp_doc = layout.find_experiment(exp_id)
    rels = layout.results_of(exp_doc["study"], exp_id)
    # The file HEAD commits last: killed (SIGKILL, which nothing defers) after it went
    # and before an extra copy did, the copy was then where run_result looked, and a
    # second `rm` refused it as a committed result moved (a review, issue 18
    # twenty-ninth pass). Killed at any point now, a second `rm` finishes the job.
    committed = set(layout.committed_results(exp_id))
    rels.sort(key=lambda rel: rel in committed)  # (stable: the others in their order)
    results = [(rel, layout.target(rel)) for rel in rels]
    changes = Changes("nothing removed" if correction is None else "nothing removed or written")
    done = [] if done is None else done
    # A Ctrl-C or SIGTERM waits for the correction and every delete: one between the
    # result's and the record's left a run `success` without its result.
    # Each file read before anything is removed or written, to be put back (read before
    # signals are held: a read that hangs can be stopped).
    with changes.undone_on_failure():
        kept = [Kept.read(rel, r, "removed", lossy=True) for rel, r in results if r.exists()]
        kept.append(Kept.read(exp_rel, layout.disk(exp_rel), "removed"))
    said = len(done)
    with deferred():
        try:
            with changes.undone_on_failure():
                if correction is not None:
                    written = write_planned_correction(layout, correction, changes)
                    done.append(f"wrote {written}")
                for file in kept:
                    file.remove()
                    changes.files.append(file)  # (once removed: a failed one is as it was)
                    done.append(f"removed {file.rel}")
        except BaseException:
            del done[said:]  # undone: its error says what, if anything, stays changed
            raise
    return done


# A file a command keeps to put back is read whole: past this size it is refused (or, for
# `rm`, deleted without being kept). No document is near it (the strict reader's cap is
# 1 MiB).
MAX_KEPT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Kept:
    """A file as it was before a command changed it (`what`: "removed", "written"…),
    to put back when a later step of the command fails; `data` None: there was none
    (putting it back removes what was written)."""

    rel: str
    path: Path
    what: str
    data: bytes | None = None
    mode: int | None = None
    lost: str | None = None  # why it was not kept (and cannot be put back)

    @classmethod
    def read(cls, rel: str, path: Path, what: str, *, lossy: bool = False) -> Kept:
        """The file at `path` (`rel`) as it is; one that cannot be read is refused
        (exit 2), naming it, before anything is changed. `lossy`: such a file (not a
        regular file, or one this user may not read) is kept without its bytes, for a
        command that only deletes it (`rm` deleted them before it kept anything: a read
        of a named pipe waited for a writer for ever, Ctrl-C held back; a review)."""
        from expflow_git.workspace import NotRegular, TooLarge, read_regular

        try:
            mode = path.stat().st_mode & 0o777
            # Never blocks (a named pipe), never through a link, at most the cap.
            data = read_regular(path, MAX_KEPT_BYTES, follow_links=False)
        except (OSError, NotRegular, TooLarge) as exc:
            if isinstance(exc, NotRegular):
                why = f"is {exc.kind}, not a file"
            elif isinstance(exc, TooLarge):
                why = f"{exc.size} bytes, too large to keep"
            else:
                why = exc.strerror or str(exc)
            if lossy:
                return cls(rel, path, what, lost=why)
            if isinstance(exc, OSError):
                why = f"cannot read it: {why}"
            raise ExpflowError(f"{rel}: {why}") from None
        return cls(rel, path, what, data, mode)

    def remove(self) -> None:
        """Delete the file; a failure is an ExpflowError naming it."""
        try:
            self.path.unlink()
        except OSError as exc:
            raise ExpflowError(f"{self.rel}: cannot remove it: {exc.strerror or exc}") from None

    def put_back(self) -> str | None:
        """The file as it was; None once it is, else what stays changed, and why."""
        from expflow_git.atomicfile import write_atomic

        if self.lost is not None:
            return f"{self.rel} {self.what} (not kept: {self.lost})"
        try:
            if self.data is None:
                self.path.unlink(missing_ok=True)
            else:
                write_atomic(self.path, self.data, mode=self.mode)
        except OSError as exc:
            return f"{self.rel} {self.what} ({exc.strerror or exc})"
        return None


class Changes:
    """The files a command changed so far (`files`, each as it was before), put back,
    the last first, when a later step fails (`undone_on_failure`): its error then ends
    with `nothing` ("nothing removed"), or names what could not be put back."""

    def __init__(self, nothing: str) -> None:
        self.nothing = nothing
        self.files: list[Kept] = []

    @contextlib.contextmanager
    def undone_on_failure(self) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            left = [why for file in reversed(self.files) if (why := file.put_back()) is not None]
            if not isinstance(exc, ExpflowError):
                raise
            said = f"not put back: {'; '.join(left)}" if left else self.nothing
            raise ExpflowError(f"{exc.message} ({said})", code=exc.code) from None


def open_layout(policy_path: str | None) -> Layout:
    """Where record commands read and write: the enclosing workspace, under its policy."""
    from expflow_git.workspace import Workspace

    ws = Workspace.find(policy_path)
    return Layout(ws.root, ws.load_policy())


def params_from_args(items: Sequence[str]) -> dict[str, Scalar]:
    """`--param K=V…` as a record's params (JSON scalars when they parse as one)."""
    return {k: parse_scalar(v) for k, v in parse_assignments(items, what="--param")}


# Statuses that say why the run has no result: they need a reason (docs/spec.md §4).
NEEDS_REASON = (Status.FAILED, Status.SKIPPED)


def check_reason(status: Status, reason: str | None) -> None:
    """A failed or skipped run needs a reason; any other status takes none (exit 2)."""
    if status in NEEDS_REASON and not (reason and reason.strip()):
        raise ExpflowError(
            f"status {status.value!r} needs --reason TEXT (why the run has no result)"
        )
    if status not in NEEDS_REASON and reason is not None:
        raise ExpflowError("--reason goes with --status failed or skipped")


# What `new`'s inputs are called in an error: the CLI's options (write_experiment's
# default) and the Python API's arguments (`Repository.new`).
NEW_OPTIONS = {
    "exp_id": "ID",
    "study": "--study",
    "params": "--param",
    "tags": "--tag",
    "condition": "--condition",
    "title": "--title",
    "reason": "--reason",
}
NEW_ARGUMENTS = {field: "id" if field == "exp_id" else field for field in NEW_OPTIONS}


def _utf8_inputs(
    names: Mapping[str, str],
    *,
    exp_id: str,
    study: str,
    params: Mapping[str, Scalar],
    tags: Sequence[str],
    condition: str | None,
    title: str,
    reason: str | None,
) -> None:
    """Each text `new` was given UTF-8, or ExpflowError naming it: the seed's canonical
    JSON raised a traceback on an id or study that is not (`new $'e\\xff'`), and `dump`'s
    refusal of a tag quoted a piece of the record's JSON and named no option (a user's
    hunt, issue 18 twenty-third pass)."""
    texts = [("exp_id", exp_id), ("study", study), ("condition", condition)]
    texts += [("title", title), ("reason", reason)]
    texts += [("tags", tag) for tag in tags]
    texts += [("params", f"{k}={v}" if isinstance(v, str) else k) for k, v in params.items()]
    for field, text in texts:
        if isinstance(text, str):  # (the schema names what is not text)
            utf8_argument(text, names[field])


def write_experiment(
    layout: Layout,
    *,
    exp_id: str,
    study: str,
    params: Mapping[str, Scalar],
    tags: Sequence[str],
    seed: int | None,
    condition: str | None,
    replicate: int,
    title: str,
    status: Status,
    reason: str | None = None,
    names: Mapping[str, str] = NEW_OPTIONS,
    held: bool = False,
    warn: Callable[[str], object] = lambda _: None,
) -> tuple[str, int]:
    """`new` (and `Repository.new`): build a record (the seed derived unless given), check
    it against the policy, and write it; never over an existing record. Returns (path, seed).
    An input that is not UTF-8 is refused first, by its name in `names`. Under the work
    tree's lock (`held`: the caller holds it already, `Repository.run` for its check).
    A record that takes the policy's run budget over is written, and `warn` says so: it
    was written silently, and the commit's hook then refused it (left by the
    thirty-eighth pass)."""
    from expflow_git.atomicfile import write_atomic

    check_reason(status, reason)
    if (
        isinstance(replicate, bool)
        or not isinstance(replicate, int)
        or not 0 <= replicate <= MAX_REPLICATE
    ):
        # (the value shown while short: one of 10**5000 has no str())
        shown = f" {replicate!r}" if isinstance(replicate, int) and abs(replicate) < 10**20 else ""
        raise ExpflowError(f"replicate{shown}: a non-negative integer, at most {MAX_REPLICATE}")
    _utf8_inputs(
        names,
        exp_id=exp_id,
        study=study,
        params=params,
        tags=tags,
        condition=condition,
        title=title,
        reason=reason,
    )
    if condition == "":
        # Given empty, it was taken for one left out (the seed derived from the id, as
        # the record of that id's own condition): refused by its name, as the CLI's
        # empty strings are (spec §4; a hunt, issue 18 forty-first pass).
        raise ExpflowError(f"{names['condition']}: give a condition, not an empty string")
    policy = layout.policy
    if seed is None:
        seed = derive_seed(policy.base_seed, study, condition or exp_id, replicate)
    doc = build_experiment(
        exp_id=exp_id,
        study=study,
        params=params,
        tags=tags,
        seed=seed,
        title=title,
        status=status,
        layout=layout,
    )
    if reason is not None:
        doc["reason"] = reason
    # Checked before the path is looked at: a study or id the schema refuses (one of
    # 5,000 characters) is named by its pointer, not met as ENAMETOOLONG on the disk.
    data = dump(doc)
    planned = layout.experiment_rel(study, exp_id)
    _, findings = check_document(Kind.EXPERIMENT, planned, data, policy)
    if findings:
        raise ExpflowError(str(findings[0]))
    # An argument holding a PIN (`--param cmd='train --pin NNNN'`): exit 2, named by it.
    fields = {"id": "exp_id", "study": "study", "params": "params", "tags": "tags"}
    fields |= {"title": "title", "reason": "reason"}
    from expflow_git.pinscan.written import refuse

    refuse(planned, data, given={f"/{k}": names[v] for k, v in fields.items()})
    rel = layout.experiment_path(study, exp_id)
    refuse_ignored(layout, rel)
    with contextlib.nullcontext() if held else records_lock(layout.root):
        existing = layout.named(exp_id, Kind.EXPERIMENT)
        if existing:
            raise ExpflowError(
                f"{existing[0]}: experiment {exp_id!r} "
                "exists already; records are never overwritten"
            )
        _refuse_committed_run(layout, exp_id)
        if layout.skipped_in_index(rel):
            raise ExpflowError(
                f"{rel}: experiment {exp_id!r} exists already (in the index: the sparse "
                "checkout leaves it off the disk); records are never overwritten"
            )
        over = budget_warnings(layout, study, {exp_id})
        make_folders(layout, rel)
        written(rel, lambda: write_atomic(layout.disk(rel), data, overwrite=False))
    for warning in over:
        warn(f"{rel}: {warning}; the hook and the audit will refuse it")
    return rel, seed


def read_document(path: Path) -> dict[str, Any] | None:
    """A document in the work tree, strictly parsed (None: not a JSON object, or not a
    regular file: a named pipe there would block the read forever)."""
    from expflow_git.jsonstrict import JsonProblem, parse_json

    if not path.is_file():
        return None
    try:
        raw = parse_json(path.read_bytes())
    except (JsonProblem, OSError):
        return None
    return raw if isinstance(raw, dict) else None


def budget_warnings(layout: Layout, study: str, new: set[str]) -> tuple[str, ...]:
    """What the audit and the hook will say of the work tree's records and the `new` runs
    of `study` beside them: a study with more than `budget.max_runs_per_study` records,
    all studies with more than `budget.max_runs`. A record's study is its `study` field,
    wherever the globs keep it (a folder of its own below the study's, `experiments/s/old/`).
    `new` and `import` write a record all the same, and say so (a record's run slot is
    the user's to take; the commit's hook refuses it)."""
    policy = layout.policy
    total, limit = policy.max_runs, policy.max_runs_per_study
    if total is None and limit is None:
        return ()
    runs = set(layout.in_tree(Kind.EXPERIMENT)) | new
    warnings: tuple[str, ...] = ()
    if total is not None and len(runs) > total:
        warnings = (f"all studies will have {len(runs)} runs, over the policy's budget of {total}",)
    if limit is None or len(runs) <= limit:  # (no study can be over: no record read)
        return warnings
    ids = {r.id for r in studied_records(layout) if r.study == study} | new
    if len(ids) <= limit:
        return warnings
    return (
        *warnings,
        f"study {study} will have {len(ids)} runs, over the policy's budget of {limit}",
    )


def make_folders(layout: Layout, rel: str) -> None:
    """Make the folders `rel` goes in, before anything of a command is written; one in
    their place that is not a folder is refused (exit 2) by name. `results/STUDY` a file
    failed only when the result was written, after its record was marked `success`, and
    the run was left a success without a result (a user's hunt, issue 18 twenty-third
    pass)."""
    from expflow_git.atomicfile import not_a_folder

    layout.forget_listing()  # (a new file: an open `listed()` scope's listings are stale)
    shown = not_a_folder(layout.root, os_path(posixpath.dirname(rel)))
    if shown is not None:
        raise ExpflowError(f"{rel}: {repo_path(shown)} is not a folder (nothing written)")
    written(rel, lambda: layout.disk(rel).parent.mkdir(parents=True, exist_ok=True))


def written(rel: str, write: Callable[[], object]) -> None:
    """`write()`, a failure of the file system (a full disk, a folder one cannot write)
    the ExpflowError naming `rel` that the API promises, not a raw OSError."""
    try:
        write()
    except OSError as exc:
        raise ExpflowError(f"{rel}: cannot write it: {exc.strerror or exc}") from None


def head_policy(git: Git, reader: BlobReader, policy: Policy) -> Policy | None:
    """The policy HEAD commits at `policy`'s path, if it loads and differs (history's
    `policy_at`: it only adds globs to look at; an uncommitted edit of `paths` hides no
    committed document)."""
    from expflow_git.history.walk import policy_at
    from expflow_git.workspace import outside_root

    if outside_root(policy.path):
        return None  # `--policy` outside the repository: HEAD holds none of it
    try:
        return policy_at(reader, git.ls_tree("HEAD", [policy.path]), policy)
    except ExpflowError:
        return None


def deleted_message(exp_id: str, correction: str) -> str:
    """Why a run deleted on record is not written again under its id."""
    return (
        f"experiment {exp_id!r} was deleted on record ({correction}): a run deleted on "
        "record does not come back under its id; give the new run a new id"
    )


def refuse_deleted_run(layout: Layout, exp_id: str) -> None:
    """A run a correction of HEAD deletes, HEAD holding no result of it, is refused (exit
    1): its record put back (`git checkout HEAD~1 -- RECORD`), `result` wrote it a new
    result and `fail` marked it failed, and the protect hook refused either (a run
    deleted on record comes back only as the result it had, docs/spec.md §2.4; its
    record is frozen, §2.1), as `new` and `import` refuse its id (a hunt, issue 18
    thirty-eighth pass). The `rm` undone and committed, HEAD holds its result again: a
    correction continues from it (`result --overwrite`)."""
    deleted = layout.deleted_on_record().get(exp_id)
    if deleted is not None:
        raise ExpflowError(deleted_message(exp_id, deleted), code=ExitCode.FAILED)


def _refuse_committed_run(layout: Layout, exp_id: str) -> None:
    """A new record for an id whose run is committed is refused (exit 1): HEAD holds its
    result (its record removed from the work tree, as an uncommitted `rm` leaves it: the
    run's record is frozen), or a correction of HEAD deletes the run (docs/spec.md §2.4).
    The hook and `audit --since` refuse either; here nothing is written."""
    committed = layout.committed_result(exp_id)
    if committed is not None:
        pending = layout.pending_deletion(exp_id)
        if pending is not None:  # an `rm` not yet committed: the user meant the deletion
            raise ExpflowError(deleted_message(exp_id, pending), code=ExitCode.FAILED)
        raise ExpflowError(
            f"{committed}: experiment {exp_id!r} has a committed result; its record is "
            "frozen (put the committed one back: `git checkout HEAD -- <record>`)",
            code=ExitCode.FAILED,
        )
    refuse_deleted_run(layout, exp_id)


@dataclass(frozen=True)
class PlannedResult:
    """A result built and checked, not yet written (`result`)."""

    path: str
    doc: dict[str, Any]
    data: bytes  # the document as it is written
    findings: list[Finding]  # registry problems: nothing is written when there are any
    exists: bool  # a result is there already (write-once: only a PIN-approved overwrite)
    digest: str | None  # the SHA-256 of the result file as planned over (None: no file)
    record_path: str
    record: dict[str, Any]
    record_status: Status


def plan_result(
    layout: Layout,
    exp_id: str,
    metrics: Mapping[str, float],
    splits: Mapping[str, Mapping[str, float]],
    series: Mapping[str, Sequence[Sequence[float]]] | None = None,
) -> PlannedResult:
    """Build `exp_id`'s result and check it against the registry and the required metrics
    (`findings`: nothing may be written when there are any); a failed or skipped run is
    refused (exit 1). Each folder is listed once (`Layout.listed`)."""
    with layout.listed():
        return _plan_result(layout, exp_id, metrics, splits, series)


def _plan_result(
    layout: Layout,
    exp_id: str,
    metrics: Mapping[str, float],
    splits: Mapping[str, Mapping[str, float]],
    series: Mapping[str, Sequence[Sequence[float]]] | None,
) -> PlannedResult:
    exp_rel, exp_doc = layout.find_experiment(exp_id)
    status = record_status(exp_doc)
    if status in (Status.FAILED, Status.SKIPPED):
        raise ExpflowError(
            f"{exp_rel}: experiment {exp_id!r} has status {status.value!r}; "
            "a result needs a successful run",
            code=ExitCode.FAILED,
        )
    # Over the run's result wherever it is (a second file would be a second score).
    rel, committed = layout.run_result(exp_doc["study"], exp_id)
    if not committed:
        refuse_deleted_run(layout, exp_id)
    rel = layout.checked_result(rel)
    refuse_ignored(layout, rel, "result")
    if layout.disk(rel).is_dir():  # (a link was refused: `checked_result`)
        # No result, and none can be written there: it was "a result exists already",
        # exit 1, and `--overwrite` asked for the PIN, then failed (a hunt, issue 18
        # thirty-eighth pass). Said as `new` says it of a record's path.
        raise ExpflowError(f"{rel}: cannot write it: is a folder, not a file (nothing written)")
    doc = build_result(exp_id=exp_id, metrics=metrics, splits=splits, layout=layout, series=series)
    data = dump(doc)
    from expflow_git.pinscan.written import refuse

    refuse(rel, data)
    if status is not Status.SUCCESS:  # the record is rewritten as `success`: checked too
        marked = dump({**exp_doc, "status": Status.SUCCESS.value})
        # As `start`, `fail` and `cancel` check the record they rewrite (`_set_status`):
        # a record written compact (by hand, another tool) near the 1 MiB cap went over it
        # once `dump` indented it, and the run was marked `success` in a record the
        # validate hook refuses, its result then one without a record (a hunt, issue 18
        # thirty-ninth pass).
        _, problems = check_document(Kind.EXPERIMENT, exp_rel, marked, layout.policy)
        if problems:
            raise ExpflowError(
                f"{problems[0]} (the record as `result` would mark it success; nothing written)",
                code=ExitCode.FAILED,
            )
        refuse(exp_rel, marked, ExitCode.FAILED)
    return PlannedResult(
        path=rel,
        doc=doc,
        data=data,
        findings=check_new_result(rel, data, layout.policy),
        # On disk, or committed and deleted from the work tree: write-once either way.
        exists=committed or layout.disk(rel).exists(),
        digest=file_digest(layout.disk(rel)),
        record_path=exp_rel,
        record=exp_doc,
        record_status=status,
    )


class Studied(NamedTuple):
    """A record as the holdout budget counts it (`checks.Studied`)."""

    path: str
    id: str
    study: str


def studied_records(layout: Layout) -> list[Studied]:
    """The work tree's records (wherever the policy's globs keep them) that name a study,
    each as the budgets count it: read once, for the run budget and the holdout budget of
    `new`, `result` and `import`."""
    return [
        Studied(rel, exp_id, doc["study"])
        for exp_id, rels in layout.in_tree(Kind.EXPERIMENT).items()
        for rel in rels
        if (doc := _in_tree(layout, rel)) is not None and isinstance(doc.get("study"), str)
    ]


def _in_tree(layout: Layout, rel: str) -> dict[str, Any] | None:
    """The document at `rel` as the hook reads the work tree (`workspace.read_in_tree`:
    never a link, nor through one), strictly parsed; None where it is none."""
    from expflow_git.jsonstrict import DEFAULT_MAX_BYTES, JsonProblem, parse_json
    from expflow_git.workspace import NotRegular, TooLarge, read_in_tree

    try:
        raw = parse_json(read_in_tree(layout.root, rel, DEFAULT_MAX_BYTES))
    except (OSError, NotRegular, TooLarge, JsonProblem):
        return None
    return raw if isinstance(raw, dict) else None


def holdout_look(doc: Mapping[str, Any] | None, split: str, exp_id: str) -> str | None:
    """The run a result is a look at the holdout split of (its `experiment`, else the
    file's stem), None when it carries no such split (`splits.<split>` not empty, as
    `validate` reads a result)."""
    splits = doc.get("splits") if doc is not None else None
    if not isinstance(splits, dict) or not splits.get(split):
        return None
    experiment = doc.get("experiment") if doc is not None else None
    return experiment if isinstance(experiment, str) else exp_id


def holdout_warnings(layout: Layout, plan: PlannedResult) -> tuple[str, ...]:
    """What the validate hook and the audit will say of the holdout budget
    (`walk_forward.max_evaluations_per_study`, `max_evaluations`) once the planned result,
    a look at the holdout split, is written: counted in the work tree as it will be, as
    `validate` counts it (checks.holdout_counts: a look counts in its run's record's
    study). `result` and `log_result` wrote a look over the budget without a word, and the
    commit's hook then refused it, as `new` did a run over the runs budget and `import`
    its holdout looks (a hunt, issue 18 thirty-ninth pass). Nothing is read unless the
    result carries the split and the work tree holds more results than a budget."""
    walk = layout.policy.walk_forward
    if walk is None or holdout_look(plan.doc, walk.split, "") is None:
        return ()
    per_study, total = walk.max_evaluations_per_study, walk.max_evaluations
    paths = {rel for rels in layout.in_tree(Kind.RESULT).values() for rel in rels} | {plan.path}
    if all(limit is None or len(paths) <= limit for limit in (per_study, total)):
        return ()  # (no study can be over: nothing read)
    looks = []
    for rel in sorted(paths):
        doc = plan.doc if rel == plan.path else _in_tree(layout, rel)
        if (look := holdout_look(doc, walk.split, stem(rel))) is not None:
            looks.append(look)
    if all(limit is None or len(looks) <= limit for limit in (per_study, total)):
        return ()  # (no study can be over: no record read)
    return holdout_messages(layout.policy, studied_records(layout), looks, plan.record["study"])


def holdout_messages(
    policy: Policy, records: list[Studied], looks: Iterable[str], study: str
) -> tuple[str, ...]:
    """What the hook and the audit say of the holdout budget over `records` and the
    `looks` (the run of each result carrying the split): `study` over
    `walk_forward.max_evaluations_per_study`, all studies over `max_evaluations`
    (`checks.holdout_counts`: a look counts in its run's record's study)."""
    from expflow_git.checks import holdout_counts

    walk = policy.walk_forward
    if walk is None:
        return ()
    per_study, total = walk.max_evaluations_per_study, walk.max_evaluations
    records = sorted(records, key=lambda r: r.path.encode("utf-8", "surrogateescape"))  # git's
    counts = holdout_counts(records, looks)
    carrying = f"result(s) carrying the holdout split {walk.split!r}"
    warnings: tuple[str, ...] = ()
    if per_study is not None and counts.get(study, 0) > per_study:
        warnings += (
            f"study {study} will have {counts[study]} {carrying}, over the policy's holdout "
            f"budget of {per_study} (walk_forward.max_evaluations_per_study)",
        )
    if total is not None and (n := sum(counts.values())) > total:
        warnings += (
            f"all studies will have {n} {carrying}, over the policy's holdout budget of "
            f"{total} (walk_forward.max_evaluations)",
        )
    return warnings


def correction_for(
    layout: Layout,
    *,
    study: str,
    exp_id: str,
    result_rel: str,
    new_data: bytes | None,
    reason: str | None,
    environ: Mapping[str, str],
) -> Planned | None:
    """The correction a change of the result at `result_rel` needs (None: it is not
    committed); `new_data` None for a deletion. A deletion of a run HEAD holds several
    results of is refused (exit 1, nothing changed): `rm` deletes them all, and one
    correction declares the deletion of one of them only."""
    from expflow_git.corrections import plan_correction

    if new_data is None:
        committed = layout.committed_results(exp_id)
        if len(committed) > 1:
            named = ", ".join(path_text(rel) for rel in committed)
            raise ExpflowError(
                f"experiment {exp_id!r} has several committed results ({named}); a "
                "correction declares the deletion of one, so `rm` deletes none of them "
                "(nothing changed)",
                code=ExitCode.FAILED,
            )

    planned = plan_correction(
        layout.root,
        layout.policy,
        study=study,
        experiment=exp_id,
        result_rel=result_rel,
        new_data=new_data,
        reason=reason,
        environ=environ,
    )
    if planned is not None:
        # One git ignores is never committed, and the hook refuses the change it
        # declares (a hunt, issue 18 thirty-eighth pass: init's own `*-key` rule kept
        # out the corrections of a run `model-key`): refused, as a record or result is.
        refuse_ignored(layout, planned.replaces or planned.path, "correction")
    return planned


def write_planned_correction(layout: Layout, planned: Planned, changes: Changes) -> str:
    """Write a planned correction; what was written, for one line of output. It goes in
    `changes` (the uncommitted one it replaces as it was), to be taken back if a later
    step of the command fails: a correction left by a command that failed after it
    declared a change never made, and `protect` refused the next commit (a hunter's
    find, issue 18 thirty-second pass)."""
    from expflow_git.corrections import write_correction

    # (Where write_correction puts it: `confined`, as it names the file.)
    replaced = planned.replaces
    kept = (
        None
        if replaced is None
        else Kept.read(replaced, confined(layout.root, replaced), "rewritten")
    )
    made: list[str] = []
    written(replaced or planned.path, lambda: made.append(write_correction(layout.root, planned)))
    changes.files.append(kept or Kept(made[0], confined(layout.root, made[0]), "written"))
    what = "replaces the uncommitted one" if replaced else "commit it with the result"
    return f"{made[0]} (a correction: {what})"


def write_result(
    layout: Layout, plan: PlannedResult, *, overwrite: bool, correction: Planned | None = None
) -> list[str]:
    """Write a planned result, after its correction (if any; first, so that a crash leaves
    a declaration the hooks refuse alone), a pending or running record marked `success`
    before it; returns what was done, one line each. Under the work tree's lock, once
    the run is still as it was planned (a PIN prompt may have come between)."""
    with records_lock(layout.root):
        _still_as_planned(layout, plan)
        return _write_result(layout, plan, overwrite=overwrite, correction=correction)


def _still_as_planned(layout: Layout, plan: PlannedResult) -> None:
    """Refuse (exit 1, nothing written) when the run changed since it was planned: another
    process marked it failed, wrote its result (or another over it), or removed it
    meanwhile."""
    record = layout.disk(plan.record_path)
    try:
        now = json.loads(record.read_bytes()) if record.is_file() else None
    except ValueError:
        now = None
    there = layout.disk(plan.path).exists() or (
        plan.exists and layout.committed_result(plan.doc["experiment"]) == plan.path
    )
    if now != plan.record or there != plan.exists:
        raise ExpflowError(
            f"{plan.record_path}: the run changed while this command ran (another command "
            "wrote it); nothing written, run it again",
            code=ExitCode.FAILED,
        )
    if file_digest(layout.disk(plan.path)) != plan.digest:
        # Another `result --overwrite` (or an import) replaced it: this one's correction,
        # planned against the result it read, would be a second declaration of another
        # change (two simultaneous overwrites both wrote theirs, and `protect` refused).
        raise ExpflowError(
            f"{plan.path}: the result changed while this command ran (another command "
            "wrote it); nothing written, run it again",
            code=ExitCode.FAILED,
        )


def file_digest(path: Path) -> str | None:
    """The SHA-256 of a file's bytes; None when there is no regular file (or no reading it)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        return None


def _write_result(
    layout: Layout, plan: PlannedResult, *, overwrite: bool, correction: Planned | None
) -> list[str]:
    from expflow_git.atomicfile import write_atomic
    from expflow_git.interrupts import deferred

    make_folders(layout, plan.path)  # a refusal here leaves everything as it was
    done = []
    record_file = layout.disk(plan.record_path)
    changes = Changes("nothing written")
    # A Ctrl-C or SIGTERM waits for the writes (it was raised between the record's and
    # the result's, or killed the process there, and left a `success` without a result).
    # Whatever stops the result's write (a full disk, a read-only folder), the record
    # goes back as it was (no run marked `success` without its result, docs/spec.md §4),
    # and the correction is taken back: one left declared a change never made, and
    # `protect` refused the next commit (a hunter's find, issue 18 thirty-second pass).
    with deferred(), changes.undone_on_failure():
        before = None
        if plan.record_status is not Status.SUCCESS:
            before = Kept.read(plan.record_path, record_file, "marked success")
        if correction is not None:
            done.append(f"wrote {write_planned_correction(layout, correction, changes)}")
        if before is not None:
            record = {**plan.record, "status": Status.SUCCESS.value}
            written(plan.record_path, lambda: write_atomic(record_file, dump(record)))
            changes.files.append(before)
            done.append(f"marked {plan.record_path} success")
        written(
            plan.path,
            lambda: write_atomic(layout.disk(plan.path), plan.data, overwrite=overwrite),
        )
    done.append(f"wrote {plan.path}")  # the study comes from the record
    return done
