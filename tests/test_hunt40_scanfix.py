"""The review of the fortieth pass's PIN-scan and URL-masking patch (issue 18), each
finding a test that failed on the patch as reviewed: the command rule's regex took 2**n
steps for n `set` options; the `--pin ${{ … }}` fallback read less of an expression than
`EXPFLOW_PIN: ${{ … }}` does; fish's `and`/`or`, a Dockerfile `ENV \\` continuation and
cmd's `SETX`/`@setx` passed; a failed run's reason kept the password of a URL quoted
after another in compact JSON; and the reason masking was quadratic in a long word
before a URL.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ExpRepo
from helpers_audit import commit_all, new_repo
from test_hunt40_scan import FLAG, KEY, PIN, assert_refused_masked

from expflow_git import Repository
from expflow_git.importers.source import without_uri_secrets
from expflow_git.pinscan.scanner import scan_bytes
from expflow_git.run import masked_reason

pytestmark = pytest.mark.usefixtures("isolated_env")

OPEN, CLOSE = "${{", "}}"
PASSWORD = "hunter22" + "secret"


def _scan_time_limited(text: str, path: str, seconds: float) -> int | None:
    """The number of findings of scan_bytes(path, text) in a child, None on timeout."""
    code = (
        "import sys\n"
        "from expflow_git.pinscan.scanner import scan_bytes\n"
        "print(len(scan_bytes(sys.argv[1], sys.stdin.buffer.read())))\n"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, path],
            input=text.encode(),
            capture_output=True,
            timeout=seconds,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return int(proc.stdout)


def _flagged(path: str, text: str) -> bool:
    return bool(scan_bytes(path, text.encode()))


def test_fish_set_options_are_not_exponential() -> None:
    """`set(?:[ \\t]+--?[A-Za-z-]+)*[ \\t]+…\\Z` read an option `--x` two ways: 2**n steps
    when the stretch before the name does not end the command's head. 24 options took
    ~4 s; 40 (160 characters, inside the 256-character reach) hours: one committed file
    hung scan, the hooks and the audit."""
    line = "set " + "--x " * 40 + f"y {KEY} 1\n"
    assert _scan_time_limited(line, "config.fish", 20) is not None


def _took(make: Callable[[int], str], n: int, run: Callable[[str], object]) -> float:
    text = make(n)
    begun = time.perf_counter()
    run(text)
    return time.perf_counter() - begun


# Shapes against each regex of envpairs.py and the flag rule's expression reading: each
# names the variable (or gives the flag) thousands of times.
LINEAR_SHAPES: list[tuple[str, Callable[[int], str]]] = [
    ("set-options", lambda n: ("set " + "--x " * 40 + f"y {KEY} 1\n") * n),
    ("set-semicolons", lambda n: ("set -x;" * 30 + f" {KEY} 1\n") * n),
    ("continuations", lambda n: ("set \\\n" * 40 + f"x {KEY} 1\n") * n),
    ("backslash-lines", lambda n: ("\\\n" * 100 + f"{KEY} 1\n") * n),
    ("at-blanks", lambda n: (";@ @ @ @ @ @ @ @" * 10 + f" {KEY} 1\n") * n),
    ("combiners", lambda n: ("and or not builtin " * 10 + f"{KEY} 1\n") * n),
    ("setx-m", lambda n: ("setx /M /M /M /M /M" * 10 + f" {KEY} 1\n") * n),
    ("name-keys", lambda n: ("name: " * 40 + f"{KEY}\n") * n),
    ("child-flow", lambda n: (f"{KEY}: {{" + "value " * 40 + "\n") * n),
    ("value-before", lambda n: ("value: value: , " * 10 + f"name: {KEY}\n") * n),
    ("flag-expressions", lambda n: f"{FLAG} {OPEN} " * (4 * n)),
    ("flag-one-close", lambda n: f"{FLAG} {OPEN} '1' " * (4 * n) + f"{CLOSE}\n"),
    ("flag-literals", lambda n: f"{FLAG} {OPEN} " + "'x' " * (40 * n) + f"{CLOSE}\n"),
]


@pytest.mark.parametrize(("name", "make"), LINEAR_SHAPES, ids=[n for n, _ in LINEAR_SHAPES])
def test_the_scan_rules_stay_linear(name: str, make: Callable[[int], str]) -> None:
    """Ten times the text, about ten times the time (measured: 0.02 to 0.1 s for
    0.1 to 0.5 MB); a bound loose enough for two shared cores."""

    def scan(text: str) -> object:
        return scan_bytes("x.fish", text.encode())

    small, big = _took(make, 200, scan), _took(make, 2000, scan)
    assert big < 30 * small + 1.0, (name, small, big)


def test_pin_flag_fallback_reads_what_the_key_rule_reads() -> None:
    """Spec §5: `--pin`'s value "as a GitHub Actions expression's quoted fallback", as the
    same expression after `EXPFLOW_PIN:` is read. The flag took only `|| 'NNNN' }}` as the
    expression's last operand; the ternary idiom (`cond && 'NNNN' || secrets.X`) is how a
    workflow picks the value a fork's pull request runs with."""
    wf = ".github/workflows/ci.yml"
    for expr in (
        f"{OPEN} github.event_name == 'pull_request' && '{PIN}' || secrets.PIN {CLOSE}",
        f"{OPEN} secrets.PIN || '{PIN}' || '' {CLOSE}",
        f"{OPEN} (secrets.PIN || '{PIN}') {CLOSE}",
    ):
        assert _flagged(wf, f"    {KEY}: {expr}\n")
        found = scan_bytes(wf, f"      - run: expflow-git new r1 {FLAG} {expr}\n".encode())
        assert [f.rule for f in found] == ["pin-value"], expr
    for clean in (
        f"{FLAG} {OPEN} github.event_name == 'push' && secrets.PIN || '' {CLOSE}\n",
        f"{FLAG} {OPEN} secrets.PIN || '{PIN}0' {CLOSE}\n",
        f"{FLAG} {OPEN} secrets.PIN {CLOSE} || echo '{PIN}'\n",
    ):
        assert not _flagged(wf, clean), clean


def test_command_forms_the_new_rule_missed() -> None:
    """A statement began only at a line's start or after `;&|(`: fish's `and`/`or`
    combiners, a Dockerfile `ENV \\` continuation and cmd's `SETX`/`@setx` (cmd ignores
    case) passed."""
    assert _flagged("config.fish", f"set -gx {KEY} {PIN}\n")
    assert _flagged("config.fish", f"test -n x; and set -gx {KEY} {PIN}\n")
    assert _flagged("config.fish", f"or set -x {KEY} {PIN}\n")
    assert _flagged("Dockerfile", f"FROM x\nENV \\\n    {KEY} {PIN}\n")
    assert _flagged("Dockerfile", f"FROM x\r\nENV \\\r\n    {KEY} {PIN}\r\n")
    assert _flagged("Dockerfile", f"FROM x\nENV {KEY} \\\n    {PIN}\n")
    assert _flagged("setup.bat", f"SETX {KEY} {PIN}\n")
    assert _flagged("setup.bat", f"@setx {KEY} {PIN}\n")
    assert _flagged("setup.bat", f"@SETX /m {KEY} {PIN}\n")
    # the nearest innocent texts
    assert not _flagged("config.fish", f"or set -x {KEY} first\n")
    assert not _flagged("Dockerfile", f"FROM x\nENV \\\n    {KEY} ${{PIN}}\n")
    assert not _flagged("Dockerfile", f"RUN echo x\n{KEY} {PIN}\n")
    assert not _flagged("README.md", f"Set it, and set {KEY} in your env.\n")


def test_the_real_cli_refuses_the_new_forms(exp_repo: ExpRepo) -> None:
    files = {
        "leaks/config.fish": f"test -n x; and set -gx {KEY} {PIN}\n",
        "leaks/Dockerfile": f"FROM x\nENV \\\n    {KEY} {PIN}\n",
        "leaks/setup.bat": f"@SETX {KEY} {PIN}\n",
        "leaks/ci.yml": f"run: x {FLAG} {OPEN} github.ref && '{PIN}' || secrets.X {CLOSE}\n",
    }
    assert_refused_masked(exp_repo, files)


def test_escaped_url_password_masked_after_another_url() -> None:
    """A response body quoted in an exception is compact JSON (no blanks): the first
    URL's `\\S+` swallowed the rest, and the second URL's password was kept (the plain
    `://` form too, before this pass)."""
    body = f'{{"docs":"http:\\/\\/h\\/help","auth":"http:\\/\\/bob:{PASSWORD}@h\\/api"}}'
    assert (
        without_uri_secrets(body)
        == '{"docs":"http:\\/\\/h\\/help","auth":"http:\\/\\/bob@h\\/api"}'
    )
    plain = f'{{"docs":"http://h/help","auth":"http://bob:{PASSWORD}@h/api"}}'
    assert without_uri_secrets(plain) == '{"docs":"http://h/help","auth":"http://bob@h/api"}'
    # a URL in another's path (an archive's), and one whose scheme's word begins with digits
    nested = f"see https://archive.example/web/2020/http://bob:{PASSWORD}@h/x"
    assert PASSWORD not in without_uri_secrets(nested)
    assert PASSWORD not in without_uri_secrets(f"x 12http://bob:{PASSWORD}@h/ y")
    # a password read whole still masked (SQLAlchemy reads it up to the `@`)
    assert "ab+x" not in without_uri_secrets("postgresql://u:ab+x://y@h/db")


def test_a_failed_runs_reason_masks_the_second_url(tmp_path: Path) -> None:
    """Spec §4: a URL the reason quotes "loses its password … as an import's provenance
    does"; the second URL of a compact JSON body kept it in the committed record."""
    root = new_repo(tmp_path / "repo")
    commit_all(root)
    repo = Repository(root)
    message = f'body {{"docs":"http:\\/\\/h\\/help","auth":"http:\\/\\/bob:{PASSWORD}@h\\/api"}}'
    with pytest.raises(RuntimeError):
        with repo.run("a0", study="pdebench-task1"):
            raise RuntimeError(message)
    record = (root / "experiments" / "pdebench-task1" / "a0.json").read_text()
    assert PASSWORD not in record
    assert json.loads(record)["reason"] == (
        'RuntimeError: body {"docs":"http:\\/\\/h\\/help","auth":"http:\\/\\/bob@h\\/api"}'
    )


@pytest.mark.parametrize("slashes", [":\\/\\/", "://"], ids=["escaped", "plain"])
def test_masked_reason_linear_on_a_long_word_before_a_url(slashes: str) -> None:
    """The scheme part `[A-Za-z][A-Za-z0-9+.-]*:` was tried at every letter of a long
    word: a JSON body with an 80,000-letter base64 blob and an escaped URL took ~7 s
    (run()'s exception message, an import's fail reason); the plain `://` the same."""
    url = f"http{slashes}u:p@h" + ("\\/x" if "\\" in slashes else "/x")

    def mask(text: str) -> object:
        return masked_reason(text, 500)

    for word in ("A", "a1"):  # (a letter, and a digit before each letter)

        def make(n: int, word: str = word) -> str:
            return '{"blob": "' + word * n + '", "url": "' + url + '"}'

        small, big = _took(make, 4000, mask), _took(make, 64000, mask)  # 16x the size
        assert big < 40 * small + 1.0, (word, small, big)
