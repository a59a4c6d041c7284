"""PIN validation, hashing, storage, and the `pin` command group (docs/spec.md §5)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from expflow_git.cli.pin import PinSettings, pin_group
from expflow_git.errors import ExitCode, ExpflowError
from expflow_git.pin import store as pinmod
from expflow_git.pin.guard import ENV_PIN
from expflow_git.pin.store import (
    ENV_PIN_HASH,
    PIN_HASH_PREFIX,
    PIN_HASH_RE,
    HashSource,
    PinScheme,
    check_pin,
    clear_hash,
    hash_pin,
    is_legacy,
    is_valid_pin,
    load_stored_hash,
    pin_home,
    save_hash,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
ASCII_DIGITS = "0123456789"


def sha256_hex(pin: str) -> str:
    return hashlib.sha256(pin.encode("ascii")).hexdigest()


@pytest.fixture(scope="module")
def hash_1234() -> str:
    # scrypt is deliberately slow; hash once per module.
    return hash_pin("1234")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "expflow-home"


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {"EXPFLOW_HOME": str(home)}


@pytest.fixture
def home_with_pin(home: Path, hash_1234: str) -> Iterator[Path]:
    save_hash(home, hash_1234)
    yield home


def secret_fragments(stored: str) -> list[str]:
    """The stored hash and each meaningful piece of it: none may ever be printed."""
    if is_legacy(stored):
        return [stored, stored.lower(), stored.upper(), stored[:16], stored[-16:]]
    salt, digest = stored.split("$")[3:5]
    return [stored, salt, digest, salt[:12], digest[:12], digest[-12:]]


# --- is_valid_pin -----------------------------------------------------------------


@pytest.mark.parametrize("good", ["0000", "1234", "9999", "0420"])
def test_valid_pins(good: str) -> None:
    assert is_valid_pin(good)


@pytest.mark.parametrize(
    "bad",
    [
        "١٢٣٤",  # Arabic-Indic digits
        "²³¹⁴",  # superscripts: str.isdigit() says True
        "１２３４",  # fullwidth
        "۱۲۳۴",  # Extended Arabic-Indic
        " 123",
        "123 ",
        "12345",
        "123",
        "",
        "1234\n",
        "12a4",
        "-123",
        "+123",
        "12.3",
        "1_23",
    ],
)
def test_invalid_pins_refused(bad: str) -> None:
    assert not is_valid_pin(bad)


@given(st.text(max_size=6))
def test_is_valid_pin_is_exactly_four_ascii_digits(s: str) -> None:
    assert is_valid_pin(s) == (len(s) == 4 and all(c in ASCII_DIGITS for c in s))


@given(st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=4, max_size=4))
def test_non_ascii_digits_never_valid(s: str) -> None:
    if any(c not in ASCII_DIGITS for c in s):
        assert not is_valid_pin(s)


# --- hashing ------------------------------------------------------------------------


def test_hash_format_matches_shared_constants(hash_1234: str) -> None:
    assert hash_1234.startswith(PIN_HASH_PREFIX)
    assert PIN_HASH_RE.fullmatch(hash_1234)
    parts = hash_1234.split("$")
    assert parts[:3] == ["expflow", "scrypt", "n=16384,r=8,p=1"]
    assert "=" not in parts[3] + parts[4]  # no padding
    assert len(base64.urlsafe_b64decode(parts[3] + "==")) == 16


def test_hash_is_salted_and_verifies(hash_1234: str) -> None:
    other = hash_pin("1234")
    assert other != hash_1234
    assert other.split("$")[3] != hash_1234.split("$")[3]
    assert check_pin("1234", hash_1234)
    assert check_pin("1234", other)
    assert not check_pin("1235", hash_1234)
    assert not check_pin("4321", other)


@settings(max_examples=5, deadline=None)
@given(st.text(alphabet=ASCII_DIGITS, min_size=4, max_size=4))
def test_hash_roundtrip_property(p: str) -> None:
    stored = hash_pin(p)
    assert check_pin(p, stored)
    wrong = f"{(int(p) + 1) % 10000:04d}"
    assert not check_pin(wrong, stored)


def test_hash_pin_refuses_bad_pin_without_echoing_it() -> None:
    with pytest.raises(ExpflowError) as exc:
        hash_pin("١٢٣٤")
    assert "١٢٣٤" not in str(exc.value)
    assert exc.value.code is ExitCode.USAGE


def test_malformed_pin_is_simply_wrong(hash_1234: str) -> None:
    for bad in ["١٢٣٤", "12345", " 1234", "1234 "]:
        assert not check_pin(bad, hash_1234)
        assert not check_pin(bad, sha256_hex("1234"))


def test_legacy_sha256_accepted_either_case() -> None:
    legacy = sha256_hex("4321")
    assert is_legacy(legacy) and is_legacy(legacy.upper())
    assert check_pin("4321", legacy)
    assert check_pin("4321", legacy.upper())
    assert not check_pin("4322", legacy)
    assert not is_legacy(legacy[:-1])
    assert not is_legacy(legacy + "0")
    assert not is_legacy(hash_pin("4321"))


def _with_params(stored: str, params: str) -> str:
    parts = stored.split("$")
    parts[2] = params
    return "$".join(parts)


@pytest.mark.parametrize(
    "params",
    [
        "n=1073741824,r=8,p=1",  # 1 TiB of memory: refused before scrypt runs
        "n=1048576,r=32,p=1",  # 4 GiB
        "n=16384,r=8,p=999",
        "n=16384,r=999,p=1",
        "n=16383,r=8,p=1",  # not a power of two
        "n=1,r=8,p=1",
        "n=0,r=8,p=1",
        "r=8,n=16384,p=1",
        "n=16384,r=8,p=1,x=1",
        "n=16384,r=8",
        "n=-16384,r=8,p=1",
    ],
)
def test_hostile_parameters_refused_fast(
    hash_1234: str, params: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = _with_params(hash_1234, params)

    def no_scrypt(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("scrypt ran on hostile parameters")

    monkeypatch.setattr(hashlib, "scrypt", no_scrypt)  # refused before any work is done
    with pytest.raises(ExpflowError) as exc:
        check_pin("1234", hostile)
    for fragment in secret_fragments(hash_1234):
        assert fragment not in str(exc.value)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.replace("expflow$", "expflox$"),
        lambda s: s + "$extra",
        lambda s: s.rsplit("$", 1)[0] + "$" + "!" * 43,
        lambda s: s.rsplit("$", 1)[0] + "$" + "A",  # a lone base64 char cannot decode
        lambda s: s.rsplit("$", 1)[0] + "$" + "AAAA",  # 3 bytes: too short to be a hash
        lambda s: "",
        lambda s: "0" * 63,
    ],
)
def test_malformed_stored_hash_is_a_config_error(hash_1234: str, mangle: object) -> None:
    assert callable(mangle)
    with pytest.raises(ExpflowError) as exc:
        check_pin("1234", mangle(hash_1234))
    assert exc.value.code is ExitCode.USAGE


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_check_pin_never_crashes_on_arbitrary_stored_text(stored: str) -> None:
    try:
        result = check_pin("1234", stored)
    except ExpflowError as exc:
        # The message is fixed text: nothing of the stored value can leak into it.
        assert exc.message == "the stored PIN hash is not in a format expflow-git can check"
    else:
        assert isinstance(result, bool)


# --- where the hash lives ---------------------------------------------------------


def test_pin_home_env_and_default(tmp_path: Path) -> None:
    assert pin_home({"EXPFLOW_HOME": str(tmp_path)}) == tmp_path
    assert pin_home({"HOME": str(tmp_path)}) == tmp_path / ".expflow"
    assert pin_home({"EXPFLOW_HOME": "", "HOME": str(tmp_path)}) == tmp_path / ".expflow"


def test_load_none_when_nothing_set(env: dict[str, str]) -> None:
    assert load_stored_hash(env) is None


def test_load_from_env(env: dict[str, str]) -> None:
    env[ENV_PIN_HASH] = sha256_hex("1111")
    stored = load_stored_hash(env)
    assert stored is not None
    assert stored.source is HashSource.ENV and stored.scheme is PinScheme.LEGACY
    assert stored.path is None


def test_file_takes_precedence_over_env(
    home_with_pin: Path, env: dict[str, str], hash_1234: str
) -> None:
    env[ENV_PIN_HASH] = sha256_hex("9999")
    stored = load_stored_hash(env)
    assert stored is not None
    assert stored.source is HashSource.FILE
    assert stored.path == home_with_pin / "pin.hash"
    assert stored.value == hash_1234
    assert stored.scheme is PinScheme.SCRYPT


def test_stored_hash_repr_hides_value(
    home_with_pin: Path, env: dict[str, str], hash_1234: str
) -> None:
    stored = load_stored_hash(env)
    for fragment in secret_fragments(hash_1234):
        assert fragment not in repr(stored)
        assert fragment not in str(stored)


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"\xff\xfe", b"x" * 10000])
def test_malformed_file_is_config_error_without_content(
    home: Path, env: dict[str, str], content: bytes
) -> None:
    home.mkdir()
    (home / "pin.hash").write_bytes(content)
    with pytest.raises(ExpflowError) as exc:
        load_stored_hash(env)
    assert exc.value.code is ExitCode.USAGE
    assert "garbage" not in exc.value.message
    assert "xxxx" not in exc.value.message


def test_malformed_env_is_config_error(env: dict[str, str]) -> None:
    env[ENV_PIN_HASH] = "not-a-hash-value-zzz"
    with pytest.raises(ExpflowError) as exc:
        load_stored_hash(env)
    assert "not-a-hash-value-zzz" not in exc.value.message
    assert ENV_PIN_HASH in exc.value.message


def test_save_modes_and_roundtrip(home: Path, env: dict[str, str], hash_1234: str) -> None:
    path = save_hash(home, hash_1234)
    assert path == home / "pin.hash"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    stored = load_stored_hash(env)
    assert stored is not None and check_pin("1234", stored.value)


def test_save_refuses_unknown_format(home: Path) -> None:
    with pytest.raises(ExpflowError):
        save_hash(home, "plaintext-1234")
    assert not (home / "pin.hash").exists()


def test_failed_write_leaves_old_file_intact(
    home_with_pin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = home_with_pin / "pin.hash"
    before = path.read_bytes()
    new_hash = hash_pin("5678")

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("simulated crash between write and rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save_hash(home_with_pin, new_hash)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in home_with_pin.iterdir()) == ["pin.hash"]  # no temp left


def test_clear_hash(home_with_pin: Path) -> None:
    assert clear_hash(home_with_pin) is True
    assert not (home_with_pin / "pin.hash").exists()
    assert clear_hash(home_with_pin) is False


# --- the `pin` command group --------------------------------------------------------


def run_pin(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    interactive: bool = False,
    input: str | None = None,
) -> tuple[int, str, str]:
    """Invoke `pin ARGS` and render errors as the one main() does: (code, stdout, stderr)."""
    result = CliRunner().invoke(
        pin_group,
        list(args),
        input=input,
        obj=PinSettings(env=dict(env), interactive=interactive),
        standalone_mode=False,
    )
    exc = result.exception
    if isinstance(exc, ExpflowError):
        return int(exc.code), result.stdout, result.stderr + f"expflow-git: error: {exc.message}\n"
    if isinstance(exc, click.ClickException):
        return exc.exit_code, result.stdout, result.stderr + exc.format_message()
    if isinstance(exc, click.Abort):
        return 2, result.stdout, result.stderr + "expflow-git: aborted\n"
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return result.exit_code, result.stdout, result.stderr


def stored_value(env: Mapping[str, str]) -> str:
    stored = load_stored_hash(env)
    assert stored is not None
    return stored.value


def test_init_positional_warns_about_history(home: Path, env: dict[str, str]) -> None:
    code, out, err = run_pin(["init", "2468"], env)
    assert code == 0, err
    assert "shell history" in err
    path = home / "pin.hash"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert check_pin("2468", stored_value(env))
    assert "2468" not in out + err
    for fragment in secret_fragments(stored_value(env)):
        assert fragment not in out + err


@pytest.mark.parametrize("inside", [".expflow", ".", "sub/dir"])
def test_init_refuses_a_pin_home_inside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inside: str
) -> None:
    """`EXPFLOW_HOME=.expflow` wrote the hash into the work tree, where `git add -A`
    stages it (the scan would catch it; better never to write it there)."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)
    code, out, err = run_pin(["init", "2468"], {"EXPFLOW_HOME": str(repo / inside)})
    assert code == 2 and "inside this repository" in err and "nothing changed" in err, err
    assert sorted(p.name for p in repo.iterdir()) == [".git"]
    assert "2468" not in out + err
    outside = tmp_path / "home"
    code, _, err = run_pin(["init", "2468"], {"EXPFLOW_HOME": str(outside)})
    assert code == 0 and (outside / "pin.hash").exists(), err


def test_init_prompts_twice_hidden(env: dict[str, str]) -> None:
    code, out, err = run_pin(["init"], env, interactive=True, input="1357\n1357\n")
    assert code == 0, err
    assert "shell history" not in err
    assert "1357" not in out + err  # hidden input is not echoed
    assert check_pin("1357", stored_value(env))


def test_init_prompt_retries_on_mismatch_and_bad_pin(env: dict[str, str]) -> None:
    code, _, err = run_pin(["init"], env, interactive=True, input="١٢٣٤\n1111\n2222\n3333\n3333\n")
    assert code == 0, err
    assert "4 ASCII digits" in err and "do not match" in err
    assert check_pin("3333", stored_value(env))


def test_init_without_tty_or_argument_refuses(home: Path, env: dict[str, str]) -> None:
    code, _, err = run_pin(["init"], env, interactive=False)
    assert code == 2
    assert "terminal" in err
    assert not home.exists()


@pytest.mark.parametrize("bad", ["١٢٣٤", "²³¹⁴", "12345", " 123"])
def test_init_refuses_bad_positional(home: Path, env: dict[str, str], bad: str) -> None:
    code, out, err = run_pin(["init", bad], env)
    assert code == 2
    assert bad not in out + err
    assert not (home / "pin.hash").exists()


def test_init_refuses_to_replace_without_old_pin(home_with_pin: Path, env: dict[str, str]) -> None:
    path = home_with_pin / "pin.hash"
    before = path.read_bytes()
    code, _, err = run_pin(["init", "5678"], env)
    assert code == 2, err
    assert path.read_bytes() == before
    code, _, err = run_pin(["init", "5678", "--pin", "0000"], env)
    assert code == 1, err
    assert path.read_bytes() == before


def test_init_replaces_with_old_pin(home_with_pin: Path, env: dict[str, str]) -> None:
    code, _, err = run_pin(["init", "5678", "--pin", "1234"], env)
    assert code == 0, err
    assert check_pin("5678", stored_value(env))
    assert not check_pin("1234", stored_value(env))


def test_init_replace_asks_old_then_new_on_tty(home_with_pin: Path, env: dict[str, str]) -> None:
    code, _, err = run_pin(["init"], env, interactive=True, input="1234\n8642\n8642\n")
    assert code == 0, err
    assert check_pin("8642", stored_value(env))


def test_init_replaces_when_pin_only_in_env(home: Path, env: dict[str, str]) -> None:
    env[ENV_PIN_HASH] = sha256_hex("1111")
    code, _, _ = run_pin(["init", "5678"], env)
    assert code == 2
    assert not (home / "pin.hash").exists()
    code, _, err = run_pin(["init", "5678", "--pin", "1111"], env)
    assert code == 0, err
    assert "takes precedence" in err
    assert check_pin("5678", stored_value(env))


def test_init_force_replaces_broken_file(home: Path, env: dict[str, str]) -> None:
    home.mkdir()
    (home / "pin.hash").write_text("garbage\n")
    code, _, err = run_pin(["init", "5678"], env)
    assert code == 2 and "pin clear --force" in err
    code, _, err = run_pin(["init", "5678", "--force"], env)
    assert code == 0, err
    assert "--force" in err
    assert check_pin("5678", stored_value(env))


def test_check_exit_codes(home_with_pin: Path, env: dict[str, str]) -> None:
    code, out, _ = run_pin(["check", "--pin", "1234"], env)
    assert code == 0 and "correct" in out
    code, _, err = run_pin(["check", "--pin", "4321"], env)
    assert code == 1 and "wrong PIN" in err
    code, _, _ = run_pin(["check"], {**env, ENV_PIN: "1234"})
    assert code == 0
    code, _, _ = run_pin(["check"], {**env, ENV_PIN: "4321"})
    assert code == 1
    code, _, _ = run_pin(["check"], env)  # no TTY, no PIN given
    assert code == 2
    code, _, _ = run_pin(["check", "--pin", "١٢٣٤"], env)
    assert code == 2
    code, _, _ = run_pin(["check"], env, interactive=True, input="0000\n1234\n")
    assert code == 0
    code, _, _ = run_pin(["check"], env, interactive=True, input="0000\n1111\n2222\n")
    assert code == 1


def test_check_without_pin_set(env: dict[str, str]) -> None:
    code, _, err = run_pin(["check", "--pin", "1234"], env)
    assert code == 2
    assert "pin init" in err


def test_clear_guarded(home_with_pin: Path, env: dict[str, str]) -> None:
    path = home_with_pin / "pin.hash"
    before = path.read_bytes()
    assert run_pin(["clear"], env)[0] == 2
    assert run_pin(["clear", "--pin", "9999"], env)[0] == 1
    assert path.read_bytes() == before
    code, out, err = run_pin(["clear", "--pin", "1234"], env)
    assert code == 0, err
    assert not path.exists()
    assert "cleared" in out


def test_clear_force_warns(home_with_pin: Path, env: dict[str, str]) -> None:
    code, _, err = run_pin(["clear", "--force"], env)
    assert code == 0
    assert "--force: PIN check skipped for pin clear" in err
    assert not (home_with_pin / "pin.hash").exists()


def test_clear_nothing_or_env_only(env: dict[str, str]) -> None:
    code, out, _ = run_pin(["clear"], env)
    assert code == 0 and "nothing to clear" in out
    code, _, err = run_pin(["clear", "--force"], {**env, ENV_PIN_HASH: sha256_hex("1111")})
    assert code == 2 and ENV_PIN_HASH in err


def test_status_reports_without_hash(
    home_with_pin: Path, env: dict[str, str], hash_1234: str
) -> None:
    env[ENV_PIN_HASH] = sha256_hex("9999")
    code, out, err = run_pin(["status"], env)
    assert code == 0
    assert "PIN: set" in out
    assert "source: file" in out and str(home_with_pin / "pin.hash") in out
    assert "scheme: scrypt" in out
    assert "ignored" in out
    code, jout, jerr = run_pin(["status", "--format", "json"], env)
    assert code == 0
    assert json.loads(jout) == {
        "set": True,
        "source": "file",
        "scheme": "scrypt",
        "path": str(home_with_pin / "pin.hash"),
        "env_hash_ignored": True,
    }
    for fragment in secret_fragments(hash_1234) + secret_fragments(sha256_hex("9999")):
        assert fragment not in out + err + jout + jerr


def test_status_not_set_and_legacy_env(env: dict[str, str]) -> None:
    code, out, _ = run_pin(["status"], env)
    assert code == 0 and "PIN: not set" in out
    legacy = sha256_hex("2580")
    code, out, err = run_pin(["status"], {**env, ENV_PIN_HASH: legacy.upper()})
    assert code == 0
    assert "source: env" in out and "scheme: legacy" in out
    assert "legacy" in err
    for fragment in secret_fragments(legacy):
        assert fragment.lower() not in (out + err).lower()


def test_status_warns_on_loose_mode(home_with_pin: Path, env: dict[str, str]) -> None:
    (home_with_pin / "pin.hash").chmod(0o644)
    code, _, err = run_pin(["status"], env)
    assert code == 0
    assert "chmod 600" in err


def test_hash_never_in_any_output(home: Path, env: dict[str, str]) -> None:
    outputs: list[str] = []

    def run(args: Sequence[str], **kw: object) -> int:
        code, out, err = run_pin(args, env, **kw)  # type: ignore[arg-type]
        outputs.append(out + err)
        return code

    assert run(["init", "1470"]) == 0
    first = stored_value(env)
    assert run(["status"]) == 0
    assert run(["status", "--format", "json"]) == 0
    assert run(["check", "--pin", "1470"]) == 0
    assert run(["check", "--pin", "0741"]) == 1
    assert run(["init", "2580", "--pin", "0000"]) == 1
    assert run(["init", "2580", "--pin", "1470"]) == 0
    second = stored_value(env)
    assert run(["check"], interactive=True, input="1111\n2222\n3333\n") == 1
    assert run(["clear", "--pin", "1470"]) == 1
    assert run(["status"]) == 0
    joined = "\n".join(outputs)
    for fragment in secret_fragments(first) + secret_fragments(second):
        assert fragment not in joined
    assert "expflow$scrypt" not in joined


# --- as a real process: no TTY, stdin closed ---------------------------------------


def _subprocess_env(home: Path) -> dict[str, str]:
    # Drop any EXPFLOW_* of the developer's own so the child sees only this test's PIN.
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPFLOW_")}
    env["EXPFLOW_HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def _run_process(code: str, args: Sequence[str], home: Path) -> subprocess.CompletedProcess[str]:
    # start_new_session drops the controlling terminal, so not even /dev/tty is reachable.
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=_subprocess_env(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        start_new_session=True,
        cwd=REPO_ROOT,
    )


MAIN = "import sys; from expflow_git.cli import main; sys.exit(main(['pin', *sys.argv[1:]]))"


def test_process_clear_without_tty_refuses_promptly(home_with_pin: Path) -> None:
    path = home_with_pin / "pin.hash"
    before = path.read_bytes()
    proc = _run_process(MAIN, ["clear"], home_with_pin)  # a wait for input meets the timeout
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("expflow-git: error: ")
    assert "Traceback" not in proc.stderr
    assert path.read_bytes() == before


def test_process_raw_group_clear_refuses(home_with_pin: Path) -> None:
    path = home_with_pin / "pin.hash"
    before = path.read_bytes()
    proc = _run_process(
        "from expflow_git.cli.pin import pin_group; pin_group(prog_name='pin')",
        ["clear"],
        home_with_pin,
    )
    assert proc.returncode != 0
    assert path.read_bytes() == before


def test_process_wrong_and_right_pin(home_with_pin: Path) -> None:
    path = home_with_pin / "pin.hash"
    before = path.read_bytes()
    proc = _run_process(MAIN, ["clear", "--pin", "0000"], home_with_pin)
    assert proc.returncode == 1
    assert path.read_bytes() == before
    proc = _run_process(MAIN, ["check", "--pin", "1234"], home_with_pin)
    assert proc.returncode == 0, proc.stderr
    proc = _run_process(MAIN, ["init"], home_with_pin)  # cannot prompt: refuses, no hang
    assert proc.returncode == 2
    assert path.read_bytes() == before


def test_main_usage_error_exit_2(home: Path) -> None:
    proc = _run_process(MAIN, ["no-such-command"], home)
    assert proc.returncode == 2


def test_pinmod_exports_format_constants() -> None:
    # Another module (the scanner) imports these names.
    assert pinmod.PIN_HASH_PREFIX == "expflow$scrypt$"
    assert pinmod.PIN_HASH_RE.search(
        "x expflow$scrypt$n=16384,r=8,p=1$" + "A" * 22 + "$" + "B" * 43
    )


def _pin_check(home: Path, pin: str, cwd: Path) -> tuple[int, str]:
    from support import run_cli

    res = run_cli(["pin", "check", "--pin", pin], cwd, env={"EXPFLOW_HOME": str(home)})
    return res.code, res.out + res.err


@pytest.mark.parametrize("who", ["group-writable", "world-writable", "another-user"])
def test_a_pin_file_someone_else_may_write_guards_nothing(
    home_with_pin: Path, tmp_path: Path, who: str
) -> None:
    """The guard read a pin.hash another user owned, or any user could write: whoever
    wrote it chose the PIN (an attacker's hunt). It is refused (exit 2), as the local
    cache's files are, until it is this user's again."""
    path = home_with_pin / "pin.hash"
    if who == "another-user":
        if os.geteuid() != 0:
            pytest.skip("changing a file's owner needs root")
        os.chown(path, 65534, 65534)
    else:
        path.chmod(0o620 if who == "group-writable" else 0o602)
    code, text = _pin_check(home_with_pin, "1234", tmp_path)
    assert code == 2, text
    assert "whoever may write it chooses the PIN" in text
    if who == "another-user":
        os.chown(path, 0, 0)
    path.chmod(0o600)
    assert _pin_check(home_with_pin, "1234", tmp_path)[0] == 0


def test_a_hand_made_cheap_scrypt_hash_is_refused(home: Path, tmp_path: Path) -> None:
    """`expflow$scrypt$n=2,r=1,p=1$…` was accepted as a PIN hash: a brute force of it
    costs nothing, and no expflow-git ever wrote one (an attacker's hunt)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(b"0000", salt=salt, n=2, r=1, p=1, dklen=32)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    home.mkdir()
    (home / "pin.hash").write_text(f"expflow$scrypt$n=2,r=1,p=1${b64(salt)}${b64(digest)}\n")
    (home / "pin.hash").chmod(0o600)
    code, text = _pin_check(home, "0000", tmp_path)
    assert code == 2 and "not in a format expflow-git can check" in text, text


@pytest.mark.parametrize(
    "args",
    [
        ["pin", "check", "4821"],
        ["pin", "clear", "4821"],
        ["pin", "init", "4821", "4821"],
        ["rm", "exp-001", "4821"],
        ["cancel", "exp-001", "4821"],
        # Glued to the option, and a stray argument of `result` (review).
        ["pin", "check", "--pin4821"],
        ["list", "--pin4821"],
        ["result", "exp-001", "--metric", "seg_total=1", "--overwrite", "4821"],
    ],
)
def test_a_pin_given_where_none_is_taken_is_not_echoed(
    home_with_pin: Path, tmp_path: Path, args: list[str]
) -> None:
    """Click's "Got unexpected extra argument (4821)" printed the PIN of a command that
    takes none as an argument (an attacker's hunt: `pin init` does take one, so the slip
    is easy). It is masked, and the error is still a usage error (exit 2)."""
    from support import run_cli

    res = run_cli(args, tmp_path, env={"EXPFLOW_HOME": str(home_with_pin)})
    assert res.code == 2
    assert "4821" not in res.out + res.err
    assert "****" in res.err


def test_where_there_are_no_user_ids_the_mode_says_nothing(
    home_with_pin: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Windows every writable file's mode is 0o666: the trust check called each
    pin.hash, `pin init`'s own too, writable by all, and every guarded command failed
    closed (review). Without user ids there is no other user to tell apart."""
    real_fstat = os.fstat

    def windows_fstat(fd: int) -> os.stat_result:
        info = list(real_fstat(fd))
        info[0] = stat.S_IFREG | 0o666
        return os.stat_result(info)

    monkeypatch.setattr(os, "fstat", windows_fstat)
    with pytest.raises(ExpflowError, match="writable by other users"):
        load_stored_hash(env)  # with user ids, as here: refused
    monkeypatch.delattr(os, "geteuid")
    stored = load_stored_hash(env)
    assert stored is not None and check_pin("1234", stored.value)


def test_pin_status_json_carries_no_lone_surrogate(tmp_path: Path, hash_1234: str) -> None:
    """`pin status --format json` wrote a home folder's byte 0xff as `\\udcff` (ASCII
    json.dumps), as list and show did (review): the text `\\xff` now, as everywhere."""
    from support import run_cli

    home = tmp_path / os.fsdecode(b"ph\xff3")
    save_hash(home, hash_1234)
    res = run_cli(["pin", "status", "--format", "json"], tmp_path, env={"EXPFLOW_HOME": str(home)})
    assert res.code == 0, res
    assert "\\udcff" not in res.out
    status = json.loads(res.out)
    status["path"].encode("utf-8")
    assert status["path"].endswith("ph\\xff3/pin.hash") and status["set"] is True


@pytest.mark.parametrize(
    ("args", "kept"),
    [
        (["verify", "r.json", "--repo", "/nonexistent/2024"], "/nonexistent/2024"),
        (["new", "e3", "--study", "s1", "--seed", "2024x"], "2024x"),
        (["list", "--status", "done2024"], "done2024"),
    ],
)
def test_four_digits_of_a_word_path_or_date_stay_in_a_usage_error(
    tmp_path: Path, args: list[str], kept: str
) -> None:
    """The first masking hid every four digits in a usage error: `/srv/repos/****`,
    `'****x'` (review). Only four digits that stand alone, or follow --pin, may be a PIN."""
    from support import run_cli

    res = run_cli(args, tmp_path)
    assert res.code == 2 and kept in res.err, res


def test_a_usage_error_and_pin_status_escape_what_they_quote(
    tmp_path: Path, hash_1234: str
) -> None:
    """Click's usage errors printed the argument they could not place raw (an OSC escape
    set the terminal's title), and `pin status` the $EXPFLOW_HOME path (review)."""
    from support import run_cli

    res = run_cli(["rm", "e1", "\x1b]0;pwned\x07\x1b[31mRED\u202e"], tmp_path)
    assert res.code == 2 and "\x1b" not in res.err and "\u202e" not in res.err, res
    assert "\\x1b]0;pwned" in res.err
    home = tmp_path / "h\x1b[31m"
    save_hash(home, hash_1234)
    res = run_cli(["pin", "status"], tmp_path, env={"EXPFLOW_HOME": str(home)})
    assert res.code == 0 and "\x1b" not in res.out and "h\\x1b[31m" in res.out, res
    other = tmp_path / "o\x1b]0;X\x07"
    for cmd in (["pin", "init", "7391"], ["pin", "clear", "--force"]):  # (review)
        res = run_cli(cmd, tmp_path, env={"EXPFLOW_HOME": str(other)})
        assert res.code == 0 and "\x1b" not in res.out + res.err and "o\\x1b]0;X" in res.out, res


def _real(args: list[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, str, str]:
    """The real CLI, in a subprocess with no terminal (support.run_cli)."""
    from support import run_cli

    res = run_cli(args, cwd, env=dict(env))
    return res.code, res.out, res.err


def test_a_symlinked_pin_hash_is_refused(tmp_path: Path) -> None:
    """`pin.hash` as a symbolic link was followed, and the owner check was made on its
    target: another user who could write the PIN home planted a link to a file of ours
    whose content they chose (a checked-out file of a shared repository), and their PIN
    approved (an attacker's hunt, issue 18 twenty-fourth pass). A link is refused, exit
    2, and `pin status` no longer calls a dangling link "not set"."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    chosen = tmp_path / "notes.txt"
    theirs = str(4000 + 822)
    chosen.write_text(hash_pin(theirs) + "\n")
    chosen.chmod(0o600)
    (home / "pin.hash").symlink_to(chosen)
    env = {"EXPFLOW_HOME": str(home), "EXPFLOW_PIN": theirs}
    code, out, err = _real(["pin", "check"], tmp_path, env)
    assert code == 2 and "is a symbolic link" in err and "PIN is correct" not in out, (out, err)
    (home / "pin.hash").unlink()
    (home / "pin.hash").symlink_to(tmp_path / "nowhere")
    code, out, err = _real(["pin", "status"], tmp_path, env)
    assert code == 2 and "is a symbolic link" in err and "not set" not in out, (out, err)


def test_a_relative_pin_home_is_refused(tmp_path: Path) -> None:
    """A relative $EXPFLOW_HOME was read in whichever folder a command ran in: inside a
    repository holding `.xp/pin.hash`, the repository chose the PIN the guard checked
    (`pin init` refused only a home in its own repository; a hunt)."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    theirs = str(4000 + 822)
    (repo / ".xp").mkdir()
    (repo / ".xp/pin.hash").write_text(hash_pin(theirs) + "\n")
    (repo / ".xp/pin.hash").chmod(0o600)
    env = {"EXPFLOW_HOME": ".xp", "EXPFLOW_PIN": theirs}
    for args in (["pin", "check"], ["pin", "status"], ["pin", "init", str(4000 + 821)]):
        code, out, err = _real(args, repo, env)
        assert code == 2 and "must be an absolute path" in err, (args, out, err)
        assert "PIN is correct" not in out and "PIN: set" not in out, (args, out)


def test_pin_messages_name_ways_that_work(tmp_path: Path) -> None:
    """`pin check` with no PIN to hand said "(or --force)", which check has no option
    for; a broken $EXPFLOW_PIN_HASH said to run `pin init`, the command that had just
    failed on it; `pin init` refused warned first that its PIN was in the shell history
    (a hunt, issue 18 twenty-fourth pass)."""
    home = tmp_path / "home"
    env = {"EXPFLOW_HOME": str(home)}
    mine, other = str(4000 + 821), str(4000 + 822)
    code, _, err = _real(["pin", "init", mine], tmp_path, env)
    assert code == 0 and "shell history" in err, err
    code, _, err = _real(["pin", "check"], tmp_path, env)
    assert code == 2 and "--force" not in err and "EXPFLOW_PIN" in err, err
    code, _, err = _real(["pin", "init", other, "--pin", other], tmp_path, env)
    assert code == 1 and "shell history" not in err, err
    broken = {"EXPFLOW_HOME": str(tmp_path / "empty"), "EXPFLOW_PIN_HASH": "garbage"}
    code, _, err = _real(["pin", "init", mine], tmp_path, broken)
    assert code == 2 and "pin init --force" in err, err
    code, _, err = _real(["pin", "init", mine, "--force"], tmp_path, broken)
    assert code == 0, err  # what the message says works


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"HOME": "."}, "$HOME must be an absolute path"),
        ({"EXPFLOW_HOME": "~nosuchuser-expflow/x"}, "its home folder cannot be found"),
    ],
)
def test_a_pin_home_that_is_not_an_absolute_folder_is_refused(
    tmp_path: Path, env: dict[str, str], said: str
) -> None:
    """`HOME=.` still put the PIN home in whichever folder a command ran in (the relative
    $EXPFLOW_HOME's hole, through the other variable), and `~nosuchuser/x` was a
    RuntimeError traceback (a review, issue 18 twenty-fourth pass)."""
    theirs = str(4000 + 822)
    (tmp_path / ".expflow").mkdir()
    (tmp_path / ".expflow/pin.hash").write_text(hash_pin(theirs) + "\n")
    (tmp_path / ".expflow/pin.hash").chmod(0o600)
    full = {"EXPFLOW_HOME": "", **env, "EXPFLOW_PIN": theirs}
    code, out, err = _real(["pin", "check"], tmp_path, full)
    assert code == 2 and said in err and "Traceback" not in err, (out, err)
    assert "PIN is correct" not in out
