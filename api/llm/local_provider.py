"""LiteLLM custom provider `renum-llamacpp/*`: chat with the in-process GGUF model.

Registered by api/llm/client.py; infra/litellm.yaml maps the `renum-local` group to it.
The model itself (loading, locking, usage counting) lives in api/llm/llama_engine.py;
this module adapts it to LiteLLM's four entry points. The async ones run the blocking
llama.cpp calls on a small dedicated thread pool so the event loop keeps serving.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import litellm
from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, ModelResponse

from api.llm.llama_engine import PROVIDER, Run, count_tokens, get_engine, packaged_model_path

__all__ = ["PROVIDER", "LocalLlamaCpp", "count_tokens", "packaged_model_path"]
SAMPLING_KEYS = ("max_tokens", "temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty")
# More than one thread so a queued request can give up on the model lock at its deadline
# while another generates; the lock, not the pool size, is what serializes llama.cpp.
_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="llamacpp")


def _params(optional_params: dict[str, Any]) -> dict[str, Any]:
    return {k: optional_params[k] for k in SAMPLING_KEYS if optional_params.get(k) is not None}


def _chunk(text: str, run: Run | None = None) -> GenericStreamingChunk:
    """A delta, or (with `run`) the final chunk carrying finish reason and usage."""
    return GenericStreamingChunk(  # type: ignore[typeddict-item]
        text=text, is_finished=run is not None, finish_reason=run.finish_reason if run else "",
        usage=run.usage() if run else None, index=0, tool_use=None)


async def agenerate(messages: list, params: dict[str, Any], run: Run, engine=None) -> AsyncIterator[str]:
    """Text deltas from a worker thread; leaving early cancels generation at the next token.
    `engine`: another than the process-wide one (the model server's background lane)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def push(kind: str, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the caller's event loop already closed: nobody is waiting
            run.cancel.set()

    def work() -> None:
        try:
            for delta in (engine or get_engine()).generate(messages, params, run):
                push("delta", delta)
            push("done", None)
        except BaseException as exc:  # re-raised in the awaiting coroutine below
            push("error", exc)

    _EXECUTOR.submit(work)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "error":
                raise value
            if kind == "done":
                return
            yield value
    finally:
        run.cancel.set()  # done, error, timeout or disconnect: free the model


Timeout = float | httpx.Timeout | None


class LocalLlamaCpp(CustomLLM):
    """LiteLLM handler. LiteLLM calls these with keyword arguments only, so each method names
    the ones it uses and takes the rest (api_base, logging_obj, ...) as **_ (hence the
    `override` ignores: the signatures are narrower than CustomLLM's on paper only)."""

    @staticmethod
    def _fill(model_response: ModelResponse, model: str, text: str, run: Run) -> ModelResponse:
        model_response.choices[0].message.content = text  # type: ignore[union-attr]
        model_response.choices[0].finish_reason = run.finish_reason  # type: ignore[assignment]
        model_response.model = f"{PROVIDER}/{model}"
        model_response.usage = litellm.Usage(  # type: ignore[attr-defined]
            prompt_tokens=run.prompt_tokens, completion_tokens=run.completion_tokens,
            total_tokens=run.prompt_tokens + run.completion_tokens)
        return model_response

    def completion(  # type: ignore[override]
        self, model: str, messages: list, model_response: ModelResponse, optional_params: dict,
        timeout: Timeout = None, **_: Any,
    ) -> ModelResponse:
        run = Run(model, timeout)
        text = "".join(get_engine().generate(messages, _params(optional_params), run))
        return self._fill(model_response, model, text, run)

    def streaming(  # type: ignore[override]
        self, model: str, messages: list, optional_params: dict,
        timeout: Timeout = None, **_: Any,
    ) -> Iterator[GenericStreamingChunk]:
        run = Run(model, timeout)
        for delta in get_engine().generate(messages, _params(optional_params), run):
            yield _chunk(delta)
        yield _chunk("", run)

    async def acompletion(  # type: ignore[override]
        self, model: str, messages: list, model_response: ModelResponse, optional_params: dict,
        timeout: Timeout = None, **_: Any,
    ) -> ModelResponse:
        run = Run(model, timeout)
        text = "".join([delta async for delta in agenerate(messages, _params(optional_params), run)])
        return self._fill(model_response, model, text, run)

    async def astreaming(  # type: ignore[override]
        self, model: str, messages: list, optional_params: dict,
        timeout: Timeout = None, **_: Any,
    ) -> AsyncIterator[GenericStreamingChunk]:
        run = Run(model, timeout)
        async for delta in agenerate(messages, _params(optional_params), run):
            yield _chunk(delta)
        yield _chunk("", run)
