"""Redis cache of search results.

The key holds the content_version of every searched knowledge base, read in the request's
transaction just before the lookup. Ingest and delete bump that version, so a changed KB
simply stops matching its old entries (they expire after search_cache_ttl_s); nothing has
to find and delete keys.
"""
from __future__ import annotations

import hashlib
import json
import logging

import redis
from pydantic import TypeAdapter

from api.core.redis import breaker_for
from api.search.schemas import Hit, SearchOptions

log = logging.getLogger("renum.search")
_HITS = TypeAdapter(list[Hit])
# Bump when the cached value's shape or the ranking SQL changes meaning.
_FORMAT = "v2"  # v2: hits carry scores.fused


def key(org_id, kbs: list[dict], options: SearchOptions, model: str) -> str:
    versions = sorted(f"{kb['id']}@{kb['content_version']}" for kb in kbs)
    request = options.model_dump(mode="json", exclude={"knowledge_base_ids"})
    digest = hashlib.sha256(json.dumps([versions, request, model], sort_keys=True).encode()).hexdigest()
    return f"search:{_FORMAT}:{org_id}:{digest}"


def _decode(raw: bytes | str | None) -> list[Hit] | None:
    if raw is None:
        return None
    try:
        return _HITS.validate_json(raw)
    except ValueError:
        return None  # an entry from an older format: treat as a miss and overwrite


# Redis is an optimization here: when it is down, search still answers from Postgres.
async def get(client, cache_key: str) -> list[Hit] | None:
    if not breaker_for(client).closed:
        return None
    try:
        return _decode(await client.get(cache_key))
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("search cache read failed", exc_info=exc)
        breaker_for(client).trip("search cache", exc)
        return None


async def put(client, cache_key: str, hits: list[Hit], ttl_s: int) -> None:
    if not breaker_for(client).closed:
        return
    try:
        await client.set(cache_key, _HITS.dump_json(hits), ex=ttl_s)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("search cache write failed", exc_info=exc)
        breaker_for(client).trip("search cache", exc)


def get_sync(client, cache_key: str) -> list[Hit] | None:
    try:
        return _decode(client.get(cache_key))
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("search cache read failed", exc_info=exc)
        breaker_for(client).trip("search cache", exc)
        return None


def put_sync(client, cache_key: str, hits: list[Hit], ttl_s: int) -> None:
    try:
        client.set(cache_key, _HITS.dump_json(hits), ex=ttl_s)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("search cache write failed", exc_info=exc)
        breaker_for(client).trip("search cache", exc)
