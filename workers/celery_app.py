"""The Celery application: Redis broker, late acks, one task prefetched per process."""
import os

from celery import Celery
from kombu import Queue

from api.core.config import get_settings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
settings = get_settings()

# Task modules are listed explicitly so every worker registers the same set.
TASK_MODULES = ["workers.health", "workers.memory", "workers.ingest", "workers.webhooks", "workers.channels",
                "workers.catalog"]
app = Celery("renum", broker=settings.redis_url or "redis://127.0.0.1:16379/0", include=TASK_MODULES)
app.conf.update(
    task_acks_late=True,
    # A task whose worker died is redelivered instead of being acknowledged as failed.
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    task_default_queue="default",
    task_queues=[Queue("default"), Queue("ingest"), Queue("memory"), Queue("webhooks")],
    task_routes={"workers.ingest.*": {"queue": "ingest"}, "workers.catalog.*": {"queue": "ingest"}, "workers.memory.*": {"queue": "memory"},
                 "workers.webhooks.*": {"queue": "webhooks"}},
    # Unacknowledged messages of a killed worker come back after this many seconds.
    broker_transport_options={"visibility_timeout": settings.task_visibility_timeout_s,
                              # Look for a dead worker's unacknowledged messages every few seconds
                              # (kombu's default is ~100 s), so redelivery follows the timeout closely.
                              "unacked_restore_interval": 5, "unacked_restore_throttle": 1},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    beat_schedule={"memory-retention": {"task": "workers.memory.apply_retention", "schedule": 24 * 3600},
                   "ingest-reconcile": {"task": "workers.ingest.reconcile", "schedule": 60.0,
                                        "options": {"expires": 55}},
                   # Overdue webhook deliveries (lost enqueue, crashed worker) are sent again.
                   "webhooks-sweep": {"task": "workers.webhooks.sweep", "schedule": 30.0,
                                      "options": {"expires": 25}},
                   # Inbound channel messages whose reply task was lost are answered again.
                   "channels-sweep": {"task": "workers.channels.sweep", "schedule": 60.0,
                                      "options": {"expires": 55}},
                   # Catalog feeds whose interval has passed are pulled (conditional GET).
                   "catalog-feeds": {"task": "workers.catalog.pull_due", "schedule": 60.0,
                                     "options": {"expires": 55}}},
)
