"""Which key signs a report: `--sign-key`, else env EXPFLOW_SIGNING_KEY.

A value is a private key file (PEM PKCS#8 or OpenSSH), the key itself as PEM text
(environment only, as a CI secret arrives), or `agent:SHA256:FINGERPRINT` for an
ssh-ed25519 key held by ssh-agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from expflow_git.report.signing import SigningKey

AGENT_PREFIX = "agent:"


def _spec(spec: str | None, env: Mapping[str, str]) -> tuple[str, bool]:
    """The value that names the key, and whether it is the key's own PEM text."""
    value = spec or env.get("EXPFLOW_SIGNING_KEY", "").strip()
    return value, not spec and value.startswith("-----BEGIN")


def key_file(spec: str | None, env: Mapping[str, str]) -> str | None:
    """The private key file `signing_key` reads, if the key comes from one."""
    value, inline = _spec(spec, env)
    return None if not value or inline or value.startswith(AGENT_PREFIX) else value


def signing_key(spec: str | None, env: Mapping[str, str]) -> SigningKey | None:
    """The key `spec` names, else the one in env EXPFLOW_SIGNING_KEY; None for neither."""
    value, inline = _spec(spec, env)
    if not value:
        return None  # (an unsigned audit never loads cryptography)
    from expflow_git.report.signing import load_private_key, load_private_key_bytes

    if value.startswith(AGENT_PREFIX):
        from expflow_git.report.sshagent import agent_key

        return agent_key(value.removeprefix(AGENT_PREFIX), env)
    if inline:
        # The environment's bytes as they are: one that is not UTF-8 (a lone surrogate
        # here) was a traceback from `encode`; now a key that cannot be parsed.
        data = value.encode("utf-8", "surrogateescape")
        return load_private_key_bytes(data, source="$EXPFLOW_SIGNING_KEY")
    if spec:
        return load_private_key(value)
    # A value from the environment that is no PEM text is taken for a key file's path,
    # but it may be the secret itself in another form (base64, openssl's "Bag
    # Attributes" lines before the PEM): no message ever quotes it (CI logs keep them).
    return load_private_key(value, source="$EXPFLOW_SIGNING_KEY (taken for a key file's path)")
