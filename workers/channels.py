"""Channel tasks: answer an inbound message (Chatwoot, WhatsApp) and post the reply back.

Thin: the work is api/channels/reply.py, which reuses the chat service. Retried with backoff
while the model, the conversation lock or the provider is unavailable; after that a model
failure hands the conversation to a human (when the integration allows it) and anything else
marks the channel event failed with the reason.
"""
from __future__ import annotations

import logging
from uuid import UUID

from api.channels import jobs, reply
from api.channels.errors import ProviderError
from api.chat.transactions import Transactions
from api.core.config import get_settings
from api.core.errors import DomainError
from api.core.principal import org_principal
from workers import aio
from api.core import tasks
from workers.celery_app import app

log = logging.getLogger("renum.channels")
MAX_RETRIES = 5
STALE_S, SWEEP_LIMIT = jobs.STALE_S, jobs.SWEEP_LIMIT


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, ProviderError):
        return exc.retryable
    # Busy conversation (409 conversation_busy), rate limit (429), model outage (503/504).
    return isinstance(exc, DomainError) and (exc.status_code >= 500 or exc.code in ("conversation_busy",
                                                                                    "rate_limited"))


async def _tx(organization_id: str) -> Transactions:
    org_id = UUID(organization_id)
    return Transactions(await aio.db(), org_principal(org_id, "admin", kind="worker"), org_id)


@app.task(name=tasks.CHANNEL_REPLY.name, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def reply_to_message(self, organization_id: str, event_id: str) -> str:
    tx = aio.run(_tx(organization_id))
    try:
        return aio.run(reply.answer(tx, aio.redis(), UUID(event_id)))
    except (ProviderError, DomainError) as exc:
        message = getattr(exc, "message", str(exc))
        if _retryable(exc) and self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=min(300, get_settings().channel_retry_base_s * 2 ** self.request.retries)) from exc
        log.warning("channel event %s not answered: %s", event_id, message)
        return aio.run(reply.give_up(tx, UUID(event_id), message, model_failed=not isinstance(exc, ProviderError)))


@app.task(name=tasks.CHANNELS_SWEEP.name)
def sweep(stale_s: float = STALE_S, limit: int = 200) -> int:
    return jobs.sweep(stale_s, limit)
