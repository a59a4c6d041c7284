"""The per-blob validation cache: what checking a blob's *content* found, keyed
by (blob SHA, policy digest, tool version, the build's code digest:
resources.code_digest) under `<git dir>/expflow/cache/`.

A blob's content never changes, so its strict-JSON/schema outcome, a result's registry
findings and the canonical spellings of its numbers, and its PIN-scan findings can be
reused by every later audit under the same policy and build. Path-dependent checks (file
name = id, the scan's allow-list) are always redone. The cache is sharded by the first
two hex digits of the blob SHA so a small run loads little, and a blob that no path
reads as a document (a note, code: only scanned) is kept in shards of its own (`scan-
XX`): a warm audit takes the documents from the folder cache (folders.py), and answers
the others without loading the documents' shards, ~85 MB of records at 100k runs for
1,000 notes (issue 18). Each shard is written whole to a temp file and renamed, so
concurrent writers (pre-commit runs batches in parallel) can only lose each other's
additions, never corrupt a shard. A shard file is its header line, the SHA-256 of its
body, and the body; a shard whose header differs or whose body does not match its digest
(truncated, edited, a disk error) is a miss, as is anything unreadable or malformed, and
so is a record without the shape the audit wrote: the cache is rebuilt. A shard whose
digest was recomputed after an edit is believed (only someone who can write into .git
can do that); `verify --recompute` never reads the cache, so it catches such a report.

The cache is local and trusted (docs/threat-model.md): a record decides a verdict
without the blob being read again, so a shard is only believed if this user wrote
it. One owned by another user, that another user could have written (group- or
world-writable), or a symbolic link in its place, is ignored like a damaged one
(localcache.read_trusted), and named in `distrusted` so that the command can warn
about it; the next save replaces it with one of ours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from expflow_git import __version__
from expflow_git.audit.folders import FolderCache
from expflow_git.localcache import prune_unused, read_trusted, state_dir, write_own
from expflow_git.resources import build_id, code_digest

# 32: the forty-third pass's review (a keyword's `\\` line break before a quote read one
# way; a quote spanning or left open before a keyword no keyword); 31: the forty-third
# pass (fish's keywords as fish reads them, `a''nd`, `'and'`; fish
# 4's `{`, `else`, csh's `if (…)` and `repeat N` before a command; `(cmd)` and `` `cmd` ``
# values; PowerShell's `${env:NAME} = value`); 30: the forty-second pass (a keyword
# after a command's word, `echo and \\`, begins
# no statement; a quoted one does); 29: the forty-first pass's review (a `set` after
# `true; \\` read; a `value` key above comment lines past 256 characters read); 28:
# the forty-first pass's PIN scan (a compared literal in `${{ }}` is no value; a
# `value` key past comment lines read; a continued line begins no `set` statement); 27:
# the fortieth pass's PIN scan (name/value pairs, `ENV`/`set -x`/`setenv`/`setx` read
# again, linear; a workflow's `--pin ${{ … || 'NNNN' }}`); 26: the thirty-ninth pass's
# PIN scan (a `\t` escape a string goes on after is a blank, `--pin NNNN.`, a notebook's
# cell escapes and text outside its cells, wide text after a byte-order mark, an 8-byte
# salt's hash); 25: name/value
# pairs no longer read (23's reader reverted); 24: the PIN scan reads
# `--pin` in a data file's argument list; 23: name/value pairs, `ENV`/`set`/`setenv`/
# `setx`; 22: a `--pin` default (`${X:-NNNN}`); 21: literals in references; 20: `%NN`
# escapes; 19: a secret after a letter escape (`\n`) or a colour code; 18: blobs only
# scanned have shards of their own (`scan-XX`); 17: the PIN scan reads a flow mapping below
# its key and a plain `pin=NNNN` tag; 16: the PIN scan reads YAML lists, anchors, values
# below keys, quoted keys, escaped `$` and `\"`, `pin:` tags; 15: what the PIN scan flags is
# masked in findings, reasons and corrections' text; 14: a private key's body may write `/`
# as `\/` (a JSON string); 13: the PIN scan reads files over 8 MiB (they were skipped); 12:
# the PIN scan decodes \x and \U escapes and blank-padded line continuations; 11: a path is
# spelled one to one (errors.path_text: a backslash doubled); 10: a number a double does not
# hold as written is refused (a record of 9 may have taken it); 9: records keep their
# `reason` (issue 16); 8: results may hold series (issue 19); 7: the PIN scan decodes \u
# escapes, YAML anchors and tags, split hashes
FORMAT = 32


class BlobCache:
    """Cached records by blob SHA, one shard (first two hex digits) at a time."""

    def __init__(
        self, directory: Path, policy_digest: str, policy_path: str, below: Path | None = None
    ) -> None:
        self.directory = directory
        self.below = below  # the git directory: no folder between it and a shard is a link
        self.header = {
            "format": FORMAT,
            "tool": build_id(),
            "policy": policy_digest,
            "policyPath": policy_path,
        }
        self._shards: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        # Shard files ignored because this user may not have written them, with why.
        self.distrusted: list[tuple[Path, str]] = []

    @classmethod
    def for_git_dir(cls, git_dir: Path, policy_digest: str, policy_path: str) -> BlobCache:
        """The cache of one policy: its bytes and its path (findings name the policy file)."""
        named = f"{policy_digest}\0{policy_path}".encode("utf-8", "surrogatepass")  # any path
        key = hashlib.sha256(named).hexdigest()
        directory = state_dir(git_dir) / "cache" / f"{__version__}-{code_digest()}-{key[:16]}"
        return cls(directory, policy_digest, policy_path, below=git_dir)

    def folders(self, scan: bool) -> FolderCache:
        """The folder cache beside this one (folders.py): same policy, tool and owner checks."""
        return FolderCache(
            self.directory, self.header, scan=scan, below=self.below, distrusted=self.distrusted
        )

    @staticmethod
    def shard_of(sha: str, *, document: bool) -> str:
        """The shard of a blob: its first two hex digits, in the family of the blobs read
        as documents or of those only scanned."""
        return sha[:2] if document else f"scan-{sha[:2]}"

    def _shard(self, name: str) -> dict[str, Any]:
        shard = self._shards.get(name)
        if shard is None:
            shard = self._load(self.directory / f"{name}.json")
            self._shards[name] = shard
        return shard

    def _load(self, path: Path) -> dict[str, Any]:
        data, why = read_trusted(path, below=self.below)
        if why:
            self.distrusted.append((path, why))
        if data is None:
            return {}
        try:
            header, digest, body = data.split(b"\n", 2)
            if json.loads(header) != self.header:
                return {}
            if digest.decode("ascii") != hashlib.sha256(body).hexdigest():
                return {}
            records = json.loads(body)
        except (ValueError, RecursionError):
            return {}
        return records if isinstance(records, dict) else {}

    def mark_used(self) -> None:
        """Note this cache used now, and remove the cache folders (other builds', other
        policies') that no audit has used for localcache.UNUSED_DAYS."""
        if self.below is not None:
            prune_unused(self.directory, below=self.below)

    def distrust_warning(self) -> str | None:
        """One warning for every shard ignored as not this user's own (an attacker could
        make hundreds), or None."""
        if not self.distrusted:
            return None
        path, why = self.distrusted[0]
        more = f" (and {len(self.distrusted) - 1} more)" if len(self.distrusted) > 1 else ""
        return (
            f"{path}: cache file ignored, {why}{more}; the cache must be this user's own "
            "(the audit re-read those documents)"
        )

    def records(self, shard: str) -> dict[str, Any]:
        """Every record of one shard (shard_of) by blob SHA; may be edited in place."""
        return self._shard(shard)

    def put(self, shard: str, sha: str, record: Mapping[str, Any]) -> None:
        self._shard(shard)[sha] = dict(record)
        self._dirty.add(shard)

    def save(self, shard: str) -> None:
        """Write the shard if it changed, then forget it; a cache we cannot write is not kept."""
        records = self._shards.pop(shard, None)
        if records is None or shard not in self._dirty:
            return
        self._dirty.discard(shard)
        body = json.dumps(records, separators=(",", ":")).encode()
        header = json.dumps(self.header, separators=(",", ":")).encode()
        digest = hashlib.sha256(body).hexdigest().encode()
        write_own(
            self.directory / f"{shard}.json",
            header + b"\n" + digest + b"\n" + body,
            below=self.below,
        )
