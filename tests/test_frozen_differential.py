"""`frozen_at_rev`'s walk (`_records_beside`) against the look-ups it replaced, on random
histories (a differential test):

For each run and each commit that committed its result, the record beside the result
is the first of the run's record paths that is a file in that commit's tree, read as
`git cat-file` reads `<commit>:<path>`. `_records_beside` finds it by following the
first-parent diffs instead; here both answer for every (run, commit) of real
repositories built at random, and must agree: found or not, the frozen view, the
`unnamed` flag. Each history has a few runs whose records move between paths (added,
deleted, `git mv`, re-added with other params, turned into a symlink, a directory or a
submodule entry), results committed in several commits and at several paths, branches
forked before and after BASE, merges (plain, `-X theirs`, and `--no-commit` ones that
remove or rewrite a record while merging; now and then an unrelated history), empty
commits and commits that go back to an earlier tree (two commits, one tree).

Beyond the audit's own (run, result commit) pairs, the walk is also asked about every
commit of the range and about random subsets of runs and commits, and the findings of
`frozen_at_rev` are compared with those the look-ups give.

Each example is one seed: `pytest -k 'seed_17'` replays it; FROZEN_DIFF_SEEDS=N runs N.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers_audit import experiment, git, m, new_repo, result, write

from expflow_git.audit.pipeline import run_audit
from expflow_git.errors import ExpflowError, Finding
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Git, blob_id
from expflow_git.identity import FROZEN_FIELDS, changed_fields, frozen_message, frozen_view

SEEDS = int(os.environ.get("FROZEN_DIFF_SEEDS", "30"))
RECORD = "record-rewritten"

IDS = ("x", "y", "z")
DIRS = ("s", "t", "s/deep", "u v")  # a space: git's `<name> missing` answer holds one
NEWLINE_DIR = "n\nl"  # a path `<commit>:<path>` cannot name: the `unnamed` flag
ODD_DIRS = ("\u00e9", "\udcff")  # UTF-8, a byte that is not UTF-8 (a tab: as a space)
RESULT_DIRS = ("r1", "r2", "r3 q")

FEATURES = (
    "mv",
    "delete",
    "readd_other_params",
    "symlink",
    "directory",
    "gitlink",
    "empty",
    "revert",
    "fork_before_base",
    "fork_after_base",
    "merge",
    "merge_theirs",
    "merge_no_commit_removal",
    "merge_record_from_second_parent",
    "result_at_several_paths",
    "unrelated_history",
)


# ------------------------------------------------------------------ the reference


def _record_at(reader: BlobReader, commit: str, paths: list[str]) -> tuple[bytes | None, bool]:
    """What frozen_at_rev read before the walk: the first of `paths` git names a blob at
    in `commit`, and whether a path could not be named (the reference for the walk)."""
    unnamed = False
    for path in paths:
        if "\n" in path or path.strip() != path:
            unnamed = True
            continue
        try:
            return reader.read(f"{commit}:{path}"), False
        except ExpflowError:
            continue
    return None, unnamed


def _expected(reader: BlobReader, commit: str, paths: list[str]) -> tuple[bool, Any, bool, str]:
    data, unnamed = _record_at(reader, commit, paths)
    if data is None:
        return (False, None, unnamed, "")
    view = frozen_view(data)
    return (True, view, False, "" if view is not None else blob_id(data, len(commit)))


def _old_frozen_at_rev(
    reader: BlobReader, runs: dict[str, Any], views: dict[str, Any]
) -> list[Finding]:
    """frozen_at_rev as it was (one look-up per commit and path), no run reported; a
    record beside a result that cannot be read froze byte for byte (fortieth pass)."""
    findings = []
    for exp_id, (entry, commits, paths) in sorted(runs.items()):
        for commit in commits:
            data, unnamed = _record_at(reader, commit, paths)
            if data is None and not unnamed:
                continue
            why = ""
            if data is None:
                fields = list(FROZEN_FIELDS)
            elif (view := frozen_view(data)) is None:
                blob = blob_id(data, len(commit))
                fields = [] if blob == entry.sha else list(FROZEN_FIELDS)
                why = f" (that record, blob {blob[:12]}, could not be read: it froze as it is)"
            else:
                fields = changed_fields(view, views.get(entry.sha))
            if fields:
                findings.append(
                    Finding(
                        entry.path,
                        RECORD,
                        f"the audited commit {frozen_message(fields, exp_id)}: its record "
                        f"(blob {entry.sha[:12]}) differs from the one beside the result in "
                        f"commit {commit[:12]}, which committed it{why}; a finished run is "
                        "frozen",
                    )
                )
                break
    return findings


def _compare(reader: BlobReader, runs: dict[str, Any], introduced: Any, label: str) -> list[str]:
    """Every (run, commit) where the walk and the look-ups disagree, described."""
    from expflow_git.history import records

    try:
        beside = records._records_beside(reader, runs, introduced.changes, introduced.links)
    except Exception as exc:  # noqa: BLE001 (a crash is a disagreement too)
        return [f"{label}: _records_beside raised {exc!r}"]
    out = []
    for exp_id, (_, commits, paths) in runs.items():
        for commit in commits:
            want = _expected(reader, commit, paths)
            got = beside.get((exp_id, commit), "<no answer>")
            if got != want:
                out.append(
                    f"{label}: run {exp_id!r} at {commit[:12]} paths {paths!r}: "
                    f"walk {got!r} != look-ups {want!r}"
                )
    return out


# ------------------------------------------------------------------ random histories


def _rec(exp_id: str, d: str) -> str:
    return f"experiments/{d}/{exp_id}.json"


def _record_bytes(exp_id: str, variant: int) -> bytes:
    """A few records of one run: same frozen fields (0, 4), other params (1), other
    tags (2), not JSON (3)."""
    if variant == 3:
        return b"not json\n"
    doc = experiment(exp_id, study="s")
    if variant == 1:
        doc["params"] = {"lr": 0.3}
    elif variant == 2:
        doc["tags"] = ["other"]
    elif variant == 4:
        doc["title"] = "retitled"  # not a frozen field: another blob, the same view
    return (json.dumps(doc, indent=2) + "\n").encode()


class History:
    """A repository built by ops; each op draws its choices from its own seed, so an
    op list replays (and shrinks) deterministically."""

    def __init__(self, repo: Path, odd_dirs: bool) -> None:
        self.repo = repo
        self.dirs = DIRS + ((NEWLINE_DIR, *ODD_DIRS) if odd_dirs else ())
        self.pre_base: list[str] = []
        self.base = ""
        self.post: list[str] = []  # commits made after BASE, any branch
        self.branches = ["main"]
        self.current = "main"
        self.gitlinks = False
        self.features: set[str] = set()
        self.log: list[str] = []  # what was done, for a failure's message

    # -- plumbing
    def g(self, *args: str, check: bool = True) -> str:
        return git(self.repo, *args, check=check)

    def head(self) -> str:
        return self.g("rev-parse", "HEAD")

    def _index_gitlinks(self) -> list[str]:
        out = self.g("ls-files", "-s", "-z")
        links = []
        for rec in out.split("\0"):
            if rec.startswith("160000 "):
                links.append(rec.split("\t", 1)[1])
        return links

    def _clear(self, rel: str) -> None:
        """Nothing at `rel` in the work tree (nor a file above it), no gitlink at, above
        or under it in the index."""
        parts = rel.split("/")
        for k in range(1, len(parts)):
            anc = self.repo.joinpath(*parts[:k])
            if anc.is_symlink() or anc.is_file():
                anc.unlink()
                break
        p = self.repo / rel
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
        if self.gitlinks:
            for link in self._index_gitlinks():
                if link == rel or rel.startswith(link + "/") or link.startswith(rel + "/"):
                    self.g("update-index", "--force-remove", "--", link)
                    lp = self.repo / link
                    if lp.is_dir() and not lp.is_symlink() and not any(lp.iterdir()):
                        lp.rmdir()

    def _records_of(self, exp_id: str, files_only: bool = False) -> list[str]:
        found = []
        for d in self.dirs:
            rel = _rec(exp_id, d)
            p = self.repo / rel
            if files_only:
                if p.is_file() and not p.is_symlink():
                    found.append(rel)
            elif os.path.lexists(p):
                found.append(rel)
        return found

    def _commit(self, message: str, *, add: bool = True, allow_empty: bool = False) -> str | None:
        if add:
            self.g("add", "-A")
        args = ["commit", "-q", "--no-verify", "-m", message]
        if allow_empty:
            args.append("--allow-empty")
        before = self.g("rev-parse", "-q", "--verify", "HEAD", check=False)
        self.g(*args, check=False)
        sha = self.g("rev-parse", "-q", "--verify", "HEAD", check=False)
        if sha == before:
            return None
        if self.base:
            self.post.append(sha)
        else:
            self.pre_base.append(sha)
        self.log.append(f"  -> commit {sha[:12]} on {self.current}: {message}")
        return sha

    def _abandon_merge(self) -> None:
        # `reset --hard` ends a merge in progress; a git that died mid-merge (seen once
        # on a directory/file conflict around a gitlink) may have left its lock.
        (self.repo / ".git" / "index.lock").unlink(missing_ok=True)
        self._sync()

    def _sync(self) -> None:
        self.g("reset", "-q", "--hard")
        self.g("clean", "-ffdq")

    # -- actions (inside one commit)
    def write_record(self, r: random.Random, exp_id: str) -> None:
        rel = _rec(exp_id, r.choice(self.dirs))
        old = self._records_of(exp_id, files_only=True)
        variant = r.choice((0, 0, 1, 2, 3, 4))
        self._clear(rel)
        write(self.repo, rel, _record_bytes(exp_id, variant))
        if old and variant in (1, 2):
            self.features.add("readd_other_params")
        self.log.append(f"write {rel!r} variant {variant}")

    def delete_record(self, r: random.Random, exp_id: str) -> None:
        there = self._records_of(exp_id)
        if there:
            rel = r.choice(there)
            self._clear(rel)
            self.features.add("delete")
            self.log.append(f"delete {rel!r}")

    def move_record(self, r: random.Random, exp_id: str) -> None:
        there = self._records_of(exp_id, files_only=True)
        free = [
            _rec(exp_id, d) for d in self.dirs if not os.path.lexists(self.repo / _rec(exp_id, d))
        ]
        if not there or not free:
            return self.write_record(r, exp_id)
        src, dst = r.choice(there), r.choice(free)
        parts = dst.split("/")
        for k in range(1, len(parts)):  # a file where a directory must go
            anc = self.repo.joinpath(*parts[:k])
            if anc.is_symlink() or anc.is_file():
                return self.write_record(r, exp_id)
        (self.repo / dst).parent.mkdir(parents=True, exist_ok=True)
        self.g("add", "-A")
        self.g("mv", "--", src, dst, check=False)
        if os.path.lexists(self.repo / src):  # git mv refused: the same move by hand
            os.rename(self.repo / src, self.repo / dst)
        self.features.add("mv")
        self.log.append(f"git mv {src!r} {dst!r}")
        return None

    def symlink_record(self, r: random.Random, exp_id: str) -> None:
        rel = _rec(exp_id, r.choice(self.dirs))
        target = r.choice(
            (
                json.dumps(json.loads(_record_bytes(exp_id, r.choice((0, 1))))),  # JSON text
                f"{exp_id}.json",
                f"../t/{exp_id}.json",
            )
        )
        self._clear(rel)
        (self.repo / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, self.repo / rel)
        self.features.add("symlink")
        self.log.append(f"symlink {rel!r} -> {target[:30]!r}")

    def directory_record(self, r: random.Random, exp_id: str) -> None:
        rel = _rec(exp_id, r.choice(self.dirs))
        inner = f"{rel}/{exp_id}.json"  # a record path of the same run, under the old one
        self._clear(rel)
        write(self.repo, inner, _record_bytes(exp_id, r.choice((0, 1))))
        self.features.add("directory")
        self.log.append(f"directory {rel!r} (holding {inner!r})")

    def gitlink_record(self, r: random.Random, exp_id: str) -> None:
        rel = _rec(exp_id, r.choice(self.dirs))
        head = self.g("rev-parse", "-q", "--verify", "HEAD", check=False)
        missing = f"{r.getrandbits(160):040x}"
        sha = r.choice((head or missing, missing))  # a commit here (not a blob), or none
        self._clear(rel)
        self.g("add", "-A")
        self.g("update-index", "--add", "--cacheinfo", f"160000,{sha},{rel}")
        (self.repo / rel).mkdir(parents=True, exist_ok=True)
        self.gitlinks = True
        self.features.add("gitlink")
        self.log.append(f"gitlink {rel!r} -> {sha[:12]}")

    def write_result(self, r: random.Random, exp_id: str) -> None:
        rel = f"results/{r.choice(RESULT_DIRS)}/{exp_id}.json"
        mine = [
            f"results/{d}/{exp_id}.json"
            for d in RESULT_DIRS
            if (self.repo / f"results/{d}/{exp_id}.json").is_file()
        ]
        if mine and r.random() < 0.3:  # the same blob at another path
            data = (self.repo / r.choice(mine)).read_bytes()
        else:
            data = (
                json.dumps(result(exp_id, m(r.choice((0.5, 0.6, 0.7)))), indent=2) + "\n"
            ).encode()
        if mine and rel not in mine:
            self.features.add("result_at_several_paths")
        self._clear(rel)
        write(self.repo, rel, data)
        self.log.append(f"result {rel!r}")

    ACTIONS = (
        ("write_record", 5),
        ("delete_record", 2),
        ("move_record", 3),
        ("write_result", 4),
        ("symlink_record", 1),
        ("directory_record", 1),
        ("gitlink_record", 1),
    )

    # -- ops (a commit each, or a branch switch)
    def op_change(self, r: random.Random) -> None:
        names = [n for n, _ in self.ACTIONS]
        weights = [w for _, w in self.ACTIONS]
        for _ in range(r.randint(1, 3)):
            action = r.choices(names, weights)[0]
            getattr(self, action)(r, r.choice(IDS))
        self._commit("change")

    def op_base(self, r: random.Random) -> None:
        for exp_id in IDS:  # something of every run before BASE
            if r.random() < 0.7:
                self.write_record(r, exp_id)
            if r.random() < 0.2:
                self.write_result(r, exp_id)
        self._commit("BASE", allow_empty=True)
        self.base = self.head()
        self.log.append(f"  (BASE = {self.base[:12]})")

    def op_empty(self, r: random.Random) -> None:
        if self._commit("empty", add=False, allow_empty=True):
            self.features.add("empty")

    def op_revert(self, r: random.Random) -> None:
        """Back to an earlier commit's tree (the two commits share a tree id)."""
        earlier = [c for c in self.pre_base + self.post if c != self.head()]
        if self.base:
            earlier.append(self.base)
        if not earlier:
            return
        target = r.choice(earlier)
        self.g("read-tree", "-u", "--reset", target)
        self.log.append(f"read-tree {target[:12]}")
        if self._commit("back to an earlier tree", add=False, allow_empty=True):
            self.features.add("revert")
        self._sync()

    def op_branch(self, r: random.Random, before_base: bool) -> None:
        if before_base:
            starts = self.pre_base
        else:
            starts = [self.base, *self.post]
        if not starts or len(self.branches) >= 4:
            return
        start = r.choice(starts)
        name = f"b{len(self.branches)}"
        self.g("checkout", "-q", "-f", "-b", name, start)
        self._sync()
        self.branches.append(name)
        self.current = name
        self.features.add("fork_before_base" if before_base else "fork_after_base")
        self.log.append(f"checkout -b {name} {start[:12]}")

    def op_orphan(self, r: random.Random) -> None:
        """A history of its own (merged later with --allow-unrelated-histories)."""
        if len(self.branches) >= 4:
            return
        name = f"b{len(self.branches)}"
        self.g("checkout", "-q", "-f", "--orphan", name)
        self.g("rm", "-r", "-q", "-f", "--cached", "--ignore-unmatch", ".")
        self.g("clean", "-ffdq")
        # The policy, so the audit of a merge of this history reads one.
        write(self.repo, "expflow.yaml", self.g("show", "main:expflow.yaml") + "\n")
        for exp_id in r.sample(IDS, r.randint(1, 3)):
            self.write_record(r, exp_id)
            if r.random() < 0.5:
                self.write_result(r, exp_id)
        self.branches.append(name)
        self.current = name
        self.log.append(f"checkout --orphan {name}")
        if self._commit("an unrelated root"):
            self.features.add("unrelated_history")

    def op_switch(self, r: random.Random) -> None:
        others = [b for b in self.branches if b != self.current]
        if others:
            self._switch(r.choice(others))

    def _switch(self, name: str) -> None:
        self.g("checkout", "-q", "-f", name)
        self._sync()
        self.current = name
        self.log.append(f"checkout {name}")

    def op_merge(self, r: random.Random, other: str | None = None) -> None:
        if other is None:
            others = [b for b in self.branches if b != self.current]
            if not others:
                return
            other = r.choice(others)
        mode = r.choice(("plain", "theirs", "no_commit"))
        args = ["merge", "-q", "--no-ff", "--no-commit", "--allow-unrelated-histories"]
        if mode == "theirs":
            args += ["-X", "theirs"]
        self.g(*args, other, check=False)
        if not self.g("rev-parse", "-q", "--verify", "MERGE_HEAD", check=False):
            self._abandon_merge()
            return
        # Conflicts: each path takes one side's entry, or neither.
        unmerged: dict[str, dict[int, tuple[str, str]]] = {}
        for rec in self.g("ls-files", "-u", "-z").split("\0"):
            if rec:
                meta, path = rec.split("\t", 1)
                mode_, sha, stage = meta.split(" ")
                unmerged.setdefault(path, {})[int(stage)] = (mode_, sha)
        for path, stages in sorted(unmerged.items()):
            self.g("update-index", "--force-remove", "--", path)
            sides = [stages[s] for s in (2, 3) if s in stages]
            if sides and r.random() < 0.8:
                mode_, sha = r.choice(sides)
                self.g("update-index", "--add", "--cacheinfo", f"{mode_},{sha},{path}", check=False)
        if mode == "no_commit":  # remove (or rewrite) a record while merging
            tracked = [p for p in self.g("ls-files", "-z", "--", "experiments").split("\0") if p]
            if tracked:
                victim = r.choice(tracked)
                if r.random() < 0.7:
                    self.g("rm", "-q", "-r", "--cached", "-f", "--ignore-unmatch", "--", victim)
                    self.features.add("merge_no_commit_removal")
                    self.log.append(f"(merging) git rm {victim!r}")
                else:
                    data = _record_bytes(r.choice(IDS), r.choice((1, 2)))
                    blob = git(self.repo, "hash-object", "-w", "--stdin", input=data)
                    self.g(
                        "update-index",
                        "--add",
                        "--cacheinfo",
                        f"100644,{blob},{victim}",
                        check=False,
                    )
                    self.log.append(f"(merging) rewrite {victim!r}")
        if self.g("ls-files", "-u") or not self.g("write-tree", check=False):
            self._abandon_merge()
            return
        self.log.append(f"merge {mode} {other} into {self.current}")
        merged = self._commit(f"merge {other} ({mode})", add=False)
        self._sync()
        if merged is None:
            return
        self.features.add("merge")
        if mode == "theirs":
            self.features.add("merge_theirs")
        if self.g(
            "diff-tree",
            "-r",
            "--name-only",
            "--no-commit-id",
            f"{merged}^1",
            merged,
            "--",
            "experiments",
        ):
            self.features.add("merge_record_from_second_parent")

    def op_finish(self, r: random.Random) -> None:
        """Back on main, every branch merged, and every run with a record and a result."""
        self._switch("main")
        for other in self.branches[1:]:
            self.op_merge(r, other)
        for exp_id in IDS:
            if not self._records_of(exp_id, files_only=True):
                rel = _rec(exp_id, r.choice(DIRS))
                self._clear(rel)
                write(self.repo, rel, _record_bytes(exp_id, r.choice((0, 1))))
                self.log.append(f"write {rel!r}")
            if r.random() < 0.5:
                self.write_result(r, exp_id)
        # At least one result committed in the range, whatever came before.
        exp_id = r.choice(IDS)
        doc = result(exp_id, m(0.5, minutes=float(r.randint(1, 10**6))))
        rel = f"results/{r.choice(RESULT_DIRS)}/{exp_id}.json"
        self._clear(rel)
        write(self.repo, rel, json.dumps(doc, indent=2) + "\n")
        self.log.append(f"result {rel!r}")
        self._commit("finish")


POST_OPS = (
    ("change", 5),
    ("empty", 1),
    ("revert", 1.5),
    ("branch_before_base", 1),
    ("branch_after_base", 1),
    ("switch", 1),
    ("merge", 2),
    ("orphan", 0.5),
)


def plan(seed: int) -> tuple[bool, list[tuple[str, int]]]:
    """The ops of one example: a commit or two before BASE, BASE, ~8 ops after it (a
    branch forked before BASE and a merge among them), then `finish`."""
    rnd = random.Random(seed)
    ops = [("change", rnd.getrandbits(32)) for _ in range(rnd.randint(1, 2))]
    ops.append(("base", rnd.getrandbits(32)))
    post = ["branch_before_base", "change", "merge"]
    names = [n for n, _ in POST_OPS]
    weights = [w for _, w in POST_OPS]
    post += rnd.choices(names, weights, k=rnd.randint(4, 6))
    rnd.shuffle(post)
    ops += [(name, rnd.getrandbits(32)) for name in post]
    ops.append(("finish", rnd.getrandbits(32)))
    return rnd.random() < 0.3, ops


def build(repo: Path, odd_dirs: bool, ops: list[tuple[str, int]]) -> History:
    new_repo(repo)
    h = History(repo, odd_dirs)
    for name, op_seed in ops:
        r = random.Random(op_seed)
        h.log.append(f"[{name}]")
        if name == "branch_before_base":
            h.op_branch(r, before_base=True)
        elif name == "branch_after_base":
            h.op_branch(r, before_base=False)
        else:
            getattr(h, f"op_{name}")(r)
    return h


# ------------------------------------------------------------------ the audit, spied


def audit_and_compare(
    repo: Path, base: str, monkeypatch: pytest.MonkeyPatch, seed: int
) -> dict[str, Any]:
    """Run the audit with `frozen_at_rev` wrapped: the walk's answers against the
    look-ups' for the audit's pairs, for every commit of the range, for random subsets."""
    import expflow_git.history as history
    from expflow_git.history import records

    seen: dict[str, Any] = {"mismatches": [], "pairs": 0, "calls": 0}

    def frozen_at_rev(
        reader: BlobReader, introduced: Any, views: Any, reported: set[str]
    ) -> list[Finding]:
        seen["calls"] += 1
        runs, changes = introduced.runs, introduced.changes
        seen["pairs"] += sum(len(c) for _, c, _ in runs.values())
        seen["runs"] = sorted(runs)
        seen["mismatches"] += _compare(reader, runs, introduced, "result commits")
        walked = [commit for commit, _ in changes]
        every = {x: (e, walked, paths) for x, (e, _, paths) in runs.items()}
        seen["all_pairs"] = len(walked) * len(every)
        seen["mismatches"] += _compare(reader, every, introduced, "every commit")
        r = random.Random(seed)
        for k in range(3):
            some = {
                x: (e, sorted(r.sample(walked, r.randint(0, len(walked))), key=walked.index), p)
                for x, (e, _, p) in every.items()
                if r.random() < 0.7
            }
            seen["mismatches"] += _compare(reader, some, introduced, f"subset {k}")
        new = records.frozen_at_rev(reader, introduced, views, set())
        old = _old_frozen_at_rev(reader, runs, views)
        if new != old:
            seen["mismatches"].append(f"findings: walk {new!r} != look-ups {old!r}")
        return records.frozen_at_rev(reader, introduced, views, reported)

    monkeypatch.setattr(history, "frozen_at_rev", frozen_at_rev)
    run_audit(Git.discover(repo), since=base, use_cache=False)
    return seen


@pytest.mark.parametrize("seed", range(SEEDS), ids=lambda s: f"seed_{s}")
def test_records_beside_matches_the_look_ups(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd_dirs, ops = plan(seed)
    h = build(tmp_path / "repo", odd_dirs, ops)
    seen = audit_and_compare(h.repo, h.base, monkeypatch, seed)
    graph = git(h.repo, "log", "--graph", "--oneline", "--all")
    assert seen["calls"] == 1
    assert not seen["mismatches"], "\n".join(
        [f"seed {seed}:", *seen["mismatches"], "history:", *h.log, graph]
    )
    assert seen["all_pairs"] > 0, "no run had a result committed in the range"


def test_the_histories_cover_what_they_should() -> None:
    """The plans hold the ops that make the features above (the build may skip one
    when the repository state does not allow it; the per-seed runs record which)."""
    kinds = {name for seed in range(SEEDS) for name, _ in plan(seed)[1]}
    assert {"branch_before_base", "branch_after_base", "merge", "empty", "revert"} <= kinds
    assert any(plan(seed)[0] for seed in range(SEEDS))  # a path git cannot be asked for


def test_a_record_path_with_a_space_missing_beside_a_result(tmp_path: Path) -> None:
    """REV's record path holds a space and is not a file in the commit that committed
    the result: asking git for `<commit>:<path>` (the look-ups before and the walk now,
    for a path no commit of its chain touched) gets `<commit>:<path> missing`, which the
    reader split into three words and took for a header: a ValueError stopped the audit."""
    from helpers_audit import add_run, commit_all, write_json

    repo = new_repo(tmp_path / "repo")
    add_run(repo, "a", m(0.9))
    base = commit_all(repo, "base")
    write_json(repo, "experiments/s/x.json", experiment("x", study="s"))
    write_json(repo, "results/s/x.json", result("x", m(0.5)))
    commit_all(repo, "x with its result")
    (repo / "experiments/u v").mkdir(parents=True)
    git(repo, "mv", "experiments/s/x.json", "experiments/u v/x.json")
    commit_all(repo, "the record moved to a path with a space")
    audit = run_audit(Git.discover(repo), since=base, use_cache=False)
    assert not [f for f in audit.findings if f.rule == RECORD]  # moved, not changed


def test_a_tree_naming_a_record_twice_is_read_as_git_reads_the_path(tmp_path: Path) -> None:
    """A hand-made tree (`hash-object --literally`, which `git fsck` refuses but a clone
    takes) holds x.json twice: R1 (x's record at BASE) first, then R2 with other params.
    git's diff against BASE shows only `A x.json R2`, while `<commit>:<path>` reads R1.
    The walk read the blob the diff named, so the record beside x's result was R2, and
    REV's record (R2, at another path) passed; the look-ups it replaced read R1 and
    reported the change. Each answer is now read at `<commit>:<path>`."""
    from helpers_audit import add_run, commit_all

    repo = new_repo(tmp_path / "repo")
    add_run(repo, "x", None, study="s", sub_step=5)
    base = commit_all(repo, "base")

    def put(kind: str, data: bytes) -> str:
        return git(repo, "hash-object", "-t", kind, "-w", "--literally", "--stdin", input=data)

    def tree(*entries: tuple[str, str, str]) -> str:  # in the given order, as given
        raw = b"".join(
            f"{mode} {name}\0".encode() + bytes.fromhex(sha) for mode, name, sha in entries
        )
        return put("tree", raw)

    r1 = git(repo, "rev-parse", f"{base}:experiments/s/x.json")
    r2 = put("blob", json.dumps(experiment("x", study="s", sub_step=7)).encode())
    res = put("blob", json.dumps(result("x", m(0.5))).encode())
    policy = git(repo, "rev-parse", f"{base}:expflow.yaml")

    def top(*study: tuple[str, str, str]) -> str:
        experiments = tree(("40000", "s", tree(*study)))
        results = tree(("40000", "s", tree(("100644", "x.json", res))))
        return tree(
            ("40000", "experiments", experiments),
            ("100644", "expflow.yaml", policy),
            ("40000", "results", results),
        )

    twice = (("100644", "x.json", r1), ("100644", "x.json", r2))
    moved = ("40000", "a", tree(("100644", "x.json", r2)))
    c1 = git(repo, "commit-tree", top(*twice), "-p", base, "-m", "x twice, and its result")
    c2 = git(repo, "commit-tree", top(moved, *twice), "-p", c1, "-m", "R2 at another path")
    c3 = git(repo, "commit-tree", top(moved), "-p", c2, "-m", "the doubled name gone")
    git(repo, "update-ref", "refs/heads/main", c3)
    assert git(repo, "rev-parse", f"{c1}:experiments/s/x.json") == r1
    audit = run_audit(Git.discover(repo), since=base, use_cache=False)
    frozen = [f for f in audit.findings if f.rule == RECORD]
    assert [(f.path, c1[:12] in f.message) for f in frozen] == [("experiments/s/a/x.json", True)]
