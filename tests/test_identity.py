"""Issue 13, attacks 1–4: a result is its experiment's, a finished run is frozen, history is
judged by experiment id across moves and policy `paths` changes, and `--since` scans every
blob the range added. Real repositories, the real CLI as a subprocess (`run_cli`)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ExpRepo,
    assert_clean_output,
    experiment_doc,
    git_env,
    result_doc,
    run_cli,
)
from support import git_calls, git_counter

EXP = "experiments/pdebench-task1/exp-001.json"
RES = "results/pdebench-task1/exp-001.json"
TWIN = "results/other/exp-001.json"  # a second result for exp-001
PIN = "1234"
PIN_SHA = hashlib.sha256(PIN.encode()).hexdigest()
BETTER = {"seg_total": 99.0, "pde_mean": 1.0, "train_time_min": 1.0}


def cli(repo: ExpRepo, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    code, out, err = run_cli(list(args), cwd=repo.path, env=env)
    assert_clean_output(out, err)
    return code, out, err


def audit_json(repo: ExpRepo, *args: str) -> tuple[int, dict[str, Any]]:
    """`audit --format json` (the report) → exit code, the statement's predicate."""
    import base64

    code, out, err = cli(repo, "audit", "--format", "json", "--no-cache", *args)
    assert code in (0, 1), err
    envelope = json.loads(out)
    predicate: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
    return code, predicate


def rules(predicate: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entry in predicate["entries"]:
        if "rule" in entry:
            found.setdefault(entry["rule"], []).append(entry["path"])
    return found


def messages(predicate: dict[str, Any], rule: str) -> list[str]:
    return [e["message"] for e in predicate["entries"] if e.get("rule") == rule]


def ranked_ids(predicate: dict[str, Any]) -> list[str]:
    return [row["id"] for row in predicate["result"]["ranking"]]


@pytest.fixture
def seeded(committed_repo: ExpRepo) -> ExpRepo:
    """exp-001 (feasible) and exp-002 (sub_step 0: breaks the rule) committed with results."""
    repo = committed_repo
    repo.add_experiment()
    repo.add_result()
    repo.add_experiment("exp-002", params={"Args/--sub_step": 0, "lr": 0.001})
    repo.add_result("exp-002", metrics={**BETTER})
    repo.commit("two runs")
    return repo


def with_pin(repo: ExpRepo) -> dict[str, str]:
    code, _, err = cli(repo, "pin", "init", PIN)
    assert code == 0, err
    return {"EXPFLOW_PIN": PIN}


# =========================================================================== attack 1
def add_twin(repo: ExpRepo, **metrics: float) -> None:
    repo.write_json(TWIN, result_doc(metrics={**BETTER, **metrics}))
    repo.stage(TWIN)


def test_validate_refuses_a_second_result_for_an_experiment(seeded: ExpRepo) -> None:
    add_twin(seeded)
    code, out, _ = cli(seeded, "validate")
    assert code == 1, out
    assert (
        f"{TWIN}#/experiment: duplicate-result: experiment 'exp-001' also has the result {RES}"
        in out
    )
    assert (
        f"{RES}#/experiment: duplicate-result: experiment 'exp-001' also has the result {TWIN}"
        in out
    )
    # Given alone (as a hook passes it), the new file is compared with every tracked result.
    code, out, _ = cli(seeded, "validate", TWIN)
    assert code == 1 and f"{TWIN}#/experiment: duplicate-result" in out, out


def test_validate_staged_compares_with_the_whole_index(seeded: ExpRepo) -> None:
    add_twin(seeded)
    (seeded.path / TWIN).unlink()  # only the index holds it now
    code, out, _ = cli(seeded, "validate", "--staged", TWIN)
    assert code == 1, out
    assert f"{TWIN}#/experiment: duplicate-result" in out and RES in out


def test_a_moved_result_is_not_a_duplicate(seeded: ExpRepo) -> None:
    (seeded.path / "results/other").mkdir()
    seeded.git("mv", RES, TWIN)
    code, out, err = cli(seeded, "validate", "--staged", TWIN)
    assert code == 0, out + err


def test_the_audit_names_both_results_and_ranks_neither(seeded: ExpRepo) -> None:
    base = seeded.head()
    add_twin(seeded)
    seeded.commit("a better score for exp-001")
    for extra in ((), ("--since", base)):
        code, predicate = audit_json(seeded, *extra)
        assert code == 1
        assert sorted(rules(predicate)["duplicate-result"]) == sorted([RES, TWIN])
        assert "exp-001" not in ranked_ids(predicate)
        assert ranked_ids(predicate) == ["exp-002"]
    code, out, _ = cli(seeded, "rank", "--format", "json")
    assert [row["id"] for row in json.loads(out)["ranking"]] == ["exp-002"]


def test_two_records_for_one_id_rank_neither(seeded: ExpRepo) -> None:
    """Before, the first record by path was the run's: an attacker's record under a
    folder that sorts first decided the rules."""
    seeded.write_json(
        "experiments/a/exp-002.json",
        experiment_doc("exp-002", params={"Args/--sub_step": 5}),
    )
    seeded.commit("a second record for exp-002")
    code, predicate = audit_json(seeded)
    assert code == 1
    assert rules(predicate)["duplicate-id"] == ["experiments/pdebench-task1/exp-002.json"]
    assert ranked_ids(predicate) == ["exp-001"]


# =========================================================================== attack 2
def set_record(
    repo: ExpRepo, rel: str = "experiments/pdebench-task1/exp-002.json", **fields: Any
) -> None:
    doc = json.loads((repo.path / rel).read_text())
    doc.update(fields)
    repo.write_json(rel, doc)
    repo.stage(rel)


EXP2 = "experiments/pdebench-task1/exp-002.json"
RES2 = "results/pdebench-task1/exp-002.json"


def deny_corrections(repo: ExpRepo) -> None:
    """`protect: {corrections: deny}` committed (protect judges by the staged policy)."""
    policy = (repo.path / "expflow.yaml").read_text()
    deny = policy.replace("protect: {", "protect: {corrections: deny, ", 1)
    assert deny != policy
    repo.write("expflow.yaml", deny)
    repo.commit("corrections: deny")


def test_protect_refuses_a_frozen_field_of_a_finished_run(seeded: ExpRepo) -> None:
    """Under the default `corrections: allow` the PIN does not approve it either: no
    correction can declare a finished run's frozen fields, so `audit --since` in CI failed
    the commit the PIN let through, for good (issue 18, twenty-fifth pass)."""
    set_record(seeded, params={"Args/--sub_step": 5, "lr": 0.001})
    code, out, _ = cli(seeded, "protect")
    assert code == 1, out
    assert out.startswith(f"{EXP2}: record-rewritten: the staged change changes params of ")
    assert "a finished run is frozen" in out
    code, out, err = cli(seeded, "protect", env=with_pin(seeded))
    assert code == 1 and "approved" not in err, (out, err)
    (line,) = out.splitlines()
    assert line.startswith(f"{EXP2}: record-rewritten: the staged change changes params of ")
    assert "no correction can declare a change to a finished run's frozen fields" in line
    assert "`audit --since` would report it even with the PIN" in line
    assert "record a new run under a new id" in line
    # What the hook refuses is what CI's `audit --since` reports of the commit.
    seeded.commit("params changed past the hooks")
    code, predicate = audit_json(seeded, "--since", "HEAD~1")
    assert code == 1 and rules(predicate)["record-rewritten"] == [EXP2]


def test_protect_approves_a_frozen_field_with_the_pin_under_corrections_deny(
    seeded: ExpRepo,
) -> None:
    """`protect: {corrections: deny}` keeps the PIN-only approval (spec §5: `audit
    --since` reports every rewrite then)."""
    deny_corrections(seeded)
    set_record(seeded, params={"Args/--sub_step": 5, "lr": 0.001})
    code, out, _ = cli(seeded, "protect")
    assert code == 1 and "approve with the PIN via EXPFLOW_PIN" in out, out
    approved = cli(seeded, "protect", env=with_pin(seeded))
    assert approved[0] == 0 and "approved" in approved[2] and EXP2 in approved[2]


NARROWED = 'results: ["results/pdebench-task1/exp-001.json"]'  # drops exp-002's result


def narrow_results(repo: ExpRepo) -> None:
    policy = (repo.path / "expflow.yaml").read_text()
    narrowed = policy.replace('results: ["results/**/*.json"]', NARROWED, 1)
    assert narrowed != policy
    repo.write("expflow.yaml", narrowed)
    repo.stage("expflow.yaml")


def test_protect_refuses_a_result_the_staged_globs_drop_even_with_the_pin(
    seeded: ExpRepo,
) -> None:
    """A committed result the staged `paths.results` no longer matches: no correction can
    declare it, so under the default `corrections: allow` the PIN approved a commit that
    `audit --since` then failed (issue 18, twenty-fifth pass)."""
    narrow_results(seeded)
    code, out, err = cli(seeded, "protect", env=with_pin(seeded))
    assert code == 1 and "approved" not in err, (out, err)
    (line,) = out.splitlines()
    assert line.startswith(f"{RES2}: result-rewritten: the staged policy's paths.results ")
    assert "no correction can declare a result the policy's globs drop" in line
    assert "`audit --since` would report it even with the PIN" in line
    assert "keep paths.results matching the committed results" in line
    seeded.commit("narrowed past the hooks")
    code, predicate = audit_json(seeded, "--since", "HEAD~1")
    assert code == 1 and rules(predicate)["result-rewritten"] == [RES2]


def test_protect_approves_a_result_the_globs_drop_with_the_pin_under_corrections_deny(
    seeded: ExpRepo,
) -> None:
    deny_corrections(seeded)
    narrow_results(seeded)
    code, out, _ = cli(seeded, "protect")
    assert code == 1 and f"{RES2}: result-rewritten" in out, out
    assert "approve with the PIN via EXPFLOW_PIN" in out
    approved = cli(seeded, "protect", env=with_pin(seeded))
    assert approved[0] == 0 and "approved" in approved[2] and RES2 in approved[2]


@pytest.mark.parametrize(
    ("fields", "frozen"),
    [
        ({"seed": 7}, "seed"),
        ({"study": "elsewhere"}, "study"),
        ({"status": "failed"}, "status"),
        ({"params": {"Args/--sub_step": 0, "lr": False}}, "params"),  # 0.001 -> a bool
    ],
)
def test_each_frozen_field(seeded: ExpRepo, fields: dict[str, Any], frozen: str) -> None:
    set_record(seeded, **fields)
    code, out, _ = cli(seeded, "protect")
    assert code == 1, out
    assert f"changes {frozen} of experiment 'exp-002'" in out


def test_other_fields_and_formatting_stay_editable(seeded: ExpRepo) -> None:
    doc = json.loads((seeded.path / EXP2).read_text())
    doc.update(title="retitled", tags=["x"], created_at="2027-01-01T00:00:00Z")
    doc["params"] = dict(reversed(list(doc["params"].items())))  # key order
    doc["params"]["lr"] = 1e-3  # the same number, spelled otherwise
    (seeded.path / EXP2).write_text(json.dumps(doc, indent=7, sort_keys=True))
    seeded.stage(EXP2)
    code, out, err = cli(seeded, "protect")
    assert code == 0, out + err
    base = seeded.head()
    seeded.commit("retitle")
    code, predicate = audit_json(seeded, "--since", base)
    assert "record-rewritten" not in rules(predicate)


def test_a_record_before_its_result_is_not_frozen(committed_repo: ExpRepo) -> None:
    repo = committed_repo
    repo.add_experiment("exp-003", status="running", params={"Args/--sub_step": 0})
    base = repo.commit("running")
    repo.add_experiment("exp-003", status="success", params={"Args/--sub_step": 3})
    repo.stage()
    code, out, err = cli(repo, "protect")
    assert code == 0, out + err
    repo.add_result("exp-003")
    repo.commit("finished")
    code, predicate = audit_json(repo, "--since", base)
    assert code == 0, rules(predicate)


def test_since_reports_a_rewritten_record(seeded: ExpRepo) -> None:
    base = seeded.head()
    code, predicate = audit_json(seeded)
    assert (
        "exp-002" not in ranked_ids(predicate)
        or not next(r for r in predicate["result"]["ranking"] if r["id"] == "exp-002")["feasible"]
    )
    set_record(seeded, params={"Args/--sub_step": 5, "lr": 0.001})
    edit = seeded.commit("flip exp-002 to feasible")  # --no-verify
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 1
    assert rules(predicate)["record-rewritten"] == [EXP2]
    (message,) = messages(predicate, "record-rewritten")
    assert edit[:12] in message and "params" in message


def test_since_catches_a_record_deleted_then_added_again(seeded: ExpRepo) -> None:
    """Two commits, each harmless alone: the deletion leaves a dangling result for a
    moment, the re-adding brings other params back."""
    base = seeded.head()
    original = (seeded.path / EXP2).read_text()
    (seeded.path / EXP2).unlink()
    seeded.commit("drop the record")
    seeded.write(
        EXP2.replace("pdebench-task1", "moved"),
        original.replace('"Args/--sub_step": 0', '"Args/--sub_step": 5'),
    )
    seeded.commit("bring it back")
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 1
    assert rules(predicate)["record-rewritten"] == [EXP2.replace("pdebench-task1", "moved")]


def test_a_record_moved_unchanged_is_fine(seeded: ExpRepo) -> None:
    base = seeded.head()
    (seeded.path / "experiments/other").mkdir()
    seeded.git("mv", EXP2, "experiments/other/exp-002.json")
    code, out, err = cli(seeded, "protect")
    assert code == 0, out + err
    seeded.commit("move")
    code, predicate = audit_json(seeded, "--since", base)
    assert "record-rewritten" not in rules(predicate)


# =========================================================================== attack 3
def retarget_results(repo: ExpRepo, glob: str) -> None:
    policy = repo.path / "expflow.yaml"
    policy.write_text(
        policy.read_text().replace('results: ["results/**/*.json"]', f'results: ["{glob}"]')
    )


def test_a_move_with_an_edit_and_new_globs_is_a_rewrite(seeded: ExpRepo) -> None:
    base = seeded.head()
    seeded.git("mv", "results", "res")
    doc = json.loads((seeded.path / "res/pdebench-task1/exp-001.json").read_text())
    doc["metrics"]["seg_total"] = 99.0
    seeded.write_json("res/pdebench-task1/exp-001.json", doc)
    retarget_results(seeded, "res/**/*.json")
    seeded.stage()
    code, out, _ = cli(seeded, "protect")
    assert code == 1 and f"{RES}: result-rewritten" in out, out
    seeded.commit("move, edit, new globs")
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 1
    assert rules(predicate)["result-rewritten"] == [RES]
    (message,) = messages(predicate, "result-rewritten")
    assert "replaced by res/pdebench-task1/exp-001.json" in message


def test_a_pure_move_with_new_globs_is_not_a_rewrite(seeded: ExpRepo) -> None:
    base = seeded.head()
    seeded.git("mv", "results", "res")
    retarget_results(seeded, "res/**/*.json")
    seeded.stage()
    code, out, err = cli(seeded, "protect")
    assert code == 0, out + err
    seeded.commit("move")
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 0, rules(predicate)


def test_a_move_out_of_every_glob_is_a_deletion(seeded: ExpRepo) -> None:
    base = seeded.head()
    (seeded.path / "attic").mkdir()
    seeded.git("mv", RES, "attic/exp-001.json")
    code, out, _ = cli(seeded, "protect")
    assert code == 1 and f"{RES}: result-rewritten: the staged change deletes" in out, out
    seeded.commit("hide it")
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 1
    assert rules(predicate)["result-rewritten"] == [RES]
    assert "was deleted" in messages(predicate, "result-rewritten")[0]


def test_globs_that_drop_a_committed_result_are_a_deletion(seeded: ExpRepo) -> None:
    base = seeded.head()
    retarget_results(seeded, "results/**/exp-002.json")  # exp-001's result no longer counts
    seeded.stage()
    code, out, _ = cli(seeded, "protect")
    assert code == 1 and f"{RES}: result-rewritten: the staged policy's paths.results" in out
    seeded.commit("narrow the globs")
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 1
    assert rules(predicate)["result-rewritten"] == [RES]
    assert "no longer matched by paths.results" in messages(predicate, "result-rewritten")[0]


# =========================================================================== attack 4
def test_since_finds_a_pin_hash_committed_and_deleted_in_the_range(seeded: ExpRepo) -> None:
    base = seeded.head()
    seeded.write("deploy/.env", f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
    added = seeded.commit("oops")  # --no-verify
    (seeded.path / "deploy/.env").unlink()
    seeded.commit("remove it again")
    assert audit_json(seeded)[0] == 0  # the tree at REV is clean
    code, out, err = cli(seeded, "audit", "--since", base, "--no-cache", "--out", "r.json")
    assert code == 1
    hits = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("deploy/.env:1:18: pin")]
    assert len(hits) == 1, out
    assert f"added in commit {added[:12]}" in hits[0]
    assert PIN_SHA[:8] not in out + err and PIN_SHA[-8:] not in out + err
    code, out, _ = cli(seeded, "verify", "r.json", "--allow-unsigned", "--repo", ".")
    assert code == 0 and "ok   recompute:" in out, out


def test_since_scans_each_added_blob_once_and_honours_scan_allow(seeded: ExpRepo) -> None:
    base = seeded.head()
    secret = f"EXPFLOW_PIN_HASH={PIN_SHA}\n"
    seeded.write("a/.env", secret)
    seeded.write("fixtures/.env", secret)
    first = seeded.commit("two copies")
    seeded.write("b/.env", secret)  # the same blob at a third path
    seeded.commit("a third")
    for rel in ("a/.env", "b/.env", "fixtures/.env"):
        (seeded.path / rel).unlink()
    policy = seeded.path / "expflow.yaml"
    policy.write_text(policy.read_text() + 'scan: {allow: ["fixtures/**"]}\n')
    seeded.commit("clean up")
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 1
    found = sorted(p for r, ps in rules(predicate).items() if r.startswith("pin") for p in ps)
    assert found == ["a/.env", "b/.env"]
    pin_messages = [
        e["message"] for e in predicate["entries"] if e.get("rule", "").startswith("pin")
    ]
    assert len(pin_messages) == 2 and all(first[:12] in m for m in pin_messages[:1]), pin_messages


def test_a_secret_still_in_the_tree_is_reported_once(seeded: ExpRepo) -> None:
    base = seeded.head()
    seeded.write("deploy/.env", f"EXPFLOW_PIN_HASH={PIN_SHA}\n")
    seeded.commit("left in")
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 1
    assert [p for r, ps in rules(predicate).items() if r.startswith("pin") for p in ps] == [
        "deploy/.env"
    ]


# =========================================================================== processes
@pytest.fixture
def counted_git(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A `git` first on PATH that logs each call, then runs the real one."""
    return git_counter(tmp_path)


def test_since_runs_as_many_git_processes_for_one_commit_as_for_many(
    seeded: ExpRepo, counted_git: tuple[dict[str, str], Path]
) -> None:
    env, log = counted_git
    base = seeded.head()
    seeded.add_experiment("exp-003")
    seeded.add_result("exp-003")
    seeded.write("notes.txt", "one\n")
    seeded.commit("one")
    for n in range(8):
        seeded.add_experiment(f"exp-1{n}", title=f"run {n}")
        seeded.add_result(f"exp-1{n}")
        seeded.write("notes.txt", f"note {n}\n")
        set_record(seeded, title=f"retitled {n}")
        seeded.commit(f"commit {n}")

    def calls(since: str) -> list[str]:
        log.unlink(missing_ok=True)
        code, _, err = cli(
            seeded, "audit", "--rev", "HEAD", "--since", since, "--no-cache", env=env
        )
        assert code == 0, err
        return sorted(call.args for call in git_calls(log))

    short = calls("HEAD~1")  # one commit
    long = calls(base)  # nine
    assert len(short) == len(long), (short, long)
    # The tree's stream, the history's and its `<commit>:<path>` reads' (git's default
    # delta-base cache, forty-second pass): no process per commit or per blob.
    assert sum(c.endswith("cat-file --batch") for c in long) == 3, long
    assert sum(" log " in f" {c} " for c in long) == 1, long


def test_turning_write_once_off_does_not_approve_the_same_commit(seeded: ExpRepo) -> None:
    policy = seeded.path / "expflow.yaml"
    policy.write_text(
        policy.read_text().replace("results_immutable: true", "results_immutable: false")
    )
    set_record(seeded, params={"Args/--sub_step": 5, "lr": 0.001})
    seeded.stage()
    code, out, _ = cli(seeded, "protect")
    assert code == 1 and f"{EXP2}: record-rewritten" in out, out
    seeded.commit("off, and the edit")
    seeded.add_experiment("exp-002", params={"Args/--sub_step": 6, "lr": 0.001})
    seeded.stage()
    code, out, err = cli(seeded, "protect")  # now the committed policy says so
    assert code == 0, out + err


def test_a_record_replaced_by_a_symlink_is_rewritten(seeded: ExpRepo) -> None:
    base = seeded.head()
    (seeded.path / EXP2).unlink()
    os.symlink("exp-001.json", seeded.path / EXP2)
    seeded.stage(EXP2)
    code, out, _ = cli(seeded, "protect")
    assert code == 1 and f"{EXP2}: record-rewritten" in out, out
    seeded.commit("link")
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 1 and rules(predicate)["record-rewritten"] == [EXP2]


def test_a_link_at_head_froze_nothing_and_holds_no_policy(seeded: ExpRepo) -> None:
    """A symbolic link committed past the hooks (at a record's path, at the policy's)
    is no document: its target's text was read as HEAD's record, and as HEAD's policy,
    where the audit reads neither (a hunt). The hook and `audit --since` agree."""
    record = json.loads((seeded.path / EXP2).read_text())
    forged = json.dumps({**record, "params": {"Args/--sub_step": 9, "lr": 0.001}})
    (seeded.path / EXP2).unlink()
    os.symlink(forged, seeded.path / EXP2)  # the link's text: a record with other params
    seeded.commit("a link in the record's place")
    base = seeded.head()
    (seeded.path / EXP2).unlink()
    seeded.write_json(EXP2, record)  # the record as it was: no link froze other params
    seeded.stage(EXP2)
    code, out, err = cli(seeded, "protect")
    assert code == 0, out + err
    seeded.commit("the record back")
    code, predicate = audit_json(seeded, "--since", base)
    assert "record-rewritten" not in rules(predicate), predicate["entries"]
    # HEAD's policy a link whose text keeps write-once on, the staged one turning it off:
    # HEAD has no policy to hold it (the audit reads none there), so the staged one rules.
    policy = (seeded.path / "expflow.yaml").read_text()
    off = policy.replace("results_immutable: true", "results_immutable: false")
    assert off != policy
    (seeded.path / "expflow.yaml").unlink()
    os.symlink(policy, seeded.path / "expflow.yaml")
    seeded.commit("a link in the policy's place")
    (seeded.path / "expflow.yaml").unlink()
    seeded.write("expflow.yaml", off)
    set_record(seeded, params={"Args/--sub_step": 5, "lr": 0.001})
    seeded.stage()
    code, out, err = cli(seeded, "protect")
    assert code == 0, out + err


def test_index_paths_named_finds_a_name_in_any_folder_and_only_that_name(
    committed_repo: ExpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expflow_git.errors import ExpflowError
    from expflow_git.gitstore import Git

    repo = committed_repo
    for rel in ("e1.json", "a/e1.json", "a/b/e1.json", "a/xe1.json", "a/E1.json", "e1.jsonx"):
        repo.write(rel, "{}")
    repo.stage()
    monkeypatch.setenv("GIT_ICASE_PATHSPECS", "1")  # an environment must not widen the match
    git = Git.discover(repo.path, env=os.environ)
    assert sorted(git.index_paths_named(["e1.json"])) == ["a/b/e1.json", "a/e1.json", "e1.json"]
    for bad in ("*.json", "a/e1.json", "[e]1.json", ":(top)e1.json", ""):
        with pytest.raises(ExpflowError):
            git.index_paths_named([bad])


def test_plain_git_hooks_refuse_a_second_result_and_a_frozen_record(seeded: ExpRepo) -> None:
    """`install-hooks` and a real `git commit`: the plain pre-commit hook runs validate on
    the staged files and protect on the index."""
    code, out, err = cli(seeded, "install-hooks")
    assert code == 0, out + err
    head = seeded.head()
    add_twin(seeded)
    proc = run_git_commit(seeded)
    assert proc[0] != 0 and f"{TWIN}#/experiment: duplicate-result" in proc[1], proc
    assert seeded.head() == head
    seeded.git("rm", "-q", "--cached", TWIN)
    (seeded.path / TWIN).unlink()
    set_record(seeded, seed=7)
    proc = run_git_commit(seeded)
    assert proc[0] != 0 and f"{EXP2}: record-rewritten" in proc[1], proc
    assert seeded.head() == head


def run_git_commit(repo: ExpRepo) -> tuple[int, str]:
    """`git commit` with the repository's hooks: (exit code, all output)."""
    proc = subprocess.run(
        ["git", "commit", "-q", "-m", "attempt"],
        cwd=repo.path,
        env=git_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_an_unrelated_history_merged_first_cannot_hide_a_rewrite(seeded: ExpRepo) -> None:
    """An orphan branch holding the rewritten result and record, merged with the base as
    the *second* parent (`-s ours`): against its first parent the merge changes nothing,
    and the orphan's root commit only adds files. BASE against REV still shows both."""
    base = seeded.head()
    seeded.git("checkout", "-q", "--orphan", "evil")
    seeded.write_json(RES, result_doc(metrics=BETTER))
    set_record(seeded, params={"Args/--sub_step": 5, "lr": 0.001})
    seeded.commit("an unrelated history")
    seeded.git(
        "merge",
        "-q",
        "--no-verify",
        "--allow-unrelated-histories",
        "-s",
        "ours",
        "-m",
        "merge main",
        "main",
    )
    assert seeded.git("merge-base", "--is-ancestor", base, "HEAD", check=False) == ""
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 1
    assert rules(predicate)["result-rewritten"] == [RES]
    assert rules(predicate)["record-rewritten"] == [EXP2]
    assert "unrelated history" in messages(predicate, "result-rewritten")[0]


def test_a_merge_that_keeps_the_old_side_cannot_undo_the_base(seeded: ExpRepo) -> None:
    """The base corrected a result and a record after the branch forked; `merge -s ours`
    takes the branch's (older) versions back, and no commit's first-parent diff shows it."""
    fork = seeded.head()
    seeded.write_json(
        RES, result_doc(metrics={"seg_total": 50.0, "pde_mean": 15.0, "train_time_min": 45.5})
    )
    set_record(seeded, seed=99)
    base = seeded.commit("a correction on main")
    seeded.git("checkout", "-q", "-b", "pr", fork)
    seeded.write("notes.md", "harmless\n")
    seeded.commit("harmless")
    seeded.git("merge", "-q", "--no-verify", "-s", "ours", "-m", "merge main", "main")
    code, predicate = audit_json(seeded, "--since", base)
    assert code == 1
    assert rules(predicate)["result-rewritten"] == [RES]
    assert rules(predicate)["record-rewritten"] == [EXP2]
    assert "changes seed" in messages(predicate, "record-rewritten")[0]
