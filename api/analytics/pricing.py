"""Price per token of a model group, from LiteLLM's bundled cost map (USD).

Usage rows store the model group that answered (e.g. `gpt-4o-mini`, `renum-local`); its price is
looked up under the group's name and under the provider model it routes to. The local model and
unknown models cost 0: the numbers are an estimate of the hosted bill, not an invoice.
"""
from __future__ import annotations

import functools
import logging

import litellm

from api.llm import client as llm_client

log = logging.getLogger(__name__)


def _candidates(model: str) -> list[str]:
    names = [model]
    try:
        for deployment in llm_client.get_router().config.model_list:
            if deployment["model_name"] == model:
                target = str(deployment["litellm_params"].get("model", ""))
                names += [target, target.split("/", 1)[-1]]
    except Exception:  # a broken router config must not break the analytics page
        log.warning("could not read the LiteLLM config for pricing", exc_info=True)
    return [n for n in names if n]


@functools.lru_cache(maxsize=256)
def price(model: str) -> tuple[float, float]:
    """(input, output) USD per token."""
    for name in _candidates(model):
        entry = litellm.model_cost.get(name)
        if entry:
            return float(entry.get("input_cost_per_token") or 0), float(entry.get("output_cost_per_token") or 0)
    return 0.0, 0.0


def cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    per_in, per_out = price(model)
    return prompt_tokens * per_in + completion_tokens * per_out
