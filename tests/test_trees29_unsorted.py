"""`audit --since` refuses a range holding a hand-made tree git reads path by path
otherwise than whole: out of git's order (`git fsck`: treeNotSorted) or naming an entry
twice (duplicateEntries), on the way to a document folder or the policy file.

The budgets read BASE's own history path-limited (`git log -- results experiments
corrections`), the range whole. git's path-limited walk stops at the first entry past
the name it looks for, so a commit whose top folder lists `results` after `zzz` reads
there as deleting every result and adding none: a pull request adding a run with a
holdout look in such a commit, then deleting it on record, passed its own audit with
the look counted, and once merged every later audit forgot the look and the run (an
attacker's hunt, issue 18 twenty-ninth pass). Real repositories, the real CLI as a
subprocess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers_audit import (
    POLICY,
    STUDY,
    add_run,
    assert_one_error_line,
    commit_all,
    git,
    m,
    new_repo,
    run_cli,
    statement_of,
)
from support import git_calls, git_counter, record_calls

from expflow_git.gitblobs import BlobReader, shared_reader
from expflow_git.gitstore import Git, tree_entries

BUDGETS = POLICY + (
    "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: -1,\n"
    "               max_evaluations: 2}\n"
    "budget: {max_runs: 3}\n"
)
HOLDOUT = {"holdout": {"seg_total": 59.0}}

Entry = tuple[bytes, str, str]  # name, mode, id


def _entries(repo: Path, tree: str) -> list[Entry]:
    out = git(repo, "ls-tree", "-z", tree)
    found = []
    for rec in out.split("\0"):
        if rec:
            meta, name = rec.split("\t", 1)
            mode, _, sha = meta.split(" ")
            found.append((name.encode(), mode, sha))
    return found


def _write_tree(repo: Path, entries: list[Entry]) -> str:
    """A tree object holding `entries` in the order given (git's own tools sort them)."""
    body = b"".join(
        mode.lstrip("0").encode() + b" " + name + b"\0" + bytes.fromhex(sha)
        for name, mode, sha in entries
    )
    return git(repo, "hash-object", "-t", "tree", "--literally", "-w", "--stdin", input=body)


def _blob(repo: Path, data: bytes) -> str:
    return git(repo, "hash-object", "-w", "--stdin", input=data)


def _moved_last(entries: list[Entry], *names: bytes) -> list[Entry]:
    """`entries` with those named `names` moved to the end, in git's order or not."""
    kept = [e for e in entries if e[0] not in names]
    return kept + [e for e in entries if e[0] in names]


def _crafted_pull_request(tmp_path: Path, policy: str = BUDGETS) -> tuple[Path, str, str, str]:
    """BASE with two runs and looks; a pull request whose first commit, U1, adds run
    exp-002 with a holdout look under a top folder listing `results` and `experiments`
    after `zzz`, and whose second, a plain one, deletes it again; then merged
    (fast-forward). Returns the repository, BASE, U1 and the merged tip."""
    repo = new_repo(tmp_path / "repo", policy)
    for i, seg in enumerate((50.0, 51.0)):
        add_run(repo, f"exp-00{i}", m(seg), splits={"holdout": {"seg_total": seg - 1}})
    base = commit_all(repo, "base: two runs, two looks")
    add_run(repo, "exp-002", m(60.0), splits=HOLDOUT)
    twin = commit_all(repo, "the same commit as git writes it")
    zzz = (b"zzz", "100644", _blob(repo, b"z\n"))
    ordered = sorted([*_entries(repo, f"{twin}^{{tree}}"), zzz])
    tree = _write_tree(repo, _moved_last(ordered, b"experiments", b"results"))
    u1 = git(repo, "commit-tree", tree, "-p", base, "-m", "U1: exp-002, a look")
    git(repo, "reset", "-q", "--hard", u1)
    (repo / f"results/{STUDY}/exp-002.json").unlink()
    (repo / f"experiments/{STUDY}/exp-002.json").unlink()
    merged = commit_all(repo, "S2: exp-002 gone; the pull request, merged")
    return repo, base, u1, merged


def _audit(repo: Path, since: str) -> tuple[int, list[dict[str, Any]]]:
    res = run_cli(["audit", "--no-cache", "--format", "json", "--since", since], repo)
    assert res.code in (0, 1), res
    return res.code, statement_of(res.out.encode())["predicate"]["entries"]


def test_a_range_with_a_top_folder_out_of_order_is_refused(tmp_path: Path) -> None:
    repo, base, u1, _ = _crafted_pull_request(tmp_path)
    # (what the hunt found: git's path-limited log reads U1 as deleting every result)
    shown = git(repo, "log", "--raw", "--format=%H", "-1", u1, "--", "results", "experiments")
    assert f"D\tresults/{STUDY}/exp-000.json" in shown, shown
    assert f"A\tresults/{STUDY}/exp-002.json" not in shown, shown
    res = run_cli(["audit", "--no-cache", "--since", base], repo)
    assert_one_error_line(
        res,
        2,
        f"commit {u1}: the tree of its top folder",
        "lists 'zzz' before 'experiments' (git fsck: treeNotSorted)",
        "transfer.fsckObjects",
    )


def test_the_same_pull_request_written_by_git_counts_the_same_from_any_base(
    tmp_path: Path,
) -> None:
    """No false alarm: the pull request made with git's own trees passes the check, and
    its look and run count from BASE and from the merge alike."""
    repo = new_repo(tmp_path / "repo", BUDGETS)
    for i, seg in enumerate((50.0, 51.0)):
        add_run(repo, f"exp-00{i}", m(seg), splits={"holdout": {"seg_total": seg - 1}})
    base = commit_all(repo, "base: two runs, two looks")
    add_run(repo, "exp-002", m(60.0), splits=HOLDOUT)
    commit_all(repo, "exp-002, a look")
    (repo / f"results/{STUDY}/exp-002.json").unlink()
    (repo / f"experiments/{STUDY}/exp-002.json").unlink()
    merged = commit_all(repo, "exp-002 gone; merged")
    add_run(repo, "exp-003", m(61.0), splits=HOLDOUT)
    commit_all(repo, "the next pull request: one more look")
    seen = {}
    for since in (base, merged):
        code, entries = _audit(repo, since)
        [budget] = [e for e in entries if e["type"] == "holdout-budget"]
        seen[since] = (code, budget["studies"])
    assert seen[base] == seen[merged] == (1, [{"study": STUDY, "evaluations": 4}]), seen


def test_a_folder_on_the_way_to_the_documents_out_of_order_is_refused(tmp_path: Path) -> None:
    """Documents under `data/`: the top folder is in git's order, `data` is not."""
    policy = BUDGETS.replace('["experiments/', '["data/experiments/').replace(
        '["results/', '["data/results/'
    )
    repo = new_repo(tmp_path / "repo", policy)
    (repo / "data").mkdir()
    for i, seg in enumerate((50.0, 51.0)):
        add_run(repo / "data", f"exp-00{i}", m(seg), splits={"holdout": {"seg_total": seg - 1}})
    base = commit_all(repo, "base")
    add_run(repo / "data", "exp-002", m(60.0), splits=HOLDOUT)
    twin = commit_all(repo, "exp-002, as git writes it")
    top = _entries(repo, f"{twin}^{{tree}}")
    [data] = [e for e in top if e[0] == b"data"]
    zzz = (b"zzz", "100644", _blob(repo, b"z\n"))
    inner = _write_tree(repo, _moved_last(sorted([*_entries(repo, data[2]), zzz]), b"results"))
    tree = _write_tree(repo, [e if e[0] != b"data" else (b"data", data[1], inner) for e in top])
    u1 = git(repo, "commit-tree", tree, "-p", base, "-m", "U1")
    git(repo, "reset", "-q", "--hard", u1)
    res = run_cli(["audit", "--no-cache", "--since", base], repo)
    assert_one_error_line(
        res,
        2,
        f"commit {u1}: the tree of its folder 'data'",
        "lists 'zzz' before 'results' (git fsck: treeNotSorted)",
    )


def test_a_top_folder_naming_a_document_folder_twice_is_refused(tmp_path: Path) -> None:
    """Also without any budget in the policy: every later audit reads the range as BASE's
    history, whatever its policy says then."""
    repo = new_repo(tmp_path / "repo", POLICY)
    add_run(repo, "exp-000", m(50.0))
    base = commit_all(repo, "base")
    add_run(repo, "exp-001", m(51.0))
    twin = commit_all(repo, "exp-001")
    top = _entries(repo, f"{twin}^{{tree}}")
    [results] = [e for e in top if e[0] == b"results"]
    [old] = [e for e in _entries(repo, f"{base}^{{tree}}") if e[0] == b"results"]
    at = top.index(results)
    u1 = git(
        repo,
        "commit-tree",
        _write_tree(repo, [*top[:at], old, *top[at:]]),
        "-p",
        base,
        "-m",
        "U1",
    )
    git(repo, "reset", "-q", "--hard", u1)
    res = run_cli(["audit", "--no-cache", "--since", base], repo)
    assert_one_error_line(res, 2, f"commit {u1}:", "names 'results' twice (git fsck: duplicate")


def test_a_file_named_with_a_slash_beside_its_folder_is_refused(tmp_path: Path) -> None:
    """A top folder holding the folder `results` and then a file named `results/x.json`
    sorts as bytes, yet git's path-limited reads miss the file that the whole listing
    shows (git fsck: fullPathname, treeNotSorted; a review, thirtieth pass)."""
    repo = new_repo(tmp_path / "repo", BUDGETS)
    add_run(repo, "exp-000", m(50.0), splits={"holdout": {"seg_total": 49.0}})
    base = commit_all(repo, "base")
    look = _blob(repo, (repo / f"results/{STUDY}/exp-000.json").read_bytes())
    entries = [*_entries(repo, f"{base}^{{tree}}"), (b"results/y.json", "100644", look)]
    tree = _write_tree(
        repo, sorted(entries, key=lambda e: e[0] + b"/" if e[1] == "40000" else e[0])
    )
    u1 = git(repo, "commit-tree", tree, "-p", base, "-m", "U1: a file named with a slash")
    git(repo, "reset", "-q", "--hard", u1)
    res = run_cli(["audit", "--no-cache", "--since", base], repo)
    assert_one_error_line(res, 2, f"commit {u1}: the tree of its top folder", "never writes")


def test_tree_order_is_gits() -> None:
    """A folder's name compares as if it ended in '/': `a-b` before the folder `a`, after
    the file `a`; a file and a folder of one name are listed twice, apart or not."""
    sha = "ab" * 20
    blob, folder = "100644", "40000"

    def fault(*entries: tuple[str, str]) -> str | None:
        data = b"".join(f"{mode} {name}\0".encode() + bytes.fromhex(sha) for name, mode in entries)
        return tree_entries(data, 40)[1]

    assert fault(("a", blob), ("a-b", blob), ("a.c", blob)) is None
    assert fault(("a-b", blob), ("a", folder), ("a0", blob)) is None
    assert fault(("a", folder), ("a-b", blob)) is not None
    assert "treeNotSorted" in (fault(("b", blob), ("a", blob)) or "")
    assert "duplicateEntries" in (fault(("a", blob), ("a-b", blob), ("a", folder)) or "")
    assert "duplicateEntries" in (fault(("a", blob), ("a", blob)) or "")
    assert fault(("a", "9")) == "is no tree git reads"
    # Names git never writes: `results` then `results/y.json` sort as bytes, and git's
    # path-limited reads miss the file (a review, thirtieth pass).
    assert "never writes" in (fault(("results", folder), ("results/y.json", blob)) or "")
    for odd in ("", ".", ".."):
        assert "never writes" in (fault((odd, folder), ("b", blob)) or ""), odd
    [entry] = tree_entries(b"40000 a\0" + bytes.fromhex(sha), 40)[0]
    assert (entry.name, entry.folder, entry.sha) == (b"a", True, sha)


def test_a_wide_tree_in_order_is_checked_without_a_step_per_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`audit --since` reads each commit's top folder, and each entry cost a step in
    Python (and a copy of the list: quadratic): 800 commits over a top folder of 20,000
    files took minutes (a hunt). A tree of git's modes, in order, is checked by the
    regex engine; anything else entry by entry, to name its fault; both agree."""
    import random

    from expflow_git import gitstore

    rng = random.Random(7)
    modes = [b"40000", b"100644", b"100755", b"120000", b"160000", b"040000", b"644"]
    for _ in range(3000):
        entries = [
            (rng.choice(modes), bytes(rng.choice(b"ab-./0") for _ in range(rng.randrange(1, 3))))
            for _ in range(rng.randrange(0, 6))
        ]
        if rng.random() < 0.7:
            entries.sort(key=lambda e: e[1] + b"/" if int(e[0], 8) >> 12 == 4 else e[1])
        data = b"".join(mode + b" " + name + b"\0" + bytes(20) for mode, name in entries)
        data = data[:-1] if rng.random() < 0.05 else data
        assert tree_entries(data, 40) == gitstore._tree_entries_one_by_one(data, 40), entries
    names = sorted(f"f{i:05d}".encode() for i in range(20_000))
    wide = b"".join(
        (b"40000 " if i % 10 == 0 else b"100644 ") + name + b"\0" + bytes(20)
        for i, name in enumerate(names)
    )
    stepped = record_calls(monkeypatch, gitstore, "_tree_entries_one_by_one")
    folders, fault = tree_entries(wide, 40)
    assert fault is None and len(folders) == 2_000 and stepped == []
    assert tree_entries(wide + b"100644 a\0" + bytes(20), 40)[1] is not None  # (out of order)
    assert len(stepped) == 1


def test_gits_own_trees_pass(tmp_path: Path) -> None:
    """Names git's order and a naive sort put apart (`a-b`, the folder `a`, `a0`), as
    `git mktree` writes them."""
    repo = new_repo(tmp_path / "repo", BUDGETS)
    add_run(repo, "exp-000", m(50.0), splits={"holdout": {"seg_total": 49.0}})
    base = commit_all(repo, "base")
    for rel in ("results-b/x.json", "results0", f"results/{STUDY}/notes-b.txt"):
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    add_run(repo, "exp-001", m(51.0))
    commit_all(repo, "names near the folders'")
    assert _audit(repo, base)[0] in (0, 1)


def test_the_check_costs_no_git_process_per_commit(tmp_path: Path) -> None:
    """One `git rev-list`, and the trees read through the audit's own `git cat-file
    --batch` stream, whatever the range: an audit without budgets still starts two
    streams (the tree's and the history's), as before the check, and the history's
    `<commit>:<path>` reads one more (git's default delta-base cache, forty-second
    pass)."""
    env, log = git_counter(tmp_path)

    def calls(commits: int, policy: str) -> list[str]:
        repo = new_repo(tmp_path / f"repo-{commits}-{len(policy)}", policy)
        add_run(repo, "exp-000", m(50.0))
        base = commit_all(repo, "base")
        for i in range(commits):
            (repo / "notes.txt").write_text(json.dumps(i))
            add_run(repo, f"exp-1{i:02}", m(51.0))
            commit_all(repo, f"commit {i}")
        log.unlink(missing_ok=True)
        res = run_cli(["audit", "--no-cache", "--since", base], repo, env=env)
        assert res.code in (0, 1), res
        return [call.args for call in git_calls(log)]

    for policy in (POLICY, BUDGETS):
        one, fifty = calls(1, policy), calls(50, policy)
        assert len(one) == len(fifty), (policy, one, fifty)
        assert sum(" rev-list --topo-order --format=%T " in f" {c} " for c in fifty) == 1, fifty
    assert sum(c.endswith("cat-file --batch") for c in calls(2, POLICY)) == 3


def test_a_new_document_folder_costs_one_git_process_more_whatever_the_history(
    tmp_path: Path,
) -> None:
    """A pull request adding a document folder to the policy: BASE's history is read on
    the way to it, with one `git rev-list` more than an audit of the same history whose
    policy adds none, and the trees through the same stream, however long that history
    is."""
    env, log = git_counter(tmp_path)
    wider = BUDGETS.replace('["results/**/*.json"]', '["results/**/*.json", "lab/r/**/*.json"]')
    same = BUDGETS + "# the same folders\n"

    def calls(commits: int, policy: str) -> list[str]:
        repo = new_repo(tmp_path / f"repo-{commits}-{len(policy)}", BUDGETS)
        for i in range(commits):
            (repo / "lab").mkdir(exist_ok=True)
            (repo / "lab" / "notes.txt").write_text(json.dumps(i))
            add_run(repo, f"exp-1{i:02}", m(51.0))
            base = commit_all(repo, f"commit {i}")
        (repo / "expflow.yaml").write_text(policy)
        commit_all(repo, "the policy changed")
        log.unlink(missing_ok=True)
        res = run_cli(["audit", "--no-cache", "--since", base], repo, env=env)
        assert res.code in (0, 1), res
        return [call.args for call in git_calls(log)]

    one, fifty = calls(1, wider), calls(50, wider)
    assert len(one) == len(fifty), (one, fifty)
    ordinary = calls(50, same)
    trees = " rev-list --topo-order --format=%T "
    assert len(fifty) == len(ordinary) + 1, (fifty, ordinary)
    assert sum(trees in f" {c} " for c in fifty) == 2, fifty
    assert sum(trees in f" {c} " for c in ordinary) == 1, ordinary


def test_the_audits_stream_is_borrowed_only_where_it_is_free(tmp_path: Path) -> None:
    """`shared_reader` lends the reader whose `with` block this thread is in (the same
    Git), not one in the middle of a `read_many`, nor another repository's."""
    repo = new_repo(tmp_path / "repo", POLICY)
    commit_all(repo, "policy")
    blob = git(repo, "rev-parse", "HEAD:expflow.yaml")
    one, other = Git.discover(repo), Git.discover(repo)
    with shared_reader(one) as alone:
        assert alone.read(blob) == POLICY.encode()
    with BlobReader(one) as outer:
        with shared_reader(one) as lent:
            assert lent is outer
        with shared_reader(other) as own:
            assert own is not outer
        stream = outer.read_many([blob])
        next(stream)  # (busy until the stream is read to its end)
        with shared_reader(one) as fresh:
            assert fresh is not outer and fresh.read(blob) == POLICY.encode()
        assert list(stream) == []
        assert outer.read(blob) == POLICY.encode()  # left open by the borrowers
    with shared_reader(one) as after:
        assert after is not outer
