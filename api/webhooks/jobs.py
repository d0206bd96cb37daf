"""Webhook background work: deliver one event to one endpoint, and the sweep.

Retries are scheduled from the database (next_attempt_at) rather than by Celery's autoretry, so
a retry that the broker loses is still sent: the sweep re-enqueues every pending delivery that
is overdue. workers/webhooks.py only wraps these functions as Celery tasks.
"""
from __future__ import annotations

import logging

from api.core.db import JobTransaction, job_transaction
from api.core.principal import SCANNER
from api.webhooks import delivery, events
from api.webhooks import repository_sync as repo

log = logging.getLogger("renum.webhooks")
# A pending delivery this overdue has lost its task message (or its worker): send it again.
OVERDUE_S = 30


def deliver(organization_id: str, delivery_id: str) -> str:
    outcome = delivery.attempt(organization_id, delivery_id)
    if outcome.status == "retry":
        events.enqueue(organization_id, [delivery_id], countdown=outcome.retry_in_s)
    return outcome.status


def sweep(overdue_s: float = OVERDUE_S, limit: int = 500, *, tx: JobTransaction = job_transaction) -> int:
    """Re-enqueue pending deliveries whose time has passed (lost enqueue, crashed worker)."""
    with tx(SCANNER) as session:
        due = repo.due_deliveries(session.conn, overdue_s, max(overdue_s, 60), limit)
    for row in due:
        events.enqueue(str(row["organization_id"]), [str(row["id"])])
    if due:
        log.warning("re-enqueued %d overdue webhook deliveries", len(due))
    return len(due)
