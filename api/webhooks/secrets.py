"""Which secrets sign an endpoint's deliveries: its own (stored encrypted) or, for endpoints
from before per-endpoint secrets, the derived one; plus the previous secret while a rotation's
grace period lasts. Plain secrets exist only in memory, never in logs or responses (except
once, when created or rotated)."""
from __future__ import annotations

from datetime import UTC, datetime

from api.core import secretbox
from api.core.config import get_settings
from api.webhooks import signing


def context(column: str, org_id) -> str:
    return secretbox.context("webhook_endpoints", column, org_id)


def current(endpoint: dict) -> str:
    if endpoint.get("secret"):
        return secretbox.decrypt(endpoint["secret"], context=context("secret", endpoint["organization_id"]))
    return signing.endpoint_secret(get_settings().webhook_signing_secret, endpoint["id"], endpoint["secret_salt"])


def signing_secrets(endpoint: dict, now: datetime | None = None) -> list[str]:
    """The current secret first, then the previous one until its grace period ends."""
    keys = [current(endpoint)]
    expires = endpoint.get("previous_secret_expires_at")
    if endpoint.get("previous_secret") and expires and expires > (now or datetime.now(UTC)):
        keys.append(secretbox.decrypt(endpoint["previous_secret"],
                                      context=context("previous_secret", endpoint["organization_id"])))
    return keys


def seal(column: str, org_id, secret: str) -> str:
    return secretbox.encrypt(secret, context=context(column, org_id))
