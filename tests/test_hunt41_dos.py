"""An attacker's hunt for a denial of verdict (hang, crash, memory) from a pull request's
content (issue 18 forty-first pass): regression tests for what it found."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from helpers_audit import POLICY, commit_all, experiment, new_repo, run_cli, write

DEPTH = 1_100  # past Python's default recursion limit (1,000); a 2.2 KB path


def _deep(root: Path, rel: str) -> Path:
    """A chain of DEPTH nested folders `d` below `root/rel`, made one level at a time
    (os.makedirs itself recurses once a level)."""
    folder = root / rel
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(DEPTH):
        folder = folder / "d"
        folder.mkdir()
    return folder


def test_a_chain_of_nested_folders_is_walked_without_a_traceback(tmp_path: Path) -> None:
    """Spec §7: `validate` and `scan` with PATHS walk the folders given. Python before
    3.12 walks by recursion (`os.walk`), so a pull request holding ~1,000 nested folders
    (a 2.2 KB path, which git commits and checks out) made `validate .` and `scan .`
    stop with a RecursionError traceback (exit 1), and `new` one in an experiments
    folder holding the chain. The walk is now a loop: an invalid record at the chain's
    end is named, and the scan finishes."""
    repo = new_repo(tmp_path / "repo", POLICY)
    try:
        _walk_the_chain(repo)
    finally:  # (pytest's own clean-up of old tmp folders recurses too: gone before it)
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 4 * DEPTH))
        try:
            shutil.rmtree(repo)
        finally:
            sys.setrecursionlimit(limit)


def _walk_the_chain(repo: Path) -> None:
    deep = _deep(repo, "experiments/s")
    bad = experiment("e-deep", study="s")
    del bad["status"]
    (deep / "e-deep.json").write_text(json.dumps(bad) + "\n")
    write(repo, "notes.txt", "nothing here\n")
    commit_all(repo, "a deep tree")

    res = run_cli(["validate", "."], repo)
    assert "Traceback" not in res.err and "RecursionError" not in res.err, res.err
    assert res.code == 1, res
    assert "e-deep.json" in res.out + res.err, res

    res = run_cli(["scan", "."], repo)
    assert "Traceback" not in res.err, res.err
    assert res.code == 0, res
    assert "file(s) clean" in res.out + res.err, res

    res = run_cli(["new", "e-new", "--study", "s"], repo)
    assert "Traceback" not in res.err, res.err
    assert res.code == 0, res
    assert (repo / "experiments/s/e-new.json").is_file()


def _thresholds(count: int) -> str:
    """POLICY with `count` more metrics that each have a threshold (two more of its own)."""
    extra = "".join(
        f"  x{i}: {{group: X, higher_is_better: true, threshold: 1}}\n" for i in range(count)
    )
    return POLICY.replace("metrics:\n", "metrics:\n" + extra, 1)


def test_a_registry_of_more_thresholds_than_gates_is_refused(tmp_path: Path) -> None:
    """Spec §3: "A registry `threshold` is a gate", and "every run's entry in the report
    lists each gate … so `gates` … hold at most 256 items". Thresholds were not bounded:
    a 289 KB policy of 5,000 of them over 200 one-metric runs made `audit` write a 100 MB
    report (351 MB peak, 15 s), each run's entry a check per threshold, and `validate`
    passed it; at the policy's caps (~20,000 thresholds) and 2,000 runs the report is
    ~4 GB. More than 256 metrics with a threshold is now a configuration error (exit 2),
    one line naming `/metrics`, as 257 gates are."""
    repo = new_repo(tmp_path / "repo", _thresholds(255))  # 257 with POLICY's two
    commit_all(repo, "too many thresholds")
    for args in (["validate"], ["audit", "--no-cache"], ["rank"]):
        res = run_cli(args, repo)
        assert res.code == 2, (args, res)
        lines = res.err.strip().splitlines()
        assert lines == [
            "expflow-git: error: expflow.yaml: /metrics: 257 metrics have a threshold, more "
            "than the maximum of 256 (each is a gate, as `gates` are)"
        ], (args, res)
        assert "Traceback" not in res.err

    write(repo, "expflow.yaml", _thresholds(254))  # 256: at the bound, as 256 gates are
    res = run_cli(["validate"], repo)
    assert res.code == 0, res


def test_a_rule_of_a_long_name_is_refused(tmp_path: Path) -> None:
    """Every run's report entry names each rule (`param:op:value`), and neither a rule's
    `param` nor its string `value` had a bound: a 24 KB policy of 250 rules naming one
    aliased 15,000-character param made `audit` of 50 one-metric runs write a 251 MB
    report (600 MB peak), ~4 MiB a run at the policy's text budget. A record's param
    names are at most 256 characters (so a longer `param` can match none); both are now
    bounded there, a configuration error (exit 2) naming the rule's pointer."""
    long = "p" * 257
    for field, rule in [
        ("param", f"{{param: {long}, op: gt, value: 0}}"),
        ("value", f"{{param: sub_step, op: eq, value: '{long}'}}"),
    ]:
        policy = POLICY.replace("rules:\n", f"rules:\n  - {rule}\n", 1)
        repo = new_repo(tmp_path / field, policy)
        commit_all(repo, "a long rule")
        for args in (["validate"], ["audit", "--no-cache"]):
            res = run_cli(args, repo)
            assert res.code == 2, (args, res)
            lines = res.err.strip().splitlines()
            assert len(lines) == 1, (args, res)
            assert lines[0].startswith(f"expflow-git: error: expflow.yaml: /rules/0/{field}: ")
            assert lines[0].endswith("is longer than the maximum length of 256"), res
        # At the bound, a rule is as before.
        write(repo, "expflow.yaml", policy.replace(long, long[:256]))
        assert run_cli(["validate"], repo).code == 0
