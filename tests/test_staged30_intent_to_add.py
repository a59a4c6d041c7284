"""An entry `git add -N` made (intent to add) holds the empty blob, and git commits no
content for it: `validate --staged` read it as an empty document (invalid-json), and
`scan --staged` as a clean file (a hunt, issue 18 thirtieth pass). It is not staged."""

from __future__ import annotations

import pytest
from conftest import ExpRepo

from expflow_git.gitstore import Git

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.fixture
def intended(committed_repo: ExpRepo) -> tuple[ExpRepo, str]:
    rel = committed_repo.add_experiment("exp-002")
    committed_repo.git("add", "-N", rel)
    committed_repo.write("experiments/pdebench-task1/empty.json", b"")
    committed_repo.git("add", "experiments/pdebench-task1/empty.json")  # staged, empty
    return committed_repo, rel


def test_the_index_listing_leaves_out_an_intent_to_add(intended: tuple[ExpRepo, str]) -> None:
    repo, rel = intended
    git = Git.discover(repo.path)
    for entries in (git.ls_index(), git.ls_index_named((), [rel, "experiments"])):
        paths = {e.path for e in entries}
        assert rel not in paths and "experiments/pdebench-task1/empty.json" in paths


def test_validate_staged_sees_no_document_where_git_commits_none(
    intended: tuple[ExpRepo, str], cli
) -> None:
    repo, rel = intended
    res = cli(["validate", "--staged"], cwd=repo.path)  # every document of the index
    assert res.code == 1, res.both
    assert rel not in res.out, res.out
    assert "experiments/pdebench-task1/empty.json:1:1: invalid-json" in res.out  # staged
    res = cli(["validate", "--staged", "--", rel], cwd=repo.path)
    assert res.code == 1 and f"{rel}: not-a-regular-file: not staged" in res.out, res.both


def test_scan_staged_names_an_intent_to_add_not_staged(intended: tuple[ExpRepo, str], cli) -> None:
    repo, rel = intended
    res = cli(["scan", "--staged", "--", rel], cwd=repo.path)
    assert res.code == 1 and f"{rel}: not-a-regular-file: not staged" in res.out, res.both


def test_a_path_with_a_newline_is_read_from_the_debug_listing(committed_repo: ExpRepo) -> None:
    odd = "notes/a\n  ctime: 0:0\nb.txt"
    committed_repo.write(odd, b"")
    committed_repo.write("notes/c.txt", b"")
    committed_repo.git("add", "-N", odd)
    committed_repo.git("add", "notes/c.txt")
    git = Git.discover(committed_repo.path)
    assert git.intent_to_add([odd, "notes/c.txt"]) == {odd}


def test_an_intended_link_is_refused_as_a_link_however_many_paths_are_named(
    committed_repo: ExpRepo, cli
) -> None:
    """A link `git add -N` staged was "not staged" when few paths were named and "a
    symbolic link" when the whole index was listed (a review): one refusal, a link's."""
    repo = committed_repo
    link = "experiments/pdebench-task1/lnk.json"
    (repo.path / link).parent.mkdir(parents=True, exist_ok=True)
    (repo.path / link).symlink_to("exp-001.json")
    repo.git("add", "-N", link)
    many = [repo.add_experiment(f"c{i:03d}") for i in range(40)]
    repo.stage(*many)
    for named in ([link], [link, *many]):
        res = cli(["validate", "--staged", "--", *named], cwd=repo.path)
        assert res.code == 1, res.both
        assert f"{link}: not-a-regular-file: is a symbolic link" in res.out, (len(named), res.out)


def test_many_intended_files_are_found_in_one_listing_of_the_index(
    committed_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each path was a pathspec git matched against every entry (paths × entries), and
    64,000 of them overflowed the command line: `validate --staged` exited 2 after
    `git add -N data/` (a hunt). Past a few, the index is listed once, the paths picked."""
    from support import record_calls

    from expflow_git import gitstore

    repo = committed_repo
    intended = [f"data/f{i:03d}.txt" for i in range(gitstore.FEW_PATHSPECS + 36)]
    for rel in intended:
        repo.write(rel, b"x")
    repo.write("data/kept.txt", b"")
    repo.git("add", "data/kept.txt")  # staged, empty: not intended
    repo.git("add", "-N", "data")
    git = Git.discover(repo.path)
    runs = record_calls(monkeypatch, Git, "run")
    assert git.intent_to_add([*intended[:-1], "data/kept.txt"]) == set(intended[:-1])
    [listing] = [args for _, *args in runs if args[:2] == ["ls-files", "--debug"]]
    assert listing[-1] == "--", listing  # no pathspec: one listing of the index
    few = intended[: gitstore.FEW_PATHSPECS]
    assert git.intent_to_add(few) == set(few)  # (a few: named, as before)


def test_an_intent_to_add_deleted_from_disk_is_not_staged(committed_repo: ExpRepo, cli) -> None:
    """`git add -N` then `rm`: git commits nothing for the entry, where `validate --staged`
    and `protect` read it as an empty document (a fixer's aside, thirty-first pass). A
    staged empty file deleted from disk is still what git commits: an empty document."""
    rel = committed_repo.add_experiment("exp-002")
    committed_repo.git("add", "-N", rel)
    (committed_repo.path / rel).unlink()
    staged = "experiments/pdebench-task1/empty.json"
    committed_repo.write(staged, b"")
    committed_repo.git("add", staged)
    (committed_repo.path / staged).unlink()
    for args in (["validate", "--staged"], ["protect", "--"]):
        res = cli(args, cwd=committed_repo.path)
        assert rel not in res.out, (args, res.both)
        assert f"{staged}:1:1: invalid-json" in res.out, (args, res.both)
    assert rel not in {e.path for e in Git.discover(committed_repo.path).ls_index()}
