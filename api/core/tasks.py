"""Background task names, their queues, and the one way the API enqueues them.

The names are shared by the task definitions (`@app.task(name=tasks.PROCESS_DOCUMENT.name)` in
workers/) and by the code that enqueues them, so a rename cannot leave a caller sending to a
task nobody consumes. The API publishes through its own producer, configured here with the same
broker settings as the worker app, so nothing under api/ imports workers/ (and the API process
never loads the worker pipelines just to send a message).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu import Queue

from api.core.config import get_settings
from api.core.db import Session


@dataclass(frozen=True)
class Task:
    name: str
    # One queue per workload, consumed by separate worker pools (infra/local.py WORKER_POOLS), so
    # webhook deliveries and channel replies never wait behind a memory or ingest backlog.
    queue: str = "default"


QUEUES = ("default", "ingest", "memory", "webhooks", "channels")

HEALTH_PING = Task("workers.health.ping")

PROCESS_DOCUMENT = Task("workers.ingest.process_document", "ingest")
INGEST_RECONCILE = Task("workers.ingest.reconcile", "ingest")

CATALOG_EMBED = Task("workers.catalog.embed", "ingest")
CATALOG_PULL = Task("workers.catalog.pull", "ingest")
CATALOG_PULL_DUE = Task("workers.catalog.pull_due", "ingest")

MEMORY_INDEX_TURNS = Task("workers.memory.index_turns", "memory")
MEMORY_SUMMARIZE = Task("workers.memory.summarize_conversation", "memory")
MEMORY_EXTRACT_FACTS = Task("workers.memory.extract_facts", "memory")
MEMORY_AFTER_TURN = Task("workers.memory.after_turn", "memory")
MEMORY_CONSOLIDATE_IF_IDLE = Task("workers.memory.consolidate_if_idle", "memory")
MEMORY_CATCH_UP = Task("workers.memory.catch_up", "memory")
MEMORY_RETENTION = Task("workers.memory.apply_retention", "memory")
# The memory sweep only schedules: it must not wait behind the memory backlog.
MEMORY_SWEEP = Task("workers.memory.sweep", "default")

WEBHOOK_DELIVER = Task("workers.webhooks.deliver", "webhooks")
WEBHOOKS_SWEEP = Task("workers.webhooks.sweep", "webhooks")

CHANNEL_REPLY = Task("workers.channels.reply", "channels")
CHANNELS_SWEEP = Task("workers.channels.sweep", "channels")

CHAT_ANSWER_QUESTION = Task("workers.chat.answer_question", "default")
CHAT_SWEEP = Task("workers.chat.sweep", "default")

ALL = tuple(v for v in list(globals().values()) if isinstance(v, Task))


def make_celery(include: list[str] | tuple[str, ...] = ()) -> Celery:
    """The Celery app both sides share: the worker adds its task modules and beat schedule."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    settings = get_settings()
    app = Celery("renum", broker=settings.redis_url or "redis://127.0.0.1:16379/0", include=list(include))
    app.conf.update(
        task_acks_late=True,
        # A task whose worker died is redelivered instead of being acknowledged as failed.
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue="default",
        task_queues=[Queue(q) for q in QUEUES],
        task_routes={t.name: {"queue": t.queue} for t in ALL},
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
    )
    return app


_producer: Celery | None = None
_lock = threading.Lock()


def producer() -> Celery:
    """The API's Celery app (no task modules): built on first use, one per process."""
    global _producer
    with _lock:
        if _producer is None:
            _producer = make_celery()
        return _producer


def reset_producer() -> None:
    """Forget the producer, so the next publish reads the settings again (tests set the broker's
    URL once their Redis runs)."""
    global _producer
    with _lock:
        _producer = None


def enqueue(task: Task, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """Publish `task` now; raises when the broker cannot be reached (callers decide what that means)."""
    producer().send_task(task.name, args=list(args), kwargs=kwargs or None, queue=task.queue, countdown=countdown)


def enqueue_after_commit(session: Session, task: Task, *args: Any, **kwargs: Any) -> None:
    """Publish `task` only once `session`'s transaction has committed, so a worker never looks
    for a row that is not there yet (and a rolled-back change enqueues nothing)."""
    session.after_commit(lambda: enqueue(task, *args, **kwargs))
