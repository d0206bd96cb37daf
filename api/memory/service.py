"""Long-term memory of a contact, as the chat path reads it (async, under the caller's RLS).

The chat code calls `retrieve` with the customer's message, plus `current_facts` and
`session_summaries` for the prompt. Writing memories is the memory worker's job
(workers/memory.py -> api/memory/pipeline.py); `forget_keys` feeds contact erasure.

Retrieval is hybrid in one SQL statement: cosine top-N over the contact's current
memories (facts, summaries, embedded past turns) and full-text top-N, fused by weighted
reciprocal rank. RLS on `memories` means another organization's contact returns nothing.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import numpy as np
import redis

from api.core.db import Session
from api.embeddings.cache import CachedEmbedder
from api.embeddings.service import Embedder, get_embedder
from api.memory import repository
from api.memory.schemas import MemoryHit

ALL_KINDS = ("fact", "summary", "turn")


@dataclass(frozen=True)
class RetrievalConfig:
    """One configuration for every tenant; bench/memory.py measured these values (BENCHMARKS.md)."""
    candidates: int = 40  # per side, before fusion
    w_vec: float = 1.0
    # Text search adds names and rare words the vectors miss, but ranks without IDF, so it
    # only nudges: on LoCoMo 0.25 beat 0 and 0.5/1.0 at recall@10 (0.591 vs 0.553/0.566/0.569).
    w_text: float = 0.25


DEFAULT_CONFIG = RetrievalConfig()


async def embed_query(text: str, embedder: Embedder | CachedEmbedder | None = None) -> np.ndarray:
    """The query vector; the local model is CPU-bound, so it runs off the event loop."""
    return await asyncio.to_thread((embedder or get_embedder()).embed_query, text)


async def retrieve(session: Session, contact_id: UUID, query: str, k: int = 10, *,
                   query_vector: np.ndarray | None = None, embedder: Embedder | CachedEmbedder | None = None,
                   kinds: Sequence[str] = ALL_KINDS, exclude_conversation_id: UUID | None = None,
                   config: RetrievalConfig = DEFAULT_CONFIG) -> list[MemoryHit]:
    """The contact's `k` most relevant current memories for `query`, best first.

    Pass `query_vector` when the caller already embedded the message (the knowledge-base
    search uses the same E5 "query:" vector), and `exclude_conversation_id` to leave out
    turns of the ongoing conversation that are already in the prompt as recent turns.
    """
    if k <= 0 or not query.strip():
        return []
    emb = embedder or get_embedder()
    vector = query_vector if query_vector is not None else await embed_query(query, emb)
    await repository.allow_iterative_scan(session.conn)
    rows = await repository.retrieve(
        session.conn, contact_id=contact_id, vector=np.asarray(vector, dtype=np.float32), text=query,
        dim=emb.dim, k=k, candidates=max(config.candidates, k), kinds=list(kinds),
        exclude_conversation_id=exclude_conversation_id, w_vec=config.w_vec, w_text=config.w_text)
    return [MemoryHit(id=r["id"], kind=r["kind"], content=r["content"], score=float(r["score"]), rank=i,
                      created_at=r["created_at"], conversation_id=r["conversation_id"],
                      metadata=r["metadata"] or {}, key=r["key"])
            for i, r in enumerate(rows, start=1)]


async def current_facts(session: Session, contact_id: UUID) -> list[dict]:
    """Current (not superseded) facts: dicts with id, key, value, content, confidence, valid_from,
    conversation_id; newest first."""
    return await repository.current_facts(session.conn, contact_id)


async def session_summaries(session: Session, contact_id: UUID, limit: int = 3) -> list[dict]:
    """Summaries of the contact's conversations, newest first: id, conversation_id, content,
    created_at, metadata."""
    return await repository.session_summaries(session.conn, contact_id, limit)


async def forget_plan(session: Session, contact_id: UUID,
                      embedder: Embedder | CachedEmbedder | None = None) -> tuple[list[UUID], list[str]]:
    """Before a contact is deleted: its conversation ids and the embedding-cache keys of every
    text of theirs, so the caller can delete those Redis keys once the delete has committed."""
    emb = embedder or get_embedder()
    # Only cache_key() is used; a redis.Redis client connects lazily, so this one never does.
    cache = emb if isinstance(emb, CachedEmbedder) else CachedEmbedder(emb, redis.Redis())
    conversation_ids = await repository.contact_conversation_ids(session.conn, contact_id)
    texts = await repository.contact_texts(session.conn, contact_id)
    keys = [cache.cache_key(t, kind) for t in texts for kind in ("passage", "query")]
    return conversation_ids, keys

