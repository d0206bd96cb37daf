"""Redis cache in front of an Embedder, keyed by model, dimension and prefixed text.

Re-ingesting a document (new version, retried task, same FAQ in two knowledge
bases) mostly re-embeds identical chunks; on CPU that is the slowest ingest step.
A batch costs two round trips at most: one MGET for all keys, one pipelined SET
for the misses.
"""
import hashlib
import logging
import threading
from collections.abc import Sequence

import numpy as np
import redis

from api.core.redis import breaker_for
from api.embeddings.service import PREFIXES, Embedder, EmbeddingBatch, EmbeddingKind

logger = logging.getLogger(__name__)

DEFAULT_TTL_S = 30 * 24 * 3600


def cache_key(embedder: Embedder, text: str, kind: EmbeddingKind) -> str:
    """The Redis key of `text`'s vector for `embedder` (no client needed to compute it)."""
    digest = hashlib.sha256((PREFIXES[kind] + text).encode("utf-8")).hexdigest()
    return f"emb:{embedder.model}:{embedder.dim}:{digest}"


class CachedEmbedder:
    """Same interface as Embedder; only cache misses reach the model.

    `hits` and `misses` are cumulative counters for this instance (bench, metrics);
    per-call numbers are in the returned EmbeddingBatch.
    """

    def __init__(self, embedder: Embedder, redis_client: redis.Redis, *, ttl_s: int = DEFAULT_TTL_S) -> None:
        if redis_client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("CachedEmbedder needs a Redis client with decode_responses=False (it stores raw float32)")
        self.embedder = embedder
        self.redis = redis_client
        self.ttl_s = ttl_s
        self.hits = 0
        self.misses = 0
        self._counter_lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.embedder.model

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def cache_key(self, text: str, kind: EmbeddingKind) -> str:
        return cache_key(self.embedder, text, kind)

    def embed(self, texts: Sequence[str], kind: EmbeddingKind) -> EmbeddingBatch:
        if not texts:
            return EmbeddingBatch(vectors=[])
        keys = [self.cache_key(text, kind) for text in texts]
        # Duplicate texts inside one batch are looked up and computed once.
        unique_keys = list(dict.fromkeys(keys))
        found = self._read(unique_keys)
        missing = [key for key in unique_keys if key not in found]
        if missing:
            text_by_key = dict(zip(keys, texts, strict=True))
            computed = self.embedder.embed([text_by_key[key] for key in missing], kind).vectors
            fresh = dict(zip(missing, computed, strict=True))
            self._write(fresh)
            found.update(fresh)
        missing_set = set(missing)
        hits = sum(1 for key in keys if key not in missing_set)
        with self._counter_lock:
            self.hits += hits
            self.misses += len(missing)
        return EmbeddingBatch(vectors=[found[key] for key in keys], cache_hits=hits, computed=len(missing))

    def embed_passages(self, texts: Sequence[str]) -> list[np.ndarray]:
        return self.embed(texts, "passage").vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text], "query").vectors[0]

    def _read(self, keys: list[str]) -> dict[str, np.ndarray]:
        if not breaker_for(self.redis).closed:  # Redis failed moments ago: do not wait for another timeout
            return {}
        try:
            values = self.redis.mget(keys)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # The cache is an optimization: with Redis down, embed everything rather than fail ingest/search.
            logger.warning("embedding cache read failed; computing %d texts", len(keys), exc_info=exc)
            breaker_for(self.redis).trip("embedding cache", exc)
            return {}
        expected_bytes = self.embedder.dim * 4
        found: dict[str, np.ndarray] = {}
        for key, raw in zip(keys, values, strict=True):
            # A wrong-sized value (truncated write, foreign key) is recomputed and overwritten.
            if raw is not None and len(raw) == expected_bytes:
                found[key] = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        return found

    def _write(self, vectors: dict[str, np.ndarray]) -> None:
        if not breaker_for(self.redis).closed:
            return
        pipe = self.redis.pipeline(transaction=False)
        for key, vector in vectors.items():
            pipe.set(key, np.asarray(vector, dtype="<f4").tobytes(), ex=self.ttl_s)
        try:
            pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            logger.warning("embedding cache write failed for %d vectors", len(vectors), exc_info=exc)
            breaker_for(self.redis).trip("embedding cache", exc)
