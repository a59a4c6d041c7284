"""`install-hooks`: the plain git hooks in hooks/scripts/, for repositories without pre-commit."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import sys
from pathlib import Path

from expflow_git.atomicfile import folder_in_the_way, kind_of, write_atomic
from expflow_git.errors import ExpflowError, printable
from expflow_git.gitstore import Git

HOOK_NAMES = ("pre-commit", "pre-merge-commit", "pre-push")
_DEFAULT_LINE = "EXPFLOW_PYTHON=${EXPFLOW_PYTHON:-}"


def hook_source_dir() -> Path:
    """The shipped hook scripts: package data beside this module, in a checkout or a wheel."""
    return Path(__file__).resolve().parent / "scripts"


# The SHA-256 of every version of each script that expflow-git has shipped, with its
# interpreter line emptied (`shipped_digest`): a hook with one of these digests was
# written by `install-hooks` and never edited, so it is replaced by the current one.
# Anything else (edited, merged by hand, another tool's) is kept. Changing a script
# means adding its new digest here (tests/test_githooks.py holds the table to the files).
SHIPPED = {
    "pre-commit": frozenset(
        {
            "15999306ac3b27f4ef4816646cfd37164abd28d8257d8f48fe5f4877449457ae",
            "36de57067478be41d9b855e1870874538a9b2a16062a829141b6e9d2532ad9e5",
            "700cf6534f3155dbaea9eca4c7ab7f5ff283ad89030ea32867cf250e2b548df8",
            "850797ba10b9d0e5aba63911b53bc88cc502471dfb9d8d5c77a91f0d51999277",
            "93f8ae565376cca8390ccdf2b2b1e5acbe2117d97309d4897784dbe2f6107925",
            "d9dd002e314326387a59cd90e7256c79b83b65587450de392d80e23ad6ee7bd7",
            "dbf20d33b4591c68901ceb04cd5e94619c84979d2fe026ece2874bbd9277e7c4",
            "f97b7b516c73fcc097953a1887b54ef6ddbced5c8d3b8f92d981718ad1197bb3",
            "7a8a47472f5efe7520c8d56eae6922bb36e66e524f07ff99c92098063126b7d1",
            "7c2e6a7b6015c38dc3ecc00c85e5e6a60239f6c4757ab507dca946697bc37996",
            "6b3eba69d202a779f8292f7a33f3782f39f86c224bc78e6f357378b817141f99",
        }
    ),
    "pre-merge-commit": frozenset(
        {"8f7f1c303f42778c55533be204cfe4941cc28ca5e0687cdd8fe6a019a027b221"}
    ),
    "pre-push": frozenset(
        {
            "04ceb7d731a2744a5c77e99f2e093699785ebe8d0111fb58ce129f07a99602bd",
            "32c630a432213349c55730edbb0b26846d18dad8226296ecf66cb513c3b940e4",
            "50f3b0647291e82a083e478dd2a7967c54b5f1779e3560701a54ba1eac522c80",
            "b2da518e6dcd78bc29f83fd649aba65a3a451ea9999c3c735070c2db145b2168",
            "a1dd59cd66a93dcd46a5ef632c1640454cb02a846717a89fb6c11c712e80297d",
            "aabf775d856a15fb47bddf4563f1c4515886e4d8b61264c80347969c1c154910",
            "4684e0e9a8d0c403712defd83d870d679a470ceef222595d3c91d9e994a8b728",
            "78c73dd70495bb1fe96574b1a2ea482157cc27ccb393136905c4571dbf4fad4f",
            "474bf57670142e4128d6d8a8091ff65dc18feba2b3fd4cef4a6a25a66ea3722b",
            "ef077abacd751ba1c66c2ca849e674d8f7477c2a6c649c69e706e1f36cd3d3b6",
            "46e91dcde769b1c8c18c237d032ac28ff41be5fd2757f266dba8f88d25d4c2be",
            "68d9b102c08e8d6f798e1dc0b027b630247f5ee17392cc59ca248caaec272d25",
            "b95ef7762c5a75302e81949c3bd04b3cf7db979c40e77f7ed4fa0540df248126",
        }
    ),
}
# The line install-hooks fills in (EXPFLOW_GIT before the hooks called Python directly).
_INTERPRETER_LINE = re.compile(r"(?m)^(EXPFLOW_(?:GIT|PYTHON))=\$\{\1:-.*\}$")


def shipped_digest(text: str) -> str:
    """A hook's digest with the interpreter it was installed for left out."""
    plain = _INTERPRETER_LINE.sub(lambda m: f"{m[1]}=${{{m[1]}:-}}", text)
    return hashlib.sha256(plain.encode("utf-8", "surrogateescape")).hexdigest()


def _own_path(git: Git, *args: str) -> Path:
    """A path `git rev-parse` answers, absolute (it answers from the work tree's root)."""
    path = Path(os.fsdecode(git.run("rev-parse", *args).rstrip(b"\n")))
    return path if path.is_absolute() else git.root / path


def install_hooks(git: Git) -> list[tuple[str, str]]:
    """Install each hook unless another exists; one that an earlier expflow-git installed,
    unedited, is replaced (the hooks before 0.1.0's last fixes ran `python -m` in the work
    tree, importing a branch's own `expflow_git/`). Returns (hook path, what was done)."""
    hooks_dir = _own_path(git, "--git-path", "hooks")
    common = _own_path(git, "--git-common-dir")
    if not os.path.realpath(hooks_dir).startswith(os.path.join(os.path.realpath(common), "")):
        # core.hooksPath: a folder other repositories share, or one the work tree tracks
        # (the hooks name this machine's interpreter). pre-commit refuses it too.
        try:
            git.run("config", "--get", "core.hooksPath")  # (set, even to "", or exit 1)
            configured = True
        except ExpflowError:
            configured = False
        why = (
            "core.hooksPath names a folder outside this repository's git directory"
            if configured
            else "the hooks folder is a link out of this repository's git directory"
        )
        fix = (
            "unset it where `git config --show-origin core.hooksPath` says it is set"
            if configured
            else "replace the link"
        )
        raise ExpflowError(
            f"{printable(str(hooks_dir))}: {why}, which other repositories or the work tree "
            f"may share; refusing to install there ({fix})"
        )
    _nothing_in_the_way(hooks_dir)
    # The hooks call this very installation, whatever PATH the committer has.
    python = shlex.quote(sys.executable)
    report = []
    for name in HOOK_NAMES:
        target = hooks_dir / name
        text = (hook_source_dir() / name).read_text()
        text = text.replace(_DEFAULT_LINE, "EXPFLOW_PYTHON=${EXPFLOW_PYTHON:-" + python + "}")
        if target.is_symlink() or target.exists():
            found = b"" if target.is_symlink() or not target.is_file() else target.read_bytes()
            if found == text.encode():
                report.append((str(target), _KEPT))
                continue
            if shipped_digest(found.decode("utf-8", "surrogateescape")) not in SHIPPED[name]:
                report.append((str(target), _KEPT_OTHER))
                continue
            write_atomic(target, text.encode(), mode=0o755)
            report.append((str(target), "updated (an earlier expflow-git hook)"))
            continue
        try:
            write_atomic(target, text.encode(), mode=0o755, overwrite=False)
        except FileExistsError:
            # Made meanwhile (two `install-hooks` at once: the second said `…/pre-commit:
            # File exists`, exit 2, of a hook installed; a hunt, issue 18 forty-first
            # pass): judged as a hook there before is. A folder is named as the write's
            # error names it ("is a folder, not a file").
            if kind_of(target) != "a file":
                raise
            same = target.read_bytes() == text.encode()
            report.append((str(target), _KEPT if same else _KEPT_OTHER))
            continue
        report.append((str(target), "installed"))
    return report


_KEPT = "kept (already installed)"
_KEPT_OTHER = "kept: a different hook exists; merge it by hand"


def _nothing_in_the_way(hooks_dir: Path) -> None:
    """Refuse (exit 2, before any hook is written) what is no place for a hook, naming
    it: the hooks folder a file (`.git/hooks: File exists`, mkdir's words), or at a
    hook's path something git never runs as one, a folder, a pipe or a broken link,
    which was "kept: a different hook exists", exit 0, and no hook ever ran (a hunter's
    find, issue 18 thirty-second pass)."""
    found = folder_in_the_way(hooks_dir)
    if found is not None:
        part, what = found
        where = "" if part == Path(os.path.abspath(hooks_dir)) else f"{printable(str(part))} "
        raise ExpflowError(
            f"{printable(str(hooks_dir))}: {where}is {what}, not a folder (git's hooks "
            "folder; nothing installed)"
        )
    for name in HOOK_NAMES:
        target = hooks_dir / name
        kind = kind_of(target)
        if kind is not None and kind != "a file":
            raise ExpflowError(
                f"{printable(str(target))}: is {kind}, not a file, and git runs no hook "
                "from it; move it away and run install-hooks again (nothing installed)"
            )
