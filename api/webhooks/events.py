"""Write outbound events in the caller's transaction; enqueue their deliveries after it commits.

The outbox rows commit or roll back with the change that caused them, so a rolled-back change
never emits an event and a committed one always has its deliveries. Enqueueing is only a
shortcut: a lost message (broker down, crash between commit and enqueue) is found by the
beat sweep (workers.webhooks.sweep), which re-enqueues every overdue pending delivery.
"""
from __future__ import annotations

import logging
from uuid import UUID

from api.core.db import Session
from api.core.redis import broker_breaker
from api.core.tasks import WEBHOOK_DELIVER, enqueue as enqueue_task
from api.webhooks import repository, repository_sync

log = logging.getLogger("renum.webhooks")


async def emit(session: Session, org_id: UUID, event_type: str, data: dict) -> None:
    ids = await repository.emit(session.conn, org_id, event_type, _jsonable(data))
    _enqueue_after_commit(session, org_id, ids)


def emit_sync(session: Session, org_id: UUID | str, event_type: str, data: dict) -> None:
    ids = repository_sync.emit(session.conn, org_id, event_type, _jsonable(data))
    _enqueue_after_commit(session, org_id, ids)


def _enqueue_after_commit(session: Session, org_id: UUID | str, delivery_ids: list[UUID]) -> None:
    if delivery_ids:
        session.after_commit(lambda: enqueue(str(org_id), [str(i) for i in delivery_ids]))


def enqueue(org_id: str, delivery_ids: list[str], countdown: float | None = None) -> None:
    if not broker_breaker().closed:  # Redis (the broker) failed moments ago: do not stall on it; the sweep sends them
        log.warning("broker unavailable: %d webhook deliveries left to the sweep", len(delivery_ids))
        return
    for delivery_id in delivery_ids:
        try:
            enqueue_task(WEBHOOK_DELIVER, org_id, delivery_id, countdown=countdown)
        except Exception:  # broker down: the delivery is committed and the sweep will send it
            log.exception("could not enqueue webhook delivery %s; the sweep will retry it", delivery_id)


def _jsonable(data: dict) -> dict:
    return {k: (str(v) if isinstance(v, UUID) else v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in data.items()}
