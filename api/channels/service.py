"""Channel integrations (admins only: they hold a provider's credentials) and inbound messages.

An inbound message (Chatwoot `message_created`, a WhatsApp `messages` change) is stored
(deduplicated by the provider's message id) together with its conversation in one short
transaction, and answered by a task after commit (workers.channels.reply), so the provider
gets its 200 at once and a redelivered webhook is answered only once.

WhatsApp credentials (access token, app secret, verify token) are stored only as secretbox
ciphertext bound to their column and organization, and never returned or logged.
"""
from __future__ import annotations

import logging
import secrets
import time
from uuid import UUID

from api.channels import chatwoot, credentials, handoff, repository
from api.channels.schemas import ChannelSettings, IntegrationCreate, IntegrationUpdate, WhatsAppIntegrationCreate
from api.conversations import repository as conversations_repository
from api.conversations import service as conversations_service
from api.conversations.schemas import ConversationCreate
from api.contacts import identities
from api.core import egress, secretbox
from api.core.auth import hash_api_key
from api.core.config import get_settings
from api.core.db import Session, anon_unit_of_work, unit_of_work
from api.core.errors import Conflict, NotFound, Unauthorized, Unavailable, Unprocessable
from api.core.principal import org_principal
from api.core.tasks import CHANNEL_REPLY, enqueue

log = logging.getLogger("renum.channels")
CHANNEL = "chatwoot"
WHATSAPP = "whatsapp"
TOKEN_PREFIX = "rch_"
# Every third-party credential of an integration (Chatwoot and WhatsApp), stored encrypted.
SECRET_COLUMNS = credentials.SECRET_COLUMNS


def inbound_path(integration_id: UUID, kind: str = CHANNEL) -> str:
    return f"/v1/channels/{kind}/{integration_id}"


reveal = credentials.reveal  # a stored credential in clear (secretbox.SecretUnavailable if its key is gone)


def public_view(row: dict) -> dict:
    """What the API shows of an integration: never its credentials (stored encrypted)."""
    view = {k: v for k, v in row.items() if k not in (*SECRET_COLUMNS, "token_hash")}
    return {**view, "signature_required": row["kind"] == WHATSAPP or bool(row["webhook_secret"]),
            "inbound_path": inbound_path(row["id"], row["kind"]), "settings": ChannelSettings(**row["settings"])}


async def create(session: Session, org_id: UUID, data: IntegrationCreate | WhatsAppIntegrationCreate) -> dict:
    await egress.require_public_url(data.base_url, "base_url")
    if not await repository.agent_exists(session.conn, org_id, data.agent_id):
        raise NotFound("agent not found")
    # WhatsApp authenticates by signature; the URL token exists only for Chatwoot's agent bot.
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = await repository.insert(session.conn, {
        **credentials.seal(data.model_dump(), org_id), "organization_id": org_id,
        "token_hash": hash_api_key(token, get_settings().api_key_pepper)})
    view = public_view(row)
    if data.kind == WHATSAPP:
        return view
    return {**view, "token": token, "inbound_url_path": f"{view['inbound_path']}?token={token}"}


async def get(session: Session, integration_id: UUID) -> dict:
    row = await repository.get(session.conn, integration_id)
    if row is None:
        raise NotFound("channel integration not found")
    return public_view(row)


async def list_integrations(session: Session, org_id: UUID, params) -> list[dict]:
    return [public_view(r) for r in await repository.page(session.conn, org_id, params)]


async def update(session: Session, integration_id: UUID, data: IntegrationUpdate) -> dict:
    current = await get(session, integration_id)
    values = data.model_dump(exclude_unset=True)
    fields = {"chatwoot": ("account_id", "api_access_token", "webhook_secret"),
              "whatsapp": ("phone_number_id", "access_token", "app_secret", "verify_token")}
    wrong = [k for kind, names in fields.items() if kind != current["kind"] for k in names if k in values]
    if wrong:
        raise Unprocessable(f"{', '.join(wrong)} do not apply to a {current['kind']} integration")
    await egress.require_public_url(values.get("base_url"), "base_url")
    if "webhook_secret" in values and not values["webhook_secret"]:
        values["webhook_secret"] = None
    if values.get("agent_id") and not await repository.agent_exists(session.conn, current["organization_id"],
                                                                   values["agent_id"]):
        raise NotFound("agent not found")
    values = credentials.seal(values, current["organization_id"])
    return public_view(await repository.update(session.conn, integration_id, values))


async def delete(session: Session, integration_id: UUID) -> None:
    if not await repository.delete(session.conn, integration_id):
        raise NotFound("channel integration not found")


async def inbound(pool, integration_id: UUID, body: bytes, *, token: str | None, timestamp: str | None,
                  signature: str | None) -> dict:
    """A Chatwoot webhook: authenticate (401), parse (422), store and queue the answer; never waits on it."""
    async with anon_unit_of_work(pool) as conn:
        integration = await repository.resolve(conn, integration_id)
    if integration is None or integration["kind"] != "chatwoot":
        raise NotFound("channel integration not found")
    authenticate(integration, body, token=token, timestamp=timestamp, signature=signature)
    event_name, message, ignored = chatwoot.parse(body)
    if not integration["active"]:
        return {"status": "ignored", "reason": "the integration is disabled"}
    if message is None:
        return {"status": "ignored", "reason": ignored}
    # Authenticated as the integration: acts for its organization with member rights only.
    principal = org_principal(integration["organization_id"], "member", kind="channel")
    async with unit_of_work(pool, principal) as session:
        if event_name == "conversation_resolved":
            released = await release_resolved(session, integration, message)
            return {"status": "accepted" if released else "ignored",
                    "reason": None if released else "the conversation was not with a human"}
        event = await receive(session, integration, message)
    return {"status": "accepted" if event else "duplicate"}


def authenticate(integration: dict, body: bytes, *, token: str | None, timestamp: str | None,
                 signature: str | None) -> None:
    """401 unless the request is signed (integrations with a webhook secret) or carries the token."""
    try:
        webhook_secret = credentials.reveal(integration, "webhook_secret")
    except secretbox.SecretUnavailable:
        log.error("channel integration %s: webhook secret cannot be decrypted (RENUM_SECRET_KEYS)", integration["id"])
        raise Unavailable("the integration's credentials cannot be read right now", code="credentials_unavailable",
                          headers={"Retry-After": "60"}) from None
    if webhook_secret:
        chatwoot.check_signature(webhook_secret, timestamp, signature, body, time.time())
        return
    expected = integration["token_hash"]
    if not token or not secrets.compare_digest(hash_api_key(token, get_settings().api_key_pepper), expected):
        raise Unauthorized("missing or invalid channel token", code="invalid_token")


async def receive(session: Session, integration: dict, message: chatwoot.IncomingMessage) -> dict | None:
    """Store an incoming Chatwoot message and open/reuse its conversation; None for a duplicate."""
    account = integration["account_id"]
    contact_id = None
    if message.sender_id:
        # The customer's phone and email tie this Chatwoot contact to the same person on other channels.
        contact_id = await identities.resolve(
            session, integration["organization_id"], external_id=f"chatwoot:{account}:{message.sender_id}",
            name=message.sender_name, phone=message.sender_phone, email=message.sender_email)
    return await store_message(
        session, integration, channel=CHANNEL, conversation_external_id=f"{account}:{message.conversation_id}",
        contact_id=contact_id, external_id=f"message_created:{message.message_id}",
        external_conversation_id=message.conversation_id, content=message.content, message_type=message.message_type)


async def release_resolved(session: Session, integration: dict, chatwoot_conversation_id: str) -> bool:
    """A human resolved the Chatwoot conversation: hand it back to the agent (if it was handed off)."""
    conversation = await conversations_repository.get_by_external_id(
        session.conn, integration["organization_id"], CHANNEL, f"{integration['account_id']}:{chatwoot_conversation_id}")
    if conversation is None or conversation["handoff_at"] is None:
        return False
    await handoff.release(session, conversation["id"])
    return True


async def store_message(session: Session, integration: dict, *, channel: str, conversation_external_id: str,
                        contact_id: UUID | None, external_id: str, external_conversation_id: str, content: str,
                        message_type: str = "text", customer_at=None) -> dict | None:
    """Open or reuse the channel conversation, store the message once and queue its answer."""
    org_id = integration["organization_id"]
    try:
        conversation, _ = await conversations_service.open_conversation(
            session, org_id, integration["agent_id"],
            ConversationCreate(channel=channel, external_id=conversation_external_id, contact_id=contact_id,
                               metadata={"integration_id": str(integration["id"])}))
    except Conflict:  # the integration's agent (or the contact, after a merge) changed: keep the conversation
        conversation = await conversations_repository.get_by_external_id(session.conn, org_id, channel,
                                                                         conversation_external_id)
    event = await repository.insert_event(session.conn, {
        "organization_id": org_id, "integration_id": integration["id"], "external_id": external_id,
        "conversation_id": conversation["id"], "external_conversation_id": external_conversation_id,
        "content": content, "message_type": message_type, "customer_at": customer_at})
    if event is not None:
        args = [str(org_id), str(event["id"])]
        session.after_commit(lambda: _enqueue_reply(*args))
    return event


def _enqueue_reply(org_id: str, event_id: str) -> None:
    try:
        enqueue(CHANNEL_REPLY, org_id, event_id)
    except Exception:  # the message is stored (status received); failing now would not help Chatwoot
        log.exception("could not enqueue %s for channel event %s", CHANNEL_REPLY.name, event_id)
