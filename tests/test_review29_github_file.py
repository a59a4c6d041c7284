"""A GitHub annotation's `file=` is the file's path: e8a2a7e made `escape.terminal` show
private-use and (to Python 3.11's tables) unassigned characters as escapes, and `file=`
went through it, so `results/pdebench-task1/🩵.json` (U+1FA75, Unicode 15) was annotated
as `…/\\U0001fa75.json`, a file GitHub does not have: the error was attached to no file,
and a pull request's author could move one off its file with one private-use character
(a review, issue 18 twenty-ninth pass). `file=` escapes only what breaks the command
line now; `title=` and the message are escaped as before."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from helpers_audit import Cli, add_run, commit_all, experiment, m, new_repo, write_json

from expflow_git import escape

HEART = "\U0001fa75"  # 🩵: Unicode 15, unassigned to Python 3.11
PRIVATE = "\ue000"


def _annotations(out: str) -> list[str]:
    return [line for line in out.split("\n") if line.startswith(("::error ", "::warning "))]


@pytest.mark.parametrize("char", [HEART, PRIVATE, "\u2067"])
def test_file_is_the_raw_path(xcli: Cli, tmp_path: Path, char: str) -> None:
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "good", m(50))
    write_json(repo, f"experiments/s/{char}.json", experiment("zzz", study="s"))
    commit_all(repo)
    res = xcli(["audit", "--format", "github"], repo)
    assert res.code == 1, res
    ours = [line for line in _annotations(res.out) if "id-mismatch" in line]
    assert len(ours) == 1, res.out
    assert ours[0].startswith(f"::error file=experiments/s/{char}.json,title="), ours
    # The message is escaped as every other sink escapes it.
    message = ours[0].split("::", 2)[2]
    assert char not in message, message


def test_a_slow_run_s_warning_names_its_file(xcli: Cli, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "good", m(50))
    add_run(repo, "slow", m(50, minutes=75))
    (repo / "results/pdebench-task1/slow.json").rename(
        repo / f"results/pdebench-task1/{HEART}.json"
    )
    commit_all(repo)
    res = xcli(["audit", "--format", "github"], repo)
    files = [line.split(",", 1)[0] for line in _annotations(res.out)]
    assert f"::error file=results/pdebench-task1/{HEART}.json" in files or (
        f"::warning file=results/pdebench-task1/{HEART}.json" in files
    ), res.out


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\nb", "a%0Ab"),
        ("a\rb", "a%0Db"),
        ("a::error::x", "a%3A%3Aerror%3A%3Ax"),
        ("a,title=x", "a%2Ctitle=x"),
        ("a%0Ab", "a%250Ab"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
        ("a\udcffb", "a\\xffb"),
        ("a##vso[task.setvariable]b", "a#\\x23vso[task.setvariable]b"),
        (f"{HEART}{PRIVATE}\u200b\u202e", f"{HEART}{PRIVATE}\u200b\u202e"),
    ],
)
def test_github_path_escapes_only_what_breaks_the_line(name: str, shown: str) -> None:
    out = escape.github_path(name)
    assert out == shown
    line = f"::error file={out},title=expflow x::message"
    assert "\n" not in line and "\r" not in line
    assert line.count("::") == 2 and out.count(",") == 0
    assert not any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in line)


def test_title_and_data_still_escape_private_use() -> None:
    assert escape.github_property(HEART) == "\\U0001fa75"
    assert escape.github_data(PRIVATE) == "\\ue000"
