"""A chat UI's housekeeping request (title, tags, follow-ups) answered by the agent's model as a
plain completion: no contact, conversation, message or memory is created. The tokens are still
the organization's spend, so one usage event records them (metadata.task = true)."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

from api.chat import repository as chat_repository
from api.chat.transactions import Transactions
from api.llm import client as llm_client
from api.llm.errors import LLMError
from api.openai_compat.formatting import ERROR_TYPES
from api.openai_compat.schemas import CompletionRequest

# Titles and tags are a few words; a small cap keeps a slow local model from writing essays.
TASK_MAX_TOKENS = 256


def _messages(body: CompletionRequest) -> list[dict]:
    return [{"role": m.role if m.role != "developer" else "system", "content": m.text}
            for m in body.messages if m.role in ("system", "developer", "user", "assistant") and m.text.strip()]


def _max_tokens(body: CompletionRequest) -> int:
    return min(body.max_completion_tokens or body.max_tokens or TASK_MAX_TOKENS, TASK_MAX_TOKENS)


async def _record(tx: Transactions, agent: dict, model: str, prompt: int, completion: int, latency: int | None):
    async with tx() as session:
        await chat_repository.insert_usage(session.conn, {
            "organization_id": tx.org_id, "kind": "chat", "model": model, "prompt_tokens": prompt,
            "completion_tokens": completion, "latency_ms": latency, "agent_id": agent["id"],
            "api_key_id": tx.principal.api_key_id, "metadata": {"task": True}})


async def complete(tx: Transactions, agent: dict, body: CompletionRequest) -> dict:
    temperature = body.temperature if body.temperature is not None else float(agent["temperature"])
    result = await llm_client.chat(_messages(body), agent["model"], max_tokens=_max_tokens(body),
                                   temperature=temperature)
    await _record(tx, agent, result.model, result.prompt_tokens, result.completion_tokens, result.latency_ms)
    usage = {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
             "total_tokens": result.prompt_tokens + result.completion_tokens}
    return {"id": f"chatcmpl-task-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": body.model, "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                         "finish_reason": "stop", "logprobs": None}], "usage": usage}


async def chunks(tx: Transactions, agent: dict, body: CompletionRequest) -> AsyncIterator[dict]:
    temperature = body.temperature if body.temperature is not None else float(agent["temperature"])
    base = {"id": f"chatcmpl-task-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": body.model, "system_fingerprint": None}

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {"data": json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                                         "logprobs": None}]}, ensure_ascii=False)}
    try:
        stream = await llm_client.chat(_messages(body), agent["model"], stream=True, max_tokens=_max_tokens(body),
                                       temperature=temperature)
        yield chunk({"role": "assistant", "content": ""})
        async for text in stream:
            yield chunk({"content": text})
    except LLMError as exc:
        yield {"data": json.dumps({"error": {"message": exc.message, "code": exc.code, "param": None,
                                             "type": ERROR_TYPES.get(exc.status_code, "server_error")}})}
        return
    yield chunk({}, "stop")
    prompt, completion = stream.usage or (0, 0)
    await _record(tx, agent, stream.model, prompt, completion, stream.latency_ms)
    yield {"data": "[DONE]"}
