from uuid import UUID

from api.core import sql

MAX_MODELS = 1000


async def agents(conn, org_id: UUID) -> list[dict]:
    return await sql.fetch_all(conn, """
        select id, name, created_at from public.agents where organization_id = %s
         order by created_at, id limit %s""", [org_id, MAX_MODELS])


async def agents_named(conn, org_id: UUID, name: str) -> list[dict]:
    return await sql.fetch_all(conn, "select * from public.agents where organization_id = %s and name = %s limit 2",
                               [org_id, name])


async def contact_external_id(conn, contact_id: UUID) -> str | None:
    row = await sql.fetch_one(conn, "select external_id from public.contacts where id = %s", [contact_id])
    return row["external_id"] if row else None


async def latest_open_conversation(conn, agent_id: UUID, contact_id: UUID, channel: str) -> dict | None:
    return await sql.fetch_one(conn, """
        select * from public.conversations
         where contact_id = %s and agent_id = %s and channel = %s and status = 'open'
         order by last_message_at desc limit 1""", [contact_id, agent_id, channel])
