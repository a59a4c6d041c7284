"""Folders shipped with the package: inside the wheel, or at the checkout's root."""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from expflow_git.errors import ExpflowError

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec


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


def build_id() -> str:
    """`VERSION+CODE`: what a cache entry holds inside, beside the same in its file's name,
    so an entry renamed from another build's name is not believed (a hunt: a policy
    remembered by a build that skipped a check it now makes was taken as checked)."""
    from expflow_git import __version__

    return f"{__version__}+{code_digest()}"


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
    # The walk starts from resolved folders and follows no link, so each folder's path is
    # its real one: the schemas inside a wheel's package are known by their path (a
    # `resolve()` of every folder took the walk from ~0.4 ms to ~0.9 ms).
    skip = os.fspath(schemas)
    for top, prefix in ((here, ""), (schemas, "schemas/")):
        for folder, subfolders, names in os.walk(top):
            subfolders[:] = sorted(
                d for d in subfolders if d != "__pycache__" and os.path.join(folder, d) != skip
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
# Each as (its distribution's name, normalized; its top-level module; the submodule
# under it that is the library, "" for the module itself).
_LIBRARIES = (
    ("jsonschema", "jsonschema", ""),
    ("jsonschema_rs", "jsonschema_rs", ""),
    ("jsonschema_specifications", "jsonschema_specifications", ""),
    ("referencing", "referencing", ""),
    ("ruamel_yaml", "ruamel", "yaml"),
    ("rfc8785", "rfc8785", ""),
)
_METADATA = re.compile(
    r"([A-Za-z0-9][A-Za-z0-9._-]*?)(?:-([^-]+)(?:-py[0-9.]+)?)?\.(?:dist|egg)-info",
    re.IGNORECASE,
)  # (egg-info: `setup.py install` names it with its version, `setup.py develop` not)
_FIRST = frozenset(dist[:3] for dist, _, _ in _LIBRARIES)


def _libraries() -> list[str]:
    """The installed versions of _LIBRARIES, as their metadata folders are named (a
    version-less egg-info by its name and PKG-INFO's version): the folder beside where
    each is, or would be, imported from, so that an upgrade of one, which the dependency
    ranges allow, changes the key. Found as import finds it (sys.modules, else the
    finders of sys.meta_path, which import nothing for a top-level name): the first
    `NAME-VERSION.dist-info` on sys.path was any folder so named, one in the work tree
    (sys.path[0] under `python -m` and the API) or left beside another copy included.
    A library found without metadata beside it is keyed by where it is and when that
    changed. One directory listing per site directory; well under a millisecond
    (importlib.metadata would cost ~15 ms of import)."""
    listings: dict[str, dict[str, str]] = {}
    found = []
    for dist, top, sub in _LIBRARIES:
        where = _imported_from(top, sub)
        if where is None:
            continue  # not installed: nothing answers from it
        site, location = where
        if site not in listings:
            listings[site] = _metadata_in(site)
        folder = listings[site].get(dist)
        if folder is None:
            try:
                changed = os.stat(location).st_mtime_ns
            except OSError:
                changed = 0
            folder = f"{dist}@{location}:{changed}"
        found.append(folder)
    return sorted(found)


def _imported_from(top: str, sub: str) -> tuple[str, str] | None:
    """(the site directory, the module's file or folder) that `import top.sub` (or `top`)
    would read, without importing it (as importlib.util.find_spec finds a top-level
    name: this module's importers need not load importlib.util)."""
    spec = _spec(top, None)
    if spec is None:
        return None
    if sub:  # a namespace package (ruamel): `sub` found below it as import finds it
        # (a regular package further along its path wins over a portion found first:
        # a folder `ruamel/yaml/` in the work tree is not what `import ruamel.yaml` reads)
        spec = _spec(f"{top}.{sub}", list(spec.submodule_search_locations or ()))
        if spec is None:
            return None
    locations = list(spec.submodule_search_locations or ())
    where = locations[0] if locations else spec.origin
    if not where:
        return None
    site = os.path.dirname(where)  # top.py, top/: its site; top/sub/: top's folder's
    return (os.path.dirname(site) if sub else site), where


def _spec(name: str, path: list[str] | None) -> ModuleSpec | None:
    """The module spec of `name`, loaded (sys.modules) or as sys.meta_path's finders find
    it, without importing it; None if none does."""
    module = sys.modules.get(name)
    if module is not None:
        found: ModuleSpec | None = getattr(module, "__spec__", None)
        return found
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            spec: ModuleSpec | None = find(name, path)
        except (ImportError, ValueError, OSError):
            spec = None
        if spec is not None:
            return spec
    return None


def _metadata_in(site: str) -> dict[str, str]:
    """The metadata folders of _LIBRARIES in directory `site`, by distribution."""
    wanted = {dist for dist, _, _ in _LIBRARIES}
    found: dict[str, str] = {}
    try:
        names = os.listdir(site or ".")
    except OSError:
        return found
    # (The few names that may be one first: the regular expression over a site's
    # hundreds of names cost 0.3 ms.)
    for name in sorted(n for n in names if n[:3].lower() in _FIRST and n.endswith("-info")):
        if (match := _METADATA.fullmatch(name)) is None:
            continue
        dist = re.sub(r"[-_.]+", "_", match.group(1)).lower()
        if dist not in wanted or dist in found:
            continue
        if match.group(2) is None:
            name = f"{match.group(1)}-{_pkg_info_version(os.path.join(site, name))}.egg-info"
        found[dist] = name
    return found


def _pkg_info_version(folder: str) -> str:
    """The `Version:` of a metadata folder's PKG-INFO (or METADATA), "?" if none."""
    for file in ("PKG-INFO", "METADATA"):
        try:
            with open(os.path.join(folder, file), "rb") as handle:
                head = handle.read(4096)
        except OSError:
            continue
        for line in head.splitlines():
            if line.startswith(b"Version:"):
                return line[8:].strip().decode("utf-8", "replace")
    return "?"
