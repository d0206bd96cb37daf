from uuid import UUID

from redis.asyncio import Redis

from api.contacts import identities, repository
from api.contacts import repository_identities as identities_repository
from api.contacts.schemas import ContactCreate, ContactUpdate
from api.core.db import Session
from api.core.errors import Conflict, NotFound, Unprocessable
from api.core.pagination import PageParams
from api.memory import service as memory_service
from api.memory import short_term
from api.webhooks import events as webhook_events


async def create(session: Session, org_id: UUID, data: ContactCreate) -> dict:
    if data.external_id and await repository.get_by_external_id(session.conn, org_id, data.external_id):
        raise Conflict(f"a contact with external_id {data.external_id!r} already exists", code="contact_exists")
    row = await repository.insert(session.conn, {**data.model_dump(), "organization_id": org_id})
    await identities.register(session, row)
    return row


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
    await identities.register(session, row)
    return row


async def list_identifiers(session: Session, contact_id: UUID) -> list[dict]:
    await get(session, contact_id)
    return await identities_repository.list_for(session.conn, contact_id)


async def add_identifier(session: Session, contact_id: UUID, kind: str, value: str) -> dict:
    """Attach a phone, email or channel id (normalised); 409 when another contact has it."""
    contact = await get(session, contact_id)
    normal = {"phone": identities.normalise_phone, "email": identities.normalise_email}.get(kind, str.strip)(value)
    if not normal:
        raise Unprocessable(f"not a valid {kind}" + (" (E.164, e.g. +5511999990000)" if kind == "phone" else ""))
    owner = await identities_repository.find(session.conn, contact["organization_id"], [(kind, normal)])
    if owner is not None and owner != contact_id:
        raise Conflict(f"another contact already has this {kind}; merge the two contacts instead",
                       code="identifier_taken")
    await identities_repository.add(session.conn, contact["organization_id"], contact_id, [(kind, normal)])
    return next(i for i in await identities_repository.list_for(session.conn, contact_id)
                if (i["kind"], i["value"]) == (kind, normal))


async def remove_identifier(session: Session, contact_id: UUID, identifier_id: UUID) -> None:
    await get(session, contact_id)
    if not await identities_repository.delete(session.conn, contact_id, identifier_id):
        raise NotFound("identifier not found")


async def merge(session: Session, contact_id: UUID, merged_id: UUID, redis: Redis | None = None) -> dict:
    """Fold contact `merged_id` into `contact_id`: conversations, history, memories (facts both
    hold: the newer stays current, the older is superseded by it) and identifiers move; the
    merged contact is deleted; an audit row records what moved."""
    if contact_id == merged_id:
        raise Unprocessable("a contact cannot be merged into itself")
    keep = await get(session, contact_id)
    merged = await get(session, merged_id)
    org_id = keep["organization_id"]
    moved = await identities_repository.merge(session.conn, org_id, contact_id, merged_id)
    if merged["external_id"]:  # its channel id keeps finding the customer
        await identities_repository.add(session.conn, org_id, contact_id, [("channel", merged["external_id"])])
    await repository.delete(session.conn, merged_id)
    audit = await identities_repository.record_merge(session.conn, org_id, contact_id, merged_id,
                                                     merged["external_id"], moved)
    if redis is not None:  # the merged contact's own keys (memory scheduling); conversations keep theirs
        session.after_commit(lambda: short_term.forget_contact_soon(redis, org_id, merged_id, []))
    return {"contact": await get(session, contact_id), "merge": audit}


async def list_merges(session: Session, contact_id: UUID) -> list[dict]:
    await get(session, contact_id)
    return await identities_repository.list_merges(session.conn, contact_id)


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
