"""A private key in a file's (or folder's, or submodule's) name is refused by the scan,
staged and in the history, as a PIN's digest or hash in a name is (docs/spec.md §5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import demo_repository, private_key_pem, run_cli


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_repository(tmp_path_factory)


def _commit_named(repo: Path, name: str) -> None:
    import subprocess

    from support import IDENTITY

    (repo / name).write_text("hello\n")
    subprocess.run(["git", "add", "--", name], cwd=repo, check=True)
    subprocess.run(
        ["git", "commit", "-q", "--no-verify", "-m", "named"],
        cwd=repo,
        check=True,
        env={**__import__("os").environ, **IDENTITY},
    )


def test_a_private_key_in_a_file_name_is_refused_staged_and_in_history(
    demo_repo: Path, tmp_path: Path
) -> None:
    """A file named with a key's PEM text (git takes line breaks in a name; `keygen --out
    "$KEY"` makes two) passed `scan --staged`, the hook and `audit --since`: a name was
    read only for `pin.hash`, a PIN's digest and the hash format (a hunter's find, issue 18
    thirty-sixth pass)."""
    import subprocess

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(demo_repo), str(clone)], check=True)
    pem = private_key_pem()
    body = pem.splitlines()[1]
    name = pem.replace("/", "+") + ".txt"  # (a `/` would make folders: one file here)
    (clone / name).write_text("hello\n")
    subprocess.run(["git", "add", "--", name], cwd=clone, check=True)
    res = run_cli(["scan", "--staged", "--", name], clone)
    assert res.code == 1 and "private-key: the path holds a private key" in res.out, res
    assert body.replace("/", "+") not in res.out + res.err, res
    subprocess.run(["git", "reset", "-q"], cwd=clone, check=True)
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, check=True, capture_output=True, text=True
    ).stdout.strip()
    _commit_named(clone, name)
    subprocess.run(["git", "rm", "-q", "--", name], cwd=clone, check=True)
    res = run_cli(["audit", "--since", base], clone)
    assert res.code == 1 and "the path holds a private key" in res.out, res
    assert body.replace("/", "+") not in res.out + res.err, res
