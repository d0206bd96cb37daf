from uuid import UUID

from psycopg import sql as q

from api.core import sql
from api.core.pagination import PageParams


async def insert(conn, values: dict) -> dict:
    return await sql.insert(conn, "contacts", values)


async def get(conn, contact_id: UUID) -> dict | None:
    return await sql.get(conn, "contacts", contact_id)


async def exists(conn, contact_id: UUID) -> bool:
    """Whether the contact is visible to the caller (RLS hides other organizations')."""
    return await sql.fetch_one(conn, "select 1 as one from public.contacts where id = %s", [contact_id]) is not None


async def get_by_external_id(conn, org_id: UUID, external_id: str) -> dict | None:
    return await sql.fetch_one(conn, "select * from public.contacts where organization_id = %s and external_id = %s",
                               [org_id, external_id])


async def page(conn, org_id: UUID, params: PageParams, external_id: str | None) -> list[dict]:
    if external_id is None:
        return await sql.page(conn, "contacts", org_id, params)
    return await sql.page(conn, "contacts", org_id, params, where=q.SQL("external_id = %s"), where_params=[external_id])


async def update(conn, contact_id: UUID, values: dict) -> dict | None:
    return await sql.update(conn, "contacts", contact_id, values)


async def delete(conn, contact_id: UUID) -> bool:
    # Conversations, history, memories (with their vectors) and citations cascade.
    return await sql.delete(conn, "contacts", contact_id)
