from uuid import UUID

from psycopg.errors import UniqueViolation

from api.core import sql
from api.core.errors import Conflict
from api.core.pagination import PageParams


async def insert(conn, name: str, slug: str) -> dict:
    try:
        return await sql.insert(conn, "organizations", {"name": name, "slug": slug})
    except UniqueViolation:
        # Slugs are global; other tenants' rows are invisible, so the index is the only check.
        raise Conflict(f"slug {slug!r} is already taken", code="slug_taken") from None


async def get(conn, org_id: UUID) -> dict | None:
    return await sql.get(conn, "organizations", org_id)


async def list_for_user(conn, user_id: UUID | None, org_id: UUID | None, params: PageParams) -> list[dict]:
    after = params.after
    return await sql.fetch_all(conn, """
        select o.* from public.organizations o
         where (o.id in (select organization_id from public.memberships where user_id = %s) or o.id = %s)
           and (%s::timestamptz is null or (o.created_at, o.id) < (%s::timestamptz, %s::uuid))
         order by o.created_at desc, o.id desc limit %s""",
        [user_id, org_id, after and after[0], after and after[0], after and after[1], params.limit + 1])


async def update(conn, org_id: UUID, values: dict) -> dict | None:
    return await sql.update(conn, "organizations", org_id, values)


async def delete(conn, org_id: UUID) -> bool:
    return await sql.delete(conn, "organizations", org_id)
