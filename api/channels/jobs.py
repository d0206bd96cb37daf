"""Channel background work: answer an inbound message (Chatwoot, WhatsApp) and post the reply
back, and the sweep of messages whose reply task was lost.

Answering is api/channels/reply.py, which reuses the chat service. While the model, the
conversation lock or the provider is unavailable the job asks to be retried with backoff
(`RetryLater`, turned into a Celery retry by workers/channels.py); after MAX_RETRIES a model
failure hands the conversation to a human (when the integration allows it) and anything else
marks the channel event failed with the reason.
"""
from __future__ import annotations

import logging
from uuid import UUID

from api.channels import reply
from api.channels import repository_sync as repo
from api.channels.errors import ProviderError
from api.chat import transactions as chat_transactions
from api.core import aio, tasks
from api.core.config import get_settings
from api.core.db import JobTransaction, job_transaction
from api.core.errors import DomainError
from api.core.principal import SCANNER
from api.core.tasks import enqueue

log = logging.getLogger("renum.channels")
# A message still 'received' this long after it arrived lost its reply task (the enqueue
# failed, or the worker died outside the task's own error handling): the sweep re-enqueues it,
# at most once per STALE_S and SWEEP_LIMIT times, then marks it failed.
STALE_S = 120
SWEEP_LIMIT = 3
MAX_RETRIES = 5


class RetryLater(Exception):
    """Try this message again in `countdown` seconds (raised from the provider or model error)."""

    def __init__(self, countdown: float):
        super().__init__(f"retry in {countdown:.1f}s")
        self.countdown = countdown


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, ProviderError):
        return exc.retryable
    # Busy conversation (409 conversation_busy), rate limit (429), model outage (503/504).
    return isinstance(exc, DomainError) and (exc.status_code >= 500 or exc.code in ("conversation_busy",
                                                                                    "rate_limited"))


def reply_to_message(organization_id: str, event_id: str, retries: int = 0) -> str:
    """Answer one inbound message; `retries` is how many earlier attempts asked to be retried."""
    transactions = aio.run(chat_transactions.for_job(UUID(organization_id)))
    try:
        return aio.run(reply.answer(transactions, aio.redis(), UUID(event_id)))
    except (ProviderError, DomainError) as exc:
        if _retryable(exc) and retries < MAX_RETRIES:
            raise RetryLater(min(300, get_settings().channel_retry_base_s * 2 ** retries)) from exc
        message = getattr(exc, "message", str(exc))
        log.warning("channel event %s not answered: %s", event_id, message)
        return aio.run(reply.give_up(transactions, UUID(event_id), message,
                                     model_failed=not isinstance(exc, ProviderError)))


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
