"""The PIN guard, an attacker's hunt (issue 18, thirty-seventh pass; docs/spec.md §5).

- A `--reason` that holds the very PIN the command was given (`rm --reason "approved
  NNNN" --pin NNNN`, `$EXPFLOW_PIN`) was written into the correction or the record as
  typed: the scan cannot flag four digits alone, so the PIN was committed, and the
  pre-commit hook's approval line (`declared by …: <reason>`) printed it. The tool knows
  the PIN there; what the user gives is refused, never masked (pinscan/written.py).
- A `pin.hash` that is a hard link was read: another user who may write the PIN home
  can link in a file of ours whose content they chose (where the kernel lets them, as
  macOS does), and its owner, ours, says nothing of who made the link, as a symbolic
  link's target's does not (refused since the twenty-fourth pass).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import run_cli

from expflow_git.pin.store import hash_pin, save_hash

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_pin(PIN)


def _tree(root: Path) -> dict[str, bytes]:
    """Every file of the work tree and of .git but its objects and the tool's cache, byte
    for byte."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith((".git/objects", ".git/expflow/")) or not path.is_file():
            continue
        found[rel] = path.read_bytes()
    return found


@pytest.fixture
def repo(committed_repo: ExpRepo, isolated_env: Path, pin_hash: str) -> ExpRepo:
    save_hash(isolated_env, pin_hash)
    committed_repo.add_experiment("exp-001")
    committed_repo.add_result("exp-001")
    committed_repo.add_experiment("exp-002", status="pending")
    committed_repo.commit("runs")
    return committed_repo


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["rm", "exp-001", "--reason", f"approved with {PIN}", "--pin", PIN], {}),
        (["rm", "exp-001", "--reason", f"PIN {PIN}"], {"EXPFLOW_PIN": PIN}),
        (
            ["result", "exp-001", "--metric", "seg_total=50", "--metric", "pde_mean=1"]
            + ["--metric", "train_time_min=1", "--overwrite", "--reason", f"ok {PIN}."]
            + ["--pin", PIN],
            {},
        ),
        (["cancel", "exp-002", "--reason", f"{PIN}"], {"EXPFLOW_PIN": PIN}),
        (["fail", "exp-002", "--reason", f"see pin {PIN}"], {"EXPFLOW_PIN": PIN}),
    ],
    ids=["rm-pin", "rm-env", "overwrite", "cancel", "fail"],
)
def test_a_reason_holding_the_pin_given_is_refused_and_nothing_written(
    repo: ExpRepo, args: list[str], env: dict[str, str]
) -> None:
    before = _tree(repo.path)
    res = run_cli(args, repo.path, env=env)
    assert res.code == 2, res
    assert "--reason" in res.err and "PIN" in res.err, res.err
    assert PIN not in res.out + res.err
    assert _tree(repo.path) == before


def test_a_reason_with_other_digits_is_still_written(repo: ExpRepo) -> None:
    """Only the PIN standing alone: `1482100` or `48210` holds no PIN."""
    res = run_cli(
        ["rm", "exp-001", "--reason", f"1{PIN}00 steps, {PIN}0 too", "--pin", PIN], repo.path
    )
    assert res.code == 0, res
    assert list((repo.path / "corrections").rglob("*.json"))


def test_a_pin_hash_that_is_a_hard_link_is_refused(
    repo: ExpRepo, isolated_env: Path, pin_hash: str
) -> None:
    """A file of ours whose content another user chose, linked in as pin.hash: its owner
    and mode are ours, as a symbolic link's target's were."""
    planted = repo.path.parent / "their-choice.txt"
    planted.write_text(pin_hash + "\n")
    planted.chmod(0o600)
    (isolated_env / "pin.hash").unlink()
    os.link(planted, isolated_env / "pin.hash")
    before = _tree(repo.path)
    res = run_cli(["rm", "exp-002", "--pin", PIN], repo.path)
    assert res.code == 2, res
    assert "link" in res.err, res.err
    assert _tree(repo.path) == before
    status = run_cli(["pin", "status"], repo.path)
    assert status.code == 2, status


def test_the_api_refuses_a_reason_holding_the_pin_too(
    repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import expflow_git
    from expflow_git.errors import ExpflowError

    api = expflow_git.Repository(repo.path)
    before = _tree(repo.path)
    with pytest.raises(ExpflowError, match="holds the PIN") as caught:
        api.skip("exp-002", f"approved {PIN}", pin=PIN)
    assert PIN not in str(caught.value)
    monkeypatch.setenv("EXPFLOW_PIN", PIN)
    with pytest.raises(ExpflowError, match="holds the PIN"):
        api.fail("exp-002", f"({PIN})")
    assert _tree(repo.path) == before


def test_a_prompted_pin_is_known_to_the_check() -> None:
    """The PIN typed at the prompt is what `require_pin` returns, for `refuse_pin_in`."""
    from expflow_git.errors import ExpflowError
    from expflow_git.pin.guard import refuse_pin_in, require_pin

    env = {"EXPFLOW_PIN_HASH": hash_pin(PIN)}
    approved = require_pin(
        "x",
        pin=None,
        force=False,
        env=env | {"EXPFLOW_HOME": "/nonexistent"},
        interactive=True,
        prompt=lambda _: PIN,
        warn=lambda _: None,
    )
    assert approved == PIN
    with pytest.raises(ExpflowError) as caught:
        refuse_pin_in({"--correct": f"rerun, {PIN}"}, approved, env={})
    assert caught.value.code == 2 and PIN not in caught.value.message
    refuse_pin_in({"--correct": f"rerun {PIN}5"}, approved, env={})  # not alone: written


def test_an_import_correct_reason_holding_the_pin_is_refused(
    committed_repo: ExpRepo, isolated_env: Path, pin_hash: str, tmp_path: Path
) -> None:
    save_hash(isolated_env, pin_hash)
    sheet = tmp_path / "runs.csv"
    row = "run,seg_total,pde_mean,train_time_min\nr-001,{},15.0,45.5\n"
    sheet.write_text(row.format("57.09"))
    base = ["import", "csv", str(sheet), "--id-column", "run", "--study", "sheet"]
    assert run_cli(base, committed_repo.path).code == 0
    committed_repo.commit("import the sheet")
    sheet.write_text(row.format("57.5"))
    before = _tree(committed_repo.path)
    res = run_cli([*base, "--correct", f"fixed, {PIN}", "--pin", PIN], committed_repo.path)
    assert res.code == 2, res
    assert "--correct holds the PIN" in res.err and PIN not in res.out + res.err
    assert _tree(committed_repo.path) == before
    # The same reason without it is taken: a correction written.
    res = run_cli([*base, "--correct", "fixed", "--pin", PIN], committed_repo.path)
    assert res.code == 0, res
    assert list((committed_repo.path / "corrections").rglob("*.json"))


def test_protect_refuses_a_declared_reason_holding_the_approving_pin(repo: ExpRepo) -> None:
    """A correction written with `--force` (no PIN in play) whose reason holds the PIN was
    approved by the hook with `$EXPFLOW_PIN`, committed, and its reason printed in the
    approval line (the review's find): the hook knows the PIN last."""
    res = run_cli(["rm", "exp-001", "--reason", f"approved {PIN}", "--force"], repo.path)
    assert res.code == 0, res
    repo.git("add", "-A")
    res = run_cli(["protect"], repo.path, env={"EXPFLOW_PIN": PIN})
    assert res.code == 2, res
    assert "the reason of corrections/" in res.err and "holds the PIN" in res.err, res.err
    assert PIN not in res.out + res.err
    assert "declared by" not in res.err


def test_a_title_holding_the_pin_is_refused_too(repo: ExpRepo) -> None:
    """`new --title` is written into the record, committed, as `--reason` is."""
    before = _tree(repo.path)
    args = ["new", "exp-003", "--study", "pdebench-task1", "--title", f"approved {PIN} run"]
    res = run_cli(args, repo.path, env={"EXPFLOW_PIN": PIN})
    assert res.code == 2 and "--title holds the PIN" in res.err, res
    assert PIN not in res.out + res.err
    assert _tree(repo.path) == before
