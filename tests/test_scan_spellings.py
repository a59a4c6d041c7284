"""Spellings of a leak the scan missed, found by an attacker's hunt (issue 18 twenty-second
pass), through the real CLI: what a YAML emitter writes (a `pin` mapping as a list item's
first key or behind a node property, a private key in a quoted scalar).

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from ruamel.yaml import YAML
from test_scan_recall import _pem

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
OPAQUE_SHA = hashlib.sha256(b"a salted hash, not of a bare PIN").hexdigest()
PIN_VALUE = "4-digit PIN under key 'pin.{}' (masked: ****)"
PIN_HASH = "pin.hash assigned a value (masked)"
# The tool's hash format with an 8-byte salt, which `pin check` takes (its content rule
# asked for 16 characters of salt; since the thirty-ninth pass 11, an 8-byte salt's)
SHORT_SALT_HASH = "expflow$scrypt$n=16384,r=8,p=1$QUJDREVGR0g$" + "QUJD" * 10 + "QUI"


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


# --- a private key in a quoted YAML scalar ---------------------------------------------------
# PyYAML's `safe_dump({"tls": {"key": key}})` writes the key single-quoted, each line break
# a blank line; ruamel's, a key with CRLF line ends, or `default_style='"'` write it
# double-quoted, a line folded after an escape with `\` (between `\r` and `\n` too), and at
# a blank, `\` then `\ ` on the next line: "-----END PRIVATE\` ... `\ KEY-----". The key
# was committed past the hooks and the audit.


def dumped_key(key: str, style: str | None, *, width: int = 80, indent: int = 2) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.default_style = style  # type: ignore[assignment]
    yaml.width = width
    yaml.map_indent = indent
    out = io.StringIO()
    yaml.dump({"tls": {"key": key}}, out)
    return out.getvalue()


def _end_line_folded() -> tuple[str, str]:
    """An EC key whose double-quoted dump, at an indent of four, folds its END line at a
    blank (ruamel, and PyYAML's `safe_dump(..., default_style='"', indent=4)`, do)."""
    for _ in range(20):
        pem = _pem(ec.generate_private_key(ec.SECP384R1()), serialization.PrivateFormat.PKCS8)
        text = dumped_key(pem, '"', indent=4)
        if "-----END PRIVATE\n" in text:
            return pem, text
    raise AssertionError("no END line folded")


def yaml_keys() -> dict[str, tuple[str, str, str]]:
    """name -> (the key, the YAML file holding it, the label the finding names)."""
    rsa_pem = _pem(
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
        serialization.PrivateFormat.TraditionalOpenSSL,
    )
    pkcs8 = _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)
    encrypted = _pem(
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
        serialization.PrivateFormat.TraditionalOpenSSL,
        b"pw",
    )
    crlf = rsa_pem.replace("\n", "\r\n")
    folded_pem, folded = _end_line_folded()
    # PyYAML writes that fold as `\`, the line break and indent, and the blank escaped
    escaped = re.sub(r"-----END PRIVATE\n( +)KEY", r"-----END PRIVATE\\\n\1\\ KEY", folded)
    return {
        "single-quoted": (rsa_pem, dumped_key(rsa_pem, "'"), "RSA PRIVATE KEY"),
        "double-quoted": (pkcs8, dumped_key(pkcs8, '"'), "PRIVATE KEY"),
        "crlf-folded": (crlf, dumped_key(crlf, '"', width=40), "RSA PRIVATE KEY"),
        "end-line-folded": (folded_pem, folded, "PRIVATE KEY"),
        "end-line-escaped": (folded_pem, escaped, "PRIVATE KEY"),
        "headers-folded": (encrypted, dumped_key(encrypted, '"', width=40), "RSA PRIVATE KEY"),
    }


def test_a_private_key_dumped_to_yaml_is_found(exp_repo: ExpRepo) -> None:
    keys = yaml_keys()
    for name, (key, text, _) in keys.items():
        assert loaded(text) == {"tls": {"key": key}}, name  # the file holds the key
        exp_repo.write(f"{name}.yaml", text)
    assert "PRIVATE KEY-----\n\n    " in keys["single-quoted"][1]
    assert "\\r\\\n" in keys["crlf-folded"][1]
    assert "\\\n        \\ KEY" in keys["end-line-escaped"][1]
    code, out, err = run_cli(["scan", *(f"{n}.yaml" for n in keys)], cwd=exp_repo.path)
    assert_clean_output(out, err)
    lines = out.splitlines()
    assert code == 1 and len(lines) == len(keys), out + err
    for name, (key, text, label) in keys.items():
        line, col = located(text, "-----BEGIN")
        assert (
            f"{name}.yaml:{line}:{col}: private-key: a private key ({label}) must not be "
            "committed (contents masked; rotate the key)"
        ) in lines, (name, out)
        assert key.splitlines()[-2][:16] not in out + err


def test_the_audit_finds_a_private_key_dumped_to_yaml(exp_repo: ExpRepo) -> None:
    pkcs8 = _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)
    text = dumped_key(pkcs8, "'")
    exp_repo.write("deploy/values.yaml", text)
    exp_repo.commit("values")
    code, out, err = run_cli(["audit", "--no-cache"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    line, col = located(text, "-----BEGIN")
    assert code == 1 and f"deploy/values.yaml:{line}:{col}: private-key" in out, out + err
    assert pkcs8.splitlines()[1][:16] not in out + err


@pytest.mark.parametrize(
    "text",
    [
        # another key's END line, folded or not: no key
        '"-----BEGIN RSA PRIVATE KEY-----\\n\\\n  ' + "QUJD" * 16 + "\\n-----END EC PRIVATE\\\n"
        '  \\ KEY-----\\n"\n',
        "'-----BEGIN RSA PRIVATE KEY-----\n\n  "
        + "QUJD" * 16
        + "\n\n  -----END PRIVATE KEY-----'\n",
        "'-----BEGIN PRIVATE KEY-----\n\n  ...\n\n  -----END PRIVATE KEY-----'\n",
    ],
)
def test_yaml_key_lookalikes_are_clean(exp_repo: ExpRepo, text: str) -> None:
    assert scan_one(exp_repo, "values.yaml", text) == (0, "")


# --- a YAML value on a line below its key ----------------------------------------------------
# `EXPFLOW_PIN:` then `  'NNNN'` (a plain or quoted scalar may start on the next line, after
# blank and comment lines too): the value was read on the key's line only.

VALUES_BELOW = [
    (
        "quoted",
        f"EXPFLOW_PIN:\n  '{PIN}'\n",
        {"EXPFLOW_PIN": PIN},
        PIN,
        "pin-assignment",
        "EXPFLOW_PIN assigned a value (masked)",
    ),
    (
        "after-a-comment",
        f"pin:  # the door code\n  {PIN}\n",
        {"pin": int(PIN)},
        PIN,
        "pin-value",
        "4-digit PIN under key 'pin' (masked: ****)",
    ),
    (
        "blank-and-comment-lines",
        f'auth:\n  pin_hash:\n\n    # the operator\'s\n    "{OPAQUE_SHA}"\n',
        {"auth": {"pin_hash": OPAQUE_SHA}},
        OPAQUE_SHA,
        "pin-assignment",
        "pin_hash assigned a value (masked)",
    ),
    (
        "list-item",
        f"- EXPFLOW_PIN:\n    {PIN}\n",
        [{"EXPFLOW_PIN": int(PIN)}],
        PIN,
        "pin-assignment",
        "EXPFLOW_PIN assigned a value (masked)",
    ),
    (
        "nested",
        f"pin:\n  value:\n    '{PIN}'\n",
        {"pin": {"value": PIN}},
        PIN,
        "pin-value",
        PIN_VALUE.format("value"),
    ),
    # A word below is read only shaped as a secret (a review), but then in every shape
    # YAML gives it (a second review): signed, and the tool's hash with a short salt.
    (
        "signed",
        f"EXPFLOW_PIN:\n  +{PIN}\n",
        {"EXPFLOW_PIN": int(PIN)},
        f"+{PIN}",
        "pin-assignment",
        "EXPFLOW_PIN assigned a value (masked)",
    ),
    (
        "short-salt-hash",
        f"EXPFLOW_PIN_HASH:\n  {SHORT_SALT_HASH}\n",
        {"EXPFLOW_PIN_HASH": SHORT_SALT_HASH},
        SHORT_SALT_HASH,
        "pin-hash-format",  # (the content rule's now: the hash as `pin check` takes it)
        f"string in expflow's PIN-hash format ({len(SHORT_SALT_HASH)} chars, masked: ****)",
    ),
]


@pytest.mark.parametrize(
    ("content", "data", "token", "rule", "message"),
    [case[1:] for case in VALUES_BELOW],
    ids=[case[0] for case in VALUES_BELOW],
)
def test_a_yaml_value_on_a_line_below_its_key_is_read(
    exp_repo: ExpRepo, content: str, data: object, token: str, rule: str, message: str
) -> None:
    assert loaded(content) == data
    code, out = scan_one(exp_repo, "deploy.yaml", content)
    line, col = located(content, token)
    assert (code, out) == (1, f"deploy.yaml:{line}:{col}: {rule}: {message}\n")


@pytest.mark.parametrize(
    "content",
    [
        f"- EXPFLOW_PIN:\n  {PIN}\n",  # not below the key: the item's next key (invalid)
        "pin_hash:\n  algorithm: scrypt\n",  # a mapping
        "pin_hash:\n  - scrypt\n",  # a list
        "EXPFLOW_PIN:\n  $EXPFLOW_PIN\n",  # a reference
        "EXPFLOW_PIN:\n  null\n",
        "pin:\n  12345\n",  # not four digits
        "pin_hash:\nother: x\n",  # no value
        "Set EXPFLOW_PIN:\n    the PIN from the vault\n",  # prose: not a key beginning its line
        "EXPFLOW_PIN:\n    export EXPFLOW_PIN=$X\n",  # more than one word
        # a definition list or a docstring: a word below that is no PIN or digest (a review)
        "EXPFLOW_PIN:\n    Required.\n",
        "EXPFLOW_PIN_HASH:\n  optional\n",
        "Args:\n    pin_hash:\n        hashed\n",
        "[env]\nEXPFLOW_PIN:\n    TODO\n",
    ],
)
def test_values_below_lookalikes_are_clean(exp_repo: ExpRepo, content: str) -> None:
    assert scan_one(exp_repo, "notes.md", content) == (0, "")


def test_the_audit_finds_a_pin_on_the_line_below_its_key(exp_repo: ExpRepo) -> None:
    content = f"services:\n  app:\n    environment:\n      EXPFLOW_PIN:\n        '{PIN}'\n"
    exp_repo.write("docker-compose.yml", content)
    exp_repo.commit("compose")
    code, out, err = run_cli(["audit", "--no-cache"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    line, col = located(content, PIN)
    assert code == 1 and f"docker-compose.yml:{line}:{col}: pin-assignment" in out, out + err
    assert PIN not in out + err


# --- a TOML string between triple quotes on one line ----------------------------------------
# `EXPFLOW_PIN = """NNNN"""` was read as the empty string its first two quotes make.

TRIPLE_QUOTED = [
    (
        "basic",
        f'EXPFLOW_PIN = """{PIN}"""\n',
        {"EXPFLOW_PIN": PIN},
        PIN,
        "pin-assignment",
        "EXPFLOW_PIN assigned a value (masked)",
    ),
    (
        "literal",
        f"[auth]\npin_hash = '''{OPAQUE_SHA}'''  # ops\n",
        {"auth": {"pin_hash": OPAQUE_SHA}},
        OPAQUE_SHA,
        "pin-assignment",
        "pin_hash assigned a value (masked)",
    ),
    (
        "nested",
        f'[pin]\nvalue = """ {PIN} """\n',
        {"pin": {"value": f" {PIN} "}},
        PIN,
        "pin-value",
        PIN_VALUE.format("value"),
    ),
]


@pytest.mark.parametrize(
    ("content", "data", "token", "rule", "message"),
    [case[1:] for case in TRIPLE_QUOTED],
    ids=[case[0] for case in TRIPLE_QUOTED],
)
def test_a_toml_triple_quoted_string_on_one_line_is_read(
    exp_repo: ExpRepo, content: str, data: object, token: str, rule: str, message: str
) -> None:
    if sys.version_info >= (3, 11):  # what TOML reads: the token is the key's value
        import tomllib

        assert tomllib.loads(content) == data
    code, out = scan_one(exp_repo, "conf.toml", content)
    line, col = located(content, token)
    assert (code, out) == (1, f"conf.toml:{line}:{col}: {rule}: {message}\n")


@pytest.mark.parametrize(
    "content",
    [
        'EXPFLOW_PIN = """"""\n',
        'EXPFLOW_PIN = """${EXPFLOW_PIN}"""\n',
        "pin_hash = '''\n'''\n",  # a multi-line string left open on its line: not read
    ],
)
def test_triple_quoted_lookalikes_are_clean(exp_repo: ExpRepo, content: str) -> None:
    assert scan_one(exp_repo, "conf.toml", content) == (0, "")


# --- the tool's own hash format with its `$` escaped -----------------------------------------
# docker compose and make read `$$` as `$`, a shell's double quotes `\$`: the value the tool
# is given is its own format, which the scan looked for with literal `$` only.


@pytest.fixture(scope="module")
def format_hash() -> str:
    from expflow_git.pin.store import hash_pin

    return hash_pin(PIN)


@pytest.mark.parametrize(
    ("rel", "template"),
    [
        ("docker-compose.yml", 'services:\n  app:\n    environment:\n      APP_SECRET: "{}"\n'),
        ("Makefile", "deploy:\n\tAPP_SECRET='{}' ./deploy\n"),
        ("run.sh", 'APP_SECRET="{}"\n'),
    ],
)
def test_the_tool_hash_format_with_escaped_dollars_is_found(
    exp_repo: ExpRepo, format_hash: str, rel: str, template: str
) -> None:
    escaped = format_hash.replace("$", "\\$" if rel == "run.sh" else "$$")
    content = template.format(escaped)
    code, out = scan_one(exp_repo, rel, content)
    line, col = located(content, escaped)
    assert (code, out) == (
        1,
        f"{rel}:{line}:{col}: pin-hash-format: string in expflow's PIN-hash format "
        f"({len(escaped)} chars, masked: ****)\n",
    )


@pytest.mark.parametrize(
    "content",
    [
        "expflow$$scrypt$$n=16384,r=8,p=1$$short$$short\n",
        "expflow$$scrypt\\$n=16384,r=8,p=1$$" + "A" * 22 + "$$" + "B" * 43 + "\n",  # mixed
        "the format is expflow$$scrypt$$PARAMS$$SALT$$HASH\n",
    ],
)
def test_escaped_format_lookalikes_are_clean(exp_repo: ExpRepo, content: str) -> None:
    assert scan_one(exp_repo, "notes.txt", content) == (0, "")


# --- `--pin` with its quotes escaped, in a JSON string ----------------------------------------
# package.json's `"scripts"`: `"expflow-git rm exp-001 --pin \"NNNN\""`; the optional quote
# around the PIN could not be escaped.


@pytest.mark.parametrize(
    "command",
    [
        f'expflow-git rm exp-001 --pin "{PIN}"',
        f'expflow-git cancel exp-1 --pin="{PIN}" --reason x',
    ],
)
def test_the_pin_flag_with_escaped_quotes_is_found(exp_repo: ExpRepo, command: str) -> None:
    content = json.dumps({"scripts": {"clean": command}}, indent=2) + "\n"
    assert f'\\"{PIN}\\"' in content
    code, out = scan_one(exp_repo, "package.json", content)
    line, col = located(content, PIN)
    assert (code, out) == (
        1,
        f"package.json:{line}:{col}: pin-value: "
        "4-digit PIN given with --pin on a command line (masked: ****)\n",
    )


@pytest.mark.parametrize(
    "command",
    [
        'expflow-git rm x --pin "$EXPFLOW_PIN"',
        f'expflow-git rm x --pin "{PIN}0"',
        f"expflow-git rm x --pin \\{PIN}\\",  # no quote escaped
    ],
)
def test_escaped_flag_lookalikes_are_clean(exp_repo: ExpRepo, command: str) -> None:
    content = json.dumps({"scripts": {"clean": command}}) + "\n"
    assert scan_one(exp_repo, "package.json", content) == (0, "")


# --- a `pin:` tag ------------------------------------------------------------------------
# `import mlflow` writes a tracker's tag `pin=NNNN` as the record tag `"pin:NNNN"`, which
# no rule read (a user's hunt).


@pytest.mark.parametrize(
    ("rel", "content"),
    [
        ("experiments/s/r1.json", json.dumps({"tags": ["fno", f"pin:{PIN}"]}) + "\n"),
        ("notes.json", json.dumps({"labels": [f"PIN = {PIN}"]}) + "\n"),
        ("tags.py", f"TAGS = ['pin={PIN}']\n"),
        # plain in a YAML list, as PyYAML's safe_dump writes a record's tags (a review)
        ("run.yaml", f"tags:\n- fno\n- pin:{PIN}\n"),
        ("run.yaml", f"tags: [fno, pin:{PIN}]\n"),
        # as a tracker writes the tag, plain in a YAML list (missed until this pass)
        ("run.yaml", f"tags:\n- fno\n- pin={PIN}\n"),
        ("run.yaml", f"tags: [pin={PIN}, fno]\n"),
        # a word ending a quoted string or a sentence (a review)
        ("notes.json", json.dumps({"tags": [f"door pin={PIN}"]}) + "\n"),
        ("notes.txt", f"the door pin={PIN}.\n"),
    ],
)
def test_a_pin_tag_is_found(exp_repo: ExpRepo, rel: str, content: str) -> None:
    code, out = scan_one(exp_repo, rel, content)
    line, col = located(content, PIN)
    assert (code, out) == (
        1,
        f"{rel}:{line}:{col}: pin-value: 4-digit PIN in a `pin:` or `pin=` tag (masked: ****)\n",
    )


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"tags": [f"pin:{PIN}0", f"spin:{PIN}", f"pin:{PIN} x", "pin:$PIN"]}) + "\n",
        f"the pin:{PIN}0 and x-pin:{PIN} and pin: {PIN}x\n",
        f"the pin={PIN}0 and x-pin={PIN} and spin={PIN} and pin=={PIN}\n",
        # a decimal is no PIN (a review): `.` ends the word only before no digit
        f"the inlet pressure pin={PIN}.25 hPa, and pin:{PIN}.0\n",
    ],
)
def test_pin_tag_lookalikes_are_clean(exp_repo: ExpRepo, content: str) -> None:
    assert scan_one(exp_repo, "notes.json", content) == (0, "")


def test_a_keyword_argument_in_code_is_no_tag(exp_repo: ExpRepo) -> None:
    """`pin=NNNN` as a word is a tag in text, and a keyword argument in code."""
    content = f"gpio.setup(pin={PIN})\n"
    assert scan_one(exp_repo, "board.py", content) == (0, "")
    assert scan_one(exp_repo, "board.txt", content)[0] == 1


def test_pin_tags_scan_in_linear_time(exp_repo: ExpRepo) -> None:
    """200 KB of near-misses through the real CLI (run_cli's timeout would stop a
    polynomial scan)."""
    content = ('"pin:' + " " * 50 + '123" ' + "'pin= 12345' ") * 3000 + "\n"
    assert scan_one(exp_repo, "notes.txt", content) == (0, "")


# --- node properties around a value below its key, and before a flow mapping --------------
# `pin: &a` then the PIN below, `pin:` then `&a NNNN` below, `pin: !!map {value: …}` and
# PyYAML's flow dump of a shared mapping were read by no rule (a review).


@pytest.mark.parametrize(
    "content",
    [
        f"pin: &a\n  {PIN}\n",
        f"pin: !!str\n  '{PIN}'\n",
        f"pin:\n  &a {PIN}\n",
        f"EXPFLOW_PIN:\n  !!str '{PIN}'\n",
        f"pin:\n  value: &v\n    '{PIN}'\n",
        f"pin: !!map {{value: '{PIN}'}}\n",
        f"{{a: {{pin: &id001 {{value: '{PIN}'}}}}, b: {{pin: *id001}}}}\n",
        # a flow mapping on the line below its key (missed until this pass), after the
        # key's properties, a comment or blank lines (a review)
        f"pin:\n  {{value: '{PIN}'}}\n",
        f"auth:\n  pin:\n    !!map {{code: {PIN}}}\n",
        f"pin: &a\n  {{value: {PIN}}}\n",
        f"pin: !!map\n  {{value: {PIN}}}\n",
        f"pin: # door\n  {{value: {PIN}}}\n",
        f"pin:\n\n  {{value: {PIN}}}\n",
    ],
)
def test_node_properties_around_a_pin_are_read_past(exp_repo: ExpRepo, content: str) -> None:
    assert PIN in str(loaded(content))
    code, out = scan_one(exp_repo, "conf.yaml", content)
    line, col = located(content, PIN)
    assert code == 1 and out.startswith(f"conf.yaml:{line}:{col}: pin-"), out


def test_properties_and_plain_tags_scan_in_linear_time(exp_repo: ExpRepo) -> None:
    """Near-misses of 200 KB (run_cli's timeout would stop a polynomial scan)."""
    content = (
        "pin: " + "&a " * 30_000 + "x y\n"
        + "pin:\n  " + "&a " * 30_000 + "'x\n"
        + "pin: " + "&a " * 30_000 + "[\n"
        + "- pin:123 " * 10_000 + "\n"
        + "pin: &" + "pin:" * 20_000 + "\n"  # keys inside one property
        + "a: {pin: " + "&pin: " * 20_000 + "\n"
        + "pin: #" * 45_000 + "\n"  # a comment read to the line's end each time (a review)
    )  # fmt: skip
    assert scan_one(exp_repo, "conf.yaml", content) == (0, "")
