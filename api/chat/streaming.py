"""Server-sent events of the native chat endpoint.

    event: delta      data: {"content": "..."}                    (repeated)
    event: citations  data: {"citations": [...]}
    event: done       data: {"conversation_id", "user_message_id", "message_id", "model", "usage",
                             "latency_ms", "first_token_ms", "replayed"}
or, when the model fails after the stream started:
    event: error      data: {"status": 503, "code": "...", "message": "...", "retryable": true}
(also when the server shuts down mid-stream: code "server_shutting_down", see api/chat/stopping.py)
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator

from api.chat.replies import Reply
from api.chat.schemas import ChatResponse
from api.chat.turn import Delta, Done, Failed
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
