"""Standard Webhooks signatures (https://www.standardwebhooks.com).

Each endpoint's secret is `whsec_<base64 key>`: a random key per endpoint, stored encrypted
(secretbox), or for endpoints created before per-endpoint secrets, derived from
RENUM_WEBHOOK_SIGNING_SECRET and the endpoint's id and random salt. A delivery carries:
    webhook-id: <event id>            (the same on every retry: receivers dedupe on it)
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))>
During a rotation's grace period it carries one `v1,` signature per valid secret,
space-separated, so receivers holding either secret verify it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from uuid import UUID

SECRET_PREFIX = "whsec_"


def new_salt() -> str:
    return secrets.token_hex(16)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def endpoint_secret(master: str, endpoint_id: UUID | str, salt: str) -> str:
    key = hmac.new(master.encode(), f"webhook-endpoint:{endpoint_id}:{salt}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(key).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secret: str | list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    keys = [secret] if isinstance(secret, str) else secret
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(signature(k, msg_id, timestamp, body) for k in keys),
            "content-type": "application/json", "user-agent": "Renum-Webhooks/1"}


def verify(secret: str, msg_id: str, timestamp: str, body: bytes, header: str, *, now: float,
           tolerance_s: int = 300) -> bool:
    """What a receiver does: any `v1,` signature in the space-separated header may match."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = signature(secret, msg_id, int(timestamp), body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())
