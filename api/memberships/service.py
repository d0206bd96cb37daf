from uuid import UUID

from api.core.db import Session
from api.core.errors import Conflict, Forbidden, NotFound
from api.core.pagination import PageParams
from api.memberships import repository
from api.memberships.schemas import MembershipCreate, MembershipUpdate
from api.organizations import service as organizations_service


async def add(session: Session, org_id: UUID, data: MembershipCreate) -> dict:
    await organizations_service.get(session, org_id)
    return await repository.insert(session.conn, org_id, data.user_id, data.role)


async def list_members(session: Session, org_id: UUID, params: PageParams) -> list[dict]:
    await organizations_service.get(session, org_id)
    return await repository.page(session.conn, org_id, params)


async def _existing(session: Session, org_id: UUID, membership_id: UUID) -> dict:
    row = await repository.get(session.conn, org_id, membership_id)
    if row is None:
        raise NotFound("membership not found")
    return row


async def _keep_an_owner(session: Session, org_id: UUID, current: dict) -> None:
    if current["role"] == "owner" and await repository.count_owners(session.conn, org_id) <= 1:
        raise Conflict("an organization must keep at least one owner", code="last_owner")


async def _caller_role(session: Session, org_id: UUID) -> str | None:
    principal = session.principal
    if principal.organization_id:  # API keys act as admin or member, never owner
        return principal.role
    return await repository.role_of(session.conn, org_id, principal.user_id)


async def _only_owners_touch_owners(session: Session, org_id: UUID, current: dict, new_role: str | None) -> None:
    """Only an owner may change or remove an owner's membership, or make someone owner (the
    memberships policies say the same, for the API role)."""
    if "owner" in (current["role"], new_role) and await _caller_role(session, org_id) != "owner":
        raise Forbidden("only owners can change or remove an owner, or grant the owner role")


async def change_role(session: Session, org_id: UUID, membership_id: UUID, data: MembershipUpdate) -> dict:
    current = await _existing(session, org_id, membership_id)
    await _only_owners_touch_owners(session, org_id, current, data.role)
    if data.role != "owner":
        await _keep_an_owner(session, org_id, current)
    row = await repository.update_role(session.conn, membership_id, data.role)
    if row is None:
        raise Forbidden("only admins can change roles, and only owners can grant or change owner")
    return row


async def remove(session: Session, org_id: UUID, membership_id: UUID) -> None:
    current = await _existing(session, org_id, membership_id)
    if current["user_id"] != session.principal.user_id:  # leaving is always allowed
        await _only_owners_touch_owners(session, org_id, current, None)
    await _keep_an_owner(session, org_id, current)
    if not await repository.delete(session.conn, membership_id):
        raise Forbidden("only admins can remove members")
