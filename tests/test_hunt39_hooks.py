"""An attacker's hunt of the pre-commit hooks run through real pre-commit (thirty-ninth
pass): what a commit may spell that the scan hook lets through."""

# The fixture `hook_env` is imported from test_hooks31_unborn_protect, and test parameters
# of that name receive it (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

import json

import pytest
from conftest import ExpRepo, run_cli
from test_hooks31_unborn_protect import hook_env  # noqa: F401 (a fixture)
from test_hooks_precommit import commit_through_hooks, scaffolded

from expflow_git.pinscan.scanner import scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it


# A `\t` escape in a string is a tab: a shell splits `--pin<TAB>NNNN` into the flag and the
# PIN, and YAML reads `pin:<TAB>NNNN` as a key and its value, as they read a raw tab (which
# the scan flagged). The escape view read every letter escape as a line break, so these
# were clean.
TAB_LEAKS = [
    ("run.py", f'import os\nos.system("expflow-git rm exp-001 --pin\\t{PIN}")\n', "pin-value"),
    ("tasks.json", json.dumps({"cmd": f"expflow-git rm exp-001 --pin\t{PIN}"}), "pin-value"),
    ("ci.yaml", f'run: "expflow-git rm exp-001 --pin\\t{PIN}"\n', "pin-value"),
    ("note.json", json.dumps({"note": f"pin:\t{PIN}"}), "pin-value"),
    ("env.json", json.dumps({"y": f"EXPFLOW_PIN:\t{PIN}"}), "pin-assignment"),
]


@pytest.mark.parametrize(("name", "text", "rule"), TAB_LEAKS, ids=[x[0] for x in TAB_LEAKS])
def test_a_tab_escape_before_a_pin_is_a_blank(name: str, text: str, rule: str) -> None:
    """docs/spec.md §5: "a string escape ending in a letter (`\\n`, `\\t`, `\\r`, ...) … is a
    boundary, as a blank is"; `--pin NNNN` and a `pin:NNNN` tag (blanks after its colon)
    are findings, and a raw tab there was flagged."""
    found = scan_bytes(name, text.encode())
    assert [f.rule for f in found] == [rule], found
    assert all(PIN not in f.message for f in found)


@pytest.mark.parametrize(
    "text",
    [
        'writeln!(f, "EXPFLOW_PIN_HASH=\\t")?;\n',  # (tests/test_scan31_escape_view_fp.py)
        'f.write("EXPFLOW_PIN:\\t" + value)\n',
        'f.write("EXPFLOW_PIN=\\t\\n")\n',
        'log("--pin\\tmissing")\n',
    ],
)
def test_a_tab_escape_ending_a_string_is_still_no_value(text: str) -> None:
    """The tab is read as a blank only where the string goes on after it: at its end
    (a quote, another escape) it ends the value, as the other escapes do."""
    assert scan_bytes("a.py", text.encode()) == []


def test_the_hook_refuses_a_pin_after_a_tab_escape(
    exp_repo: ExpRepo, hook_env: dict[str, str]
) -> None:
    """Through real pre-commit (`pre-commit install`, `git commit`): a script calling
    `rm --pin\\tNNNN` went in, exit 0."""
    repo, env = exp_repo, hook_env
    before = scaffolded(repo, env)
    repo.write("tools/undo.py", TAB_LEAKS[0][1])
    repo.git("add", "-A")
    code, out = commit_through_hooks(repo, env, "a PIN after a tab escape")
    assert code == 1 and "tools/undo.py:2:" in out and "pin-value" in out, out
    assert PIN not in out
    assert repo.head() == before


# A policy that fails to parse and holds a PIN: the YAML error quoted it. `pin: NNNN` is a
# scan finding (a `pin` key's value) wherever it stands in the policy.
BROKEN_POLICIES = [
    f"notes:\n  pin: {PIN}\n  pin: {PIN}\n",  # ruamel: duplicate key "pin" with value "NNNN"
    f"notes:\n  pin: !!bool {PIN}\n",  # 'NNNN' is not a valid !!bool
    f"notes:\n  pin: !!timestamp {PIN}\n",  # failed to construct timestamp from "NNNN"
]


@pytest.mark.parametrize("tail", BROKEN_POLICIES)
def test_a_broken_policy_never_prints_the_pin_it_holds(committed_repo: ExpRepo, tail: str) -> None:
    """README/brief: no secret (PIN, PIN hash, private key) in any output; a policy that
    parses is refused for one, masked ("the policy must never hold a PIN or PIN hash").
    One that does not parse was refused with ruamel's message, which quotes its
    scalars: `validate --staged`, `protect` and `audit` printed the PIN."""
    repo = committed_repo
    policy = repo.path / "expflow.yaml"
    policy.write_text(policy.read_text() + tail)
    repo.git("add", "expflow.yaml")
    checks = (["validate", "--staged"], ["protect"], ["validate"])
    for args in (*checks, ["audit"]):
        if args[0] == "audit":
            repo.commit("past the hooks")  # (what CI audits)
        code, out, err = run_cli(args, repo.path)
        assert code == 2, (args, out + err)
        assert PIN not in out + err, (args, out + err)
        assert "expflow.yaml:" in err and "the policy must never hold a PIN" in err, err


def test_the_hooks_refuse_a_broken_policy_without_printing_its_pin(
    exp_repo: ExpRepo, hook_env: dict[str, str]
) -> None:
    """The same through real pre-commit: the validate and protect hooks' output held it."""
    repo, env = exp_repo, hook_env
    before = scaffolded(repo, env)
    policy = repo.path / "expflow.yaml"
    policy.write_text(policy.read_text() + BROKEN_POLICIES[0])
    repo.git("add", "-A")
    code, out = commit_through_hooks(repo, env, "a policy with a PIN, twice")
    assert code == 1 and "the policy must never hold a PIN" in out, out
    assert PIN not in out
    assert repo.head() == before


def test_a_broken_policys_refusal_carries_no_pin_in_its_traceback() -> None:
    """The refusal of a broken policy holding a PIN was raised inside the handler of the
    YAML error: its `__context__` was ruamel's error, which quotes the PIN, and any Python
    traceback (the API's, a notebook's, a CI script's) printed both (a review, issue 18
    thirty-ninth pass)."""
    import traceback

    from expflow_git.errors import ExpflowError
    from expflow_git.policy.load import load_policy_bytes

    pin = str(4000 + 821)
    with pytest.raises(ExpflowError) as info:
        load_policy_bytes(f"version: 1\npin: {pin}\npin: {pin}\n".encode())
    assert "masked" in str(info.value)
    assert pin not in "".join(traceback.format_exception(info.value))
