"""Webhook tasks (queue `webhooks`): one-line wrappers around api/webhooks/jobs.py."""
from api.core import tasks
from api.webhooks import jobs
from workers.celery_app import app

OVERDUE_S = jobs.OVERDUE_S


@app.task(name=tasks.WEBHOOK_DELIVER.name, acks_late=True)
def deliver(organization_id: str, delivery_id: str) -> str:
    return jobs.deliver(organization_id, delivery_id)


@app.task(name=tasks.WEBHOOKS_SWEEP.name)
def sweep(overdue_s: float = OVERDUE_S, limit: int = 500) -> int:
    return jobs.sweep(overdue_s, limit)
