"""Short-term memory: the last N turns of each conversation in a Redis list.

Key `stm:{org}:{conversation}` holds JSON turns, oldest first, capped at `max_turns` and
expiring `ttl_s` after the last write. Postgres (conversation_history) stays the source of
truth; this list only saves the chat path a query per message.

Completeness rule: a list that exists is complete for its last `max_turns` turns. So
`push_turn` appends only to an existing list (or creates one for a brand-new conversation
with `new_conversation=True`); after a miss (`recent_turns` -> None) the caller reads the
turns from Postgres and `fill`s the list. An expired list is therefore never half-rebuilt
from the newest turn alone.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Sequence
from uuid import UUID

from redis.asyncio import Redis

log = logging.getLogger(__name__)
DEFAULT_MAX_TURNS = 20
DEFAULT_TTL_S = 24 * 3600
# Same-prefix keys other memory code keeps per conversation (after_turn debounce and counters);
# listed here so erasing a contact deletes all of them in one place.
CONVERSATION_KEY_PREFIXES = ("stm", "memq", "memn")

# Append + trim + refresh TTL atomically, but only when the list already exists (see module doc).
_PUSH = """
if ARGV[4] == '0' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


def key(org_id: UUID | str, conversation_id: UUID | str) -> str:
    return f"stm:{org_id}:{conversation_id}"


def _encode(role: str, content: str, message_id: UUID | str | None) -> str:
    return json.dumps({"role": role, "content": content,
                       "message_id": str(message_id) if message_id else None}, ensure_ascii=False)


async def push_turn(redis: Redis, org_id: UUID | str, conversation_id: UUID | str, role: str, content: str,
                    message_id: UUID | str | None, *, new_conversation: bool = False,
                    max_turns: int = DEFAULT_MAX_TURNS, ttl_s: int = DEFAULT_TTL_S) -> bool:
    """Append one turn (call after the message is committed). Returns False when the list was
    absent and not created (a miss: the next `recent_turns` falls back to Postgres)."""
    pushed = await redis.eval(_PUSH, 1, key(org_id, conversation_id), _encode(role, content, message_id),
                              max_turns, ttl_s, "1" if new_conversation else "0")
    return bool(pushed)


async def fill(redis: Redis, org_id: UUID | str, conversation_id: UUID | str, turns: Sequence[dict], *,
               max_turns: int = DEFAULT_MAX_TURNS, ttl_s: int = DEFAULT_TTL_S) -> None:
    """Replace the list with `turns` (dicts with role, content, message_id/id), oldest first.

    Call it after a miss with the turns read from Postgres. Redis cannot hold an empty list, so
    a conversation without turns stays a miss (one cheap query) until its first push."""
    k = key(org_id, conversation_id)
    tail = list(turns)[-max_turns:]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(k)
        if tail:
            pipe.rpush(k, *(_encode(t["role"], t["content"], t.get("message_id") or t.get("id")) for t in tail))
            pipe.expire(k, ttl_s)
        await pipe.execute()


async def recent_turns(redis: Redis, org_id: UUID | str, conversation_id: UUID | str,
                       limit: int = DEFAULT_MAX_TURNS) -> list[dict] | None:
    """The last `limit` turns, oldest first, as {role, content, message_id}; None on a cache miss.

    A retried push can store a message twice; duplicates by message_id are dropped here."""
    k = key(org_id, conversation_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.exists(k)
        pipe.lrange(k, -limit, -1) if limit > 0 else pipe.lrange(k, 1, 0)
        exists, raw = await pipe.execute()
    if not exists:
        return None
    turns, seen = [], set()
    for item in raw:
        turn = json.loads(item)
        mid = turn.get("message_id")
        if mid and mid in seen:
            continue
        seen.add(mid)
        turns.append(turn)
    return turns


def contact_keys(org_id: UUID | str, conversation_ids: Iterable[UUID | str]) -> list[str]:
    """Every per-conversation Redis key memory code may have written for these conversations."""
    return [f"{prefix}:{org_id}:{cid}" for cid in conversation_ids for prefix in CONVERSATION_KEY_PREFIXES]


async def forget_contact(redis: Redis, org_id: UUID | str, contact_id: UUID | str,
                         conversation_ids: Iterable[UUID | str], extra_keys: Iterable[str] = ()) -> int:
    """Delete the contact's short-term turns, memory scheduling keys and `extra_keys` (e.g. the
    embedding-cache entries of their texts). Returns how many keys existed. Idempotent."""
    keys = [*contact_keys(org_id, conversation_ids), f"memc:{org_id}:{contact_id}", *extra_keys]
    deleted = 0
    for start in range(0, len(keys), 500):  # bounded DEL commands for contacts with long histories
        deleted += await redis.delete(*keys[start:start + 500])
    return deleted


_background: set[asyncio.Task] = set()


def forget_contact_soon(redis: Redis, org_id: UUID | str, contact_id: UUID | str,
                        conversation_ids: Iterable[UUID | str], extra_keys: Iterable[str] = ()) -> asyncio.Task:
    """`forget_contact` as a task on the running loop, for Session.after_commit (whose callbacks
    are sync). A failure is logged with the contact id; the keys then expire by their TTLs."""
    task = asyncio.get_running_loop().create_task(
        forget_contact(redis, org_id, contact_id, list(conversation_ids), list(extra_keys)))
    _background.add(task)  # the loop keeps only weak references to tasks

    def done(t: asyncio.Task) -> None:
        _background.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("erasing Redis keys of contact %s failed", contact_id, exc_info=t.exception())
    task.add_done_callback(done)
    return task
