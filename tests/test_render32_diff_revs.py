"""`diff`'s line for no change quotes the revisions as typed: escaped like its table's
headers (a hunt of the outputs, issue 18 thirty-second pass: `:/<regex>` names a commit
by any text of its message, and a CR, an escape or an `<img>` in it came out raw, the
Markdown fetching a remote image in a job summary)."""

from __future__ import annotations

import re
from pathlib import Path

from helpers_audit import Cli, add_run, commit_all, m, new_repo

NOTE = "note <img src=https://evil.example/p.png>\r::error title=forged::\x1b[31m"


def test_the_revisions_of_a_diff_with_no_change_are_escaped(xcli: Cli, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "run-00", m(50))
    commit_all(repo, "first")
    (repo / "notes.txt").write_text("a note\n")
    commit_all(repo, NOTE)
    rev = ":/note <img"
    text = xcli(["diff", "HEAD~1", rev], repo)
    assert (text.code, text.out) == (0, f"no metric changed between HEAD~1 and {rev}\n")
    shown = xcli(["diff", "HEAD~1", f"{rev} src=https://evil.example/p.png>\r::error"], repo)
    assert shown.out == (
        "no metric changed between HEAD~1 and :/note <img src=https://evil.example/p.png>"
        "\\x0d::error\n"
    )
    md = xcli(["diff", "HEAD~1", rev, "--format", "md"], repo)
    assert md.code == 0 and not re.search(r"(?<!\\)<", md.out), md  # every `<` escaped
    assert md.out.startswith("no metric changed between HEAD\\~1 and :/note \\<img"), md
