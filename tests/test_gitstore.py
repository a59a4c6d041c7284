"""gitstore against real repositories made with the git CLI in tmp dirs (no mocks of git)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from support import run_git

from expflow_git.errors import ExitCode, ExpflowError
from expflow_git.gitblobs import BlobReader
from expflow_git.gitstore import Change, Commit, Git, IndexEntry, TreeEntry, no_git_env, zsplit

PROJECT = Path(__file__).resolve().parents[1]


class Repo:
    """A throwaway repository with deterministic commit dates."""

    def __init__(self, path: Path, *, bare: bool = False) -> None:
        self.path = path
        self._tick = 0
        args = ["init", "-q", "-b", "main"] + (["--bare"] if bare else []) + [str(path)]
        subprocess.run(["git", *args], check=True)
        for key, value in (
            ("user.name", "Tester"),
            ("user.email", "tester@example.com"),
            ("commit.gpgsign", "false"),
            ("tag.gpgsign", "false"),
        ):
            self.git("config", key, value)

    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> str:
        """support.run_git in this repository, each call a minute after the last."""
        self._tick += 1
        date = f"{1_700_000_000 + self._tick * 60} +0100"
        dates = {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
        proc = run_git(self.path, *args, env={**dates, **(env or {})}, input=input)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def write(self, rel: str, text: str | bytes) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode() if isinstance(text, str) else text)

    def commit(self, msg: str, files: dict[str, str | None] | None = None) -> str:
        """Write (or with None delete) files, stage everything and commit; return the sha."""
        for rel, text in (files or {}).items():
            if text is None:
                (self.path / rel).unlink()
            else:
                self.write(rel, text)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", msg)
        return self.git("rev-parse", "HEAD")

    def hash_blob(self, data: bytes) -> str:
        return self.git("hash-object", "-w", "--stdin", input=data)


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The developer's ~/.gitconfig (signing, hooksPath, colour) must not leak in.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


@pytest.fixture
def git(repo: Repo) -> Git:
    return Git.discover(repo.path)


# -- environment ---------------------------------------------------------------


def test_no_git_env_drops_repository_selectors_and_keeps_transport() -> None:
    env = {
        "PATH": "/bin",
        "HOME": "/home/x",
        "GIT_DIR": ".git",
        "GIT_WORK_TREE": "/w",
        "GIT_INDEX_FILE": ".git/index.lock",
        "GIT_PREFIX": "sub/",
        "GIT_AUTHOR_DATE": "@1 +0000",
        "GIT_COMMITTER_NAME": "CI",
        "GIT_OBJECT_DIRECTORY": "/o",
        "GIT_EXEC_PATH": "/usr/lib/git-core",
        "GIT_SSH_COMMAND": "ssh -i k",
        "GIT_SSL_CAINFO": "/ca",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.autocrlf",
        "GIT_CONFIG_VALUE_0": "false",
    }
    assert no_git_env(env) == {
        "PATH": "/bin",
        "HOME": "/home/x",
        "GIT_AUTHOR_DATE": "@1 +0000",  # identity selects no repository
        "GIT_COMMITTER_NAME": "CI",
        "GIT_EXEC_PATH": "/usr/lib/git-core",
        "GIT_SSH_COMMAND": "ssh -i k",
        "GIT_SSL_CAINFO": "/ca",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.autocrlf",
        "GIT_CONFIG_VALUE_0": "false",
    }


def test_no_git_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_INDEX_FILE", "/elsewhere")
    monkeypatch.setenv("EXPFLOW_TEST_MARKER", "1")
    env = no_git_env()
    assert "GIT_INDEX_FILE" not in env
    assert env["EXPFLOW_TEST_MARKER"] == "1"


def test_zsplit() -> None:
    assert zsplit(b"") == []
    assert zsplit(b"a\0b\0") == [b"a", b"b"]
    assert zsplit(b"a\0\0") == [b"a", b""]


# -- discovery and running -----------------------------------------------------


def test_discover_from_subdirectory(repo: Repo) -> None:
    (repo.path / "a" / "b").mkdir(parents=True)
    g = Git.discover(repo.path / "a" / "b")
    assert g.root == repo.path.resolve()
    assert g.git_dir == (repo.path / ".git").resolve()


def test_discover_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ExpflowError) as exc:
        Git.discover(plain)
    assert exc.value.message == f"not a git repository: {plain}"
    assert exc.value.code == ExitCode.USAGE


def test_discover_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ExpflowError, match="not a git repository: .*nowhere"):
        Git.discover(tmp_path / "nowhere")


def test_bare_repository_root_is_its_git_dir(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit("one", {"a.json": "{}"})
    bare = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True)
    g = Git.discover(bare)
    assert g.root == g.git_dir == bare.resolve()
    assert g.resolve_commit("HEAD").sha == sha
    assert [e.path for e in g.ls_tree(sha)] == ["a.json"]


def test_discover_inside_the_git_directory_finds_its_work_tree(repo: Repo, tmp_path: Path) -> None:
    """--show-toplevel fails inside a git directory ("this operation must be run in a
    work tree"): every command run there was refused as no repository (a hunt, issue 18
    twenty-seventh pass). The work tree git knows is used: the folder holding `.git`,
    or a linked work tree's."""
    repo.commit("one", {"a.json": "{}"})
    top, dot_git = repo.path.resolve(), (repo.path / ".git").resolve()
    for inside in (repo.path / ".git", repo.path / ".git" / "refs" / "heads"):
        g = Git.discover(inside)
        assert (g.root, g.git_dir) == (top, dot_git)
        assert g.run("rev-parse", "--show-toplevel").decode().strip() == str(top)
    linked = tmp_path / "linked"
    repo.git("worktree", "add", "-q", "-b", "other", str(linked))
    g = Git.discover(repo.path / ".git" / "worktrees" / "linked")
    assert (g.root, g.git_dir) == (linked.resolve(), dot_git / "worktrees" / "linked")
    # A linked work tree whose path is not UTF-8: its `gitdir` file read as bytes (it was
    # read as UTF-8, and the work tree was not found; a review).
    odd = tmp_path / os.fsdecode(b"wt-\xfe")
    repo.git("worktree", "add", "-q", "-b", "odd", str(odd))
    (named,) = [p for p in (dot_git / "worktrees").iterdir() if p.name.startswith("wt-")]
    g = Git.discover(named)
    assert (g.root, g.git_dir) == (odd.resolve(), named)
    # A git directory of another name, no core.worktree: git knows no work tree.
    apart = tmp_path / "apart.git"
    made = run_git(tmp_path, "init", "-q", "--separate-git-dir", str(apart), str(tmp_path / "wt"))
    assert made.returncode == 0, made.stderr
    with pytest.raises(ExpflowError, match="must be run in a work tree"):
        Git.discover(apart)


def test_audit_runs_inside_the_git_directory(tmp_path: Path) -> None:
    from helpers_audit import run_cli, seed_repo

    repo = seed_repo(tmp_path / "seed")
    expected = run_cli(["audit", "--no-cache"], repo)
    assert expected.code in (0, 1), expected
    for inside in (repo / ".git", repo / ".git" / "objects"):
        assert run_cli(["audit", "--no-cache"], inside) == expected


def test_run_returns_stdout_and_raises_with_git_message(git: Git) -> None:
    assert git.run("rev-parse", "--is-inside-work-tree") == b"true\n"
    with pytest.raises(ExpflowError) as exc:
        git.run("cat-file", "-t", "0" * 40)
    assert exc.value.message.startswith("git cat-file: fatal:")
    assert "\n" not in exc.value.message


def test_run_passes_input(git: Git) -> None:
    sha = git.run("hash-object", "--stdin", input=b"hello\n").strip()
    assert sha == b"ce013625030ba8dba906f756967f9e9ca394464a"


# -- commits -------------------------------------------------------------------


def test_resolve_commit(repo: Repo, git: Git) -> None:
    first = repo.commit("one", {"a.json": "1"})
    second = repo.commit("two", {"a.json": "2"})
    c = git.resolve_commit("HEAD")
    assert isinstance(c, Commit)
    assert c.sha == second
    assert c.tree == repo.git("rev-parse", "HEAD^{tree}")
    assert c.parents == (first,)
    assert c.time == int(repo.git("log", "-1", "--format=%ct"))
    assert c.tz == "+0100"
    root = git.resolve_commit(first[:10])
    assert root.sha == first and root.parents == ()


def test_resolve_commit_peels_annotated_tag(repo: Repo, git: Git) -> None:
    sha = repo.commit("one", {"a.json": "1"})
    repo.git("tag", "-a", "-m", "release", "v1")
    assert repo.git("cat-file", "-t", "v1") == "tag"
    assert git.resolve_commit("v1").sha == sha


def test_resolve_commit_merge_has_two_parents(repo: Repo, git: Git) -> None:
    base = repo.commit("base", {"a": "1"})
    repo.git("checkout", "-q", "-b", "side")
    side = repo.commit("side", {"b": "1"})
    repo.git("checkout", "-q", "main")
    main = repo.commit("main", {"c": "1"})
    repo.git("merge", "-q", "--no-edit", "side")
    assert git.resolve_commit("HEAD").parents == (main, side)
    assert git.is_ancestor(base, "HEAD")


def test_resolve_commit_no_commits_yet(git: Git) -> None:
    with pytest.raises(ExpflowError) as exc:
        git.resolve_commit("HEAD")
    assert exc.value.message == "repository has no commits yet"
    assert exc.value.code == ExitCode.USAGE


@pytest.mark.parametrize(
    "rev", ["nope", "main~5", "--output=x", "-1", "", "1" * 40, ":/no such message", "HEAD:nope"]
)
def test_resolve_commit_unknown_revision(repo: Repo, git: Git, rev: str) -> None:
    repo.commit("one", {"a": "1"})
    with pytest.raises(ExpflowError) as exc:
        git.resolve_commit(rev)
    assert exc.value.message == f"unknown revision '{rev}'"


def test_resolve_commit_not_a_commit(repo: Repo, git: Git) -> None:
    repo.commit("one", {"a": "1"})
    with pytest.raises(ExpflowError, match=r"^revision is not a commit: 'HEAD:a' is a blob$"):
        git.resolve_commit("HEAD:a")
    with pytest.raises(ExpflowError, match=r"is a tree$"):
        git.resolve_commit("HEAD^{tree}")
    repo.git("tag", "-a", "-m", "a tag of a blob", "blobtag", "HEAD:a")
    with pytest.raises(ExpflowError, match=r"^revision is not a commit: 'blobtag' is a tag$"):
        git.resolve_commit("blobtag")


def test_rev_list_oldest_first(repo: Repo, git: Git) -> None:
    shas = [repo.commit(f"c{i}", {"a": str(i)}) for i in range(4)]
    assert git.rev_list("HEAD") == shas
    assert git.rev_list("HEAD", base=shas[1]) == shas[2:]
    assert git.rev_list(shas[1], base="HEAD") == []
    with pytest.raises(ExpflowError):
        git.rev_list("HEAD", base="nope")


def test_is_ancestor(repo: Repo, git: Git) -> None:
    a = repo.commit("a", {"f": "1"})
    b = repo.commit("b", {"f": "2"})
    assert git.is_ancestor(a, b)
    assert git.is_ancestor(b, b)
    assert not git.is_ancestor(b, a)
    with pytest.raises(ExpflowError, match="git merge-base"):
        git.is_ancestor("0" * 40, b)


def test_is_shallow(repo: Repo, tmp_path: Path) -> None:
    for i in range(3):
        repo.commit(f"c{i}", {"f": str(i)})
    assert not Git.discover(repo.path).is_shallow()
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", repo.path.as_uri(), str(clone)], check=True
    )
    g = Git.discover(clone)
    assert g.is_shallow()
    assert len(g.rev_list("HEAD")) == 1


def test_cuts_in_history_names_the_cut_a_history_holds(repo: Repo, tmp_path: Path) -> None:
    """`cuts_in_history`: the shallow clone's cut commits in a tip's history (one `rev-list`
    of its parentless commits), none in a full clone, none for a tip above no cut."""
    first = repo.commit("c0", {"f": "0"})
    for i in range(1, 3):
        repo.commit(f"c{i}", {"f": str(i)})
    run_git(repo.path, "checkout", "-q", "-b", "side", first)
    side = repo.commit("s", {"g": "1"})
    run_git(repo.path, "checkout", "-q", "main")
    assert Git.discover(repo.path).cuts_in_history("HEAD") == []
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", "main", repo.path.as_uri(), str(clone)],
        check=True,
    )
    g = Git.discover(clone)
    head = g.resolve_commit("HEAD").sha
    assert g.cuts_in_history("HEAD") == [head]  # a depth-1 clone's tip is its own cut
    subprocess.run(["git", "-C", str(clone), "fetch", "-q", "origin", side], check=True)
    assert g.cuts_in_history(side) == []  # (fetched whole: its history reaches the root)


# -- trees -----------------------------------------------------------------------


def test_ls_tree_lists_blobs_recursively(repo: Repo, git: Git) -> None:
    sha = repo.commit(
        "docs",
        {"expflow.yaml": "version: 1\n", "experiments/s/e1.json": "{}", "results/s/e1.json": "[]"},
    )
    entries = git.ls_tree(sha)
    assert [e.path for e in entries] == [
        "experiments/s/e1.json",
        "expflow.yaml",
        "results/s/e1.json",
    ]
    yaml = entries[1]
    assert yaml == TreeEntry(
        "expflow.yaml", "100644", "blob", repo.git("rev-parse", "HEAD:expflow.yaml")
    )
    # --full-tree: the listing does not depend on where the process runs
    assert Git.discover(repo.path / "results" / "s").ls_tree(sha) == entries


def test_ls_tree_paths_are_literal_prefixes(repo: Repo, git: Git) -> None:
    sha = repo.commit("docs", {"a/x.json": "1", "a/y.json": "2", "b/z.json": "3", "a*": "4"})
    assert [e.path for e in git.ls_tree(sha, paths=["a"])] == ["a/x.json", "a/y.json"]
    assert [e.path for e in git.ls_tree(sha, paths=["b/", "a/y.json"])] == ["a/y.json", "b/z.json"]
    assert [e.path for e in git.ls_tree(sha, paths=["a*"])] == ["a*"]
    assert git.ls_tree(sha, paths=["missing"]) == []


def test_ls_tree_keeps_symlinks_and_submodules(repo: Repo, git: Git) -> None:
    target = repo.hash_blob(b"../elsewhere.json")
    first = repo.commit("one", {"a.json": "{}"})
    repo.git("update-index", "--add", "--cacheinfo", f"120000,{target},results/link.json")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{first},vendor/sub")
    repo.git("commit", "-q", "-m", "odd entries")
    entries = {e.path: e for e in git.ls_tree("HEAD")}
    assert entries["results/link.json"] == TreeEntry("results/link.json", "120000", "blob", target)
    assert entries["vendor/sub"] == TreeEntry("vendor/sub", "160000", "commit", first)
    with BlobReader(git) as blobs:
        assert blobs.read(target) == b"../elsewhere.json"


def test_non_utf8_path_round_trips(repo: Repo, git: Git) -> None:
    blob = repo.hash_blob(b'{"x": 1}')
    raw_name = b"results/caf\xe9.json"
    repo.git(
        "update-index", "--index-info", input=b"100644 " + blob.encode() + b"\t" + raw_name + b"\n"
    )
    repo.git("commit", "-q", "-m", "latin-1 name")
    name = raw_name.decode("utf-8", "surrogateescape")
    assert [e.path for e in git.ls_tree("HEAD")] == [name]
    assert [e.path for e in git.ls_tree("HEAD", paths=[name])] == [name]
    assert git.ls_index([name]) == [IndexEntry(name, "100644", blob, 0)]
    assert git.read_index_file(name) == b'{"x": 1}'
    assert git.changed_paths("HEAD") == [Change("A", name, None, blob)]
    assert os.fsencode(name) == raw_name


def test_ls_tree_unknown_commit(repo: Repo, git: Git) -> None:
    repo.commit("one", {"a": "1"})
    with pytest.raises(ExpflowError, match="^git ls-tree: fatal:"):
        git.ls_tree("0" * 40)


# -- blobs -----------------------------------------------------------------------


@pytest.fixture
def many_blobs(repo: Repo, tmp_path: Path) -> dict[str, bytes]:
    """300 distinct blobs written with one hash-object process."""
    src = tmp_path / "src"
    src.mkdir()
    contents = [
        f'{{"id": "exp-{i:03d}", "v": {i * 7}}}\n'.encode() * (i % 5 + 1) for i in range(299)
    ]
    contents.append(b"")  # the empty blob
    files = []
    for i, data in enumerate(contents):
        f = src / f"{i}.json"
        f.write_bytes(data)
        files.append(str(f))
    shas = repo.git("hash-object", "-w", "--stdin-paths", input="\n".join(files).encode()).split()
    return dict(zip(shas, contents, strict=True))


def test_read_many_order_and_content(git: Git, many_blobs: dict[str, bytes]) -> None:
    shas = list(many_blobs)
    random.Random(7).shuffle(shas)
    shas += shas[:10]  # repeats are answered again, in place
    with BlobReader(git) as blobs:
        got = list(blobs.read_many(iter(shas)))
        assert [s for s, _ in got] == shas
        assert all(data == many_blobs[s] for s, data in got)
        # the same process serves the next batch and single reads
        assert list(blobs.read_many(shas[:3])) == [(s, many_blobs[s]) for s in shas[:3]]
        assert blobs.read(shas[-1]) == many_blobs[shas[-1]]
        assert list(blobs.read_many([])) == []


def test_read_many_large_blobs_do_not_deadlock(repo: Repo, git: Git) -> None:
    big = [bytes([65 + i]) * (300_000 + i) for i in range(8)]
    shas = [repo.hash_blob(b) for b in big]
    with BlobReader(git) as blobs:
        assert [d for _, d in blobs.read_many(shas * 3)] == big * 3


def test_read_missing_blob(repo: Repo, git: Git) -> None:
    good = repo.hash_blob(b"ok")
    missing = "1" * 40
    with BlobReader(git) as blobs:
        with pytest.raises(ExpflowError) as exc:
            blobs.read(missing)
        assert exc.value.message == f"git object {missing} is missing from the repository"
        assert blobs.read(good) == b"ok"  # the stream is still in step
        it = blobs.read_many([good, missing, good])
        assert next(it) == (good, b"ok")
        with pytest.raises(ExpflowError, match="missing"):
            next(it)
        assert blobs.read(good) == b"ok"  # a fresh process after the aborted stream


def test_a_missing_path_with_spaces_is_missing_not_a_crash(repo: Repo, git: Git) -> None:
    """`<commit>:<path> missing` for a path with spaces was split into three fields and
    read as a size (a ValueError: `audit --since` crashed where a run's record had moved
    to a folder with a space and was gone beside a later result)."""
    repo.commit("one", {"u v/x.json": "1"})
    with BlobReader(git) as blobs:
        assert blobs.read("HEAD:u v/x.json") == b"1"
        for name in ("HEAD:u v/gone.json", "HEAD:a b c"):
            with pytest.raises(ExpflowError, match=f"^git object {name} is missing"):
                blobs.read(name)
        assert blobs.read("HEAD:u v/x.json") == b"1"  # the stream is still in step


def test_read_rejects_non_blobs_and_bad_names(repo: Repo, git: Git) -> None:
    repo.commit("one", {"a": "1"})
    tree = repo.git("rev-parse", "HEAD^{tree}")
    with BlobReader(git) as blobs:
        with pytest.raises(ExpflowError, match=f"^git object {tree} is a tree, not a blob$"):
            blobs.read(tree)
        for bad in ["", "abc\nHEAD", " abc"]:
            with pytest.raises(ExpflowError, match="not an object id"):
                blobs.read_many(["HEAD:a", bad])
        assert blobs.read("HEAD:a") == b"1"


def test_read_many_abandoned_midway(git: Git, many_blobs: dict[str, bytes]) -> None:
    shas = list(many_blobs)
    with BlobReader(git) as blobs:
        it = blobs.read_many(shas)
        assert next(it)[1] == many_blobs[shas[0]]
        with pytest.raises(RuntimeError, match="still being consumed"):
            blobs.read(shas[1])
        it.close()  # what a `break` out of the loop does
        assert blobs.read(shas[1]) == many_blobs[shas[1]]
        for n, _ in enumerate(blobs.read_many(shas)):
            if n == 5:
                break
        assert [d for _, d in blobs.read_many(shas[-2:])] == [many_blobs[s] for s in shas[-2:]]


def test_blob_reader_stops_its_process(repo: Repo, git: Git) -> None:
    sha = repo.hash_blob(b"x")
    blobs = BlobReader(git)
    with blobs:
        blobs.read(sha)
        proc = blobs._proc
        assert proc is not None and proc.poll() is None
    assert proc.returncode == 0
    assert blobs.read(sha) == b"x"  # usable again: it restarts on demand
    blobs.close()


# -- the index ---------------------------------------------------------------------


def test_ls_index_and_read_index_file(repo: Repo, git: Git) -> None:
    repo.commit("one", {"results/a.json": "committed", "other.txt": "o"})
    repo.write("results/a.json", "staged")
    repo.git("add", "results/a.json")
    repo.write("results/a.json", "in the work tree only")
    staged_sha = repo.git("rev-parse", ":results/a.json")
    assert git.ls_index(["results"]) == [IndexEntry("results/a.json", "100644", staged_sha, 0)]
    assert [e.path for e in git.ls_index()] == ["other.txt", "results/a.json"]
    assert git.read_index_file("results/a.json") == b"staged"
    assert git.read_index_file("results") is None  # a directory is not a file
    assert git.read_index_file("results/nope.json") is None


def test_unmerged_entries(repo: Repo, git: Git) -> None:
    repo.commit("one", {"f": "1"})
    ours, theirs = repo.hash_blob(b"ours"), repo.hash_blob(b"theirs")
    repo.git("update-index", "--force-remove", "f")
    info = f"100644 {ours} 2\tf\n100644 {theirs} 3\tf\n"
    repo.git("update-index", "--index-info", input=info.encode())
    assert [(e.stage, e.sha) for e in git.ls_index(["f"])] == [(2, ours), (3, theirs)]
    assert git.read_index_file("f") is None


def test_index_follows_the_env_it_is_given(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.commit("one", {"f.json": "real index"})
    alt = tmp_path / "alt-index"
    repo.git("read-tree", "HEAD", env={"GIT_INDEX_FILE": str(alt)})
    blob = repo.hash_blob(b"alternate index")
    repo.git(
        "update-index", "--cacheinfo", f"100644,{blob},f.json", env={"GIT_INDEX_FILE": str(alt)}
    )
    monkeypatch.setenv("GIT_INDEX_FILE", str(alt))
    # The default env (no_git_env) ignores what a hook's git exported ...
    assert Git.discover(repo.path).read_index_file("f.json") == b"real index"
    # ... and a hook that wants the index being committed passes its env.
    hooked = Git.discover(repo.path, env=os.environ)
    assert hooked.read_index_file("f.json") == b"alternate index"


def test_relative_index_file_is_read_from_the_top(repo: Repo) -> None:
    repo.commit("one", {"sub/f.json": "real"})
    blob = repo.hash_blob(b"other")
    rel_env = {"GIT_INDEX_FILE": ".git/other-index"}
    repo.git("read-tree", "HEAD", env=rel_env)
    repo.git("update-index", "--cacheinfo", f"100644,{blob},sub/f.json", env=rel_env)
    g = Git.discover(repo.path / "sub", env={**no_git_env(), **rel_env})
    assert g.env["GIT_INDEX_FILE"] == str(g.root / ".git" / "other-index")
    assert g.read_index_file("sub/f.json") == b"other"


def test_inside_a_real_pre_commit_hook(repo: Repo) -> None:
    """`git commit -a` stages into a temporary index; a hook must read that one."""
    repo.commit("one", {"f.json": "old"})
    out = repo.path / ".git" / "seen"
    script = (
        "import os, sys; from expflow_git.gitstore import Git; "
        "g = Git.discover('.', env=os.environ); "
        f"open({str(out)!r}, 'wb').write(g.read_index_file('f.json') or b'NONE')"
    )
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.write_text(f'#!/bin/sh\nexec {sys.executable} -c "{script}"\n')
    hook.chmod(0o755)
    repo.write("f.json", "new, via commit -a")
    repo.git("commit", "-q", "-a", "-m", "two", env={"PYTHONPATH": str(PROJECT)})
    assert out.read_bytes() == b"new, via commit -a"


# -- history -------------------------------------------------------------------------


def test_changed_paths(repo: Repo, git: Git) -> None:
    root = repo.commit("root", {"results/a.json": "1", "results/b.json": "1"})
    a1 = repo.git("rev-parse", "HEAD:results/a.json")
    second = repo.commit("edit", {"results/a.json": "2", "results/b.json": None, "c.json": "3"})
    a2 = repo.git("rev-parse", "HEAD:results/a.json")
    b1 = repo.git("rev-parse", f"{root}:results/b.json")
    c = repo.git("rev-parse", "HEAD:c.json")
    assert git.changed_paths(root) == [
        Change("A", "results/a.json", None, a1),
        Change("A", "results/b.json", None, b1),
    ]
    assert git.changed_paths(second) == [
        Change("A", "c.json", None, c),
        Change("M", "results/a.json", a1, a2),
        Change("D", "results/b.json", b1, None),
    ]
    change = git.changed_paths(second)[1]
    assert (change.status, change.path, change.old_sha, change.new_sha) == (
        "M",
        "results/a.json",
        a1,
        a2,
    )
    # The modes say what each side is (a file here); they take no part in equality.
    assert (change.old_mode, change.new_mode) == ("100644", "100644")
    assert git.changed_paths(second)[2].new_mode is None


def test_changed_paths_of_a_merge_is_against_the_first_parent(repo: Repo, git: Git) -> None:
    repo.commit("base", {"a": "1"})
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("side", {"a": "2"})
    repo.git("checkout", "-q", "main")
    repo.commit("main", {"b": "1"})
    repo.git("merge", "-q", "--no-edit", "side")
    assert [(c.status, c.path) for c in git.changed_paths("HEAD")] == [("M", "a")]


def test_changed_paths_no_renames(repo: Repo, git: Git) -> None:
    repo.commit("one", {"old.json": "same content, long enough to look like a rename\n"})
    repo.git("mv", "old.json", "new.json")
    repo.git("commit", "-q", "-m", "move")
    assert sorted((c.status, c.path) for c in git.changed_paths("HEAD")) == [
        ("A", "new.json"),
        ("D", "old.json"),
    ]


def test_log_changes_sees_modification_and_deletion(repo: Repo, git: Git) -> None:
    base = repo.commit("base", {"expflow.yaml": "v: 1"})
    add = repo.commit("add", {"results/s/e1.json": "1", "results/s/e2.json": "2"})
    repo.commit("unrelated", {"notes.txt": "x"})
    edit = repo.commit("edit", {"results/s/e1.json": "1 rewritten", "notes.txt": "y"})
    delete = repo.commit("delete", {"results/s/e2.json": None})
    e1_old = repo.git("rev-parse", f"{add}:results/s/e1.json")
    e1_new = repo.git("rev-parse", f"{edit}:results/s/e1.json")
    e2 = repo.git("rev-parse", f"{add}:results/s/e2.json")
    walk = list(git.log_changes(base, "HEAD", ["results"]))
    assert walk == [
        (
            add,
            [
                Change("A", "results/s/e1.json", None, e1_old),
                Change("A", "results/s/e2.json", None, e2),
            ],
        ),
        (edit, [Change("M", "results/s/e1.json", e1_old, e1_new)]),
        (delete, [Change("D", "results/s/e2.json", e2, None)]),
    ]
    # without a base the root commit is walked too; with no paths, every path
    everything = list(git.log_changes(None, "HEAD", []))
    assert [c for c, _ in everything] == git.rev_list("HEAD")
    assert everything[0] == (base, git.changed_paths(base))


def test_log_changes_walks_side_branches(repo: Repo, git: Git) -> None:
    base = repo.commit("base", {"results/a.json": "1"})
    repo.git("checkout", "-q", "-b", "side")
    side = repo.commit("side rewrites", {"results/a.json": "2"})
    repo.commit("side restores", {"results/a.json": "1"})
    repo.git("checkout", "-q", "main")
    repo.commit("main", {"other": "1"})
    repo.git("merge", "-q", "--no-edit", "side")
    # The merge leaves results/ as on main, so default history simplification
    # would hide the side branch; the audit must still see the rewrite.
    walked = dict(git.log_changes(base, "HEAD", ["results"]))
    assert [(c.status, c.path) for c in walked[side]] == [("M", "results/a.json")]


def test_log_changes_unknown_revision(repo: Repo, git: Git) -> None:
    repo.commit("one", {"a": "1"})
    with pytest.raises(ExpflowError, match="^git log:"):
        list(git.log_changes("nope", "HEAD", []))


# -- notes ---------------------------------------------------------------------------


def test_notes_round_trip_exact_bytes(repo: Repo, git: Git) -> None:
    first = repo.commit("one", {"a": "1"})
    second = repo.commit("two", {"a": "2"})
    data = b'{"payload": "x"}\n\n\n  trailing spaces and no final newline  '
    git.add_note(second, data)
    assert git.read_note(second) == data
    assert git.read_note(first) is None
    assert repo.git("notes", "--ref", "refs/notes/expflow", "list", second)
    git.add_note(second, b"replaced")
    assert git.read_note(second) == b"replaced"
    assert git.read_note(second, ref="refs/notes/other") is None
    git.add_note(first, b"other ref", ref="refs/notes/other")
    assert git.read_note(first, ref="refs/notes/other") == b"other ref"
    assert git.read_note(first) is None


def test_notes_errors(repo: Repo, git: Git) -> None:
    repo.commit("one", {"a": "1"})
    assert git.read_note("1" * 40) is None  # an unknown object has no note
    with pytest.raises(ExpflowError, match="^git notes:"):
        git.read_note("nope")
    with pytest.raises(ExpflowError, match="^unknown revision '1{40}'$"):  # not noted blindly
        git.add_note("1" * 40, b"x")
    with pytest.raises(ExpflowError, match="^revision is not a commit"):
        git.add_note("HEAD^{tree}", b"x")


def test_log_touching_covers_many_paths_with_few_pathspecs() -> None:
    """Past MAX_PATHSPECS paths, `log_touching` gives git their folders, cut shorter until
    few, and keeps each change by path (a file, or one inside a folder asked for)."""
    from expflow_git.gitstore import MAX_PATHSPECS, _covering, _is_under

    few = [f"c/{i}.json" for i in range(MAX_PATHSPECS)]
    assert _covering(few) == (few, None)
    spread = [f"c/{i}/x.json" for i in range(MAX_PATHSPECS + 1)] + ["e/r.json", "top.json"]
    specs, wanted = _covering(spread)
    assert specs == ["c", "e", "top.json"] and wanted == frozenset(spread)
    at_root = [f"f{i}.json" for i in range(MAX_PATHSPECS + 1)]
    assert _covering(at_root)[0] == ["."]
    asked = frozenset({"c/1/x.json", "d/sub"})
    assert _is_under("c/1/x.json", asked) and _is_under("d/sub/y/z.json", asked)
    assert not _is_under("c/1/y.json", asked) and not _is_under("d/subway.json", asked)


@pytest.mark.parametrize(
    ("stamp", "accepted"),
    [
        (b"0", True),
        (b"1700000000", True),
        (b"253402300799", True),  # 9999-12-31T23:59:59Z
        (b"253402300800", False),  # the year 10000: no report can spell it
        (b"9" * 5000, False),  # past int()'s digit limit: refused, not a ValueError
        (b"-1", False),  # git's %ct shows none before 1970; the report would say 1969
        (b"1_700_000_000", False),  # int() reads it, git does not
        (b"", False),
    ],
)
def test_commit_time_takes_what_git_writes_and_a_report_can_spell(
    stamp: bytes, accepted: bool
) -> None:
    """A crafted committer time made `audit` and `show` tracebacks (years past 9999), or
    made them disagree (`-1` read by one and refused by the other; reviews)."""
    from expflow_git.gitstore import commit_time

    if accepted:
        assert commit_time(stamp, "c0ffee") == int(stamp)
    else:
        with pytest.raises(ExpflowError, match="commit c0ffee: its committer"):
            commit_time(stamp, "c0ffee")
