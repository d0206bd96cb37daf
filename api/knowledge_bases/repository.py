from uuid import UUID

from api.core import sql
from api.core.pagination import PageParams


async def insert(conn, values: dict) -> dict:
    return await sql.insert(conn, "knowledge_bases", values)


async def get(conn, kb_id: UUID) -> dict | None:
    return await sql.get(conn, "knowledge_bases", kb_id)


async def page(conn, org_id: UUID, params: PageParams) -> list[dict]:
    return await sql.page(conn, "knowledge_bases", org_id, params)


async def update(conn, kb_id: UUID, values: dict) -> dict | None:
    return await sql.update(conn, "knowledge_bases", kb_id, values)


async def delete(conn, kb_id: UUID) -> bool:
    return await sql.delete(conn, "knowledge_bases", kb_id)


async def bump_version(conn, kb_id: UUID) -> None:
    await conn.execute("update public.knowledge_bases set content_version = content_version + 1 where id = %s",
                       [kb_id])
