"""A review of the forty-second pass's secrets changes (issue 18, docs/decisions.md
"Forty-second pass"): the PIN scan's fish `set -x` where a statement begins, and the cost
of masking a typed PIN in a line quoting its argument escaped."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from helpers_audit import add_run, commit_all, m, new_repo, run_cli

KEY = "EXPFLOW" + "_PIN"
PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it


def _found(text: str) -> list[tuple[str, int]]:
    from expflow_git.pinscan.scanner import scan_bytes

    return [(f.rule, f.line) for f in scan_bytes("config.fish", text.encode())]


@pytest.mark.parametrize(
    "text",
    [
        f"if set -x {KEY} {PIN}\n    echo ok\nend\n",
        f"if not set -x {KEY} {PIN}; end\n",
        f"while set -x {KEY} {PIN}; break; end\n",
        f"begin set -x {KEY} {PIN}; end\n",
        f"time set -x {KEY} {PIN}\n",
        f"! set -x {KEY} {PIN}\n",
    ],
    ids=["if", "if-not", "while", "begin", "time", "bang"],
)
def test_a_set_after_a_keyword_on_its_own_line_is_read(text: str) -> None:
    """fish runs `if set -x NAME V` (the condition's job is the `set`): it was passed,
    where the same statement split, `if \\` then `set -x NAME V`, was flagged (the
    continued-line rule's keywords were not the one-line rule's)."""
    assert _found(text) == [("pin-assignment", 1)], text


@pytest.mark.parametrize(
    "text",
    [
        f"FOO=1 set -x {KEY} {PIN}\n",
        f"true; FOO=1 builtin \\\nset -x {KEY} {PIN}\n",
        f"FOO=1 not \\\nset -x {KEY} {PIN}\n",
        f"true; FOO=1 \\\nset -x {KEY} {PIN}\n",
    ],
    ids=["one-line", "builtin-continued", "not-continued", "continued"],
)
def test_a_set_after_a_variable_given_for_it_is_read(text: str) -> None:
    """fish 3.1 reads `FOO=1` before a statement as a variable given for it (`FOO=1 not
    …`, `FOO=1 builtin …` too): the `set` after it runs. `true; FOO=1 builtin \\` then
    `set -x NAME V` was flagged before the forty-second pass and passed after it (the
    keyword after `FOO=1` read as a command's argument)."""
    line = text.count("\n", 0, text.index("set -x")) + 1
    assert _found(text) == [("pin-assignment", line)], text


@pytest.mark.parametrize(
    "text",
    [f"echo FOO=1 \\\nset -x {KEY} {PIN}\n", f"echo FOO=1 and \\\nset -x {KEY} {PIN}\n"],
    ids=["argument", "argument-and"],
)
def test_a_variable_given_as_a_commands_argument_begins_no_statement(text: str) -> None:
    """After a command's word, `FOO=1` is its argument, as a keyword is."""
    assert _found(text) == [], text


def test_the_escaped_pieces_read_the_command_line_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`TypedPins.escaped_pieces` looks for every run of four digits the command line
    gives as a PIN, and each run's look read every pair of words for `--pin` (`_after_pin`,
    twice): quadratic in the arguments, 3,000 `--tag=pin=NNNN\\u200b` took 15 s, 300 0.7 s.
    The words after `--pin` are found once."""
    from expflow_git import errors

    calls: list[int] = []
    pairwise = itertools.pairwise

    def counted(words: Iterable[str]) -> Iterator[tuple[str, str]]:
        calls.append(1)
        return pairwise(words)

    monkeypatch.setattr(errors.itertools, "pairwise", counted)
    args = ["rank", *(f"--tag=pin={1000 + i}\u200b" for i in range(50))]
    typed = errors.TypedPins(args)
    shown = errors.masked_quoting("tag pin=1017\\u200b\nrow 1017 ok", typed)
    assert shown == "tag pin=****\\u200b\nrow 1017 ok", shown
    assert len(calls) <= 2, len(calls)


@pytest.mark.parametrize(
    "args",
    [["diff", "x{D}", "HEAD"], ["audit", "--since", "x{D}"]],
    ids=["diff-revision", "audit-since"],
)
def test_a_typed_argument_holding_a_pins_digest_after_a_letter_is_masked(
    tmp_path: Path, args: list[str]
) -> None:
    """docs/spec.md §4: "An error, warning or status line also masks … a PIN's SHA-256 …
    an argument holds". The forty-second pass masked `x<digest>` (a PIN's SHA-256 after
    a letter, which the scan flags in a path) in the import's lines only (`masked_line`);
    every other command's error line quoted the argument whole (`b-<digest>` is masked:
    `mask_secrets` reads a 64-hex word only)."""
    root = new_repo(tmp_path / "repo")
    add_run(root, "a1", m(50.0))
    commit_all(root)
    digest = hashlib.sha256(PIN.encode()).hexdigest()
    res = run_cli([a.replace("{D}", digest) for a in args], root)
    assert res.code == 2, res
    assert "unknown revision" in res.err, res
    assert digest not in (res.out + res.err).lower(), res
