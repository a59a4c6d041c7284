"""An attacker's hunt of the hooks (thirty-seventh pass): where what a hook reads may
differ from the blob git commits.

A folder of a staged path replaced on disk by a link to another folder of the work
tree: git commits the staged path (it never looks through a link), but the hooks are
given git's path and `Workspace.rel` resolved its folders through the link, so `scan
--staged` read the staged file of the link's target and `validate --staged` judged the
target's path (no document there: skipped). A PIN hash and a result with an unknown
metric went into the commit past the plain hooks, and past the framework's when the
entry is marked skip-worktree (pre-commit then stashes nothing); `audit --since`
refused both."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ExpRepo, result_doc

from expflow_git.pin.store import hash_pin

pytestmark = pytest.mark.usefixtures("isolated_env")

LEAK = "notes/leak.txt"


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_pin("2580")


def _link_folder(repo: ExpRepo, folder: str, target: str) -> None:
    """Replace `folder` on disk (not in the index) by a relative link to `target`."""
    path = repo.path / folder
    for child in sorted(path.rglob("*"), reverse=True):
        child.rmdir() if child.is_dir() else child.unlink()
    path.rmdir()
    rel_target = Path(*[".."] * (folder.count("/"))) / target
    path.symlink_to(rel_target, target_is_directory=True)


@pytest.fixture
def leak_behind_a_link(committed_repo: ExpRepo, pin_hash: str) -> ExpRepo:
    repo = committed_repo
    repo.write(LEAK, pin_hash + "\n")
    repo.write("decoy/leak.txt", "nothing to see\n")
    repo.stage(LEAK, "decoy/leak.txt")
    _link_folder(repo, "notes", "decoy")
    return repo


def test_scan_staged_reads_the_staged_file_not_the_links_target(
    leak_behind_a_link: ExpRepo, cli
) -> None:
    repo = leak_behind_a_link
    above = repo.path.parent.parent / f"{repo.path.parent.name}-link"
    above.symlink_to(repo.path.parent, target_is_directory=True)
    through = above / repo.path.name / LEAK  # a link above the root too (the review's)
    for given in (LEAK, str(repo.path / LEAK), str(through)):
        res = cli(["scan", "--staged", "--", given], cwd=repo.path)
        assert res.code == 1, (given, res.both)
        assert "pin-hash-format" in res.out, (given, res.out)


def test_validate_staged_judges_the_staged_path_not_the_links_target(
    committed_repo: ExpRepo, cli
) -> None:
    repo = committed_repo
    exp = repo.add_experiment("exp-009")
    res_rel = repo.write_json(
        repo.res_path("exp-009"), result_doc("exp-009", metrics={"no_such_metric": 1.0})
    ).relative_to(repo.path)
    repo.write("decoy/exp-009.json", "{}\n")
    repo.stage(exp, str(res_rel), "decoy/exp-009.json")
    _link_folder(repo, "results/pdebench-task1", "decoy")
    res = cli(["validate", "--staged", "--", res_rel.as_posix()], cwd=repo.path)
    assert res.code == 1, res.both
    assert f"{res_rel.as_posix()}#/metrics/no_such_metric: unknown-metric" in res.out, res.out


def test_the_plain_hook_refuses_a_pin_hash_behind_a_linked_folder(
    leak_behind_a_link: ExpRepo, cli
) -> None:
    repo = leak_behind_a_link
    assert cli(["install-hooks"], cwd=repo.path).code == 0
    head = repo.head()
    proc = repo.git("commit", "-q", "-m", "leak", check=False)
    assert repo.head() == head, proc


def test_the_plain_hook_reads_heads_own_tree_not_a_replacement(
    committed_repo: ExpRepo, pin_hash: str, cli
) -> None:
    """A replacement of HEAD (`git replace`) whose tree already holds the staged files:
    `git diff --cached` in the plain hook listed nothing to scan, and `commit
    --allow-empty` committed a PIN hash onto HEAD itself, which the audit (it ignores
    replacements) refused."""
    repo = committed_repo
    assert cli(["install-hooks"], cwd=repo.path).code == 0
    repo.write(LEAK, pin_hash + "\n")
    repo.stage(LEAK)
    head = repo.head()
    fake = repo.git("commit-tree", repo.git("write-tree"), "-p", head, "-m", "fake")
    repo.git("replace", head, fake)
    proc = repo.git("commit", "-q", "--allow-empty", "-m", "leak", check=False)
    assert repo.git("--no-replace-objects", "rev-parse", "HEAD") == head, proc
