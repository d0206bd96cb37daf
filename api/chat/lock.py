"""One message at a time per conversation: a Redis lock held while a message is answered,
with a Postgres lease as the fallback when Redis is unreachable.

`SET key token NX PX ttl` takes it; only the holder's token may release or extend it
(compare-and-delete / compare-and-pexpire in Lua), so a send whose lock expired can never
free or prolong the lock a later send holds. The TTL bounds how long a crashed process
blocks a conversation; while a long generation runs, `kept_alive()` extends it.

Fallback: with Redis down (the server's breaker in api.core.redis open, or a Redis error on acquire) the same
token/TTL protocol runs on the conversation row (answer_lock_token / answer_lock_until), each
step in its own short transaction. It is a lease, not a session-level advisory lock, because
the production database URL is Supavisor's transaction pooler, where a session lock would
belong to whichever client shares the backend next. Across the switch (Redis returns while a
lease is held) two senders could overlap once; the unique answer index still prevents a
double reply.
"""
from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Literal
from uuid import UUID

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.chat import repository
from api.core.errors import Locked
from api.core.redis import breaker_for

if TYPE_CHECKING:
    from api.chat.transactions import Transactions

log = logging.getLogger(__name__)
TTL_MS = 30_000
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def lock_key(org_id: UUID | str, conversation_id: UUID | str) -> str:
    # Namespaced by organization: nobody can block another tenant's conversation by guessing its id.
    return f"chat:lock:{org_id}:{conversation_id}"


class ConversationLock:
    def __init__(self, redis: Redis, org_id: UUID | str, conversation_id: UUID | str, *, ttl_ms: int = TTL_MS,
                 tx: Transactions | None = None):
        self.redis = redis
        self.tx = tx  # for the Postgres lease; without it, Redis errors propagate
        self.conversation_id = conversation_id
        self.key = lock_key(org_id, conversation_id)
        self.token = secrets.token_hex(16)
        self.ttl_ms = ttl_ms
        self.held = False
        self.backend: Literal["redis", "postgres", "none"] = "redis"

    async def _try(self) -> bool:
        breaker = breaker_for(self.redis)
        if self.backend == "redis" and (breaker.closed or self.tx is None):
            try:
                return bool(await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))
            except RedisError as exc:
                if self.tx is None:
                    raise
                breaker.trip("conversation lock", exc)
        self.backend = "postgres"
        async with self.tx() as session:
            if await repository.take_answer_lease(session.conn, self.conversation_id, self.token, self.ttl_ms):
                return True
            if not await repository.conversation_visible(session.conn, self.conversation_id):
                # Another org's or a missing conversation: nothing to lock; the caller answers 404.
                self.backend = "none"
                return True
        return False

    async def acquire(self, wait_s: float) -> None:
        """Take the lock, polling for up to `wait_s` (a retry usually finds the previous answer done)."""
        deadline = time.monotonic() + wait_s
        delay = 0.02
        while not await self._try():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Locked("another message of this conversation is still being answered; retry shortly",
                             headers={"Retry-After": "1"})
            # Jitter so senders that waited together do not retry in lockstep.
            await asyncio.sleep(min(remaining, delay * random.uniform(0.5, 1.0)))
            delay = min(delay * 2, 0.25)
        self.held = True

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        # Shielded: it must also run when the client went away and the stream was cancelled.
        with anyio.CancelScope(shield=True):
            try:
                if self.backend == "redis":
                    await self.redis.eval(_RELEASE, 1, self.key, self.token)
                elif self.backend == "postgres":
                    async with self.tx() as session:
                        await repository.release_answer_lease(session.conn, self.conversation_id, self.token)
            except Exception:  # noqa: BLE001 - a lock that cannot be freed expires by its TTL
                log.warning("could not release %s (%s); it expires in %d ms", self.key, self.backend, self.ttl_ms,
                            exc_info=True)

    @asynccontextmanager
    async def kept_alive(self) -> AsyncIterator[None]:
        """Extend the TTL every third of it while the block runs (context assembly, generation)."""
        task = asyncio.create_task(self._extend_until_cancelled())
        try:
            yield
        finally:
            task.cancel()

    async def _extend(self) -> bool:
        if self.backend == "redis":
            return bool(await self.redis.eval(_EXTEND, 1, self.key, self.token, self.ttl_ms))
        if self.backend == "postgres":
            async with self.tx() as session:
                return await repository.take_answer_lease(session.conn, self.conversation_id, self.token,
                                                          self.ttl_ms, extend_only=True)
        return True

    async def _extend_until_cancelled(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                if not await self._extend():
                    log.warning("lost %s while answering; the unique answer index still prevents a double reply",
                                self.key)
                    return
            except Exception:  # noqa: BLE001 - the next period tries again; the TTL bounds the damage
                log.warning("could not extend %s (%s)", self.key, self.backend, exc_info=True)
