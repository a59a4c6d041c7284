"""The audit's cache is local and trusted (issue 18, docs/threat-model.md): a shard
decides verdicts without the blobs being read again, so one this user may not have
written (another owner, group- or world-writable) is ignored with a warning, and the
GitHub Action never reads a cache at all. Real repositories, the real CLI.
"""

# The fixtures `repo`, `template` and `demo_repo` are imported from the modules that
# define them, and test parameters of those names receive them (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from helpers_audit import Cli
from ruamel.yaml import YAML
from support import run_cli
from test_action import (
    ROOT,
    demo_repo,  # noqa: F401 (a fixture)
    run_action,
)
from test_cache import (  # noqa: F401 (fixtures)
    RESULT,
    AuditRun,
    audit,
    blob,
    join_shard,
    repo,
    run_metrics,
    shard_of,
    split_shard,
    template,
    valid_records,
)


def forge(cli: Cli, repo: Path) -> tuple[AuditRun, Path]:
    """The honest `--no-cache` audit; then a warm cache whose record of run-00's result
    says seg_total 99, its shard's digest recomputed (what the plain cache believes)."""
    honest = audit(cli, repo, "--no-cache")
    audit(cli, repo)
    sha = blob(repo, RESULT)
    shard = shard_of(repo, sha)
    header, _, records = split_shard(shard)
    records[sha]["r"]["doc"]["metrics"]["seg_total"] = 99.0
    del records[sha]["r"]["sp"]
    shard.write_bytes(join_shard(header, records))
    shard.chmod(0o644)
    return honest, shard


def test_forged_shard_of_this_user_is_believed(xcli: Cli, repo: Path) -> None:
    """The other tests' premise: the forgery works when the file passes the checks."""
    _, shard = forge(xcli, repo)
    assert run_metrics(audit(xcli, repo).report)["run-00"]["seg_total"] == 99


@pytest.mark.parametrize("bits", [stat.S_IWGRP, stat.S_IWOTH], ids=["g+w", "o+w"])
def test_shard_writable_by_others_is_ignored_with_a_warning(
    xcli: Cli, repo: Path, bits: int
) -> None:
    honest, shard = forge(xcli, repo)
    shard.chmod(0o644 | bits)
    res = audit(xcli, repo)
    assert res.report == honest.report
    assert res.code == honest.code
    warnings = [ln for ln in res.err.splitlines() if ": warning: " in ln]
    assert len(warnings) == 1, res.err
    assert warnings[0].startswith("expflow-git audit: warning: ")
    assert shard.name in warnings[0] and "writable by other users" in warnings[0]
    # The audit saved an honest shard of its own in its place: trusted again, silently.
    mode = shard.stat().st_mode
    assert not mode & (stat.S_IWGRP | stat.S_IWOTH)
    assert valid_records(shard)[blob(repo, RESULT)]["r"]["doc"]["metrics"]["seg_total"] == 50
    again = audit(xcli, repo)
    assert again.report == honest.report and ": warning: " not in again.err


def test_many_distrusted_shards_give_one_warning(xcli: Cli, repo: Path) -> None:
    honest, shard = forge(xcli, repo)
    shards = sorted(shard.parent.glob("*.json"))
    assert len(shards) > 3
    for path in shards:
        path.chmod(0o666)
    res = audit(xcli, repo)
    assert res.report == honest.report
    warnings = [ln for ln in res.err.splitlines() if ": warning: " in ln]
    assert len(warnings) == 1 and f"(and {len(shards) - 1} more)" in warnings[0], res.err


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root to give a file another owner",
)
def test_shard_owned_by_another_user_is_ignored(xcli: Cli, repo: Path) -> None:
    honest, shard = forge(xcli, repo)
    os.chown(shard, 65534, 65534)  # nobody
    res = audit(xcli, repo)
    assert res.report == honest.report
    assert "owned by another user (uid 65534)" in res.err, res.err


def test_shard_that_is_a_symbolic_link_is_ignored_with_a_warning(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    """A link in a shard's place is refused, whoever owns it and whatever it names: one
    to a forged file of this user's (say a JSON file a pull request committed, checked
    out by this user) used to be believed, as only the target's owner was checked."""
    honest, shard = forge(xcli, repo)
    planted = tmp_path / "planted.json"
    shard.rename(planted)
    forged = planted.read_bytes()
    shard.symlink_to(planted)
    res = audit(xcli, repo)
    assert res.report == honest.report and res.code == honest.code
    warnings = [ln for ln in res.err.splitlines() if ": warning: " in ln]
    assert len(warnings) == 1 and "a symbolic link" in warnings[0], res.err
    # Replaced by a shard of the audit's own (the link, not its target).
    assert not shard.is_symlink() and shard.is_file()
    assert planted.read_bytes() == forged


@pytest.mark.parametrize("level", [0, 1], ids=["policy folder", "cache folder"])
def test_a_linked_folder_on_the_way_to_a_shard_is_distrusted(
    xcli: Cli, repo: Path, tmp_path: Path, level: int
) -> None:
    """O_NOFOLLOW guards only the file's own name: a link in place of the shard's folder
    (or of .git/expflow/cache) to a folder of forged shards of this user's was believed."""
    honest, shard = forge(xcli, repo)
    folder = shard.parents[level]
    planted = tmp_path / "planted"
    folder.rename(planted)
    folder.symlink_to(planted)
    res = audit(xcli, repo)
    assert res.report == honest.report and res.code == honest.code
    warnings = [ln for ln in res.err.splitlines() if ": warning: " in ln]
    assert len(warnings) == 1 and "is a symbolic link" in warnings[0], res.err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_shard_that_is_a_fifo_is_ignored_not_waited_on(xcli: Cli, repo: Path) -> None:
    """A named pipe in a shard's place used to block the audit's open for ever."""
    honest = audit(xcli, repo, "--no-cache")
    audit(xcli, repo)
    shard = shard_of(repo, blob(repo, RESULT))
    shard.unlink()
    os.mkfifo(shard, 0o600)
    report = repo.parent / "report.json"
    done = run_cli(["audit", "--out", str(report)], repo, timeout=120)  # a subprocess
    assert done.code == honest.code, done.err
    assert report.read_bytes() == honest.report
    assert "Traceback" not in done.err
    assert shard.is_file()  # replaced by a shard of the audit's own


def test_own_cache_under_a_group_writable_umask_is_trusted(xcli: Cli, repo: Path) -> None:
    """A umask of 002 (user-private groups) must not make every shard of ours distrusted."""
    old = os.umask(0o002)
    try:
        honest = audit(xcli, repo, "--no-cache")
        audit(xcli, repo)
        warm = audit(xcli, repo)
    finally:
        os.umask(old)
    assert warm.report == honest.report and ": warning: " not in warm.err, warm.err
    shard = shard_of(repo, blob(repo, RESULT))
    assert not shard.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)


# ----------------------------------------------------------------------------- the action


def test_action_never_reads_a_cache_left_in_the_workspace(demo_repo: Path, tmp_path: Path) -> None:
    """A self-hosted runner keeps its workspace: an earlier job (another pull request's)
    can leave a forged cache, owned by the runner's user. The action audits without it."""
    honest_code, _, honest_out, _ = run_action(demo_repo, tmp_path)
    honest = (demo_repo / honest_out["report-path"]).read_bytes()
    (demo_repo / honest_out["report-path"]).unlink()
    # Warm a cache the way a local run would, then forge every record it holds.
    subprocess.run(
        [sys.executable, "-m", "expflow_git", "audit", "--out", str(tmp_path / "local.json")],
        cwd=demo_repo,
        capture_output=True,
        check=False,
    )
    shards = list((demo_repo / ".git" / "expflow" / "cache").rglob("*.json"))
    assert shards
    forged_any = False
    for shard in shards:
        header, _, records = split_shard(shard)
        for record in records.values():
            doc = record.get("r", {}).get("doc")
            if doc is not None:
                doc["metrics"] = {k: 0.0 for k in doc["metrics"]}
                record["r"].pop("sp", None)
                forged_any = True
        shard.write_bytes(join_shard(header, records))
    assert forged_any
    code, _, outputs, _ = run_action(demo_repo, tmp_path)
    assert code == honest_code == 0
    assert outputs == honest_out
    assert run_metrics((demo_repo / outputs["report-path"]).read_bytes()) == run_metrics(honest)


def test_action_and_the_workflow_init_writes_cache_nothing() -> None:
    """No step restores or saves anything between jobs (actions/cache of .git/expflow),
    neither in the action nor in the workflow `init` writes."""
    from expflow_git.records.scaffold import WORKFLOW

    action = YAML(typ="safe").load((ROOT / "action.yml").read_text())
    workflow = YAML(typ="safe").load(WORKFLOW)
    steps = list(action["runs"]["steps"])
    for job in workflow["jobs"].values():
        steps += job["steps"]
    assert len(steps) > 2
    for step in steps:
        assert "cache" not in str(step.get("uses", "")), step
        assert ".git/expflow" not in str(step), step


@pytest.mark.parametrize("command", [["rank"], ["diff", "HEAD", "HEAD"]])
def test_rank_and_diff_warn_of_a_cache_file_they_ignore(
    xcli: Cli, repo: Path, command: list[str]
) -> None:
    """They read the same cache as the audit and ignored such a file silently (an
    attacker's hunt): the threat model promises one warning wherever it is ignored."""
    _, shard = forge(xcli, repo)
    shard.chmod(0o666)
    res = xcli(command, repo)
    warnings = [ln for ln in res.err.splitlines() if "cache file ignored" in ln]
    assert len(warnings) == 1, res.err
    assert warnings[0].startswith(f"expflow-git {command[0]}: warning: ")
    assert "writable by other users" in warnings[0]
    assert "99" not in res.out


@pytest.mark.parametrize("method", ["audit", "rank"])
def test_the_python_api_warns_of_a_cache_file_it_ignores(
    xcli: Cli, repo: Path, method: str
) -> None:
    from expflow_git import Repository

    _, shard = forge(xcli, repo)
    shard.chmod(0o666)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(Repository(repo), method)()
    told = [str(w.message) for w in caught if "cache file ignored" in str(w.message)]
    assert len(told) == 1 and shard.name in told[0], [str(w.message) for w in caught]


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), float("-inf"), 10**400], ids=["nan", "inf", "-inf", "big"]
)
def test_a_forged_number_no_report_can_hold_is_a_miss(xcli: Cli, repo: Path, value: float) -> None:
    """A shard whose record (digest recomputed) holds NaN, ±Infinity or an integer of 400
    digits crashed `audit --html` in the chart's spelling of it (a user's hunt, issue 18
    twenty-third pass): a part later checks cannot compute with is a miss (decisions.md)."""
    html = repo.parent / "s.html"
    honest = audit(xcli, repo, "--no-cache", "--html", str(html))
    honest_html = html.read_bytes()
    audit(xcli, repo)
    sha = blob(repo, RESULT)
    shard = shard_of(repo, sha)
    header, _, records = split_shard(shard)
    records[sha]["r"]["doc"]["metrics"]["seg_total"] = value
    del records[sha]["r"]["sp"]
    shard.write_bytes(join_shard(header, records))
    res = audit(xcli, repo, "--html", str(html))
    assert (res.code, res.report) == (honest.code, honest.report), res.err
    assert html.read_bytes() == honest_html


@pytest.mark.parametrize("level", [0, 1, 2], ids=["policy folder", "cache folder", "expflow"])
def test_a_linked_folder_is_replaced_never_written_through(
    xcli: Cli, repo: Path, tmp_path: Path, level: int
) -> None:
    """`.git/expflow -> /elsewhere`: every run warned twice and wrote its shards, folder
    entries and remembered policies into the link's target, which every later read
    ignored (a user's hunt, issue 18 twenty-third pass). The link is replaced by a real
    folder (its target untouched), and the next run is warm and silent."""
    honest = audit(xcli, repo, "--no-cache")
    audit(xcli, repo)
    folder = shard_of(repo, blob(repo, RESULT)).parents[level]
    planted = tmp_path / "planted"
    planted.mkdir()
    subprocess.run(["rm", "-rf", str(folder)], check=True)
    folder.symlink_to(planted)
    first = audit(xcli, repo)
    assert first.report == honest.report and first.code == honest.code
    assert not folder.is_symlink() and folder.is_dir()
    assert list(planted.iterdir()) == []
    again = audit(xcli, repo)
    assert again.report == honest.report and ": warning: " not in again.err, again.err
    assert shard_of(repo, blob(repo, RESULT)).is_file()
