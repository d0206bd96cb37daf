"""SQL for webhook endpoints and deliveries (async, under the caller's RLS)."""
from uuid import UUID

from psycopg import sql as q

from psycopg.types.json import Jsonb

from api.core import sql
from api.core.pagination import PageParams


async def emit(conn, org_id: UUID, event_type: str, payload: dict) -> list[UUID]:
    """Outbox rows for the event in the caller's transaction; the new delivery ids."""
    rows = await sql.fetch_all(conn, "select delivery_id from private.emit_webhook_event(%s, %s, %s)",
                               [org_id, event_type, Jsonb(payload)])
    return [r["delivery_id"] for r in rows]


async def insert(conn, values: dict) -> dict:
    return await sql.insert(conn, "webhook_endpoints", values)


async def get(conn, endpoint_id: UUID) -> dict | None:
    return await sql.get(conn, "webhook_endpoints", endpoint_id)


async def page(conn, org_id: UUID, params: PageParams) -> list[dict]:
    return await sql.page(conn, "webhook_endpoints", org_id, params)


async def update(conn, endpoint_id: UUID, values: dict) -> dict | None:
    return await sql.update(conn, "webhook_endpoints", endpoint_id, values)


async def delete(conn, endpoint_id: UUID) -> bool:
    return await sql.delete(conn, "webhook_endpoints", endpoint_id)


async def page_deliveries(conn, org_id: UUID, endpoint_id: UUID, params: PageParams, status: str | None) -> list[dict]:
    where = q.SQL("endpoint_id = %s and (%s::text is null or status = %s::text)")
    return await sql.page(conn, "webhook_deliveries", org_id, params, where=where,
                          where_params=[endpoint_id, status, status])


async def get_delivery(conn, delivery_id: UUID) -> dict | None:
    return await sql.get(conn, "webhook_deliveries", delivery_id)


async def reset_delivery(conn, delivery_id: UUID) -> dict | None:
    """A dead delivery starts over: due now, a fresh attempt budget (its last error stays until then)."""
    return await sql.fetch_one(conn, """
        update public.webhook_deliveries
           set status = 'pending', attempts = 0, next_attempt_at = now(), claimed_until = null,
               swept_at = null, updated_at = now()
         where id = %s and status = 'dead'
        returning *""", [delivery_id])


async def rotate(conn, endpoint_id: UUID, values: dict, grace_period_s: int) -> dict | None:
    """None for a member (the update policy is admin-only)."""
    return await sql.fetch_one(conn, """
        update public.webhook_endpoints
           set secret = %(secret)s, previous_secret = %(previous_secret)s,
               previous_secret_expires_at = case when %(previous_secret)s::text is null then null
                                                 else now() + make_interval(secs => %(grace)s) end,
               secret_rotated_at = now()
         where id = %(id)s
        returning *""", {**values, "grace": grace_period_s, "id": endpoint_id})


async def emit_test(conn, org_id: UUID, endpoint_id: UUID, payload: dict) -> UUID | None:
    row = await sql.fetch_one(conn, "select delivery_id from private.emit_webhook_test(%s, %s, %s)",
                              [org_id, endpoint_id, Jsonb(payload)])
    return row["delivery_id"] if row else None


async def attempts(conn, delivery_id: UUID) -> list[dict]:
    return await sql.fetch_all(conn, "select * from public.webhook_delivery_attempts where delivery_id = %s "
                                     "order by attempt, created_at", [delivery_id])
