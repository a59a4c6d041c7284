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


def signing_key(spec: str | None, env: Mapping[str, str]) -> SigningKey | None:
    """The key `spec` names, else the one in env EXPFLOW_SIGNING_KEY; None for neither."""
    value = spec or env.get("EXPFLOW_SIGNING_KEY", "").strip()
    if not value:
        return None  # (an unsigned audit never loads cryptography)
    from expflow_git.report.signing import load_private_key, load_private_key_bytes

    if value.startswith(AGENT_PREFIX):
        from expflow_git.report.sshagent import agent_key

        return agent_key(value.removeprefix(AGENT_PREFIX), env)
    if not spec and value.startswith("-----BEGIN"):
        return load_private_key_bytes(value.encode(), source="$EXPFLOW_SIGNING_KEY")
    return load_private_key(value)
