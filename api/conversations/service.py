"""Conversations between an agent and a contact, and their message history with citations."""
from collections import defaultdict
from uuid import UUID

from api.agents import service as agents_service
from api.contacts import identities
from api.contacts import repository as contacts_repository
from api.conversations import repository
from api.conversations.schemas import ConversationCreate
from api.core.db import Session
from api.core.errors import Conflict, NotFound
from api.core.pagination import PageParams


async def resolve_contact(session: Session, org_id: UUID, *, contact_id: UUID | None = None,
                          external_id: str | None = None, name: str | None = None) -> UUID:
    """An existing contact, the one with `external_id` or one of its identifiers (a phone number or
    email used as the external id: the same customer on another channel), created if new, or a
    new anonymous one."""
    if contact_id:
        if not await contacts_repository.exists(session.conn, contact_id):
            raise NotFound("contact not found")
        return contact_id
    if external_id:
        return await identities.resolve(session, org_id, external_id=external_id, name=name)
    return (await repository.insert_contact(session.conn, org_id))["id"]


async def open_conversation(session: Session, org_id: UUID, agent_id: UUID,
                            data: ConversationCreate) -> tuple[dict, bool]:
    """(conversation, created). A channel conversation (external_id) is opened once and then reused."""
    await agents_service.get(session, agent_id)
    if data.external_id and (existing := await repository.get_by_external_id(
            session.conn, org_id, data.channel, data.external_id)):
        return _check_reuse(existing, agent_id, data.contact_id), False
    contact_id = await resolve_contact(session, org_id, contact_id=data.contact_id,
                                       external_id=data.contact_external_id, name=data.contact_name)
    row = await repository.insert(session.conn, {
        "organization_id": org_id, "agent_id": agent_id, "contact_id": contact_id, "channel": data.channel,
        "external_id": data.external_id, "metadata": data.metadata})
    if row is None:  # opened concurrently by another request a moment ago
        existing = await repository.get_by_external_id(session.conn, org_id, data.channel, data.external_id)
        return _check_reuse(existing, agent_id, contact_id), False
    return row, True


def _check_reuse(existing: dict, agent_id: UUID, contact_id: UUID | None) -> dict:
    if existing["agent_id"] != agent_id or (contact_id and existing["contact_id"] != contact_id):
        raise Conflict("a conversation with this channel and external_id belongs to another agent or contact",
                       code="conversation_exists")
    return existing


async def get(session: Session, conversation_id: UUID) -> dict:
    row = await repository.get(session.conn, conversation_id)
    if row is None:
        raise NotFound("conversation not found")
    return row


async def list_for_agent(session: Session, org_id: UUID, agent_id: UUID, params: PageParams, *,
                         contact_id: UUID | None = None, status: str | None = None) -> list[dict]:
    await agents_service.get(session, agent_id)
    return await repository.page_for_agent(session.conn, org_id, agent_id, params, contact_id=contact_id,
                                           status=status)


async def close(session: Session, conversation_id: UUID) -> dict:
    """Close a conversation; new messages are refused (409). Closing twice is harmless."""
    row = await repository.close(session.conn, conversation_id)
    if row is None:
        raise NotFound("conversation not found")
    return row


async def citations(session: Session, message_ids: list[UUID]) -> dict[UUID, list[dict]]:
    """Citations grouped by message id, chunks first, each kind by rank."""
    grouped: dict[UUID, list[dict]] = defaultdict(list)
    if message_ids:
        for row in await repository.citations_for(session.conn, message_ids):
            grouped[row["message_id"]].append(row)
    return grouped


async def list_messages(session: Session, org_id: UUID, conversation_id: UUID, params: PageParams) -> list[dict]:
    """A page of messages, newest first, each answer with its citations."""
    await get(session, conversation_id)
    rows = await repository.page_messages(session.conn, org_id, conversation_id, params)
    cited = await citations(session, [r["id"] for r in rows[: params.limit] if r["role"] == "assistant"])
    return [{**r, "citations": cited.get(r["id"], [])} for r in rows]
