"""Security review 2 (hooks), through real `git commit`, `git merge` and `pre-commit run`:

- validation gets every staged file, whatever its name: a policy may name any file as a
  document (`results: [..., "final/*"]`), and a bad one there no longer commits cleanly,
  with the plain hook or with the pre-commit config `init` writes;
- `install-hooks` installs a pre-merge-commit hook: a merge that commits without conflicts
  (which runs no pre-commit hook) is checked too;
- the init config's scan hook is given symbolic links (their target is their content).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output, git_env, result_doc, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN_SHA = hashlib.sha256(b"1234").hexdigest()
BAD = "final/e1"


def _name_final_results(repo: ExpRepo) -> None:
    """The policy also names every file below final/ a result (no `.json` suffix)."""
    policy = (repo.path / "expflow.yaml").read_text()
    new, count = re.subn(
        r"(?m)^  results: .*$", '  results: ["results/**/*.json", "final/*"]', policy
    )
    assert count == 1
    repo.write("expflow.yaml", new)


@pytest.fixture
def hooked(committed_repo: ExpRepo) -> ExpRepo:
    """The plain hooks installed, a policy naming final/*, and the seed run committed."""
    code, out, err = run_cli(["install-hooks"], committed_repo.path)
    assert code == 0, (out, err)
    _name_final_results(committed_repo)
    committed_repo.add_experiment()
    committed_repo.add_result()
    committed_repo.commit("policy and exp-001")
    return committed_repo


def _commit(repo: ExpRepo, message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "-q", "-m", message],
        cwd=repo.path,
        env=git_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_plain_hook_validates_a_document_without_a_json_name(hooked: ExpRepo) -> None:
    hooked.write_json(BAD, result_doc("exp-001", metrics={"seg_totl": 1.0}))  # a copied result
    hooked.stage(BAD)
    proc = _commit(hooked, "copy")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert f"{BAD}#/metrics" in proc.stdout + proc.stderr
    assert_clean_output(proc.stdout, proc.stderr)
    hooked.git("reset", "-q")
    os.remove(hooked.path / BAD)
    # A file the policy does not name is not a document: committed as before.
    hooked.write("notes/todo", "nothing to see\n")
    hooked.write("Makefile", "all:\n\ttrue\n")
    hooked.stage()
    proc = _commit(hooked, "notes")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_clean_merge_runs_the_hooks(hooked: ExpRepo) -> None:
    assert os.access(hooked.path / ".git" / "hooks" / "pre-merge-commit", os.X_OK)
    base = hooked.head()
    hooked.git("checkout", "-q", "-b", "side")
    hooked.write_json(BAD, {"schema": "expflow/result@1"})
    hooked.commit("a bad result, hooks skipped")  # --no-verify
    hooked.git("checkout", "-q", "main")
    hooked.write("notes/a.txt", "main moves on\n")
    hooked.commit("main")
    head = hooked.head()
    proc = subprocess.run(
        ["git", "merge", "--no-ff", "-q", "-m", "merge side", "side"],
        cwd=hooked.path,
        env=git_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert BAD in proc.stdout + proc.stderr
    assert hooked.head() == head  # no merge commit
    hooked.git("merge", "--abort")
    # A merge of good work commits through the same hook.
    hooked.git("checkout", "-q", "-b", "good", base)
    hooked.add_experiment("exp-002")
    hooked.add_result("exp-002")
    hooked.commit("exp-002")
    hooked.git("checkout", "-q", "main")
    proc = subprocess.run(
        ["git", "merge", "--no-ff", "-q", "-m", "merge good", "good"],
        cwd=hooked.path,
        env=git_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert hooked.git("rev-list", "--parents", "-n", "1", "HEAD").count(" ") == 2


@pytest.fixture
def framework_env(isolated_env: Path, tmp_path: Path) -> dict[str, str]:
    """pre-commit with this venv's `expflow-git` on PATH (the init config's hooks are local)."""
    return {
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "EXPFLOW_HOME": str(isolated_env),
        "PRE_COMMIT_COLOR": "never",
    }


def _pre_commit(repo: ExpRepo, env: dict[str, str], hook: str, *files: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", hook, "--verbose", "--files", *files],
        cwd=repo.path,
        env=git_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert "An unexpected error has occurred" not in output, output
    return proc.returncode, output


def test_the_init_config_validates_any_named_file_and_scans_links(
    committed_repo: ExpRepo, framework_env: dict[str, str]
) -> None:
    assert (committed_repo.path / ".pre-commit-config.yaml").is_file()
    _name_final_results(committed_repo)
    committed_repo.write_json(BAD, {"schema": "expflow/result@1"})
    os.symlink(PIN_SHA, committed_repo.path / "leaklink")
    committed_repo.stage()
    code, output = _pre_commit(committed_repo, framework_env, "expflow-validate", BAD)
    assert code == 1, output
    assert BAD in output
    code, output = _pre_commit(committed_repo, framework_env, "expflow-no-pin-hash", "leaklink")
    assert code == 1, output
    assert "leaklink:1:1: pin-sha256" in output


def test_a_submodule_commits_through_the_plain_hook(hooked: ExpRepo, tmp_path: Path) -> None:
    """Validation gets no submodule: its checkout is no folder of staged files, even where
    the policy's globs would name the files inside it."""
    sub = tmp_path / "sub"
    sub.mkdir()
    hooked.git("init", "-q", str(sub))
    (sub / "final").mkdir()
    (sub / "final" / "x").write_text("{}\n")
    for args in (
        ("add", "-A"),
        ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "s"),
    ):
        hooked.git("-C", str(sub), *args)
    policy = (hooked.path / "expflow.yaml").read_text()
    hooked.write("expflow.yaml", policy.replace('"final/*"', '"**/final/*"'))
    hooked.commit("any final/ folder")
    hooked.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "vendor")
    proc = _commit(hooked, "vendor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
