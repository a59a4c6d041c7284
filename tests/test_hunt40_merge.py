"""`audit --since` at merges (issue 18, fortieth pass): a run is frozen along each line of
the history that committed its result, and at a merge each parent whose line froze the
run judges the merged record against its own (tests/test_hunt39_differential.py holds
the attack that the thirty-ninth pass's "first parent's history" opened; the attacks
here are the ones tried against this fix, in both merge directions, octopus and
criss-cross merges, a record changed by the merge commit itself and moved at it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import git, git_init, run_cli

PIN = str(4000 + 821)
RECORD = "experiments/s/e1.json"


def _ok(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    code, out, err = run_cli(list(args), repo, env=env)
    assert code == 0, (args, out, err)
    return out + err


def _commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def _edit(repo: Path, old: str, new: str, path: str = RECORD) -> None:
    record = repo / path
    text = record.read_text()
    assert old in text, text
    record.write_text(text.replace(old, new))


REPEATED_KEY = '"tags": [], "tags": []'  # (strict JSON refuses the record: a repeated key)


def result_beside_a_repeated_key(repo: Path) -> str:
    """e1's result committed beside its record holding a repeated key (`--no-verify`,
    past the hook); returns that commit."""
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    _edit(repo, '"tags": []', REPEATED_KEY)
    return _commit(repo, "e1's result, its record with a repeated key")


def repair_repeated_key(repo: Path) -> None:
    _edit(repo, REPEATED_KEY, '"tags": []')


def _merge(repo: Path, *branches: str) -> None:
    git(repo, "merge", "-q", "--no-edit", "--no-verify", *branches)


def _overwrite(repo: Path, value: str) -> None:
    """`result e1 --overwrite --reason rerun` with the PIN: a declared correction."""
    _ok(
        repo,
        *("result", "e1", "--metric", f"accuracy={value}", "--overwrite", "--reason", "rerun"),
        env={"EXPFLOW_PIN": PIN},
    )


def _audit(repo: Path, base: str, *, policy_ref: bool = True) -> tuple[int, str]:
    """`audit --since BASE` (judged by BASE's policy, as the action judges a pull
    request, unless `policy_ref` is False): its exit code and output, no traceback, no
    PIN."""
    args = ["audit", "--since", base] + (["--policy-ref", base] if policy_ref else [])
    res = run_cli(args, repo)
    assert "Traceback" not in res.err, res.both
    # (as a word: a blob or commit id in the findings may hold its digits)
    assert not re.search(rf"(?<![0-9A-Za-z]){PIN}(?![0-9A-Za-z])", res.both), res.both
    return res.code, res.both


def _rewritten(text: str, path: str = RECORD) -> bool:
    return f"{path}: record-rewritten" in text


def pending_run(tmp_path: Path) -> tuple[Path, str]:
    """A repository with a `pending` run e1 committed (BASE): the repository and BASE."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    _ok(repo, "pin", "init", PIN)
    _commit(repo, "init")
    _ok(repo, "new", "e1", "--study", "s", "--status", "pending")
    return repo, _commit(repo, "e1 planned")


def result_on_side(tmp_path: Path) -> tuple[Path, str]:
    """`pending_run`, and a branch `side` where `result e1` gives the run its result (the
    record marked `success` with it); main checked out."""
    repo, base = pending_run(tmp_path)
    git(repo, "checkout", "-q", "-b", "side")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    _commit(repo, "e1's result")
    git(repo, "checkout", "-q", "main")
    return repo, base


@pytest.fixture
def planned(tmp_path: Path, isolated_env: Path) -> tuple[Path, str]:
    return result_on_side(tmp_path)


# The line-by-line freezing that passed these was taken back (decisions.md, fortieth
# pass: it opened two holes, tests/test_review40_merge.py); the forty-first pass's
# adoption at merges passes them (tests/test_hunt41_merge.py holds its attacks).
@pytest.mark.parametrize("first_parent", ["main", "side"])
def test_a_branchs_result_merged_into_a_main_that_moved_on_passes(
    planned: tuple[Path, str], first_parent: str
) -> None:
    """The false failure the thirty-ninth pass left: main moved on (another run), the
    branch's result merged in. The protect hook (against HEAD) passes the merge; `audit
    --since BASE` failed it, `record-rewritten` ("changes status of experiment 'e1'"),
    because the walk froze e1 at the branch's result commit, earlier in git's
    topological order, and judged the merge's first-parent diff (main's `pending` record
    → the branch's `success`) against main's line, which never froze it."""
    repo, base = planned
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    _commit(repo, "e2 planned")
    if first_parent == "side":
        git(repo, "checkout", "-q", "side")
        git(repo, "merge", "-q", "--no-commit", "--no-ff", "main")
    else:
        git(repo, "merge", "-q", "--no-commit", "--no-ff", "side")
    hook = run_cli(["protect"], repo)
    assert hook.code == 0, hook.both
    git(repo, "commit", "-q", "--no-verify", "--no-edit")
    code, out = _audit(repo, base)
    assert code == 0, out
    # And a later edit of the finished run is still refused, on either line.
    _edit(repo, '"status": "success"', '"status": "failed"')
    _commit(repo, "e1 failed after all")
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out), out


def test_main_edits_its_pending_run_then_the_branchs_result_is_merged_without_a_change(
    planned: tuple[Path, str],
) -> None:
    """Main marks its pending run `success` with other params (no result on that line:
    no run frozen there), the branch gives it its result with the old ones; git merges
    the two cleanly to main's record, so the merge's diff against its first parent
    (main) shows no record change, only the result. The branch's line froze the record
    without lr: the merge must be judged against it, also once the result is
    overwritten through a correction (then nothing beside the result at REV says
    otherwise)."""
    repo, base = planned
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _edit(repo, '"status": "pending"', '"status": "success"')
    _commit(repo, "e1's params on main")
    _merge(repo, "side")
    assert git(repo, "diff", "--name-only", "HEAD^1", "HEAD") == "results/s/e1.json"
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out), out
    _overwrite(repo, "0.95")
    _commit(repo, "e1 overwritten")
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out), out


@pytest.mark.parametrize("first_parent", ["main", "side"])
def test_a_record_changed_by_the_merge_commit_itself_is_frozen(
    planned: tuple[Path, str], first_parent: str
) -> None:
    """An evil merge: the branch's result merged (either way round) and the merge commit
    itself changes the finished run's params."""
    repo, base = planned
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    _commit(repo, "e2 planned")
    if first_parent == "side":
        git(repo, "checkout", "-q", "side")
    git(repo, "merge", "-q", "--no-commit", "--no-ff", "main" if first_parent == "side" else "side")
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--no-edit")
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out), out


def test_a_record_moved_to_another_study_and_changed_at_the_merge_is_frozen(
    planned: tuple[Path, str],
) -> None:
    """The merge moves the branch's finished record to another study's folder and
    changes its seed: judged by the record the branch's line froze, whatever the path."""
    repo, base = planned
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    _commit(repo, "e2 planned")
    git(repo, "merge", "-q", "--no-commit", "--no-ff", "side")
    (repo / "experiments/t").mkdir()
    git(repo, "mv", RECORD, "experiments/t/e1.json")
    _edit(repo, '"seed": ', '"seed": 1', "experiments/t/e1.json")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--no-edit")
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out, "experiments/t/e1.json"), out


@pytest.mark.parametrize("order", [("main", "side", "other"), ("main", "other", "side")])
def test_an_octopus_merge_of_a_result_and_a_params_change_is_frozen(
    planned: tuple[Path, str], order: tuple[str, str, str]
) -> None:
    """An octopus merge: one branch gives the run its result, another changes its
    params (legitimate while it was pending on that line); git merges the three
    cleanly, the finished run with the other params. The line that froze it judges it,
    whether its branch is the second parent or the third."""
    repo, base = planned
    git(repo, "checkout", "-q", "-b", "other", base)
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _commit(repo, "e1's params")
    git(repo, "checkout", "-q", "main")
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    _commit(repo, "e2 planned")
    git(repo, "checkout", "-q", order[0])
    _merge(repo, *order[1:])
    merged = (repo / RECORD).read_text()
    assert '"lr": 0.2' in merged and '"status": "success"' in merged
    assert len(git(repo, "rev-list", "--parents", "-n", "1", "HEAD").split()) == 4
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out), out


def test_a_criss_cross_merge_of_a_result_and_a_params_change_is_frozen(
    planned: tuple[Path, str],
) -> None:
    """Criss-cross: the branch with the result and a line that changed the pending
    run's params merge each other (each merge git's clean one), then main merges both."""
    repo, base = planned
    git(repo, "checkout", "-q", "-b", "other", base)
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _commit(repo, "e1's params")
    other = git(repo, "rev-parse", "HEAD")
    side = git(repo, "rev-parse", "side")
    _merge(repo, side)
    git(repo, "checkout", "-q", "side")
    _merge(repo, other)
    git(repo, "checkout", "-q", "main")
    _merge(repo, "other")
    _merge(repo, "side")
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out), out


def test_a_run_frozen_on_both_sides_with_other_records_is_rewritten_at_the_merge(
    planned: tuple[Path, str],
) -> None:
    """Each branch gives the run a result, one with other params; the merge's
    conflicts resolved by taking the second branch's record and result: the first
    branch's line froze another record (and result)."""
    repo, base = planned
    git(repo, "checkout", "-q", "-b", "other", base)
    _edit(repo, '"params": {}', '"params": {"lr": 0.3}')
    _ok(repo, "result", "e1", "--metric", "accuracy=0.6")
    _commit(repo, "e1's result with lr 0.3")
    git(repo, "checkout", "-q", "side")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "other", check=False)
    git(repo, "checkout", "--theirs", "--", RECORD, "results/s/e1.json")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--no-edit")
    assert '"lr": 0.3' in (repo / RECORD).read_text()
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out), out


def test_a_record_deleted_at_the_merge_and_put_back_with_other_params_is_frozen(
    planned: tuple[Path, str],
) -> None:
    """Main deletes its pending run's record; the branch's result merged, the
    modify/delete conflict resolved by the deletion; a later commit puts the record
    back with other params: the branch's line froze the one it had."""
    repo, base = planned
    kept = (repo / RECORD).read_text()
    git(repo, "rm", "-q", RECORD)
    _commit(repo, "e1 dropped")
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "side", check=False)
    git(repo, "rm", "-q", RECORD)
    git(repo, "commit", "-q", "--no-verify", "--no-edit")
    record = repo / RECORD
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(
        kept.replace('"params": {}', '"params": {"lr": 0.2}').replace(
            '"status": "pending"', '"status": "success"'
        )
    )
    _commit(repo, "e1 back")
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out), out


def test_a_merge_into_a_branch_forked_before_base_keeping_its_record_is_judged(
    tmp_path: Path, isolated_env: Path
) -> None:
    """A branch forked before BASE (its chain starts outside the range) keeps its
    pending record at the merge of main's result for the run: the merge's diff against
    its first parent shows the result only; main's line froze another record."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    _commit(repo, "init")
    _ok(repo, "new", "e1", "--study", "s", "--status", "pending")
    fork = _commit(repo, "e1 planned")
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    base = _commit(repo, "e2 planned")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    _commit(repo, "e1's result")
    git(repo, "checkout", "-q", "-b", "late", fork)
    _ok(repo, "new", "e3", "--study", "s", "--status", "pending")
    _commit(repo, "e3 planned")
    git(repo, "merge", "-q", "--no-commit", "--no-ff", "main")
    git(repo, "checkout", "HEAD", "--", RECORD)
    git(repo, "commit", "-q", "--no-verify", "--no-edit")
    assert '"status": "pending"' in (repo / RECORD).read_text()
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out), out


def test_an_ours_merge_dropping_a_branchs_result_fails(planned: tuple[Path, str]) -> None:
    """`merge -s ours` of the branch: no change against the first parent at all (the
    commit is not in the walk's diffs), the branch's result and record dropped."""
    repo, base = planned
    git(repo, "merge", "-q", "--no-edit", "--no-verify", "-s", "ours", "side")
    code, out = _audit(repo, base)
    assert code == 1, out


@pytest.fixture
def behind(tmp_path: Path, isolated_env: Path) -> tuple[Path, str]:
    """A pull request's branch `pr` forked while e1 was `pending`; main then gave e1 its
    result (BASE, main's tip); `pr` checked out, not yet up to date."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    _commit(repo, "init")
    _ok(repo, "new", "e1", "--study", "s", "--status", "pending")
    _commit(repo, "e1 planned")
    git(repo, "checkout", "-q", "-b", "pr")
    git(repo, "checkout", "-q", "main")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    base = _commit(repo, "e1's result")
    git(repo, "checkout", "-q", "pr")
    return repo, base


def test_a_pull_request_brought_up_to_date_with_a_result_on_main_passes(
    behind: tuple[Path, str],
) -> None:
    """GitHub's "Update branch": the pull request merges main (BASE) in, after main
    gave a run pending where the branch forked its result. The merge's diff against its
    first parent (the branch, which never had that result) turns the record `success`:
    `audit --since BASE` failed it, `record-rewritten`, as it took every run with a
    result at BASE as frozen on every line, a branch forked before the result too."""
    repo, base = behind
    _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    _commit(repo, "e2 planned")
    git(repo, "merge", "-q", "--no-commit", "--no-ff", "main")
    hook = run_cli(["protect"], repo)
    assert hook.code == 0, hook.both
    git(repo, "commit", "-q", "--no-verify", "--no-edit")
    code, out = _audit(repo, base)
    assert code == 0, out


@pytest.mark.parametrize("status", ["pending", "success"])
def test_a_pull_request_changing_the_params_then_brought_up_to_date_is_frozen(
    behind: tuple[Path, str], status: str
) -> None:
    """The pull request changed the run's params (and, the second time, its status to
    `success`: then git's merge keeps the branch's record, no change against the first
    parent) while it was pending there; main's result merged in cleanly: BASE's line
    froze the record without lr."""
    repo, base = behind
    _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    _edit(repo, '"status": "pending"', f'"status": "{status}"')
    _commit(repo, "e1's params")
    _merge(repo, "main")
    merged = (repo / RECORD).read_text()
    assert '"lr": 0.2' in merged and '"status": "success"' in merged
    code, out = _audit(repo, base)
    assert code == 1 and _rewritten(out), out


@pytest.mark.parametrize("change", [False, True])
def test_githubs_merge_of_a_pull_request_on_base_is_judged_by_base(
    behind: tuple[Path, str], change: bool
) -> None:
    """The commit the action audits for a pull request (`refs/pull/N/merge`): BASE as
    its first parent (outside the range), the branch forked before e1's result second.
    An unrelated pull request passes; one that changed e1's params while it was pending
    on its branch fails: BASE's line froze the record without lr."""
    repo, base = behind
    if change:
        _edit(repo, '"params": {}', '"params": {"lr": 0.2}')
    else:
        _ok(repo, "new", "e2", "--study", "s", "--status", "pending")
    _commit(repo, "the pull request")
    git(repo, "checkout", "-q", "--detach", base)
    _merge(repo, "pr")
    assert git(repo, "rev-parse", "HEAD^1") == base
    code, out = _audit(repo, base)
    assert (code, _rewritten(out)) == ((1, True) if change else (0, False)), out
