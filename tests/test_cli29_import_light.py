"""`import expflow_git` loads nothing but the package (and `__future__`): it imported
`typing` and `importlib` at run time, ~8 ms before the CLI's Ctrl-C handling
(`expflow_git.__main__.main`) begins, where a Ctrl-C printed a KeyboardInterrupt
traceback (issue 18 twenty-ninth pass). Every hook and the console script import the
package first."""

from __future__ import annotations

import subprocess
import sys

from support import PROJECT, scrubbed_env

CODE = """\
import sys
before = set(sys.modules)
import expflow_git
print(" ".join(sorted(set(sys.modules) - before)))
print(expflow_git.TOOL_NAME, expflow_git.Repository.__module__)
"""


def test_import_loads_no_other_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CODE],
        cwd=PROJECT,
        env=scrubbed_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded, names = proc.stdout.splitlines()
    assert set(loaded.split()) <= {"expflow_git", "__future__"}, loaded
    assert "typing" not in loaded.split(), loaded
    # The lazy exports still resolve (their modules load typing then, as they need).
    assert names == "expflow-git expflow_git.repository", proc.stdout
