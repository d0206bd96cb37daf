"""Third-party credentials at rest (Chatwoot tokens, channel secrets): AES-256-GCM with a
rotatable key ring from settings.

A stored value looks like `enc:v1:<key id>:<base64url(nonce || ciphertext+tag)>`. The
associated data binds it to where it lives (`context`, e.g. "channel_integrations.api_access_token"
plus the organization id), so a ciphertext copied into another row or tenant fails to decrypt.

Keys come from RENUM_SECRET_KEYS, `id:base64key,id2:base64key2`: the first key encrypts, every
listed key decrypts. Rotation: put a new key first, keep the old ones, run
`./renum rotate-secrets` (re-encrypts every stored value with the first key), then drop the old
key. In dev and test a fixed development key is used when none is set; prod refuses to start
without one (api/core/config.py).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api.core.config import get_settings

PREFIX = "enc:v1:"
DEV_KEY_ID = "dev"
_DEV_KEY = hashlib.sha256(b"renum-dev-secret-key-not-for-production").digest()


class SecretUnavailable(Exception):
    """A stored secret cannot be decrypted: its key is no longer configured, or it was tampered with."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """`id:base64key,...` → [(id, 32-byte key)]; raises ValueError with a message on a bad entry."""
    ring: list[tuple[str, bytes]] = []
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id.isalnum():
            raise ValueError("RENUM_SECRET_KEYS entries look like 'id:base64key' with an alphanumeric id")
        try:
            key = _b64decode(encoded.strip())
        except (binascii.Error, ValueError):
            raise ValueError(f"RENUM_SECRET_KEYS key {key_id!r} is not base64") from None
        if len(key) != 32:
            raise ValueError(f"RENUM_SECRET_KEYS key {key_id!r} must be 32 bytes (AES-256), got {len(key)}")
        if any(existing == key_id for existing, _ in ring):
            raise ValueError(f"RENUM_SECRET_KEYS lists key id {key_id!r} twice")
        ring.append((key_id, key))
    return ring


@lru_cache
def _ring(spec: str) -> tuple[tuple[str, bytes], ...]:
    ring = parse_keys(spec)
    return tuple(ring) if ring else ((DEV_KEY_ID, _DEV_KEY),)


def key_ring() -> tuple[tuple[str, bytes], ...]:
    return _ring(get_settings().secret_keys)


def new_key() -> str:
    """A fresh base64url 32-byte key, for RENUM_SECRET_KEYS."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def context(table: str, column: str, org_id) -> str:
    """The one associated-data convention for encrypted columns: "<table>.<column>:<organization_id>"."""
    return f"{table}.{column}:{org_id}"


def encrypt(plaintext: str, *, context: str) -> str:
    key_id, key = key_ring()[0]
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{PREFIX}{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def decrypt(stored: str, *, context: str) -> str:
    if not stored.startswith(PREFIX):
        raise SecretUnavailable("the stored value is not an encrypted secret")
    key_id, _, body = stored[len(PREFIX):].partition(":")
    keys = dict(key_ring())
    if key_id not in keys:
        raise SecretUnavailable(f"the secret was encrypted with key {key_id!r}, which is not configured")
    try:
        raw = _b64decode(body)
        return AESGCM(keys[key_id]).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except Exception:  # InvalidTag, bad base64, short data: all mean "cannot be read"
        raise SecretUnavailable("the secret cannot be decrypted (wrong context or tampered)") from None


def is_current(stored: str) -> bool:
    """Whether `stored` is encrypted with the active (first) key."""
    return stored.startswith(f"{PREFIX}{key_ring()[0][0]}:")


def reencrypt(stored: str, *, context: str) -> str:
    """The same secret under the active key (unchanged when it already is)."""
    return stored if is_current(stored) else encrypt(decrypt(stored, context=context), context=context)
