"""The Celery application: Redis broker, late acks, one task prefetched per process."""
import os

from celery import Celery
from kombu import Queue

from api.core.config import get_settings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
settings = get_settings()

# Task modules are listed explicitly so every worker registers the same set.
TASK_MODULES = ["workers.health", "workers.memory", "workers.ingest", "workers.webhooks", "workers.channels",
                "workers.catalog", "workers.chat"]
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
    # One queue per workload, consumed by separate worker pools (infra/local.py WORKER_POOLS), so
    # webhook deliveries and channel replies never wait behind a memory or ingest backlog.
    task_queues=[Queue("default"), Queue("ingest"), Queue("memory"), Queue("webhooks"), Queue("channels")],
    task_routes={"workers.ingest.*": {"queue": "ingest"}, "workers.catalog.*": {"queue": "ingest"},
                 "workers.memory.*": {"queue": "memory"},
                 "workers.webhooks.*": {"queue": "webhooks"}, "workers.channels.*": {"queue": "channels"},
                 # The memory sweep only schedules: it must not wait behind the memory backlog.
                 "workers.memory.sweep": {"queue": "default"}},
    # Publishing from the API must not stall a request for long when the broker is down: every
    # enqueued workload has a database sweep that re-schedules what was not sent.
    broker_connection_timeout=2,
    task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
    # Unacknowledged messages of a killed worker come back after this many seconds.
    broker_transport_options={"visibility_timeout": settings.task_visibility_timeout_s,
                              # Look for a dead worker's unacknowledged messages every few seconds
                              # (kombu's default is ~100 s), so redelivery follows the timeout closely.
                              "unacked_restore_interval": 5, "unacked_restore_throttle": 1,
                              # A frozen broker times out instead of hanging a publish or a worker.
                              "socket_timeout": 5, "socket_connect_timeout": 2,
                              "health_check_interval": 10, "retry_on_timeout": True},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    beat_schedule={"memory-retention": {"task": "workers.memory.apply_retention", "schedule": 24 * 3600},
                   # Every RECONCILE_S (api/documents/lease.py): expired leases come back quickly.
                   "ingest-reconcile": {"task": "workers.ingest.reconcile", "schedule": 15.0,
                                        "options": {"expires": 14}},
                   # Memory work the database records as pending (lost or never-sent tasks).
                   "memory-sweep": {"task": "workers.memory.sweep", "schedule": 30.0,
                                    "options": {"expires": 25}},
                   # Overdue webhook deliveries (lost enqueue, crashed worker) are sent again.
                   "webhooks-sweep": {"task": "workers.webhooks.sweep", "schedule": 30.0,
                                      "options": {"expires": 25}},
                   # Stored customer questions still without an answer (outage, killed process).
                   "chat-sweep": {"task": "workers.chat.sweep", "schedule": 60.0, "options": {"expires": 55}},
                   # Inbound channel messages whose reply task was lost are answered again.
                   "channels-sweep": {"task": "workers.channels.sweep", "schedule": 60.0,
                                      "options": {"expires": 55}},
                   # Catalog feeds whose interval has passed are pulled (conditional GET).
                   "catalog-feeds": {"task": "workers.catalog.pull_due", "schedule": 60.0,
                                     "options": {"expires": 55}}},
)
