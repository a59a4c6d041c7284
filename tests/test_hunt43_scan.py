"""The PIN scan's known misses in fish, csh and PowerShell lines (issue 18, forty-third pass;
docs/decisions.md "Forty-third pass"): the forty-second pass left a keyword fish reads with
quotes inside it (`a''nd`), quoted keywords on one line (`x; 'and' set …`), fish 4's
`{ … }` and csh's `if (…) setenv`. Each test of a leak failed on the code before (the
leak passed); each test of a line left clean passed or failed as its docstring says.

fish's reading follows its parser (`unescape_keyword`, fish 3 and 4; the `{` token of fish
4's tokenizer), csh's the tcsh manual (`if (expr) command`, `repeat count command`): no
fish or tcsh was installed where these were written.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import re

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli
from hypothesis import given
from hypothesis import strategies as st
from test_hunt40_scan import assert_refused_masked

from expflow_git.pinscan import envpairs
from expflow_git.pinscan.scanner import scan_bytes
from expflow_git.pinscan.shellwords import fish_keyword, spelled

pytestmark = pytest.mark.usefixtures("isolated_env")

KEY = "EXPFLOW" + "_PIN"
PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it
TICK = "`"


def _found(path: str, text: str) -> list[tuple[str, int, int]]:
    return [(f.rule, f.line, f.col) for f in scan_bytes(path, text.encode())]


def _at_pin(text: str) -> tuple[str, int, int]:
    """The finding a leak in `text` must give: an assignment at its one PIN."""
    at = text.index(PIN)
    return "pin-assignment", text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


# (name, file, text): each passed before this pass (`\x61nd`, `\u006Fr` were read already,
# the file's escapes decoded: spec §5)
LEAKS = [
    # fish reads the keyword through its quotes and escapes
    ("quotes-inside", "config.fish", f"a''nd set -x {KEY} {PIN}\n"),
    ("quoted-after-op", "config.fish", f"true; 'and' set -x {KEY} {PIN}\n"),
    ("double-quoted", "config.fish", f'true; "not" set -gx {KEY} {PIN}\n'),
    ("split-quotes", "config.fish", f"true; a\"n\"d set -x {KEY} '{PIN}'\n"),
    ("octal-escape", "config.fish", f"true; \\141nd set -x {KEY} {PIN}\n"),
    ("literal-escape", "config.fish", f"true; n\\ot set -x {KEY} {PIN}\n"),
    ("if-quoted", "config.fish", f"'if' set -x {KEY} {PIN}\nend\n"),
    ("begin-escaped", "config.fish", f"be\\gin set -x {KEY} {PIN}; end\n"),
    ("joined-by-continuation", "config.fish", f"true; an\\\nd set -x {KEY} {PIN}\n"),
    ("continued-quoted", "config.fish", f"true; a''nd \\\nset -x {KEY} {PIN}\n"),
    # fish's `else` and fish 4's block
    ("else", "config.fish", f"if false\nelse set -x {KEY} {PIN}\nend\n"),
    ("brace-block", "config.fish", f"{{ set -x {KEY} {PIN}; }}\n"),
    ("brace-glued", "config.fish", f"{{set -gx {KEY} {PIN}}}\n"),
    ("brace-after-and", "config.fish", f"true; and {{ set -x {KEY} {PIN} }}\n"),
    ("brace-continued", "config.fish", f"true; {{ \\\nset -x {KEY} {PIN}\n}}\n"),
    # csh's one-line `if` and `repeat`
    ("csh-if", "login.csh", f"if ($?X == 0) setenv {KEY} {PIN}\n"),
    ("csh-if-glued", "login.csh", f"if(1)setenv {KEY} {PIN}\n"),
    ("csh-if-nested", "login.csh", f"if ((($x == 1) && ($y != 2))) setenv {KEY} {PIN}\n"),
    ("csh-if-continued", "login.csh", f"if ( $x == 1 ) \\\n  setenv {KEY} {PIN}\n"),
    ("csh-if-after-op", "login.csh", f"echo hi; if (1) setenv {KEY} {PIN}\n"),
    ("csh-repeat", "login.csh", f"repeat 1 setenv {KEY} {PIN}\n"),
    # a command substitution holding the PIN, as `$(echo NNNN)` was read
    ("fish-substitution", "config.fish", f"set -x {KEY} (echo {PIN})\n"),
    ("fish-substitution-printf", "config.fish", f"set -gx {KEY} (printf %s {PIN})\n"),
    ("csh-backquotes", "login.csh", f"setenv {KEY} {TICK}echo {PIN}{TICK}\n"),
    ("substitution-naming-it", "config.fish", f"set -x {KEY} (echo set -x {KEY} x; echo {PIN})\n"),
    # PowerShell's braced variable, as `$env:NAME = value`
    ("powershell-braced", "profile.ps1", f'${{env:{KEY}}} = "{PIN}"\n'),
    ("powershell-braced-bare", "profile.ps1", f"${{Env:{KEY}}}={PIN}\n"),
]


@pytest.mark.parametrize(("name", "path", "text"), LEAKS, ids=[n for n, *_ in LEAKS])
def test_a_command_after_these_forms_is_read(name: str, path: str, text: str) -> None:
    """Spec §5: fish's `set -x NAME value` and csh's `setenv NAME value` where a statement
    begins, after fish's keywords as fish reads them, fish 4's `{`, csh's `if (…)` and
    `repeat N`; a command substitution's word of four digits; an assignment in a shell."""
    assert _found(path, text) == [_at_pin(text)], text


# (name, file, text, what the code before said): lines no shell runs an assignment in
CLEAN = [
    # a keyword, quoted or not, after a command's word is its argument (clean before)
    ("echo-quotes", "config.fish", f"echo a''nd set -x {KEY} {PIN}\n", "clean"),
    ("echo-quoted", "config.fish", f"echo 'and' set -x {KEY} {PIN}\n", "clean"),
    ("echo-brace", "config.fish", f"echo {{ set -x {KEY} {PIN} }}\n", "clean"),
    ("echo-joined", "config.fish", f"echo an\\\nd set -x {KEY} {PIN}\n", "clean"),
    # fish reads `\a` as the bell: `\and` is no keyword (flagged before when continued)
    ("bell", "config.fish", f"true; \\and set -x {KEY} {PIN}\n", "clean"),
    ("bell-continued", "config.fish", f"true; \\and \\\nset -x {KEY} {PIN}\n", "flagged"),
    # a `\` no blank stands before joins the word to the next line's: `andset` (flagged)
    ("glued-keyword", "config.fish", f"and\\\nset -x {KEY} {PIN}\n", "flagged"),
    ("glued-after-op", "config.fish", f"true; and\\\nset -x {KEY} {PIN}\n", "flagged"),
    ("glued-assignment", "config.fish", f"FOO=1\\\nset -x {KEY} {PIN}\n", "flagged"),
    # csh runs one command after `if (…)`, `repeat N` only before `setenv` (clean before)
    ("csh-if-arguments", "login.csh", f"if (1) echo foo setenv {KEY} {PIN}\n", "clean"),
    ("csh-if-continuing", "login.csh", f"echo foo \\\nif (1) setenv {KEY} {PIN}\n", "clean"),
    ("repeat-fish", "config.fish", f"repeat 2 set -x {KEY} {PIN}\n", "clean"),
    # a substitution naming where the PIN is holds none (clean before)
    ("fish-substitution-file", "config.fish", f"set -x {KEY} (cat ~/.config/pin)\n", "clean"),
    ("csh-backquotes-file", "login.csh", f"setenv {KEY} {TICK}cat .pin{TICK}\n", "clean"),
    # PowerShell compares with `-eq` (clean before)
    ("powershell-compared", "profile.ps1", f'if (${{env:{KEY}}} -eq "{PIN}") {{ }}\n', "clean"),
]


@pytest.mark.parametrize(("name", "path", "text", "before"), CLEAN, ids=[n for n, *_ in CLEAN])
def test_lines_no_shell_assigns_in_stay_clean(name: str, path: str, text: str, before: str) -> None:
    """What the new readings must not open: a keyword is one only where a statement begins
    and as fish reads it. The ones `flagged` before are false findings this pass closed
    (fish reads `\\and` as the bell and `nd`, and `and\\` then `set` as `andset`)."""
    assert _found(path, text) == [], text


def test_the_real_cli_refuses_them(exp_repo: ExpRepo) -> None:
    """`scan` and `scan --staged` name each file (exit 1) and never show the PIN; the
    clean lines pass (exit 0)."""
    leaks = {f"leaks/{name}/{path}": text for name, path, text in LEAKS[::3]}
    assert_refused_masked(exp_repo, leaks)
    clean = {f"ok/{name}/{path}": text for name, path, text, _ in CLEAN}
    for path, text in clean.items():
        exp_repo.write(path, text)
    code, out, err = run_cli(["scan", *clean], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert (code, out) == (0, ""), (out, err)


def test_lines_continuing_one_another_are_each_asked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run of lines continuing one another before the name (`a'nd \\`, which the regex's
    first look takes for a keyword and `_leads` refuses): each line's start is asked
    whether it continues a command before it is matched to the name, so the prefix is
    read for the one line that may begin a statement, not once a line (quadratic)."""
    calls: list[int] = []
    leads = envpairs._leads

    def counted(text: str, c: re.Match[str]) -> bool:
        calls.append(c.start())
        return leads(text, c)

    monkeypatch.setattr(envpairs, "_leads", counted)
    text = "a'nd \\\n" * 200 + f"set -x {KEY} {PIN}\n"
    assert _found("config.fish", text) == []
    assert len(calls) <= 1, calls


KEYWORDS = frozenset(("and", "or", "not", "!", "builtin", "if", "while", "begin", "time", "else"))
SPELLED = re.compile(spelled(KEYWORDS))


def _written(c: str) -> st.SearchStrategy[str]:
    """One character of a keyword as fish may write it."""
    code = ord(c)
    forms = [c, f"'{c}'", f'"{c}"', f"\\x{code:02x}", f"\\X{code:02X}", f"\\u{code:04x}"]
    forms += [f"\\u{code:x}", f"\\U{code:08x}", f"\\{code:o}", f"''{c}", f'"\\\n{c}"']
    if c not in "abefnrtv":
        forms.append(f"\\{c}")
    return st.sampled_from(forms)


@st.composite
def _spellings(draw: st.DrawFn) -> str:
    keyword = draw(st.sampled_from(sorted(KEYWORDS)))
    parts = [draw(_written(c)) for c in keyword]
    joins = [draw(st.sampled_from(["", "", "\\\n", "''"])) for _ in parts[1:]]
    return parts[0] + "".join(j + p for j, p in zip(joins, parts[1:], strict=True))


@given(_spellings())
def test_every_spelling_fish_reads_as_a_keyword_is_matched(word: str) -> None:
    """The search's first look (`spelled`) takes every word the exact reading
    (`fish_keyword`) takes for a keyword: the look may take more, never less."""
    if fish_keyword(word) in KEYWORDS:
        assert SPELLED.fullmatch(word) is not None, word


@pytest.mark.parametrize(
    ("word", "read"),
    [
        ("a''nd", "and"),
        ("'an'd", "and"),
        ('"and"', "and"),
        ("\\x61nd", "and"),
        ("\\u0061nd", "and"),
        ("\\141nd", "and"),
        ("n\\ot", "not"),
        ("an\\\nd", "and"),
        ("\\and", None),  # the bell, `nd`
        ("a\\nd", None),  # a line break
        ("\\u62egin", None),  # fish reads three hex digits, U+062E
        ("a'nd", None),  # a quote left open
        ("an d", None),  # a blank: no keyword's character
        ("and$", None),
    ],
)
def test_fish_keyword_reads_a_word_as_fish_does(word: str, read: str | None) -> None:
    got = fish_keyword(word)
    assert (got if got in KEYWORDS else None) == read, (word, got)
