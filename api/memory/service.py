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
from datetime import UTC, datetime, tzinfo
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np

from api.contacts import repository as contacts_repository
from api.conversations import repository as conversations_repository
from api.core.config import get_settings
from api.core.db import Session
from api.core.errors import NotFound
from api.core.pagination import PageParams
from api.embeddings.cache import CachedEmbedder
from api.embeddings.cache import cache_key as embedding_cache_key
from api.embeddings.service import Embedder, get_embedder
from api.memory import dates, repository
from api.memory.models import ExcerptTurn, MemoryHit
from api.search.embedding import query_embedder

ALL_KINDS = ("fact", "summary", "turn")


@dataclass(frozen=True)
class RetrievalConfig:
    """One configuration for every tenant; bench/memory.py measured these values on LoCoMo
    (BENCHMARKS.md, "Memory")."""
    candidates: int = 100  # per side (vector, text), before fusion
    w_vec: float = 1.0
    # The text side ranks by IDF within the contact's memories, so it is as strong as the
    # vectors on conversation turns (names, places, dates); with z-score fusion it weighs 1.5
    # (LoCoMo MRR peaked there on the 3 tuning conversations, 1-4 tried; BENCHMARKS.md).
    w_text: float = 1.5
    # Turns come back as excerpts of this many consecutive turns of one conversation (1: single
    # turns). A reply means little without the exchange around it.
    excerpt_turns: int = 4
    # An excerpt scores max(turn scores) + spread * (sum - max): several matching turns help.
    spread: float = 0.3
    # Before grouping, each matching turn adds this share of its score to its neighbours
    # (LoCoMo recall@10 +0.011: a question often matches the line next to the answer).
    smooth: float = 0.35
    # A memory from a period the message names ("in March", "on 3 May", "semana passada") is
    # scaled by 1 + date_boost, and so is one told up to date_slack_days after it ("last
    # week I..."). LoCoMo recall@10 +0.009 (202 of its 1,536 questions name a date).
    date_boost: float = 2.0
    date_slack_days: int = 7
    # A unit is scaled by 1 + recency x its place in time among the candidates (0 oldest, 1
    # newest; reversed for questions about a previous value; none for questions about events):
    # the customer's newer statement on a subject replaces the older one (bench/sets/cs_memory.json).
    recency: float = 1.0
    # A turn that stated a value a newer fact replaced ("meu endereço é Rua A" after "me mudei,
    # agora é Rua B"; api/memory/pipeline.outdate_turns) is divided by 1 + outdated when the
    # question is about the present, multiplied by it when about a previous value.
    outdated: float = 2.0
    # Excerpts of the `session_top` conversations whose summaries are nearest the message are
    # scaled by 1 + session_boost x (1 ... 1/session_top by the summary's rank): questions about
    # several sessions ("what activities does she do?") need the sessions before the lines.
    session_boost: float = 0.0
    session_top: int = 3
    # How the vector and text lists are fused: "zscore" (each list's scores as z-scores, weighted
    # and summed, as in knowledge search; see repository.py) or "rrf" (reciprocal ranks, k=10).
    # LoCoMo MRR +0.042 [0.032, 0.052] on 7 held-out conversations against RRF (BENCHMARKS.md,
    # "Memory fusion: z-scores").
    fusion: str = "zscore"


DEFAULT_CONFIG = RetrievalConfig()
# The ranking before time-aware retrieval (issue 14), for the benchmarks' comparison.
LEGACY_CONFIG = RetrievalConfig(recency=0.0, outdated=0.0, fusion="rrf", w_text=1.0)


async def embed_query(text: str, embedder: Embedder | CachedEmbedder | None = None) -> np.ndarray:
    """The query vector; the local model is CPU-bound, so it runs off the event loop."""
    return await asyncio.to_thread((embedder or get_embedder()).embed_query, text)


async def retrieve(session: Session, contact_id: UUID, query: str, k: int = 10, *,
                   query_vector: np.ndarray | None = None, embedder: Embedder | CachedEmbedder | None = None,
                   kinds: Sequence[str] = ALL_KINDS, exclude_conversation_id: UUID | None = None,
                   config: RetrievalConfig = DEFAULT_CONFIG, now: datetime | None = None,
                   tz: tzinfo = UTC) -> list[MemoryHit]:
    """The contact's `k` most relevant current memories for `query`, best first.

    A turn hit carries `excerpt`: the consecutive turns around it (itself included, in order),
    which is what the prompt should show.

    Pass `query_vector` when the caller already embedded the message (the knowledge-base
    search uses the same E5 "query:" vector), and `exclude_conversation_id` to leave out
    turns of the ongoing conversation that are already in the prompt as recent turns.
    `now` anchors relative periods in the message ("last week"; default: the current time) and
    `tz` (the agent's time zone) says where its days start.
    """
    if k <= 0 or not query.strip():
        return []
    emb = embedder or get_embedder()
    vector = query_vector if query_vector is not None else await embed_query(query, emb)
    await repository.allow_iterative_scan(session.conn)
    intent = dates.time_intent(query) if config.recency or config.outdated else "event"
    rows = await repository.retrieve(
        session.conn, contact_id=contact_id, vector=np.asarray(vector, dtype=np.float32), text=query,
        dim=emb.dim, k=k, candidates=max(config.candidates, k), kinds=list(kinds),
        exclude_conversation_id=exclude_conversation_id, w_vec=config.w_vec, w_text=config.w_text,
        excerpt_turns=config.excerpt_turns, spread=config.spread,
        smooth=config.smooth, periods=dates.mentioned_periods(query, now, tz=tz) if config.date_boost else [],
        date_boost=config.date_boost, slack_days=config.date_slack_days,
        recency=config.recency if intent != "event" else 0.0, older=intent == "previous",
        outdated=config.outdated if intent != "event" else 0.0,
        session_boost=config.session_boost, session_top=config.session_top, fusion=config.fusion)
    return _hits(rows)


def _excerpt_turn(row: dict) -> ExcerptTurn:
    meta = row["metadata"] or {}
    return ExcerptTurn(id=row["id"], content=row["content"], created_at=row["created_at"], role=meta.get("role"),
                       speaker=meta.get("speaker"), message_id=meta.get("message_id"), seq=row["seq"])


def _hits(rows: list[dict]) -> list[MemoryHit]:
    """One hit per unit: the best-matching memory, with the excerpt's turns for grouped turns."""
    units: dict[str, list[dict]] = {}
    for row in rows:
        units.setdefault(row["unit"], []).append(row)
    hits = []
    for rank, members in enumerate(units.values(), start=1):
        best = next(r for r in members if r["is_best"])
        excerpt = tuple(_excerpt_turn(r) for r in members) if best["kind"] == "turn" else ()
        hits.append(MemoryHit(id=best["id"], kind=best["kind"], content=best["content"], score=float(best["score"]),
                              rank=rank, created_at=best["created_at"], conversation_id=best["conversation_id"],
                              metadata=best["metadata"] or {}, key=best["key"], excerpt=excerpt))
    return hits


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
    base = emb.embedder if isinstance(emb, CachedEmbedder) else emb
    conversation_ids = await repository.contact_conversation_ids(session.conn, contact_id)
    texts = await conversations_repository.contact_texts(session.conn, contact_id)
    keys = [embedding_cache_key(base, t, kind) for t in texts for kind in ("passage", "query")]
    return conversation_ids, keys



async def _require_contact(session: Session, contact_id: UUID) -> None:
    # RLS hides other organizations' contacts: they are "not found", like ids that never existed.
    if not await contacts_repository.exists(session.conn, contact_id):
        raise NotFound("contact not found")


async def list_memories(session: Session, org_id: UUID, contact_id: UUID, page: PageParams, *,
                        kind: str | None = None, include_superseded: bool = False) -> list[dict]:
    """One page (limit + 1 rows) of the contact's memories, newest first, without vectors."""
    await _require_contact(session, contact_id)
    return await repository.page(session.conn, org_id, contact_id, page, kind=kind,
                                 include_superseded=include_superseded)


async def search(session: Session, contact_id: UUID, query: str, k: int, *, kinds: Sequence[str],
                 timezone: str = "UTC") -> list[MemoryHit]:
    """`retrieve` as the chat calls it (same embedder and Redis cache), for the API."""
    await _require_contact(session, contact_id)
    settings = get_settings()
    embedder = query_embedder(settings.embedding_model, settings.embedding_dim)
    return await retrieve(session, contact_id, query, k, embedder=embedder, kinds=kinds, tz=ZoneInfo(timezone))


async def forget(session: Session, contact_id: UUID, memory_id: UUID) -> None:
    """Delete one memory of the contact. A fact it had superseded stays superseded (it was
    contradicted); citations keep their message and lose the link (on delete set null)."""
    await _require_contact(session, contact_id)
    if not await repository.delete_memory(session.conn, contact_id, memory_id):
        raise NotFound("memory not found")
