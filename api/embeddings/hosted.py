"""Hosted embedding models through LiteLLM (OpenAI, Cohere, Gemini, Voyage, a TEI server, ...)."""
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from api.embeddings.errors import EmbeddingError

# Without this LiteLLM downloads its model cost map at import time (no network in
# tests and air-gapped deployments). setdefault: an explicit env value still wins.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def embed(model: str, texts: Sequence[str], *, dimensions: int | None, timeout_s: float,
          options: Mapping[str, Any]) -> np.ndarray:
    """One provider call for one batch; returns (len(texts), dim) float32 in input order."""
    # Imported here because `import litellm` takes seconds; processes that only use
    # the local model never pay for it.
    import litellm
    from openai import OpenAIError  # base class of every LiteLLM provider exception

    litellm.suppress_debug_info = True  # otherwise each provider error prints a help banner to stdout

    try:
        response = litellm.embedding(model=model, input=list(texts), dimensions=dimensions,
                                     timeout=timeout_s, **options)
    except (litellm.exceptions.RateLimitError, litellm.exceptions.Timeout,
            litellm.exceptions.APIConnectionError, litellm.exceptions.ServiceUnavailableError,
            litellm.exceptions.InternalServerError) as exc:
        raise EmbeddingError("The embedding provider is unavailable; try again later.",
                             code="embedding_provider_unavailable", status_code=503, retryable=True) from exc
    except OpenAIError as exc:
        raise EmbeddingError("The embedding provider rejected the request.",
                             code="embedding_provider_error") from exc

    items = sorted(response.data, key=lambda item: _field(item, "index"))
    if len(items) != len(texts):
        raise EmbeddingError(f"The embedding provider returned {len(items)} vectors for {len(texts)} inputs.")
    return np.asarray([_field(item, "embedding") for item in items], dtype=np.float32)


def _field(item: Any, name: str) -> Any:
    # LiteLLM returns dicts for some providers and objects for others.
    return item[name] if isinstance(item, Mapping) else getattr(item, name)
