"""Leaks of the PIN the scan missed, found by a hunter (issue 18 twenty-sixth pass), through
the real CLI (`scan --staged`, a hook's scan) in a real repository, with the hash
`pin init` really stored.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import configparser
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN = str(4000 + 821)
CLEAN = "expflow-git scan: 1 file(s) clean\n"


@pytest.fixture
def repo(committed_repo: ExpRepo) -> ExpRepo:
    """A repository with its policy committed (the scan's allow-list is HEAD's)."""
    return committed_repo


@pytest.fixture
def stored_hash(repo: ExpRepo, isolated_env: Path) -> str:
    """The hash `pin init` stores for PIN in `$EXPFLOW_HOME/pin.hash`."""
    code, _, err = run_cli(["pin", "init", PIN], cwd=repo.path)
    assert code == 0, err
    stored = (isolated_env / "pin.hash").read_text().strip()
    assert stored.startswith("expflow$scrypt$")
    return stored


def staged_scan(repo: ExpRepo, files: Mapping[str, str | bytes]) -> tuple[int, str, str]:
    """Write and stage `files`, then `scan --staged` them."""
    for rel, content in files.items():
        repo.write(rel, content)
    repo.stage(*files)
    code, out, err = run_cli(["scan", "--staged", "--", *files], cwd=repo.path)
    assert_clean_output(out, err)
    return code, out, err


def assert_unseen(secret: str, *texts: str) -> None:
    """No 8 characters of `secret` in any of `texts`."""
    for text in texts:
        for i in range(max(1, len(secret) - 7)):
            assert secret[i : i + 8] not in text, (secret[i : i + 8], text)


# --- the tool's hash in a path ---------------------------------------------------------------
# Urlsafe base64 has no `/`: the stored hash is a valid file, folder or submodule name, and
# only a `pin.hash` name and a PIN's SHA-256 were looked for in a path.

PATH_FORMAT = "pin-hash-format: the path holds a string in expflow's PIN-hash format"


@pytest.mark.parametrize("escape", ["", "$$", "\\$"])
def test_the_stored_hash_in_a_folder_name_is_found(
    repo: ExpRepo, stored_hash: str, escape: str
) -> None:
    name = stored_hash.replace("$", escape) if escape else stored_hash
    rel = f"bk-{name}/notes.txt"
    code, out, err = staged_scan(repo, {rel: "nothing secret in here\n"})
    assert (code, out) == (1, f"bk-****/notes.txt: {PATH_FORMAT} (masked: ****)\n")
    assert_unseen(stored_hash.split("$")[-1], out, err)


def test_the_stored_hash_as_a_submodules_name_is_found(repo: ExpRepo, stored_hash: str) -> None:
    entry = f"160000,{repo.head()},vendor/{stored_hash}"
    repo.git("update-index", "--add", "--cacheinfo", entry)
    code, out, err = run_cli(["scan", "--staged", "--", f"vendor/{stored_hash}"], cwd=repo.path)
    assert (code, out) == (1, f"vendor/****: {PATH_FORMAT} (masked: ****)\n"), err
    assert_unseen(stored_hash.split("$")[-1], out, err)


def test_the_audit_finds_the_stored_hash_in_a_path(repo: ExpRepo, stored_hash: str) -> None:
    repo.write(f"docs/{stored_hash}.txt", "nothing secret in here\n")
    repo.commit("a backup")  # --no-verify: the hooks never saw it
    code, out, err = run_cli(["audit"], cwd=repo.path)
    assert code == 1 and f"docs/****.txt: {PATH_FORMAT}" in out, (out, err)
    assert_unseen(stored_hash.split("$")[-1], out, err)


@pytest.mark.parametrize(
    "rel",
    ["docs/expflow$scrypt$notes.txt", "docs/the $scrypt$ format.md", "docs/scrypt-params.md"],
)
def test_format_words_in_a_path_are_clean(repo: ExpRepo, rel: str) -> None:
    code, out, err = staged_scan(repo, {rel: "x\n"})
    assert (code, out, err) == (0, "", CLEAN)


# --- `pin = NNNN` in TOML and INI ------------------------------------------------------------
# A `pin` key's value was read only after `:`: `pin=NNNN` was caught as a tag, while
# `pin = NNNN` (TOML's and INI's own spelling) passed.


@pytest.mark.parametrize(
    ("rel", "content"),
    [
        ("c.toml", f'[auth]\npin = "{PIN}"\n'),
        ("c.toml", f"[auth]\npin = {PIN}  # the door\n"),
        ("c.toml", f"[auth]\npin='{PIN}'\n"),
        ("c.ini", f"[auth]\npin = {PIN}\n"),
        ("c.cfg", f"[auth]\nPIN\t= {PIN}\n"),
    ],
)
def test_a_pin_key_with_an_equals_sign_is_found(repo: ExpRepo, rel: str, content: str) -> None:
    if rel.endswith(".toml"):
        if sys.version_info >= (3, 11):  # what TOML reads: the PIN is the key's value
            import tomllib

            assert str(tomllib.loads(content)["auth"]["pin"]) == PIN
    else:
        parser = configparser.ConfigParser()
        parser.read_string(content)
        assert parser["auth"]["pin"] == PIN
    code, out, err = staged_scan(repo, {rel: content})
    col = content.splitlines()[1].index(PIN) + 1
    assert (code, out) == (
        1,
        f"{rel}:2:{col}: pin-value: 4-digit PIN under key 'pin' (masked: ****)\n",
    )
    assert PIN not in out + err


def test_a_pin_tag_with_an_equals_sign_is_reported_once(repo: ExpRepo) -> None:
    code, out, _ = staged_scan(repo, {"notes.txt": f"door pin={PIN}\n"})
    assert (code, out) == (
        1,
        "notes.txt:1:10: pin-value: 4-digit PIN in a `pin:` or `pin=` tag (masked: ****)\n",
    )


@pytest.mark.parametrize(
    ("rel", "content"),
    [
        ("config.py", f"pin = {PIN}\n"),  # code: an expression (spec §5)
        ("train.py", f"loader(pin={PIN})\n"),
        ("c.ini", "[gpio]\npin = 13\n"),
        ("c.toml", "[loader]\npin_memory = true\npin = 1013.25\n"),
        ("c.ini", "[auth]\npin = ${PIN_FROM_ENV}\n"),
        ("requirements.txt", "pin==1.0\n"),
    ],
)
def test_equals_sign_lookalikes_are_clean(repo: ExpRepo, rel: str, content: str) -> None:
    code, out, err = staged_scan(repo, {rel: content})
    assert (code, out, err) == (0, "", CLEAN)


# --- the tool's hash cut by an escaped line break --------------------------------------------
# A YAML double-quoted string, a TOML multi-line one and a shell's double quotes drop a `\`
# at a line's end with the next line's indent; only a PIN's SHA-256 was joined across one.


def split_cases(stored: str) -> list[tuple[str, str, str]]:
    """(file, content, the value its reader gets) for the hash cut at a few places."""
    head, tail = stored[:48], stored[48:]
    escaped = stored.replace("$", "\\$")
    return [
        ("s.yaml", f'h: "{head}\\\n  {tail}"\n', stored),
        ("s.yaml", f'a:\n  h: "{stored[:10]}\\\n    {stored[10:]}"\n', stored),  # in the prefix
        ("s.yaml", f'h: "{stored[:30]}\\\n  {stored[30:70]}\\\n  {stored[70:]}"\n', stored),
        ("s.toml", f'h = """{head}\\\n  {tail}"""\n', stored),
        ("s.toml", f'h = """\\\n{head}\\   \n\n   {tail}"""\n', stored),
        ("s.sh", f'APP_SECRET="{escaped[:40]}\\\n{escaped[40:]}"\n', stored),
    ]


def test_the_stored_hash_cut_by_an_escaped_line_break_is_found(
    repo: ExpRepo, stored_hash: str
) -> None:
    from ruamel.yaml import YAML

    for rel, content, value in split_cases(stored_hash):
        if rel.endswith(".yaml"):  # what YAML reads: the stored hash
            doc = YAML(typ="safe", pure=True).load(content)
            assert (doc.get("a") or doc)["h"] == value
        elif rel.endswith(".toml") and sys.version_info >= (3, 11):
            import tomllib

            assert tomllib.loads(content)["h"] == value
        code, out, err = staged_scan(repo, {rel: content})
        first = next(i for i, c in enumerate(content) if content.startswith(value[:7], i))
        line = content.count("\n", 0, first) + 1
        col = first - (content.rfind("\n", 0, first) + 1) + 1
        length = len(value) + (value.count("$") if rel.endswith(".sh") else 0)
        assert (code, out) == (
            1,
            f"{rel}:{line}:{col}: pin-hash-format: string in expflow's PIN-hash format "
            f"({length} chars, masked: ****)\n",
        ), content
        assert_unseen(stored_hash.split("$")[-1][:20], out, err)


@pytest.mark.parametrize(
    "content",
    [
        'h: "the format is expflow$scrypt$PARAMS$\\\n  SALT$HASH"\n',
        "run \\\n  --hash expflow$scrypt$n=16384,r=8,p=1 \\\n  --salt " + "A" * 22 + "\n",
        'h: "expflow$scrypt$n=16384,r=8,p=1$short\\\n  $short"\n',
    ],
)
def test_split_format_lookalikes_are_clean(repo: ExpRepo, content: str) -> None:
    code, out, err = staged_scan(repo, {"notes.yaml": content})
    assert (code, out, err) == (0, "", CLEAN)


# --- make's assignments ------------------------------------------------------------------------
# The key rule's separator was `=` or `:` alone: `EXPFLOW_PIN := NNNN` in a Makefile, and
# `?=`, `+=`, `::=`, `!=`, passed.

ASSIGNED = "pin-assignment: EXPFLOW_PIN assigned a value (masked)"


@pytest.mark.parametrize(
    ("rel", "template"),
    [
        ("Makefile", "export EXPFLOW_PIN := {}\nall:\n\texpflow-git rm x\n"),
        ("m.mk", "EXPFLOW_PIN ?= {}\n"),
        ("m.mk", "EXPFLOW_PIN += {}\n"),
        ("m.mk", "EXPFLOW_PIN ::= '{}'\n"),
        ("m.mk", 'override EXPFLOW_PIN != echo "{}"\n'),
        ("m.mk", "EXPFLOW_PIN:={}  # for the demo\n"),
        ("run.sh", 'echo "${{EXPFLOW_PIN:={}}}"\n'),  # a default, as `:-` gives one
        ("main.go", "EXPFLOW" + '_PIN := "{}"\n'),  # code: `:=` assigns (split: no finding here)
    ],
)
def test_a_make_style_assignment_is_found(repo: ExpRepo, rel: str, template: str) -> None:
    content = template.format(PIN)
    code, out, err = staged_scan(repo, {rel: content})
    line = content.count("\n", 0, content.index(PIN)) + 1
    col = content.index(PIN) - (content.rfind("\n", 0, content.index(PIN)) + 1) + 1
    assert (code, out) == (1, f"{rel}:{line}:{col}: {ASSIGNED}\n"), content
    assert PIN not in out + err


def test_make_style_assignments_of_a_pin_key_and_the_hash_are_found(
    repo: ExpRepo, stored_hash: str
) -> None:
    escaped = stored_hash.replace("$", "$$")
    content = f"pin := {PIN}\nEXPFLOW_PIN_HASH ?= {escaped}\n"
    code, out, err = staged_scan(repo, {"m.mk": content})
    assert (code, out) == (
        1,
        "m.mk:1:8: pin-value: 4-digit PIN under key 'pin' (masked: ****)\n"
        f"m.mk:2:21: pin-hash-format: string in expflow's PIN-hash format "
        f"({len(escaped)} chars, masked: ****)\n",
    )
    assert PIN not in out + err
    assert_unseen(stored_hash.split("$")[-1], out, err)


@pytest.mark.parametrize(
    ("rel", "content"),
    [
        ("m.mk", "EXPFLOW_PIN != cat ~/.expflow/pin\n"),
        ("m.mk", "EXPFLOW_PIN ?= $(shell pass show expflow)\n"),
        ("m.mk", "EXPFLOW_PIN := ${CI_PIN}\n"),
        ("m.mk", "EXPFLOW_PIN ?=\n"),
        ("run.sh", 'if [ "$EXPFLOW_PIN" != "" ]; then echo set; fi\n'),
        ("run.sh", "[ -n $EXPFLOW_PIN ] && [ $EXPFLOW_PIN != beef ] && exit 1\n"),
        (".github/workflows/ci.yml", "jobs:\n  a:\n    if: env.EXPFLOW_PIN != ''\n"),
        ("train.py", "if (pin_hash := read_hash()) is not None:\n    EXPFLOW_PIN += suffix\n"),
        ("main.go", "EXPFLOW_PIN := os.Getenv(name)\n"),
    ],
)
def test_make_style_lookalikes_are_clean(repo: ExpRepo, rel: str, content: str) -> None:
    code, out, err = staged_scan(repo, {rel: content})
    assert (code, out, err) == (0, "", CLEAN)


# --- prose after `EXPFLOW_PIN:` --------------------------------------------------------------
# Any bare word after the key's `:` on its line was a value, so a sentence that names the
# variable was a leak (an honest commit refused); a value on the line below was already
# read only when shaped as a secret.


@pytest.mark.parametrize(
    ("rel", "content"),
    [
        (
            ".github/workflows/ci.yml",
            "env:\n  # EXPFLOW_PIN: set it in the repository secrets\n  X: 1\n",
        ),
        ("README.md", "EXPFLOW_PIN: the PIN for guarded commands\n"),
        ("docs/setup.rst", "- EXPFLOW_PIN_HASH: added by `pin init`, never committed.\n"),
        ("conf.yaml", "pin:\n  hash: computed by pin init (see the docs)\n"),
        ("conf.yaml", "auth:\n  pin: door code, ask the office\n"),
    ],
)
def test_prose_after_a_key_is_clean(repo: ExpRepo, rel: str, content: str) -> None:
    code, out, err = staged_scan(repo, {rel: content})
    assert (code, out, err) == (0, "", CLEAN)


def test_a_pin_or_the_hash_after_a_key_is_still_found(repo: ExpRepo, stored_hash: str) -> None:
    lines = [
        f"EXPFLOW_PIN: {PIN}",
        f"EXPFLOW_PIN: {PIN}  # the demo's",
        f"EXPFLOW_PIN: it is {PIN}, for now",
        "EXPFLOW_PIN: hunter2",  # one word: a value
        f"EXPFLOW_PIN_HASH: {stored_hash}",
        f"EXPFLOW_PIN_HASH: {stored_hash} (mine)",
        f"pin: {PIN} for the door",
        f"pin:\n  hash: {stored_hash} from pin init",
    ]
    content = "\n".join(lines) + "\n"
    code, out, err = staged_scan(repo, {"notes.md": content})
    rules = [line.split(": ", 2)[1] for line in out.splitlines()]
    assert code == 1 and rules == [
        "pin-assignment",
        "pin-assignment",
        "pin-assignment",
        "pin-assignment",
        "pin-hash-format",
        "pin-hash-format",
        "pin-value",
        "pin-hash-format",
    ], out
    assert out.splitlines()[2].startswith(f"notes.md:3:{lines[2].index(PIN) + 1}: "), out
    assert PIN not in out + err
    assert_unseen(stored_hash.split("$")[-1], out, err)


# --- a review of the fixes above ---------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        f"EXPFLOW_PIN: **{PIN}** (lab machine)",  # Markdown's bold
        f"EXPFLOW_PIN: *{PIN}* (lab)",
        f"EXPFLOW_PIN: pin-{PIN} for CI",
        f"EXPFLOW_PIN: value={PIN} (ci)",
        f"EXPFLOW_PIN: {PIN}/ci runner",
    ],
)
def test_a_pin_dressed_in_prose_is_still_found(repo: ExpRepo, line: str) -> None:
    """The prose rule took a phrase for prose unless a whole word, its punctuation
    stripped, was shaped as a secret: `**NNNN**` passed the scan, the hook and the audit,
    where every spelling here was found before (a review). Any part of a word counts."""
    code, out, err = staged_scan(repo, {"notes.md": line + "\n"})
    assert code == 1 and ": pin-assignment: " in out, (out, err)
    assert PIN not in out + err


def test_a_byte_order_mark_before_binary_data_hides_nothing(
    repo: ExpRepo, stored_hash: str
) -> None:
    """Two bytes of a UTF-16 mark before binary data made the scan decode it as UTF-16
    (garbage) and read none of its ASCII tokens: the NUL-byte leak was back (a review)."""
    data = b"\xff\xfe\0EXPFLOW_PIN=" + PIN.encode() + b"\0" + stored_hash.encode() + b"\0"
    repo.write("blob.bin", data)
    repo.stage("blob.bin")
    code, out, err = run_cli(["scan", "--staged", "--", "blob.bin"], cwd=repo.path)
    rules = sorted(line.split(": ", 2)[1] for line in out.splitlines())
    assert code == 1 and rules == ["pin-assignment", "pin-hash-format"], (out, err)
    assert_unseen(stored_hash.split("$")[-1], out, err)


@pytest.mark.parametrize("fmt", ["github", "sarif"])
def test_the_hash_in_a_folder_is_masked_in_every_format(
    repo: ExpRepo, stored_hash: str, fmt: str
) -> None:
    """A record in a folder named by the stored hash: the scan's own finding masked it,
    but `--format github` and SARIF named every other finding's file by its raw path,
    and the CI log and code scanning kept the hash (a review)."""
    repo.write(f"experiments/{stored_hash}/x.json", "{}\n")
    repo.commit("a record in an odd folder")
    code, out, err = run_cli(["audit", "--format", fmt], cwd=repo.path)
    assert code == 1 and "Traceback" not in err, (out, err)
    assert "schema" in out or "id-mismatch" in out or "required" in out, out
    shown = unquote(out)  # (SARIF's URIs are percent-encoded)
    salt = stored_hash.split("$")[-2]
    assert salt not in shown and salt not in err
    assert_unseen(stored_hash.split("$")[-1], shown, err)
