"""The one PIN guard every destructive command goes through (docs/spec.md §5).

Pure apart from reading the stored hash and the injected callables, so the
CLI decides how to prompt and warn, and tests can drive every path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from expflow_git.errors import ExitCode, ExpflowError
from expflow_git.pin.store import PinScheme, check_pin, is_valid_pin, load_stored_hash

ENV_PIN = "EXPFLOW_PIN"
PROMPT_TRIES = 3


def require_pin(
    action: str,
    *,
    pin: str | None,
    force: bool,
    env: Mapping[str, str],
    interactive: bool,
    prompt: Callable[[str], str],
    warn: Callable[[str], None],
    pin_name: str = "--pin",
    force_name: str | None = "--force",
) -> str | None:
    """Return if `action` is approved; raise ExpflowError otherwise (exit 1 wrong PIN, 2 usage).
    What it returns is the PIN that approved it (None under `force`), for `refuse_pin_in`.

    The PIN comes from `pin` (--pin), then $EXPFLOW_PIN, then `prompt` (3 tries)
    only when `interactive`. `force` skips the check and says so through `warn`.
    Messages call `pin` by `pin_name` and name `force_name` as the way round, if any
    (the Python API has no --force).
    """
    if force:
        warn(f"--force: PIN check skipped for {action}")
        return None

    stored = load_stored_hash(env)
    if stored is None:
        raise ExpflowError(
            f"no PIN is set, so {action} cannot be approved; "
            "run `expflow-git pin init` first" + (f" (or pass {force_name})" if force_name else "")
        )
    if stored.scheme is PinScheme.LEGACY:
        warn(
            f"the PIN hash in {stored.describe_source()} is a legacy unsalted SHA-256; "
            "run `expflow-git pin init` again to store a salted hash"
        )

    given, source = _non_interactive_pin(pin, pin_name, env)
    if given is not None:
        if not is_valid_pin(given):
            # Never echo the value: it may be a real PIN with a typo.
            raise ExpflowError(f"the PIN from {source} must be exactly 4 ASCII digits (0-9)")
        if not check_pin(given, stored.value):
            raise ExpflowError(
                f"wrong PIN (from {source}): {action} refused, nothing changed",
                code=ExitCode.FAILED,
            )
        return given

    if not interactive:
        # Reading stdin here could hang a hook or CI job forever; refuse instead.
        raise ExpflowError(
            f"{action} needs the PIN and there is no terminal to ask on: "
            f"pass {pin_name} or set ${ENV_PIN}"
            + (f" (or {force_name})" if force_name else "")
            + "; nothing changed"
        )

    for attempt in range(1, PROMPT_TRIES + 1):
        entered = prompt(f"PIN to approve {action}")
        # A malformed entry counts as a wrong try: it is a wrong PIN all the same.
        if is_valid_pin(entered) and check_pin(entered, stored.value):
            return entered
        left = PROMPT_TRIES - attempt
        if left:
            warn(f"wrong PIN, {left} {'try' if left == 1 else 'tries'} left")
    raise ExpflowError(
        f"wrong PIN {PROMPT_TRIES} times: {action} refused, nothing changed", code=ExitCode.FAILED
    )


def _non_interactive_pin(
    pin: str | None, pin_name: str, env: Mapping[str, str]
) -> tuple[str | None, str]:
    """The PIN from --pin or $EXPFLOW_PIN, with a name for its source."""
    if pin is not None:
        return pin, pin_name
    # An empty variable is treated as unset, as shells make `VAR=` easy to leave behind.
    from_env = env.get(ENV_PIN, "")
    if from_env:
        return from_env, f"${ENV_PIN}"
    return None, ""


def refuse_pin_in(
    texts: Mapping[str, str | None], *pins: str | None, env: Mapping[str, str]
) -> None:
    """Refuse (ExpflowError, exit 2) a text the tool is about to write into a record or a
    correction (`{"--reason": reason}`) in which a PIN this command knows stands alone,
    no other digit touching it: one of `pins` (given, or the one that approved it) or
    $EXPFLOW_PIN's. The scan cannot tell four digits alone from any number, so `rm
    --reason "approved NNNN" --pin NNNN` was committed with the PIN, and the hook's
    approval line printed it (an attacker's hunt, issue 18 thirty-seventh pass). Refused,
    not masked, as what the scan flags in what a user gives is (pinscan/written.py);
    the message never shows the PIN."""
    known = {p for p in (*pins, env.get(ENV_PIN, "")) if p and is_valid_pin(p)}
    for option, text in texts.items():
        if text and any(re.search(rf"(?<![0-9]){p}(?![0-9])", text) for p in known):
            raise ExpflowError(
                f"{option} holds the PIN (four digits alone: the PIN given, typed or in "
                f"${ENV_PIN}), and it is kept in a record or a correction that is "
                "committed: leave the PIN out; nothing written"
            )
