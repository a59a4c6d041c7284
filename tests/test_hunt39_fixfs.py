"""An attacker's hunt of the thirty-eighth pass's filesystem fixes (issue 18, thirty-ninth
pass): the call sites they missed, outputs over inputs, sparse checkouts."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ExpRepo, run_cli


def _committed_run(repo: ExpRepo) -> None:
    repo.add_experiment()
    repo.add_result()
    repo.commit("a run")


@pytest.mark.parametrize("output", ["--out", "--html"])
def test_audit_never_writes_over_a_previous_key(
    committed_repo: ExpRepo, tmp_path: Path, output: str
) -> None:
    """`audit` refuses an output naming its signing key or its `--previous` report
    ("Two outputs naming one file are refused before anything is written": the scorecard
    over the key, exit 0, the key gone), and `report --html` one naming a `--public-key`;
    `--previous-key PUB`, a key the previous report is checked with, was left out: `audit
    --previous R --previous-key K.pub --html K.pub` read the key, then wrote the scorecard
    (or the report) over it, exit 0, the trusted key gone. Exit 2, nothing written."""
    _committed_run(committed_repo)
    keys = tmp_path / "keys"
    keys.mkdir()
    code, out, err = run_cli(["keygen", "--out", str(keys / "k")], committed_repo.path)
    assert code == 0, err
    previous = tmp_path / "r0.json"
    args = ["audit", "--sign-key", str(keys / "k"), "--out", str(previous)]
    code, out, err = run_cli(args, committed_repo.path)
    assert code == 0, err
    pub = keys / "k.pub"
    before = pub.read_bytes()
    (keys / "sub").mkdir()
    spelt = str(keys / "sub" / ".." / "k.pub")  # (after `..`, as the other pairs are)
    args = ["audit", "--previous", str(previous), "--previous-key", str(pub), output, spelt]
    code, out, err = run_cli(args, committed_repo.path)
    assert code == 2, out + err
    assert f"--previous-key and {output} name the same file" in err, err
    assert pub.read_bytes() == before


def test_new_never_writes_over_a_record_a_sparse_checkout_leaves_off_the_disk(
    committed_repo: ExpRepo,
) -> None:
    """`new` writes a record "never over an existing record" (`exists already; records are
    never overwritten`), and docs/spec.md §7 reads a skip-worktree entry (a sparse
    checkout's file outside its cone) from the index, as `git add -A` keeps it. `new`
    looked only at the disk: the committed record of a failed run outside the cone was
    "no record", and `new ID --study S` wrote a pending record with other params at its
    path, exit 0; git then takes the file as the entry's new content (`M`), and the hooks
    pass it (a run without a result is not frozen): the committed run silently became
    another. Refused now, exit 2 as a record on disk is, nothing written."""
    rel = committed_repo.exp_path("exp-002")
    committed_repo.add_experiment("exp-002", status="failed", reason="out of memory")
    committed_repo.commit("a failed run")
    committed_repo.git("sparse-checkout", "set", "--no-cone", "/*", "!/experiments/")
    assert not (committed_repo.path / rel).exists()
    args = ["new", "exp-002", "--study", "pdebench-task1", "--param", "sub_step=6"]
    code, out, err = run_cli(args, committed_repo.path)
    assert code == 2, out + err
    assert f"{rel}: experiment 'exp-002' exists already" in err, err
    assert "sparse checkout" in err, err
    assert not (committed_repo.path / rel).exists()
    assert committed_repo.status() == ""
    # Another id is written as before.
    code, out, err = run_cli(["new", "exp-003", "--study", "s2"], committed_repo.path)
    assert code == 0, out + err


@pytest.mark.parametrize("folder", [".git/runs", ".GIT/runs", "x/.Git"])
def test_new_never_writes_a_record_into_the_git_directory(
    committed_repo: ExpRepo, folder: str
) -> None:
    """A policy whose `paths.experiments` (or `results`) glob lies below `.git` (a pull
    request's policy, merged) had `new` write the record into the repository's git
    directory, exit 0, where no commit can take it and no command lists it; spelt `.GIT`
    (or any case), git refuses the path (`error: invalid path '.GIT/…'`), and every later
    `git add -A` failed on it. A record or result git cannot commit is refused, as one
    `.gitignore` keeps out is (exit 2, nothing written)."""
    policy = committed_repo.path / "expflow.yaml"
    text = policy.read_text()
    assert '"experiments/**/*.json"' in text
    policy.write_text(text.replace('"experiments/**/*.json"', f'"{folder}/**/*.json"'))
    args = ["new", "exp-009", "--study", "s", "--param", "sub_step=6"]
    code, out, err = run_cli(args, committed_repo.path)
    assert code == 2, out + err
    assert "git cannot commit" in err and "nothing written" in err, err
    assert not (committed_repo.path / folder).exists()
    assert committed_repo.git("add", "-A", "--dry-run") is not None  # (git can add the rest)
