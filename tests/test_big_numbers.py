"""Integers no double holds, in documents a pull request controls (a param of 10**400, a
series step of 10**400, 9007199254740993): every command answers with a finding or a
value, never a traceback, and filters compare integers exactly (docs/spec.md §3)."""

from __future__ import annotations

import json
from pathlib import Path

from support import git, git_init, run_cli

HUGE = 10**400


def _repo(tmp_path: Path) -> Path:
    repo = git_init(tmp_path / "repo")
    code, _, err = run_cli(["init", "--template", "minimal"], cwd=repo)
    assert code == 0, err
    return repo


def _run(repo: Path, exp_id: str, params: dict[str, object], **result: object) -> None:
    code, _, err = run_cli(["new", exp_id, "--study", "s"], cwd=repo)
    assert code == 0, err
    code, _, err = run_cli(["result", exp_id, "--metric", "accuracy=0.5"], cwd=repo)
    assert code == 0, err
    record = repo / f"experiments/s/{exp_id}.json"
    doc = json.loads(record.read_text())
    doc["params"] = params
    record.write_text(json.dumps(doc))  # json writes any int exactly
    if result:
        path = repo / f"results/s/{exp_id}.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **result}))


def _commit(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "runs")


def test_a_param_no_double_holds_is_shown_and_filtered(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _run(repo, "big", {"sub_step": HUGE})
    _run(repo, "small", {"sub_step": 3})
    _commit(repo)
    code, out, err = run_cli(["list", "--where", "params.sub_step > 5"], cwd=repo)
    assert code == 0 and "Traceback" not in err, err
    assert [ln.split()[0] for ln in out.splitlines()[2:]] == ["big"], out
    for args in (["show", "big"], ["compare", "big", "small"], ["rank", "--where", "id = 'big'"]):
        code, out, err = run_cli(args, cwd=repo)
        assert code == 0 and "Traceback" not in err, (args, err)
    code, out, _ = run_cli(["show", "big"], cwd=repo)
    assert "sub_step = 100000… (401 digits)" in out, out


def test_a_filter_compares_integers_exactly(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _run(repo, "q1", {"big": 9007199254740993, "sbig": "9007199254740993"})
    _commit(repo)
    for field in ("params.big", "params.sbig"):
        code, out, _ = run_cli(["list", "--where", f"{field} = 9007199254740992"], cwd=repo)
        assert "q1" not in out, (field, out)  # a double would read both as ...992
        code, out, _ = run_cli(["list", "--where", f"{field} = 9007199254740993"], cwd=repo)
        assert code == 0 and "q1" in out, (field, out)
    code, out, err = run_cli(["list", "--where", f"params.big < {HUGE}"], cwd=repo)
    assert code == 2 and "not a finite number" in err and "Traceback" not in err, err


def test_a_series_step_no_double_holds_is_a_finding(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _run(repo, "s1", {}, series={"accuracy": [[HUGE, 0.5]]})
    _commit(repo)
    for args in (["validate"], ["audit"], ["audit", "--no-cache"], ["list"], ["show", "s1"]):
        code, out, err = run_cli(args, cwd=repo)
        assert "Traceback" not in err, (args, err)
        if args[0] in ("validate", "audit"):
            assert code == 1 and "series-step: step 100000… (401 digits)" in out, (args, out)
