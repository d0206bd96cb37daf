"""WhatsApp Cloud API webhooks: the GET subscription handshake and signed POSTs of messages.

Every message of a POST is stored once (channel_events, keyed `wamid:<id>`: Meta redelivers
until it gets a 200) in the conversation for (phone number id, customer's wa_id), and its
answer is queued after commit. Delivery receipts (`statuses`) are acknowledged and dropped, so
a replayed receipt is as harmless as the first. The contact is found by the customer's phone
number (E.164), so a customer already known from another channel keeps their memory.
"""
from __future__ import annotations

import hmac
from uuid import UUID

from api.channels import repository, service, whatsapp
from api.contacts import identities
from api.core import secretbox
from api.core.db import anon_unit_of_work, unit_of_work
from api.core.errors import Forbidden, NotFound, Unavailable
from api.core.principal import org_principal

CHANNEL = "whatsapp"


async def _resolve(pool, integration_id: UUID) -> dict:
    async with anon_unit_of_work(pool) as conn:
        integration = await repository.resolve_whatsapp(conn, integration_id)
    if integration is None:
        raise NotFound("channel integration not found")
    return integration


def _reveal(integration: dict, column: str) -> str:
    try:
        return service.reveal(integration, column)
    except secretbox.SecretUnavailable:
        # The key ring lost the key this was sealed with: an operator problem, not the caller's.
        raise Unavailable("the integration's credentials cannot be read; re-enter them") from None


async def verify(pool, integration_id: UUID, mode: str | None, token: str | None, challenge: str | None) -> str:
    """Meta's subscription check: echo `hub.challenge` when the verify token matches (else 403)."""
    integration = await _resolve(pool, integration_id)
    expected = _reveal(integration, "verify_token")
    if mode != "subscribe" or not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Forbidden("the verify token does not match", code="invalid_verify_token")
    return challenge or ""


async def inbound(pool, integration_id: UUID, body: bytes, signature: str | None) -> dict:
    """A signed webhook: authenticate (401), parse (422), store each new message and queue its answer."""
    integration = await _resolve(pool, integration_id)
    whatsapp.check_signature(_reveal(integration, "app_secret"), signature, body)
    parsed = whatsapp.parse(body, integration["phone_number_id"])
    if not integration["active"]:
        return {"status": "ignored", "reason": "the integration is disabled"}
    if not parsed.messages:
        reason = f"{parsed.statuses} status update(s)" if parsed.statuses else "no message for this number"
        return {"status": "ignored", "reason": reason}
    principal = org_principal(integration["organization_id"], "member", kind="channel")
    accepted = 0
    async with unit_of_work(pool, principal) as session:
        for message in parsed.messages:
            accepted += await _receive(session, integration, message) is not None
    duplicates = len(parsed.messages) - accepted
    return {"status": "accepted" if accepted else "duplicate", "accepted": accepted, "duplicates": duplicates}


async def _receive(session, integration: dict, message: whatsapp.IncomingMessage) -> dict | None:
    contact_id = await identities.resolve(session, integration["organization_id"],
                                          external_id=f"whatsapp:{message.wa_id}", phone=f"+{message.wa_id}",
                                          name=message.name)
    return await service.store_message(
        session, integration, channel=CHANNEL, conversation_external_id=f"{integration['phone_number_id']}:"
                                                                       f"{message.wa_id}",
        contact_id=contact_id, external_id=f"wamid:{message.message_id}", external_conversation_id=message.wa_id,
        content=message.content, message_type=message.type, customer_at=message.sent_at)
