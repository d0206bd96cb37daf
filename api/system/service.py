"""What an operator checks when answers are slow or missing: which chat models this deployment
can route to (hosted groups without their API key are skipped, and fall back locally), whether
the in-process local model is loaded, and how many tasks wait in each worker queue.

Hosted models are not called here: probing them would spend the organization's tokens.
Queue depths are deployment-wide numbers (counts only, no task contents)."""
from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.core.config import get_settings
from api.llm import llama_engine
from api.llm import client as llm_client

log = logging.getLogger(__name__)
QUEUES = ("default", "ingest", "memory", "webhooks")  # workers/celery_app.py


def models() -> list[dict]:
    try:
        config = llm_client.get_router().config
    except Exception:  # a broken config is what this page must show, not a 500
        log.exception("LLM router config could not be loaded")
        return []
    available = [{"name": g, "available": True, "local": g == llm_client.LOCAL_MODEL} for g in config.model_groups]
    skipped = [{"name": g, "available": False, "local": False} for g in sorted(config.skipped_groups)]
    return available + skipped


def local_model() -> dict:
    engine = llama_engine._engine  # noqa: SLF001 - read-only peek; loading it here would take seconds
    # Served by its own process (RENUM_LOCAL_MODEL_URL): this process never loads it. The address
    # itself is deployment detail, not for organizations.
    served = bool(get_settings().local_model_url)
    return {"loaded": engine is not None and not served, "model": llm_client.LOCAL_MODEL, "model_server": served}


async def queue_depths(redis: Redis) -> dict[str, int | None]:
    depths: dict[str, int | None] = {}
    for queue in QUEUES:
        try:
            depths[queue] = int(await redis.llen(queue))
        except RedisError:
            depths[queue] = None
    return depths
