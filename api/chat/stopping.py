"""Ending a chat stream cleanly when the server shuts down.

On SIGTERM uvicorn stops accepting connections and sse-starlette sets the response's
`shutdown_event`; without this module the stream would simply be cut. Here the turn's events
are pumped by one task (so the generator, its lock and its model call live and close in one
task) while the response waits for either the next event or the shutdown: on shutdown it
sends a retryable `Failed(503, "server_shutting_down")` and stops the turn. The question is
already stored, so a retry with the same client_message_id is answered (once) by another
process.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import anyio

from api.chat.turn import Delta, Done, Failed

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
