"""The embedder an ingest run uses: the knowledge base's own model, behind the Redis cache.

A KB's embedding model and dimension are fixed when it is created, and vectors of different
models are never mixed in one KB, so the worker embeds with the KB's model rather than the
server default. One cached instance per (model, dim) per worker process.
"""
import functools

import redis

from api.core.config import get_settings
from api.core.redis import sync_client
from api.embeddings.cache import CachedEmbedder
from api.embeddings.service import Embedder


@functools.cache
def _redis() -> redis.Redis:
    # Created lazily in each worker child (connections must not cross a fork).
    return sync_client(get_settings().redis_url, socket_timeout=10)


@functools.lru_cache(maxsize=8)
def embedder_for(model: str, dim: int) -> CachedEmbedder:
    """Raises UnknownEmbeddingModel / ValueError when this server cannot produce such vectors."""
    return CachedEmbedder(Embedder(model, dim=dim), _redis())
