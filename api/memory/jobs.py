"""Memory background work: index turns, write summaries and facts, the sweep, retention.

Every job takes ids, re-reads everything under the organization's RLS (`tx`, a job transaction
factory) and is idempotent, so a redelivered task does no harm. LLM calls run between two short
transactions, never inside one: a local model can take a minute and must not hold a pooled
connection or row locks. The steps themselves are in indexing.py (turn embeddings),
pipeline.py (summary/facts prompts and their storage) and scheduling.py (the idle debounce);
workers/memory.py only wraps these functions as Celery tasks.

The chat service enqueues only `after_turn`, after its transaction commits.
"""
from __future__ import annotations

import logging
import threading
from uuid import UUID

import redis

from api.core import aio, tasks
from api.core.config import get_settings
from api.core.db import JobTransaction, job_transaction
from api.core.principal import SCANNER
from api.core.redis import sync_client
from api.core.tasks import enqueue
from api.embeddings.service import get_embedder
from api.llm import client as llm
from api.llm.errors import LLMError
from api.memory import facts as fact_parsing
from api.memory import indexing, pipeline, repository_sync, scheduling

log = logging.getLogger("renum.memory")
_local = threading.local()

# A conversation handed to a task is not scheduled again for this long: longer than a backed-up
# memory queue usually takes to reach it, so the sweep does not pile duplicates onto a backlog.
SWEEP_MIN_GAP_S = 300
SWEEP_BATCH = 200


def _redis() -> redis.Redis:
    # One client per thread, created lazily (after the worker's prefork).
    if getattr(_local, "redis", None) is None:
        _local.redis = sync_client(get_settings().redis_url)
    return _local.redis


def _complete(messages: list[dict], model: str, max_tokens: int) -> str:
    """The async LLM client, run on the thread's long-lived loop (api.core.aio)."""
    return aio.run(llm.chat(messages, model, max_tokens=max_tokens, temperature=0.0)).text


def index_turns(organization_id: str, conversation_id: str, *, tx: JobTransaction = job_transaction) -> int:
    """Embed the conversation's user/assistant turns not yet indexed (kind='turn'); returns how many."""
    with tx(organization_id) as session:
        return indexing.index_turns(session, UUID(conversation_id), get_embedder())


def summarize(organization_id: str, conversation_id: str, *, tx: JobTransaction = job_transaction) -> bool:
    """(Re)write the conversation's summary memory; False when there is nothing to summarize."""
    with tx(organization_id) as session:
        job = pipeline.summary_job(session, UUID(conversation_id))
    if job is None:
        return False
    text = _complete(job.messages, job.model, pipeline.SUMMARY_MAX_TOKENS)
    vector = get_embedder().embed_passages([text])[0] if text.strip() else None
    with tx(organization_id) as session:
        return pipeline.store_summary(session, job, text, vector)


def extract_facts(organization_id: str, conversation_id: str, *, tx: JobTransaction = job_transaction) -> int:
    """Extract {key, value, confidence} facts; supersede changed ones. Returns facts written."""
    with tx(organization_id) as session:
        job = pipeline.facts_job(session, UUID(conversation_id))
    if job is None:
        return 0
    raw = _complete(job.messages, job.model, pipeline.FACTS_MAX_TOKENS)
    # Only what the customer actually wrote: small models invent values for the keys they were shown.
    facts = [f for f in fact_parsing.parse_facts(raw)
             if fact_parsing.grounded(f, job.customer_text) and fact_parsing.plausible(f)]
    facts = fact_parsing.with_contact_facts(facts, job.customer_text)
    facts = fact_parsing.with_corrections(facts, job.customer_text, job.known_facts)
    facts = fact_parsing.without_others_addresses(facts, job.customer_text)
    vectors = get_embedder().embed_passages([fact_parsing.fact_text(f) for f in facts]) if facts else []
    with tx(organization_id) as session:
        return pipeline.store_facts(session, job, facts, vectors)


def consolidate(organization_id: str, conversation_id: str) -> None:
    """Summary and facts as two tasks (each retried on its own while the model is down)."""
    enqueue(tasks.MEMORY_SUMMARIZE, organization_id, conversation_id)
    enqueue(tasks.MEMORY_EXTRACT_FACTS, organization_id, conversation_id)


def after_turn(organization_id: str, conversation_id: str, *, tx: JobTransaction = job_transaction) -> None:
    """After each exchange: index its turns now; consolidate when the conversation goes idle
    (debounced in Redis) or every N exchanges."""
    with tx(organization_id) as session:
        plan = indexing.index_turns_and_plan(session, UUID(conversation_id), get_embedder())
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
        consolidate(organization_id, conversation_id)
    else:
        enqueue(tasks.MEMORY_CONSOLIDATE_IF_IDLE, organization_id, conversation_id, decision.token,
                countdown=plan.idle_s)


def consolidate_if_idle(organization_id: str, conversation_id: str, token: str) -> bool:
    """Debounce target: consolidate only if no exchange arrived since `token` was issued."""
    if not scheduling.claim_idle(_redis(), organization_id, conversation_id, token):
        return False
    consolidate(organization_id, conversation_id)
    return True


def sweep(min_gap_s: float = SWEEP_MIN_GAP_S, batch: int = SWEEP_BATCH, *,
          tx: JobTransaction = job_transaction) -> int:
    """Schedule the memory work the database records as pending (turns without a memory row,
    summaries due), so none of it depends on a task surviving in the broker."""
    with tx(SCANNER) as session:
        backlog = repository_sync.memory_backlog(session.conn, min_gap_s, batch)
    for row in backlog:
        enqueue(tasks.MEMORY_CATCH_UP, str(row["organization_id"]), str(row["conversation_id"]),
                bool(row["needs_summary"]))
    if backlog:
        log.info("memory sweep scheduled %d conversations", len(backlog))
    return len(backlog)


def catch_up(organization_id: str, conversation_id: str, due_summary: bool, *,
             tx: JobTransaction = job_transaction) -> int:
    """Index every unindexed turn of the conversation (one embedding batch) and, when due,
    write its summary and facts here rather than in two more queued tasks: this work is late."""
    indexed = index_turns(organization_id, conversation_id, tx=tx)
    if due_summary:
        try:
            summarize(organization_id, conversation_id, tx=tx)
            extract_facts(organization_id, conversation_id, tx=tx)
        except LLMError as exc:  # still due in the database: a later sweep tries again
            log.warning("catch-up consolidation of %s failed: %s", conversation_id, exc)
    return indexed


def apply_retention(*, tx: JobTransaction = job_transaction) -> dict:
    """Erase history and memories older than each agent's retention_days."""
    with tx(SCANNER) as session:
        targets = pipeline.retention_targets(session.conn)
    totals = {"agents": 0, "messages": 0, "memories": 0}
    for target in targets:
        with tx(target["organization_id"]) as session:
            messages, memories = pipeline.apply_retention(session, target["agent_id"], target["retention_days"])
        totals["agents"] += 1
        totals["messages"] += messages
        totals["memories"] += memories
    if targets:
        log.info("retention: %s", totals)
    return totals
