from uuid import UUID

from api.core.db import Session
from api.core.errors import Forbidden, NotFound
from api.core.pagination import PageParams
from api.organizations import repository
from api.organizations.schemas import OrganizationCreate, OrganizationUpdate


async def create(session: Session, data: OrganizationCreate) -> dict:
    if session.principal.kind != "user":
        raise Forbidden("organizations are created by signed-in users, not API keys")
    return await repository.insert(session.conn, data.name, data.slug)


async def get(session: Session, org_id: UUID) -> dict:
    row = await repository.get(session.conn, org_id)
    if row is None:
        raise NotFound("organization not found")
    return row


async def list_mine(session: Session, params: PageParams) -> list[dict]:
    p = session.principal
    return await repository.list_for_user(session.conn, p.user_id, p.organization_id, params)


async def update(session: Session, org_id: UUID, data: OrganizationUpdate) -> dict:
    await get(session, org_id)
    row = await repository.update(session.conn, org_id, data.model_dump(exclude_unset=True, exclude_none=True))
    if row is None:
        raise Forbidden("only admins can update the organization")
    return row


async def delete(session: Session, org_id: UUID) -> None:
    await get(session, org_id)
    if not await repository.delete(session.conn, org_id):
        raise Forbidden("only owners can delete the organization")
