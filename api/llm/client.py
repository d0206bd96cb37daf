"""One LiteLLM Router per process and the `chat()` call the chat and memory services use.

`chat()` returns text without `<think>` reasoning, the model group that actually
answered (after retries/fallbacks), token usage and latency. Provider errors become
LLMError subclasses (503/504) with the original exception chained for the logs.
"""
from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, overload

import litellm

from api.core.config import get_settings
from api.llm.errors import UnknownModel
from api.llm.local_provider import PROVIDER, LocalLlamaCpp
from api.llm.results import PROVIDER_ERRORS, ChatResult, ChatStream, answered_by, ms_since, to_domain_error
from api.llm.router_config import RouterConfig, load_router_config
from api.llm.repetition import collapse
from api.llm.think import strip_think

log = logging.getLogger(__name__)
__all__ = ["ChatResult", "ChatStream", "LLMRouter", "available_models", "build_router", "chat", "get_router"]
LOCAL_MODEL = "renum-local"
Message = Mapping[str, Any]


class LLMRouter:
    """A configured Router plus the knowledge of which groups exist (or were skipped)."""

    def __init__(self, config: RouterConfig) -> None:
        _register_local_provider()
        self.config = config
        self.router = litellm.Router(model_list=config.model_list, **config.router_settings)

    def resolve(self, model: str) -> str:
        """Groups skipped for a missing key answer locally; unknown names are a caller error."""
        if model in self.config.model_groups:
            return model
        if model in self.config.skipped_groups and LOCAL_MODEL in self.config.model_groups:
            log.warning("LLM group %s is not configured (missing key); using %s", model, LOCAL_MODEL)
            return LOCAL_MODEL
        raise UnknownModel(f"Unknown model '{model}'.")


def _register_local_provider() -> None:
    if not any(p["provider"] == PROVIDER for p in litellm.custom_provider_map):
        litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": LocalLlamaCpp()})
    litellm.utils.custom_llm_setup()  # LiteLLM reads the map into its provider list here


def build_router(config_path: Path | None = None, env: Mapping[str, str] | None = None) -> LLMRouter:
    settings = get_settings()
    config = load_router_config(config_path or settings.litellm_config, os.environ if env is None else env)
    # Deployments' own `timeout` in the YAML wins; this is the default for the others.
    config.router_settings.setdefault("timeout", settings.llm_timeout_s)
    return LLMRouter(config)


@functools.lru_cache(maxsize=1)
def get_router() -> LLMRouter:
    """The process-wide router (API worker or Celery worker), built on first use."""
    return build_router()


def available_models() -> list[str]:
    return get_router().config.model_groups


@overload
async def chat(messages: list[Message], model: str, *, stream: Literal[False] = False, max_tokens: int = 512,
               temperature: float = 0.3, timeout: float | None = None,
               router: LLMRouter | None = None) -> ChatResult: ...
@overload
async def chat(messages: list[Message], model: str, *, stream: Literal[True], max_tokens: int = 512,
               temperature: float = 0.3, timeout: float | None = None,
               router: LLMRouter | None = None) -> ChatStream: ...
@overload
async def chat(messages: list[Message], model: str, *, stream: bool, max_tokens: int = 512,
               temperature: float = 0.3, timeout: float | None = None,
               router: LLMRouter | None = None) -> ChatResult | ChatStream: ...


async def chat(messages: list[Message], model: str, *, stream: bool = False, max_tokens: int = 512,
               temperature: float = 0.3, timeout: float | None = None,
               router: LLMRouter | None = None) -> ChatResult | ChatStream:
    """Ask `model` (a model group of infra/litellm.yaml), falling back as configured.

    `timeout` (seconds) applies to each attempt, overriding the YAML; None keeps the YAML values.
    `router` is for tests and tools that build their own (default: the process-wide one).
    """
    llm = router or get_router()
    group = llm.resolve(model)
    kwargs: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
    if timeout is not None:
        kwargs.update(timeout=timeout, stream_timeout=timeout)
    if stream:
        kwargs["stream_options"] = {"include_usage": True}
    started = time.perf_counter()
    try:
        response = await llm.router.acompletion(model=group, messages=list(messages), stream=stream, **kwargs)
    except PROVIDER_ERRORS as exc:
        log.warning("LLM call to %s failed after retries/fallbacks: %r", group, exc)
        raise to_domain_error(exc) from exc
    if stream:
        return ChatStream(response, group, started)
    answered, fallbacks = answered_by(response, group)
    usage = getattr(response, "usage", None)
    return ChatResult(
        text=collapse(strip_think(response.choices[0].message.content or "")),
        model=answered,
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        latency_ms=ms_since(started),
        fallbacks=fallbacks,
    )
