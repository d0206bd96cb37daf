"""Channel background work that is not one reply: the sweep of messages whose reply task was lost.

Answering one message is api/channels/reply.py (its retries are the Celery task's, in
workers/channels.py).
"""
from __future__ import annotations

import logging

from api.channels import repository_sync as repo
from api.core import tasks
from api.core.db import JobTransaction, job_transaction
from api.core.principal import SCANNER
from api.core.tasks import enqueue

log = logging.getLogger("renum.channels")
# A message still 'received' this long after it arrived lost its reply task (the enqueue
# failed, or the worker died outside the task's own error handling): the sweep re-enqueues it,
# at most once per STALE_S and SWEEP_LIMIT times, then marks it failed.
STALE_S = 120
SWEEP_LIMIT = 3


def sweep(stale_s: float = STALE_S, limit: int = 200, *, tx: JobTransaction = job_transaction) -> int:
    """Re-enqueue inbound messages whose reply task was lost; returns how many were re-enqueued."""
    with tx(SCANNER) as session:
        rows = repo.stalled_events(session.conn, stale_s, stale_s, SWEEP_LIMIT, limit)
    again = [r for r in rows if r["status"] == "received"]
    for row in again:
        enqueue(tasks.CHANNEL_REPLY, str(row["organization_id"]), str(row["id"]))
    if rows:
        log.warning("channel sweep: re-enqueued %d unanswered messages, gave up on %d",
                    len(again), len(rows) - len(again))
    return len(again)
