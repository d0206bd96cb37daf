"""Work after a chat transaction commits: short-term memory in Redis and the memory task.

Neither may fail a turn whose messages are already committed: Postgres stays the source of
truth (a failed push drops the Redis list so the next read falls back to Postgres), and the
memory worker re-reads the whole conversation on its next `after_turn`.
"""
from __future__ import annotations

import logging
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.core.redis import breaker_for, broker_breaker
from api.core.tasks import MEMORY_AFTER_TURN, enqueue
from api.memory import short_term

log = logging.getLogger(__name__)


# Lists that missed a push while Redis was unreachable: they are dropped (read from Postgres
# and refilled) as soon as Redis answers again, so a list that survived the outage (frozen
# Redis, append-only file) never serves a history with holes. Per process: another API process
# drops only the lists it failed to push itself.
_stale: set[str] = set()


async def drop_stale(redis: Redis, org_id: UUID, conversation_id: UUID) -> None:
    """Delete this conversation's list if a push to it was missed; raises RedisError."""
    k = short_term.key(org_id, conversation_id)
    if k in _stale:
        await redis.delete(k)
        _stale.discard(k)


async def remember_turn(redis: Redis, org_id: UUID, conversation_id: UUID, role: str, content: str,
                        message_id: UUID, *, new_conversation: bool = False) -> None:
    k = short_term.key(org_id, conversation_id)
    breaker = breaker_for(redis)
    if not breaker.closed:
        _stale.add(k)
        return
    try:
        await drop_stale(redis, org_id, conversation_id)
        await short_term.push_turn(redis, org_id, conversation_id, role, content, message_id,
                                   new_conversation=new_conversation)
    except RedisError as exc:
        breaker.trip("short-term push", exc)
        _stale.add(k)
        try:
            await redis.delete(k)
            _stale.discard(k)
        except RedisError:
            log.warning("could not drop short-term list of %s; dropped when Redis is back", conversation_id)


def enqueue_memory_update(org_id: UUID, conversation_id: UUID) -> None:
    if not broker_breaker().closed:  # the broker is down: the memory sweep schedules it later
        return
    try:
        enqueue(MEMORY_AFTER_TURN, str(org_id), str(conversation_id))
    except Exception:  # the broker is down: the answer is committed, only this memory update is late
        log.exception("could not enqueue %s for conversation %s", MEMORY_AFTER_TURN.name, conversation_id)
