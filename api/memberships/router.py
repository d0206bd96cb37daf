from uuid import UUID

from fastapi import APIRouter, status

from api.core.deps import SessionDep
from api.core.pagination import Page, PageDep, make_page
from api.memberships import service
from api.memberships.schemas import Membership, MembershipCreate, MembershipUpdate

router = APIRouter(prefix="/v1/organizations/{org_id}/members", tags=["memberships"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Membership)
async def add_member(org_id: UUID, body: MembershipCreate, session: SessionDep):
    """Add a user to the organization (admins; owners to add owners)."""
    return await service.add(session, org_id, body)


@router.get("", response_model=Page[Membership])
async def list_members(org_id: UUID, session: SessionDep, page: PageDep):
    """List the organization's members."""
    return make_page(await service.list_members(session, org_id, page), page, Membership)


@router.patch("/{membership_id}", response_model=Membership)
async def change_member_role(org_id: UUID, membership_id: UUID, body: MembershipUpdate, session: SessionDep):
    """Change a member's role."""
    return await service.change_role(session, org_id, membership_id, body)


@router.delete("/{membership_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(org_id: UUID, membership_id: UUID, session: SessionDep):
    """Remove a member (admins), or leave (yourself)."""
    await service.remove(session, org_id, membership_id)
