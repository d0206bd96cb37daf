"""A one-minute Redis cache of analytics reports.

Dashboards reload the same report often (every page visit, every organization member), and a
report over a month of a busy organization scans tens of thousands of rows. Reports are keyed
by organization and parameters, and are only served after the request's organization was
checked (the OrgId dependency), so a cached report never crosses tenants. A Redis failure
costs only the cache: the report is computed.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
TTL_S = 60


def key(kind: str, org_id: UUID, *parts: object) -> str:
    return f"analytics:{kind}:{org_id}:" + ":".join(str(p) for p in parts)


async def cached(redis: Redis, cache_key: str, compute: Callable[[], Awaitable[dict]], *, fresh: bool) -> dict:
    if not fresh:
        try:
            raw = await redis.get(cache_key)
            if raw:
                return json.loads(raw)
        except RedisError:
            log.warning("analytics cache unavailable; computing", exc_info=True)
    report = await compute()
    try:
        await redis.set(cache_key, json.dumps(report, default=str), ex=TTL_S)
    except RedisError:
        log.warning("analytics cache unavailable; not stored", exc_info=True)
    return report
