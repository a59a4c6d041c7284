"""`rm` killed (SIGKILL: nothing defers it) between two of a run's result deletes: it
deleted the committed `results/s/r1.json` first, and the extra copy left in
`results/archive/` was then where a second `rm` looked, which refused it as "committed
as results/s/r1.json; commit that move first" (a review, issue 18 twenty-ninth pass).
The committed file goes last now: killed after any delete, a second `rm` finishes."""

from __future__ import annotations

import shutil

import pytest
from conftest import ExpRepo
from support import run_cli, run_cli_code

METRICS = ["--metric", "seg_total=1", "--metric", "pde_mean=1", "--metric", "train_time_min=1"]

# The CLI, killed outright right after its `KILL_AFTER`-th file delete.
KILLED_AFTER = """
import os, pathlib, sys
unlink = pathlib.Path.unlink
done = [0]
def killing_unlink(self, *args, **kwargs):
    unlink(self, *args, **kwargs)
    done[0] += 1
    if done[0] >= int(os.environ["KILL_AFTER"]):
        os._exit(9)
pathlib.Path.unlink = killing_unlink
from expflow_git.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("kill_after", [1, 2])
def test_a_second_rm_finishes_what_a_killed_one_began(
    committed_repo: ExpRepo, kill_after: int
) -> None:
    repo = committed_repo
    assert run_cli(["new", "r1", "--study", "s", "--param", "sub_step=1"], repo.path).code == 0
    assert run_cli(["result", "r1", *METRICS], repo.path).code == 0
    repo.commit("r1")
    (repo.path / "results/archive").mkdir(parents=True)
    shutil.copyfile(repo.path / "results/s/r1.json", repo.path / "results/archive/r1.json")

    args = ["rm", "r1", "--force", "--reason", "a bad run"]
    code, out, err = run_cli_code(
        KILLED_AFTER, args, repo.path, env={"KILL_AFTER": str(kill_after)}
    )
    assert code == 9, (code, out, err)
    assert (repo.path / "experiments/s/r1.json").exists()  # killed before the record went

    again = run_cli(args, repo.path)
    assert again.code == 0, again
    assert "commit that move first" not in again.err, again
    for rel in ("results/s/r1.json", "results/archive/r1.json", "experiments/s/r1.json"):
        assert not (repo.path / rel).exists(), rel
    assert run_cli(["validate"], repo.path).code == 0
