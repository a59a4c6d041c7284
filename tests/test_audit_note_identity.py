"""`audit --note` with git's identity given only in the environment, as CI runners give
it (GIT_AUTHOR_* / GIT_COMMITTER_*): no user.name or user.email in any config."""

from __future__ import annotations

from pathlib import Path

from conftest import git, run_cli

from expflow_git.demo import build_repo

IDENTITY = {
    "GIT_AUTHOR_NAME": "CI Runner",
    "GIT_AUTHOR_EMAIL": "ci@example.invalid",
    "GIT_COMMITTER_NAME": "CI Runner",
    "GIT_COMMITTER_EMAIL": "ci@example.invalid",
}


def test_audit_note_takes_the_identity_from_the_environment(
    tmp_path: Path, isolated_env: Path
) -> None:
    home = tmp_path / "home"  # no ~/.gitconfig, no ~/.config/git/config
    home.mkdir()
    bare = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "EMAIL": "",
        # git must not guess a name from the machine: the identity is the environment's or none
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "user.useConfigOnly",
        "GIT_CONFIG_VALUE_0": "true",
    }
    repo = tmp_path / "repo"
    repo.mkdir()
    build_repo(repo)  # committed with an identity of its own, stored in no config
    assert git(repo, "config", "--get-regexp", "^user\\.(name|email)$", env=bare, check=False) == ""

    code, out, err = run_cli(["audit", "--note", "--out", "report.json"], cwd=repo, env=bare)
    assert code == 2, out + err  # the setting above is in force: no identity, no note
    assert "git notes" in err and "\n" not in err.rstrip("\n"), err
    # A note refused leaves no report written either (it was: thirty-eighth pass)
    assert not (repo / "report.json").exists()

    env = {**bare, **IDENTITY}
    code, out, err = run_cli(["audit", "--note", "--out", "report.json"], cwd=repo, env=env)
    assert code == 0, out + err
    head = git(repo, "rev-parse", "HEAD", env=env)
    note = git(repo, "notes", "--ref", "refs/notes/expflow", "show", head, env=env)
    assert note == (repo / "report.json").read_text().strip()
    who = git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "refs/notes/expflow", env=env)
    assert who == "CI Runner <ci@example.invalid>|CI Runner <ci@example.invalid>"
