"""An attacker's hunt of the researcher's read commands and the Python API (thirty-eighth
pass): `list`, `show`, `compare`, `rank`, `--where`, `--columns` and `Repository`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ExpRepo, run_cli
from test_hunt38_hooksfs import link_study_elsewhere

from expflow_git import ExpflowError, Repository


@pytest.fixture
def ranked(committed_repo: ExpRepo) -> ExpRepo:
    """One committed successful run."""
    committed_repo.add_experiment("exp-001")
    committed_repo.add_result("exp-001")
    committed_repo.commit("a run")
    return committed_repo


def test_api_refuses_an_empty_policy_path(ranked: ExpRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/spec.md §4: an empty string given for a file is "never taken for the option
    left out", and the API "calls the same functions". `--policy ''` is a usage error,
    but `Repository(".", policy="")` (a script's `policy=os.environ.get("POLICY", "")`
    with the variable unset) was judged by $EXPFLOW_POLICY, else `expflow.yaml`,
    silently: another policy than the one asked for."""
    monkeypatch.chdir(ranked.path)
    with pytest.raises(ValueError, match="policy: give a path, not an empty string"):
        Repository(".", policy="")
    with pytest.raises(ValueError, match="path: give a path, not an empty string"):
        Repository("")  # (was the current folder; `init ''` and `demo --dir ''` are refused)


def test_api_refuses_an_empty_signing_key(ranked: ExpRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """`audit --sign-key ''` is a usage error; `Repository.audit(sign_key="", report=True)`
    returned an UNSIGNED report as if no key had been asked for."""
    repo = Repository(ranked.path)
    with pytest.raises(ValueError, match="sign_key: give a path, not an empty string"):
        repo.audit(sign_key="", report=True)


def test_api_refuses_empty_paths_of_html_and_verify(ranked: ExpRepo, tmp_path: Path) -> None:
    """`Repository.html(path="")` failed with `: cannot write the scorecard: Device or
    resource busy` (naming nothing; the CLI's `--html ''` says to give a path);
    `verify(allowed_signers="")` was taken for no allowed_signers given (the CLI refuses
    it), `verify("")` said `: cannot read: Is a directory`, `public_keys=[""]` `: key
    file not found`."""
    repo = Repository(ranked.path)
    with pytest.raises(ValueError, match="path: give a path, not an empty string"):
        repo.html(path="")
    report = tmp_path / "report.json"
    report.write_bytes(repo.audit(report=True).report or b"")
    with pytest.raises(ValueError, match="allowed_signers: give a path, not an empty string"):
        repo.verify(report, allowed_signers="", allow_unsigned=True)
    with pytest.raises(ValueError, match="report: give a path, not an empty string"):
        repo.verify("", allow_unsigned=True)
    with pytest.raises(ValueError, match="public_keys: give a path, not an empty string"):
        repo.verify(report, public_keys=[""])
    assert repo.verify(report, allow_unsigned=True).ok


def test_list_show_and_runs_never_read_a_record_through_a_linked_folder(
    ranked: ExpRepo, tmp_path: Path
) -> None:
    """docs/spec.md §4.1: `list`, `show` and `compare` read the work tree "never through a
    symbolic link". A study's folder replaced on disk by a link to a folder elsewhere
    (its records still in the index) had every record read through the link: only the
    last part of the path was opened without following links. `list`, `show` and
    `Repository.runs()` showed the outside file's record (its title, params) as the
    run's, though `git add -A` would commit the link, not it."""
    link_study_elsewhere(ranked.path, tmp_path / "elsewhere")

    code, out, err = run_cli(["list", "--format", "json"], cwd=ranked.path)
    assert code == 0, err
    assert json.loads(out)["runs"] == []
    assert "2 problem(s) in the work tree's documents" in err  # the record, its result
    code, out, err = run_cli(["show", "exp-001"], cwd=ranked.path)
    assert code == 1
    assert "READ FROM OUTSIDE" not in out + err
    assert Repository(ranked.path).runs() == []
    with pytest.raises(KeyError):
        Repository(ranked.path).get("exp-001")
    code, out, err = run_cli(["list", "--rev", "HEAD", "--format", "json"], cwd=ranked.path)
    assert [r["id"] for r in json.loads(out)["runs"]] == ["exp-001"]  # the commit's own


def test_show_names_a_record_left_out_for_failing_its_checks(ranked: ExpRepo) -> None:
    """`show ID` (and `compare`) of a run whose record fails its checks (a status the
    schema does not know) said `no experiment 'exp-001' in the work tree`, with the
    record right there: as `audit --experiment` said before it gave the run's verdict
    (decisions: "no experiment" for a record that was there). It names the record
    and that it fails its checks, exit 1."""
    ranked.add_experiment("exp-001", status="done")
    for args in (["show", "exp-001"], ["compare", "exp-001", "exp-001"]):
        code, out, err = run_cli(args, cwd=ranked.path)
        assert code == 1, err
        assert "no experiment" not in err
        assert (
            "experiment 'exp-001': its record experiments/pdebench-task1/exp-001.json "
            "fails its checks and is left out; run `expflow-git validate`"
        ) in err
    code, out, err = run_cli(["show", "exp-01"], cwd=ranked.path)  # (an unknown id, as was)
    assert code == 1
    assert "no experiment 'exp-01' in the work tree" in err


def test_a_revision_ending_in_a_carriage_return_is_unknown(ranked: ExpRepo) -> None:
    """`git cat-file --batch-check`, which resolves every revision, drops a line's
    trailing CR: `list`, `rank`, `audit` and the API took `HEAD\\r` (a CRLF file's line,
    as `--rev "$(cat rev.txt)"`) for HEAD, which git itself refuses (`git rev-parse
    --verify`), and `show --rev` then failed in its history's `git log` (`fatal: bad
    revision 'HEAD?'`). A revision ending in a CR is unknown, exit 2, as one holding a
    line feed is (a CR inside, as in a `:/message` search, is git's to read)."""
    for args in (["list"], ["show", "exp-001"], ["compare", "exp-001", "exp-001"], ["rank"]):
        code, out, err = run_cli([*args, "--rev", "HEAD\r"], cwd=ranked.path)
        assert code == 2, (args, out, err)
        assert "unknown revision 'HEAD\\x0d'" in err, err
    with pytest.raises(ExpflowError, match="unknown revision") as caught:
        Repository(ranked.path).rank(rev="HEAD\r")
    assert caught.value.code == 2
