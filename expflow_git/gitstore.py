"""Read a repository through the git CLI: commits, trees, the index, blobs in bulk, history.

Modelled on pre-commit's ``pre_commit/git.py``: plain subprocess calls to
plumbing commands with ``-z`` output, no GitPython objects (too slow to
import in hooks and too slow per object).  Every command runs at the top of
the work tree with an explicit environment (see :func:`no_git_env`).

Paths are returned as ``str`` decoded from UTF-8 with ``surrogateescape``, so
a non-UTF-8 name survives the round trip back to git (``os.fsencode`` style).
Every command also runs with ``--no-replace-objects``: a ``refs/replace``
entry would otherwise make git serve different bytes for a commit or blob id
than the ones that hash to it, which an audit must never accept.  For the same
reason ``GIT_GRAFT_FILE`` points at the null device: a line in
``.git/info/grafts`` rewrites a commit's parents (``--no-replace-objects`` does
not cover grafts), and would put any commit "in the history of HEAD".
Needs git 2.31 or newer (``--diff-merges=first-parent``).
"""

from __future__ import annotations

import contextlib
import functools
import operator
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from expflow_git.errors import ExpflowError, printable, utf8_argument
from expflow_git.lazyre import lazy_compile

# Every git call starts with these.  --literal-pathspecs: a path filter is a
# file or a directory prefix, never a glob (callers match globs themselves).
_GIT = ("git", "--no-replace-objects", "--literal-pathspecs")

# For the calls that cannot take --literal-pathspecs: ls-files with pathspec magic
# (:(glob), its pathspecs built here) and check-ignore (it refuses the option).
_GIT_MAGIC = ("git", "--no-replace-objects")
_PATHSPEC_VARS = (
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
)
_PLAIN_NAME = lazy_compile(r"[A-Za-z0-9._-]+")


def is_plain_name(name: str) -> bool:
    """Whether ``name`` is a file name :meth:`Git.ls_index_named` takes (no wildcard, no '/')."""
    return _PLAIN_NAME.fullmatch(name) is not None


# GIT_* variables that configure how git talks to the outside world rather
# than which repository or index it works on; they survive no_git_env().
_KEEP_GIT_VARS = frozenset(
    {
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_CONFIG_SYSTEM",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_ALLOW_PROTOCOL",
        "GIT_ASKPASS",
        "GIT_TERMINAL_PROMPT",
        "GIT_CEILING_DIRECTORIES",
        "GIT_TRACE",
        "GIT_TRACE2",
        "GIT_TRACE2_EVENT",
        "GIT_TRACE2_PERF",
        # who writes (a note's commit): CI runners give git its identity this way
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
    }
)

# How often `Git.add_note` makes its note again on a ref other writers moved meanwhile.
NOTE_ATTEMPTS = 8

_NULL_SHAS = frozenset({"0" * 40, "0" * 64})
_NULL_MODE = "000000"

# Set on every git call, whatever the caller's environment says: history is the
# commits' own parents, never a graft file (git 2.39 still reads
# $GIT_DIR/info/grafts) nor a replacement.
_PINNED_ENV = {"GIT_GRAFT_FILE": os.devnull, "GIT_NO_REPLACE_OBJECTS": "1"}


def _pinned(env: Mapping[str, str]) -> dict[str, str]:
    return {**env, **_PINNED_ENV}


def no_git_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return ``env`` (default ``os.environ``) without the GIT_* variables that pick a repository.

    While hooks run, git exports GIT_INDEX_FILE, GIT_DIR, GIT_WORK_TREE,
    GIT_PREFIX ...; left in place they make a git call about *another*
    repository read this one's index or objects.  Variables that only
    configure transport, prompts, tracing or config injection
    (GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n) are kept, as pre-commit does;
    so is the identity (GIT_AUTHOR_*, GIT_COMMITTER_*), which CI runners give
    this way and `audit --note` needs.
    """
    env = os.environ if env is None else env
    return {
        k: v
        for k, v in env.items()
        if not k.startswith("GIT_")
        or k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
        or k in _KEEP_GIT_VARS
    }


def zsplit(out: bytes) -> list[bytes]:
    """Split NUL-terminated ``-z`` output into its records."""
    parts = out.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return parts


def _decode_path(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


# The times a report spells (ISO 8601 with a four-digit year): git accepts any digits a
# committer writes, and a year-10000 commit made every audit a traceback. Before 1970
# git itself shows no time (`%ct` is empty for a negative one).
_LAST_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z


# The header lines that say what a commit is: git reads each once, in its place.
_HEADER_READ = frozenset((b"tree", b"parent", b"author", b"committer"))


def commit_time(stamp: bytes, sha: str) -> int:
    """A committer time as git stores it (seconds), refused (exit 2) unless it is plain
    digits (as git's `%ct` shows it) up to the end of the year 9999."""
    if not (stamp.isdigit() and stamp.isascii()):
        raise ExpflowError(f"commit {sha}: its committer line holds no time git writes")
    seconds = int(stamp) if len(stamp) <= 12 else _LAST_TIME + 1  # (12 digits hold 9999)
    if seconds > _LAST_TIME:
        shown = stamp[:20].decode("ascii") + ("…" if len(stamp) > 20 else "")
        raise ExpflowError(
            f"commit {sha}: its committer time ({shown}) is past the year 9999, which no "
            "report can spell"
        )
    return seconds


def _encode_path(path: str) -> str:
    # subprocess encodes str arguments with the filesystem encoding and
    # surrogateescape; going through bytes keeps a non-UTF-8 name exact.
    if "\0" in path:  # (a report's own policy path, read again by verify: a traceback)
        raise ExpflowError(f"'{printable(path)}': no path holds a NUL byte")
    return os.fsdecode(path.encode("utf-8", "surrogateescape"))


def first_line(stderr: bytes) -> str:
    """The line of git's stderr worth showing: the first fatal/error line, else the first line."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("fatal:", "error:")):
            return ln
    return lines[0] if lines else ""


def _failed(args: Sequence[str], returncode: int, stderr: bytes) -> ExpflowError:
    """`git ARGS` failed: the error told (exit 2), with git's own line where it gave one."""
    detail = first_line(stderr) or f"exited with status {returncode}"
    return ExpflowError(f"git {args[0] if args else ''}: {detail}")


@contextlib.contextmanager
def _scratch_file() -> Iterator[IO[bytes] | None]:
    """A temporary file for git's stderr, or None where there is no temporary folder."""
    import tempfile

    try:
        scratch = tempfile.TemporaryFile()
    except OSError:
        scratch = None
    if scratch is None:  # (yielded outside the handler: no error carries it as context)
        yield None
        return
    with scratch:
        yield scratch


MAX_PATHSPECS = 32  # what one `git log` is given (log_touching)


def _covering(paths: Sequence[str]) -> tuple[list[str], frozenset[str] | None]:
    """At most MAX_PATHSPECS pathspecs covering `paths` (files or folders): the paths
    themselves when they are few (None: nothing to filter), else their folders, cut
    shorter until few (and the paths, to keep each change by)."""
    if len(paths) <= MAX_PATHSPECS:
        return list(paths), None
    parts = [p.split("/") for p in paths]
    for depth in range(max(map(len, parts)) - 1, 0, -1):
        folders = sorted({"/".join(segments[:depth]) for segments in parts})
        if len(folders) <= MAX_PATHSPECS:
            return folders, frozenset(paths)
    return ["."], frozenset(paths)


def _is_under(path: str, wanted: frozenset[str]) -> bool:
    """Whether `path` is one of `wanted` or lies in a folder of them."""
    if path in wanted:
        return True
    end = path.find("/")
    while end != -1:
        if path[:end] in wanted:
            return True
        end = path.find("/", end + 1)
    return False


# Where a revision's syntax begins after a ref's name (`~`, `^`, `:`, `@{`).
_REV_SUFFIX = lazy_compile(r"[~^:]|@\{")
_SHORT_ID = lazy_compile(r"[0-9a-fA-F]{4,63}")
_OBJECT_ID = lazy_compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # taken as the object, not a ref


def _check_rev(rev: str) -> None:
    # A revision starting with "-" would be read as an option (rev-parse
    # has no working --end-of-options); nothing valid starts that way. A line feed would
    # end `cat-file --batch-check`'s line early, and a carriage return ending it is dropped
    # there (`HEAD\r` was HEAD, which git itself refuses; `show`'s `git log` then failed).
    if not rev or rev.startswith("-") or "\0" in rev or "\n" in rev or rev.endswith("\r"):
        raise ExpflowError(f"unknown revision '{rev}'")
    # Every revision a command or the API is given passes here, before git reads it.
    utf8_argument(rev, "revision")


@dataclass(frozen=True)
class Commit:
    """A commit as git stores it; `time`/`tz` are the committer's (`1700000000`, `+0100`)."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    time: int
    tz: str


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One ``git ls-tree -r`` line. ``mode`` 120000 is a symlink, ``type`` "commit" a submodule."""

    path: str
    mode: str
    type: str
    sha: str


@functools.cache
def builtin_hash(name: str) -> Callable[[bytes], Any]:
    """CPython's own `sha1` or `sha256` constructor: `hashlib` loads OpenSSL first (~3 ms
    of every hook's start-up, for a few small digests). `_sha2` from CPython 3.12,
    `_sha1`/`_sha256` before; hashlib where neither is built in."""
    import importlib

    for module in ("_sha2", f"_{name}"):
        try:
            found: Callable[[bytes], Any] = getattr(importlib.import_module(module), name)
            return found
        except (ImportError, AttributeError):
            continue
    import hashlib

    return functools.partial(hashlib.new, name)


@functools.cache
def bulk_hash(name: str) -> Callable[[bytes], Any]:
    """OpenSSL's `sha1` or `sha256` constructor (hashlib's): ~0.7 µs for a 500-byte blob
    against ~2.7 µs for CPython's own, once its ~2.5 ms of loading is paid (BULK_BLOBS);
    CPython's own where hashlib has none."""
    import hashlib

    found: Callable[[bytes], Any] | None = getattr(hashlib, name, None)
    return found if found is not None else builtin_hash(name)


# Blobs hashed in one run above which OpenSSL's hash repays its loading (`bulk_hash`): a
# 20,000-run sweep's hook hashes each result and record on disk (40,000 files: ~80 ms).
BULK_BLOBS = 1000


def blob_id(data: bytes, width: int, *, bulk: bool = False) -> str:
    """The id git gives `data` as a blob: SHA-1 (40 hex digits) or SHA-256 (64). `bulk`:
    one of more than BULK_BLOBS hashed in this run (`bulk_hash`); a hook of a few files
    keeps CPython's own hash."""
    name = "sha1" if width == 40 else "sha256"
    digest = (bulk_hash(name) if bulk else builtin_hash(name))(b"blob %d\0" % len(data))
    digest.update(data)
    return str(digest.hexdigest())


GITLINK = "160000"  # a submodule's mode: its entry names a commit, not a blob
SYMLINK = "120000"  # a symbolic link's mode: its blob is the target's name
# A blob git stores as a file (the others: a symlink 120000, a submodule 160000).
REGULAR_MODES = frozenset({"100644", "100755"})
# A listing with every folder's path (`ls-tree -t`) past this many bytes, at more than
# LONG_LINE bytes a line, is folders nested too deep: the files are listed alone.
LISTING_FLOOR = 64 << 20
LONG_LINE = 1024
TREE_RECORD = "040000 tree "  # how a folder's line of `git ls-tree -t` starts


def tree_entry(record: str, intern: Callable[[str], str] = sys.intern) -> TreeEntry:
    """One line of `git ls-tree -z`: "<mode> SP <type> SP <sha> TAB <path>" (the few modes
    and types interned: shared by every entry)."""
    meta, path = record.split("\t", 1)
    mode, kind, sha = meta.split(" ")
    return TreeEntry(path, intern(mode), intern(kind), sha)


@dataclass(frozen=True, slots=True)
class RawTreeEntry:
    """One entry of a tree object as git stores it: the name's bytes, whether it is a
    folder (a mode of type 040000: what git's tree order and path look-ups go by), and
    the object id."""

    name: bytes
    folder: bool
    sha: str


# A tree of git's own modes (git writes no other), parsed whole by the regex engine.
_GIT_MODES = frozenset({b"40000", b"100644", b"100755", b"120000", b"160000"})
_TREE_RECORDS = {
    width: (
        lazy_compile(rb"(?:[0-7]+ [^\0/]+\0.{%d})*" % (width // 2), re.S),
        lazy_compile(rb"([0-7]+) ([^\0/]+)\0(.{%d})" % (width // 2), re.S),
    )
    for width in (40, 64)
}


def tree_entries(data: bytes, width: int) -> tuple[list[RawTreeEntry], str | None]:
    """A tree object's folders (`width`: the object id's length in hex digits), as
    stored, and what `git fsck` refuses in the order of its entries, or None: git's tree
    order compares the names' bytes, a folder's as if it ended in '/' (`treeNotSorted`),
    and no name is listed twice (`duplicateEntries`, also a file and a folder of one
    name, which that order need not put side by side). git's path-limited readers (`git
    log -- PATH`, `ls-tree -- PATH`, `<commit>:<path>`) stop at the first entry past the
    name they look for, so in a tree out of order they miss what its whole listing shows.

    A tree of git's own modes, in order, is checked without a step per entry in Python:
    `audit --since` reads each commit's top folder, and an entry a step cost ~2 µs, so a
    pull request of 800 commits over a top folder of 20,000 files took 47 s (a hunt);
    anything else is read entry by entry, as it names its fault."""
    whole, record = _TREE_RECORDS.get(width, (None, None))
    if whole is not None and record is not None and whole.fullmatch(data):
        found = record.findall(data)
        modes = set(map(operator.itemgetter(0), found))
        if modes <= _GIT_MODES:
            names = list(map(operator.itemgetter(1), found))
            keys = (
                [n + b"/" if m == b"40000" else n for m, n, _ in found]
                if b"40000" in modes
                else names
            )
            distinct = set(names)
            in_order = all(map(operator.lt, keys, keys[1:]))
            if in_order and len(distinct) == len(names) and not distinct & _NO_NAMES:
                return [
                    RawTreeEntry(n, True, sha.hex()) for m, n, sha in found if m == b"40000"
                ], None
    return _tree_entries_one_by_one(data, width)


# Names no entry of git's has (git fsck: hasDot, hasDotdot; an empty name and one holding
# '/' are emptyName and fullPathname): a folder `results` then a file `results/y.json`
# sort as bytes, and git's path-limited reads miss the file (a review).
_NO_NAMES = frozenset({b".", b".."})


def _tree_entries_one_by_one(data: bytes, width: int) -> tuple[list[RawTreeEntry], str | None]:
    """`tree_entries`, entry by entry: the fault named (the first in the order stored)."""
    raw = width // 2
    entries: list[RawTreeEntry] = []
    seen: set[bytes] = set()
    fault = None
    last = previous = b""
    at = 0
    while at < len(data):
        space = data.find(b" ", at)
        end = data.find(b"\0", space + 1) if space != -1 else -1
        mode = data[at:space]
        if end == -1 or end + 1 + raw > len(data) or not mode or mode.strip(b"01234567"):
            return entries, fault or "is no tree git reads"
        name = data[space + 1 : end]
        folder = int(mode, 8) & 0o170000 == 0o040000
        if folder:
            entries.append(RawTreeEntry(name, folder, data[end + 1 : end + 1 + raw].hex()))
        at = end + 1 + raw
        key = name + b"/" if folder else name
        if fault is None and (not name or b"/" in name or name in _NO_NAMES):
            fault = f"names an entry '{_shown(name)}' (git fsck: a name git never writes)"
        elif fault is None and name in seen:
            fault = f"names '{_shown(name)}' twice (git fsck: duplicateEntries)"
        elif fault is None and seen and key <= last:
            fault = f"lists '{_shown(previous)}' before '{_shown(name)}' (git fsck: treeNotSorted)"
        seen.add(name)
        last = key
        previous = name
    return entries, fault


def _shown(name: bytes) -> str:
    return printable(_decode_path(name))


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One ``git ls-files -s`` line; ``stage`` is 0 unless the path is unmerged (1-3)."""

    path: str
    mode: str
    sha: str
    stage: int


@dataclass(frozen=True, slots=True)
class Change:
    """One changed path of a commit against its first parent; a missing side is ``None``.

    ``status`` is git's letter: A added, D deleted, M modified, T type changed.
    The modes (``100644``, ``120000`` a symlink, ``160000`` a submodule) say what
    each side is; they take no part in equality (a change is its path and blobs).
    """

    status: str
    path: str
    old_sha: str | None
    new_sha: str | None
    old_mode: str | None = field(default=None, compare=False)
    new_mode: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LogEntry:
    """One commit of `Git.log_touching`: who, when (committer time) and what it changed."""

    sha: str
    time: int
    author: str
    subject: str
    changes: tuple[Change, ...]


def _parse_raw(records: list[bytes], start: int) -> tuple[list[Change], int]:
    """Parse ``--raw -z`` records (``:meta`` then path) from ``start``, up to the first non-raw."""
    changes: list[Change] = []
    i = start
    while i + 1 < len(records):
        meta = records[i].lstrip(b"\n")
        if not meta.startswith(b":"):
            break
        # ":<old mode> <new mode> <old sha> <new sha> <status>" (no renames:
        # always exactly one path follows).
        old_mode, new_mode, old, new, status = meta[1:].decode("ascii").split(" ")
        changes.append(
            Change(
                status[0],
                _decode_path(records[i + 1]),
                None if old in _NULL_SHAS else old,
                None if new in _NULL_SHAS else new,
                None if old_mode == _NULL_MODE else old_mode,
                None if new_mode == _NULL_MODE else new_mode,
            )
        )
        i += 2
    return changes, i


# The empty blob by object id width (SHA-1, SHA-256): what an entry `git add -N` made
# (intent to add) names. git commits no content for such an entry: it is not staged.
EMPTY_BLOBS = frozenset(
    {
        "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
        "473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f7749120a303721813",
    }
)
FEW_PATHSPECS = 64  # (`intent_to_add`: past these, the whole index listed once)
_INTENT_TO_ADD = 1 << 29  # git's CE_INTENT_TO_ADD, as `ls-files --debug` prints the flags
_DEBUG_FLAGS = lazy_compile(
    rb"\0  ctime: [^\n]*\n  mtime: [^\n]*\n  dev: [^\n]*\n  uid: [^\n]*\n"
    rb"  size: [0-9]+\tflags: ([0-9a-f]+)\n"
)


def _not_an_empty_file(root: bytes, path: str) -> bool:
    """Whether the work tree at ``path`` (git's spelling) holds anything but an empty
    file: one with content, or nothing (deleted from disk)."""
    try:
        return os.lstat(os.path.join(root, path.encode("utf-8", "surrogateescape"))).st_size > 0
    except OSError:
        return True


def _parse_index(out: bytes) -> list[IndexEntry]:
    """``ls-files -s -z`` records: ``<mode> SP <sha> SP <stage> TAB <path>``."""
    entries: list[IndexEntry] = []
    append = entries.append
    for rec in out.decode("utf-8", "surrogateescape").split("\0")[:-1]:
        meta, path = rec.split("\t", 1)
        mode, sha, stage = meta.split(" ")
        append(IndexEntry(path, mode, sha, int(stage)))
    return entries


# `git log` as the history readers parse it: raw changes, NUL-separated, full ids, no
# renames, against the first parent of a merge, whatever the user's configuration. Its
# text in UTF-8 (`i18n.logOutputEncoding = latin1` made `show` print U+FFFD for each
# letter past ASCII of a subject or an author), each commit's changes in git's own
# order, by path (`-O` an empty file: a user's `diff.orderFile` chose it; a hunt, issue
# 18 fortieth pass).
# Every diff lists submodules whatever `.gitmodules` says: `ignore = all` there (a
# pull request's own file) hid a submodule added at a document path from every check.
_ALL_SUBMODULES = "--ignore-submodules=none"
# git's empty tree by object id width (SHA-1, SHA-256). As a base (`audit --since`) it
# is the history from before the first commit: it excludes no commit, and lists as a
# tree with no entries, so the walk of a range needs no case of its own.
EMPTY_TREES = {
    40: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    64: "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
}

_LOG_RAW = (
    "log",
    "--raw",
    "-z",
    "--no-renames",
    _ALL_SUBMODULES,
    "--no-abbrev",
    "--no-color",
    "--no-show-signature",
    "--encoding=UTF-8",
    f"-O{os.devnull}",
    "--root",
    "--diff-merges=first-parent",
)


@dataclass(frozen=True)
class Git:
    """A repository: its work-tree top (``root``; the git dir if bare) and the env git runs with.

    The environment decides which index git reads.  Inside a pre-commit hook
    git points GIT_INDEX_FILE at the index being committed (a temporary one
    for ``git commit -a`` or ``git commit PATH``), so hooks pass
    ``env=os.environ`` to see exactly what is staged.  Everything else (the
    audit, verify ``--repo DIR``) should use the default :func:`no_git_env`,
    so a repository named on the command line is never confused with the one
    a hook happens to run in.
    """

    root: Path
    git_dir: Path
    env: Mapping[str, str] = field(default_factory=no_git_env, repr=False, compare=False)

    @classmethod
    def discover(cls, path: str | Path = ".", env: Mapping[str, str] | None = None) -> Git:
        """Find the repository containing ``path``; ``env`` defaults to :func:`no_git_env`."""
        run_env = no_git_env() if env is None else dict(env)
        if not Path(path).is_dir():
            raise ExpflowError(f"not a git repository: {path}")

        def rev_parse(*args: str, quiet: bool = False, cwd: str | Path = path) -> str:
            try:
                proc = subprocess.run(
                    [*_GIT, "rev-parse", *args],
                    cwd=cwd,
                    env=_pinned(run_env),
                    capture_output=True,
                    check=False,
                )
            except FileNotFoundError:
                raise ExpflowError("git is not installed or not on PATH") from None
            if proc.returncode != 0:
                detail = first_line(proc.stderr)
                if quiet and "not a git repository" not in detail.lower():
                    return ""  # asked again, step by step
                msg = f"not a git repository: {path}"
                if "not a git repository" not in detail.lower():
                    msg += f" ({detail})"  # e.g. git's "dubious ownership" refusal
                raise ExpflowError(msg)
            return os.fsdecode(proc.stdout)

        def values(*args: str, quiet: bool = False, cwd: str | Path = path) -> list[str]:
            """rev-parse's answer to each of `args`, one a line (it has no `-z`). A path
            holding a line break gives more lines than answers: then each is asked
            alone, its whole output one answer. `str.splitlines` also split at U+2028,
            \r, \x1c, …, and a repository under such a folder crashed every command
            (a user's hunt, issue 18 twenty-third pass)."""
            lines = rev_parse(*args, quiet=quiet, cwd=cwd).split("\n")[:-1]
            if len(lines) == len(args) or not lines:
                return lines
            return [rev_parse(arg, cwd=cwd).removesuffix("\n") for arg in args]

        def work_tree(git_dir: str) -> str:
            """The work tree of a non-bare repository asked from inside its git directory,
            where --show-toplevel fails: a linked work tree's (its `gitdir` file names the
            work tree's `.git`), else the folder holding `.git`; taken only when git, asked
            there, names this git directory and that folder (a submodule's git directory
            has `core.worktree`, which --show-toplevel follows)."""
            where = Path(git_dir)
            try:
                linked = (where / "commondir").is_file()
                # (read as bytes, as git writes them: a path that is not UTF-8 is one too)
                gitdir = (where / "gitdir").read_bytes().strip() if linked else None
                dot_git = Path(os.fsdecode(gitdir)) if gitdir is not None else where
            except OSError:
                dot_git = where
            top = dot_git.parent
            if dot_git.name == ".git" and top.is_dir():
                found = values("--absolute-git-dir", "--show-toplevel", quiet=True, cwd=top)
                if [Path(f).resolve() for f in found] == [where.resolve(), top.resolve()]:
                    return found[1]
            return values("--show-toplevel")[0]  # git's own refusal

        # One process in a work tree (every hook run starts here); --show-toplevel fails
        # in a bare repository or inside the git directory, asked again without it then.
        found = values("--absolute-git-dir", "--is-bare-repository", "--show-toplevel", quiet=True)
        if len(found) == 3 and found[1] == "false":
            git_dir, root = found[0], found[2]
        else:
            git_dir, bare = values("--absolute-git-dir", "--is-bare-repository")
            root = git_dir if bare == "true" else work_tree(git_dir)
        # Every later command runs at `root`, not at `path`: pin the locations
        # a hook's env may give relative to where it was found.  Git itself
        # reads a relative GIT_INDEX_FILE (hooks get ".git/index") from the top
        # of the work tree.
        if "GIT_DIR" in run_env:
            run_env["GIT_DIR"] = git_dir
        if "GIT_WORK_TREE" in run_env:
            run_env["GIT_WORK_TREE"] = root
        index = run_env.get("GIT_INDEX_FILE")
        if index and not os.path.isabs(index):
            run_env["GIT_INDEX_FILE"] = os.path.join(root, index)
        return cls(Path(root), Path(git_dir), run_env)

    # -- running git ----------------------------------------------------

    def _exec(
        self, args: Sequence[str], input: bytes | None, *, git: Sequence[str] = _GIT
    ) -> subprocess.CompletedProcess[bytes]:
        env = dict(self.env)
        if git is not _GIT:  # pathspec magic on: only git's defaults may decide it
            for name in _PATHSPEC_VARS:
                env.pop(name, None)
        try:
            return subprocess.run(
                [*git, *args],
                cwd=self.root,
                env=_pinned(env),
                input=input,
                capture_output=True,
                check=False,
            )
        except FileNotFoundError:
            if not self.root.is_dir():
                raise ExpflowError(f"not a git repository: {self.root}") from None
            raise ExpflowError("git is not installed or not on PATH") from None

    def run(self, *args: str, input: bytes | None = None) -> bytes:
        """Run ``git ARGS`` at the root and return stdout; failure raises ExpflowError (exit 2)."""
        proc = self._exec(args, input)
        if proc.returncode != 0:
            raise _failed(args, proc.returncode, proc.stderr)
        return proc.stdout

    def ignored(self, rels: Sequence[str]) -> set[str]:
        """Those of the paths `rels` (from the root) that git's ignore rules (`.gitignore`,
        `info/exclude`) keep out of the repository; one process for all of them."""
        if not rels:
            return set()
        # check-ignore refuses --literal-pathspecs; "./" keeps a leading ":" from being magic.
        given = "".join(f"./{rel}\0" for rel in rels).encode("utf-8", "surrogateescape")
        proc = self._exec(["check-ignore", "-z", "--stdin"], given, git=_GIT_MAGIC)
        if proc.returncode not in (0, 1):
            raise _failed(["check-ignore"], proc.returncode, proc.stderr)
        out = proc.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]
        return {path.removeprefix("./") for path in out}

    def popen(
        self,
        *args: str,
        stdin: IO[bytes] | int | None = None,
        stderr: IO[bytes] | int | None = None,
        bufsize: int = -1,
        stdout: IO[bytes] | int = subprocess.PIPE,
    ) -> subprocess.Popen[bytes]:
        """Start ``git ARGS`` at the root with stdout piped (or to `stdout`), for
        streaming readers."""
        try:
            return subprocess.Popen(
                [*_GIT, *args],
                cwd=self.root,
                env=_pinned(self.env),
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                bufsize=bufsize,
            )
        except FileNotFoundError:
            raise ExpflowError("git is not installed or not on PATH") from None

    # -- commits ----------------------------------------------------------

    def resolve_commit(self, rev: str) -> Commit:
        """Resolve ``rev`` (annotated tags are peeled) to a :class:`Commit`."""
        _check_rev(rev)
        # cat-file --batch-check both resolves the name and checks the object
        # exists (rev-parse --verify accepts any well-formed 40-hex id).
        found = self._object_info(rev)
        if found is None:
            head = self._exec(["rev-parse", "--verify", "--quiet", "HEAD"], None)
            if head.returncode != 0 and not self.run("for-each-ref", "--count=1").strip():
                raise ExpflowError("repository has no commits yet")
            raise ExpflowError(f"unknown revision '{rev}'")
        sha, kind = found
        if kind == "tag":
            # Peel only the resolved id: in "HEAD:path" a suffix would be path.
            sha, kind = self._object_info(f"{sha}^{{commit}}") or (sha, kind)
        if kind != "commit":
            raise ExpflowError(f"revision is not a commit: '{rev}' is a {kind}")
        return self._read_commit(sha)

    def commit_by_id(self, sha: str) -> Commit:
        """The commit whose full object id is `sha`, as a report names one: no name, no
        abbreviation, and no annotated tag, which `resolve_commit` peels (a report naming
        a tag's id was taken for the tagged commit's: a hunter's find, issue 18
        thirty-sixth pass)."""
        found = self._object_info(sha) if _OBJECT_ID.fullmatch(sha) else None
        if found is None or found[0] != sha:
            raise ExpflowError(f"commit {printable(sha[:64])} is not in this repository")
        if found[1] != "commit":
            raise NotACommit(f"{sha[:12]} is a {found[1]}, not a commit")
        return self._read_commit(sha)

    def resolve_trusted(self, rev: str) -> Commit:
        """`resolve_commit`, for a name that decides what is trusted (`--trusted-ref`,
        `--policy-ref`, `verify --ref`, `--since`): a name two refs answer to is refused.
        git takes `refs/tags/NAME` before `refs/heads/NAME` and `refs/remotes/NAME`, so a
        tag `origin/main` anyone who can push a tag could add chose the keys or the
        policy (an attacker's hunt); the full ref name says which is meant."""
        _check_rev(rev)
        name = _REV_SUFFIX.split(rev, maxsplit=1)[0]  # `origin/main~1` names origin/main
        # A commit id is the object, and HEAD (FETCH_HEAD, …) git's own file: both first.
        pseudo = name == "HEAD" or name.endswith("_HEAD")
        if name and not _OBJECT_ID.fullmatch(name) and not pseudo:
            forms = {
                name,
                f"refs/{name}",
                f"refs/tags/{name}",
                f"refs/heads/{name}",
                f"refs/remotes/{name}",
                f"refs/remotes/{name}/HEAD",
            }
            listed = self.run("for-each-ref", "--format=%(refname)", *sorted(forms))
            # One name a line (a ref's name holds no "\n"; U+2028 it may: not splitlines).
            found = sorted(set(listed.decode("utf-8", "replace").split("\n")) & forms)
            if name.startswith("refs/") and name in found:
                found = [name]  # a full name: git reads that ref first
            if found and _SHORT_ID.fullmatch(name) and self._abbreviates(name):
                # git takes a ref before an abbreviated commit id, silently
                raise ExpflowError(
                    f"'{printable(name)}' is a ref's name and may be a commit's: give the "
                    "full commit id or the full ref name"
                )
            if len(found) > 1:
                refs = printable(", ".join(found))
                raise ExpflowError(
                    f"'{printable(name)}' names {len(found)} refs ({refs}): give the full name"
                )
        return self.resolve_commit(rev)

    def _abbreviates(self, prefix: str) -> bool:
        """Whether some object's id starts with the hex `prefix`."""
        proc = self._exec(["rev-parse", f"--disambiguate={prefix.lower()}"], None)
        return proc.returncode == 0 and bool(proc.stdout.strip())

    def _object_info(self, name: str) -> tuple[str, str] | None:
        """(sha, type) of the object ``name`` names, or None if there is none."""
        out = self.run("cat-file", "--batch-check", input=name.encode("utf-8") + b"\n")
        return _batch_check_line(out.decode("utf-8", "replace").rstrip("\n"))

    def _read_commit(self, sha: str) -> Commit:
        raw = self.run("cat-file", "commit", sha)
        lines = raw.split(b"\n\n", 1)[0].split(b"\n")
        keys = [line.partition(b" ")[0] for line in lines]
        # git reads the tree from the first line and the parents from the lines right
        # after it (fsck wants author and committer next). fsck --strict lets another
        # tree, parent or committer line by later in the header, which git never reads:
        # a report naming it would attest a tree or parents the audit did not read.
        after = 1
        while after < len(keys) and keys[after] == b"parent":
            after += 1
        if (
            keys[:1] != [b"tree"]
            or keys[after : after + 2] != [b"author", b"committer"]
            or not _HEADER_READ.isdisjoint(keys[after + 2 :])
        ):
            raise ExpflowError(
                f"commit {sha}: its header is not git's (tree, parents, author and"
                " committer, in that order and once each)"
            )
        tree = lines[0][5:].decode("ascii")
        parents = tuple(line[7:].decode("ascii") for line in lines[1:after])
        # "Name <email> 1700000000 +0000": the name may hold spaces, the last two
        # fields never do.
        fields = lines[after + 1][10:].rsplit(b" ", 2)
        if len(fields) != 3:
            raise ExpflowError(f"commit {sha}: its committer line is not git's")
        return Commit(
            sha, tree, parents, commit_time(fields[1], sha), fields[2].decode("ascii", "replace")
        )

    def rev_list(self, rev: str, base: str | None = None) -> list[str]:
        """Commits in ``base..rev`` (all of ``rev``'s history without ``base``), oldest first."""
        _check_rev(rev)
        args = ["rev-list", "--topo-order", "--reverse", rev]
        if base is not None and base not in EMPTY_TREES.values():
            _check_rev(base)
            args.append(f"^{base}")
        return self.run(*args, "--").decode("ascii").split()

    def range_trees(self, base: str | None, rev: str) -> list[tuple[str, str]]:
        """Each commit of ``base..rev`` (all of ``rev``'s history without ``base`` or for
        git's empty tree) with its tree's id, in one process, in git's topological order:
        each commit before its parents, whatever the dates (which the writer chose)."""
        _check_rev(rev)
        args = ["rev-list", "--topo-order", "--format=%T", rev]
        if base is not None and base not in EMPTY_TREES.values():
            _check_rev(base)
            args.append(f"^{base}")
        lines = self.run(*args, "--").decode("ascii").split()
        # "commit <id>" then the tree's id, for each commit
        return [(lines[i + 1], lines[i + 2]) for i in range(0, len(lines) - 2, 3)]

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether `ancestor` is in the history of `descendant` (a commit is its own ancestor)."""
        _check_rev(ancestor)
        _check_rev(descendant)
        # A commit-graph file under .git is a cache of parents git would believe;
        # the answer must come from the commit objects themselves.
        proc = self._exec(
            ["-c", "core.commitGraph=false", "merge-base", "--is-ancestor", ancestor, descendant],
            None,
        )
        if proc.returncode in (0, 1):
            return proc.returncode == 0
        raise ExpflowError(f"git merge-base: {first_line(proc.stderr)}")

    def is_shallow(self) -> bool:
        """Whether this is a shallow clone (history before the graft point is missing)."""
        return self.run("rev-parse", "--is-shallow-repository").strip() == b"true"

    def shallow_commits(self) -> frozenset[str]:
        """The commits a shallow clone cut the history at (their parents are missing)."""
        where = Path(os.fsdecode(self.run("rev-parse", "--git-path", "shallow").strip()))
        path = where if where.is_absolute() else self.root / where
        try:
            return frozenset(path.read_text("ascii").split())
        except FileNotFoundError:
            return frozenset()  # not shallow (any more)
        except (OSError, UnicodeDecodeError):
            raise ExpflowError(
                f"{path}: the shallow clone's list of cut commits is unreadable"
            ) from None

    def cuts_in_history(self, tip: str) -> list[str]:
        """The commits a shallow clone cut the history at that lie in `tip`'s history,
        sorted (none in a full clone). git reads a cut commit without parents, so one
        `rev-list` of the history's parentless commits finds them all (an `is_ancestor`
        for each cut took 0.8 s for 300 cuts: a review, issue 18 thirty-sixth pass)."""
        cuts = self.shallow_commits()
        if not cuts:
            return []
        _check_rev(tip)
        roots = self.run("rev-list", "--max-parents=0", tip, "--").decode("ascii").split()
        return sorted(cuts.intersection(roots))

    # -- trees and the index ------------------------------------------------

    def ls_tree(
        self, commit: str, paths: Sequence[str] | None = None, *, trees: bool = False
    ) -> list[TreeEntry]:
        """Every blob, symlink and submodule in ``commit``'s tree, optionally under ``paths``.

        ``paths`` are literal files or directory prefixes from the top of the tree.
        With ``trees``, every folder too (type ``tree``), listed before what it holds.
        """
        return list(map(tree_entry, self.tree_records(commit, paths, trees=trees)))

    def tree_records(
        self, commit: str, paths: Sequence[str] | None = None, *, trees: bool = False
    ) -> list[str]:
        """:meth:`ls_tree`'s lines, not yet parsed (:func:`tree_entry`): the audit parses
        only those it does not skip."""
        _check_rev(commit)
        args = ["ls-tree", "-r", "-z", "--full-tree", *(["-t"] if trees else []), commit, "--"]
        args += [_encode_path(p) for p in paths or ()]
        out = self._listing(args, bounded=trees)
        if out is None:  # folders nested too deep to list each one's path: the files alone
            return self.tree_records(commit, paths)
        # Decoding the whole listing at once and splitting str is about twice
        # as fast as per-record bytes work; the metadata is ASCII anyway.
        return out.decode("utf-8", "surrogateescape").split("\0")[:-1]

    def _listing(self, args: Sequence[str], *, bounded: bool) -> bytes | None:
        """`git ARGS` (an `ls-tree`) read as it comes through a wide pipe (fewer reads
        than `run`'s). `bounded` (a listing with folders): None once past LISTING_FLOOR
        bytes at more than LONG_LINE a line. Each folder's line holds its whole path,
        so a chain of d nested folders is d² bytes (16k of them: a 541 MB listing),
        where the files alone are listed in linear bytes. Git's stderr goes to a
        temporary file (a pipe could fill while stdout is read): a failure is told with
        git's own message, without listing again."""
        with _scratch_file() as errors:
            proc = self.popen(*args, stderr=errors or subprocess.DEVNULL)
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            with contextlib.suppress(ImportError, AttributeError, OSError):  # Linux only
                import fcntl

                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
            chunks: list[bytes] = []
            size = lines = 0
            with proc:
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                    if bounded:
                        size += len(chunk)
                        lines += chunk.count(b"\0")
                        if size > LISTING_FLOOR and size > lines * LONG_LINE:
                            proc.kill()
                            return None
            if proc.returncode != 0:
                told = b""
                if errors is not None:
                    errors.seek(0)
                    told = errors.read(1 << 16)
                raise _failed(args, proc.returncode, told)
        return b"".join(chunks)

    def ls_index(self, paths: Sequence[str] | None = None) -> list[IndexEntry]:
        """The index git's env points at (see :class:`Git`), optionally under ``paths``;
        not the entries `git add -N` made (:meth:`intent_to_add`)."""
        args = ["ls-files", "-s", "-z", "--"] + [_encode_path(p) for p in paths or ()]
        return self._staged_only(_parse_index(self.run(*args)))

    def intent_to_add(self, paths: Sequence[str]) -> frozenset[str]:
        """Of ``paths`` (stage-0 entries of the empty blob), those `git add -N` put in the
        index: git commits nothing for them, where `validate --staged` read an empty
        document (a hunt). One ``ls-files --debug``, only when such an entry is listed."""
        if not paths:
            return frozenset()
        wanted = set(paths)
        # Each pathspec is matched against every entry (paths × entries), and thousands
        # overflow the command line (`git add -N data/` of 64,000 files: exit 2, a
        # hunt): past a few, the whole index is listed once and the paths picked.
        named = map(_encode_path, sorted(wanted)) if len(wanted) <= FEW_PATHSPECS else ()
        out = self.run("ls-files", "--debug", "-z", "--", *named)
        found: set[str] = set()
        start = 0
        for match in _DEBUG_FLAGS.finditer(out):  # `PATH\0  ctime: …  flags: HEX\n`, each
            if int(match.group(1), 16) & _INTENT_TO_ADD:
                path = out[start : match.start()].decode("utf-8", "surrogateescape")
                if path in wanted:
                    found.add(path)
            start = match.end()
        return frozenset(found)

    def _staged_only(self, entries: list[IndexEntry]) -> list[IndexEntry]:
        """``entries`` without those `git add -N` made (:meth:`intended`; a link is refused
        as one, `git add -N` or not)."""
        empty = [e for e in entries if e.sha in EMPTY_BLOBS]  # (nearly always none)
        files = {e.path: e.sha for e in empty if e.stage == 0 and e.mode in REGULAR_MODES}
        intended = self.intended(files) if files else frozenset()
        return [e for e in entries if e.path not in intended] if intended else entries

    def intended(self, blob_ids: Mapping[str, str]) -> frozenset[str]:
        """Of the index's files ``blob_ids`` (path → blob id), those `git add -N` made:
        asked only of an empty blob whose file is not an empty file (an empty `.gitkeep`
        costs no process; an intended file that is empty reads as the empty document it
        is). One deleted from disk is asked too: `git add -N` then `rm` was read as an
        empty document git would never commit (a fixer's aside, issue 18 thirty-first
        pass)."""
        root = os.fsencode(self.root)
        empty = [
            p for p, sha in blob_ids.items() if sha in EMPTY_BLOBS and _not_an_empty_file(root, p)
        ]
        return self.intent_to_add(empty) if empty else frozenset()

    def index_paths(self) -> list[str]:
        """Just the paths in the index: far cheaper than :meth:`ls_index` for big indexes."""
        out = self.run("ls-files", "-z").decode("utf-8", "surrogateescape")
        return out.split("\0")[:-1]

    def work_tree_paths(self) -> tuple[list[str], frozenset[str]]:
        """Every path of the work tree git would see: tracked (as the index lists them, also
        deleted from disk) or untracked, but not ignored; each once. And those of them
        that are skip-worktree entries (a sparse checkout's files outside its cone): `git
        add -A` leaves them as the index holds them, whatever the disk has there."""
        out = self.run("ls-files", "-z", "-t", "--cached", "--others", "--exclude-standard")
        records = out.decode("utf-8", "surrogateescape").split("\0")[:-1]
        if not all(r[1:2] == " " for r in records):
            raise ExpflowError("git ls-files: unexpected output")
        skipped = frozenset(r[2:] for r in records if r[0] == "S")
        return list(dict.fromkeys(r[2:] for r in records)), skipped

    def index_paths_named(self, names: Sequence[str]) -> list[str]:
        """Index paths whose file name (last segment) is one of ``names``, in any folder."""
        return [e.path for e in self.ls_index_named(names)]

    def ls_index_named(self, names: Sequence[str], paths: Sequence[str] = ()) -> list[IndexEntry]:
        """Index entries whose file name (last segment) is one of ``names``, in any folder,
        and those at ``paths`` (exact paths, or folders).

        One ``ls-files -s`` with a ``:(glob)**/NAME`` pathspec per name and a
        ``:(literal)PATH`` one per path: git filters, so a few names cost the same in any
        size of index. A name is a plain file name (letters, digits, ``.``, ``_``,
        ``-``), so it never holds a wildcard.
        """
        for name in names:
            if not _PLAIN_NAME.fullmatch(name):
                raise ExpflowError(f"not a plain file name: {name!r}")
        if not names and not paths:
            return []
        specs = [f":(glob)**/{name}" for name in names]
        specs += [":(literal)" + _encode_path(p) for p in paths]
        proc = self._exec(["ls-files", "-s", "-z", "--", *specs], None, git=_GIT_MAGIC)
        if proc.returncode != 0:
            raise ExpflowError(f"git ls-files: {first_line(proc.stderr)}")
        return self._staged_only(_parse_index(proc.stdout))

    def read_index_file(self, path: str) -> bytes | None:
        """The staged content of ``path``; None if it is not in the index (or only unmerged,
        or not a blob). One process: ``:0:PATH`` names the index's stage-0 entry."""
        proc = self._exec(("cat-file", "blob", f":0:{path}"), None)
        return proc.stdout if proc.returncode == 0 else None

    # -- history --------------------------------------------------------------

    def changed_paths(self, commit: str) -> list[Change]:
        """The paths ``commit`` changes against its first parent (everything, for a root commit)."""
        _check_rev(commit)
        out = self.run(
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            _ALL_SUBMODULES,
            "--no-abbrev",
            "--no-commit-id",
            "--root",
            "--diff-merges=first-parent",
            commit,
            "--",
        )
        return _parse_raw(zsplit(out), 0)[0]

    def staged_changes(self, commit: str = "HEAD") -> list[Change]:
        """What the index (the one git's env points at) changes against ``commit``: as
        git commits it, so without what `git add -N` put there (an empty document to
        `protect`, git commits nothing for it)."""
        _check_rev(commit)
        out = self.run(
            "diff-index",
            "--cached",
            "--ita-invisible-in-index",
            "--raw",
            "-z",
            "--no-renames",
            "--no-abbrev",
            _ALL_SUBMODULES,
            commit,
            "--",
        )
        return _parse_raw(zsplit(out), 0)[0]

    def log_changes(
        self, base: str | None, rev: str, paths: Sequence[str], *, first_parent: bool = False
    ) -> Iterator[tuple[str, list[Change]]]:
        """Each commit in ``base..rev`` that touches ``paths``, oldest first, with its changes.

        One ``git log`` process for the whole walk; changes are against the
        first parent as in :meth:`changed_paths`.  ``--full-history`` keeps
        side branches that git's default history simplification would hide;
        ``first_parent`` walks only ``rev``'s first-parent chain instead, where a
        merge brings in what its side branch added.
        """
        _check_rev(rev)
        args = [
            *_LOG_RAW,
            "--full-history",
            "--topo-order",
            "--reverse",
            "--format=commit %H",
            rev,
        ]
        if first_parent:
            args.insert(1, "--first-parent")
        if base is not None and base not in EMPTY_TREES.values():
            _check_rev(base)
            args.append(f"^{base}")
        args += ["--", *(_encode_path(p) for p in paths)]
        records = zsplit(self.run(*args))
        i = 0
        while i < len(records):
            head = records[i].lstrip(b"\n")
            if not head.startswith(b"commit "):
                raise ExpflowError(f"git log: unexpected output near {head[:60]!r}")
            changes, i = _parse_raw(records, i + 1)
            if changes:
                yield head[len(b"commit ") :].decode("ascii"), changes

    def log_touching(self, rev: str, paths: Sequence[str]) -> list[LogEntry]:
        """Every commit in the history of ``rev`` that touches ``paths`` (files or
        directory prefixes), newest first, with its time, author, subject and changes:
        one ``git log`` for all the paths (what `show` prints as a run's history)."""
        _check_rev(rev)
        if not paths:
            return []
        # Git matches every pathspec against every entry of each folder a commit changed:
        # a run with C corrections made C pathspecs over C commits of a C-file folder,
        # C³ (2,000: 113 s). Past a few paths git is asked for their folders, and the
        # changes are kept here by path.
        specs, wanted = _covering(paths)
        out = self.run(
            *_LOG_RAW,
            # NUL can be in no field: a hostile author or subject cannot shift them.
            "--format=commit %H%x00%ct%x00%an%x00%s",
            rev,
            "--",
            *(_encode_path(p) for p in specs),
        )
        records = zsplit(out)
        entries: list[LogEntry] = []
        i = 0
        while i + 3 < len(records):
            head = records[i].lstrip(b"\n")
            if not head.startswith(b"commit "):
                raise ExpflowError(f"git log: unexpected output near {head[:60]!r}")
            sha = head[len(b"commit ") :].decode("ascii")
            time, author, subject = records[i + 1], records[i + 2], records[i + 3]
            changes, i = _parse_raw(records, i + 4)
            if wanted is not None:
                changes = [c for c in changes if _is_under(c.path, wanted)]
                if not changes:
                    continue
            entries.append(
                LogEntry(
                    sha,
                    commit_time(time, sha),
                    author.decode("utf-8", "replace"),
                    subject.decode("utf-8", "replace"),
                    tuple(changes),
                )
            )
        return entries

    # -- notes --------------------------------------------------------------

    def add_note(self, commit: str, data: bytes, ref: str = "refs/notes/expflow") -> None:
        """Attach ``data`` byte for byte as ``commit``'s note on ``ref``, replacing any old one.

        Safe against other writers of ``ref``: `git notes add` moves the ref to its new
        commit whatever the ref holds by then, so of two at once (two audits --note) the
        last to write dropped the note the other had just added, both exiting 0. Here git
        notes writes on a private ref started at ``ref``'s value, and one `update-ref`
        transaction moves ``ref`` there only if it still holds that value (and removes the
        private ref); a ref moved meanwhile is read again and the note made again on it,
        up to NOTE_ATTEMPTS times. Five git processes when no one else writes.
        """
        _check_rev(commit)
        # One process reads both: the commit's id and the ref's value (a name git may
        # also find elsewhere when the ref is missing: only a commit is taken, and the
        # compare-and-swap below reads the ref itself if it was wrong).
        asked = f"{commit}\n{ref}\n".encode("utf-8", "surrogateescape")
        lines = self.run("cat-file", "--batch-check", input=asked).decode("utf-8", "replace")
        found = [_batch_check_line(line) for line in lines.split("\n")[:2]]
        while len(found) < 2:
            found.append(None)
        target, tip = found
        if target is not None and target[1] == "commit":
            sha = target[0]
        else:  # a tag is peeled, anything else refused with resolve_commit's own message
            sha = self.resolve_commit(commit).sha
        old = tip[0] if tip is not None and tip[1] == "commit" else None
        # `notes add -F` would run the message through stripspace; storing
        # the blob first and reusing it with -C keeps the bytes exact.
        blob = self.run("hash-object", "-w", "--stdin", input=data).decode("ascii").strip()
        scratch = f"{ref}-writing-{os.getpid()}-{os.urandom(4).hex()}"
        absent = "0" * len(sha)  # update-ref's "the ref must not exist"
        try:
            for attempt in range(NOTE_ATTEMPTS):
                if old is not None:
                    self.run("update-ref", "--no-deref", scratch, old)
                elif attempt:
                    self._exec(["update-ref", "--no-deref", "-d", scratch], None)
                self.run("notes", "--ref", scratch, "add", "-f", "-C", blob, sha)
                swap = f"update {ref}\0{scratch}\0{old or absent}\0delete {scratch}\0\0"
                proc = self._exec(["update-ref", "--no-deref", "--stdin", "-z"], swap.encode())
                if proc.returncode == 0:
                    return
                now = self._ref_value(ref)
                if now == old:  # not a lost race: git's own reason
                    raise ExpflowError(f"git notes: {first_line(proc.stderr)}")
                old = now  # another writer's note came first: add ours to it
                import time

                time.sleep(os.urandom(1)[0] / 255 * 0.01 * (attempt + 1))  # out of step
            raise ExpflowError(
                f"git notes: {ref} was moved by other writers under each of {NOTE_ATTEMPTS} "
                f"attempts to add the note on {sha}; no note was stored"
            )
        except BaseException:
            # (also gone with a Ctrl-C: the transaction that moves the ref removes it)
            self._exec(["update-ref", "--no-deref", "-d", scratch], None)
            raise

    def _ref_value(self, ref: str) -> str | None:
        """The object id ``ref`` (a full ref name, read as exactly that) holds; None if
        there is no such ref."""
        listed = self.run("for-each-ref", "--format=%(objectname) %(refname)", ref)
        for line in listed.decode("utf-8", "surrogateescape").split("\n"):
            value, _, name = line.partition(" ")
            if name == ref:  # (the pattern also lists the refs under a folder of that name)
                return value
        return None

    def read_note(self, commit: str, ref: str = "refs/notes/expflow") -> bytes | None:
        """``commit``'s note on ``ref``, or None if it has none."""
        _check_rev(commit)
        proc = self._exec(["notes", "--ref", ref, "list", commit], None)
        if proc.returncode == 1:  # "no note found for object"
            return None
        if proc.returncode != 0:
            raise ExpflowError(f"git notes: {first_line(proc.stderr)}")
        return self.run("cat-file", "blob", proc.stdout.decode("ascii").strip())


class NotACommit(ExpflowError):
    """`Git.commit_by_id`: the id is in the repository, as another object (a tag's): no
    hint to fetch it applies."""


def _batch_check_line(line: str) -> tuple[str, str] | None:
    """(sha, type) from a `cat-file --batch-check` line, None for a name that names no
    object: "<name> missing" / "<name> ambiguous" (the name may hold spaces), or
    "<sha> <type> <size>"."""
    if not line or line.endswith((" missing", " ambiguous")):
        return None
    sha, kind, _ = line.split(" ")
    return sha, kind


def unignored_work_tree(path: str) -> Path | None:
    """The root of the git work tree `path` lies in, unless .gitignore keeps `path` out
    (None then, and outside any work tree): where a file is one `git add -A` from being
    committed."""
    try:
        git = Git.discover(os.path.dirname(os.path.abspath(path)))
    except ExpflowError:
        return None  # not in a repository (or no git)
    if git.root == git.git_dir:
        return None  # a bare repository has no work tree
    # Not through Git.run: check-ignore refuses its --literal-pathspecs. Exit 0: ignored.
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "--", os.path.abspath(path)],
        cwd=git.root,
        env=dict(git.env),
        capture_output=True,
        check=False,
    )
    return None if ignored.returncode == 0 else git.root
