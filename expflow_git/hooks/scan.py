"""`scan`: gather the files to scan (given paths, or every tracked file) and scan them."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from expflow_git.errors import ExpflowError, Finding
from expflow_git.heap import no_cyclic_gc
from expflow_git.pinscan.scanner import name_findings, path_is_allowed, scan_bytes
from expflow_git.workspace import (
    SYMLINK,
    NotRegular,
    Workspace,
    linked_folder,
    os_path,
    outside_root,
    read_regular,
    repo_path,
    through_link,
    walk_files,
)

if TYPE_CHECKING:
    from expflow_git.gitstore import Git


@no_cyclic_gc()  # see heap.py: millions of acyclic objects
def scan_paths(
    ws: Workspace, paths: Sequence[str], *, warn: Callable[[str], None]
) -> tuple[list[Finding], int]:
    """Scan `paths` (or every tracked file); returns findings and the number of files read."""
    allow = _allow_list(ws, warn)
    # Each file to scan: its path on disk (the OS's convention) and, where it is already
    # known, its path in the documents' convention (`workspace.repo_path`), as the index
    # names it. A known path is not asked of the disk again: under a locale whose
    # filesystem encoding is not UTF-8 an index path joined to the root named other bytes
    # than the file's, and `os.path.realpath` of it raised UnicodeEncodeError (`scan`,
    # `scan --staged` and `protect` ended in a traceback, issue 18 thirtieth pass).
    targets: list[tuple[Path, str | None]] = []
    named: list[Finding] = []  # the names of what no file's scan names (below)
    # With --staged, a path that is no file on disk (a folder, or nothing) is read from
    # the index: the index's entry of that name, else its entries below it. A key staged
    # and its file then replaced by a folder, a file staged and deleted from the disk, a
    # folder the disk no longer has, passed (a review; the twenty-first pass). Asked only
    # of such paths (rare: a hook is given files).
    odd = {p for p in paths if _no_file(p)} if ws.staged else set()
    # The index's names are git's bytes as UTF-8 (`workspace.repo_path`), the paths given
    # the locale's: under latin-1 a staged `këy.txt` given was "not staged", unscanned.
    listed = ws.index_below([repo_path(ws.rel(p)) for p in odd])
    given: set[int] = set()  # (--staged) the positions of files named, not found below
    # A file on disk below a folder that is a symbolic link is never read through it: git
    # commits the link (its target string, scanned when the link is given or listed),
    # never what it points at, and `git add` refuses such a path ("beyond a symbolic
    # link"). `scan data/x`, `data` a link, read the file it led to and called it clean,
    # `scan data/sub` walked the folder, and `scan` read a tracked file below a folder
    # made a link from wherever the link pointed (a hunt, issue 18 fortieth pass).
    links: dict[str, bool] = {}
    for p in paths:
        if not ws.staged and (folder := _linked(ws, rel := repo_path(ws.rel(p)), links)):
            named.append(_through_link(rel, folder))
        elif p in odd and (under := listed.get(rel := repo_path(ws.rel(p)))) is not None:
            if under != [rel] and not (allow and path_is_allowed(rel, allow)):
                named += name_findings(rel)  # a folder's own name (below)
            targets.extend((ws.root / os_path(u), u) for u in under)
        elif not ws.staged and os.path.isdir(p) and not Path(p).is_symlink():
            # A submodule (the hook is given its path) or a folder: its own name stays in
            # the history as a file's does (a PIN's digest as a submodule's name was
            # committed past the hooks: a review); the files below name themselves.
            # A link to a folder (`data -> /mnt/datasets`, or `data/`) is a link: its
            # target string is scanned below, as git stores it, never the folder walked
            # (files git never commits were scanned, "clean", and the target string not:
            # a hunt, thirty-eighth pass).
            rel = repo_path(ws.rel(p))
            if not (allow and path_is_allowed(rel, allow)):
                named += name_findings(rel)
            targets.extend((Path(p) / sub, None) for sub in walk_files(Path(p)))
        elif not (p in odd and os.path.isdir(p)):  # (a folder the index has nothing under)
            given.add(len(targets))
            targets.append((Path(p), None))
        else:
            named.append(_not_staged(repo_path(ws.rel(p))))
    if not paths:
        # In a repository the index's paths (the documents' convention), else the walk's
        # names (the OS's).
        if ws.git is not None:  # (not below a linked folder: gone from the disk, for git)
            tracked = ws.tracked_paths()
            targets = [(ws.root / os_path(r), r) for r in tracked if not _linked(ws, r, links)]
        else:
            targets = [(ws.root / rel, repo_path(rel)) for rel in ws.tracked_paths()]
    rels = [repo_path(ws.rel(full)) if rel is None else rel for full, rel in targets]
    findings: list[Finding] = []
    count = 0
    if ws.staged:
        by_position: list[tuple[int, list[Finding]]] = []
        for position, rel, data in _staged(ws, rels):
            given.discard(position)
            if data is None:  # a submodule: its name alone
                found = [] if allow and path_is_allowed(rel, allow) else name_findings(rel)
            else:
                count += 1
                found = scan_bytes(rel, data, allow=allow)
            if found:
                by_position.append((position, found))
        # A path named that the index lacks was "0 file(s) clean", where `validate
        # --staged` refuses it (a user's hunt, issue 18 twenty-third pass): the index
        # is what --staged scans, and a file about to be added is not known clean.
        by_position += [(at, [_not_staged(rels[at])]) for at in given]
        by_position.sort(key=lambda item: item[0])  # in the order given, as from disk
        return named + [f for _, found in by_position for f in found], count
    for position, ((full, _), rel) in enumerate(zip(targets, rels, strict=True)):
        content = _read(full)
        if isinstance(content, str):  # a file there that cannot be read: named, not clean
            findings.append(_cannot_read(rel, content))
            continue
        if content is None:
            # A file named that is not there (a typo) was "0 file(s) clean" (a hunt,
            # issue 18 twenty-eighth pass): nothing was scanned, so it is not known clean.
            # A tracked file deleted from the disk, when none is named, has nothing to scan.
            if position in given:
                findings.append(_unreadable(rel, full))
            elif not paths and full.is_dir() and not (allow and path_is_allowed(rel, allow)):
                # A submodule the index lists (its checkout a folder here): its name is
                # what this repository holds of it, and `scan` with no PATHS said "clean"
                # of a PIN's digest there, which `scan --staged` and the audit refuse (a
                # hunt, issue 18 thirty-ninth pass).
                findings.extend(name_findings(rel))
            continue
        count += 1
        findings.extend(scan_bytes(rel, content, allow=allow))
    return named + findings, count


def _linked(ws: Workspace, rel: str, links: dict[str, bool]) -> str | None:
    """The first folder of `rel` (as `ws.rel` names it) that is a symbolic link on disk,
    None when none is, nor for a path outside the root (`links` remembers each folder)."""
    return None if outside_root(rel) else linked_folder(ws.root, rel, links)


def _through_link(rel: str, folder: str) -> Finding:
    """A path named to `scan` (from disk) below `folder`, a symbolic link on disk."""
    from expflow_git.checks import Problem

    return Finding(rel, Problem.NOT_A_FILE.value, through_link(folder, "files"))


def _cannot_read(rel: str, why: str) -> Finding:
    """A file `scan` found but could not read, as `validate` says of a document."""
    from expflow_git.checks import Problem

    return Finding(rel, Problem.NOT_A_FILE.value, why)


def _unreadable(rel: str, full: Path) -> Finding:
    """A path named to `scan` (from disk) that is no file to read, as `validate` says."""
    from expflow_git.checks import Problem

    why = "is not a regular file" if os.path.lexists(full) else "no such file"
    return Finding(rel, Problem.NOT_A_FILE.value, why)


def _not_staged(rel: str) -> Finding:
    """A path named to `scan --staged` that the index does not hold, as `validate
    --staged` reports one."""
    from expflow_git.checks import Problem

    return Finding(rel, Problem.NOT_A_FILE.value, "not staged")


def _no_file(path: str) -> bool:
    """Whether `path` is a folder (a link to one too) or nothing on disk: one `lstat` for
    a file (a hook is given thousands)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return True
    return os.path.isdir(path) if stat.S_ISLNK(mode) else stat.S_ISDIR(mode)


def _staged(ws: Workspace, rels: list[str]) -> Iterator[tuple[int, str, bytes | None]]:
    """(position in `rels`, path, staged content) of each of `rels` the index holds: one
    `ls-files` for them all, each from the file on disk when it is the staged blob
    (`same_on_disk`), the others through one blob stream (a hook's git processes must
    not grow with the commit); one blob in memory at a time. A submodule's content is
    None: its name is all this repository holds of it."""
    from expflow_git.gitblobs import BlobReader, staged_entries
    from expflow_git.gitstore import BULK_BLOBS, GITLINK
    from expflow_git.hooks.lookup import same_on_disk

    if ws.git is None:
        return
    entries = staged_entries(ws.git, rels, links=True)
    from_git = []
    bulk = len(entries) > BULK_BLOBS
    for position, rel in enumerate(rels):
        if rel in entries and entries[rel].mode == GITLINK:
            yield position, rel, None
        elif rel in entries:
            data = same_on_disk(ws.root, rel, entries[rel].sha, bulk=bulk)
            if data is None:
                from_git.append((position, rel))
            else:
                yield position, rel, data
    if not from_git:
        return
    with BlobReader(ws.git) as reader:
        blobs = reader.read_many(entries[rel].sha for _, rel in from_git)
        for (position, rel), (_, data) in zip(from_git, blobs, strict=True):
            yield position, rel, data


def _read(full: Path) -> bytes | str | None:
    """The bytes to scan on disk: the file, or a symbolic link's target string; None
    where there is nothing to read (no file, a folder, a pipe, a device), or why the file
    there cannot be read (an error of the OS: it was a one-line `error: Input/output
    error` naming no file, exit 2, with the other files' findings unsaid; a hunt, issue
    18 fortieth pass). One open that never follows a link (`workspace.read_regular`):
    a link check, then `is_file` and `read_bytes` followed one made meanwhile, and a
    named pipe made there then blocked the read."""
    try:
        return read_regular(full, None, follow_links=False)  # any size (scanned in parts)
    except NotRegular as exc:
        if exc.kind != SYMLINK:
            return None
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    # A link's content, as git stores it, is its target string: scanned, never followed
    # (a PIN hash committed as a link target would otherwise pass every check).
    try:
        return os.fsencode(os.readlink(full))
    except OSError:
        return None


def _allow_list(ws: Workspace, warn: Callable[[str], None]) -> tuple[str, ...]:
    """The policy's scan.allow globs; a missing or broken policy narrows nothing."""
    if not ws.policy_path.exists():
        return ()
    try:
        allow = ws.load_policy().scan_allow
    except ExpflowError as exc:
        warn(f"warning: policy not used for the scan allow-list: {exc.message}")
        return ()
    if not allow or not ws.staged or ws.git is None:
        return allow
    at_head = _allowed_at_head(ws.git, ws.rel(ws.policy_path))
    if at_head is None:  # a repository's first commit: the staged policy is the only one
        return allow
    new = [glob for glob in allow if glob not in at_head]
    if new:
        warn(
            f"warning: scan.allow {', '.join(map(repr, new))} takes effect once committed: "
            "the files it names are scanned in this commit"
        )
    return tuple(glob for glob in allow if glob in at_head)


def _allowed_at_head(git: Git, rel: str) -> tuple[str, ...] | None:
    """HEAD's scan.allow (none when HEAD holds no policy that loads), or None before the
    repository's first commit. An entry staged with the files it exempts took effect at
    once: a PIN hash and a key were committed beside `allow: ["**"]` (an attacker's
    hunt), where CI, judging by the base's policy, refuses them. An unborn HEAD in a
    repository that has commits (an orphan branch) allows nothing: it took the staged
    list whole, and a PIN hash was committed beside it (a user's hunt, issue 18
    twenty-third pass). A symbolic link or a submodule at the policy's path is no policy
    (as the audit reads HEAD): a link's target text, one line of flow YAML committed past
    the hooks, was read as HEAD's allow-list. One `ls-tree`, and the blob from the file
    on disk when it is HEAD's, else one `cat-file`; HEAD is asked for only when the
    listing fails."""
    from expflow_git.gitstore import REGULAR_MODES
    from expflow_git.hooks.lookup import file_or_blob
    from expflow_git.policy.load import load_policy_bytes

    try:
        listed = git.ls_tree("HEAD", [rel])
    except ExpflowError:
        try:
            git.resolve_commit("HEAD")
        except ExpflowError:
            # Unborn HEAD: only a repository without any ref commits its first policy.
            return () if git.run("for-each-ref", "--count=1").strip() else None
        return ()
    entry = next((e for e in listed if e.path == rel), None)
    if entry is None or entry.type != "blob" or entry.mode not in REGULAR_MODES:
        return ()
    try:
        data = file_or_blob(git, rel, entry.sha)
    except ExpflowError:
        return ()
    try:
        return load_policy_bytes(data, path=rel).scan_allow
    except ExpflowError:
        return ()
