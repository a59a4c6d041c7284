"""An import that writes nothing says so: a run's files are put back only where the run
changed them. `_apply_run` listed a result it never wrote for undo (as "remove it"); on a
read-only file system removing a file that is not there fails with EROFS, not ENOENT,
and `import csv` into a read-only `results/s` said `run x1 half written (could not put
back results/s/x1.json)` while nothing was written (a hunter's find, issue 18
thirty-second pass)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliCall, read_only_bind, run_cli

STUDY = "s"
CSV = "run,seg_total,pde_mean,train_time_min,sub_step\nx1,58,14,40,3\n"


def _args(csv: Path) -> list[str]:
    return ["import", "csv", str(csv), "--id-column", "run", "--study", STUDY]


def _files(repo: ExpRepo) -> list[str]:
    found = [*repo.path.glob("experiments/*/*"), *repo.path.glob("results/*/*")]
    return sorted(p.relative_to(repo.path).as_posix() for p in found)


def test_a_result_the_file_system_refuses_leaves_the_run_not_written(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`results/s` as a read-only file system has it: creating a file there, and removing
    one (there or not), fail with EROFS."""
    import expflow_git.importers.common as common

    folder = exp_repo.path / "results" / STUDY
    folder.mkdir(parents=True)
    real_write, real_unlink = common.write_atomic, os.unlink

    def write(target: os.PathLike[str], data: bytes, **kw: object) -> None:
        if Path(target).parent == folder:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(target))
        real_write(target, data, **kw)  # type: ignore[arg-type]

    def unlink(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if Path(path).parent == folder:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(common, "write_atomic", write)
    monkeypatch.setattr(os, "unlink", unlink)
    csv = tmp_path / "in.csv"
    csv.write_text(CSV)
    res = cli(_args(csv), exp_repo.path)
    assert (res.code, res.err.splitlines()) == (
        2,
        [
            f"expflow-git: error: {folder / 'x1.json'}: Read-only file system; "
            "run x1 not written, 0 run(s) before it written whole"
        ],
    ), res
    assert _files(exp_repo) == []


def test_a_read_only_results_folder_leaves_the_run_not_written(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    folder = exp_repo.path / "results" / STUDY
    folder.mkdir(parents=True)
    prefix = read_only_bind(folder)
    if prefix is None:
        pytest.skip("needs root and `unshare -m` to mount a folder read-only")
    csv = tmp_path / "in.csv"
    csv.write_text(CSV)
    res = run_cli(_args(csv), exp_repo.path, prefix=prefix)
    assert (res.code, res.err.splitlines()) == (
        2,
        [
            f"expflow-git: error: {folder / 'x1.json'}: Read-only file system; "
            "run x1 not written, 0 run(s) before it written whole"
        ],
    ), res
    assert _files(exp_repo) == []
