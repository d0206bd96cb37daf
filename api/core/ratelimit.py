"""Fixed-window rate limits in Redis: one INCR per window per subject.

When Redis is unreachable the limits fail open to a per-process counter with the same window
(logged once per outage by the breaker): requests keep being served and still cannot exceed
the limit on any one API process, instead of every authenticated request failing.
"""
from __future__ import annotations

import threading
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.core.errors import RateLimited
from api.core.redis import breaker_for

WINDOW_S = 60
_LOCAL_MAX_KEYS = 50_000


class LocalLimiter:
    """In-process fixed windows, used only while Redis is down."""

    def __init__(self):
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def incr(self, key: str) -> int:
        with self._lock:
            if len(self._counts) >= _LOCAL_MAX_KEYS:
                self._counts.clear()  # old windows; bounded memory matters more than exactness here
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


local = LocalLimiter()


async def _count(redis: Redis, key: str, window_s: int) -> int:
    breaker = breaker_for(redis)
    if breaker.closed:
        try:
            async with redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, window_s + 1)
                count, _ = await pipe.execute()
            return count
        except RedisError as exc:
            breaker.trip("rate limit", exc)
    return local.incr(key)


async def hit(redis: Redis, subject: str, limit: int, *, window_s: int = WINDOW_S) -> None:
    """Count one request for `subject`; raise 429 with Retry-After once `limit` is exceeded."""
    if limit <= 0:
        return
    now = time.time()
    window = int(now // window_s)
    count = await _count(redis, f"rl:{subject}:{window}", window_s)
    if count > limit:
        retry_after = max(1, int((window + 1) * window_s - now) + 1)
        raise RateLimited(f"rate limit of {limit} requests per {window_s}s exceeded for this {subject.split(':')[0]}",
                          headers={"Retry-After": str(retry_after)})
