"""The validate hook's command line read without click (issue 18, cli/plain.py): every
form it takes is read exactly as click reads it, and every other form goes to click,
which answers it as before (help, a misspelt option, a missing value)."""

from __future__ import annotations

import click
import pytest
from conftest import ExpRepo, run_cli

from expflow_git.cli.group import cli
from expflow_git.cli.plain import plain_hook

LINES = [
    [],
    ["a.json"],
    ["--", "a.json", "--staged", "-x.json", "--"],
    ["--staged", "a.json", "b.json"],
    ["a.json", "--staged", "--staged"],
    ["--policy", "p.yaml", "a.json"],
    ["--policy=p.yaml", "--policy", "q.yaml", "--", "--policy"],
    ["a.json", "--policy=x=y.yaml", "b.json"],
    ["", "a b.json", "é.json"],
    # not plain: click reads (or refuses) these
    ["--help"],
    ["-h"],
    ["--stage", "a.json"],
    ["--policy"],
    ["--policy", "--staged"],
    ["--policy="],
    ["-", "a.json"],
    ["-x.json"],
]


def _click_reads(
    args: list[str],
) -> tuple[tuple[str, ...], bool, str | None, tuple[str, ...]] | None:
    """What click's own parser makes of `validate ARGS` (None: it refuses or helps)."""
    command = cli.get_command(click.Context(cli), "validate")
    assert command is not None
    try:
        with command.make_context("validate", list(args)) as ctx:
            p = ctx.params
            return tuple(p["paths"]), p["staged"], p["policy_path"], tuple(p["files_from"])
    except (click.exceptions.Exit, click.ClickException):
        return None


@pytest.mark.parametrize("args", LINES, ids=lambda a: " ".join(a) or "(none)")
def test_plain_lines_read_as_click_reads_them(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXPFLOW_POLICY", raising=False)  # click would read it into --policy
    plain = plain_hook(["validate", *args])
    clicked = _click_reads(args)
    if plain is not None:
        assert plain == ("validate", *clicked)
    if clicked is None:
        assert plain is None  # what click refuses or helps with, click answers


def test_only_the_hooks_are_read_plainly() -> None:
    assert plain_hook(["audit", "a.json"]) is None
    assert plain_hook(["--version"]) is None
    assert plain_hook([]) is None


def test_forms_left_to_click_answer_as_before(committed_repo: ExpRepo) -> None:
    helped = run_cli(["validate", "--help"], cwd=committed_repo.path)
    assert helped.code == 0 and "Validate records, results" in helped.out
    misspelt = run_cli(["validate", "--stagd", "x.json"], cwd=committed_repo.path)
    assert misspelt.code == 2 and "No such option '--stagd'" in misspelt.err
    missing = run_cli(["validate", "--policy"], cwd=committed_repo.path)
    assert missing.code == 2 and "requires an argument" in missing.err
    assert "Traceback" not in misspelt.err + missing.err


def test_plain_line_checks_as_click_did(exp_repo: ExpRepo) -> None:
    exp_repo.add_experiment()
    res = exp_repo.add_result()
    exp_repo.commit("a run")
    broken = exp_repo.add_experiment("exp-002", status="done")
    for args in (["validate", res, broken], ["validate", "--policy=expflow.yaml", res, broken]):
        found = run_cli(args, cwd=exp_repo.path)
        assert found.code == 1, found
        assert f"{broken}#/status: schema: " in found.out
        assert "1 problem(s) in 1 file(s)" in found.err
    missing = run_cli(["validate", "--policy", "nope.yaml", res], cwd=exp_repo.path)
    assert missing.code == 2 and "nope.yaml: no policy file" in missing.err
