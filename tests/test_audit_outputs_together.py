"""`audit --out R --html H` writes both files or neither, and what they replace stays as
it was when it writes neither (atomicfile.open_atomic_all).

The scorecard was renamed into place before the report was flushed, synced and renamed:
a Ctrl-C between the two renames, or a report that could not take its place, left the
scorecard alone (a hunter's report: "aborted", rep.html and no rep.json; with a folder
made at rep.json meanwhile, "rep.json: Is a directory", exit 2, rep.html kept). Each
case here is made certain, not timed: the real CLI runs with os.replace wrapped, and the
signal is sent, or the folder made, at the first rename into either output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers_audit import seed_repo
from support import run_cli_code

# The CLI as `python -m expflow_git` runs it, `os.replace` wrapped: at the first rename
# into one of PAIR_TARGETS, PAIR_ACTION is done (a signal sent to itself once that
# rename is made; or "folder": a folder made at the other output before it).
WRAPPED = """
import os, signal, sys
targets = {os.path.abspath(p) for p in os.environ["PAIR_TARGETS"].split(os.pathsep)}
action = os.environ["PAIR_ACTION"]
real = os.replace
first = [True]


def replace(src, dst, *args, **kwargs):
    mine = first[0] and os.path.abspath(dst) in targets
    if mine:
        first[0] = False
        if action == "folder":
            (other,) = targets - {os.path.abspath(dst)}
            if os.path.lexists(other):
                os.unlink(other)
            os.mkdir(other)
    done = real(src, dst, *args, **kwargs)
    if mine and action != "folder":
        os.kill(os.getpid(), getattr(signal, action))
    return done


os.replace = replace
from expflow_git.cli import main

raise SystemExit(main())
"""


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_repo(tmp_path_factory.mktemp("seed") / "repo")


def _audit(seed: Path, out: Path, html: Path, action: str) -> tuple[int, str, str]:
    env = {"PAIR_TARGETS": os.pathsep.join([str(out), str(html)]), "PAIR_ACTION": action}
    return run_cli_code(WRAPPED, ["audit", "--out", str(out), "--html", str(html)], seed, env)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_between_the_two_renames_waits_for_both(
    seed: Path, tmp_path: Path, sig: str
) -> None:
    folder = tmp_path / "o"
    folder.mkdir()
    out, html = folder / "rep.json", folder / "rep.html"
    out.write_text("old report\n")
    html.write_text("old card\n")
    code, _, err = _audit(seed, out, html, sig)
    # interrupted (130) or terminated (143), one line, after both renames
    assert code == {"SIGINT": 130, "SIGTERM": 143}[sig], err
    assert "Traceback" not in err
    assert sorted(p.name for p in folder.iterdir()) == ["rep.html", "rep.json"], err
    assert "payload" in json.loads(out.read_text())
    assert "<html" in html.read_text().lower()


@pytest.mark.parametrize("before", [None, "old report\n"])
def test_a_report_that_cannot_take_its_place_takes_the_other_back(
    seed: Path, tmp_path: Path, before: str | None
) -> None:
    """The first rename is made, the second fails (a folder came at its path): the first
    file is put back as it was (the old one, or none), exit 2, one line."""
    folder = tmp_path / "o"
    folder.mkdir()
    out, html = folder / "rep.json", folder / "rep.html"
    if before is not None:
        out.write_text(before)
    code, stdout, err = _audit(seed, out, html, "folder")
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith("expflow-git: error: ") and "Is a directory" in line, err
    assert {p.name for p in folder.iterdir()} <= {"rep.json", "rep.html"}  # no temp file
    # One of the two is now the folder; no new file is anywhere, and a file the audit
    # replaced is back as it was.
    assert out.is_dir() or html.is_dir()
    assert not html.is_file(), err
    if out.is_file() or html.is_dir():
        assert (out.read_text() if out.is_file() else None) == before, err
