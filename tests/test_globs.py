"""Policy globs (expflow_git/globs.py): the semantics, the non-backtracking matcher
against the regex it replaces for unsafe globs, and the denial of service of issue 14
item 10 through the real CLI (`audit`, `validate`, `scan` with `scan.allow`)."""

from __future__ import annotations

import re

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from expflow_git.globs import (
    _Matcher,
    classifier,
    glob_regex,
    glob_set,
    matches_any,
    regex_is_safe,
)

pytestmark = pytest.mark.usefixtures("isolated_env")

# The issue's input: 13 `*a` in one segment against a 40-character name of `a`s.
EVIL_GLOB = "experiments/" + "*a" * 13 + "*b.json"
EVIL_NAME = "experiments/" + "a" * 40 + ".json"


# --- which globs keep the regex --------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "safe"),
    [
        ("experiments/**/*.json", True),
        ("results/*/*.json", True),
        ("**/pin.hash", True),
        ("tests/fixtures/**", True),
        ("a/**/b/**", True),  # one inner `**`, one trailing
        ("**/**", True),
        ("a***b/c", True),  # a run of `*` is one `*`
        ("*a*.json", False),  # two runs in one segment
        (EVIL_GLOB, False),
        ("**/x/**/y", False),  # two inner `**`
        ("**/**/x", False),
    ],
)
def test_regex_is_safe(pattern: str, safe: bool) -> None:
    assert regex_is_safe(pattern) is safe


# --- the matcher is the regex, without the backtracking ------------------------------

_PATTERN_PARTS = ["a", "b", ".", "*", "**", "?", "/", "[ab]", "[!a]", "[]a]", "[", "]", "!", "-"]
_PATH_PARTS = ["a", "b", ".", "/", "]", "[", "!", "-", "\n", "é"]


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(st.sampled_from(_PATTERN_PARTS), max_size=8).map("".join),
    st.lists(st.sampled_from(_PATH_PARTS), max_size=9).map("".join),
)
def test_matcher_equals_the_regex(pattern: str, path: str) -> None:
    try:
        regex = glob_regex(pattern)
    except re.error:
        return
    expected = regex.fullmatch(path) is not None
    assert _Matcher.of(pattern).matches(path) is expected
    stripped = regex.fullmatch(path.removeprefix("./")) is not None  # as matches_any reads it
    assert matches_any(path, [pattern]) is stripped


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*a*b.json", "xaybz.json", False),
        ("*a*b.json", "xayb.json", True),
        ("*a*b.json", "d/ab.json", False),  # `*` never crosses '/'
        ("**/*a*/**/*b*/x", "a/b/x", True),
        ("**/*a*/**/*b*/x", "q/za/r/s/bz/x", True),
        ("**/*a*/**/*b*/x", "q/za/r/s/z/x", False),
        ("a/**/b/**/c", "a/b/c", True),
        ("a/**/b/**/c", "a/x/b/y/z/c", True),
        ("a/**/b/**/c", "a/x/y/z/c", False),
        ("a/*[!x]?*/**", "a/qzz/", True),
        ("a/*[!x]?*/**", "a/qzz", False),  # a trailing `**` needs the '/'
        ("./**/**/*.lock", "deep/er/f.lock", True),
    ],
)
def test_unsafe_globs_keep_their_meaning(pattern: str, path: str, expected: bool) -> None:
    assert not regex_is_safe(pattern)
    assert matches_any(path, [pattern]) is expected
    assert (glob_regex(pattern).fullmatch(path) is not None) is expected


def test_a_set_mixes_regex_and_matcher() -> None:
    globs = ("results/**/*.json", "*a*b.txt")
    gs = glob_set(globs)
    assert gs.regex is not None and len(gs.others) == 1
    assert gs.matches("results/s/x.json") and gs.matches("zazb.txt")
    assert not gs.matches("results.json") and not gs.matches("ab/b.txt")


@pytest.mark.parametrize("unsafe", [False, True])
def test_classifier_takes_the_first_group_that_matches(unsafe: bool) -> None:
    results = ("results/**/*.json", "shared/*.json") + (("*q*z/*.json",) if unsafe else ())
    experiments = ("experiments/**/*.json", "shared/*.json")
    classify = classifier((results, experiments))
    assert classify("results/s/a.json") == 0
    assert classify("shared/a.json") == 0  # both match: the first group wins
    assert classify("experiments/a.json") == 1
    assert classify("notes/a.txt") is None
    if unsafe:
        assert classify("xqyz/a.json") == 0


def test_the_issue_glob_is_fast_and_right() -> None:
    # minutes with the old regex; the matcher answers at once
    assert matches_any(EVIL_NAME, [EVIL_GLOB]) is False
    assert matches_any("experiments/" + "a" * 12 + "b.json", [EVIL_GLOB]) is False
    assert matches_any("experiments/" + "a" * 26 + "b.json", [EVIL_GLOB]) is True


# --- through the CLI ------------------------------------------------------------------


def _evil_policy(exp_repo: ExpRepo, *, allow: bool = False) -> None:
    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text().replace('"experiments/**/*.json"', f'"{EVIL_GLOB}"', 1)
    assert EVIL_GLOB in text
    if allow:
        text += f'scan:\n  allow: ["{EVIL_GLOB}", "docs/{"*a" * 13}*b.txt"]\n'
    policy.write_text(text)


def test_audit_with_a_backtracking_glob_finishes(exp_repo: ExpRepo) -> None:
    _evil_policy(exp_repo)
    exp_repo.write(EVIL_NAME, "{}\n")
    exp_repo.commit("evil")
    code, out, err = run_cli(["audit"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert code in (0, 1), err
    assert EVIL_NAME not in out  # the file is not a record under that glob: not checked


def test_validate_with_a_backtracking_glob_finishes(exp_repo: ExpRepo) -> None:
    _evil_policy(exp_repo)
    exp_repo.write(EVIL_NAME, "{}\n")
    matching = "experiments/" + "a" * 26 + "b.json"
    exp_repo.write(matching, "{}\n")
    exp_repo.stage()
    code, out, err = run_cli(["validate", EVIL_NAME, matching], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert code == 1
    assert matching in out  # a record under the glob, and invalid
    assert EVIL_NAME not in out


def test_scan_allow_with_a_backtracking_glob_finishes(exp_repo: ExpRepo) -> None:
    _evil_policy(exp_repo, allow=True)
    leak = "EXPFLOW_PIN=4821\n"
    exp_repo.write("docs/" + "a" * 40 + ".txt", leak)  # not allowed: scanned
    exp_repo.write("docs/" + "a" * 26 + "b.txt", leak)  # allowed
    code, out, err = run_cli(["scan", "docs"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert code == 1
    assert out.count("pin-assignment") == 1 and "a" * 40 + ".txt" in out
    exp_repo.commit("docs")
    code, out, err = run_cli(["audit"], cwd=exp_repo.path)
    assert code == 1 and "a" * 40 + ".txt" in out and "b.txt" not in out
