"""SQL for the delivery worker and for events written by sync code (the ingest worker)."""
from uuid import UUID

from psycopg.types.json import Jsonb


def emit(conn, org_id: UUID | str, event_type: str, payload: dict) -> list[UUID]:
    rows = conn.execute("select delivery_id from private.emit_webhook_event(%s, %s, %s)",
                        [org_id, event_type, Jsonb(payload)]).fetchall()
    return [r["delivery_id"] for r in rows]


def claim(conn, delivery_id: UUID, hold_s: float) -> dict | None:
    """Take a due, pending delivery for one attempt, with its event and endpoint; None when it is
    delivered, dead, not due yet or being sent by another worker right now."""
    return conn.execute("""
        with claimed as (
          update public.webhook_deliveries d
             set attempts = d.attempts + 1, claimed_until = now() + make_interval(secs => %s), updated_at = now()
           where d.id = %s and d.status = 'pending' and d.next_attempt_at <= now()
             and (d.claimed_until is null or d.claimed_until < now())
          returning d.*)
        select c.id, c.organization_id, c.attempts, c.event_id, c.endpoint_id, ev.type, ev.payload,
               ev.created_at as event_created_at, e.url, e.secret_salt, e.active,
               e.secret, e.previous_secret, e.previous_secret_expires_at
          from claimed c
          join public.webhook_events ev on ev.id = c.event_id
          join public.webhook_endpoints e on e.id = c.endpoint_id""", [hold_s, delivery_id]).fetchone()


def record_success(conn, delivery_id: UUID, status_code: int) -> None:
    conn.execute("""
        update public.webhook_deliveries
           set status = 'delivered', delivered_at = now(), last_status_code = %s, last_error = null,
               claimed_until = null, updated_at = now()
         where id = %s""", [status_code, delivery_id])


def record_failure(conn, delivery_id: UUID, status_code: int | None, error: str, retry_in_s: float | None) -> None:
    """`retry_in_s` None = dead-letter."""
    conn.execute("""
        update public.webhook_deliveries
           set status = case when %(retry)s::float8 is null then 'dead' else 'pending' end,
               next_attempt_at = case when %(retry)s::float8 is null then next_attempt_at
                                      else now() + make_interval(secs => %(retry)s::float8) end,
               last_status_code = %(code)s, last_error = %(error)s, claimed_until = null, updated_at = now()
         where id = %(id)s""", {"retry": retry_in_s, "code": status_code, "error": error[:1000], "id": delivery_id})


def due_deliveries(conn, overdue_s: float, min_gap_s: float, limit: int) -> list[dict]:
    return conn.execute("select * from private.due_webhook_deliveries(make_interval(secs => %s), "
                        "make_interval(secs => %s), %s)", [overdue_s, min_gap_s, limit]).fetchall()


def record_attempt(conn, row: dict, status_code: int | None, response_body: str | None, error: str | None,
                   duration_ms: int) -> None:
    """The delivery log: one row per HTTP attempt."""
    conn.execute("""
        insert into public.webhook_delivery_attempts
               (organization_id, delivery_id, endpoint_id, attempt, status_code, response_body, error, duration_ms)
        values (%s, %s, %s, %s, %s, %s, %s, %s)""",
                 [row["organization_id"], row["id"], row["endpoint_id"], row["attempts"], status_code,
                  response_body, error and error[:1000], duration_ms])
