"""What `chat()` returns: a finished answer, or a stream of visible text deltas.

Both report the model group that actually answered (LiteLLM puts it, with the number of
fallbacks tried, in the response's hidden headers), token usage and latency.
"""
from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import litellm
import openai
from litellm.types.router import RouterRateLimitError, RouterRateLimitErrorBasic

from api.llm.errors import LLMContextTooLong, LLMError, LLMTimeout, LLMUnavailable
from api.llm.think import ThinkFilter

log = logging.getLogger(__name__)
# What LiteLLM raises when a model cannot answer. The router's "every deployment is cooling
# down" errors are ValueErrors, not OpenAIErrors, so they are listed explicitly.
PROVIDER_ERRORS: tuple[type[Exception], ...] = (openai.OpenAIError, RouterRateLimitError, RouterRateLimitErrorBasic)


@dataclass(frozen=True)
class ChatResult:
    text: str  # visible answer, reasoning removed
    model: str  # model group that answered, e.g. "gpt-4o-mini" or "renum-local"
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    fallbacks: int = 0  # how many fallback groups were tried before this one answered


def answered_by(response: Any, requested: str) -> tuple[str, int]:
    headers = (getattr(response, "_hidden_params", None) or {}).get("additional_headers") or {}
    return headers.get("x-litellm-model-group") or requested, int(headers.get("x-litellm-attempted-fallbacks") or 0)


def to_domain_error(exc: Exception) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.APITimeoutError):  # litellm.Timeout subclasses it
        return LLMTimeout()
    if isinstance(exc, litellm.ContextWindowExceededError):
        return LLMContextTooLong()
    return LLMUnavailable()


class ChatStream:
    """Async iterator of visible text deltas; `usage`, `model`, `latency_ms` are set at the end."""

    def __init__(self, raw: Any, requested: str, started: float) -> None:
        self._raw = raw
        self._filter = ThinkFilter()
        self._started = started
        self.model, self.fallbacks = answered_by(raw, requested)
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.first_token_ms: int | None = None
        self.latency_ms: int | None = None
        self._gen: AsyncIterator[str] | None = None

    @property
    def usage(self) -> tuple[int, int] | None:
        """(prompt_tokens, completion_tokens) once the provider reported them."""
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens, self.completion_tokens

    def __aiter__(self) -> AsyncIterator[str]:
        if self._gen is None:
            self._gen = self._iterate()
        return self._gen

    async def _iterate(self) -> AsyncIterator[str]:
        try:
            async for chunk in self._raw:
                usage = getattr(chunk, "usage", None)
                if usage:
                    self.prompt_tokens, self.completion_tokens = usage.prompt_tokens, usage.completion_tokens
                delta = chunk.choices[0].delta.content if chunk.choices else None
                visible = self._filter.feed(delta) if delta else ""
                if visible:
                    if self.first_token_ms is None:
                        self.first_token_ms = ms_since(self._started)
                    yield visible
            tail = self._filter.flush()
            if tail:
                yield tail
        except PROVIDER_ERRORS as exc:
            log.warning("LLM stream from %s failed: %r", self.model, exc)
            raise to_domain_error(exc) from exc
        finally:
            self.latency_ms = ms_since(self._started)

    async def aclose(self) -> None:
        """Stop early (client went away); the local model stops at the next token."""
        if self._gen is not None:
            await self._gen.aclose()  # type: ignore[attr-defined]
        close = getattr(self._raw, "aclose", None)
        if close is not None:
            await close()


def ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
