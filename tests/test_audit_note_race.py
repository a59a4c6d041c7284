"""`audit --note` with another writer of refs/notes/expflow at work: no note is lost.

`git notes add` moved the ref to its commit whatever the ref held by then: of two audits
at once, the last to write dropped the other's note, both exiting 0 (a hunter's report:
four at once kept two). Each race here is made certain, not timed: git's
reference-transaction hook starts the second writer while the first holds the ref's lock,
and lets the first go on once the second has read the ref and made its notes commit."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from support import IDENTITY, git, record_calls, run_cli, scrubbed_env

from expflow_git.demo import build_repo
from expflow_git.gitstore import NOTE_ATTEMPTS, Git

pytestmark = pytest.mark.usefixtures("isolated_env")

NOTES = "refs/notes/expflow"


def _repo(tmp_path: Path) -> tuple[Path, str, str]:
    """The demo repository and an empty commit on it: (path, HEAD~1, HEAD)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    build_repo(repo)
    git(repo, "commit", "-q", "--allow-empty", "-m", "second", env=IDENTITY)
    first, second = git(repo, "rev-parse", "HEAD~1", "HEAD").split()
    # The second writer waits for the ref's lock as long as the first holds it (git's
    # 100 ms would make it fail, not race).
    git(repo, "config", "core.filesRefLockTimeout", "60000")
    return repo, first, second


def _hook(repo: Path, body: str) -> None:
    hook = repo / ".git" / "hooks" / "reference-transaction"
    hook.write_text(
        f"#!{sys.executable}\n"
        "import os, subprocess, sys, time\n"
        "from pathlib import Path\n"
        "state = sys.argv[1]\n"
        "lines = sys.stdin.read().splitlines()\n"
        "refs = {line.split(' ')[2]: line.split(' ')[1] for line in lines}\n" + body
    )
    hook.chmod(0o755)


def _notes(repo: Path) -> dict[str, str]:
    """commit -> note text on refs/notes/expflow."""
    listed = git(repo, "notes", "--ref", NOTES, "list", check=False).splitlines()
    return {
        commit: git(repo, "notes", "--ref", NOTES, "show", commit)
        for commit in (line.split()[1] for line in listed)
    }


def _scratch_refs(repo: Path) -> list[str]:
    return [r for r in git(repo, "for-each-ref", "--format=%(refname)").split() if "-writing-" in r]


def test_a_note_written_while_another_audit_notes_is_kept(tmp_path: Path) -> None:
    repo, first, second = _repo(tmp_path)
    done = tmp_path / "second.rc"
    fired = tmp_path / "fired"
    # In the first audit, once its move of the notes ref is prepared (the ref locked, not
    # yet moved): the second audit starts, and the first goes on only when the second's
    # notes commit exists (it has read the ref as it was, and waits for the lock).
    _hook(
        repo,
        f"""
if state != "prepared" or os.environ.get("NOTE_RACE") != "first" or "{NOTES}" not in refs:
    sys.exit(0)
if os.path.exists({str(fired)!r}):
    sys.exit(0)
Path({str(fired)!r}).write_text("")
env = {{k: v for k, v in os.environ.items()
       if not k.startswith("GIT_") or k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}}
env["NOTE_RACE"] = "second"
run = ("import subprocess, sys; rc = subprocess.call(sys.argv[2:]); "
       "open(sys.argv[1], 'w').write(str(rc))")
out = open({str(tmp_path / "second.out")!r}, "wb")
err = open({str(tmp_path / "second.err")!r}, "wb")
subprocess.Popen(
    [sys.executable, "-c", run, {str(done)!r}, sys.executable, "-m", "expflow_git", "audit",
     "--rev", {second!r}, "--note", "--format", "json"],
    env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
)
seen = set()
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    listed = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\\n")
    for line in listed:
        sha, _, kind = line.partition(" ")
        if kind != "commit" or sha in seen:
            continue
        seen.add(sha)
        paths = subprocess.run(
            ["git", "ls-tree", "-r", "--name-only", sha], capture_output=True, text=True
        ).stdout.split()
        if any(p.replace("/", "") == {second!r} for p in paths):
            sys.exit(0)  # the second writer's note is made on the ref as it was
    time.sleep(0.02)
sys.exit(0)
""",
    )
    code, out, err = run_cli(
        ["audit", "--rev", first, "--note", "--format", "json"],
        cwd=repo,
        env={**IDENTITY, "NOTE_RACE": "first"},
    )
    assert code == 0, err
    assert fired.exists()  # the race was run
    deadline = time.monotonic() + 120
    while not done.exists() or not done.read_text():
        assert time.monotonic() < deadline, "the second audit never ended"
        time.sleep(0.05)
    second_err = (tmp_path / "second.err").read_text()
    assert done.read_text() == "0", second_err
    notes = _notes(repo)
    assert sorted(notes) == sorted([first, second]), (notes, second_err)
    assert json.loads(notes[first]) == json.loads(out)
    assert json.loads(notes[second]) == json.loads((tmp_path / "second.out").read_text())
    assert _scratch_refs(repo) == []


def test_a_ref_moved_under_every_attempt_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Another writer moves the ref under each attempt (from the hook, each time the
    audit's private ref is written): the audit gives up after NOTE_ATTEMPTS, says so in
    one line, exit 2; every note the other writer wrote is there, the private ref gone."""
    repo, first, second = _repo(tmp_path)
    count = tmp_path / "moves"
    _hook(
        repo,
        f"""
mine = [r for r, new in refs.items() if "-writing-" in r and set(new) != {{"0"}}]
if state != "committed" or not mine:
    sys.exit(0)
n = len(Path({str(count)!r}).read_text()) if os.path.exists({str(count)!r}) else 0
Path({str(count)!r}).write_text("x" * (n + 1))
subprocess.run(
    ["git", "notes", "--ref", "{NOTES}", "add", "-f", "-m", f"other {{n}}", {second!r}],
    check=True, capture_output=True,
)
""",
    )
    git(repo, "notes", "--ref", NOTES, "add", "-m", "before", second, env=IDENTITY)
    code, out, err = run_cli(["audit", "--rev", first, "--note"], cwd=repo, env=IDENTITY)
    assert code == 2, out + err
    (line,) = err.strip().splitlines()
    assert line.startswith("expflow-git: error: git notes: ") and f"{NOTE_ATTEMPTS} " in line
    assert "no note was stored" in line
    moves = len(count.read_text())
    assert moves >= NOTE_ATTEMPTS
    assert _notes(repo) == {second: f"other {moves - 1}"}
    assert _scratch_refs(repo) == []


def test_a_quiet_note_takes_five_git_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no other writer: one `cat-file` for the commit and the ref, `hash-object`,
    the private ref, `git notes`, the compare-and-swap."""
    repo, first, second = _repo(tmp_path)
    git(repo, "notes", "--ref", NOTES, "add", "-m", "before", second, env=IDENTITY)
    store = Git.discover(repo, env=scrubbed_env(IDENTITY))
    calls = record_calls(monkeypatch, Git, "_exec")
    store.add_note(first, b"noted\n")
    assert [call[1][0] for call in calls] == [
        "cat-file",
        "hash-object",
        "update-ref",
        "notes",
        "update-ref",
    ]
    assert store.read_note(first) == b"noted\n" and store.read_note(second) == b"before\n"
    assert _scratch_refs(repo) == []
