"""The keys a verification trusts: --public-key files, `.expflow/keys/*.pub` as committed
at a trusted ref, and an OpenSSH allowed_signers file; never keys from the report."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from expflow_git.errors import ExpflowError, printable
from expflow_git.report import trust
from expflow_git.report.trust import TrustedKey
from expflow_git.report.verify import Line

if TYPE_CHECKING:
    from expflow_git.gitstore import Git


@dataclass(frozen=True)
class Keyring:
    """The trusted keys, and a verdict line per key read at the ref (saying where from)."""

    keys: list[TrustedKey]
    lines: list[Line] = field(default_factory=list)
    ref_keys: list[trust.RefKey] = field(default_factory=list)  # those read at the ref


def trusted_keys(
    paths: Sequence[str],
    *,
    trusted_ref: str | None = None,
    allowed_signers: str | None = None,
    git: Git | None = None,
    verified: Git | None = None,
    warn: Callable[[str], None],
) -> Keyring:
    """Gather the keys (`git` is where `trusted_ref` is read; whether the ref holds the
    verified commit is the caller's check, on the verified commit alone). A ref
    without keys, skipped allowed_signers lines, and a key file the `verified` repository
    tracks are told to `warn` as they are found."""
    keys = trust.from_files(paths)
    if verified is not None:
        files = [*paths, *([allowed_signers] if allowed_signers else [])]
        for name in tracked_in(verified, files):
            warn(
                f"{printable(name)} is a file of the repository being verified: a commit can "
                "change it, so it proves nothing about that commit; keep trusted keys "
                "outside it, or read them at a ref (--trusted-ref)"
            )
    lines = []
    ref_keys: list[trust.RefKey] = []
    if trusted_ref:
        if git is None:
            raise ExpflowError("--trusted-ref needs a repository (run inside one or pass --repo)")
        at_ref = trust.at_ref(git, trusted_ref, verified_commit=None, warn=warn)
        ref_keys = at_ref.keys
        keys += [k.trusted for k in at_ref.keys]
        lines += [Line("key", True, k.describe()) for k in at_ref.keys]
        for path in at_ref.nested:
            warn(
                f"{printable(path)} at {printable(trusted_ref)} is not trusted: only "
                f"{trust.KEYS_DIR}/*.pub, not its sub-folders"
            )
        if not at_ref.keys:
            usable = "no Ed25519 key in" if at_ref.other_types else "no"
            warn(f"{usable} .expflow/keys/*.pub at {printable(trusted_ref)}")
    if allowed_signers:
        from expflow_git.report.allowed_signers import NAMESPACE, load_allowed_signers

        loaded = load_allowed_signers(allowed_signers)
        for warning in loaded.warnings:
            warn(warning)
        if not loaded.keys:
            raise ExpflowError(
                f"{allowed_signers}: no ssh-ed25519 key usable for namespace {NAMESPACE!r} "
                "(see ssh-keygen(1), ALLOWED SIGNERS)"
            )
        keys += loaded.keys
    return Keyring(keys, lines, ref_keys)


def tracked_in(git: Git, files: Sequence[str]) -> list[str]:
    """Those of `files` (as given) that the repository's index tracks: one `ls-files`
    for those inside its work tree, after links."""
    root = os.path.realpath(git.root)
    inside: dict[str, str] = {}
    for name in files:
        rel = os.path.relpath(os.path.realpath(name), root)
        # (`..ci.pub` is a name inside: only `..` itself, or a path under it, is outside)
        if rel not in (os.curdir, os.pardir) and not rel.startswith(os.pardir + os.sep):
            inside[rel.replace(os.sep, "/")] = name
    if not inside:
        return []
    tracked = {e.path for e in git.ls_index(list(inside))}
    return [name for rel, name in inside.items() if rel in tracked]
