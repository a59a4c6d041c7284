"""Review of the forty-second pass's `--files-from` (issue 18): the plain hook now gives
scan and validate every staged name in one command line (`console.typed_too`), where
xargs cut it at ~128 KiB, so the masking of the PINs a command line types
(errors.TypedPins) must cost no more per line printed as the list grows. And `init` below
the work tree's root: a folder whose name a YAML string and a glob spell as they are
(a no-break or ideographic space, a zero-width one) gets globs starting there."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support import git_init, run_cli

from expflow_git import errors
from expflow_git.errors import TypedPins, masked_quoting, masked_typed


class _CountingRe:
    """`re` as errors.py uses it, counting the searches for the `--pin` option."""

    def __init__(self) -> None:
        self.option_searches = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def search(self, pattern: Any, string: str, flags: int = 0) -> Any:
        if pattern == errors._PIN_OPTION:
            self.option_searches += 1
        return re.search(pattern, string, flags)


def _names(count: int) -> list[str]:
    # each with its own run of four digits, none a PIN (as `run-1000.json`)
    return [f"notes/run-{1000 + i}.txt" for i in range(count)]


@pytest.mark.parametrize("count", [300, 3000])
def test_masking_a_hook_s_lines_reads_the_command_line_once_not_once_a_line(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line per name (a finding each): each run of digits a line showed was looked for
    in every argument, pair by pair for a `--pin` before it, so 10,000 staged names with
    a finding each took 66 s to print against 1.2 s for 1,000."""
    counting = _CountingRe()
    monkeypatch.setattr(errors, "re", counting)
    names = _names(count)
    typed = TypedPins(["scan", "--staged", "--files-from", "-", *names])
    for name in names:
        line = f"{name}:1:13: pin-assignment: EXPFLOW_PIN assigned a value (masked)"
        assert masked_typed(line, typed) == line
    assert counting.option_searches <= len(names) + 4


def test_the_index_masks_what_the_loop_masked() -> None:
    pin = str(4000 + 821)
    names = [*_names(50), f"notes/pin={pin}.txt", "x"]
    typed = TypedPins(["scan", "--pin", pin, "--files-from", "-", *names])
    line = f"notes/pin={pin}.txt and {pin} and run-1003 and 1003"
    assert masked_typed(line, typed) == "notes/pin=****.txt and **** and run-1003 and 1003"
    assert masked_quoting(f"pin={pin}.txt\n{pin}", typed) == "pin=****.txt\n****"


@pytest.mark.parametrize("folder", ["実験\u3000ml", "a\u00a0b", "z\u200bw"])
def test_a_nested_project_in_a_folder_with_an_unusual_space_keeps_its_runs(
    tmp_path: Path, folder: str
) -> None:
    """The spec keeps the root's globs only for a folder with `*`, `?`, `[`, `]`, `\\` or a
    control character; `isprintable()` refused these too, and the nested project's run
    went to the root's experiments/ and results/, the defect the nesting fixed."""
    work = git_init(tmp_path / "repo")
    (work / folder).mkdir()
    assert run_cli(["init", folder], cwd=work).code == 0
    env = {"EXPFLOW_POLICY": f"{folder}/expflow.yaml"}
    res = run_cli(["new", "e1", "--study", "s"], cwd=work, env=env)
    assert res.code == 0, res
    res = run_cli(["result", "e1", "--metric", "accuracy=0.5"], cwd=work, env=env)
    assert res.code == 0, res
    assert (work / folder / "experiments/s/e1.json").is_file(), res
    assert (work / folder / "results/s/e1.json").is_file(), res
    assert sorted(p.name for p in work.iterdir()) == sorted([".git", folder])


def test_a_folder_yaml_cannot_spell_keeps_the_root_s_globs(tmp_path: Path) -> None:
    work = git_init(tmp_path / "repo")
    for folder in ("a\u2028b", "c\x85d", "e\ufeff"):
        (work / folder).mkdir()
        assert run_cli(["init", folder], cwd=work).code == 0
        text = (work / folder / "expflow.yaml").read_text("utf-8")
        assert '  experiments: ["experiments/**/*.json"]\n' in text, folder
