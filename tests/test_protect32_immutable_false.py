"""`protect: {results_immutable: false}` means the same to the hook and to `audit --since`
(issue 18, thirty-second pass). The hook's write-once and frozen-record checks are off
under it, but the history audit never read the setting: every rewrite the hook let
through then failed CI for good. The audit now judges rewrites only when the judging
policy and BASE's both say true: a range that turns it off is judged by its base's
policy (`--policy-ref`, as the action runs), the loosening reported; one that turns it
on does not fail the rewrites the hook let through before (a review)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, git_init, run_cli
from test_deleted_runs import findings
from test_history_merges import commit, ok

REC, RES = "experiments/s/r1.json", "results/s/r1.json"
REWRITES = [("record-rewritten", REC), ("result-rewritten", RES)]


def _set_immutable(repo: Path, value: bool) -> None:
    policy = repo / "expflow.yaml"
    text = policy.read_text()
    old, new = [f"results_immutable: {'true' if v else 'false'}" for v in (not value, value)]
    assert old in text
    policy.write_text(text.replace(old, new))


def _runs(repo: Path) -> str:
    ok(repo, "new", "r1", "--study", "s", "--param", "lr=0.1", "--status", "success")
    ok(repo, "result", "r1", "--metric", "accuracy=0.5")
    return commit(repo, "runs")


def _rewrite(repo: Path) -> tuple[int, str]:
    """r1's result and record's params changed, staged; the protect hook's verdict."""
    for rel, key, value in ((RES, "metrics", {"accuracy": 0.99}), (REC, "params", {"lr": 0.5})):
        doc = json.loads((repo / rel).read_text())
        doc[key] = value
        (repo / rel).write_text(json.dumps(doc, indent=2) + "\n")
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo)
    assert "Traceback" not in err
    return code, out + err


def _rewritten_under_false(tmp_path: Path) -> tuple[Path, str]:
    """A repository `false` from the start, r1 committed (BASE), then rewritten in a
    commit the hook passes: the repository and BASE."""
    repo = git_init(tmp_path / "repo")
    ok(repo, "init")
    _set_immutable(repo, False)
    base = _runs(repo)
    code, said = _rewrite(repo)
    assert code == 0, said
    commit(repo, "rewrite r1")
    return repo, base


def _rewrites(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [f for f in found if f[0] in ("record-rewritten", "result-rewritten")]


def test_false_from_the_start_passes_the_hook_and_the_audit(
    tmp_path: Path, isolated_env: Path
) -> None:
    repo, base = _rewritten_under_false(tmp_path)
    for extra in ((), ("--policy-ref", base)):
        code, found = findings(repo, "--since", base, *extra)
        assert (code, _rewrites(found)) == (0, []), (extra, found)


def test_a_range_that_turns_it_off_is_judged_by_its_base(
    tmp_path: Path, isolated_env: Path
) -> None:
    repo = git_init(tmp_path / "repo")
    ok(repo, "init")
    base = _runs(repo)
    _set_immutable(repo, False)
    commit(repo, "policy: results_immutable false")
    code, said = _rewrite(repo)
    assert code == 0, said  # the hook judges this commit by HEAD's policy: false
    commit(repo, "rewrite r1")
    # Judged by its base's policy (as the action runs it), it is caught; by its own,
    # which says false, not.
    code, found = findings(repo, "--since", base, "--policy-ref", base)
    assert (code, _rewrites(found)) == (1, REWRITES), found
    code, found = findings(repo, "--since", base)
    assert (code, _rewrites(found)) == (0, []), found
    code, out, _ = run_cli(["audit", "--since", base, "--policy-ref", base, "--no-cache"], repo)
    assert code == 1
    assert "  LOOSER    /protect/results_immutable: " in out, out


def test_a_range_that_turns_it_on_keeps_the_rewrites_made_before(
    tmp_path: Path, isolated_env: Path
) -> None:
    """false, a rewrite the hook lets through, then true: judged by REV's own policy
    (`true`) the range failed for good, though no commit broke the rule it was made
    under (a review)."""
    repo, base = _rewritten_under_false(tmp_path)
    _set_immutable(repo, True)
    commit(repo, "policy: results_immutable true")
    for extra in ((), ("--policy-ref", base)):
        code, found = findings(repo, "--since", base, *extra)
        assert (code, _rewrites(found)) == (0, []), (extra, found)
