"""`init` with no DIRECTORY below a work tree's root is refused: `git init r; cd
r/src/deep; expflow-git init` wrote expflow.yaml, .pre-commit-config.yaml and
.github/workflows/ in src/deep, exit 0, where pre-commit and GitHub never read them,
and `new` there failed "no policy file; run expflow-git init" (a user's hunt, issue 18
thirty-second pass); scaffolding the root instead wrote into any repository that held
the folder, a dotfiles one in $HOME say (a review). A DIRECTORY given below a work
tree's root is scaffolded with a one-line warning (a nested project may be meant);
outside any work tree, the folder given or `.` as before (a bare repository and a git
directory: test_inputs29_init_bare)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from support import git, git_init, run_cli

FILES = [
    "expflow.yaml",
    "experiments/.gitkeep",
    "results/.gitkeep",
    ".pre-commit-config.yaml",
    ".github/workflows/expflow.yml",
    ".gitignore",
]


def _created(prefix: str) -> str:
    return "".join(f"created {prefix}{rel}\n" for rel in FILES)


def _nested_warning(shown: str, root: Path, policy: str) -> str:
    return (
        f"expflow-git init: warning: {shown}: not the root of the git work tree {root}: "
        "pre-commit and GitHub will not use the .pre-commit-config.yaml and "
        f".github/workflows here (run `expflow-git init` at {root} for those); commands "
        f"read this policy with `--policy {policy}` (or EXPFLOW_POLICY={policy}), from "
        "anywhere in the work tree\n"
    )


def _refused(here: Path, root: Path) -> str:
    return (
        f"expflow-git: error: {here}: not the root of the git work tree {root}, where "
        "pre-commit and GitHub read hooks and workflows: run `expflow-git init` there, or "
        "`expflow-git init .` to scaffold this folder (nothing written)\n"
    )


def test_init_in_a_subfolder_is_refused(tmp_path: Path) -> None:
    work = git_init(tmp_path / "r")
    deep = work / "src" / "deep"
    deep.mkdir(parents=True)
    res = run_cli(["init"], cwd=deep)
    assert (res.code, res.out, res.err) == (2, "", _refused(deep.resolve(), work.resolve())), res
    assert sorted(p.name for p in work.iterdir()) == [".git", "src"]
    assert list(deep.iterdir()) == []


def test_init_in_a_folder_an_enclosing_repository_ignores_writes_nothing(
    tmp_path: Path,
) -> None:
    """A dotfiles repository in $HOME ignoring everything: `init` in a new project's
    folder there wrote the scaffold into $HOME (a review of the first fix)."""
    home = git_init(tmp_path / "home")
    (home / ".gitignore").write_text("*\n")
    git(home, "add", "-f", ".gitignore")
    git(home, "commit", "-q", "-m", "dotfiles")
    project = home / "projects" / "new"
    project.mkdir(parents=True)
    res = run_cli(["init"], cwd=project)
    assert (res.code, res.out) == (2, ""), res
    assert sorted(p.name for p in home.iterdir()) == [".git", ".gitignore", "projects"]
    assert list(project.iterdir()) == []
    # as the refusal says: `init .` scaffolds the folder itself
    res = run_cli(["init", "."], cwd=project)
    assert (res.code, res.out) == (0, _created("")), res
    warned = res.err.splitlines(keepends=True)
    assert warned[0] == _nested_warning(".", home.resolve(), "projects/new/expflow.yaml")
    assert "experiments/study/exp-001.json: git ignores this path" in warned[1]  # (`*`)


def test_init_at_the_root_prints_as_before(tmp_path: Path) -> None:
    work = git_init(tmp_path / "r")
    res = run_cli(["init"], cwd=work)
    assert (res.code, res.out, res.err) == (0, _created(""), ""), res
    # the root named from elsewhere: no warning either
    res = run_cli(["init", "r"], cwd=tmp_path)
    assert (res.code, res.err) == (0, ""), res
    assert res.out.splitlines()[0] == "kept    r/expflow.yaml"


def test_init_in_a_linked_work_trees_subfolder_is_refused(tmp_path: Path) -> None:
    work = git_init(tmp_path / "r")
    git(work, "commit", "-q", "--allow-empty", "-m", "first")
    git(work, "worktree", "add", "-q", str(tmp_path / "linked"))
    sub = tmp_path / "linked" / "sub"
    sub.mkdir()
    res = run_cli(["init"], cwd=sub)
    linked = (tmp_path / "linked").resolve()
    assert (res.code, res.out, res.err) == (2, "", _refused(sub.resolve(), linked)), res
    assert not (linked / "expflow.yaml").exists() and list(sub.iterdir()) == []
    res = run_cli(["init"], cwd=linked)  # at its root: scaffolded there
    assert (res.code, res.out, res.err) == (0, _created(""), ""), res


def test_a_folder_given_below_the_root_is_scaffolded_with_a_warning(tmp_path: Path) -> None:
    work = git_init(tmp_path / "r")
    deep = work / "src" / "deep"
    deep.mkdir(parents=True)
    root = work.resolve()
    res = run_cli(["init", "."], cwd=deep)
    warning = _nested_warning(".", root, "src/deep/expflow.yaml")
    assert (res.code, res.out, res.err) == (0, _created(""), warning), res
    assert (deep / "expflow.yaml").is_file() and not (work / "expflow.yaml").exists()
    # a folder still to be made, named from outside the work tree
    res = run_cli(["init", "r/nested/project"], cwd=tmp_path)
    assert (res.code, res.out, res.err) == (
        0,
        _created("r/nested/project/"),
        _nested_warning("r/nested/project", root, "nested/project/expflow.yaml"),
    ), res


def test_outside_a_work_tree_the_current_folder_as_before(tmp_path: Path) -> None:
    sub = tmp_path / "plain" / "sub"
    sub.mkdir(parents=True)
    res = run_cli(["init"], cwd=sub)
    assert (res.code, res.out, res.err) == (0, _created(""), ""), res
    assert (sub / "expflow.yaml").is_file()


def test_the_ignored_path_hint_works_as_printed(tmp_path: Path) -> None:
    """`init DIR` names an ignored path from the current folder, and its `git
    check-ignore` hint runs as printed from there (it named the path from DIR's root,
    then from the current folder, where git found no repository; a review)."""
    work = git_init(tmp_path / "my proj")
    (work / ".gitignore").write_text("results/\n")
    res = run_cli(["init", "my proj"], cwd=tmp_path)
    assert res.code == 0, res
    (warning,) = res.err.splitlines()
    hint = "git -C 'my proj' check-ignore -v results/study/exp-001.json"
    assert warning.startswith("expflow-git init: warning: my proj/results/study/exp-001.json: ")
    assert warning.endswith(f"(`{hint}` names it)")
    shown = subprocess.run(shlex.split(hint), cwd=tmp_path, capture_output=True, text=True)
    assert shown.returncode == 0 and ".gitignore:1:results/" in shown.stdout, shown
