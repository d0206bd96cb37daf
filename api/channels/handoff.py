"""Human handoff: when a channel conversation goes to a person, and what marks it.

A conversation is handed off when the customer asks for a person (built-in Portuguese and
English phrases plus the integration's own), when the model fails or declines (its reply
contains the integration's decline marker, or is empty, or the local model judged that the
knowledge base, or an agent's instructions without one, do not answer the question:
api/chat/grounding.py), or on media the agent cannot read (when the integration says so). From
then on inbound messages are stored but not answered until someone releases the conversation
(POST /v1/conversations/{id}/release).
"""
from __future__ import annotations

from uuid import UUID

from api.channels import repository
from api.core.db import Session
from api.core.errors import NotFound
from api.memory.text import normalize_value
from api.webhooks import events as webhook_events

# Matched on lower-cased text without accents, as whole words.
DEFAULT_PHRASES = (
    # Portuguese
    "falar com atendente", "falar com um atendente", "falar com uma atendente", "falar com alguem",
    "falar com uma pessoa", "falar com pessoa", "falar com humano", "falar com um humano", "atendente humano",
    "atendimento humano", "quero um atendente", "quero uma pessoa", "pessoa de verdade", "pessoa real",
    "me passa para um atendente", "chama um atendente", "chamar um atendente", "falar com o gerente",
    "falar com um gerente",
    # English
    "talk to a human", "speak to a human", "talk to a person", "speak to a person", "talk to someone",
    "speak to someone", "real person", "human agent", "live agent", "talk to an agent", "speak to an agent",
    "customer service representative", "talk to a representative", "speak to a representative",
)


def asks_for_human(text: str, extra_phrases: list[str] = ()) -> bool:
    padded = f" {normalize_value(text)} "  # lower case, no accents, punctuation as spaces
    phrases = (normalize_value(p) for p in (*DEFAULT_PHRASES, *extra_phrases))
    return any(f" {p} " in padded for p in phrases if p)


def declined(reply: str, marker: str) -> bool:
    return not reply.strip() or marker.casefold() in reply.casefold()


def not_found(message: dict) -> str | None:
    """Why the agent's answer says it does not have the information (the handoff reason), or None:
    the local model judged that the knowledge excerpts, or for an agent without them its
    instructions and the conversation, do not answer the question (api/chat/grounding.py)."""
    check = (message.get("metadata") or {}).get("answer_check") or {}
    if check.get("answerable") is not False:
        return None
    return _NOT_FOUND_REASONS.get(check.get("kind"), "the knowledge base does not answer the question")


# By the check's kind (api/chat/grounding.applies); the knowledge ones, and checks stored before
# `kind` existed, get the default above.
_NOT_FOUND_REASONS = {
    "instructions": "the agent's instructions do not answer the question",
    "memory": "neither the agent's instructions nor what it remembers of the customer answer the question",
}


async def mark(session: Session, conversation: dict, reason: str, *, integration_id: UUID | None,
               channel: str) -> None:
    """Hand the conversation to a human (idempotent: a second call keeps the first reason) and
    tell the organization's webhooks (`conversation.handoff`)."""
    if not await repository.set_handoff(session.conn, conversation["id"], reason[:500]):
        return
    await webhook_events.emit(session, conversation["organization_id"], "conversation.handoff", {
        "conversation_id": conversation["id"], "contact_id": conversation["contact_id"],
        "agent_id": conversation["agent_id"], "channel": channel, "external_id": conversation["external_id"],
        "integration_id": integration_id, "reason": reason[:500]})


async def hand_off(session: Session, conversation_id: UUID, reason: str) -> dict:
    """A person takes the conversation from the API (the console, a CRM)."""
    conversation = await repository.get_conversation(session.conn, conversation_id)
    if conversation is None:
        raise NotFound("conversation not found")
    await mark(session, conversation, reason, integration_id=None, channel=conversation["channel"])
    return await repository.get_conversation(session.conn, conversation_id)


async def release(session: Session, conversation_id: UUID) -> dict:
    """Give the conversation back to the agent: new inbound messages are answered again."""
    conversation = await repository.get_conversation(session.conn, conversation_id)
    if conversation is None:
        raise NotFound("conversation not found")
    if conversation["handoff_at"] is not None:
        await repository.clear_handoff(session.conn, conversation_id)
        await webhook_events.emit(session, conversation["organization_id"], "conversation.released", {
            "conversation_id": conversation_id, "contact_id": conversation["contact_id"],
            "channel": conversation["channel"], "external_id": conversation["external_id"]})
    return await repository.get_conversation(session.conn, conversation_id)
