"""Sign with an Ed25519 key held by ssh-agent, so the private key need never be on disk.

The agent protocol (draft-miller-ssh-agent) over the unix socket in SSH_AUTH_SOCK:
REQUEST_IDENTITIES lists the keys, SIGN_REQUEST signs. For ssh-ed25519 the agent's
signature blob holds the raw 64-byte Ed25519 signature of the data it was sent, so
it is the same signature a key file gives and verifies as one.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from expflow_git.errors import ExpflowError
from expflow_git.report.signing import keyid, verify_signature

_REQUEST_IDENTITIES = 11
_IDENTITIES_ANSWER = 12
_SIGN_REQUEST = 13
_SIGN_RESPONSE = 14
_FAILURE = 5
_ED25519 = b"ssh-ed25519"
# OpenSSH's agent drops a connection whose message exceeds 256 KiB (AGENT_MAX_LEN).
MAX_AGENT_MESSAGE = 256 * 1024
_MAX_ANSWER = 1024 * 1024
_TIMEOUT = 30.0


@dataclass(frozen=True)
class AgentKey:
    """An ssh-ed25519 key in ssh-agent; signs like an Ed25519PrivateKey."""

    socket_path: str
    blob: bytes
    public: Ed25519PublicKey

    def public_key(self) -> Ed25519PublicKey:
        return self.public

    def sign(self, data: bytes | memoryview) -> bytes:
        """Ask the agent to sign `data`; the answer is checked before it is used."""
        if len(data) + len(self.blob) + 64 > MAX_AGENT_MESSAGE:
            raise ExpflowError(
                f"the report is too large for ssh-agent to sign ({len(data):,} bytes; "
                f"ssh-agent takes at most {MAX_AGENT_MESSAGE // 1024} KiB): sign with a key file"
            )
        request = (
            bytes([_SIGN_REQUEST])
            + _string(self.blob)
            + struct.pack(">I", len(data))
            + bytes(data)
            + struct.pack(">I", 0)
        )
        answer = _exchange(self.socket_path, request)
        if answer[:1] != bytes([_SIGN_RESPONSE]):
            raise ExpflowError("ssh-agent refused to sign (is the key still loaded?)")
        blob, _ = _read_string(answer, 1)
        kind, at = _read_string(blob, 0)
        sig, _ = _read_string(blob, at)
        if (
            kind != _ED25519
            or len(sig) != 64
            or not verify_signature(self.public, sig, bytes(data))
        ):
            raise ExpflowError("ssh-agent returned a signature that does not verify")
        return sig


def agent_key(fingerprint: str, env: Mapping[str, str]) -> AgentKey:
    """The ssh-ed25519 key whose `SHA256:` fingerprint is `fingerprint`, from the agent
    at env SSH_AUTH_SOCK."""
    path = env.get("SSH_AUTH_SOCK", "")
    if not path:
        raise ExpflowError("--sign-key agent:…: SSH_AUTH_SOCK is not set (is ssh-agent running?)")
    answer = _exchange(path, bytes([_REQUEST_IDENTITIES]))
    if answer[:1] != bytes([_IDENTITIES_ANSWER]) or len(answer) < 5:
        raise ExpflowError("ssh-agent did not list its keys")
    (count,) = struct.unpack(">I", answer[1:5])
    at, held = 5, 0
    for _ in range(min(count, 10_000)):
        blob, at = _read_string(answer, at)
        _, at = _read_string(answer, at)  # the comment
        held += 1
        kind, inner = _read_string(blob, 0)
        if kind != _ED25519:
            continue
        raw, _ = _read_string(blob, inner)
        if len(raw) != 32:
            continue
        public = Ed25519PublicKey.from_public_bytes(raw)
        if keyid(public) == fingerprint:
            return AgentKey(path, blob, public)
    raise ExpflowError(
        f"ssh-agent holds no ssh-ed25519 key {fingerprint} ({held} key(s) held; "
        "`ssh-add -l` lists them)"
    )


def _exchange(path: str, message: bytes) -> bytes:
    """One request, one answer, on a fresh connection."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(_TIMEOUT)
            sock.connect(path)
            sock.sendall(struct.pack(">I", len(message)) + message)
            (length,) = struct.unpack(">I", _recv(sock, 4))
            if length > _MAX_ANSWER:
                raise ExpflowError("ssh-agent sent an answer too large to be one")
            answer = _recv(sock, length)
    except OSError as exc:
        raise ExpflowError(
            f"cannot talk to ssh-agent at $SSH_AUTH_SOCK: {exc.strerror or exc}"
        ) from None
    if answer[:1] == bytes([_FAILURE]):
        raise ExpflowError("ssh-agent refused the request")
    return answer


def _recv(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 65536))
        if not chunk:
            raise ExpflowError("ssh-agent closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _read_string(data: bytes, at: int) -> tuple[bytes, int]:
    if at + 4 > len(data):
        raise ExpflowError("ssh-agent sent a malformed answer")
    (length,) = struct.unpack(">I", data[at : at + 4])
    end = at + 4 + length
    if end > len(data):
        raise ExpflowError("ssh-agent sent a malformed answer")
    return data[at + 4 : end], end
