"""Answer one inbound channel message (Chatwoot or WhatsApp), or hand it to a human.

Runs in the worker (workers.channels.reply) through the same chat service as the API
(api.chat.service.begin/complete: lock, context, model, stored answer, memory, the
`message.created` event). Idempotent per channel event: the chat uses the provider's message
id as `client_message_id`, so a redelivered task replays the stored answer instead of asking
the model again, and an event marked replied is not posted twice. A crash between posting and
marking can repeat the post once (at-least-once toward the provider).

Before the model is asked: a conversation already with a human is left alone; a customer
asking for a person, or sending media when the integration says so, is handed off; media
otherwise gets the fallback text; on WhatsApp, a reply outside the 24-hour customer-service
window becomes the configured template, or a handoff.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID

from redis.asyncio import Redis

from api.channels import chatwoot, handoff, repository, service, whatsapp
from api.channels.schemas import ChannelSettings
from api.chat import grounding
from api.chat import service as chat_service
from api.chat.transactions import Transactions
from api.conversations import repository as conversations_repository
from api.core.config import get_settings

log = logging.getLogger("renum.channels")
WINDOW = timedelta(hours=24)


async def answer(tx: Transactions, redis: Redis, event_id: UUID) -> str:
    """Returns what happened: replied, handoff, skipped (already done or gone)."""
    async with tx() as session:
        event = await repository.get_event(session.conn, event_id)
        if event is None or event["status"] != "received" or event["conversation_id"] is None:
            return "skipped"
        integration = await repository.get(session.conn, event["integration_id"])
        conversation = await conversations_repository.get(session.conn, event["conversation_id"])
        last_customer_at = await repository.last_customer_message_at(session.conn, event["conversation_id"])
    if integration is None or conversation is None:
        return "skipped"
    rules = ChannelSettings(**integration["settings"])
    if conversation["handoff_at"] is not None:  # a person has it: stored, not answered
        return await _finish(tx, event_id, "handoff", error="the conversation is with a human")
    if integration["kind"] == "whatsapp" and last_customer_at and datetime.now(UTC) - last_customer_at > WINDOW:
        return await _outside_window(tx, integration, event, conversation, rules)
    if event["message_type"] not in whatsapp.TEXT_TYPES:
        if rules.media == "handoff" and rules.handoff_enabled:
            return await hand_off(tx, integration, event, conversation, rules,
                                  f"the customer sent a message the agent cannot read ({event['message_type']})")
        await send_text(integration, event, rules.media_fallback_text)
        return await _finish(tx, event_id, "replied")
    if rules.handoff_enabled and handoff.asks_for_human(event["content"], rules.handoff_phrases):
        return await hand_off(tx, integration, event, conversation, rules, "the customer asked for a person")
    turn = await chat_service.begin(tx, redis, conversation["agent_id"], conversation["id"], event["content"],
                                    client_message_id=f"{integration['kind']}:{event['external_id']}")
    reply = await chat_service.complete(turn)
    content = reply.message["content"]
    if rules.handoff_enabled and rules.handoff_on_failure:
        if handoff.declined(content, rules.decline_marker):
            return await hand_off(tx, integration, event, conversation, rules, "the agent declined to answer")
        if reason := handoff.not_found(reply.message):
            return await hand_off(tx, integration, event, conversation, rules, reason,
                                  message=grounding.handed_off_text(event["content"]))
    try:
        await send_text(integration, event, content)
    except whatsapp.WhatsAppError as exc:
        if not exc.window_closed:
            raise
        return await _outside_window(tx, integration, event, conversation, rules)
    return await _finish(tx, event_id, "replied", reply_message_id=reply.message["id"])


async def send_text(integration: dict, event: dict, text: str) -> None:
    timeout_s = get_settings().webhook_timeout_s
    if integration["kind"] == "chatwoot":
        await chatwoot.post_reply(integration, event["external_conversation_id"], text, timeout_s)
        return
    token = service.reveal(integration, "access_token")
    for piece in whatsapp.split_text(text):
        await whatsapp.send(integration, token, whatsapp.text_payload(event["external_conversation_id"], piece),
                            timeout_s=timeout_s)


async def hand_off(tx: Transactions, integration: dict, event: dict, conversation: dict, rules: ChannelSettings,
                   reason: str, *, window_open: bool = True, message: str | None = None) -> str:
    """Tell the provider (Chatwoot: private note + status open; WhatsApp: the optional message to
    the customer: the integration's handoff_message, else `message`), then mark the conversation
    and emit `conversation.handoff`. The provider calls come first so a failure retries the whole
    handoff; they are safe to repeat."""
    text = rules.handoff_message or message
    if integration["kind"] == "chatwoot":
        await chatwoot.hand_off(integration, event["external_conversation_id"], reason, get_settings().webhook_timeout_s)
        if text:
            await send_text(integration, event, text)
    elif text and window_open:  # outside the window WhatsApp refuses free text
        await send_text(integration, event, text)
    async with tx() as session:
        await handoff.mark(session, conversation, reason, integration_id=integration["id"],
                           channel=conversation["channel"])
        await repository.finish_event(session.conn, event["id"], "handoff", error=reason)
    log.info("conversation %s handed to a human: %s", conversation["id"], reason)
    return "handoff"


async def _outside_window(tx: Transactions, integration: dict, event: dict, conversation: dict,
                          rules: ChannelSettings) -> str:
    """WhatsApp only accepts free-form messages within 24 hours of the customer's last one."""
    if rules.window_template:
        template = whatsapp.template_payload(event["external_conversation_id"], rules.window_template.name,
                                             rules.window_template.language)
        await whatsapp.send(integration, service.reveal(integration, "access_token"), template,
                            timeout_s=get_settings().webhook_timeout_s)
        return await _finish(tx, event["id"], "replied", error="outside the 24-hour window: template sent")
    return await hand_off(tx, integration, event, conversation, rules,
                          "the reply falls outside WhatsApp's 24-hour customer-service window", window_open=False)


async def _finish(tx: Transactions, event_id: UUID, status: str, *, reply_message_id: UUID | None = None,
                  error: str | None = None) -> str:
    async with tx() as session:
        await repository.finish_event(session.conn, event_id, status, reply_message_id=reply_message_id, error=error)
    return status


async def give_up(tx: Transactions, event_id: UUID, error: str, *, model_failed: bool = False) -> str:
    """Retries are spent. When the model was the problem and the integration allows it, a human
    takes the conversation instead of the customer waiting forever; otherwise the event fails."""
    if model_failed:
        async with tx() as session:
            event = await repository.get_event(session.conn, event_id)
            integration = event and await repository.get(session.conn, event["integration_id"])
            conversation = event and event["conversation_id"] and await conversations_repository.get(
                session.conn, event["conversation_id"])
        if integration and conversation and event["status"] == "received":
            rules = ChannelSettings(**integration["settings"])
            if rules.handoff_enabled and rules.handoff_on_failure:
                try:
                    return await hand_off(tx, integration, event, conversation, rules,
                                          f"the agent could not answer: {error[:200]}")
                except Exception:
                    log.exception("handoff after a model failure failed for channel event %s", event_id)
    await _finish(tx, event_id, "failed", error=error[:1000])
    return "failed"
