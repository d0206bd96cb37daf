import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.core import tasks

router = APIRouter(tags=["health"])
_WORKER_TTL_S = 5.0
_worker_cache: dict[str, tuple[float, bool]] = {}


@router.get("/healthz")
async def healthz():
    """Liveness: the process is up."""
    return {"status": "ok"}


async def _check(coro, timeout: float = 2.0) -> str:
    try:
        ok = await asyncio.wait_for(coro, timeout)
        return "ok" if ok else "down"
    except Exception as exc:  # reported, not raised: readiness lists every dependency
        return f"down: {type(exc).__name__}"


async def _postgres(request: Request) -> bool:
    async with request.app.state.db.connection() as conn:
        cur = await conn.execute("select 1 as ok")
        return (await cur.fetchone())["ok"] == 1


async def _redis(request: Request) -> bool:
    return await request.app.state.redis.ping()


async def _worker() -> bool:
    cached = _worker_cache.get("w")
    if cached and cached[0] > time.monotonic():
        return cached[1]
    replies = await asyncio.to_thread(tasks.producer().control.ping, timeout=1.0)
    ok = bool(replies)
    _worker_cache["w"] = (time.monotonic() + _WORKER_TTL_S, ok)
    return ok


@router.get("/readyz")
async def readyz(request: Request):
    """Readiness: Postgres, Redis and at least one Celery worker answer."""
    checks = dict(zip(("postgres", "redis", "worker"), await asyncio.gather(
        _check(_postgres(request)), _check(_redis(request)), _check(_worker(), timeout=3.0))))
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503)
