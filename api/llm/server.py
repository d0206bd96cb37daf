"""The local GGUF model as its own process: an OpenAI-compatible HTTP server.

    python -m api.llm.server [--host 127.0.0.1] [--port 8091]      (./renum model-server)

In-process, every API worker and Celery worker that answers, counts tokens or summarizes loads
its own copy of the model (1.1 GB for the default 1.5B, each with its own context and cache)
and they all compete for the same cores. Served once, they share one model, one prefix cache
and one queue: set RENUM_LOCAL_MODEL_URL to this server's address and the `renum-local` group
of every process talks to it (api/llm/remote_engine.py). `./renum run` starts one for its own
processes.

Endpoints:
- POST /v1/chat/completions: OpenAI's chat completions (stream or not, `usage` included, the
  final stream chunk before `[DONE]` carries it); any OpenAI client can use it. A `timeout`
  field (seconds, Renum's) bounds the wait for the model and the generation.
- POST /v1/renum/yes-no: the answer check's judgement (api/chat/grounding.py) read from logits.
- POST /v1/renum/count: exact token counts with the model's tokenizer (prompt budgets).
- GET /health: the model loaded and whether each lane is busy.
Two lanes, chosen by the `X-Renum-Lane` header: `interactive` (default: customers' answers, the
answer check, counts) and `background` (the memory worker's summaries and facts, a second copy of
the model loaded on first use), so an answer never queues behind a summary of a long conversation;
two copies instead of one per process, as each copy costs ~0.8 GB of private memory.
With RENUM_LOCAL_MODEL_KEY set, every call but /health needs `Authorization: Bearer <key>`.
The model is loaded before the server accepts requests, so the first answer is not a cold one.
"""
from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import litellm
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from api.core.config import get_settings
from api.llm.llama_engine import PROVIDER, Engine, Run, get_engine
from api.llm.local_provider import SAMPLING_KEYS, agenerate

log = logging.getLogger(__name__)
MAX_TEXTS = 1000


class Message(BaseModel):
    role: str = Field(pattern="^(system|user|assistant)$")
    content: str


class _Messages(BaseModel):
    messages: list[Message] = Field(min_length=1)

    def plain_messages(self) -> list[dict[str, str]]:
        return [m.model_dump() for m in self.messages]


class ChatRequest(_Messages):
    model: str = "renum-local"
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    timeout: float | None = Field(None, gt=0, le=3600, description="seconds for the queue and the generation")

    def params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SAMPLING_KEYS if getattr(self, k) is not None}


class YesNoRequest(_Messages):
    question: str = Field(min_length=1, max_length=2000)
    timeout: float = Field(60.0, gt=0, le=3600)


class CountRequest(BaseModel):
    texts: list[str] = Field(max_length=MAX_TEXTS)


def _error(status: int, message: str, code: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status_code=status)


def _mapped(exc: Exception) -> JSONResponse:
    """OpenAI's error shape, so OpenAI clients (and LiteLLM) read the cause."""
    if isinstance(exc, litellm.ContextWindowExceededError):
        return _error(400, str(exc), "context_length_exceeded")
    if isinstance(exc, litellm.Timeout | TimeoutError):
        return _error(503, str(exc), "model_busy", "server_error")
    log.exception("local model failed")
    return _error(500, f"local model failed: {exc}", "model_error", "server_error")


def _authorized(authorization: str | None = Header(None)) -> None:
    key = get_settings().local_model_key
    if not key:
        return
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), key.encode()):
        raise HTTPException(401, "missing or wrong bearer key for the local model server")


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    started = time.perf_counter()
    engine = await anyio.to_thread.run_sync(get_engine)
    log.info("model server: %s (%s) ready in %.1fs", engine.name, engine.path, time.perf_counter() - started)
    yield


app = FastAPI(title="Renum local model", lifespan=_lifespan)


LANES = ("interactive", "background")
_background: Engine | None = None
_background_lock = threading.Lock()


def engine_for(lane: str) -> Engine:
    """The interactive lane is the process-wide engine; the background lane its own copy."""
    global _background
    if lane != "background":
        return get_engine()
    with _background_lock:
        if _background is None:
            first = get_engine()
            _background = Engine(first.path, n_ctx=first.llm.n_ctx(), n_threads=first.llm.n_threads,
                                 name=first.name)
            log.info("background lane: a second copy of %s loaded", first.name)
        return _background


def _lane(x_renum_lane: str | None = Header(None)) -> str:
    lane = (x_renum_lane or "interactive").strip().lower()
    if lane not in LANES:
        raise HTTPException(422, f"X-Renum-Lane must be one of {', '.join(LANES)}")
    return lane


@app.get("/health")
def health() -> dict:
    engine = get_engine()
    lanes = {"interactive": engine.lock.locked()} | ({"background": _background.lock.locked()} if _background else {})
    return {"status": "ok", "model": engine.name, "n_ctx": engine.llm.n_ctx(), "busy": any(lanes.values()),
            "lanes_busy": lanes}


def _chunk(cid: str, model: str, created: int, delta: dict, finish: str | None = None,
           usage: dict | None = None) -> str:
    body: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _usage(run: Run) -> dict:
    return {"prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens,
            "total_tokens": run.prompt_tokens + run.completion_tokens}


@app.post("/v1/chat/completions", dependencies=[Depends(_authorized)], response_model=None)
async def chat_completions(body: ChatRequest, request: Request,
                           lane: str = Depends(_lane)) -> JSONResponse | StreamingResponse:
    run = Run(body.model, body.timeout)
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    try:
        engine = await anyio.to_thread.run_sync(engine_for, lane)
    except Exception as exc:  # noqa: BLE001 - e.g. no memory for the second copy
        return _mapped(exc)
    deltas = agenerate(body.plain_messages(), body.params(), run, engine)
    try:  # the first delta (or the error) before any byte is sent, so errors keep their status
        first = await anext(deltas, None)
    except Exception as exc:  # noqa: BLE001 - mapped to an HTTP error
        await deltas.aclose()
        return _mapped(exc)
    if not body.stream:
        try:
            text = (first or "") + "".join([d async for d in deltas])
        except Exception as exc:  # noqa: BLE001
            return _mapped(exc)
        return JSONResponse({
            "id": cid, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": run.finish_reason}],
            "usage": _usage(run)})

    async def events() -> AsyncIterator[str]:
        try:
            yield _chunk(cid, body.model, created, {"role": "assistant", "content": first or ""})
            async for delta in deltas:
                if await request.is_disconnected():
                    return  # closing `deltas` (finally below) stops the model at the next token
                yield _chunk(cid, body.model, created, {"content": delta})
            yield _chunk(cid, body.model, created, {}, run.finish_reason, _usage(run))
            yield "data: [DONE]\n\n"
        except Exception as exc:  # noqa: BLE001 - mid-stream: the error goes in the stream
            yield f"data: {json.dumps(json.loads(_mapped(exc).body))}\n\n"
        finally:
            await deltas.aclose()

    return StreamingResponse(events(), media_type="text/event-stream")


@app.post("/v1/renum/yes-no", dependencies=[Depends(_authorized)], response_model=None)
async def yes_no(body: YesNoRequest) -> JSONResponse | dict:
    try:
        margin = await anyio.to_thread.run_sync(get_engine().yes_no, body.plain_messages(), body.question,
                                                body.timeout)
    except Exception as exc:  # noqa: BLE001
        return _mapped(exc)
    return {"margin": margin, "model": get_engine().name}


@app.post("/v1/renum/count", dependencies=[Depends(_authorized)])
def count(body: CountRequest) -> dict:
    engine = get_engine()
    return {"tokens": [engine.count(text) for text in body.texts]}


def main(argv: list[str] | None = None) -> int:
    import uvicorn
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.local_model_port)
    args = parser.parse_args(argv)
    if settings.local_model_url:  # this process IS the model server: it loads the model itself
        os.environ.pop("RENUM_LOCAL_MODEL_URL", None)
        get_settings.cache_clear()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.info("model server on http://%s:%d (%s)", args.host, args.port, PROVIDER)
    # One process: the model is the shared resource; requests queue on its lock.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
