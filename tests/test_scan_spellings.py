"""Spellings of a leak the scan missed, found by an attacker's hunt (issue 18 twenty-second
pass), through the real CLI: what a YAML emitter writes (a `pin` mapping as a list item's
first key or behind a node property, a private key in a quoted scalar).

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli
from ruamel.yaml import YAML

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
OPAQUE_SHA = hashlib.sha256(b"a salted hash, not of a bare PIN").hexdigest()
PIN_VALUE = "4-digit PIN under key 'pin.{}' (masked: ****)"
PIN_HASH = "pin.hash assigned a value (masked)"


def dumped(data: object) -> str:
    """`data` as a YAML emitter writes it: ruamel's safe dumper, which writes what PyYAML's
    `safe_dump(data)` does (keys sorted, block style)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def loaded(text: str) -> object:
    return YAML(typ="safe", pure=True).load(text)


def located(text: str, token: str) -> tuple[int, int]:
    """(line, col) of the first occurrence of `token` in `text`."""
    at = text.index(token)
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def scan_one(exp_repo: ExpRepo, rel: str, content: str) -> tuple[int, str]:
    exp_repo.write(rel, content)
    code, out, err = run_cli(["scan", rel], cwd=exp_repo.path)
    assert_clean_output(out, err)
    return code, out


# --- a YAML `pin` mapping as a list item's first key, or behind a node property -------------
# A `pin:` opened a mapping only alone on its line (a comment after it), so the value and
# hash below these were committed, also past the audit.

YAML_PIN_MAPPINGS = [
    (
        "list-item",  # PyYAML's default dump of a list of users
        dumped({"users": [{"pin": {"value": PIN}}]}),
        {"users": [{"pin": {"value": PIN}}]},
        PIN,
        "pin-value",
        PIN_VALUE.format("value"),
    ),
    (
        "list-item-hash",
        dumped([{"pin": {"hash": OPAQUE_SHA}}]),
        [{"pin": {"hash": OPAQUE_SHA}}],
        OPAQUE_SHA,
        "pin-assignment",
        PIN_HASH,
    ),
    (
        "nested-list-items",
        f"- - pin:\n      code: '{PIN}'\n    name: a\n",
        [[{"pin": {"code": PIN}, "name": "a"}]],
        PIN,
        "pin-value",
        PIN_VALUE.format("code"),
    ),
    (
        "anchor",
        f"pin: &defaults\n  value: {PIN}\n",
        {"pin": {"value": int(PIN)}},
        PIN,
        "pin-value",
        PIN_VALUE.format("value"),
    ),
    (
        "tag-and-anchor",
        f"- 'pin': !!map &p  # the operator's\n    hash: {OPAQUE_SHA}\n",
        [{"pin": {"hash": OPAQUE_SHA}}],
        OPAQUE_SHA,
        "pin-assignment",
        PIN_HASH,
    ),
]


@pytest.mark.parametrize(
    ("content", "data", "token", "rule", "message"),
    [case[1:] for case in YAML_PIN_MAPPINGS],
    ids=[case[0] for case in YAML_PIN_MAPPINGS],
)
def test_a_yaml_pin_mapping_in_a_list_item_or_behind_a_property_is_read(
    exp_repo: ExpRepo, content: str, data: object, token: str, rule: str, message: str
) -> None:
    assert loaded(content) == data  # what YAML reads: the token is pin's child
    code, out = scan_one(exp_repo, "users.yaml", content)
    line, col = located(content, token)
    assert (code, out) == (1, f"users.yaml:{line}:{col}: {rule}: {message}\n")


@pytest.mark.parametrize(
    "content",
    [
        f"- pin:\n  value: {PIN}\n",  # `value` is pin's sibling in the item, not its child
        f"- pin:\n    length: 4\n  code: {PIN}\n",
        f"- pin: &a x\n- value: {PIN}\n",
        f"-pin:\n    value: {PIN}\n",  # a plain scalar, not a list item
    ],
)
def test_list_item_lookalikes_are_clean(exp_repo: ExpRepo, content: str) -> None:
    assert scan_one(exp_repo, "users.yaml", content) == (0, "")


def test_the_audit_finds_a_pin_in_a_dumped_list_of_users(exp_repo: ExpRepo) -> None:
    content = dumped({"users": [{"pin": {"value": PIN}}, {"name": "b"}]})
    assert content.startswith("users:\n- pin:\n")
    exp_repo.write("deploy/users.yaml", content)
    exp_repo.commit("users")
    code, out, err = run_cli(["audit", "--no-cache"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    line, col = located(content, PIN)
    assert code == 1 and f"deploy/users.yaml:{line}:{col}: pin-value" in out, out + err
    assert PIN not in out + err
