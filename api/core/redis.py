"""Redis clients that survive a restarted or frozen Redis, and a breaker for the degraded paths.

Redis is an optimization and a coordinator, never the source of truth, so every caller has a
fallback (local rate limiter, Postgres lease lock, Postgres turns, no cache). Two things make
those fallbacks cheap and the recovery invisible:

- clients ping a connection idle for `HEALTH_CHECK_S` before using it and retry a command once
  or twice on a connection error or socket timeout, so the dead pooled connections left by a
  Redis restart are replaced instead of failing one request each;
- after a failure the server's breaker (`breaker_for`) sends callers straight to their fallback
  for `OPEN_S` seconds, so a dead or frozen Redis costs one timeout every few seconds, not one
  per call.
"""
from __future__ import annotations

import logging
import time

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

log = logging.getLogger("renum.redis")
HEALTH_CHECK_S = 5
SOCKET_TIMEOUT_S = 1.0
RETRIES = 2
OPEN_S = 5.0
_RETRY_ON = [RedisConnectionError, RedisTimeoutError]


def _options(socket_timeout: float) -> dict:
    return {"health_check_interval": HEALTH_CHECK_S, "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout, "socket_keepalive": True, "retry_on_error": _RETRY_ON}


def async_client(url: str, *, socket_timeout: float = SOCKET_TIMEOUT_S) -> aredis.Redis:
    """The API's client (app.state.redis)."""
    return aredis.Redis.from_url(url, retry=AsyncRetry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES),
                                 **_options(socket_timeout))


def sync_client(url: str, *, socket_timeout: float = SOCKET_TIMEOUT_S) -> redis.Redis:
    """Workers' and the embedding cache's client."""
    return redis.Redis.from_url(url, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES),
                                **_options(socket_timeout))


class Breaker:
    """Once a Redis server failed, skip it for OPEN_S seconds, then try again."""

    def __init__(self, open_s: float = OPEN_S):
        self.open_s = open_s
        self.open_until = 0.0

    @property
    def closed(self) -> bool:
        return time.monotonic() >= self.open_until

    def trip(self, what: str, exc: BaseException) -> None:
        if self.closed:  # log once per outage window, not once per request
            log.warning("redis unavailable (%s: %s); degraded mode for %.0fs", what, exc, self.open_s)
        self.open_until = time.monotonic() + self.open_s

    def reset(self) -> None:
        self.open_until = 0.0


_breakers: dict[str, Breaker] = {}


def _endpoint(kwargs: dict) -> str:
    return kwargs.get("path") or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def breaker_for(client) -> Breaker:
    """The breaker of the Redis server `client` talks to (one per server and process, shared by
    every client of that server: the API's, the caches', the broker's)."""
    return _breakers.setdefault(_endpoint(client.connection_pool.connection_kwargs), Breaker())


def broker_breaker() -> Breaker:
    """The breaker of the Celery broker (settings.redis_url), for code that enqueues."""
    from api.core.config import get_settings
    kwargs = redis.connection.parse_url(get_settings().redis_url or "redis://localhost:6379/0")
    return _breakers.setdefault(_endpoint(kwargs), Breaker())


def reset_breakers() -> None:
    for b in _breakers.values():
        b.reset()
