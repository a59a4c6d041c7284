"""The per-blob validation cache (docs/spec.md §6.1) on real repositories, through the real CLI.

Layout: `<git dir>/expflow/cache/<version>-<key[:16]>/<2 hex>.json` (the key hashes
the policy's sha256 and its path, which findings name), one
shard per first two hex digits of the blob SHA; a shard is a header line, the
SHA-256 of the body, and the body (a JSON object of records keyed by blob SHA).

The contract: the cache only ever saves work. A warm report is byte-identical to
a `--no-cache` one; a damaged, edited or unwritable cache is ignored and rebuilt,
never trusted; a new policy or a new blob is never answered from an old record.
What the cache does trust is a shard whose digest was recomputed: only someone
who can write into .git can do that (they could as well install a hook), and
`verify` recomputes without the cache, so it catches such a report.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers_audit import (
    PIN_SHA,
    POLICY,
    STUDY,
    Cli,
    add_run,
    clean_env,
    commit_all,
    copy_repo,
    git,
    m,
    new_repo,
    result,
    runs_of,
    statement_of,
    write,
    write_json,
)
from support import run_cli

from expflow_git import __version__
from expflow_git.audit.cache import FORMAT
from expflow_git.resources import bundled_dir, code_digest

RESULT = f"results/{STUDY}/run-00.json"  # a blob whose record holds a parsed result
BROKEN = f"experiments/{STUDY}/broken.json"  # a blob whose record holds findings ("bad")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every kind of record the cache keeps: parsed records and results, registry
    findings, strict-JSON findings, PIN-scan findings. Committed once, copied per test."""
    repo = new_repo(tmp_path_factory.mktemp("cache") / "repo")
    for i in range(12):
        # Some with splits, whose numbers' spellings the cache keeps too.
        splits = {"holdout": {"seg_total": 49.5 + i}} if i % 3 == 0 else None
        add_run(repo, f"run-{i:02d}", m(50 + i, pde=10 + i / 4), splits=splits)
    add_run(repo, "slow", m(80, minutes=75))  # infeasible: over the time threshold
    add_run(repo, "odd", m(51, accuracy=0.5))  # unknown metric: a registry finding
    write(repo, BROKEN, '{"schema": "expflow/experiment@1", "id": "broken",\n')
    write(repo, "notes/leak.txt", f"pin hash: {PIN_SHA}\n")
    commit_all(repo)
    return repo


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    """A copy of the template with a cold cache (the same commit in every test)."""
    return copy_repo(template, tmp_path / "repo")


# ----------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class AuditRun:
    code: int
    out: str
    err: str
    report: bytes


def audit(cli: Cli, repo: Path, *args: str) -> AuditRun:
    """`audit --out` (always to the same file, so stderr is comparable); no traceback."""
    report = repo.parent / "report.json"
    res = cli(["audit", "--out", str(report), *args], repo)
    assert "Traceback" not in res.err, res.err
    return AuditRun(res.code, res.out, res.err, report.read_bytes())


def cache_root(repo: Path) -> Path:
    return repo / ".git" / "expflow" / "cache"


def cache_dir(repo: Path, policy: str = POLICY, path: str = "expflow.yaml") -> Path:
    """Where the cache of `policy` (its committed bytes, at `path`) lives."""
    digest = hashlib.sha256(policy.encode()).hexdigest()
    key = hashlib.sha256(f"{digest}\0{path}".encode()).hexdigest()
    return cache_root(repo) / f"{__version__}-{code_digest()}-{key[:16]}"


def header_of(policy: str = POLICY, path: str = "expflow.yaml") -> dict[str, Any]:
    return {
        "format": FORMAT,
        "tool": f"{__version__}+{code_digest()}",
        "policy": hashlib.sha256(policy.encode()).hexdigest(),
        "policyPath": path,
    }


def blob(repo: Path, path: str, rev: str = "HEAD") -> str:
    return git(repo, "rev-parse", f"{rev}:{path}")


def shard_of(repo: Path, sha: str) -> Path:
    """The shard of a blob's record: a blob only scanned (a note) is in the `scan-`
    shards, one read as a document in the others (cache.BlobCache.shard_of)."""
    scanned = cache_dir(repo) / f"scan-{sha[:2]}.json"
    if scanned.is_file() and sha in split_shard(scanned)[2]:
        return scanned
    return cache_dir(repo) / f"{sha[:2]}.json"


def split_shard(shard: Path) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(header, digest line, records) of a shard, without any check."""
    header, digest, body = shard.read_bytes().split(b"\n", 2)
    return json.loads(header), digest.decode("ascii"), json.loads(body)


def join_shard(header: Mapping[str, Any], body: Any, digest: str | None = None) -> bytes:
    """A shard's bytes for the JSON `body`; with `digest`, that digest line whatever the body."""
    data = json.dumps(body, separators=(",", ":")).encode()
    line = digest if digest is not None else hashlib.sha256(data).hexdigest()
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + line.encode() + b"\n" + data


def valid_records(shard: Path, policy: str = POLICY) -> dict[str, Any]:
    """The records of a shard that the tool must accept: our header, digest matches the body."""
    assert shard.is_file(), shard
    header, digest, body = shard.read_bytes().split(b"\n", 2)
    assert json.loads(header) == header_of(policy), header
    assert digest.decode("ascii") == hashlib.sha256(body).hexdigest(), shard
    records = json.loads(body)
    assert isinstance(records, dict)
    assert all(sha.startswith(shard.stem.removeprefix("scan-")) for sha in records), shard
    return records


def input_blobs(report: bytes) -> set[str]:
    return {leaf["gitBlob"] for leaf in statement_of(report)["predicate"]["inputs"]["leaves"]}


def run_metrics(report: bytes) -> dict[str, dict[str, Any]]:
    return {run["id"]: run["metrics"] for run in runs_of(statement_of(report))}


# ----------------------------------------------------------------------------- 1. warm = cold


def test_warm_audit_is_byte_identical_to_a_cold_one(xcli: Cli, repo: Path) -> None:
    cold = audit(xcli, repo, "--no-cache")
    assert not (repo / ".git" / "expflow").exists(), "--no-cache must not create a cache"

    first = audit(xcli, repo)
    shards = sorted(cache_dir(repo).glob("*.json"))
    assert shards, "a default audit leaves a cache"
    assert [p.name for p in cache_root(repo).iterdir()] == [cache_dir(repo).name]
    cached = {sha for shard in shards for sha in valid_records(shard)}
    assert input_blobs(first.report) <= cached  # every document's blob has a record
    written = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in shards}

    warm = audit(xcli, repo)
    assert cold.code == first.code == warm.code == 1  # the template has findings
    assert cold.report == first.report == warm.report
    assert cold.out == first.out == warm.out
    assert cold.err == first.err == warm.err
    # Served from the cache: nothing missed, so nothing rewritten.
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in shards} == written


def test_blobs_only_scanned_have_shards_of_their_own(xcli: Cli, repo: Path) -> None:
    """A note's record is in a `scan-` shard, a document's never is: a warm audit takes
    the documents from the folder cache and reads no document's shard for the notes
    (at 100k runs, ~85 MB of records loaded for 1,000 notes: issue 18)."""
    audit(xcli, repo)
    documents = input_blobs(audit(xcli, repo).report)
    note = blob(repo, NOTES)
    shards = sorted(cache_dir(repo).glob("*.json"))
    scanned = {sha for p in shards if p.name.startswith("scan-") for sha in valid_records(p)}
    others = {sha for p in shards if not p.name.startswith("scan-") for sha in valid_records(p)}
    assert note in scanned and note not in others
    assert documents <= others and not documents & scanned


def test_warm_json_output_equals_the_cold_one(xcli: Cli, repo: Path) -> None:
    cold = xcli(["audit", "--format", "json", "--no-cache"], repo)
    audit(xcli, repo)
    warm = xcli(["audit", "--format", "json"], repo)
    assert (warm.code, warm.out) == (cold.code, cold.out)
    # The template's three findings: registry (odd), strict JSON (broken), PIN scan (leak).
    assert statement_of(warm.out)["predicate"]["result"]["counts"]["findings"] == 3


# ----------------------------------------------------------------------------- 2. corrupt → rebuilt

Corruption = Callable[[Path, str], None]


def _garbage(shard: Path, sha: str) -> None:
    shard.write_bytes(bytes(range(256)) * 4)  # has newlines, invalid UTF-8, NULs


def _truncated(shard: Path, sha: str) -> None:
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) * 2 // 3])


def _truncated_in_header(shard: Path, sha: str) -> None:
    shard.write_bytes(shard.read_bytes()[:20])


def _lying_metric(shard: Path, sha: str) -> None:
    """The body says run-00 scored 99; the digest line is the honest one."""
    header, digest, records = split_shard(shard)
    records[sha]["r"]["doc"]["metrics"]["seg_total"] = 99.0
    shard.write_bytes(join_shard(header, records, digest))


def _lying_bad_to_doc(shard: Path, sha: str) -> None:
    """The broken record's findings replaced by a clean document; the old digest line."""
    header, digest, records = split_shard(shard)
    assert "bad" in records[sha]["e"]
    records[sha]["e"] = {"doc": {"id": "broken", "study": STUDY, "status": "success"}}
    shard.write_bytes(join_shard(header, records, digest))


def _other_header(**change: Any) -> Corruption:
    """A self-consistent shard (digest recomputed) with a lying body and another header:
    only the header says it is not ours."""

    def corrupt(shard: Path, sha: str) -> None:
        header, _, records = split_shard(shard)
        records[sha]["r"]["doc"]["metrics"]["seg_total"] = 99.0
        shard.write_bytes(join_shard({**header, **change}, records))

    return corrupt


def _body_not_an_object(shard: Path, sha: str) -> None:
    header, _, records = split_shard(shard)
    shard.write_bytes(join_shard(header, list(records.items())))


def _record_missing_parts(shard: Path, sha: str) -> None:
    """Digest fine, but the record lacks the scan and document parts."""
    header, _, records = split_shard(shard)
    records[sha] = {"h": records[sha]["h"]}
    shard.write_bytes(join_shard(header, records))


def _empty(shard: Path, sha: str) -> None:
    shard.write_bytes(b"")


def _directory(shard: Path, sha: str) -> None:
    shard.unlink()
    shard.mkdir()


def _deeply_nested_header(shard: Path, sha: str) -> None:
    shard.write_bytes(b"[" * 100_000 + b"\n" + b"0" * 64 + b"\n{}")


CORRUPTIONS: dict[str, tuple[str, Corruption]] = {
    "garbage": (RESULT, _garbage),
    "truncated": (RESULT, _truncated),
    "truncated-in-header": (RESULT, _truncated_in_header),
    "edited-metric": (RESULT, _lying_metric),
    "edited-bad-to-doc": (BROKEN, _lying_bad_to_doc),
    "other-tool-version": (RESULT, _other_header(tool="0.0.0+other")),
    "other-format": (RESULT, _other_header(format=FORMAT + 1)),
    "other-policy": (RESULT, _other_header(policy="0" * 64)),
    "body-not-an-object": (RESULT, _body_not_an_object),
    "record-missing-parts": (RESULT, _record_missing_parts),
    "empty": (RESULT, _empty),
    "directory": (RESULT, _directory),
    "deeply-nested-header": (RESULT, _deeply_nested_header),
}


def _cases() -> list[Any]:
    return [
        pytest.param(target, corrupt, id=name) for name, (target, corrupt) in CORRUPTIONS.items()
    ]


def _damage_warm_cache(
    cli: Cli, repo: Path, target: str, corrupt: Corruption
) -> tuple[AuditRun, dict[str, Any]]:
    """The `--no-cache` reference and the honest records of the shard that holds
    `target`'s blob; then that shard is damaged."""
    cold = audit(cli, repo, "--no-cache")
    audit(cli, repo)
    sha = blob(repo, target)
    honest = valid_records(shard_of(repo, sha))
    corrupt(shard_of(repo, sha), sha)
    return cold, honest


@pytest.mark.parametrize(("target", "corrupt"), _cases())
def test_corrupt_shard_is_ignored(xcli: Cli, repo: Path, target: str, corrupt: Corruption) -> None:
    cold, _ = _damage_warm_cache(xcli, repo, target, corrupt)
    after = audit(xcli, repo)
    assert after.report == cold.report
    assert (after.code, after.out, after.err) == (cold.code, cold.out, cold.err)


@pytest.mark.parametrize(
    ("target", "corrupt"),
    _cases(),
)
def test_corrupt_shard_is_rebuilt(xcli: Cli, repo: Path, target: str, corrupt: Corruption) -> None:
    _, honest = _damage_warm_cache(xcli, repo, target, corrupt)
    audit(xcli, repo)
    assert valid_records(shard_of(repo, blob(repo, target))) == honest
    assert not list(cache_dir(repo).glob(".*.tmp")), "no temp file left behind"


# ----------------------------------------------------------------------------- 3. trust boundary


def test_forged_shard_is_trusted_but_verify_recomputes_without_it(xcli: Cli, repo: Path) -> None:
    honest = audit(xcli, repo, "--no-cache")
    audit(xcli, repo)
    sha = blob(repo, RESULT)
    header, _, records = split_shard(shard_of(repo, sha))
    records[sha]["r"]["doc"]["metrics"]["seg_total"] = 99.0
    del records[sha]["r"]["sp"]  # the numbers' spellings, which the report would copy
    shard_of(repo, sha).write_bytes(join_shard(header, records))  # digest recomputed

    # Whoever can write .git can forge the cache (as they could a hook): the audit uses it.
    forged = audit(xcli, repo)
    assert run_metrics(forged.report)["run-00"]["seg_total"] == 99
    assert statement_of(forged.report)["predicate"]["result"]["best_feasible"] == "run-00"
    assert run_metrics(honest.report)["run-00"]["seg_total"] == 50

    forged_path = repo.parent / "forged.json"
    forged_path.write_bytes(forged.report)
    res = xcli(["verify", str(forged_path), "--repo", str(repo), "--allow-unsigned"], repo)
    assert res.code == 1, res
    failed = [line for line in res.out.splitlines() if line.startswith("FAIL")]
    assert failed and all(line.startswith("FAIL recompute") for line in failed), res.out

    honest_path = repo.parent / "honest.json"
    honest_path.write_bytes(honest.report)
    res = xcli(["verify", str(honest_path), "--repo", str(repo), "--allow-unsigned"], repo)
    assert res.code == 0, res  # still forged cache in place: verify does not read it


EXPERIMENT = f"experiments/{STUDY}/run-00.json"
NOTES = "notes/leak.txt"  # a blob whose record holds PIN-scan findings


def _set(*keys: str, value: object) -> Callable[[dict[str, Any]], object]:
    def reshape(rec: dict[str, Any]) -> None:
        for key in keys[:-1]:
            rec = rec[key]
        rec[keys[-1]] = value

    return reshape


def _respell(record: dict[str, Any], change: Callable[[str, str], tuple[str, str]]) -> None:
    """Change the honest spellings of a result with one split (metrics; split)."""
    metrics, split = record["r"]["sp"].split(";")
    record["r"]["sp"] = ";".join(change(metrics, split))


def test_the_code_digest_is_the_same_for_a_wheel_and_a_checkout(tmp_path: Path) -> None:
    """A wheel holds the schemas inside the package, a checkout beside it: the digest
    differed, so the suite (reading the checkout) and the CLI it ran (installed) keyed
    their caches apart, and CI failed on shards it could not find."""
    import expflow_git

    wheel = tmp_path / "wheel" / "expflow_git"
    shutil.copytree(
        Path(expflow_git.__file__).parent, wheel, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(bundled_dir("schemas", "experiment.schema.json"), wheel / "schemas")
    code = "from expflow_git.resources import code_digest; print(code_digest())"
    found = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**clean_env(), "PYTHONPATH": str(wheel.parent)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == code_digest()


def test_the_code_digest_changes_with_a_library_a_cache_keeps_answers_of(
    tmp_path: Path,
) -> None:
    """The schema errors a cache replays are jsonschema's words; the key held only the
    tool's own code, so an upgrade of jsonschema (which the dependency ranges allow)
    replayed the old words under the new library, and the warm report differed from the
    one `verify --recompute` makes (a review). Its version is in the key now."""
    code = "from expflow_git.resources import code_digest; print(code_digest())"

    def digest(*first: Path) -> str:
        path = os.pathsep.join([*map(str, first), str(Path(__file__).resolve().parents[1])])
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env={**clean_env(), "PYTHONPATH": path},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def site(name: str, *metadata: str) -> Path:
        """A site directory holding jsonschema (a stub: the digest imports nothing)."""
        folder = tmp_path / name
        (folder / "jsonschema").mkdir(parents=True)
        (folder / "jsonschema" / "__init__.py").write_text("")
        for meta in metadata:
            (folder / meta).mkdir()
        return folder

    other = tmp_path / "other"
    (other / "unrelated_tool-1.0.dist-info").mkdir(parents=True)
    assert digest() == code_digest()
    assert digest(other) == code_digest()
    upgraded = digest(site("site", "jsonschema-99.0.0.dist-info"))
    assert upgraded != code_digest()
    # `setup.py install`, a distribution's package (a review)
    egg = digest(site("egg", "jsonschema-99.0.0-py3.11.egg-info"))
    assert egg not in (code_digest(), upgraded)
    # `setup.py develop`: no version in the folder's name, PKG-INFO says it
    develop = site("develop", "jsonschema.egg-info")
    (develop / "jsonschema.egg-info" / "PKG-INFO").write_text("Name: jsonschema\nVersion: 98\n")
    assert digest(develop) not in (code_digest(), upgraded, egg)
    # A copy without metadata beside it is keyed by where it is, not by another's.
    assert digest(site("bare")) not in (code_digest(), upgraded, egg)
    # A metadata folder is the version of the copy beside it, not of the first such
    # folder on sys.path: this one names no copy Python would import (a hunt).
    lone = tmp_path / "lone"
    (lone / "jsonschema-99.0.0.dist-info").mkdir(parents=True)
    assert digest(lone) == code_digest()


def test_the_key_holds_the_versions_python_imports_not_a_folder_in_the_work_tree(
    repo: Path,
) -> None:
    """Under `python -m expflow_git` (and the API) sys.path[0] is the work tree: a
    committed `jsonschema_rs-0.0.1.dist-info` at the repository's root was the version
    the cache was keyed by, and entries written under an old library kept answering
    after an upgrade (a hunt, issue 18 twenty-seventh pass). The version keyed is the
    one installed beside the library Python imports."""
    from importlib.metadata import version

    from expflow_git.resources import _libraries

    keyed = _libraries()
    for dist in ("jsonschema", "jsonschema_rs", "referencing", "rfc8785"):
        assert any(k.lower().startswith(f"{dist}-{version(dist)}".lower()) for k in keyed), (
            dist,
            keyed,
        )
    res = run_cli(["audit", "--out", str(repo.parent / "a.json")], repo)
    assert "Traceback" not in res.err, res.err
    before = sorted(p.name for p in cache_root(repo).iterdir())
    assert before == [cache_dir(repo).name]
    fake = repo / "jsonschema_rs-0.0.1.dist-info"
    fake.mkdir()
    (fake / "METADATA").write_text("Name: jsonschema_rs\nVersion: 0.0.1\n")
    # A namespace portion `ruamel/yaml/` first on the path: import reads the installed
    # ruamel.yaml, a regular package further along (a review of the fix).
    (repo / "ruamel" / "yaml").mkdir(parents=True)
    (repo / "ruamel" / "yaml" / "README").write_text("not the library\n")
    (repo / "ruamel.yaml-0.0.1.dist-info").mkdir()
    commit_all(repo)
    res = run_cli(["audit", "--out", str(repo.parent / "b.json")], repo)
    assert "Traceback" not in res.err, res.err
    assert sorted(p.name for p in cache_root(repo).iterdir()) == before


def test_a_cache_from_another_build_of_the_same_version_is_not_read(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    """A cache was keyed by the version and a FORMAT number bumped by hand: a build
    whose PIN scan flagged other text (one commit forgot the bump) replayed its findings
    under the same 0.1.0 (a hunt). It is keyed by the build's code now: another build's
    shards, forged here to tell them apart, are never read."""
    honest = audit(xcli, repo, "--no-cache")
    audit(xcli, repo)
    sha = blob(repo, RESULT)
    header, _, records = split_shard(shard_of(repo, sha))
    records[sha]["r"]["doc"]["metrics"]["seg_total"] = 99.0
    del records[sha]["r"]["sp"]
    shard_of(repo, sha).write_bytes(join_shard(header, records))
    assert run_metrics(audit(xcli, repo).report)["run-00"]["seg_total"] == 99  # this build's

    import expflow_git

    build = tmp_path / "build"
    shutil.copytree(Path(expflow_git.__file__).parent, build / "expflow_git")
    shutil.copytree(bundled_dir("schemas", "experiment.schema.json"), build / "schemas")
    with (build / "expflow_git" / "checks.py").open("a") as code:
        code.write("\n# another build of the same version\n")
    report = tmp_path / "other.json"
    res = run_cli(["audit", "--out", str(report)], repo, env={"PYTHONPATH": str(build)})
    assert res.code == honest.code == 1, res  # (the template holds invalid documents)
    assert report.read_bytes() == honest.report  # seg_total 50, as committed
    assert len(list(cache_root(repo).iterdir())) == 2  # each build its own


@pytest.mark.parametrize(
    ("target", "reshape"),
    [
        (RESULT, lambda rec: rec["r"]["doc"].pop("metrics")),  # a document without a field
        (RESULT, _set("r", "reg", value=[["only-a-rule"]])),  # a short finding row
        (RESULT, lambda rec: rec.pop("h")),  # no sha256
        (RESULT, _set("r", "doc", value=[])),  # a document of the wrong type
        (RESULT, lambda rec: rec.__setitem__("h", rec["h"][:-2])),  # bytes into gitBlob
        (RESULT, lambda rec: rec.__setitem__("h", rec["h"][:32] + " " + rec["h"][32:])),
        (RESULT, _set("r", "doc", "metrics", "seg_total", value="50")),  # ranking: -"50"
        (RESULT, _set("r", "doc", "splits", value={"holdout": [1]})),
        (EXPERIMENT, _set("e", "doc", "params", value=[])),  # rules: [].items()
        (BROKEN, _set("e", "bad", value="")),  # would drop the finding silently
        (BROKEN, _set("e", "bad", value=[["invalid-json", "m", "", "2", 1]])),  # line "2"
        (NOTES, _set("s", "t", value=None)),  # would drop the PIN finding silently
        # Spellings are copied into the report: none may add structure to it.
        (RESULT, _set("r", "sp", value='50},"feasible":true,"x":{"y":1;1')),
        (RESULT, _set("r", "sp", value=["50", "1"])),
        (RESULT, _set("r", "sp", value=50)),
        # One token per number, but not numbers (invalid JSON if copied), or not JCS's.
        (RESULT, lambda rec: _respell(rec, lambda m, s: (",,", s))),
        (RESULT, lambda rec: _respell(rec, lambda m, s: ("e,e,e", s))),
        (RESULT, lambda rec: _respell(rec, lambda m, s: ("1.50,015,+1", s))),
        # Well-formed, but not one spelling per number: the numbers are spelled again.
        (RESULT, _set("r", "sp", value="1;2;3;4")),
        (RESULT, lambda rec: _respell(rec, lambda m, s: (m.partition(",")[2], s))),
        (RESULT, lambda rec: _respell(rec, lambda m, s: (m, ""))),
        (RESULT, _set("r", "sp", value="")),
    ],
    ids=[
        "no-metrics",
        "short-row",
        "no-sha256",
        "doc-not-object",
        "short-sha256",
        "spaced",
        "metric-string",
        "split-list",
        "params-list",
        "bad-string",
        "row-line-string",
        "scan-rows-null",
        "spelling-with-structure",
        "spellings-list",
        "spelling-number",
        "spelling-empty-tokens",
        "spelling-not-numbers",
        "spelling-not-canonical",
        "spellings-too-many",
        "spelling-a-token-short",
        "split-spelling-empty",
        "spelling-empty",
    ],
)
def test_forged_shard_of_the_wrong_shape_is_a_miss(
    xcli: Cli, repo: Path, target: str, reshape: Callable[[dict[str, Any]], object]
) -> None:
    """A digest-valid shard whose record lacks the shape the audit writes, or holds a
    part of another type that later checks compute with, changes nothing: that blob
    is read again, no traceback."""
    cold = audit(xcli, repo, "--no-cache")
    audit(xcli, repo)
    sha = blob(repo, target)
    header, _, records = split_shard(shard_of(repo, sha))
    reshape(records[sha])
    shard_of(repo, sha).write_bytes(join_shard(header, records))  # digest recomputed
    after = audit(xcli, repo)
    assert after.report == cold.report
    assert (after.code, after.out, after.err) == (cold.code, cold.out, cold.err)


# ----------------------------------------------------------------------------- 4. parallel writers


def test_concurrent_cold_audits_leave_only_valid_shards(xcli: Cli, tmp_path: Path) -> None:
    """Three audits race on a cold cache. Two read different commits, so they write
    different records into the same shards: a torn or interleaved write would show."""
    repo = new_repo(tmp_path / "repo")
    for i in range(300):
        add_run(repo, f"run-{i:03d}", m(40 + i / 10))
    commit_all(repo, "first")
    for i in range(300):
        write_json(
            repo, f"results/{STUDY}/run-{i:03d}.json", result(f"run-{i:03d}", m(41 + i / 10))
        )
    commit_all(repo, "second", date="2026-11-21T10:00:00+00:00")
    revs = ["HEAD", "HEAD~1", "HEAD"]
    cold = {rev: audit(xcli, repo, "--no-cache", "--rev", rev) for rev in set(revs)}
    assert cold["HEAD"].report != cold["HEAD~1"].report

    cmd = [sys.executable, "-m", "expflow_git", "audit"]
    procs = [
        subprocess.Popen(
            [*cmd, "--rev", rev, "--out", str(tmp_path / f"r{n}.json")],
            cwd=repo,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n, rev in enumerate(revs)
    ]
    for n, (rev, proc) in enumerate(zip(revs, procs, strict=True)):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == cold[rev].code == 0, err
        assert b"Traceback" not in err, err
        assert (tmp_path / f"r{n}.json").read_bytes() == cold[rev].report

    shards = sorted(cache_dir(repo).glob("*.json"))
    assert len(shards) > 200  # 900 blobs: nearly every one of the 256 shards
    for shard in shards:
        valid_records(shard)
    assert not list(cache_dir(repo).glob(".*.tmp"))

    for rev in revs:
        after = audit(xcli, repo, "--rev", rev)
        assert after.report == cold[rev].report
    cached = {sha for shard in cache_dir(repo).glob("*.json") for sha in valid_records(shard)}
    # Whatever a race lost, the next runs filled in.
    assert input_blobs(cold["HEAD"].report) | input_blobs(cold["HEAD~1"].report) <= cached


# ----------------------------------------------------------------------------- 5. unwritable cache


@pytest.mark.parametrize("blocker", [".git/expflow", ".git/expflow/cache"])
def test_unwritable_cache_still_audits(xcli: Cli, repo: Path, blocker: str) -> None:
    cold = audit(xcli, repo, "--no-cache")
    # A regular file where a directory must be (chmod would not stop root).
    (repo / blocker).parent.mkdir(parents=True, exist_ok=True)
    (repo / blocker).write_bytes(b"not a directory\n")
    for _ in range(2):
        res = audit(xcli, repo)
        assert res == cold
    assert (repo / blocker).read_bytes() == b"not a directory\n"


# ----------------------------------------------------------------------------- 6. changed policy


def _one_run_repo(path: Path, policy: str = POLICY) -> Path:
    repo = new_repo(path, policy)
    add_run(repo, "only", m(50, pde=15.0, minutes=45.0))
    commit_all(repo, "one run")
    return repo


def test_changed_threshold_uses_another_cache_and_the_new_verdict(
    xcli: Cli, tmp_path: Path
) -> None:
    repo = _one_run_repo(tmp_path / "repo")
    for _ in range(2):
        assert audit(xcli, repo).code == 0

    strict = POLICY.replace("threshold: 18.09", "threshold: 10")
    assert strict != POLICY
    write(repo, "expflow.yaml", strict)
    commit_all(repo, "stricter", date="2026-11-21T10:00:00+00:00")
    res = audit(xcli, repo)
    assert res.code == 1
    (run,) = runs_of(statement_of(res.report))
    assert run["feasible"] is False
    assert {c["name"] for c in run["checks"] if not c["passed"]} == {"pde_mean:lt:10"}
    assert res == audit(xcli, repo, "--no-cache")
    assert sorted(p.name for p in cache_root(repo).iterdir()) == sorted(
        [cache_dir(repo, POLICY).name, cache_dir(repo, strict).name]
    )
    assert list(cache_dir(repo, strict).glob("*.json"))


def test_changed_registry_is_not_answered_from_an_old_record(xcli: Cli, tmp_path: Path) -> None:
    """Registry findings are kept in the record; the result blob does not change here."""
    repo = _one_run_repo(tmp_path / "repo")
    sha = blob(repo, f"results/{STUDY}/only.json")
    assert audit(xcli, repo).code == 0
    assert audit(xcli, repo).code == 0

    narrow = POLICY.replace("threshold: 60, min: 0", "threshold: 60, min: 50")
    assert narrow != POLICY
    write(repo, "expflow.yaml", narrow)
    commit_all(repo, "narrower", date="2026-11-21T10:00:00+00:00")
    assert blob(repo, f"results/{STUDY}/only.json") == sha
    res = audit(xcli, repo)
    assert res.code == 1
    findings = statement_of(res.report)["predicate"]["result"]["counts"]["findings"]
    assert findings == 1
    assert "below its min 50" in res.out
    assert res == audit(xcli, repo, "--no-cache")


# ----------------------------------------------------------------------------- 7. changed document


def test_changed_document_is_reread(xcli: Cli, tmp_path: Path) -> None:
    repo = _one_run_repo(tmp_path / "repo")
    old = audit(xcli, repo)
    warm = audit(xcli, repo)
    assert warm == old
    assert run_metrics(warm.report)["only"]["seg_total"] == 50

    write_json(repo, f"results/{STUDY}/only.json", result("only", m(70)))
    commit_all(repo, "better", date="2026-11-21T10:00:00+00:00")
    new = audit(xcli, repo)
    assert run_metrics(new.report)["only"]["seg_total"] == 70
    assert new == audit(xcli, repo, "--no-cache")
    assert audit(xcli, repo, "--rev", "HEAD~1") == old  # the old blob's record still serves


# ----------------------------------------------------------------------------- bugs


def test_same_policy_bytes_at_another_path_get_their_own_messages(
    xcli: Cli, tmp_path: Path
) -> None:
    repo = new_repo(tmp_path / "repo")
    write(repo, "ci/policy.yaml", POLICY)
    add_run(repo, "good", m(50))
    add_run(repo, "odd", m(51, accuracy=0.5))
    commit_all(repo)
    audit(xcli, repo, "--policy", "ci/policy.yaml")  # fills the cache shared by both paths
    cold = audit(xcli, repo, "--no-cache")
    warm = audit(xcli, repo)
    assert "registry of expflow.yaml" in cold.out
    assert warm.out == cold.out
    assert warm.report == cold.report
    (repo.parent / "warm.json").write_bytes(warm.report)
    res = xcli(
        ["verify", str(repo.parent / "warm.json"), "--repo", str(repo), "--allow-unsigned"], repo
    )
    assert res.code == 0, res.out


# ----------------------------------------------------------------------------- 8. old folders


def test_cache_folders_no_audit_used_for_two_weeks_are_removed(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    """Each build and each policy has its own cache folder, as large as the repository's
    cache: an upgrade or an edited policy left the old one in .git for good."""
    import time

    audit(xcli, repo)
    ours = cache_dir(repo)
    assert ours.is_dir()
    root = cache_root(repo)
    now = time.time()
    days = 86400

    def folder(name: str, age_days: float) -> Path:
        path = root / name
        path.mkdir()
        (path / "00.json").write_text("{}")
        os.utime(path, (now - age_days * days, now - age_days * days))
        return path

    old_build = folder(f"0.0.9-{'a' * 16}-{'b' * 16}", 15)
    recent_build = folder(f"0.0.9-{'c' * 16}-{'d' * 16}", 13)
    not_a_cache = folder("notes", 60)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    link = root / f"0.0.8-{'e' * 16}-{'f' * 16}"
    link.symlink_to(outside, target_is_directory=True)
    os.utime(link, (now - 60 * days, now - 60 * days), follow_symlinks=False)
    os.utime(ours, (now - 30 * days, now - 30 * days))

    audit(xcli, repo, "--no-cache")  # an audit without the cache tidies none
    assert old_build.is_dir()

    audit(xcli, repo)
    assert not old_build.exists()
    assert recent_build.is_dir() and not_a_cache.is_dir()
    assert link.is_symlink() and (outside / "keep.txt").read_text() == "mine"
    assert now - ours.stat().st_mtime < days  # used now: another build's audit keeps it
    assert audit(xcli, repo) == audit(xcli, repo, "--no-cache")


def test_temp_files_an_audit_killed_mid_write_left_are_removed_once_an_hour_old(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    """An audit killed (SIGKILL) while writing a shard leaves its temp file, and no later
    audit removed it: only whole folders unused for two weeks were (a hunt, issue 18
    twenty-seventh pass). The next audit with the cache removes this user's temp files
    over an hour old in the folder in use and its folders/, never through a link; a
    fresh one (a concurrent audit's) is kept."""
    import time

    audit(xcli, repo)
    ours = cache_dir(repo)
    (ours / "folders").mkdir(exist_ok=True)
    old = time.time() - 2 * 3600

    def temp(folder: Path, name: str, *, aged: bool) -> Path:
        path = folder / name
        path.write_bytes(b'{"half a shard')
        if aged:
            os.utime(path, (old, old))
        return path

    stale = temp(ours, ".26.json.dd77b1cc.tmp", aged=True)
    stale_folder = temp(ours / "folders", ".0a1b2c3d4e5f6789.json.0123abcd.tmp", aged=True)
    fresh = temp(ours, ".27.json.a1b2c3d4.tmp", aged=False)
    other = temp(ours, "notes.tmp", aged=True)  # not a temp file's name: not ours
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("mine")
    os.utime(outside, (old, old))
    link = ours / ".28.json.0badc0de.tmp"
    link.symlink_to(outside)
    os.utime(link, (old, old), follow_symlinks=False)

    audit(xcli, repo, "--no-cache")  # an audit without the cache tidies none
    assert stale.exists()

    audit(xcli, repo)
    assert not stale.exists() and not stale_folder.exists()
    assert fresh.exists() and other.exists()
    assert link.is_symlink() and outside.read_text() == "mine"
    assert audit(xcli, repo) == audit(xcli, repo, "--no-cache")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root to give a file another owner",
)
def test_another_users_old_temp_file_in_the_cache_is_left(xcli: Cli, repo: Path) -> None:
    import time

    audit(xcli, repo)
    theirs = cache_dir(repo) / ".26.json.dd77b1cc.tmp"
    theirs.write_bytes(b"{")
    os.chown(theirs, 65534, 65534)  # nobody
    old = time.time() - 2 * 3600
    os.utime(theirs, (old, old))
    audit(xcli, repo)
    assert theirs.exists()


def test_a_policy_named_in_bytes_that_are_not_utf8_has_a_cache(xcli: Cli, repo: Path) -> None:
    """`audit --policy` of a file whose name is not UTF-8: the cache's folder name
    encoded the path strictly, and the audit was a traceback (`rank` too)."""

    name = os.fsdecode(b"policy-\xff.yaml")
    (repo / name).write_bytes((repo / "expflow.yaml").read_bytes())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "a policy with an odd name")
    cold = audit(xcli, repo, "--policy", name, "--no-cache")
    assert cold.code in (0, 1) and "Traceback" not in cold.err, cold.err
    assert audit(xcli, repo, "--policy", name) == cold
    assert audit(xcli, repo, "--policy", name) == cold  # and warm
