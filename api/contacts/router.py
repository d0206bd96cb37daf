from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from api.contacts import service
from api.contacts.schemas import Contact, ContactCreate, ContactUpdate
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
