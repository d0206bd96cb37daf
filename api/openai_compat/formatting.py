"""Chat turns in OpenAI's shapes: a chat.completion object, or chat.completion.chunk events
ending with `data: [DONE]`. Renum extensions (conversation_id, citations) are extra fields,
which OpenAI clients keep (e.g. `completion.model_extra` in the Python client)."""
from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from uuid import UUID

from api.chat.turn import Reply
from api.chat.turn import Delta, Done, Failed
from api.conversations.schemas import Citation

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "invalid_request_error", 409: "invalid_request_error", 413: "invalid_request_error",
               422: "invalid_request_error", 429: "rate_limit_error", 503: "server_error", 504: "timeout"}


def completion_id(user_message_id: UUID) -> str:
    # Derived from the stored message, so a replayed request gets the same id.
    return f"chatcmpl-{user_message_id.hex}"


def finish_reason(reply: Reply, max_tokens: int) -> str:
    return "length" if reply.usage.get("completion_tokens", 0) >= max_tokens else "stop"


def _citations(reply: Reply) -> list[dict]:
    return [Citation.model_validate(c).model_dump(mode="json") for c in reply.citations]


def completion(reply: Reply, model: str, max_tokens: int) -> dict:
    return {
        "id": completion_id(reply.user_message["id"]), "object": "chat.completion",
        "created": int(reply.message["created_at"].timestamp()), "model": model, "system_fingerprint": None,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.message["content"]},
                     "finish_reason": finish_reason(reply, max_tokens), "logprobs": None}],
        "usage": reply.usage, "conversation_id": str(reply.conversation_id), "citations": _citations(reply),
    }


def _chunk(base: dict, delta: dict, finish: str | None = None, **extra) -> dict:
    return {"data": json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                                     "logprobs": None}], **extra}, ensure_ascii=False)}


async def chunks(events: AsyncIterator[Delta | Done | Failed], *, user_message_id: UUID, model: str,
                 max_tokens: int, include_usage: bool) -> AsyncIterator[dict]:
    base = {"id": completion_id(user_message_id), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "system_fingerprint": None}
    yield _chunk(base, {"role": "assistant", "content": ""})
    async for event in events:
        if isinstance(event, Delta):
            yield _chunk(base, {"content": event.text})
        elif isinstance(event, Done):
            reply = event.reply
            yield _chunk(base, {}, finish_reason(reply, max_tokens), conversation_id=str(reply.conversation_id),
                         citations=_citations(reply))
            if include_usage:
                yield {"data": json.dumps({**base, "choices": [], "usage": reply.usage})}
        else:
            # OpenAI clients raise on a data event carrying "error"; no [DONE] follows a failure.
            yield {"data": json.dumps({"error": {"message": event.message, "code": event.code,
                                                 "type": ERROR_TYPES.get(event.status, "server_error"),
                                                 "param": None}})}
            return
    yield {"data": "[DONE]"}
