"""Integers no double holds, in documents a pull request controls (a param of 10**400, a
series step of 10**400, 9007199254740993): every command answers with a finding or a
value, never a traceback, and filters compare integers exactly (docs/spec.md §3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import git, git_init, run_cli

from expflow_git.errors import ExpflowError

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


def test_big_integer_params_in_csv_and_compare_are_exact(tmp_path: Path) -> None:
    """`list --format csv` raised rfc8785's IntegerDomainError on a param above 2**53;
    `compare` said two params differ and printed both as 1.15292e+18."""
    repo = _repo(tmp_path)
    _run(repo, "r1", {"hashseed": 2**60})
    _run(repo, "r2", {"hashseed": 2**60 + 1})
    _commit(repo)
    code, out, err = run_cli(["list", "--columns", "params.hashseed", "--format", "csv"], cwd=repo)
    assert code == 0 and "Traceback" not in err, err
    assert str(2**60) in out and str(2**60 + 1) in out, out
    code, out, err = run_cli(["compare", "r1", "r2"], cwd=repo)
    assert code == 0 and str(2**60) in out and str(2**60 + 1) in out, out


def test_the_policy_diff_compares_rule_values_exactly() -> None:
    """A rule's value 2**53 → 2**53 + 1 was "reworded only" (compared as doubles), and a
    value of 10**400 crashed the diff (`audit --policy-ref`) with OverflowError."""
    from expflow_git.policy.diff import diff_policies
    from expflow_git.policy.load import load_policy_bytes
    from expflow_git.records.scaffold import COMPETITION_POLICY

    def with_value(value: int) -> object:
        text = COMPETITION_POLICY.replace("op: gt, value: 0,", f"op: gt, value: {value},")
        assert text != COMPETITION_POLICY
        return load_policy_bytes(text.encode())

    changes = diff_policies(with_value(2**53), with_value(2**53 + 1))  # type: ignore[arg-type]
    assert changes and all("reworded" not in c.describe() for c in changes), changes
    # A value of more than 256 characters is refused as the policy loads (forty-first
    # pass review: each is in every run's report entry), so no double's overflow is met.
    with pytest.raises(ExpflowError, match=r"/rules/0/value: an integer of 401 characters"):
        with_value(HUGE)
    assert diff_policies(with_value(1), with_value(10**255))  # type: ignore[arg-type]
    # 1e23 and 10**23 are one bound, as the rule compares them (twenty-fourth pass): the
    # diff called 10**23 -> 1e23 looser (the double is below the integer).
    one = with_value(10**23)
    other = load_policy_bytes(
        COMPETITION_POLICY.replace("op: gt, value: 0,", "op: gt, value: 1e23,").encode()
    )
    effects = {c.effect.value for c in diff_policies(one, other)}  # type: ignore[arg-type]
    assert "looser" not in effects and "stricter" not in effects, effects


def test_validate_does_not_walk_a_linked_folder(tmp_path: Path) -> None:
    """The manifest passes symbolic links to validate: `data -> /usr` was walked whole."""
    repo = _repo(tmp_path)
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "bad.json").write_text("{not json")  # git would never commit it: a link's
    (repo / "experiments").mkdir(exist_ok=True)  # target is not in the tree
    (repo / "experiments/linked").symlink_to(target)
    code, out, err = run_cli(["validate", "--", "experiments/linked"], cwd=repo)
    assert code == 0 and "bad.json" not in out + err, (out, err)


def test_new_keeps_a_number_no_double_holds_as_written(tmp_path: Path) -> None:
    """`new --param` stored `1e-400` as 0.0, `-1e-400` as -0.0 and `0.10000000000000001`
    as 0.1, where `1e400` stayed the string and `result --metric` refuses all four: such
    a param is now its string, as written (a user's hunt, issue 18 twenty-second pass)."""
    repo = _repo(tmp_path)
    spelled = ["1e-400", "-1e-400", "0.10000000000000001", "1e400"]
    params = [f"--param=p{i}={text}" for i, text in enumerate(spelled)]
    code, _, err = run_cli(["new", "a", "--study", "s", *params, "--param", "q=0.25"], cwd=repo)
    assert code == 0, err
    doc = json.loads((repo / "experiments/s/a.json").read_text())
    assert doc["params"] == {**{f"p{i}": t for i, t in enumerate(spelled)}, "q": 0.25}


def test_a_rule_compares_an_integer_and_a_float_as_written(tmp_path: Path) -> None:
    """`10**23` and `1e23` are one decimal (docs/spec.md §2.3), but Python compared the
    integer with the double's binary value (99999999999999991611392): a run passed `lt
    10**23` with a param of 1e23 and failed it spelled as an integer, and the same went
    for `gt 1e23` (an attacker's hunt, issue 18 twenty-fourth pass). Every spelling of the
    decimal now fails both rules, in `rank`, `audit`, and `--where`."""
    repo = _repo(tmp_path)
    policy = repo / "expflow.yaml"
    rules = (
        "rules:\n"
        f"  - {{param: flops, op: lt, value: {10**23}, required: true}}\n"
        "  - {param: steps, op: gt, value: 1e23, required: true}\n"
    )
    policy.write_text(policy.read_text().replace("rules: []\n", rules))
    _run(repo, "a1", {"flops": 1e23, "steps": 10**23})
    _run(repo, "a2", {"flops": "1e23", "steps": str(10**23)})
    _run(repo, "a3", {"flops": 10**23, "steps": 1e23})
    _run(repo, "ok", {"flops": 9e22, "steps": 2e23})
    _commit(repo)
    code, out, err = run_cli(["rank", "--format", "json"], cwd=repo)
    assert code == 0, err
    feasible = {row["id"]: row["feasible"] for row in json.loads(out)["ranking"]}
    assert feasible == {"a1": False, "a2": False, "a3": False, "ok": True}, out
    code, out, _ = run_cli(["audit", "--no-cache"], cwd=repo)
    assert code == 0 and "ok" in out, out
    for where in ("params.flops = 1e23", f"params.flops = {10**23}", "params.steps <= 1e23"):
        code, out, err = run_cli(["list", "--where", where, "--format", "json"], cwd=repo)
        assert code == 0, err
        runs = json.loads(out)["runs"]
        assert sorted(row["id"] for row in runs) == ["a1", "a2", "a3"], (where, out)


def test_one_decimal_spelled_two_ways_is_one_value_and_one_check(tmp_path: Path) -> None:
    """`compare` marked params 1e23 and 10**23 as differing while `--where` read them as
    equal, and rules `lt 1e23` and `lt 100000000000000000000000` were two checks where
    the same condition given twice is one (docs/spec.md §3; a review, issue 18
    twenty-fourth pass)."""
    repo = _repo(tmp_path)
    policy = repo / "expflow.yaml"
    rules = (
        "rules:\n"
        "  - {param: flops, op: lt, value: 1e23}\n"
        f"  - {{param: flops, op: lt, value: {10**23}}}\n"
        "  - {param: flops, op: lt, value: 1.0e+23}\n"
    )
    policy.write_text(policy.read_text().replace("rules: []\n", rules))
    _run(repo, "a", {"flops": 1e23})
    _run(repo, "b", {"flops": 10**23})
    _commit(repo)
    code, out, err = run_cli(["compare", "a", "b"], cwd=repo)
    assert code == 0, err
    (line,) = [ln for ln in out.splitlines() if "params.flops" in ln]
    assert not line.lstrip().startswith("*"), out
    code, out, err = run_cli(["show", "a"], cwd=repo)
    assert code == 0, err
    assert sum("flops" in ln and "FAIL" in ln.upper() for ln in out.splitlines()) == 1, out


def test_an_integer_of_2_53_is_held_by_the_report(tmp_path: Path) -> None:
    """A param of exactly ±2**53 passed `validate` and `rank`, then `audit` died writing
    the report (RFC 8785 holds integers below 2**53: `IntegerDomainError`), in CI too;
    a ladder step of 2**53 likewise (a hunt, issue 18 twenty-fourth pass). The param is
    written as its digits, and the policy's integer is refused, exit 2."""
    repo = _repo(tmp_path)
    _run(repo, "a", {"n": 2**53, "m": -(2**53)})
    _run(repo, "b", {"n": 1, "m": 1})
    _commit(repo)
    code, out, err = run_cli(["audit", "--format", "json"], cwd=repo)
    assert code == 0 and "Traceback" not in err, err
    payload = __import__("base64").b64decode(json.loads(out)["payload"]).decode()
    assert f'"{2**53}"' in payload and f'"-{2**53}"' in payload, payload
    policy = repo / "expflow.yaml"
    policy.write_text(
        policy.read_text().replace(
            "  sort_by: accuracy\n", f"  sort_by: accuracy\n  ladder_step: {2**53}\n"
        )
    )
    _commit(repo)
    code, out, err = run_cli(["audit"], cwd=repo)
    assert code == 2 and "ladder_step" in err and "Traceback" not in err, err


def test_a_whole_double_past_2_53_in_a_report_verifies(tmp_path: Path) -> None:
    """RFC 8785 spells a whole double from 2**53 up to 1e21 as digits: a param of 1e16,
    a ladder step of 1e16, a released ladder score of 2**53 (a loss of 2**53 - 1 on a
    step of 4). The strict reader took the digits for an integer JCS cannot hold, and
    `verify` refused every such signed PASS report (a review, issue 18 twenty-fifth
    pass). They read back as the doubles they are."""
    repo = _repo(tmp_path)
    _run(repo, "a", {"lr": 1e16, "scale": -1e20})
    _run(repo, "b", {"lr": 0.001, "scale": 1.0})
    _commit(repo)

    def verified() -> None:
        code, out, err = run_cli(["audit", "--out", "r.json"], cwd=repo)
        assert code == 0 and "Traceback" not in err, err
        code, out, err = run_cli(["verify", "r.json", "--allow-unsigned", "--repo", "."], repo)
        assert code == 0 and out.rstrip().endswith("r.json: VERIFIED"), (out, err)

    verified()
    payload = (
        __import__("base64")
        .b64decode(json.loads((repo / "r.json").read_text())["payload"])
        .decode()
    )
    assert '"a":10000000000000000' in payload and '"a":-100000000000000000000' in payload
    policy = repo / "expflow.yaml"
    text = policy.read_text()
    policy.write_text(text.replace("  tie_break: [loss]\n", "  ladder_step: 1e16\n"))
    _commit(repo)
    verified()
    policy.write_text(
        text.replace(
            "  sort_by: accuracy\n  tie_break: [loss]\n", "  sort_by: loss\n  ladder_step: 4\n"
        )
    )
    _run(repo, "c", {}, metrics={"accuracy": 0.5, "loss": 2**53 - 1})
    _commit(repo)
    verified()
    payload = (
        __import__("base64")
        .b64decode(json.loads((repo / "r.json").read_text())["payload"])
        .decode()
    )
    assert f'"score":{2**53}' in payload, payload


def test_show_json_gives_the_board_for_a_run_not_ranked(tmp_path: Path) -> None:
    """`show b --format json` of a run whose result is left out (or that is not
    `success`) said `ranked_runs: 0` and no best run, where `rank` and `audit` had both:
    a reader concluded nothing was feasible (a hunt, issue 18 twenty-fourth pass)."""
    repo = _repo(tmp_path)
    _run(repo, "a", {})
    _run(repo, "b", {}, metrics={"accuracy": 0.6, "bogus": 1})
    code, _, err = run_cli(["new", "c", "--study", "s"], cwd=repo)
    assert code == 0, err
    _commit(repo)
    for run in ("a", "b", "c"):
        code, out, err = run_cli(["show", run, "--format", "json"], cwd=repo)
        assert code == 0, err
        verdict = json.loads(out)["verdict"]
        assert (verdict["ranked_runs"], verdict["best_any"], verdict["best_feasible"]) == (
            1,
            "a",
            "a",
        ), (run, verdict)


def test_a_subnormal_value_is_shown_as_written(tmp_path: Path) -> None:
    """A double below the smallest normal one holds fewer than six significant digits:
    `list`, `show`, `compare` and the audit's tables showed 1e-320 as 9.99989e-321, a
    number the document does not hold (a hunter's find)."""
    repo = _repo(tmp_path)
    _run(repo, "tiny", {"eps": 1e-320}, metrics={"accuracy": 1e-320})
    _run(repo, "plain", {"eps": 0.5})
    _commit(repo)
    for args in (
        ["list", "--columns", "params.eps"],
        ["show", "tiny"],
        ["compare", "tiny", "plain"],
        ["compare", "tiny", "plain", "--format", "md"],
        ["audit", "--format", "md"],
    ):
        code, out, err = run_cli(args, cwd=repo)
        assert "Traceback" not in err and "1e-320" in out, (args, out, err)
        assert "9.99989e-321" not in out, (args, out)
