from uuid import UUID

from api.core import sql
from api.core.pagination import PageParams


async def insert(conn, values: dict) -> dict:
    return await sql.insert(conn, "agents", values)


async def get(conn, agent_id: UUID) -> dict | None:
    return await sql.get(conn, "agents", agent_id)


async def page(conn, org_id: UUID, params: PageParams) -> list[dict]:
    return await sql.page(conn, "agents", org_id, params)


async def update(conn, agent_id: UUID, values: dict) -> dict | None:
    return await sql.update(conn, "agents", agent_id, values)


async def delete(conn, agent_id: UUID) -> bool:
    return await sql.delete(conn, "agents", agent_id)


async def missing_knowledge_bases(conn, org_id: UUID, kb_ids: list[UUID]) -> list[UUID]:
    rows = await sql.fetch_all(conn, """
        select k.id from unnest(%s::uuid[]) as k(id)
         where not exists (select 1 from public.knowledge_bases b where b.id = k.id and b.organization_id = %s)""",
        [kb_ids, org_id])
    return [r["id"] for r in rows]
