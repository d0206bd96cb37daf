from uuid import UUID

from redis.asyncio import Redis

from api.contacts import repository
from api.contacts.schemas import ContactCreate, ContactUpdate
from api.core.db import Session
from api.core.errors import Conflict, NotFound
from api.core.pagination import PageParams
from api.memory import service as memory_service
from api.memory import short_term
from api.webhooks import events as webhook_events


async def create(session: Session, org_id: UUID, data: ContactCreate) -> dict:
    if data.external_id and await repository.get_by_external_id(session.conn, org_id, data.external_id):
        raise Conflict(f"a contact with external_id {data.external_id!r} already exists", code="contact_exists")
    return await repository.insert(session.conn, {**data.model_dump(), "organization_id": org_id})


async def get(session: Session, contact_id: UUID) -> dict:
    row = await repository.get(session.conn, contact_id)
    if row is None:
        raise NotFound("contact not found")
    return row


async def list_contacts(session: Session, org_id: UUID, params: PageParams, external_id: str | None) -> list[dict]:
    return await repository.page(session.conn, org_id, params, external_id)


async def update(session: Session, contact_id: UUID, data: ContactUpdate) -> dict:
    row = await repository.update(session.conn, contact_id, data.model_dump(exclude_unset=True))
    if row is None:
        raise NotFound("contact not found")
    return row


async def erase(session: Session, contact_id: UUID, redis: Redis | None = None) -> None:
    """Erase a contact with its history, memories and vectors (right to be forgotten), then,
    after commit, its Redis keys: short-term turns, memory scheduling, cached embeddings."""
    contact = await get(session, contact_id)
    conversation_ids, cache_keys = await memory_service.forget_plan(session, contact_id)
    if not await repository.delete(session.conn, contact_id):
        raise NotFound("contact not found")
    await webhook_events.emit(session, contact["organization_id"], "contact.deleted",
                              {"contact_id": contact_id, "external_id": contact["external_id"]})
    if redis is not None:
        session.after_commit(lambda: short_term.forget_contact_soon(
            redis, contact["organization_id"], contact_id, conversation_ids, cache_keys))
