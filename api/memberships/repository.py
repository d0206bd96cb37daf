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
