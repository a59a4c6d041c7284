"""Where `validate` finds what it was not given: a result's record, the other records and
results of an id, the corrections (docs/spec.md §7).

One listing, made once: the index (what the commit will hold: `--staged`, and the hook's
given files), the working tree (`validate` without paths: tracked or not, as `git add -A`
would see it), or a folder outside git. From the index, every blob a check needs is read
through one `git cat-file --batch` stream before the documents are checked, so a run's
git processes do not grow with its files (issue 18: a process or two per result made a
2,000-result commit wait seconds).
"""

from __future__ import annotations

import bisect
import enum
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from expflow_git.documents import stem
from expflow_git.errors import ExpflowError
from expflow_git.localcache import READ_NOFOLLOW
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind
from expflow_git.workspace import (
    NotRegular,
    linked_folder,
    on_disk,
    open_in_tree,
    open_regular,
    outside_root,
    read_in_tree,
    read_regular,
)

if TYPE_CHECKING:
    from expflow_git.gitblobs import BlobReader
    from expflow_git.gitstore import Git

FEW_DOCS = 32  # checked documents whose ids are asked of git by name (more: the whole index)


class Source(enum.Enum):
    """Where the documents a check was not given are looked up."""

    INDEX = "index"
    WORK_TREE = "work tree"
    FOLDER = "folder"  # outside any repository


class Lookup:
    """Documents by file stem (= id), and their contents, from one listing."""

    def __init__(
        self,
        source: Source,
        root: Path,
        policy: Policy,
        listing: Callable[[], Iterable[str]],
        *,
        git: Git | None = None,
        blob_ids: dict[str, str] | None = None,
        links: frozenset[str] = frozenset(),
        submodules: frozenset[str] = frozenset(),
        skipped: frozenset[str] = frozenset(),
    ) -> None:
        self.source = source
        self.root = root
        self.policy = policy
        self._git = git
        # path -> blob id of its stage-0 entry (INDEX): a file's, never a link's (its blob
        # is the target's name) nor a submodule's (it names a commit).
        self._ids = blob_ids or {}
        self.links = links  # stage-0 entries that are symbolic links (INDEX)
        # WORK_TREE: the skip-worktree entries (a sparse checkout's files outside its
        # cone), read from the index (`_ids`, `links`), as `git add -A` leaves them.
        self.skipped = skipped
        # Stage-0 links and submodules: listed (a check of every document refuses them),
        # but never a document looked up for another (`named`, `read`), as the audit
        # reads them. A link whose target text was a valid record backed a result checked
        # alone, where the whole index said result-without-record (a hunter's find).
        self._not_files = links | submodules
        self._list = listing
        self._paths: list[str] | None = None
        self._by_stem: dict[str, list[str]] = {}
        self._by_stem_kind: dict[str, dict[Kind | None, list[str]]] = {}  # (named())
        self._of_kind: dict[Kind, list[str]] | None = None  # (documents())
        self._blobs: dict[str, bytes] = {}
        self._reader: BlobReader | None = None
        self._reader_pid = 0
        self._linked: dict[str, bool] = {}  # folder -> whether it is a link on disk
        # Whether the run hashes more than gitstore.BULK_BLOBS files: their blob ids are
        # then hashed by OpenSSL (gitstore.bulk_hash).
        self.bulk = False

    @classmethod
    def index(cls, git: Git, policy: Policy, rels: list[str], *, whole: bool) -> Lookup:
        """The index: only the entries named like `rels` (their ids, in any folder, and
        the paths themselves) when they are few, else all of it; one `ls-files` either way."""
        from expflow_git.gitstore import GITLINK, SYMLINK, is_plain_name

        few = not whole and len(rels) <= FEW_DOCS
        suffixes = ("", ".json") if policy.takes_any_name() else (".json",)
        names = sorted({stem(rel) + suffix for rel in rels for suffix in suffixes}) if few else []
        if not few or not all(is_plain_name(n) for n in names):
            listing = _index_listing(git.run("ls-files", "-s", "-z", "--"))
            paths, blob_ids, links, submodules = listing
            if intended := git.intended(blob_ids):
                paths = [path for path in paths if path not in intended]  # (`git add -N`)
                blob_ids = {p: sha for p, sha in blob_ids.items() if p not in intended}
        else:
            listed = git.ls_index_named(names, rels)
            staged = [e for e in listed if e.stage == 0]
            blob_ids = {e.path: e.sha for e in staged if e.mode not in (GITLINK, SYMLINK)}
            links = frozenset(e.path for e in staged if e.mode == SYMLINK)
            submodules = frozenset(e.path for e in staged if e.mode == GITLINK)
            paths = list(dict.fromkeys(e.path for e in listed))  # unmerged: up to 3 stages
        found = cls(
            Source.INDEX,
            git.root,
            policy,
            lambda: paths,
            git=git,
            blob_ids=blob_ids,
            links=links,
            submodules=submodules,
        )
        found.all_paths()  # before any fork: the listing is shared, not redone per worker
        return found

    @classmethod
    def work_tree(cls, git: Git, policy: Policy) -> Lookup:
        """The work tree as `git add -A` would commit it: tracked files (on disk) and
        untracked ones it does not ignore; a skip-worktree entry (a sparse checkout's file
        outside its cone) is what the index holds, not what the disk has (nothing, most
        often: its record was taken for missing, a hunt, thirty-eighth pass)."""
        from expflow_git.gitblobs import FEW_PATHS
        from expflow_git.gitstore import GITLINK, REGULAR_MODES, SYMLINK

        paths, skipped = git.work_tree_paths()
        ids: dict[str, str] = {}
        links: set[str] = set()
        submodules: set[str] = set()
        if skipped:  # (one more `ls-files`, in a sparse checkout only)
            many = len(skipped) > FEW_PATHS
            listed = git.ls_index() if many else git.ls_index_named((), sorted(skipped))
            for e in listed:
                if e.stage != 0 or e.path not in skipped:
                    continue
                if e.mode in REGULAR_MODES:
                    ids[e.path] = e.sha
                elif e.mode == SYMLINK:
                    links.add(e.path)
                elif e.mode == GITLINK:
                    submodules.add(e.path)
        return cls(
            Source.WORK_TREE,
            git.root,
            policy,
            lambda: paths,
            git=git,
            blob_ids=ids,
            links=frozenset(links),
            submodules=frozenset(submodules),
            skipped=skipped,
        )

    def all_paths(self) -> list[str]:
        """Every listed path (listed on the first call)."""
        if self._paths is None:
            self._paths = list(self._list())
            by_stem = self._by_stem
            if self.policy.takes_any_name():  # (every path, by its id, as the audit)
                for path in self._paths:
                    by_stem.setdefault(stem(path), []).append(path)
            else:
                for path in self._paths:
                    # Only string work over the whole listing (stem() inlined: thousands
                    # of paths); the globs judge the few candidates.
                    if path.endswith(".json"):
                        by_stem.setdefault(path[path.rfind("/") + 1 : -5], []).append(path)
            for path in self._not_files:  # (rare: taken out here, not asked of every path)
                named = by_stem.get(stem(path), [])
                if path in named:
                    named.remove(path)
        return self._paths

    def named(self, kind: Kind, exp_id: str, *, asking: str = "") -> Sequence[str]:
        """The listed documents of `kind` for id `exp_id` (JSON files named `ID.json`; a
        link or a submodule is none), sorted; not a copy (k documents of one id asking
        about it read one list, not k). The document `asking` may be among them, except
        when it is the only one: then the answer is empty, and no glob is matched."""
        if self._paths is None:
            self.all_paths()
        named = self._by_stem.get(exp_id, ())
        if len(named) == 1:  # nearly always: only the document asking
            only = named[0]
            return named if only != asking and self.policy.kind_of(only) is kind else ()
        # Many files with one name (thousands of corrections of one run, say) are sorted
        # by kind once, not matched against the globs again on every question (k²); for
        # every kind at once: a run's record and result share a name, and each is asked
        # about the other kind (a 20,000-run sweep's hook matched 80,000 paths against
        # the globs; 40,000 now).
        kinds = self._by_stem_kind.get(exp_id)
        if kinds is None:
            kind_of = self.policy.kind_of
            kinds = {}
            for path in sorted(named):
                kinds.setdefault(kind_of(path), []).append(path)
            self._by_stem_kind[exp_id] = kinds
        return kinds.get(kind, ())

    def documents(self, kind: Kind) -> list[str]:
        """Every listed document of `kind` (a link or a submodule is none), in listing
        order; the listing is classified once, on the first call (the budgets' counts)."""
        if self._of_kind is None:
            kind_of = self.policy.kind_of
            of_kind: dict[Kind, list[str]] = {}
            for path in self.all_paths():
                found = kind_of(path)
                if found is not None and path not in self._not_files:
                    of_kind.setdefault(found, []).append(path)
            self._of_kind = of_kind
        return self._of_kind.get(kind, [])

    def prefetch(self, paths: Iterable[str]) -> None:
        """Read these paths' blobs now (INDEX; else a no-op): each from the file on disk
        when it is that blob (`same_on_disk`), the others all in one `git cat-file`."""
        from expflow_git.gitstore import BULK_BLOBS

        wanted = {p: sha for p in paths if (sha := self._ids.get(p)) and p not in self._blobs}
        bulk = self.bulk or len(wanted) > BULK_BLOBS
        for path, sha in list(wanted.items()):
            data = same_on_disk(self.root, path, sha, bulk=bulk)
            if data is not None:
                self._blobs[path] = data
                del wanted[path]
        if not wanted:
            return
        by_sha: dict[str, list[str]] = {}
        for path, sha in wanted.items():
            by_sha.setdefault(sha, []).append(path)
        assert self._git is not None
        for sha, data in read_blobs(self._git, list(by_sha)).items():
            for path in by_sha[sha]:
                self._blobs[path] = data

    def blob_id(self, path: str) -> str | None:
        """The index blob id of `path`'s stage-0 file (INDEX; a link's, a submodule's, an
        unmerged path's and any other source's: None)."""
        return self._ids.get(path)

    def linked_folder(self, path: str) -> str | None:
        """The first folder of `path` (below the root) that is a symbolic link on disk,
        None when none is (nor for a path outside the root): a document is never read
        through one, as git commits the link, not what it points at."""
        return None if outside_root(path) else linked_folder(self.root, path, self._linked)

    def open_file(self, path: str) -> tuple[int, os.stat_result]:
        """The regular file at `path` on disk, open, and its `fstat` (the caller closes
        it), as `workspace.open_in_tree` opens it (and raises): never through a symbolic
        link, nor through a folder of its path that is one (but for a path outside the
        root)."""
        if outside_root(path):
            return open_regular(on_disk(self.root, path), follow_links=False)
        return open_in_tree(self.root, path, self._linked)

    def read(self, path: str) -> bytes | None:
        """The content of `path` where it is looked up; None if it is not there, or is no
        file (a symbolic link or a submodule: its target's name is not a document; on
        disk, a file below a folder that is a link)."""
        if self.source is not Source.INDEX and path not in self.skipped:
            try:
                if outside_root(path):
                    return read_regular(on_disk(self.root, path), None, follow_links=False)
                return read_in_tree(self.root, path, None, self._linked)
            except (OSError, NotRegular):
                return None
        if path in self._blobs:
            return self._blobs[path]
        sha = self._ids.get(path)
        if sha is None:
            return None
        # Not prefetched (a staged document, read in whichever process checks it; a
        # tracked file deleted from disk): the file if it is the blob, else this
        # process's one stream.
        data = same_on_disk(self.root, path, sha, bulk=self.bulk)
        return data if data is not None else self._blob_reader().read(sha)

    def _blob_reader(self) -> BlobReader:
        # A forked worker must not use its parent's pipes: each process starts its own.
        if self._reader is None or self._reader_pid != os.getpid():
            from expflow_git.gitblobs import BlobReader

            assert self._git is not None
            self._reader, self._reader_pid = BlobReader(self._git), os.getpid()
        return self._reader

    def close(self) -> None:
        """Stop this process's blob stream, if it started one."""
        if self._reader is not None and self._reader_pid == os.getpid():
            self._reader.close()
        self._reader = None


def same_on_disk(root: Path, path: str, sha: str, *, bulk: bool = False) -> bytes | None:
    """The file at `path` if it is the blob `sha` (its git id, computed here), else None.
    A staged blob git would read from a loose object costs ~65 µs a file through
    `cat-file` (a sweep's 2,000 staged results: 130 ms); the file on disk is read and
    hashed in a few. Whatever git's filters or an unstaged edit make differ, the ids
    differ, and the blob is read from git. `bulk`: one of thousands (gitstore.blob_id)."""
    from expflow_git.gitstore import blob_id

    try:
        fd = os.open(on_disk(root, path), READ_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SAME_ON_DISK:
            return None
        data = os.read(fd, info.st_size + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if blob_id(data, len(sha), bulk=bulk) == sha else None


def file_or_blob(git: Git, path: str, sha: str) -> bytes:
    """The blob `sha` of `path`: the file on disk when it is that blob (`same_on_disk`),
    else read from git (one `cat-file`)."""
    data = same_on_disk(git.root, path, sha)
    return data if data is not None else read_blobs(git, [sha])[sha]


MAX_SAME_ON_DISK = 1 << 20  # bytes: a larger file is no document (jsonstrict's cap)


def holds(paths: Sequence[str], path: str) -> bool:
    """Whether the sorted `paths` (a `Lookup.named` answer) hold `path`."""
    at = bisect.bisect_left(paths, path)
    return at < len(paths) and paths[at] == path


def read_blobs(git: Git, shas: list[str]) -> dict[str, bytes]:
    """The blobs `shas` (index entries' ids: 40 or 64 hex digits) from one `git cat-file
    --batch` given them all at once. A hook reads its blobs once, up front: a one-shot
    process spares it the streaming reader's thread, temporary file and imports
    (gitblobs.py, ~5 ms of a one-file hook's start-up: issue 18)."""
    for sha in shas:
        if not (sha.isascii() and sha.isalnum()):  # one id a line: nothing to inject
            raise ExpflowError(f"not an object id: {sha!r}")
    out = git.run("cat-file", "--batch", input="".join(f"{sha}\n" for sha in shas).encode())
    blobs: dict[str, bytes] = {}
    at = 0
    for sha in shas:  # answers in request order: "<sha> <type> <size>LF<content>LF"
        end = out.find(b"\n", at)
        header = out[at:end].split() if end >= 0 else []
        if len(header) != 3:
            if header[-1:] == [b"missing"]:
                raise ExpflowError(f"git object {sha} is missing from the repository")
            raise ExpflowError(f"git cat-file: unexpected answer for {sha}")
        if header[1] != b"blob":
            raise ExpflowError(f"git object {sha} is a {header[1].decode()}, not a blob")
        size = int(header[2])
        blobs[sha] = out[end + 1 : end + 1 + size]
        at = end + 2 + size
        if out[at - 1 : at] != b"\n" or len(blobs[sha]) != size:
            raise ExpflowError(f"git cat-file: answer for {sha} cut short")
    return blobs


def _index_listing(
    out: bytes,
) -> tuple[list[str], dict[str, str], frozenset[str], frozenset[str]]:
    """`ls-files -s -z` output: every path once, in order, the blob id of each stage-0
    file (not a link's, nor a submodule's), the stage-0 symbolic links and the stage-0
    submodules. Records are `<mode> SP <id> SP <stage> TAB <path>` with a six-digit mode
    and a one-digit stage, so the fields are sliced at the widths of the first record
    (checked on every one) instead of split: a 2,000-run sweep's index has 4,000
    entries, and every hook with many files lists it (issue 18)."""
    from expflow_git.gitstore import GITLINK, SYMLINK

    records = out.decode("utf-8", "surrogateescape").split("\0")[:-1]
    if not records:  # an empty index (nothing added yet)
        return [], {}, frozenset(), frozenset()
    tab = records[0].find("\t")
    shaped = (r[tab : tab + 1] == "\t" and r[6:7] == " " == r[tab - 2 : tab - 1] for r in records)
    if tab < 10 or not all(shaped):
        raise ExpflowError("git ls-files: unexpected output")
    paths = [r[tab + 1 :] for r in records]
    ids = {r[tab + 1 :]: r[7 : tab - 2] for r in records if r[tab - 1] == "0"}
    links = []
    submodules = []
    for r in records:  # (rare: taken out of `ids` here, not asked of every record above)
        if r[tab - 1] != "0":
            continue
        if r.startswith(GITLINK):  # names a commit, not a blob
            submodules.append(r[tab + 1 :])
            ids.pop(r[tab + 1 :], None)
        elif r.startswith(SYMLINK):  # its blob is the target's name, not a document
            links.append(r[tab + 1 :])
            ids.pop(r[tab + 1 :], None)
    unique = list(dict.fromkeys(paths)) if len(ids) < len(paths) else paths
    return unique, ids, frozenset(links), frozenset(submodules)
