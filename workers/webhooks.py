"""Webhook tasks (queue `webhooks`): deliver one event to one endpoint, and the beat sweep.

Thin: the work is in api/webhooks/delivery.py. Retries are scheduled from the database
(next_attempt_at) rather than by Celery's autoretry, so a retry that the broker loses is
still sent: the sweep re-enqueues every pending delivery that is overdue.
"""
import logging

from api.core.db import job_transaction
from api.core.principal import SCANNER
from api.webhooks import delivery, events
from api.webhooks import repository_sync as repo
from api.core import tasks
from workers.celery_app import app

log = logging.getLogger("renum.webhooks")
# A pending delivery this overdue has lost its task message (or its worker): send it again.
OVERDUE_S = 30


@app.task(name=tasks.WEBHOOK_DELIVER.name, acks_late=True)
def deliver(organization_id: str, delivery_id: str) -> str:
    outcome = delivery.attempt(organization_id, delivery_id)
    if outcome.status == "retry":
        events.enqueue(organization_id, [delivery_id], countdown=outcome.retry_in_s)
    return outcome.status


@app.task(name=tasks.WEBHOOKS_SWEEP.name)
def sweep(overdue_s: float = OVERDUE_S, limit: int = 500) -> int:
    """Re-enqueue pending deliveries whose time has passed (lost enqueue, crashed worker)."""
    with job_transaction(SCANNER) as session:
        due = repo.due_deliveries(session.conn, overdue_s, max(overdue_s, 60), limit)
    for row in due:
        events.enqueue(str(row["organization_id"]), [str(row["id"])])
    if due:
        log.warning("re-enqueued %d overdue webhook deliveries", len(due))
    return len(due)
