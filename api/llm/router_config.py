"""Load infra/litellm.yaml into Router arguments, resolving `os.environ/NAME` placeholders.

We resolve placeholders ourselves instead of letting LiteLLM do it lazily so that a
missing key is decided once at startup: the deployment is skipped (a dev box without
hosted keys still routes to the local model) instead of failing on the first request.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from api.llm.errors import LLMConfigError

log = logging.getLogger(__name__)
ENV_PREFIX = "os.environ/"
# Router() keyword arguments we accept from router_settings; anything else is a typo.
_ROUTER_KEYS = {"routing_strategy", "num_retries", "retry_policy", "fallbacks", "allowed_fails",
                "cooldown_time", "timeout", "stream_timeout", "max_fallbacks", "default_fallbacks",
                "context_window_fallbacks", "disable_cooldowns"}


@dataclass
class RouterConfig:
    model_list: list[dict[str, Any]]
    router_settings: dict[str, Any]
    # Model groups declared in the YAML whose every deployment was skipped (missing key).
    skipped_groups: set[str] = field(default_factory=set)

    @property
    def model_groups(self) -> list[str]:
        return sorted({d["model_name"] for d in self.model_list})


def _resolve_params(params: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """Resolved litellm_params, or None when the deployment's api_key is unset."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and value.startswith(ENV_PREFIX):
            resolved = env.get(value[len(ENV_PREFIX):], "").strip()
            if not resolved:
                if key == "api_key":
                    return None
                continue  # optional setting: let LiteLLM use the provider default
            value = resolved
        out[key] = value
    return out


def _prune_fallbacks(fallbacks: list[dict[str, list[str]]], groups: set[str]) -> list[dict[str, list[str]]]:
    pruned = []
    for entry in fallbacks:
        for source, targets in entry.items():
            kept = [t for t in targets if t in groups]
            if source in groups and kept:
                pruned.append({source: kept})
    return pruned


def load_router_config(path: Path, env: Mapping[str, str]) -> RouterConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LLMConfigError(f"Cannot read LiteLLM config {path}") from exc
    declared: set[str] = set()
    model_list: list[dict[str, Any]] = []
    for entry in raw.get("model_list") or []:
        name = entry.get("model_name")
        params = entry.get("litellm_params")
        if not name or not isinstance(params, dict) or "model" not in params:
            raise LLMConfigError(f"{path}: every model_list entry needs model_name and litellm_params.model")
        declared.add(name)
        resolved = _resolve_params(params, env)
        if resolved is None:
            log.info("LLM deployment %s skipped: %s is not set", name, params["api_key"][len(ENV_PREFIX):])
            continue
        model_list.append({**copy.deepcopy(entry), "litellm_params": resolved})
    if not model_list:
        raise LLMConfigError(f"{path}: no usable deployment (all hosted keys missing and no local model)")
    settings = dict(raw.get("router_settings") or {})
    unknown = set(settings) - _ROUTER_KEYS
    if unknown:
        raise LLMConfigError(f"{path}: unsupported router_settings keys: {', '.join(sorted(unknown))}")
    groups = {d["model_name"] for d in model_list}
    if "fallbacks" in settings:
        settings["fallbacks"] = _prune_fallbacks(settings["fallbacks"] or [], groups)
    return RouterConfig(model_list=model_list, router_settings=settings, skipped_groups=declared - groups)
