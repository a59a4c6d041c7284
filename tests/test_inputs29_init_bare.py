"""`init` refuses a repository with no work tree: `git clone --bare demo bare.git; cd
bare.git; expflow-git init` wrote expflow.yaml, experiments/, results/, .github/,
.gitignore and .pre-commit-config.yaml beside HEAD and objects/, exit 0 (a user's hunt,
issue 18 twenty-ninth pass). Nothing is written there now, exit 2, one line; nor in a
work tree's own git directory. A work tree and a folder of no repository are
scaffolded as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import git, git_init, run_cli


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    demo = git_init(tmp_path / "demo")
    git(demo, "commit", "-q", "--allow-empty", "-m", "first")
    git(tmp_path, "clone", "-q", "--bare", "demo", "bare.git")
    return tmp_path / "bare.git"


@pytest.mark.parametrize(
    ("cwd", "args"),
    [(".", []), ("objects", []), (".", ["new/folder"]), ("..", ["bare.git"])],
    ids=["in-it", "below-it", "a-new-folder-in-it", "named"],
)
def test_init_refuses_a_bare_repository(bare: Path, cwd: str, args: list[str]) -> None:
    before = _listing(bare)
    res = run_cli(["init", *args], cwd=(bare / cwd).resolve())
    assert (res.code, res.out, res.err.splitlines()) == (
        2,
        "",
        [
            f"expflow-git: error: {bare.resolve()}: bare repository: no work tree; "
            "run init in a clone (nothing written)"
        ],
    ), res
    assert _listing(bare) == before


@pytest.mark.parametrize("cwd", [".git", ".git/hooks"])
def test_init_refuses_a_work_trees_git_directory(tmp_path: Path, cwd: str) -> None:
    work = git_init(tmp_path / "work")
    before = _listing(work)
    res = run_cli(["init"], cwd=work / cwd)
    assert (res.code, res.out, res.err.splitlines()) == (
        2,
        "",
        [
            f"expflow-git: error: {(work / '.git').resolve()}: inside the git directory, "
            f"not the work tree {work.resolve()} (nothing written)"
        ],
    ), res
    assert _listing(work) == before


def test_init_scaffolds_a_work_tree_and_a_plain_folder(bare: Path, tmp_path: Path) -> None:
    git(tmp_path, "clone", "-q", str(bare), "clone")
    plain = tmp_path / "plain"
    plain.mkdir()
    for folder in (tmp_path / "clone", plain):
        res = run_cli(["init"], cwd=folder)
        assert res.code == 0, res
        assert (folder / "expflow.yaml").is_file() and (folder / "results").is_dir()
