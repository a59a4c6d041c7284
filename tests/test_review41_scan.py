"""A review of the forty-first pass's PIN scan changes (issue 18), each a test that failed
on the code it reviewed:

- a line continuing one whose words end with an operator (`true; \\` then `set -x
  EXPFLOW_PIN NNNN`), or continuing a line holding only the `\\`, was taken for a command's
  argument: a real assignment the code before flagged was passed (`_continued`);
- a `value` key written before its `name: EXPFLOW_PIN` entry, with comment lines between
  that reach past 256 characters or name the variable, was not read, though docs/spec.md
  says up to eight comment lines are read with either key first (`_value_before`).

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import pytest
from conftest import ExpRepo
from test_hunt40_scan import KEY, PIN, assert_refused_masked

from expflow_git.pinscan.scanner import scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")


def _found(path: str, text: str) -> list[tuple[str, int, int]]:
    return [(f.rule, f.line, f.col) for f in scan_bytes(path, text.encode())]


# (name, text, the line and column of the value)
HIDDEN = [
    ("semicolon", f"true; \\\nset -x {KEY} {PIN}\n", 2, 20),
    ("and-and", f"true && \\\nset -x {KEY} {PIN}\n", 2, 20),
    ("pipe", f"true | \\\nset -gx {KEY} {PIN}\n", 2, 21),
    ("paren", f"echo ( \\\nset -x {KEY} {PIN})\n", 2, 20),
    ("begin", f"begin; \\\n  set -x {KEY} {PIN}\nend\n", 2, 22),
    ("crlf", f"true; \\\r\nset -x {KEY} {PIN}\r\n", 2, 20),
    ("lone-backslash", f"\\\nset -x {KEY} {PIN}\n", 2, 20),
    ("blank-backslash", f"echo a\n   \\\nset -x {KEY} {PIN}\n", 3, 20),
    ("semicolon-then-blank", f"true; \\\n  \\\nset -x {KEY} {PIN}\n", 3, 20),
    ("if", f"if \\\nset -x {KEY} {PIN}\nend\n", 2, 20),
    ("setenv", f"true; \\\nsetenv {KEY} {PIN}\n", 2, 20),
]


@pytest.mark.parametrize(("name", "text", "line", "col"), HIDDEN, ids=[n for n, *_ in HIDDEN])
def test_a_statement_after_an_operator_and_a_continuation_is_read(
    name: str, text: str, line: int, col: int
) -> None:
    """`true; \\` then `set -x EXPFLOW_PIN NNNN` is `true; set -x EXPFLOW_PIN NNNN`: the
    `set` begins a statement (after the operator), as after a line holding only `\\`.
    The code before the forty-first pass flagged each; it passed them (a miss any author
    could use), taking every line after a `\\` for a command's arguments."""
    assert _found("config.fish", text) == [("pin-assignment", line, col)], text


@pytest.mark.parametrize(
    "text",
    [
        f"echo a \\\nset -x {KEY} {PIN}\n",
        f"echo a \\\n  \\\nset -x {KEY} {PIN}\n",  # a blank continued line between
        f"echo a; echo b \\\nset -x {KEY} {PIN}\n",  # an operator earlier on the line
    ],
    ids=["words", "words-then-blank", "operator-earlier"],
)
def test_a_line_continuing_a_commands_words_still_begins_no_statement(text: str) -> None:
    assert _found("config.fish", text) == [], text


COMMENT = "    # " + "x" * 40 + "\n"
BEFORE = [
    ("eight-comments", f'env:\n  - value: "{PIN}"\n' + COMMENT * 8 + f"    name: {KEY}\n"),
    (
        "comment-naming-it",
        f'env:\n  - value: "{PIN}"\n    # {KEY} from the vault\n    name: {KEY}\n',
    ),
]


@pytest.mark.parametrize(("name", "text"), BEFORE, ids=[n for n, _ in BEFORE])
def test_a_value_key_above_comment_lines_is_read(name: str, text: str) -> None:
    """docs/spec.md §5: "up to eight comment or blank lines between", either key first;
    with the `value` key first the look back stopped at 256 characters and at a comment
    naming the variable, where the `name` key first reads both."""
    assert _found("k8s.yaml", text) == [("pin-assignment", 2, 13)], text
    first = text.replace(f'  - value: "{PIN}"\n', f"  - name: {KEY}\n", 1)
    last = first[: first.rindex("    name:")] + f'    value: "{PIN}"\n'
    assert [r for r, *_ in _found("k8s.yaml", last)] == ["pin-assignment"], last


def test_the_real_cli_refuses_them(exp_repo: ExpRepo) -> None:
    """`scan` and `scan --staged` refuse each form (exit 1, each named, the PIN masked)."""
    files = {f"leaks/{n}.fish": t for n, t, *_ in HIDDEN[:2]}
    files.update({f"leaks/{n}.yaml": t for n, t in BEFORE})
    assert_refused_masked(exp_repo, files)
