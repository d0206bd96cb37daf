from uuid import UUID

from fastapi import APIRouter, status

from api.core.deps import SessionDep
from api.core.pagination import Page, PageDep, make_page
from api.organizations import service
from api.organizations.schemas import Organization, OrganizationCreate, OrganizationUpdate

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Organization)
async def create_organization(body: OrganizationCreate, session: SessionDep):
    """Create an organization; the caller becomes its owner."""
    return await service.create(session, body)


@router.get("", response_model=Page[Organization])
async def list_organizations(session: SessionDep, page: PageDep):
    """List the organizations the caller belongs to."""
    return make_page(await service.list_mine(session, page), page, Organization)


@router.get("/{org_id}", response_model=Organization)
async def get_organization(org_id: UUID, session: SessionDep):
    """Get one organization."""
    return await service.get(session, org_id)


@router.patch("/{org_id}", response_model=Organization)
async def update_organization(org_id: UUID, body: OrganizationUpdate, session: SessionDep):
    """Rename an organization (admins)."""
    return await service.update(session, org_id, body)


@router.delete("/{org_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_organization(org_id: UUID, session: SessionDep):
    """Delete an organization and everything in it (owners)."""
    await service.delete(session, org_id)
