"""SQL for channel integrations and inbound channel events (async)."""
from uuid import UUID

from api.core import sql
from api.core.pagination import PageParams


async def resolve(conn, integration_id: UUID) -> dict | None:
    """As `anon`: what the public inbound endpoint needs to authenticate a request."""
    return await sql.fetch_one(conn, "select * from private.resolve_channel_integration(%s)", [integration_id])


async def resolve_whatsapp(conn, integration_id: UUID) -> dict | None:
    """As `anon`: a WhatsApp integration's phone number id and its (encrypted) app secret and verify token."""
    return await sql.fetch_one(conn, "select * from private.resolve_whatsapp_integration(%s)", [integration_id])


async def insert(conn, values: dict) -> dict:
    return await sql.insert(conn, "channel_integrations", values)


async def get(conn, integration_id: UUID) -> dict | None:
    return await sql.get(conn, "channel_integrations", integration_id)


async def page(conn, org_id: UUID, params: PageParams) -> list[dict]:
    return await sql.page(conn, "channel_integrations", org_id, params)


async def update(conn, integration_id: UUID, values: dict) -> dict | None:
    return await sql.update(conn, "channel_integrations", integration_id, values)


async def delete(conn, integration_id: UUID) -> bool:
    return await sql.delete(conn, "channel_integrations", integration_id)


async def agent_exists(conn, org_id: UUID, agent_id: UUID) -> bool:
    return await sql.fetch_one(conn, "select 1 from public.agents where id = %s and organization_id = %s",
                               [agent_id, org_id]) is not None


async def insert_event(conn, values: dict) -> dict | None:
    """None when this (integration, external_id) was already received: a redelivered webhook."""
    return await sql.fetch_one(conn, """
        insert into public.channel_events
               (organization_id, integration_id, external_id, conversation_id, external_conversation_id, content,
                message_type, customer_at)
        values (%(organization_id)s, %(integration_id)s, %(external_id)s, %(conversation_id)s,
                %(external_conversation_id)s, %(content)s, %(message_type)s, coalesce(%(customer_at)s, now()))
        on conflict (integration_id, external_id) do nothing
        returning *""", values)


async def get_event(conn, event_id: UUID) -> dict | None:
    return await sql.get(conn, "channel_events", event_id)


async def finish_event(conn, event_id: UUID, status: str, *, reply_message_id: UUID | None = None,
                       error: str | None = None) -> None:
    await conn.execute("""
        update public.channel_events
           set status = %s, reply_message_id = %s, error = %s,
               replied_at = case when %s = 'replied' then now() end
         where id = %s""", [status, reply_message_id, error, status, event_id])


async def last_customer_message_at(conn, conversation_id: UUID):
    """When the customer last wrote in this conversation (WhatsApp's 24-hour window starts there)."""
    row = await sql.fetch_one(conn, "select max(customer_at) as at from public.channel_events "
                                    "where conversation_id = %s", [conversation_id])
    return row["at"] if row else None


async def get_conversation(conn, conversation_id: UUID) -> dict | None:
    return await sql.get(conn, "conversations", conversation_id)


async def set_handoff(conn, conversation_id: UUID, reason: str) -> bool:
    """False when it is already with a human (the first reason stays)."""
    row = await sql.fetch_one(conn, """
        update public.conversations set handoff_at = now(), handoff_reason = %s
         where id = %s and handoff_at is null returning id""", [reason, conversation_id])
    return row is not None


async def clear_handoff(conn, conversation_id: UUID) -> None:
    await conn.execute("update public.conversations set handoff_at = null, handoff_reason = null where id = %s",
                       [conversation_id])
