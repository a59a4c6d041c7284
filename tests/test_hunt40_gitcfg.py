"""An attacker's hunt of git's configuration and environment (fortieth pass): a user's
~/.gitconfig, a repository's .git/config, the variables hooks and CI runners set. For
one small repository the signed report, every verdict and what a command prints must be
the same whatever of them is set (each tried alone); what differed is minimised here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git, git_init, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

SUBJECT = "Ünïcode: e1's first result"
AUTHOR = "Zoë Ångström"


def _ok(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    code, out, err = run_cli(list(args), repo, env=env)
    assert code == 0, (args, out, err)
    return out


@pytest.fixture
def run_with_history(tmp_path: Path) -> Path:
    """A run e1 whose record and result one commit added, its subject and author not
    ASCII (what `show` prints as the run's history)."""
    repo = git_init(tmp_path / "repo")
    _ok(repo, "init", "--template", "minimal")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "init")
    _ok(repo, "new", "e1", "--study", "s")
    _ok(repo, "result", "e1", "--metric", "accuracy=0.5")
    git(repo, "add", "-A")
    who = {"GIT_AUTHOR_NAME": AUTHOR, "GIT_AUTHOR_EMAIL": "zoe@example.com"}
    git(repo, "commit", "-q", "--no-verify", "-m", SUBJECT, env=who)
    return repo


def _history(repo: Path, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    history = json.loads(_ok(repo, "show", "e1", "--format", "json", env=env))["history"]
    assert isinstance(history, list)
    return history


@pytest.mark.parametrize(
    "config",
    [
        # git re-encodes a commit's subject and author to the user's log encoding: read
        # as UTF-8, `Ünïcode` came out as `\ufffdn\ufffdcode` (and the author likewise)
        "[i18n]\n\tlogOutputEncoding = latin1\n",
        # git lists a commit's changed paths in the order the user's order file says
        "[diff]\n\torderFile = {order}\n",
    ],
    ids=["i18n.logOutputEncoding", "diff.orderFile"],
)
def test_show_history_is_the_same_whatever_the_users_git_config(
    run_with_history: Path, tmp_path: Path, config: str
) -> None:
    """`show`'s history (text and JSON) is one `git log`, a porcelain command that reads
    the user's configuration: with `i18n.logOutputEncoding = latin1` in ~/.gitconfig the
    JSON held U+FFFD for every non-ASCII letter of the subject and the author, and with
    `diff.orderFile` the changes came in the user's order, not git's (by path)."""
    repo = run_with_history
    expected = _history(repo)
    entry = expected[0]
    assert entry["subject"] == SUBJECT and entry["author"] == AUTHOR, entry
    changes = entry["changes"]
    assert isinstance(changes, list)
    assert [c["path"] for c in changes] == ["experiments/s/e1.json", "results/s/e1.json"]
    home = tmp_path / "home"
    home.mkdir()
    order = tmp_path / "order"
    order.write_text("results/*\n")
    (home / ".gitconfig").write_text(config.format(order=order))
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    assert _history(repo, env) == expected
    # the text view prints the same subject
    text = _ok(repo, "show", "e1", env=env)
    assert SUBJECT in text and "\ufffd" not in text, text


# ------------------------------------------------------------------------------ demo
def _demo(where: Path, env: dict[str, str] | None = None) -> tuple[str, str]:
    """`demo --dir WHERE`: its commit's id and what it printed (exit 0 asserted)."""
    code, out, err = run_cli(["demo", "--dir", str(where)], where.parent, env=env)
    assert code == 0 and "Traceback" not in err, (code, out, err)
    return git(where / "repo", "rev-parse", "HEAD"), out


@pytest.fixture(scope="module")
def plain_demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo's commit with no configuration of the user's (HOME an empty folder)."""
    base = tmp_path_factory.mktemp("plain-demo")
    home = base / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    return _demo(base / "demo", env)[0]


def _hooks(folder: Path) -> Path:
    """A hooks folder as a user's ~/.gitconfig may name for every repository: a
    pre-commit hook that refuses, a prepare-commit-msg hook that edits the message."""
    folder.mkdir()
    for name, body in (
        ("pre-commit", 'echo "the global hook refuses" >&2\nexit 1\n'),
        ("prepare-commit-msg", 'printf "[team] " | cat - "$1" > "$1.new" && mv "$1.new" "$1"\n'),
    ):
        (folder / name).write_text("#!/bin/sh\n" + body)
        (folder / name).chmod(0o755)
    return folder


@pytest.mark.parametrize(
    "setting",
    [
        # a user's hooks for every repository: the demo's commit ran them (a refusal was a
        # traceback; an edited message another commit)
        "hooks",
        # a commit encoding of the user's: git wrote an `encoding latin1` header, another
        # commit, so another report than the one the demo makes everywhere else
        "encoding",
        # a user's global ignore file naming results/: `git add -A` left every result
        # out, and the demo failed at its own `rank` (exit 1)
        "excludes",
    ],
)
def test_the_demo_commits_the_same_whatever_the_users_git_config(
    tmp_path: Path, plain_demo: str, setting: str
) -> None:
    """The demo's commit is fixed (its dates, author and files), so its report is the
    same on every machine (tests/test_demo.py): a user's ~/.gitconfig must not change it
    nor stop it."""
    home = tmp_path / "home"
    home.mkdir()
    config = {
        "hooks": f"[core]\n\thooksPath = {_hooks(tmp_path / 'hooks')}\n",
        "encoding": "[i18n]\n\tcommitEncoding = latin1\n",
        "excludes": f"[core]\n\texcludesFile = {tmp_path / 'ignore'}\n",
    }[setting]
    (tmp_path / "ignore").write_text("results/\n")
    (home / ".gitconfig").write_text(config)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    head, out = _demo(tmp_path / "demo", env)
    assert head == plain_demo
    assert "best_feasible: exp-001" in out and "VERIFIED" in out, out
