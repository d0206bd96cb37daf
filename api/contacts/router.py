from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from api.contacts import service
from api.contacts.schemas import (Contact, ContactCreate, ContactUpdate, Identifier, IdentifierCreate, Merged,
                                  MergeRecord, MergeRequest)
from api.core.deps import OrgId, RedisDep, SessionDep
from api.core.pagination import Page, PageDep, make_page

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Contact)
async def create_contact(body: ContactCreate, session: SessionDep, org_id: OrgId):
    """Create a contact (an end customer your agents talk to)."""
    return await service.create(session, org_id, body)


@router.get("", response_model=Page[Contact])
async def list_contacts(session: SessionDep, org_id: OrgId, page: PageDep,
                        external_id: Annotated[str | None, Query(max_length=200)] = None):
    """List contacts, optionally by external id."""
    return make_page(await service.list_contacts(session, org_id, page, external_id), page, Contact)


@router.get("/{contact_id}", response_model=Contact)
async def get_contact(contact_id: UUID, session: SessionDep):
    """Get one contact."""
    return await service.get(session, contact_id)


@router.patch("/{contact_id}", response_model=Contact)
async def update_contact(contact_id: UUID, body: ContactUpdate, session: SessionDep):
    """Update a contact."""
    return await service.update(session, contact_id, body)


@router.delete("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def erase_contact(contact_id: UUID, session: SessionDep, redis: RedisDep):
    """Erase a contact and everything remembered about them."""
    await service.erase(session, contact_id, redis)


@router.get("/{contact_id}/identifiers", response_model=list[Identifier])
async def list_identifiers(contact_id: UUID, session: SessionDep):
    """List the contact's phone numbers, emails and channel ids (how other channels find them)."""
    return await service.list_identifiers(session, contact_id)


@router.post("/{contact_id}/identifiers", status_code=status.HTTP_201_CREATED, response_model=Identifier)
async def add_identifier(contact_id: UUID, body: IdentifierCreate, session: SessionDep):
    """Attach a phone, email or channel id to the contact (409 if another contact has it)."""
    return await service.add_identifier(session, contact_id, body.kind, body.value)


@router.delete("/{contact_id}/identifiers/{identifier_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_identifier(contact_id: UUID, identifier_id: UUID, session: SessionDep):
    """Detach an identifier from the contact."""
    await service.remove_identifier(session, contact_id, identifier_id)


@router.post("/{contact_id}/merge", response_model=Merged)
async def merge_contact(contact_id: UUID, body: MergeRequest, session: SessionDep, redis: RedisDep):
    """Fold another contact (conversations, memories, identifiers) into this one and delete it."""
    return await service.merge(session, contact_id, body.contact_id, redis)


@router.get("/{contact_id}/merges", response_model=list[MergeRecord])
async def list_merges(contact_id: UUID, session: SessionDep):
    """The audit trail of contacts merged into this one."""
    return await service.list_merges(session, contact_id)
