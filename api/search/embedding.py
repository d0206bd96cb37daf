"""The query embedder for a knowledge base's model, shared by every search in the process."""
from __future__ import annotations

import functools


from api.core.config import get_settings
from api.core.redis import sync_client
from api.embeddings.cache import CachedEmbedder
from api.embeddings.service import Embedder, get_embedder


@functools.cache
def query_embedder(model: str, dim: int) -> Embedder | CachedEmbedder:
    """An embedder for (model, dim), behind the same Redis cache ingest uses when Redis is configured.

    Queries repeat (FAQ-style questions, retries, the same question with other filters), and a
    cached vector turns ~60 ms of CPU into one GET.
    """
    settings = get_settings()
    if (model, dim) == (settings.embedding_model, settings.embedding_dim):
        embedder = get_embedder()
    else:
        embedder = Embedder(model, dim=dim)
    if not settings.redis_url:
        return embedder
    # A sync client: embedding runs in a worker thread (API) or a sync task anyway.
    return CachedEmbedder(embedder, sync_client(settings.redis_url, socket_timeout=2))
