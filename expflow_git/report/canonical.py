"""RFC 8785 (JCS) canonical JSON and the SHA-256 helper every report hash goes through."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_json(obj: Any) -> bytes:
    """Return the RFC 8785 canonical bytes of a JSON value (dict/list/str/int/float/bool/None).

    Raises rfc8785.CanonicalizationError (a ValueError) for values JCS cannot
    represent (NaN, infinities, integers beyond 2**53): the callers build these
    values themselves, so that is a programming error, not user input.
    """
    return rfc8785.dumps(obj)


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()
