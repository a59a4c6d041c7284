"""An attacker's hunt of symbolic links and linked folders wherever a document or a file
to scan is read (fortieth pass): git commits a link, never the files it points at."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import ExpRepo, run_cli
from support import git, git_init, run_git

PIN_SHA = hashlib.sha256(str(4000 + 821).encode()).hexdigest()


def _outside_with_a_leak(outside: Path) -> Path:
    """A folder outside the repository: a PIN's SHA-256 in `pin.txt` and in `sub/pin.txt`,
    nothing in `notes.txt`."""
    (outside / "sub").mkdir(parents=True)
    (outside / "pin.txt").write_text(f"leak {PIN_SHA}\n")
    (outside / "sub" / "pin.txt").write_text(f"leak {PIN_SHA}\n")
    (outside / "notes.txt").write_text("nothing here\n")
    return outside


def test_scan_never_reads_a_path_given_through_a_linked_folder(
    committed_repo: ExpRepo, tmp_path: Path
) -> None:
    """README: "A symbolic link is never followed"; spec §7: a document below a folder
    that is a symbolic link on disk "is never read through it (`not-a-regular-file`,
    naming the folder; with PATHS too)". `scan data/notes.txt`, `data` an untracked link
    to a folder elsewhere, read the file through the link and said `1 file(s) clean`, and
    `scan data/sub` walked the folder it points at: files `git add` refuses ("beyond a
    symbolic link"); what `git add -A` commits is the link, whose target string here is a
    PIN's SHA-256. Nothing was scanned that git commits, so it is not called clean, as
    `validate data/x.json` says."""
    outside = _outside_with_a_leak(tmp_path / PIN_SHA)
    (committed_repo.path / "data").symlink_to(outside, target_is_directory=True)
    why = "data is a symbolic link; files are never read through one"
    for given in ("data/notes.txt", "data/pin.txt", "data/sub", "data/sub/", "./data/notes.txt"):
        code, out, err = run_cli(["scan", "--", given], committed_repo.path)
        assert code == 1, (given, out + err)
        shown = given.strip("./").rstrip("/") if given != "./data/notes.txt" else "data/notes.txt"
        assert f"{shown}: not-a-regular-file: {why}" in out, (given, out)
        assert "pin-sha256" not in out, (given, out)  # nothing read from outside
        assert PIN_SHA not in out + err
    added = run_git(committed_repo.path, "add", "--", "data/notes.txt")
    assert added.returncode != 0 and "beyond a symbolic link" in added.stderr, added


def test_scan_without_paths_reads_no_tracked_file_through_a_linked_folder(
    committed_repo: ExpRepo, tmp_path: Path
) -> None:
    """spec §7: without PATHS `scan` reads "every tracked file as it is on disk"; a tracked
    folder replaced on disk by a link (its files still in the index) holds none of them
    for git (`git status`: ` D d/pin.txt`; `git add -A` removes them and adds the link), as
    a tracked file deleted from the disk, which has nothing to scan. `scan` read
    `d/pin.txt` through the link, from the folder it pointed at, a file the repository
    never holds, and flagged it (`d/pin.txt:1:6: pin-sha256`), where gitleaks, which
    never follows a link in the work tree, reads nothing there."""
    committed_repo.write("d/pin.txt", "nothing here\n")
    committed_repo.commit("d")
    outside = _outside_with_a_leak(tmp_path / "elsewhere")
    shutil.rmtree(committed_repo.path / "d")
    (committed_repo.path / "d").symlink_to(outside, target_is_directory=True)
    code, out, err = run_cli(["scan"], committed_repo.path)
    assert code == 0, out + err
    assert "d/pin.txt" not in out + err, out + err
    # The hooks read the index: the committed file, clean, is what they scan.
    code, out, err = run_cli(["scan", "--staged"], committed_repo.path)
    assert code == 0, out + err


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="Linux's /proc")
def test_scan_names_a_file_it_cannot_read(committed_repo: ExpRepo) -> None:
    """The project's standard: bad input gets a clear one-line error naming the file, never
    a bare OS error. `scan -- /proc/self/mem` (a regular file whose read fails, as a file
    this user may not read does) said `expflow-git: error: Input/output error`, exit 2,
    naming no file, and no other file's finding was said. It is the file's finding now,
    as `validate` says of a document it cannot read (`not-a-regular-file: cannot read:
    …`), exit 1, and the other files named are scanned."""
    committed_repo.write("notes.txt", f"leak {PIN_SHA}\n")
    code, out, err = run_cli(["scan", "--", "/proc/self/mem", "notes.txt"], committed_repo.path)
    assert code == 1, out + err
    assert "/proc/self/mem: not-a-regular-file: cannot read: Input/output error" in out, out
    assert "notes.txt:1:6: pin-sha256" in out, out
    assert "error:" not in err, err


def test_new_counts_no_record_behind_a_linked_folder_for_its_budget_warning(
    tmp_path: Path,
) -> None:
    """spec §4 (`new`): "a record that takes the work tree's records over
    `budget.max_runs_per_study` … is written with a one-line warning … (the hook will
    refuse the commit)". A folder of the study that is a link to records elsewhere
    (`experiments/s/old -> …`) holds none of the work tree's records: git commits the
    link, `validate` and the hook count two runs here and pass. `new a2` read the three
    records behind the link and warned "study s will have 5 runs, over the policy's
    budget of 2; the hook and the audit will refuse it", which they do not."""
    repo = git_init(tmp_path / "repo")
    assert run_cli(["init"], repo).code == 0
    policy = repo / "expflow.yaml"
    policy.write_text(policy.read_text() + "budget: {max_runs_per_study: 2}\n")
    assert run_cli(["new", "a1", "--study", "s"], repo).code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for exp_id in ("x1", "x2", "x3"):
        assert run_cli(["new", exp_id, "--study", "s"], repo).code == 0
        shutil.move(repo / f"experiments/s/{exp_id}.json", elsewhere / f"{exp_id}.json")
    (repo / "experiments/s/old").symlink_to(elsewhere, target_is_directory=True)
    code, out, err = run_cli(["new", "a2", "--study", "s"], repo)
    assert code == 0, out + err
    assert "budget" not in err, err
    git(repo, "add", "-A")
    hook = run_cli(["validate", "--staged"], repo)
    assert hook.code == 0 and "budget" not in hook.out, hook.both


@pytest.mark.nonroot
def test_scan_without_paths_names_a_tracked_file_it_cannot_read(committed_repo: ExpRepo) -> None:
    """As above, with no PATHS: a tracked file this user may not read ended `scan` in
    `expflow-git: error: Permission denied`, exit 2, naming no file; it is the file's
    `not-a-regular-file: cannot read: …`, exit 1, the other files still scanned."""
    secret = committed_repo.write("private.txt", "nothing here\n")
    committed_repo.write("notes.txt", f"leak {PIN_SHA}\n")
    committed_repo.commit("two files")
    secret.chmod(0)
    try:
        code, out, err = run_cli(["scan"], committed_repo.path)
    finally:
        secret.chmod(0o644)
    assert code == 1, out + err
    assert "private.txt: not-a-regular-file: cannot read: Permission denied" in out, out
    assert "notes.txt:1:6: pin-sha256" in out, out
    assert "1 file(s) could not be read" in err and "error:" not in err, err
