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

from api.memory import short_term
from workers.celery_app import app as celery_app

log = logging.getLogger(__name__)
# By name: the API process enqueues without importing the worker's pipeline (and its models).
MEMORY_TASK = "workers.memory.after_turn"


async def remember_turn(redis: Redis, org_id: UUID, conversation_id: UUID, role: str, content: str,
                        message_id: UUID, *, new_conversation: bool = False) -> None:
    try:
        await short_term.push_turn(redis, org_id, conversation_id, role, content, message_id,
                                   new_conversation=new_conversation)
    except RedisError:
        log.warning("short-term push failed for %s; dropping its list", conversation_id, exc_info=True)
        try:
            await redis.delete(short_term.key(org_id, conversation_id))
        except RedisError:
            log.warning("could not drop short-term list of %s", conversation_id, exc_info=True)


def enqueue_memory_update(org_id: UUID, conversation_id: UUID) -> None:
    try:
        celery_app.send_task(MEMORY_TASK, args=[str(org_id), str(conversation_id)])
    except Exception:  # the broker is down: the answer is committed, only this memory update is late
        log.exception("could not enqueue %s for conversation %s", MEMORY_TASK, conversation_id)
