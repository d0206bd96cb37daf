"""Fixed-window rate limits in Redis: one INCR per window per subject."""
from __future__ import annotations

import time

from redis.asyncio import Redis

from api.core.errors import RateLimited

WINDOW_S = 60


async def hit(redis: Redis, subject: str, limit: int, *, window_s: int = WINDOW_S) -> None:
    """Count one request for `subject`; raise 429 with Retry-After once `limit` is exceeded."""
    if limit <= 0:
        return
    now = time.time()
    window = int(now // window_s)
    key = f"rl:{subject}:{window}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window_s + 1)
        count, _ = await pipe.execute()
    if count > limit:
        retry_after = max(1, int((window + 1) * window_s - now) + 1)
        raise RateLimited(f"rate limit of {limit} requests per {window_s}s exceeded for this {subject.split(':')[0]}",
                          headers={"Retry-After": str(retry_after)})
