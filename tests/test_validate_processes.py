"""The git processes of a hook do not grow with the commit (issue 18): `validate`, `scan` and
`protect`, run by hand, by the plain git hooks of `install-hooks` and by the pre-commit
framework, start the same git commands for one staged result as for 500 (a sweep's results
landing in one commit, their records committed at launch). A `git` first on PATH logs
every call with the process that started it."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import ExpRepo, experiment_doc, git_env, result_doc, run_cli
from support import git_calls, git_counter, pre_commit_install

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="names each git call's parent through /proc"
)

SWEEP = 500
HOOKS = ("validate", "scan", "protect")


def _ids(first: int, count: int) -> list[str]:
    return [f"run-{n:04d}" for n in range(first, first + count)]


def _add_records(repo: ExpRepo, ids: list[str]) -> None:
    for exp_id in ids:
        repo.write_json(repo.exp_path(exp_id), experiment_doc(exp_id))


def _add_results(repo: ExpRepo, ids: list[str]) -> list[str]:
    return [
        repo.write_json(repo.res_path(i), result_doc(i)).relative_to(repo.path).as_posix()
        for i in ids
    ]


@pytest.fixture
def launched(committed_repo: ExpRepo) -> ExpRepo:
    """A sweep launched: 1 + SWEEP records committed, no result yet."""
    _add_records(committed_repo, _ids(0, 1 + SWEEP))
    committed_repo.commit("launch the sweep")
    return committed_repo


def _subcommand(args: str) -> str:
    """git's command in a logged call ("ls-files"), past the global options."""
    words = shlex.split(args)
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in ("-c", "-C") else 1
    return words[i] if i < len(words) else ""


def _per_run(log: Path) -> dict[str, list[tuple[str, ...]]]:
    """For each expflow-git command (validate, scan, protect): the git commands each of
    its processes started, one tuple per process."""
    by_pid: dict[int, list[str]] = defaultdict(list)
    command: dict[int, str] = {}
    for call in git_calls(log):
        words = call.parent.split()
        # `expflow-git …`, or the installed hooks' `python -c '…import main…' …`
        hook = "expflow_git.cli import main" in call.parent
        ours = hook or any("expflow" in w for w in words[:3])
        if not ours:
            continue  # git itself, the hook script, pre-commit
        command[call.pid] = next((w for w in words if w in HOOKS), "?")
        by_pid[call.pid].append(_subcommand(call.args))
    runs: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for pid, subcommands in by_pid.items():
        runs[command[pid]].append(tuple(sorted(subcommands)))
    return {name: sorted(set(found)) for name, found in runs.items()}


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--"],
        ["validate", "--staged", "--"],
        ["scan", "--staged", "--"],
        ["scan", "--"],
        ["protect", "--"],
    ],
    ids=["validate", "validate-staged", "scan-staged", "scan", "protect"],
)
def test_a_command_starts_as_many_git_processes_for_500_results_as_for_one(
    launched: ExpRepo, tmp_path: Path, args: list[str]
) -> None:
    env, log = git_counter(tmp_path)

    def calls(ids: list[str]) -> list[str]:
        paths = _add_results(launched, ids)
        launched.stage()
        log.unlink(missing_ok=True)
        code, out, err = run_cli(
            [*args, *([] if args[0] == "protect" else paths)], launched.path, env=env
        )
        assert code == 0, out + err
        found = sorted(_subcommand(c.args) for c in git_calls(log))
        launched.commit(f"{len(ids)} result(s)")
        return found

    one = calls(_ids(0, 1))
    many = calls(_ids(1, SWEEP))
    assert one == many, (one, many)
    # Find the repository, list the index, stream the blobs (with --staged, the policy's
    # own cat-file too); protect: HEAD, the staged changes and the staged policy, once each.
    assert len(many) <= 6, many


def test_validate_reads_the_records_of_500_results_from_the_index(
    launched: ExpRepo, tmp_path: Path
) -> None:
    """The records are read (a failed one is named for every result), not assumed."""
    env, log = git_counter(tmp_path)
    ids = _ids(1, SWEEP)
    for exp_id in ids[:3]:
        launched.write_json(launched.exp_path(exp_id), experiment_doc(exp_id, status="failed"))
    launched.commit("three runs failed")
    paths = _add_results(launched, ids)
    launched.stage()
    code, out, _ = run_cli(["validate", "--", *paths], launched.path, env=env)
    assert code == 1
    assert sorted(line.split("#")[0] for line in out.splitlines()) == sorted(paths[:3]), out
    assert "has status 'failed', not 'success'" in out
    assert len(git_calls(log)) <= 4


def _commit(repo: ExpRepo, env: dict[str, str], message: str) -> None:
    proc = subprocess.run(
        ["git", "commit", "-q", "-m", message],
        cwd=repo.path,
        env=git_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("hooks", ["install-hooks", "pre-commit"])
def test_each_hook_process_starts_the_same_git_commands_for_500_results_as_for_one(
    launched: ExpRepo, tmp_path: Path, hooks: str
) -> None:
    env, log = git_counter(tmp_path)
    env = {
        **env,
        "PATH": f"{Path(sys.executable).parent}:{env['PATH']}",  # expflow-git, pre-commit
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }
    if hooks == "install-hooks":
        code, out, err = run_cli(["install-hooks"], launched.path, env=env)
        assert code == 0, out + err
    else:
        pre_commit_install(launched.path, env)

    def runs(ids: list[str]) -> dict[str, list[tuple[str, ...]]]:
        _add_results(launched, ids)
        launched.stage()
        log.unlink(missing_ok=True)
        _commit(launched, env, f"{len(ids)} result(s)")
        return _per_run(log)

    one = runs(_ids(0, 1))
    many = runs(_ids(1, SWEEP))
    assert sorted(one) == sorted(HOOKS), one  # every hook ran and was counted
    assert one == many, (one, many)
