from uuid import UUID

from api.core import sql
from api.core.pagination import PageParams


async def insert(conn, org_id: UUID, user_id: UUID, role: str) -> dict:
    return await sql.insert(conn, "memberships", {"organization_id": org_id, "user_id": user_id, "role": role})


async def get(conn, org_id: UUID, membership_id: UUID) -> dict | None:
    return await sql.fetch_one(conn, "select * from public.memberships where id = %s and organization_id = %s",
                               [membership_id, org_id])


async def page(conn, org_id: UUID, params: PageParams) -> list[dict]:
    return await sql.page(conn, "memberships", org_id, params)


async def update_role(conn, membership_id: UUID, role: str) -> dict | None:
    return await sql.update(conn, "memberships", membership_id, {"role": role})


async def delete(conn, membership_id: UUID) -> bool:
    return await sql.delete(conn, "memberships", membership_id)


async def count_owners(conn, org_id: UUID) -> int:
    row = await sql.fetch_one(conn, "select count(*) as n from public.memberships where organization_id = %s "
                                    "and role = 'owner'", [org_id])
    return row["n"]


async def role_of(conn, org_id: UUID, user_id: UUID) -> str | None:
    row = await sql.fetch_one(conn, "select role from public.memberships where organization_id = %s "
                                    "and user_id = %s", [org_id, user_id])
    return row["role"] if row else None


async def organizations_of(conn, user_id: UUID, only: UUID | None = None, limit: int = 2) -> list[UUID]:
    """The caller's organization ids (RLS shows only their memberships), optionally just `only`."""
    rows = await sql.fetch_all(conn, "select organization_id from public.memberships where user_id = %s "
                                     "and (%s::uuid is null or organization_id = %s::uuid) limit %s",
                               [user_id, only, only, limit])
    return [r["organization_id"] for r in rows]
