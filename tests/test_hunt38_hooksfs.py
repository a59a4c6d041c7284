"""An attacker's hunt of how `validate` and `scan` read the work tree and the index
(thirty-eighth pass): linked folders, files that are no files, git's filters and index
bits."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from conftest import ExpRepo, run_cli

EXP = "experiments/pdebench-task1/exp-001.json"
RES = "results/pdebench-task1/exp-001.json"


def _committed_run(repo: ExpRepo) -> None:
    repo.add_experiment()
    repo.add_result()
    repo.commit("a run")


def link_study_elsewhere(root: Path, outside: Path) -> None:
    """The study's record folder replaced on disk by a link to a copy elsewhere whose
    record is another (valid) one; the index still holds the committed record."""
    study = root / "experiments" / "pdebench-task1"
    shutil.copytree(study, outside)
    doc = json.loads((outside / "exp-001.json").read_text())
    doc["title"] = "READ FROM OUTSIDE"
    (outside / "exp-001.json").write_text(json.dumps(doc))
    shutil.rmtree(study)
    study.symlink_to(outside, target_is_directory=True)


def test_validate_never_reads_a_document_through_a_linked_folder(
    committed_repo: ExpRepo, tmp_path: Path
) -> None:
    """docs/spec.md §7: no PATHS checks "every document of the working tree … what `git
    add -A` would commit", and "on disk … a record or correction looked up is never read
    through a link"; a path "is taken as written …: a folder of it that is a symbolic
    link on disk is not followed". `git add -A` commits the link, never the files it
    points at, yet `validate` read the record through it and said `2 document(s) OK`
    (as `list` did before this pass: query/runs._linked_folder)."""
    _committed_run(committed_repo)
    link_study_elsewhere(committed_repo.path, tmp_path / "elsewhere")
    why = "experiments/pdebench-task1 is a symbolic link; documents are never read through one"
    code, out, err = run_cli(["validate"], committed_repo.path)
    assert code == 1, out + err
    assert f"{EXP}: not-a-regular-file: {why}" in out, out
    assert f"{RES}#/experiment: result-without-record" in out, out  # not backed through it
    code, out, err = run_cli(["validate", "--", EXP], committed_repo.path)
    assert code == 1, out + err
    assert f"{EXP}: not-a-regular-file: {why}" in out, out
    # The hooks read the index: the record committed there is what they judge.
    code, out, err = run_cli(["validate", "--staged"], committed_repo.path)
    assert code == 0, out + err


def test_scan_of_a_link_to_a_folder_scans_the_link_not_the_folder(
    committed_repo: ExpRepo, tmp_path: Path
) -> None:
    """README: "A symbolic link is never followed; its target string is scanned as its
    content (what git stores)"; spec §7: "a link's target is scanned, never followed".
    `scan data`, `data` a link to a folder, walked the folder it points at (files git
    never commits) and said `1 file(s) clean`, never scanning the link's target string,
    here a PIN's SHA-256: what `git add data` commits, and `scan --staged` flags."""
    pin_sha = hashlib.sha256(str(4000 + 821).encode()).hexdigest()
    folder = tmp_path / pin_sha
    folder.mkdir()
    (folder / "notes.txt").write_text("nothing here\n")
    (committed_repo.path / "data").symlink_to(folder, target_is_directory=True)
    for given in ("data", "data/"):
        code, out, err = run_cli(["scan", "--", given], committed_repo.path)
        assert code == 1, (given, out + err)
        assert "data:1:" in out and "pin-sha256" in out, (given, out)
        assert "notes.txt" not in out + err
        assert pin_sha not in out + err
    committed_repo.stage("data")
    code, out, err = run_cli(["scan", "--staged", "--", "data"], committed_repo.path)
    assert code == 1 and "pin-sha256" in out, out + err


def test_validate_reads_a_sparse_checkouts_records_from_the_index(committed_repo: ExpRepo) -> None:
    """docs/spec.md §7: no PATHS checks "what `git add -A` would commit", lookups there
    too. In a sparse checkout whose cone leaves `experiments/` out, the records are
    skip-worktree entries: absent from the disk, yet `git add -A` keeps them and the
    commit holds them. `validate` said `result-without-record` of every result, exit
    1, where the commit (and `validate --staged`, and the audit) is fine; a record
    outside the cone that fails the policy was not checked at all."""
    _committed_run(committed_repo)
    committed_repo.add_experiment("exp-002", status="bogus")
    committed_repo.commit("a bad record")
    committed_repo.git("sparse-checkout", "set", "--no-cone", "/*", "!/experiments/")
    assert not (committed_repo.path / "experiments").exists()
    code, out, err = run_cli(["validate"], committed_repo.path)
    assert "result-without-record" not in out, out
    assert "experiments/pdebench-task1/exp-002.json#/status" in out, out + err
    assert code == 1
    bad = "experiments/pdebench-task1/exp-002.json"
    committed_repo.git("rm", "-q", "--cached", "--sparse", bad)
    code, out, err = run_cli(["validate"], committed_repo.path)
    assert (code, out) == (0, ""), out + err
    assert "2 document(s) OK" in err  # the record (from the index) and its result


def test_a_link_to_a_folder_below_a_folder_given_is_a_file(
    committed_repo: ExpRepo, tmp_path: Path
) -> None:
    """`scan DIR` and `validate DIR` walk DIR; a symbolic link to a folder inside it was
    left out (os.walk files it among the folders and does not follow it), though git
    commits it as a file whose content is the target's name. `scan sub` said `0 file(s)
    clean` of a link whose target is a PIN's SHA-256 (README: "its target string is
    scanned"), and `validate experiments` said `1 document(s) OK` beside a record path
    that is such a link, which plain `validate` refuses (spec §7: "a document that is a
    link is refused, never skipped")."""
    pin_sha = hashlib.sha256(str(4000 + 821).encode()).hexdigest()
    (tmp_path / pin_sha).mkdir()
    (committed_repo.path / "sub").mkdir()
    (committed_repo.path / "sub" / "data").symlink_to(tmp_path / pin_sha)
    code, out, err = run_cli(["scan", "--", "sub"], committed_repo.path)
    assert code == 1, out + err
    assert "sub/data:1:" in out and "pin-sha256" in out, out
    assert pin_sha not in out + err
    _committed_run(committed_repo)
    linked = "experiments/pdebench-task1/exp-002.json"
    (committed_repo.path / linked).symlink_to(tmp_path, target_is_directory=True)
    refused = f"{linked}: not-a-regular-file: is a symbolic link; documents must be files"
    for args in (["validate", "--", "experiments"], ["validate"]):
        code, out, err = run_cli(args, committed_repo.path)
        assert code == 1, (args, out + err)
        assert refused in out, (args, out)
