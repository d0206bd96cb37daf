"""Server-sent events of the native chat endpoint.

    event: delta      data: {"content": "..."}                    (repeated)
    event: citations  data: {"citations": [...]}
    event: done       data: {"conversation_id", "user_message_id", "message_id", "model", "usage",
                             "latency_ms", "first_token_ms", "replayed"}
or, when the model fails after the stream started:
    event: error      data: {"status": 503, "code": "...", "message": "...", "retryable": true}
(also when the server shuts down mid-stream: code "server_shutting_down", `until_shutdown` below).

Ending a stream cleanly when the server shuts down: on SIGTERM uvicorn stops accepting
connections and sse-starlette sets the response's `shutdown_event`; without `until_shutdown` the
stream would simply be cut. It pumps the turn's events from one task (so the generator, its lock
and its model call live and close in one task) while the response waits for either the next
event or the shutdown: on shutdown it sends a retryable `Failed(503, "server_shutting_down")` and
stops the turn. The question is already stored, so a retry with the same client_message_id is
answered (once) by another process.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import anyio

from api.chat.schemas import ChatResponse
from api.chat.turn import Delta, Done, Failed, Reply
from api.conversations.schemas import Citation


def _event(name: str, payload: dict) -> dict:
    return {"event": name, "data": json.dumps(payload, ensure_ascii=False, default=str)}


def done_payload(reply: Reply) -> dict:
    return {"conversation_id": str(reply.conversation_id), "user_message_id": str(reply.user_message["id"]),
            "message_id": str(reply.message["id"]), "model": reply.model, "usage": reply.usage,
            "latency_ms": reply.latency_ms, "first_token_ms": reply.first_token_ms, "replayed": reply.replayed}


def response_body(reply: Reply) -> ChatResponse:
    return ChatResponse.model_validate({**reply.__dict__})


async def native_events(events: AsyncIterator[Delta | Done | Failed]) -> AsyncIterator[dict]:
    async for event in events:
        if isinstance(event, Delta):
            yield _event("delta", {"content": event.text})
        elif isinstance(event, Done):
            citations = [Citation.model_validate(c).model_dump(mode="json") for c in event.reply.citations]
            yield _event("citations", {"citations": citations})
            yield _event("done", done_payload(event.reply))
        else:
            # retryable: the same send (same client_message_id) may succeed later.
            yield _event("error", {"status": event.status, "code": event.code, "message": event.message,
                                   "retryable": event.status in (409, 429) or event.status >= 500})


# Seconds sse-starlette waits after the shutdown signal before cancelling the response; the
# farewell event needs only a moment. Below uvicorn's --timeout-graceful-shutdown (10 s).
GRACE_S = 2.0
SHUTTING_DOWN = Failed(503, "server_shutting_down",
                       "the server is restarting; your message was saved, retry with the same client_message_id")
_END = object()


async def until_shutdown(events: AsyncIterator[Delta | Done | Failed],
                         shutdown: anyio.Event) -> AsyncIterator[Delta | Done | Failed]:
    queue: asyncio.Queue = asyncio.Queue(maxsize=1)

    async def pump() -> None:
        try:
            async for event in events:
                await queue.put(event)
        except Exception as exc:  # noqa: BLE001 - handed to the response task, which raises it
            await queue.put(exc)
        finally:
            with anyio.CancelScope(shield=True):
                await events.aclose()  # type: ignore[attr-defined]
        await queue.put(_END)

    pumping = asyncio.create_task(pump())
    stopping = asyncio.create_task(shutdown.wait())
    try:
        while True:
            getting = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()
                yield SHUTTING_DOWN
                return
            item = getting.result()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stopping.cancel()
        if not pumping.done():
            pumping.cancel()
            with anyio.CancelScope(shield=True), contextlib.suppress(asyncio.CancelledError, Exception):
                await pumping  # the turn's own cleanup: stop the model, release the lock
