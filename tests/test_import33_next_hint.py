"""The import's last line, `next: git add FOLDERS && git commit`, runs as printed from
the folder the import ran in (a hunter's report, issue 18 thirty-third pass): it named
the root's folders (`git add experiments results`), which from `r/notebooks` are no
paths, and git refused them. The real CLI, then the printed command run by a shell."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from support import git, run_cli, scrubbed_env
from test_import_common import minimal_repo

pytestmark = pytest.mark.usefixtures("isolated_env")


def _repo(tmp_path: Path, experiments: str = "experiments") -> Path:
    repo = minimal_repo(tmp_path)
    policy = repo / "expflow.yaml"
    text = policy.read_text()
    policy.write_text(text.replace('["experiments/**/*.json"]', f'["{experiments}/**/*.json"]'))
    return repo


def _next(out: str) -> str:
    """The command the import's `next:` line prints."""
    found = re.search(r"^next: (.*) \(the hooks check what the import did\)$", out, re.M)
    assert found, out
    return found.group(1)


def _run_printed(command: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        ["sh", "-c", f"{command} -q -m import"],
        cwd=cwd,
        env=scrubbed_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, (command, proc.stdout, proc.stderr)


@pytest.mark.parametrize(
    ("where", "experiments"),
    [
        ("notebooks", "experiments"),
        ("notebooks/deep", "experiments"),
        ("results", "experiments"),
        (".", "experiments"),
        ("notebooks", "it's my runs"),  # quoted for the shell
        ("notebooks", "-runs"),  # not read as an option
        (".", ":runs"),  # not read as pathspec magic (`:!x` excludes x: a review)
    ],
)
def test_the_printed_git_add_runs_from_where_the_import_ran(
    tmp_path: Path, where: str, experiments: str
) -> None:
    repo = _repo(tmp_path, experiments)
    here = repo / where
    here.mkdir(parents=True, exist_ok=True)
    csv = tmp_path / "runs.csv"
    csv.write_text("id,accuracy\na,0.5\nb,0.6\n")
    res = run_cli(["import", "csv", str(csv), "--id-column", "id", "--study", "s"], here)
    assert res.code == 0, res
    command = _next(res.out)
    _run_printed(command, here)
    listed = git(repo, "ls-tree", "-r", "--name-only", "-z", "HEAD").split("\0")
    committed = [rel for rel in listed if rel.endswith(".json")]
    assert sorted(committed) == [
        f"{experiments}/s/a.json",
        f"{experiments}/s/b.json",
        "results/s/a.json",
        "results/s/b.json",
    ], (command, committed)
    if where == "notebooks" and experiments == "experiments":
        assert command == "git add ../experiments ../results && git commit", command


def test_the_printed_git_add_runs_outside_the_work_tree(tmp_path: Path) -> None:
    """With GIT_DIR and GIT_WORK_TREE set from outside the work tree, git takes the
    root's names: `../r/experiments` was "outside repository" (a review)."""
    repo = _repo(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"GIT_DIR": str(repo / ".git"), "GIT_WORK_TREE": str(repo)}
    csv = tmp_path / "runs.csv"
    csv.write_text("id,accuracy\na,0.5\n")
    args = ["import", "csv", str(csv), "--id-column", "id", "--study", "s"]
    res = run_cli([*args, "--policy", str(repo / "expflow.yaml")], elsewhere, env=env)
    assert res.code == 0, res
    command = _next(res.out)
    assert command == "git add experiments results && git commit", command
    _run_printed(command, elsewhere, env)
    assert "results/s/a.json" in git(repo, "ls-tree", "-r", "--name-only", "HEAD")
