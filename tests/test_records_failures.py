"""A record command the file system stops halfway (a read-only folder) leaves the run as
it was and says so in one line naming the file (issue 18 thirty-second pass, a hunter's
finds): `rm` deleted the result, then failed to delete the record, and left a run
`success` without its result, and the correction it had written, with no word of
either; `result --overwrite` that could not write the result put the record back but
left its correction, which `protect` then refused (`correction-unmatched`)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliResult, read_only_bind, run_cli, run_cli_code

from expflow_git.records.writer import MAX_KEPT_BYTES

METRICS = ["--metric", "seg_total=1", "--metric", "pde_mean=1", "--metric", "train_time_min=1"]


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[list[str]]:
    """A command prefix under which `folder` cannot be written: run as root (whom a
    folder's mode stops from nothing), `folder` mounted read-only in a mount namespace
    of the command's own (`unshare -m`); else the folder's mode, for the block."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield []
        finally:
            folder.chmod(mode)
        return
    prefix = read_only_bind(folder)
    if prefix is None:
        pytest.skip("run as root, needs `unshare -m` to mount a folder read-only")
    yield prefix


def cli_in(prefix: list[str], repo: ExpRepo, args: list[str]) -> CliResult:
    """The real CLI in `repo`, run under `prefix`."""
    return run_cli(args, repo.path, prefix=prefix)


def committed_run(repo: ExpRepo, exp_id: str = "a") -> None:
    """Run `exp_id` of study `s`, its result committed."""
    assert run_cli(["new", exp_id, "--study", "s", "--param", "sub_step=1"], repo.path).code == 0
    assert run_cli(["result", exp_id, *METRICS], repo.path).code == 0
    repo.commit(exp_id)


def files(repo: ExpRepo) -> dict[str, tuple[bytes, int]]:
    """Every file of the work tree but git's: its bytes and permission bits."""
    found = {}
    for path in sorted(repo.path.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(repo.path).parts:
            found[path.relative_to(repo.path).as_posix()] = (path.read_bytes(), path.stat().st_mode)
    return found


def assert_one_error(res: CliResult, starts: str, ends: str) -> None:
    """Exit 2, nothing on stdout, and one error line (after --force's warning)."""
    assert res.code == 2, res
    assert res.out == "", res
    lines = res.err.splitlines()
    assert lines[0].startswith("expflow-git: warning: --force"), res
    assert len(lines) == 2, res
    assert lines[1].startswith(f"expflow-git: error: {starts}: "), res
    assert lines[1].endswith(ends), res


@pytest.mark.parametrize("read_only_folder", ["experiments/s", "results/s"])
def test_an_rm_that_cannot_delete_leaves_the_run_as_it_was(
    committed_repo: ExpRepo, read_only_folder: str
) -> None:
    """A record (or result) that cannot be deleted: the result deleted before it (and
    an uncommitted copy of it in results/archive/, its mode kept) is put back, and the
    correction written first removed."""
    repo = committed_repo
    committed_run(repo)
    archive = repo.path / "results/archive/a.json"
    archive.parent.mkdir()
    shutil.copyfile(repo.path / "results/s/a.json", archive)
    archive.chmod(0o640)
    before = files(repo)

    with read_only(repo.path / read_only_folder) as prefix:
        res = cli_in(prefix, repo, ["rm", "a", "--reason", "a bad run", "--force"])
    assert_one_error(
        res,
        f"{read_only_folder}/a.json: cannot remove it",
        "(nothing removed or written)",
    )
    assert files(repo) == before
    assert repo.status() == "?? results/archive/a.json"
    assert run_cli(["rm", "a", "--reason", "a bad run", "--force"], repo.path).code == 0


def test_an_rm_that_fails_puts_back_the_correction_it_replaced(committed_repo: ExpRepo) -> None:
    """An uncommitted `result --overwrite` left its correction: `rm` rewrites it (one
    pending change, one correction), and failing, puts it back as it was."""
    repo = committed_repo
    committed_run(repo)
    overwrite = ["result", "a", *METRICS[:-2], "--metric", "train_time_min=2"]
    assert run_cli([*overwrite, "--overwrite", "--reason", "rerun", "--force"], repo.path).code == 0
    before = files(repo)

    with read_only(repo.path / "experiments/s") as prefix:
        res = cli_in(prefix, repo, ["rm", "a", "--reason", "a bad run", "--force"])
    assert_one_error(res, "experiments/s/a.json: cannot remove it", "(nothing removed or written)")
    assert files(repo) == before


def test_an_rm_without_a_correction_says_nothing_was_removed(exp_repo: ExpRepo) -> None:
    assert run_cli(["new", "a", "--study", "s", "--param", "sub_step=1"], exp_repo.path).code == 0
    assert run_cli(["result", "a", *METRICS], exp_repo.path).code == 0
    before = files(exp_repo)
    with read_only(exp_repo.path / "experiments/s") as prefix:
        res = cli_in(prefix, exp_repo, ["rm", "a", "--force"])
    assert_one_error(res, "experiments/s/a.json: cannot remove it", "(nothing removed)")
    assert files(exp_repo) == before


@pytest.mark.parametrize("earlier", [False, True], ids=["new-correction", "replaced-correction"])
def test_an_overwrite_that_cannot_write_the_result_takes_its_correction_back(
    committed_repo: ExpRepo, earlier: bool
) -> None:
    """The correction written (or the uncommitted one rewritten) before the result is
    taken back (put back as it was) when the result cannot be written: `protect` then
    passes the next commit (it refused the correction left, `correction-unmatched`)."""
    repo = committed_repo
    committed_run(repo)
    overwrite = ["result", "a", *METRICS[:-2], "--overwrite", "--reason", "rerun", "--force"]
    if earlier:  # an uncommitted overwrite, with its correction, before this one
        assert run_cli([*overwrite, "--metric", "train_time_min=2"], repo.path).code == 0
    before = files(repo)

    with read_only(repo.path / "results/s") as prefix:
        res = cli_in(prefix, repo, [*overwrite, "--metric", "train_time_min=3"])
    assert_one_error(res, "results/s/a.json: cannot write it", "(nothing written)")
    assert files(repo) == before
    if not earlier:  # (an overwrite staged is `protect`'s to refuse without the PIN)
        assert repo.status() == ""
        repo.stage()  # what the next commit takes: `protect` passes it
        protect = run_cli(["protect"], repo.path)
        assert protect.code == 0, protect


def test_a_result_that_cannot_be_written_leaves_the_record_pending(exp_repo: ExpRepo) -> None:
    """The record marked `success` before its result goes back as it was, and the error
    says nothing was written."""
    assert run_cli(["new", "a", "--study", "s", "--param", "sub_step=1"], exp_repo.path).code == 0
    (exp_repo.path / "results/s").mkdir(parents=True)
    before = files(exp_repo)
    with read_only(exp_repo.path / "results/s") as prefix:
        res = cli_in(prefix, exp_repo, ["result", "a", *METRICS])
    assert res.code == 2, res
    assert res.err.splitlines() == [res.err.strip()], res
    assert res.err.startswith("expflow-git: error: results/s/a.json: cannot write it: "), res
    assert res.err.rstrip().endswith("(nothing written)"), res
    assert files(exp_repo) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_rm_deletes_a_named_pipe_at_a_result_path_without_reading_it(
    committed_repo: ExpRepo,
) -> None:
    """`rm` keeps each file's bytes before it deletes any: a named pipe at a result path
    was opened to be read, and waited for a writer for ever, Ctrl-C and SIGTERM held
    back (a review). It is deleted as before, unread; one that then could not be put
    back is named so."""
    repo = committed_repo
    assert run_cli(["new", "a", "--study", "s", "--param", "sub_step=1"], repo.path).code == 0
    (repo.path / "results/s").mkdir(parents=True)
    os.mkfifo(repo.path / "results/s/a.json")
    res = cli_in([], repo, ["rm", "a", "--force"])  # (a timeout of its own: 120 s)
    assert (res.code, res.out) == (0, "removed results/s/a.json\nremoved experiments/s/a.json\n")
    assert not (repo.path / "results/s/a.json").exists()

    assert run_cli(["new", "b", "--study", "s", "--param", "sub_step=1"], repo.path).code == 0
    os.mkfifo(repo.path / "results/s/b.json")
    with read_only(repo.path / "experiments/s") as prefix:
        res = cli_in(prefix, repo, ["rm", "b", "--force"])
    assert_one_error(
        res,
        "experiments/s/b.json: cannot remove it",
        "(not put back: results/s/b.json removed (not kept: is a named pipe, not a file))",
    )
    assert (repo.path / "experiments/s/b.json").is_file()


# Ctrl-C while `rm` reads the files it keeps: the reads are not held back (the deletes
# are), so nothing is removed. The command deferred signals around the whole of it, so
# a read that would not end (a stalled mount) could not be stopped, and the interrupted
# `rm` then deleted everything (a review).
INTERRUPTED_READ = """
import os, signal, sys
from expflow_git.records import writer
real = writer.Kept.read.__func__
def read(cls, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    return real(cls, *args, **kwargs)
writer.Kept.read = classmethod(read)
from expflow_git.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_while_rm_reads_removes_nothing(committed_repo: ExpRepo) -> None:
    repo = committed_repo
    committed_run(repo)
    before = files(repo)
    rm = ["rm", "a", "--reason", "a bad run", "--force"]
    code, out, err = run_cli_code(INTERRUPTED_READ, rm, repo.path)
    assert (code, out) == (130, ""), err
    assert files(repo) == before


def test_rm_deletes_a_result_too_large_to_keep_unread(committed_repo: ExpRepo) -> None:
    """A result past MAX_KEPT_BYTES is deleted as before, without being read whole (a
    3 GB one took 3 GB of memory, or ended in a MemoryError traceback); one that then
    cannot be put back is named so."""
    repo = committed_repo
    for exp_id in ("a", "b"):
        assert run_cli(["new", exp_id, "--study", "s"], repo.path).code == 0
    (repo.path / "results/s").mkdir(parents=True)
    size = MAX_KEPT_BYTES + 1
    for exp_id in ("a", "b"):
        with open(repo.path / f"results/s/{exp_id}.json", "wb") as sparse:
            sparse.truncate(size)
    res = run_cli(["rm", "a", "--force"], repo.path)
    assert (res.code, res.out) == (0, "removed results/s/a.json\nremoved experiments/s/a.json\n")
    with read_only(repo.path / "experiments/s") as prefix:
        res = cli_in(prefix, repo, ["rm", "b", "--force"])
    assert_one_error(
        res,
        "experiments/s/b.json: cannot remove it",
        f"(not put back: results/s/b.json removed (not kept: {size} bytes, too large to keep))",
    )
