"""Repository strings and typed secrets where they reach an output: an attacker's hunt,
issue 18 forty-second pass (docs/decisions.md).

Real git repositories in tmp dirs and the real CLI as a subprocess.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_audit import add_run, commit_all, m, new_repo
from helpers_audit import run_cli as cli

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it


@pytest.fixture()
def policy_beside_a_pin(tmp_path: Path) -> tuple[Path, str]:
    """A repository whose policy is also committed in a folder named with a PIN and a
    zero-width space after it (a character every output shows as its escape)."""
    root = new_repo(tmp_path / "repo")
    add_run(root, "a1", m(50.0))
    folder = f"pin={PIN}\u200b"
    (root / folder).mkdir()
    (root / folder / "expflow.yaml").write_bytes((root / "expflow.yaml").read_bytes())
    commit_all(root)
    return root, folder


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_a_typed_pin_is_masked_in_a_line_quoting_its_argument_escaped(
    policy_beside_a_pin: tuple[Path, str], fmt: str
) -> None:
    """The terminal's formats of a report (the audit's text, `--format github`, which
    ends with it) mask a PIN typed in an argument in the line quoting that argument
    (docs/spec.md §4: `policy pin=****/expflow.yaml`). The masking looked for the
    argument as typed in the line, which shows it escaped (`pin=NNNN\\u200b`): an
    argument holding any character a terminal gets as an escape was quoted with its PIN,
    where the error line quoting the same argument masks it."""
    root, folder = policy_beside_a_pin
    res = cli(["audit", "--policy", f"{folder}/expflow.yaml", "--format", fmt], root)
    assert res.code in (0, 1), res
    assert "policy pin=****\\u200b/expflow.yaml" in res.out, res.out
    assert PIN not in res.out + res.err, res
    # The error line quoting the argument masks it (the same spelling).
    missing = cli(["audit", "--policy", f"{folder}/missing.yaml"], root)
    assert missing.code == 2 and "pin=****\\u200b/missing.yaml" in missing.err, missing
    assert PIN not in missing.out + missing.err, missing


def test_a_typed_pin_is_masked_in_the_policy_change_annotation(tmp_path: Path) -> None:
    """`--format github` names the policy in its policy-change annotation in GitHub's
    escapes (`%` as `%25`): `--policy pin=NNNN%x/expflow.yaml` was quoted there with its
    PIN, while the text form below it, quoting the same argument, masked it."""
    root = new_repo(tmp_path / "repo")
    add_run(root, "a1", m(50.0))
    folder = root / f"pin={PIN}%x"
    folder.mkdir()
    (folder / "expflow.yaml").write_bytes((root / "expflow.yaml").read_bytes())
    commit_all(root)
    loosened = (folder / "expflow.yaml").read_text().replace("op: gt, value: 0", "op: ge, value: 0")
    (folder / "expflow.yaml").write_text(loosened)
    commit_all(root)
    args = ["audit", "--policy", f"pin={PIN}%x/expflow.yaml", "--policy-ref", "HEAD~1"]
    res = cli([*args, "--format", "github"], root)
    assert res.code in (0, 1), res
    change = next(ln for ln in res.out.splitlines() if "title=expflow policy change" in ln)
    assert "::pin=****%25x/expflow.yaml: 1 looser" in change, change
    assert PIN not in res.out + res.err, res


def test_the_escaped_argument_masking_leaves_other_lines() -> None:
    """Only a line quoting the argument (escaped as the line shows it) is masked: the
    repository's own value sharing the digits, elsewhere, is the product."""
    from expflow_git.errors import masked_quoting

    typed = ["audit", "--policy", f"/repo/pin={PIN}\u200b/expflow.yaml"]
    text = f"policy pin={PIN}\\u200b/expflow.yaml, 7 document(s)\nexp-001  {PIN}  ok\n"
    shown = f"policy pin=****\\u200b/expflow.yaml, 7 document(s)\nexp-001  {PIN}  ok\n"
    assert masked_quoting(text, typed) == shown
