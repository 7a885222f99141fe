"""PKCE (RFC 7636) with S256, and the random values of a flow, from the standard library only
(hashlib and secrets exist in Pyodide too, so no WebCrypto round trip is needed)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string

_VERIFIER_CHARS = frozenset(string.ascii_letters + string.digits + "-._~")
_DEVICE_CHARS = string.ascii_uppercase + string.digits


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_verifier() -> str:
    """43 characters from 32 random bytes: the RFC's recommended length and entropy."""
    return b64url(secrets.token_bytes(32))


def challenge_s256(verifier: str) -> str:
    if not 43 <= len(verifier) <= 128 or not set(verifier) <= _VERIFIER_CHARS:
        raise ValueError("a PKCE verifier is 43-128 characters of A-Z a-z 0-9 - . _ ~")
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def new_state() -> str:
    return b64url(secrets.token_bytes(24))


def new_device_id() -> str:
    """Ten characters like the device ids Synapse and MAS hand out."""
    return "".join(secrets.choice(_DEVICE_CHARS) for _ in range(10))
