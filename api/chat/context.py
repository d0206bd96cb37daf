"""What the model sees besides the question: recent turns, the contact's memory, knowledge hits.

Reads only (the caller's second, short transaction). Recent turns come from Redis short-term
memory, or from Postgres after a miss (which also refills Redis). Memory and knowledge search
share one query embedding: it is computed once here and the search finds it in the Redis
embedding cache.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.chat import followups, small_talk
from api.conversations import repository as conversations_repository
from api.core.config import get_settings
from api.core.redis import breaker_for
from api.core.db import Session
from api.memory import service as memory_service
from api.memory import short_term
from api.search import service as search_service
from api.search.embedding import query_embedder

log = logging.getLogger(__name__)
RECENT_TURNS = 12  # messages; the token budget may keep fewer
# Knowledge excerpts in the prompt. 3, not 5: the 1.5B default model answers from the wrong one of
# near-duplicate passages (shipping by region, exchange windows by channel) more often with five,
# while the right passage is in the top 3 for 84 of the 90 help-center questions (BENCHMARKS.md).
KB_HITS = 3
# An excerpt whose fused score (z-scores summed over the vector and text lists) is this far below
# the first one's is left out: when one passage stands out, its near-duplicates only give a small
# model the wrong number to copy. None: keep KB_HITS.
KB_GAP: float | None = None
MEMORY_HITS = 5
SUMMARIES = 3
FACTS = 30
MAX_QUERY_CHARS = 4000  # the search API's limit; embeddings truncate long text anyway


@dataclass(frozen=True)
class Source:
    """A chunk or memory put in the prompt; becomes a citation if it survives the budget."""
    kind: Literal["chunk", "memory"]
    id: UUID
    score: float
    text: str
    title: str | None = None
    document_id: UUID | None = None
    memory_kind: str | None = None


@dataclass
class Gathered:
    turns: list[dict] = field(default_factory=list)  # {role, content}, oldest first
    facts: list[Source] = field(default_factory=list)
    memories: list[Source] = field(default_factory=list)  # remembered turns of other conversations
    summaries: list[Source] = field(default_factory=list)
    snippets: list[Source] = field(default_factory=list)
    small_talk: bool = False  # a greeting, thanks... (api/chat/small_talk.py): not searched


def _before(turns: list[dict], message_id: UUID) -> list[dict]:
    """Turns that precede the message being answered (it is the question, not history)."""
    ids = [str(t.get("message_id") or t.get("id")) for t in turns]
    cut = ids.index(str(message_id)) if str(message_id) in ids else len(turns)
    return [{"role": t["role"], "content": t["content"]} for t in turns[:cut]]


async def recent_turns(session: Session, redis: Redis, org_id: UUID, conversation_id: UUID,
                       message_id: UUID) -> list[dict]:
    turns = None
    breaker = breaker_for(redis)
    if breaker.closed:
        try:
            await followups.drop_stale(redis, org_id, conversation_id)
            turns = await short_term.recent_turns(redis, org_id, conversation_id, RECENT_TURNS + 1)
        except RedisError as exc:  # Postgres holds every turn; Redis only saves this query
            breaker.trip("short-term memory", exc)
    if turns is None:
        rows = await conversations_repository.recent_turns(session.conn, conversation_id,
                                                           short_term.DEFAULT_MAX_TURNS)
        turns = [{"role": r["role"], "content": r["content"], "message_id": str(r["id"])} for r in rows]
        if breaker.closed:
            try:
                await short_term.fill(redis, org_id, conversation_id, turns)
            except RedisError as exc:
                breaker.trip("short-term refill", exc)
    return _before(turns, message_id)[-RECENT_TURNS:]


async def _memory(session: Session, contact_id: UUID, conversation_id: UUID, query: str, vector,
                  into: Gathered, tz: tzinfo) -> None:
    facts = await memory_service.current_facts(session, contact_id)
    into.facts = [Source("memory", f["id"], float(f["confidence"]), _fact_text(f, tz), memory_kind="fact")
                  for f in facts[:FACTS]]
    # Latest summaries are always shown; retrieval adds older relevant ones and past turns. Turns
    # of this conversation are excluded: they are already in the prompt as recent turns.
    summaries = await memory_service.session_summaries(session, contact_id, SUMMARIES)
    into.summaries = [Source("memory", s["id"], 1.0, s["content"], memory_kind="summary") for s in summaries]
    hits = await memory_service.retrieve(session, contact_id, query, MEMORY_HITS, query_vector=vector,
                                         kinds=("summary", "turn"), exclude_conversation_id=conversation_id,
                                         tz=tz)
    seen = {s.id for s in into.summaries}
    for hit in hits:
        if hit.kind == "summary" and hit.id not in seen:
            into.summaries.append(Source("memory", hit.id, hit.score, hit.content, memory_kind="summary"))
        elif hit.kind == "turn":
            into.memories.append(Source("memory", hit.id, hit.score, _turn_text(hit, tz), memory_kind="turn"))


def _fact_text(fact: dict, tz: tzinfo = UTC) -> str:
    """'address: Rua B (current; earlier: Rua A until 2026-04-06)': a changed fact shows what it
    replaced and until when, so the model answers with the current value and can still answer
    "what was it before?"."""
    if not (fact.get("key") and fact.get("value")):
        return fact["content"]
    text = f"{fact['key']}: {fact['value']}"
    if fact.get("previous_value") and fact.get("previous_until"):
        text += f" (current; earlier: {fact['previous_value']} until {fact['previous_until'].astimezone(tz):%Y-%m-%d})"
    return text


_WHO = {"user": "the customer", "assistant": "you"}


def _turn_text(hit, tz: tzinfo = UTC) -> str:
    """A remembered exchange (the matching turn and its neighbours), dated in the agent's time
    zone, one line per turn."""
    turns = hit.excerpt or ()
    if len(turns) <= 1:
        who = _WHO.get(hit.metadata.get("role"), "someone")
        return f"On {hit.created_at.astimezone(tz):%Y-%m-%d}, {who} said: {hit.content}"
    lines = [f"- {_WHO.get(t.role, 'someone')}: {t.content}" for t in turns]
    return f"On {turns[0].created_at.astimezone(tz):%Y-%m-%d}:\n" + "\n".join(lines)


def agent_zone(target: dict) -> tzinfo:
    """The agent's time zone (validated on save; UTC if the name is unknown to this machine)."""
    try:
        return ZoneInfo(target.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        log.warning("unknown time zone %r of agent %s; using UTC", target.get("timezone"), target.get("agent_id"))
        return UTC


async def _knowledge(session: Session, redis: Redis, org_id: UUID, kbs: list[dict], query: str) -> list[Source]:
    # Knowledge bases with different embedding models cannot be searched as one ranked list;
    # each group is searched and the fused scores merged (z-scores share one scale).
    groups: dict[tuple[str, int], list[UUID]] = {}
    for kb in kbs:
        groups.setdefault((kb["model"], kb["dim"]), []).append(UUID(str(kb["id"])))
    hits = []
    for kb_ids in groups.values():
        hits += await search_service.search_chunks(session, kb_ids, query, KB_HITS, redis=redis, org_id=org_id)
    hits.sort(key=lambda h: h.scores.fused, reverse=True)
    if hits and KB_GAP is not None:
        hits = [h for h in hits if h.scores.fused >= hits[0].scores.fused - KB_GAP]
    return [Source("chunk", h.chunk_id, h.scores.fused, h.content, title=h.title, document_id=h.document_id)
            for h in hits[:KB_HITS]]


async def gather(session: Session, redis: Redis, target: dict, message_id: UUID, question: str, *,
                 memory: bool, turns: list[dict] | None = None) -> Gathered:
    """Context for answering `question` (stored as `message_id`); `turns` replaces the stored
    history when the client sends its own (OpenAI-style requests)."""
    org_id, conversation_id = target["organization_id"], target["conversation_id"]
    out = Gathered()
    out.turns = turns if turns is not None else await recent_turns(session, redis, org_id, conversation_id,
                                                                    message_id)
    query = question[:MAX_QUERY_CHARS]
    # "oi", "obrigado!", "blz": no excerpt answers them, and unrelated ones derail a small model's
    # reply and the answer check; remembered turns too (a returning customer's "blz" was answered
    # with a line of an old conversation). api/chat/small_talk.py
    out.small_talk = small_talk.asks_nothing(question)
    if memory and not out.small_talk:
        settings = get_settings()
        embedder = query_embedder(settings.embedding_model, settings.embedding_dim)
        vector = await memory_service.embed_query(query, embedder)
        await _memory(session, target["contact_id"], conversation_id, query, vector, out, agent_zone(target))
    if target["knowledge_bases"] and not out.small_talk:
        out.snippets = await _knowledge(session, redis, org_id, target["knowledge_bases"], query)
    return out
