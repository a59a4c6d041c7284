"""Repository strings and secrets where they reach an output: an attacker's hunt, issue
18 thirty-ninth pass (docs/decisions.md).

Real git repositories in tmp dirs, the Python API and the real CLI as a subprocess.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_audit import DATE, add_run, commit_all, git, m, new_repo
from helpers_audit import run_cli as cli
from support import run_git

from expflow_git import Repository

STUDY = "pdebench-task1"
PASSWORD = "hunter2secret"
TOKEN = "tok3nvalue"

# What a training script's libraries raise, quoting the tracking or storage URI they were
# given: MLflow's REST client (`mlflow.set_tracking_uri("http://alice:PASSWORD@host")`,
# mlflow/utils/rest_utils.py: "API request to {url} failed with exception {e}"), a
# SQLAlchemy URL quoted in its error, and a token in a URL's query.
MESSAGES = (
    f"API request to http://alice:{PASSWORD}@127.0.0.1:9/api/2.0/mlflow/experiments/"
    "get-by-name failed with exception HTTPConnectionPool(host='127.0.0.1', port=9): Max "
    "retries exceeded",
    f"Could not parse SQLAlchemy URL from string 'postgresql://optuna:{PASSWORD}@db/optuna'",
    f"GET https://mlflow.example.com/api?token={TOKEN}&x=1 returned 403",
)


@pytest.mark.usefixtures("isolated_env")
def test_a_failed_runs_reason_holds_no_tracking_uri_password(tmp_path: Path) -> None:
    """`Repository.run` writes an exception's message as the failed run's reason, a
    record committed and shown by `list`, `show`, the audit and the job summary. The
    reason was masked of what the PIN scan flags only, so MLflow's own error for a
    tracking URI holding a password (`http://user:PASSWORD@host`) was committed with the
    password, where `import` drops it from every provenance URI and error line (spec
    §4.2: "a library's error never shows a password"). A URL's password and secret
    query values are now masked in the reason as an import masks them."""
    root = new_repo(tmp_path / "repo")
    commit_all(root)
    repo = Repository(root)
    for i, message in enumerate(MESSAGES):
        with pytest.raises(RuntimeError):
            with repo.run(f"a{i}", study=STUDY):
                raise RuntimeError(message)
    reasons = [
        json.loads((root / "experiments" / STUDY / f"a{i}.json").read_text())["reason"]
        for i in range(len(MESSAGES))
    ]
    for reason in reasons:
        assert PASSWORD not in reason and TOKEN not in reason, reason
    # The rest of the message, the URL's host and path among it, is as it was.
    assert reasons[0].startswith(
        "RuntimeError: API request to http://alice@127.0.0.1:9/api/2.0/mlflow/experiments/"
    ), reasons[0]
    assert "'postgresql://optuna@db/optuna'" in reasons[1], reasons[1]
    assert "https://mlflow.example.com/api?token=" in reasons[2], reasons[2]
    assert reasons[2].endswith("&x=1 returned 403"), reasons[2]
    res = cli(["list"], root)
    assert res.code == 0 and PASSWORD not in res.out + res.err, res


def test_a_reason_without_a_uri_is_as_it_was() -> None:
    """Only a URL's secrets are masked: a reason naming a URL without any, or a key and a
    token outside a URL, is written as the message says it."""
    from expflow_git.run import failure_reason

    for message in (
        "API request to http://127.0.0.1:9/api failed",
        "monkey=3 token_count=12 at https://example.com/x?page=2",
        "no URL here: lr=0.1",
    ):
        assert failure_reason(RuntimeError(message), 2000) == f"RuntimeError: {message}"


def test_pre_push_note_escapes_the_branch_name(tmp_path: Path) -> None:
    """The plain pre-push hook's note for a remote commit this clone never fetched named
    the remote branch raw (`echo "… $remote_ref is at …"`): a branch a pull request's
    author named on a shared remote may hold any byte git allows in a ref, a bidi
    override (U+202E) that reorders the rest of the note on the pusher's terminal, or a
    zero-width character that hides in it. Each byte outside printable ASCII is shown
    as `\\xNN` now, as every other line escapes a repository's strings."""
    root = new_repo(tmp_path / "repo")
    add_run(root, "a1", m(50.0))
    commit_all(root)
    assert cli(["install-hooks"], root).code == 0
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(root, "remote", "add", "origin", str(bare))
    branch = "fix\u202eexe.txt\u200b"
    ref = f"HEAD:refs/heads/{branch}"
    assert run_git(root, "push", "-q", "--no-verify", "origin", ref).returncode == 0
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", branch, str(bare), str(other))
    git(other, "commit", "-q", "--allow-empty", "--no-verify", "-m", "elsewhere")
    assert run_git(other, "push", "-q", "--no-verify", "origin", branch).returncode == 0
    git(root, "commit", "-q", "--allow-empty", "--no-verify", "-m", "here")
    proc = run_git(root, "push", "-q", "--force", "origin", ref, date=DATE)
    assert proc.returncode == 0, proc.stderr
    note = next(line for line in proc.stderr.splitlines() if "not fetched here" in line)
    assert "\u202e" not in note and "\u200b" not in note, note
    assert note.startswith(
        "expflow-git: note: refs/heads/fix\\xe2\\x80\\xaeexe.txt\\xe2\\x80\\x8b is at "
    ), note
