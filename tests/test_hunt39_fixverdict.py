"""An attacker's hunt of the thirty-eighth pass's fixes for verdicts (issue 18,
thirty-ninth pass): regression tests for what it found."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, git_init
from conftest import run_cli as support_run_cli
from helpers_audit import POLICY, STUDY, WALK, add_run, commit_all, m, new_repo, run_cli, write

from expflow_git.policy.diff import Effect, diff_policies
from expflow_git.policy.load import load_policy_bytes

PIN = str(4000 + 821)
# A PIN assignment as a JSON string holds it: its quotes escaped.
ASSIGNMENT = json.dumps("EXPFLOW" + f'_PIN = "{PIN}"\n')  # (spelt apart: this file is scanned)


def _notebook(cells: str, metadata: str = "{}") -> str:
    return (
        '{\n "cells": [' + cells + '],\n "metadata": ' + metadata + ',\n "nbformat": 4,\n'
        ' "nbformat_minor": 5\n}\n'
    )


def test_a_notebooks_strings_outside_its_cells_are_scanned_as_a_json_files_are(
    tmp_path: Path,
) -> None:
    """docs/spec.md §5: a PIN assignment in a JSON string, its quotes escaped, is a
    finding in a `.json` file (`"x": "EXPFLOW_PIN = \\"NNNN\\"\\n"`), and a notebook's
    whole text is scanned besides its decoded cells. A notebook's raw text was read as
    code only (a cell is Python), where such an escaped value is no quoted string: the
    same string in its metadata, in an `application/json` or `image/svg+xml` output, or
    in a cell's attachment passed `scan`, the hooks and the audit, while the same bytes
    saved as `nb.json` were refused (as the twenty-sixth pass's `\\u0024` hash was)."""
    root = new_repo(tmp_path / "repo")
    shapes = {
        "meta": _notebook("", '{"note": ' + ASSIGNMENT + "}"),
        "json-output": _notebook(
            '{"cell_type": "code", "execution_count": 1, "metadata": {}, "source": [],'
            ' "outputs": [{"output_type": "execute_result", "execution_count": 1,'
            ' "metadata": {}, "data": {"application/json": {"cmd": ' + ASSIGNMENT + "}}}]}"
        ),
        "svg-output": _notebook(
            '{"cell_type": "code", "execution_count": 1, "metadata": {}, "source": [],'
            ' "outputs": [{"output_type": "display_data", "metadata": {},'
            ' "data": {"image/svg+xml": [' + ASSIGNMENT + "]}}]}"
        ),
        "attachment": _notebook(
            '{"cell_type": "markdown", "metadata": {}, "source": [],'
            ' "attachments": {"a.txt": {"text/plain": ' + ASSIGNMENT + "}}}"
        ),
    }
    for name, text in shapes.items():
        write(root, f"{name}.ipynb", text)
        write(root, f"{name}.json", text)
        res = run_cli(["scan", f"{name}.json"], root)
        assert res.code == 1 and "pin-assignment" in res.out, (name, res)  # the control
        res = run_cli(["scan", f"{name}.ipynb"], root)
        assert res.code == 1, (name, res)
        assert "pin-assignment" in res.out, (name, res)
        assert PIN not in res.out + res.err


def test_a_code_cell_is_still_read_as_python_not_as_text(tmp_path: Path) -> None:
    """The text reading of a notebook leaves its cells to the decoded scan: a code cell's
    `pin = NNNN` is a Python variable (no finding in code, docs/spec.md §5), as it was."""
    root = new_repo(tmp_path / "repo")
    source = json.dumps(f"pin = {PIN}\n")
    cell = '{"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],'
    write(root, "nb.ipynb", _notebook(cell + ' "source": [' + source + "]}"))
    res = run_cli(["scan", "nb.ipynb"], root)
    assert res.code == 0, res


def test_an_aggregate_moved_on_the_walk_forward_metric_is_looser(tmp_path: Path) -> None:
    """docs/spec.md §6.2 item 9: another walk-forward metric or split is looser, "the
    correlation the runs had to reach gone". The walk-forward gate correlates the
    metric's headline with the split, and the headline is the point of the series the
    metric's `aggregate` names: `max` → `last` on a higher-is-better metric is a worse
    point (stricter for a floor), but for the walk-forward it is another bar, as another
    metric is. The same runs' series fail the base's gate (their best epochs anti-
    correlated with the holdout, r = -1) and pass the pull request's (their last epochs,
    r = 1); the diff said `stricter`."""
    base_policy = (
        POLICY.replace(
            "seg_total: {group: Score, higher_is_better: true}",
            "seg_total: {group: Score, higher_is_better: true, aggregate: max}",
        )
        + WALK
    )
    root = new_repo(tmp_path / "repo", base_policy)
    # (holdout, best epoch, last epoch) per run
    runs = [(90, 50, 40), (70, 60, 30), (50, 70, 20), (30, 80, 10)]

    def commit(aggregate: str) -> None:
        for i, (holdout, best, last) in enumerate(runs):
            headline = best if aggregate == "max" else last
            add_run(root, f"run{i}", m(headline), splits={"holdout": {"seg_total": holdout}})
            rel = f"results/{STUDY}/run{i}.json"
            doc = json.loads((root / rel).read_text())
            doc["series"] = {"seg_total": [[0, best], [1, last]]}
            write(root, rel, json.dumps(doc))
        commit_all(root, aggregate)

    commit("max")
    res = run_cli(["audit"], root)
    assert res.code == 1 and "walk-forward: FAIL" in res.out, res  # r = -1
    pr_policy = base_policy.replace("aggregate: max", "aggregate: last")
    write(root, "expflow.yaml", pr_policy)
    commit("last")  # the same series, each headline its last epoch
    res = run_cli(["audit"], root)
    assert res.code == 0 and "walk-forward: PASS" in res.out, res  # r = 1, once merged
    changes = diff_policies(
        load_policy_bytes(base_policy.encode()), load_policy_bytes(pr_policy.encode())
    )
    assert [(c.effect, c.where) for c in changes] == [
        (Effect.LOOSER, "/metrics/seg_total/aggregate")
    ], changes


def test_protect_refuses_a_put_back_runs_overwrite_under_write_once_off_and_deny(
    tmp_path: Path, isolated_env: Path
) -> None:
    """docs/spec.md §2.4: a run deleted on record, put back, holds the result its chain of
    corrections ends at, whatever `results_immutable` says, and under `protect:
    {corrections: deny}` no correction declares anything (the audit takes none as the
    chain's next step). The thirty-eighth pass made the hook judge such a result changed
    in place under `results_immutable: false`, taking the corrections staged with it as
    the chain's steps, but it took them under `deny` too: `result --overwrite --reason`
    of the put-back run passed the hook, and `audit --since` failed the commit
    (`result-rewritten`), as it fails every later range once merged."""
    repo = git_init(tmp_path / "repo")
    env = {"EXPFLOW_PIN": PIN}

    def ok(*args: str) -> None:
        code, out, err = support_run_cli(list(args), repo, env=env)
        assert code == 0, (args, out, err)

    def commit(message: str) -> None:
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--no-verify", "-m", message)

    ok("init", "--template", "minimal")
    policy = repo / "expflow.yaml"
    policy.write_text(
        policy.read_text().replace("results_immutable: true", "results_immutable: false")
    )
    ok("pin", "init", PIN)
    ok("new", "e1", "--study", "s")
    ok("result", "e1", "--metric", "accuracy=0.5")
    commit("e1")
    ok("rm", "e1", "--reason", "gone")
    commit("rm e1")
    git(repo, "checkout", "HEAD~", "--", "experiments/s/e1.json", "results/s/e1.json")
    commit("e1 back")  # the `rm` undone
    policy.write_text(
        policy.read_text().replace(
            "results_immutable: false}", "results_immutable: false, corrections: deny}"
        )
    )
    commit("corrections: deny")
    ok("result", "e1", "--metric", "accuracy=0.9", "--overwrite", "--reason", "fix")
    git(repo, "add", "-A")
    code, out, err = support_run_cli(["protect"], repo, env=env)
    git(repo, "commit", "-q", "--no-verify", "-m", "e1 overwritten")
    audit = support_run_cli(["audit", "--since", "HEAD~", "--policy-ref", "HEAD~"], repo)
    assert audit.code == 1 and "results/s/e1.json: result-rewritten" in audit.out, audit
    assert code == 1, out + err  # the hook says what the audit says
    assert "results/s/e1.json: result-rewritten" in out, out + err
    assert "under `protect: {corrections: deny}` no correction declares one" in out, out
