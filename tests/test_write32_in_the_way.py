"""Something of another kind where expflow-git makes a folder or writes a file is named
for what it is ("is a file, not a folder", "is a folder, not a file"), one line, exit 2:
mkdir's and link's own words ("File exists", "Not a directory") named no file in the
way, or the wrong one (a hunter's find, issue 18 thirty-second pass)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo
from support import CliCall, git_init, run_cli

from expflow_git.atomicfile import write_atomic

PIN = str(4000 + 821)


def _pin_init(home: Path, cwd: Path) -> tuple[int, list[str]]:
    res = run_cli(["pin", "init", PIN], cwd, env={"EXPFLOW_HOME": str(home)})
    return res.code, res.err.splitlines()


def test_a_pin_home_that_is_a_file_is_said_to_be_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder\n")
    code, err = _pin_init(home, tmp_path)
    assert (code, err) == (
        2,
        [
            f"expflow-git: error: {home}: is a file, not a folder "
            "(the PIN's folder, $EXPFLOW_HOME or ~/.expflow); nothing changed"
        ],
    )
    assert home.read_text() == "not a folder\n"


def test_a_file_above_the_pin_home_is_the_one_named(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    home = tmp_path / "f" / "home"
    code, err = _pin_init(home, tmp_path)
    assert (code, err) == (
        2,
        [
            f"expflow-git: error: {home}: {tmp_path / 'f'} is a file, not a folder "
            "(the PIN's folder, $EXPFLOW_HOME or ~/.expflow); nothing changed"
        ],
    )
    res = run_cli(["pin", "status"], tmp_path, env={"EXPFLOW_HOME": str(home)})
    assert (res.code, res.err.splitlines()) == (
        2,
        [
            f"expflow-git: error: {home}: {tmp_path / 'f'} is a file, not a folder "
            "(the PIN's folder, $EXPFLOW_HOME or ~/.expflow)"
        ],
    )


def test_a_broken_link_as_the_pin_home_is_said_to_be_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    os.symlink(tmp_path / "nowhere", home)
    code, err = _pin_init(home, tmp_path)
    assert code == 2
    assert err == [
        f"expflow-git: error: {home}: is a broken symbolic link, not a folder "
        "(the PIN's folder, $EXPFLOW_HOME or ~/.expflow); nothing changed"
    ]
    assert not (tmp_path / "nowhere").exists()


def test_a_folder_at_the_pin_file_is_said_to_be_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "pin.hash").mkdir(parents=True)
    code, err = _pin_init(home, tmp_path)
    assert (code, err) == (
        2,
        [
            f"expflow-git: error: the PIN hash file {home / 'pin.hash'} is a folder, not a "
            "file; move it away and run `expflow-git pin init`"
        ],
    )


def test_a_hooks_folder_that_is_a_file_is_said_to_be_one(tmp_path: Path) -> None:
    repo = git_init(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    for path in hooks.iterdir():
        path.unlink()
    hooks.rmdir()
    hooks.write_text("")
    res = run_cli(["install-hooks"], repo)
    assert (res.code, res.err.splitlines(), res.out) == (
        2,
        [
            f"expflow-git: error: {hooks}: is a file, not a folder "
            "(git's hooks folder; nothing installed)"
        ],
        "",
    )


def test_a_folder_at_a_hooks_path_is_refused_not_kept(tmp_path: Path) -> None:
    """Git runs no folder as a hook: "kept: a different hook exists", exit 0, left the
    repository without its pre-commit hook. Nothing is installed (the other two were)."""
    repo = git_init(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").mkdir()
    res = run_cli(["install-hooks"], repo)
    assert (res.code, res.err.splitlines(), res.out) == (
        2,
        [
            f"expflow-git: error: {hooks / 'pre-commit'}: is a folder, not a file, and git "
            "runs no hook from it; move it away and run install-hooks again "
            "(nothing installed)"
        ],
        "",
    )
    assert not (hooks / "pre-merge-commit").exists() and not (hooks / "pre-push").exists()


def test_a_broken_link_at_a_hooks_path_is_refused_and_a_link_to_a_file_kept(
    tmp_path: Path,
) -> None:
    repo = git_init(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    os.symlink(tmp_path / "nowhere", hooks / "pre-push")
    res = run_cli(["install-hooks"], repo)
    assert res.code == 2 and res.err.splitlines() == [
        f"expflow-git: error: {hooks / 'pre-push'}: is a broken symbolic link, not a file, "
        "and git runs no hook from it; move it away and run install-hooks again "
        "(nothing installed)"
    ], res
    (tmp_path / "nowhere").write_text("#!/bin/sh\nexit 0\n")
    res = run_cli(["install-hooks"], repo)
    assert res.code == 0, res
    assert f"{hooks / 'pre-push'}: kept: a different hook exists; merge it by hand" in res.out


def test_a_folder_at_a_new_records_path_is_said_to_be_one(exp_repo: ExpRepo) -> None:
    """`new` met it only as its write's link failed: "cannot write it: File exists"."""
    (exp_repo.path / "experiments" / "s" / "e4.json").mkdir(parents=True)
    res = run_cli(["new", "e4", "--study", "s"], exp_repo.path)
    assert (res.code, res.err.splitlines()) == (
        2,
        ["expflow-git: error: experiments/s/e4.json: cannot write it: is a folder, not a file"],
    ), res
    assert list((exp_repo.path / "experiments" / "s").iterdir()) == [
        exp_repo.path / "experiments" / "s" / "e4.json"
    ]


def test_a_write_that_replaces_nothing_says_a_folder_is_in_its_place(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.mkdir()
    with pytest.raises(FileExistsError) as caught:
        write_atomic(target, b"{}", overwrite=False)
    assert (caught.value.filename, caught.value.strerror) == (
        str(target),
        "is a folder, not a file",
    )
    (tmp_path / "f.json").write_text("")
    with pytest.raises(FileExistsError) as caught:
        write_atomic(tmp_path / "f.json", b"{}", overwrite=False)
    assert caught.value.strerror == os.strerror(errno.EEXIST)  # a file: it exists
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json", "r.json"]


def _made_meanwhile(
    monkeypatch: pytest.MonkeyPatch, rel: str, make: Callable[[Path], object]
) -> None:
    """`init`'s write of `rel` meets what another process made there after init looked."""
    from expflow_git.records import scaffold

    real = scaffold.write_atomic

    def write(target: Path, data: bytes, **kw: Any) -> None:
        if target.as_posix().endswith(rel):
            target.parent.mkdir(parents=True, exist_ok=True)
            make(target)
        real(target, data, **kw)

    monkeypatch.setattr(scaffold, "write_atomic", write)


def test_a_file_another_init_made_meanwhile_is_kept(
    tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four concurrent `init conc`: three said `conc/experiments/.gitkeep: File exists`,
    exit 2, of a complete scaffold."""
    _made_meanwhile(monkeypatch, "experiments/.gitkeep", lambda p: p.write_text(""))
    res = cli(["init", "conc"], tmp_path)
    assert (res.code, res.err) == (0, ""), res
    assert "kept    conc/experiments/.gitkeep" in res.out.splitlines(), res.out
    assert "created conc/results/.gitkeep" in res.out.splitlines(), res.out
    assert (tmp_path / "conc" / "experiments" / ".gitkeep").read_text() == ""


def test_a_folder_made_meanwhile_where_init_writes_is_said_to_be_one(
    tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    _made_meanwhile(monkeypatch, "experiments/.gitkeep", lambda p: p.mkdir())
    res = cli(["init", "conc"], tmp_path)
    assert (res.code, res.err.splitlines()) == (
        2,
        ["expflow-git: error: conc/experiments/.gitkeep: is a folder, not a file"],
    ), res
