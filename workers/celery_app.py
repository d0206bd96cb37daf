"""The worker's Celery application: the shared broker settings (api/core/tasks.py), the task
modules every worker registers, and the beat schedule."""
from api.core import tasks
from api.core.tasks import make_celery

# Task modules are listed explicitly so every worker registers the same set.
TASK_MODULES = ["workers.health", "workers.memory", "workers.ingest", "workers.webhooks", "workers.channels",
                "workers.catalog", "workers.chat"]
app = make_celery(TASK_MODULES)
app.conf.beat_schedule = {
    "memory-retention": {"task": tasks.MEMORY_RETENTION.name, "schedule": 24 * 3600},
    # Every RECONCILE_S (api/documents/lease.py): expired leases come back quickly.
    "ingest-reconcile": {"task": tasks.INGEST_RECONCILE.name, "schedule": 15.0, "options": {"expires": 14}},
    # Memory work the database records as pending (lost or never-sent tasks).
    "memory-sweep": {"task": tasks.MEMORY_SWEEP.name, "schedule": 30.0, "options": {"expires": 25}},
    # Overdue webhook deliveries (lost enqueue, crashed worker) are sent again.
    "webhooks-sweep": {"task": tasks.WEBHOOKS_SWEEP.name, "schedule": 30.0, "options": {"expires": 25}},
    # Stored customer questions still without an answer (outage, killed process).
    "chat-sweep": {"task": tasks.CHAT_SWEEP.name, "schedule": 60.0, "options": {"expires": 55}},
    # Inbound channel messages whose reply task was lost are answered again.
    "channels-sweep": {"task": tasks.CHANNELS_SWEEP.name, "schedule": 60.0, "options": {"expires": 55}},
    # Catalog feeds whose interval has passed are pulled (conditional GET).
    "catalog-feeds": {"task": tasks.CATALOG_PULL_DUE.name, "schedule": 60.0, "options": {"expires": 55}},
}
