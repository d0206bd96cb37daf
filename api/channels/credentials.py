"""Channel credentials at rest: third-party tokens and secrets are stored encrypted
(api/core/secretbox.py), bound to their column and organization, decrypted only where they are
used (signing checks, posting replies) and never returned or logged.

Rows written before encryption hold plaintext; they keep working and `./renum rotate-secrets`
(also run by `./renum migrate`) encrypts them.
"""
from __future__ import annotations

from uuid import UUID

from api.core import secretbox

# Columns of channel_integrations that hold a third-party credential: Chatwoot's access token
# and webhook secret, WhatsApp's access token, app secret and verify token.
SECRET_COLUMNS = ("api_access_token", "webhook_secret", "access_token", "app_secret", "verify_token")


def context(column: str, org_id: UUID | str) -> str:
    return secretbox.context("channel_integrations", column, org_id)


def seal(values: dict, org_id: UUID | str) -> dict:
    """`values` with every credential column encrypted (None stays None)."""
    return {k: (secretbox.encrypt(v, context=context(k, org_id)) if k in SECRET_COLUMNS and v else v)
            for k, v in values.items()}


def reveal(row: dict, column: str) -> str | None:
    """The plaintext of one credential of an integration row (None when unset)."""
    stored = row.get(column)
    if not stored:
        return None
    if not stored.startswith(secretbox.PREFIX):  # written before encryption at rest
        return stored
    return secretbox.decrypt(stored, context=context(column, row["organization_id"]))

