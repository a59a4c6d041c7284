"""Ctrl-C as the CLI starts (issue 18 twenty-ninth pass): the console script and
`python -m expflow_git` imported the CLI's modules before `main`'s handling began, and a
SIGINT 50–150 ms after the start printed a KeyboardInterrupt traceback (a third of the
time). Now it is one line, `expflow-git: interrupted`, and 130, as during a command.

The signal is sent by the process itself as a given module is first looked for (inside
its import), never after a delay: the test cannot miss the window, and runs the same
every time. The console script is run as its wrapper runs it, from the entry point
pyproject.toml names."""

from __future__ import annotations

import re
import signal

import pytest
from conftest import PROJECT, ExpRepo
from support import run_cli_code

pytestmark = [
    pytest.mark.usefixtures("isolated_env"),
    pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="POSIX signals"),
]

# `python -c CODE MODULE ENTRY ARGS…`: SIGINT sent to this process as MODULE is first
# looked for, then the CLI run from ENTRY: `module:function` as the console script's
# wrapper runs it (`from module import function; sys.exit(function())`), or `-m` as
# `python -m expflow_git` runs it (runpy's own function for `-m`).
INTERRUPTED_AT_IMPORT = """
import os, signal, sys
module, entry = sys.argv[1:3]
del sys.argv[1:3]
class Interrupting:
    def find_spec(self, name, path=None, target=None):
        if name == module:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupting())
if entry == "-m":
    import runpy
    runpy._run_module_as_main("expflow_git")
else:
    where, _, name = entry.partition(":")
    sys.exit(getattr(__import__(where, fromlist=[name]), name)())
"""


def _console_script() -> str:
    """The `module:function` pyproject.toml's [project.scripts] names (no tomllib: 3.10)."""
    text = (PROJECT / "pyproject.toml").read_text()
    scripts = text.split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    found = re.search(r'^expflow-git = "([\w.]+:\w+)"$', scripts, re.MULTILINE)
    assert found is not None, scripts
    return found[1]


# From the first of the CLI's modules to those `main` imports before its command runs.
MODULES = [
    "expflow_git.cli",
    "expflow_git.cli.main",
    "expflow_git.cli.console",
    "expflow_git.errors",
    "expflow_git.escape",
    "expflow_git.interrupts",
    "expflow_git.cli.plain",
]


# The plain hooks' `from expflow_git.cli import main` (and the action's) loads the first
# two before `main` runs: they load nothing else (os, sys, typing are loaded already).
CASES = [(m, e) for e in ("console script", "-m") for m in MODULES]
CASES += [(m, "hooks") for m in MODULES[2:]]


@pytest.mark.parametrize(("module", "entry"), CASES)
def test_ctrl_c_as_the_cli_loads_is_one_line_and_130(
    exp_repo: ExpRepo, module: str, entry: str
) -> None:
    target = {"console script": _console_script(), "-m": "-m", "hooks": "expflow_git.cli:main"}
    code, out, err = run_cli_code(
        INTERRUPTED_AT_IMPORT, [module, target[entry], "show", "exp-001"], exp_repo.path
    )
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert (code, out, err) == (130, "", "expflow-git: interrupted\n")


def test_the_cli_still_runs_from_both_entries(exp_repo: ExpRepo) -> None:
    """No signal (a module nobody imports): the command runs and exits as it did."""
    for target in (_console_script(), "-m"):
        code, out, err = run_cli_code(
            INTERRUPTED_AT_IMPORT, ["no_such_module_x", target, "show", "nope"], exp_repo.path
        )
        missing = "expflow-git: error: no experiment 'nope' in the work tree\n"
        assert (code, err) == (1, missing), target
