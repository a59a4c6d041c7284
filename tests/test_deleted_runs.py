"""A run deleted on record (`rm` with a reason: a correction with `blob: null`) stays
deleted, whichever pull request brings it back (docs/spec.md §2.4, audit/deleted.py):
judged against the deletions BASE holds, so that neither a later pull request nor its
own corrections, `rm`s, merges or `paths` can bring it back with another result or
record. Two attacker's hunts and a review found each way in; the run put back as it
was still passes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git, git_init, run_cli
from helpers_audit import statement_of
from test_history_merges import commit, ok

REC, RES = "experiments/s/r1.json", "results/s/r1.json"


def findings(repo: Path, *args: str) -> tuple[int, list[tuple[str, str]]]:
    code, out, err = run_cli(["audit", "--no-cache", "--format", "json", *args], repo)
    assert code in (0, 1) and "Traceback" not in err, out + err
    entries = statement_of(out)["predicate"]["entries"]
    return code, sorted((e["rule"], e["path"]) for e in entries if e["type"] == "finding")


@pytest.fixture
def base(tmp_path: Path, isolated_env: Path) -> tuple[Path, str]:
    """BASE: r1 (lr 0.1, accuracy 0.5) and r2, then `rm r1` merged."""
    repo = git_init(tmp_path / "repo")
    ok(repo, "init")
    ok(repo, "new", "r1", "--study", "s", "--param", "lr=0.1", "--status", "success")
    ok(repo, "result", "r1", "--metric", "accuracy=0.5")
    ok(repo, "new", "r2", "--study", "s", "--param", "lr=0.2", "--status", "success")
    ok(repo, "result", "r2", "--metric", "accuracy=0.6")
    commit(repo, "runs")
    ok(repo, "rm", "r1", "--reason", "a bad run", "--force")
    return repo, commit(repo, "rm r1")


def _record_by_hand(repo: Path, study: str, lr: float) -> None:
    """A record of r1, as r2's with other params, written without `new` (which refuses a
    run deleted on record): what a pull request's author can commit all the same."""
    doc = json.loads((repo / "experiments/s/r2.json").read_text())
    doc.update(id="r1", study=study, params={"lr": lr})
    path = repo / "experiments" / study / "r1.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _result_by_hand(repo: Path, study: str, accuracy: float) -> None:
    """A result of r1, as r2's with another score, written without `result` (which refuses
    a run deleted on record since the thirty-eighth pass): what a pull request's author
    can commit all the same."""
    doc = json.loads((repo / "results/s/r2.json").read_text())
    doc.update(experiment="r1", metrics={**doc["metrics"], "accuracy": accuracy})
    path = repo / "results" / study / "r1.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _new_result(repo: Path) -> None:  # helper-64: a later pull request, new params
    _record_by_hand(repo, "s", 0.5)
    _result_by_hand(repo, "s", 0.99)
    commit(repo, "r1 again")


def _own_rm_launders(repo: Path) -> None:  # the review: its own deletion, then put back
    _record_by_hand(repo, "a", 0.9)
    _result_by_hand(repo, "a", 0.99)
    p1 = commit(repo, "r1 in study a")
    ok(repo, "rm", "r1", "--reason", "launder", "--force")
    commit(repo, "rm it again")
    git(repo, "checkout", p1, "--", "experiments/a/r1.json", "results/a/r1.json")
    commit(repo, "and back")


def _own_correction_launders(repo: Path) -> None:  # the review: a blob it never had
    git(repo, "checkout", "HEAD~1", "--", REC)  # the record exactly as it was
    _result_by_hand(repo, "s", 0.7)
    commit(repo, "a result r1 never had")
    ok(repo, "result", "r1", "--overwrite", "--metric", "accuracy=0.99", "--reason", "x", "--force")
    commit(repo, "declared over it")


def _corrections_glob_moved(repo: Path) -> None:  # the review: the PR's own `paths`
    policy = repo / "expflow.yaml"
    text = policy.read_text()
    line = next(x for x in text.splitlines() if x.startswith("  results: "))
    policy.write_text(text.replace(line, line + '\n  corrections: ["corrections/keep/**/*.json"]'))
    _new_result(repo)


def _as_it_was(repo: Path) -> None:
    for rel in (REC, RES):
        git(repo, "checkout", "HEAD~1", "--", rel)
    commit(repo, "r1 put back as it was")


def _as_it_was_then_corrected(repo: Path) -> None:
    _as_it_was(repo)
    ok(repo, "result", "r1", "--overwrite", "--metric", "accuracy=0.55", "--reason", "x", "--force")
    commit(repo, "a declared correction of the run put back")


@pytest.mark.parametrize(
    ("pull_request", "expected"),
    [
        (_new_result, [("record-rewritten", REC), ("result-rewritten", RES)]),
        (
            _own_rm_launders,
            [
                ("record-rewritten", "experiments/a/r1.json"),
                ("result-rewritten", "results/a/r1.json"),
            ],
        ),
        (_own_correction_launders, [("result-rewritten", RES)]),
        (_corrections_glob_moved, [("record-rewritten", REC), ("result-rewritten", RES)]),
        (_as_it_was, []),
        (_as_it_was_then_corrected, []),
    ],
)
def test_a_run_deleted_before_base_stays_deleted(
    base: tuple[Path, str],
    pull_request: Callable[[Path], None],
    expected: list[tuple[str, str]],
) -> None:
    repo, merged = base
    pull_request(repo)
    code, found = findings(repo, "--since", merged)
    rewrites = [f for f in found if f[0] in ("record-rewritten", "result-rewritten")]
    assert rewrites == expected, found
    # Only the moved paths.corrections leaves BASE's deletion out of the PR's policy.
    dropped = [f for f in found if f[0] == "correction-rewritten"]
    assert len(dropped) == (pull_request is _corrections_glob_moved), found
    assert code == (1 if expected else 0)


def test_under_deny_a_correction_the_pull_request_adds_brings_no_run_back(
    base: tuple[Path, str],
) -> None:
    """Under `corrections: deny` the audit took the audited tree's own corrections as
    links on from BASE's deletion: r1 put back as it was, with a new result and the pull
    request's correction to it, passed and ranked first, where the hook refuses it (an
    attacker's hunt, issue 18 twenty-second pass)."""
    repo, _ = base
    policy = repo / "expflow.yaml"
    text = policy.read_text()
    assert "protect: {results_immutable: true}\n" in text
    policy.write_text(
        text.replace("results_immutable: true", "results_immutable: true, corrections: deny")
    )
    merged = commit(repo, "deny")
    deleted = git(repo, "rev-parse", f"HEAD~2:{RES}")
    for rel in (REC, RES):
        git(repo, "checkout", "HEAD~2", "--", rel)
    doc = json.loads((repo / RES).read_text())
    doc["metrics"]["accuracy"] = 0.99
    (repo / RES).write_text(json.dumps(doc, indent=2) + "\n")
    new = git(repo, "hash-object", RES)
    note = {
        "schema": "expflow/correction@1",
        "experiment": "r1",
        "supersedes": deleted,
        "blob": new,
        "reason": "its own note",
        "author": {"name": "a", "email": "a@example.com"},
        "time": "2026-11-21T10:00:00Z",
    }
    (repo / "corrections/r1-back.json").write_text(json.dumps(note, indent=2) + "\n")
    commit(repo, "r1 is back, better")
    code, found = findings(repo, "--since", merged)
    assert (code, [f for f in found if f[0] == "result-rewritten"]) == (
        1,
        [("result-rewritten", RES)],
    ), found


def test_a_merge_adding_the_deletion_is_not_the_record_compared_with(
    tmp_path: Path, isolated_env: Path
) -> None:
    """r1 finished with lr 0.1 on main, then deleted; a pull request branched before its
    result set lr 0.9, merged main (taking the deletion through the merge, whose first
    parent is the branch) and put r1 back with lr 0.9 and main's result: the record was
    compared with the merge's first parent (the review). The oldest commit that added
    the deletion is the one compared with."""
    repo = git_init(tmp_path / "repo")
    ok(repo, "init")
    ok(repo, "new", "r2", "--study", "s", "--param", "lr=0.2", "--status", "success")
    ok(repo, "result", "r2", "--metric", "accuracy=0.6")
    ok(repo, "new", "r1", "--study", "s", "--param", "lr=0.1", "--status", "running")
    c0 = commit(repo, "c0")
    ok(repo, "result", "r1", "--metric", "accuracy=0.5")
    c1 = commit(repo, "c1: r1 finished with lr 0.1")
    ok(repo, "rm", "r1", "--reason", "bad", "--force")
    merged = commit(repo, "c2: rm r1")
    git(repo, "checkout", "-q", "-b", "pr", c0)
    record = json.loads((repo / REC).read_text())
    record.update(params={"lr": 0.9}, status="success")
    (repo / REC).write_text(json.dumps(record, indent=2) + "\n")
    (repo / RES).write_text(git(repo, "show", f"{c1}:{RES}") + "\n")
    commit(repo, "F1: lr 0.9, and main's result")
    git(repo, "merge", "-q", "--no-commit", "main", check=False)
    git(repo, "rm", "-q", "--ignore-unmatch", REC, RES)
    commit(repo, "M: main merged, r1 deleted to resolve")
    for rel in (REC, RES):
        (repo / rel).write_text(git(repo, "show", f"HEAD^1:{rel}") + "\n")
    commit(repo, "r1 back with lr 0.9")
    code, found = findings(repo, "--since", merged, "--policy-ref", merged)
    assert ("record-rewritten", REC) in found and code == 1, found


def test_the_hook_judges_a_submodule_put_back_as_a_record_without_reading_it(
    base: tuple[Path, str],
) -> None:
    """A gitlink staged at the deleted run's record path: the hook read its id as a blob
    and stopped, exit 2, "missing from the repository" (the review). A submodule at a
    document path is refused as one (`not-a-regular-file`, exit 1) before any run is
    judged: no submodule is the record the run had."""
    repo, _ = base
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},{REC}")
    code, out, err = run_cli(["protect"], repo)
    assert code == 1, out + err
    assert f"{REC}: not-a-regular-file: is a submodule" in out + err


@pytest.mark.parametrize("kind", ["experiments", "results"])
@pytest.mark.parametrize("removed", [False, True], ids=["kept", "removed"])
@pytest.mark.parametrize("policy_ref", [False, True], ids=["own-policy", "base-policy"])
def test_a_proposed_glob_over_the_corrections_does_not_unmake_them(
    base: tuple[Path, str], kind: str, removed: bool, policy_ref: bool
) -> None:
    """The pull request's own `paths.<kind>` takes BASE's corrections folder in (and may
    delete it): BASE's deletion was then a correction by no policy, and r1 came back with
    a new result and params under the action's `--policy-ref BASE` (the last hunt of the
    sixteenth pass). A correction is one by any policy's own globs, whatever another
    policy calls its path."""
    repo, merged = base
    policy = repo / "expflow.yaml"
    text = policy.read_text()
    line = next(x for x in text.splitlines() if x.startswith(f"  {kind}: ["))
    policy.write_text(text.replace(line, line[:-1] + ', "corrections/**/*.json"]'))
    deletion = git(repo, "ls-files", "corrections").strip()
    if removed:
        git(repo, "rm", "-rq", "corrections")
    _new_result(repo)
    code, found = findings(repo, "--since", merged, *(["--policy-ref", merged] * policy_ref))
    assert ("record-rewritten", REC) in found and ("result-rewritten", RES) in found, found
    # Deleted, or kept where the proposed policy no longer reads it as a correction.
    assert deletion in {path for _, path in found}, found
    assert ("correction-rewritten", deletion) in found or not removed, found
    assert code == 1


def test_the_hook_keeps_heads_corrections_under_a_staged_glob_over_them(
    base: tuple[Path, str],
) -> None:
    """The same move staged: the policy takes `corrections/` in as records and the
    deletion is removed. The hook refuses the removed correction and the run back."""
    repo, _ = base
    policy = repo / "expflow.yaml"
    text = policy.read_text()
    line = next(x for x in text.splitlines() if x.startswith("  experiments: ["))
    policy.write_text(text.replace(line, line[:-1] + ', "corrections/**/*.json"]'))
    git(repo, "rm", "-rq", "corrections")
    _record_by_hand(repo, "s", 0.5)  # (`new` refuses it: HEAD's policy reads the deletion)
    _result_by_hand(repo, "s", 0.99)  # (and `result`)
    git(repo, "add", "-A")
    code, out, err = run_cli(["protect"], repo)
    assert code == 1, out + err
    assert "correction-rewritten" in out + err and f"{RES}: " in out + err, out + err


def _note(repo: Path) -> str:
    """A result r1 never had (its text), and a file shaped as a correction of r1 to it at
    `docs/notes/r1.json`, where no policy reads a correction."""
    new = {
        "schema": "expflow/result@1",
        "experiment": "r1",
        "recorded_at": "2026-01-01T00:00:00Z",
        "metrics": {"accuracy": 0.99},
    }
    text = json.dumps(new, indent=2) + "\n"
    note = {
        "schema": "expflow/correction@1",
        "experiment": "r1",
        "supersedes": "1" * 40,
        "blob": git(repo, "hash-object", "--stdin", input=text.encode()),
        "reason": "a note",
        "author": {"name": "a", "email": "a@b"},
        "time": "2026-01-01T00:00:00Z",
    }
    (repo / "docs/notes").mkdir(parents=True)
    (repo / "docs/notes/r1.json").write_text(json.dumps(note) + "\n")
    return text


def _read_notes_as_corrections(repo: Path) -> None:
    policy = repo / "expflow.yaml"
    line = next(x for x in policy.read_text().splitlines() if x.startswith("  results: ["))
    globs = '  corrections: ["corrections/**/*.json", "docs/notes/**/*.json"]'
    policy.write_text(policy.read_text().replace(line, f"{line}\n{globs}"))


def _r1_back_with(repo: Path, text: str, deleted: str) -> None:
    git(repo, "checkout", f"{deleted}~1", "--", REC)  # the record exactly as it was
    (repo / RES).write_text(text)
    commit(repo, "r1 back with the note's blob")


def test_a_note_of_base_is_no_anchor_under_a_proposed_corrections_glob(
    base: tuple[Path, str],
) -> None:
    """The note merged long before; the pull request's own paths.corrections takes it
    in, and r1 came back with that blob: the note was an anchor of BASE's deletions (an
    attacker's hunt, seventeenth pass). BASE's corrections are the ones BASE's own or the
    judging policy calls so."""
    repo, deleted = base
    text = _note(repo)
    merged = commit(repo, "a note")
    _read_notes_as_corrections(repo)
    _r1_back_with(repo, text, deleted)
    code, found = findings(repo, "--since", merged, "--policy-ref", merged)
    assert ("result-rewritten", RES) in found and code == 1, found


@pytest.mark.parametrize("note_first", [False, True], ids=["with-the-glob", "merged-before"])
def test_a_correction_only_the_proposed_policy_reads_fails(
    base: tuple[Path, str], note_first: bool
) -> None:
    """The glob and the note in one pull request (or the note merged before, the glob
    after) passed as a policy change only; merged, BASE's own policy made the note an
    anchor and the next pull request brought r1 back with its blob (the review of the
    seventeenth pass). A correction the judging policy does not read fails."""
    repo, deleted = base
    _note(repo)
    since = commit(repo, "a note") if note_first else deleted
    _read_notes_as_corrections(repo)
    commit(repo, "notes are corrections too")
    code, found = findings(repo, "--since", since, "--policy-ref", since)
    assert found == [("correction-unmatched", "docs/notes/r1.json")] and code == 1, found


def test_a_policy_that_stops_reading_a_committed_correction_fails(
    base: tuple[Path, str],
) -> None:
    """A pull request that only moves paths.corrections away passed (and its report said
    "reworded only"); merged, BASE's deletion was read by no policy, and the next pull
    request brought r1 back with a new result (an attacker's hunt, seventeenth pass)."""
    repo, merged = base
    policy = repo / "expflow.yaml"
    line = next(x for x in policy.read_text().splitlines() if x.startswith("  results: ["))
    moved = '  corrections: ["archive/**/*.json"]'
    policy.write_text(policy.read_text().replace(line, f"{line}\n{moved}"))
    commit(repo, "tidy paths")
    deletion = git(repo, "ls-files", "corrections")
    code, found = findings(repo, "--since", merged, "--policy-ref", merged)
    assert found == [("correction-rewritten", deletion)] and code == 1, found


def test_files_under_a_moved_corrections_glob_that_are_no_corrections_pass(
    tmp_path: Path, isolated_env: Path
) -> None:
    """A repository with a `corrections/` folder of its own data before it took the
    default policy moves expflow's corrections elsewhere: its label fixes were each
    `correction-rewritten` ("would delete or correct nothing"; the review). Only valid
    corrections are judged so."""
    repo = git_init(tmp_path / "repo")
    (repo / "corrections").mkdir()
    (repo / "corrections/labels.json").write_text('{"image": "a.png", "label": "cat"}\n')
    ok(repo, "init")
    ok(repo, "new", "r1", "--study", "s", "--param", "lr=0.1", "--status", "success")
    ok(repo, "result", "r1", "--metric", "accuracy=0.5")
    adopted = commit(repo, "adopt expflow-git")
    policy = repo / "expflow.yaml"
    line = next(x for x in policy.read_text().splitlines() if x.startswith("  results: ["))
    moved = '  corrections: ["expflow/corrections/**/*.json"]'
    policy.write_text(policy.read_text().replace(line, f"{line}\n{moved}"))
    commit(repo, "expflow's corrections live in expflow/corrections")
    code, found = findings(repo, "--since", adopted)
    assert (code, found) == (0, []), found


def test_a_symbolic_link_is_never_a_correction(base: tuple[Path, str]) -> None:
    """A link under a new corrections glob, its target string a correction's text:
    never judged (no check reads a link as a document), yet, merged, the deleted-run
    check read it as BASE's correction and r1 came back with the blob it named, and
    removing it was `correction-rewritten` (the review of the seventeenth pass). A
    correction is a file, everywhere."""
    repo, deleted = base
    text = _note(repo)
    note = repo / "docs/notes/r1.json"
    target = note.read_text().strip()
    note.unlink()
    note.symlink_to(target)
    _read_notes_as_corrections(repo)
    merged = commit(repo, "notes are corrections too, and a link")
    git(repo, "rm", "-q", "docs/notes/r1.json")
    _r1_back_with(repo, text, deleted)
    code, found = findings(repo, "--since", merged, "--policy-ref", merged)
    assert ("result-rewritten", RES) in found and code == 1, found
    assert not [f for f in found if f[1] == "docs/notes/r1.json"], found


def test_a_link_that_becomes_a_file_is_an_added_correction(base: tuple[Path, str]) -> None:
    """A link merged where no policy read corrections, the glob added after, then the
    link turned into a correction-shaped file: git says `T`, neither added nor changed,
    so no check judged it, and merged it was r1's anchor (the review of the pass). A
    file that replaces a link or a submodule is added."""
    repo, _ = base
    _note(repo)
    note = repo / "docs/notes/r1.json"
    text = note.read_text()
    note.unlink()
    note.symlink_to("elsewhere")
    commit(repo, "a link")
    _read_notes_as_corrections(repo)
    merged = commit(repo, "notes are corrections")
    note.unlink()
    note.write_text(text)
    commit(repo, "the link is a file now")
    code, found = findings(repo, "--since", merged, "--policy-ref", merged)
    assert ("correction-unmatched", "docs/notes/r1.json") in found and code == 1, found


def test_a_result_moved_then_deleted_is_reported_once(base: tuple[Path, str]) -> None:
    """A committed result moved to another folder, then deleted, was reported twice: the
    deletion, rightly, and BASE's path as "not at the audited commit, and no commit's
    change against its first parent shows it (a merge of an unrelated history?)", false
    for a history with no merge (a hunt, issue 18 twenty-fourth pass)."""
    repo, _ = base
    merged = git(repo, "rev-parse", "HEAD")
    r2 = "results/s/r2.json"
    (repo / "results/archive").mkdir()
    git(repo, "mv", r2, "results/archive/r2.json")
    commit(repo, "move r2")
    git(repo, "rm", "-q", "results/archive/r2.json")
    commit(repo, "delete r2")
    code, out, err = run_cli(["audit", "--since", merged, "--no-cache"], repo)
    assert code == 1, out + err
    rewritten = [ln for ln in out.splitlines() if "result-rewritten" in ln]
    assert len(rewritten) == 1 and "results/archive/r2.json" in rewritten[0], out
    assert "unrelated history" not in out, out


@pytest.mark.parametrize(("depth", "cut"), [(1, True), (2, True), (3, False)])
def test_a_shallow_clone_cutting_the_deletions_parent_is_refused(
    base: tuple[Path, str], tmp_path: Path, depth: int, cut: bool
) -> None:
    """A run deleted on record, back with its record changed: the record it had is the
    one in the parent of the commit that added the deletion. A shallow clone's cut
    commit seems to add every file, the deletion too, and has no parent: nothing was
    compared and the audit passed (an attacker's hunt, issue 18 twenty-seventh pass)."""
    repo, _ = base
    for rel in (REC, RES):
        git(repo, "checkout", "HEAD~1", "--", rel)
    doc = json.loads((repo / REC).read_text())
    doc["params"] = {"lr": 0.9}
    (repo / REC).write_text(json.dumps(doc, indent=2) + "\n")
    commit(repo, "r1 back, its params changed")
    assert findings(repo) == (1, [("record-rewritten", REC)])
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", str(depth), f"file://{repo}", str(clone))
    if not cut:  # the deletion's commit and its parent are there
        assert findings(clone) == (1, [("record-rewritten", REC)])
        return
    for since in [[], ["--since", "HEAD~1"]][:depth]:  # BASE the cut commit itself
        code, out, err = run_cli(["audit", "--no-cache", *since], clone)
        assert (code, out) == (2, ""), out + err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert "experiment 'r1' is back after its deletion" in err
        assert "this shallow clone cuts at" in err and "fetch-depth: 0" in err
