"""OpenAI-compatible chat over Renum agents.

Models are the organization's agents, named `agent:<uuid>` (an agent's plain name is accepted
too when no other agent of the organization has it). Each request is one chat turn:
- with `metadata.conversation_id`, it continues that conversation: only the last user message
  is new and the stored history is the context (earlier client messages are ignored);
- without it, the client's earlier user/assistant messages are the context, as with OpenAI, in
  a new conversation (channel "openai"); but when `user` is given and those messages are
  exactly the user's latest open conversation with the agent, that conversation continues.
`user` names the contact by external id (created if new), which turns on the agent's memory of
that customer; without it the turn belongs to the organization's anonymous contact and
nothing is remembered. System/developer messages are passed as extra instructions.
Chat UIs name the user and the chat in headers instead (api/openai_compat/chat_ui.py): the
user header stands in for `user`, and a chat id keeps one conversation per (chat, agent) —
its stored history is the context, as with `metadata.conversation_id`.
"""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from api.agents import service as agents_service
from api.chat.transactions import Transactions
from api.conversations import repository as conversations_repository
from api.conversations import service as conversations_service
from api.core.db import Session
from api.core.errors import Conflict, NotFound
from api.openai_compat import repository
from api.openai_compat.chat_ui import ChatUI
from api.openai_compat.schemas import CompletionRequest

MODEL_PREFIX = "agent:"
CHANNEL = "openai"
ANONYMOUS_CONTACT = "renum:anonymous"  # reserved external id of the organization's anonymous contact


def model_id(agent_id: UUID) -> str:
    return f"{MODEL_PREFIX}{agent_id}"


def model_card(agent: dict, org_id: UUID) -> dict:
    return {"id": model_id(agent["id"]), "created": int(agent["created_at"].timestamp()), "owned_by": str(org_id),
            "name": agent["name"]}


async def list_models(session: Session, org_id: UUID) -> list[dict]:
    return [model_card(a, org_id) for a in await repository.agents(session.conn, org_id)]


async def get_model(session: Session, org_id: UUID, model: str) -> dict:
    return model_card(await resolve_agent(session, org_id, model), org_id)


async def resolve_agent(session: Session, org_id: UUID, model: str) -> dict:
    raw = model.removeprefix(MODEL_PREFIX)
    try:
        agent_id = UUID(raw)
    except ValueError:
        agent_id = None
    if agent_id is not None:
        try:
            return await agents_service.get(session, agent_id)
        except NotFound:
            raise NotFound(f"model '{model}' not found", code="model_not_found") from None
    named = await repository.agents_named(session.conn, org_id, model)
    if not named:
        raise NotFound(f"model '{model}' not found", code="model_not_found")
    if len(named) > 1:
        raise Conflict(f"several agents are named '{model}'; use its id from GET /v1/models", code="ambiguous_model")
    return named[0]


@dataclass(frozen=True)
class CompletionTurn:
    agent: dict
    conversation_id: UUID
    question: str
    turns: list[dict] | None  # None: use the conversation's stored history
    instructions: str | None
    anonymous: bool  # the organization's shared anonymous contact: no memory, no per-contact limit


def chat_external_id(chat_id: str, agent_id: UUID) -> str:
    # Per agent: a UI chat may switch models mid-way, and a conversation has one agent.
    return f"{chat_id}|{agent_id}"


async def prepare(tx: Transactions, body: CompletionRequest, ui: ChatUI | None = None) -> CompletionTurn:
    """Find the agent and the conversation (opening one if needed), in a transaction of its own."""
    messages = body.messages
    ui = ui or ChatUI(user=body.user, name=None, chat_id=None)
    user = ui.user
    instructions = "\n\n".join(m.text for m in messages[:-1] if m.role in ("system", "developer") and m.text.strip())
    async with tx() as session:
        agent = await resolve_agent(session, tx.org_id, body.model)
        if body.metadata.conversation_id:
            conversation = await _continued(session, tx.org_id, agent["id"], body.metadata.conversation_id, user)
            contact_external_id = await repository.contact_external_id(session.conn, conversation["contact_id"])
            turns = None
        else:
            contact_external_id = user or ANONYMOUS_CONTACT
            contact_id = await conversations_service.resolve_contact(session, tx.org_id,
                                                                     external_id=contact_external_id, name=ui.name)
            turns = [{"role": m.role, "content": m.text} for m in messages[:-1]
                     if m.role in ("user", "assistant") and m.text.strip()]
            if ui.chat_id:
                conversation = await _of_chat(session, tx.org_id, agent["id"], contact_id, ui.chat_id)
            else:
                conversation = user and turns and await _resumed(session, agent["id"], contact_id, turns)
            if conversation:
                turns = None  # the stored conversation is the same chat; its history is used
            else:
                conversation = await conversations_repository.insert(session.conn, {
                    "organization_id": tx.org_id, "agent_id": agent["id"], "contact_id": contact_id,
                    "channel": CHANNEL, "external_id": chat_external_id(ui.chat_id, agent["id"]) if ui.chat_id
                    else None})
                if conversation is None:  # the same chat's first turn, sent twice at once
                    conversation = await _of_chat(session, tx.org_id, agent["id"], contact_id, ui.chat_id)
    return CompletionTurn(agent=agent, conversation_id=conversation["id"], question=messages[-1].text,
                          turns=turns, instructions=instructions or None,
                          anonymous=contact_external_id == ANONYMOUS_CONTACT)


async def _continued(session: Session, org_id: UUID, agent_id: UUID, conversation_id: UUID, user: str | None) -> dict:
    conversation = await conversations_repository.get(session.conn, conversation_id)
    if conversation is None or conversation["agent_id"] != agent_id:
        raise NotFound("conversation not found")
    if user and await repository.contact_external_id(session.conn, conversation["contact_id"]) != user:
        raise Conflict("the conversation belongs to another user", code="conversation_user_mismatch")
    return conversation


async def _of_chat(session: Session, org_id: UUID, agent_id: UUID, contact_id: UUID, chat_id: str) -> dict | None:
    """The conversation of this UI chat with this agent, when one was opened."""
    found = await conversations_repository.get_by_external_id(session.conn, org_id, CHANNEL,
                                                              chat_external_id(chat_id, agent_id))
    if found and found["contact_id"] != contact_id:
        raise Conflict("the chat belongs to another user", code="conversation_user_mismatch")
    return found


async def _resumed(session: Session, agent_id: UUID, contact_id: UUID, history: list[dict]) -> dict | None:
    """The user's latest open conversation with the agent, when the client's history is exactly its
    stored messages: OpenAI clients re-send the whole chat on every request, and continuing the
    stored conversation keeps one conversation (and one memory summary) per chat."""
    latest = await repository.latest_open_conversation(session.conn, agent_id, contact_id, CHANNEL)
    if latest is None:
        return None
    stored = await conversations_repository.recent_turn_texts(session.conn, latest["id"], len(history) + 1)
    same = [(m["role"], m["content"].strip()) for m in stored] == [(t["role"], t["content"].strip()) for t in history]
    return latest if same else None
