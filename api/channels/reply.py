"""Answer one inbound channel message with the agent's chat and post it back to Chatwoot.

Runs in the worker (workers.channels.reply) through the same chat service as the API
(api.chat.service.begin/complete: lock, context, model, stored answer, memory, the
`message.created` event). Idempotent per channel event: the chat uses the Chatwoot message id
as `client_message_id`, so a redelivered task replays the stored answer instead of asking the
model again, and an event marked replied is not posted twice. A crash between posting and
marking can repeat the post once (at-least-once toward Chatwoot).
"""
from __future__ import annotations

import logging
from uuid import UUID

from redis.asyncio import Redis

from api.channels import chatwoot, repository
from api.chat import service as chat_service
from api.chat.transactions import Transactions
from api.conversations import repository as conversations_repository
from api.core.config import get_settings

log = logging.getLogger("renum.channels")


async def answer(tx: Transactions, redis: Redis, event_id: UUID) -> str:
    """Returns what happened: replied, skipped (already replied or gone)."""
    async with tx() as session:
        event = await repository.get_event(session.conn, event_id)
        if event is None or event["status"] != "received" or event["conversation_id"] is None:
            return "skipped"
        integration = await repository.get(session.conn, event["integration_id"])
        conversation = await conversations_repository.get(session.conn, event["conversation_id"])
    if integration is None or conversation is None:
        return "skipped"
    turn = await chat_service.begin(tx, redis, conversation["agent_id"], conversation["id"], event["content"],
                                    client_message_id=f"chatwoot:{event['external_id']}")
    reply = await chat_service.complete(turn)
    await chatwoot.post_reply(integration, event["external_conversation_id"], reply.message["content"],
                              get_settings().webhook_timeout_s)
    async with tx() as session:
        await repository.finish_event(session.conn, event_id, "replied", reply_message_id=reply.message["id"])
    return "replied"


async def give_up(tx: Transactions, event_id: UUID, error: str) -> None:
    async with tx() as session:
        await repository.finish_event(session.conn, event_id, "failed", error=error[:1000])
