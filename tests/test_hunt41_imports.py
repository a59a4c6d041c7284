"""The hook path's start-up (issue 18, forty-first pass): the scan hook's plain command
lines are read without click, as click reads them; regexes a hook seldom needs are
compiled on first use (lazyre.py), and every one of them compiles and behaves as the
pattern it stands for."""

from __future__ import annotations

import importlib
import re

import click
import pytest
from conftest import ExpRepo, run_cli
from support import LIST_MODULES, run_cli_code

from expflow_git.cli.group import cli
from expflow_git.cli.plain import PlainHook, plain_hook
from expflow_git.lazyre import _Lazy, lazy_compile

LINES = [
    [],
    ["a.json"],
    ["--", "a.json", "--staged", "-x.json", "--"],
    ["--staged", "a.json", "b.json"],
    ["--policy=p.yaml", "--policy", "q.yaml", "--", "--policy"],
    ["", "a b.json"],
    ["--help"],
    ["--stage", "a.json"],
    ["--policy"],
    ["--policy="],
    ["-x.json"],
    ["--", ""],
]


def _click_reads(
    command: str, args: list[str]
) -> tuple[tuple[str, ...], bool, str | None, tuple[str, ...]] | None:
    found = cli.get_command(click.Context(cli), command)
    assert found is not None
    try:
        with found.make_context(command, list(args)) as ctx:
            p = ctx.params
            return tuple(p["paths"]), p["staged"], p["policy_path"], tuple(p["files_from"])
    except (click.exceptions.Exit, click.ClickException):
        return None


@pytest.mark.parametrize("command", ["validate", "scan"])
@pytest.mark.parametrize("args", LINES, ids=lambda a: " ".join(a) or "(none)")
def test_plain_hook_lines_read_as_click_reads_them(
    command: str, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXPFLOW_POLICY", raising=False)
    assert_plain_reads_as_click(command, args)
    assert plain_hook(["protect", *args]) is None


def assert_plain_reads_as_click(command: str, args: list[str]) -> PlainHook | None:
    """The plain reader takes a command line only as click reads it (else None), and
    whatever click refuses it refuses; its reading, returned."""
    plain = plain_hook([command, *args])
    clicked = _click_reads(command, args)
    if plain is not None:
        assert clicked is not None and plain == (command, *clicked)
    if clicked is None:
        assert plain is None
    return plain


def test_scan_hook_skips_click_and_answers_as_before(exp_repo: ExpRepo) -> None:
    exp_repo.add_experiment()
    leak = exp_repo.path / "notes.txt"
    leak.write_text(f"EXPFLOW_PIN={4000 + 821}\n")
    exp_repo.stage("notes.txt")
    code, listing, err = run_cli_code(
        LIST_MODULES, ["scan", "--staged", "--", "notes.txt"], exp_repo.path
    )
    assert code == 1 and "notes.txt:1:" in listing and "1 leaked PIN" in err
    assert str(4000 + 821) not in err + listing
    assert "click" not in listing.split()
    helped = run_cli(["scan", "--help"], cwd=exp_repo.path)
    assert helped.code == 0 and "Find leaked PINs" in helped.out
    misspelt = run_cli(["scan", "--stagd", "notes.txt"], cwd=exp_repo.path)
    assert misspelt.code == 2 and "No such option '--stagd'" in misspelt.err


# the modules whose rarely used regexes are compiled on first use
LAZY_MODULES = [
    *(f"expflow_git.pinscan.{m}" for m in ("envpairs", "hits", "keys", "notebook")),
    *(f"expflow_git.pinscan.{m}" for m in ("scanner", "values")),
    *(f"expflow_git.{m}" for m in ("documents", "escape", "gitstore", "jsonstrict")),
    *(f"expflow_git.{m}" for m in ("localcache", "schemas", "hooks.validate")),
    "expflow_git.policy.load",
    "expflow_git.policy.model",
]


def _lazy_patterns() -> list[tuple[str, str, _Lazy]]:
    """Every lazy pattern the modules hold: by name, or in a tuple or dict of them."""
    found = []
    for module_name in LAZY_MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            items = list(value.values()) if isinstance(value, dict) else [value]
            for item in items:
                for inner in item if isinstance(item, tuple) else (item,):
                    for lazy in inner if isinstance(inner, tuple) else (inner,):
                        if isinstance(lazy, _Lazy):
                            found.append((module_name, name, lazy))
    return found


def test_every_lazy_pattern_compiles_as_its_pattern() -> None:
    found = _lazy_patterns()
    modules = {m for m, _, _ in found}
    assert {"expflow_git.pinscan.scanner", "expflow_git.gitstore", "expflow_git.escape"} <= modules
    assert len(found) > 80
    for _module, _name, lazy in found:
        compiled = re.compile(lazy.pattern, lazy._flags)
        assert lazy.flags == compiled.flags and lazy.groups == compiled.groups
        assert lazy.search is not None  # compiled now, its methods the compiled one's


def test_a_lazy_pattern_acts_as_the_compiled_one() -> None:
    lazy = lazy_compile(r"(?P<n>[0-9]+)")
    assert lazy.pattern == r"(?P<n>[0-9]+)"
    m = lazy.search("ab 123 c")
    assert m is not None and m.group("n") == "123"
    assert lazy.sub("#", "a1b22") == "a#b#" and lazy.findall("1 22") == ["1", "22"]
    assert lazy.fullmatch("12") and not lazy.match("x1")
    assert lazy.groupindex == {"n": 1}
    binary = lazy_compile(rb"\x00+", re.S)
    assert binary.split(b"a\x00\x00b") == [b"a", b"b"]
    with pytest.raises(AttributeError):
        lazy.__no_such_thing__  # noqa: B018
