"""Memory tasks (queue `memory`): index turns, summarize sessions, extract facts, retention.

Thin tasks: ids as arguments, everything re-read from the database under the
organization's RLS, idempotent (safe to redeliver with acks_late). The logic lives in
api/memory/{indexing,pipeline}.py. LLM calls happen between two short transactions, never inside one:
a local model can take a minute and must not hold a pooled connection or row locks.

The chat code enqueues only `after_turn` (after its transaction commits):
    session.after_commit(lambda: workers.memory.after_turn.delay(str(org_id), str(conversation_id)))
"""
from __future__ import annotations

import logging
import threading
from uuid import UUID

import redis

from api.core.config import get_settings
from api.core.db import job_transaction
from api.core.principal import SCANNER
from api.core.redis import sync_client
from api.embeddings.service import get_embedder
from api.llm import router as llm
from api.llm.errors import LLMError
from api.memory import facts as fact_parsing
from api.memory import indexing, pipeline, repository_sync, scheduling
from workers import aio
from api.core import tasks
from workers.celery_app import app

log = logging.getLogger(__name__)
_local = threading.local()


def _redis() -> redis.Redis:
    # One client per thread, created lazily after the prefork.
    if getattr(_local, "redis", None) is None:
        _local.redis = sync_client(get_settings().redis_url)
    return _local.redis


def _complete(messages: list[dict], model: str, max_tokens: int) -> str:
    """Run the async LLM router from a sync task on the thread's long-lived loop (workers.aio)."""
    result = aio.run(llm.chat(messages, model, max_tokens=max_tokens, temperature=0.0))
    return result.text


def _embedder():
    return get_embedder()


@app.task(name=tasks.MEMORY_INDEX_TURNS.name, acks_late=True)
def index_turns(organization_id: str, conversation_id: str) -> int:
    """Embed the conversation's user/assistant turns not yet indexed (kind='turn'); returns how many."""
    with job_transaction(organization_id) as session:
        return indexing.index_turns(session, UUID(conversation_id), _embedder())


# A model that is down (after the router's own retries and fallbacks) is retried later.
_LLM_RETRY = {"autoretry_for": (LLMError,), "retry_backoff": 30, "retry_backoff_max": 600, "max_retries": 5}


@app.task(name=tasks.MEMORY_SUMMARIZE.name, acks_late=True, **_LLM_RETRY)
def summarize_conversation(organization_id: str, conversation_id: str) -> bool:
    """(Re)write the conversation's summary memory; False when there is nothing to summarize."""
    with job_transaction(organization_id) as session:
        job = pipeline.summary_job(session, UUID(conversation_id))
    if job is None:
        return False
    text = _complete(job.messages, job.model, pipeline.SUMMARY_MAX_TOKENS)
    vector = _embedder().embed_passages([text])[0] if text.strip() else None
    with job_transaction(organization_id) as session:
        return pipeline.store_summary(session, job, text, vector)


@app.task(name=tasks.MEMORY_EXTRACT_FACTS.name, acks_late=True, **_LLM_RETRY)
def extract_facts(organization_id: str, conversation_id: str) -> int:
    """Extract {key, value, confidence} facts; supersede changed ones. Returns facts written."""
    with job_transaction(organization_id) as session:
        job = pipeline.facts_job(session, UUID(conversation_id))
    if job is None:
        return 0
    raw = _complete(job.messages, job.model, pipeline.FACTS_MAX_TOKENS)
    facts = fact_parsing.parse_facts(raw)
    vectors = _embedder().embed_passages([fact_parsing.fact_text(f) for f in facts]) if facts else []
    with job_transaction(organization_id) as session:
        return pipeline.store_facts(session, job, facts, vectors)


@app.task(name=tasks.MEMORY_AFTER_TURN.name, acks_late=True)
def after_turn(organization_id: str, conversation_id: str) -> None:
    """After each exchange: index its turns now; summarize/extract when the conversation goes
    idle (debounced in Redis) or every N exchanges."""
    with job_transaction(organization_id) as session:
        plan = indexing.index_turns_and_plan(session, UUID(conversation_id), _embedder())
    if plan is None:  # conversation gone, or memory disabled for its agent
        return
    try:
        decision = scheduling.record_turn(_redis(), organization_id, conversation_id, plan.every_n_turns,
                                          plan.idle_s)
    except redis.RedisError:
        # The debounce lives in Redis; without it the sweep writes the summary once the
        # conversation has been idle (the database records that it is due).
        log.warning("memory scheduling unavailable for %s; the sweep will consolidate it", conversation_id)
        return
    if decision.consolidate_now:
        _consolidate(organization_id, conversation_id)
    else:
        consolidate_if_idle.apply_async((organization_id, conversation_id, decision.token), countdown=plan.idle_s)


@app.task(name=tasks.MEMORY_CONSOLIDATE_IF_IDLE.name, acks_late=True)
def consolidate_if_idle(organization_id: str, conversation_id: str, token: str) -> bool:
    """Debounce target: consolidate only if no turn arrived since `token` was issued."""
    if not scheduling.claim_idle(_redis(), organization_id, conversation_id, token):
        return False
    _consolidate(organization_id, conversation_id)
    return True


def _consolidate(organization_id: str, conversation_id: str) -> None:
    summarize_conversation.delay(organization_id, conversation_id)
    extract_facts.delay(organization_id, conversation_id)


# A conversation handed to a task is not scheduled again for this long: longer than a backed-up
# memory queue usually takes to reach it, so the sweep does not pile duplicates onto a backlog.
SWEEP_MIN_GAP_S = 300
SWEEP_BATCH = 200


@app.task(name=tasks.MEMORY_SWEEP.name)
def sweep() -> int:
    """Beat: schedule the memory work the database records as pending (turns without a memory
    row, summaries due), so none of it depends on a task surviving in the broker."""
    with job_transaction(SCANNER) as session:
        backlog = repository_sync.memory_backlog(session.conn, SWEEP_MIN_GAP_S, SWEEP_BATCH)
    for row in backlog:
        catch_up.delay(str(row["organization_id"]), str(row["conversation_id"]), bool(row["needs_summary"]))
    if backlog:
        log.info("memory sweep scheduled %d conversations", len(backlog))
    return len(backlog)


@app.task(name=tasks.MEMORY_CATCH_UP.name, acks_late=True)
def catch_up(organization_id: str, conversation_id: str, summarize: bool) -> int:
    """Index every unindexed turn of the conversation (one embedding batch) and, when due,
    write its summary and facts."""
    indexed = index_turns(organization_id, conversation_id)
    if summarize:
        # In this task rather than two more queued ones: this work is already late.
        try:
            summarize_conversation(organization_id, conversation_id)
            extract_facts(organization_id, conversation_id)
        except LLMError as exc:  # still due in the database: a later sweep tries again
            log.warning("catch-up consolidation of %s failed: %s", conversation_id, exc)
    return indexed


@app.task(name=tasks.MEMORY_RETENTION.name, acks_late=True)
def apply_retention() -> dict:
    """Daily (beat): erase history and memories older than each agent's retention_days."""
    with job_transaction(SCANNER) as session:
        targets = pipeline.retention_targets(session.conn)
    totals = {"agents": 0, "messages": 0, "memories": 0}
    for target in targets:
        with job_transaction(target["organization_id"]) as session:
            messages, memories = pipeline.apply_retention(session, target["agent_id"], target["retention_days"])
        totals["agents"] += 1
        totals["messages"] += messages
        totals["memories"] += memories
    if targets:
        log.info("retention: %s", totals)
    return totals
