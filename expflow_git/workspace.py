"""Where a hook or a record command runs: the root, the policy file, the repository (if
any), and whether files are read from the index or the work tree. validate, scan, protect
and the record commands share it."""

from __future__ import annotations

import contextlib
import io
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from expflow_git.atomicfile import below_root, mode_kind
from expflow_git.errors import ExpflowError
from expflow_git.localcache import READ_NOFOLLOW
from expflow_git.policy.load import load_policy_bytes
from expflow_git.policy.model import DEFAULT_POLICY_PATH, Policy

if TYPE_CHECKING:
    from expflow_git.gitstore import Git


@dataclass
class Workspace:
    """Where a hook runs: the root, the policy file, and the repository (if any)."""

    root: Path
    policy_path: Path
    git: Git | None
    staged: bool = False  # read checked files from the index, not the working tree
    # protect: the policy the index holds (an unstaged edit must not judge the commit),
    # else the file on disk (an untracked policy, or one outside the repository).
    policy_from_index: bool = False
    _prefixes: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)
    _policy: Policy | None = field(default=None, repr=False, compare=False)

    @classmethod
    def find(cls, policy: str | None, *, staged: bool = False) -> Workspace:
        """The enclosing repository (or the current directory) and its policy file.

        Git's own environment is kept: inside a hook GIT_INDEX_FILE names the
        index being committed, which is what the hooks must look at.
        """
        from expflow_git.gitstore import Git

        try:
            git: Git | None = Git.discover(Path.cwd(), env=os.environ)
        except ExpflowError:
            git = None
        base = git.root if git is not None else Path.cwd()
        chosen = policy or os.environ.get("EXPFLOW_POLICY") or DEFAULT_POLICY_PATH
        policy_path = Path(chosen) if Path(chosen).is_absolute() else base / chosen
        if staged and git is None:
            raise ExpflowError("--staged needs a git repository")
        return cls(root=base, policy_path=policy_path, git=git, staged=staged)

    def rel(self, path: str | Path) -> str:
        """A path relative to the root, with '/' separators, as globs and messages use it.

        Directories are resolved, once each (thousands of files share a few), but
        not the file itself: a symlinked document keeps its own name (and is then
        refused as a symlink), not its target's. A relative path is taken from the
        working directory of the first call: a workspace serves one command.
        """
        directory, name = os.path.split(os.fspath(path))
        if name in ("", ".", ".."):  # not a file name the directory's prefix can take
            full = os.path.abspath(path)
            if self._prefix(full) == "":
                return "."  # the root itself (`..` from a folder of it)
            directory, name = os.path.split(full)
        if directory not in self._prefixes:
            self._prefixes[directory] = self._prefix(directory)
        prefix = self._prefixes[directory]
        if prefix is None and self._prefix(os.path.abspath(path)) == "":
            # The root named by its own name (`/abs/repo`, `../repo`): its folder is
            # outside it, and it was taken for a path outside the work tree (`scan
            # --staged "$PWD"`: "not staged"; `validate --staged "$PWD"`: nothing checked).
            return "."
        return Path(path).as_posix() if prefix is None else prefix + name

    def _prefix(self, directory: str) -> str | None:
        """`directory` relative to the root with a final '/' ('' for the root), or
        None if it is outside the root. Below the root it is taken as written, as git
        names a path: a folder of it that is a link on disk is not resolved to the link's
        target (a hook is given git's paths; `results/s/x.json` with `results/s -> ../x`
        on disk was judged as `x/x.json`, and the staged file went into the commit
        unscanned: an attacker's hunt). When it does not lie below the root as written
        (a link above the root: `/home/me/repo` for `/data/me/repo`), its shortest
        leading folders that are the root, then the rest as written: resolving the whole
        path resolved the links below the root too (a review, thirty-seventh pass)."""
        root = os.path.realpath(self.root)
        written = os.path.abspath(directory)
        if written == root:
            return ""
        if written.startswith(root + os.sep):
            return written[len(root) + 1 :].replace(os.sep, "/") + "/"
        rest = below_root(written, root)
        if rest is None:
            return None
        return "".join(f"{part}/" for part in rest)

    def load_policy(self, warn: Callable[[str], None] | None = None) -> Policy:
        """The policy (staged, with --staged), read once per workspace; `warn` hears of an
        untrusted cache file."""
        if self._policy is None:
            self._policy = self._read_policy(warn)
        return self._policy

    def _read_policy(self, warn: Callable[[str], None] | None) -> Policy:
        rel = self.rel(self.policy_path)
        if self.staged or (self.policy_from_index and self.git is not None):
            staged = self._policy_in_index(rel)
            if staged is not None:
                return load_policy_bytes(staged, path=rel, cache_dir=self.cache_dir(), warn=warn)
            if self.staged:
                raise ExpflowError(f"{rel}: no policy file staged")
        # The work tree's own policy (a clone's `expflow.yaml -> /dev/zero`) is never read
        # through a link, as the audit reads none there; one outside it (`--policy`,
        # EXPFLOW_POLICY naming a shared file) is the user's choice, a link followed.
        # Nor through a folder of it made a link (`conf -> lax`, the policy at
        # `conf/expflow.yaml`): git commits the link, and the audit finds no policy there
        # (an attacker's hunt, thirty-eighth pass). The root's own file is read by the
        # path it is named by (`sub/../expflow.yaml` with `sub` a link opened the file
        # beside the link's target: the commit's `expflow.yaml` judges the audit; the
        # same hunt).
        own = not outside_root(rel)
        data = read_policy_file(
            repo_path(rel) if own else self.policy_path,  # (by the bytes on disk)
            rel,
            root=self.root if own else None,
            missing="no policy file; run `expflow-git init` or pass --policy",
        )
        return load_policy_bytes(data, path=rel, cache_dir=self.cache_dir(), warn=warn)

    def cache_dir(self) -> Path | None:
        """Where checked policies are remembered (inside the git directory)."""
        from expflow_git.localcache import state_dir

        return state_dir(self.git.git_dir) if self.git is not None else None

    def tracked_paths(self) -> list[str]:
        """Every path in the index (in a repository), else every file below the root."""
        if self.git is not None:
            return self.git.index_paths()
        return walk_files(self.root, strict=False)

    def _policy_in_index(self, rel: str) -> bytes | None:
        """The policy file the index holds at `rel` (stage 0), or None where it holds none
        (nor for a path outside the work tree). A symbolic link or a submodule there is
        refused (exit 2): `cat-file :0:PATH` read a link's target text as the policy
        (one line of flow YAML made a working one), where the audit and `protect` read
        no policy there. One `ls-files` (what the one `cat-file` was), the content from
        the file on disk when it is the staged blob, else one `cat-file`."""
        from expflow_git.gitstore import GITLINK, REGULAR_MODES, SYMLINK
        from expflow_git.hooks.lookup import file_or_blob

        if self.git is None or outside_root(rel):
            return None
        entry = next(
            (e for e in self.git.ls_index_named((), [rel]) if e.path == rel and e.stage == 0),
            None,
        )
        if entry is None:
            return None
        if entry.mode not in REGULAR_MODES:
            what = {SYMLINK: "a symbolic link", GITLINK: "a submodule"}.get(entry.mode)
            raise ExpflowError(
                f"{rel}: the index holds {what or f'an entry of mode {entry.mode}'} here, "
                "not a policy file; the policy must be a regular file (the audit reads no "
                "policy in its place)"
            )
        return file_or_blob(self.git, rel, entry.sha)

    def index_below(self, rels: Sequence[str]) -> dict[str, list[str]]:
        """Each of `rels` (as `rel` spells them, `.` the root) the index holds something
        at: [itself] for a file, a link or a submodule there, else the paths below it, in
        the index's order (a path below two of them: under the outer). One `ls-files`;
        none outside a repository, nor for a path outside the work tree."""
        wanted = {r for r in rels if not r.startswith("/") and r.split("/", 1)[0] != ".."}
        if not wanted or self.git is None:
            return {}
        from expflow_git.gitblobs import FEW_PATHS

        whole = "." in wanted
        if whole or len(wanted) > FEW_PATHS:  # (thousands of pathspecs overflowed the
            entries = self.git.ls_index()  # command line: exit 2, a review)
        else:
            entries = self.git.ls_index_named((), sorted(wanted))
        out: dict[str, list[str]] = {}
        for path in dict.fromkeys(e.path for e in entries):  # (an unmerged path: once)
            parts = path.split("/")
            ancestors = ("/".join(parts[:i]) for i in range(1, len(parts) + 1))
            top = next((a for a in ancestors if a in wanted), "." if whole else None)
            if top is not None:
                out.setdefault(top, []).append(path)
        return out


def read_policy_file(
    path: str | os.PathLike[str],
    shown: str,
    *,
    root: Path | None = None,
    missing: str | None = None,
) -> bytes:
    """The policy file's bytes, refused (exit 2, one line naming it as `shown`) when it is
    missing (`missing` the line's ending, else the OS's words), unreadable, a folder, a
    pipe or a device, or over the cap: no more than the cap and a byte is read, and a FIFO
    never blocks the open. It was read whole, the cap checked after: a committed
    `expflow.yaml -> /dev/zero` made `validate`, `list`, `new` and `scan` eat all memory,
    and `--policy FIFO` waited forever (a user's hunt, issue 18 twenty-ninth pass). With
    `root`, `path` is the work tree's own file below it (`read_in_tree`: a link there, or
    below a folder that is one, is refused); without, a link is followed (the user's
    choice of a file outside the work tree)."""
    from expflow_git.policy.load import MAX_POLICY_BYTES

    try:
        if root is not None:
            return read_in_tree(root, os.fspath(path), MAX_POLICY_BYTES)
        return read_regular(path, MAX_POLICY_BYTES, follow_links=True)
    except FileNotFoundError as exc:
        why = missing or f"cannot read policy: {exc.strerror}"
        raise ExpflowError(f"{shown}: {why}") from None
    except ThroughLink as exc:
        # The folder as `shown` spells it (the OS's words, not git's: under a locale that
        # is not UTF-8 the two spelled one folder two ways in one line; a review).
        folder = "/".join(shown.split("/")[: exc.folder.count("/") + 1])
        raise ExpflowError(
            f"{shown}: cannot read policy: its folder {folder} is a symbolic link, not a "
            "folder (the audit reads no policy in its place)"
        ) from None
    except NotRegular as exc:
        audit = " (the audit reads no policy in its place)" if exc.kind == SYMLINK else ""
        raise ExpflowError(
            f"{shown}: cannot read policy: {exc.kind}, not a regular file{audit}"
        ) from None
    except TooLarge as exc:
        raise ExpflowError(
            f"{shown}: policy is {exc.size} bytes, over the {MAX_POLICY_BYTES}-byte cap"
        ) from None
    except OSError as exc:
        raise ExpflowError(f"{shown}: cannot read policy: {exc.strerror}") from None


def walk_files(root: Path, *, strict: bool = True) -> list[str]:
    """Every file below `root` (not inside .git; a link to a folder is a file, never
    followed), relative, with '/' separators, each name as the filesystem encoding
    decodes it (an OS path, to join to `root`; the documents' convention is
    `walk_paths`).

    `strict`: a directory that cannot be listed is an error, not a silent gap (for
    a directory given to be checked; the whole tree, listed to look for other
    records with an id, passes over what it cannot read).
    """
    out: list[str] = []
    top = str(root)
    for dirpath, dirnames, filenames in walk(top, onerror=_unlistable if strict else None):
        prefix = below(dirpath, top)
        prefix = prefix and prefix + "/"
        out.extend(prefix + name for name in filenames)
        # A symbolic link to a folder is a file to git (its blob the target's name), never
        # walked: os.walk puts it among the folders and does not follow it, so it was left
        # out, and `scan DIR` never scanned the target string a link below DIR commits,
        # nor `validate DIR` refused a document that is such a link (a hunt, issue 18
        # thirty-eighth pass).
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        out.extend(prefix + name for name in links if name != ".git")
        dirnames[:] = [d for d in dirnames if d != ".git" and d not in links]
    return out


def walk(
    top: str, onerror: Callable[[OSError], None] | None = None
) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk(top, onerror=onerror)` (top down, a link to a folder among the folders
    and never followed; the caller may prune `dirnames`), without recursion: before
    Python 3.12 `os.walk` recursed once a folder, so a chain of ~1,000 nested folders (a
    2 KB path, which git commits and checks out) made `scan .`, `validate .` and the
    record commands stop with a RecursionError traceback (an attacker's hunt, issue 18
    forty-first pass). A folder below `top` is asked whether it is a link as it comes to
    be listed, as os.walk asked: asked with its siblings, one replaced by a link while
    the first one's subtree was walked was listed through it (a review, forty-first
    pass)."""
    stack = [(top, False)]
    while stack:
        folder, below = stack.pop()
        if below and os.path.islink(folder):
            continue
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            if onerror is not None:
                onerror(exc)
            continue
        dirnames: list[str] = []
        filenames: list[str] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:  # (as os.walk: a name that cannot be asked is a file)
                is_dir = False
            (dirnames if is_dir else filenames).append(entry.name)
        yield folder, dirnames, filenames
        # (visited in the order left in `dirnames`)
        stack.extend((os.path.join(folder, name), True) for name in reversed(dirnames))


def below(folder: str, top: str) -> str:
    """`folder`, a path `walk(top)` yielded, relative to `top` with '/' separators (''
    for `top` itself), in time linear in its length: `walk` joins each folder to its
    parent's path, so it starts with `top`. `os.path.relpath` (and `Path.relative_to`)
    of each folder split both paths into their parts, quadratic in a chain's depth
    (1.3 s for 2,000 nested folders; forty-second pass)."""
    rest = folder[len(top) :]
    if rest.startswith(os.sep):  # (`top` ends with none but for the root, `/`)
        rest = rest[1:]
    return rest if os.sep == "/" else rest.replace(os.sep, "/")


def walk_paths(root: Path, *, strict: bool = True) -> list[str]:
    """`walk_files`, each name in the documents' convention (`repo_path`), as git's
    paths are: under latin-1 the walk's `Ã«xp.json` was opened by its UTF-8 bytes, which
    are not the file's, and the document was "no such file" (issue 18 twenty-ninth pass)."""
    return [repo_path(rel) for rel in walk_files(root, strict=strict)]


def repo_path(path: str) -> str:
    """A path from the OS (a command-line argument, a name `os` gave as str) in the
    documents' convention: its bytes decoded as UTF-8 with surrogateescape, as gitstore
    decodes git's. Under a UTF-8 locale it is `path` itself; under latin-1 `ëxp.json`
    typed in a UTF-8 work tree is read by Python as `Ã«xp.json`, which no index entry
    and no `rel.encode("utf-8", "surrogateescape")` matched (issue 18 twenty-ninth pass)."""
    if path.isascii():  # (nearly every path: its bytes in any locale POSIX allows)
        return path
    return os.fsencode(path).decode("utf-8", "surrogateescape")


def os_path(path: str) -> str:
    """A path in the documents' convention (`repo_path`) as the OS functions taking str
    read it: the same bytes, decoded by the filesystem encoding."""
    if path.isascii():
        return path
    return os.fsdecode(path.encode("utf-8", "surrogateescape"))


def on_disk(root: Path | str, path: str) -> str | bytes:
    """A document's path as the OS is to be asked for it: by the bytes git names it by
    (`workspace.repo_path`'s convention), since under a locale whose filesystem encoding
    is not UTF-8 the str path named other bytes, and a document looked up on disk was not
    found (an ASCII path: the same bytes either way, the str join kept)."""
    if path.isascii():
        return os.path.join(root, path)
    return os.path.join(os.fsencode(root), path.encode("utf-8", "surrogateescape"))


def outside_root(rel: str) -> bool:
    """Whether a path relative to the work tree's root (`Workspace.rel`) leads out of it:
    absolute, or through `..` first."""
    return rel.startswith("/") or rel.split("/", 1)[0] == ".."


def through_link(folder: str, what: str = "documents") -> str:
    """Why a document (or a file to scan: `what`) below `folder`, a symbolic link on disk,
    is not read."""
    return f"{folder} is a symbolic link; {what} are never read through one"


def linked_folder(root: Path | str, rel: str, links: dict[str, bool]) -> str | None:
    """The first folder of `rel` (a path below `root`, as git names it) that is a symbolic
    link on disk (`links` remembers each folder asked about), None when none is. A
    document git lists below a folder replaced by a link (its files still in the index)
    was read through it, from wherever the link pointed: only the file itself was opened
    without following a link (a hunt, issue 18 thirty-eighth pass: `list` and `show`,
    then `validate`). git commits the link, never what it points at."""
    parts = rel.split("/")[:-1]
    for end in range(1, len(parts) + 1):
        folder = "/".join(parts[:end])
        linked = links.get(folder)
        if linked is None:
            linked = links[folder] = os.path.islink(on_disk(root, folder))
        if linked:
            return folder
    return None


def _unlistable(exc: OSError) -> None:
    raise ExpflowError(f"{exc.filename}: cannot list: {exc.strerror}")


# Reading a file that must be a regular file, of at most so many bytes (the policy, a
# CSV to import): a pipe, a device or a folder is refused after `fstat`, before anything
# is read, and no more than the cap and one byte is ever read. A committed `expflow.yaml
# -> /dev/zero` was read whole (every command ate all memory), and `--policy FIFO`
# blocked forever (a user's hunt, issue 18 twenty-ninth pass); the hooks' documents are
# read so already (query.runs.read_document).

SYMLINK = "a symbolic link"


class NotRegular(Exception):
    """The path names no regular file: `kind` says what it is (`a symbolic link`, or
    `atomicfile.mode_kind`'s words: `a folder`, `a named pipe`, `a device`, ...)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class TooLarge(Exception):
    """The file holds more than the cap: `size` bytes (at least the cap and one)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def read_regular(
    path: str | bytes | os.PathLike[str], cap: int | None, *, follow_links: bool
) -> bytes:
    """The bytes of the regular file at `path`, at most `cap` (None: any size). Raises
    NotRegular (a link, unless `follow_links`; a folder, a pipe, a device), TooLarge, or
    the OSError of the open or a read (FileNotFoundError for one missing); see
    `open_regular`. The one reader of a file that must be one: the policy, a document, a
    file to scan, a CSV."""
    fd, info = open_regular(path, follow_links=follow_links)
    try:
        if cap is None:  # (as `read_bytes` reads a file: one buffer, whatever its size)
            with io.FileIO(fd, closefd=False) as stream:
                return stream.readall()
        if info.st_size > cap:
            raise TooLarge(info.st_size)  # (nothing read)
        # One read when the file is still its size (no second read to meet the end).
        data = os.read(fd, info.st_size + 1)
        if len(data) == info.st_size:
            return data
        chunks = [data]
        size = len(data)
        while size <= cap and (chunk := os.read(fd, min(cap + 1 - size, 1 << 20))):
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            raise TooLarge(max(size, info.st_size))
        return b"".join(chunks)
    finally:
        os.close(fd)


def open_regular(
    path: str | bytes | os.PathLike[str], *, follow_links: bool
) -> tuple[int, os.stat_result]:
    """A descriptor open (for reading) on the regular file at `path`, and its `fstat`; the
    caller closes it. Raises NotRegular (a link, unless `follow_links`; a folder, a pipe,
    a device) or the OSError of the open (FileNotFoundError for one missing). The open
    never blocks (a FIFO), and never follows a link where `follow_links` is False: one
    `open` (no `lstat` before it), and what is checked is the file opened, so nothing
    swapped in between the check and the read is read."""
    flags = READ_NOFOLLOW if not follow_links else READ_NOFOLLOW & ~_NOFOLLOW
    if not follow_links and not _NOFOLLOW and os.path.islink(path):
        raise NotRegular(SYMLINK)  # (where the platform has no O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError:
        if not follow_links and os.path.islink(path):
            raise NotRegular(SYMLINK) from None  # ELOOP on Linux; other errors elsewhere
        # A socket cannot be opened (ENXIO): it is no regular file, as `fstat` would say
        # of anything else opened (its words: a review, issue 18 fortieth pass).
        with contextlib.suppress(OSError):
            mode = (os.stat if follow_links else os.lstat)(path).st_mode
            if not stat.S_ISREG(mode) and not stat.S_ISLNK(mode):
                raise NotRegular(mode_kind(mode)) from None
        raise
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotRegular(mode_kind(info.st_mode))
    return fd, info


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class ThroughLink(NotRegular):
    """The path lies below `folder`, a folder of it that is a symbolic link on disk."""

    def __init__(self, folder: str) -> None:
        super().__init__(through_link(folder))
        self.folder = folder


def read_in_tree(
    root: Path | str, rel: str, cap: int | None, links: dict[str, bool] | None = None
) -> bytes:
    """The file at `rel` (a path below `root`, as git names it) as `read_regular` reads it,
    never through a symbolic link: neither the file itself (NotRegular, `SYMLINK`) nor a
    folder of its path (ThroughLink; `links` remembers each folder asked about). git
    commits a link, never the files it points at: the one reader of the work tree's
    policy and documents (`list`, the lookups; `validate` opens with `open_in_tree`)."""
    _not_through_link(root, rel, links)
    return read_regular(on_disk(root, rel), cap, follow_links=False)


def open_in_tree(
    root: Path | str, rel: str, links: dict[str, bool] | None = None
) -> tuple[int, os.stat_result]:
    """`open_regular` of the file at `rel` below `root`, refused as `read_in_tree` refuses
    a path (ThroughLink, NotRegular)."""
    _not_through_link(root, rel, links)
    return open_regular(on_disk(root, rel), follow_links=False)


def _not_through_link(root: Path | str, rel: str, links: dict[str, bool] | None) -> None:
    if (folder := linked_folder(root, rel, {} if links is None else links)) is not None:
        raise ThroughLink(folder)
