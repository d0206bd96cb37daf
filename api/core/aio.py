"""Running async code (the LLM router, the chat service) from sync background jobs.

One long-lived event loop per worker thread, shared by every task module: LiteLLM caches
async HTTP clients, which break when each call gets a fresh loop (asyncio.run), and clients
bound to one loop cannot be used from another. The async Postgres pool and Redis client the
chat service needs are created lazily on that loop (after the prefork). Jobs (api/*/jobs.py)
use it; the Celery wrappers in workers/ only call jobs.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable

from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from api.core.config import get_settings
from api.core.db import async_pool
from api.core.redis import async_client

_local = threading.local()


def run(awaitable: Awaitable[Any]) -> Any:
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
    return loop.run_until_complete(awaitable)


async def db() -> AsyncConnectionPool:
    if getattr(_local, "pool", None) is None:
        pool = async_pool(get_settings().database_url, min_size=1, max_size=2)
        await pool.open(wait=True, timeout=30)
        _local.pool = pool
    return _local.pool


def redis() -> Redis:
    if getattr(_local, "redis", None) is None:
        _local.redis = async_client(get_settings().redis_url)
    return _local.redis
