"""Review of the forty-first pass (issue 18): `workspace.walk` and the policy's new
bounds, tried against what they claim."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from helpers_audit import POLICY, add_run, commit_all, m, new_repo, run_cli, write

from expflow_git.workspace import walk


def test_walk_never_follows_a_folder_replaced_by_a_link_meanwhile(tmp_path: Path) -> None:
    """`walk` is documented as os.walk's top-down walk, a link to a folder never
    followed. Python 3.11's os.walk asks whether a folder is a link as it comes to it;
    `walk` asked for every sibling at once, right after their parent was listed, so a
    sibling replaced by a link while the first one's subtree was walked was then listed
    through the link: the files of a folder outside the tree were yielded as the tree's."""
    top = tmp_path / "tree"
    for name in ("a", "b"):
        (top / name / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "SECRET").write_text("not in the tree\n")

    seen: list[tuple[str, list[str]]] = []
    first = other = ""
    for folder, dirs, files in walk(str(top)):
        seen.append((os.path.relpath(folder, top), sorted(files)))
        if folder == str(top):
            first, other = dirs[0], dirs[1]
        elif folder == str(top / first):
            shutil.rmtree(top / other)
            (top / other).symlink_to(outside, target_is_directory=True)
    assert all("SECRET" not in files for _, files in seen), seen
    assert [rel for rel, _ in seen] == [".", first, f"{first}/sub"], seen


def test_a_rule_of_a_long_integer_value_is_refused(tmp_path: Path) -> None:
    """The forty-first pass bounded a rule's `param` and string `value` at 256 characters
    because every run's report entry names each rule `param:op:value`. A rule's value may
    also be an integer, kept exactly past 2**53 (up to 4,300 digits): 200 rules whose
    value is one aliased 4,000-digit integer (a 12 KB policy) still made `audit` of 50
    one-metric runs write a 54 MB report, ~1 MB a run. An integer value is bounded as a
    string one is: more than 256 characters is a configuration error naming the rule."""
    long = "9" * 257
    policy = POLICY.replace("rules:\n", f"rules:\n  - {{param: lr, op: lt, value: {long}}}\n", 1)
    repo = new_repo(tmp_path / "repo", policy)
    add_run(repo, "e1", m(0.5))
    commit_all(repo, "a rule of a long integer")
    for args in (["validate"], ["audit", "--no-cache"]):
        res = run_cli(args, repo)
        assert res.code == 2, (args, res)
        lines = res.err.strip().splitlines()
        assert len(lines) == 1, (args, res)
        assert lines[0].startswith("expflow-git: error: expflow.yaml: /rules/0/value: "), res
        assert "Traceback" not in res.err
    # At the bound (a sign counts), the rule is as before.
    write(repo, "expflow.yaml", policy.replace(long, "-" + long[:255]))
    assert run_cli(["validate"], repo).code == 0
