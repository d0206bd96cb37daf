"""Load LoCoMo into Renum the way production stores conversations, for bench/memory.py.

One organization and agent; each LoCoMo conversation is a contact and each of its sessions a
conversation of that contact. Turns go to conversation_history (created_at = session date,
speaker and dia_id in metadata) and are embedded by the memory worker's own code
(api/memory/indexing.index_turns) with a Redis-cached embedder, so a re-run is fast.
LoCoMo is CC BY-NC 4.0: benchmark use only; nothing derived from it is stored in the repo.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import psycopg

from bench import memory_repository as repo
from bench.locomo_data import Conversation
from infra import migrate, services

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / ".renum" / "bench-memory"
PG_PORT = int(os.environ.get("RENUM_BENCH_MEMORY_PG_PORT", "15435"))
REDIS_PORT = int(os.environ.get("RENUM_BENCH_MEMORY_REDIS_PORT", "16382"))


@dataclass
class Loaded:
    org_id: UUID
    agent_id: UUID
    contacts: dict[str, UUID] = field(default_factory=dict)  # LoCoMo sample id -> contact
    dia_by_message: dict[str, str] = field(default_factory=dict)  # message id -> dia_id
    last_conversation: dict[str, UUID] = field(default_factory=dict)  # LoCoMo sample id -> its last session
    turns: int = 0
    embed_s: float = 0.0


def start_stack(database: str = "renum_bench_memory") -> tuple[str, str, str]:
    """(admin_url, app_url, redis_url); sets the environment before settings are read."""
    pg = services.start_postgres(DATA_DIR, PG_PORT)
    admin_url = services.ensure_database(pg, database, recreate=True)
    migrate.migrate(admin_url, shim=True)
    redis_url = services.start_redis(DATA_DIR, REDIS_PORT)
    app_url = pg.url(database, user="renum_app")
    os.environ.update(DATABASE_URL=app_url, REDIS_URL=redis_url, MIGRATION_DATABASE_URL=admin_url,
                      LITELLM_LOCAL_MODEL_COST_MAP="True")
    from api.core.config import get_settings
    get_settings.cache_clear()
    return admin_url, app_url, redis_url


def _session_start(session, index: int) -> datetime:
    started = session.started_at or datetime(2023, 1, 1) + timedelta(days=index)
    return started.replace(tzinfo=UTC)


def ingest(admin_url: str, app_url: str, redis_url: str, conversations: list[Conversation], *,
           summaries: str = "none", facts: bool = False, observations: bool = False, log=print) -> Loaded:
    """`summaries`: "none", "locomo" (the data set's own session summaries, stored as the memory
    worker stores its own) or "local" (the agent's local model summarizes each session, as the
    worker task does: slow on CPU)."""
    import redis

    from api.core.db import sync_pool, sync_unit_of_work
    from api.core.principal import org_principal
    from api.embeddings.cache import CachedEmbedder
    from api.embeddings.service import get_embedder
    from api.memory import indexing

    with psycopg.connect(admin_url, autocommit=True) as admin:
        org_id, agent_id = repo.create_org_and_agent(admin)
    loaded = Loaded(org_id, agent_id)
    embedder = CachedEmbedder(get_embedder(), redis.Redis.from_url(redis_url))
    principal = org_principal(org_id, "admin", kind="worker")
    pool = sync_pool(app_url, max_size=2)
    pool.open(wait=True)
    try:
        for conv in conversations:
            with sync_unit_of_work(pool, principal) as s:
                contact_id = repo.create_contact(s.conn, org_id, conv.id, conv.speakers[0])
            loaded.contacts[conv.id] = contact_id
            for index, session in enumerate(conv.sessions):
                conversation_id = _store_session(pool, principal, loaded, contact_id, conv, session, index)
                loaded.last_conversation[conv.id] = conversation_id
                started = time.perf_counter()
                with sync_unit_of_work(pool, principal) as s:
                    indexing.index_turns(s, conversation_id, embedder)
                loaded.embed_s += time.perf_counter() - started
                if summaries == "local":
                    _summarize(pool, principal, conversation_id, embedder)
                elif summaries == "locomo" and session.summary:
                    _summarize(pool, principal, conversation_id, embedder, text=session.summary)
                if facts and session.facts:
                    _store_facts(pool, principal, loaded, contact_id, conversation_id, session.facts, embedder)
                if observations and session.observations:
                    _store_observations(pool, principal, loaded, contact_id, conversation_id, session, index,
                                        embedder)
            log(f"{conv.id}: {len(conv.sessions)} sessions, {loaded.turns} turns so far, "
                f"embedding {loaded.embed_s:.0f}s (cache hits {embedder.hits}, misses {embedder.misses})")
    finally:
        pool.close()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        repo.analyze(admin)
    return loaded


def _store_session(pool, principal, loaded: Loaded, contact_id: UUID, conv: Conversation, session, index: int) -> UUID:
    from api.core.db import sync_unit_of_work
    start = _session_start(session, index)
    with sync_unit_of_work(pool, principal) as s:
        conversation_id = repo.create_conversation(s.conn, loaded.org_id, loaded.agent_id, contact_id, start)
        for i, turn in enumerate(session.turns):
            # LoCoMo has two human speakers; the first plays the customer, the second the agent.
            role = "user" if turn.speaker == conv.speakers[0] else "assistant"
            message_id = repo.insert_message(s.conn, loaded.org_id, conversation_id, contact_id, role, turn.full_text,
                                             {"speaker": turn.speaker, "dia_id": turn.dia_id},
                                             start + timedelta(seconds=i))
            loaded.dia_by_message[str(message_id)] = turn.dia_id
            loaded.turns += 1
    return conversation_id


def _summarize(pool, principal, conversation_id: UUID, embedder, text: str | None = None) -> None:
    """Session summary with the agent's (local) model, as the worker task does (slow on CPU), or
    `text` given (the data set's summary) stored the same way."""
    import asyncio

    from api.core.db import sync_unit_of_work
    from api.llm import client as llm
    from api.memory import pipeline
    with sync_unit_of_work(pool, principal) as s:
        job = pipeline.summary_job(s, conversation_id)
    if job is None:
        return
    if text is None:
        text = asyncio.run(llm.chat(job.messages, job.model, max_tokens=pipeline.SUMMARY_MAX_TOKENS,
                                    temperature=0)).text
    with sync_unit_of_work(pool, principal) as s:
        pipeline.store_summary(s, job, text, embedder.embed_passages([text])[0])


def _store_observations(pool, principal, loaded: Loaded, contact_id: UUID, conversation_id: UUID, session,
                        index: int, embedder) -> None:
    """LoCoMo's observations of the session as fact memories (one key each, so none supersedes
    another), dated at the session and carrying their evidence dia_ids: retrieved, such a unit
    counts as finding those turns. GPT-written with the data set: an upper bound."""
    from api.core.db import sync_unit_of_work
    from api.memory import repository_sync
    from api.memory.rows import memory_row
    texts = [text for text, _ in session.observations]
    vectors = embedder.embed_passages(texts)
    ctx = {"organization_id": loaded.org_id, "contact_id": contact_id, "agent_id": loaded.agent_id,
           "conversation_id": conversation_id}
    at = _session_start(session, index)
    with sync_unit_of_work(pool, principal) as s:
        for n, ((text, evidence), vector) in enumerate(zip(session.observations, vectors, strict=True)):
            repository_sync.insert_memory(s.conn, memory_row(
                ctx, "fact", text, vector, key=f"observation_{session.number}_{n}", confidence=1.0,
                metadata={"value": text, "evidence": list(evidence)}, at=at))


def _store_facts(pool, principal, loaded: Loaded, contact_id: UUID, conversation_id: UUID, facts: list[dict],
                 embedder) -> None:
    """The session's facts as the memory worker stores what the model extracted (store_facts:
    insert, refresh or supersede, and outdate the turns that stated a replaced value); the set
    gives the facts, so no model runs."""
    from api.core.db import sync_unit_of_work
    from api.memory import pipeline
    from api.memory.facts import fact_text, normalize_key
    from api.memory.models import ExtractedFact
    extracted = [ExtractedFact(key=normalize_key(f["key"]), value=f["value"], confidence=0.9) for f in facts]
    job = pipeline.LLMJob(organization_id=loaded.org_id, contact_id=contact_id, agent_id=loaded.agent_id,
                          conversation_id=conversation_id, model="oracle", messages=[], turns=0)
    vectors = embedder.embed_passages([fact_text(f) for f in extracted])
    with sync_unit_of_work(pool, principal) as s:
        pipeline.store_facts(s, job, extracted, list(vectors))
