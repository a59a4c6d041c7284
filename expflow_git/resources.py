"""Folders shipped with the package: inside the wheel, or at the checkout's root."""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path

from expflow_git.errors import ExpflowError


def bundled_dir(name: str, marker: str) -> Path:
    """`expflow_git/<name>` in an installed wheel, else `<name>` beside the package
    (a source checkout or an editable install); `marker` is a file it must hold."""
    here = Path(__file__).resolve().parent
    for candidate in (here / name, here.parent / name):
        if (candidate / marker).is_file():
            return candidate
    raise ExpflowError(
        f"bundled {name} are missing (looked in {here / name}); reinstall expflow-git"
    )


@functools.cache
def code_digest() -> str:
    """The first 16 hex digits of a BLAKE2b digest of this build's own code and bundled
    schemas (every `.py` and `.json` file, by relative path): what a cache must match to
    be trusted. The version alone let a cache written by another build of 0.1.0, whose
    PIN scan flagged other text, replay its findings (a hunt). The same files give the
    same digest whether the schemas lie inside the package (a wheel) or beside it (a
    checkout): a test reading the checkout and the CLI it runs from an installed copy
    agree. CPython's own BLAKE2b (hashlib would load OpenSSL): ~3 ms a process."""
    try:
        from _blake2 import blake2b
    except ImportError:  # a Python built without it
        from hashlib import blake2b

    here = Path(__file__).resolve().parent
    schemas = bundled_dir("schemas", "experiment.schema.json").resolve()
    digest = blake2b()
    for top, prefix in ((here, ""), (schemas, "schemas/")):
        for folder, subfolders, names in os.walk(top):
            subfolders[:] = sorted(
                d for d in subfolders if d != "__pycache__" and Path(folder, d).resolve() != schemas
            )
            for name in sorted(n for n in names if n.endswith((".py", ".json"))):
                path = os.path.join(folder, name)
                with open(path, "rb") as file:
                    data = file.read()
                rel = (prefix + os.path.relpath(path, top)).encode("utf-8", "surrogateescape")
                digest.update(b"%s\0%d\0" % (rel, len(data)))
                digest.update(data)
    digest.update(b"%s\0%s" % (sys.version.encode(), "\0".join(_libraries()).encode()))
    return digest.hexdigest()[:16]


# The libraries whose answers a cache keeps: schema errors (jsonschema, jsonschema-rs
# and the registries they use), a policy read (ruamel.yaml), canonical numbers (rfc8785).
_LIBRARIES = re.compile(
    r"(jsonschema|jsonschema_rs|jsonschema_specifications|referencing|ruamel[._]yaml|rfc8785)"
    r"-[^-]+(?:-py[0-9.]+)?\.(?:dist|egg)-info",  # (egg-info: setup.py, distributions)
    re.IGNORECASE,
)


def _libraries() -> list[str]:
    """The installed versions of _LIBRARIES, as their metadata folders are named, the
    first of each on sys.path (as import finds them): an upgrade of one, which the
    dependency ranges allow, changes the key. One directory listing per path entry
    (importlib.metadata would cost ~15 ms of import)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if (match := _LIBRARIES.fullmatch(name)) is not None:
                found.setdefault(match.group(1).lower().replace(".", "_"), name)
    return sorted(found.values())
