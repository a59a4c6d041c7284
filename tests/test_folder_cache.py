"""The folder cache (audit/folders.py, issue 18) on real repositories, through the real CLI.

Layout: `<blob cache dir>/folders/<sha256(folder path)[:32]>.json`, one entry per leaf
folder (a folder that holds no folder) with at least MIN_DOCUMENTS documents; an entry
is a header line (the blob cache's header, the folder format, the scan setting, the
folder's path and git tree id), the SHA-256 of the body, and the body.

The contract is the blob cache's (test_cache.py): a warm report is byte-identical to a
`--no-cache` one; a damaged, edited-to-another-shape, foreign or stale entry is a miss
and is rebuilt; an entry whose digest was recomputed after an edit is believed (only
someone who can write into .git can do that) and `verify` recomputes without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers_audit import (
    PIN_SHA,
    POLICY,
    STUDY,
    Cli,
    add_run,
    commit_all,
    copy_repo,
    experiment,
    findings_of,
    git,
    m,
    new_repo,
    result,
    runs_of,
    statement_of,
    write,
    write_json,
)
from support import record_calls
from test_cache import AuditRun, audit, cache_dir

from expflow_git.audit.folders import MIN_DOCUMENTS
from expflow_git.audit.pipeline import check_tree
from expflow_git.gitstore import Git

EXPERIMENTS = f"experiments/{STUDY}"
RESULTS = f"results/{STUDY}"
ODD = "experiments/stüdy"  # a folder whose paths are not ASCII: git's order is not used


def _correction(exp_id: str, supersedes: str) -> dict[str, Any]:
    return {
        "schema": "expflow/correction@1",
        "experiment": exp_id,
        "supersedes": supersedes,
        "blob": None,
        "reason": "the run was broken",
        "author": {"name": "Tester", "email": "tester@example.com"},
        "time": "2026-11-20T10:00:00Z",
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Leaf folders of every kind the audit reads, each with enough documents for an
    entry: parsed records and results (some with splits), registry and strict-JSON
    findings, PIN-scan findings in a file and in a file name, a linked document, a
    folder whose paths are not ASCII, and a nested folder (not a leaf) beside them."""
    repo = new_repo(tmp_path_factory.mktemp("folders") / "repo")
    for i in range(MIN_DOCUMENTS + 2):
        splits = {"holdout": {"seg_total": 49.5 + i}} if i % 3 == 0 else None
        add_run(repo, f"run-{i:02d}", m(50 + i, pde=10 + i / 4), splits=splits)
    add_run(repo, "slow", m(80, minutes=75))  # infeasible
    add_run(repo, "odd", m(51, accuracy=0.5))  # unknown metric: a registry finding
    write(repo, f"{EXPERIMENTS}/broken.json", '{"schema": "expflow/experiment@1",\n')
    write(repo, f"{EXPERIMENTS}/notes.txt", f"pin hash: {PIN_SHA}\n")
    write(repo, f"{EXPERIMENTS}/{PIN_SHA}.txt", "a file named by the PIN's digest\n")
    os.symlink("run-00.json", repo / EXPERIMENTS / "linked.json")
    for i in range(MIN_DOCUMENTS):
        exp = {"schema": "expflow/experiment@1", "id": f"u-{i:02d}", "study": "odd"}
        write_json(repo, f"{ODD}/u-{i:02d}.json", {**exp, "status": "success", "params": {}})
    write_json(repo, f"{ODD}/ü.json", {**exp, "id": "u-99", "status": "failed", "params": {}})
    for i in range(MIN_DOCUMENTS):  # corrections in a leaf folder of their own
        write_json(repo, f"corrections/{STUDY}/gone/c-{i:02d}.json", _correction("gone", "a" * 40))
    # A folder inside results/STUDY (which is then no leaf): a second result for run-00,
    # a finding across folders that every audit makes again.
    write_json(repo, f"{RESULTS}/deeper/again.json", result("run-00", m(70)))
    commit_all(repo)
    return repo


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    return copy_repo(template, tmp_path / "repo")


def folder_dir(repo: Path) -> Path:
    return cache_dir(repo) / "folders"


def entry_of(repo: Path, folder: str, scan: bool = True) -> Path:
    key = folder.encode() + b"\0" + (b"scan" if scan else b"")
    return folder_dir(repo) / f"{hashlib.sha256(key).hexdigest()[:32]}.json"


def tree_id(repo: Path, folder: str, rev: str = "HEAD") -> str:
    return git(repo, "rev-parse", f"{rev}:{folder}")


def split_entry(entry: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    header, _, body = entry.read_bytes().split(b"\n", 2)
    return json.loads(header), json.loads(body)


def join_entry(header: dict[str, Any], body: Any) -> bytes:
    """An entry's bytes with its digest recomputed (as a forger with .git access would)."""
    data = json.dumps(body, separators=(",", ":")).encode()
    head = json.dumps(header, separators=(",", ":")).encode()
    return head + b"\n" + hashlib.sha256(data).hexdigest().encode() + b"\n" + data


def same(after: AuditRun, cold: AuditRun) -> None:
    assert after.report == cold.report
    assert (after.code, after.out, after.err) == (cold.code, cold.out, cold.err)


# ----------------------------------------------------------------------------- 1. warm = cold


def test_leaf_folders_with_enough_documents_get_an_entry(xcli: Cli, repo: Path) -> None:
    audit(xcli, repo)
    kept = {split_entry(p)[0]["path"] for p in folder_dir(repo).glob("*.json")}
    # results/STUDY holds a folder (deeper): not a leaf; the small folders have too few.
    assert kept == {EXPERIMENTS, ODD, f"corrections/{STUDY}/gone"}, kept
    for folder in kept:
        header, body = split_entry(entry_of(repo, folder))
        assert header["tree"] == tree_id(repo, folder)
        assert header["scan"] is True
        assert all(path.startswith(folder + "/") for path in body["paths"])
    assert len(split_entry(entry_of(repo, EXPERIMENTS))[1]["paths"]) == MIN_DOCUMENTS + 5


def test_warm_audit_from_folder_entries_is_byte_identical_to_a_cold_one(
    xcli: Cli, repo: Path
) -> None:
    cold = audit(xcli, repo, "--no-cache")
    assert cold.code == 1  # the findings are there to be kept
    rules = {f["rule"] for f in findings_of(statement_of(cold.report))}
    assert {"pin-sha256", "invalid-json", "not-a-regular-file", "id-mismatch"} <= rules, rules
    first = audit(xcli, repo)  # reads blob by blob, writes the entries
    assert entry_of(repo, EXPERIMENTS).is_file()
    same(first, cold)
    same(audit(xcli, repo), cold)  # from the entries


def test_a_folder_entry_is_what_the_warm_audit_reads(xcli: Cli, repo: Path) -> None:
    """With every blob record gone, a warm audit reads no blob of a kept folder again
    (its entry alone decides: see the forged entry below), but every other blob."""
    audit(xcli, repo)
    for shard in cache_dir(repo).glob("*.json"):
        shard.unlink()
    audit(xcli, repo)
    records: set[str] = set()
    for shard in cache_dir(repo).glob("*.json"):
        records |= set(json.loads(shard.read_bytes().split(b"\n", 2)[2]))
    listing = [
        line.split()
        for line in git(repo, "-c", "core.quotePath=false", "ls-tree", "-r", "HEAD").splitlines()
    ]
    kept = {EXPERIMENTS, ODD, f"corrections/{STUDY}/gone"}
    inside = {sha for _, _, sha, path in listing if path.rpartition("/")[0] in kept}
    outside = {sha for _, _, sha, path in listing if path.rpartition("/")[0] not in kept}
    assert inside - outside and not (inside - outside) & records
    assert git(repo, "rev-parse", f"HEAD:{RESULTS}/run-00.json") in records


@pytest.mark.parametrize("minimum", [1, MIN_DOCUMENTS])
@pytest.mark.parametrize("scan", [True, False])
def test_check_tree_from_entries_equals_the_uncached_check(
    repo: Path, monkeypatch: pytest.MonkeyPatch, minimum: int, scan: bool
) -> None:
    """Every value the audit keeps (documents, findings, leaves, spellings,
    corrections) is the same whether a folder was read or taken from its entry; with
    a minimum of 1, every leaf folder of the tree (also the small ones) has one."""
    monkeypatch.setattr("expflow_git.audit.tree.MIN_DOCUMENTS", minimum)
    gitrepo = Git.discover(repo)
    cold = check_tree(gitrepo, use_cache=False, scan=scan)
    first = check_tree(gitrepo, scan=scan)
    assert any(folder_dir(repo).glob("*.json"))
    warm = check_tree(gitrepo, scan=scan)
    for check in (first, warm):
        assert check.findings == cold.findings
        assert check.experiments == cold.experiments
        assert check.results == cold.results
        assert check.corrections == cold.corrections
        assert check.inputs == cold.inputs
        assert dict(check.spellings) == dict(cold.spellings)
    assert len(cold.corrections) == MIN_DOCUMENTS
    # The other scan setting is another entry's question, never this one's answer.
    other = check_tree(gitrepo, scan=not scan)
    assert other.findings == check_tree(gitrepo, use_cache=False, scan=not scan).findings


def test_no_cache_writes_no_entry(xcli: Cli, repo: Path) -> None:
    audit(xcli, repo, "--no-cache")
    assert not folder_dir(repo).exists()


# ----------------------------------------------------------------------------- 2. changes


def test_a_changed_folder_is_read_again_and_its_entry_replaced(xcli: Cli, repo: Path) -> None:
    audit(xcli, repo)
    before = {p.name for p in folder_dir(repo).glob("*.json")}
    add_run(repo, "late", m(99), study=STUDY)  # a new best run in the kept folder
    commit_all(repo, "one more run")
    warm = audit(xcli, repo)
    assert warm.report == audit(xcli, repo, "--no-cache").report
    assert statement_of(warm.report)["predicate"]["result"]["best_feasible"] == "late"
    # One entry per folder, the new tree's: a sweep of many commits does not pile up.
    assert {p.name for p in folder_dir(repo).glob("*.json")} == before
    assert split_entry(entry_of(repo, EXPERIMENTS))[0]["tree"] == tree_id(repo, EXPERIMENTS)


def test_auditing_an_older_commit_after_a_newer_one_is_exact(xcli: Cli, repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    old_cold = audit(xcli, repo, "--no-cache")
    add_run(repo, "late", m(99), study=STUDY)
    commit_all(repo, "one more run")
    audit(xcli, repo)  # HEAD's entries replace the first commit's
    same(audit(xcli, repo, "--rev", first), old_cold)
    same(audit(xcli, repo, "--rev", first), old_cold)


# ----------------------------------------------------------------------------- 3. damage


Damage = Callable[[Path], None]


def _garbage(entry: Path) -> None:
    entry.write_bytes(b"\x00garbage\xff")


def _truncated(entry: Path) -> None:
    entry.write_bytes(entry.read_bytes()[:-40])


def _wrong_digest(entry: Path) -> None:
    header, digest, body = entry.read_bytes().split(b"\n", 2)
    entry.write_bytes(header + b"\n" + b"0" * 64 + b"\n" + body)


def _header(**change: Any) -> Damage:
    def damage(entry: Path) -> None:
        header, body = split_entry(entry)
        entry.write_bytes(join_entry({**header, **change}, body))

    return damage


def _body(reshape: Callable[[dict[str, Any]], object]) -> Damage:
    def damage(entry: Path) -> None:
        header, body = split_entry(entry)
        reshape(body)
        entry.write_bytes(join_entry(header, body))

    return damage


def _first_doc(kind: str, key: str, value: object) -> Callable[[dict[str, Any]], object]:
    def reshape(body: dict[str, Any]) -> None:
        body[kind][key][0] = value

    return reshape


def _directory(entry: Path) -> None:
    entry.unlink()
    entry.mkdir()


DAMAGE = {
    "garbage": _garbage,
    "truncated": _truncated,
    "wrong-digest": _wrong_digest,
    "empty": lambda entry: entry.write_bytes(b""),
    "directory": _directory,
    "other-tree": _header(tree="0" * 40),
    "other-path": _header(path="elsewhere"),
    "other-scan": _header(scan=False),
    "other-format": _header(folderFormat=0),
    "other-policy": _header(policy="0" * 64),
    "body-not-object": _body(lambda body: body.clear()),
    "paths-not-strings": _body(lambda body: body.__setitem__("paths", [1] * len(body["paths"]))),
    "digests-short": _body(lambda body: body.__setitem__("digests", body["digests"][:-2])),
    "digests-not-hex": _body(lambda body: body.__setitem__("digests", "zz")),
    "finding-row-short": _body(lambda body: body["findings"][0].__setitem__(slice(2, None), [])),
    "finding-line-string": _body(lambda body: body["findings"][0].__setitem__(4, "2")),
    "params-list": _body(_first_doc("experiments", "params", [])),
    "status-unknown": _body(_first_doc("experiments", "status", "won")),
    "metric-string": _body(_first_doc("results", "metrics", {"seg_total": "50"})),
    "split-list": _body(_first_doc("results", "splits", {"holdout": [1]})),
    # Numbers no report holds (a user's hunt, issue 18 twenty-third pass: a traceback).
    "metric-nan": _body(_first_doc("results", "metrics", {"seg_total": float("nan")})),
    "metric-infinity": _body(_first_doc("results", "metrics", {"seg_total": float("-inf")})),
    "metric-400-digits": _body(_first_doc("results", "metrics", {"seg_total": 10**400})),
    "split-2**53": _body(_first_doc("results", "splits", {"holdout": {"seg_total": 2**53}})),
    "spelling-with-structure": _body(
        lambda body: body["spellings"].update({body["results"]["path"][0]: '50},"x":{"y":1'})
    ),
    "correction-short": _body(lambda body: body["corrections"].append(["c.json"])),
}


def _kept_folder(name: str) -> str:
    return f"corrections/{STUDY}/gone" if name == "correction-short" else EXPERIMENTS


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_damaged_entry_is_a_miss_and_is_rebuilt(xcli: Cli, repo: Path, name: str) -> None:
    cold = audit(xcli, repo, "--no-cache")
    audit(xcli, repo)
    folder = _kept_folder(name)
    if name.startswith(("metric-", "split-")) or name == "spelling-with-structure":
        folder = f"{RESULTS}-flat"
        _flat_results(repo)
        cold = audit(xcli, repo, "--no-cache")
        audit(xcli, repo)
    honest = entry_of(repo, folder).read_bytes()
    DAMAGE[name](entry_of(repo, folder))
    same(audit(xcli, repo), cold)
    assert entry_of(repo, folder).read_bytes() == honest  # rebuilt, the same as before
    assert not list(folder_dir(repo).glob(".*.tmp")), "no temp file left behind"


def _flat_results(repo: Path) -> None:
    """A leaf folder of results (results/STUDY holds a folder: it is no leaf)."""
    for i in range(MIN_DOCUMENTS):
        splits = {"holdout": {"seg_total": 30.5 + i}}
        add_run(repo, f"flat-{i:02d}", m(30 + i), study=f"{STUDY}-flat", splits=splits)
    commit_all(repo, "a flat study")


# ----------------------------------------------------------------------------- 4. trust


def test_forged_entry_is_believed_but_verify_recomputes_without_it(xcli: Cli, repo: Path) -> None:
    _flat_results(repo)
    honest = audit(xcli, repo, "--no-cache")
    audit(xcli, repo)
    entry = entry_of(repo, f"{RESULTS}-flat")
    header, body = split_entry(entry)
    at = next(i for i, path in enumerate(body["results"]["path"]) if path.endswith("/flat-00.json"))
    path = body["results"]["path"][at]
    body["results"]["metrics"][at]["seg_total"] = 99.0
    body["spellings"].pop(path)  # the numbers' spellings, which the report would copy
    entry.write_bytes(join_entry(header, body))

    forged = audit(xcli, repo)
    by_id = {run["id"]: run["metrics"] for run in runs_of(statement_of(forged.report))}
    assert by_id["flat-00"]["seg_total"] == 99
    assert forged.report != honest.report

    forged_path = repo.parent / "forged.json"
    forged_path.write_bytes(forged.report)
    res = xcli(["verify", str(forged_path), "--repo", str(repo), "--allow-unsigned"], repo)
    assert res.code == 1, res
    failed = [line for line in res.out.splitlines() if line.startswith("FAIL")]
    assert failed and all(line.startswith("FAIL recompute") for line in failed), res.out


def _forged(
    cli: Cli, repo: Path, edit: Callable[[dict[str, Any]], object]
) -> tuple[AuditRun, Path, bytes]:
    """The `--no-cache` reference, then the kept folder's entry: its path and its bytes
    after `edit` of its body (digest recomputed)."""
    cold = audit(cli, repo, "--no-cache")
    audit(cli, repo)
    entry = entry_of(repo, EXPERIMENTS)
    header, body = split_entry(entry)
    edit(body)
    return cold, entry, join_entry(header, body)


@pytest.mark.parametrize("bits", [stat.S_IWGRP, stat.S_IWOTH], ids=["g+w", "o+w"])
def test_entry_writable_by_others_is_ignored_with_a_warning(
    xcli: Cli, repo: Path, bits: int
) -> None:
    def fail_a_rule(body: dict[str, Any]) -> None:
        body["experiments"]["params"][0]["Args/--sub_step"] = 0

    cold, entry, forged = _forged(xcli, repo, fail_a_rule)
    entry.write_bytes(forged)
    entry.chmod(entry.stat().st_mode | bits)
    warm = audit(xcli, repo)
    assert warm.report == cold.report
    assert str(entry) in warm.err and "cache file ignored" in warm.err, warm.err
    assert "writable" in warm.err


def test_entry_that_is_a_symbolic_link_is_ignored_with_a_warning(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    cold, entry, forged = _forged(xcli, repo, lambda body: body.__setitem__("findings", []))
    elsewhere = tmp_path / "planted.json"  # (no findings: would hide the PIN finding)
    elsewhere.write_bytes(forged)
    entry.unlink()
    entry.symlink_to(elsewhere)
    warm = audit(xcli, repo)
    assert warm.report == cold.report
    assert "cache file ignored" in warm.err, warm.err
    assert elsewhere.read_bytes().startswith(b"{")  # the planted file was not written over


def test_a_listing_with_folders_names_the_same_files_as_without(repo: Path) -> None:
    """`ls_tree(trees=True)` adds the folders (each before what it holds) and nothing else."""
    gitrepo = Git.discover(repo)
    plain = gitrepo.ls_tree("HEAD")
    both = gitrepo.ls_tree("HEAD", trees=True)
    assert [e for e in both if e.type != "tree"] == plain
    seen: set[str] = set()
    for e in both:
        parent = e.path.rpartition("/")[0]
        assert not parent or parent in seen, e.path
        if e.type == "tree":
            seen.add(e.path)
    assert {ODD, EXPERIMENTS, RESULTS, f"{RESULTS}/deeper"} <= seen


# ----------------------------------------------------------------------------- 5. hostile trees


def _raw(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    proc = subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True, check=True)
    return proc.stdout


def _entries(tree: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """A tree object's (mode, name, binary id) entries, in order."""
    out, i = [], 0
    while i < len(tree):
        space, nul = tree.index(b" ", i), tree.index(b"\0", i)
        out.append((tree[i:space], tree[space + 1 : nul], tree[nul + 1 : nul + 21]))
        i = nul + 21
    return out


def _hostile_commit(repo: Path, how: str) -> str:
    """HEAD's tree with one entry the listing cannot place by its path alone: a file
    named with slashes, listed right after a kept folder's entries as if it were one of
    them, or before every other entry; or the folder listed twice, the second time with
    a document more."""
    root = _entries(_raw(repo, "cat-file", "tree", "HEAD^{tree}"))
    at = next(i for i, (_, name, _) in enumerate(root) if name == b"experiments")
    extra = experiment_doc("u-50")
    blob = _raw(repo, "hash-object", "-w", "--stdin", data=extra).strip()
    if how == "slash-in-parent":  # in `experiments`, before the study's own folder
        sub = _entries(_raw(repo, "cat-file", "tree", "HEAD:experiments"))
        evil = (b"100644", STUDY.encode() + b"/u-50.json", bytes.fromhex(blob.decode()))
        root[at] = (b"40000", b"experiments", bytes.fromhex(_tree(repo, [evil, *sub])))
    elif how == "slashes-in-folder":  # a folder of its own whose every name holds a `/`
        leak = _raw(repo, "hash-object", "-w", "--stdin", data=f"pin: {PIN_SHA}\n".encode())
        junk = [
            (b"100644", b"j/u-%02d.json" % i, bytes.fromhex(blob.decode()))
            for i in range(MIN_DOCUMENTS + 1)
        ]
        junk.append((b"100644", b"j/leak.txt", bytes.fromhex(leak.decode())))
        sub = _entries(_raw(repo, "cat-file", "tree", "HEAD:experiments"))
        folder = (b"40000", b"junk", bytes.fromhex(_tree(repo, junk)))
        root[at] = (b"40000", b"experiments", bytes.fromhex(_tree(repo, [folder, *sub])))
    elif how == "name-twice":  # a second record, of another status, at the same path
        twice = _entries(_raw(repo, "cat-file", "tree", f"HEAD:{EXPERIMENTS}"))
        run = next(i for i, (_, name, _) in enumerate(twice) if name == b"run-00.json")
        record = json.loads(_raw(repo, "cat-file", "blob", f"HEAD:{EXPERIMENTS}/run-00.json"))
        failed = json.dumps({**record, "status": "failed"}).encode()
        again = _raw(repo, "hash-object", "-w", "--stdin", data=failed).strip()
        twice.insert(run + 1, (b"100644", b"run-00.json", bytes.fromhex(again.decode())))
        study = bytes.fromhex(_tree(repo, twice))
        sub = [
            (mode, name, study if name == STUDY.encode() else sha)
            for mode, name, sha in _entries(_raw(repo, "cat-file", "tree", "HEAD:experiments"))
        ]
        root[at] = (b"40000", b"experiments", bytes.fromhex(_tree(repo, sub)))
    elif how.startswith("slash-in-name"):
        # Listed right after the folder's own entries, or first of all (out of order).
        entry = (b"100644", ODD.encode() + b"/u-50.json", bytes.fromhex(blob.decode()))
        root.insert(0 if how.endswith("first") else at + 1, entry)
    else:  # the same folder twice
        odd = _entries(_raw(repo, "cat-file", "tree", f"HEAD:{ODD}"))
        odd.append((b"100644", b"u-50.json", bytes.fromhex(blob.decode())))
        odd_tree = _tree(repo, odd)
        experiments = _entries(_raw(repo, "cat-file", "tree", "HEAD:experiments"))
        experiments.append((b"40000", "stüdy".encode(), bytes.fromhex(odd_tree)))
        root.insert(at + 1, (b"40000", b"experiments", bytes.fromhex(_tree(repo, experiments))))
    tree = _tree(repo, root)
    return _raw(repo, "commit-tree", tree, "-p", "HEAD", "-m", how).decode().strip()


def _tree(repo: Path, entries: list[tuple[bytes, bytes, bytes]]) -> str:
    data = b"".join(mode + b" " + name + b"\0" + sha for mode, name, sha in entries)
    args = ["hash-object", "-t", "tree", "-w", "--literally", "--stdin"]
    return _raw(repo, *args, data=data).decode().strip()


def experiment_doc(exp_id: str) -> bytes:
    doc = {"schema": "expflow/experiment@1", "id": exp_id, "study": "odd"}
    return json.dumps({**doc, "status": "success", "params": {}}).encode()


@pytest.mark.parametrize(
    "how",
    [
        "slash-in-name",
        "slash-in-name-first",
        "slash-in-parent",
        "slashes-in-folder",
        "folder-twice",
        "name-twice",
    ],
)
def test_a_malformed_tree_never_poisons_a_folder_entry(xcli: Cli, repo: Path, how: str) -> None:
    """The attacker's commit lists a document as if it were in a folder whose tree id
    is main's; auditing it must not leave an entry that adds the document to main."""
    main = git(repo, "rev-parse", "HEAD")
    hostile = _hostile_commit(repo, how)
    listing = git(repo, "-c", "core.quotePath=false", "ls-tree", "-r", hostile).splitlines()
    paths = [line.split("\t")[1] for line in listing]
    claimed = f"{EXPERIMENTS}/u-50.json" if how == "slash-in-parent" else f"{ODD}/u-50.json"
    if how == "slashes-in-folder":
        claimed = "experiments/junk/j/leak.txt"
    if how == "name-twice":
        claimed = f"{EXPERIMENTS}/run-00.json"
        assert paths.count(claimed) == 2
    assert claimed in paths  # git lists it as if it were in that folder
    hostile_cold = audit(xcli, repo, "--rev", hostile, "--no-cache")
    main_cold = audit(xcli, repo, "--rev", main, "--no-cache")
    assert hostile_cold.report != main_cold.report
    for _ in range(2):
        same(audit(xcli, repo, "--rev", hostile), hostile_cold)
        same(audit(xcli, repo, "--rev", main), main_cold)


def test_a_folder_named_with_a_pin_digest_lends_no_finding_to_one_named_stars(
    xcli: Cli, tmp_path: Path
) -> None:
    """A file in a folder named by a PIN's digest is reported at a masked path,
    `experiments/****/x.json`; the real folder `experiments/****` of a later commit must
    not be given those findings (no malformed tree needed)."""
    repo = new_repo(tmp_path / "repo")
    for i in range(MIN_DOCUMENTS):
        doc = experiment(f"p-{i:02d}", study="p", status="failed")
        write_json(repo, f"experiments/{PIN_SHA}/p-{i:02d}.json", doc)
    first = commit_all(repo, "a folder named by a digest")
    for i in range(MIN_DOCUMENTS):
        write_json(repo, f"experiments/****/s-{i:02d}.json", experiment(f"s-{i:02d}", study="s"))
        write_json(repo, f"results/s/s-{i:02d}.json", result(f"s-{i:02d}", m(40 + i)))
    both = commit_all(repo, "and a folder named ****")
    git(repo, "rm", "-rq", f"experiments/{PIN_SHA}")
    last = commit_all(repo, "only ****")
    cold = audit(xcli, repo, "--rev", last, "--no-cache")
    assert cold.code == 0, cold.err
    for rev in (first, both, last):
        audit(xcli, repo, "--rev", rev)
    same(audit(xcli, repo, "--rev", last), cold)


def test_a_scanning_audit_and_a_rank_keep_an_entry_each(repo: Path) -> None:
    """`audit` scans for PIN hashes and `rank` does not: their entries for one folder
    differ, and neither replaces the other (a team alternating them keeps both warm)."""
    gitrepo = Git.discover(repo)
    check_tree(gitrepo, scan=True)
    check_tree(gitrepo, scan=False)
    scanned, plain = entry_of(repo, EXPERIMENTS), entry_of(repo, EXPERIMENTS, scan=False)
    assert split_entry(scanned)[0]["scan"] is True
    assert split_entry(plain)[0]["scan"] is False
    assert scanned != plain


# ----------------------------------------------------------------------------- 6. a path twice

BUDGET = (
    "walk_forward: {metric: seg_total, split: holdout, top_n: 3, min_pearson: -1,\n"
    "               max_evaluations_per_study: 50}\n"
)


@pytest.mark.parametrize("case", ["refused-copy", "empty-splits"])
def test_a_result_path_listed_twice_reads_the_same_with_and_without_the_caches(
    xcli: Cli, tmp_path: Path, case: str
) -> None:
    """A malformed tree lists `results/flat/r-00.json` twice. Which of the two documents
    the report's numbers and the holdout budget's count come from must not depend on
    the order the caches read them in: a refused copy (it names another run) lends the
    ranked run none of its numbers, and an empty `splits` is one value however read."""
    repo = new_repo(tmp_path / "repo", POLICY + BUDGET)
    for i in range(MIN_DOCUMENTS):
        add_run(repo, f"r-{i:02d}", m(50 + i), study="flat")
    base = commit_all(repo)
    if case == "refused-copy":
        copies = [result("zzz", m(91.25)), result("r-00", m(50))]
    else:
        holdout = {"holdout": {"seg_total": 49.0}}
        copies = [result("r-00", m(50), holdout), result("r-00", m(50), {})]
    names = [
        (mode, name, sha)
        for mode, name, sha in _entries(_raw(repo, "cat-file", "tree", "HEAD:results/flat"))
        if name != b"r-00.json"
    ]
    for doc in copies:
        data = (json.dumps(doc, indent=2) + "\n").encode()
        sha = _raw(repo, "hash-object", "-w", "--stdin", data=data).strip().decode()
        names.insert(0, (b"100644", b"r-00.json", bytes.fromhex(sha)))
    flat = bytes.fromhex(_tree(repo, names))
    root = [
        (
            mode,
            name,
            bytes.fromhex(_tree(repo, [(b"40000", b"flat", flat)])) if name == b"results" else sha,
        )
        for mode, name, sha in _entries(_raw(repo, "cat-file", "tree", "HEAD^{tree}"))
    ]
    twice = _raw(repo, "commit-tree", _tree(repo, root), "-p", base, "-m", case)
    rev = twice.decode().strip()
    cold = audit(xcli, repo, "--rev", rev, "--since", base, "--no-cache")
    assert "budget" in json.dumps(statement_of(cold.report))
    same(audit(xcli, repo, "--rev", rev, "--since", base), cold)  # the blob cache's order
    kept = (repo / ".git" / "expflow" / "cache").glob("*/folders/*.json")
    assert "results/flat" in {split_entry(entry)[0]["path"] for entry in kept}
    same(audit(xcli, repo, "--rev", rev, "--since", base), cold)  # the folder entry's
    if case == "refused-copy":
        run = next(r for r in runs_of(statement_of(cold.report)) if r["id"] == "r-00")
        assert run["metrics"]["seg_total"] == 50


def test_folders_nested_too_deep_are_listed_as_their_files_alone(
    xcli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder's line in the listing holds its whole path, so a chain of d nested
    folders is d² bytes (16k of them: a 541 MB listing and peak, where `--no-cache`
    lists 32 KB). Past a floor of bytes at a mean line too long, the audit lists the
    files alone (no folder entry is used) and says the same as without the cache.
    The floor and the line are made small here so a short chain meets them."""
    from expflow_git import gitstore

    repo = new_repo(tmp_path / "repo")
    add_run(repo, "shallow", m(50))
    deep = "experiments/" + "/".join(["nest"] * 120)
    write_json(repo, f"{deep}/deep.json", experiment("deep"))
    write_json(repo, f"{RESULTS}/deep.json", result("deep", m(70)))
    commit_all(repo)
    monkeypatch.setattr(gitstore, "LISTING_FLOOR", 8192, raising=False)
    monkeypatch.setattr(gitstore, "LONG_LINE", 100, raising=False)

    listed = Git.discover(repo).tree_records("HEAD", trees=True)
    assert listed == Git.discover(repo).tree_records("HEAD")  # no folder's line
    cold = audit(xcli, repo, "--no-cache")
    assert cold.code == 0, cold.err
    assert [r["id"] for r in runs_of(statement_of(cold.report))][:1] == ["deep"]
    same(audit(xcli, repo), cold)
    same(audit(xcli, repo), cold)


def test_a_listing_with_folders_of_an_unknown_commit_is_gits_error(repo: Path) -> None:
    from expflow_git.errors import ExpflowError

    with pytest.raises(ExpflowError, match=r"^git ls-tree: fatal: "):
        Git.discover(repo).tree_records("0" * 40, trees=True)


@pytest.mark.parametrize("trees", [False, True])
def test_a_listing_that_fails_midway_is_told_once_with_gits_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trees: bool
) -> None:
    """A listing git gives up on after some of it (a folder's tree object missing) is
    git's own error at once. It used to be listed a second time, whole and unbounded,
    only to get git's message."""
    from expflow_git.errors import ExpflowError

    repo = new_repo(tmp_path / "repo")
    for i in range(50):
        write_json(repo, f"a/{i:02d}.json", {"i": i})
    write_json(repo, "z/gone.json", {"i": -1})
    commit_all(repo)
    lost = git(repo, "rev-parse", "HEAD:z").strip()
    (repo / ".git" / "objects" / lost[:2] / lost[2:]).unlink()
    found = Git.discover(repo)
    again = record_calls(monkeypatch, Git, "run")
    with pytest.raises(ExpflowError, match=r"^git ls-tree: (fatal|error): ") as raised:
        found.tree_records("HEAD", trees=trees)
    assert "\n" not in str(raised.value)
    assert not [args for args in again if "ls-tree" in args]


def test_a_listing_needs_no_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a temporary folder for git's stderr the listing is read as ever, and a
    failure is still one line (git's exit status in place of its message)."""
    import tempfile

    from expflow_git.errors import ExpflowError

    repo = new_repo(tmp_path / "repo")
    write_json(repo, "z/kept.json", {"i": 1})
    commit_all(repo)
    listed = Git.discover(repo).tree_records("HEAD")

    def no_folder(*args: Any, **kwargs: Any) -> Any:
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_folder)
    assert Git.discover(repo).tree_records("HEAD") == listed
    lost = git(repo, "rev-parse", "HEAD:z").strip()
    (repo / ".git" / "objects" / lost[:2] / lost[2:]).unlink()
    with pytest.raises(ExpflowError, match=r"^git ls-tree: exited with status \d+$") as raised:
        Git.discover(repo).tree_records("HEAD")
    assert raised.value.__context__ is None  # (not "during handling of" the missing folder)
